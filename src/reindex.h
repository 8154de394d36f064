/* reindex.h -- River's reindexer, run by the leader (see reindex.c). */
#ifndef SLUICE_REINDEX_H
#define SLUICE_REINDEX_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "db.h"

struct sluiced;

typedef struct reindexer {
	struct sluiced *d;
	uv_timer_t timer, connect_t;
	bool active;
	db_conn *conn;   /* a run's own connection, NULL between runs */
	bool sent;       /* this run's first statements are queued */
	int todo[8];     /* indexes (of reindex.c's list) to rebuild this run */
	int nindexes, next_index;
	uint64_t started_ms; /* of the rebuild in flight, or of connecting */
	int64_t next_us; /* the next run (UTC), -1 none */
	uint64_t rebuilt; /* indexes, since start */
} reindexer;

void reindexer_init(reindexer *r, struct sluiced *d);
/* On while this daemon leads; off ends a run in progress. */
void reindexer_set_active(reindexer *r, bool on);
/* After a reload: if reindex_schedule changed, the next run by the new one. */
void reindexer_reschedule(reindexer *r);

#endif
