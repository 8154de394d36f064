/* cron.c -- see cron.h. */
#include "cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

typedef struct field {
	const char *name;
	int lo, hi;
	const char *const *names; /* names[i] stands for lo + i */
} field;

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const field fields[5] = {
    {"minute", 0, 59, NULL}, {"hour", 0, 23, NULL}, {"day of month", 1, 31, NULL},
    {"month", 1, 12, months}, {"day of week", 0, 7, days}, /* 7 is Sunday too */
};

static int value(const field *f, const char **p, int *out)
{
	if (isdigit((unsigned char)**p)) {
		char *end;
		long v = strtol(*p, &end, 10);
		*p = end;
		*out = (int)v;
		return v < f->lo || v > f->hi ? -1 : 0;
	}
	for (int i = 0; f->names && f->names[i]; i++)
		if (strncasecmp(*p, f->names[i], 3) == 0) {
			*p += 3;
			*out = f->lo + i;
			return 0;
		}
	return -1;
}

/* One field (no blanks inside) into a bit set. */
static int parse_field(const field *f, const char *s, size_t len, uint64_t *bits, bool *any,
                       char *err, size_t errlen)
{
	char buf[128];
	if (len >= sizeof buf) {
		snprintf(err, errlen, "%s field too long", f->name);
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	*bits = 0;
	*any = false;
	char *save, *item = strtok_r(buf, ",", &save);
	for (; item; item = strtok_r(NULL, ",", &save)) {
		const char *p = item;
		int lo, hi;
		long step = 1;
		bool star = *p == '*' || *p == '?', range = false; /* robfig: ? is * */
		if (star) {
			lo = f->lo;
			hi = f->hi == 7 ? 6 : f->hi;
			p++;
		} else {
			if (value(f, &p, &lo) < 0)
				goto bad;
			hi = lo;
			if (*p == '-') {
				p++;
				range = true;
				if (value(f, &p, &hi) < 0 || hi < lo)
					goto bad;
			}
		}
		if (*p == '/') {
			char *end;
			errno = 0;
			step = strtol(p + 1, &end, 10);
			if (end == p + 1 || step < 1 || errno)
				goto bad;
			p = end;
			if (!star && !range) /* N/step: from N to the end, as robfig */
				hi = f->hi == 7 ? 6 : f->hi;
		}
		if (*p)
			goto bad;
		/* As robfig: "*" or "* /1" anywhere in the list makes the field
		 * "any", which decides how day of month and day of week combine. */
		*any |= star && step == 1;
		for (long v = lo; v <= hi; v += step)
			*bits |= 1ULL << (f->hi == 7 && v == 7 ? 0 : v);
	}
	return 0;
bad:
	snprintf(err, errlen, "bad %s field '%.*s'", f->name, (int)len, s);
	return -1;
}

static const struct {
	const char *name, *expand;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static const char *word(const char *p, size_t *len)
{
	while (*p == ' ' || *p == '\t')
		p++;
	*len = strcspn(p, " \t");
	return p;
}

int cron_parse(const char *spec, cron *c, const char **rest, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	size_t len;
	const char *w = word(spec, &len);
	if (len == 6 && strncmp(w, "@every", 6) == 0) {
		const char *d = word(w + len, &len);
		char buf[32];
		const char *why;
		if (!len || len >= sizeof buf) {
			snprintf(err, errlen, "@every needs a duration, e.g. @every 15m");
			return -1;
		}
		memcpy(buf, d, len);
		buf[len] = '\0';
		if (parse_duration_ms(buf, &c->every_ms, &why) < 0 || c->every_ms < 1000) {
			snprintf(err, errlen, "@every needs a duration of at least 1s, e.g. @every 15m");
			return -1;
		}
		*rest = d + len;
		return 0;
	}
	const char *src = spec;
	if (len && w[0] == '@') {
		size_t i;
		for (i = 0; i < ARRAY_LEN(macros); i++)
			if (strlen(macros[i].name) == len && strncmp(w, macros[i].name, len) == 0)
				break;
		if (i == ARRAY_LEN(macros)) {
			snprintf(err, errlen,
			         "unknown schedule '%.*s' (use 5 cron fields, @hourly, @daily, @weekly, "
			         "@monthly, @yearly or @every DURATION)",
			         (int)len, w);
			return -1;
		}
		src = macros[i].expand;
		*rest = w + len;
	}
	const char *p = src;
	uint64_t bits[5];
	bool any[5];
	for (int i = 0; i < 5; i++) {
		const char *f = word(p, &len);
		if (!len) {
			snprintf(err, errlen, "a cron schedule needs 5 fields (minute hour day month weekday)");
			return -1;
		}
		if (parse_field(&fields[i], f, len, &bits[i], &any[i], err, errlen) < 0)
			return -1;
		p = f + len;
	}
	if (src == spec)
		*rest = p;
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->month = (uint16_t)bits[3];
	c->dow = (uint8_t)bits[4];
	c->dom_any = any[2];
	c->dow_any = any[4];
	return 0;
}

static bool day_ok(const cron *c, const struct tm *tm)
{
	bool dom = c->dom >> tm->tm_mday & 1, dow = c->dow >> tm->tm_wday & 1;
	if (c->dom_any && c->dow_any)
		return true;
	if (c->dom_any)
		return dow;
	if (c->dow_any)
		return dom;
	return dom || dow; /* cron's rule when both are restricted */
}

int64_t cron_next(const cron *c, int64_t after_us)
{
	if (c->every_ms) {
		int64_t step = c->every_ms * 1000;
		return (after_us / step + 1) * step;
	}
	time_t t = (time_t)(after_us / 1000000);
	t = t - t % 60 + 60;
	time_t limit = t + (time_t)10 * 366 * 86400;
	while (t < limit) {
		struct tm tm;
		gmtime_r(&t, &tm);
		if (!(c->month >> (tm.tm_mon + 1) & 1)) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			t = timegm(&tm);
		} else if (!day_ok(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			t = timegm(&tm);
		} else if (!(c->hour >> tm.tm_hour & 1)) {
			tm.tm_hour++;
			tm.tm_min = tm.tm_sec = 0;
			t = timegm(&tm);
		} else if (!(c->minute >> tm.tm_min & 1)) {
			t += 60;
		} else {
			return (int64_t)t * 1000000;
		}
	}
	return -1;
}

bool cron_equal(const cron *a, const cron *b)
{
	return a->minute == b->minute && a->hour == b->hour && a->dom == b->dom &&
	       a->month == b->month && a->dow == b->dow && a->dom_any == b->dom_any &&
	       a->dow_any == b->dow_any && a->every_ms == b->every_ms;
}
