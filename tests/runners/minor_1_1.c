/*
 * minor_1_1 - a runner built against runner ABI 1.1: its descriptor's size
 * stops before start() (ABI 1.2). The host must run it with run() and never
 * read past its size: so that reading past it cannot go unnoticed, the
 * memory where 1.2 has start() holds the address 1, and a host that called
 * it would crash.
 */
#include <stddef.h>
#include <stdint.h>

#include <taskfleet/runner.h>

typedef enum tf_start_status start_fn(void *, const struct tf_task_view *,
    struct tf_run_result *);

static void
minor_1_1_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = 1;
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = 1,
	.size = offsetof(struct tf_runner, start),
	.name = "minor_1_1",
	.version = "1.1",
	.run = minor_1_1_run,
	.start = (start_fn *)(uintptr_t)1,   /* past size: the trap */
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
