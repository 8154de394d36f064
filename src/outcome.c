/* outcome.c -- River's state rules for a finished attempt: complete, retry
 * with (errors+1)^4 s backoff, discard at max_attempts, snooze, cancel,
 * discard, and "interrupted" (back to available when the daemon stops). */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insert.h"
#include "job.h"
#include "util.h"

/* Go's time.Duration overflows past ~292 years; River caps retries there. */
#define MAX_RETRY_S 9223372036.854775807

double retry_delay_s(int errors_count, double rand01)
{
	double base = pow((double)errors_count + 1.0, 4.0);
	if (base >= MAX_RETRY_S)
		return MAX_RETRY_S;
	double s = base + base * (rand01 * 0.2 - 0.1);
	return s < MAX_RETRY_S ? s : MAX_RETRY_S;
}

double retry_rand01(void) { return (double)randombytes_uniform(1u << 30) / (double)(1u << 30); }

static char *error_element(int64_t at_us, int attempt, const char *msg)
{
	char at[40];
	fmt_rfc3339_us(at_us, at);
	sb b = {0};
	sb_printf(&b, "{\"at\":\"%s\",\"attempt\":%d,\"error\":", at, attempt);
	sb_json_str(&b, msg);
	sb_puts(&b, ",\"trace\":\"\"}");
	return sb_take(&b);
}

static _Atomic int64_t scheduler_interval_ms = 5000;

void outcome_set_scheduler_interval_ms(int64_t ms) { atomic_store(&scheduler_interval_ms, ms); }

static bool available_within(double s)
{
	return s * 1000.0 <= (double)atomic_load(&scheduler_interval_ms);
}

#define NO_SNOOZES INT64_MIN /* metadata_merge: leave snoozes alone */

/* Metadata merged on write-back: output (any outcome) and snoozes. */
static char *metadata_merge(const char *output_json, int64_t snoozes)
{
	if (!output_json && snoozes == NO_SNOOZES)
		return NULL;
	sb b = {0};
	sb_putc(&b, '{');
	if (output_json) {
		sb_puts(&b, "\"output\":");
		sb_puts(&b, output_json);
	}
	if (snoozes != NO_SNOOZES) {
		sb_puts(&b, output_json ? ",\"snoozes\":" : "\"snoozes\":");
		sb_put_i64(&b, snoozes);
	}
	sb_putc(&b, '}');
	return sb_take(&b);
}

static int64_t add_seconds(int64_t now_us, double s)
{
	double us = s * 1e6;
	if (us > 9.0e18 - (double)now_us)
		return INT64_MAX / 2; /* far future; PostgreSQL accepts it */
	return now_us + (int64_t)us;
}

#define OUTCOME_INTERRUPTED (-1)

