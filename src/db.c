/* db.c -- see db.h. State machine: DOWN -(timer)-> CONNECTING -> READY, and
 * any failure back to DOWN with exponential backoff (250 ms doubling, capped
 * at 15 s). Everything here runs on the loop thread. */
#include "db.h"

#include <stdlib.h>
#include <string.h>

#include "conninfo.h"
#include "log.h"
#include "sql.h"
#include "util.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 15000
/* libpq ignores connect_timeout in async mode; this stands in for it. */
#define CONNECT_TIMEOUT_MS 10000

struct db_prepared {
	db_prepared *next;
	char *name;
	char *sql;
	bool ok; /* prepared on the current connection */
};

struct db_request {
	db_request *next;
	char *sql;
	bool multi;
	db_prepared *prepare; /* send PQsendPrepare for it */
	db_prepared *run;     /* run this prepared statement */
	int nparams;
	char **params;
	db_result_cb cb;
	void *arg;
};

static void connect_now(db_conn *c);
static void on_poll(uv_poll_t *p, int status, int events);

static void query_free(db_request *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	free(q);
}

static void free_poll(uv_handle_t *h) { free(h); }

static void stop_poll(db_conn *c)
{
	if (!c->poll)
		return;
	uv_poll_stop(c->poll);
	uv_close((uv_handle_t *)c->poll, free_poll);
	c->poll = NULL;
	c->poll_fd = -1;
	c->poll_events = 0;
}

/* (Re)arms the poll handle on the connection's current socket; libpq may
 * switch sockets while it tries hosts/addresses. */
static void watch(db_conn *c, int events)
{
	int fd = PQsocket(c->pg);
	if (c->poll && c->poll_fd != fd)
		stop_poll(c);
	if (!c->poll) {
		c->poll = xmalloc(sizeof *c->poll);
		if (uv_poll_init(c->loop, c->poll, fd) != 0) {
			free(c->poll);
			c->poll = NULL;
			return;
		}
		c->poll->data = c;
		c->poll_fd = fd;
		c->poll_events = 0;
	}
	if (events != c->poll_events) {
		uv_poll_start(c->poll, events, on_poll);
		c->poll_events = events;
	}
}

/* libpq messages end in newlines and may span lines; log lines may not. */
static char *one_line(const char *msg)
{
	char *s = xstrdup(msg ? msg : "unknown error");
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	size_t n = strlen(s);
	while (n && s[n - 1] == ' ')
		s[--n] = '\0';
	return s;
}

/* A failed statement's error as logged and passed on: PostgreSQL's primary
 * message and SQLSTATE only. Its DETAIL and CONTEXT can quote the row or
 * parameter being written ("Failing row contains (...)", "JSON data, line
 * 1: ..."), and a job's row holds its handler's error texts, which may
 * quote decrypted args. */
static char *sql_error(const PGresult *res)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!primary)
		return one_line(res ? PQresultErrorMessage(res) : "no result");
	sb b = {0};
	sb_printf(&b, "%s (SQLSTATE %s)", primary, code ? code : "unknown");
	char *msg = one_line(sb_str(&b));
	sb_free(&b);
	return msg;
}

static bool sqlstate_transient(const char *s)
{
	if (!s || strlen(s) != 5)
		return false;
	static const char *const classes[] = {"40", "53", "08", "58"};
	for (size_t i = 0; i < ARRAY_LEN(classes); i++)
		if (strncmp(s, classes[i], 2) == 0)
			return true;
	static const char *const codes[] = {"55P03", "57014", "25006", "57P01", "57P02", "57P03"};
	for (size_t i = 0; i < ARRAY_LEN(codes); i++)
		if (strcmp(s, codes[i]) == 0)
			return true;
	return false;
}

bool db_error_transient(const db_conn *c) { return c->err_transient; }

static void fail_all(db_conn *c, const char *err)
{
	db_request *q = c->inflight;
	c->inflight = NULL;
	c->inflight_since_ms = 0;
	if (c->result) {
		PQclear(c->result);
		c->result = NULL;
	}
	db_request *rest = c->head;
	c->head = c->tail = NULL;
	if (q) {
		q->cb(DB_ECONN, NULL, err, q->arg);
		query_free(q);
	}
	while (rest) {
		db_request *next = rest->next;
		rest->cb(DB_ECONN, NULL, err, rest->arg);
		query_free(rest);
		rest = next;
	}
}

