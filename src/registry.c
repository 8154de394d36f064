/* registry.c -- plugins and their kinds. A plugin's ABI magic is checked
 * before its init runs (as PostgreSQL does with PG_MODULE_MAGIC); init gets
 * the host table, so plugins never link against daemon symbols. */
#include "registry.h"

#include <dlfcn.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crash.h"
#include "crypto.h"
#include "hooks.h"
#include "insert.h"
#include "log.h"
#include "util.h"

/* Error texts are stored in errors[]; a handler should not be able to write
 * megabytes there by accident. */
#define MAX_MESSAGE_BYTES 8192
/* River refuses recorded output over 32 MB. */
#define MAX_OUTPUT_BYTES (32u * 1024 * 1024)

struct sluice_plugin {
	char *path;
	void *dl;
	const sluice_plugin_magic *magic;
	char failure[256]; /* set by a refused register_kind during init */
};

static struct {
	sluice_plugin **plugins;
	size_t nplugins;
	kind_entry **slots; /* open addressing, power-of-two size */
	size_t cap, count;
	/* Registration is for a plugin's init only: on the thread loading the
	 * plugins, for the plugin whose init runs. A thread a plugin started
	 * must not register (the tables take no locks), nor may a plugin once
	 * its init returned. */
	bool loading;
	pthread_t loader;
	sluice_plugin *initialising;
} reg;

/* The loader is checked first: another thread must not read initialising,
 * which the loader writes. */
static bool may_register(const sluice_plugin *p)
{
	return p && pthread_equal(pthread_self(), reg.loader) && reg.loading && p == reg.initialising;
}

/* ---- kind table ---------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static kind_entry **slot_for(const char *kind)
{
	size_t mask = reg.cap - 1;
	for (size_t i = fnv1a(kind) & mask;; i = (i + 1) & mask)
		if (!reg.slots[i] || strcmp(reg.slots[i]->kind, kind) == 0)
			return &reg.slots[i];
}

static void table_grow(void)
{
	kind_entry **old = reg.slots;
	size_t oldcap = reg.cap;
	reg.cap = oldcap ? oldcap * 2 : 64;
	reg.slots = xcalloc(reg.cap, sizeof *reg.slots);
	for (size_t i = 0; i < oldcap; i++)
		if (old[i])
			*slot_for(old[i]->kind) = old[i];
	free(old);
}

const kind_entry *registry_find(const char *kind)
{
	if (!reg.cap)
		return NULL;
	return *slot_for(kind);
}

size_t registry_kind_count(void) { return reg.count; }

/* ---- host table ------------------------------------------------------------ */

static job *job_of(const sluice_job *pub) { return CONTAINER_OF(pub, job, pub); }

static int host_register_kind(sluice_plugin *p, const sluice_kind *k)
{
	if (!may_register(p) || !k)
		return SLUICE_EINVAL;
	sluice_kind def = {0};
	memcpy(&def, k, k->size < sizeof def ? k->size : sizeof def);
	if (!def.kind || !valid_kind_name(def.kind) || !def.work) {
		snprintf(p->failure, sizeof p->failure, "invalid kind %s%s%s",
		         def.kind ? "'" : "", def.kind ? def.kind : "(null)",
		         def.kind ? (def.work ? "' (bad name)" : "' (no work function)") : "");
		return SLUICE_EINVAL;
	}
	if (reg.count * 2 >= reg.cap)
		table_grow();
	kind_entry **slot = slot_for(def.kind);
	if (*slot) {
		snprintf(p->failure, sizeof p->failure, "kind %s is already registered by %s",
		         def.kind, (*slot)->plugin_path);
		return SLUICE_EEXIST;
	}
	kind_entry *e = xcalloc(1, sizeof *e);
	e->kind = xstrdup(def.kind);
	e->work = def.work;
	e->userdata = def.userdata;
	e->timeout_ms = def.timeout_ms;
	e->plugin_path = p->path;
	*slot = e;
	reg.count++;
	return 0;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *buf = xmalloc(MAX_MESSAGE_BYTES);
	int n = vsnprintf(buf, MAX_MESSAGE_BYTES, fmt, ap);
	if (n < 0) { /* a format vsnprintf refused (EOVERFLOW, a bad wide string) */
		snprintf(buf, MAX_MESSAGE_BYTES, "(a message vsnprintf could not format)");
	} else if (n >= MAX_MESSAGE_BYTES) {
		/* Cut before a whole UTF-8 character, not inside one. */
		size_t at = MAX_MESSAGE_BYTES - 15;
		while (at > 0 && ((unsigned char)buf[at] & 0xC0) == 0x80)
			at--;
		memcpy(buf + at, " [truncated]", 13);
	}
	return buf;
}

