/* job.c -- decoding fetched rows into jobs, and cancellation. */
#include "job.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "insert.h"
#include "sql.h"
#include "util.h"

/* gjson's parseInt: an optional '-' and digits only, else 0 (saturating
 * here where Go's would wrap). */
static int64_t gjson_parse_int(const char *s)
{
	bool neg = *s == '-';
	s += neg;
	if (!*s)
		return 0;
	int64_t n = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		int d = *s - '0';
		if (n > (INT64_MAX - d) / 10)
			return neg ? INT64_MIN : INT64_MAX;
		n = n * 10 + d;
	}
	return neg ? -n : n;
}

int64_t snoozes_from_metadata(const char *metadata)
{
	if (!metadata || !strstr(metadata, "\"snoozes\""))
		return 0; /* the common case, without a parse */
	json_object *o = json_tokener_parse(metadata), *v;
	int64_t n = 0;
	if (o && json_object_object_get_ex(o, "snoozes", &v)) {
		switch (json_object_get_type(v)) {
		case json_type_int: /* json-c saturates what int64 cannot hold */
			n = json_object_get_int64(v);
			break;
		case json_type_double: { /* Go's int64(f), clamped */
			double f = json_object_get_double(v);
			n = f != f ? 0 : f >= 9.2e18 ? INT64_MAX : f <= -9.2e18 ? INT64_MIN : (int64_t)f;
			break;
		}
		case json_type_string:
			n = gjson_parse_int(json_object_get_string(v));
			break;
		case json_type_boolean:
			n = json_object_get_boolean(v) ? 1 : 0;
			break;
		default:
			break;
		}
	}
	json_object_put(o);
	return n;
}

job *job_from_row(const PGresult *res, int row)
{
	static const int strs[] = {FC_ARGS, FC_KIND, FC_QUEUE, FC_METADATA, FC_TAGS};
	size_t total = sizeof(job);
	for (size_t i = 0; i < ARRAY_LEN(strs); i++)
		total += (size_t)PQgetlength(res, row, strs[i]) + 1;
	/* One block: the job, then its strings. */
	job *j = xcalloc(1, total);
	char *p = (char *)(j + 1);
	const char *out[ARRAY_LEN(strs)];
	for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
		size_t n = (size_t)PQgetlength(res, row, strs[i]);
		memcpy(p, PQgetvalue(res, row, strs[i]), n);
		p[n] = '\0';
		out[i] = p;
		p += n + 1;
	}
	j->pub.size = sizeof(sluice_job);
	j->pub.id = pg_int(PQgetvalue(res, row, FC_ID));
	j->pub.args = out[0];
	j->pub.args_len = j->row_args_len = (size_t)PQgetlength(res, row, FC_ARGS);
	j->pub.kind = out[1];
	j->pub.queue = out[2];
	j->pub.metadata = out[3];
	j->pub.tags = PQgetisnull(res, row, FC_TAGS) ? "[]" : out[4];
	j->pub.attempt = (int)pg_int(PQgetvalue(res, row, FC_ATTEMPT));
	j->pub.max_attempts = (int)pg_int(PQgetvalue(res, row, FC_MAX_ATTEMPTS));
	j->pub.priority = (int)pg_int(PQgetvalue(res, row, FC_PRIORITY));
	j->pub.created_at_us = pg_int(PQgetvalue(res, row, FC_CREATED_AT));
	j->pub.scheduled_at_us = pg_int(PQgetvalue(res, row, FC_SCHEDULED_AT));
	j->pub.attempted_at_us = pg_int(PQgetvalue(res, row, FC_ATTEMPTED_AT));
	j->errors_count = (int)pg_int(PQgetvalue(res, row, FC_ERRORS));
	j->snoozes = snoozes_from_metadata(j->pub.metadata);
	atomic_init(&j->cancel_reason, 0);
	pthread_mutex_init(&j->mu, NULL);
	/* sleep_ms() waits on a monotonic deadline: wall-clock steps must not
	 * stretch or cut a handler's sleep. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	return j;
}

void job_cancel(job *j, int reason)
{
	pthread_mutex_lock(&j->mu);
	int none = 0;
	atomic_compare_exchange_strong(&j->cancel_reason, &none, reason);
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

void job_set_args(job *j, char *buf, size_t len)
{
	if (j->own_args && j->own_args != buf)
		crypto_free_plain(j->own_args, j->own_len);
	j->own_args = buf;
	j->own_len = len;
	j->pub.args = buf;
	j->pub.args_len = len;
}

void job_drop_args(job *j)
{
	crypto_free_plain(j->own_args, j->own_len);
	j->own_args = NULL;
	j->own_len = 0;
	j->pub.args = (const char *)(j + 1);
	j->pub.args_len = j->row_args_len;
}

void job_free(job *j)
{
	if (!j)
		return;
	crypto_free_plain(j->own_args, j->own_len);
	insert_free(j->children);
	if (j->result.output_json)
		crypto_free_plain(j->result.output_json, strlen(j->result.output_json));
	j->result.output_json = NULL;
	free(j->result.message);
	completion_free(j->done);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}
