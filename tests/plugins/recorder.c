/* recorder -- the torture test's plugin: every execution is recorded in
 * torture_runs (its own connection per worker thread, from $TORTURE_URL),
 * so the invariant checker can compare what ran with what River's table
 * says. Kinds:
 *   torture.ok     completes
 *   torture.flaky  fails until attempt >= args.ok_at, then completes
 *   torture.fail   always fails (ends discarded at max_attempts)
 *   torture.spawn  enqueues args.children torture.ok jobs, then completes
 *   torture.slow   sleeps args.ms (honouring cancellation), then completes
 *   torture.crash  dies with SIGSEGV (the handler-crash test)            */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/plugin.h>

SLUICE_PLUGIN("recorder", "1")

static const sluice_host *host;
static _Thread_local PGconn *conn;
/* Worker threads end before the daemon exits: each closes its connection. */
static pthread_key_t conn_key;

static void conn_close(void *c) { PQfinish(c); }

static long arg_long(const sluice_job *job, const char *key, long def)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(job->args, pat);
	if (!p) {
		snprintf(pat, sizeof pat, "\"%s\": ", key);
		p = strstr(job->args, pat);
	}
	return p ? strtol(p + strlen(pat), NULL, 10) : def;
}

/* Retried for up to 10 s (PostgreSQL may be restarting): a lost record
 * would show up as an execution the checker cannot see. */
static void record(const sluice_job *job, const char *what)
{
	for (int tries = 0; tries < 100; tries++) {
		if (tries)
			host->sleep_ms(job, 100);
		if (!conn || PQstatus(conn) != CONNECTION_OK) {
			PQfinish(conn);
			conn = PQconnectdb(getenv("TORTURE_URL"));
			pthread_setspecific(conn_key, conn);
		}
		char id[24], att[16];
		snprintf(id, sizeof id, "%lld", (long long)job->id);
		snprintf(att, sizeof att, "%d", job->attempt);
		const char *params[] = {id, att, job->kind, what};
		PGresult *r = PQexecParams(conn,
		                           "INSERT INTO torture_runs (job_id, attempt, kind, what) "
		                           "VALUES ($1, $2, $3, $4)",
		                           4, NULL, params, NULL, NULL, 0);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (ok)
			return;
	}
}

static int work(const sluice_job *job, void *ud)
{
	const char *k = ud;
	record(job, "start");
	/* A real invalid access, not raise(): worker threads block
	 * asynchronous signals, a fault cannot be blocked. */
	if (strcmp(k, "crash") == 0)
		*(volatile int *)(uintptr_t)arg_long(job, "addr", 16) = 1; /* not NULL: UBSan would catch that first */
	if (strcmp(k, "fail") == 0)
		return host->fail(job, "torture failure (attempt %d)", job->attempt);
	if (strcmp(k, "flaky") == 0 && job->attempt < arg_long(job, "ok_at", 2))
		return host->fail(job, "flaky failure (attempt %d)", job->attempt);
	if (strcmp(k, "slow") == 0 && host->sleep_ms(job, arg_long(job, "ms", 50)) == SLUICE_ECANCELED)
		return host->fail(job, "interrupted");
	if (strcmp(k, "spawn") == 0) {
		long n = arg_long(job, "children", 2);
		char meta[64];
		snprintf(meta, sizeof meta, "{\"parent_id\":%lld}", (long long)job->id);
		sluice_enqueue_opts o = {.size = sizeof o, .metadata = meta};
		for (long i = 0; i < n; i++)
			if (host->enqueue(job, "torture.ok", "{\"child\":true}", &o) != 0)
				return host->fail(job, "enqueue refused");
	}
	record(job, "done");
	return SLUICE_OK;
}

int sluice_plugin_init(const sluice_host *h, sluice_plugin *plugin)
{
	static const char *const kinds[] = {"ok", "flaky", "fail", "spawn", "slow", "crash"};
	host = h;
	if (pthread_key_create(&conn_key, conn_close) != 0)
		return -1;
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		char name[32];
		snprintf(name, sizeof name, "torture.%s", kinds[i]);
		sluice_kind k = {.size = sizeof k, .kind = name, .work = work, .userdata = (void *)kinds[i],
		                 .timeout_ms = strcmp(kinds[i], "slow") == 0 ? 2000 : 0};
		int rc = h->register_kind(plugin, &k);
		if (rc)
			return rc;
	}
	return 0;
}

void sluice_plugin_fini(void) { pthread_key_delete(conn_key); }
