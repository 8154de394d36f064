/* Fuzzes the JSON the daemon validates and takes apart itself: the jsonb
 * validator, value prefixes, River's unique-key string over args, the
 * insert path's option checks and cron schedules. */
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "insert.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	enum json_kind k = json_check(s, size);
	json_prefix_len(s, size);
	if (k == JK_OBJECT && strlen(s) == size) {
		char *u = unique_key_string("fuzz.kind", s, "default",
		                            SLUICE_UNIQUE_BY_ARGS | SLUICE_UNIQUE_BY_PERIOD |
		                                SLUICE_UNIQUE_BY_QUEUE,
		                            3600, 1795437296LL * 1000000);
		free(u);
	}
	cron c;
	const char *rest;
	char err[200];
	if (cron_parse(s, &c, &rest, err, sizeof err) == 0)
		cron_next(&c, 1795437296LL * 1000000);
	free(s);
	return 0;
}
