/* periodic.h -- [periodic] entries: `name = <schedule> kind=K [queue=Q]
 * [priority=N] [max_attempts=N] [args=JSON]`. The leader enqueues each tick
 * once, with a unique key per (name, tick), so several daemons (or a change
 * of leader) never enqueue a tick twice. */
#ifndef SLUICE_PERIODIC_H
#define SLUICE_PERIODIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cron.h"

typedef struct periodic_def {
	char *name;
	cron sched;
	char *kind;
	char *queue;
	char *args;
	int priority;
	int max_attempts;
} periodic_def;

int periodic_parse(const char *name, const char *value, periodic_def *out, char *err,
                   size_t errlen);
void periodic_defs_free(periodic_def *d, size_t n);
bool periodic_defs_equal(const periodic_def *a, size_t na, const periodic_def *b, size_t nb);

#endif
