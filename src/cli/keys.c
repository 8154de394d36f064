/* keys.c -- `sluice keys status`: which key ids the jobs in the table are
 * encrypted under, live and finished, by state; whether a key may be
 * removed yet; whether any job names a key id no configured key has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto.h"
#include "encrypt.h"
#include "keys.h"
#include "migrate.h"
#include "sql.h"
#include "table.h"
#include "util.h"

/* Exit code when live jobs reference key ids no configured key matches. */
#define EXIT_UNKNOWN_KEYS 3

static const char *const states[] = {"available", "running",   "retryable", "scheduled",
                                     "pending",   "completed", "cancelled", "discarded"};
enum { NSTATES = 8, NLIVE = 5 };

typedef struct row {
	char kid[40]; /* "" plaintext, "?" malformed */
	long long n[NSTATES];
	long long live, finished;
} row;

static int state_index(const char *s)
{
	for (int i = 0; i < NSTATES; i++)
		if (strcmp(s, states[i]) == 0)
			return i;
	return -1;
}

static void help(void)
{
	printf("usage: sluice keys status\n"
	       "\n"
	       "Counts jobs per key id (and plaintext) and state, live (available, running,\n"
	       "retryable, scheduled, pending) and finished (completed, cancelled,\n"
	       "discarded), says which configured keys may be removed, and warns about jobs\n"
	       "encrypted under key ids that no configured key matches.\n"
	       "\n"
	       "Exit codes: 0 ok, 1 failed, %d live jobs reference an unconfigured key id.\n",
	       EXIT_UNKNOWN_KEYS);
}

static row *find_row(row **rows, size_t *n, const char *kid)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*rows)[i].kid, kid) == 0)
			return &(*rows)[i];
	*rows = xrealloc(*rows, (*n + 1) * sizeof **rows);
	row *r = &(*rows)[(*n)++];
	memset(r, 0, sizeof *r);
	snprintf(r->kid, sizeof r->kid, "%s", kid);
	return r;
}

static void json_row(const row *r, const char *kind, bool configured, bool encrypting, bool first)
{
	sb b = {0};
	sb_json_str(&b, r->kid);
	printf("%s{\"key_id\":%s,\"kind\":\"%s\",\"configured\":%s,\"encrypting\":%s,\"live\":%lld,"
	       "\"finished\":%lld,\"states\":{",
	       first ? "" : ",", sb_str(&b), kind, configured ? "true" : "false",
	       encrypting ? "true" : "false", r->live, r->finished);
	for (int s = 0; s < NSTATES; s++)
		printf("%s\"%s\":%lld", s ? "," : "", states[s], r->n[s]);
	printf("}}");
	sb_free(&b);
}

