/* util.c -- see util.h. */
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
	char msg[96];
	int len = snprintf(msg, sizeof msg, "sluice: out of memory allocating %zu bytes\n", n);
	ssize_t w = write(STDERR_FILENO, msg, (size_t)len);
	(void)w;
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void sb_grow(sb *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void sb_putn(sb *b, const char *s, size_t n)
{
	sb_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void sb_puts(sb *b, const char *s) { sb_putn(b, s, strlen(s)); }

void sb_putc(sb *b, char c)
{
	sb_grow(b, 1);
	b->p[b->len++] = c;
}

void sb_printf(sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

size_t fmt_i64(int64_t v, char out[FMT_I64_MAX])
{
	char tmp[FMT_I64_MAX];
	size_t i = sizeof tmp;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do
		tmp[--i] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		tmp[--i] = '-';
	memcpy(out, tmp + i, sizeof tmp - i);
	return sizeof tmp - i;
}

void sb_put_i64(sb *b, int64_t v)
{
	char tmp[FMT_I64_MAX];
	sb_putn(b, tmp, fmt_i64(v, tmp));
}

void sb_json_strn(sb *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	sb_grow(b, n + 2);
	sb_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': sb_putn(b, "\\\"", 2); break;
		case '\\': sb_putn(b, "\\\\", 2); break;
		case '\n': sb_putn(b, "\\n", 2); break;
		case '\r': sb_putn(b, "\\r", 2); break;
		case '\t': sb_putn(b, "\\t", 2); break;
		default:
			if (c < 0x20) {
				char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
				sb_putn(b, e, 6);
			} else if (c < 0x80) {
				sb_putc(b, (char)c);
			} else {
				/* Not UTF-8 (a handler's bytes, a message cut mid-
				 * character): U+FFFD, or jsonb refuses the batch. */
				size_t k = utf8_len((const unsigned char *)s + i, n - i);
				if (k) {
					sb_putn(b, s + i, k);
					i += k - 1;
				} else {
					sb_putn(b, "\\ufffd", 6);
				}
			}
		}
	}
	sb_putc(b, '"');
}

size_t utf8_len(const unsigned char *p, size_t avail)
{
	unsigned b = *p;
	size_t n;
	uint32_t cp;
	if (b < 0x80)
		return 1;
	if (b >= 0xC2 && b <= 0xDF)
		n = 1, cp = b & 0x1F;
	else if (b >= 0xE0 && b <= 0xEF)
		n = 2, cp = b & 0x0F;
	else if (b >= 0xF0 && b <= 0xF4)
		n = 3, cp = b & 0x07;
	else
		return 0;
	if (avail <= n)
		return 0;
	for (size_t i = 1; i <= n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n + 1;
}

void sb_json_str(sb *b, const char *s) { sb_json_strn(b, s, strlen(s)); }

char *sb_take(sb *b)
{
	sb_grow(b, 0);
	b->p[b->len] = '\0';
	char *p = b->p;
	*b = (sb){0};
	return p;
}

void sb_free(sb *b)
{
	free(b->p);
	*b = (sb){0};
}

int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "YYYY-MM-DDTHH:MM:SS" of us; the last second formatted is kept per
 * thread, since timestamps arrive in runs (one per job written). */
static void fmt_date(int64_t us, char *buf, int64_t *frac_us)
{
	static _Thread_local time_t cached_secs = -1;
	static _Thread_local char cached[24];
	time_t secs = (time_t)(us / 1000000);
	int64_t frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		secs -= 1;
	}
	if (secs != cached_secs) {
		struct tm tm;
		gmtime_r(&secs, &tm);
		strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
		cached_secs = secs;
	}
	/* With its NUL: past year 9999 (snoozed "forever") the text is longer. */
	memcpy(buf, cached, strlen(cached) + 1);
	*frac_us = frac;
}

void fmt_rfc3339_us(int64_t us, char *buf)
{
	int64_t frac;
	fmt_date(us, buf, &frac);
	size_t n = strlen(buf);
	if (frac) {
		char f[8];
		for (int i = 5; i >= 0; i--, frac /= 10)
			f[i] = (char)('0' + frac % 10);
		int end = 6;
		while (end > 0 && f[end - 1] == '0')
			end--;
		buf[n++] = '.';
		memcpy(buf + n, f, (size_t)end);
		n += (size_t)end;
	}
	buf[n++] = 'Z';
	buf[n] = '\0';
}

void fmt_rfc3339_ms(int64_t us, char *buf)
{
	int64_t frac;
	fmt_date(us, buf, &frac);
	size_t n = strlen(buf);
	snprintf(buf + n, 40 - n, ".%03lldZ", (long long)(frac / 1000));
}

int parse_size(const char *s, int64_t max, int64_t *out, const char **err)
{
	char *end;
	double v = strtod(s, &end);
	while (*end == ' ')
		end++;
	double mul = !*end || strcmp(end, "B") == 0 ? 1 : strcmp(end, "KB") == 0 ? 1024.0
	             : strcmp(end, "MB") == 0                      ? 1048576.0
	                     : strcmp(end, "GB") == 0 ? 1073741824.0 : -1;
	if (end == s || mul < 0 || !(v >= 0)) { /* !(v >= 0): NaN too */
		*err = "not a size (use e.g. 65536, 512KB, 16MB; B, KB, MB, GB)";
		return -1;
	}
	if (v * mul > (double)max) { /* before the cast: inf and 1e30 fit no int64_t */
		*err = "too large";
		return -1;
	}
	*out = (int64_t)(v * mul);
	return 0;
}

int parse_duration_ms(const char *s, int64_t *out, const char **err)
{
	while (isspace((unsigned char)*s))
		s++;
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	char *end;
	double v = strtod(s, &end);
	if (end == s || !isfinite(v)) {
		*err = "not a duration (use e.g. 250ms, 1s, 5m, 1h, 7d)";
		return -1;
	}
	while (isspace((unsigned char)*end))
		end++;
	double mul;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mul = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		mul = 86400 * 1000;
	else {
		*err = *end ? "unknown unit (use ms, s, m, h or d)" : "missing unit (use ms, s, m, h or d)";
		return -1;
	}
	double ms = v * mul;
	if (ms < 0) {
		*err = "must not be negative";
		return -1;
	}
	if (ms > 9.2e15) {
		*err = "too large";
		return -1;
	}
	*out = (int64_t)llround(ms);
	return 0;
}

void fmt_duration_ms(int64_t ms, char *buf, size_t n)
{
	if (ms % 86400000 == 0 && ms >= 86400000)
		snprintf(buf, n, "%lldd", (long long)(ms / 86400000));
	else if (ms % 3600000 == 0 && ms >= 3600000)
		snprintf(buf, n, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms >= 60000)
		snprintf(buf, n, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, n, "%llds", (long long)(ms / 1000));
	else if (ms > 1000)
		snprintf(buf, n, "%gs", (double)ms / 1000.0);
	else
		snprintf(buf, n, "%lldms", (long long)ms);
}

char *str_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

size_t strv_split(const char *s, char sep, char ***out)
{
	size_t n = 0, cap = 4;
	char **v = xmalloc(cap * sizeof *v);
	char *copy = xstrdup(s), *p = copy;
	for (;;) {
		char *next = strchr(p, sep);
		if (next)
			*next = '\0';
		char *item = str_trim(p);
		if (*item) {
			if (n + 2 > cap)
				v = xrealloc(v, (cap *= 2) * sizeof *v);
			v[n++] = xstrdup(item);
		}
		if (!next)
			break;
		p = next + 1;
	}
	free(copy);
	v[n] = NULL;
	*out = v;
	return n;
}

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

bool strv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

static bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool valid_queue_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (lower_alnum(s[i]))
			continue;
		if ((s[i] == '_' || s[i] == '-' || s[i] == '|') && lower_alnum(s[i - 1]))
			continue;
		return false;
	}
	return true;
}

