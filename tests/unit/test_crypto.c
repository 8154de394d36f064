/* Envelopes, keys, JSON validation, unique keys: the pure parts of the
 * encryption path. The test vector is the one README's "Envelope" shows. */
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "crypto.h"
#include "insert.h"
#include "json.h"
#include "keys.h"
#include "unit.h"
#include "util.h"

#define VECTOR_XC                                                                           \
	"{\"river_encrypt\":\"s2.xchacha20poly1305.test-1.QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX."    \
	"rxtxH_LaW3frlcfb1_0I4v7fg6d8NHHn6jH9RQkEI5AWhhQviy1oVVLkfL7Kwwng3A\"}"
#define VECTOR_SB                                                                           \
	"{\"river_encrypt\":\"s2.secretbox.test-1.QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX."            \
	"12wYjFdJbS6YfCi8riDCgdeQzQ6krvKAsO-9DJVyUHS1FTI7T3l9qYC0Yq-BuO4kuFFHcoHa5HnZTBx5MfJaLw\"}"
/* The same in the unpadded s1 format sluice wrote before s2: still read. */
#define VECTOR_XC_S1                                                                        \
	"{\"river_encrypt\":\"s1.xchacha20poly1305.test-1.QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX."    \
	"rxtxH_LaW3frlcfb1_0I4v7fg6d8NHHnSI3ioIgJkITi-NdNL_7o5A\"}"
#define VECTOR_SB_S1                                                                        \
	"{\"river_encrypt\":\"s1.secretbox.test-1.QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX."            \
	"SNKyOstk8QxzYzuHf3VmmDLwYLVxbKFO2tFQ9LkJwnK1FTI7T3l9qYC0Yq-BuO4kuFFHcoHa5Hk\"}"
#define PLAIN "{\"to\":\"ada@example.com\"}"

static uint8_t key[32], nonce[24];

static void setup(void)
{
	if (sodium_init() < 0)
		abort();
	crypto_init();
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 24; i++)
		nonce[i] = (uint8_t)(0x40 + i);
}

/* Opens args (the whole {"river_encrypt": ...}) for kind with key k. */
static int open_args(const char *args, const char *kind, const uint8_t *k, char **pt, char *why)
{
	const char *tok;
	size_t toklen, len;
	char *hold;
	if (args_envelope(args, strlen(args), &tok, &toklen, &hold, why, 256) != 1)
		return -2;
	envelope e;
	int rc = envelope_parse(tok, toklen, &e, why, 256);
	if (rc == 0) {
		rc = envelope_open(&e, crypto_find(e.alg), k, kind, pt, &len, why, 256);
		envelope_free(&e);
	}
	free(hold);
	return rc;
}

static void test_vector_seals_and_opens(void)
{
	setup();
	char *a = envelope_seal(crypto_find("xchacha20poly1305"), "test-1", key, "demo.echo", PLAIN,
	                        strlen(PLAIN), nonce);
	CHECK_STR(a, VECTOR_XC);
	char *b = envelope_seal(crypto_find("secretbox"), "test-1", key, "demo.echo", PLAIN,
	                        strlen(PLAIN), nonce);
	CHECK_STR(b, VECTOR_SB);
	char *pt = NULL, why[256];
	const char *all[] = {VECTOR_XC, VECTOR_SB, VECTOR_XC_S1, VECTOR_SB_S1};
	for (size_t i = 0; i < ARRAY_LEN(all); i++) {
		CHECK(open_args(all[i], "demo.echo", key, &pt, why) == 0);
		CHECK_STR(pt, PLAIN);
		crypto_free_plain(pt, strlen(PLAIN));
	}
	free(a);
	free(b);
}

static size_t token_len(const char *env)
{
	return strlen(env) - strlen("{\"river_encrypt\":\"\"}");
}

/* s2 pads: tokens long enough that River's GIN index on args hashes them,
 * whatever the cipher and however short the key id; past that, lengths in
 * 16-byte steps of plaintext. */
