/* keys.h -- the key ring: 32-byte keys from file:, env: or credential:
 * sources, newest first, held in sodium_malloc'd (locked, guarded,
 * not-dumped, read-only) memory. Key ids are not secret: an operator-chosen
 * name or a keyed hash of the key. */
#ifndef SLUICE_KEYS_H
#define SLUICE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEY_BYTES 32
#define KEY_ID_MAX 32

typedef struct key_source {
	char *id;     /* operator-set id, or NULL to derive one */
	char *scheme; /* "file", "env" or "credential" */
	char *arg;    /* path or name */
} key_source;

typedef struct keyring {
	size_t n;
	char (*ids)[KEY_ID_MAX + 1];
	char **sources; /* "file:/etc/sluice/a.key": for messages, not secret */
	uint8_t *bytes; /* n * KEY_BYTES, sodium_malloc'd */
} keyring;

/* Parses "[id=]scheme:arg, ..." (syntax only). Literal key material is
 * refused without echoing it. Returns 0, or -1 with err. */
int keys_parse(const char *value, key_source **out, size_t *n, char *err, size_t errlen);
void keys_sources_free(key_source *s, size_t n);

/* Reads every source. Returns 0, or -1 with err naming the source. */
int keyring_load(const key_source *src, size_t n, keyring **out, char *err, size_t errlen);
void keyring_free(keyring *r);
/* Index of id, or -1. */
int keyring_find(const keyring *r, const char *id);
static inline const uint8_t *keyring_key(const keyring *r, int i)
{
	return r->bytes + (size_t)i * KEY_BYTES;
}

/* "k" + 16 hex digits of a BLAKE2b MAC of a constant under the key. */
void key_id_derive(const uint8_t key[KEY_BYTES], char out[KEY_ID_MAX + 1]);
/* Standard or URL-safe base64, padded or not, surrounding blanks ignored.
 * Returns 0 when text holds exactly KEY_BYTES bytes. */
int key_decode(const char *text, size_t len, uint8_t out[KEY_BYTES]);
bool key_id_valid(const char *id);

#endif
