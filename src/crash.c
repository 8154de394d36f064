/* crash.c -- see crash.h. The handler only uses async-signal-safe calls:
 * it formats into a stack buffer, write(2)s it and re-raises the signal
 * with the default action, so the exit status still says "killed by
 * SIGSEGV" (systemd's Restart=on-failure and the shell see the truth). */
#include "crash.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CRASH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CRASH_SANITIZED 1
#endif
#endif

static _Thread_local const char *cur_kind;
static _Thread_local int64_t cur_id;
static _Thread_local int cur_attempt;

void crash_set_job(const char *kind, int64_t id, int attempt)
{
	cur_kind = kind;
	cur_id = id;
	cur_attempt = attempt;
}

static size_t put_s(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_i(char *buf, size_t at, size_t cap, int64_t v)
{
	char tmp[FMT_I64_MAX];
	size_t n = fmt_i64(v, tmp);
	for (size_t i = 0; i < n && at < cap; i++)
		buf[at++] = tmp[i];
	return at;
}

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGILL: return "SIGILL";
	case SIGFPE: return "SIGFPE";
	case SIGABRT: return "SIGABRT";
	default: return "signal";
	}
}

static void on_fatal(int sig)
{
	char buf[512];
	size_t n = 0, cap = sizeof buf - 1;
	n = put_s(buf, n, cap, "level=error msg=\"fatal signal\" signal=");
	n = put_s(buf, n, cap, sig_name(sig));
	if (cur_kind) {
		/* Kinds are registered by plugins: plain identifiers, no quoting. */
		n = put_s(buf, n, cap, " in_handler=true kind=");
		n = put_s(buf, n, cap, cur_kind);
		n = put_s(buf, n, cap, " job_id=");
		n = put_i(buf, n, cap, cur_id);
		n = put_s(buf, n, cap, " attempt=");
		n = put_i(buf, n, cap, cur_attempt);
		n = put_s(buf, n, cap,
		          " detail=\"a plugin handler crashed; the jobs that were running are rescued "
		          "after [maintenance] rescue_after\"");
	}
	buf[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, buf, n);
	(void)w;
	signal(sig, SIG_DFL);
	raise(sig);
}

void crash_install(void)
{
#ifndef CRASH_SANITIZED
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	/* One shot: a fault inside the handler kills by the default action. */
	sa.sa_flags = (int)SA_RESETHAND | SA_NODEFER;
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);
#else
	(void)on_fatal;
#endif
}
