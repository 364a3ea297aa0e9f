/* dup_b - one of two runners named "dup" (dup_a.c, dup_b.c): loaded
 * together the loader must refuse them naming both files. */
#include <taskfleet/runner.h>

static void
dup_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = 1;
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "dup",
	.version = "b",
	.run = dup_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
