/* jobs.c -- `sluice jobs list|get|retry|cancel|delete`, with River's
 * semantics for retry (JobRetry), cancel (JobCancel: at once if not
 * running, else cancel_attempted_at + NOTIFY <schema>.river_control so the
 * worker cancels it) and delete (JobDelete: never a running job).
 * Encrypted args show as "encrypted (key <id>)" unless --decrypt asks for
 * them and a configured key opens them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto.h"
#include "encrypt.h"
#include "keys.h"
#include "migrate.h"
#include "registry.h"
#include "table.h"
#include "util.h"

static const char *const states[] = {"available", "cancelled", "completed", "discarded",
                                     "pending",   "retryable", "running",   "scheduled", NULL};

/* Columns every query here returns, in this order. */
#define JOB_COLUMNS                                                                          \
	"id, kind, queue, state::text, attempt, max_attempts, priority,\n"                   \
	"  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),\n"     \
	"  to_char(scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),\n"   \
	"  coalesce(to_char(attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ''),\n" \
	"  coalesce(to_char(finalized_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ''),\n" \
	"  args::text, metadata::text, to_json(tags)::text,\n"                              \
	"  coalesce(to_json(errors)::text, '[]'), coalesce(to_json(attempted_by)::text, '[]'),\n" \
	"  coalesce(encode(unique_key, 'hex'), ''), coalesce(unique_states::text, '')"
enum { C_ID, C_KIND, C_QUEUE, C_STATE, C_ATTEMPT, C_MAX, C_PRIO, C_CREATED, C_SCHED, C_ATTEMPTED,
       C_FINAL, C_ARGS, C_META, C_TAGS, C_ERRORS, C_BY, C_UKEY, C_USTATES, C_N };

static const char *const names[C_N] = {"id", "kind", "queue", "state", "attempt", "max_attempts",
                                       "priority", "created_at", "scheduled_at", "attempted_at",
                                       "finalized_at", "args", "metadata", "tags", "errors",
                                       "attempted_by", "unique_key", "unique_states"};

static void help(void)
{
	printf("usage: sluice jobs list [--state S] [--kind K] [--queue Q] [--limit N] [--decrypt]\n"
	       "       sluice jobs get ID [--decrypt]\n"
	       "       sluice jobs retry ID      make it available now (River's JobRetry)\n"
	       "       sluice jobs cancel ID     cancel it; a running job is cancelled by its worker\n"
	       "       sluice jobs delete ID     delete it (never a running job)\n"
	       "\n"
	       "Encrypted args show as \"encrypted (key ID)\"; --decrypt shows them, only with a\n"
	       "configured key. --json (before the command) prints JSON.\n"
	       "\n"
	       "Exit codes: 0 done, 1 not found, not allowed in its state, or failed, 64 bad usage.\n");
}

/* Args as shown: plaintext as is, envelopes by key id, or decrypted. */
static char *show_args(const char *kind, const char *args, bool decrypt)
{
	char kid[33];
	int e = enc_key_id_of(args, strlen(args), kid);
	if (e == 0)
		return xstrdup(args);
	if (e < 0)
		return xstrdup("malformed envelope");
	if (decrypt) {
		enc_policy *p = enc_acquire();
		char *pt = NULL, err[300];
		size_t n;
		int rc = enc_open(p, kind, args, strlen(args), &pt, &n, err, sizeof err);
		bool known = p && keyring_find(p->keys, kid) >= 0;
		enc_release(p);
		if (rc == ENC_OPENED)
			return pt; /* NUL-terminated; freed with show_free */
		sb b = {0};
		sb_printf(&b, "encrypted (key %s; %s)", kid, known ? "cannot decrypt" : "not configured here");
		return sb_take(&b);
	}
	sb b = {0};
	sb_printf(&b, "encrypted (key %s)", kid);
	return sb_take(&b);
}

/* What show_args returned: zeroed, as it may be decrypted. */
static void show_free(char *a)
{
	if (a)
		crypto_free_plain(a, strlen(a));
}

static bool json_column(int c)
{
	return c == C_META || c == C_TAGS || c == C_ERRORS || c == C_BY;
}

