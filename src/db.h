/* db.h -- one PostgreSQL connection driven by the libuv loop: libpq's async
 * API with uv_poll on PQsocket. Queries queue up FIFO, one in flight. A lost
 * connection fails what was queued and reconnects with capped backoff. */
#ifndef SLUICE_DB_H
#define SLUICE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef enum db_status {
	DB_OK = 0,
	DB_ESQL = 1,  /* the statement failed; the connection is fine */
	DB_ECONN = 2, /* the connection was lost; the statement may or may not have run */
} db_status;

typedef struct db_conn db_conn;
typedef struct db_request db_request;
typedef struct db_prepared db_prepared;

/* res is valid during the call only (NULL unless DB_OK). err is NULL on DB_OK. */
typedef void (*db_result_cb)(db_status st, PGresult *res, const char *err, void *arg);
/* up: connection (re)established and usable; !up: lost. */
typedef void (*db_state_cb)(db_conn *c, bool up, void *arg);
typedef void (*db_notify_cb)(db_conn *c, const char *channel, const char *payload, void *arg);

typedef enum db_state { DB_DOWN, DB_CONNECTING, DB_READY, DB_CLOSED } db_state;

struct db_conn {
	uv_loop_t *loop;
	char *url;
	const char *name; /* for log lines: "fetch", "complete" */
	PGconn *pg;
	uv_poll_t *poll;
	int poll_fd;
	int poll_events;
	uv_timer_t timer; /* reconnect backoff, and connect timeout */
	db_state state;
	int64_t backoff_ms;
	db_request *head, *tail; /* not yet sent */
	db_prepared *prepared;    /* prepared again on every connection */
	db_request *inflight;
	PGresult *result; /* what inflight has produced so far */
	db_state_cb on_state;
	db_notify_cb on_notify;
	void *arg;
	uint64_t reconnects;
	uint64_t inflight_since_ms; /* monotonic start of the query in flight, 0: none */
	bool ever_connected;
	bool quiet_until_up; /* log failed attempts at debug after the first */
	bool err_transient;  /* the DB_ESQL being reported may pass (db_error_transient) */
	bool in_enqueue;     /* inside db_query_*(): a broken send fails from the loop */
	bool down_was_ready;
	char *down_msg; /* why, until on_deferred_down reports it */
	void (*close_cb)(db_conn *c);
};

/* During a DB_ESQL callback from c: whether the error is one that passes
 * with time rather than one of the statement or its data: a deadlock or
 * serialization failure (class 40), a lock or statement timeout or a
 * cancel (55P03, 57014), a read-only server (25006, as during a
 * failover), a shortage (class 53), a connection or system error (08, 58),
 * the server shutting down (57P01-57P03). */
bool db_error_transient(const db_conn *c);

void db_init(db_conn *c, uv_loop_t *loop, const char *url, const char *name, db_state_cb on_state,
             db_notify_cb on_notify, void *arg);
void db_start(db_conn *c);
/* Queues a statement with text parameters (copied). Returns 0, or -1 when
 * the connection is not ready (cb is then never called). */
int db_query_params(db_conn *c, const char *sql, int nparams, const char *const *params,
                    db_result_cb cb, void *arg);
static inline int db_query(db_conn *c, const char *sql, db_result_cb cb, void *arg)
{
	return db_query_params(c, sql, 0, NULL, cb, arg);
}
/* Several statements in one string (simple protocol), e.g. a whole
 * transaction: cb gets the first error, else the last result with rows. */
int db_query_multi(db_conn *c, const char *sql, db_result_cb cb, void *arg);
/* Registers a statement to prepare as name on this and every later
 * connection (it saves the planning of statements run all the time), and
 * runs it by name. If preparing failed, it runs unprepared. */
void db_prepare(db_conn *c, const char *name, const char *sql);
int db_query_prepared(db_conn *c, const char *name, int nparams, const char *const *params,
                      db_result_cb cb, void *arg);
bool db_ready(const db_conn *c);
bool db_idle(const db_conn *c); /* ready, nothing queued or in flight */
/* Drops the connection as if it were lost (tests, SIGHUP of a bad conn). */
void db_close(db_conn *c, void (*cb)(db_conn *c));

#endif
