/* migrate.c -- see migrate.h. The migration rows are written the way River's
 * migrator writes them: (version) before version 5 added `line`, then
 * (line, version), so River's own migrator agrees on what is applied. */
#include "migrate.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Serialises concurrent `migrate` runs; an arbitrary constant ("sluice"). */
#define MIGRATE_LOCK_KEY 0x736c75696365LL

char *sql_render(const char *tmpl, const char *schema)
{
	sb b = {0};
	const char *p = tmpl, *hit;
	while ((hit = strstr(p, "{S}"))) {
		sb_putn(&b, p, (size_t)(hit - p));
		if (schema && *schema)
			sb_printf(&b, "\"%s\".", schema);
		p = hit + 3;
	}
	sb_puts(&b, p);
	return sb_take(&b);
}

static PGresult *exec_r(PGconn *conn, const char *schema, const char *tmpl, char *err,
                        size_t errlen)
{
	char *sql = sql_render(tmpl, schema);
	PGresult *r = PQexec(conn, sql);
	free(sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		size_t n = strlen(err);
		while (n && err[n - 1] == '\n')
			err[--n] = '\0';
		PQclear(r);
		return NULL;
	}
	return r;
}

static int exec_ok(PGconn *conn, const char *schema, const char *tmpl, char *err, size_t errlen)
{
	PGresult *r = exec_r(conn, schema, tmpl, err, errlen);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

static bool has_line_column(PGconn *conn, const char *schema, char *err, size_t errlen, int *rc)
{
	PGresult *r = exec_r(conn, schema,
	                     "SELECT count(*) FROM pg_attribute WHERE attrelid = "
	                     "to_regclass('{S}river_migration') AND attname = 'line' AND NOT "
	                     "attisdropped",
	                     err, errlen);
	if (!r) {
		*rc = -1;
		return false;
	}
	bool yes = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
	PQclear(r);
	return yes;
}

int migrate_version(PGconn *conn, const char *schema, int *version, migrate_applied **applied,
                    size_t *napplied, char *err, size_t errlen)
{
	*version = 0;
	if (applied) {
		*applied = NULL;
		*napplied = 0;
	}
	PGresult *r = exec_r(conn, schema, "SELECT to_regclass('{S}river_migration') IS NOT NULL",
	                     err, errlen);
	if (!r)
		return -1;
	bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!exists)
		return 0;
	int rc = 0;
	bool line = has_line_column(conn, schema, err, errlen, &rc);
	if (rc)
		return -1;
	r = exec_r(conn, schema,
	           line ? "SELECT version, to_char(created_at AT TIME ZONE 'UTC', "
	                  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM {S}river_migration WHERE line = "
	                  "'main' ORDER BY version"
	                : "SELECT version, to_char(created_at AT TIME ZONE 'UTC', "
	                  "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM {S}river_migration ORDER BY version",
	           err, errlen);
	if (!r)
		return -1;
	int n = PQntuples(r);
	if (applied && n > 0) {
		*applied = xcalloc((size_t)n, sizeof **applied);
		*napplied = (size_t)n;
	}
	for (int i = 0; i < n; i++) {
		int v = atoi(PQgetvalue(r, i, 0));
		if (v > *version)
			*version = v;
		if (applied) {
			(*applied)[i].version = v;
			snprintf((*applied)[i].created_at, sizeof (*applied)[i].created_at, "%s",
			         PQgetvalue(r, i, 1));
		}
	}
	PQclear(r);
	return 0;
}

static int begin_locked(PGconn *conn, char *err, size_t errlen)
{
	char sql[96];
	if (exec_ok(conn, NULL, "BEGIN", err, errlen) < 0)
		return -1;
	snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", MIGRATE_LOCK_KEY);
	return exec_ok(conn, NULL, sql, err, errlen);
}

static void rollback(PGconn *conn)
{
	PQclear(PQexec(conn, "ROLLBACK"));
}

/* Opens a migration's transaction under the lock and re-reads the version
 * there: another migrator may have run meanwhile. */
