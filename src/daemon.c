/* daemon.c -- sluiced's lifecycle on the loop thread: connect, check the
 * schema, LISTEN, hand fetched jobs to worker threads, enforce timeouts,
 * pass outcomes to the completer, and stop cleanly on SIGTERM/SIGINT. */
#include "daemon.h"

#include <json-c/json.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "crash.h"
#include "crypto.h"
#include "encrypt.h"
#include "hooks.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "notify.h"
#include "periodic.h"
#include "registry.h"
#include "sql.h"
#include "util.h"

/* After shutdown_timeout, how long to keep trying to write outcomes before
 * exiting anyway (those jobs then stay running until rescued). */
#define FINAL_FLUSH_MS 10000
/* After the shutdown timeout, how long handlers asked to stop may take to
 * return with their own outcome before their jobs are put back. */
#define STOP_GRACE_MS 2000

static void close_all(sluiced *d);
static void start_maint_side(sluiced *d);

/* ---- running list ----------------------------------------------------------- */

static void running_add(sluiced *d, job *j)
{
	j->next = d->running.next;
	j->prev = &d->running;
	d->running.next->prev = j;
	d->running.next = j;
	d->nrunning++;
	j->queue->running++;
}

static void running_remove(sluiced *d, job *j)
{
	j->prev->next = j->next;
	j->next->prev = j->prev;
	j->next = j->prev = NULL;
	d->nrunning--;
	j->queue->running--;
}

/* ---- timeouts ------------------------------------------------------------- */

static void on_deadline(uv_timer_t *t);

static void arm_deadline(sluiced *d, uint64_t deadline)
{
	if (d->deadline_armed_at && d->deadline_armed_at <= deadline)
		return;
	uint64_t now = mono_ms();
	d->deadline_armed_at = deadline;
	uv_timer_start(&d->deadline_timer, on_deadline, deadline > now ? deadline - now : 0, 0);
}

static void on_deadline(uv_timer_t *t)
{
	sluiced *d = t->data;
	uint64_t now = mono_ms(), next = 0;
	d->deadline_armed_at = 0;
	for (job *j = d->running.next; j != &d->running; j = j->next) {
		if (!j->timeout_ms || atomic_load(&j->cancel_reason))
			continue;
		/* A job still queued for a thread has not started its time: its
		 * deadline is at least a whole timeout away. */
		uint64_t picked = atomic_load(&j->picked_ms);
		uint64_t deadline = (picked ? picked : now) + (uint64_t)j->timeout_ms;
		if (deadline <= now) {
			log_warn("job timed out; asking its handler to stop", LI("job_id", j->pub.id),
			         LS("kind", j->pub.kind), LI("timeout_ms", j->timeout_ms));
			job_cancel(j, SLUICE_CANCEL_TIMEOUT);
		} else if (!next || deadline < next) {
			next = deadline;
		}
	}
	if (next)
		arm_deadline(d, next);
}

/* ---- dispatch and completion ---------------------------------------------------- */

/* Put back as if never attempted (River's soft stop). */
static completion *interrupted(job *j)
{
	job_facts f = {.id = j->pub.id, .kind = j->pub.kind, .attempt = j->pub.attempt,
	               .max_attempts = j->pub.max_attempts, .started_us = j->started_us,
	               .attempted_at_us = j->pub.attempted_at_us,
	               .cancel_reason = SLUICE_CANCEL_SHUTDOWN, .kind_known = true};
	job_result r = {.outcome = SLUICE_ERROR};
	return outcome_build(&f, &r, now_us(), 0.5);
}

static void log_outcome(const job *j, const completion *c)
{
	if (strcmp(c->state, "completed") == 0) {
		log_debug("job completed", LI("job_id", j->pub.id), LS("kind", j->pub.kind),
		          LI("attempt", j->pub.attempt),
		          LI("dur_ms", (now_us() - j->started_us) / 1000));
		return;
	}
	/* Error texts are the handler's words and may quote its args: log
	 * their length only; errors[] holds the text. */
	log_info("job finished", LI("job_id", j->pub.id), LS("kind", j->pub.kind),
	         LI("attempt", j->pub.attempt), LS("next_state", c->state),
	         LI("dur_ms", (now_us() - j->started_us) / 1000),
	         LI("err_len", c->error_json ? (int64_t)strlen(c->error_json) : 0));
}

