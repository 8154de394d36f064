/* main.c -- `sluice`, the admin tool: global options, then one command.
 * Reads the daemon's INI (-c) for the database and schema; --database-url
 * or DATABASE_URL work without one. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "conninfo.h"
#include "crypto.h"
#include "log.h"
#include "util.h"

#define DEFAULT_CONFIG "/etc/sluice/sluice.ini"

typedef struct command {
	const char *name;
	int (*run)(cli *c);
	const char *summary;
	bool needs_keys; /* reads the key ring (and loads plugins for hooks) */
	bool no_config;  /* runs without any configuration or database */
} command;

static const command commands[] = {
    {"migrate", cmd_migrate, "create, upgrade or remove River's schema (up, down, status)", false,
     false},
    {"enqueue", cmd_enqueue, "insert jobs (one, or JSON lines from stdin), encrypted by the rules",
     true, false},
    {"keygen", cmd_keygen, "make a new 32-byte key (base64) and show its key id", false, true},
    {"keys", cmd_keys, "status: jobs per key id and state; which keys may be removed", true,
     false},
    {"reencrypt", cmd_reencrypt, "rewrite plaintext and old-key args to the current key, online",
     true, false},
    {"jobs", cmd_jobs, "list, get, retry, cancel or delete jobs", true, false},
    {"queues", cmd_queues, "list, pause or resume queues", false, false},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sluice [-c FILE] [--database-url URL] [--json] COMMAND [ARGS]\n\n"
	           "Commands:\n");
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-10s %s\n", "help", "this help, or `sluice help COMMAND`");
	fprintf(f, "  %-10s %s\n", "version", "print the version");
	fprintf(f, "\nOptions:\n"
	           "  -c, --config FILE    the daemon's INI file (default " DEFAULT_CONFIG
	           " if present)\n"
	           "  --database-url URL   overrides [database] url and DATABASE_URL\n"
	           "  --json               machine-readable output where supported\n"
	           "\nExit codes: 0 ok, 1 failed, 64 bad usage, 69 database unreachable, "
	           "78 configuration error.\n");
}

int cli_fail(int code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* One line, as promised. Of PostgreSQL's further lines only DETAIL
	 * and HINT say something to a user; LINE, its caret and CONTEXT quote
	 * the statement. A DETAIL quoting the row ("Failing row contains")
	 * is left out too: a job's row holds handler texts (errors[], output)
	 * that may quote decrypted args. */
	sb line = {0};
	for (char *l = msg, *next; l; l = next) {
		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		bool detail = strncmp(l, "DETAIL:", 7) == 0 && !strstr(l, "Failing row contains");
		if (l == msg || detail || strncmp(l, "HINT:", 5) == 0) {
			if (line.len)
				sb_putc(&line, ' ');
			sb_puts(&line, str_trim(l));
		}
	}
	fprintf(stderr, "sluice: %s\n", sb_str(&line));
	sb_free(&line);
	return code;
}

int cli_help_first(const cli *c, void (*help)(void))
{
	if (c->argc >= 2 && strcmp(c->argv[1], "--help") != 0 && strcmp(c->argv[1], "-h") != 0)
		return -1;
	help();
	return c->argc < 2 ? EXIT_USAGE : 0;
}

int cli_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	long n = v && *v ? strtol(v, &end, 10) : 0;
	if (!v || !*v || *end || n < lo || n > hi)
		return -1;
	*out = (int)n;
	return 0;
}

bool cli_opt(int argc, char **argv, int *i, const char *opt, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(opt);
	if (strncmp(a, opt, n) != 0)
		return false;
	if (!val)
		return a[n] == '\0';
	if (a[n] == '=') {
		*val = a + n + 1;
		return true;
	}
	if (a[n] != '\0')
		return false;
	if (*i + 1 >= argc) {
		*val = NULL;
		return true;
	}
	*val = argv[++*i];
	return true;
}

