/* reencrypt.c -- `sluice reencrypt`: rewrites plaintext args of kinds the
 * filters encrypt, and args under an older key, algorithm or envelope format
 * (s1), to the current key, online. Each batch is one short transaction
 * over rows locked FOR UPDATE SKIP LOCKED, never running ones: a worker
 * fetching a row skips it while it is locked here, and a row a worker holds
 * is skipped here and taken on a later pass. Every new envelope is opened again and compared
 * with the plaintext before the batch commits, so an interruption (even
 * SIGKILL) leaves each row either as it was or rewritten, never broken;
 * running it again continues. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"
#include "encrypt.h"
#include "keys.h"
#include "migrate.h"
#include "registry.h"
#include "sql.h"
#include "table.h"
#include "util.h"

#define DEFAULT_BATCH 500
/* Passes over the table before giving up on rows that stay locked. */
#define MAX_PASSES 10
/* Exit code when rows remain that could not be rewritten. */
#define EXIT_INCOMPLETE 2
/* A batch stops at this many bytes of args (as text), so memory stays
 * bounded whatever the rows hold: up to [worker] max_args_size each, 16MB by
 * default, and a batch of 500 such rows would be 8 GB at once. It may go one
 * row past; the update's one jsonb parameter holds the batch sealed, about
 * 4/3 of it, and a jsonb array holds at most 256MB: 128MB plus a 16MB row,
 * sealed, is 192MB. */
#define DEFAULT_BATCH_BYTES (64LL << 20)
#define MAX_BATCH_BYTES (128LL << 20)
_Static_assert(ENCRYPTOR_NAME_MAX == 32 && KEY_ID_MAX == 32,
               "SQL_ENVELOPE_WELL_FORMED allows names of up to 32 characters");

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void help(void)
{
	printf("usage: sluice reencrypt [--dry-run] [--batch N] [--batch-bytes SIZE] [--kinds a,b]\n"
	       "                        [--include-finished]\n"
	       "\n"
	       "Rewrites, to the current (first) key and algorithm: plaintext args of kinds\n"
	       "[encryption] encrypts, and args under older keys, another algorithm or the\n"
	       "older unpadded envelope format (s1). Online:\n"
	       "running jobs are never touched, rows are locked with SKIP LOCKED in short\n"
	       "transactions of N rows (default %d), and each new envelope is verified by\n"
	       "decrypting it before commit. Interrupt it at any time (Ctrl-C finishes the\n"
	       "batch in hand); run it again to continue. Run it only once every daemon has\n"
	       "the current key.\n"
	       "\n"
	       "  --batch-bytes SIZE  a batch also stops at SIZE of args read (default 64MB,\n"
	       "                      at most 128MB); its memory is about three times that\n"
	       "  --dry-run           count what would be rewritten, by source and kind\n"
	       "  --kinds a,b         only these kinds\n"
	       "  --include-finished  also completed, cancelled and discarded jobs\n"
	       "\n"
	       "Exit codes: 0 nothing left to rewrite, 1 failed, %d rows left (under keys not\n"
	       "configured here, malformed, too large once encrypted, running, or locked\n"
	       "throughout), 130 interrupted.\n",
	       DEFAULT_BATCH, EXIT_INCOMPLETE);
}

typedef struct counts {
	long long rewritten, from_plain, from_key, from_s1, unreadable, too_large;
} counts;

/* The rows to rewrite, running ones included (they are counted, never
 * touched): $1 current algorithm, $2 current key id, $3 kinds (text[] or
 * NULL), $4 include finished, $5/$6 the kind filters. A malformed envelope
 * is selected whatever its fields say, to be counted as unreadable. */
#define TO_REWRITE                                                                          \
	"($4::bool OR state NOT IN ('completed', 'cancelled', 'discarded'))\n"                \
	"  AND ($3::text[] IS NULL OR kind = ANY($3::text[]))\n"                              \
	"  AND CASE WHEN " SQL_NOT_PLAINTEXT "\n"                                                \
	"    THEN NOT " SQL_ENVELOPE_WELL_FORMED "\n"                                         \
	"      OR split_part(args ->> 'river_encrypt', '.', 1) <> '" ENVELOPE_VERSION "'\n"   \
	"      OR split_part(args ->> 'river_encrypt', '.', 2) <> $1\n"                       \
	"      OR split_part(args ->> 'river_encrypt', '.', 3) <> $2\n"                       \
	"    ELSE CASE WHEN cardinality($5::text[]) > 0 THEN kind = ANY($5::text[])\n"        \
	"      ELSE NOT (kind = ANY($6::text[])) END END"
