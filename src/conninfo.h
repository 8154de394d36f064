/* conninfo.h -- libpq connection strings (URL or key=value) as the user
 * wrote them. libpq quotes pieces of a string it cannot parse in its error
 * messages, password included; everything that shows a libpq message passes
 * it through conninfo_redact first. */
#ifndef SLUICE_CONNINFO_H
#define SLUICE_CONNINFO_H

#include <stddef.h>

/* A malloc'd copy of msg with every password conninfo carries (as written
 * and percent-decoded) replaced by "***". */
char *conninfo_redact(const char *conninfo, const char *msg);

/* 0 if libpq can parse conninfo; else -1 and why (redacted) in err. */
int conninfo_check(const char *conninfo, char *err, size_t errlen);

/* PQconnectStartParams(conninfo) with sluiced's defaults, each of which
 * conninfo may set otherwise: application name "sluiced", and over TCP
 * keepalives after 30 s idle, every 10 s, 3 unanswered, and a 60 s
 * tcp_user_timeout, so a network path that vanished without a reset (a
 * failover, a NAT dropping state) fails the connection within about a
 * minute instead of leaving a statement waiting for hours. */
struct pg_conn;
struct pg_conn *conninfo_connect_start(const char *conninfo);

#endif
