/* config.c -- INI loading. inih does the tokenising; this file owns the key
 * table, defaults, value parsing and the cross-key checks. inih gives no line
 * numbers to handlers in Debian's build, so the reader counts them. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conninfo.h"
#include "crypto.h"
#include "encrypt.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "periodic.h"
#include "util.h"

/* Upper bound on per-queue workers: each running job holds a thread. */
#define MAX_QUEUE_WORKERS 10000
#define MAX_LINE 8192

typedef struct key_def key_def;
typedef int (*parse_fn)(const key_def *k, const char *val, void *dst, const char **err);

struct key_def {
	const char *section;
	const char *name;
	parse_fn parse;
	size_t off;
	const char *def; /* default, as it would be written in the file */
	int64_t min, max;
};

#define OFF(f) offsetof(cfg, f)

/* Longest time limit, horizon or retention: 100 years. Far longer ones
 * put now() minus them outside PostgreSQL's timestamps, and every rescue
 * or clean would fail. */
#define DURATION_MAX_MS (36500LL * 86400000)

static int p_string(const key_def *k, const char *val, void *dst, const char **err);
static int p_duration(const key_def *k, const char *val, void *dst, const char **err);
static int p_level(const key_def *k, const char *val, void *dst, const char **err);
static int p_queues(const key_def *k, const char *val, void *dst, const char **err);
static int p_list(const key_def *k, const char *val, void *dst, const char **err);
static int p_enc_mode(const key_def *k, const char *val, void *dst, const char **err);
static int p_keys(const key_def *k, const char *val, void *dst, const char **err);
static int p_bool(const key_def *k, const char *val, void *dst, const char **err);
static int p_retention(const key_def *k, const char *val, void *dst, const char **err);
static int p_listen(const key_def *k, const char *val, void *dst, const char **err);
static int p_size(const key_def *k, const char *val, void *dst, const char **err);
static int p_schedule(const key_def *k, const char *val, void *dst, const char **err);

/* Every key sluice reads. config/sluice.ini documents each one. */
static const key_def keys[] = {
    {"database", "url", p_string, OFF(db_url), "", 0, 0},
    {"database", "schema", p_string, OFF(db_schema), "", 0, 0},
    {"worker", "id", p_string, OFF(worker_id), "", 0, 0},
    {"worker", "queues", p_queues, 0, "default=100", 0, 0},
    {"worker", "plugins", p_list, OFF(plugins), "", 0, 0},
    {"worker", "poll_interval", p_duration, OFF(poll_interval_ms), "1s", 10, 3600000},
    {"worker", "fetch_cooldown", p_duration, OFF(fetch_cooldown_ms), "100ms", 0, 60000},
    {"worker", "job_timeout", p_duration, OFF(job_timeout_ms), "60s", 0, DURATION_MAX_MS},
    {"worker", "shutdown_timeout", p_duration, OFF(shutdown_timeout_ms), "30s", 0, 86400000},
    {"worker", "max_args_size", p_size, OFF(max_args_size), "16MB", 64, 1LL << 30},
    {"log", "level", p_level, OFF(log_level), "info", 0, 0},
    {"encryption", "mode", p_enc_mode, OFF(enc_mode), "", 0, 0},
    {"encryption", "algorithm", p_string, OFF(enc_algorithm), "xchacha20poly1305", 0, 0},
    {"encryption", "keys", p_keys, 0, "", 0, 0},
    {"encryption", "kinds_include", p_list, OFF(kinds_include), "", 0, 0},
    {"encryption", "kinds_exclude", p_list, OFF(kinds_exclude), "", 0, 0},
    {"encryption", "strict_kinds", p_list, OFF(strict_kinds), "", 0, 0},
    {"maintenance", "enabled", p_bool, OFF(maint_enabled), "true", 0, 0},
    {"maintenance", "rescue_after", p_duration, OFF(rescue_after_ms), "1h", 1000, DURATION_MAX_MS},
    {"maintenance", "scheduler_interval", p_duration, OFF(scheduler_interval_ms), "5s", 100, 3600000},
    {"maintenance", "rescuer_interval", p_duration, OFF(rescuer_interval_ms), "30s", 100, 86400000},
    {"maintenance", "cleaner_interval", p_duration, OFF(cleaner_interval_ms), "30s", 100, 86400000},
    {"maintenance", "completed_retention", p_retention, OFF(completed_retention_ms), "24h", 0, DURATION_MAX_MS},
    {"maintenance", "cancelled_retention", p_retention, OFF(cancelled_retention_ms), "24h", 0, DURATION_MAX_MS},
    {"maintenance", "discarded_retention", p_retention, OFF(discarded_retention_ms), "7d", 0, DURATION_MAX_MS},
    {"maintenance", "reindex_schedule", p_schedule, 0, "@daily", 0, 0},
    {"maintenance", "reindex_timeout", p_duration, OFF(reindex_timeout_ms), "1m", 0, 86400000},
    {"metrics", "listen", p_listen, OFF(metrics_listen), "", 0, 0},
};

