/* metrics: per-job counters stay exact however many label sets there are
 * (metrics_job remembers only the last few; the rest must still count). */
#include "metrics.h"
#include "unit.h"
#include "util.h"

/* The value of one sample line of the /metrics body, or -1. */
static double sample(const char *series)
{
	sb out = {0};
	metrics_render(&out);
	double v = -1;
	char *at = strstr(sb_str(&out), series);
	if (at && at[strlen(series)] == ' ')
		v = strtod(at + strlen(series) + 1, NULL);
	sb_free(&out);
	return v;
}

static void counts_survive_many_label_sets(void)
{
	static const char *const outcomes[] = {"completed", "retryable", "discarded"};
	char kind[32], queue[32];
	/* 12 kinds x 2 queues x 3 outcomes: more than are remembered, met in
	 * an order that evicts each set before it is seen again. */
	for (int round = 0; round < 5; round++)
		for (int k = 0; k < 12; k++)
			for (int q = 0; q < 2; q++)
				for (int o = 0; o < 3; o++) {
					snprintf(kind, sizeof kind, "kind.%d", k);
					snprintf(queue, sizeof queue, "q%d", q);
					metrics_job(kind, queue, outcomes[o], 0.002);
				}
	metrics_job("kind.3", "q1", "retryable", 0.002);
	CHECK(sample("sluice_jobs_total{kind=\"kind.0\",queue=\"q0\",outcome=\"completed\"}") == 5);
	CHECK(sample("sluice_jobs_total{kind=\"kind.11\",queue=\"q1\",outcome=\"discarded\"}") == 5);
	CHECK(sample("sluice_jobs_total{kind=\"kind.3\",queue=\"q1\",outcome=\"retryable\"}") == 6);
	/* Duration is by kind alone: 2 queues x 3 outcomes x 5 rounds. */
	CHECK(sample("sluice_job_duration_seconds_count{kind=\"kind.7\"}") == 30);
	CHECK(sample("sluice_job_duration_seconds_count{kind=\"kind.3\"}") == 31);
	CHECK(sample("sluice_job_duration_seconds_bucket{kind=\"kind.7\",le=\"0.001\"}") == 0);
	CHECK(sample("sluice_job_duration_seconds_bucket{kind=\"kind.7\",le=\"0.005\"}") == 30);
}

static void labels_are_escaped(void)
{
	metrics_job("a\"b\\c", "default", "completed", 0.1);
	CHECK(sample("sluice_jobs_total{kind=\"a\\\"b\\\\c\",queue=\"default\",outcome=\"completed\"}") ==
	      1);
}

static void free_then_count_again(void)
{
	metrics_job("k", "default", "completed", 0.1);
	metrics_job("k", "default", "completed", 0.1);
	metrics_free();
	/* Remembered indices must not outlive the series they point at. */
	metrics_job("other", "default", "completed", 0.1);
	metrics_job("k", "default", "completed", 0.1);
	CHECK(sample("sluice_jobs_total{kind=\"k\",queue=\"default\",outcome=\"completed\"}") == 1);
	CHECK(sample("sluice_jobs_total{kind=\"other\",queue=\"default\",outcome=\"completed\"}") == 1);
	metrics_free();
}

UNIT_MAIN(UNIT(counts_survive_many_label_sets), UNIT(labels_are_escaped),
          UNIT(free_then_count_again))
