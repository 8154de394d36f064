/* table.c -- see table.h. Widths count bytes; cells longer than 60 are
 * shortened with an ellipsis so a wide value does not wreck the table. */
#include "table.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_CELL 60

void table_init(table *t, size_t ncols, const char *const *header)
{
	*t = (table){.ncols = ncols};
	table_row(t, header);
}

void table_row(table *t, const char *const *cells)
{
	t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *t->cells);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *c = cells[i] ? cells[i] : "";
		size_t n = strlen(c);
		char *v;
		if (n > MAX_CELL) {
			v = xmalloc(MAX_CELL + 4);
			memcpy(v, c, MAX_CELL - 3);
			strcpy(v + MAX_CELL - 3, "...");
		} else {
			v = xstrdup(c);
		}
		for (char *p = v; *p; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		t->cells[t->nrows * t->ncols + i] = v;
	}
	t->nrows++;
}

void table_print(const table *t, FILE *out)
{
	size_t *w = xcalloc(t->ncols, sizeof *w);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t n = strlen(t->cells[r * t->ncols + c]);
			if (n > w[c])
				w[c] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *v = t->cells[r * t->ncols + c];
			if (c + 1 < t->ncols)
				fprintf(out, "%-*s  ", (int)w[c], v);
			else
				fprintf(out, "%s", v);
		}
		fputc('\n', out);
	}
	free(w);
}

void table_free(table *t)
{
	/* Cells may hold decrypted args (sluice jobs list --decrypt). */
	for (size_t i = 0; i < t->nrows * t->ncols; i++) {
		sodium_memzero(t->cells[i], strlen(t->cells[i]));
		free(t->cells[i]);
	}
	free(t->cells);
	*t = (table){0};
}