static int begin_and_read(PGconn *conn, const char *schema, int *current, char *err,
                          size_t errlen)
{
	if (begin_locked(conn, err, errlen) < 0)
		return -1;
	if (migrate_version(conn, schema, current, NULL, NULL, err, errlen) < 0) {
		rollback(conn);
		return -1;
	}
	return 0;
}

/* Rolls back and prefixes err with the version that failed. */
static int version_failed(PGconn *conn, const migration *m, char *err, size_t errlen)
{
	char msg[512];
	snprintf(msg, sizeof msg, "version %03d (%s): %s", m->version, m->name, err);
	snprintf(err, errlen, "%s", msg);
	rollback(conn);
	return -1;
}

int migrate_up(PGconn *conn, const char *schema, int target, FILE *out, char *err, size_t errlen)
{
	if (schema && *schema) {
		char *sql = NULL;
		sb b = {0};
		sb_printf(&b, "CREATE SCHEMA IF NOT EXISTS \"%s\"", schema);
		sql = sb_take(&b);
		int rc = exec_ok(conn, NULL, sql, err, errlen);
		free(sql);
		if (rc < 0)
			return -1;
	}
	for (size_t i = 0; i < migrations_count; i++) {
		const migration *m = &migrations[i];
		if (m->version > target)
			break;
		int current;
		if (begin_and_read(conn, schema, &current, err, errlen) < 0)
			return -1;
		if (m->version <= current) {
			rollback(conn);
			continue;
		}
		char rec[160];
		snprintf(rec, sizeof rec,
		         m->version < 5 ? "INSERT INTO {S}river_migration (version) VALUES (%d)"
		                        : "INSERT INTO {S}river_migration (line, version) VALUES "
		                          "('main', %d)",
		         m->version);
		if (exec_ok(conn, schema, m->up, err, errlen) < 0 ||
		    exec_ok(conn, schema, rec, err, errlen) < 0 ||
		    exec_ok(conn, NULL, "COMMIT", err, errlen) < 0)
			return version_failed(conn, m, err, errlen);
		if (out)
			fprintf(out, "applied  %03d  %s\n", m->version, m->name);
	}
	return 0;
}

int migrate_down(PGconn *conn, const char *schema, int target, FILE *out, char *err,
                 size_t errlen)
{
	/* As River's migrator: versions this sluice does not have cannot be
	 * reverted, and reverting the ones below them would break the schema
	 * under them. */
	int have;
	if (migrate_version(conn, schema, &have, NULL, NULL, err, errlen) < 0)
		return -1;
	if (have > MIGRATE_LATEST_VERSION && target < have) {
		snprintf(err, errlen,
		         "the database is at version %d, newer than this sluice knows (latest %d): "
		         "revert it with the River tool that applied it",
		         have, MIGRATE_LATEST_VERSION);
		return -1;
	}
	for (size_t i = migrations_count; i-- > 0;) {
		const migration *m = &migrations[i];
		if (m->version <= target)
			break;
		int current;
		if (begin_and_read(conn, schema, &current, err, errlen) < 0)
			return -1;
		if (m->version > current) {
			rollback(conn);
			continue;
		}
		int rc = exec_ok(conn, schema, m->down, err, errlen);
		/* The row goes with its migration; version 1's down drops the table
		 * and version 5's down removes the line column. */
		if (rc == 0 && m->version > 1) {
			int lrc = 0;
			bool line = has_line_column(conn, schema, err, errlen, &lrc);
			char rec[160];
			snprintf(rec, sizeof rec,
			         line ? "DELETE FROM {S}river_migration WHERE line = 'main' AND version = %d"
			              : "DELETE FROM {S}river_migration WHERE version = %d",
			         m->version);
			rc = lrc ? -1 : exec_ok(conn, schema, rec, err, errlen);
		}
		if (rc == 0)
			rc = exec_ok(conn, NULL, "COMMIT", err, errlen);
		if (rc < 0)
			return version_failed(conn, m, err, errlen);
		if (out)
			fprintf(out, "reverted %03d  %s\n", m->version, m->name);
	}
	return 0;
}