static void print_json_row(PGresult *r, int i, bool decrypt)
{
	printf("{");
	for (int c = 0; c < C_N; c++) {
		const char *v = PQgetvalue(r, i, c);
		printf("%s\"%s\":", c ? "," : "", names[c]);
		if (c == C_ARGS) {
			char *a = show_args(PQgetvalue(r, i, C_KIND), v, decrypt);
			if (json_is_valid(a, strlen(a)))
				printf("%s", a);
			else {
				sb b = {0};
				sb_json_str(&b, a);
				printf("%s", sb_str(&b));
				sb_free(&b);
			}
			show_free(a);
		} else if (json_column(c) || c == C_ID || c == C_ATTEMPT || c == C_MAX || c == C_PRIO) {
			printf("%s", *v ? v : "null");
		} else if (!*v) {
			printf("null");
		} else {
			sb b = {0};
			sb_json_str(&b, v);
			printf("%s", sb_str(&b));
			sb_free(&b);
		}
	}
	printf("}\n");
}

static int parse_id(const char *s, long long *id)
{
	char *end;
	errno = 0;
	*id = s ? strtoll(s, &end, 10) : 0;
	return s && *s && !*end && errno != ERANGE && *id > 0 ? 0 : -1;
}

static PGresult *query(PGconn *conn, const char *schema, const char *tmpl, int n,
                       const char *const *params, int *rc)
{
	char *sql = sql_render(tmpl, schema);
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	free(sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		*rc = cli_fail(1, "%s", str_trim(PQresultErrorMessage(r)));
		PQclear(r);
		return NULL;
	}
	return r;
}

typedef struct list_opts {
	const char *state, *kind, *queue;
	int limit;
	bool decrypt;
} list_opts;

/* Before connecting, so that a bad option is a usage error (64, returned)
 * even when the database is down. */
static int list_parse(int argc, char **argv, list_opts *o)
{
	const char *v;
	*o = (list_opts){.limit = 50};
	for (int i = 0; i < argc; i++) {
		if (cli_opt(argc, argv, &i, "--state", &v)) {
			o->state = v;
			bool ok = false;
			for (int s = 0; states[s] && v; s++)
				ok |= strcmp(states[s], v) == 0;
			if (!ok)
				return cli_fail(EXIT_USAGE, "--state must be one of available, cancelled, "
				                            "completed, discarded, pending, retryable, running, "
				                            "scheduled");
		} else if (cli_opt(argc, argv, &i, "--kind", &v)) {
			if (!v)
				return cli_fail(EXIT_USAGE, "--kind needs a kind");
			o->kind = v;
		} else if (cli_opt(argc, argv, &i, "--queue", &v)) {
			if (!v)
				return cli_fail(EXIT_USAGE, "--queue needs a queue name");
			o->queue = v;
		} else if (cli_opt(argc, argv, &i, "--limit", &v)) {
			if (cli_int(v, 1, 100000, &o->limit) < 0)
				return cli_fail(EXIT_USAGE, "--limit must be 1..100000");
		} else if (cli_opt(argc, argv, &i, "--decrypt", NULL)) {
			o->decrypt = true;
		} else {
			return cli_fail(EXIT_USAGE, "jobs list: unknown argument '%s'", argv[i]);
		}
	}
	return 0;
}

static int cmd_list(cli *c, PGconn *conn, const list_opts *o)
{
	char lim[16];
	snprintf(lim, sizeof lim, "%d", o->limit);
	const char *params[] = {o->state, o->kind, o->queue, lim};
	int rc = 0;
	PGresult *r = query(conn, c->cfg.db_schema,
	                    "SELECT " JOB_COLUMNS " FROM {S}river_job\n"
	                    "WHERE ($1::text IS NULL OR state::text = $1) AND ($2::text IS NULL OR kind = $2)\n"
	                    "  AND ($3::text IS NULL OR queue = $3)\n"
	                    "ORDER BY id DESC LIMIT $4::int",
	                    4, params, &rc);
	if (!r)
		return rc;
	if (c->json) {
		for (int i = 0; i < PQntuples(r); i++)
			print_json_row(r, i, o->decrypt);
	} else {
		table t;
		static const char *const head[] = {"id", "kind", "queue", "state", "attempt", "scheduled/finalized", "args"};
		table_init(&t, ARRAY_LEN(head), head);
		for (int i = 0; i < PQntuples(r); i++) {
			char att[32];
			snprintf(att, sizeof att, "%s/%s", PQgetvalue(r, i, C_ATTEMPT), PQgetvalue(r, i, C_MAX));
			char *a = show_args(PQgetvalue(r, i, C_KIND), PQgetvalue(r, i, C_ARGS), o->decrypt);
			const char *when = *PQgetvalue(r, i, C_FINAL) ? PQgetvalue(r, i, C_FINAL) : PQgetvalue(r, i, C_SCHED);
			const char *cells[] = {PQgetvalue(r, i, C_ID), PQgetvalue(r, i, C_KIND), PQgetvalue(r, i, C_QUEUE),
			                       PQgetvalue(r, i, C_STATE), att, when, a};
			table_row(&t, cells);
			show_free(a);
		}
		table_print(&t, stdout);
		if (PQntuples(r) == o->limit)
			printf("(first %d; --limit N for more)\n", o->limit);
		table_free(&t);
	}
	PQclear(r);
	return 0;
}

