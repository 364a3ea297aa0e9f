/*
 * conf - named "conf-echo" (so its configuration variable is
 * TASKFLEET_RUNNER_CONFIG_CONF_ECHO): init() keeps a copy of its
 * configuration, every run hands it back through host->set_result() and
 * completes, and fini() logs "conf-echo fini" through the host table kept
 * from init(), so a test can see that fini() ran.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskfleet/runner.h>

struct conf_state {
	const struct tf_host_api *host;  /* the host's; valid until fini */
	char *config;                    /* ours: malloc'd */
};

static int
conf_init(const struct tf_host_api *host, const char *config_json,
    void **state)
{
	struct conf_state *st = malloc(sizeof(*st));

	if (st == NULL)
		return -1;
	st->host = host;
	st->config = strdup(config_json);
	if (st->config == NULL) {
		free(st);
		return -1;
	}
	host->log(NULL, TF_RUNNER_LOG_INFO, "conf-echo init");
	*state = st;
	return 0;
}

static void
conf_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	const struct conf_state *st = state;

	if (task->host->set_result(task->ctx, st->config,
	    strlen(st->config)) != 0) {
		result->outcome = TF_RUN_FAILED;
		snprintf(result->error, result->error_size, "set_result refused");
		return;
	}
	result->outcome = TF_RUN_SUCCESS;
	result->completed = 1;
}

static void
conf_fini(void *state)
{
	struct conf_state *st = state;

	st->host->log(NULL, TF_RUNNER_LOG_INFO, "conf-echo fini");
	free(st->config);
	free(st);
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "conf-echo",
	.version = "1",
	.init = conf_init,
	.run = conf_run,
	.fini = conf_fini,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
