/* JSON written again as Go's encoding/json writes it (gojson.c). The
 * expected texts are json.Marshal's output (go1.19 on Debian 12, run by
 * hand; \b and \f as Go 1.22 and later write them, River needs Go 1.25). */
#include "gojson.h"
#include "insert.h"
#include "unit.h"

static void check_go(const char *in, const char *want)
{
	sb b = {0};
	int rc = gojson_append(&b, in, strlen(in));
	CHECK(rc == 0);
	if (rc == 0 && strcmp(sb_str(&b), want) != 0)
		fprintf(stderr, "  input: %s\n", in);
	CHECK_STR(sb_str(&b), want);
	sb_free(&b);
}

static void floats_as_go_writes_float64(void)
{
	static const char *const cases[][2] = {
	    {"1.0", "1"}, {"1.5", "1.5"}, {"1.5e3", "1500"}, {"1e20", "100000000000000000000"},
	    {"1e21", "1e+21"}, {"1234e18", "1.234e+21"}, {"0.000001", "0.000001"},
	    {"0.0000001", "1e-7"}, {"1.5E-7", "1.5e-7"}, {"123.456", "123.456"}, {"-0.50", "-0.5"},
	    {"3.14159265358979", "3.14159265358979"}, {"0.1", "0.1"}, {"1e-10", "1e-10"},
	    {"2.5e-300", "2.5e-300"}, {"1.7976931348623157e308", "1.7976931348623157e+308"},
	    {"12345678.9", "12345678.9"}, {"0.0", "0"}, {"-0.0", "-0"},
	    /* integers keep their text: their Go type is unknown */
	    {"12345678901234567890", "12345678901234567890"}, {"-7", "-7"},
	    /* beyond float64: not from Go, kept */
	    {"1e400", "1e400"}};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		check_go(cases[i][0], cases[i][1]);
}

static void strings_as_go_escapes_them(void)
{
	check_go("\"a<b>&c\"", "\"a\\u003cb\\u003e\\u0026c\"");
	check_go("\"tab\\there\"", "\"tab\\there\"");
	check_go("\"line\xe2\x80\xa8sep\\u2029\"", "\"line\\u2028sep\\u2029\"");
	check_go("\"quote\\\"back\\\\slash\\/\"", "\"quote\\\"back\\\\slash/\"");
	check_go("\"ctl\\u0001\\u001F\x7f\"", "\"ctl\\u0001\\u001f\x7f\"");
	check_go("\"\\u00e9\xe6\xbc\xa2\\ud83d\\ude00\"", "\"\xc3\xa9\xe6\xbc\xa2\xf0\x9f\x98\x80\"");
	check_go("\"\\b\\f\\n\\r\"", "\"\\b\\f\\n\\r\"");
	check_go("\"\\u003c\"", "\"\\u003c\"");
}

static void compact_at_every_depth(void)
{
	check_go(" { \"a\" : [ 1 , 2.0 , { } , [ ] ] ,\n\t\"b\" : { \"c\" : null , \"d\" : true } } ",
	         "{\"a\":[1,2,{},[]],\"b\":{\"c\":null,\"d\":true}}");
	/* nested keys keep their order (a Go struct's declaration order) */
	check_go("{\"z\": 1, \"a\": 2}", "{\"z\":1,\"a\":2}");
	sb b = {0};
	CHECK(gojson_append(&b, "{\"a\": 1", 7) < 0);
	sb_free(&b);
	CHECK(gojson_append(&b, "[1] 2", 5) < 0);
	sb_free(&b);
}

/* The whole key over what a Go client marshals for
 * struct{To string `json:"to"`; Body struct{X []int `json:"x"`; Y float64
 * `json:"y"`} `json:"body"`}{"a<b", {{1, 2}, 2.0}}:
 * {"to":"a\u003cb","body":{"x":[1,2],"y":2}}, top-level keys sorted. */
static void unique_key_args_like_a_go_client(void)
{
	char *s = unique_key_string("mail.send", "{\"to\": \"a<b\", \"body\": {\"x\": [1, 2], \"y\": 2.0}}",
	                            "default", SLUICE_UNIQUE_BY_ARGS, 0, 0);
	CHECK_STR(s, "&kind=mail.send&args={\"body\":{\"x\":[1,2],\"y\":2},\"to\":\"a\\u003cb\"}");
	free(s);
	/* keys sorted by their decoded bytes: "\u0041" is "A", before "B" */
	s = unique_key_string("k", "{\"B\": 1, \"\\u0041\": 2}", "q", SLUICE_UNIQUE_BY_ARGS, 0, 0);
	CHECK_STR(s, "&kind=k&args={\"A\":2,\"B\":1}");
	free(s);
}

UNIT_MAIN(UNIT(floats_as_go_writes_float64), UNIT(strings_as_go_escapes_them),
          UNIT(compact_at_every_depth), UNIT(unique_key_args_like_a_go_client))
