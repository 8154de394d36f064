/* util.h -- small shared helpers: checked allocation, a growable string
 * buffer, clocks, RFC 3339 time formatting, durations and list splitting. */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

/* Out of memory is not a recoverable condition for the daemon: these abort
 * with a message rather than let a NULL travel. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

typedef struct sb {
	char *p;
	size_t len, cap;
} sb;

void sb_grow(sb *b, size_t extra);
void sb_putn(sb *b, const char *s, size_t n);
void sb_puts(sb *b, const char *s);
void sb_putc(sb *b, char c);
void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_put_i64(sb *b, int64_t v);
/* v in decimal, not NUL-terminated; returns the length. No locale, no
 * allocation: safe in a signal handler (crash.c). */
#define FMT_I64_MAX 20
size_t fmt_i64(int64_t v, char out[FMT_I64_MAX]);
/* Appends s as a JSON string literal, quotes included. */
void sb_json_str(sb *b, const char *s);
void sb_json_strn(sb *b, const char *s, size_t n);
/* Length of the well-formed UTF-8 sequence at p (1-4; PostgreSQL's rules:
 * no overlong forms, surrogates or code points past U+10FFFF), or 0. */
size_t utf8_len(const unsigned char *p, size_t avail);
/* The 4 hex digits at p (of avail bytes) as *v, as after JSON's \u: 0 or -1. */
int hex4_value(const char *p, size_t avail, unsigned *v);
/* Returns the buffer, NUL-terminated; the sb is left empty. */
char *sb_take(sb *b);
void sb_free(sb *b);
static inline void sb_reset(sb *b) { b->len = 0; }
static inline const char *sb_str(sb *b)
{
	sb_grow(b, 1);
	b->p[b->len] = '\0';
	return b->p;
}

int64_t now_us(void);   /* wall clock, microseconds since the epoch */
uint64_t mono_ms(void); /* monotonic milliseconds */

/* RFC 3339 in UTC. _us prints up to microseconds with trailing zeros cut
 * (as Go's RFC3339Nano does, so River's readers see what River writes);
 * _ms always prints milliseconds (log timestamps). buf: 40 bytes. */
void fmt_rfc3339_us(int64_t us, char *buf);
void fmt_rfc3339_ms(int64_t us, char *buf);

/* "250ms", "1s", "1.5m", "2h" -> milliseconds. "0" alone is accepted.
 * Returns 0, or -1 with a reason in err. */
int parse_duration_ms(const char *s, int64_t *out, const char **err);
/* "65536", "512KB", "16MB", "1GB" (powers of 1024) -> bytes, at most max.
 * Returns 0, or -1 with a reason in err. */
int parse_size(const char *s, int64_t max, int64_t *out, const char **err);
/* 1500 -> "1.5s"; buf: 32 bytes. */
void fmt_duration_ms(int64_t ms, char *buf, size_t n);

/* Splits s at sep, trimming blanks; empty items are dropped. Returns the
 * number of items; *out is a NULL-terminated array (free with strv_free). */
size_t strv_split(const char *s, char sep, char ***out);
void strv_free(char **v);
size_t strv_len(char *const *v);
bool strv_contains(char *const *v, const char *s);

/* An integer column in PostgreSQL's text form (optional '-', decimal
 * digits), read up to the first other character as strtoll would, without
 * its locale and range handling: those cost ~220 instructions a call, and a
 * fetched job takes eight (callgrind). No overflow check: the columns are at
 * most int8, which fits. */
int64_t pg_int(const char *s);

char *str_trim(char *s);
/* p past any spaces and tabs. */
const char *skip_blanks(const char *p);
/* memmem(3), which is not in POSIX. */
const char *mem_find(const char *hay, size_t n, const char *needle, size_t m);

/* River's queue name rule: lowercase letters and digits, single '_' or '-'
 * between them, at most 64 characters. */
bool valid_queue_name(const char *s);
/* River's kind rule: word characters and -[]<>/.:+ ; under 128 bytes. */
bool valid_kind_name(const char *s);
/* Only letters, digits, '_' and '-' in s[0..n): key ids, encryptor names. */
bool name_chars(const char *s, size_t n);

#endif
