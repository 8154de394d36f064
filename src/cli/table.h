/* table.h -- aligned text tables for the admin tool's human output. */
#ifndef SLUICE_TABLE_H
#define SLUICE_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct table {
	size_t ncols, nrows;
	char **cells; /* nrows * ncols, row 0 is the header */
} table;

void table_init(table *t, size_t ncols, const char *const *header);
/* Adds a row of ncols strings (copied). */
void table_row(table *t, const char *const *cells);
void table_print(const table *t, FILE *out);
void table_free(table *t);

#endif
