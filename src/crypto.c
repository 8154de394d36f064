/* crypto.c -- see crypto.h. */
#include "crypto.h"

#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_ENCRYPTORS 16

typedef struct enc_slot {
	sluice_encryptor e;
	char name[ENCRYPTOR_NAME_MAX + 1];
	bool builtin;
} enc_slot;

static enc_slot encs[MAX_ENCRYPTORS];
static size_t nencs;

/* ---- built-in ciphers ------------------------------------------------------- */

static int xc_encrypt(void *ud, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                      size_t adlen, const uint8_t *nonce, const uint8_t *key)
{
	(void)ud;
	return crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, m, mlen, ad, adlen, NULL, nonce,
	                                                  key);
}

static int xc_decrypt(void *ud, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                      size_t adlen, const uint8_t *nonce, const uint8_t *key)
{
	(void)ud;
	return crypto_aead_xchacha20poly1305_ietf_decrypt(m, NULL, NULL, c, clen, ad, adlen, nonce,
	                                                  key);
}

static int sb_encrypt(void *ud, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                      size_t adlen, const uint8_t *nonce, const uint8_t *key)
{
	(void)ud;
	(void)ad;
	(void)adlen;
	return crypto_secretbox_easy(c, m, mlen, nonce, key);
}

static int sb_decrypt(void *ud, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                      size_t adlen, const uint8_t *nonce, const uint8_t *key)
{
	(void)ud;
	(void)ad;
	(void)adlen;
	return crypto_secretbox_open_easy(m, c, clen, nonce, key);
}

static bool valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > ENCRYPTOR_NAME_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static void add(const sluice_encryptor *e, bool builtin)
{
	enc_slot *s = &encs[nencs++];
	memset(s, 0, sizeof *s);
	memcpy(&s->e, e, e->size < sizeof s->e ? e->size : sizeof s->e);
	snprintf(s->name, sizeof s->name, "%s", e->name);
	s->e.name = s->name;
	s->builtin = builtin;
}

void crypto_init(void)
{
	if (nencs)
		return;
	static const sluice_encryptor xc = {
	    sizeof(sluice_encryptor), "xchacha20poly1305",
	    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, crypto_aead_xchacha20poly1305_ietf_ABYTES,
	    1, xc_encrypt, xc_decrypt, NULL};
	static const sluice_encryptor sbx = {
	    sizeof(sluice_encryptor), "secretbox", crypto_secretbox_NONCEBYTES,
	    crypto_secretbox_MACBYTES, 0, sb_encrypt, sb_decrypt, NULL};
	add(&xc, true);
	add(&sbx, true);
}

int crypto_register(const sluice_encryptor *e, char *err, size_t errlen)
{
	crypto_init();
	if (!e || e->size < offsetof(sluice_encryptor, userdata) || !valid_name(e->name) ||
	    !e->encrypt || !e->decrypt || e->nonce_bytes < 8 || e->nonce_bytes > 64 ||
	    e->overhead > 1024) {
		snprintf(err, errlen,
		         "invalid encryptor (name 1-32 of [a-z0-9_-], encrypt and decrypt set, nonce "
		         "8-64 bytes)");
		return SLUICE_EINVAL;
	}
	if (crypto_find(e->name)) {
		snprintf(err, errlen, "encryptor %s is already registered", e->name);
		return SLUICE_EEXIST;
	}
	if (nencs == MAX_ENCRYPTORS) {
		snprintf(err, errlen, "too many encryptors (at most %d)", MAX_ENCRYPTORS);
		return SLUICE_EINVAL;
	}
	add(e, false);
	return 0;
}

const sluice_encryptor *crypto_find(const char *name)
{
	crypto_init();
	for (size_t i = 0; i < nencs; i++)
		if (strcmp(encs[i].name, name) == 0)
			return &encs[i].e;
	return NULL;
}

