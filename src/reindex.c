/* reindex.c -- River's reindexer: on [maintenance] reindex_schedule (River:
 * midnight UTC, daily) the leader rebuilds River's job indexes with
 * REINDEX INDEX CONCURRENTLY, which sheds the bloat every row version
 * leaves (most in the GIN indexes of args and metadata) without blocking
 * fetches or completions.
 *
 * A run has a connection of its own, opened for it and closed after: one
 * rebuild may take a minute (reindex_timeout, River's 1 min, is the
 * statement_timeout), and the scheduler on the maintenance connection must
 * not wait behind it. As River does, an index with artifacts of an earlier
 * rebuild that did not finish (<name>_ccnew, _ccold, numbered) is skipped
 * with a warning: it would most likely time out again. A run cut short by
 * a lost leadership or a shutdown just closes its connection; PostgreSQL
 * finishes the statement in progress (unless client_connection_check_interval
 * is set: then it stops, and leaves an artifact, as a timeout does). */
#include "reindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "daemon.h"
#include "log.h"
#include "migrate.h"
#include "util.h"

/* River's ReindexerIndexNamesDefault. */
static const char *const river_indexes[] = {
    "river_job_args_index",
    "river_job_kind",
    "river_job_metadata_index",
    "river_job_pkey",
    "river_job_prioritized_fetching_index",
    "river_job_state_and_finalized_at_index",
    "river_job_unique_idx",
};
_Static_assert(ARRAY_LEN(river_indexes) <= ARRAY_LEN(((reindexer *)0)->todo),
               "reindexer.todo holds every index");

/* Per index ($2, in order): whether it exists in the schema ($1, "" for
 * the search path's), and the names of its rebuild artifacts. */
#define SQL_REINDEX_LIST                                                                \
	"SELECT n.idx,\n"                                                               \
	"  EXISTS (SELECT 1 FROM pg_catalog.pg_class c\n"                               \
	"    JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace\n"                \
	"    WHERE s.nspname = coalesce(nullif($1, ''), current_schema())\n"           \
	"      AND c.relkind = 'i' AND c.relname = n.idx),\n"                          \
	"  (SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_catalog.pg_class c\n" \
	"    JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace\n"                \
	"    WHERE s.nspname = coalesce(nullif($1, ''), current_schema())\n"           \
	"      AND c.relkind = 'i' AND left(c.relname, length(n.idx)) = n.idx\n"        \
	"      AND substring(c.relname FROM length(n.idx) + 1) ~ '^_cc(new|old)[0-9]*$')\n" \
	"FROM unnest($2::text[]) WITH ORDINALITY AS n(idx, ord) ORDER BY n.ord"

/* How long a run waits for its connection. */
#define REINDEX_CONNECT_MS 60000

static void on_timer(uv_timer_t *t);

