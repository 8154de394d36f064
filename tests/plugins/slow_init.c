/* A plugin whose init takes a while (as one that opens connections or
 * reads models might): the window in which SIGHUP must not end sluiced,
 * whose own handler is installed only after the plugins are loaded. */
#define _POSIX_C_SOURCE 200809L
#include <sluice/plugin.h>
#include <time.h>

SLUICE_PLUGIN("slow_init", "0")

int sluice_plugin_init(const sluice_host *host, sluice_plugin *plugin)
{
	(void)plugin;
	host->log(NULL, SLUICE_LOG_INFO, "slow_init: initialising");
	struct timespec ts = {.tv_sec = 1, .tv_nsec = 500 * 1000 * 1000};
	while (nanosleep(&ts, &ts) != 0) /* a signal cuts it short: sleep the rest */
		;
	return 0;
}
