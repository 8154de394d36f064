/* pool.h -- worker threads that run handlers. The loop thread submits jobs;
 * finished jobs come back to the loop through one uv_async. Threads start on
 * demand up to the total worker count and then stay. */
#ifndef SLUICE_POOL_H
#define SLUICE_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "job.h"

typedef void (*pool_done_cb)(job *j, void *arg);

typedef struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *head, *tail; /* submitted, not yet picked up */
	size_t queued;
	size_t nthreads, max_threads, idle;
	pthread_t *threads;
	bool stopping;

	pthread_mutex_t done_mu;
	job *done_head, *done_tail;
	uv_async_t async;
	pool_done_cb on_done;
	void *arg;
} pool;

int pool_init(pool *p, uv_loop_t *loop, size_t max_threads, pool_done_cb on_done, void *arg);
void pool_submit(pool *p, job *j);
/* Stops idle threads and joins them. Threads still inside a handler are
 * detached (the process is exiting without waiting for them). */
void pool_stop(pool *p, bool wait_for_running);
/* After the loop closed the async handle and threads were joined. */
void pool_free(pool *p);

#endif