enum { NKEYS = ARRAY_LEN(keys) };

static const char *const sections[] = {"database", "worker",      "log",
                                       "encryption", "maintenance", "metrics", "periodic"};

/* "" until validation picks encrypt (keys given) or off. */
#define ENC_MODE_AUTO (-1)

static void errors_push(cfg_errors *e, int line, const char *msg)
{
	e->v = xrealloc(e->v, (e->n + 1) * sizeof *e->v);
	e->line = xrealloc(e->line, (e->n + 1) * sizeof *e->line);
	e->line[e->n] = line;
	e->v[e->n++] = xstrdup(msg);
}

void cfg_errors_add(cfg_errors *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char buf[1024];
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	errors_push(e, 0, buf);
}

/* Stable by line, from index `from` on (earlier errors are another file's). */
static void errors_sort(cfg_errors *e, size_t from)
{
	for (size_t i = from + 1; i < e->n; i++)
		for (size_t j = i; j > from && e->line[j - 1] > e->line[j]; j--) {
			int l = e->line[j];
			e->line[j] = e->line[j - 1];
			e->line[j - 1] = l;
			char *v = e->v[j];
			e->v[j] = e->v[j - 1];
			e->v[j - 1] = v;
		}
}

void cfg_errors_print(const cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(stderr, "%s\n", e->v[i]);
}

void cfg_errors_free(cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	free(e->line);
	*e = (cfg_errors){0};
}

/* ---- value parsers ------------------------------------------------------ */

static int p_string(const key_def *k, const char *val, void *dst, const char **err)
{
	(void)k;
	(void)err;
	char **s = dst;
	free(*s);
	*s = xstrdup(val);
	return 0;
}

static int p_duration(const key_def *k, const char *val, void *dst, const char **err)
{
	int64_t ms;
	if (parse_duration_ms(val, &ms, err) < 0)
		return -1;
	static char msg[64];
	char bound[32];
	if (ms < k->min || ms > k->max) {
		fmt_duration_ms(ms < k->min ? k->min : k->max, bound, sizeof bound);
		snprintf(msg, sizeof msg, "must be at %s %s", ms < k->min ? "least" : "most", bound);
		*err = msg;
		return -1;
	}
	*(int64_t *)dst = ms;
	return 0;
}

static int p_level(const key_def *k, const char *val, void *dst, const char **err)
{
	(void)k;
	int l = log_level_parse(val);
	if (l < 0) {
		*err = "must be one of error, warn, info, debug";
		return -1;
	}
	*(int *)dst = l;
	return 0;
}

static int p_list(const key_def *k, const char *val, void *dst, const char **err)
{
	(void)k;
	(void)err;
	char ***v = dst;
	strv_free(*v);
	strv_split(val, ',', v);
	return 0;
}

/* "default=100, mail=10". The queue list lives in two fields, so this parser
 * gets the whole cfg as dst. Every bad item is reported, not just the first. */
