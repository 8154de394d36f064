/* periodic_parse.c -- parsing [periodic] entries (see periodic.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "periodic.h"
#include "util.h"


int periodic_parse(const char *name, const char *value, periodic_def *d, char *err, size_t n)
{
	memset(d, 0, sizeof *d);
	const char *p;
	char why[200];
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(name)) {
		snprintf(err, n, "periodic job names use lowercase letters, digits, '_', '.' and '-'");
		return -1;
	}
	if (cron_parse(value, &d->sched, &p, why, sizeof why) < 0) {
		snprintf(err, n, "%s", why);
		return -1;
	}
	d->priority = 1;
	d->max_attempts = 25;
	for (p = skip_blanks(p); *p; p = skip_blanks(p)) {
		const char *eq = strchr(p, '=');
		size_t klen = eq ? (size_t)(eq - p) : 0;
		if (!eq || strcspn(p, " \t") < klen) {
			snprintf(err, n, "expected key=value after the schedule, got '%.*s'",
			         (int)strcspn(p, " \t"), p);
			goto bad;
		}
		const char *v = eq + 1;
		size_t vlen = klen == 4 && strncmp(p, "args", 4) == 0
		                  ? json_prefix_len(v, strlen(v))
		                  : strcspn(v, " \t");
		char *val = xstrndup(v, vlen);
		int bad = 0;
		if (klen == 4 && strncmp(p, "kind", 4) == 0) {
			free(d->kind);
			d->kind = val;
			bad = !valid_kind_name(val);
			val = NULL;
		} else if (klen == 5 && strncmp(p, "queue", 5) == 0) {
			free(d->queue);
			d->queue = val;
			bad = !valid_queue_name(val);
			val = NULL;
		} else if (klen == 4 && strncmp(p, "args", 4) == 0) {
			if (!vlen || !json_is_object(v, vlen)) {
				snprintf(err, n, "args must be a JSON object, e.g. args={\"full\":true}");
				free(val);
				goto bad;
			}
			free(d->args);
			d->args = val;
			val = NULL;
		} else if (klen == 8 && strncmp(p, "priority", 8) == 0) {
			d->priority = atoi(val);
			bad = d->priority < 1 || d->priority > 4;
		} else if (klen == 12 && strncmp(p, "max_attempts", 12) == 0) {
			d->max_attempts = atoi(val);
			bad = d->max_attempts < 1 || d->max_attempts > 32767;
		} else {
			snprintf(err, n, "unknown option '%.*s' (kind, queue, args, priority, max_attempts)",
			         (int)klen, p);
			free(val);
			goto bad;
		}
		free(val);
		if (bad) {
			snprintf(err, n, "bad %.*s value", (int)klen, p);
			goto bad;
		}
		p = v + vlen;
	}
	if (!d->kind) {
		snprintf(err, n, "needs kind=KIND after the schedule");
		goto bad;
	}
	d->name = xstrdup(name);
	if (!d->queue)
		d->queue = xstrdup("default");
	if (!d->args)
		d->args = xstrdup("{}");
	return 0;
bad:
	free(d->kind);
	free(d->queue);
	free(d->args);
	memset(d, 0, sizeof *d);
	return -1;
}

void periodic_defs_free(periodic_def *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].name);
		free(d[i].kind);
		free(d[i].queue);
		free(d[i].args);
	}
	free(d);
}

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

bool periodic_defs_equal(const periodic_def *a, size_t na, const periodic_def *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i].name, b[i].name) || !cron_equal(&a[i].sched, &b[i].sched) ||
		    !str_eq(a[i].kind, b[i].kind) || !str_eq(a[i].queue, b[i].queue) ||
		    !str_eq(a[i].args, b[i].args) || a[i].priority != b[i].priority ||
		    a[i].max_attempts != b[i].max_attempts)
			return false;
	return true;
}
