/* Cron schedules for periodic jobs. */
#include "cron.h"
#include "unit.h"
#include "util.h"

/* 2026-11-23T12:34:56Z, a Monday */
#define AT (1795437296LL * 1000000)

static const char *next_of(const char *spec, int64_t after)
{
	static char buf[64], err[128];
	cron c;
	const char *rest;
	if (cron_parse(spec, &c, &rest, err, sizeof err) < 0)
		return err;
	int64_t n = cron_next(&c, after);
	if (n < 0)
		return "none";
	fmt_rfc3339_us(n, buf);
	return buf;
}

static void fields_and_shorthands(void)
{
	CHECK_STR(next_of("0 3 * * *", AT), "2026-11-24T03:00:00Z");
	CHECK_STR(next_of("*/15 * * * *", AT), "2026-11-23T12:45:00Z");
	CHECK_STR(next_of("35 12 * * *", AT), "2026-11-23T12:35:00Z");
	CHECK_STR(next_of("0 0 1 jan *", AT), "2027-01-01T00:00:00Z");
	CHECK_STR(next_of("0 9 * * mon-fri", AT), "2026-11-24T09:00:00Z");
	/* robfig's "any" day: "*" or "* /1" anywhere in the field, "?" too, so
	 * the other day field alone decides (not either one) */
	CHECK_STR(next_of("0 0 */1 * 1", AT), "2026-11-30T00:00:00Z");
	CHECK_STR(next_of("0 0 1 * */1", AT), "2026-12-01T00:00:00Z");
	CHECK_STR(next_of("0 0 *,1 * 1", AT), "2026-11-30T00:00:00Z");
	CHECK_STR(next_of("0 0 ? * 1", AT), "2026-11-30T00:00:00Z");
	CHECK_STR(next_of("0 0 */2 * 1", AT), "2026-11-25T00:00:00Z"); /* both restricted: either */
	/* N-N/step is the range N-N; N/step runs to the end */
	CHECK_STR(next_of("5-5/10 * * * *", AT), "2026-11-23T13:05:00Z");
	CHECK_STR(next_of("45/10 * * * *", AT), "2026-11-23T12:45:00Z");
	/* huge steps: one value, no overflow (UBSan) and no wrap to a small step */
	CHECK_STR(next_of("23/2147483647 * * * *", AT), "2026-11-23T13:23:00Z");
	CHECK_STR(next_of("1/4294967297 * * * *", AT), "2026-11-23T13:01:00Z");
	CHECK_STR(next_of("0 9 * * 7", AT), "2026-11-29T09:00:00Z"); /* 7 = Sunday */
	CHECK_STR(next_of("0 0 13 * 5", AT), "2026-11-27T00:00:00Z"); /* 13th OR Friday */
	CHECK_STR(next_of("0 0 30 2 *", AT), "none");
	CHECK_STR(next_of("@hourly", AT), "2026-11-23T13:00:00Z");
	CHECK_STR(next_of("@daily", AT), "2026-11-24T00:00:00Z");
	CHECK_STR(next_of("@weekly", AT), "2026-11-29T00:00:00Z");
	CHECK_STR(next_of("@monthly", AT), "2026-12-01T00:00:00Z");
	CHECK_STR(next_of("1,2,59 23 31 dec *", AT), "2026-12-31T23:01:00Z");
}

static void every_aligns_to_the_epoch(void)
{
	CHECK_STR(next_of("@every 15m", AT), "2026-11-23T12:45:00Z");
	CHECK_STR(next_of("@every 2s", AT), "2026-11-23T12:34:58Z");
	CHECK_STR(next_of("@every 2s", AT + 1000000), "2026-11-23T12:34:58Z");
}

static void rest_and_errors(void)
{
	cron c;
	const char *rest;
	char err[160];
	CHECK(cron_parse("0 3 * * * kind=report", &c, &rest, err, sizeof err) == 0);
	CHECK_STR(rest, " kind=report");
	CHECK(cron_parse("@every 15m kind=x", &c, &rest, err, sizeof err) == 0);
	CHECK_STR(rest, " kind=x");
	CHECK(cron_parse("61 * * * *", &c, &rest, err, sizeof err) < 0 && strstr(err, "minute"));
	CHECK(cron_parse("* * *", &c, &rest, err, sizeof err) < 0 && strstr(err, "5 fields"));
	CHECK(cron_parse("@sometimes", &c, &rest, err, sizeof err) < 0 && strstr(err, "unknown schedule"));
	CHECK(cron_parse("@every 10ms", &c, &rest, err, sizeof err) < 0 && strstr(err, "at least 1s"));
	CHECK(cron_parse("5-1 * * * *", &c, &rest, err, sizeof err) < 0);
}

UNIT_MAIN(UNIT(fields_and_shorthands), UNIT(every_aligns_to_the_epoch), UNIT(rest_and_errors))
