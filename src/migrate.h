/* migrate.h -- applying River's schema migrations (line "main") with plain
 * blocking libpq: used by `sluice migrate` and by tests, never by the loop. */
#ifndef SLUICE_MIGRATE_H
#define SLUICE_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* sluiced works on databases at these River versions. */
#define MIGRATE_MIN_VERSION 6
#define MIGRATE_LATEST_VERSION 7

typedef struct migration {
	int version;
	const char *name;
	const char *up;
	const char *down;
} migration;

extern const migration migrations[];
extern const size_t migrations_count;

typedef struct migrate_applied {
	int version;
	char created_at[40];
} migrate_applied;

/* Replaces each `{S}` in tmpl with the quoted schema prefix ("" for none). */
char *sql_render(const char *tmpl, const char *schema);

/* Current version of line main (0 when river_migration does not exist) and,
 * if applied != NULL, the applied rows (caller frees). Returns 0 or -1 with a
 * message in err. */
int migrate_version(PGconn *conn, const char *schema, int *version,
                    migrate_applied **applied, size_t *napplied, char *err, size_t errlen);

/* Applies versions up to target (each in its own transaction, under an
 * advisory lock). Progress lines go to out. Returns 0 or -1 with err. */
int migrate_up(PGconn *conn, const char *schema, int target, FILE *out, char *err,
               size_t errlen);
/* Reverts versions above target, newest first. */
int migrate_down(PGconn *conn, const char *schema, int target, FILE *out, char *err,
                 size_t errlen);

#endif
