/* Fuzzes INI parsing and every validation behind it (durations, queues,
 * key source syntax, periodic schedules, ...). Keys are not read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof path, "/tmp/sluice-fuzz-config.%d.ini", (int)getpid());
	FILE *f = fopen(path, "w");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	log_set_level(-1); /* quiet */
	cfg c;
	cfg_errors errs = {0};
	if (cfg_load(path, NULL, CFG_NO_KEYS, &c, &errs) == 0)
		cfg_free(&c);
	cfg_errors_free(&errs);
	return 0;
}
