/* unit.h -- a minimal unit-test harness: each test runs in its own child
 * process with a timeout (as libuv's do), so a crash fails one test, not
 * the run. */
#ifndef SLUICE_UNIT_H
#define SLUICE_UNIT_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int unit_failures;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			unit_failures++;                                             \
		}                                                                    \
	} while (0)

#define CHECK_STR(a, b)                                                               \
	do {                                                                          \
		const char *a_ = (a), *b_ = (b);                                      \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                              \
			fprintf(stderr, "  %s:%d: %s == %s\n    got:  %s\n    want: %s\n", __FILE__, \
			        __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");  \
			unit_failures++;                                              \
		}                                                                     \
	} while (0)

typedef struct unit_test {
	const char *name;
	void (*fn)(void);
} unit_test;

#define UNIT(fn) {#fn, fn}

static inline int unit_run(const char *file, const unit_test *tests, size_t n)
{
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			alarm(30);
			tests[i].fn();
			_exit(unit_failures ? 1 : 0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
		if (!ok)
			failed++;
		printf("%s %s: %s%s\n", ok ? "ok    " : "FAILED", file, tests[i].name,
		       WIFSIGNALED(st) ? (WTERMSIG(st) == SIGALRM ? " (timeout)" : " (crashed)") : "");
	}
	return failed ? 1 : 0;
}

#define UNIT_MAIN(...)                                                      \
	int main(void)                                                      \
	{                                                                   \
		static const unit_test t[] = {__VA_ARGS__};                 \
		return unit_run(__FILE__, t, sizeof t / sizeof t[0]);       \
	}

#endif
