/* metrics.c -- Prometheus text exposition on [metrics] listen: /metrics and
 * /healthz, served from the loop thread (every update happens there too, so
 * no locks). Labels hold kinds, queues, outcomes and key ids: never args. */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define MAX_REQUEST 8192
#define CLIENT_TIMEOUT_MS 5000

static const double job_buckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};
static const double db_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
#define NJB ARRAY_LEN(job_buckets)
#define NDB ARRAY_LEN(db_buckets)

typedef struct series {
	char *labels; /* rendered: kind="x",queue="y" */
	double value;
	double sum;
	uint64_t count;
	uint64_t buckets[NJB > NDB ? NJB : NDB];
} series;

typedef struct family {
	series *v;
	size_t n, cap;
} family;

static family jobs_total, job_duration, decrypt_failures, depth, fetch_lat, complete_lat;

static series *find(family *f, const char *labels)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].labels, labels) == 0)
			return &f->v[i];
	if (f->n == f->cap)
		f->v = xrealloc(f->v, (f->cap = f->cap ? f->cap * 2 : 16) * sizeof *f->v);
	series *s = &f->v[f->n++];
	memset(s, 0, sizeof *s);
	s->labels = xstrdup(labels);
	return s;
}

static void family_clear(family *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].labels);
	free(f->v);
	*f = (family){0};
}

/* Appends name="value" with Prometheus escaping. */
static void label(sb *b, const char *name, const char *value)
{
	if (b->len)
		sb_putc(b, ',');
	sb_printf(b, "%s=\"", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			sb_putc(b, '\\');
		if (*p == '\n')
			sb_puts(b, "\\n");
		else
			sb_putc(b, *p);
	}
	sb_putc(b, '"');
}

static void observe(series *s, const double *bounds, size_t nb, double v)
{
	s->sum += v;
	s->count++;
	for (size_t i = 0; i < nb; i++)
		if (v <= bounds[i])
			s->buckets[i]++;
}

/* Families are looked up linearly: kinds x queues x outcomes stay small. */
static sb scratch; /* reused: no allocation once warm */

/* metrics_job runs once per job on the loop thread, so the last few label
 * sets it saw keep their series' indices: a job then costs three string
 * compares instead of rendering labels and searching (which took a tenth
 * of the daemon's CPU in a burn-down of no-op jobs). Indices, not
 * pointers: a family's array moves as it grows. */
#define MEMOS 8
typedef struct job_memo {
	char *kind, *queue, *outcome; /* NULL: unused */
	size_t total, duration;       /* indices in jobs_total, job_duration */
} job_memo;
static job_memo memos[MEMOS];
static size_t memo_next;

static void memo_clear(void)
{
	for (size_t i = 0; i < MEMOS; i++) {
		free(memos[i].kind);
		free(memos[i].queue);
		free(memos[i].outcome);
		memos[i] = (job_memo){0};
	}
	memo_next = 0;
}

static job_memo *memo_for(const char *kind, const char *queue, const char *outcome)
{
	for (size_t i = 0; i < MEMOS && memos[i].kind; i++)
		if (strcmp(memos[i].outcome, outcome) == 0 && strcmp(memos[i].kind, kind) == 0 &&
		    strcmp(memos[i].queue, queue) == 0)
			return &memos[i];
	job_memo *m = &memos[memo_next];
	memo_next = (memo_next + 1) % MEMOS;
	free(m->kind);
	free(m->queue);
	free(m->outcome);
	*m = (job_memo){xstrdup(kind), xstrdup(queue), xstrdup(outcome), 0, 0};
	sb_reset(&scratch);
	label(&scratch, "kind", kind);
	label(&scratch, "queue", queue);
	label(&scratch, "outcome", outcome);
	m->total = (size_t)(find(&jobs_total, sb_str(&scratch)) - jobs_total.v);
	sb_reset(&scratch);
	label(&scratch, "kind", kind);
	m->duration = (size_t)(find(&job_duration, sb_str(&scratch)) - job_duration.v);
	return m;
}

void metrics_job(const char *kind, const char *queue, const char *outcome, double seconds)
{
	job_memo *m = memo_for(kind, queue, outcome);
	jobs_total.v[m->total].value++;
	observe(&job_duration.v[m->duration], job_buckets, NJB, seconds);
}

