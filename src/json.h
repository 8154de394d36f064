/* json.h -- a strict RFC 8259 validator that accepts exactly what
 * PostgreSQL's jsonb accepts (valid UTF-8, no \u0000, nesting bounded), so
 * args checked here can never fail a batch on the database side. */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum json_kind { JK_BAD = 0, JK_OBJECT, JK_ARRAY, JK_STRING, JK_NUMBER, JK_LITERAL };

/* Type of the single value s[0..len) holds (blanks around allowed), or JK_BAD. */
enum json_kind json_check(const char *s, size_t len);
bool json_is_object(const char *s, size_t len);
bool json_is_valid(const char *s, size_t len);
/* Length of the JSON value at the start of s (after blanks), or 0. */
size_t json_prefix_len(const char *s, size_t len);

/* The string member key of the json-c object o, or "" when o is NULL or
 * the member is absent or not a string (null, a number...): notification
 * payloads come from anyone who can connect. */
struct json_object;
const char *json_member_str(struct json_object *o, const char *key);

#endif
