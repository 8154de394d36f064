/* leader.c -- see leader.h. Statements run on the maintenance connection. */
#include "leader.h"

#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "migrate.h"
#include "util.h"

static void attempt(uv_timer_t *t);
static void set_leader(leader *l, bool yes);

static void schedule(leader *l, uint64_t ms)
{
	if (!l->stopping)
		uv_timer_start(&l->timer, attempt, ms, 0);
}

static uint64_t jittered(uint64_t base, uint32_t jitter)
{
	return base + (jitter ? randombytes_uniform(jitter) : 0);
}

/* Doubles single quotes: the value is inlined in a multi-statement
 * transaction, which takes no parameters. */
static char *literal(const char *s)
{
	sb b = {0};
	sb_putc(&b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			sb_putc(&b, '\'');
		sb_putc(&b, *s);
	}
	sb_putc(&b, '\'');
	return sb_take(&b);
}

void leader_init(leader *l, uv_loop_t *loop, db_conn *conn, const char *schema, const char *id,
                 leader_change_cb cb, void *arg)
{
	*l = (leader){.conn = conn, .id_literal = literal(id), .schema = xstrdup(schema),
	              .on_change = cb, .arg = arg};
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	uv_timer_init(loop, &l->term_timer);
	l->term_timer.data = l;
}

/* The term ran out here with no renewal answered (the connection is down,
 * or the renewal waits behind a blocked statement): step down now, as
 * River's elector does, before another node can be elected, not when the
 * answer comes. */
static void on_term_end(uv_timer_t *t)
{
	leader *l = t->data;
	if (!l->is_leader || l->stopping)
		return;
	log_warn("stepping down: could not renew leadership in time");
	set_leader(l, false);
}

static void arm_term(leader *l)
{
	uint64_t now = mono_ms();
	uv_timer_start(&l->term_timer, on_term_end, l->deadline_ms > now ? l->deadline_ms - now : 0, 0);
}

static void set_leader(leader *l, bool yes)
{
	if (l->is_leader == yes)
		return;
	l->is_leader = yes;
	if (yes) {
		l->elections_won++;
		arm_term(l);
	} else {
		uv_timer_stop(&l->term_timer);
		l->resign_pending = false; /* a request is for the term that ended */
	}
	l->on_change(yes, l->arg);
}

static void on_elect(db_status st, PGresult *res, const char *err, void *arg)
{
	leader *l = arg;
	l->busy = false;
	if (l->stopping) {
		if (st == DB_OK && PQntuples(res) == 1) {
			/* Won while stopping: record the term so leader_stop resigns it. */
			snprintf(l->elected_at, sizeof l->elected_at, "%s", PQgetvalue(res, 0, 0));
			l->is_leader = true;
		}
		leader_stop(l, l->on_stopped);
		return;
	}
	if (st != DB_OK) {
		if (st == DB_ESQL)
			log_warn("leader election failed", LS("err", err));
		schedule(l, jittered(LEADER_ELECT_INTERVAL_MS, LEADER_ELECT_JITTER_MS));
		return;
	}
	if (PQntuples(res) == 1) {
		snprintf(l->elected_at, sizeof l->elected_at, "%s", PQgetvalue(res, 0, 0));
		l->errors = 0;
		log_info("elected leader", LS("elected_at", l->elected_at));
		set_leader(l, true);
		schedule(l, LEADER_ELECT_INTERVAL_MS);
	} else {
		schedule(l, jittered(LEADER_ELECT_INTERVAL_MS, LEADER_ELECT_JITTER_MS));
	}
}

static void resign_on_request(leader *l);

static void on_reelect(db_status st, PGresult *res, const char *err, void *arg)
{
	leader *l = arg;
	l->busy = false;
	if (l->stopping) {
		leader_stop(l, l->on_stopped);
		return;
	}
	uint64_t now = mono_ms();
	if (!l->is_leader) {
		/* Stepped down while this renewal waited (on_term_end): the row,
		 * renewed or not, expires by itself; bid again as a follower. */
		schedule(l, jittered(LEADER_ELECT_INTERVAL_MS, LEADER_ELECT_JITTER_MS));
		return;
	}
	if (l->resign_pending) {
		/* Asked to resign while this renewal waited: whatever it did, the
		 * resignation deletes only this term's row. */
		resign_on_request(l);
		return;
	}
	if (st == DB_OK && PQntuples(res) == 1) {
		l->errors = 0;
		l->deadline_ms = l->pending_deadline_ms;
		arm_term(l);
		schedule(l, LEADER_ELECT_INTERVAL_MS);
		return;
	}
	if (st == DB_OK || now >= l->deadline_ms) {
		/* Another node holds the row, or our term ran out locally: step down
		 * before anyone else could be elected. */
		log_warn(st == DB_OK ? "lost leadership" : "stepping down: could not renew leadership in time");
		set_leader(l, false);
		schedule(l, jittered(LEADER_ELECT_INTERVAL_MS, LEADER_ELECT_JITTER_MS));
		return;
	}
	l->errors++;
	uint64_t wait = 250u << (l->errors < 5 ? l->errors : 5);
	if (now + wait > l->deadline_ms)
		wait = l->deadline_ms - now;
	log_warn("leader re-election failed; retrying", LS("err", err ? err : "?"),
	         LI("retry_in_ms", (int64_t)wait));
	schedule(l, wait);
}