static void padding_hides_length_and_keeps_tokens_hashable(void)
{
	setup();
	const char *algs[] = {"xchacha20poly1305", "secretbox"};
	const char *kids[] = {"k", "k19ca6fc5e16bb417", "a-32-character-key-id-0123456789"};
	for (size_t a = 0; a < ARRAY_LEN(algs); a++)
		for (size_t k = 0; k < ARRAY_LEN(kids); k++) {
			const sluice_encryptor *enc = crypto_find(algs[a]);
			size_t shortest = SIZE_MAX, longest = 0;
			for (size_t n = 0; n <= 12; n += 4) { /* {} to 14 bytes: all alike */
				char args[40];
				snprintf(args, sizeof args, "{%.*s}", (int)n, "\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5");
				char *e = envelope_seal(enc, kids[k], key, "x.y", args, strlen(args), NULL);
				size_t l = token_len(e);
				shortest = l < shortest ? l : shortest;
				longest = l > longest ? l : longest;
				char *pt = NULL, why[256];
				CHECK(open_args(e, "x.y", key, &pt, why) == 0);
				CHECK_STR(pt, args);
				crypto_free_plain(pt, strlen(args));
				free(e);
			}
			CHECK(shortest == longest);
			CHECK(shortest >= ENVELOPE_MIN_TOKEN);
			if (k == 0) /* and no longer than it takes */
				CHECK(shortest <= ENVELOPE_MIN_TOKEN + 1);
		}
	/* 192 to 207 bytes: one length; 208 (the marker needs a byte): the next */
	char big[300];
	memset(big, 'a', sizeof big);
	const sluice_encryptor *xc = crypto_find("xchacha20poly1305");
	size_t first = 0;
	for (size_t n = 192; n <= 208; n++) {
		char *e = envelope_seal(xc, "k", key, "x.y", big, n, NULL);
		size_t l = token_len(e);
		if (n == 192)
			first = l;
		CHECK(n < 208 ? l == first : l > first);
		free(e);
	}
}

/* An s2 token whose plaintext was never padded (a faulty encryptor):
 * authenticated, yet refused. And the version is bound: an s2 token
 * relabelled s1 (or back) does not open. */
