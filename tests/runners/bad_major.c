/*
 * bad_major - a runner built for ABI 2.3. Its size is also far too small:
 * the loader must report the major on its own, never the size, since the
 * rest of a block from another major may be laid out differently.
 */
#include <taskfleet/runner.h>

static void
bad_major_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = 1;
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = 2,
	.abi_minor = 3,
	.size = 8,
	.name = "bad_major",
	.version = "1",
	.run = bad_major_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
