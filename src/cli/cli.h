/* cli.h -- shared pieces of the `sluice` admin tool: global options, the
 * loaded configuration and a blocking database connection. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "config.h"

/* Exit codes: what a script can rely on. */
#define EXIT_USAGE 64 /* bad command line (EX_USAGE) */
#define EXIT_DB 69    /* database unreachable (EX_UNAVAILABLE) */

typedef struct cli {
	cfg cfg;
	const char *config_path; /* NULL: none */
	bool json;
	int argc; /* the command's own arguments */
	char **argv;
} cli;

/* Connects or prints why not; NULL on failure. */
PGconn *cli_connect(cli *c);
/* Prints "sluice: <msg>" to stderr; returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A whole number in lo..hi written as such (not empty, nothing after it)
 * into *out: 0, else -1. */
int cli_int(const char *v, int lo, int hi, int *out);
/* True when argv[i] is opt; with a value (--opt VALUE or --opt=VALUE) in *val. */
bool cli_opt(int argc, char **argv, int *i, const char *opt, const char **val);
/* For a command that takes a subcommand: with none, or -h/--help in its
 * place, prints help and returns the exit code (usage error when missing);
 * otherwise -1, and the command goes on. */
int cli_help_first(const cli *c, void (*help)(void));

int cmd_migrate(cli *c);
int cmd_enqueue(cli *c);
int cmd_keygen(cli *c);
int cmd_keys(cli *c);
int cmd_reencrypt(cli *c);
int cmd_jobs(cli *c);
int cmd_queues(cli *c);

/* "<schema>.<name>" as River names its channels (river_insert,
 * river_control; current_schema() if none is configured). */
char *cli_channel(cli *c, PGconn *conn, const char *name);
/* Loads plugins and installs the encryption policy; returns 0 or exits 78. */
int cli_setup_hooks(cli *c);

#endif
