/* River's rules for a finished attempt (see outcome.c). */
#include <json-c/json.h>
#include <math.h>

#include "job.h"
#include "unit.h"
#include "util.h"

#define NOW 1800000000000000LL /* 2027-01-15T08:00:00Z in microseconds */
#define START (NOW - 250000)

static job_facts facts(int attempt, int max_attempts, int errors)
{
	return (job_facts){.id = 42, .kind = "demo.x", .attempt = attempt,
	                   .max_attempts = max_attempts, .errors_count = errors,
	                   .started_us = START, .timeout_ms = 60000, .kind_known = true};
}

static void retry_schedule_is_errors_plus_one_to_the_fourth(void)
{
	CHECK(retry_delay_s(0, 0.5) == 1.0);
	CHECK(retry_delay_s(1, 0.5) == 16.0);
	CHECK(retry_delay_s(2, 0.5) == 81.0);
	CHECK(retry_delay_s(24, 0.5) == 390625.0);
	/* +/- 10 % jitter at the ends of rand01's range */
	CHECK(fabs(retry_delay_s(2, 0.0) - 72.9) < 1e-9);
	CHECK(fabs(retry_delay_s(2, 0.999999) - 89.1) < 1e-3);
	/* capped like Go's time.Duration, never overflowing */
	CHECK(retry_delay_s(100000, 0.5) <= 9223372036.9);
}

static void completed_sets_finalized_at(void)
{
	job_facts f = facts(1, 25, 0);
	job_result r = {.outcome = SLUICE_OK};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "completed");
	CHECK(c->finalized_at_us == NOW);
	CHECK(c->scheduled_at_us == 0 && c->attempt == -1 && !c->error_json && !c->metadata_json);
	completion_free(c);
}

static void first_error_is_available_one_second_later(void)
{
	job_facts f = facts(1, 25, 0);
	job_result r = {.outcome = SLUICE_ERROR, .message = "boom \"quoted\"", .set = true};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "available");
	CHECK(c->scheduled_at_us == NOW + 1000000);
	CHECK(c->finalized_at_us == 0);
	/* a requested cancellation wins over any outcome that runs it again
	 * (River: retryable and scheduled only; sluiced: available too) */
	CHECK(c->cancel_if_requested);
	/* River's AttemptError: at = when the attempt started, RFC3339Nano */
	CHECK_STR(c->error_json, "{\"at\":\"2027-01-15T07:59:59.75Z\",\"attempt\":1,"
	                         "\"error\":\"boom \\\"quoted\\\"\",\"trace\":\"\"}");
	completion_free(c);
}

static void later_errors_are_retryable(void)
{
	job_facts f = facts(3, 25, 2);
	job_result r = {.outcome = SLUICE_ERROR, .message = "x", .set = true};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "retryable");
	CHECK(c->scheduled_at_us == NOW + 81000000);
	CHECK(c->cancel_if_requested);
	completion_free(c);
}

static void error_at_max_attempts_discards(void)
{
	job_facts f = facts(1, 1, 0);
	job_result r = {.outcome = SLUICE_ERROR, .message = "last", .set = true};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "discarded");
	CHECK(c->finalized_at_us == NOW && c->scheduled_at_us == 0 && c->error_json);
	completion_free(c);
}

static void snooze_restores_attempt_and_counts(void)
{
	job_facts f = facts(2, 25, 1);
	f.snoozes = 4;
	job_result r = {.outcome = SLUICE_SNOOZE, .snooze_s = 30, .set = true};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "scheduled");
	CHECK(c->attempt == 1);
	CHECK(c->scheduled_at_us == NOW + 30000000);
	CHECK(!c->error_json);
	CHECK_STR(c->metadata_json, "{\"snoozes\":5}");
	CHECK(c->cancel_if_requested);
	completion_free(c);

	r.snooze_s = 5; /* within the scheduler interval: available at once */
	c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "available");
	CHECK(c->cancel_if_requested);
	completion_free(c);
}

