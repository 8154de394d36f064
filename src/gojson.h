/* gojson.h -- a JSON value written again as Go's encoding/json writes it.
 *
 * River computes a unique job's key (unique_key) over the args its Go
 * client marshalled: compact, strings escaped Go's way (<, > and & as
 * \u003c..., U+2028/U+2029 escaped), floats in Go's shortest form. sluice
 * gets args as text from the CLI and from plugins; writing each value
 * again this way makes the same job get the same key from either.
 * What text cannot tell is kept as written: the order of nested objects'
 * keys (a Go struct's declaration order) and integers (their Go type). */
#ifndef SLUICE_GOJSON_H
#define SLUICE_GOJSON_H

#include <stddef.h>

#include "util.h"

/* Appends the value at s[0..len) (valid JSON, as json_check accepts) to b
 * the Go way. Returns 0, or -1 (b then holds part of it) on bad input. */
int gojson_append(sb *b, const char *s, size_t len);

/* Appends the bytes s[0..n) as a JSON string, Go's appendString with
 * HTML escaping (invalid UTF-8 as \ufffd). */
void gojson_put_string(sb *b, const char *s, size_t n);

/* Appends the JSON string at s[0..len) (quotes included), decoded, to b:
 * River sorts keys by their decoded bytes. Returns 0 or -1. */
int gojson_decode_str(sb *b, const char *s, size_t len);

#endif
