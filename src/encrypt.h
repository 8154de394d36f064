/* encrypt.h -- the built-in encryption hook's policy: mode, algorithm, key
 * ring and kind filters, swapped as one immutable, reference-counted object
 * so a SIGHUP reload never disturbs a job being decrypted. */
#ifndef SLUICE_ENCRYPT_H
#define SLUICE_ENCRYPT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "keys.h"
#include "sluice/plugin.h"

enum enc_mode { ENC_OFF = 0, ENC_ENCRYPT = 1, ENC_DECRYPT_ONLY = 2 };

typedef struct enc_policy {
	atomic_int refs;
	int mode;
	const sluice_encryptor *alg; /* for new envelopes */
	keyring *keys;               /* keys->ids[0] encrypts */
	char **include, **exclude, **strict;
} enc_policy;

struct cfg;
/* Takes the key ring and kind lists out of c. */
enc_policy *enc_policy_from(struct cfg *c);
/* Makes p current (the reference passes to the module). */
void enc_install(enc_policy *p);
enc_policy *enc_acquire(void);
void enc_release(enc_policy *p);
/* Drops the current policy (exit). */
void enc_shutdown(void);

/* Kinds whose new jobs are encrypted under the filters (mode aside). */
bool enc_kind_selected(const enc_policy *p, const char *kind);

/* insert_begin: *out is the envelope JSON, or NULL to keep args as they are. */
int enc_seal(const enc_policy *p, const char *kind, const char *args, size_t len, char **out,
             char *err, size_t errlen);

enum enc_open_result {
	ENC_PLAIN = 0,     /* plaintext, let through */
	ENC_OPENED = 1,    /* *out holds the decrypted args */
	ENC_FAIL = -1,     /* job error (retried): unknown key, tampered, malformed... */
	ENC_REFUSE = -2,   /* job cancelled: plaintext of a strict kind */
};
int enc_open(const enc_policy *p, const char *kind, const char *args, size_t len, char **out,
             size_t *outlen, char *err, size_t errlen);

/* Key id of an envelope in args: 1 and kid set, 0 for plaintext, -1 bad. */
int enc_key_id_of(const char *args, size_t len, char kid[33]);

#endif
