/* metrics.h -- counters, histograms and the /metrics + /healthz endpoint
 * (see metrics.c). Loop thread only. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stddef.h>
#include <uv.h>

#include "util.h"

/* Appends the daemon's gauges at scrape time. */
typedef void (*metrics_gauges_fn)(sb *out, void *arg);
/* NULL when healthy, else why not. */
typedef const char *(*metrics_health_fn)(void *arg);

/* [metrics] listen ("host:port": an IPv4 address, [an IPv6 address] or
 * localhost; no name lookups) as an address to bind: 0, or -1 if it is
 * not one. The config checks it with this, so the two agree. */
int metrics_listen_addr(const char *listen, struct sockaddr_storage *addr);
int metrics_start(uv_loop_t *loop, const char *listen, metrics_gauges_fn gauges,
                  metrics_health_fn health, void *arg, char *err, size_t errlen);
void metrics_stop(void);
void metrics_free(void);
/* The /metrics body: every family, then the daemon's gauges. */
void metrics_render(sb *out);

void metrics_job(const char *kind, const char *queue, const char *outcome, double seconds);
void metrics_decrypt_failure(const char *key_id);
void metrics_fetch_latency(double seconds);
void metrics_complete_latency(double seconds);
void metrics_depth_reset(void);
void metrics_depth_set(const char *queue, const char *state, double n);

/* For metrics_gauges_fn: a family header (type "gauge" or "counter"), then
 * its samples. labels: rendered (name="value",...) or NULL. */
void metrics_family(sb *out, const char *name, const char *type, const char *help);
void metrics_sample(sb *out, const char *name, const char *labels, double v);

#endif