static void cancel_records_river_cancel_error(void)
{
	job_facts f = facts(1, 25, 0);
	job_result r = {.outcome = SLUICE_CANCEL, .message = "no longer needed", .set = true};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "cancelled");
	CHECK(c->finalized_at_us == NOW);
	CHECK(strstr(c->error_json, "\"error\":\"JobCancelError: no longer needed\""));
	completion_free(c);
}

static void discard_helper_discards_now(void)
{
	job_facts f = facts(1, 25, 0);
	job_result r = {.outcome = SLUICE_DISCARD, .message = "bad input", .set = true};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "discarded");
	CHECK(strstr(c->error_json, "\"error\":\"bad input\""));
	completion_free(c);
}

static void unknown_kind_uses_rivers_wording(void)
{
	job_facts f = facts(1, 25, 0);
	f.kind_known = false;
	job_result r = {0};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "available");
	CHECK(strstr(c->error_json, "\"error\":\"job kind is not registered in the client's "
	                            "Workers bundle: demo.x\""));
	completion_free(c);
}

static void timeout_overrides_the_handler(void)
{
	job_facts f = facts(1, 25, 0);
	f.cancel_reason = SLUICE_CANCEL_TIMEOUT;
	f.timeout_ms = 1500;
	job_result r = {.outcome = SLUICE_OK, .output_json = "{\"a\":1}"};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "available");
	CHECK(strstr(c->error_json, "\"error\":\"job timed out after 1.5s\""));
	CHECK(!c->metadata_json); /* output of a failed run is not kept */
	completion_free(c);
}

static void remote_cancel_and_shutdown(void)
{
	job_facts f = facts(3, 25, 2);
	f.cancel_reason = SLUICE_CANCEL_REMOTE;
	job_result r = {.outcome = SLUICE_ERROR, .message = "interrupted", .set = true};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "cancelled");
	CHECK(strstr(c->error_json, "JobCancelError: job cancelled remotely"));
	completion_free(c);

	f.cancel_reason = SLUICE_CANCEL_SHUTDOWN;
	c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "available");
	CHECK(c->attempt == 2 && !c->error_json && c->scheduled_at_us == NOW);
	CHECK(c->cancel_if_requested);
	completion_free(c);

	/* During a shutdown only an error is the soft stop; a snooze, a cancel
	 * or a discard is what the handler asked for (River checks those first) */
	job_result snooze = {.outcome = SLUICE_SNOOZE, .snooze_s = 60, .set = true};
	c = outcome_build(&f, &snooze, NOW, 0.5);
	CHECK_STR(c->state, "scheduled");
	completion_free(c);
	job_result cancel = {.outcome = SLUICE_CANCEL, .message = "no", .set = true};
	c = outcome_build(&f, &cancel, NOW, 0.5);
	CHECK_STR(c->state, "cancelled");
	CHECK(!c->cancel_if_requested); /* final already */
	completion_free(c);
	job_result discard = {.outcome = SLUICE_DISCARD, .message = "no", .set = true};
	c = outcome_build(&f, &discard, NOW, 0.5);
	CHECK_STR(c->state, "discarded");
	completion_free(c);

	/* a handler that finished despite the request keeps its result */
	r.outcome = SLUICE_OK;
	c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "completed");
	completion_free(c);
}

static void odd_return_values_are_errors(void)
{
	job_facts f = facts(1, 25, 0);
	job_result r = {.outcome = 77};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK(strstr(c->error_json, "\"error\":\"handler returned 77\""));
	completion_free(c);
	r.outcome = SLUICE_ERROR; /* returned without calling fail() */
	c = outcome_build(&f, &r, NOW, 0.5);
	CHECK(strstr(c->error_json, "\"error\":\"handler returned an error\""));
	completion_free(c);
}

static void output_is_merged_whatever_the_outcome(void)
{
	job_facts f = facts(1, 25, 0);
	job_result r = {.outcome = SLUICE_ERROR, .message = "x", .output_json = "[1,2]", .set = true};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->metadata_json, "{\"output\":[1,2]}");
	completion_free(c);
}