static int p_queues(const key_def *k, const char *val, void *dst, const char **err)
{
	(void)k;
	static char msg[1024];
	cfg *c = dst;
	char **items;
	size_t n = strv_split(val, ',', &items);
	cfg_queue *q = xcalloc(n ? n : 1, sizeof *q);
	sb problems = {0};
	if (n == 0)
		sb_puts(&problems, "needs at least one queue, e.g. default=100");
	for (size_t i = 0; i < n; i++) {
		const char *problem = NULL;
		char *eq = strchr(items[i], '=');
		if (eq)
			*eq = '\0';
		char *name = str_trim(items[i]), *num = eq ? str_trim(eq + 1) : "", *end;
		errno = 0;
		long w = strtol(num, &end, 10);
		if (!eq)
			problem = "expected queue=max_workers";
		else if (!valid_queue_name(name))
			problem = "invalid name (lowercase letters and digits, separated by single '_' "
			          "or '-', at most 64)";
		else if (*num == '\0' || *end || errno || w < 1 || w > MAX_QUEUE_WORKERS)
			problem = "max workers must be 1..10000";
		for (size_t j = 0; j < i && !problem; j++)
			if (q[j].name && strcmp(q[j].name, name) == 0)
				problem = "listed twice";
		if (problem) {
			sb_printf(&problems, "%squeue '%s': %s", problems.len ? "; " : "", name, problem);
			continue;
		}
		q[i].name = xstrdup(name);
		q[i].max_workers = (int)w;
	}
	strv_free(items);
	if (problems.len) {
		snprintf(msg, sizeof msg, "%s", sb_str(&problems));
		sb_free(&problems);
		*err = msg;
		for (size_t i = 0; i < n; i++)
			free(q[i].name);
		free(q);
		return -1;
	}
	for (size_t i = 0; i < c->nqueues; i++)
		free(c->queues[i].name);
	free(c->queues);
	c->queues = q;
	c->nqueues = n;
	return 0;
}

static int p_enc_mode(const key_def *k, const char *val, void *dst, const char **err)
{
	(void)k;
	int *m = dst;
	if (!*val)
		*m = ENC_MODE_AUTO;
	else if (strcmp(val, "encrypt") == 0)
		*m = ENC_ENCRYPT;
	else if (strcmp(val, "decrypt_only") == 0)
		*m = ENC_DECRYPT_ONLY;
	else if (strcmp(val, "off") == 0)
		*m = ENC_OFF;
	else {
		*err = "must be encrypt, decrypt_only or off";
		return -1;
	}
	return 0;
}

/* Key sources (syntax only here; validate() reads them). Gets the cfg. */
static int p_keys(const key_def *k, const char *val, void *dst, const char **err)
{
	(void)k;
	static char msg[320];
	cfg *c = dst;
	key_source *src = NULL;
	size_t n = 0;
	if (*val && keys_parse(val, &src, &n, msg, sizeof msg) < 0) {
		*err = msg;
		return -1;
	}
	keys_sources_free(c->key_sources, c->nkey_sources);
	c->key_sources = src;
	c->nkey_sources = n;
	return 0;
}

static int p_bool(const key_def *k, const char *val, void *dst, const char **err)
{
	(void)k;
	if (strcmp(val, "true") == 0 || strcmp(val, "yes") == 0 || strcmp(val, "on") == 0)
		*(bool *)dst = true;
	else if (strcmp(val, "false") == 0 || strcmp(val, "no") == 0 || strcmp(val, "off") == 0)
		*(bool *)dst = false;
	else {
		*err = "must be true or false";
		return -1;
	}
	return 0;
}

/* A cron schedule (cron.h: five fields, @daily, @every 6h), or "off". */
static int p_schedule(const key_def *k, const char *val, void *dst, const char **err)
{
	(void)k;
	static char msg[300];
	cfg *c = dst;
	if (strcmp(val, "off") == 0) {
		c->reindex_enabled = false;
		return 0;
	}
	const char *rest;
	char why[200];
	if (cron_parse(val, &c->reindex_sched, &rest, why, sizeof why) < 0) {
		snprintf(msg, sizeof msg, "%s (or off)", why);
		*err = msg;
		return -1;
	}
	rest = skip_blanks(rest);
	if (*rest) {
		snprintf(msg, sizeof msg, "unexpected text after the schedule: %.40s", rest);
		*err = msg;
		return -1;
	}
	c->reindex_enabled = true;
	return 0;
}

