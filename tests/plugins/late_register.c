/* A plugin that registers from a thread of its own, after its init
 * returned: refused (registration is for init only, on the loading thread;
 * the tables take no locks). Loaded before slow_init.so, whose init is
 * still running when this thread registers. It also logs with a NULL
 * format, which must not crash the daemon. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sluice/plugin.h>
#include <time.h>

SLUICE_PLUGIN("late_register", "0")

static const sluice_host *host;
static sluice_plugin *self;

static int work(const sluice_job *job, void *ud)
{
	(void)job;
	(void)ud;
	return SLUICE_OK;
}

static void *late(void *arg)
{
	(void)arg;
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
	nanosleep(&ts, NULL);
	sluice_kind k = {.size = sizeof k, .kind = "test.late", .work = work};
	int rc = host->register_kind(self, &k);
	host->log(NULL, SLUICE_LOG_INFO, "late_register: register_kind from another thread %s",
	          rc == 0 ? "accepted" : "refused");
	return NULL;
}

int sluice_plugin_init(const sluice_host *h, sluice_plugin *plugin)
{
	host = h;
	self = plugin;
	host->log(NULL, SLUICE_LOG_INFO, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, late, NULL) != 0)
		return -1;
	pthread_detach(t);
	return 0;
}
