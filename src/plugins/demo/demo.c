/* demo.c -- the example plugin: one kind per outcome River knows. Used by
 * `make run`, the tests and as a template for real plugins. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sluice/plugin.h>

SLUICE_PLUGIN("demo", "1.0")

static const sluice_host *host;

/* args.<name> as a parsed value; NULL when absent. Caller puts args. */
static json_object *arg(const sluice_job *job, json_object **args, const char *name)
{
	json_object *v = NULL;
	*args = json_tokener_parse(job->args);
	if (*args && json_object_is_type(*args, json_type_object))
		json_object_object_get_ex(*args, name, &v);
	return v;
}

static int work_noop(const sluice_job *job, void *ud)
{
	(void)job;
	(void)ud;
	return SLUICE_OK;
}

static int work_fail(const sluice_job *job, void *ud)
{
	(void)ud;
	json_object *args, *m = arg(job, &args, "message");
	int rc = host->fail(job, "%s", m ? json_object_get_string(m) : "demo.fail");
	json_object_put(args);
	return rc;
}

/* Sleeps args.ms (default 1 s). Asked to stop (a timeout, a cancel, the
 * daemon stopping), it fails, or with args.on_stop = "snooze" it snoozes
 * for a minute, as a handler that saved its progress would. */
static int work_sleep(const sluice_job *job, void *ud)
{
	(void)ud;
	json_object *args, *ms = arg(job, &args, "ms"), *on_stop = NULL;
	int64_t n = ms ? json_object_get_int64(ms) : 1000;
	if (args && json_object_is_type(args, json_type_object))
		json_object_object_get_ex(args, "on_stop", &on_stop);
	bool snooze = on_stop && json_object_is_type(on_stop, json_type_string) &&
	              strcmp(json_object_get_string(on_stop), "snooze") == 0;
	json_object_put(args);
	if (host->sleep_ms(job, n) == SLUICE_ECANCELED)
		return snooze ? host->snooze(job, 60) : host->fail(job, "sleep interrupted");
	return SLUICE_OK;
}

static int work_snooze(const sluice_job *job, void *ud)
{
	(void)ud;
	json_object *args, *s = arg(job, &args, "seconds");
	double secs = s ? json_object_get_double(s) : 1.0;
	json_object_put(args);
	return host->snooze(job, secs);
}

static int work_cancel(const sluice_job *job, void *ud)
{
	(void)ud;
	json_object *args, *m = arg(job, &args, "message");
	int rc = host->cancel(job, "%s", m ? json_object_get_string(m) : "demo.cancel");
	json_object_put(args);
	return rc;
}

/* Records args as the job's output, after sleeping args.ms if given. */
static int work_echo(const sluice_job *job, void *ud)
{
	(void)ud;
	json_object *args, *ms = arg(job, &args, "ms");
	int64_t n = ms ? json_object_get_int64(ms) : 0;
	json_object_put(args);
	if (n > 0 && host->sleep_ms(job, n) == SLUICE_ECANCELED)
		return host->fail(job, "sleep interrupted");
	if (host->record_output(job, job->args) != 0)
		return host->fail(job, "args are not JSON");
	return SLUICE_OK;
}

/* Enqueues args.children = [{"kind": ..., "args": {...}, "queue": ...}, ...]
 * (each with metadata.parent_id), then sleeps args.ms if given. Children are
 * inserted only if this job completes. */
static int work_spawn(const sluice_job *job, void *ud)
{
	(void)ud;
	json_object *args, *kids = arg(job, &args, "children"), *ms = NULL;
	json_object_object_get_ex(args, "ms", &ms);
	int rc = SLUICE_OK;
	char meta[64];
	snprintf(meta, sizeof meta, "{\"parent_id\":%lld}", (long long)job->id);
	size_t n = kids && json_object_is_type(kids, json_type_array) ? json_object_array_length(kids) : 0;
	for (size_t i = 0; i < n && rc == SLUICE_OK; i++) {
		json_object *c = json_object_array_get_idx(kids, i), *k, *a, *q;
		if (!json_object_object_get_ex(c, "kind", &k)) {
			rc = host->fail(job, "children[%zu] has no kind", i);
			break;
		}
		sluice_enqueue_opts o = {.size = sizeof o, .metadata = meta};
		if (json_object_object_get_ex(c, "queue", &q))
			o.queue = json_object_get_string(q);
		const char *cargs = json_object_object_get_ex(c, "args", &a)
		                        ? json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN)
		                        : "{}";
		if (host->enqueue(job, json_object_get_string(k), cargs, &o) != 0)
			rc = host->fail(job, "children[%zu] was refused", i);
	}
	int64_t sleep = ms ? json_object_get_int64(ms) : 0;
	json_object_put(args);
	if (rc == SLUICE_OK && sleep > 0 && host->sleep_ms(job, sleep) == SLUICE_ECANCELED)
		rc = host->fail(job, "sleep interrupted");
	return rc;
}

int sluice_plugin_init(const sluice_host *h, sluice_plugin *plugin)
{
	static const struct {
		const char *kind;
		sluice_work_fn work;
	} kinds[] = {
	    {"demo.noop", work_noop},     {"demo.fail", work_fail},
	    {"demo.sleep", work_sleep},   {"demo.snooze", work_snooze},
	    {"demo.cancel", work_cancel}, {"demo.echo", work_echo},
	    {"demo.spawn", work_spawn},
	};
	host = h;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		sluice_kind k = {.size = sizeof k, .kind = kinds[i].kind, .work = kinds[i].work};
		int rc = h->register_kind(plugin, &k);
		if (rc)
			return rc;
	}
	return 0;
}
