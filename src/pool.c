/* pool.c -- see pool.h. Thread count matters: every thread beyond what the
 * handlers need adds lock contention and wake-ups that take CPU from
 * PostgreSQL on the same machine, so quick handlers run on about one thread
 * per CPU, and blocking ones get threads as their jobs start to wait. */
#include "pool.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "registry.h"
#include "util.h"

/* A queued job waiting this long with no idle thread means the handlers
 * block: start more threads. Above a scheduler time slice: on a machine
 * shared with PostgreSQL a worker preempted for 2-4 ms is not blocked, and
 * at 2 ms quick handlers were seen ramping up to 67 threads. */
#define STALL_MS 10
/* Threads started per stall check, so a burst of sleepers ramps up fast
 * without a thread per job of a burst of quick ones. */
#define SPAWN_PER_CHECK 32
/* A job queued this long with no idle thread also means more threads are
 * needed, even while the head keeps moving: handlers that block for a few
 * milliseconds each move it more often than STALL_MS, yet leave a fetch's
 * jobs waiting ever longer on the threads there are. Long enough that a
 * fetch of quick jobs (microseconds each) drains well within it. */
#define QUEUE_WAIT_MS 50

static void *worker_main(void *arg)
{
	pool *p = arg;
	pthread_mutex_lock(&p->mu);
	p->starting--;
	for (;;) {
		while (!p->head && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mu);
			p->idle--;
		}
		if (!p->head)
			break; /* stopping */
		job *j = p->head;
		p->head = j->pool_next;
		if (!p->head)
			p->tail = NULL;
		else
			p->head_since_ms = mono_ms();
		p->queued--;
		pthread_mutex_unlock(&p->mu);

		j->pool_next = NULL;
		atomic_store(&j->picked_ms, mono_ms()); /* its timeout counts from here */
		registry_run(j);

		pthread_mutex_lock(&p->done_mu);
		if (p->done_tail)
			p->done_tail->pool_next = j;
		else
			p->done_head = j;
		p->done_tail = j;
		pthread_mutex_unlock(&p->done_mu);
		uv_async_send(&p->async);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void on_async(uv_async_t *a) { pool_collect(a->data); }

void pool_collect(pool *p)
{
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

/* Starts `n` threads reserved (counted as starting) by reserve(). On the
 * loop thread, without p->mu: threads[] and nthreads are the loop thread's
 * alone, and a new thread takes a while to create (far longer under a
 * sanitizer), during which workers must still take jobs. */
static void start_threads(pool *p, size_t n)
{
	if (!n)
		return;
	/* Signals belong to the loop thread: workers start with all blocked. */
	sigset_t all, old;
	sigfillset(&all);
	/* Faults stay deliverable so the crash report can name the job (a
	 * blocked SIGSEGV is reset to the default action by the kernel). */
	static const int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	for (size_t i = 0; i < sizeof faults / sizeof *faults; i++)
		sigdelset(&all, faults[i]);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; n; n--) {
		if (pthread_create(&p->threads[p->nthreads], NULL, worker_main, p) != 0) {
			if (p->nthreads == 0)
				abort(); /* not a single thread: nothing can ever run */
			log_warn("cannot start worker thread; continuing with fewer",
			         LI("threads", (int64_t)p->nthreads));
			pthread_mutex_lock(&p->mu);
			p->starting -= n; /* reserved, never to start */
			pthread_mutex_unlock(&p->mu);
			break;
		}
		p->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* How many of `want` threads may start (with p->mu held), counted as
 * starting until each takes the lock. on_stall_check starts none while any
 * is still starting, so a thread's start-up time (long on a loaded machine,
 * longer under a sanitizer) is not read as handlers still blocking. */
static size_t reserve(pool *p, size_t want)
{
	size_t room = p->max_threads - p->nthreads;
	size_t n = want < room ? want : room;
	p->starting += n;
	return n;
}

/* One-shot, re-armed for when the job now at the head would have waited
 * STALL_MS: a stall is seen on time, while a burst of quick jobs (whose
 * head keeps moving) wakes the loop about once per STALL_MS, not every
 * millisecond. */
static void on_stall_check(uv_timer_t *t)
{
	pool *p = t->data;
	uint64_t next = 0;
	size_t more = 0;
	pthread_mutex_lock(&p->mu);
	if (p->head) {
		uint64_t now = mono_ms(), waited = now - p->head_since_ms;
		uint64_t queued = now - p->head->queued_ms;
		if (waited < STALL_MS && queued < QUEUE_WAIT_MS) {
			next = STALL_MS - waited;
			if (QUEUE_WAIT_MS - queued < next)
				next = QUEUE_WAIT_MS - queued;
		} else {
			if (p->idle == 0 && p->starting == 0)
				more = reserve(p, p->queued < SPAWN_PER_CHECK ? p->queued : SPAWN_PER_CHECK);
			next = STALL_MS;
		}
	}
	pthread_mutex_unlock(&p->mu);
	start_threads(p, more);
	if (next)
		uv_timer_start(t, on_stall_check, next, 0);
}

int pool_init(pool *p, uv_loop_t *loop, size_t max_threads, pool_done_cb on_done, void *arg)
{
	*p = (pool){.max_threads = max_threads, .on_done = on_done, .arg = arg};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	p->eager_threads = cpus > 0 ? (size_t)cpus : 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_mutex_init(&p->done_mu, NULL);
	p->threads = xcalloc(max_threads, sizeof *p->threads);
	p->async.data = p;
	uv_timer_init(loop, &p->stall);
	p->stall.data = p;
	return uv_async_init(loop, &p->async, on_async);
}

void pool_submit(pool *p, job *first, size_t n)
{
	if (!n)
		return;
	uint64_t now = mono_ms();
	job *last = first;
	for (first->queued_ms = now; last->pool_next; last = last->pool_next)
		last->pool_next->queued_ms = now;
	pthread_mutex_lock(&p->mu);
	if (!p->head)
		p->head_since_ms = now;
	if (p->tail)
		p->tail->pool_next = first;
	else
		p->head = first;
	p->tail = last;
	p->queued += n;
	/* Up to one thread per CPU straight away; more only on a stall. */
	size_t more = 0;
	if (p->queued > p->idle && p->nthreads < p->eager_threads) {
		size_t want = p->queued - p->idle;
		size_t room = p->eager_threads - p->nthreads;
		more = reserve(p, want < room ? want : room);
	}
	if (n >= p->idle)
		pthread_cond_broadcast(&p->cv);
	else
		for (size_t i = 0; i < n; i++)
			pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	start_threads(p, more);
	if (!uv_is_active((uv_handle_t *)&p->stall))
		uv_timer_start(&p->stall, on_stall_check, STALL_MS, 0);
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
