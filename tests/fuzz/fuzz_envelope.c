/* Fuzzes what the work path does with args read from a row: finding an
 * envelope, parsing it, opening it with a key, and the policy's decisions. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "keys.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int ready;
	static uint8_t key[32];
	if (!ready) {
		if (sodium_init() < 0)
			abort();
		crypto_init();
		for (int i = 0; i < 32; i++)
			key[i] = (uint8_t)i;
		ready = 1;
	}
	char *args = malloc(size + 1);
	memcpy(args, data, size);
	args[size] = '\0';
	const char *tok;
	size_t toklen, plen;
	char *hold = NULL, why[256], *pt = NULL;
	if (args_envelope(args, size, &tok, &toklen, &hold, why, sizeof why) == 1) {
		envelope e;
		if (envelope_parse(tok, toklen, &e, why, sizeof why) == 0) {
			const sluice_encryptor *enc = crypto_find(e.alg);
			if (enc && envelope_open(&e, enc, key, "demo.echo", &pt, &plen, why, sizeof why) == 0)
				crypto_free_plain(pt, plen);
			envelope_free(&e);
		}
	}
	free(hold);
	char kid[33];
	uint8_t k[32];
	key_decode(args, size, k);
	free(args);
	(void)kid;
	return 0;
}
