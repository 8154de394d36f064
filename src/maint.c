/* maint.c -- what the leader runs (River's maintenance services): the
 * scheduler (due retryable/scheduled jobs -> available, every 5 s), the
 * rescuer (stuck running jobs, every 30 s), the cleaner (finished jobs past
 * retention, every 30 s), the queue cleaner (hourly), queue depth sampling
 * for metrics, and periodic jobs. Each service has one statement in flight
 * at most, on the maintenance connection. The reindexer (reindex.c) has a
 * connection of its own. */
#include "maint.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "insert.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "periodic.h"
#include "registry.h"
#include "sql.h"
#include "util.h"

#define SCHEDULE_EVERY_MS ((uint64_t)m->d->cfg.scheduler_interval_ms)
#define RESCUE_EVERY_MS ((uint64_t)m->d->cfg.rescuer_interval_ms)
#define CLEAN_EVERY_MS ((uint64_t)m->d->cfg.cleaner_interval_ms)
#define QUEUE_CLEAN_EVERY_MS 3600000
#define DEPTH_EVERY_MS 10000
/* A batch that came back full runs again after this pause (River: 50 ms-1 s). */
#define BATCH_AGAIN_MS 100

static const char rescue_error[] = "Stuck job rescued by JobRescuer"; /* River's text */

static void arm(maint *m, uv_timer_t *t, uv_timer_cb cb, uint64_t ms)
{
	if (m->active)
		uv_timer_start(t, cb, ms, 0);
}

/* The end of one batch of the scheduler or the cleaner: counts it, says so,
 * and returns when to run again (soon after a full batch: more wait). */
static uint64_t batch_done(db_status st, PGresult *res, const char *err, uint64_t *total,
                           int level, const char *done, const char *failed, uint64_t every)
{
	if (st == DB_ESQL)
		log_warn(failed, LS("err", err));
	if (st != DB_OK)
		return every;
	int64_t n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*total += (uint64_t)n;
	if (n)
		LOG_AT_(level, done, LI("jobs", n));
	return n >= MAINT_BATCH ? BATCH_AGAIN_MS : every;
}

/* ---- scheduler ---------------------------------------------------------- */
/* (The *_EVERY_MS intervals are [maintenance] settings, River's defaults.) */

static void run_schedule(uv_timer_t *t);

static void on_scheduled(db_status st, PGresult *res, const char *err, void *arg)
{
	maint *m = arg;
	m->sched_busy = false;
	uint64_t again = batch_done(st, res, err, &m->scheduled, LOG_DEBUG,
	                            "scheduler made jobs available", "scheduler failed",
	                            SCHEDULE_EVERY_MS);
	arm(m, &m->sched_t, run_schedule, again);
}

static void run_schedule(uv_timer_t *t)
{
	maint *m = t->data;
	if (m->sched_busy)
		return;
	char ahead[24]; /* River's look-ahead: one interval */
	snprintf(ahead, sizeof ahead, "%llu", (unsigned long long)SCHEDULE_EVERY_MS);
	const char *params[] = {m->d->channel_insert, ahead};
	if (db_query_params(m->conn, m->sql_schedule, 2, params, on_scheduled, m) == 0)
		m->sched_busy = true;
	else
		arm(m, &m->sched_t, run_schedule, 1000);
}

/* ---- rescuer --------------------------------------------------------------- */

static void run_rescue(uv_timer_t *t);
static void rescue_batch(maint *m);

static void on_rescued(db_status st, PGresult *res, const char *err, void *arg)
{
	maint *m = arg;
	m->rescue_busy = false;
	if (st == DB_OK) {
		m->rescued += (uint64_t)PQntuples(res);
		if (PQntuples(res))
			log_warn("rescued stuck jobs", LI("jobs", PQntuples(res)));
	} else {
		log_warn("rescue failed", LS("err", err ? err : "?"));
		m->rescue_after_id = 0;
		arm(m, &m->rescue_t, run_rescue, RESCUE_EVERY_MS);
		return;
	}
	if (m->rescue_more)
		rescue_batch(m);
	else
		arm(m, &m->rescue_t, run_rescue, RESCUE_EVERY_MS);
}