/* A duration, or -1 to keep forever. */
static int p_retention(const key_def *k, const char *val, void *dst, const char **err)
{
	if (strcmp(val, "-1") == 0) {
		*(int64_t *)dst = -1;
		return 0;
	}
	return p_duration(k, val, dst, err);
}

/* Bytes: "65536", "512KB", "16MB", "1GB" (powers of 1024). */
static int p_size(const key_def *k, const char *val, void *dst, const char **err)
{
	static char msg[80];
	int64_t b;
	const char *why = NULL;
	if (parse_size(val, k->max, &b, &why) < 0 && strcmp(why, "too large") != 0) {
		*err = why;
		return -1;
	}
	if (why || b < k->min) {
		snprintf(msg, sizeof msg, "must be %lld bytes to 1GB", (long long)k->min);
		*err = msg;
		return -1;
	}
	*(int64_t *)dst = b;
	return 0;
}

/* "host:port" (port 1-65535), IPv4 or [IPv6]; empty turns metrics off. */
static int p_listen(const key_def *k, const char *val, void *dst, const char **err)
{
	if (*val) {
		const char *colon = strrchr(val, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!colon || colon == val || !colon[1] || *end || port < 1 || port > 65535) {
			*err = "expected host:port, e.g. 127.0.0.1:9464";
			return -1;
		}
		struct sockaddr_storage addr;
		if (metrics_listen_addr(val, &addr) < 0) {
			*err = "the host must be an IPv4 address, [an IPv6 address] or localhost, e.g. 127.0.0.1:9464";
			return -1;
		}
	}
	return p_string(k, val, dst, err);
}

static void *key_dst(const key_def *k, cfg *c)
{
	return k->parse == p_queues || k->parse == p_keys || k->parse == p_schedule
	           ? (void *)c
	           : (char *)c + k->off;
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct parse_state {
	cfg *c;
	int flags;
	cfg_errors *errs;
	const char *path;
	FILE *f;
	int lineno;
	bool at_line_start;
	bool line_needs_key; /* a non-blank, non-comment, non-section line */
	bool line_had_key;
	bool line_checked;
	int key_line[NKEYS];
	int section_line[ARRAY_LEN(sections)];
	char bad_sections[8][64];
	size_t nbad_sections;
} parse_state;

/* Records "path:line: message". */
static void __attribute__((format(printf, 3, 4))) err_at(parse_state *s, int line,
                                                         const char *fmt, ...)
{
	char msg[1024], full[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(full, sizeof full, "%s:%d: %s", s->path, line, msg);
	errors_push(s->errs, line, full);
}


static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 31 || lb > 31)
		return 99;
	int d[32][32];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
	return d[la][lb];
}

static void check_line(parse_state *s)
{
	if (s->line_checked || s->lineno == 0)
		return;
	s->line_checked = true;
	if (s->line_needs_key && !s->line_had_key)
		err_at(s, s->lineno, "syntax error: expected `key = value`, `[section]` or a comment");
}

