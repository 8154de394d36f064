/*
 * sluice/plugin.h -- the only header a sluiced plugin needs.
 *
 * A plugin is a shared object that registers handlers for job kinds. It never
 * links against daemon symbols: everything it may call arrives in the host
 * table handed to sluice_plugin_init(). Build one with
 *
 *     cc -shared -fPIC $(pkg-config --cflags sluice-plugin) -o my.so my.c
 *
 * and list it under [worker] plugins in the INI file.
 *
 * Compatibility: the daemon calls sluice_plugin_abi() first and refuses a
 * plugin built for another SLUICE_ABI_VERSION before calling its init (the
 * dynamic loader has run its constructors by then, if it has any).
 * Structs start with a size field so that fields can be appended without
 * breaking plugins built against an older header.
 */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to the structs or calls below. */
#define SLUICE_ABI_VERSION 1

/* What a handler returns. A handler returns SLUICE_OK to complete the job, or
 * the value of one of the outcome helpers (fail, snooze, cancel, discard). Any
 * other non-zero return is recorded as an error "handler returned <n>". */
enum sluice_outcome {
	SLUICE_OK = 0,
	SLUICE_ERROR = 1,   /* retried by River's policy, discarded at max_attempts */
	SLUICE_SNOOZE = 2,  /* run again later; the attempt is not counted */
	SLUICE_CANCEL = 3,  /* stop for good: state cancelled, error recorded */
	SLUICE_DISCARD = 4, /* stop for good: state discarded, error recorded */
};

/* Error codes returned by host calls: 0 on success, negative on failure. */
enum sluice_err {
	SLUICE_EINVAL = -22,    /* bad argument (bad JSON, bad name, ...) */
	SLUICE_EEXIST = -17,    /* already registered */
	SLUICE_ENOMEM = -12,    /* out of memory */
	SLUICE_ECANCELED = -125 /* the job was cancelled while waiting */
};

enum sluice_log_level {
	SLUICE_LOG_ERROR = 0,
	SLUICE_LOG_WARN = 1,
	SLUICE_LOG_INFO = 2,
	SLUICE_LOG_DEBUG = 3,
};

/* Why a job's handler is asked to stop; see sluice_host.cancelled(). */
enum sluice_cancel_reason {
	SLUICE_CANCEL_NONE = 0,
	SLUICE_CANCEL_TIMEOUT = 1,  /* the kind's timeout passed */
	SLUICE_CANCEL_REMOTE = 2,   /* cancelled by an operator (River's JobCancel) */
	SLUICE_CANCEL_SHUTDOWN = 3, /* the daemon is stopping: its shutdown_timeout passed, and
	                             * what the handler returns within 2 s is written */
};

/* A job as its handler sees it. Read only; valid until the handler returns.
 * Strings are NUL-terminated. args are the job's arguments after every
 * work_begin hook ran (so decrypted when encryption is on). */
typedef struct sluice_job {
	uint32_t size; /* sizeof(sluice_job) as the daemon built it */
	int64_t id;
	const char *kind;
	const char *queue;
	const char *args; /* JSON object */
	size_t args_len;
	const char *metadata; /* JSON object */
	const char *tags;     /* JSON array of strings */
	int attempt;          /* 1 on the first run */
	int max_attempts;
	int priority;           /* 1 (highest) .. 4 */
	int64_t created_at_us;  /* microseconds since the Unix epoch */
	int64_t scheduled_at_us;
	int64_t attempted_at_us;
} sluice_job;

typedef int (*sluice_work_fn)(const sluice_job *job, void *userdata);

/* A kind a plugin handles. */
typedef struct sluice_kind {
	uint32_t size; /* sizeof(sluice_kind) */
	const char *kind; /* River kind name, e.g. "mail.send" */
	sluice_work_fn work;
	void *userdata;      /* passed to work() unchanged */
	int64_t timeout_ms;  /* 0: [worker] job_timeout; -1: no timeout */
} sluice_kind;

/* Keys are always 32 bytes (base64 in key files; see `sluice keygen`). */
#define SLUICE_KEY_BYTES 32

