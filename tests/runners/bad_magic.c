/* bad_magic - a descriptor whose magic is wrong: the loader must refuse it
 * naming the file and both magics. */
#include <taskfleet/runner.h>

static void
bad_magic_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = 1;
}

static const struct tf_runner desc = {
	.magic = 0xdeadbeefu,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "bad_magic",
	.version = "1",
	.run = bad_magic_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
