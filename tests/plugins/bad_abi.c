/* A plugin built for another ABI: must be refused before init runs. */
#include <stdio.h>
#include <stdlib.h>

#include <sluice/plugin.h>

const sluice_plugin_magic *sluice_plugin_abi(void)
{
	static const sluice_plugin_magic m = {sizeof(sluice_plugin_magic), SLUICE_ABI_VERSION + 41,
	                                      sizeof(sluice_job), sizeof(sluice_host), "bad_abi",
	                                      "0"};
	return &m;
}

int sluice_plugin_init(const sluice_host *host, sluice_plugin *plugin)
{
	(void)host;
	(void)plugin;
	fprintf(stderr, "bad_abi: init ran, it must not\n");
	abort();
}
