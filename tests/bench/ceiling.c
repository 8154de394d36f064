/* ceiling -- the most this database allows for sluice's row work: the
 * daemon's own fetch (SQL_FETCH) and completion (SQL_COMPLETE) statements,
 * with the same parameters and encoding, on two connections that overlap
 * as the daemon's do, with no handler and no threads in between.
 *
 *   ceiling URL BATCH [SCHEMA]   (works the available jobs of queue default)
 *
 * Prints one JSON line: {"batch":B,"jobs":N,"seconds":S,"jobs_per_s":R,
 * "fetch_seconds":F,"completions":C,"complete_seconds":T}: wall time from
 * the first fetch to the last completion, when the fetching ended, and the
 * number and total time of completion statements. (tests/bench/run measures
 * every system from the rows themselves; these say where the time went.) */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "complete.h"
#include "job.h"
#include "migrate.h"
#include "sql.h"
#include "util.h"

typedef struct batch {
	struct batch *next;
	completion *list;
	size_t n;
} batch;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static batch *head, *tail;
static int fetch_done;
static const char *url, *schema = "";
static int64_t complete_us; /* time in completion statements (completer thread) */
static int complete_n;

static PGconn *connect_or_die(void)
{
	PGconn *c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "ceiling: %s", PQerrorMessage(c));
		exit(1);
	}
	PGresult *r = PQexec(c, SQL_SESSION_SETUP); /* as the daemon's connections */
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "ceiling: %s", PQresultErrorMessage(r));
		exit(1);
	}
	PQclear(r);
	return c;
}

static void prepare_or_die(PGconn *c, const char *name, const char *sql)
{
	PGresult *r = PQprepare(c, name, sql, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "ceiling: prepare: %s", PQresultErrorMessage(r));
		exit(1);
	}
	PQclear(r);
}

static void *completer_thread(void *arg)
{
	long long *done = arg;
	PGconn *c = connect_or_die();
	char *sql = sql_render(SQL_COMPLETE, schema);
	prepare_or_die(c, "complete", sql);
	for (;;) {
		/* Take everything queued, up to the daemon's batch limit, as its
		 * completer does when the database is slower than the handlers. */
		pthread_mutex_lock(&mu);
		while (!head && !fetch_done)
			pthread_cond_wait(&cv, &mu);
		batch *b = head;
		if (b) {
			head = b->next;
			while (head && b->n + head->n <= COMPLETE_MAX_BATCH) {
				batch *more = head;
				head = more->next;
				completion *last = b->list;
				while (last->next)
					last = last->next;
				last->next = more->list;
				b->n += more->n;
				free(more);
			}
			if (!head)
				tail = NULL;
		}
		pthread_mutex_unlock(&mu);
		if (!b)
			break;
		sb json = {0};
		completer_encode(&json, b->list, b->n);
		const char *params[] = {sb_str(&json)};
		int64_t t0 = now_us();
		PGresult *r = PQexecPrepared(c, "complete", 1, params, NULL, NULL, 0);
		complete_us += now_us() - t0;
		complete_n++;
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "ceiling: complete: %s", PQresultErrorMessage(r));
			exit(1);
		}
		*done += PQntuples(r);
		PQclear(r);
		sb_free(&json);
		for (completion *k = b->list; k;) {
			completion *next = k->next;
			completion_free(k);
			k = next;
		}
		free(b);
	}
	free(sql);
	PQfinish(c);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: ceiling URL BATCH [SCHEMA]\n");
		return 64;
	}
	url = argv[1];
	int limit = atoi(argv[2]);
	if (argc > 3)
		schema = argv[3];
	PGconn *f = connect_or_die();
	char *sql = sql_render(SQL_FETCH, schema);
	prepare_or_die(f, "fetch", sql);
	char lim[16];
	snprintf(lim, sizeof lim, "%d", limit);
	const char *params[] = {"default", lim, "ceiling"};
	long long done = 0, fetched = 0;
	pthread_t t;
	pthread_create(&t, NULL, completer_thread, &done);
	int64_t t0 = now_us();
	for (;;) {
		PGresult *r = PQexecPrepared(f, "fetch", 3, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "ceiling: fetch: %s", PQresultErrorMessage(r));
			return 1;
		}
		int n = PQntuples(r);
		if (n == 0) {
			PQclear(r);
			break;
		}
		/* What the daemon writes for a completed job. */
		batch *b = xcalloc(1, sizeof *b);
		int64_t now = now_us();
		completion **end = &b->list;
		for (int i = 0; i < n; i++) {
			completion *k = xcalloc(1, sizeof *k);
			k->job_id = strtoll(PQgetvalue(r, i, FC_ID), NULL, 10);
			k->fetched_attempt = atoi(PQgetvalue(r, i, FC_ATTEMPT));
			k->state = "completed";
			k->attempt = -1;
			k->finalized_at_us = now;
			*end = k;
			end = &k->next;
		}
		b->n = (size_t)n;
		fetched += n;
		PQclear(r);
		pthread_mutex_lock(&mu);
		if (tail)
			tail->next = b;
		else
			head = b;
		tail = b;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&mu);
	}
	double fetch_secs = (double)(now_us() - t0) / 1e6;
	pthread_mutex_lock(&mu);
	fetch_done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
	double secs = (double)(now_us() - t0) / 1e6;
	printf("{\"batch\":%d,\"jobs\":%lld,\"seconds\":%.3f,\"jobs_per_s\":%.0f,"
	       "\"fetch_seconds\":%.3f,\"completions\":%d,\"complete_seconds\":%.3f}\n",
	       limit, done, secs, secs > 0 ? (double)done / secs : 0.0, fetch_secs, complete_n,
	       (double)complete_us / 1e6);
	free(sql);
	PQfinish(f);
	return done == fetched ? 0 : 1;
}
