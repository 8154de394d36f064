/* complete.c -- see complete.h. */
#include "complete.h"

#include <stdlib.h>
#include <string.h>

#include "insert.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "sql.h"
#include "util.h"

/* Hot: one record per job written, so no printf here. */
void completer_encode(sb *b, const completion *c, size_t n)
{
	char ts[40];
	sb_putc(b, '[');
	for (size_t i = 0; i < n && c; i++, c = c->next) {
		sb_puts(b, i ? ",{\"id\":" : "{\"id\":");
		sb_put_i64(b, c->job_id);
		sb_puts(b, ",\"fa\":");
		sb_put_i64(b, c->fetched_attempt);
		sb_puts(b, ",\"state\":\"");
		sb_puts(b, c->state);
		sb_putc(b, '"');
		if (c->attempt >= 0) {
			sb_puts(b, ",\"attempt\":");
			sb_put_i64(b, c->attempt);
		}
		if (c->error_json) {
			sb_puts(b, ",\"error\":");
			sb_puts(b, c->error_json);
		}
		if (c->finalized_at_us) {
			fmt_rfc3339_us(c->finalized_at_us, ts);
			sb_puts(b, ",\"finalized_at\":\"");
			sb_puts(b, ts);
			sb_putc(b, '"');
		}
		if (c->scheduled_at_us) {
			fmt_rfc3339_us(c->scheduled_at_us, ts);
			sb_puts(b, ",\"scheduled_at\":\"");
			sb_puts(b, ts);
			sb_putc(b, '"');
		}
		if (c->metadata_json) {
			sb_puts(b, ",\"metadata\":");
			sb_puts(b, c->metadata_json);
		}
		if (c->retried && c->attempted_at_us) {
			fmt_rfc3339_us(c->attempted_at_us, ts);
			sb_puts(b, ",\"at\":\"");
			sb_puts(b, ts);
			sb_putc(b, '"');
		}
		sb_puts(b, c->cancel_if_requested ? ",\"cr\":true}" : ",\"cr\":false}");
	}
	sb_putc(b, ']');
}

static void flush(completer *c);

static void on_timer(uv_timer_t *t)
{
	completer *c = t->data;
	c->timer_armed = false;
	c->retry_until_ms = 0; /* the pause, if any, is over (loop time lags mono_ms) */
	flush(c);
}

static void arm(completer *c, uint64_t ms)
{
	if (c->timer_armed)
		return;
	c->timer_armed = true;
	uv_timer_start(&c->timer, on_timer, ms, 0);
}

void completer_init(completer *c, uv_loop_t *loop, db_conn *conn, const char *schema)
{
	*c = (completer){.conn = conn, .sql = sql_render(SQL_COMPLETE, schema),
	                 .sql_children = sql_render(SQL_COMPLETE_WITH_CHILDREN, schema),
	                 .limit = COMPLETE_MAX_BATCH};
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
}

