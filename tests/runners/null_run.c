/* null_run - a descriptor without run(): the loader must refuse it. */
#include <taskfleet/runner.h>

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "null_run",
	.version = "1",
	.run = NULL,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
