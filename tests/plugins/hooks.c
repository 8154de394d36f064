/* Exercises the hook chain and plugin encryptors: a global insert hook, a
 * work hook on this plugin's own kind, and an extra cipher. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

SLUICE_PLUGIN("hooks", "0")

static const sluice_host *host;

/* Appends ,"name":true before the closing brace of a JSON object. */
static char *add_flag(const char *args, size_t len, const char *name)
{
	size_t n = strlen(name);
	char *out = malloc(len + n + 16);
	size_t end = len;
	while (end > 0 && args[end - 1] != '}')
		end--;
	int empty = 1;
	for (size_t i = 1; i + 1 < end; i++)
		if (args[i] != ' ')
			empty = 0;
	memcpy(out, args, end - 1);
	size_t o = end - 1;
	if (!empty)
		out[o++] = ',';
	out[o++] = '"';
	memcpy(out + o, name, n);
	o += n;
	memcpy(out + o, "\":true}", 8);
	return out;
}

static int stamp(sluice_hook_args *a, void *ud)
{
	(void)ud;
	if (strstr(a->args, "river_encrypt")) {
		strcpy(a->reason, "insert hook saw ciphertext");
		return 1;
	}
	a->new_args = add_flag(a->args, a->args_len, "stamped");
	return 0;
}

static int kind_check(sluice_hook_args *a, void *ud)
{
	(void)ud;
	if (strstr(a->args, "river_encrypt")) {
		strcpy(a->reason, "work hook saw ciphertext");
		return 1;
	}
	if (strstr(a->args, "\"refuse\"")) {
		strcpy(a->reason, "refused by hook");
		return 1;
	}
	a->new_args = add_flag(a->args, a->args_len, "seen_by_kind_hook");
	return 0;
}

static int work(const sluice_job *job, void *ud)
{
	(void)ud;
	return host->record_output(job, job->args) == 0 ? SLUICE_OK : host->fail(job, "bad args");
}

static int c20_encrypt(void *ud, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                       size_t adlen, const uint8_t *nonce, const uint8_t *key)
{
	(void)ud;
	return crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, m, mlen, ad, adlen, NULL, nonce, key);
}

static int c20_decrypt(void *ud, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                       size_t adlen, const uint8_t *nonce, const uint8_t *key)
{
	(void)ud;
	return crypto_aead_chacha20poly1305_ietf_decrypt(m, NULL, NULL, c, clen, ad, adlen, nonce, key);
}

int sluice_plugin_init(const sluice_host *h, sluice_plugin *plugin)
{
	host = h;
	if (sodium_init() < 0)
		return -1;
	sluice_kind k = {.size = sizeof k, .kind = "test.hooked", .work = work};
	sluice_hook global = {.size = sizeof global, .name = "stamp", .insert_begin = stamp};
	sluice_hook mine = {.size = sizeof mine, .name = "kind_check", .kinds = "test.hooked",
	                    .work_begin = kind_check};
	sluice_encryptor e = {.size = sizeof e, .name = "chacha20poly1305-ietf",
	                      .nonce_bytes = crypto_aead_chacha20poly1305_ietf_NPUBBYTES,
	                      .overhead = crypto_aead_chacha20poly1305_ietf_ABYTES, .aead = 1,
	                      .encrypt = c20_encrypt, .decrypt = c20_decrypt};
	int rc = h->register_kind(plugin, &k);
	if (!rc)
		rc = h->register_hook(plugin, &global);
	if (!rc)
		rc = h->register_hook(plugin, &mine);
	if (!rc)
		rc = h->register_encryptor(plugin, &e);
	return rc;
}