static const char where_clause[] = "state <> 'running' AND " TO_REWRITE;
/* Rows still to rewrite, and of them running: the run is not done while a
 * worker holds one (it may fail and be retried under the old key). */
static const char count_sql_tmpl[] =
    "SELECT count(*) FILTER (WHERE state <> 'running'), count(*) FILTER (WHERE state = 'running')\n"
    "FROM {S}river_job WHERE " TO_REWRITE;

static char *array_literal(char *const *v)
{
	sb b = {0};
	sb_putc(&b, '{');
	for (size_t i = 0; v && v[i]; i++) {
		if (i)
			sb_putc(&b, ',');
		sb_json_str(&b, v[i]); /* a quoted, escaped element */
	}
	sb_putc(&b, '}');
	return sb_take(&b);
}

/* Rewrites one row's args; NULL when it cannot be read here. */
static char *rewrite(const enc_policy *p, const char *kind, const char *args, size_t max_args,
                     counts *n, char *err, size_t errlen, int *fatal)
{
	const char *tok;
	size_t toklen, plen;
	char *hold = NULL, why[256], *pt = NULL;
	int e = args_envelope(args, strlen(args), &tok, &toklen, &hold, why, sizeof why);
	bool from_plain = e == 0, same_key = false;
	/* Args that are no object are no job a daemon will run (and not
	 * plaintext to seal): left as they are, counted. (From jsonb's text,
	 * the first character tells.) */
	if (e == 0 && args[0] == '{') {
		pt = xstrdup(args);
		plen = strlen(pt);
	} else if (e == 1) {
		envelope env;
		if (envelope_parse(tok, toklen, &env, why, sizeof why) == 0) {
			int ki = keyring_find(p->keys, env.kid);
			const sluice_encryptor *enc = crypto_find(env.alg);
			same_key = ki == 0 && enc == p->alg; /* so only its format was old */
			if (ki >= 0 && enc &&
			    envelope_open(&env, enc, keyring_key(p->keys, ki), kind, &pt, &plen, why,
			                  sizeof why) < 0)
				pt = NULL;
			envelope_free(&env);
		}
	}
	free(hold);
	if (!pt) {
		n->unreadable++;
		return NULL;
	}
	char *sealed = envelope_seal(p->alg, p->keys->ids[0], keyring_key(p->keys, 0), kind, pt,
	                             plen, NULL);
	/* Verify before it can be committed: the new envelope must open to the
	 * very same bytes. */
	char *back = NULL;
	size_t blen = 0;
	bool ok = false;
	if (sealed && args_envelope(sealed, strlen(sealed), &tok, &toklen, &hold, why, sizeof why) == 1) {
		envelope env;
		if (envelope_parse(tok, toklen, &env, why, sizeof why) == 0) {
			ok = envelope_open(&env, p->alg, keyring_key(p->keys, 0), kind, &back, &blen, why,
			                   sizeof why) == 0 &&
			     blen == plen && memcmp(back, pt, plen) == 0;
			envelope_free(&env);
		}
		free(hold);
	}
	crypto_free_plain(back, blen);
	crypto_free_plain(pt, plen);
	if (!ok) {
		snprintf(err, errlen, "verification of a rewritten envelope failed; nothing of this batch was written");
		*fatal = 1;
		free(sealed);
		return NULL;
	}
	/* Daemons refuse args over [worker] max_args_size as stored: a job
	 * that works now must not be made one that is discarded. */
	if (ENVELOPE_STORED_LEN(sealed) > max_args) {
		n->too_large++;
		free(sealed);
		return NULL;
	}
	if (from_plain)
		n->from_plain++;
	else if (same_key)
		n->from_s1++;
	else
		n->from_key++;
	return sealed;
}

static PGresult *exec_params(PGconn *conn, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		cli_fail(1, "%s", str_trim(PQresultErrorMessage(r)));
		PQclear(r);
		return NULL;
	}
	return r;
}

static void progress(long long done, long long total, int64_t t0)
{
	if (!isatty(STDERR_FILENO) || total <= 0)
		return;
	double f = done > total ? 1.0 : (double)done / (double)total;
	int w = 30, fill = (int)(f * w);
	double secs = (double)(now_us() - t0) / 1e6;
	fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %lld/%lld rows  %.0f/s ", fill,
	        "==============================", w - fill, "", f * 100, done, total,
	        secs > 0 ? (double)done / secs : 0.0);
}

