/*
 * noop - the runner that does nothing: every run succeeds and completes the
 * task. Params are ignored. Useful to measure the fleet's own overhead and to
 * check a deployment end to end.
 */
#include <taskfleet/runner.h>

static void
noop_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->outcome = TF_RUN_SUCCESS;
	result->completed = 1;
}

static const struct tf_runner noop_runner = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.flags = TF_RUNNER_RETURNS_AT_ONCE,
	.name = "noop",
	.version = "1.0.0",
	.init = NULL,
	.run = noop_run,
	.fini = NULL,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &noop_runner;
}
