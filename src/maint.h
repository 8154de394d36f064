/* maint.h -- the leader's maintenance services (see maint.c). */
#ifndef SLUICE_MAINT_H
#define SLUICE_MAINT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "db.h"
#include "reindex.h"

struct sluiced;

typedef struct maint {
	struct sluiced *d;
	db_conn *conn;
	bool active;
	uv_timer_t sched_t, rescue_t, clean_t, qclean_t, depth_t, periodic_t;
	bool sched_busy, rescue_busy, clean_busy, rescue_more;
	int64_t rescue_after_id;
	char rescue_horizon[40];
	char *sql_schedule, *sql_stuck, *sql_rescue, *sql_clean, *sql_qclean, *sql_depth, *sql_insert;
	int64_t *periodic_next; /* per [periodic] entry: next tick (us), -1 none */
	uint64_t scheduled, rescued, cleaned, periodic_enqueued;
	reindexer rx; /* on its own connection (reindex.c) */
} maint;

void maint_init(maint *m, struct sluiced *d, db_conn *conn);
/* On when this daemon leads (and [maintenance] enabled), off otherwise. */
void maint_set_active(maint *m, bool on);
/* After a reload: the intervals in d->cfg apply to the timers now armed. */
void maint_intervals_reloaded(maint *m);
/* A timer armed to fire later than ms from now fires at ms instead. */
void timer_pull_in(uv_timer_t *t, uv_timer_cb cb, uint64_t ms);
void maint_free(maint *m);

#endif