static void on_job_done(job *j, void *arg)
{
	sluiced *d = arg;
	if (j->abandoned) {
		/* Its interrupted outcome was written at the shutdown timeout. */
		for (job **p = &d->abandoned; *p; p = &(*p)->next)
			if (*p == j) {
				*p = j->next;
				break;
			}
		job_free(j);
		return;
	}
	running_remove(d, j);
	log_outcome(j, j->done);
	/* Kinds no plugin handles come from the table, which anyone may fill:
	 * one series for all of them, so rows cannot add series. */
	metrics_job(j->kind ? j->pub.kind : "unknown", j->pub.queue, j->done->outcome,
	            (double)(now_us() - j->started_us) / 1e6);
	if (j->failed_key_id[0])
		metrics_decrypt_failure(j->failed_key_id);
	completer_add(&d->comp, j->done);
	j->done = NULL;
	d->jobs_done++;
	pq_queue *q = j->queue;
	job_free(j);
	fetch_trigger(q, FETCH_SLOT_FREED);
	daemon_maybe_finish(d);
}

const job *daemon_running_job(const sluiced *d, int64_t id, int attempt)
{
	for (const job *j = d->running.next; j != &d->running; j = j->next)
		if (j->pub.id == id && j->pub.attempt == attempt)
			return j;
	return NULL;
}

static int64_t effective_timeout(const sluiced *d, const job *j)
{
	if (!j->kind || j->kind->timeout_ms < 0)
		return 0;
	return j->kind->timeout_ms ? j->kind->timeout_ms : d->cfg.job_timeout_ms;
}

bool daemon_dispatch(sluiced *d, pq_queue *q, job *j)
{
	j->queue = q;
	if (d->stopping) {
		/* Fetched while stopping: back to available, untouched. */
		completer_add(&d->comp, interrupted(j));
		job_free(j);
		return false;
	}
	j->kind = registry_find(j->pub.kind);
	running_add(d, j);
	if (!j->kind) {
		/* Nothing to run: River's unknown-kind error, retried as usual. */
		registry_run(j);
		on_job_done(j, d);
		return false;
	}
	j->timeout_ms = effective_timeout(d, j);
	if (j->timeout_ms) /* the soonest it can be due: were it taken by a thread now */
		arm_deadline(d, mono_ms() + (uint64_t)j->timeout_ms);
	return true;
}

/* ---- shutdown -------------------------------------------------------------- */

static void on_final_timeout(uv_timer_t *t)
{
	sluiced *d = t->data;
	if (d->closing)
		return;
	size_t lost = completer_backlog(&d->comp);
	log_error("exiting with job outcomes unwritten; those jobs stay running until rescued",
	          LI("outcomes", lost));
	d->exit_code = 1;
	close_all(d);
}

/* The jobs still running after the grace: put back, their handlers left
 * to finish or not while the outcomes are written and the daemon exits. */
static void abandon_running(sluiced *d)
{
	/* Handlers that returned before now keep their outcome, even if the
	 * loop has not yet heard (the uv_async may come after this timer). */
	pool_collect(&d->pool);
	size_t n = 0;
	while (d->running.next != &d->running) {
		job *j = d->running.next;
		running_remove(d, j);
		completer_add(&d->comp, interrupted(j));
		j->abandoned = true;
		j->next = d->abandoned;
		d->abandoned = j;
		n++;
	}
	if (n)
		log_warn("shutdown timeout: unfinished jobs put back to available",
		         LI("jobs", (int64_t)n));
	completer_kick(&d->comp);
	uv_timer_start(&d->shutdown_timer, on_final_timeout, FINAL_FLUSH_MS, 0);
	daemon_maybe_finish(d);
}

static void on_stop_grace(uv_timer_t *t) { abandon_running(t->data); }

/* The shutdown timeout (or a second signal): every running handler is
 * asked to stop (cancelled() and sleep_ms() say so) and gets STOP_GRACE_MS
 * to return with an outcome of its own, as River's soft stop waits for
 * its jobs: a snooze, a cancel, a discard, or work that finished is
 * written as such, a failure as interrupted (outcome.c). */
static void expire(sluiced *d)
{
	if (d->expired)
		return;
	d->expired = true;
	d->leader_done = true; /* a resignation still pending is not waited for */
	size_t n = 0;
	for (job *j = d->running.next; j != &d->running; j = j->next, n++)
		job_cancel(j, SLUICE_CANCEL_SHUTDOWN);
	if (!n) {
		abandon_running(d);
		return;
	}
	log_info("shutdown timeout: asking running jobs to stop", LI("jobs", (int64_t)n),
	         LI("grace_ms", STOP_GRACE_MS));
	uv_timer_start(&d->shutdown_timer, on_stop_grace, STOP_GRACE_MS, 0);
}

