/* leader.h -- leader election through river_leader exactly as River does
 * it, so sluiced and River Go clients share one leader: one row (name
 * 'default'), a 15 s TTL renewed every 5 s, elections every 5 s (+0-1 s
 * jitter) or at once when a leader resigns (NOTIFY <schema>.river_leadership),
 * and a local deadline so a leader that cannot renew steps down before its
 * row expires. */
#ifndef SLUICE_LEADER_H
#define SLUICE_LEADER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "db.h"

#define LEADER_ELECT_INTERVAL_MS 5000
#define LEADER_ELECT_JITTER_MS 1000
#define LEADER_TTL_S 15 /* elect interval + 10 s padding, as River */
#define LEADER_SAFETY_MARGIN_MS 1000

typedef void (*leader_change_cb)(bool is_leader, void *arg);

typedef struct leader {
	db_conn *conn;
	char *id_literal; /* the worker id as an SQL literal */
	char *schema;
	char *channel;    /* "<prefix>river_leadership" */
	bool is_leader;
	bool busy;        /* a statement is in flight */
	bool stopping;
	bool resign_pending; /* request_resign came while a renewal was in flight */
	char elected_at[40]; /* UTC text, microseconds: identifies the term */
	uint64_t deadline_ms; /* monotonic: trust the term until then */
	uint64_t pending_deadline_ms; /* what a renewal in flight would extend it to */
	int errors;
	uv_timer_t timer;
	uv_timer_t term_timer; /* fires at deadline_ms: steps down with no renewal answered */
	leader_change_cb on_change;
	void *arg;
	void (*on_stopped)(void *arg);
	uint64_t elections_won;
} leader;

void leader_init(leader *l, uv_loop_t *loop, db_conn *conn, const char *schema, const char *id,
                 leader_change_cb cb, void *arg);
/* The channel prefix is known once connected. Starts election attempts. */
void leader_start(leader *l, const char *channel_prefix);
/* A notification on <prefix>river_leadership. */
void leader_on_notify(leader *l, const char *payload);
/* Resigns if leader (with NOTIFY), then calls done. */
void leader_stop(leader *l, void (*done)(void *arg));
void leader_free(leader *l);

#endif
