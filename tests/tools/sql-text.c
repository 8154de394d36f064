/* sql-text fetch|complete -- prints the daemon's fetch or completion
 * statement (src/sql.h, rendered without a schema prefix), so a test can
 * ask PostgreSQL how it plans exactly what the daemon sends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "sql.h"

int main(int argc, char **argv)
{
	const char *t = argc == 2 && strcmp(argv[1], "fetch") == 0      ? SQL_FETCH
	                : argc == 2 && strcmp(argv[1], "complete") == 0 ? SQL_COMPLETE
	                                                                : NULL;
	if (!t) {
		fprintf(stderr, "usage: sql-text fetch|complete\n");
		return 64;
	}
	char *sql = sql_render(t, "");
	puts(sql);
	free(sql);
	return 0;
}