int cmd_keys(cli *c)
{
	int shown = cli_help_first(c, help);
	if (shown >= 0)
		return shown;
	if (strcmp(c->argv[1], "status") != 0)
		return cli_fail(EXIT_USAGE, "keys: unknown subcommand '%s' (status)", c->argv[1]);
	for (int i = 2; i < c->argc; i++) {
		if (strcmp(c->argv[i], "--help") == 0) {
			help();
			return 0;
		}
		return cli_fail(EXIT_USAGE, "keys status: unknown argument '%s'", c->argv[i]);
	}
	PGconn *conn = cli_connect(c);
	if (!conn)
		return EXIT_DB;
	char *sql = sql_render(
	    /* Only a well-formed envelope's key id is shown: the text of
	     * anything else under river_encrypt may be a plaintext secret. */
	    "SELECT CASE WHEN NOT " SQL_NOT_PLAINTEXT " THEN ''\n"
	    "  WHEN " SQL_ENVELOPE_WELL_FORMED " THEN split_part(args ->> 'river_encrypt', '.', 3)\n"
	    "  ELSE '?' END,\n"
	    "  state::text, count(*)\n"
	    "FROM {S}river_job GROUP BY 1, 2 ORDER BY 1, 2",
	    c->cfg.db_schema);
	PGresult *r = PQexec(conn, sql);
	free(sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		int rc = cli_fail(1, "%s", str_trim(PQresultErrorMessage(r)));
		PQclear(r);
		PQfinish(conn);
		return rc;
	}
	const keyring *kr = c->cfg.keyring;
	row *rows = NULL;
	size_t nrows = 0;
	/* Configured keys first, in the INI's order, even with no jobs. */
	for (size_t i = 0; kr && i < kr->n; i++)
		find_row(&rows, &nrows, kr->ids[i]);
	for (int i = 0; i < PQntuples(r); i++) {
		row *x = find_row(&rows, &nrows, PQgetvalue(r, i, 0));
		int s = state_index(PQgetvalue(r, i, 1));
		long long n = atoll(PQgetvalue(r, i, 2));
		if (s < 0)
			continue;
		x->n[s] += n;
		if (s < NLIVE)
			x->live += n;
		else
			x->finished += n;
	}
	PQclear(r);
	PQfinish(conn);

	int rc = 0;
	if (c->json)
		printf("{\"keys\":[");
	table t;
	static const char *const head[] = {"key id",    "configured", "live",      "finished",
	                                   "available", "running",    "retryable", "scheduled",
	                                   "pending",   "completed",  "cancelled", "discarded"};
	table_init(&t, ARRAY_LEN(head), head);
	sb advice = {0};
	for (size_t i = 0; i < nrows; i++) {
		row *x = &rows[i];
		bool plain = !x->kid[0], malformed = strcmp(x->kid, "?") == 0;
		int ki = plain || malformed ? -1 : keyring_find(kr, x->kid);
		bool configured = ki >= 0, encrypting = ki == 0 && c->cfg.enc_mode == ENC_ENCRYPT;
		const char *what = plain ? "plaintext" : malformed ? "malformed" : "key";
		if (c->json)
			json_row(x, what, configured, encrypting, i == 0);
		char live[24], fin[24], cols[NSTATES][24];
		snprintf(live, sizeof live, "%lld", x->live);
		snprintf(fin, sizeof fin, "%lld", x->finished);
		for (int s = 0; s < NSTATES; s++)
			snprintf(cols[s], sizeof cols[s], "%lld", x->n[s]);
		const char *cells[] = {plain ? "(plaintext)" : malformed ? "(malformed envelope)" : x->kid,
		                       plain || malformed ? "-" : encrypting ? "yes, encrypts" : configured ? "yes" : "NO",
		                       live, fin, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5],
		                       cols[6], cols[7]};
		table_row(&t, cells);
		if (plain && x->live)
			sb_printf(&advice, "- %lld live job%s in plaintext; `sluice reencrypt` encrypts those of kinds the filters select.\n",
			          x->live, x->live == 1 ? " is" : "s are");
		else if (malformed && x->live + x->finished)
			sb_printf(&advice, "- %lld jobs carry river_encrypt but are not envelopes sluice can read: they fail when worked.\n", x->live + x->finished);
		else if (!plain && !malformed && !configured && x->live) {
			sb_printf(&advice, "- WARNING: %lld live jobs are encrypted under key id %s, which no configured key matches: they fail until the key is added back.\n", x->live, x->kid);
			rc = EXIT_UNKNOWN_KEYS;
		} else if (!plain && !malformed && !configured)
			sb_printf(&advice, "- %lld finished jobs are under key id %s, which no configured key matches (they can no longer be decrypted).\n", x->finished, x->kid);
		else if (encrypting)
			sb_printf(&advice, "- %s encrypts new jobs: keep it.\n", x->kid);
		else if (configured && x->live)
			sb_printf(&advice, "- %s still has %lld live jobs: keep it (or `sluice reencrypt` them to the current key first).\n", x->kid, x->live);
		else if (configured)
			sb_printf(&advice, "- %s has no live jobs: it may be removed%s.\n", x->kid,
			          x->finished ? " (its finished jobs then cannot be decrypted or retried)" : "");
	}
	if (c->json) {
		printf("]}\n");
	} else {
		table_print(&t, stdout);
		if (advice.len)
			printf("\n%s", sb_str(&advice));
		if (!kr || !kr->n)
			printf("\nNo keys are configured ([encryption] keys).\n");
	}
	table_free(&t);
	sb_free(&advice);
	free(rows);
	return rc;
}
