/* control.c -- queue state shared through River's tables and channels:
 * every daemon reports its queues in river_queue (River's producers do) and
 * follows pause/resume from it; <schema>.river_control carries pause,
 * resume (a queue or "*") and cancel (a running job) at once. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "daemon.h"
#include "json.h"
#include "log.h"
#include "migrate.h"
#include "sql.h"
#include "util.h"

/* river_queue is re-read this often (a missed NOTIFY costs at most this). */
#define QUEUE_POLL_MS 5000
/* ... and our rows' updated_at refreshed every this many polls. */
#define QUEUE_REPORT_EVERY 12

static void set_paused(sluiced *d, pq_queue *q, bool paused, const char *why)
{
	if (q->paused == paused)
		return;
	q->paused = paused;
	log_info(paused ? "queue paused" : "queue resumed", LS("queue", q->name), LS("via", why));
	if (!paused)
		fetch_trigger(q, FETCH_NEW_WORK);
	(void)d;
}

static void on_queue_rows(db_status st, PGresult *res, const char *err, void *arg)
{
	sluiced *d = arg;
	d->queue_poll_busy = false;
	if (st == DB_ESQL)
		log_warn("reading river_queue failed", LS("err", err));
	if (st != DB_OK)
		return;
	for (int i = 0; i < PQntuples(res); i++) {
		pq_queue *q = fetch_queue_by_name(d, PQgetvalue(res, i, 0));
		/* Paused or resumed by NOTIFY after this poll was sent: the row
		 * read may be older than that (its snapshot taken before the
		 * change committed). The next poll has the newer one. */
		if (q && q->paused_notified <= d->queue_poll_gen)
			set_paused(d, q, strcmp(PQgetvalue(res, i, 1), "t") == 0, "river_queue");
	}
}

static void poll_queues(uv_timer_t *t)
{
	sluiced *d = t->data;
	if (d->queue_poll_busy || d->stopping)
		return;
	bool report = d->queue_polls++ % QUEUE_REPORT_EVERY == 0;
	sb names = {0};
	sb_putc(&names, '{');
	for (size_t i = 0; i < d->nqueues; i++)
		sb_printf(&names, "%s%s", i ? "," : "", d->queues[i].name);
	sb_putc(&names, '}');
	const char *params[] = {sb_str(&names)};
	if (db_query_params(&d->maint_conn, report ? d->sql_queue_upsert : d->sql_queue_paused, 1,
	                    params, on_queue_rows, d) == 0) {
		d->queue_poll_busy = true;
		d->queue_poll_gen = d->control_gen;
	}
	sb_free(&names);
}

void control_start(sluiced *d)
{
	if (!d->sql_queue_upsert) {
		d->sql_queue_upsert = sql_render(SQL_QUEUE_UPSERT, d->schema);
		d->sql_queue_paused = sql_render(SQL_QUEUE_PAUSED, d->schema);
		uv_timer_init(d->loop, &d->queue_timer);
		d->queue_timer.data = d;
	}
	d->queue_polls = 0; /* report first */
	uv_timer_start(&d->queue_timer, poll_queues, 0, QUEUE_POLL_MS);
}

void control_on_notify(sluiced *d, const char *payload)
{
	json_object *o = json_tokener_parse(payload), *v;
	const char *action = json_member_str(o, "action"), *queue = json_member_str(o, "queue");
	if (strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0) {
		d->control_gen++;
		for (size_t i = 0; i < d->nqueues; i++)
			if (strcmp(queue, "*") == 0 || strcmp(queue, d->queues[i].name) == 0) {
				d->queues[i].paused_notified = d->control_gen;
				set_paused(d, &d->queues[i], action[0] == 'p', "river_control");
			}
	} else if (strcmp(action, "cancel") == 0 && json_object_object_get_ex(o, "job_id", &v)) {
		int64_t id = json_object_get_int64(v);
		for (job *j = d->running.next; j != &d->running; j = j->next)
			if (j->pub.id == id) {
				log_info("job cancelled remotely; asking its handler to stop", LI("job_id", id),
				         LS("kind", j->pub.kind));
				job_cancel(j, SLUICE_CANCEL_REMOTE);
			}
	}
	json_object_put(o);
}

void control_stop(sluiced *d)
{
	if (d->sql_queue_upsert)
		uv_timer_stop(&d->queue_timer);
}

void control_free(sluiced *d)
{
	free(d->sql_queue_upsert);
	free(d->sql_queue_paused);
}