static void on_retry_timer(uv_timer_t *t)
{
	db_conn *c = t->data;
	if (c->state == DB_DOWN)
		connect_now(c);
	else if (c->state == DB_CONNECTING) {
		/* connect timeout: treat as a failed attempt */
		log_warn("database connect timed out", LS("conn", c->name));
		stop_poll(c);
		PQfinish(c->pg);
		c->pg = NULL;
		c->state = DB_DOWN;
		uv_timer_start(&c->timer, on_retry_timer, (uint64_t)c->backoff_ms, 0);
		c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	}
}

/* Takes msg. */
static void fail_down(db_conn *c, char *msg, bool was_ready)
{
	uv_timer_start(&c->timer, on_retry_timer, (uint64_t)c->backoff_ms, 0);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	fail_all(c, msg);
	if (was_ready && c->on_state)
		c->on_state(c, false, c->arg);
	free(msg);
}

static void on_deferred_down(uv_timer_t *t)
{
	db_conn *c = t->data;
	char *msg = c->down_msg;
	c->down_msg = NULL;
	fail_down(c, msg, c->down_was_ready);
}

static void broken(db_conn *c, const char *why)
{
	bool was_ready = c->state == DB_READY;
	char *redacted = conninfo_redact(c->url, why ? why : "unknown error");
	char *msg = one_line(redacted);
	free(redacted);
	if (was_ready || !c->quiet_until_up)
		log_warn(was_ready ? "database connection lost" : "database connection failed",
		         LS("conn", c->name), LS("err", msg), LI("retry_in_ms", c->backoff_ms));
	else
		log_debug("database connection failed", LS("conn", c->name), LS("err", msg));
	c->quiet_until_up = true;
	stop_poll(c);
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->state = DB_DOWN;
	uv_timer_stop(&c->timer);
	if (c->in_enqueue) {
		/* A send failed inside db_query_*(), whose callers count on no
		 * callback before it returns (db.h): the requests fail from the
		 * loop, at once. */
		c->down_msg = msg;
		c->down_was_ready = was_ready;
		uv_timer_start(&c->timer, on_deferred_down, 0, 0);
		return;
	}
	fail_down(c, msg, was_ready);
}

static void send_next(db_conn *c)
{
	if (c->state != DB_READY || c->inflight || !c->head)
		return;
	db_request *q = c->head;
	c->head = q->next;
	if (!c->head)
		c->tail = NULL;
	q->next = NULL;
	c->inflight = q;
	c->inflight_since_ms = mono_ms();
	int sent;
	if (q->prepare)
		sent = PQsendPrepare(c->pg, q->prepare->name, q->prepare->sql, 0, NULL);
	else if (q->run && q->run->ok)
		sent = PQsendQueryPrepared(c->pg, q->run->name, q->nparams,
		                           (const char *const *)q->params, NULL, NULL, 0);
	else if (q->multi)
		sent = PQsendQuery(c->pg, q->sql);
	else
		sent = PQsendQueryParams(c->pg, q->run ? q->run->sql : q->sql, q->nparams, NULL,
		                         (const char *const *)q->params, NULL, NULL, 0);
	if (!sent) {
		broken(c, PQerrorMessage(c->pg));
		return;
	}
	int f = PQflush(c->pg);
	if (f < 0) {
		broken(c, PQerrorMessage(c->pg));
		return;
	}
	watch(c, UV_READABLE | (f ? UV_WRITABLE : 0));
}

static void drain_notifies(db_conn *c)
{
	PGnotify *n;
	while ((n = PQnotifies(c->pg))) {
		if (c->on_notify)
			c->on_notify(c, n->relname, n->extra, c->arg);
		PQfreemem(n);
	}
}