static void arm(reindexer *r)
{
	const cfg *c = &r->d->cfg;
	uv_timer_stop(&r->timer);
	if (!r->active || !c->reindex_enabled || r->next_us < 0)
		return;
	int64_t wait = (r->next_us - now_us()) / 1000;
	uv_timer_start(&r->timer, on_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

static void on_conn_closed(db_conn *c) { free(c); }

static void run_end(reindexer *r)
{
	db_conn *c = r->conn;
	if (!c)
		return;
	uv_timer_stop(&r->connect_t);
	r->conn = NULL; /* first: the callbacks db_close makes see no run */
	db_close(c, on_conn_closed);
}

/* A run whose connection does not come up soon is given up until the
 * next one, rather than rebuilding whenever a retry gets through (at the
 * busiest hour, say). Also when the next run is due first (a schedule
 * shorter than the deadline): that run starts afresh instead of being
 * skipped behind one that never connected. */
static void give_up_connecting(reindexer *r)
{
	if (r->conn && !r->sent) {
		log_warn("reindexer cannot connect; next run as scheduled",
		         LI("waited_ms", (int64_t)(mono_ms() - r->started_ms)));
		run_end(r);
	}
}

static void on_connect_deadline(uv_timer_t *t) { give_up_connecting(t->data); }

static void on_rebuilt(db_status st, PGresult *res, const char *err, void *arg);

/* One at a time: each rebuild waits for the transactions before it, and
 * its time in the log is its own. */
static void rebuild_next(reindexer *r)
{
	while (r->conn && r->next_index < r->nindexes) {
		char tmpl[128];
		snprintf(tmpl, sizeof tmpl, "REINDEX INDEX CONCURRENTLY {S}%s",
		         river_indexes[r->todo[r->next_index]]);
		char *sql = sql_render(tmpl, r->d->schema);
		r->started_ms = mono_ms();
		int rc = db_query(r->conn, sql, on_rebuilt, r);
		free(sql);
		if (rc == 0)
			return;
		r->next_index++;
	}
	run_end(r);
}

static void on_rebuilt(db_status st, PGresult *res, const char *err, void *arg)
{
	(void)res;
	reindexer *r = arg;
	if (st == DB_ECONN)
		return; /* the run ended (closed), or ends through on_state (lost) */
	const char *name = river_indexes[r->todo[r->next_index++]];
	if (st == DB_OK) {
		r->rebuilt++;
		log_info("reindexed", LS("index", name), LI("ms", (int64_t)(mono_ms() - r->started_ms)));
	} else {
		log_warn("reindex failed", LS("index", name), LS("err", err));
	}
	rebuild_next(r);
}

static void on_listed(db_status st, PGresult *res, const char *err, void *arg)
{
	reindexer *r = arg;
	if (st != DB_OK) {
		if (st == DB_ESQL) {
			log_warn("reindexer cannot list River's indexes", LS("err", err));
			run_end(r);
		}
		return;
	}
	sb missing = {0};
	r->nindexes = r->next_index = 0;
	for (int i = 0; i < PQntuples(res) && i < (int)ARRAY_LEN(river_indexes); i++) {
		const char *name = PQgetvalue(res, i, 0);
		if (strcmp(PQgetvalue(res, i, 1), "t") != 0) {
			sb_printf(&missing, "%s%s", missing.len ? ", " : "", name);
			continue;
		}
		if (!PQgetisnull(res, i, 2)) {
			log_warn("reindex artifacts of an earlier rebuild found; skipping the index "
			         "(drop them with DROP INDEX CONCURRENTLY once no rebuild runs)",
			         LS("index", name), LS("artifacts", PQgetvalue(res, i, 2)),
			         LI("timeout_ms", r->d->cfg.reindex_timeout_ms));
			continue;
		}
		r->todo[r->nindexes++] = i; /* rows come in river_indexes' order */
	}
	if (missing.len)
		log_warn("River's indexes to reindex do not exist; run sluice migrate up",
		         LS("indexes", sb_str(&missing)));
	sb_free(&missing);
	rebuild_next(r);
}

static void on_timeout_set(db_status st, PGresult *res, const char *err, void *arg)
{
	(void)res;
	reindexer *r = arg;
	if (st == DB_ESQL) { /* not without a bound */
		log_warn("reindexer cannot set its statement_timeout", LS("err", err));
		run_end(r);
	}
}

static void on_state(db_conn *c, bool up, void *arg)
{
	reindexer *r = arg;
	if (c != r->conn)
		return;
	if (!up) {
		/* Not retried until the next run: PostgreSQL may have finished
		 * the rebuild in progress, or not. */
		log_warn("reindexer lost its connection; next run as scheduled");
		run_end(r);
		return;
	}
	if (r->sent)
		return;
	r->sent = true;
	uv_timer_stop(&r->connect_t);
	char timeout[64];
	snprintf(timeout, sizeof timeout, "SET statement_timeout = %lld",
	         (long long)r->d->cfg.reindex_timeout_ms);
	db_query(c, timeout, on_timeout_set, r);
	size_t n = ARRAY_LEN(river_indexes);
	sb names = {0};
	sb_putc(&names, '{');
	for (size_t i = 0; i < n; i++)
		sb_printf(&names, "%s%s", i ? "," : "", river_indexes[i]);
	sb_putc(&names, '}');
	const char *params[] = {r->d->schema, sb_str(&names)};
	if (db_query_params(c, SQL_REINDEX_LIST, 2, params, on_listed, r) < 0)
		run_end(r);
	sb_free(&names);
}

static void on_timer(uv_timer_t *t)
{
	reindexer *r = t->data;
	/* From the time it was due, not from now, so a late run does not
	 * shift the schedule (as River's). */
	const cron *sched = &r->d->cfg.reindex_sched;
	int64_t now = now_us();
	r->next_us = cron_next(sched, r->next_us);
	if (r->next_us >= 0 && r->next_us <= now) /* the loop was held up past a tick: skip it */
		r->next_us = cron_next(sched, now);
	give_up_connecting(r);
	if (r->conn) {
		log_warn("reindex run still in progress; skipping this one");
	} else {
		log_info("reindexing River's job indexes");
		r->conn = xcalloc(1, sizeof *r->conn);
		r->sent = false;
		r->nindexes = r->next_index = 0;
		r->started_ms = mono_ms(); /* of the connection, until a rebuild starts */
		db_init(r->conn, r->d->loop, r->d->cfg.db_url, "reindex", on_state, NULL, r);
		db_start(r->conn);
		uv_timer_start(&r->connect_t, on_connect_deadline, REINDEX_CONNECT_MS, 0);
	}
	arm(r);
}

void reindexer_init(reindexer *r, sluiced *d)
{
	*r = (reindexer){.d = d, .next_us = -1};
	uv_timer_init(d->loop, &r->timer);
	uv_timer_init(d->loop, &r->connect_t);
	r->timer.data = r->connect_t.data = r;
}

void reindexer_set_active(reindexer *r, bool on)
{
	if (r->active == on)
		return;
	r->active = on;
	if (!on) {
		uv_timer_stop(&r->timer);
		run_end(r);
		return;
	}
	reindexer_reschedule(r);
}

void reindexer_reschedule(reindexer *r)
{
	if (!r->active)
		return;
	r->next_us = r->d->cfg.reindex_enabled ? cron_next(&r->d->cfg.reindex_sched, now_us()) : -1;
	arm(r);
}