/* River compares with its SchedulerInterval, not a constant. */
static void available_within_the_scheduler_interval(void)
{
	job_facts f = facts(2, 25, 1); /* second error: 16 s +/- 10 % */
	job_result r = {.outcome = SLUICE_ERROR, .message = "x"};
	completion *c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "retryable");
	completion_free(c);
	outcome_set_scheduler_interval_ms(60000);
	c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "available");
	CHECK(c->scheduled_at_us == NOW + 16000000);
	completion_free(c);
	job_result z = {.outcome = SLUICE_SNOOZE, .snooze_s = 30, .set = true};
	c = outcome_build(&f, &z, NOW, 0.5);
	CHECK_STR(c->state, "available");
	completion_free(c);
	outcome_set_scheduler_interval_ms(100); /* a first error's 1 s waits for the scheduler */
	f = facts(1, 25, 0);
	c = outcome_build(&f, &r, NOW, 0.5);
	CHECK_STR(c->state, "retryable");
	completion_free(c);
	outcome_set_scheduler_interval_ms(5000);
}

/* gjson's Int() of metadata.snoozes, then + 1 in int64. */
static void snoozes_read_as_river_reads_them(void)
{
	CHECK(snoozes_from_metadata("{}") == 0);
	CHECK(snoozes_from_metadata("{\"snoozes\": 3}") == 3);
	CHECK(snoozes_from_metadata("{\"snoozes\": 2147483647}") == 2147483647LL);
	CHECK(snoozes_from_metadata("{\"snoozes\": 4294967294}") == 4294967294LL);
	CHECK(snoozes_from_metadata("{\"snoozes\": \"3\"}") == 3);
	CHECK(snoozes_from_metadata("{\"snoozes\": \"3.5\"}") == 0);
	CHECK(snoozes_from_metadata("{\"snoozes\": 2.7}") == 2);
	CHECK(snoozes_from_metadata("{\"snoozes\": true}") == 1);
	CHECK(snoozes_from_metadata("{\"snoozes\": false}") == 0);
	CHECK(snoozes_from_metadata("{\"snoozes\": null}") == 0);
	CHECK(snoozes_from_metadata("{\"snoozes\": [1]}") == 0);
	CHECK(snoozes_from_metadata("{\"snoozes\": -4}") == -4);
	CHECK(snoozes_from_metadata("{\"snoozes\": 99999999999999999999}") == INT64_MAX);
	CHECK(snoozes_from_metadata("{\"snoozes\": \"-99999999999999999999\"}") == INT64_MIN);
	CHECK(snoozes_from_metadata("{\"other\": {\"snoozes\": 5}}") == 0);

	job_facts f = facts(2, 25, 1);
	job_result r = {.outcome = SLUICE_SNOOZE, .snooze_s = 30, .set = true};
	int64_t cases[][2] = {{2147483647LL, 2147483648LL}, {-5, -4}, {-1, 0}, {INT64_MAX, INT64_MAX}};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		f.snoozes = cases[i][0];
		completion *c = outcome_build(&f, &r, NOW, 0.5);
		char want[64];
		snprintf(want, sizeof want, "{\"snoozes\":%lld}", (long long)cases[i][1]);
		CHECK_STR(c->metadata_json, want);
		completion_free(c);
	}
}

UNIT_MAIN(UNIT(retry_schedule_is_errors_plus_one_to_the_fourth), UNIT(completed_sets_finalized_at),
          UNIT(first_error_is_available_one_second_later), UNIT(later_errors_are_retryable),
          UNIT(error_at_max_attempts_discards), UNIT(snooze_restores_attempt_and_counts),
          UNIT(cancel_records_river_cancel_error), UNIT(discard_helper_discards_now),
          UNIT(unknown_kind_uses_rivers_wording), UNIT(timeout_overrides_the_handler),
          UNIT(remote_cancel_and_shutdown), UNIT(odd_return_values_are_errors),
          UNIT(output_is_merged_whatever_the_outcome), UNIT(available_within_the_scheduler_interval),
          UNIT(snoozes_read_as_river_reads_them))
