/* complete.h -- the completer: batches outcomes and writes them in one
 * statement per batch, only to rows still running. A failed flush is
 * retried (after a reconnect if the connection was lost), never dropped;
 * a statement error splits the batch until the one bad record is found. */
#ifndef SLUICE_COMPLETE_H
#define SLUICE_COMPLETE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "db.h"
#include "job.h"

/* River flushes at 100 results or every 50 ms, whichever comes first. */
#define COMPLETE_BATCH_THRESHOLD 100
#define COMPLETE_FLUSH_MS 50
/* Upper bound on one statement's batch. */
#define COMPLETE_MAX_BATCH 2000
/* Pause before writing again a batch that failed for a reason that passes
 * (db_error_transient), doubling up to the most. */
#define COMPLETE_RETRY_MIN_MS 100
#define COMPLETE_RETRY_MAX_MS 5000
/* A single outcome that fails so this many times in a row, each a failure
 * that should pass, is given up (the job stays running until the rescuer
 * takes it, as River's completer gives up after 3): retried for ever, it
 * would hold back every other outcome. About 40 s of retries. */
#define COMPLETE_GIVE_UP_AFTER 10
/* After batches had to be halved for failures that should pass (too slow
 * for statement_timeout, say), how long batches grow no larger than half
 * of the one that failed: doubling straight back to it made every other
 * batch fail twice again while a backlog lasted. */
#define COMPLETE_SLOW_HOLD_MS 30000
/* Upper bound on one statement's records in bytes (outputs may be up to
 * 32 MB each; PostgreSQL takes no message over 1 GB). */
#define COMPLETE_MAX_BYTES (64u << 20)

/* Outcomes waiting to be written at which fetching stops, until they drop
 * below half (River makes finished jobs wait at the same backlog, 10,000):
 * memory stays bounded when the database writes outcomes slower than the
 * handlers produce them, and the fetches give it room to catch up. */
#define COMPLETE_BACKLOG_WAIT 10000

typedef struct completer {
	db_conn *conn;
	char *sql;
	char *sql_children;
	const char *channel; /* "<prefix>river_insert", for children's NOTIFY */
	completion *head, *tail;
	size_t pending;
	completion *inflight;
	size_t ninflight;
	size_t limit; /* current batch cap; shrinks while bisecting a bad batch */
	bool flushing;
	bool timer_armed;
	bool full; /* completer_full() said so; on_room when it drains */
	uint64_t sent_ms;
	uint64_t retry_ms;       /* pause after a transient failure, 0: none */
	uint64_t retry_until_ms; /* no flush before (monotonic), but by kick */
	int transient_fails;     /* in a row, of the batch in hand */
	size_t slow_size;        /* the batch last halved for them, until slow_until_ms */
	uint64_t slow_until_ms;
	uv_timer_t timer;
	uint64_t applied, skipped, failed, children, retries;
	void (*on_idle)(void *arg); /* called when nothing is pending or in flight */
	void (*on_room)(void *arg); /* called when a full backlog fell below half */
	void *arg;
} completer;

void completer_init(completer *c, uv_loop_t *loop, db_conn *conn, const char *schema);
/* Takes ownership of comp. */
void completer_add(completer *c, completion *comp);
/* Registers the completion statements for preparing (once the schema is
 * known to be there). */
void completer_prepare(completer *c);
/* Flush what is pending now (connection came up, shutdown). */
void completer_kick(completer *c);
bool completer_idle(const completer *c);
/* Whether COMPLETE_BACKLOG_WAIT outcomes wait; if so, on_room follows. */
bool completer_full(completer *c);
size_t completer_backlog(const completer *c);
/* Whether the outcome of this attempt of the job waits or is being written. */
bool completer_holds(const completer *c, int64_t job_id, int attempt);
/* After the loop closed the timer. */
void completer_free(completer *c);
/* Frees whatever could not be written (shutdown with the database down). */
size_t completer_discard(completer *c);

/* Appends comps (n of them, a list) as the JSON array SQL_COMPLETE reads. */
struct sb;
void completer_encode(struct sb *b, const completion *head, size_t n);

#endif