static int usage(char **kinds, const char *msg)
{
	strv_free(kinds);
	return cli_fail(EXIT_USAGE, "reencrypt: %s", msg);
}

/* --dry-run: what a run would do, by source, format and kind. */
static int dry_run(cli *c, PGconn *conn, const enc_policy *p, const char *const *params)
{
	char *sql = sql_render(
	    "SELECT CASE WHEN NOT " SQL_NOT_PLAINTEXT " THEN '(plaintext)'\n"
	    "  WHEN e.ok THEN split_part(args ->> 'river_encrypt', '.', 3) ELSE '(malformed)' END,\n"
	    "  CASE WHEN e.ok THEN split_part(args ->> 'river_encrypt', '.', 1) ELSE '' END, kind,\n"
	    "  count(*) FILTER (WHERE state <> 'running'), count(*) FILTER (WHERE state = 'running')\n"
	    "FROM {S}river_job,\n"
	    "  LATERAL (SELECT " SQL_ENVELOPE_WELL_FORMED " AS ok) e\n"
	    "WHERE " TO_REWRITE "\n"
	    "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
	    c->cfg.db_schema);
	PGresult *r = exec_params(conn, sql, 6, params);
	free(sql);
	if (!r)
		return 1;
	long long readable_n = 0, unreadable_n = 0, running_n = 0;
	table t;
	static const char *const head[] = {"from", "format", "kind", "rows", "running", "readable here"};
	table_init(&t, ARRAY_LEN(head), head);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *from = PQgetvalue(r, i, 0);
		bool readable = strcmp(from, "(plaintext)") == 0 ||
		                (strcmp(from, "(malformed)") != 0 && keyring_find(p->keys, from) >= 0);
		long long rows = atoll(PQgetvalue(r, i, 3)), running = atoll(PQgetvalue(r, i, 4));
		*(readable ? &readable_n : &unreadable_n) += rows;
		running_n += running;
		const char *cells[] = {from,  PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
		                       PQgetvalue(r, i, 4), readable ? "yes" : "no"};
		table_row(&t, cells);
	}
	if (c->json) {
		printf("{\"dry_run\":true,\"rows\":%lld,\"unreadable\":%lld,\"running\":%lld,"
		       "\"to_key\":\"%s\",\"algorithm\":\"%s\"}\n",
		       readable_n, unreadable_n, running_n, p->keys->ids[0], p->alg->name);
	} else {
		if (PQntuples(r))
			table_print(&t, stdout);
		printf("%lld rows would be rewritten to key %s (%s)", readable_n, p->keys->ids[0],
		       p->alg->name);
		if (unreadable_n)
			printf("; %lld cannot be read here (malformed, or under keys not configured)",
			       unreadable_n);
		if (running_n)
			printf("; %lld more are running (taken once they finish)", running_n);
		printf("\n");
	}
	table_free(&t);
	PQclear(r);
	return 0;
}