static int cmd_get(cli *c, PGconn *conn, const char *id, bool decrypt)
{
	const char *params[] = {id};
	int rc = 0;
	PGresult *r = query(conn, c->cfg.db_schema, "SELECT " JOB_COLUMNS " FROM {S}river_job WHERE id = $1::bigint", 1,
	                    params, &rc);
	if (!r)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return cli_fail(1, "no job %s", id);
	}
	if (c->json) {
		print_json_row(r, 0, decrypt);
	} else {
		for (int col = 0; col < C_N; col++) {
			const char *v = PQgetvalue(r, 0, col);
			char *shown = col == C_ARGS ? show_args(PQgetvalue(r, 0, C_KIND), v, decrypt) : NULL;
			printf("%-14s %s\n", names[col], shown ? shown : v);
			show_free(shown);
		}
	}
	PQclear(r);
	return 0;
}

/* River's JobRetry. */
static const char retry_sql[] =
    "WITH job_to_update AS (SELECT id FROM {S}river_job WHERE id = $1::bigint FOR UPDATE),\n"
    "updated_job AS (\n"
    "  UPDATE {S}river_job SET\n"
    "    state = 'available',\n"
    "    max_attempts = CASE WHEN attempt = max_attempts THEN max_attempts + 1 ELSE max_attempts END,\n"
    "    finalized_at = NULL,\n"
    "    scheduled_at = now()\n"
    "  FROM job_to_update\n"
    "  WHERE river_job.id = job_to_update.id AND river_job.state <> 'running'\n"
    "    AND NOT (river_job.state = 'available' AND river_job.scheduled_at < now())\n"
    "  RETURNING river_job.id, river_job.state::text, true AS changed\n"
    ")\n"
    "SELECT id, state::text, false FROM {S}river_job WHERE id = $1::bigint\n"
    "  AND id NOT IN (SELECT id FROM updated_job)\n"
    "UNION ALL SELECT * FROM updated_job";

/* River's JobCancel: at once unless running; cancel_attempted_at either way
 * (so the rescuer and completer know), and NOTIFY for a running one. */
static const char cancel_sql[] =
    "WITH locked_job AS (\n"
    "  SELECT id, queue, state, finalized_at FROM {S}river_job WHERE id = $1::bigint FOR UPDATE\n"
    "), notification AS (\n"
    "  SELECT id, pg_notify($2, json_build_object('action', 'cancel', 'job_id', id,\n"
    "    'queue', queue)::text)\n"
    "  FROM locked_job\n"
    "  WHERE state NOT IN ('cancelled', 'completed', 'discarded') AND finalized_at IS NULL\n"
    "), updated_job AS (\n"
    "  UPDATE {S}river_job SET\n"
    "    state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,\n"
    "    finalized_at = CASE WHEN state = 'running' THEN finalized_at ELSE now() END,\n"
    "    metadata = jsonb_set(metadata, '{cancel_attempted_at}'::text[], to_jsonb(now()), true)\n"
    "  FROM notification WHERE river_job.id = notification.id\n"
    "  RETURNING river_job.id, river_job.state::text, true AS changed\n"
    ")\n"
    "SELECT id, state::text, false FROM {S}river_job WHERE id = $1::bigint\n"
    "  AND id NOT IN (SELECT id FROM updated_job)\n"
    "UNION ALL SELECT * FROM updated_job";

