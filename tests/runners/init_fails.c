/* init_fails - init() logs why and returns 7: the loader must refuse to
 * start naming the runner, and must never call its fini(). */
#include <stdlib.h>

#include <taskfleet/runner.h>

static int
init_fails_init(const struct tf_host_api *host, const char *config_json,
    void **state)
{
	host->log(NULL, TF_RUNNER_LOG_ERROR, "init_fails: init refuses (%s)",
	    config_json);
	return 7;
}

static void
init_fails_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = 1;
}

static void
init_fails_fini(void *state)
{
	/* Must never run: init() failed. */
	abort();
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "init_fails",
	.version = "1",
	.init = init_fails_init,
	.run = init_fails_run,
	.fini = init_fails_fini,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
