/* bad_name - a name with a space and a '?' (and a newline, which must
 * not reach the one-line message): the loader must refuse it. */
#include <taskfleet/runner.h>

static void
bad_name_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = 1;
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "Bad Name\n",
	.version = "1",
	.run = bad_name_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