static void classify_line(parse_state *s, const char *line)
{
	line = skip_blanks(line);
	if (s->lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 BOM */
		line += 3;
	s->line_needs_key = !(*line == '\0' || *line == '\n' || *line == '\r' || *line == ';' ||
	                      *line == '#');
	if (*line == '[') {
		const char *end = strchr(line, ']');
		s->line_needs_key = end == NULL; /* a broken header is a syntax error */
		if (end) {
			char name[64];
			size_t n = (size_t)(end - line - 1);
			if (n >= sizeof name)
				n = sizeof name - 1;
			memcpy(name, line + 1, n);
			name[n] = '\0';
			char *t = str_trim(name);
			for (size_t i = 0; i < ARRAY_LEN(sections); i++)
				if (strcmp(t, sections[i]) == 0 && !s->section_line[i])
					s->section_line[i] = s->lineno;
		}
	}
}

/* fgets-style reader for inih: counts lines and notices lines inih rejected
 * (no handler call), so every syntax error is reported, not just the first. */
static char *reader(char *str, int num, void *stream)
{
	parse_state *s = stream;
	char *r = fgets(str, num, s->f);
	if (s->at_line_start) {
		check_line(s);
		if (!r)
			return NULL;
		s->lineno++;
		s->line_had_key = s->line_checked = false;
		classify_line(s, str);
	}
	if (!r) {
		check_line(s);
		return NULL;
	}
	size_t n = strlen(str);
	s->at_line_start = n > 0 && str[n - 1] == '\n';
	return r;
}

static bool known_section(const char *section)
{
	for (size_t i = 0; i < ARRAY_LEN(sections); i++)
		if (strcmp(section, sections[i]) == 0)
			return true;
	return false;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	parse_state *s = user;
	s->line_had_key = true;
	if (!*section) {
		err_at(s, s->lineno, "%s: key outside of any [section]", name);
		return 1;
	}
	if (!known_section(section)) {
		for (size_t i = 0; i < s->nbad_sections; i++)
			if (strcmp(s->bad_sections[i], section) == 0)
				return 1; /* reported once per section */
		if (s->nbad_sections < ARRAY_LEN(s->bad_sections))
			snprintf(s->bad_sections[s->nbad_sections++], 64, "%s", section);
		err_at(s, s->lineno, "[%s] %s: unknown section [%s]", section, name, section);
		return 1;
	}
	if (strcmp(section, "periodic") == 0) {
		cfg *c = s->c;
		for (size_t i = 0; i < c->nperiodic; i++)
			if (strcmp(c->periodic[i].name, name) == 0) {
				err_at(s, s->lineno, "[periodic] %s: defined twice", name);
				return 1;
			}
		periodic_def d;
		char why[300];
		if (periodic_parse(name, value, &d, why, sizeof why) < 0) {
			err_at(s, s->lineno, "[periodic] %s: %s", name, why);
			return 1;
		}
		c->periodic = xrealloc(c->periodic, (c->nperiodic + 1) * sizeof *c->periodic);
		c->periodic[c->nperiodic++] = d;
		return 1;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		const key_def *k = &keys[i];
		if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
			continue;
		if (s->key_line[i]) {
			err_at(s, s->lineno, "[%s] %s: set twice (first at line %d)", section, name, s->key_line[i]);
			return 1;
		}
		s->key_line[i] = s->lineno;
		const char *err = NULL;
		if (k->parse(k, value, key_dst(k, s->c), &err) < 0)
			err_at(s, s->lineno, "[%s] %s: %s", section, name, err);
		return 1;
	}
	const char *best = NULL;
	int best_d = 3;
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		int d = edit_distance(name, keys[i].name);
		if (d < best_d) {
			best_d = d;
			best = keys[i].name;
		}
	}
	if (best)
		err_at(s, s->lineno, "[%s] %s: unknown key (did you mean %s?)", section, name, best);
	else
		err_at(s, s->lineno, "[%s] %s: unknown key", section, name);
	return 1;
}

void cfg_defaults(cfg *c)
{
	*c = (cfg){0};
	for (size_t i = 0; i < NKEYS; i++) {
		const char *err = NULL;
		if (keys[i].parse(&keys[i], keys[i].def, key_dst(&keys[i], c), &err) < 0)
			abort(); /* a bad built-in default is a bug */
	}
}

/* River's default client id: host name (dots to underscores) and start time. */
static char *default_worker_id(void)
{
	char host[256] = "unknown_host";
	if (gethostname(host, sizeof host - 1) < 0 || !host[0])
		strcpy(host, "unknown_host");
	host[60] = '\0';
	for (char *p = host; *p; p++)
		if (*p == '.')
			*p = '_';
	int64_t us = now_us();
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char ts[40];
	strftime(ts, sizeof ts, "%Y_%m_%dT%H_%M_%S", &tm);
	sb b = {0};
	sb_printf(&b, "%s_%s_%06lld", host, ts, (long long)(us % 1000000));
	return sb_take(&b);
}

