/* json.c -- see json.h. Recursive descent over the bytes, no allocation. */
#include "json.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* PostgreSQL allows deeper nesting, but args this deep are not plausible
 * and recursion must stay bounded on worker threads. */
#define MAX_DEPTH 256

typedef struct cur {
	const unsigned char *p, *end;
	int depth;
} cur;

static void ws(cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static int hex4(cur *c, unsigned *v)
{
	if (hex4_value((const char *)c->p, (size_t)(c->end - c->p), v) < 0)
		return -1;
	c->p += 4;
	return 0;
}

/* One UTF-8 sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
static int utf8(cur *c)
{
	size_t n = utf8_len(c->p, (size_t)(c->end - c->p));
	c->p += n;
	return n ? 0 : -1;
}

static int string(cur *c)
{
	c->p++; /* opening quote */
	while (c->p < c->end) {
		unsigned ch = *c->p;
		if (ch == '"') {
			c->p++;
			return 0;
		}
		if (ch < 0x20)
			return -1;
		if (ch == '\\') {
			c->p++;
			if (c->p >= c->end)
				return -1;
			ch = *c->p;
			if (ch == 'u') {
				unsigned v, lo;
				c->p++;
				if (hex4(c, &v) < 0 || v == 0) /* jsonb refuses \u0000 */
					return -1;
				if (v >= 0xD800 && v <= 0xDBFF) { /* needs its low surrogate */
					if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u')
						return -1;
					c->p += 2;
					if (hex4(c, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
						return -1;
				} else if (v >= 0xDC00 && v <= 0xDFFF) {
					return -1;
				}
				continue;
			}
			if (!strchr("\"\\/bfnrt", (int)ch) || ch == 0)
				return -1;
			c->p++;
			continue;
		}
		if (utf8(c) < 0)
			return -1;
	}
	return -1;
}

static int digits(cur *c)
{
	const unsigned char *s = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s ? 0 : -1;
}

/* PostgreSQL's numeric, which jsonb stores numbers in (numeric.c,
 * set_var_from_str and make_result): at most 16383 digits after the point
 * once the exponent is applied (NUMERIC_DSCALE_MAX), a first significant
 * digit no higher than 10^131071 (NUMERIC_WEIGHT_MAX base-10000 digits),
 * and an exponent within INT_MAX/2. */
#define NUMERIC_DSCALE_MAX 16383
#define NUMERIC_TOP_POWER 131071
#define NUMERIC_EXP_LIMIT 1073741823 /* INT_MAX / 2 */

static int number(cur *c)
{
	if (*c->p == '-')
		c->p++;
	const unsigned char *int_start = c->p;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (digits(c) < 0)
		return -1;
	long long int_digits = c->p - int_start, frac_digits = 0, top = 0;
	bool nonzero = *int_start != '0';
	if (nonzero)
		top = int_digits - 1; /* power of ten of the first digit */
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		const unsigned char *f = c->p;
		if (digits(c) < 0)
			return -1;
		frac_digits = c->p - f;
		for (const unsigned char *q = f; !nonzero && q < c->p; q++)
			if (*q != '0') {
				nonzero = true;
				top = -(q - f) - 1;
			}
	}
	long long e = 0;
	if (c->p < c->end && (*c->p | 32) == 'e') {
		c->p++;
		bool neg = false;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			neg = *c->p++ == '-';
		const unsigned char *d = c->p;
		if (digits(c) < 0)
			return -1;
		for (; d < c->p && e <= NUMERIC_EXP_LIMIT; d++)
			e = e * 10 + (*d - '0');
		if (e >= NUMERIC_EXP_LIMIT)
			return -1;
		e = neg ? -e : e;
	}
	long long dscale = frac_digits - e;
	if (dscale > NUMERIC_DSCALE_MAX || (nonzero && top + e > NUMERIC_TOP_POWER))
		return -1;
	return 0;
}

static enum json_kind value(cur *c);

static enum json_kind container(cur *c, char close)
{
	enum json_kind t = close == '}' ? JK_OBJECT : JK_ARRAY;
	if (++c->depth > MAX_DEPTH)
		return JK_BAD;
	c->p++;
	ws(c);
	if (c->p < c->end && *c->p == (unsigned char)close) {
		c->p++;
		c->depth--;
		return t;
	}
	for (;;) {
		ws(c);
		if (t == JK_OBJECT) {
			if (c->p >= c->end || *c->p != '"' || string(c) < 0)
				return JK_BAD;
			ws(c);
			if (c->p >= c->end || *c->p != ':')
				return JK_BAD;
			c->p++;
			ws(c);
		}
		if (value(c) == JK_BAD)
			return JK_BAD;
		ws(c);
		if (c->p >= c->end)
			return JK_BAD;
		if (*c->p == ',') {
			c->p++;
			continue;
		}
		if (*c->p == (unsigned char)close) {
			c->p++;
			c->depth--;
			return t;
		}
		return JK_BAD;
	}
}

static int literal(cur *c, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
		return -1;
	c->p += n;
	return 0;
}

static enum json_kind value(cur *c)
{
	if (c->p >= c->end)
		return JK_BAD;
	switch (*c->p) {
	case '{': return container(c, '}');
	case '[': return container(c, ']');
	case '"': return string(c) == 0 ? JK_STRING : JK_BAD;
	case 't': return literal(c, "true") == 0 ? JK_LITERAL : JK_BAD;
	case 'f': return literal(c, "false") == 0 ? JK_LITERAL : JK_BAD;
	case 'n': return literal(c, "null") == 0 ? JK_LITERAL : JK_BAD;
	default:
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
			return number(c) == 0 ? JK_NUMBER : JK_BAD;
		return JK_BAD;
	}
}

enum json_kind json_check(const char *s, size_t len)
{
	cur c = {(const unsigned char *)s, (const unsigned char *)s + len, 0};
	ws(&c);
	enum json_kind t = value(&c);
	ws(&c);
	return c.p == c.end ? t : JK_BAD;
}

bool json_is_object(const char *s, size_t len) { return json_check(s, len) == JK_OBJECT; }

bool json_is_valid(const char *s, size_t len) { return json_check(s, len) != JK_BAD; }

size_t json_prefix_len(const char *s, size_t len)
{
	cur c = {(const unsigned char *)s, (const unsigned char *)s + len, 0};
	ws(&c);
	if (value(&c) == JK_BAD)
		return 0;
	return (size_t)((const char *)c.p - s);
}

const char *json_member_str(struct json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}