completion *outcome_build(const job_facts *f, const job_result *r, int64_t now_us, double rand01)
{
	completion *c = xcalloc(1, sizeof *c);
	c->job_id = f->id;
	c->fetched_attempt = f->attempt;
	c->attempted_at_us = f->attempted_at_us;
	c->attempt = -1;
	c->max_attempts = f->max_attempts;
	c->errors_count = f->errors_count;
	c->started_us = f->started_us;

	/* First the effective outcome and its error text; the handler's return
	 * value decides, the helpers only supply details. */
	int outcome = r->outcome;
	const char *msg = r->message;
	const char *output = r->output_json;
	char buf[256];
	if (!f->kind_known) {
		snprintf(buf, sizeof buf,
		         "job kind is not registered in the client's Workers bundle: %s", f->kind);
		outcome = SLUICE_ERROR;
		msg = buf;
	} else if (f->cancel_reason == SLUICE_CANCEL_TIMEOUT) {
		/* Past its deadline a run has failed, whatever the handler returned
		 * afterwards; its output is not kept. */
		char d[32];
		fmt_duration_ms(f->timeout_ms, d, sizeof d);
		snprintf(buf, sizeof buf, "job timed out after %s", d);
		outcome = SLUICE_ERROR;
		msg = buf;
		output = NULL;
	} else if (outcome != SLUICE_OK && f->cancel_reason == SLUICE_CANCEL_REMOTE) {
		outcome = SLUICE_CANCEL; /* River's ErrJobCancelledRemotely */
		msg = "job cancelled remotely";
	} else if (f->cancel_reason == SLUICE_CANCEL_SHUTDOWN &&
	           (outcome == SLUICE_ERROR || outcome < SLUICE_OK || outcome > SLUICE_DISCARD)) {
		/* River's soft stop: the run failed because the client stopped it.
		 * A snooze, cancel or discard is still what the handler asked for
		 * (River looks for JobSnooze and JobCancel before the soft stop). */
		outcome = OUTCOME_INTERRUPTED;
	} else if (outcome < SLUICE_OK || outcome > SLUICE_DISCARD) {
		snprintf(buf, sizeof buf, "handler returned %d", outcome);
		outcome = SLUICE_ERROR;
		msg = buf;
	} else if (outcome == SLUICE_ERROR && !msg) {
		msg = "handler returned an error";
	}

	switch (outcome) {
	case SLUICE_OK:
		c->outcome = "completed";
		c->state = "completed";
		c->finalized_at_us = now_us;
		c->metadata_json = metadata_merge(output, NO_SNOOZES);
		break;
	case SLUICE_SNOOZE: {
		double s = r->snooze_s > 0 ? r->snooze_s : 0;
		c->outcome = "snoozed";
		c->state = available_within(s) ? "available" : "scheduled";
		c->scheduled_at_us = add_seconds(now_us, s);
		c->attempt = f->attempt > 0 ? f->attempt - 1 : 0;
		/* River adds one in int64; saturated here, where Go would wrap. */
		c->metadata_json =
		    metadata_merge(output, f->snoozes < INT64_MAX ? f->snoozes + 1 : INT64_MAX);
		break;
	}
	case SLUICE_CANCEL: {
		/* River records JobCancelError's own text. */
		sb m = {0};
		sb_puts(&m, "JobCancelError: ");
		sb_puts(&m, msg ? msg : "<nil>");
		char *text = sb_take(&m);
		c->outcome = "cancelled";
		c->state = "cancelled";
		c->finalized_at_us = now_us;
		c->error_json = error_element(f->started_us, f->attempt, text);
		c->metadata_json = metadata_merge(output, NO_SNOOZES);
		free(text);
		break;
	}
	case SLUICE_DISCARD:
		c->outcome = "discarded";
		c->state = "discarded";
		c->finalized_at_us = now_us;
		c->error_json = error_element(f->started_us, f->attempt, msg ? msg : "");
		c->metadata_json = metadata_merge(output, NO_SNOOZES);
		break;
	case SLUICE_ERROR:
		c->outcome = f->cancel_reason == SLUICE_CANCEL_TIMEOUT ? "timed_out" : "errored";
		c->error_json = error_element(f->started_us, f->attempt, msg);
		c->metadata_json = metadata_merge(output, NO_SNOOZES);
		if (f->attempt >= f->max_attempts) {
			c->state = "discarded";
			c->finalized_at_us = now_us;
		} else {
			double s = retry_delay_s(f->errors_count, rand01);
			c->state = available_within(s) ? "available" : "retryable";
			c->scheduled_at_us = add_seconds(now_us, s);
		}
		break;
	default: /* interrupted by shutdown: as if never attempted (River's soft stop) */
		c->outcome = "interrupted";
		c->state = "available";
		c->scheduled_at_us = now_us;
		c->attempt = f->attempt > 0 ? f->attempt - 1 : 0;
		c->metadata_json = metadata_merge(output, NO_SNOOZES);
		break;
	}
	/* A requested cancellation (metadata.cancel_attempted_at) wins over
	 * any outcome that would run the job again. River's rule covers only
	 * retryable and scheduled; sluiced also applies it to available retries
	 * and snoozes and to jobs put back at shutdown, so that no cancel
	 * request is lost to a run that starts again at once (README, River
	 * compatibility). */
	c->cancel_if_requested = c->state && (strcmp(c->state, "retryable") == 0 ||
	                                      strcmp(c->state, "scheduled") == 0 ||
	                                      strcmp(c->state, "available") == 0);
	return c;
}

void completion_free(completion *c)
{
	if (!c)
		return;
	free(c->error_json);
	free(c->metadata_json);
	insert_free(c->children);
	free(c);
}
