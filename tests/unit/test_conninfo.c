/* Connection strings: passwords stay out of the messages libpq quotes
 * them in, and a string libpq cannot parse is a config error. */
#include "conninfo.h"
#include "unit.h"

#include <libpq-fe.h>
#include <stdlib.h>

static void redacts_url_password(void)
{
	const char *url = "postgresql://ada:SeCrEt%zz@db.example/app";
	char *m = conninfo_redact(url, "invalid percent-encoded token: \"SeCrEt%zz\"\n");
	CHECK_STR(m, "invalid percent-encoded token: \"***\"\n");
	free(m);
	/* the decoded form too, and every occurrence */
	m = conninfo_redact("postgres://ada:p%40ss@h/d", "p@ss and p%40ss and p@ss");
	CHECK_STR(m, "*** and *** and ***");
	free(m);
	/* in the query string */
	m = conninfo_redact("postgresql:///app?user=ada&password=hunter2&sslmode=require",
	                    "bad hunter2 here");
	CHECK_STR(m, "bad *** here");
	free(m);
	/* no password: unchanged; a user name is not redacted */
	m = conninfo_redact("postgresql://ada@h/app", "role \"ada\" does not exist");
	CHECK_STR(m, "role \"ada\" does not exist");
	free(m);
}

static void redacts_keyword_password(void)
{
	/* libpq quotes with '...' and escapes with a backslash */
	char *m = conninfo_redact("host=h password = 'it\\'s quoted' dbname=x",
	                          "x 'it\\'s quoted' y");
	CHECK_STR(m, "x '***' y");
	free(m);
	m = conninfo_redact("dbname=x password=plain123 host=h", "plain123!");
	CHECK_STR(m, "***!");
	free(m);
	/* "password" as part of a value is not the keyword */
	m = conninfo_redact("application_name=password dbname=x", "password dbname");
	CHECK_STR(m, "password dbname");
	free(m);
}

static void check_rejects_without_echo(void)
{
	char err[512];
	CHECK(conninfo_check("postgresql://ada:SeCrEt%zz@db.example/app", err, sizeof err) < 0);
	CHECK(strstr(err, "SeCrEt") == NULL);
	CHECK(strstr(err, "percent-encoded") != NULL);
	CHECK(conninfo_check("host=h password=abcdef nonsense", err, sizeof err) < 0);
	CHECK(strstr(err, "abcdef") == NULL);
	CHECK(conninfo_check("postgresql://ada:ok@h:5432/app?sslmode=disable", err, sizeof err) == 0);
	CHECK(conninfo_check("host=/tmp dbname=x", err, sizeof err) == 0);
}

/* The options a connection starts with (no server needed: PQconninfo
 * reads them off the connection object). */
static const char *opt(PQconninfoOption *o, const char *key)
{
	for (; o->keyword; o++)
		if (strcmp(o->keyword, key) == 0)
			return o->val ? o->val : "";
	return "(none)";
}

/* Starts a connection to url and checks its options against pairs of
 * key and value, NULL-ended. */
static void check_options(const char *url, const char *const *kv)
{
	PGconn *c = conninfo_connect_start(url);
	PQconninfoOption *o = PQconninfo(c);
	for (; kv[0]; kv += 2) {
		if (strcmp(opt(o, kv[0]), kv[1]) != 0)
			fprintf(stderr, "  %s: %s\n", url, kv[0]);
		CHECK_STR(opt(o, kv[0]), kv[1]);
	}
	PQconninfoFree(o);
	PQfinish(c);
}

static void connections_default_to_keepalives(void)
{
	check_options("postgresql://127.0.0.1:1/app",
	              (const char *const[]){"keepalives_idle", "30", "keepalives_interval", "10",
	                                    "keepalives_count", "3", "tcp_user_timeout", "60000",
	                                    "fallback_application_name", "sluiced", "dbname", "app",
	                                    NULL});
	/* what the URL or key=value string sets wins */
	check_options("postgresql://127.0.0.1:1/app?keepalives_idle=5&tcp_user_timeout=0",
	              (const char *const[]){"keepalives_idle", "5", "tcp_user_timeout", "0",
	                                    "keepalives_count", "3", NULL});
	check_options("host=127.0.0.1 port=1 keepalives=0 application_name=mine",
	              (const char *const[]){"keepalives", "0", "application_name", "mine", NULL});
}

UNIT_MAIN(UNIT(redacts_url_password), UNIT(redacts_keyword_password),
          UNIT(check_rejects_without_echo), UNIT(connections_default_to_keepalives))