/* River's JobDelete. */
static const char delete_sql[] =
    "WITH job_to_delete AS (SELECT id FROM {S}river_job WHERE id = $1::bigint FOR UPDATE),\n"
    "deleted_job AS (\n"
    "  DELETE FROM {S}river_job USING job_to_delete\n"
    "  WHERE river_job.id = job_to_delete.id AND river_job.state <> 'running'\n"
    "  RETURNING river_job.id, river_job.state::text, true AS changed\n"
    ")\n"
    "SELECT id, state::text, false FROM {S}river_job WHERE id = $1::bigint\n"
    "  AND id NOT IN (SELECT id FROM deleted_job)\n"
    "UNION ALL SELECT * FROM deleted_job";

static int cmd_change(cli *c, PGconn *conn, const char *what, const char *id)
{
	const char *tmpl = strcmp(what, "retry") == 0 ? retry_sql : strcmp(what, "cancel") == 0 ? cancel_sql : delete_sql;
	char *channel = NULL;
	if (tmpl == cancel_sql) {
		channel = cli_channel(c, conn, "river_control");
	}
	const char *params[] = {id, channel};
	int rc = 0;
	PGresult *r = query(conn, c->cfg.db_schema, tmpl, channel ? 2 : 1, params, &rc);
	free(channel);
	if (!r)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return cli_fail(1, "no job %s", id);
	}
	const char *state = PQgetvalue(r, 0, 1);
	bool changed = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	if (c->json)
		printf("{\"id\":%s,\"action\":\"%s\",\"changed\":%s,\"state\":\"%s\"}\n", id, what,
		       changed ? "true" : "false", state);
	if (!changed) {
		const char *why = strcmp(state, "running") == 0 ? "it is running"
		                  : strcmp(what, "cancel") == 0  ? "it is already finalized"
		                                                 : "it is already available";
		rc = cli_fail(1, "job %s not %s: %s (state %s)", id,
		              strcmp(what, "retry") == 0 ? "retried" : strcmp(what, "cancel") == 0 ? "cancelled" : "deleted",
		              why, state);
	} else if (!c->json) {
		if (strcmp(what, "cancel") == 0 && strcmp(state, "running") == 0)
			printf("job %s is running: cancellation requested; the worker running it was notified\n", id);
		else if (strcmp(what, "cancel") == 0)
			printf("job %s cancelled\n", id);
		else if (strcmp(what, "retry") == 0)
			printf("job %s is available again\n", id);
		else
			printf("job %s deleted (was %s)\n", id, state);
	}
	PQclear(r);
	return rc;
}

int cmd_jobs(cli *c)
{
	int shown = cli_help_first(c, help);
	if (shown >= 0)
		return shown;
	for (int i = 2; i < c->argc; i++)
		if (strcmp(c->argv[i], "--help") == 0) {
			help();
			return 0;
		}
	const char *sub = c->argv[1];
	bool list = strcmp(sub, "list") == 0, get = strcmp(sub, "get") == 0;
	bool change = strcmp(sub, "retry") == 0 || strcmp(sub, "cancel") == 0 || strcmp(sub, "delete") == 0;
	if (!list && !get && !change)
		return cli_fail(EXIT_USAGE, "jobs: unknown subcommand '%s' (list, get, retry, cancel, delete)", sub);
	long long id = 0;
	bool decrypt = false;
	list_opts lo;
	if (list && list_parse(c->argc - 2, c->argv + 2, &lo) != 0)
		return EXIT_USAGE;
	if (!list) {
		if (c->argc < 3 || parse_id(c->argv[2], &id) < 0)
			return cli_fail(EXIT_USAGE, "jobs %s: needs a job id", sub);
		for (int i = 3; i < c->argc; i++) {
			if (get && strcmp(c->argv[i], "--decrypt") == 0)
				decrypt = true;
			else
				return cli_fail(EXIT_USAGE, "jobs %s: unknown argument '%s'", sub, c->argv[i]);
		}
	}
	int rc = cli_setup_hooks(c);
	if (rc)
		return rc;
	PGconn *conn = cli_connect(c);
	if (!conn) {
		enc_shutdown();
		return EXIT_DB;
	}
	char idtxt[24];
	snprintf(idtxt, sizeof idtxt, "%lld", id);
	if (list)
		rc = cmd_list(c, conn, &lo);
	else if (get)
		rc = cmd_get(c, conn, idtxt, decrypt);
	else
		rc = cmd_change(c, conn, sub, idtxt);
	PQfinish(conn);
	enc_shutdown();
	return rc;
}
