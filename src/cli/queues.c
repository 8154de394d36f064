/* queues.c -- `sluice queues list|pause|resume NAME|*`: River's river_queue
 * semantics (QueuePause/QueueResume) plus the river_control NOTIFY that
 * running workers (sluiced and River Go clients) obey at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "migrate.h"
#include "table.h"
#include "util.h"

static void help(void)
{
	printf("usage: sluice queues list\n"
	       "       sluice queues pause NAME|*\n"
	       "       sluice queues resume NAME|*\n"
	       "\n"
	       "Queues appear in river_queue once a worker reported them. A paused queue keeps\n"
	       "its jobs; workers stop fetching from it within a second and resume when told.\n"
	       "\n"
	       "Exit codes: 0 done, 1 no such queue or failed, 64 bad usage.\n");
}

static const char list_sql[] =
    "SELECT coalesce(q.name, c.queue), q.paused_at IS NOT NULL,\n"
    "  coalesce(to_char(q.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),\n"
    "  coalesce(c.available, 0), coalesce(c.running, 0), coalesce(c.retryable, 0),\n"
    "  coalesce(c.scheduled, 0)\n"
    "FROM {S}river_queue q FULL JOIN (\n"
    "  SELECT queue,\n"
    "    count(*) FILTER (WHERE state = 'available') AS available,\n"
    "    count(*) FILTER (WHERE state = 'running') AS running,\n"
    "    count(*) FILTER (WHERE state = 'retryable') AS retryable,\n"
    "    count(*) FILTER (WHERE state = 'scheduled') AS scheduled\n"
    "  FROM {S}river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled')\n"
    "  GROUP BY queue\n"
    ") c ON c.queue = q.name\n"
    "ORDER BY 1";

/* River's QueuePause / QueueResume, then the control notification. */
static const char pause_sql[] =
    "WITH changed AS (\n"
    "  UPDATE {S}river_queue SET\n"
    "    paused_at = CASE WHEN paused_at IS NULL THEN now() ELSE paused_at END,\n"
    "    updated_at = CASE WHEN paused_at IS NULL THEN now() ELSE updated_at END\n"
    "  WHERE CASE WHEN $1::text = '*' THEN true ELSE name = $1 END\n"
    "  RETURNING name\n"
    ")\n"
    "SELECT (SELECT count(*) FROM changed),\n"
    "  pg_notify($2, json_build_object('action', 'pause', 'queue', $1::text)::text)";
static const char resume_sql[] =
    "WITH changed AS (\n"
    "  UPDATE {S}river_queue SET\n"
    "    paused_at = NULL,\n"
    "    updated_at = CASE WHEN paused_at IS NOT NULL THEN now() ELSE updated_at END\n"
    "  WHERE CASE WHEN $1::text = '*' THEN true ELSE name = $1 END\n"
    "  RETURNING name\n"
    ")\n"
    "SELECT (SELECT count(*) FROM changed),\n"
    "  pg_notify($2, json_build_object('action', 'resume', 'queue', $1::text)::text)";

int cmd_queues(cli *c)
{
	int shown = cli_help_first(c, help);
	if (shown >= 0)
		return shown;
	const char *sub = c->argv[1];
	bool list = strcmp(sub, "list") == 0, pause = strcmp(sub, "pause") == 0;
	if (!list && !pause && strcmp(sub, "resume") != 0)
		return cli_fail(EXIT_USAGE, "queues: unknown subcommand '%s' (list, pause, resume)", sub);
	if (list ? c->argc != 2 : c->argc != 3)
		return cli_fail(EXIT_USAGE, list ? "queues list takes no arguments"
		                                 : "queues %s: needs one queue name, or *", sub);
	const char *name = list ? NULL : c->argv[2];
	if (name && strcmp(name, "*") != 0 && !valid_queue_name(name))
		return cli_fail(EXIT_USAGE, "'%s' is not a queue name", name);
	PGconn *conn = cli_connect(c);
	if (!conn)
		return EXIT_DB;
	int rc = 0;
	char *channel = cli_channel(c, conn, "river_control");
	const char *params[] = {name, channel};
	char *sql = sql_render(list ? list_sql : pause ? pause_sql : resume_sql, c->cfg.db_schema);
	PGresult *r = PQexecParams(conn, sql, list ? 0 : 2, NULL, params, NULL, NULL, 0);
	free(sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = cli_fail(1, "%s", str_trim(PQresultErrorMessage(r)));
	} else if (list) {
		table t;
		static const char *const head[] = {"queue", "paused", "reported", "available", "running",
		                                   "retryable", "scheduled"};
		table_init(&t, ARRAY_LEN(head), head);
		for (int i = 0; i < PQntuples(r); i++) {
			bool paused = strcmp(PQgetvalue(r, i, 1), "t") == 0;
			if (c->json) {
				sb b = {0};
				sb_json_str(&b, PQgetvalue(r, i, 0));
				printf("{\"queue\":%s,\"paused\":%s,\"available\":%s,\"running\":%s,"
				       "\"retryable\":%s,\"scheduled\":%s}\n",
				       sb_str(&b), paused ? "true" : "false", PQgetvalue(r, i, 3),
				       PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
				sb_free(&b);
				continue;
			}
			const char *cells[] = {PQgetvalue(r, i, 0), paused ? "yes" : "no",
			                       *PQgetvalue(r, i, 2) ? PQgetvalue(r, i, 2) : "(never)",
			                       PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
			                       PQgetvalue(r, i, 6)};
			table_row(&t, cells);
		}
		if (!c->json)
			table_print(&t, stdout);
		table_free(&t);
	} else {
		long long n = atoll(PQgetvalue(r, 0, 0));
		if (n == 0 && strcmp(name, "*") != 0) {
			rc = cli_fail(1, "no queue '%s' in river_queue (queues appear there once a worker "
			                 "reported them)",
			              name);
		} else if (c->json) {
			printf("{\"action\":\"%s\",\"queue\":\"%s\",\"queues\":%lld}\n", sub, name, n);
		} else {
			printf("%s %s (%lld queue%s); workers were notified\n",
			       pause ? "paused" : "resumed", strcmp(name, "*") == 0 ? "all queues" : name, n,
			       n == 1 ? "" : "s");
		}
	}
	PQclear(r);
	free(channel);
	PQfinish(conn);
	return rc;
}