/* Decides each stuck job the way River's rescuer does, except that a kind
 * this daemon does not know is retried or discarded by its attempts, never
 * discarded for being unknown (another worker may handle it). */
static void on_stuck(db_status st, PGresult *res, const char *err, void *arg)
{
	maint *m = arg;
	m->rescue_busy = false;
	if (st != DB_OK) {
		if (st == DB_ESQL)
			log_warn("rescuer failed", LS("err", err));
		arm(m, &m->rescue_t, run_rescue, RESCUE_EVERY_MS);
		return;
	}
	int n = PQntuples(res);
	m->rescue_more = n == 1000;
	int64_t now = now_us();
	char at[40];
	fmt_rfc3339_us(now, at);
	sb b = {0};
	int count = 0;
	for (int i = 0; i < n; i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		const char *kind = PQgetvalue(res, i, 1);
		int attempt = atoi(PQgetvalue(res, i, 2)), max_attempts = atoi(PQgetvalue(res, i, 3));
		int errors = atoi(PQgetvalue(res, i, 4));
		bool cancel = strcmp(PQgetvalue(res, i, 5), "t") == 0;
		int64_t attempted_us = strtoll(PQgetvalue(res, i, 6), NULL, 10);
		m->rescue_after_id = id;
		const kind_entry *k = registry_find(kind);
		/* Worked here, its outcome on the way: not stuck. */
		if (completer_holds(&m->d->comp, id, attempt))
			continue;
		if (!cancel && k) {
			/* As River's rescuer: a job with no time limit (the kind's -1,
			 * or [worker] job_timeout = 0, River's -1) may run for days, so
			 * it is never stuck; one within its limit is not stuck yet. A
			 * job running here keeps the limit it was started with: a
			 * reload that lowers job_timeout must not rescue it (and run
			 * it twice at once) while its handler is still within it. */
			const job *own = daemon_running_job(m->d, id, attempt);
			if (own && !atomic_load(&own->picked_ms))
				continue; /* still waiting here for a thread: not started */
			int64_t timeout = own           ? own->timeout_ms
			                  : k->timeout_ms ? k->timeout_ms
			                                  : m->d->cfg.job_timeout_ms;
			if (timeout <= 0 || (now - attempted_us) / 1000 < timeout)
				continue;
		}
		const char *state;
		char sched[40] = "";
		if (cancel)
			state = "cancelled";
		else if (attempt < max_attempts) {
			state = "retryable";
			double r01 = retry_rand01();
			fmt_rfc3339_us(now + (int64_t)(retry_delay_s(errors, r01) * 1e6), sched);
		} else
			state = "discarded";
		sb_putc(&b, count++ ? ',' : '[');
		sb_printf(&b,
		          "{\"id\":%lld,\"state\":\"%s\",\"error\":{\"at\":\"%s\",\"attempt\":%d,"
		          "\"error\":\"%s\",\"trace\":\"\"}",
		          (long long)id, state, at, attempt < 0 ? 0 : attempt, rescue_error);
		if (*sched)
			sb_printf(&b, ",\"scheduled_at\":\"%s\"", sched);
		if (strcmp(state, "retryable") != 0)
			sb_printf(&b, ",\"finalized_at\":\"%s\"", at);
		sb_putc(&b, '}');
	}
	if (!count) {
		sb_free(&b);
		if (m->rescue_more)
			rescue_batch(m);
		else
			arm(m, &m->rescue_t, run_rescue, RESCUE_EVERY_MS);
		return;
	}
	sb_putc(&b, ']');
	const char *params[] = {sb_str(&b), m->rescue_horizon};
	if (db_query_params(m->conn, m->sql_rescue, 2, params, on_rescued, m) == 0)
		m->rescue_busy = true;
	else
		arm(m, &m->rescue_t, run_rescue, RESCUE_EVERY_MS);
	sb_free(&b);
}