void metrics_decrypt_failure(const char *key_id)
{
	sb b = {0};
	label(&b, "key_id", key_id && *key_id ? key_id : "none");
	find(&decrypt_failures, sb_str(&b))->value++;
	sb_free(&b);
}

void metrics_fetch_latency(double seconds) { observe(find(&fetch_lat, ""), db_buckets, NDB, seconds); }

void metrics_complete_latency(double seconds)
{
	observe(find(&complete_lat, ""), db_buckets, NDB, seconds);
}

void metrics_depth_reset(void) { family_clear(&depth); }

void metrics_depth_set(const char *queue, const char *state, double n)
{
	sb b = {0};
	label(&b, "queue", queue);
	label(&b, "state", state);
	find(&depth, sb_str(&b))->value = n;
	sb_free(&b);
}

void metrics_family(sb *out, const char *name, const char *type, const char *help)
{
	sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_sample(sb *out, const char *name, const char *labels, double v)
{
	bool l = labels && *labels;
	sb_printf(out, "%s%s%s%s %.17g\n", name, l ? "{" : "", l ? labels : "", l ? "}" : "", v);
}

static void put_family(sb *out, const char *name, const char *type, const char *help,
                       const family *f)
{
	sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (size_t i = 0; i < f->n; i++)
		sb_printf(out, "%s%s%s%s %.17g\n", name, *f->v[i].labels ? "{" : "", f->v[i].labels,
		          *f->v[i].labels ? "}" : "", f->v[i].value);
}

static void put_histogram(sb *out, const char *name, const char *help, const family *f,
                          const double *bounds, size_t nb)
{
	sb_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < f->n; i++) {
		const series *s = &f->v[i];
		const char *sep = *s->labels ? "," : "";
		for (size_t k = 0; k < nb; k++)
			sb_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, s->labels, sep, bounds[k],
			          (unsigned long long)s->buckets[k]);
		sb_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, s->labels, sep,
		          (unsigned long long)s->count);
		sb_printf(out, "%s_sum%s%s%s %.17g\n%s_count%s%s%s %llu\n", name, *s->labels ? "{" : "",
		          s->labels, *s->labels ? "}" : "", s->sum, name, *s->labels ? "{" : "",
		          s->labels, *s->labels ? "}" : "", (unsigned long long)s->count);
	}
}

/* ---- HTTP ------------------------------------------------------------------- */

static struct {
	uv_tcp_t server;
	bool running;
	metrics_gauges_fn gauges;
	metrics_health_fn health;
	void *arg;
	struct client *clients;
} http;

typedef struct client {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	struct client *next;
	char req[MAX_REQUEST];
	size_t len;
	char *resp;
	int closing; /* handles still to close */
} client;

static void client_freed(uv_handle_t *h)
{
	client *c = h->data;
	if (--c->closing > 0)
		return;
	for (client **p = &http.clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	free(c->resp);
	free(c);
}

static void client_close(client *c)
{
	if (c->closing)
		return;
	c->closing = 2;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, client_freed);
	uv_close((uv_handle_t *)&c->tcp, client_freed);
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	client_close(w->data);
}

static void respond(client *c, int code, const char *type, const char *body)
{
	const char *reason = code == 200 ? "OK" : code == 404 ? "Not Found"
	                                  : code == 405 ? "Method Not Allowed"
	                                                : "Service Unavailable";
	sb b = {0};
	sb_printf(&b,
	          "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	          "Connection: close\r\n\r\n%s",
	          code, reason, type, strlen(body), body);
	c->resp = sb_take(&b);
	uv_buf_t buf = uv_buf_init(c->resp, (unsigned)strlen(c->resp));
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0)
		client_close(c);
}