static void host_log(const sluice_job *pub, int level, const char *fmt, ...)
{
	if (level > log_level_current)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = fmt ? vformat(fmt, ap) : xstrdup("(no message)");
	va_end(ap);
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	if (pub)
		LOG_AT_(level, msg, LS("source", "plugin"), LI("job_id", pub->id),
		        LS("kind", pub->kind));
	else
		LOG_AT_(level, msg, LS("source", "plugin"));
	free(msg);
}

/* The job functions lock the job: plugin.h promises they are thread-safe,
 * so a handler may call them from threads of its own while it runs. */
static int set_outcome(const sluice_job *pub, int outcome, const char *fmt, va_list ap)
{
	job *j = job_of(pub);
	char *msg = fmt ? vformat(fmt, ap) : NULL;
	pthread_mutex_lock(&j->mu);
	free(j->result.message);
	j->result.message = msg;
	j->result.outcome = outcome;
	j->result.set = true;
	pthread_mutex_unlock(&j->mu);
	return outcome;
}

static int host_fail(const sluice_job *pub, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = set_outcome(pub, SLUICE_ERROR, fmt, ap);
	va_end(ap);
	return rc;
}

static int host_cancel(const sluice_job *pub, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = set_outcome(pub, SLUICE_CANCEL, fmt, ap);
	va_end(ap);
	return rc;
}

static int host_discard(const sluice_job *pub, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = set_outcome(pub, SLUICE_DISCARD, fmt, ap);
	va_end(ap);
	return rc;
}

static int host_snooze(const sluice_job *pub, double seconds)
{
	job *j = job_of(pub);
	pthread_mutex_lock(&j->mu);
	j->result.snooze_s = isfinite(seconds) && seconds > 0 ? seconds : 0;
	j->result.outcome = SLUICE_SNOOZE;
	j->result.set = true;
	pthread_mutex_unlock(&j->mu);
	return SLUICE_SNOOZE;
}

static int host_record_output(const sluice_job *pub, const char *json)
{
	if (!json)
		return SLUICE_EINVAL;
	size_t len = strlen(json);
	if (len > MAX_OUTPUT_BYTES || !json_is_valid(json, len))
		return SLUICE_EINVAL;
	job *j = job_of(pub);
	char *copy = xstrdup(json);
	pthread_mutex_lock(&j->mu);
	free(j->result.output_json);
	j->result.output_json = copy;
	pthread_mutex_unlock(&j->mu);
	return 0;
}

static int host_cancelled(const sluice_job *pub) { return atomic_load(&job_of(pub)->cancel_reason); }

static int host_sleep_ms(const sluice_job *pub, int64_t ms)
{
	job *j = job_of(pub);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	if (ms > 0) {
		until.tv_sec += (time_t)(ms / 1000);
		until.tv_nsec += (long)(ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&j->mu);
	while (!atomic_load(&j->cancel_reason) && ms > 0)
		if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT)
			break;
	int reason = atomic_load(&j->cancel_reason);
	pthread_mutex_unlock(&j->mu);
	return reason ? SLUICE_ECANCELED : 0;
}

static int host_register_hook(sluice_plugin *p, const sluice_hook *h)
{
	if (!may_register(p))
		return SLUICE_EINVAL;
	int rc = hooks_add(h, p->path, p->failure, sizeof p->failure);
	return rc;
}

static int host_register_encryptor(sluice_plugin *p, const sluice_encryptor *e)
{
	if (!may_register(p))
		return SLUICE_EINVAL;
	return crypto_register(e, p->failure, sizeof p->failure);
}

