/* sql-text fetch|complete -- prints the daemon's fetch or completion
 * statement (src/sql.h, no schema prefix), so a test can ask PostgreSQL how
 * it plans exactly what the daemon sends. */
#include <stdio.h>
#include <string.h>

#include "../../src/sql.h"

int main(int argc, char **argv)
{
	const char *t = argc == 2 && strcmp(argv[1], "fetch") == 0      ? SQL_FETCH
	                : argc == 2 && strcmp(argv[1], "complete") == 0 ? SQL_COMPLETE
	                                                                : NULL;
	if (!t) {
		fprintf(stderr, "usage: sql-text fetch|complete\n");
		return 64;
	}
	for (; *t; t++) /* {S}, the schema prefix, is empty here */
		if (strncmp(t, "{S}", 3) == 0)
			t += 2;
		else
			putchar(*t);
	putchar('\n');
	return 0;
}
