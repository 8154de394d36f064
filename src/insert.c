/* insert.c -- see insert.h. */
#include "insert.h"

#include <ctype.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "encrypt.h"
#include "gojson.h"
#include "hooks.h"
#include "json.h"
#include "util.h"

/* Go's zero time (0001-01-01) in Unix seconds: Go truncates periods from it. */
#define GO_ZERO_UNIX_S (-62135596800LL)

/* River requires these states in a unique job's states. */
#define UNIQUE_REQUIRED_STATES (1u | 16u | 64u | 128u) /* available pending running scheduled */

typedef struct member {
	const char *key; /* raw key text, without quotes; then dkey */
	size_t keylen;
	char *dkey; /* the key decoded (unique_key_string) */
	const char *val; /* raw value text */
	size_t vallen;
} member;

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

static const char *skip_value(const char *p, const char *end)
{
	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p == '{' || *p == '[') {
		int depth = 0;
		while (p < end) {
			if (*p == '"') {
				p = skip_string(p, end);
				if (!p)
					return NULL;
				continue;
			}
			if (*p == '{' || *p == '[')
				depth++;
			else if (*p == '}' || *p == ']') {
				if (--depth == 0)
					return p + 1;
			}
			p++;
		}
		return NULL;
	}
	while (p < end && !strchr(",}] \t\r\n", *p))
		p++;
	return p;
}

/* Top-level members of a JSON object with their raw texts (args were
 * validated as JSON before). Returns the count, or -1. */
static int members(const char *s, size_t len, member **out)
{
	const char *p = s, *end = s + len;
	size_t n = 0, cap = 8;
	member *m = xmalloc(cap * sizeof *m);
	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		goto bad;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}') {
		*out = m;
		return 0;
	}
	for (;;) {
		if (p >= end || *p != '"')
			goto bad;
		const char *kend = skip_string(p, end);
		if (!kend)
			goto bad;
		if (n == cap)
			m = xrealloc(m, (cap *= 2) * sizeof *m);
		m[n].key = p + 1;
		m[n].keylen = (size_t)(kend - p - 2);
		p = skip_ws(kend, end);
		if (p >= end || *p != ':')
			goto bad;
		p = skip_ws(p + 1, end);
		const char *vend = skip_value(p, end);
		if (!vend)
			goto bad;
		m[n].val = p;
		m[n].vallen = (size_t)(vend - p);
		n++;
		p = skip_ws(vend, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			break;
		goto bad;
	}
	*out = m;
	return (int)n;
bad:
	free(m);
	return -1;
}