/* What an insert_begin or work_begin hook sees and may change. */
typedef struct sluice_hook_args {
	uint32_t size;        /* sizeof(sluice_hook_args) as the daemon built it */
	const char *kind;
	const char *queue;
	const sluice_job *job; /* work_begin only; NULL at insert_begin */
	const char *args;     /* the args so far: a JSON object */
	size_t args_len;
	/* To replace the args, set new_args to a malloc()ed, NUL-terminated JSON
	 * object; the daemon frees it. Leave NULL to keep them. */
	char *new_args;
	/* On failure (non-zero return), why. It is recorded in the job's
	 * errors[] or returned to whoever enqueued: never put secrets here. */
	char reason[256];
} sluice_hook_args;

typedef int (*sluice_hook_fn)(sluice_hook_args *args, void *userdata);

/* A hook (River's HookInsertBegin / HookWorkBegin). insert_begin runs before
 * a job is written, work_begin before its handler runs; either may be NULL.
 * Order: on insert, global hooks, then kind hooks, then the built-in
 * encryption (so hooks see plaintext); on work, decryption first, then
 * global hooks, then kind hooks. */
typedef struct sluice_hook {
	uint32_t size;     /* sizeof(sluice_hook) */
	const char *name;  /* for messages */
	/* NULL or "": every kind (global). Otherwise a comma-separated list of
	 * kinds this plugin registered (River's JobArgsWithHooks). */
	const char *kinds;
	sluice_hook_fn insert_begin;
	sluice_hook_fn work_begin;
	void *userdata;
} sluice_hook;

/* A cipher for job args. The daemon draws a random nonce of nonce_bytes for
 * every message and passes the key (SLUICE_KEY_BYTES) chosen by key id. ad
 * is the associated data binding the envelope version, key id and job kind:
 * an AEAD cipher authenticates it (set aead); for any other cipher the
 * daemon binds it by authenticating a digest of it inside the plaintext. */
typedef struct sluice_encryptor {
	uint32_t size;         /* sizeof(sluice_encryptor) */
	const char *name;      /* 1-32 of [a-z0-9_-]: "algorithm =" and envelopes */
	uint32_t nonce_bytes;  /* 8..64 */
	uint32_t overhead;     /* ciphertext bytes = plaintext bytes + overhead */
	int aead;
	/* Return 0; decrypt returns non-zero when authentication fails. */
	int (*encrypt)(void *userdata, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
	               size_t adlen, const uint8_t *nonce, const uint8_t *key);
	int (*decrypt)(void *userdata, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
	               size_t adlen, const uint8_t *nonce, const uint8_t *key);
	void *userdata;
} sluice_encryptor;

/* River's unique-job options, as flags: a job is unique when any is set. */
enum sluice_unique {
	SLUICE_UNIQUE_BY_KIND = 1,   /* unique by kind alone (River's default key part) */
	SLUICE_UNIQUE_BY_ARGS = 2,
	SLUICE_UNIQUE_BY_PERIOD = 4, /* with unique_period_s */
	SLUICE_UNIQUE_BY_QUEUE = 8,
	SLUICE_UNIQUE_EXCLUDE_KIND = 16,
};

/* Options for a job a handler enqueues. Zero values mean River's defaults. */
typedef struct sluice_enqueue_opts {
	uint32_t size;           /* sizeof(sluice_enqueue_opts) */
	const char *queue;       /* NULL: "default" */
	int priority;            /* 0: 1 (1..4) */
	int max_attempts;        /* 0: 25 */
	int64_t scheduled_at_us; /* 0: now; later: state scheduled */
	const char *tags;        /* JSON array of strings, or NULL */
	const char *metadata;    /* JSON object, or NULL */
	uint32_t unique;         /* enum sluice_unique flags */
	int64_t unique_period_s;
	uint8_t unique_states;   /* River's bitmask; 0: River's default */
} sluice_enqueue_opts;

/* Opaque handle naming the plugin being initialised. */
typedef struct sluice_plugin sluice_plugin;

