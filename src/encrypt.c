/* encrypt.c -- see encrypt.h. Error texts name key ids and reasons, never
 * args, plaintext or key bytes: they end up in errors[]. */
#include "encrypt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "util.h"

static pthread_mutex_t current_mu = PTHREAD_MUTEX_INITIALIZER;
static enc_policy *current;

enc_policy *enc_policy_from(cfg *c)
{
	enc_policy *p = xcalloc(1, sizeof *p);
	atomic_init(&p->refs, 1);
	p->mode = c->enc_mode < 0 ? ENC_OFF : c->enc_mode;
	p->alg = crypto_find(c->enc_algorithm);
	p->keys = c->keyring;
	c->keyring = NULL;
	p->include = c->kinds_include;
	p->exclude = c->kinds_exclude;
	p->strict = c->strict_kinds;
	c->kinds_include = c->kinds_exclude = c->strict_kinds = NULL;
	return p;
}

static void policy_free(enc_policy *p)
{
	keyring_free(p->keys);
	strv_free(p->include);
	strv_free(p->exclude);
	strv_free(p->strict);
	free(p);
}

void enc_release(enc_policy *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1)
		policy_free(p);
}

void enc_install(enc_policy *p)
{
	pthread_mutex_lock(&current_mu);
	enc_policy *old = current;
	current = p;
	pthread_mutex_unlock(&current_mu);
	enc_release(old);
}

enc_policy *enc_acquire(void)
{
	pthread_mutex_lock(&current_mu);
	enc_policy *p = current;
	if (p)
		atomic_fetch_add(&p->refs, 1);
	pthread_mutex_unlock(&current_mu);
	return p;
}

void enc_shutdown(void) { enc_install(NULL); }

bool enc_kind_selected(const enc_policy *p, const char *kind)
{
	if (p->include && *p->include)
		return strv_contains(p->include, kind);
	return !strv_contains(p->exclude, kind);
}

/* args_envelope, then envelope_parse of its token: 0 plaintext args, 1 an
 * envelope in *env (envelope_free it), -1 neither (why says which). */
static int find_envelope(const char *args, size_t len, envelope *env, char *why, size_t n)
{
	const char *tok;
	size_t toklen;
	char *hold;
	int e = args_envelope(args, len, &tok, &toklen, &hold, why, n);
	if (e == 1 && envelope_parse(tok, toklen, env, why, n) < 0)
		e = -1;
	free(hold); /* env holds copies */
	return e;
}

int enc_seal(const enc_policy *p, const char *kind, const char *args, size_t len, char **out,
             char *err, size_t errlen)
{
	*out = NULL;
	if (!p || p->mode != ENC_ENCRYPT || !enc_kind_selected(p, kind))
		return 0;
	/* Kept only if it is an envelope: a plaintext string under the
	 * envelope's key would otherwise be stored as it is. */
	envelope env;
	char why[200];
	int e = find_envelope(args, len, &env, why, sizeof why);
	if (e == 1)
		envelope_free(&env);
	if (e < 0) {
		snprintf(err, errlen, "args carry \"" ENVELOPE_KEY "\" but %s", why);
		return -1;
	}
	if (e == 1)
		return 0; /* already an envelope (a copied job): keep it */
	*out = envelope_seal(p->alg, p->keys->ids[0], keyring_key(p->keys, 0), kind, args, len, NULL);
	if (!*out) {
		snprintf(err, errlen, "encryption with %s failed", p->alg->name);
		return -1;
	}
	return 0;
}

static void known_ids(const enc_policy *p, char *buf, size_t n)
{
	buf[0] = '\0';
	for (size_t i = 0; p && p->keys && i < p->keys->n; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, n - l, "%s%s", i ? ", " : "", p->keys->ids[i]);
	}
	if (!buf[0])
		snprintf(buf, n, "none");
}

int enc_open(const enc_policy *p, const char *kind, const char *args, size_t len, char **out,
             size_t *outlen, char *err, size_t errlen)
{
	*out = NULL;
	envelope env;
	char why[256];
	int e = find_envelope(args, len, &env, why, sizeof why);
	if (e == 0) {
		if (p && p->mode == ENC_ENCRYPT && strv_contains(p->strict, kind)) {
			snprintf(err, errlen,
			         "plaintext args refused: kind %s is in [encryption] strict_kinds", kind);
			return ENC_REFUSE;
		}
		return ENC_PLAIN;
	}
	int rc = ENC_FAIL;
	if (e < 0) {
		snprintf(err, errlen, "cannot decrypt args: %s", why);
	} else {
		int ki = p && p->mode != ENC_OFF ? keyring_find(p->keys, env.kid) : -1;
		const sluice_encryptor *enc = crypto_find(env.alg);
		char ids[256];
		if (!p || p->mode == ENC_OFF) {
			snprintf(err, errlen,
			         "cannot decrypt args (key id \"%s\"): [encryption] mode is off on this "
			         "node",
			         env.kid);
		} else if (ki < 0) {
			known_ids(p, ids, sizeof ids);
			snprintf(err, errlen,
			         "cannot decrypt args: key id \"%s\" is not configured here (keys: %s)",
			         env.kid, ids);
		} else if (!enc) {
			char names[256];
			crypto_names(names, sizeof names);
			snprintf(err, errlen,
			         "cannot decrypt args (key id \"%s\"): unknown algorithm \"%s\" (known: %s)",
			         env.kid, env.alg, names);
		} else if (envelope_open(&env, enc, keyring_key(p->keys, ki), kind, out, outlen, why,
		                         sizeof why) < 0) {
			snprintf(err, errlen, "cannot decrypt args: %s", why);
		} else {
			rc = ENC_OPENED;
		}
		envelope_free(&env);
	}
	return rc;
}

int enc_key_id_of(const char *args, size_t len, char kid[33])
{
	envelope env;
	char why[200];
	int e = find_envelope(args, len, &env, why, sizeof why);
	if (e == 1) {
		snprintf(kid, 33, "%s", env.kid);
		envelope_free(&env);
	}
	return e;
}