static void on_shutdown_timeout(uv_timer_t *t) { expire(t->data); }

static void on_leader_stopped(void *arg)
{
	sluiced *d = arg;
	d->leader_done = true;
	daemon_maybe_finish(d);
}

static void begin_shutdown(sluiced *d, const char *why)
{
	if (d->closing)
		return;
	if (d->stopping) {
		log_info("second signal: not waiting for running jobs", LS("signal", why));
		expire(d);
		return;
	}
	d->stopping = true;
	sd_notify_send("STOPPING=1");
	log_info("shutting down", LS("signal", why), LI("running", d->nrunning),
	         LI("timeout_ms", d->cfg.shutdown_timeout_ms));
	uv_timer_stop(&d->poll_timer);
	fetch_stop(d);
	control_stop(d);
	maint_set_active(&d->maint, false);
	leader_stop(&d->leader, on_leader_stopped);
	uv_timer_start(&d->shutdown_timer, on_shutdown_timeout, (uint64_t)d->cfg.shutdown_timeout_ms,
	               0);
	completer_kick(&d->comp);
	daemon_maybe_finish(d);
}

void daemon_maybe_finish(sluiced *d)
{
	if (!d->stopping || d->closing || d->nrunning || !d->leader_done)
		return;
	for (size_t i = 0; i < d->nqueues; i++)
		if (d->queues[i].fetching)
			return;
	if (!completer_idle(&d->comp))
		return;
	log_info("stopped", LI("jobs_done", d->jobs_done));
	close_all(d);
}

static void on_completer_room(void *arg) { fetch_trigger_all(arg); }

static void on_completer_idle(void *arg) { daemon_maybe_finish(arg); }

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void close_all(sluiced *d)
{
	if (d->closing)
		return;
	d->closing = true;
	size_t lost = completer_discard(&d->comp);
	if (lost && d->exit_code == 0)
		d->exit_code = 1;
	pool_stop(&d->pool, d->abandoned == NULL);
	metrics_stop();
	db_close(&d->fetch_conn, NULL);
	db_close(&d->complete_conn, NULL);
	db_close(&d->maint_conn, NULL);
	uv_walk(d->loop, close_handle, NULL);
}

/* ---- signals -------------------------------------------------------------- */