static void rescue_batch(maint *m)
{
	if (!m->active)
		return; /* leadership lost between pages: the new leader rescues */
	char after[24];
	snprintf(after, sizeof after, "%lld", (long long)m->rescue_after_id);
	const char *params[] = {m->rescue_horizon, after};
	if (db_query_params(m->conn, m->sql_stuck, 2, params, on_stuck, m) == 0)
		m->rescue_busy = true;
	else
		arm(m, &m->rescue_t, run_rescue, RESCUE_EVERY_MS);
}

static void run_rescue(uv_timer_t *t)
{
	maint *m = t->data;
	if (m->rescue_busy)
		return;
	fmt_rfc3339_us(now_us() - m->d->cfg.rescue_after_ms * 1000, m->rescue_horizon);
	m->rescue_after_id = 0;
	rescue_batch(m);
}

/* ---- cleaners ------------------------------------------------------------- */

static void run_clean(uv_timer_t *t);

static void on_cleaned(db_status st, PGresult *res, const char *err, void *arg)
{
	maint *m = arg;
	m->clean_busy = false;
	uint64_t again = batch_done(st, res, err, &m->cleaned, LOG_INFO,
	                            "cleaner deleted finished jobs", "cleaner failed", CLEAN_EVERY_MS);
	arm(m, &m->clean_t, run_clean, again);
}

static void run_clean(uv_timer_t *t)
{
	maint *m = t->data;
	const cfg *c = &m->d->cfg;
	if (m->clean_busy)
		return;
	int64_t r[3] = {c->cancelled_retention_ms, c->completed_retention_ms, c->discarded_retention_ms};
	if (r[0] < 0 && r[1] < 0 && r[2] < 0) {
		/* Keep everything, for now: a reload may set a retention. */
		arm(m, &m->clean_t, run_clean, CLEAN_EVERY_MS);
		return;
	}
	char secs[3][32];
	const char *params[6];
	for (int i = 0; i < 3; i++) {
		snprintf(secs[i], sizeof secs[i], "%.3f", r[i] < 0 ? 0.0 : (double)r[i] / 1000.0);
		params[2 * i] = r[i] < 0 ? "false" : "true";
		params[2 * i + 1] = secs[i];
	}
	if (db_query_params(m->conn, m->sql_clean, 6, params, on_cleaned, m) == 0)
		m->clean_busy = true;
	else
		arm(m, &m->clean_t, run_clean, CLEAN_EVERY_MS);
}

static void run_qclean(uv_timer_t *t);

static void on_qcleaned(db_status st, PGresult *res, const char *err, void *arg)
{
	maint *m = arg;
	if (st == DB_ESQL)
		log_warn("queue cleaner failed", LS("err", err));
	/* A full batch leaves more behind: again soon, as River's loop does. */
	bool full = st == DB_OK && strtoll(PQcmdTuples(res), NULL, 10) >= MAINT_BATCH;
	arm(m, &m->qclean_t, run_qclean, full ? BATCH_AGAIN_MS : QUEUE_CLEAN_EVERY_MS);
}

static void run_qclean(uv_timer_t *t)
{
	maint *m = t->data;
	if (db_query(m->conn, m->sql_qclean, on_qcleaned, m) < 0)
		arm(m, &m->qclean_t, run_qclean, QUEUE_CLEAN_EVERY_MS);
}

/* ---- queue depth -------------------------------------------------------------- */

static void run_depth(uv_timer_t *t);

static void on_depth(db_status st, PGresult *res, const char *err, void *arg)
{
	(void)err;
	maint *m = arg;
	if (st == DB_OK) {
		/* Every configured queue reports every state, 0 included: a series
		 * that vanishes when a queue drains reads as "no data", not "empty". */
		static const char *const states[] = {"available", "running", "retryable",
		                                     "scheduled"};
		metrics_depth_reset();
		for (size_t q = 0; q < m->d->cfg.nqueues; q++)
			for (size_t s = 0; s < sizeof states / sizeof *states; s++)
				metrics_depth_set(m->d->cfg.queues[q].name, states[s], 0);
		for (int i = 0; i < PQntuples(res); i++)
			metrics_depth_set(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			                  strtod(PQgetvalue(res, i, 2), NULL));
	}
	arm(m, &m->depth_t, run_depth, DEPTH_EVERY_MS);
}

