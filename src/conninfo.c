/* conninfo.c -- see conninfo.h. Finds password values the way libpq's
 * parser does (fe-connect.c): in a URL, between the first ':' of the
 * user info and its '@', or as a password= query parameter; in key=value
 * form, the value of the password keyword, quoted or bare. */
#include "conninfo.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_SPANS 8

typedef struct span {
	const char *p;
	size_t n;
} span;

static void add(span *s, size_t *ns, const char *p, size_t n)
{
	if (n && *ns < MAX_SPANS)
		s[(*ns)++] = (span){p, n};
}

static size_t url_prefix(const char *ci)
{
	if (strncmp(ci, "postgresql://", 13) == 0)
		return 13;
	if (strncmp(ci, "postgres://", 11) == 0)
		return 11;
	return 0;
}

static void url_spans(const char *ci, size_t pre, span *s, size_t *ns)
{
	const char *start = ci + pre, *p = start;
	while (*p && *p != '@' && *p != '/')
		p++;
	if (*p == '@') {
		const char *colon = memchr(start, ':', (size_t)(p - start));
		if (colon)
			add(s, ns, colon + 1, (size_t)(p - colon - 1));
	}
	const char *q = strchr(ci, '?');
	while (q) {
		q++;
		size_t n = strcspn(q, "&");
		if (n > 9 && strncmp(q, "password=", 9) == 0)
			add(s, ns, q + 9, n - 9);
		q = q[n] ? q + n : NULL;
	}
}

static void keyword_spans(const char *ci, span *s, size_t *ns)
{
	const char *p = ci;
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		const char *kw = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		size_t kwlen = (size_t)(p - kw);
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			return; /* libpq refuses it; what follows is not a value */
		p++;
		while (isspace((unsigned char)*p))
			p++;
		const char *v = p;
		if (*p == '\'') {
			for (p++; *p && *p != '\''; p++)
				if (*p == '\\' && p[1])
					p++;
			v++;
		} else {
			while (*p && !isspace((unsigned char)*p))
				p++;
		}
		if (kwlen == 8 && strncmp(kw, "password", 8) == 0)
			add(s, ns, v, (size_t)(p - v));
		if (*p == '\'')
			p++;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 32);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The percent-decoded form of a span, into dec; its length, or 0 if it
 * decodes to itself or not at all. */
static size_t decoded(span s, char *dec)
{
	size_t o = 0;
	bool changed = false;
	for (size_t i = 0; i < s.n; i++) {
		int h, l;
		if (s.p[i] == '%' && i + 2 < s.n && (h = hexval(s.p[i + 1])) >= 0 &&
		    (l = hexval(s.p[i + 2])) >= 0) {
			if (!(h | l))
				return 0; /* %00: libpq refuses it, and C strings end there */
			dec[o++] = (char)(h << 4 | l);
			i += 2;
			changed = true;
		} else {
			dec[o++] = s.p[i];
		}
	}
	return changed ? o : 0;
}

static char *replace_all(char *msg, const char *what)
{
	size_t n = strlen(what);
	if (!n || !strstr(msg, what))
		return msg;
	sb b = {0};
	const char *p = msg, *hit;
	while ((hit = strstr(p, what))) {
		sb_putn(&b, p, (size_t)(hit - p));
		sb_puts(&b, "***");
		p = hit + n;
	}
	sb_puts(&b, p);
	free(msg);
	return sb_take(&b);
}

char *conninfo_redact(const char *conninfo, const char *msg)
{
	span s[MAX_SPANS];
	size_t ns = 0, pre = url_prefix(conninfo);
	if (pre)
		url_spans(conninfo, pre, s, &ns);
	else
		keyword_spans(conninfo, s, &ns);
	char *out = xstrdup(msg);
	for (size_t i = 0; i < ns; i++) {
		char *raw = xstrndup(s[i].p, s[i].n), *dec = xmalloc(s[i].n + 1);
		size_t dn = decoded(s[i], dec);
		dec[dn] = '\0';
		/* the longer first: the raw form may contain the decoded one */
		out = replace_all(out, raw);
		out = replace_all(out, dec);
		sodium_memzero(raw, s[i].n);
		sodium_memzero(dec, s[i].n);
		free(raw);
		free(dec);
	}
	return out;
}

int conninfo_check(const char *conninfo, char *err, size_t errlen)
{
	char *why = NULL;
	PQconninfoOption *o = PQconninfoParse(conninfo, &why);
	if (o) {
		PQconninfoFree(o);
		return 0;
	}
	char *m = conninfo_redact(conninfo, why ? why : "out of memory");
	PQfreemem(why);
	size_t n = strlen(m);
	while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
		m[--n] = '\0';
	snprintf(err, errlen, "not a valid connection string: %s", m);
	free(m);
	return -1;
}

PGconn *conninfo_connect_start(const char *conninfo)
{
	/* Keys before dbname are defaults the expanded string overrides;
	 * fallback_application_name yields to application_name itself. */
	static const char *const keys[] = {"keepalives_idle", "keepalives_interval",
	                                   "keepalives_count", "tcp_user_timeout", "dbname",
	                                   "fallback_application_name", NULL};
	const char *vals[] = {"30", "10", "3", "60000", conninfo, "sluiced", NULL};
	return PQconnectStartParams(keys, vals, 1);
}
