/* fetch.c -- the producer: per queue, fetch as many available jobs as there
 * are free worker slots, with River's query. Triggers: LISTEN river_insert,
 * the poll timer (Python and Ruby clients never NOTIFY), and freed slots;
 * fetch_cooldown spaces fetches of one queue so bursts coalesce.
 *
 * One fetch per queue is in flight at a time, so under load the fetch
 * statement is the pipeline's pace: each should be large (its fixed cost
 * spread over many rows) but not huge (PostgreSQL's cost per row grows past
 * about a thousand). So a backlog is refilled once half the slots (at most
 * FETCH_MAX_BATCH) are free, not at every freed slot. */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/* Rows per fetch statement at most (best measured: tests/bench). */
#define FETCH_MAX_BATCH 1000

typedef struct fetch_req {
	pq_queue *q;
	int limit;
	uint64_t sent_ms;
} fetch_req;

static void on_cooldown(uv_timer_t *t)
{
	pq_queue *q = t->data;
	q->cooldown_armed = false;
	fetch_trigger(q, FETCH_NEW_WORK);
}

/* Free slots worth a fetch while refilling a backlog. */
static int refill_batch(const pq_queue *q)
{
	int half = q->max_workers / 2;
	return half < FETCH_MAX_BATCH ? (half > 0 ? half : 1) : FETCH_MAX_BATCH;
}

void fetch_init_queues(sluiced *d)
{
	d->nqueues = d->cfg.nqueues;
	d->queues = xcalloc(d->nqueues, sizeof *d->queues);
	for (size_t i = 0; i < d->nqueues; i++) {
		pq_queue *q = &d->queues[i];
		q->d = d;
		q->name = d->cfg.queues[i].name;
		q->max_workers = d->cfg.queues[i].max_workers;
		uv_timer_init(d->loop, &q->cooldown);
		q->cooldown.data = q;
	}
}

pq_queue *fetch_queue_by_name(sluiced *d, const char *name)
{
	for (size_t i = 0; i < d->nqueues; i++)
		if (strcmp(d->queues[i].name, name) == 0)
			return &d->queues[i];
	return NULL;
}

static void on_fetched(db_status st, PGresult *res, const char *err, void *arg)
{
	fetch_req *r = arg;
	pq_queue *q = r->q;
	sluiced *d = q->d;
	int limit = r->limit;
	if (st == DB_OK)
		metrics_fetch_latency((double)(mono_ms() - r->sent_ms) / 1000.0);
	free(r);
	q->fetching = false;
	if (st != DB_OK) {
		/* On a lost connection the fetch may have committed unseen; such
		 * jobs stay running until River's rescuer retries them. */
		log_warn("fetch failed", LS("queue", q->name), LS("err", err));
		daemon_maybe_finish(d);
		return;
	}
	int n = PQntuples(res);
	if (n > 0)
		log_debug("fetched", LS("queue", q->name), LI("jobs", n), LI("limit", limit));
	/* The next fetch goes out before these rows are decoded, so that the
	 * database works on it meanwhile instead of waiting for the loop
	 * (about 2 ms per thousand rows). The rows hold their slots already. */
	q->arrived = n;
	q->backlog = n == limit;
	if (q->again) {
		q->again = false;
		fetch_trigger(q, FETCH_NEW_WORK);
	} else if (q->backlog) {
		fetch_trigger(q, FETCH_SLOT_FREED);
	}
	job *first = NULL, **end = &first;
	size_t runnable = 0;
	for (int i = 0; i < n; i++) {
		job *j = job_from_row(res, i);
		q->arrived--; /* counted in running from here */
		if (daemon_dispatch(d, q, j)) {
			*end = j;
			end = &j->pool_next;
			runnable++;
		}
	}
	pool_submit(&d->pool, first, runnable);
	daemon_maybe_finish(d);
}

void fetch_trigger(pq_queue *q, enum fetch_reason why)
{
	sluiced *d = q->d;
	if (!d->ready || d->stopping || q->paused)
		return;
	int busy = q->running + q->arrived;
	int free_slots = q->max_workers - busy;
	if (free_slots <= 0)
		return; /* a finishing job triggers again */
	if (completer_full(&d->comp))
		return; /* its on_room triggers every queue again */
	if (why == FETCH_SLOT_FREED &&
	    (!q->backlog || (free_slots < refill_batch(q) && busy > 0)))
		return; /* nothing known to wait, or too few slots yet */
	if (q->fetching) {
		if (why == FETCH_NEW_WORK)
			q->again = true;
		return;
	}
	if (free_slots > FETCH_MAX_BATCH)
		free_slots = FETCH_MAX_BATCH;
	uint64_t now = mono_ms();
	uint64_t next = q->last_fetch_ms + (uint64_t)d->cfg.fetch_cooldown_ms;
	if (q->last_fetch_ms && now < next) {
		if (!q->cooldown_armed) {
			q->cooldown_armed = true;
			uv_timer_start(&q->cooldown, on_cooldown, next - now, 0);
		}
		return;
	}
	char limit[16];
	snprintf(limit, sizeof limit, "%d", free_slots);
	const char *params[] = {q->name, limit, d->cfg.worker_id};
	fetch_req *r = xmalloc(sizeof *r);
	*r = (fetch_req){q, free_slots, now};
	if (db_query_prepared(&d->fetch_conn, "sluice_fetch", 3, params, on_fetched, r) < 0) {
		free(r);
		return; /* not connected: the reconnect triggers every queue */
	}
	q->fetching = true;
	q->last_fetch_ms = now;
}

void fetch_trigger_all(sluiced *d)
{
	for (size_t i = 0; i < d->nqueues; i++)
		fetch_trigger(&d->queues[i], FETCH_NEW_WORK);
}

void fetch_stop(sluiced *d)
{
	for (size_t i = 0; i < d->nqueues; i++) {
		uv_timer_stop(&d->queues[i].cooldown);
		d->queues[i].cooldown_armed = false;
	}
}