static int member_cmp(const void *a, const void *b)
{
	const member *x = a, *y = b;
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

char *unique_key_string(const char *kind, const char *args, const char *queue, uint32_t flags,
                        int64_t period_s, int64_t at_us)
{
	sb b = {0};
	if (!(flags & SLUICE_UNIQUE_EXCLUDE_KIND))
		sb_printf(&b, "&kind=%s", kind);
	if (flags & SLUICE_UNIQUE_BY_ARGS) {
		/* River: the top-level keys sorted by their decoded bytes, each
		 * key and value as Go's json.Marshal wrote them (gojson.h). */
		member *m = NULL;
		int n = members(args, strlen(args), &m), rc = n < 0 ? -1 : 0;
		for (int i = 0; i < n; i++) {
			sb k = {0};
			if (gojson_decode_str(&k, m[i].key - 1, m[i].keylen + 2) < 0)
				rc = -1;
			m[i].keylen = k.len;
			m[i].key = m[i].dkey = sb_take(&k);
		}
		if (rc == 0) {
			qsort(m, (size_t)n, sizeof *m, member_cmp);
			sb_puts(&b, "&args={");
			for (int i = 0; i < n && rc == 0; i++) {
				if (i)
					sb_putc(&b, ',');
				gojson_put_string(&b, m[i].key, m[i].keylen);
				sb_putc(&b, ':');
				rc = gojson_append(&b, m[i].val, m[i].vallen);
			}
			sb_putc(&b, '}');
		}
		for (int i = 0; i < n; i++) { /* plaintext args, as s below */
			sodium_memzero(m[i].dkey, m[i].keylen);
			free(m[i].dkey);
		}
		if (n >= 0)
			free(m);
		if (rc < 0) {
			sb_free(&b);
			return NULL;
		}
	}
	if ((flags & SLUICE_UNIQUE_BY_PERIOD) && period_s > 0) {
		int64_t s = at_us / 1000000 - GO_ZERO_UNIX_S;
		s -= s % period_s;
		time_t t = (time_t)(s + GO_ZERO_UNIX_S);
		struct tm tm;
		gmtime_r(&t, &tm);
		char ts[32];
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
		sb_printf(&b, "&period=%s", ts);
	}
	if (flags & SLUICE_UNIQUE_BY_QUEUE)
		sb_printf(&b, "&queue=%s", queue);
	return sb_take(&b);
}

static bool valid_tag(const char *t)
{
	size_t n = strlen(t);
	if (n < 3 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool word = isalnum((unsigned char)t[i]) || t[i] == '_';
		if (!word && !(t[i] == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

static int check_tags(const char *tags, char *err, size_t errlen)
{
	/* Strictly first: json-c stops after the first value, and the text
	 * goes into the insert as it is (`["a"],"state":"running"` passed). */
	json_object *o = json_check(tags, strlen(tags)) == JK_ARRAY ? json_tokener_parse(tags) : NULL;
	int rc = 0;
	if (!o || !json_object_is_type(o, json_type_array)) {
		snprintf(err, errlen, "tags must be a JSON array of strings");
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < json_object_array_length(o); i++) {
		json_object *t = json_object_array_get_idx(o, i);
		if (!json_object_is_type(t, json_type_string) || !valid_tag(json_object_get_string(t))) {
			snprintf(err, errlen,
			         "tag %zu must be 3-255 letters, digits, '_' or inner '-' (River's rule)",
			         i + 1);
			rc = -1;
		}
	}
	json_object_put(o);
	return rc;
}

int insert_prepare(const char *kind, const char *args, const sluice_enqueue_opts *in,
                   int64_t now_us, int flags, insert_job **out, char *err, size_t errlen)
{
	sluice_enqueue_opts o = {0};
	if (in)
		memcpy(&o, in, in->size < sizeof o ? in->size : sizeof o);
	const char *queue = o.queue ? o.queue : "default";
	int priority = o.priority ? o.priority : 1;
	int max_attempts = o.max_attempts ? o.max_attempts : 25;
	if (!kind || !valid_kind_name(kind)) {
		snprintf(err, errlen, "invalid kind (River's rule: word characters and -[]<>/.:+, 2-127)");
		return -1;
	}
	if (!args || !json_is_object(args, strlen(args))) {
		snprintf(err, errlen, "args must be a JSON object");
		return -1;
	}
	if (!valid_queue_name(queue)) {
		snprintf(err, errlen, "invalid queue name '%s' (lowercase letters and digits, separated "
		                      "by single '_' or '-', at most 64)", queue);
		return -1;
	}
	if (priority < 1 || priority > 4) {
		snprintf(err, errlen, "priority must be 1..4");
		return -1;
	}
	if (max_attempts < 1 || max_attempts > 32767) {
		snprintf(err, errlen, "max_attempts must be 1..32767");
		return -1;
	}
	/* Years 1 to 9999, which RFC 3339 and PostgreSQL both hold: a time
	 * outside would fail the statement it goes in (for a handler's child,
	 * its parent's completion). */
	if (o.scheduled_at_us &&
	    (o.scheduled_at_us < -62135596800LL * 1000000 || o.scheduled_at_us > 253402300799LL * 1000000)) {
		snprintf(err, errlen, "scheduled_at must be within the years 1 to 9999");
		return -1;
	}
	if (o.tags && check_tags(o.tags, err, errlen) < 0)
		return -1;
	if (o.metadata && !json_is_object(o.metadata, strlen(o.metadata))) {
		snprintf(err, errlen, "metadata must be a JSON object");
		return -1;
	}
	if ((o.unique & SLUICE_UNIQUE_BY_PERIOD) && o.unique_period_s <= 0) {
		snprintf(err, errlen, "a unique period must be positive");
		return -1;
	}
	uint8_t states = o.unique_states ? o.unique_states : UNIQUE_STATES_DEFAULT;
	if (o.unique && (states & UNIQUE_REQUIRED_STATES) != UNIQUE_REQUIRED_STATES) {
		snprintf(err, errlen, "unique states must include available, pending, running and "
		                      "scheduled (River's rule)");
		return -1;
	}

	insert_job *j = xcalloc(1, sizeof *j);
	j->kind = xstrdup(kind);
	j->queue = xstrdup(queue);
	j->priority = priority;
	j->max_attempts = max_attempts;
	j->scheduled_at_us = o.scheduled_at_us;
	j->scheduled = o.scheduled_at_us > now_us;
	j->tags = xstrdup(o.tags ? o.tags : "[]");
	j->metadata = xstrdup(o.metadata ? o.metadata : "{}");
	if (o.unique) {
		/* Over the plaintext, before encryption: River's key, so River
		 * clients and sluice agree on uniqueness. The period is the insert
		 * time's, scheduled or not: River's client computes the key before
		 * it sets scheduled_at (client.go). */
		char *s = unique_key_string(kind, args, queue, o.unique, o.unique_period_s, now_us);
		crypto_hash_sha256(j->unique_key, (const uint8_t *)s, strlen(s));
		sodium_memzero(s, strlen(s));
		free(s);
		j->unique = true;
		j->unique_states = states;
	}
	if (hooks_insert_begin(kind, queue, args, strlen(args), !(flags & INSERT_NO_ENCRYPT),
	                       &j->args, &j->sealed_by, err, errlen) < 0) {
		insert_free(j);
		return -1;
	}
	*out = j;
	return 0;
}

void insert_free(insert_job *j)
{
	while (j) {
		insert_job *next = j->next;
		free(j->kind);
		if (j->args)
			crypto_free_plain(j->args, strlen(j->args));
		free(j->queue);
		free(j->tags);
		free(j->metadata);
		enc_release(j->sealed_by);
		free(j);
		j = next;
	}
}

void insert_reseal(insert_job *j)
{
	char kid[33];
	enc_policy *now = j->sealed_by ? enc_acquire() : NULL;
	if (!now || now == j->sealed_by || now->mode != ENC_ENCRYPT || !now->keys || !now->keys->n ||
	    enc_key_id_of(j->args, strlen(j->args), kid) != 1 || strcmp(kid, now->keys->ids[0]) == 0) {
		enc_release(now);
		return;
	}
	char *plain = NULL, *sealed = NULL, err[256];
	size_t plen = 0;
	if (enc_open(j->sealed_by, j->kind, j->args, strlen(j->args), &plain, &plen, err, sizeof err) ==
	        ENC_OPENED &&
	    enc_seal(now, j->kind, plain, plen, &sealed, err, sizeof err) == 0 && sealed) {
		crypto_free_plain(j->args, strlen(j->args));
		j->args = sealed;
		enc_release(j->sealed_by);
		j->sealed_by = now;
		now = NULL;
	}
	crypto_free_plain(plain, plen);
	enc_release(now);
}

void insert_encode(sb *b, const insert_job *j, int64_t parent_id)
{
	sb_printf(b, "{\"parent_id\":%lld,\"kind\":", (long long)parent_id);
	sb_json_str(b, j->kind);
	sb_puts(b, ",\"args\":");
	sb_puts(b, j->args);
	sb_puts(b, ",\"queue\":");
	sb_json_str(b, j->queue);
	sb_printf(b, ",\"priority\":%d,\"max_attempts\":%d,\"state\":\"%s\"", j->priority,
	          j->max_attempts, j->scheduled ? "scheduled" : "available");
	if (j->scheduled_at_us) {
		char ts[40];
		fmt_rfc3339_us(j->scheduled_at_us, ts);
		sb_printf(b, ",\"scheduled_at\":\"%s\"", ts);
	}
	sb_puts(b, ",\"tags\":");
	sb_puts(b, j->tags);
	sb_puts(b, ",\"metadata\":");
	sb_puts(b, j->metadata);
	if (j->unique) {
		char hex[65];
		sodium_bin2hex(hex, sizeof hex, j->unique_key, sizeof j->unique_key);
		sb_printf(b, ",\"unique_key\":\"%s\",\"unique_states\":%u", hex, j->unique_states);
	}
	sb_putc(b, '}');
}
