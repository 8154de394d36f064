/* gojson.c -- see gojson.h. The rules are those of Go's encoding/json
 * (encode.go: appendString with HTML escaping, floatEncoder). */
#include "gojson.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rd {
	const char *p, *end;
} rd;

static const char hexd[] = "0123456789abcdef";

static void ws(rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static void put_utf8(sb *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	sb_putn(b, u, n);
}

/* The string at r->p (its opening quote), decoded into out. */
static int decode(rd *r, sb *out)
{
	r->p++;
	while (r->p < r->end) {
		char c = *r->p++;
		if (c == '"')
			return 0;
		if (c != '\\') {
			sb_putc(out, c);
			continue;
		}
		if (r->p >= r->end)
			return -1;
		c = *r->p++;
		switch (c) {
		case '"': case '\\': case '/': sb_putc(out, c); continue;
		case 'b': sb_putc(out, '\b'); continue;
		case 'f': sb_putc(out, '\f'); continue;
		case 'n': sb_putc(out, '\n'); continue;
		case 'r': sb_putc(out, '\r'); continue;
		case 't': sb_putc(out, '\t'); continue;
		case 'u': break;
		default: return -1;
		}
		unsigned v, lo;
		if (hex4_value(r->p, (size_t)(r->end - r->p), &v) < 0)
			return -1;
		r->p += 4;
		if (v >= 0xD800 && v <= 0xDBFF && r->end - r->p >= 6 && r->p[0] == '\\' &&
		    r->p[1] == 'u' && hex4_value(r->p + 2, 4, &lo) == 0 && lo >= 0xDC00 &&
		    lo <= 0xDFFF) {
			r->p += 6;
			v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
		} else if (v >= 0xD800 && v <= 0xDFFF) {
			v = 0xFFFD; /* Go decodes a lone surrogate so */
		}
		put_utf8(out, v);
	}
	return -1;
}

void gojson_put_string(sb *b, const char *s, size_t n)
{
	sb_putc(b, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			i++;
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				sb_putc(b, (char)c);
				continue;
			}
			switch (c) {
			case '"': sb_puts(b, "\\\""); break;
			case '\\': sb_puts(b, "\\\\"); break;
			case '\b': sb_puts(b, "\\b"); break;
			case '\f': sb_puts(b, "\\f"); break;
			case '\n': sb_puts(b, "\\n"); break;
			case '\r': sb_puts(b, "\\r"); break;
			case '\t': sb_puts(b, "\\t"); break;
			default: {
				char u[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 0xF]};
				sb_putn(b, u, 6);
			}
			}
			continue;
		}
		size_t len = utf8_len((const unsigned char *)s + i, n - i);
		if (!len) {
			sb_puts(b, "\\ufffd");
			i++;
			continue;
		}
		/* U+2028 and U+2029 (E2 80 A8/A9): valid JSON, not valid JavaScript. */
		if (len == 3 && c == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
		    ((unsigned char)s[i + 2] & 0xFE) == 0xA8) {
			sb_puts(b, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
		} else {
			sb_putn(b, s + i, len);
		}
		i += len;
	}
	sb_putc(b, '"');
}

/* A number with a fraction or an exponent was a float64 on Go's side:
 * its shortest round-trip digits, as strconv.AppendFloat(f, 'f' or 'e',
 * -1) and floatEncoder write them. Integers are copied: their Go type
 * (int64, uint64, float64) cannot be told from the text. */
static void go_number(sb *b, const char *s, size_t n)
{
	if (!memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n)) {
		sb_putn(b, s, n);
		return;
	}
	char *text = xstrndup(s, n);
	double f = strtod(text, NULL);
	free(text);
	if (!isfinite(f)) { /* beyond float64: not from Go; as written */
		sb_putn(b, s, n);
		return;
	}
	if (f == 0) {
		sb_puts(b, signbit(f) ? "-0" : "0");
		return;
	}
	char e[40];
	for (int prec = 0; prec <= 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec, f);
		if (strtod(e, NULL) == f)
			break;
	}
	/* e is [-]d[.ddd]e±XX: the digits and the exponent of the first. */
	char digits[24];
	size_t nd = 0;
	const char *q = e;
	if (*q == '-') {
		sb_putc(b, '-');
		q++;
	}
	for (; *q && *q != 'e'; q++)
		if (*q != '.')
			digits[nd++] = *q;
	int exp10 = atoi(q + 1);
	double a = fabs(f);
	if (a < 1e-6 || a >= 1e21) {
		sb_putc(b, digits[0]);
		if (nd > 1) {
			sb_putc(b, '.');
			sb_putn(b, digits + 1, nd - 1);
		}
		sb_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
		/* floatEncoder writes e-07 as e-7 (and only that). */
		if (exp10 < 0 && exp10 > -10) {
			b->p[b->len - 2] = b->p[b->len - 1];
			b->len--;
		}
	} else if (exp10 < 0) {
		sb_puts(b, "0.");
		for (int i = -1; i > exp10; i--)
			sb_putc(b, '0');
		sb_putn(b, digits, nd);
	} else {
		for (int i = 0; i <= exp10; i++)
			sb_putc(b, (size_t)i < nd ? digits[i] : '0');
		if (nd > (size_t)exp10 + 1) {
			sb_putc(b, '.');
			sb_putn(b, digits + exp10 + 1, nd - (size_t)exp10 - 1);
		}
	}
}

static int value(rd *r, sb *b)
{
	ws(r);
	if (r->p >= r->end)
		return -1;
	char c = *r->p;
	if (c == '"') {
		sb s = {0};
		int rc = decode(r, &s);
		if (rc == 0)
			gojson_put_string(b, s.p ? s.p : "", s.len);
		if (s.p) /* args may be a job's plaintext */
			sodium_memzero(s.p, s.len);
		sb_free(&s);
		return rc;
	}
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		sb_putc(b, c);
		r->p++;
		ws(r);
		if (r->p < r->end && *r->p == close) {
			r->p++;
			sb_putc(b, close);
			return 0;
		}
		for (;;) {
			if (c == '{') {
				ws(r);
				if (r->p >= r->end || *r->p != '"' || value(r, b) < 0)
					return -1;
				ws(r);
				if (r->p >= r->end || *r->p++ != ':')
					return -1;
				sb_putc(b, ':');
			}
			if (value(r, b) < 0)
				return -1;
			ws(r);
			if (r->p >= r->end)
				return -1;
			char sep = *r->p++;
			sb_putc(b, sep);
			if (sep == close)
				return 0;
			if (sep != ',')
				return -1;
		}
	}
	const char *s = r->p;
	while (r->p < r->end && !strchr(",}] \t\r\n", *r->p))
		r->p++;
	if (r->p == s)
		return -1;
	if (c == '-' || (c >= '0' && c <= '9'))
		go_number(b, s, (size_t)(r->p - s));
	else
		sb_putn(b, s, (size_t)(r->p - s));
	return 0;
}

int gojson_append(sb *b, const char *s, size_t len)
{
	rd r = {s, s + len};
	if (value(&r, b) < 0)
		return -1;
	ws(&r);
	return r.p == r.end ? 0 : -1;
}

int gojson_decode_str(sb *b, const char *s, size_t len)
{
	rd r = {s, s + len};
	if (len < 2 || *s != '"' || decode(&r, b) < 0)
		return -1;
	return r.p == r.end ? 0 : -1;
}
