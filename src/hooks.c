/* hooks.c -- see hooks.h. */
#include "hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "encrypt.h"
#include "job.h"
#include "keys.h"
#include "registry.h"
#include "util.h"

typedef struct hook_entry {
	sluice_hook h;
	char *name;
	char **kinds; /* NULL: global */
} hook_entry;

static hook_entry *hooks;
static size_t nhooks;
static _Atomic size_t max_args = 16u << 20;

void hooks_set_max_args(size_t bytes) { max_args = bytes; }
size_t hooks_max_args(void) { return max_args; }

/* [worker] max_args_size, the same for inserted and fetched args. */
static bool too_large(size_t len, char *err, size_t errlen)
{
	size_t max = max_args;
	if (len <= max)
		return false;
	snprintf(err, errlen, "args too large: %zu bytes ([worker] max_args_size is %zu)", len, max);
	return true;
}

int hooks_add(const sluice_hook *in, const char *plugin_path, char *err, size_t errlen)
{
	sluice_hook h = {0};
	if (!in) {
		snprintf(err, errlen, "invalid hook (NULL)");
		return SLUICE_EINVAL;
	}
	memcpy(&h, in, in->size < sizeof h ? in->size : sizeof h);
	if (!h.insert_begin && !h.work_begin) {
		snprintf(err, errlen, "hook %s has neither insert_begin nor work_begin",
		         h.name ? h.name : "(unnamed)");
		return SLUICE_EINVAL;
	}
	char **kinds = NULL;
	if (h.kinds && *h.kinds) {
		strv_split(h.kinds, ',', &kinds);
		for (char **k = kinds; *k; k++) {
			const kind_entry *e = registry_find(*k);
			if (!e || strcmp(e->plugin_path, plugin_path) != 0) {
				snprintf(err, errlen,
				         "hook %s: kind %s is not registered by this plugin (register the "
				         "kind first; a plugin may hook only its own kinds)",
				         h.name ? h.name : "(unnamed)", *k);
				strv_free(kinds);
				return SLUICE_EINVAL;
			}
		}
	}
	hooks = xrealloc(hooks, (nhooks + 1) * sizeof *hooks);
	hook_entry *e = &hooks[nhooks++];
	e->h = h;
	e->name = xstrdup(h.name ? h.name : "(unnamed)");
	e->h.name = e->name;
	e->kinds = kinds;
	return 0;
}

void hooks_clear(void)
{
	for (size_t i = 0; i < nhooks; i++) {
		free(hooks[i].name);
		strv_free(hooks[i].kinds);
	}
	free(hooks);
	hooks = NULL;
	nhooks = 0;
}

static bool applies(const hook_entry *e, const char *kind, bool global)
{
	return global ? e->kinds == NULL : e->kinds && strv_contains(e->kinds, kind);
}

/* Runs one hook; on success replaces *cur (owned) when it set new_args. */
static int run_one(const hook_entry *e, sluice_hook_fn fn, sluice_hook_args *a, char **cur,
                   size_t *curlen, char *err, size_t errlen)
{
	a->args = *cur;
	a->args_len = *curlen;
	a->new_args = NULL;
	a->reason[0] = '\0';
	int rc = fn(a, e->h.userdata);
	a->reason[sizeof a->reason - 1] = '\0'; /* a hook may fill it to the brim */
	if (rc != 0) {
		snprintf(err, errlen, "hook %s failed: %s", e->name, a->reason[0] ? a->reason : "no reason given");
		if (a->new_args) /* derived from the args, which may be decrypted */
			crypto_free_plain(a->new_args, strlen(a->new_args));
		return -1;
	}
	if (a->new_args) {
		size_t n = strlen(a->new_args);
		if (!json_is_object(a->new_args, n)) {
			snprintf(err, errlen, "hook %s returned args that are not a JSON object", e->name);
			crypto_free_plain(a->new_args, n);
			return -1;
		}
		crypto_free_plain(*cur, *curlen); /* may be decrypted */
		*cur = a->new_args;
		*curlen = n;
	}
	return 0;
}

