/* log.c -- logfmt writer. Each line goes out in one write(2) so lines from
 * worker threads never interleave. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

_Atomic int log_level_current = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(int level) { log_level_current = level; }

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *log_level_name(int level)
{
	return level >= 0 && level < 4 ? level_names[level] : "?";
}

/* Fixed-size line: a log line that would overflow is cut and marked. */
typedef struct line {
	char buf[2048];
	size_t len;
	bool cut;
} line;

static void put(line *l, const char *s, size_t n)
{
	size_t room = sizeof(l->buf) - 1 - l->len; /* keep one byte for '\n' */
	if (n > room) {
		n = room;
		l->cut = true;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void putc_(line *l, char c) { put(l, &c, 1); }

static bool needs_quotes(const char *s)
{
	if (*s == '\0')
		return true;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' ||
		    (unsigned char)*s >= 0x7f)
			return true;
	return false;
}

static void put_value(line *l, const char *s)
{
	if (!s) {
		put(l, "null", 4);
		return;
	}
	if (!needs_quotes(s)) {
		put(l, s, strlen(s));
		return;
	}
	putc_(l, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			putc_(l, '\\');
			putc_(l, (char)c);
		} else if (c == '\n') {
			put(l, "\\n", 2);
		} else if (c == '\t') {
			put(l, "\\t", 2);
		} else if (c < 0x20 || c == 0x7f) {
			char esc[8];
			snprintf(esc, sizeof esc, "\\x%02x", c);
			put(l, esc, 4);
		} else {
			putc_(l, (char)c);
		}
	}
	putc_(l, '"');
}

void log_at_(int level, const char *msg, const log_field *f, size_t n)
{
	line l = {.len = 0};
	char ts[40];
	fmt_rfc3339_ms(now_us(), ts);
	put(&l, "ts=", 3);
	put(&l, ts, strlen(ts));
	put(&l, " level=", 7);
	put_value(&l, log_level_name(level));
	put(&l, " msg=", 5);
	put_value(&l, msg);
	for (size_t i = 0; i < n; i++) {
		char num[64];
		if (!f[i].type)
			continue;
		putc_(&l, ' ');
		put(&l, f[i].key, strlen(f[i].key));
		putc_(&l, '=');
		switch (f[i].type) {
		case 'i':
			snprintf(num, sizeof num, "%lld", (long long)f[i].v.i);
			put(&l, num, strlen(num));
			break;
		case 'd':
			snprintf(num, sizeof num, "%.3f", f[i].v.d);
			put(&l, num, strlen(num));
			break;
		default:
			put_value(&l, f[i].v.s);
		}
	}
	if (l.cut) {
		static const char mark[] = " truncated=true";
		l.len = sizeof(l.buf) - 1 - (sizeof mark - 1);
		memcpy(l.buf + l.len, mark, sizeof mark - 1);
		l.len += sizeof mark - 1;
	}
	l.buf[l.len++] = '\n';
	/* A short write to stderr has nowhere better to be reported. */
	ssize_t w = write(STDERR_FILENO, l.buf, l.len);
	(void)w;
}
