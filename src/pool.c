/* pool.c -- see pool.h. */
#include "pool.h"

#include <signal.h>
#include <stdlib.h>

#include "log.h"
#include "registry.h"
#include "util.h"

typedef struct thread_arg {
	pool *p;
} thread_arg;

static void *worker_main(void *arg)
{
	pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->head && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mu);
			p->idle--;
		}
		if (!p->head) { /* stopping */
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		job *j = p->head;
		p->head = j->pool_next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);

		j->pool_next = NULL;
		registry_run(j);

		pthread_mutex_lock(&p->done_mu);
		if (p->done_tail)
			p->done_tail->pool_next = j;
		else
			p->done_head = j;
		p->done_tail = j;
		pthread_mutex_unlock(&p->done_mu);
		uv_async_send(&p->async);
	}
}

static void on_async(uv_async_t *a)
{
	pool *p = a->data;
	pthread_mutex_lock(&p->done_mu);
	job *j = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->done_mu);
	while (j) {
		job *next = j->pool_next;
		j->pool_next = NULL;
		p->on_done(j, p->arg);
		j = next;
	}
}

int pool_init(pool *p, uv_loop_t *loop, size_t max_threads, pool_done_cb on_done, void *arg)
{
	*p = (pool){.max_threads = max_threads, .on_done = on_done, .arg = arg};
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_mutex_init(&p->done_mu, NULL);
	p->threads = xcalloc(max_threads, sizeof *p->threads);
	p->async.data = p;
	return uv_async_init(loop, &p->async, on_async);
}

static void spawn(pool *p)
{
	/* Signals belong to the loop thread: workers start with all blocked. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		p->nthreads++;
	else if (p->nthreads == 0)
		abort(); /* not a single thread: nothing can ever run */
	else
		log_warn("cannot start worker thread; continuing with fewer",
		         LI("threads", p->nthreads));
}

void pool_submit(pool *p, job *j)
{
	pthread_mutex_lock(&p->mu);
	j->pool_next = NULL;
	if (p->tail)
		p->tail->pool_next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	bool need_thread = p->queued > p->idle && p->nthreads < p->max_threads;
	pthread_cond_signal(&p->cv);
	if (need_thread)
		spawn(p);
	pthread_mutex_unlock(&p->mu);
}

void pool_stop(pool *p, bool wait_for_running)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->nthreads; i++) {
		if (wait_for_running)
			pthread_join(p->threads[i], NULL);
		else
			pthread_detach(p->threads[i]);
	}
	p->nthreads = 0;
}

void pool_free(pool *p)
{
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->done_mu);
	free(p->threads);
	p->threads = NULL;
}