int64_t pg_int(const char *s)
{
	bool neg = *s == '-';
	s += neg;
	uint64_t v = 0; /* unsigned: INT8's minimum, negated, fits */
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	return neg ? (int64_t)(0 - v) : (int64_t)v;
}

bool name_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

bool valid_kind_name(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n >= 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool word = isalnum(c) || c == '_';
		if (i == 0 ? !word : !(word || strchr("-[]<>/.:+", c)))
			return false;
	}
	return true;
}

const char *mem_find(const char *hay, size_t n, const char *needle, size_t m)
{
	if (m == 0)
		return hay;
	const char *end = hay + n;
	for (const char *p = hay; (size_t)(end - p) >= m; p++) {
		p = memchr(p, needle[0], (size_t)(end - p) - m + 1);
		if (!p)
			return NULL;
		if (memcmp(p, needle, m) == 0)
			return p;
	}
	return NULL;
}

int hex4_value(const char *p, size_t avail, unsigned *v)
{
	if (avail < 4)
		return -1;
	*v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned ch = (unsigned char)p[i], d;
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if ((ch | 32) >= 'a' && (ch | 32) <= 'f')
			d = (ch | 32) - 'a' + 10;
		else
			return -1;
		*v = *v * 16 + d;
	}
	return 0;
}
