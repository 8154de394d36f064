/* registry.h -- loading plugins (ABI check, init with the host table) and
 * the table of kinds they register; running a job's handler. */
#ifndef SLUICE_REGISTRY_H
#define SLUICE_REGISTRY_H

#include <stdint.h>

#include "job.h"
#include "sluice/plugin.h"

typedef struct kind_entry {
	char *kind;
	sluice_work_fn work;
	void *userdata;
	int64_t timeout_ms; /* as registered: 0 default, -1 none */
	const char *plugin_path;
} kind_entry;

/* Loads every plugin in paths (NULL-terminated). On failure returns -1 and
 * writes "<file>: <reason>" to err; nothing stays loaded. */
int registry_load(char *const *paths, char *err, size_t errlen);
/* NULL when no plugin handles kind. */
const kind_entry *registry_find(const char *kind);
size_t registry_kind_count(void);
/* Calls plugins' fini and unloads them. */
void registry_unload(void);

/* Runs the handler on the calling (worker) thread; fills j->result and, by
 * River's rules, j->done. A job without a handler gets the unknown-kind
 * error without running anything. */
void registry_run(job *j);

#endif