static void run_depth(uv_timer_t *t)
{
	maint *m = t->data;
	if (db_query(m->conn, m->sql_depth, on_depth, m) < 0)
		arm(m, &m->depth_t, run_depth, DEPTH_EVERY_MS);
}

/* ---- periodic jobs -------------------------------------------------------------- */

static void run_periodic(uv_timer_t *t);

static void arm_periodic(maint *m)
{
	int64_t soonest = 0;
	for (size_t i = 0; i < m->d->cfg.nperiodic; i++)
		if (m->periodic_next[i] > 0 && (!soonest || m->periodic_next[i] < soonest))
			soonest = m->periodic_next[i];
	if (!soonest)
		return;
	int64_t wait = (soonest - now_us()) / 1000;
	arm(m, &m->periodic_t, run_periodic, wait > 0 ? (uint64_t)wait : 0);
}

static void on_periodic_inserted(db_status st, PGresult *res, const char *err, void *arg)
{
	maint *m = arg;
	if (st == DB_OK)
		m->periodic_enqueued += (uint64_t)PQntuples(res);
	else if (st == DB_ESQL)
		log_warn("periodic job insert failed", LS("err", err));
}

/* Enqueues one tick of a definition. Its unique key is (name, tick): a
 * tick another leader already enqueued is skipped by the database. */
static void enqueue_tick(maint *m, const periodic_def *def, int64_t tick)
{
	char ts[40], err[300];
	fmt_rfc3339_us(tick, ts);
	sb meta = {0};
	/* River's periodic metadata and scheduled_at (the tick), and the tick
	 * itself, which a retry's scheduled_at no longer shows. */
	sb_puts(&meta, "{\"periodic\":true,\"river:periodic_job_id\":");
	sb_json_str(&meta, def->name);
	sb_printf(&meta, ",\"periodic_tick\":\"%s\"}", ts);
	sluice_enqueue_opts o = {.size = sizeof o, .queue = def->queue, .priority = def->priority,
	                         .max_attempts = def->max_attempts, .metadata = sb_str(&meta),
	                         .scheduled_at_us = tick};
	insert_job *j;
	if (insert_prepare(def->kind, def->args, &o, now_us(), 0, &j, err, sizeof err) < 0) {
		log_error("periodic job refused", LS("name", def->name), LS("reason", err));
		sb_free(&meta);
		return;
	}
	sb key = {0};
	sb_printf(&key, "&kind=%s&periodic=%s&tick=%s", def->kind, def->name, ts);
	crypto_hash_sha256(j->unique_key, (const uint8_t *)key.p, key.len);
	j->unique = true;
	j->unique_states = UNIQUE_STATES_DEFAULT;
	sb rows = {0};
	sb_putc(&rows, '[');
	insert_encode(&rows, j, 0);
	sb_putc(&rows, ']');
	const char *params[] = {sb_str(&rows), m->d->channel_insert};
	if (db_query_params(m->conn, m->sql_insert, 2, params, on_periodic_inserted, m) < 0)
		log_warn("periodic job not enqueued: no database connection", LS("name", def->name),
		         LS("tick", ts));
	else
		log_debug("periodic job due", LS("name", def->name), LS("tick", ts));
	insert_free(j);
	sb_free(&rows);
	sb_free(&key);
	sb_free(&meta);
}

static void run_periodic(uv_timer_t *t)
{
	maint *m = t->data;
	int64_t now = now_us();
	for (size_t i = 0; i < m->d->cfg.nperiodic; i++) {
		const periodic_def *def = &m->d->cfg.periodic[i];
		if (m->periodic_next[i] <= 0 || m->periodic_next[i] > now)
			continue;
		enqueue_tick(m, def, m->periodic_next[i]);
		/* As River: the next tick after this one, not after now, so ticks
		 * missed while the loop was held up (a stall, a stopped process)
		 * are caught up one per pass instead of skipped. */
		m->periodic_next[i] = cron_next(&def->sched, m->periodic_next[i]);
	}
	arm_periodic(m);
}

