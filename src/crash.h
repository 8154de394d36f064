/* crash.h -- a one-line report when sluiced dies of a fatal signal.
 *
 * Plugin handlers run in-process, so a handler that segfaults takes the
 * daemon down (systemd restarts it; the leader's rescuer retries the jobs
 * that were running). What an operator needs from the journal is which
 * kind and job did it -- never args, which may be decrypted. */
#ifndef SLUICE_CRASH_H
#define SLUICE_CRASH_H

#include <stdint.h>

/* Installs the handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT
 * (not under ASan/TSan, whose own reports are better). */
void crash_install(void);
/* Marks the calling thread as running a handler for this job (kind may be
 * NULL to clear). The strings must outlive the call. */
void crash_set_job(const char *kind, int64_t id, int attempt);

#endif