PGconn *cli_connect(cli *c)
{
	static const char *const keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {c->cfg.db_url, "sluice", NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		char *msg = conninfo_redact(c->cfg.db_url, PQerrorMessage(conn));
		for (char *p = msg; *p; p++)
			if (*p == '\n')
				*p = ' ';
		cli_fail(EXIT_DB, "cannot connect to the database: %s", str_trim(msg));
		free(msg);
		PQfinish(conn);
		return NULL;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	return conn;
}

static const command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	cli c = {0};
	const char *url = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *v = NULL;
		if (cli_opt(argc, argv, &i, "-c", &v) || cli_opt(argc, argv, &i, "--config", &v)) {
			if (!v)
				return cli_fail(EXIT_USAGE, "-c needs a file");
			c.config_path = v;
		} else if (cli_opt(argc, argv, &i, "--database-url", &v)) {
			if (!v)
				return cli_fail(EXIT_USAGE, "--database-url needs a value");
			url = v;
		} else if (cli_opt(argc, argv, &i, "--json", NULL)) {
			c.json = true;
		} else if (cli_opt(argc, argv, &i, "-h", NULL) || cli_opt(argc, argv, &i, "--help", NULL)) {
			usage(stdout);
			return 0;
		} else if (cli_opt(argc, argv, &i, "--version", NULL)) {
			printf("sluice %s\n", SLUICE_VERSION);
			return 0;
		} else {
			fprintf(stderr, "sluice: unknown option '%s'\n\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[i++];
	if (strcmp(name, "version") == 0) {
		printf("sluice %s\n", SLUICE_VERSION);
		return 0;
	}
	if (strcmp(name, "help") == 0) {
		if (i < argc && find_command(argv[i])) {
			char *args[] = {argv[i], "--help", NULL};
			c.argc = 2;
			c.argv = args;
			return find_command(argv[i])->run(&c);
		}
		usage(stdout);
		return 0;
	}
	const command *cmd = find_command(name);
	if (!cmd) {
		fprintf(stderr, "sluice: unknown command '%s'\n\n", name);
		usage(stderr);
		return EXIT_USAGE;
	}
	c.argc = argc - i + 1;
	c.argv = argv + i - 1;
	for (int k = 1; k < c.argc; k++)
		if (strcmp(c.argv[k], "--help") == 0 || strcmp(c.argv[k], "-h") == 0) {
			/* Help needs no configuration; asked for as the command's
			 * first argument, where every command looks for it (the rest
			 * would run unconfigured: `jobs list -h` crashed). */
			char *args[] = {argv[i], "--help", NULL};
			c.argc = 2;
			c.argv = args;
			return cmd->run(&c);
		}
	log_set_level(LOG_WARN); /* the tool reports results itself */
	if (sodium_init() < 0)
		return cli_fail(1, "libsodium failed to initialise");
	crypto_init();
	if (cmd->no_config)
		return cmd->run(&c);

	if (!url)
		url = getenv("DATABASE_URL");
	if (!c.config_path && access(DEFAULT_CONFIG, R_OK) == 0)
		c.config_path = DEFAULT_CONFIG;
	if (c.config_path) {
		cfg_errors errs = {0};
		if (cfg_load(c.config_path, url, cmd->needs_keys ? 0 : CFG_NO_KEYS, &c.cfg, &errs) < 0) {
			cfg_errors_print(&errs);
			cfg_errors_free(&errs);
			return CFG_EXIT_CONFIG;
		}
	} else {
		cfg_defaults(&c.cfg);
		if (!url || !*url)
			return cli_fail(EXIT_USAGE, "no database: pass -c FILE, --database-url URL or set "
			                            "DATABASE_URL");
		free(c.cfg.db_url);
		c.cfg.db_url = xstrdup(url);
	}
	int rc = cmd->run(&c);
	cfg_free(&c.cfg);
	return rc;
}
