/* Fuzzes what the work path does with args read from a row: finding an
 * envelope, parsing it, opening it with a key, and the policy's decisions.
 * The envelope's own base64url decoder is checked against libsodium's,
 * which is slower but decides the same inputs (canonical, unpadded). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "keys.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* The input as an envelope's nonce field: envelope_parse must accept it
 * exactly when libsodium's decoder does, with the same bytes. */
static void decoder_agrees(const unsigned char *data, size_t size)
{
	if (size > 80 || memchr(data, '.', size) || memchr(data, '\0', size))
		return;
	char tok[128], why[128];
	int n = snprintf(tok, sizeof tok, "s2.a.k.%.*s.AAAA", (int)size, (const char *)data);
	envelope e;
	int ours = envelope_parse(tok, (size_t)n, &e, why, sizeof why);
	uint8_t bin[64];
	size_t binlen = 0;
	const char *end = NULL;
	int theirs = size == 0 ? -1
	                       : sodium_base642bin(bin, sizeof bin, (const char *)data, size, NULL,
	                                           &binlen, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (theirs == 0 && end != (const char *)data + size)
		theirs = -1; /* stopped early: not all of it is base64 */
	/* libsodium 1.0.18 takes some bytes above 0x7f for letters ("h\xd5"
	 * decodes); they are not base64url, and ours refuses them. */
	for (size_t i = 0; i < size; i++)
		if (data[i] > 0x7f) {
			if (ours == 0)
				abort();
			return;
		}
	if ((ours == 0) != (theirs == 0))
		abort();
	if (ours == 0) {
		if (e.nonce_len != binlen || memcmp(e.nonce, bin, binlen) != 0)
			abort();
		envelope_free(&e);
	}
}

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
	decoder_agrees(data, size);
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
