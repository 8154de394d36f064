/* A plugin whose init crashes: --check-config must report it, not die. */
#include <signal.h>

#include <sluice/plugin.h>

SLUICE_PLUGIN("crash_init", "0")

int sluice_plugin_init(const sluice_host *host, sluice_plugin *plugin)
{
	(void)host;
	(void)plugin;
	raise(SIGSEGV);
	return 0;
}
