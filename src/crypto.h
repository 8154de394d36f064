/* crypto.h -- encryptors (built in: xchacha20poly1305, secretbox; more from
 * plugins) and the envelope that carries encrypted args:
 *
 *   {"river_encrypt": "s2.<algorithm>.<key id>.<nonce>.<ciphertext>"}
 *
 * nonce and ciphertext in unpadded base64url. The associated data binds
 * "s2|<algorithm>|<key id>|<kind>", so a ciphertext moved to another kind,
 * key id or algorithm does not open. s2 pads the plaintext (libsodium's
 * ISO/IEC 7816-4 padding) to a multiple of ENVELOPE_PAD_BLOCK bytes, and to
 * at least ENVELOPE_MIN_TOKEN characters of token:
 * - the stored length says less about the args (16-byte steps);
 * - River's GIN index on args (jsonb_ops) keeps a string of up to 125
 *   bytes whole as an index key, and hashes a longer one to 8 bytes. Each
 *   row version a job's fetch and completion write adds a key per string
 *   to that index, so a short token cost ~100 bytes of index (and WAL) per
 *   row version more than a long one (BENCHMARKS.md).
 * s1, the same without padding, is still read. Byte layout: README,
 * "Envelope". */
#ifndef SLUICE_CRYPTO_H
#define SLUICE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/plugin.h"

#define ENVELOPE_VERSION "s2" /* written */
#define ENVELOPE_V1 "s1"      /* read: unpadded, written before s2 */
#define ENVELOPE_PAD_BLOCK 16
/* PostgreSQL's JGIN_MAXLENGTH (jsonb_gin.c) + 1: hashed in the index. */
#define ENVELOPE_MIN_TOKEN 126
#define ENVELOPE_KEY "river_encrypt"
#define ENCRYPTOR_NAME_MAX 32
/* Digest that binds the associated data for non-AEAD ciphers. */
#define AD_DIGEST_BYTES 16

/* Registers the built-in encryptors (idempotent). */
void crypto_init(void);
/* 0, SLUICE_EINVAL (bad fields, reason in err) or SLUICE_EEXIST. */
int crypto_register(const sluice_encryptor *e, char *err, size_t errlen);
const sluice_encryptor *crypto_find(const char *name);
/* "xchacha20poly1305, secretbox, ..." into buf (cut to n): worker threads
 * name them in job errors, so no shared buffer. */
void crypto_names(char *buf, size_t n);
/* Forgets encryptors registered by plugins (they are being unloaded). */
void crypto_reset_plugins(void);

typedef struct envelope {
	char version[3]; /* ENVELOPE_VERSION or ENVELOPE_V1 */
	char alg[ENCRYPTOR_NAME_MAX + 1];
	char kid[33];
	uint8_t nonce[64];
	size_t nonce_len;
	uint8_t *ct; /* ct_small when it fits: no allocation per job */
	size_t ct_len;
	uint8_t ct_small[256];
} envelope;

/* Returns 0, or -1 with why (a reason naming no secret). e->ct may point
 * into e itself: do not copy an envelope. */
int envelope_parse(const char *token, size_t len, envelope *e, char *why, size_t n);
void envelope_free(envelope *e);

/* Encrypts args for kind. nonce: NULL for a fresh random one (tests pass a
 * fixed one). Returns the new args JSON, {"river_encrypt":"..."}. */
char *envelope_seal(const sluice_encryptor *enc, const char *kid, const uint8_t *key,
                    const char *kind, const char *pt, size_t len, const uint8_t *nonce);
/* The length of envelope_seal's args as the row holds them: jsonb prints
 * {"river_encrypt": "..."}, one space more (the token needs no escapes).
 * What a fetch measures against [worker] max_args_size. */
#define ENVELOPE_STORED_LEN(sealed) (strlen(sealed) + 1)
/* Decrypts into a malloc'd NUL-terminated buffer, to be released with
 * crypto_free_plain (which zeroes it). Returns 0 or -1 with why. */
int envelope_open(const envelope *e, const sluice_encryptor *enc, const uint8_t *key,
                  const char *kind, char **pt, size_t *len, char *why, size_t n);
void crypto_free_plain(char *p, size_t len);

/* What args hold: plaintext (0); an envelope (1: *token and *toklen point at
 * the token, held in *hold, which the caller frees); or something that
 * carries river_encrypt but is not a well-formed envelope (-1, why). */
int args_envelope(const char *args, size_t len, const char **token, size_t *toklen, char **hold,
                  char *why, size_t n);

#endif
