/* hooks.h -- the hook chain. insert_begin: plugin hooks (global, then the
 * kind's), then the built-in encryption last, so hooks see plaintext.
 * work_begin: decryption first, then global, then the kind's hooks. */
#ifndef SLUICE_HOOKS_H
#define SLUICE_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/plugin.h"

struct job;

/* From register_hook: kinds must be registered by the same plugin. */
int hooks_add(const sluice_hook *h, const char *plugin_path, char *err, size_t errlen);
void hooks_clear(void);

/* [worker] max_args_size: larger args are refused (work and insert). */
void hooks_set_max_args(size_t bytes);
size_t hooks_max_args(void);

/* Runs the insert chain over args. *out: the args to write (malloc'd);
 * *sealed_by: the policy that encrypted them, a reference for the caller
 * to release, or NULL (plaintext). Returns 0, or -1 with a reason. */
struct enc_policy;
int hooks_insert_begin(const char *kind, const char *queue, const char *args, size_t len,
                       bool encrypt, char **out, struct enc_policy **sealed_by, char *err,
                       size_t errlen);

enum hook_work_result { HOOK_OK = 0, HOOK_FAIL = -1, HOOK_CANCEL = -2 };
/* Runs the work chain for j, replacing j->pub.args (the plaintext is kept
 * in j and zeroed when the job is freed). */
int hooks_work_begin(struct job *j, char *err, size_t errlen);

#endif