static void requeue_inflight(completer *c)
{
	if (!c->inflight)
		return;
	completion *last = c->inflight;
	while (last->next)
		last = last->next;
	last->next = c->head;
	c->head = c->inflight;
	if (!c->tail)
		c->tail = last;
	c->pending += c->ninflight;
	c->inflight = NULL;
	c->ninflight = 0;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void after_success(completer *c, PGresult *res)
{
	int n = PQntuples(res);
	int64_t *ids = xmalloc(((size_t)n + 1) * sizeof *ids);
	for (int i = 0; i < n; i++)
		ids[i] = pg_int(PQgetvalue(res, i, 0));
	qsort(ids, (size_t)n, sizeof *ids, cmp_id);
	if (n > 0 && PQnfields(res) > 1)
		c->children += strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	for (completion *k = c->inflight; k;) {
		completion *next = k->next;
		if (bsearch(&k->job_id, ids, (size_t)n, sizeof *ids, cmp_id)) {
			c->applied++;
		} else {
			/* Rescued or deleted while it ran: River leaves such rows
			 * alone too, but for its metadata updates (SQL_COMPLETE). */
			c->skipped++;
			log_warn("job no longer running; outcome not written", LI("job_id", k->job_id),
			         LS("outcome", k->state));
		}
		completion_free(k);
		k = next;
	}
	free(ids);
	c->inflight = NULL;
	c->ninflight = 0;
}

/* The error written for the run of k when its outcome was refused: as a
 * handler's error (River's retry policy), without k's metadata and
 * children, which may be what was refused. err is the database's message
 * and SQLSTATE only (db.c), so it quotes none of the record. */
static completion *refused(const completion *k, const char *err)
{
	job_facts f = {.id = k->job_id, .attempt = k->fetched_attempt,
	               .attempted_at_us = k->attempted_at_us, .max_attempts = k->max_attempts,
	               .errors_count = k->errors_count, .started_us = k->started_us,
	               .kind_known = true};
	sb m = {0};
	sb_printf(&m, "sluice could not write this attempt's outcome (%s): %s", k->outcome, err);
	job_result r = {.outcome = SLUICE_ERROR, .message = sb_take(&m)};
	completion *e = outcome_build(&f, &r, now_us(), retry_rand01());
	e->retried = k->retried;
	e->fallback = true;
	free(r.message);
	return e;
}

/* After a batch was written: the cap doubles (back up after bisecting a
 * bad record), but for COMPLETE_SLOW_HOLD_MS after a batch too slow or
 * too large was halved, not past half of that batch. */
static void grow(completer *c)
{
	size_t next = c->limit * 2 > COMPLETE_MAX_BATCH ? COMPLETE_MAX_BATCH : c->limit * 2;
	if (c->slow_size && mono_ms() < c->slow_until_ms) {
		if (next > c->slow_size / 2)
			next = c->slow_size / 2 > c->limit ? c->slow_size / 2 : c->limit;
	} else {
		c->slow_size = 0;
	}
	c->limit = next;
}

static void on_result(db_status st, PGresult *res, const char *err, void *arg)
{
	completer *c = arg;
	c->flushing = false;
	if (st == DB_OK)
		metrics_complete_latency((double)(mono_ms() - c->sent_ms) / 1000.0);
	switch (st) {
	case DB_OK:
		c->retry_ms = 0;
		c->transient_fails = 0;
		after_success(c, res);
		grow(c);
		break;
	case DB_ESQL:
		if (db_error_transient(c->conn)) {
			/* A deadlock, a timeout, a server gone read-only for a
			 * failover...: nothing is wrong with the records, so the same
			 * batch is written again after a pause, never bisected into
			 * errors of the jobs (that would re-run jobs that succeeded). */
			c->retries++;
			c->transient_fails++;
			if (c->ninflight == 1 && c->transient_fails >= COMPLETE_GIVE_UP_AFTER) {
				c->failed++;
				c->transient_fails = 0;
				log_error("cannot write job outcome; leaving it to the rescuer",
				          LI("job_id", c->inflight->job_id), LS("err", err),
				          LI("attempts", COMPLETE_GIVE_UP_AFTER));
				completion_free(c->inflight);
				c->inflight = NULL;
				c->ninflight = 0;
				break;
			}
			/* Failed again: the batch itself may be why (too long for a
			 * statement_timeout, too large): smaller ones, still written
			 * as the outcomes they are. */
			if (c->transient_fails >= 2 && c->ninflight > 1) {
				c->limit = c->ninflight / 2;
				c->slow_size = c->ninflight;
				c->slow_until_ms = mono_ms() + COMPLETE_SLOW_HOLD_MS;
			}
			c->retry_ms = c->retry_ms ? c->retry_ms * 2 : COMPLETE_RETRY_MIN_MS;
			if (c->retry_ms > COMPLETE_RETRY_MAX_MS)
				c->retry_ms = COMPLETE_RETRY_MAX_MS;
			c->retry_until_ms = mono_ms() + c->retry_ms;
			log_warn("completion batch failed; writing it again", LI("batch", c->ninflight),
			         LS("err", err), LI("retry_in_ms", (int64_t)c->retry_ms),
			         LI("next_batch", (int64_t)(c->limit < c->ninflight ? c->limit : c->ninflight)));
			requeue_inflight(c);
			uv_timer_stop(&c->timer);
			c->timer_armed = false;
			arm(c, c->retry_ms);
			return;
		}
		if (c->ninflight == 1 && !c->inflight->fallback) {
			/* Bisected down to one record the database refuses (a
			 * constraint or trigger of the table's, say): written instead
			 * as an error of the attempt, with the reason, retried or
			 * discarded by River's policy. */
			completion *k = c->inflight;
			log_error("cannot write job outcome; recording an error instead",
			          LI("job_id", k->job_id), LS("outcome", k->outcome), LS("err", err));
			c->inflight = refused(k, err);
			completion_free(k);
			requeue_inflight(c);
		} else if (c->ninflight == 1) {
			/* Not even that: retrying would block every other outcome. The
			 * job stays running until the rescuer picks it up. */
			c->failed++;
			log_error("cannot write job outcome; leaving it to the rescuer",
			          LI("job_id", c->inflight->job_id), LS("err", err));
			completion_free(c->inflight);
			c->inflight = NULL;
			c->ninflight = 0;
		} else {
			log_warn("completion batch failed; retrying in smaller batches",
			         LI("batch", c->ninflight), LS("err", err));
			c->limit = c->ninflight / 2;
			requeue_inflight(c);
		}
		break;
	case DB_ECONN:
		/* Kept, and written after the reconnect (completer_kick). The
		 * batch may have committed: its rows are then no longer running,
		 * or, snoozed or interrupted (attempt given back) and fetched
		 * again meanwhile, running the same attempt number once more. So
		 * the retry also names each row's attempted_at as fetched, which
		 * every fetch changes: only the run that finished is written. */
		for (completion *k = c->inflight; k; k = k->next)
			k->retried = true;
		requeue_inflight(c);
		return;
	}
	if (c->pending >= COMPLETE_BATCH_THRESHOLD)
		flush(c);
	else if (c->pending)
		arm(c, COMPLETE_FLUSH_MS);
	if (c->full && completer_backlog(c) < COMPLETE_BACKLOG_WAIT / 2) {
		c->full = false;
		log_debug("outcome backlog drained; fetching again",
		          LI("backlog", (int64_t)completer_backlog(c)));
		if (c->on_room)
			c->on_room(c->arg);
	}
	if (completer_idle(c) && c->on_idle)
		c->on_idle(c->arg);
}

/* About what a record adds to the statement (its fixed fields are short). */
static size_t record_bytes(const completion *k)
{
	size_t n = 200 + (k->metadata_json ? strlen(k->metadata_json) : 0) +
	           (k->error_json ? strlen(k->error_json) : 0);
	for (const insert_job *ch = k->children; ch; ch = ch->next)
		n += 300 + strlen(ch->args) + (ch->metadata ? strlen(ch->metadata) : 0) +
		     (ch->tags ? strlen(ch->tags) : 0);
	return n;
}

static void flush(completer *c)
{
	if (c->flushing || !c->pending || !db_ready(c->conn) || mono_ms() < c->retry_until_ms)
		return;
	size_t n = c->pending < c->limit ? c->pending : c->limit;
	completion *first = c->head, *last = first;
	size_t bytes = record_bytes(first);
	for (size_t i = 1; i < n; i++) {
		size_t more = record_bytes(last->next);
		if (bytes + more > COMPLETE_MAX_BYTES) {
			n = i;
			break;
		}
		bytes += more;
		last = last->next;
	}
	c->head = last->next;
	if (!c->head)
		c->tail = NULL;
	last->next = NULL;
	c->pending -= n;
	c->inflight = first;
	c->ninflight = n;

	sb b = {0}, kids = {0};
	completer_encode(&b, first, n);
	for (completion *k = first; k; k = k->next)
		for (insert_job *ch = k->children; ch; ch = ch->next) {
			insert_reseal(ch);
			sb_putc(&kids, kids.len ? ',' : '[');
			insert_encode(&kids, ch, k->job_id);
		}
	const char *params[] = {sb_str(&b), kids.len ? (sb_putc(&kids, ']'), sb_str(&kids)) : NULL,
	                        c->channel ? c->channel : "river_insert"};
	c->flushing = true;
	c->sent_ms = mono_ms();
	int rc = kids.len ? db_query_prepared(c->conn, "sluice_complete_children", 3, params, on_result, c)
	                  : db_query_prepared(c->conn, "sluice_complete", 1, params, on_result, c);
	if (rc < 0) {
		c->flushing = false;
		requeue_inflight(c);
	}
	sb_free(&b);
	sb_free(&kids);
}

void completer_add(completer *c, completion *comp)
{
	comp->next = NULL;
	if (c->tail)
		c->tail->next = comp;
	else
		c->head = comp;
	c->tail = comp;
	c->pending++;
	if (c->pending >= COMPLETE_BATCH_THRESHOLD)
		flush(c);
	else
		arm(c, COMPLETE_FLUSH_MS);
}

void completer_kick(completer *c)
{
	c->retry_until_ms = 0;
	flush(c);
}

void completer_prepare(completer *c)
{
	db_prepare(c->conn, "sluice_complete", c->sql);
	db_prepare(c->conn, "sluice_complete_children", c->sql_children);
}

bool completer_idle(const completer *c) { return !c->pending && !c->flushing; }

bool completer_full(completer *c)
{
	if (!c->full && completer_backlog(c) >= COMPLETE_BACKLOG_WAIT) {
		c->full = true;
		log_debug("outcome backlog full; fetching waits",
		          LI("backlog", (int64_t)completer_backlog(c)));
	}
	return c->full;
}

bool completer_holds(const completer *c, int64_t job_id, int attempt)
{
	const completion *lists[] = {c->inflight, c->head};
	for (size_t i = 0; i < 2; i++)
		for (const completion *k = lists[i]; k; k = k->next)
			if (k->job_id == job_id && k->fetched_attempt == attempt)
				return true;
	return false;
}

size_t completer_backlog(const completer *c) { return c->pending + c->ninflight; }

void completer_free(completer *c)
{
	completer_discard(c);
	free(c->sql);
	free(c->sql_children);
	c->sql = c->sql_children = NULL;
}

size_t completer_discard(completer *c)
{
	size_t n = 0;
	requeue_inflight(c);
	while (c->head) {
		completion *next = c->head->next;
		completion_free(c->head);
		c->head = next;
		n++;
	}
	c->tail = NULL;
	c->pending = 0;
	return n;
}