void crypto_names(char *buf, size_t n)
{
	crypto_init();
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < nencs && len < n; i++) {
		int w = snprintf(buf + len, n - len, "%s%s", i ? ", " : "", encs[i].name);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

void crypto_reset_plugins(void)
{
	size_t k = 0;
	for (size_t i = 0; i < nencs; i++)
		if (encs[i].builtin)
			encs[k++] = encs[i];
	nencs = k;
	for (size_t i = 0; i < nencs; i++)
		encs[i].e.name = encs[i].name;
}

/* ---- envelope ---------------------------------------------------------------- */

/* "<version>|<algorithm>|<key id>|<kind>", in buf when it fits (it does
 * unless the kind is very long): no allocation per job. Free it with
 * ad_free. */
#define AD_BUF 256
static char *ad_for(char buf[AD_BUF], const char *version, const char *alg, const char *kid,
                    const char *kind, size_t *len)
{
	const char *part[] = {version, alg, kid, kind};
	size_t plen[ARRAY_LEN(part)], n = ARRAY_LEN(part) - 1;
	for (size_t i = 0; i < ARRAY_LEN(part); i++)
		n += plen[i] = strlen(part[i]);
	char *ad = n < AD_BUF ? buf : xmalloc(n + 1), *p = ad;
	for (size_t i = 0; i < ARRAY_LEN(part); i++) {
		if (i)
			*p++ = '|';
		memcpy(p, part[i], plen[i]);
		p += plen[i];
	}
	*p = '\0';
	*len = n;
	return ad;
}

static void ad_free(char *ad, const char buf[AD_BUF])
{
	if (ad != buf)
		free(ad);
}

/* Characters of n bytes in unpadded base64 (put_b64's encoding). */
static size_t b64_chars(size_t n)
{
	return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1;
}

/* Plaintext bytes after padding (see crypto.h): the next multiple of the
 * block above len (the 0x80 marker always takes a byte), or, when that
 * token would be too short for the index to hash it, the fewest bytes
 * that make it long enough (so short args all look alike). */
static size_t padded_len(const sluice_encryptor *enc, const char *kid, size_t prefix, size_t len)
{
	size_t fixed = sizeof(ENVELOPE_VERSION ".") - 1 + strlen(enc->name) + 1 + strlen(kid) + 1 +
	               b64_chars(enc->nonce_bytes) + 1;
	size_t p = (len / ENVELOPE_PAD_BLOCK + 1) * ENVELOPE_PAD_BLOCK;
	if (fixed + b64_chars(prefix + p + enc->overhead) < ENVELOPE_MIN_TOKEN) {
		size_t chars = ENVELOPE_MIN_TOKEN - fixed, bytes = (3 * chars + 3) / 4;
		p = bytes - prefix - enc->overhead; /* > the p above, so > len */
	}
	return p;
}

static void put_b64(sb *b, const uint8_t *bin, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sb_grow(b, cap);
	sodium_bin2base64(b->p + b->len, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	b->len += strlen(b->p + b->len);
}

char *envelope_seal(const sluice_encryptor *enc, const char *kid, const uint8_t *key,
                    const char *kind, const char *pt, size_t len, const uint8_t *nonce_in)
{
	uint8_t nonce[64];
	if (nonce_in)
		memcpy(nonce, nonce_in, enc->nonce_bytes);
	else
		randombytes_buf(nonce, enc->nonce_bytes);
	size_t adlen;
	char adbuf[AD_BUF], *ad = ad_for(adbuf, ENVELOPE_VERSION, enc->name, kid, kind, &adlen);
	/* Without AEAD, a digest of the associated data rides inside. */
	size_t prefix = enc->aead ? 0 : AD_DIGEST_BYTES;
	size_t padded = padded_len(enc, kid, prefix, len), mlen = prefix + padded;
	uint8_t *m = xmalloc(mlen);
	if (prefix)
		crypto_generichash(m, AD_DIGEST_BYTES, (const uint8_t *)ad, adlen, NULL, 0);
	memcpy(m + prefix, pt, len);
	/* A block of the padded length: exactly that length, which unpadding
	 * recovers without being told it. */
	size_t got;
	if (sodium_pad(&got, m + prefix, len, padded, padded) != 0 || got != padded)
		abort(); /* padded > len by construction */
	uint8_t *c = xmalloc(mlen + enc->overhead);
	int rc = enc->encrypt(enc->userdata, c, m, mlen, (const uint8_t *)ad, adlen, nonce, key);
	sodium_memzero(m, mlen);
	free(m);
	ad_free(ad, adbuf);
	if (rc != 0) {
		free(c);
		return NULL;
	}
	sb b = {0};
	sb_printf(&b, "{\"" ENVELOPE_KEY "\":\"" ENVELOPE_VERSION ".%s.%s.", enc->name, kid);
	put_b64(&b, nonce, enc->nonce_bytes);
	sb_putc(&b, '.');
	put_b64(&b, c, mlen + enc->overhead);
	sb_puts(&b, "\"}");
	free(c);
	return sb_take(&b);
}

/* Unpadded base64url. Nonces and ciphertexts are public, so this need not
 * be constant-time (libsodium's decoder is, and is slower). */
/* Built at compile time, so worker threads share it without a race. */
#define B64_ROW(c0, v0)                                                                   \
	[c0 + 0] = v0 + 1, [c0 + 1] = v0 + 2, [c0 + 2] = v0 + 3, [c0 + 3] = v0 + 4,         \
	[c0 + 4] = v0 + 5, [c0 + 5] = v0 + 6, [c0 + 6] = v0 + 7, [c0 + 7] = v0 + 8,         \
	[c0 + 8] = v0 + 9, [c0 + 9] = v0 + 10
static const uint8_t b64url_plus1[256] = {
    /* value + 1; 0 means "not in the alphabet" */
    B64_ROW('A', 0), B64_ROW('K', 10), [ 'U' ] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, B64_ROW('a', 26), B64_ROW('k', 36), ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, B64_ROW('0', 52), ['-'] = 63, ['_'] = 64,
};

static int b64url_value(unsigned char c) { return (int)b64url_plus1[c] - 1; }

static int b64_field(const char *s, size_t n, uint8_t *out, size_t cap, size_t *got)
{
	if (n % 4 == 1 || (n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
		return -1;
	size_t o = 0, i = 0;
	/* Four characters to three bytes at a time; a character outside the
	 * alphabet (table 0) wraps to a value above 63. */
	for (; i + 4 <= n; i += 4) {
		const unsigned char *q = (const unsigned char *)s + i;
		uint32_t a = b64url_plus1[q[0]] - 1u, b = b64url_plus1[q[1]] - 1u,
		         c = b64url_plus1[q[2]] - 1u, d = b64url_plus1[q[3]] - 1u;
		if ((a | b | c | d) > 63)
			return -1;
		uint32_t v = a << 18 | b << 12 | c << 6 | d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	uint32_t acc = 0;
	int bits = 0;
	for (; i < n; i++) {
		int v = b64url_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1)) /* non-canonical trailing bits */
		return -1;
	*got = o;
	return 0;
}

int envelope_parse(const char *t, size_t len, envelope *e, char *why, size_t n)
{
	memset(e, 0, sizeof *e);
	const char *part[5];
	size_t plen[5], k = 0;
	const char *p = t, *end = t + len;
	while (k < 5) {
		const char *dot = k < 4 ? memchr(p, '.', (size_t)(end - p)) : NULL;
		part[k] = p;
		plen[k] = (size_t)((dot ? dot : end) - p);
		k++;
		if (!dot)
			break;
		p = dot + 1;
	}
	if (k < 2 || plen[0] != 2 ||
	    (memcmp(part[0], ENVELOPE_VERSION, 2) != 0 && memcmp(part[0], ENVELOPE_V1, 2) != 0)) {
		/* Not "version %s": a plaintext value under the envelope's key
		 * would be echoed into errors[]. */
		snprintf(why, n,
		         "unsupported envelope version (want " ENVELOPE_VERSION " or " ENVELOPE_V1 ")");
		return -1;
	}
	if (k != 5 || !plen[1] || !plen[2] || !plen[3] || !plen[4]) {
		snprintf(why, n,
		         "malformed envelope (want " ENVELOPE_VERSION
		         ".<algorithm>.<key id>.<nonce>.<data>)");
		return -1;
	}
	if (plen[1] > ENCRYPTOR_NAME_MAX || plen[2] >= sizeof e->kid) {
		snprintf(why, n, "malformed envelope (algorithm or key id too long)");
		return -1;
	}
	/* Both are named in later errors: only name characters, so what is
	 * echoed is an algorithm or a key id and not a fragment of anything. */
	if (!name_chars(part[1], plen[1])) {
		snprintf(why, n, "malformed envelope (bad algorithm name)");
		return -1;
	}
	if (!name_chars(part[2], plen[2])) {
		snprintf(why, n, "malformed envelope (bad key id)");
		return -1;
	}
	memcpy(e->version, part[0], 2);
	memcpy(e->alg, part[1], plen[1]);
	memcpy(e->kid, part[2], plen[2]);
	if (b64_field(part[3], plen[3], e->nonce, sizeof e->nonce, &e->nonce_len) < 0) {
		snprintf(why, n, "malformed envelope (bad nonce encoding)");
		return -1;
	}
	e->ct = plen[4] <= sizeof e->ct_small ? e->ct_small : xmalloc(plen[4]);
	if (b64_field(part[4], plen[4], e->ct, plen[4], &e->ct_len) < 0) {
		snprintf(why, n, "malformed envelope (bad ciphertext encoding)");
		envelope_free(e);
		return -1;
	}
	return 0;
}

void envelope_free(envelope *e)
{
	if (e->ct != e->ct_small)
		free(e->ct);
	e->ct = NULL;
}

void crypto_free_plain(char *p, size_t len)
{
	if (!p)
		return;
	sodium_memzero(p, len);
	free(p);
}

/* ISO/IEC 7816-4 padding (sodium_pad's): the last byte that is not 0 must
 * be 0x80, and the text ends before it. */
static int unpad(const uint8_t *p, size_t *len)
{
	size_t n = *len;
	while (n > 0 && p[n - 1] == 0)
		n--;
	if (n == 0 || p[n - 1] != 0x80)
		return -1;
	*len = n - 1;
	return 0;
}

int envelope_open(const envelope *e, const sluice_encryptor *enc, const uint8_t *key,
                  const char *kind, char **pt, size_t *len, char *why, size_t n)
{
	if (e->nonce_len != enc->nonce_bytes) {
		snprintf(why, n, "bad nonce length for %s (key id \"%s\")", enc->name, e->kid);
		return -1;
	}
	size_t prefix = enc->aead ? 0 : AD_DIGEST_BYTES;
	if (e->ct_len < enc->overhead + prefix) {
		snprintf(why, n, "ciphertext too short (key id \"%s\")", e->kid);
		return -1;
	}
	size_t mlen = e->ct_len - enc->overhead;
	size_t adlen;
	char adbuf[AD_BUF], *ad = ad_for(adbuf, e->version, enc->name, e->kid, kind, &adlen);
	uint8_t *m = xmalloc(mlen + 1);
	int rc = enc->decrypt(enc->userdata, m, e->ct, e->ct_len, (const uint8_t *)ad, adlen,
	                      e->nonce, key);
	if (rc == 0 && prefix) {
		uint8_t d[AD_DIGEST_BYTES];
		crypto_generichash(d, sizeof d, (const uint8_t *)ad, adlen, NULL, 0);
		rc = sodium_memcmp(d, m, AD_DIGEST_BYTES);
	}
	ad_free(ad, adbuf);
	if (rc != 0) {
		crypto_free_plain((char *)m, mlen + 1);
		snprintf(why, n,
		         "authentication failed with key id \"%s\" (%s): tampered, or copied from a job "
		         "of another kind",
		         e->kid, enc->name);
		return -1;
	}
	size_t plen = mlen - prefix;
	/* Authenticated, so bad padding means a faulty encryptor, not an
	 * attack. Not sodium_unpad: its constant time (a masked pass over the
	 * whole block, ~650 instructions for a tiny job) hides the length from
	 * nothing here, as parsing and handling the args take time by their
	 * length anyway. */
	if (strcmp(e->version, ENVELOPE_VERSION) == 0 && unpad(m + prefix, &plen) < 0) {
		crypto_free_plain((char *)m, mlen + 1);
		snprintf(why, n, "bad padding in the plaintext (key id \"%s\", %s)", e->kid, enc->name);
		return -1;
	}
	memmove(m, m + prefix, plen);
	m[plen] = '\0';
	*pt = (char *)m;
	*len = plen;
	return 0;
}

/* ---- finding the envelope in args ---------------------------------------------- */

#define ARGS_MAX_DEPTH 1000

/* A JSON string body that needs no unescaping: no quote, no backslash.
 * (Other characters are checked when the token is parsed.) */
static bool plain_string(const char *s, size_t n)
{
	return !memchr(s, '"', n) && !memchr(s, '\\', n);
}

int args_envelope(const char *args, size_t len, const char **token, size_t *toklen, char **hold,
                  char *why, size_t n)
{
	*hold = NULL;
	/* Most args are plaintext and never mention the key: no parse then. */
	if (!mem_find(args, len, "\"" ENVELOPE_KEY "\"", sizeof(ENVELOPE_KEY) + 1))
		return 0;
	/* The form jsonb prints (and envelope_seal writes): read the token in
	 * place when it holds only token characters (no escapes possible). */
	static const char forms[][20] = {"{\"" ENVELOPE_KEY "\": \"", "{\"" ENVELOPE_KEY "\":\""};
	for (size_t f = 0; f < 2; f++) {
		size_t pre = strlen(forms[f]);
		if (len > pre + 2 && memcmp(args, forms[f], pre) == 0 && args[len - 2] == '"' &&
		    args[len - 1] == '}') {
			size_t tl = len - pre - 2;
			const char *t = args + pre;
			if (plain_string(t, tl)) {
				*token = t;
				*toklen = tl;
				return 1;
			}
		}
	}
	/* Deeper than json-c's default 32: args jsonb took may nest deeper. */
	json_tokener *tok = json_tokener_new_ex(ARGS_MAX_DEPTH);
	json_object *o = tok ? json_tokener_parse_ex(tok, args, (int)len) : NULL;
	if (tok)
		json_tokener_free(tok);
	json_object *v;
	int rc = 0;
	if (!o) {
		/* Deeper still (or not JSON): whether it is an envelope cannot be
		 * told, and an unread envelope must not pass for plaintext. */
		snprintf(why, n, "malformed envelope (args mentioning \"" ENVELOPE_KEY
		                 "\" nest over %d levels or are not JSON)", ARGS_MAX_DEPTH);
		rc = -1;
	} else if (!json_object_is_type(o, json_type_object) ||
	           !json_object_object_get_ex(o, ENVELOPE_KEY, &v)) {
		rc = 0; /* the string appears deeper: plaintext */
	} else if (json_object_object_length(o) != 1) {
		snprintf(why, n, "malformed envelope (\"" ENVELOPE_KEY "\" with other keys beside it)");
		rc = -1;
	} else if (!json_object_is_type(v, json_type_string)) {
		snprintf(why, n, "malformed envelope (\"" ENVELOPE_KEY "\" is not a string)");
		rc = -1;
	} else {
		*hold = xstrndup(json_object_get_string(v), (size_t)json_object_get_string_len(v));
		*token = *hold;
		*toklen = strlen(*hold);
		rc = 1;
	}
	json_object_put(o);
	return rc;
}
