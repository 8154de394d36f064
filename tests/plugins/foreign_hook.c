/* Hooks a kind it does not own: must be refused. */
#include <sluice/plugin.h>

SLUICE_PLUGIN("foreign_hook", "0")

static int hook(sluice_hook_args *a, void *ud)
{
	(void)a;
	(void)ud;
	return 0;
}

int sluice_plugin_init(const sluice_host *h, sluice_plugin *plugin)
{
	sluice_hook x = {.size = sizeof x, .name = "steal", .kinds = "demo.noop", .work_begin = hook};
	return h->register_hook(plugin, &x);
}
