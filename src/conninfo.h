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

#endif
