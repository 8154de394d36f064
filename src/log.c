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

/* Fixed-size line: a log line that would overflow is cut and marked. The
 * mark and the '\n' always have room; a value cut short keeps its closing
 * quote, and the fields after it are left out, so the line stays logfmt. */
static const char cut_mark[] = " truncated=true";
typedef struct line {
	char buf[2048];
	size_t len;
	bool cut;
} line;
/* What the fields may fill: the rest is for a cut value's closing quote,
 * the mark and the '\n'. */
#define LINE_CAP (sizeof(((line *)0)->buf) - 2 - (sizeof cut_mark - 1))

static void put(line *l, const char *s, size_t n)
{
	if (l->cut)
		return;
	size_t room = LINE_CAP - l->len;
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
	if (l->cut || l->len + 2 > LINE_CAP) {
		l->cut = true;
		return;
	}
	putc_(l, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		size_t n = 1;
		esc[0] = (char)c;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c == '\n' || c == '\t') {
			esc[0] = '\\';
			esc[1] = c == '\n' ? 'n' : 't';
			n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof esc, "\\x%02x", c);
			n = 4;
		}
		/* Whole escapes only, and room for the closing quote. */
		if (l->len + n + 1 > LINE_CAP) {
			l->cut = true;
			break;
		}
		put(l, esc, n);
	}
	if (l->cut) {
		l->buf[l->len++] = '"'; /* within the mark's room: it follows */
		return;
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
		/* A key with no room for its value is left out with the rest. */
		if (l.len + strlen(f[i].key) + 4 > LINE_CAP)
			l.cut = true;
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
		memcpy(l.buf + l.len, cut_mark, sizeof cut_mark - 1);
		l.len += sizeof cut_mark - 1;
	}
	l.buf[l.len++] = '\n';
	/* A short write to stderr has nowhere better to be reported. */
	ssize_t w = write(STDERR_FILENO, l.buf, l.len);
	(void)w;
}