static int host_enqueue(const sluice_job *pub, const char *kind, const char *args,
                        const sluice_enqueue_opts *opts)
{
	job *j = job_of(pub);
	char err[300];
	insert_job *c;
	if (insert_prepare(kind, args, opts, now_us(), 0, &c, err, sizeof err) < 0) {
		/* A hook's own words may quote the args (plugin.h asks it not to;
		 * a log line is not where to find out): the hook is named, what
		 * it said is not logged. sluice's own reasons never quote args. */
		char *said = strncmp(err, "hook ", 5) == 0 ? strstr(err, " failed: ") : NULL;
		if (said)
			said[strlen(" failed")] = '\0';
		log_warn("enqueue refused", LI("job_id", pub->id), LS("kind", pub->kind),
		         LS("child_kind", kind && valid_kind_name(kind) ? kind : "(invalid)"),
		         LS("reason", err));
		return SLUICE_EINVAL;
	}
	pthread_mutex_lock(&j->mu);
	if (j->children_tail)
		j->children_tail->next = c;
	else
		j->children = c;
	j->children_tail = c;
	j->nchildren++;
	pthread_mutex_unlock(&j->mu);
	return 0;
}

static const sluice_host host = {
    .size = sizeof(sluice_host),
    .abi_version = SLUICE_ABI_VERSION,
    .register_kind = host_register_kind,
    .log = host_log,
    .fail = host_fail,
    .cancel = host_cancel,
    .discard = host_discard,
    .snooze = host_snooze,
    .record_output = host_record_output,
    .cancelled = host_cancelled,
    .sleep_ms = host_sleep_ms,
    .register_hook = host_register_hook,
    .register_encryptor = host_register_encryptor,
    .enqueue = host_enqueue,
};

/* ---- loading ------------------------------------------------------------- */

static void drop_kinds_of(const sluice_plugin *p)
{
	for (size_t i = 0; i < reg.cap; i++) {
		kind_entry *e = reg.slots[i];
		if (e && e->plugin_path == p->path) {
			free(e->kind);
			free(e);
			reg.slots[i] = NULL;
			reg.count--;
		}
	}
	/* Re-insert the rest: removals break probe chains. */
	kind_entry **old = reg.slots;
	size_t cap = reg.cap;
	reg.slots = xcalloc(cap, sizeof *reg.slots);
	for (size_t i = 0; i < cap; i++)
		if (old[i])
			*slot_for(old[i]->kind) = old[i];
	free(old);
}

static int load_one(const char *path, char *err, size_t errlen)
{
	/* dlerror() text names the file itself; keep ours to the reason. */
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		snprintf(err, errlen, "%s: cannot load: %s", path, dlerror());
		return -1;
	}
	const sluice_plugin_magic *(*abi)(void);
	*(void **)&abi = dlsym(dl, "sluice_plugin_abi");
	if (!abi) {
		snprintf(err, errlen,
		         "%s: not a sluice plugin (missing symbol sluice_plugin_abi; "
		         "use SLUICE_PLUGIN(name, version))",
		         path);
		dlclose(dl);
		return -1;
	}
	const sluice_plugin_magic *m = abi();
	if (!m || m->size != sizeof(sluice_plugin_magic) || m->abi_version != SLUICE_ABI_VERSION) {
		snprintf(err, errlen,
		         "%s: built for plugin ABI %u, this sluiced speaks ABI %u; rebuild it "
		         "against this version's sluice/plugin.h",
		         path, m ? m->abi_version : 0, SLUICE_ABI_VERSION);
		dlclose(dl);
		return -1;
	}
	if (m->job_size > sizeof(sluice_job) || m->host_size > sizeof(sluice_host)) {
		snprintf(err, errlen,
		         "%s: built against a newer sluice/plugin.h (job %u/%zu, host %u/%zu "
		         "bytes); upgrade sluiced or rebuild the plugin",
		         path, m->job_size, sizeof(sluice_job), m->host_size, sizeof(sluice_host));
		dlclose(dl);
		return -1;
	}
	int (*init)(const sluice_host *, sluice_plugin *);
	*(void **)&init = dlsym(dl, "sluice_plugin_init");
	if (!init) {
		snprintf(err, errlen, "%s: missing symbol sluice_plugin_init", path);
		dlclose(dl);
		return -1;
	}
	sluice_plugin *p = xcalloc(1, sizeof *p);
	p->path = xstrdup(path);
	p->dl = dl;
	p->magic = m;
	reg.initialising = p;
	int rc = init(&host, p);
	reg.initialising = NULL;
	if (rc != 0 || p->failure[0]) {
		if (p->failure[0])
			snprintf(err, errlen, "%s: %s", path, p->failure);
		else
			snprintf(err, errlen, "%s: init failed (returned %d)", path, rc);
		drop_kinds_of(p);
		dlclose(dl);
		free(p->path);
		free(p);
		return -1;
	}
	reg.plugins = xrealloc(reg.plugins, (reg.nplugins + 1) * sizeof *reg.plugins);
	reg.plugins[reg.nplugins++] = p;
	log_info("plugin loaded", LS("path", path), LS("name", m->name ? m->name : "?"),
	         LS("version", m->version ? m->version : "?"));
	return 0;
}

