/* job.h -- a fetched job as the daemon tracks it, and the completion record
 * (what to write back) that River's rules derive from a handler's result. */
#ifndef SLUICE_JOB_H
#define SLUICE_JOB_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sluice/plugin.h"

struct kind_entry;
struct pq_queue;
struct insert_job;

/* What a handler's run produced, before River's rules are applied. */
typedef struct job_result {
	int outcome;       /* enum sluice_outcome */
	char *message;     /* error / cancel / discard text (owned) */
	double snooze_s;
	char *output_json; /* River's metadata.output (owned) */
	bool set;          /* an outcome helper was called */
} job_result;

/* One row to write back, applied only while the row is still running. */
typedef struct completion {
	struct completion *next;
	int64_t job_id;
	int fetched_attempt;     /* applies only while the row is still on this attempt */
	int64_t attempted_at_us; /* the row's attempted_at as fetched */
	bool retried;            /* sent before in a batch whose reply was lost */
	bool fallback;           /* the error written instead of a refused outcome */
	/* Of the run, for that error (complete.c): */
	int max_attempts, errors_count;
	int64_t started_us;
	const char *outcome;     /* for metrics: completed, errored, timed_out, ... */
	const char *state;       /* river_job_state name */
	int attempt;             /* new attempt, or -1 to keep */
	char *error_json;        /* one errors[] element, or NULL */
	int64_t finalized_at_us; /* 0: NULL */
	int64_t scheduled_at_us; /* 0: keep */
	char *metadata_json;     /* object merged into metadata, or NULL */
	bool cancel_if_requested; /* cancelled instead, if cancel_attempted_at is set */
	struct insert_job *children; /* inserted with it, if this update applies */
	size_t nchildren;
} completion;

typedef struct job {
	sluice_job pub; /* first: handlers get &pub */
	struct job *next, *prev; /* the loop's running list */
	struct job *pool_next;   /* the worker pool's queues */
	struct pq_queue *queue;
	const struct kind_entry *kind; /* NULL: no plugin handles pub.kind */
	int errors_count;
	int64_t snoozes; /* metadata.snoozes at fetch, as River reads it */
	int64_t timeout_ms; /* 0: none; counts from picked_ms */
	uint64_t queued_ms; /* monotonic: when handed to the pool (loop thread) */
	/* Monotonic ms at which a worker thread took it, 0 until then: written
	 * by that thread, read by the loop's deadline check. */
	_Atomic uint64_t picked_ms;
	/* Wall-clock µs at which the handler started: written by the worker
	 * thread, read by the loop too when it gives the job up at the
	 * shutdown timeout (interrupted()), perhaps while it starts. */
	_Atomic int64_t started_us;
	bool abandoned; /* given up at shutdown: its outcome is not written */
	char failed_key_id[33]; /* set when its args could not be decrypted */

	/* Cancellation, and sleeping until it: cancel_reason is set by the loop
	 * thread, read by the handler's thread. */
	atomic_int cancel_reason;
	pthread_mutex_t mu;
	pthread_cond_t cv;

	job_result result; /* written by the worker thread only */
	completion *done;  /* built by the worker thread after the handler */

	/* Args after the work_begin hooks (decrypted): zeroed when freed. */
	char *own_args;
	size_t own_len;
	size_t row_args_len; /* the args as fetched: the first string after the job */
	/* Jobs the handler enqueued (worker thread only until done). */
	struct insert_job *children, *children_tail;
	size_t nchildren;
} job;

/* Replaces the args the handler sees; j owns buf from now on. */
void job_set_args(job *j, char *buf, size_t len);
/* Wipes and frees the args job_set_args gave it, back to the row's own.
 * Called by the worker as soon as the handler returns: decrypted args live
 * no longer than the handler (plugin.h promises no more), and glibc reuses
 * the block for that thread's next job instead of it being freed by the
 * loop thread into another thread's arena (seen as 1/4 of decryption's
 * cost in perf). */
void job_drop_args(job *j);

/* Decodes row i of a fetch result (columns in FETCH_COLUMNS order). */
job *job_from_row(const PGresult *res, int row);
void job_free(job *j);

/* Sets the reason (first one wins) and wakes a sleeping handler. */
void job_cancel(job *j, int reason);

void completion_free(completion *c);

/* River's rules, for one finished attempt. rand01 in [0,1) drives the retry
 * jitter. Pure: unit-tested. */
typedef struct job_facts {
	int64_t id;
	const char *kind;
	int attempt;
	int max_attempts;
	int errors_count;
	int64_t snoozes;
	int64_t started_us;
	int64_t attempted_at_us; /* as fetched */
	int64_t timeout_ms;
	int cancel_reason;
	bool kind_known;
} job_facts;

completion *outcome_build(const job_facts *f, const job_result *r, int64_t now_us, double rand01);

/* River's retry delay in seconds for a job that has errors_count errors
 * recorded before this one: (errors_count + 1)^4, +/- 10 % jitter. */
double retry_delay_s(int errors_count, double rand01);
/* A uniform random number in [0, 1) for that jitter. */
double retry_rand01(void);

/* A retry or snooze due within the scheduler's interval is made available
 * at once (with its scheduled_at) rather than left for the scheduler, as
 * River does with its own SchedulerInterval: set from [maintenance]
 * scheduler_interval at start and on reload (5 s until then). */
void outcome_set_scheduler_interval_ms(int64_t ms);
/* metadata.snoozes as River reads it: gjson's Int() of the member. */
int64_t snoozes_from_metadata(const char *metadata_json);

#endif
