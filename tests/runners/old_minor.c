/*
 * old_minor - a runner built against runner ABI 1.0 (runner_abi_1_0.h, the
 * header before validate() was added): its descriptor stops after fini.
 * The host must load and run it unchanged and never read past its size. So
 * that reading past it cannot go unnoticed, the descriptor is followed by
 * the address 1 where ABI 1.1 has validate(): a host that called it would
 * crash.
 */
#include <stdint.h>

#include "runner_abi_1_0.h"

static void
old_minor_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = 1;
}

/* The 1.0 descriptor and, past its size, the trap. */
static const struct {
	struct tf_runner base;
	uintptr_t trap;
} desc = {
	.base = {
		.magic = TF_RUNNER_MAGIC,
		.abi_major = TF_RUNNER_ABI_MAJOR,
		.abi_minor = TF_RUNNER_ABI_MINOR,
		.size = sizeof(struct tf_runner),
		.name = "old_minor",
		.version = "1.0",
		.run = old_minor_run,
	},
	.trap = 1,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc.base;
}