static bool result_ok(const PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static db_request *make_request(const char *sql, int nparams, const char *const *params,
                                db_result_cb cb, void *arg);

static void on_rollback(db_status st, PGresult *res, const char *err, void *arg)
{
	(void)res;
	db_conn *c = arg;
	if (st == DB_ESQL)
		log_warn("cannot end an aborted transaction", LS("conn", c->name), LS("err", err));
}

static void collect_results(db_conn *c)
{
	while (c->inflight && !PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		if (r) {
			/* Keep the first error, else the last result (preferring one
			 * with rows: a transaction ends with COMMIT's). */
			if (c->result && (!result_ok(c->result) ||
			                  (PQresultStatus(c->result) == PGRES_TUPLES_OK &&
			                   PQresultStatus(r) == PGRES_COMMAND_OK))) {
				PQclear(r);
				continue;
			}
			if (c->result)
				PQclear(c->result);
			c->result = r;
			continue;
		}
		db_request *q = c->inflight;
		PGresult *res = c->result;
		c->inflight = NULL;
		c->result = NULL;
		c->inflight_since_ms = 0;
		if (res && result_ok(res)) {
			q->cb(DB_OK, res, NULL, q->arg);
		} else {
			char *msg = sql_error(res);
			c->err_transient = res && sqlstate_transient(PQresultErrorField(res, PG_DIAG_SQLSTATE));
			q->cb(DB_ESQL, NULL, msg, q->arg);
			c->err_transient = false;
			free(msg);
		}
		if (res)
			PQclear(res);
		query_free(q);
		if (c->state != DB_READY)
			return; /* a callback closed the connection */
		/* A string of statements that failed between its BEGIN and COMMIT
		 * (PostgreSQL skips the rest of it) leaves the session in an
		 * aborted transaction, where everything after fails with 25P02
		 * until a ROLLBACK: the election would never run again. */
		if (PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
			db_request *rb = make_request("ROLLBACK", 0, NULL, on_rollback, c);
			rb->next = c->head;
			c->head = rb;
			if (!c->tail)
				c->tail = rb;
		}
		send_next(c);
	}
}

static void on_prepared(db_status st, PGresult *res, const char *err, void *arg);
static void queue_prepare(db_conn *c, db_prepared *p);
static db_request *make_request(const char *sql, int nparams, const char *const *params,
                                db_result_cb cb, void *arg);
static int enqueue(db_conn *c, db_request *q);

static void on_session_setup(db_status st, PGresult *res, const char *err, void *arg)
{
	(void)res;
	db_conn *c = arg;
	if (st == DB_ESQL)
		log_warn("cannot set plan_cache_mode; statements may keep stale plans",
		         LS("conn", c->name), LS("err", err));
}

static void on_connected(db_conn *c)
{
	uv_timer_stop(&c->timer);
	c->state = DB_READY;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->quiet_until_up = false;
	if (c->ever_connected) {
		c->reconnects++;
		log_info("database reconnected", LS("conn", c->name));
	}
	c->ever_connected = true;
	watch(c, UV_READABLE);
	enqueue(c, make_request(SQL_SESSION_SETUP, 0, NULL, on_session_setup, c));
	for (db_prepared *p = c->prepared; p; p = p->next) {
		p->ok = false;
		queue_prepare(c, p); /* first in the queue: before anything runs */
	}
	if (c->on_state)
		c->on_state(c, true, c->arg);
	send_next(c);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	db_conn *c = p->data;
	if (c->poll != p)
		return;
	if (c->state == DB_CONNECTING) {
		switch (PQconnectPoll(c->pg)) {
		case PGRES_POLLING_READING: watch(c, UV_READABLE); return;
		case PGRES_POLLING_WRITING: watch(c, UV_WRITABLE); return;
		case PGRES_POLLING_OK:
			PQsetnonblocking(c->pg, 1);
			on_connected(c);
			return;
		default: broken(c, PQerrorMessage(c->pg)); return;
		}
	}
	if (c->state != DB_READY)
		return;
	if (status < 0) {
		broken(c, uv_strerror(status));
		return;
	}
	if (events & UV_WRITABLE) {
		int f = PQflush(c->pg);
		if (f < 0) {
			broken(c, PQerrorMessage(c->pg));
			return;
		}
		watch(c, UV_READABLE | (f ? UV_WRITABLE : 0));
	}
	if (events & UV_READABLE) {
		if (!PQconsumeInput(c->pg)) {
			broken(c, PQerrorMessage(c->pg));
			return;
		}
		drain_notifies(c);
		collect_results(c);
		if (c->state == DB_READY && !c->inflight && PQstatus(c->pg) == CONNECTION_BAD)
			broken(c, PQerrorMessage(c->pg));
	}
}

static void connect_now(db_conn *c)
{
	c->state = DB_CONNECTING;
	c->pg = conninfo_connect_start(c->url);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		broken(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
		return;
	}
	uv_timer_start(&c->timer, on_retry_timer, CONNECT_TIMEOUT_MS, 0);
	watch(c, UV_WRITABLE);
}

void db_init(db_conn *c, uv_loop_t *loop, const char *url, const char *name, db_state_cb on_state,
             db_notify_cb on_notify, void *arg)
{
	*c = (db_conn){.loop = loop, .url = xstrdup(url), .name = name, .on_state = on_state,
	               .on_notify = on_notify, .arg = arg, .poll_fd = -1,
	               .backoff_ms = BACKOFF_MIN_MS, .state = DB_DOWN};
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
}

void db_start(db_conn *c) { connect_now(c); }

static int enqueue(db_conn *c, db_request *q)
{
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	c->in_enqueue = true;
	send_next(c);
	c->in_enqueue = false;
	return 0;
}

/* A request with copies of its text parameters. */
static db_request *make_request(const char *sql, int nparams, const char *const *params,
                                db_result_cb cb, void *arg)
{
	db_request *q = xcalloc(1, sizeof *q);
	q->sql = sql ? xstrdup(sql) : NULL;
	q->nparams = nparams;
	if (nparams) {
		q->params = xcalloc((size_t)nparams, sizeof *q->params);
		for (int i = 0; i < nparams; i++)
			q->params[i] = params[i] ? xstrdup(params[i]) : NULL;
	}
	q->cb = cb;
	q->arg = arg;
	return q;
}

static void on_prepared(db_status st, PGresult *res, const char *err, void *arg)
{
	(void)res;
	db_prepared *p = arg;
	p->ok = st == DB_OK;
	if (st == DB_ESQL)
		log_warn("cannot prepare statement; running it unprepared", LS("name", p->name),
		         LS("err", err));
}

static void queue_prepare(db_conn *c, db_prepared *p)
{
	db_request *q = xcalloc(1, sizeof *q);
	q->prepare = p;
	q->cb = on_prepared;
	q->arg = p;
	enqueue(c, q);
}

static db_prepared *find_prepared(const db_conn *c, const char *name)
{
	db_prepared *p = c->prepared;
	while (p && strcmp(p->name, name) != 0)
		p = p->next;
	return p;
}

void db_prepare(db_conn *c, const char *name, const char *sql)
{
	if (find_prepared(c, name))
		return;
	db_prepared *p = xcalloc(1, sizeof *p);
	p->name = xstrdup(name);
	p->sql = xstrdup(sql);
	p->next = c->prepared;
	c->prepared = p;
	if (c->state == DB_READY)
		queue_prepare(c, p);
}

int db_query_multi(db_conn *c, const char *sql, db_result_cb cb, void *arg)
{
	if (c->state != DB_READY)
		return -1;
	db_request *q = make_request(sql, 0, NULL, cb, arg);
	q->multi = true;
	return enqueue(c, q);
}

int db_query_params(db_conn *c, const char *sql, int nparams, const char *const *params,
                    db_result_cb cb, void *arg)
{
	if (c->state != DB_READY)
		return -1;
	return enqueue(c, make_request(sql, nparams, params, cb, arg));
}

int db_query_prepared(db_conn *c, const char *name, int nparams, const char *const *params,
                      db_result_cb cb, void *arg)
{
	if (c->state != DB_READY)
		return -1;
	db_prepared *p = find_prepared(c, name);
	if (!p)
		abort(); /* a bug: statements are registered before they are run */
	db_request *q = make_request(NULL, nparams, params, cb, arg);
	q->run = p;
	return enqueue(c, q);
}

bool db_ready(const db_conn *c) { return c->state == DB_READY; }

bool db_idle(const db_conn *c) { return c->state == DB_READY && !c->inflight && !c->head; }

static void on_timer_closed(uv_handle_t *h)
{
	db_conn *c = h->data;
	free(c->url);
	c->url = NULL;
	free(c->down_msg);
	c->down_msg = NULL;
	while (c->prepared) {
		db_prepared *next = c->prepared->next;
		free(c->prepared->name);
		free(c->prepared->sql);
		free(c->prepared);
		c->prepared = next;
	}
	if (c->close_cb)
		c->close_cb(c);
}

void db_close(db_conn *c, void (*cb)(db_conn *c))
{
	c->close_cb = cb;
	stop_poll(c);
	/* Closed before the callbacks run, so none can queue a statement on it. */
	c->state = DB_CLOSED;
	fail_all(c, "connection closed");
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