static bool valid_schema_name(const char *s)
{
	if (!*s || strlen(s) > 63 || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

static int key_index(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return (int)i;
	abort();
}

static int section_index(const char *section)
{
	for (size_t i = 0; i < ARRAY_LEN(sections); i++)
		if (strcmp(section, sections[i]) == 0)
			return (int)i;
	abort();
}

/* Line to blame for a key: where it is set, else its section header, else
 * the end of the file (where it would be added). */
static int blame_line(const parse_state *s, const char *section, const char *name)
{
	int l = s->key_line[key_index(section, name)];
	if (!l)
		l = s->section_line[section_index(section)];
	return l ? l : s->lineno;
}

static char *resolve_path(const char *base_file, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	sb b = {0};
	const char *slash = strrchr(base_file, '/');
	if (slash)
		sb_putn(&b, base_file, (size_t)(slash - base_file + 1));
	sb_puts(&b, p);
	char *joined = sb_take(&b);
	char *abs = realpath(joined, NULL);
	if (abs) {
		free(joined);
		return abs;
	}
	return joined;
}

static void validate_encryption(parse_state *s)
{
	cfg *c = s->c;
	int l_mode = blame_line(s, "encryption", "mode"), l_keys = blame_line(s, "encryption", "keys");
	if (c->nkey_sources && !(s->flags & CFG_NO_KEYS)) {
		char err[512];
		if (keyring_load(c->key_sources, c->nkey_sources, &c->keyring, err, sizeof err) < 0)
			err_at(s, l_keys, "[encryption] keys: %s", err);
	}
	if (c->enc_mode == ENC_MODE_AUTO)
		c->enc_mode = c->nkey_sources ? ENC_ENCRYPT : ENC_OFF;
	else if (c->enc_mode != ENC_OFF && !c->nkey_sources)
		err_at(s, l_mode, "[encryption] mode: %s needs [encryption] keys",
		       c->enc_mode == ENC_ENCRYPT ? "encrypt" : "decrypt_only");
	const char *alg = c->enc_algorithm;
	if (!*alg || strlen(alg) > ENCRYPTOR_NAME_MAX ||
	    strspn(alg, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(alg))
		err_at(s, blame_line(s, "encryption", "algorithm"),
		       "[encryption] algorithm: '%s' is not an encryptor name", alg);
	s->c->algorithm_line = blame_line(s, "encryption", "algorithm");
	int l_inc = s->key_line[key_index("encryption", "kinds_include")];
	int l_exc = s->key_line[key_index("encryption", "kinds_exclude")];
	if (strv_len(c->kinds_include) && strv_len(c->kinds_exclude))
		err_at(s, l_inc > l_exc ? l_inc : l_exc,
		       "[encryption] %s: kinds_include and kinds_exclude cannot both be set",
		       l_inc > l_exc ? "kinds_include" : "kinds_exclude");
	static const char *const lists[] = {"kinds_include", "kinds_exclude", "strict_kinds"};
	char **const vals[] = {c->kinds_include, c->kinds_exclude, c->strict_kinds};
	for (size_t i = 0; i < ARRAY_LEN(lists); i++)
		for (char **k = vals[i]; k && *k; k++)
			if (!valid_kind_name(*k))
				err_at(s, blame_line(s, "encryption", lists[i]),
				       "[encryption] %s: '%s' is not a valid kind name", lists[i], *k);
	int l_strict = blame_line(s, "encryption", "strict_kinds");
	if (strv_len(c->strict_kinds) && c->enc_mode != ENC_ENCRYPT)
		err_at(s, l_strict,
		       "[encryption] strict_kinds: needs mode = encrypt (remove it before switching "
		       "to decrypt_only or off)");
	for (char **k = c->strict_kinds; k && *k; k++) {
		bool selected = strv_len(c->kinds_include) ? strv_contains(c->kinds_include, *k)
		                                           : !strv_contains(c->kinds_exclude, *k);
		if (!selected)
			err_at(s, l_strict,
			       "[encryption] strict_kinds: %s is not encrypted under the kind filters",
			       *k);
	}
}

int cfg_check_algorithm(const cfg *c, cfg_errors *errs)
{
	if (c->enc_mode != ENC_ENCRYPT || crypto_find(c->enc_algorithm))
		return 0;
	char full[512], names[256];
	crypto_names(names, sizeof names);
	snprintf(full, sizeof full,
	         "%s:%d: [encryption] algorithm: unknown encryptor '%s' (known: %s)", c->path,
	         c->algorithm_line, c->enc_algorithm, names);
	errors_push(errs, c->algorithm_line, full);
	return -1;
}

static void validate(parse_state *s, const char *env_url)
{
	cfg *c = s->c;
	if (env_url && *env_url) {
		free(c->db_url);
		c->db_url = xstrdup(env_url);
		c->db_url_from_env = true;
	}
	char why[512];
	if (!*c->db_url)
		err_at(s, blame_line(s, "database", "url"), "[database] url: required (set it here or in DATABASE_URL)");
	else if (conninfo_check(c->db_url, why, sizeof why) < 0)
		err_at(s, blame_line(s, "database", "url"), "[database] url%s: %s",
		       c->db_url_from_env ? " (from DATABASE_URL)" : "", why);
	if (*c->db_schema && !valid_schema_name(c->db_schema))
		err_at(s, blame_line(s, "database", "schema"), "[database] schema: '%s' is not a plain identifier (letters, digits and '_', at most 63)", c->db_schema);
	if (!*c->worker_id) {
		free(c->worker_id);
		c->worker_id = default_worker_id();
		c->worker_id_default = true;
	} else if (strlen(c->worker_id) >= 128) {
		err_at(s, blame_line(s, "worker", "id"), "[worker] id: must be shorter than 128 characters");
	}
	/* River's default horizon is its job timeout plus an hour (client.go),
	 * so a job that overran its limit still gets that hour to finish. */
	if (!s->key_line[key_index("maintenance", "rescue_after")] && c->job_timeout_ms > 0)
		c->rescue_after_ms += c->job_timeout_ms;
	validate_encryption(s);
	for (char **p = c->plugins; p && *p; p++) {
		char *abs = resolve_path(s->path, *p);
		if (access(abs, R_OK) < 0)
			err_at(s, blame_line(s, "worker", "plugins"), "[worker] plugins: %s: %s", abs, strerror(errno));
		free(*p);
		*p = abs;
	}
}

int cfg_load(const char *path, const char *env_url, int flags, cfg *c, cfg_errors *errs)
{
	cfg_defaults(c);
	c->path = xstrdup(path);
	FILE *f = fopen(path, "r");
	if (!f) {
		cfg_errors_add(errs, "%s: cannot read config file: %s", path, strerror(errno));
		cfg_free(c);
		return -1;
	}
	/* Process-wide inih options; set each time so nothing else can flip them. */
	ini_allow_multiline = 0;
	ini_use_stack = 0;
	ini_allow_realloc = 1;
	ini_max_line = MAX_LINE;
	parse_state s = {.c = c, .flags = flags, .errs = errs, .path = path, .f = f,
	                 .at_line_start = true};
	size_t before = errs->n;
	int rc = ini_parse_stream(reader, &s, handler, &s);
	fclose(f);
	if (rc > 0 && errs->n == before)
		err_at(&s, rc, "syntax error");
	else if (rc < 0)
		cfg_errors_add(errs, "%s: cannot parse (error %d)", path, rc);
	validate(&s, env_url);
	errors_sort(errs, before);
	if (errs->n > before) {
		cfg_free(c);
		return -1;
	}
	return 0;
}

void cfg_free(cfg *c)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].parse == p_string || keys[i].parse == p_listen)
			free(*(char **)((char *)c + keys[i].off));
		else if (keys[i].parse == p_list)
			strv_free(*(char ***)((char *)c + keys[i].off));
	}
	for (size_t i = 0; i < c->nqueues; i++)
		free(c->queues[i].name);
	free(c->queues);
	keys_sources_free(c->key_sources, c->nkey_sources);
	keyring_free(c->keyring);
	periodic_defs_free(c->periodic, c->nperiodic);
	free(c->path);
	*c = (cfg){0};
}
