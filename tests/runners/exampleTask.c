/*
 * exampleTask - the task type of the original serverless scheduler's own
 * example, with its upper-case letter: names are case-sensitive and may use
 * A-Z, so this file (exampleTask.so) serves type "exampleTask". Each run
 * completes the task and records {"type": "<the task's type>"} as its result,
 * so a test sees which name reached the runner.
 */
#include <stdio.h>
#include <string.h>

#include <taskfleet/runner.h>

static void
example_task_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	char doc[128];
	int n;

	n = snprintf(doc, sizeof(doc), "{\"type\": \"%s\"}", task->type);
	if (n > 0 && (size_t)n < sizeof(doc))
		task->host->set_result(task->ctx, doc, (size_t)n);
	result->completed = 1;
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "exampleTask",
	.version = "1",
	.run = example_task_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