static bool strv_equal(char *const *a, char *const *b)
{
	size_t n = strv_len(a);
	if (n != strv_len(b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool queues_equal(const cfg *a, const cfg *b)
{
	if (a->nqueues != b->nqueues)
		return false;
	for (size_t i = 0; i < a->nqueues; i++)
		if (strcmp(a->queues[i].name, b->queues[i].name) != 0 ||
		    a->queues[i].max_workers != b->queues[i].max_workers)
			return false;
	return true;
}

static void on_poll_timer(uv_timer_t *t);

static void log_enc_state(const char *msg, const cfg *c)
{
	static const char *const modes[] = {"off", "encrypt", "decrypt_only"};
	enc_policy *p = enc_acquire();
	log_info(msg, LS("encryption", modes[c->enc_mode < 0 ? 0 : c->enc_mode]),
	         LS("algorithm", c->enc_algorithm),
	         LS("encrypt_key", p && p->keys && p->keys->n ? p->keys->ids[0] : "none"),
	         LI("keys", p && p->keys ? (int64_t)p->keys->n : 0));
	enc_release(p);
}

/* SIGHUP: validate the whole new file (and keys) first; apply it only if
 * it is good, else keep running on the old one. Running jobs keep the
 * policy they started with (reference-counted). */
static void reload(sluiced *d)
{
	/* Before READY=1, systemd is still waiting for the start: a RELOADING=1
	 * ... READY=1 pair would tell it the daemon is up while it is not. */
	bool tell = d->ready;
	char reloading[64];
	snprintf(reloading, sizeof reloading, "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)uv_hrtime() / 1000);
	if (tell)
		sd_notify_send(reloading);
	cfg nc;
	cfg_errors errs = {0};
	int rc = cfg_load(d->config_path, getenv("DATABASE_URL"), 0, &nc, &errs);
	if (rc == 0 && cfg_check_algorithm(&nc, &errs) < 0) {
		cfg_free(&nc);
		rc = -1;
	}
	if (rc < 0) {
		for (size_t i = 0; i < errs.n; i++)
			log_error("reload refused; running configuration kept", LS("detail", errs.v[i]));
		cfg_errors_free(&errs);
		if (tell)
			sd_notify_send("READY=1");
		return;
	}
	const char *restart[8];
	size_t nr = 0;
	if (strcmp(nc.db_url, d->cfg.db_url) != 0)
		restart[nr++] = "[database] url";
	if (strcmp(nc.db_schema, d->cfg.db_schema) != 0)
		restart[nr++] = "[database] schema";
	if (!(nc.worker_id_default && d->cfg.worker_id_default) &&
	    strcmp(nc.worker_id, d->cfg.worker_id) != 0)
		restart[nr++] = "[worker] id";
	if (!queues_equal(&nc, &d->cfg))
		restart[nr++] = "[worker] queues";
	if (!strv_equal(nc.plugins, d->cfg.plugins))
		restart[nr++] = "[worker] plugins";
	if (strcmp(nc.metrics_listen, d->cfg.metrics_listen) != 0)
		restart[nr++] = "[metrics] listen";
	if (!periodic_defs_equal(nc.periodic, nc.nperiodic, d->cfg.periodic, d->cfg.nperiodic))
		restart[nr++] = "[periodic]";
	for (size_t i = 0; i < nr; i++)
		log_warn("changed setting needs a restart; keeping the running value",
		         LS("setting", restart[i]));
	d->cfg.poll_interval_ms = nc.poll_interval_ms;
	d->cfg.fetch_cooldown_ms = nc.fetch_cooldown_ms;
	d->cfg.job_timeout_ms = nc.job_timeout_ms;
	d->cfg.shutdown_timeout_ms = nc.shutdown_timeout_ms;
	d->cfg.max_args_size = nc.max_args_size;
	hooks_set_max_args((size_t)nc.max_args_size);
	d->cfg.log_level = nc.log_level;
	log_set_level(nc.log_level);
	d->cfg.rescue_after_ms = nc.rescue_after_ms;
	d->cfg.scheduler_interval_ms = nc.scheduler_interval_ms;
	outcome_set_scheduler_interval_ms(nc.scheduler_interval_ms);
	d->cfg.rescuer_interval_ms = nc.rescuer_interval_ms;
	d->cfg.cleaner_interval_ms = nc.cleaner_interval_ms;
	d->cfg.completed_retention_ms = nc.completed_retention_ms;
	d->cfg.cancelled_retention_ms = nc.cancelled_retention_ms;
	d->cfg.discarded_retention_ms = nc.discarded_retention_ms;
	maint_intervals_reloaded(&d->maint);
	timer_pull_in(&d->poll_timer, on_poll_timer, (uint64_t)d->cfg.poll_interval_ms);
	bool resched = nc.reindex_enabled != d->cfg.reindex_enabled ||
	               !cron_equal(&nc.reindex_sched, &d->cfg.reindex_sched);
	d->cfg.reindex_enabled = nc.reindex_enabled;
	d->cfg.reindex_sched = nc.reindex_sched;
	d->cfg.reindex_timeout_ms = nc.reindex_timeout_ms;
	if (resched) /* else a reload just after a due time would skip the run */
		reindexer_reschedule(&d->maint.rx);
	if (nc.maint_enabled != d->cfg.maint_enabled)
		log_warn("changed setting needs a restart; keeping the running value",
		         LS("setting", "[maintenance] enabled"));
	d->cfg.enc_mode = nc.enc_mode;
	free(d->cfg.enc_algorithm);
	d->cfg.enc_algorithm = xstrdup(nc.enc_algorithm);
	enc_install(enc_policy_from(&nc));
	cfg_free(&nc);
	log_enc_state("configuration reloaded", &d->cfg);
	if (tell)
		sd_notify_send("READY=1");
}

static void on_signal(uv_signal_t *s, int signum)
{
	sluiced *d = s->data;
	if (signum == SIGHUP) {
		if (!d->stopping)
			reload(d);
		return;
	}
	begin_shutdown(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- connections and startup checks ------------------------------------------- */

static void fatal_startup(sluiced *d, const char *msg, const char *detail)
{
	if (detail)
		log_error(msg, LS("detail", detail));
	else
		log_error(msg);
	d->exit_code = CFG_EXIT_CONFIG;
	d->stopping = true;
	d->leader_done = true;
	close_all(d);
}

static void on_listened(db_status st, PGresult *res, const char *err, void *arg)
{
	(void)res;
	sluiced *d = arg;
	if (st != DB_OK) {
		if (st == DB_ESQL)
			log_error("LISTEN failed", LS("err", err));
		return; /* a lost connection retries from on_fetch_state */
	}
	if (!d->ready) {
		d->ready = true;
		log_info("sluiced ready", LS("worker_id", d->cfg.worker_id),
		         LI("queues", (int64_t)d->nqueues), LI("kinds", (int64_t)registry_kind_count()),
		         LS("channel", d->channel_insert));
		sd_notify_send("READY=1");
		if (db_ready(&d->maint_conn))
			start_maint_side(d);
	}
	fetch_trigger_all(d);
}

static void listen_now(sluiced *d)
{
	sb b = {0};
	sb_printf(&b, "LISTEN \"%s\"; LISTEN \"%s\"; LISTEN \"%s\"", d->channel_insert,
	          d->channel_control, d->channel_leadership);
	db_query_multi(&d->fetch_conn, sb_str(&b), on_listened, d);
	sb_free(&b);
}

static void on_version(db_status st, PGresult *res, const char *err, void *arg)
{
	sluiced *d = arg;
	if (st == DB_ECONN)
		return;
	if (st == DB_ESQL) {
		fatal_startup(d, "cannot read River's migration version", err);
		return;
	}
	int v = atoi(PQgetvalue(res, 0, 0));
	if (v < MIGRATE_MIN_VERSION) {
		char msg[256];
		snprintf(msg, sizeof msg,
		         "database schema is at River migration %d; sluiced needs %d or later: run "
		         "`sluice -c %s migrate up`",
		         v, MIGRATE_MIN_VERSION, d->config_path);
		fatal_startup(d, msg, NULL);
		return;
	}
	if (v > MIGRATE_LATEST_VERSION)
		log_warn("database schema is newer than this sluiced knows; continuing",
		         LI("version", v), LI("known", MIGRATE_LATEST_VERSION));
	/* The schema is there: prepare the statements run for every job. */
	db_prepare(&d->fetch_conn, "sluice_fetch", d->fetch_sql);
	completer_prepare(&d->comp);
	listen_now(d);
}

static void on_schema_info(db_status st, PGresult *res, const char *err, void *arg)
{
	sluiced *d = arg;
	if (st == DB_ECONN)
		return;
	if (st == DB_ESQL) {
		fatal_startup(d, "cannot inspect the database", err);
		return;
	}
	const char *current = PQgetvalue(res, 0, 0);
	bool has_table = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	bool has_line = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	bool can_write = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	if (!d->channel_prefix) {
		/* River prefixes channels with the schema, current_schema() if none
		 * is configured, so Go clients and sluiced hear each other. */
		const char *schema = *d->schema ? d->schema : current;
		sb b = {0};
		if (*schema)
			sb_printf(&b, "%s.", schema);
		d->channel_prefix = sb_take(&b);
		b = (sb){0};
		sb_printf(&b, "%sriver_insert", d->channel_prefix);
		d->channel_insert = sb_take(&b);
		d->comp.channel = d->channel_insert;
		sb_printf(&b, "%sriver_control", d->channel_prefix);
		d->channel_control = sb_take(&b);
		sb_printf(&b, "%sriver_leadership", d->channel_prefix);
		d->channel_leadership = sb_take(&b);
	}
	char msg[320];
	if (!has_table || !has_line) {
		snprintf(msg, sizeof msg,
		         "River's schema %s in %s%s; sluiced needs migration %d or later: run "
		         "`sluice -c %s migrate up`",
		         has_table ? "is older than version 5" : "was not found",
		         *d->schema ? "schema " : "search_path schema ", *d->schema ? d->schema : current,
		         MIGRATE_MIN_VERSION, d->config_path);
		fatal_startup(d, msg, NULL);
		return;
	}
	if (!can_write) {
		snprintf(msg, sizeof msg,
		         "permission denied: this database role needs SELECT, INSERT and UPDATE on "
		         "%s%sriver_job",
		         d->schema, *d->schema ? "." : "");
		fatal_startup(d, msg, NULL);
		return;
	}
	char *sql = sql_render(SQL_SCHEMA_VERSION, d->schema);
	db_query(&d->fetch_conn, sql, on_version, d);
	free(sql);
}

static void on_fetch_state(db_conn *c, bool up, void *arg)
{
	sluiced *d = arg;
	if (!up || d->stopping)
		return;
	if (d->ready) {
		listen_now(d); /* LISTEN does not survive a reconnect */
		return;
	}
	char *sql = sql_render(
	    "SELECT coalesce(current_schema(), ''),\n"
	    "  to_regclass('{S}river_migration') IS NOT NULL,\n"
	    "  EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('{S}river_migration')\n"
	    "          AND attname = 'line' AND NOT attisdropped),\n"
	    /* A privilege list means "any of"; each right is needed. */
	    "  coalesce(has_table_privilege(to_regclass('{S}river_job'), 'SELECT') AND\n"
	    "           has_table_privilege(to_regclass('{S}river_job'), 'INSERT') AND\n"
	    "           has_table_privilege(to_regclass('{S}river_job'), 'UPDATE'), false)",
	    d->schema);
	db_query(c, sql, on_schema_info, d);
	free(sql);
}

static void on_leader_change(bool is_leader, void *arg)
{
	sluiced *d = arg;
	maint_set_active(&d->maint, is_leader && !d->stopping);
}

/* The maintenance connection serves river_queue reporting on every daemon
 * and, with [maintenance] enabled, leader election. */
static void start_maint_side(sluiced *d)
{
	if (d->stopping)
		return;
	control_start(d);
	if (d->cfg.maint_enabled)
		leader_start(&d->leader, d->channel_prefix);
}

static void on_maint_state(db_conn *c, bool up, void *arg)
{
	(void)c;
	sluiced *d = arg;
	if (up && d->ready)
		start_maint_side(d);
}

static void on_complete_state(db_conn *c, bool up, void *arg)
{
	(void)c;
	sluiced *d = arg;
	if (up)
		completer_kick(&d->comp);
}

static void on_notify(db_conn *c, const char *channel, const char *payload, void *arg)
{
	(void)c;
	sluiced *d = arg;
	if (!d->channel_insert)
		return;
	if (strcmp(channel, d->channel_control) == 0) {
		control_on_notify(d, payload);
		return;
	}
	if (strcmp(channel, d->channel_leadership) == 0) {
		if (d->cfg.maint_enabled && !d->stopping)
			leader_on_notify(&d->leader, payload);
		return;
	}
	if (strcmp(channel, d->channel_insert) != 0)
		return;
	json_object *o = json_tokener_parse(payload);
	pq_queue *q = fetch_queue_by_name(d, json_member_str(o, "queue"));
	if (q)
		fetch_trigger(q, FETCH_NEW_WORK);
	json_object_put(o);
}

static void on_poll_timer(uv_timer_t *t)
{
	sluiced *d = t->data;
	fetch_trigger_all(d);
	/* River jitters each poll by up to 10 % so daemons drift apart. */
	uint64_t base = (uint64_t)d->cfg.poll_interval_ms;
	uint64_t jitter = base / 10 ? randombytes_uniform((uint32_t)(base / 10)) : 0;
	uv_timer_start(&d->poll_timer, on_poll_timer, base + jitter, 0);
}

/* ---- health, metrics gauges, watchdog ---------------------------------------------- */

/* A statement running this long means a wedged connection (e.g. a network
 * path gone without a reset), which reconnecting would fix. */
#define STUCK_QUERY_MS 30000

static const char *health(void *arg)
{
	sluiced *d = arg;
	uint64_t now = mono_ms();
	if (d->stopping)
		return "stopping";
	if (!d->ready)
		return "starting";
	db_conn *conns[] = {&d->fetch_conn, &d->complete_conn, &d->maint_conn};
	for (size_t i = 0; i < ARRAY_LEN(conns); i++) {
		if (!db_ready(conns[i]))
			return "database disconnected";
		if (conns[i]->inflight_since_ms && now - conns[i]->inflight_since_ms > STUCK_QUERY_MS)
			return "database statement stuck";
	}
	return NULL;
}

/* One family per metric name, samples under it (the text format wants
 * each # TYPE once). */
static void gauges(sb *out, void *arg)
{
	sluiced *d = arg;
	char l[160];
	metrics_family(out, "sluice_jobs_in_flight", "gauge", "Jobs handed to handlers now.");
	for (size_t i = 0; i < d->nqueues; i++) {
		snprintf(l, sizeof l, "queue=\"%s\"", d->queues[i].name);
		metrics_sample(out, "sluice_jobs_in_flight", l, d->queues[i].running);
	}
	metrics_family(out, "sluice_queue_paused", "gauge", "1 while the queue is paused.");
	for (size_t i = 0; i < d->nqueues; i++) {
		snprintf(l, sizeof l, "queue=\"%s\"", d->queues[i].name);
		metrics_sample(out, "sluice_queue_paused", l, d->queues[i].paused);
	}
	db_conn *conns[] = {&d->fetch_conn, &d->complete_conn, &d->maint_conn};
	metrics_family(out, "sluice_db_reconnects_total", "counter", "Database reconnects.");
	for (size_t i = 0; i < ARRAY_LEN(conns); i++) {
		snprintf(l, sizeof l, "conn=\"%s\"", conns[i]->name);
		metrics_sample(out, "sluice_db_reconnects_total", l, (double)conns[i]->reconnects);
	}
	metrics_family(out, "sluice_db_connected", "gauge", "1 while the connection is up.");
	for (size_t i = 0; i < ARRAY_LEN(conns); i++) {
		snprintf(l, sizeof l, "conn=\"%s\"", conns[i]->name);
		metrics_sample(out, "sluice_db_connected", l, db_ready(conns[i]));
	}
	static const struct {
		const char *name, *type, *help;
	} one[] = {
	    {"sluice_completion_backlog", "gauge", "Outcomes waiting to be written."},
	    {"sluice_completion_skipped_total", "counter",
	     "Outcomes not written because the row was no longer running."},
	    {"sluice_completion_retries_total", "counter",
	     "Outcome batches written again after an error that passes (deadlock, timeout, read-only)."},
	    {"sluice_children_inserted_total", "counter", "Jobs enqueued by handlers."},
	    {"sluice_leader", "gauge", "1 while this daemon is River's leader."},
	    {"sluice_jobs_scheduled_total", "counter", "Jobs the scheduler made available."},
	    {"sluice_jobs_rescued_total", "counter", "Stuck jobs rescued."},
	    {"sluice_jobs_cleaned_total", "counter", "Finished jobs deleted."},
	    {"sluice_indexes_rebuilt_total", "counter", "River's job indexes reindexed."},
	    {"sluice_up", "gauge", "1 when healthy (see /healthz)."},
	};
	double v[] = {(double)completer_backlog(&d->comp), (double)d->comp.skipped, (double)d->comp.retries,
	              (double)d->comp.children, d->leader.is_leader, (double)d->maint.scheduled,
	              (double)d->maint.rescued, (double)d->maint.cleaned,
	              (double)d->maint.rx.rebuilt, health(d) == NULL};
	for (size_t i = 0; i < ARRAY_LEN(one); i++) {
		metrics_family(out, one[i].name, one[i].type, one[i].help);
		metrics_sample(out, one[i].name, NULL, v[i]);
	}
}

/* Fed from the loop only: a blocked loop stops the pings and systemd acts. */
static void on_watchdog(uv_timer_t *t)
{
	sluiced *d = t->data;
	const char *why = health(d);
	if (why && strcmp(why, "database statement stuck") == 0) {
		log_warn("withholding the watchdog ping", LS("reason", why));
		return;
	}
	char status[160];
	snprintf(status, sizeof status, "WATCHDOG=1\nSTATUS=%s; running %zu, done %llu%s",
	         why ? why : "working", d->nrunning, (unsigned long long)d->jobs_done,
	         d->leader.is_leader ? ", leader" : "");
	sd_notify_send(status);
}

/* ---- run ---------------------------------------------------------------- */

static size_t total_workers(const cfg *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->nqueues; i++)
		n += (size_t)c->queues[i].max_workers;
	return n;
}

/* Until the loop's own SIGHUP handler is in place (after the config, the
 * plugins and the metrics bind), SIGHUP's default action would end the
 * process: note it instead, and reload once the handler is there. A
 * handler, not SIG_IGN, which would stay ignored across exec in processes
 * a plugin starts. */
static volatile sig_atomic_t early_hup;
static void on_early_hup(int signum)
{
	(void)signum;
	early_hup = 1;
}

int daemon_run(const char *config_path)
{
	struct sigaction sa = {.sa_handler = on_early_hup, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sluiced *d = xcalloc(1, sizeof *d);
	cfg_errors errs = {0};
	if (sodium_init() < 0) {
		log_error("libsodium failed to initialise");
		free(d);
		return 1;
	}
	crypto_init();
	if (cfg_load(config_path, getenv("DATABASE_URL"), 0, &d->cfg, &errs) < 0) {
		cfg_errors_print(&errs);
		cfg_errors_free(&errs);
		free(d);
		return CFG_EXIT_CONFIG;
	}
	log_set_level(d->cfg.log_level);
	/* No core files once keys are loaded: keyring_load (keys.c) saw to it. */
	crash_install();
	char err[1024];
	if (registry_load(d->cfg.plugins, err, sizeof err) < 0) {
		/* As --check-config and every other configuration error print it. */
		fprintf(stderr, "%s: [worker] plugins: %s\n", config_path, err);
		cfg_free(&d->cfg);
		free(d);
		return CFG_EXIT_CONFIG;
	}
	if (cfg_check_algorithm(&d->cfg, &errs) < 0) {
		cfg_errors_print(&errs);
		cfg_errors_free(&errs);
		registry_unload();
		cfg_free(&d->cfg);
		free(d);
		return CFG_EXIT_CONFIG;
	}
	enc_install(enc_policy_from(&d->cfg));
	hooks_set_max_args((size_t)d->cfg.max_args_size);
	outcome_set_scheduler_interval_ms(d->cfg.scheduler_interval_ms);
	signal(SIGPIPE, SIG_IGN);

	d->config_path = config_path;
	d->loop = xmalloc(sizeof *d->loop);
	uv_loop_init(d->loop);
	/* First, so a taken port fails before anything else exists. */
	if (*d->cfg.metrics_listen &&
	    metrics_start(d->loop, d->cfg.metrics_listen, gauges, health, d, err, sizeof err) < 0) {
		fprintf(stderr, "%s: [metrics] listen: %s\n", config_path, err);
		metrics_stop();
		uv_run(d->loop, UV_RUN_DEFAULT); /* lets the handle close */
		uv_loop_close(d->loop);
		free(d->loop);
		enc_shutdown();
		registry_unload();
		cfg_free(&d->cfg);
		free(d);
		return CFG_EXIT_CONFIG;
	}
	d->schema = d->cfg.db_schema;
	d->fetch_sql = sql_render(SQL_FETCH, d->schema);
	d->running.next = d->running.prev = &d->running;

	fetch_init_queues(d);
	db_init(&d->fetch_conn, d->loop, d->cfg.db_url, "fetch", on_fetch_state, on_notify, d);
	db_init(&d->complete_conn, d->loop, d->cfg.db_url, "complete", on_complete_state, NULL, d);
	db_init(&d->maint_conn, d->loop, d->cfg.db_url, "maint", on_maint_state, NULL, d);
	leader_init(&d->leader, d->loop, &d->maint_conn, d->schema, d->cfg.worker_id,
	            on_leader_change, d);
	d->leader_done = !d->cfg.maint_enabled;
	maint_init(&d->maint, d, &d->maint_conn);
	uv_timer_init(d->loop, &d->watchdog_timer);
	d->watchdog_timer.data = d;
	d->watchdog_ms = sd_watchdog_ms();
	if (d->watchdog_ms)
		uv_timer_start(&d->watchdog_timer, on_watchdog, d->watchdog_ms / 2, d->watchdog_ms / 2);
	completer_init(&d->comp, d->loop, &d->complete_conn, d->schema);
	d->comp.on_idle = on_completer_idle;
	d->comp.on_room = on_completer_room;
	d->comp.arg = d;
	pool_init(&d->pool, d->loop, total_workers(&d->cfg), on_job_done, d);

	uv_timer_init(d->loop, &d->poll_timer);
	d->poll_timer.data = d;
	uv_timer_start(&d->poll_timer, on_poll_timer, (uint64_t)d->cfg.poll_interval_ms, 0);
	uv_timer_init(d->loop, &d->deadline_timer);
	d->deadline_timer.data = d;
	uv_timer_init(d->loop, &d->shutdown_timer);
	d->shutdown_timer.data = d;
	uv_signal_t *sigs[] = {&d->sig_term, &d->sig_int, &d->sig_hup};
	int signums[] = {SIGTERM, SIGINT, SIGHUP};
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++) {
		uv_signal_init(d->loop, sigs[i]);
		sigs[i]->data = d;
		uv_signal_start(sigs[i], on_signal, signums[i]);
	}
	if (early_hup)
		reload(d);

	log_info("sluiced starting", LS("version", SLUICE_VERSION), LS("config", config_path),
	         LI("workers", (int64_t)total_workers(&d->cfg)));
	log_enc_state("encryption", &d->cfg);
	db_start(&d->fetch_conn);
	db_start(&d->complete_conn);
	db_start(&d->maint_conn);
	uv_run(d->loop, UV_RUN_DEFAULT);

	int code = d->exit_code;
	if (d->abandoned) {
		/* Threads are still inside handlers that ignored cancellation; they
		 * would touch freed state on return. Their jobs are already back to
		 * available, so end the process without waiting for them. */
		fflush(NULL);
		_exit(code);
	}
	uv_loop_close(d->loop);
	enc_shutdown();
	registry_unload();
	free(d->loop);
	free(d->fetch_sql);
	free(d->channel_prefix);
	free(d->channel_insert);
	free(d->channel_control);
	free(d->channel_leadership);
	leader_free(&d->leader);
	maint_free(&d->maint);
	control_free(d);
	metrics_free();
	free(d->queues);
	pool_free(&d->pool);
	completer_free(&d->comp);
	cfg_free(&d->cfg);
	free(d);
	return code;
}
