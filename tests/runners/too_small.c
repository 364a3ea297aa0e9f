/* too_small - the right magic and major but a size that stops before the
 * callbacks: the loader must refuse it with both sizes and both versions. */
#include <stddef.h>

#include <taskfleet/runner.h>

static void
too_small_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = 1;
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = offsetof(struct tf_runner, init),
	.name = "too_small",
	.version = "1",
	.run = too_small_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
