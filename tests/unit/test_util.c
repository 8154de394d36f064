/* Helpers: time formatting, durations, JSON strings, names, lists. */
#include <stdlib.h>

#include "complete.h"
#include "json.h"
#include "unit.h"
#include "util.h"

static void rfc3339_trims_like_go(void)
{
	char b[40];
	fmt_rfc3339_us(1800000000000000LL, b);
	CHECK_STR(b, "2027-01-15T08:00:00Z");
	fmt_rfc3339_us(1800000000120000LL, b);
	CHECK_STR(b, "2027-01-15T08:00:00.12Z");
	fmt_rfc3339_us(1800000000000001LL, b);
	CHECK_STR(b, "2027-01-15T08:00:00.000001Z");
	fmt_rfc3339_ms(1800000000120999LL, b);
	CHECK_STR(b, "2027-01-15T08:00:00.120Z");
	/* A snooze "forever" is scheduled at INT64_MAX / 2 (outcome.c): a
	 * year with six digits, which PostgreSQL accepts. */
	fmt_rfc3339_us(INT64_MAX / 2, b);
	CHECK_STR(b, "148108-07-06T14:00:27.387903Z");
	fmt_rfc3339_us(1800000000000000LL, b); /* back to the cached second's length */
	CHECK_STR(b, "2027-01-15T08:00:00Z");
}

static void durations(void)
{
	int64_t ms;
	const char *err = NULL;
	CHECK(parse_duration_ms("250ms", &ms, &err) == 0 && ms == 250);
	CHECK(parse_duration_ms("1s", &ms, &err) == 0 && ms == 1000);
	CHECK(parse_duration_ms("1.5m", &ms, &err) == 0 && ms == 90000);
	CHECK(parse_duration_ms(" 2h", &ms, &err) == 0 && ms == 7200000);
	CHECK(parse_duration_ms("0", &ms, &err) == 0 && ms == 0);
	CHECK(parse_duration_ms("10", &ms, &err) < 0 && strstr(err, "missing unit"));
	CHECK(parse_duration_ms("10w", &ms, &err) < 0 && strstr(err, "unknown unit"));
	CHECK(parse_duration_ms("7d", &ms, &err) == 0 && ms == 604800000);
	CHECK(parse_duration_ms("soon", &ms, &err) < 0);
	CHECK(parse_duration_ms("-1s", &ms, &err) < 0);
	/* Sizes; NaN, inf and 1e30 are refused before any cast to int64_t
	 * (UBSan catches a cast that overflows). */
	int64_t sz;
	CHECK(parse_size("16MB", 1LL << 30, &sz, &err) == 0 && sz == 16LL << 20);
	CHECK(parse_size("512KB", 1LL << 30, &sz, &err) == 0 && sz == 512LL << 10);
	CHECK(parse_size("65536", 1LL << 30, &sz, &err) == 0 && sz == 65536);
	CHECK(parse_size("512B", 1LL << 30, &sz, &err) == 0 && sz == 512); /* README lists B */
	CHECK(parse_size("1GB", 1LL << 30, &sz, &err) == 0 && sz == 1LL << 30);
	CHECK(parse_size("2GB", 1LL << 30, &sz, &err) < 0 && strstr(err, "too large"));
	CHECK(parse_size("1e30", 1LL << 30, &sz, &err) < 0 && strstr(err, "too large"));
	CHECK(parse_size("inf", 1LL << 30, &sz, &err) < 0 && strstr(err, "too large"));
	CHECK(parse_size("nan", 1LL << 30, &sz, &err) < 0 && strstr(err, "not a size"));
	CHECK(parse_size("-1MB", 1LL << 30, &sz, &err) < 0 && strstr(err, "not a size"));
	CHECK(parse_size("16mb", 1LL << 30, &sz, &err) < 0 && strstr(err, "not a size"));
	CHECK(parse_size("", 1LL << 30, &sz, &err) < 0);
	char b[32];
	fmt_duration_ms(1500, b, sizeof b);
	CHECK_STR(b, "1.5s");
	fmt_duration_ms(60000, b, sizeof b);
	CHECK_STR(b, "1m");
	fmt_duration_ms(250, b, sizeof b);
	CHECK_STR(b, "250ms");
}

static void integers(void)
{
	/* sb_put_i64 and the crash report's job ids share fmt_i64. */
	static const int64_t v[] = {0, 7, -1, 1234567890123LL, INT64_MAX, INT64_MIN};
	sb b = {0};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		sb_put_i64(&b, v[i]);
		sb_putc(&b, ' ');
	}
	CHECK_STR(sb_str(&b), "0 7 -1 1234567890123 9223372036854775807 -9223372036854775808 ");
	sb_free(&b);
}

