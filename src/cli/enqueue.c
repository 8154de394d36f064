/* enqueue.c -- `sluice enqueue KIND [ARGS]`: one job, through the same
 * insert hooks and key rules as the daemon, inserted River's way (unique
 * keys honoured, NOTIFY for available jobs). */
#include <ctype.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "encrypt.h"
#include "hooks.h"
#include "insert.h"
#include "json.h"
#include "migrate.h"
#include "registry.h"
#include "sql.h"
#include "util.h"

/* Rows per INSERT statement when reading stdin. */
#define STDIN_BATCH 1000

static void help(void)
{
	printf("usage: sluice enqueue KIND [ARGS_JSON] [options]\n"
	       "\n"
	       "Inserts one job (ARGS_JSON defaults to {}). Args are encrypted when\n"
	       "[encryption] says so for KIND; the job is announced on <schema>.river_insert.\n"
	       "\n"
	       "  --queue NAME            queue (default: default)\n"
	       "  --priority N            1 (highest) .. 4 (default 1)\n"
	       "  --max-attempts N        default 25\n"
	       "  --scheduled-at TIME     RFC 3339 time, or +DURATION (e.g. +10m)\n"
	       "  --tags a,b              tags\n"
	       "  --metadata JSON         a JSON object\n"
	       "  --unique                unique by kind (River's unique options:)\n"
	       "  --unique-by-args        ... and args\n"
	       "  --unique-by-queue       ... and queue\n"
	       "  --unique-period DUR     ... within periods of DUR (e.g. 1h)\n"
	       "  --no-encrypt            store plaintext (refused for strict kinds)\n"
	       "\n"
	       "sluice enqueue --stdin [KIND] [options]\n"
	       "  Reads JSON lines from stdin: with KIND, each line is one job's args;\n"
	       "  without, each line is {\"kind\": ..., \"args\": {...}} with optional queue,\n"
	       "  priority, max_attempts, scheduled_at (RFC 3339), tags, metadata. The options\n"
	       "  above are defaults for every line. Everything goes in one transaction, %d\n"
	       "  rows per statement: a bad line inserts nothing and names its line number.\n"
	       "\n"
	       "Exit codes: 0 inserted (or skipped as a unique duplicate), 1 refused or failed,\n"
	       "64 bad usage, 69 database unreachable, 78 configuration error.\n",
	       STDIN_BATCH);
}

/* RFC 3339 ("2026-11-23T12:00:00Z", "...+02:00", fractions) or +DURATION. */
static int parse_time(const char *v, int64_t now, int64_t *out)
{
	if (v[0] == '+') {
		int64_t ms;
		const char *err;
		if (parse_duration_ms(v + 1, &ms, &err) < 0)
			return -1;
		*out = now + ms * 1000;
		return 0;
	}
	struct tm tm = {0};
	int n = 0;
	if (sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	           &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	/* timegm() would roll 2026-13-40 over into 2027 */
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	const char *p = v + n;
	int64_t frac = 0, scale = 100000;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += scale ? (*p - '0') * scale : 0;
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		/* exactly +HH:MM (sscanf would take +2:00 and p + 6 pass the end) */
		if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) || p[3] != ':' ||
		    !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]))
			return -1;
		int oh = (p[1] - '0') * 10 + (p[2] - '0'), om = (p[4] - '0') * 10 + (p[5] - '0');
		if (oh > 23 || om > 59)
			return -1;
		off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
		p += 6;
	} else
		return -1;
	if (*p)
		return -1;
	*out = ((int64_t)timegm(&tm) - off) * 1000000 + frac;
	return 0;
}

char *cli_channel(cli *c, PGconn *conn, const char *name)
{
	sb b = {0};
	if (*c->cfg.db_schema) {
		sb_printf(&b, "%s.%s", c->cfg.db_schema, name);
		return sb_take(&b);
	}
	PGresult *r = PQexec(conn, "SELECT coalesce(current_schema(), '')");
	const char *s = PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "";
	sb_printf(&b, "%s%s%s", s, *s ? "." : "", name);
	PQclear(r);
	return sb_take(&b);
}

