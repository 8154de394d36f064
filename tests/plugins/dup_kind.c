/* Registers a kind the demo plugin already handles and ignores the error:
 * the daemon must refuse the plugin anyway. */
#include <sluice/plugin.h>

SLUICE_PLUGIN("dup_kind", "0")

static int work(const sluice_job *job, void *ud)
{
	(void)job;
	(void)ud;
	return SLUICE_OK;
}

int sluice_plugin_init(const sluice_host *host, sluice_plugin *plugin)
{
	sluice_kind k = {.size = sizeof k, .kind = "demo.noop", .work = work};
	(void)host->register_kind(plugin, &k);
	return 0;
}
