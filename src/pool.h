/* pool.h -- worker threads that run handlers. The loop thread submits the
 * jobs of a fetch as one batch; finished jobs come back through one
 * uv_async. Threads start as the work needs them: up to one per CPU at
 * once, more only when queued jobs wait (handlers that block), up to the
 * total worker count; then they stay. */
#ifndef SLUICE_POOL_H
#define SLUICE_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "job.h"

typedef void (*pool_done_cb)(job *j, void *arg);

typedef struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *head, *tail; /* submitted, not yet picked up */
	size_t queued;
	uint64_t head_since_ms; /* since when the head job has been at the head (reset as it moves) */
	size_t nthreads, max_threads, eager_threads, idle;
	size_t starting; /* created, not yet waiting for a job (under mu) */
	pthread_t *threads;
	bool stopping;

	pthread_mutex_t done_mu;
	job *done_head, *done_tail;
	uv_async_t async;
	uv_timer_t stall; /* watches for queued jobs nobody picks up */
	pool_done_cb on_done;
	void *arg;
} pool;

int pool_init(pool *p, uv_loop_t *loop, size_t max_threads, pool_done_cb on_done, void *arg);
/* Hands the finished jobs to on_done now (the uv_async does it otherwise). */
void pool_collect(pool *p);
/* Submits a list of n jobs linked by pool_next. */
void pool_submit(pool *p, job *first, size_t n);
/* Stops idle threads and joins them. Threads still inside a handler are
 * detached (the process is exiting without waiting for them). */
void pool_stop(pool *p, bool wait_for_running);
/* After the loop closed the handles and threads were joined. */
void pool_free(pool *p);

#endif