int cli_setup_hooks(cli *c)
{
	char err[1024];
	if (registry_load(c->cfg.plugins, err, sizeof err) < 0)
		return cli_fail(CFG_EXIT_CONFIG, "[worker] plugins: %s", err);
	cfg_errors errs = {0};
	if (cfg_check_algorithm(&c->cfg, &errs) < 0) {
		cfg_errors_print(&errs);
		cfg_errors_free(&errs);
		return CFG_EXIT_CONFIG;
	}
	enc_install(enc_policy_from(&c->cfg));
	hooks_set_max_args((size_t)c->cfg.max_args_size);
	return 0;
}

/* A positive integer member as written, else -1: insert_prepare reads 0 as
 * "the default", and 0 written is out of range. */
static int positive_int(json_object *v)
{
	int64_t n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
	return n > 0 && n <= INT_MAX ? (int)n : -1;
}

/* A stdin line that is a whole job: {"kind": ..., "args": {...}, ...}, the
 * command-line options giving defaults. */
static int object_line(const char *line, const sluice_enqueue_opts *defaults, int flags,
                       int64_t now, insert_job **out, char *err, size_t errlen)
{
	/* Strictly one object: json-c stops at the end of the first value and
	 * would take {"kind":"a"}{"kind":"b"} or {...} junk as the first. */
	json_object *o = json_check(line, strlen(line)) == JK_OBJECT ? json_tokener_parse(line) : NULL, *v;
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		snprintf(err, errlen, "not a JSON object (want {\"kind\": ..., \"args\": {...}})");
		return -1;
	}
	sluice_enqueue_opts opt = *defaults;
	const char *kind = json_object_object_get_ex(o, "kind", &v) && json_object_is_type(v, json_type_string)
	                       ? json_object_get_string(v)
	                       : NULL;
	const char *args = json_object_object_get_ex(o, "args", &v)
	                       ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	                                                                JSON_C_TO_STRING_NOSLASHESCAPE)
	                       : "{}";
	int rc = 0;
	if (json_object_object_get_ex(o, "queue", &v))
		opt.queue = json_object_get_string(v);
	if (json_object_object_get_ex(o, "priority", &v))
		opt.priority = positive_int(v);
	if (json_object_object_get_ex(o, "max_attempts", &v))
		opt.max_attempts = positive_int(v);
	if (json_object_object_get_ex(o, "tags", &v))
		opt.tags = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	if (json_object_object_get_ex(o, "metadata", &v))
		opt.metadata = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	if (json_object_object_get_ex(o, "scheduled_at", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     parse_time(json_object_get_string(v), now, &opt.scheduled_at_us) < 0)) {
		snprintf(err, errlen, "scheduled_at: want an RFC 3339 time or +DURATION");
		rc = -1;
	}
	if (rc == 0 && !kind) {
		snprintf(err, errlen, "no \"kind\"");
		rc = -1;
	}
	if (rc == 0)
		rc = insert_prepare(kind, args, &opt, now, flags, out, err, errlen);
	json_object_put(o);
	return rc;
}

static int exec_ok(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		cli_fail(1, "%s", str_trim(PQresultErrorMessage(r)));
	PQclear(r);
	return ok ? 0 : -1;
}

/* Sends one batch; adds the rows inserted to *inserted. */
static int send_batch(PGconn *conn, const char *sql, sb *rows, const char *channel,
                      long long *inserted)
{
	sb_putc(rows, ']');
	const char *params[] = {sb_str(rows), channel};
	PGresult *r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	int rc = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = cli_fail(1, "insert failed: %s; nothing inserted", str_trim(PQresultErrorMessage(r)));
	else
		*inserted += PQntuples(r);
	PQclear(r);
	sb_reset(rows);
	sb_putc(rows, '[');
	return rc;
}

