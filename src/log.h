/* log.h -- logfmt lines on stderr: `ts=... level=info msg="job done" job_id=7`.
 * Fields are typed so that values are quoted and escaped in one place; secrets
 * and job args must never be passed here (log lengths or key ids instead). */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

typedef struct log_field {
	const char *key;
	char type; /* 0 (unused slot), 'i' integer, 's' string, 'd' double */
	union {
		int64_t i;
		const char *s;
		double d;
	} v;
} log_field;

#define LI(k, x) ((log_field){(k), 'i', {.i = (int64_t)(x)}})
#define LS(k, x) ((log_field){(k), 's', {.s = (x)}})
#define LD(k, x) ((log_field){(k), 'd', {.d = (double)(x)}})

/* Set on reload by the loop thread, read by every thread (handlers log). */
extern _Atomic int log_level_current;

void log_set_level(int level);
/* Returns the level for "error".."debug", or -1. */
int log_level_parse(const char *name);
const char *log_level_name(int level);
void log_at_(int level, const char *msg, const log_field *fields, size_t n);

/* The leading empty slot lets a call carry no fields at all. */
#define LOG_AT_(lvl, msg, ...)                                                  \
	do {                                                                    \
		if ((lvl) <= log_level_current)                                 \
			log_at_((lvl), (msg), (const log_field[]){{NULL, 0, {0}}, __VA_ARGS__}, \
			        sizeof((const log_field[]){{NULL, 0, {0}}, __VA_ARGS__}) /     \
			            sizeof(log_field));                             \
	} while (0)

#define log_error(msg, ...) LOG_AT_(LOG_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...) LOG_AT_(LOG_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...) LOG_AT_(LOG_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) LOG_AT_(LOG_DEBUG, msg, __VA_ARGS__)

#endif