static void result_integers(void)
{
	/* pg_int reads what strtoll would from PostgreSQL's text form. */
	static const char *const in[] = {"0", "42", "-7", "1800000000000000", "9223372036854775807",
	                                 "-9223372036854775808", "", "12x", "-"};
	static const int64_t want[] = {0, 42, -7, 1800000000000000LL, INT64_MAX, INT64_MIN, 0, 12, 0};
	for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
		CHECK(pg_int(in[i]) == want[i]);
		CHECK(pg_int(in[i]) == strtoll(in[i], NULL, 10));
	}
	CHECK(name_chars("kAz09_-", 7));
	CHECK(!name_chars("k.x", 3) && !name_chars("k x", 3) && !name_chars("\xc3\xa9", 2));
}

static void json_strings(void)
{
	sb b = {0};
	sb_json_str(&b, "a\"b\\c\n\x01\xc3\xa9");
	CHECK_STR(sb_str(&b), "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
	sb_free(&b);
	/* Bytes that are not UTF-8 become U+FFFD: jsonb refuses them, and
	 * with them the whole batch they ride in. */
	sb_json_str(&b, "a\xc3 \xff\xed\xa0\x80\xf0\x9f\x98\x80\xe2\x82");
	CHECK_STR(sb_str(&b), "\"a\\ufffd \\ufffd\\ufffd\\ufffd\\ufffd\xf0\x9f\x98\x80\\ufffd\\ufffd\"");
	CHECK(json_is_valid(sb_str(&b), b.len));
	sb_free(&b);
}

static void queue_and_kind_names(void)
{
	CHECK(valid_queue_name("default"));
	CHECK(valid_queue_name("mail_high-2"));
	CHECK(!valid_queue_name("Mail"));
	CHECK(!valid_queue_name("a__b"));
	CHECK(!valid_queue_name("_a"));
	CHECK(!valid_queue_name(""));
	CHECK(valid_kind_name("demo.noop"));
	CHECK(valid_kind_name("Mail::Send<v2>"));
	CHECK(!valid_kind_name("x"));
	CHECK(!valid_kind_name(".hidden"));
	CHECK(!valid_kind_name("has space"));
}

static void split_lists(void)
{
	char **v;
	CHECK(strv_split(" a.so, ,b.so ,", ',', &v) == 2);
	CHECK_STR(v[0], "a.so");
	CHECK_STR(v[1], "b.so");
	CHECK(v[2] == NULL);
	strv_free(v);
}

static void completion_encoding(void)
{
	completion a = {.job_id = 7, .fetched_attempt = 1, .state = "completed", .attempt = -1,
	                .finalized_at_us = 1800000000000000LL};
	completion b = {.job_id = 8, .fetched_attempt = 1, .state = "available", .attempt = 0,
	                .scheduled_at_us = 1800000000000000LL, .metadata_json = "{\"snoozes\":1}",
	                .cancel_if_requested = true};
	a.next = &b;
	sb s = {0};
	completer_encode(&s, &a, 2);
	CHECK_STR(sb_str(&s),
	          "[{\"id\":7,\"fa\":1,\"state\":\"completed\",\"finalized_at\":\"2027-01-15T08:00:00Z\","
	          "\"cr\":false},{\"id\":8,\"fa\":1,\"state\":\"available\",\"attempt\":0,"
	          "\"scheduled_at\":\"2027-01-15T08:00:00Z\",\"metadata\":{\"snoozes\":1},"
	          "\"cr\":true}]");
	sb_free(&s);
	/* Sent again after a lost reply: with the attempted_at it was fetched
	 * with (only then: the first time it costs nothing). */
	a.next = NULL;
	a.attempted_at_us = 1800000000000001LL;
	completer_encode(&s, &a, 1);
	CHECK(!strstr(sb_str(&s), "\"at\""));
	sb_free(&s);
	a.retried = true;
	completer_encode(&s, &a, 1);
	CHECK(strstr(sb_str(&s), ",\"at\":\"2027-01-15T08:00:00.000001Z\",\"cr\":false}]") != NULL);
	sb_free(&s);
}

UNIT_MAIN(UNIT(rfc3339_trims_like_go), UNIT(durations), UNIT(integers), UNIT(result_integers),
          UNIT(json_strings),
          UNIT(queue_and_kind_names), UNIT(split_lists), UNIT(completion_encoding))
