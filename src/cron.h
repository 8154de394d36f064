/* cron.h -- schedules for periodic jobs: five cron fields (minute hour
 * day-of-month month day-of-week, UTC, with lists, ranges, steps and names),
 * the @hourly/@daily/... shorthands and "@every <duration>" (ticks aligned
 * to the Unix epoch, so every daemon computes the same ticks). */
#ifndef SLUICE_CRON_H
#define SLUICE_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cron {
	uint64_t minute; /* bit n: minute n */
	uint32_t hour;
	uint32_t dom; /* bits 1..31 */
	uint16_t month; /* bits 1..12 */
	uint8_t dow;  /* bits 0..6, Sunday 0 */
	bool dom_any, dow_any;
	int64_t every_ms; /* @every: fields unused */
} cron;

/* Parses the schedule at the start of spec; *rest points after it. Returns
 * 0, or -1 with a reason. */
int cron_parse(const char *spec, cron *c, const char **rest, char *err, size_t errlen);
/* First tick strictly after after_us (microseconds, UTC), or -1 if none in
 * the next 10 years (e.g. February 30th). */
int64_t cron_next(const cron *c, int64_t after_us);
bool cron_equal(const cron *a, const cron *b);

#endif
