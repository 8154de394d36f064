/* sluiced.c -- the daemon's command line. Runs in the foreground (systemd
 * style); exit 78 on configuration problems so systemd does not restart a
 * unit that cannot work. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "config.h"
#include "crypto.h"
#include "keys.h"
#include "daemon.h"
#include "registry.h"

#define DEFAULT_CONFIG "/etc/sluice/sluice.ini"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sluiced [-c FILE] [--check-config] [--version]\n"
	        "\n"
	        "Works River jobs from PostgreSQL with handlers loaded from plugins.\n"
	        "\n"
	        "  -c, --config FILE  INI file (default " DEFAULT_CONFIG ")\n"
	        "  --check-config     validate the file and its plugins, then exit (0 or 78)\n"
	        "  --version          print the version\n"
	        "  -h, --help         this help\n"
	        "\n"
	        "DATABASE_URL, when set, overrides [database] url.\n");
}

static int check_config(const char *path)
{
	cfg c;
	cfg_errors errs = {0};
	if (sodium_init() < 0)
		return 1;
	crypto_init();
	if (cfg_load(path, getenv("DATABASE_URL"), 0, &c, &errs) < 0) {
		cfg_errors_print(&errs);
		cfg_errors_free(&errs);
		return CFG_EXIT_CONFIG;
	}
	/* Plugins are loaded in a child: one that crashes in its init is then
	 * reported, not fatal to the check (systemd runs this as ExecStartPre). */
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char err[1024];
		int rc = registry_load(c.plugins, err, sizeof err);
		if (rc < 0) {
			fprintf(stderr, "%s: [worker] plugins: %s\n", path, err);
		} else if (cfg_check_algorithm(&c, &errs) < 0) {
			cfg_errors_print(&errs);
			rc = -1;
		} else {
			printf("%s: OK (%zu queues, %zu kinds, %zu keys)\n", path, c.nqueues,
			       registry_kind_count(), c.keyring ? c.keyring->n : 0);
		}
		fflush(NULL);
		_exit(rc < 0 ? CFG_EXIT_CONFIG : 0);
	}
	int st = 0;
	int rc = pid < 0 || waitpid(pid, &st, 0) < 0 ? -1 : 0;
	if (rc == 0 && WIFSIGNALED(st)) {
		fprintf(stderr, "%s: [worker] plugins: a plugin crashed while loading (%s)\n", path,
		        strsignal(WTERMSIG(st)));
		rc = CFG_EXIT_CONFIG;
	} else if (rc == 0) {
		rc = WEXITSTATUS(st);
		if (rc != 0 && rc != CFG_EXIT_CONFIG) {
			/* A plugin's init called exit() (or a sanitizer did). */
			fprintf(stderr, "%s: [worker] plugins: a plugin exited while loading (status %d)\n",
			        path, rc);
			rc = CFG_EXIT_CONFIG;
		}
	} else {
		fprintf(stderr, "%s: cannot check plugins: %s\n", path, strerror(errno));
		rc = CFG_EXIT_CONFIG;
	}
	cfg_free(&c);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config = DEFAULT_CONFIG;
	bool check = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
			config = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			config = a + 9;
		} else if (strcmp(a, "--check-config") == 0) {
			check = true;
		} else if (strcmp(a, "--version") == 0) {
			printf("sluiced %s\n", SLUICE_VERSION);
			return 0;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "sluiced: unknown argument '%s'\n\n", a);
			usage(stderr);
			return 64; /* EX_USAGE */
		}
	}
	return check ? check_config(config) : daemon_run(config);
}
