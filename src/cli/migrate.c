/* migrate.c -- `sluice migrate up|down|status`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "migrate.h"
#include "util.h"

static void help(void)
{
	printf("usage: sluice migrate up [--target-version N]\n"
	       "       sluice migrate down [--target-version N] [--force]\n"
	       "       sluice migrate status\n"
	       "\n"
	       "Applies River's schema (migration line main, versions 1-%d), one transaction\n"
	       "per version, recorded in river_migration as River's migrator records it.\n"
	       "[database] schema in the INI selects the schema (created if missing).\n"
	       "\n"
	       "down removes versions above N (default 0: all of River's tables). It refuses\n"
	       "while river_job holds rows unless --force is given.\n",
	       MIGRATE_LATEST_VERSION);
}

static const char *name_of(int version)
{
	for (size_t i = 0; i < migrations_count; i++)
		if (migrations[i].version == version)
			return migrations[i].name;
	return "(unknown to this sluice)";
}

static int status(cli *c, PGconn *conn)
{
	char err[512];
	int v;
	migrate_applied *applied;
	size_t n;
	const char *schema = c->cfg.db_schema;
	if (migrate_version(conn, schema, &v, &applied, &n, err, sizeof err) < 0)
		return cli_fail(1, "%s", err);
	if (c->json) {
		printf("{\"schema\":");
		sb b = {0};
		sb_json_str(&b, *schema ? schema : "");
		printf("%s,\"version\":%d,\"latest\":%d,\"applied\":[", sb_str(&b), v,
		       MIGRATE_LATEST_VERSION);
		sb_free(&b);
		for (size_t i = 0; i < n; i++)
			printf("%s{\"version\":%d,\"created_at\":\"%s\"}", i ? "," : "", applied[i].version,
			       applied[i].created_at);
		printf("]}\n");
	} else {
		printf("River schema (line main)%s%s: version %d, latest %d%s\n", *schema ? " in " : "",
		       schema, v, MIGRATE_LATEST_VERSION,
		       v == MIGRATE_LATEST_VERSION ? " (up to date)"
		       : v > MIGRATE_LATEST_VERSION ? " (newer than this sluice knows)"
		       : v < MIGRATE_MIN_VERSION  ? " (too old for sluiced: run `sluice migrate up`)"
		                                  : " (run `sluice migrate up` to upgrade)");
		for (size_t i = 0; i < migrations_count; i++) {
			const char *at = "pending";
			for (size_t k = 0; k < n; k++)
				if (applied[k].version == migrations[i].version)
					at = applied[k].created_at;
			printf("  %03d  %-20s  %s\n", migrations[i].version, at, migrations[i].name);
		}
		for (size_t k = 0; k < n; k++)
			if (applied[k].version > MIGRATE_LATEST_VERSION)
				printf("  %03d  %-20s  %s\n", applied[k].version, applied[k].created_at,
				       name_of(applied[k].version));
	}
	free(applied);
	return 0;
}

static int job_rows(PGconn *conn, const char *schema, long long *n)
{
	char *sql = sql_render("SELECT CASE WHEN to_regclass('{S}river_job') IS NULL THEN 0 ELSE "
	                       "(SELECT count(*) FROM (SELECT 1 FROM {S}river_job LIMIT 1000000) x) "
	                       "END",
	                       schema);
	PGresult *r = PQexec(conn, sql);
	free(sql);
	int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
	if (rc == 0)
		*n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

int cmd_migrate(cli *c)
{
	int shown = cli_help_first(c, help);
	if (shown >= 0)
		return shown;
	const char *sub = c->argv[1];
	int target = -1;
	bool force = false;
	for (int i = 2; i < c->argc; i++) {
		const char *v;
		if (cli_opt(c->argc, c->argv, &i, "--target-version", &v)) {
			if (cli_int(v, 0, MIGRATE_LATEST_VERSION, &target) < 0)
				return cli_fail(EXIT_USAGE, "--target-version must be 0..%d",
				                MIGRATE_LATEST_VERSION);
		} else if (cli_opt(c->argc, c->argv, &i, "--force", NULL)) {
			force = true;
		} else if (strcmp(c->argv[i], "--help") == 0 || strcmp(c->argv[i], "-h") == 0) {
			help();
			return 0;
		} else {
			return cli_fail(EXIT_USAGE, "migrate %s: unknown argument '%s'", sub, c->argv[i]);
		}
	}
	if (strcmp(sub, "up") != 0 && strcmp(sub, "down") != 0 && strcmp(sub, "status") != 0)
		return cli_fail(EXIT_USAGE, "migrate: unknown subcommand '%s' (up, down, status)", sub);

	PGconn *conn = cli_connect(c);
	if (!conn)
		return EXIT_DB;
	char err[1024];
	int rc = 0;
	const char *schema = c->cfg.db_schema;
	if (strcmp(sub, "status") == 0) {
		rc = status(c, conn);
	} else if (strcmp(sub, "up") == 0) {
		int before;
		if (migrate_version(conn, schema, &before, NULL, NULL, err, sizeof err) < 0 ||
		    migrate_up(conn, schema, target < 0 ? MIGRATE_LATEST_VERSION : target, stdout, err,
		               sizeof err) < 0) {
			rc = cli_fail(1, "migrate up failed: %s", err);
		} else {
			int after;
			migrate_version(conn, schema, &after, NULL, NULL, err, sizeof err);
			printf(after == before ? "already at version %d\n" : "now at version %d\n", after);
		}
	} else {
		long long rows = 0;
		if (target < 0)
			target = 0;
		if (target < 2 && !force) {
			if (job_rows(conn, schema, &rows) < 0) {
				rc = cli_fail(1, "cannot count river_job rows: %s", PQerrorMessage(conn));
			} else if (rows > 0) {
				rc = cli_fail(1,
				              "river_job holds %lld%s rows; removing the schema deletes them. "
				              "Pass --force to go ahead, or --target-version N to stop above 1",
				              rows, rows >= 1000000 ? "+" : "");
			}
		}
		if (rc == 0) {
			int now = 0;
			if (migrate_down(conn, schema, target, stdout, err, sizeof err) < 0 ||
			    migrate_version(conn, schema, &now, NULL, NULL, err, sizeof err) < 0)
				rc = cli_fail(1, "migrate down failed: %s", err);
			else
				printf("now at version %d\n", now);
		}
	}
	PQfinish(conn);
	return rc;
}
