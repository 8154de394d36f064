/* Fuzzes decoding a fetched row into a job (the columns split at NUL bytes,
 * as libpq hands them over) and River's outcome rules for it. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "sql.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[FC_COUNT];
	memset(attrs, 0, sizeof attrs);
	static char names[FC_COUNT][4];
	for (int i = 0; i < FC_COUNT; i++) {
		names[i][0] = (char)('a' + i);
		attrs[i].name = names[i];
		attrs[i].format = 0;
	}
	PQsetResultAttrs(r, FC_COUNT, attrs);
	const char *p = (const char *)data, *end = p + size;
	for (int i = 0; i < FC_COUNT; i++) {
		const char *nul = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
		size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);
		PQsetvalue(r, 0, i, (char *)p, (int)n);
		p = nul ? nul + 1 : end;
	}
	job *j = job_from_row(r, 0);
	job_facts f = {.id = j->pub.id, .kind = j->pub.kind, .attempt = j->pub.attempt,
	               .max_attempts = j->pub.max_attempts, .errors_count = j->errors_count,
	               .snoozes = j->snoozes, .kind_known = true};
	job_result res = {.outcome = (int)(size % 7) - 1, .message = "m", .snooze_s = 1.5};
	completion *c = outcome_build(&f, &res, 1795437296LL * 1000000, 0.5);
	completion_free(c);
	job_free(j);
	PQclear(r);
	return 0;
}