static void attempt(uv_timer_t *t)
{
	leader *l = t->data;
	if (l->busy || l->stopping || !db_ready(l->conn)) {
		if (!l->stopping)
			schedule(l, 1000);
		return;
	}
	sb b = {0};
	uint64_t started = mono_ms();
	if (!l->is_leader) {
		sb_printf(&b,
		          "BEGIN;\n"
		          "DELETE FROM {S}river_leader WHERE expires_at < now();\n"
		          "INSERT INTO {S}river_leader (leader_id, elected_at, expires_at)\n"
		          "  VALUES (%s, now(), now() + make_interval(secs => %d))\n"
		          "  ON CONFLICT (name) DO NOTHING\n"
		          "  RETURNING to_char(elected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US');\n"
		          "COMMIT;",
		          l->id_literal, LEADER_TTL_S);
		l->deadline_ms = started + LEADER_TTL_S * 1000 - LEADER_SAFETY_MARGIN_MS;
	} else {
		sb_printf(&b,
		          "UPDATE {S}river_leader SET expires_at = now() + make_interval(secs => %d)\n"
		          "WHERE elected_at = '%s+00'::timestamptz AND expires_at >= now()\n"
		          "  AND leader_id = %s RETURNING 1",
		          LEADER_TTL_S, l->elected_at, l->id_literal);
	}
	char *sql = sql_render(sb_str(&b), l->schema);
	sb_free(&b);
	int rc = l->is_leader ? db_query(l->conn, sql, on_reelect, l)
	                      : db_query_multi(l->conn, sql, on_elect, l);
	free(sql);
	if (rc == 0) {
		l->busy = true;
		if (l->is_leader)
			/* the renewed term counts from when the renewal was sent */
			l->pending_deadline_ms = started + LEADER_TTL_S * 1000 - LEADER_SAFETY_MARGIN_MS;
	} else {
		schedule(l, 1000);
	}
}

void leader_start(leader *l, const char *channel_prefix)
{
	if (!l->channel) {
		sb b = {0};
		sb_printf(&b, "%sriver_leadership", channel_prefix);
		l->channel = sb_take(&b);
	}
	if (!l->busy && !uv_is_active((uv_handle_t *)&l->timer))
		schedule(l, 0);
}

void leader_on_notify(leader *l, const char *payload)
{
	json_object *o = json_tokener_parse(payload);
	const char *action = json_member_str(o, "action"), *who = json_member_str(o, "leader_id");
	char *mine = literal(who);
	bool is_me = strcmp(mine, l->id_literal) == 0;
	free(mine);
	if (strcmp(action, "resigned") == 0 && !is_me && !l->is_leader && !l->busy) {
		/* Someone stepped down: bid soon, spread out so not everyone bids at once. */
		uv_timer_stop(&l->timer);
		schedule(l, randombytes_uniform(50));
	} else if (strcmp(action, "request_resign") == 0 && l->is_leader) {
		if (l->busy)
			l->resign_pending = true; /* on_reelect resigns when the renewal is answered */
		else
			resign_on_request(l);
	}
	json_object_put(o);
}

/* As River: give up this term (DELETE + NOTIFY resigned), then bid again
 * as a follower, after an election interval so another node can take it. */
static void resign_on_request(leader *l)
{
	l->resign_pending = false;
	log_info("leadership resignation requested");
	leader_stop(l, NULL);
	l->stopping = false;
	schedule(l, jittered(LEADER_ELECT_INTERVAL_MS, LEADER_ELECT_JITTER_MS));
}

static void on_resigned(db_status st, PGresult *res, const char *err, void *arg)
{
	(void)res;
	leader *l = arg;
	if (st != DB_OK)
		log_warn("resigning leadership failed; it expires by itself", LS("err", err ? err : "?"));
	else
		log_info("resigned leadership");
	if (l->stopping && l->on_stopped)
		l->on_stopped(l->arg);
}

void leader_stop(leader *l, void (*done)(void *arg))
{
	l->stopping = true;
	l->on_stopped = done;
	uv_timer_stop(&l->timer);
	if (l->busy)
		return; /* the callback in flight comes back here */
	if (!l->is_leader) {
		if (done)
			done(l->arg);
		return;
	}
	set_leader(l, false);
	sb b = {0};
	sb_printf(&b,
	          "WITH held AS (\n"
	          "  SELECT * FROM {S}river_leader\n"
	          "  WHERE elected_at = '%s+00'::timestamptz AND leader_id = %s FOR UPDATE\n"
	          "), notified AS (\n"
	          "  SELECT pg_notify('%s', json_build_object('leader_id', leader_id,\n"
	          "    'action', 'resigned')::text) FROM held\n"
	          ")\n"
	          "DELETE FROM {S}river_leader USING notified",
	          l->elected_at, l->id_literal, l->channel ? l->channel : "river_leadership");
	char *sql = sql_render(sb_str(&b), l->schema);
	sb_free(&b);
	if (db_query(l->conn, sql, on_resigned, l) < 0 && done)
		done(l->arg);
	free(sql);
}

void leader_free(leader *l)
{
	free(l->id_literal);
	free(l->schema);
	free(l->channel);
}
