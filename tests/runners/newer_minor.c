/*
 * newer_minor - a runner built against a later minor of the same major: its
 * descriptor is larger, with a field this host does not know. The loader
 * must accept it and read only the fields it knows.
 */
#include <stdint.h>

#include <taskfleet/runner.h>

/* What ABI 1.(minor+1) might look like: one field appended. */
struct newer_runner {
	struct tf_runner base;
	uint64_t added_later;
};

static void
newer_minor_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = 1;
}

static const struct newer_runner desc = {
	.base = {
		.magic = TF_RUNNER_MAGIC,
		.abi_major = TF_RUNNER_ABI_MAJOR,
		.abi_minor = TF_RUNNER_ABI_MINOR + 1,
		.size = sizeof(struct newer_runner),
		.name = "newer_minor",
		.version = "9.9",
		.run = newer_minor_run,
	},
	.added_later = 0x1234,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc.base;
}