static int enqueue_stdin(cli *c, const char *kind, const sluice_enqueue_opts *defaults, int flags)
{
	PGconn *conn = cli_connect(c);
	if (!conn)
		return EXIT_DB;
	char *channel = cli_channel(c, conn, "river_insert");
	char *sql = sql_render(SQL_INSERT_JOBS, c->cfg.db_schema);
	bool tty = isatty(STDERR_FILENO);
	int rc = exec_ok(conn, "BEGIN") < 0 ? 1 : 0;
	sb rows = {0};
	sb_putc(&rows, '[');
	long long lineno = 0, queued = 0, inserted = 0, encrypted = 0;
	char *line = NULL, kid[33] = "", err[512];
	size_t cap = 0;
	ssize_t n;
	int64_t t0 = now_us();
	while (rc == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!*str_trim(line))
			continue;
		insert_job *j;
		int64_t now = now_us();
		int prc = kind ? insert_prepare(kind, line, defaults, now, flags, &j, err, sizeof err)
		               : object_line(line, defaults, flags, now, &j, err, sizeof err);
		if (prc < 0) {
			rc = cli_fail(1, "stdin line %lld: %s; nothing inserted", lineno, err);
			break;
		}
		if (enc_key_id_of(j->args, strlen(j->args), kid) == 1)
			encrypted++;
		if (rows.len > 1)
			sb_putc(&rows, ',');
		insert_encode(&rows, j, 0);
		insert_free(j);
		if (++queued % STDIN_BATCH == 0) {
			rc = send_batch(conn, sql, &rows, channel, &inserted);
			if (tty && queued % (STDIN_BATCH * 10) == 0)
				fprintf(stderr, "\r%lld jobs...", queued);
		}
	}
	free(line);
	if (rc == 0 && rows.len > 1)
		rc = send_batch(conn, sql, &rows, channel, &inserted);
	if (rc == 0)
		rc = exec_ok(conn, "COMMIT") < 0 ? 1 : 0;
	else
		PQclear(PQexec(conn, "ROLLBACK"));
	if (tty && queued >= STDIN_BATCH * 10)
		fputc('\n', stderr);
	double secs = (double)(now_us() - t0) / 1e6;
	if (rc == 0) {
		if (c->json)
			printf("{\"inserted\":%lld,\"skipped_unique\":%lld,\"encrypted\":%lld,"
			       "\"seconds\":%.3f}\n",
			       inserted, queued - inserted, encrypted, secs);
		else
			printf("inserted %lld jobs (%lld skipped as unique duplicates, %lld encrypted%s%s) "
			       "in %.2fs, %.0f/s\n",
			       inserted, queued - inserted, encrypted, encrypted ? " with key " : "",
			       encrypted ? kid : "", secs, secs > 0 ? (double)queued / secs : 0.0);
	}
	sb_free(&rows);
	free(sql);
	free(channel);
	PQfinish(conn);
	return rc;
}

/* A bad command line: frees what the parse built so far, exits 64. */
__attribute__((format(printf, 2, 3))) static int usage(char *tags, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	free(tags);
	return cli_fail(EXIT_USAGE, "%s", msg);
}

