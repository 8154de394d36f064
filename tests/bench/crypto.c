/* crypto -- what encryption costs one job, apart from the database: the
 * nanoseconds of one enc_open and the object check after it (the work
 * hook's step: find the envelope, look up the key, decrypt, unpad, check)
 * and of one enc_seal (an insert's), per built-in cipher, for the
 * benchmark's args ({"i": N}) and ~200-byte ones.
 *
 *   crypto KEYFILE
 *
 * Prints one JSON line: {"xchacha20poly1305": {"open_ns": ..., "seal_ns":
 * ..., "open_200b_ns": ..., "seal_200b_ns": ...}, "secretbox": {...}}. Each
 * figure is the fastest of 7 rounds of 50,000 calls (CRYPTO_CALLS sets
 * the calls): the machine's other tenants only ever add time, so the
 * minimum is the cost and the rest noise. tests/bench/run sets it beside
 * the machine CPU a burn-down spends per job, which says how much of a
 * slowdown decryption alone can explain. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "encrypt.h"
#include "json.h"
#include "keys.h"

#define ROUNDS 7
static int calls = 50000; /* CRYPTO_CALLS: fewer for make check's run */

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "crypto: %s: %s\n", what, err);
	exit(1);
}

/* jsonb's form of an envelope_seal result ({"k":"v"} -> {"k": "v"}), which
 * is what a fetch hands the hook. */
static char *as_jsonb(const char *sealed)
{
	const char *colon = strchr(sealed, ':');
	size_t head = (size_t)(colon - sealed) + 1, len = strlen(sealed);
	char *s = malloc(len + 2);
	if (!s)
		die("as_jsonb", "out of memory");
	memcpy(s, sealed, head);
	s[head] = ' ';
	memcpy(s + head + 1, sealed + head, len - head + 1);
	return s;
}

static void open_once(const enc_policy *p, const char *env, size_t len)
{
	char *out, err[512];
	size_t olen;
	if (enc_open(p, "demo.noop", env, len, &out, &olen, err, sizeof err) != ENC_OPENED)
		die("enc_open", err);
	if (!json_is_object(out, olen)) /* hooks_work_begin's check */
		die("enc_open", "not an object");
	crypto_free_plain(out, olen);
}

static void seal_once(const enc_policy *p, const char *args, size_t len)
{
	char *out, err[512];
	if (enc_seal(p, "demo.noop", args, len, &out, err, sizeof err) != 0 || !out)
		die("enc_seal", err);
	free(out);
}

/* The fastest round of op over s, in ns per call. */
static double fastest(void (*op)(const enc_policy *, const char *, size_t), const enc_policy *p,
                      const char *s)
{
	size_t len = strlen(s);
	double best = 1e300;
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns();
		for (int i = 0; i < calls; i++)
			op(p, s, len);
		double ns = (now_ns() - t0) / calls;
		if (ns < best)
			best = ns;
	}
	return best;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: crypto KEYFILE\n");
		return 2;
	}
	const char *n = getenv("CRYPTO_CALLS");
	if (n && atoi(n) > 0)
		calls = atoi(n);
	if (sodium_init() < 0)
		die("sodium_init", "failed");
	crypto_init();
	char err[512], spec[4096];
	snprintf(spec, sizeof spec, "file:%s", argv[1]);
	key_source *src;
	size_t nsrc;
	keyring *ring;
	if (keys_parse(spec, &src, &nsrc, err, sizeof err) < 0 ||
	    keyring_load(src, nsrc, &ring, err, sizeof err) < 0)
		die(argv[1], err);
	keys_sources_free(src, nsrc);

	/* The benchmark's two shapes of args (tests/bench/run). */
	static const char small[] = "{\"i\": 12345}";
	static const char big[] =
	    "{\"i\": 12345, \"to\": \"ada@example.com\", \"body\": \"Hello Ada, your parcel left "
	    "our warehouse today and should arrive within three working days.\", \"locale\": "
	    "\"en-GB\", \"subject\": \"Your order 4711 has shipped\"}";
	static const char *const algs[] = {"xchacha20poly1305", "secretbox"};
	printf("{");
	for (size_t a = 0; a < sizeof algs / sizeof *algs; a++) {
		enc_policy p = {.mode = ENC_ENCRYPT, .alg = crypto_find(algs[a]), .keys = ring};
		if (!p.alg)
			die(algs[a], "not built in");
		double open[2], seal[2];
		const char *args[2] = {small, big};
		for (int s = 0; s < 2; s++) {
			char *sealed;
			if (enc_seal(&p, "demo.noop", args[s], strlen(args[s]), &sealed, err, sizeof err) !=
			        0 ||
			    !sealed)
				die("enc_seal", err);
			char *env = as_jsonb(sealed);
			free(sealed);
			open[s] = fastest(open_once, &p, env);
			seal[s] = fastest(seal_once, &p, args[s]);
			free(env);
		}
		printf("%s\"%s\": {\"open_ns\": %.0f, \"seal_ns\": %.0f, \"open_200b_ns\": %.0f, "
		       "\"seal_200b_ns\": %.0f}",
		       a ? ", " : "", algs[a], open[0], seal[0], open[1], seal[1]);
	}
	printf("}\n");
	keyring_free(ring);
	return 0;
}
