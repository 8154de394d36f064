/* A plugin whose init reports failure after registering a kind: the kind
 * must not stay registered. */
#include <sluice/plugin.h>

SLUICE_PLUGIN("init_fails", "0")

static int work(const sluice_job *job, void *ud)
{
	(void)job;
	(void)ud;
	return SLUICE_OK;
}

int sluice_plugin_init(const sluice_host *host, sluice_plugin *plugin)
{
	sluice_kind k = {.size = sizeof k, .kind = "test.never", .work = work};
	host->register_kind(plugin, &k);
	host->log(NULL, SLUICE_LOG_ERROR, "init_fails: missing API token (as a test)");
	return -5;
}
