/* config.h -- the INI file: one table of keys (name, parser, default, flags),
 * every problem reported at once as `path:line: [section] key: message`. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cron.h"

#define CFG_EXIT_CONFIG 78 /* EX_CONFIG from sysexits.h */

struct key_source;
struct keyring;
struct periodic_def;

/* cfg_load flags */
#define CFG_NO_KEYS 1 /* check key source syntax but do not read keys */

typedef struct cfg_queue {
	char *name;
	int max_workers;
} cfg_queue;

typedef struct cfg {
	char *path;

	/* [database] */
	char *db_url;
	char *db_schema; /* "" means River's default: current_schema() */
	bool db_url_from_env;

	/* [worker] */
	char *worker_id;
	bool worker_id_default; /* derived, not set in the file */
	cfg_queue *queues;
	size_t nqueues;
	char **plugins; /* absolute paths, NULL-terminated */
	int64_t poll_interval_ms;
	int64_t fetch_cooldown_ms;
	int64_t job_timeout_ms;
	int64_t shutdown_timeout_ms;
	int64_t max_args_size; /* bytes */

	/* [log] */
	int log_level;

	/* [encryption] */
	int enc_mode; /* enum enc_mode */
	char *enc_algorithm;
	struct key_source *key_sources;
	size_t nkey_sources;
	struct keyring *keyring; /* NULL when no keys or CFG_NO_KEYS */
	char **kinds_include, **kinds_exclude, **strict_kinds;
	int algorithm_line; /* for the check after plugins registered theirs */

	/* [maintenance] */
	bool maint_enabled;
	int64_t rescue_after_ms;
	int64_t scheduler_interval_ms;
	int64_t rescuer_interval_ms;
	int64_t cleaner_interval_ms;
	int64_t completed_retention_ms; /* -1: keep forever */
	int64_t cancelled_retention_ms;
	int64_t discarded_retention_ms;
	bool reindex_enabled; /* reindex_schedule is not "off" */
	cron reindex_sched;
	int64_t reindex_timeout_ms; /* 0: none */

	/* [metrics] */
	char *metrics_listen; /* "host:port", "" for none */

	/* [periodic] */
	struct periodic_def *periodic;
	size_t nperiodic;
} cfg;

typedef struct cfg_errors {
	char **v;
	int *line; /* for ordering: errors print in file order */
	size_t n;
} cfg_errors;

/* Loads and validates path into *c. Returns 0, or -1 with every problem in
 * *errs (the cfg is then freed). env_url overrides [database] url when set. */
int cfg_load(const char *path, const char *env_url, int flags, cfg *c, cfg_errors *errs);
/* After plugins are loaded: is [encryption] algorithm a known encryptor? */
int cfg_check_algorithm(const cfg *c, cfg_errors *errs);
/* Defaults only, for tools that run without an INI file. */
void cfg_defaults(cfg *c);
void cfg_free(cfg *c);
void cfg_errors_print(const cfg_errors *errs);
void cfg_errors_free(cfg_errors *errs);
void cfg_errors_add(cfg_errors *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