int hooks_insert_begin(const char *kind, const char *queue, const char *args, size_t len,
                       bool encrypt, char **out, enc_policy **sealed_by, char *err,
                       size_t errlen)
{
	*sealed_by = NULL;
	if (too_large(len, err, errlen))
		return -1;
	char *cur = xstrndup(args, len);
	size_t curlen = len;
	sluice_hook_args a = {.size = sizeof a, .kind = kind, .queue = queue};
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nhooks; i++)
			if (hooks[i].h.insert_begin && applies(&hooks[i], kind, pass == 0) &&
			    run_one(&hooks[i], hooks[i].h.insert_begin, &a, &cur, &curlen, err,
			            errlen) < 0) {
				crypto_free_plain(cur, curlen);
				return -1;
			}
	enc_policy *p = enc_acquire();
	char *sealed = NULL;
	int rc = 0;
	if (encrypt) {
		rc = enc_seal(p, kind, cur, curlen, &sealed, err, errlen);
	} else if (p && p->mode == ENC_ENCRYPT && strv_contains(p->strict, kind)) {
		snprintf(err, errlen, "kind %s is in [encryption] strict_kinds: it must be encrypted",
		         kind);
		rc = -1;
	}
	if (rc < 0) {
		enc_release(p);
		crypto_free_plain(cur, curlen);
		return -1;
	}
	size_t stored = curlen;
	if (sealed) {
		crypto_free_plain(cur, curlen);
		cur = sealed;
		curlen = strlen(sealed);
		stored = ENVELOPE_STORED_LEN(sealed);
	}
	/* As stored, too: a fetch refuses args over the limit, and the hooks
	 * and the envelope make them longer. */
	if (stored > max_args) {
		size_t max = max_args;
		snprintf(err, errlen,
		         "args too large once %s: %zu bytes ([worker] max_args_size is %zu)",
		         sealed ? "encrypted" : "through the insert hooks", stored, max);
		crypto_free_plain(cur, curlen);
		enc_release(p);
		return -1;
	}
	*out = cur;
	if (sealed)
		*sealed_by = p; /* the reference passes to the caller */
	else
		enc_release(p);
	return 0;
}

int hooks_work_begin(job *j, char *err, size_t errlen)
{
	if (too_large(j->pub.args_len, err, errlen))
		return HOOK_FAIL;
	enc_policy *p = enc_acquire();
	char *plain = NULL;
	size_t plen = 0;
	int rc = enc_open(p, j->pub.kind, j->pub.args, j->pub.args_len, &plain, &plen, err, errlen);
	if (rc == ENC_FAIL) {
		/* The label of sluice_decrypt_failures_total: a key id this node
		 * has, else "unknown" or "malformed", so whoever inserts jobs
		 * cannot make a metric series per job (the error names the id). */
		char kid[33];
		const char *label = "malformed";
		if (enc_key_id_of(j->pub.args, j->pub.args_len, kid) == 1)
			label = p && p->keys && keyring_find(p->keys, kid) >= 0 ? kid : "unknown";
		snprintf(j->failed_key_id, sizeof j->failed_key_id, "%s", label);
	}
	enc_release(p);
	if (rc == ENC_FAIL)
		return HOOK_FAIL;
	if (rc == ENC_REFUSE)
		return HOOK_CANCEL;
	if (rc == ENC_OPENED) {
		if (!json_is_object(plain, plen)) {
			crypto_free_plain(plain, plen);
			snprintf(err, errlen, "decrypted args are not a JSON object");
			return HOOK_FAIL;
		}
		job_set_args(j, plain, plen);
	} else if (j->pub.args[0] != '{') {
		/* jsonb prints an object with '{' first: anything else is an
		 * array, a scalar or null, which no handler is promised. */
		snprintf(err, errlen, "args are not a JSON object (River args are objects)");
		return HOOK_FAIL;
	}
	if (!nhooks)
		return HOOK_OK;
	char *cur = xstrndup(j->pub.args, j->pub.args_len);
	size_t curlen = j->pub.args_len;
	sluice_hook_args a = {.size = sizeof a, .kind = j->pub.kind, .queue = j->pub.queue,
	                      .job = &j->pub};
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nhooks; i++)
			if (hooks[i].h.work_begin && applies(&hooks[i], j->pub.kind, pass == 0) &&
			    run_one(&hooks[i], hooks[i].h.work_begin, &a, &cur, &curlen, err,
			            errlen) < 0) {
				crypto_free_plain(cur, curlen);
				return HOOK_FAIL;
			}
	job_set_args(j, cur, curlen);
	return HOOK_OK;
}
