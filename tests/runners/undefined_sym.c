/* undefined_sym - needs a function nothing defines: RTLD_NOW must make the
 * load fail at once, and the loader must pass dlerror()'s text on. */
#include <taskfleet/runner.h>

int tf_test_nowhere_defined(void);

static void
undefined_sym_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = tf_test_nowhere_defined();
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "undefined_sym",
	.version = "1",
	.run = undefined_sym_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