/* ---- lifecycle -------------------------------------------------------------- */

void maint_init(maint *m, sluiced *d, db_conn *conn)
{
	*m = (maint){.d = d, .conn = conn};
	const char *schema = d->schema;
	m->sql_schedule = sql_render(SQL_SCHEDULE, schema);
	m->sql_stuck = sql_render(SQL_STUCK, schema);
	m->sql_rescue = sql_render(SQL_RESCUE, schema);
	m->sql_clean = sql_render(SQL_CLEAN, schema);
	m->sql_qclean = sql_render(SQL_QUEUE_CLEAN, schema);
	m->sql_depth = sql_render(SQL_QUEUE_DEPTH, schema);
	m->sql_insert = sql_render(SQL_INSERT_JOBS, schema);
	m->periodic_next = xcalloc(d->cfg.nperiodic ? d->cfg.nperiodic : 1, sizeof *m->periodic_next);
	uv_timer_t *timers[] = {&m->sched_t, &m->rescue_t, &m->clean_t, &m->qclean_t, &m->depth_t,
	                        &m->periodic_t};
	for (size_t i = 0; i < ARRAY_LEN(timers); i++) {
		uv_timer_init(d->loop, timers[i]);
		timers[i]->data = m;
	}
	reindexer_init(&m->rx, d);
}

void maint_set_active(maint *m, bool on)
{
	if (m->active == on)
		return;
	m->active = on;
	reindexer_set_active(&m->rx, on);
	if (!on) {
		uv_timer_t *timers[] = {&m->sched_t, &m->rescue_t, &m->clean_t, &m->qclean_t,
		                        &m->depth_t, &m->periodic_t};
		for (size_t i = 0; i < ARRAY_LEN(timers); i++)
			uv_timer_stop(timers[i]);
		metrics_depth_reset();
		return;
	}
	log_info("running maintenance as leader", LI("periodic_jobs", (int64_t)m->d->cfg.nperiodic));
	arm(m, &m->sched_t, run_schedule, 0);
	arm(m, &m->rescue_t, run_rescue, 1000);
	arm(m, &m->clean_t, run_clean, 2000);
	arm(m, &m->qclean_t, run_qclean, 3000);
	arm(m, &m->depth_t, run_depth, 0);
	/* From now on, not backwards: ticks while nobody led are not replayed. */
	int64_t now = now_us();
	for (size_t i = 0; i < m->d->cfg.nperiodic; i++)
		m->periodic_next[i] = cron_next(&m->d->cfg.periodic[i].sched, now);
	arm_periodic(m);
}

void timer_pull_in(uv_timer_t *t, uv_timer_cb cb, uint64_t ms)
{
	if (uv_is_active((uv_handle_t *)t) && uv_timer_get_due_in(t) > ms)
		uv_timer_start(t, cb, ms, 0);
}

/* A timer armed for the old interval would wait it out in full: a
 * cleaner_interval cut from 24h to 30s would apply a day later. A longer
 * interval applies from the next run. (A timer not armed has its query in
 * flight, and arms with the new interval when it is done.) */
void maint_intervals_reloaded(maint *m)
{
	if (!m->active)
		return;
	timer_pull_in(&m->sched_t, run_schedule, SCHEDULE_EVERY_MS);
	timer_pull_in(&m->rescue_t, run_rescue, RESCUE_EVERY_MS);
	timer_pull_in(&m->clean_t, run_clean, CLEAN_EVERY_MS);
}

void maint_free(maint *m)
{
	free(m->sql_schedule);
	free(m->sql_stuck);
	free(m->sql_rescue);
	free(m->sql_clean);
	free(m->sql_qclean);
	free(m->sql_depth);
	free(m->sql_insert);
	free(m->periodic_next);
}