int registry_load(char *const *paths, char *err, size_t errlen)
{
	reg.loader = pthread_self();
	reg.loading = true;
	int rc = 0;
	for (char *const *p = paths; p && *p && rc == 0; p++)
		rc = load_one(*p, err, errlen);
	reg.loading = false;
	if (rc < 0)
		registry_unload();
	return rc;
}

void registry_unload(void)
{
	for (size_t i = reg.nplugins; i-- > 0;) {
		sluice_plugin *p = reg.plugins[i];
		void (*fini)(void);
		*(void **)&fini = dlsym(p->dl, "sluice_plugin_fini");
		if (fini)
			fini();
	}
	for (size_t i = 0; i < reg.cap; i++)
		if (reg.slots[i]) {
			free(reg.slots[i]->kind);
			free(reg.slots[i]);
		}
	free(reg.slots);
	for (size_t i = 0; i < reg.nplugins; i++) {
		dlclose(reg.plugins[i]->dl);
		free(reg.plugins[i]->path);
		free(reg.plugins[i]);
	}
	free(reg.plugins);
	memset(&reg, 0, sizeof reg);
	hooks_clear();
	crypto_reset_plugins();
}

/* ---- running ------------------------------------------------------------- */

void registry_run(job *j)
{
	j->started_us = now_us();
	int cancel = atomic_load(&j->cancel_reason);
	if (j->kind && !cancel) {
		char err[512];
		int h = hooks_work_begin(j, err, sizeof err);
		if (h == HOOK_OK) {
			crash_set_job(j->pub.kind, j->pub.id, j->pub.attempt);
			j->result.outcome = j->kind->work(&j->pub, j->kind->userdata);
			crash_set_job(NULL, 0, 0);
		} else {
			/* The handler never sees args a hook refused. */
			j->result.outcome = h == HOOK_CANCEL ? SLUICE_CANCEL : SLUICE_ERROR;
			free(j->result.message);
			j->result.message = xstrdup(err);
			j->result.set = true;
		}
	} else if (j->kind) {
		j->result.outcome = SLUICE_ERROR; /* cancelled before it started */
	}
	/* Why it was stopped, as the handler returned: a deadline passing
	 * while the args are wiped below must not turn a finished run into a
	 * timeout. */
	int stopped = atomic_load(&j->cancel_reason);
	job_drop_args(j);
	job_facts f = {
	    .id = j->pub.id,
	    .kind = j->pub.kind,
	    .attempt = j->pub.attempt,
	    .attempted_at_us = j->pub.attempted_at_us,
	    .max_attempts = j->pub.max_attempts,
	    .errors_count = j->errors_count,
	    .snoozes = j->snoozes,
	    .started_us = j->started_us,
	    .timeout_ms = j->timeout_ms,
	    .cancel_reason = stopped,
	    .kind_known = j->kind != NULL,
	};
	/* Jitter only matters for a retry; getrandom() per job is not free. */
	bool may_retry = j->result.outcome != SLUICE_OK || !f.kind_known || f.cancel_reason;
	double r01 = may_retry ? retry_rand01() : 0.5;
	j->done = outcome_build(&f, &j->result, now_us(), r01);
	/* Children go with a completed job only. */
	if (strcmp(j->done->state, "completed") == 0) {
		j->done->children = j->children;
		j->done->nchildren = j->nchildren;
		j->children = j->children_tail = NULL;
		j->nchildren = 0;
	}
}