/* Rows left to rewrite, and of them running; -1 on error. */
static int count_left(PGconn *conn, const char *sql, const char *const *params, long long *left,
                      long long *running)
{
	PGresult *r = exec_params(conn, sql, 6, params);
	if (!r)
		return -1;
	*left = atoll(PQgetvalue(r, 0, 0));
	*running = atoll(PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}

int cmd_reencrypt(cli *c)
{
	bool dry = false, finished = false;
	int batch = DEFAULT_BATCH;
	int64_t batch_bytes = DEFAULT_BATCH_BYTES;
	char **kinds = NULL;
	for (int i = 1; i < c->argc; i++) {
		const char *v;
		if (strcmp(c->argv[i], "--help") == 0 || strcmp(c->argv[i], "-h") == 0) {
			help();
			strv_free(kinds);
			return 0;
		} else if (cli_opt(c->argc, c->argv, &i, "--dry-run", NULL)) {
			dry = true;
		} else if (cli_opt(c->argc, c->argv, &i, "--include-finished", NULL)) {
			finished = true;
		} else if (cli_opt(c->argc, c->argv, &i, "--batch", &v)) {
			if (cli_int(v, 1, 10000, &batch) < 0)
				return usage(kinds, "--batch must be a number of rows, 1..10000");
		} else if (cli_opt(c->argc, c->argv, &i, "--batch-bytes", &v)) {
			const char *why;
			if (!v || parse_size(v, MAX_BATCH_BYTES, &batch_bytes, &why) < 0 || batch_bytes < 1)
				return usage(kinds, "--batch-bytes must be a size up to 128MB, e.g. 16MB");
		} else if (cli_opt(c->argc, c->argv, &i, "--kinds", &v)) {
			strv_free(kinds);
			kinds = NULL;
			if (!v || strv_split(v, ',', &kinds) == 0)
				return usage(kinds, "--kinds needs at least one kind (--kinds a,b)");
		} else {
			char m[256];
			snprintf(m, sizeof m, "unknown argument '%s'", c->argv[i]);
			return usage(kinds, m);
		}
	}
	int rc = cli_setup_hooks(c);
	if (rc) {
		strv_free(kinds);
		return rc;
	}
	enc_policy *p = enc_acquire();
	if (!p || p->mode != ENC_ENCRYPT || !p->keys || !p->keys->n) {
		enc_release(p);
		strv_free(kinds);
		return cli_fail(1, "nothing to do: [encryption] mode is not encrypt (or no keys)");
	}
	PGconn *conn = cli_connect(c);
	if (!conn) {
		enc_release(p);
		strv_free(kinds);
		return EXIT_DB;
	}
	char *kinds_lit = kinds ? array_literal(kinds) : NULL;
	char *inc = array_literal(p->include), *exc = array_literal(p->exclude);
	const char *params[9] = {p->alg->name, p->keys->ids[0], kinds_lit, finished ? "true" : "false",
	                         inc, exc};
	const char *schema = c->cfg.db_schema;
	size_t max_args = (size_t)c->cfg.max_args_size;
	sb q = {0};
	char *count_sql = NULL, *select_sql = NULL, *update_sql = NULL;

	if (dry) {
		rc = dry_run(c, conn, p, params);
		goto done;
	}

	count_sql = sql_render(count_sql_tmpl, schema);
	/* Locks up to $8 rows; returns them in order while the args before each
	 * add up to less than $9 bytes (so at least one), and how many it
	 * locked: the rest are unlocked at commit and taken next batch. */
	sb_printf(&q,
	          "SELECT id, kind, args, locked FROM (\n"
	          "  SELECT id, kind, args, count(*) OVER () AS locked,\n"
	          "    sum(n) OVER (ORDER BY id) - n AS before\n"
	          "  FROM (SELECT id, kind, args, octet_length(args::text) AS n\n"
	          "    FROM {S}river_job WHERE id > $7::bigint AND %s\n"
	          "    ORDER BY id LIMIT $8::int FOR UPDATE SKIP LOCKED) l) s\n"
	          "WHERE before < $9::bigint ORDER BY id",
	          where_clause);
	select_sql = sql_render(sb_str(&q), schema);
	update_sql = sql_render(
	    "UPDATE {S}river_job SET args = u.args\n"
	    "FROM jsonb_to_recordset($1::jsonb) AS u(id bigint, args jsonb)\n"
	    "WHERE river_job.id = u.id AND river_job.state <> 'running'\n"
	    "RETURNING river_job.id",
	    schema);
	long long left = 0, running = 0;
	if (count_left(conn, count_sql, params, &left, &running) < 0) {
		rc = 1;
		goto done;
	}
	long long total = left + running;
	struct sigaction sa = {.sa_handler = on_sigint}, old;
	sigaction(SIGINT, &sa, &old);
	counts n = {0};
	int64_t t0 = now_us();
	char err[300], after[24], lim[16], bytes[24];
	snprintf(bytes, sizeof bytes, "%lld", (long long)batch_bytes);
	params[7] = lim;
	params[8] = bytes;
	/* Rows to lock per batch: batch, fewer while rows are big, so a batch
	 * does not lock (and measure) many more rows than it can take. */
	int limit = batch;
	for (int pass = 0; pass < MAX_PASSES && rc == 0 && !interrupted && left + running > 0; pass++) {
		counts pc = {0};
		int64_t after_id = INT64_MIN; /* ids are River's bigserial, but anyone may insert 0 or less */
		while (rc == 0 && !interrupted) {
			snprintf(after, sizeof after, "%lld", (long long)after_id);
			int asked = limit;
			snprintf(lim, sizeof lim, "%d", asked);
			params[6] = after;
			PGresult *b = exec_params(conn, "BEGIN", 0, NULL);
			PQclear(b);
			PGresult *rows = b ? exec_params(conn, select_sql, 9, params) : NULL;
			if (!rows) {
				rc = 1;
				break;
			}
			int m = PQntuples(rows), fatal = 0, added = 0;
			int locked = m ? (int)pg_int(PQgetvalue(rows, 0, 3)) : 0;
			sb json = {0};
			sb_putc(&json, '[');
			for (int taken = 0; taken < m && !fatal; taken++) {
				after_id = pg_int(PQgetvalue(rows, taken, 0));
				char *sealed = rewrite(p, PQgetvalue(rows, taken, 1), PQgetvalue(rows, taken, 2),
				                       max_args, &pc, err, sizeof err, &fatal);
				if (!sealed)
					continue;
				sb_printf(&json, "%s{\"id\":%lld,\"args\":%s}", added++ ? "," : "",
				          (long long)after_id, sealed);
				free(sealed);
			}
			sb_putc(&json, ']');
			PQclear(rows);
			PGresult *u = NULL;
			if (fatal)
				rc = cli_fail(1, "%s", err);
			else
				u = added ? exec_params(conn, update_sql, 1, (const char *const[]){sb_str(&json)})
				          : exec_params(conn, "SELECT", 0, NULL);
			sb_free(&json);
			if (!u) {
				PQclear(PQexec(conn, "ROLLBACK"));
				rc = 1;
				break;
			}
			pc.rewritten += added ? PQntuples(u) : 0;
			PQclear(u);
			PGresult *cm = exec_params(conn, "COMMIT", 0, NULL);
			if (!cm) {
				rc = 1;
				break;
			}
			PQclear(cm);
			progress(n.rewritten + pc.rewritten + pc.unreadable + pc.too_large, total, t0);
			if (m < locked) { /* cut at batch_bytes: the rest comes next */
				limit = m;
				continue;
			}
			if (limit < batch)
				limit = limit * 2 < batch ? limit * 2 : batch;
			if (locked < asked)
				break;
		}
		n.rewritten += pc.rewritten;
		n.from_plain += pc.from_plain;
		n.from_key += pc.from_key;
		n.from_s1 += pc.from_s1;
		/* A whole pass saw every row left, so its counts replace the last
		 * pass's; one cut short by ^C saw only some. */
		if (!interrupted || pc.unreadable > n.unreadable)
			n.unreadable = pc.unreadable;
		if (!interrupted || pc.too_large > n.too_large)
			n.too_large = pc.too_large;
		if (rc)
			break;
		/* Counted again even when interrupted: what is left is reported. */
		if (count_left(conn, count_sql, params, &left, &running) < 0) {
			rc = 1;
			break;
		}
		/* What remains is unreadable or too large here, or held by a
		 * worker (locked for a fetch, or running). */
		if (interrupted || left + running <= n.unreadable + n.too_large)
			break;
		if (pc.rewritten == 0)
			sleep(1); /* only locked or running rows left: let their holders finish */
	}
	sigaction(SIGINT, &old, NULL);
	if (isatty(STDERR_FILENO) && total > 0)
		fputc('\n', stderr);
	double secs = (double)(now_us() - t0) / 1e6;
	if (rc == 0) {
		long long remaining = left + running;
		if (c->json) {
			printf("{\"rewritten\":%lld,\"from_plaintext\":%lld,\"from_other_keys\":%lld,"
			       "\"from_s1_format\":%lld,\"left\":%lld,\"unreadable\":%lld,\"too_large\":%lld,"
			       "\"running\":%lld,\"key_id\":\"%s\",\"seconds\":%.3f,\"interrupted\":%s}\n",
			       n.rewritten, n.from_plain, n.from_key, n.from_s1, remaining, n.unreadable,
			       n.too_large, running, p->keys->ids[0], secs, interrupted ? "true" : "false");
		} else {
			printf("rewrote %lld rows to key %s (%lld from plaintext, %lld from other keys, %lld "
			       "from the s1 format) in %.1fs; %lld left",
			       n.rewritten, p->keys->ids[0], n.from_plain, n.from_key, n.from_s1, secs,
			       remaining);
			if (n.unreadable)
				printf("; %lld under keys not configured here, or malformed", n.unreadable);
			if (n.too_large)
				printf("; %lld over [worker] max_args_size once encrypted (left as they are)",
				       n.too_large);
			if (running)
				printf("; %lld running (run it again once they finish)", running);
			printf("\n");
		}
		if (interrupted) {
			fprintf(stderr, "sluice: interrupted; every row is either as it was or rewritten: "
			                "run it again to continue\n");
			rc = 130;
		} else if (remaining) {
			rc = EXIT_INCOMPLETE;
		}
	}
done:
	free(count_sql);
	free(select_sql);
	free(update_sql);
	sb_free(&q);
	free(kinds_lit);
	free(inc);
	free(exc);
	strv_free(kinds);
	PQfinish(conn);
	enc_release(p);
	enc_shutdown();
	registry_unload();
	return rc;
}