static void unpadded_s2_and_relabelled_versions_fail(void)
{
	setup();
	const char ad[] = "s2|xchacha20poly1305|test-1|demo.echo";
	uint8_t c[sizeof PLAIN - 1 + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, (const uint8_t *)PLAIN, strlen(PLAIN),
	                                           (const uint8_t *)ad, strlen(ad), NULL, nonce, key);
	char n64[64], c64[128], args[300];
	sodium_bin2base64(n64, sizeof n64, nonce, sizeof nonce, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_bin2base64(c64, sizeof c64, c, sizeof c, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(args, sizeof args, "{\"river_encrypt\":\"s2.xchacha20poly1305.test-1.%s.%s\"}", n64,
	         c64);
	char *pt = NULL, why[256];
	CHECK(open_args(args, "demo.echo", key, &pt, why) == -1);
	CHECK(strstr(why, "bad padding") && strstr(why, "test-1") && !strstr(why, "ada"));
	/* Plaintext ending in the marker's bytes keeps them. */
	static const char tail[] = {'x', (char)0x80, 0, (char)0x80, 0, 0};
	for (size_t n = 1; n <= sizeof tail; n++) {
		char *t = envelope_seal(crypto_find("secretbox"), "k", key, "x.y", tail, n, NULL);
		const char *tok = strstr(t, "s2.");
		envelope env;
		CHECK(envelope_parse(tok, strcspn(tok, "\""), &env, why, sizeof why) == 0);
		size_t got = 0;
		CHECK(envelope_open(&env, crypto_find("secretbox"), key, "x.y", &pt, &got, why,
		                    sizeof why) == 0);
		CHECK(got == n && memcmp(pt, tail, n) == 0);
		crypto_free_plain(pt, got);
		envelope_free(&env);
		free(t);
	}
	const char *vectors[] = {VECTOR_XC, VECTOR_SB, VECTOR_XC_S1, VECTOR_SB_S1};
	for (size_t v = 0; v < ARRAY_LEN(vectors); v++) {
		char *t = xstrdup(vectors[v]);
		char *ver = strstr(t, "\"s") + 2;
		*ver = *ver == '1' ? '2' : '1';
		CHECK(open_args(t, "demo.echo", key, &pt, why) == -1);
		CHECK(strstr(why, "authentication failed"));
		free(t);
	}
}

static void random_nonces_differ(void)
{
	setup();
	const sluice_encryptor *xc = crypto_find("xchacha20poly1305");
	char *a = envelope_seal(xc, "k", key, "x.y", PLAIN, strlen(PLAIN), NULL);
	char *b = envelope_seal(xc, "k", key, "x.y", PLAIN, strlen(PLAIN), NULL);
	CHECK(strcmp(a, b) != 0);
	free(a);
	free(b);
}

/* Long kinds and args take the heap paths beside the per-job stack buffers
 * (associated data, ciphertext); both ciphers, and the kind still binds. */
static void long_kind_and_args_round_trip(void)
{
	setup();
	char kind[400], args[1200];
	memset(kind, 'k', sizeof kind - 1);
	kind[sizeof kind - 1] = '\0';
	int n = snprintf(args, sizeof args, "{\"s\":\"");
	memset(args + n, 'a', 1000);
	snprintf(args + n + 1000, sizeof args - (size_t)n - 1000, "\"}");
	const char *algs[] = {"xchacha20poly1305", "secretbox"};
	for (int i = 0; i < 2; i++) {
		char *a = envelope_seal(crypto_find(algs[i]), "k1", key, kind, args, strlen(args), NULL);
		char *pt = NULL, why[256];
		CHECK(open_args(a, kind, key, &pt, why) == 0);
		CHECK_STR(pt, args);
		crypto_free_plain(pt, strlen(args));
		kind[0] = 'j';
		CHECK(open_args(a, kind, key, &pt, why) == -1);
		kind[0] = 'k';
		free(a);
	}
}

static void other_kind_or_flipped_byte_fails(void)
{
	setup();
	char *pt = NULL, why[256];
	const char *vectors[] = {VECTOR_XC, VECTOR_SB};
	for (int v = 0; v < 2; v++) {
		CHECK(open_args(vectors[v], "demo.other", key, &pt, why) == -1);
		CHECK(strstr(why, "authentication failed with key id \"test-1\""));
		char *t = xstrdup(vectors[v]);
		char *last = t + strlen(t) - 4; /* inside the ciphertext */
		*last = *last == 'A' ? 'B' : 'A';
		CHECK(open_args(t, "demo.echo", key, &pt, why) == -1);
		free(t);
		uint8_t other[32] = {1};
		CHECK(open_args(vectors[v], "demo.echo", other, &pt, why) == -1);
	}
	/* key id and algorithm are bound too */
	char *t = xstrdup(VECTOR_XC);
	memcpy(strstr(t, "test-1"), "test-2", 6);
	CHECK(open_args(t, "demo.echo", key, &pt, why) == -1);
	free(t);
}

/* The nonce field exercises the decoder: whole quads, then 2 or 3
 * characters; outside the alphabet anywhere, or trailing bits set. */
static void base64url_fields(void)
{
	static const struct {
		const char *b64;
		const char *bytes; /* NULL: refused */
		size_t n;
	} c[] = {
	    {"AQID", "\x01\x02\x03", 3},
	    {"AQIDBA", "\x01\x02\x03\x04", 4},
	    {"AQIDBAU", "\x01\x02\x03\x04\x05", 5},
	    {"-_-_", "\xfb\xff\xbf", 3},
	    {"AQIDBAUG", "\x01\x02\x03\x04\x05\x06", 6},
	    {"AQ=D", NULL, 0},
	    {"AQID!A", NULL, 0},
	    {"AQIDBAU+", NULL, 0},
	    {"AQI\xc3", NULL, 0},
	    {"AQIDBB", NULL, 0},  /* 4 trailing bits set */
	    {"AQIDBAV", NULL, 0}, /* 2 trailing bits set */
	    {"AQIDB", NULL, 0},   /* 5 characters: no whole byte count */
	};
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		char tok[64], why[128] = "";
		snprintf(tok, sizeof tok, "s2.xchacha20poly1305.k.%s.AAAA", c[i].b64);
		envelope env;
		int rc = envelope_parse(tok, strlen(tok), &env, why, sizeof why);
		if (c[i].bytes) {
			CHECK(rc == 0 && env.nonce_len == c[i].n &&
			      memcmp(env.nonce, c[i].bytes, c[i].n) == 0);
			if (rc == 0)
				envelope_free(&env);
		} else {
			CHECK(rc == -1 && strstr(why, "bad nonce encoding"));
		}
	}
}

static void malformed_envelopes_are_errors_not_plaintext(void)
{
	setup();
	const char *bad[] = {
	    "{\"river_encrypt\": 42}",
	    "{\"river_encrypt\": \"s1.xchacha20poly1305.k\", \"x\": 1}",
	    "{\"river_encrypt\": \"s9.xchacha20poly1305.k.AAAA.AAAA\"}",
	    "{\"river_encrypt\": \"s1.xchacha20poly1305.k.AAAA\"}",
	    "{\"river_encrypt\": \"s1.xchacha20poly1305.k.!!!!.AAAA\"}",
	    "{\"river_encrypt\": \"s1.xchacha20poly1305.k/x.AAAA.AAAA\"}",
	    /* a plaintext secret under the envelope's key: never echoed */
	    "{\"river_encrypt\": \"hunter2pass\"}",
	    "{\"river_encrypt\": \"s1.hunter 2!.k.AAAA.AAAA\"}",
	    "{\"river_encrypt\": \"s1.x.hunter2.AA!A.AAAA\"}",
	};
	const char *why_has[] = {"not a string", "other keys", "unsupported envelope version",
	                         "malformed envelope", "bad nonce encoding", "bad key id",
	                         "unsupported envelope version", "bad algorithm name",
	                         "bad nonce encoding"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		const char *tok;
		size_t toklen;
		char *hold, why[256] = "";
		int e = args_envelope(bad[i], strlen(bad[i]), &tok, &toklen, &hold, why, sizeof why);
		if (e == 1) {
			envelope env;
			e = envelope_parse(tok, toklen, &env, why, sizeof why) == 0 ? 1 : -1;
			if (e == 1)
				envelope_free(&env);
		}
		free(hold);
		CHECK(e == -1);
		if (!strstr(why, why_has[i]) || strstr(why, "hunter")) {
			fprintf(stderr, "  case %zu: %s\n", i, why);
			CHECK(0);
		}
	}
	/* river_encrypt deeper in plaintext args is just plaintext */
	const char *nested = "{\"a\": {\"river_encrypt\": 1}}";
	const char *tok;
	size_t toklen;
	char *hold, why[64];
	CHECK(args_envelope(nested, strlen(nested), &tok, &toklen, &hold, why, sizeof why) == 0);
	/* an envelope key over nested arrays is malformed, however deep (past
	 * json-c's default depth of 32 it was read as plaintext) */
	for (int depth = 40; depth <= 1100; depth += 1060) {
		sb b = {0};
		sb_printf(&b, "{\"river_encrypt\": ");
		for (int i = 0; i < depth; i++)
			sb_putc(&b, '[');
		for (int i = 0; i < depth; i++)
			sb_putc(&b, ']');
		sb_putc(&b, '}');
		char *deep = sb_take(&b);
		CHECK(args_envelope(deep, strlen(deep), &tok, &toklen, &hold, why, sizeof why) == -1);
		CHECK(strstr(why, "malformed envelope"));
		free(deep);
	}
}

static void keys_decode_and_ids(void)
{
	setup();
	uint8_t k[32];
	const char *std = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	CHECK(key_decode(std, strlen(std), k) == 0 && memcmp(k, key, 32) == 0);
	const char *url = "  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n";
	CHECK(key_decode(url, strlen(url), k) == 0 && memcmp(k, key, 32) == 0);
	const char *short_ = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==";
	CHECK(key_decode(short_, strlen(short_), k) != 0);
	CHECK(key_decode("not base64 at all!", 18, k) != 0);
	/* Two characters of a key become one in UTF-8 (\xc3\xbf): libsodium
	 * alone decodes it, each byte above 0x7f as the 64th character. */
	const char *mangled = "AAECA\xc3\xbf" "FBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
	CHECK(key_decode(mangled, strlen(mangled), k) != 0);
	char id[33];
	key_id_derive(key, id);
	CHECK_STR(id, "k19ca6fc5e16bb417");
	CHECK(key_id_valid("2026-b_x") && !key_id_valid("a.b") && !key_id_valid(""));
}

static void key_sources_parse(void)
{
	setup();
	key_source *s;
	size_t n;
	char err[400];
	CHECK(keys_parse("b=file:/etc/sluice/b.key, env:SLUICE_KEY, credential:sluice-a", &s, &n, err,
	                 sizeof err) == 0);
	CHECK(n == 3);
	CHECK_STR(s[0].id, "b");
	CHECK_STR(s[0].scheme, "file");
	CHECK_STR(s[0].arg, "/etc/sluice/b.key");
	CHECK(s[1].id == NULL);
	CHECK_STR(s[2].scheme, "credential");
	keys_sources_free(s, n);
	/* literal key material: refused, and never echoed */
	const char *lit = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	CHECK(keys_parse(lit, &s, &n, err, sizeof err) < 0);
	CHECK(strstr(err, "never accepted in the INI file") && !strstr(err, "AAECAw"));
	CHECK(keys_parse("file:relative.key", &s, &n, err, sizeof err) < 0 &&
	      strstr(err, "absolute path"));
	CHECK(keys_parse("vault:x", &s, &n, err, sizeof err) < 0 && strstr(err, "unknown key source"));
	CHECK(keys_parse("bad id=env:X", &s, &n, err, sizeof err) < 0 && strstr(err, "key id"));
	/* an unpadded base64 key typed as the id: refused, never echoed */
	CHECK(keys_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=file:/k", &s, &n, err, sizeof err) < 0 &&
	      strstr(err, "key id") && !strstr(err, "ECAwQF"));
	/* key material typed after a scheme: refused, never echoed */
	const char *after[] = {"env:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	                       "credential:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
	                       "file:/AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", /* a key that starts with / */
	                       "id=env:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="};
	for (size_t i = 0; i < sizeof after / sizeof *after; i++) {
		err[0] = '\0';
		CHECK(keys_parse(after[i], &s, &n, err, sizeof err) < 0);
		if (!strstr(err, "looks like key material") || strstr(err, "ECAwQF")) {
			fprintf(stderr, "  %s: %s\n", after[i], err);
			CHECK(0);
		}
	}
	/* an environment variable's name is letters, digits and '_' */
	CHECK(keys_parse("env:3/vYX", &s, &n, err, sizeof err) < 0 &&
	      strstr(err, "not an environment variable name") && !strstr(err, "3/vYX"));
	CHECK(keys_parse("env:SLUICE_ENCRYPTION_KEY_FOR_THE_PRODUCTION_CLUSTER", &s, &n, err,
	                 sizeof err) == 0);
	keys_sources_free(s, n);
}

/* What keys decrypt is in ordinary memory: a process that loaded keys
 * writes no core file. */
static void loading_keys_turns_core_dumps_off(void)
{
	setup();
	struct rlimit some = {1 << 20, RLIM_INFINITY};
	getrlimit(RLIMIT_CORE, &some);
	some.rlim_cur = some.rlim_max;
	setrlimit(RLIMIT_CORE, &some);
	char path[] = "/tmp/sluice-unit-key.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	const char *k = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
	CHECK(write(fd, k, strlen(k)) == (ssize_t)strlen(k));
	close(fd);
	char src[64], err[400];
	snprintf(src, sizeof src, "file:%s", path);
	key_source *s;
	size_t n;
	keyring *r = NULL;
	CHECK(keys_parse(src, &s, &n, err, sizeof err) == 0);
	CHECK(keyring_load(s, n, &r, err, sizeof err) == 0);
	unlink(path);
	struct rlimit got;
	CHECK(getrlimit(RLIMIT_CORE, &got) == 0 && got.rlim_cur == 0 && got.rlim_max == 0);
	CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
	keyring_free(r);
	keys_sources_free(s, n);
}

static void json_like_jsonb(void)
{
	static const struct {
		const char *s;
		enum json_kind k;
	} t[] = {
	    {"{}", JK_OBJECT},
	    {" {\"a\": [1, -2.5e3, true, null, \"\\u00e9\\ud83d\\ude00\"]} ", JK_OBJECT},
	    {"[1,2]", JK_ARRAY},
	    {"null", JK_LITERAL},
	    {"\"x\"", JK_STRING},
	    {"{'a':1}", JK_BAD},
	    {"{\"a\":1,}", JK_BAD},
	    {"{\"a\":1}x", JK_BAD},
	    {"{\"a\":\"\\u0000\"}", JK_BAD}, /* jsonb refuses it */
	    {"{\"a\":\"\xff\"}", JK_BAD},    /* not UTF-8 */
	    {"{\"a\":\"\xc0\xaf\"}", JK_BAD}, /* overlong */
	    {"{\"a\":\"\\ud800\"}", JK_BAD},  /* lone surrogate */
	    {"{\"a\":01}", JK_BAD},
	    {"", JK_BAD},
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++)
		if (json_check(t[i].s, strlen(t[i].s)) != t[i].k) {
			fprintf(stderr, "  json case %zu\n", i);
			CHECK(0);
		}
	char deep[2000];
	memset(deep, '[', 1000);
	memset(deep + 1000, ']', 1000);
	CHECK(json_check(deep, sizeof deep) == JK_BAD); /* bounded recursion */
	/* Numbers as PostgreSQL 15's numeric takes them (each one tried with
	 * '[N]'::jsonb): "value overflows numeric format" for the rest. */
	static const char *const fits[] = {"1e1000",         "1e131071",      "-1e131071",
	                                   "12345e131067",   "0.5e131072",    "1e-16383",
	                                   "0.00012e-16378", "0e999999",      "1E+1000",
	                                   "123456789e995",  "0.000001e-995", "0.0"};
	static const char *const overflow[] = {"1e131072",       "12345e131068",    "0.5e131073",
	                                       "1e-16384",       "1.5e-16383",      "0.00012e-16379",
	                                       "0e-999999",      "1e999999",        "1e2147483648",
	                                       "1e-1073741822", "0.0e99999999999"};
	for (size_t i = 0; i < ARRAY_LEN(fits); i++)
		if (json_check(fits[i], strlen(fits[i])) != JK_NUMBER) {
			fprintf(stderr, "  refused %s\n", fits[i]);
			CHECK(0);
		}
	for (size_t i = 0; i < ARRAY_LEN(overflow); i++)
		if (json_check(overflow[i], strlen(overflow[i])) != JK_BAD) {
			fprintf(stderr, "  took %s\n", overflow[i]);
			CHECK(0);
		}
}

static void unique_key_strings_like_river(void)
{
	/* 2026-11-23T12:34:56Z */
	int64_t at = 1795437296LL * 1000000;
	char *s = unique_key_string("mail.send", "{\"to\": \"a\", \"body\": {\"x\": [1, 2]}}",
	                            "default", SLUICE_UNIQUE_BY_ARGS | SLUICE_UNIQUE_BY_QUEUE |
	                                           SLUICE_UNIQUE_BY_PERIOD,
	                            3600, at);
	CHECK_STR(s, "&kind=mail.send&args={\"body\":{\"x\":[1,2]},\"to\":\"a\"}"
	             "&period=2026-11-23T12:00:00Z&queue=default");
	free(s);
	/* Go truncates from year 1: a 7-day period is not aligned to the Unix epoch */
	s = unique_key_string("k.k", "{}", "q", SLUICE_UNIQUE_BY_PERIOD | SLUICE_UNIQUE_EXCLUDE_KIND,
	                      7 * 86400, at);
	CHECK_STR(s, "&period=2026-11-23T00:00:00Z");
	free(s);
	s = unique_key_string("k.k", "{}", "q", SLUICE_UNIQUE_BY_KIND, 0, at);
	CHECK_STR(s, "&kind=k.k");
	free(s);
}

/* A handler's tags go into the insert as written: only a JSON array of
 * tags alone passes, nothing after it. */
static void enqueue_tags_strictly(void)
{
	static const char *const bad[] = {"[\"abc\"],\"state\":\"running\",\"queue\":\"x y\"",
	                                  "[\"abc\"]]", "[\"abc\"] x", "{\"a\":1}", "[\"ab\"]"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		sluice_enqueue_opts o = {.size = sizeof o, .tags = bad[i]};
		insert_job *j = NULL;
		char err[256] = "";
		CHECK(insert_prepare("demo.noop", "{}", &o, 1800000000000000LL, INSERT_NO_ENCRYPT, &j, err,
		                     sizeof err) == -1);
		CHECK(j == NULL && strstr(err, "tag"));
	}
	sluice_enqueue_opts o = {.size = sizeof o, .tags = " [\"abc\", \"de-f\"] "};
	insert_job *j = NULL;
	char err[256] = "";
	CHECK(insert_prepare("demo.noop", "{}", &o, 1800000000000000LL, INSERT_NO_ENCRYPT, &j, err,
	                     sizeof err) == 0);
	insert_free(j);
}

UNIT_MAIN(UNIT(test_vector_seals_and_opens), UNIT(random_nonces_differ), UNIT(base64url_fields),
          UNIT(padding_hides_length_and_keeps_tokens_hashable),
          UNIT(unpadded_s2_and_relabelled_versions_fail),
          UNIT(long_kind_and_args_round_trip),
          UNIT(other_kind_or_flipped_byte_fails),
          UNIT(malformed_envelopes_are_errors_not_plaintext), UNIT(keys_decode_and_ids),
          UNIT(key_sources_parse), UNIT(loading_keys_turns_core_dumps_off), UNIT(json_like_jsonb), UNIT(enqueue_tags_strictly),
          UNIT(unique_key_strings_like_river))