int cmd_enqueue(cli *c)
{
	const char *kind = NULL, *args = NULL, *v;
	sluice_enqueue_opts o = {.size = sizeof o};
	int flags = 0;
	bool from_stdin = false;
	char *tags = NULL;
	int64_t now = now_us();
	for (int i = 1; i < c->argc; i++) {
		const char *a = c->argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help();
			return 0;
		} else if (cli_opt(c->argc, c->argv, &i, "--queue", &v)) {
			if (!v)
				return usage(tags, "--queue needs a queue name");
			o.queue = v;
		} else if (cli_opt(c->argc, c->argv, &i, "--priority", &v)) {
			if (cli_int(v, 1, 4, &o.priority) < 0)
				return usage(tags, "--priority must be 1..4; nothing inserted");
		} else if (cli_opt(c->argc, c->argv, &i, "--max-attempts", &v)) {
			if (cli_int(v, 1, 32767, &o.max_attempts) < 0)
				return usage(tags, "--max-attempts must be 1..32767; nothing inserted");
		} else if (cli_opt(c->argc, c->argv, &i, "--scheduled-at", &v)) {
			if (!v || parse_time(v, now, &o.scheduled_at_us) < 0)
				return usage(tags, "--scheduled-at: want an RFC 3339 time or +DURATION");
		} else if (cli_opt(c->argc, c->argv, &i, "--tags", &v)) {
			if (!v)
				return usage(tags, "--tags needs a comma-separated list");
			char **t;
			strv_split(v, ',', &t);
			sb b = {0};
			sb_putc(&b, '[');
			for (char **p = t; *p; p++) {
				if (p != t)
					sb_putc(&b, ',');
				sb_json_str(&b, *p);
			}
			sb_putc(&b, ']');
			strv_free(t);
			free(tags);
			tags = sb_take(&b);
			o.tags = tags;
		} else if (cli_opt(c->argc, c->argv, &i, "--metadata", &v)) {
			if (!v)
				return usage(tags, "--metadata needs a JSON object");
			o.metadata = v;
		} else if (cli_opt(c->argc, c->argv, &i, "--unique", NULL)) {
			o.unique |= SLUICE_UNIQUE_BY_KIND;
		} else if (cli_opt(c->argc, c->argv, &i, "--unique-by-args", NULL)) {
			o.unique |= SLUICE_UNIQUE_BY_ARGS;
		} else if (cli_opt(c->argc, c->argv, &i, "--unique-by-queue", NULL)) {
			o.unique |= SLUICE_UNIQUE_BY_QUEUE;
		} else if (cli_opt(c->argc, c->argv, &i, "--unique-period", &v)) {
			int64_t ms;
			const char *err;
			if (!v || parse_duration_ms(v, &ms, &err) < 0 || ms < 1000)
				return usage(tags, "--unique-period: want a duration of at least 1s");
			o.unique |= SLUICE_UNIQUE_BY_PERIOD;
			o.unique_period_s = ms / 1000;
		} else if (cli_opt(c->argc, c->argv, &i, "--no-encrypt", NULL)) {
			flags |= INSERT_NO_ENCRYPT;
		} else if (cli_opt(c->argc, c->argv, &i, "--stdin", NULL)) {
			from_stdin = true;
		} else if (a[0] == '-' && a[1]) {
			return usage(tags, "enqueue: unknown option '%s'", a);
		} else if (!kind) {
			kind = a;
		} else if (!args) {
			args = a;
		} else {
			return usage(tags, "enqueue: too many arguments");
		}
	}
	if (!kind && !from_stdin) {
		free(tags);
		help();
		return EXIT_USAGE;
	}
	if (from_stdin && args)
		return usage(tags, "enqueue --stdin takes args from stdin, not the command line");
	int rc = cli_setup_hooks(c);
	if (rc) {
		free(tags);
		return rc;
	}
	if (from_stdin) {
		rc = enqueue_stdin(c, kind, &o, flags);
		free(tags);
		enc_shutdown();
		registry_unload();
		return rc;
	}
	char err[512];
	insert_job *j;
	if (insert_prepare(kind, args ? args : "{}", &o, now, flags, &j, err, sizeof err) < 0) {
		free(tags);
		return cli_fail(1, "%s; nothing inserted", err);
	}
	free(tags);
	PGconn *conn = cli_connect(c);
	if (!conn) {
		insert_free(j);
		return EXIT_DB;
	}
	char *channel = cli_channel(c, conn, "river_insert");
	sb b = {0};
	sb_putc(&b, '[');
	insert_encode(&b, j, 0);
	sb_putc(&b, ']');
	char *sql = sql_render(SQL_INSERT_JOBS, c->cfg.db_schema);
	const char *params[] = {sb_str(&b), channel};
	PGresult *r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = cli_fail(1, "insert failed: %s", str_trim(PQresultErrorMessage(r)));
	} else if (PQntuples(r) == 0) {
		if (c->json)
			printf("{\"inserted\":false,\"reason\":\"unique duplicate\"}\n");
		else
			printf("skipped: a job with the same unique key exists\n");
	} else {
		char kid[33] = "";
		bool enc = enc_key_id_of(j->args, strlen(j->args), kid) == 1;
		if (c->json)
			printf("{\"inserted\":true,\"id\":%s,\"kind\":\"%s\",\"queue\":\"%s\",\"state\":\"%s\","
			       "\"encrypted\":%s%s%s%s}\n",
			       PQgetvalue(r, 0, 0), j->kind, j->queue,
			       j->scheduled ? "scheduled" : "available", enc ? "true" : "false",
			       enc ? ",\"key_id\":\"" : "", kid, enc ? "\"" : "");
		else
			printf("enqueued job %s (%s, queue %s, %s%s%s)\n", PQgetvalue(r, 0, 0), j->kind,
			       j->queue, j->scheduled ? "scheduled" : "available",
			       enc ? ", encrypted with key " : ", not encrypted", kid);
	}
	PQclear(r);
	free(sql);
	sb_free(&b);
	free(channel);
	insert_free(j);
	PQfinish(conn);
	enc_shutdown();
	registry_unload();
	return rc;
}