/* The functions a plugin may call. Every call is thread-safe; the job
 * functions may only be called with the job passed to the running handler. */
typedef struct sluice_host {
	uint32_t size; /* sizeof(sluice_host) as the daemon built it */
	uint32_t abi_version;

	/* At init only: from this plugin's sluice_plugin_init, on the thread
	 * that called it (SLUICE_EINVAL from any other thread, or later).
	 * Returns 0, SLUICE_EEXIST if any plugin already handles the kind,
	 * SLUICE_EINVAL for a bad name or missing work function. */
	int (*register_kind)(sluice_plugin *plugin, const sluice_kind *kind);

	/* Log a line through the daemon's logger (logfmt on stderr). job may be
	 * NULL; otherwise job_id and kind are added. Never log secrets or args. */
	void (*log)(const sluice_job *job, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

	/* Outcome helpers: record the outcome and return the value the handler
	 * should return, e.g. `return host->fail(job, "no such user %d", id);` */
	int (*fail)(const sluice_job *job, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	int (*cancel)(const sluice_job *job, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	int (*discard)(const sluice_job *job, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	int (*snooze)(const sluice_job *job, double seconds);

	/* Store a JSON value as the job's output (River's metadata.output),
	 * whatever the outcome. Returns 0 or SLUICE_EINVAL if json is not JSON. */
	int (*record_output)(const sluice_job *job, const char *json);

	/* Non-zero (an enum sluice_cancel_reason) once the handler should stop. */
	int (*cancelled)(const sluice_job *job);

	/* Sleep up to ms milliseconds; returns 0, or SLUICE_ECANCELED early when
	 * the job is cancelled, times out or the daemon stops. */
	int (*sleep_ms)(const sluice_job *job, int64_t ms);

	/* At init only, as register_kind: register a hook or an encryptor. 0, SLUICE_EINVAL or
	 * SLUICE_EEXIST (an encryptor of that name exists). */
	int (*register_hook)(sluice_plugin *plugin, const sluice_hook *hook);
	int (*register_encryptor)(sluice_plugin *plugin, const sluice_encryptor *enc);

	/* From a handler: enqueue a job (args: a JSON object). It passes the
	 * insert hooks (so it is encrypted by the same rules as any insert) and
	 * is inserted in the transaction that records this job's outcome, only
	 * if the job completes (returns SLUICE_OK) and its row is still running
	 * then. Returns 0 or SLUICE_EINVAL (bad kind, JSON or option). */
	int (*enqueue)(const sluice_job *job, const char *kind, const char *args,
	               const sluice_enqueue_opts *opts);
} sluice_host;

/* What sluice_plugin_abi() returns: lets the daemon check the build before
 * calling any other plugin code. */
typedef struct sluice_plugin_magic {
	uint32_t size;        /* sizeof(sluice_plugin_magic) */
	uint32_t abi_version; /* SLUICE_ABI_VERSION */
	uint32_t job_size;    /* sizeof(sluice_job) */
	uint32_t host_size;   /* sizeof(sluice_host) */
	const char *name;
	const char *version;
} sluice_plugin_magic;

/* Every plugin exports these two functions, and optionally
 * `void sluice_plugin_fini(void)`, called at daemon exit. */
const sluice_plugin_magic *sluice_plugin_abi(void);
int sluice_plugin_init(const sluice_host *host, sluice_plugin *plugin);
/* Optional: runs after every worker thread has ended, before dlclose. */
void sluice_plugin_fini(void);

/* Defines sluice_plugin_abi() for the header the plugin is compiled with. */
#define SLUICE_PLUGIN(name_, version_)                                          \
	const sluice_plugin_magic *sluice_plugin_abi(void)                     \
	{                                                                      \
		static const sluice_plugin_magic m = {                         \
		    sizeof(sluice_plugin_magic), SLUICE_ABI_VERSION,           \
		    sizeof(sluice_job), sizeof(sluice_host), (name_), (version_)}; \
		return &m;                                                     \
	}

#ifdef __cplusplus
}
#endif
#endif
