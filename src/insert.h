/* insert.h -- preparing a job for insertion the way River inserts it:
 * validation, River's unique key (over the plaintext args), scheduled vs
 * available, then the insert hooks (encryption). Used for jobs handlers
 * enqueue and by `sluice enqueue`. */
#ifndef SLUICE_INSERT_H
#define SLUICE_INSERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/plugin.h"

struct sb;

/* River's default unique states: all but cancelled and discarded. */
#define UNIQUE_STATES_DEFAULT 245

typedef struct insert_job {
	struct insert_job *next;
	char *kind;
	char *args; /* as it will be stored (encrypted when the policy says so) */
	char *queue;
	int priority;
	int max_attempts;
	int64_t scheduled_at_us; /* 0: now() */
	bool scheduled;          /* scheduled_at in the future: state scheduled */
	char *tags;              /* JSON array */
	char *metadata;          /* JSON object */
	bool unique;
	uint8_t unique_key[32];
	uint8_t unique_states;
	struct enc_policy *sealed_by; /* the policy args were encrypted under (a reference), or NULL */
} insert_job;

/* insert_prepare flags */
#define INSERT_NO_ENCRYPT 1 /* store plaintext (refused for strict kinds) */

/* Validates and prepares; runs the insert hooks. Returns 0, or -1 with a
 * reason (which never quotes args). */
int insert_prepare(const char *kind, const char *args, const sluice_enqueue_opts *opts,
                   int64_t now_us, int flags, insert_job **out, char *err, size_t errlen);
void insert_free(insert_job *j); /* the whole list */
/* Before it is written: args sealed under a key that no longer encrypts
 * (a key rotation while its parent ran) are sealed again under the one
 * that does, so reencrypt need not find them and removing the old key
 * strands none. Loop thread. */
void insert_reseal(insert_job *j);

/* One element of the JSON array SQL_INSERT_COLUMNS reads. */
void insert_encode(struct sb *b, const insert_job *j, int64_t parent_id);

/* River's unique key string ("&kind=...&args=...&period=...&queue=...");
 * exposed for tests. Returns malloc'd text, or NULL if args are not an
 * object. */
char *unique_key_string(const char *kind, const char *args, const char *queue, uint32_t flags,
                        int64_t period_s, int64_t at_us);

#endif
