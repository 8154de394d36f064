/* daemon.h -- sluiced's state, owned by the loop thread: connections, the
 * queues it fetches from, jobs in flight, completer and worker pool. */
#ifndef SLUICE_DAEMON_H
#define SLUICE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "complete.h"
#include "config.h"
#include "db.h"
#include "job.h"
#include "leader.h"
#include "maint.h"
#include "pool.h"

typedef struct sluiced sluiced;

/* One queue this daemon works, with River's producer state. */
typedef struct pq_queue {
	sluiced *d;
	char *name;
	int max_workers;
	int running;
	int arrived;        /* fetched rows not yet dispatched (fetch.c) */
	bool paused;
	uint64_t paused_notified; /* control_gen of the last pause/resume NOTIFY for it */
	bool fetching;      /* a fetch is in flight */
	bool again;         /* new work announced meanwhile: fetch again after it */
	bool backlog;       /* the last fetch came back full: more jobs wait */
	bool cooldown_armed;
	uint64_t last_fetch_ms;
	uv_timer_t cooldown;
} pq_queue;

struct sluiced {
	uv_loop_t *loop;
	cfg cfg;
	const char *config_path;
	char *schema;          /* "" or the configured schema */
	char *channel_prefix;  /* "<schema>." as River prefixes NOTIFY channels */
	char *channel_insert;
	char *channel_control;
	char *channel_leadership;
	char *fetch_sql;

	db_conn fetch_conn;    /* fetches and LISTEN */
	db_conn complete_conn; /* completion batches */
	db_conn maint_conn;    /* leader election, maintenance, river_queue */
	completer comp;
	pool pool;
	leader leader;
	maint maint;
	bool leader_done;      /* resigned (or never led) at shutdown */

	/* river_queue reporting and pause state (control.c) */
	uv_timer_t queue_timer;
	bool queue_poll_busy;
	unsigned queue_polls;
	/* Counts pause/resume NOTIFYs; a river_queue poll remembers it when
	 * sent, so a reply read before a NOTIFY it may predate is not taken. */
	uint64_t control_gen, queue_poll_gen;
	char *sql_queue_upsert, *sql_queue_paused;

	uv_timer_t watchdog_timer;
	uint64_t watchdog_ms; /* WATCHDOG_USEC / 1000, 0: no watchdog */

	pq_queue *queues;
	size_t nqueues;

	job running;           /* list head (sentinel) of jobs handed to handlers */
	size_t nrunning;
	job *abandoned;        /* given up at shutdown, still inside handlers */

	uv_timer_t poll_timer;
	uv_timer_t deadline_timer;
	uint64_t deadline_armed_at; /* 0: not armed */
	uv_timer_t shutdown_timer;
	uv_signal_t sig_term, sig_int, sig_hup;

	bool ready;    /* schema checked and LISTEN done: fetching may start */
	bool stopping;
	bool expired;  /* shutdown_timeout passed */
	bool closing;
	int exit_code;
	uint64_t jobs_done;
};

int daemon_run(const char *config_path);

/* fetch.c: the producer */
/* Why a fetch is asked for: new work may exist (notification, poll,
 * resume), or a slot freed up while jobs may be waiting. */
enum fetch_reason { FETCH_NEW_WORK, FETCH_SLOT_FREED };

void fetch_init_queues(sluiced *d);
void fetch_trigger(pq_queue *q, enum fetch_reason why);
void fetch_trigger_all(sluiced *d);
pq_queue *fetch_queue_by_name(sluiced *d, const char *name);
void fetch_stop(sluiced *d);

/* daemon.c: called by the producer. True when j is to go to the pool. */
bool daemon_dispatch(sluiced *d, pq_queue *q, job *j);
void daemon_maybe_finish(sluiced *d);
/* This attempt of the job, if a handler here is working it; else NULL. */
const job *daemon_running_job(const sluiced *d, int64_t id, int attempt);

#endif