void metrics_render(sb *out)
{
	put_family(out, "sluice_jobs_total", "counter",
	           "Job attempts finished, by kind, queue and outcome.", &jobs_total);
	put_histogram(out, "sluice_job_duration_seconds", "Handler run time by kind.",
	              &job_duration, job_buckets, NJB);
	put_histogram(out, "sluice_fetch_duration_seconds", "Fetch statement latency.",
	              &fetch_lat, db_buckets, NDB);
	put_histogram(out, "sluice_complete_duration_seconds",
	              "Completion batch statement latency.", &complete_lat, db_buckets, NDB);
	put_family(out, "sluice_decrypt_failures_total", "counter",
	           "Args that could not be decrypted, by key id.", &decrypt_failures);
	put_family(out, "sluice_queue_depth", "gauge",
	           "Jobs per queue and state, sampled by the leader (empty elsewhere).", &depth);
	if (http.gauges)
		http.gauges(out, http.arg);
}

static void serve(client *c)
{
	char method[8] = "", path[128] = "";
	sscanf(c->req, "%7s %127s", method, path);
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		respond(c, 405, "text/plain", "method not allowed\n");
	} else if (strcmp(path, "/metrics") == 0) {
		sb out = {0};
		metrics_render(&out);
		respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", sb_str(&out));
		sb_free(&out);
	} else if (strcmp(path, "/healthz") == 0) {
		const char *why = http.health ? http.health(http.arg) : NULL;
		if (why) {
			sb b = {0};
			sb_printf(&b, "unhealthy: %s\n", why);
			respond(c, 503, "text/plain", sb_str(&b));
			sb_free(&b);
		} else {
			respond(c, 200, "text/plain", "ok\n");
		}
	} else {
		respond(c, 404, "text/plain", "not found: try /metrics or /healthz\n");
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	client *c = h->data;
	buf->base = c->req + c->len;
	buf->len = sizeof c->req - 1 - c->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	client *c = s->data;
	if (n < 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	c->req[c->len] = '\0';
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
		uv_read_stop(s);
		serve(c);
	} else if (c->len >= sizeof c->req - 1) {
		uv_read_stop(s);
		respond(c, 404, "text/plain", "request too large\n");
	}
}

static void on_client_timeout(uv_timer_t *t) { client_close(t->data); }

static void on_connection(uv_stream_t *server, int status)
{
	if (status < 0)
		return;
	client *c = xcalloc(1, sizeof *c);
	uv_tcp_init(server->loop, &c->tcp);
	uv_timer_init(server->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->next = http.clients;
	http.clients = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		client_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_client_timeout, CLIENT_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int metrics_listen_addr(const char *listen, struct sockaddr_storage *addr)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(listen, ':');
	size_t hl = colon ? (size_t)(colon - listen) : sizeof host;
	if (hl >= sizeof host)
		return -1;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	int port = atoi(colon + 1);
	if (host[0] == '[') {
		if (hl < 3 || host[hl - 1] != ']')
			return -1;
		host[hl - 1] = '\0';
		return uv_ip6_addr(host + 1, port, (struct sockaddr_in6 *)addr) == 0 ? 0 : -1;
	}
	return uv_ip4_addr(strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, port,
	                   (struct sockaddr_in *)addr) == 0
	           ? 0
	           : -1;
}

int metrics_start(uv_loop_t *loop, const char *listen, metrics_gauges_fn gauges,
                  metrics_health_fn health, void *arg, char *err, size_t errlen)
{
	struct sockaddr_storage addr;
	int rc = metrics_listen_addr(listen, &addr) == 0 ? 0 : UV_EINVAL;
	if (rc == 0)
		rc = uv_tcp_init(loop, &http.server);
	if (rc == 0) {
		http.running = true;
		rc = uv_tcp_bind(&http.server, (const struct sockaddr *)&addr, 0);
		if (rc == 0)
			rc = uv_listen((uv_stream_t *)&http.server, 64, on_connection);
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", listen, uv_strerror(rc));
		return -1;
	}
	http.gauges = gauges;
	http.health = health;
	http.arg = arg;
	return 0;
}

void metrics_stop(void)
{
	for (client *c = http.clients; c; c = c->next)
		client_close(c);
	if (http.running && !uv_is_closing((uv_handle_t *)&http.server))
		uv_close((uv_handle_t *)&http.server, NULL);
	http.running = false;
}

void metrics_free(void)
{
	family *all[] = {&jobs_total, &job_duration, &decrypt_failures, &depth, &fetch_lat, &complete_lat};
	for (size_t i = 0; i < ARRAY_LEN(all); i++)
		family_clear(all[i]);
	memo_clear();
	sb_free(&scratch);
}
