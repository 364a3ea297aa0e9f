/*
 * hello.c - the smallest useful taskfleet runner: it greets the task in the
 * log, records a result document and completes the task.
 *
 * Build it against the installed header, outside the taskfleet tree:
 *     cc -shared -fPIC -fvisibility=hidden -I$PREFIX/include -o hello.so hello.c
 */
#include <stdio.h>

#include <taskfleet/runner.h>

static void
hello_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	const struct tf_host_api *host = task->host;
	char doc[128];
	int len;

	(void)state;
	host->log(task->ctx, TF_RUNNER_LOG_INFO, "hello, task %s (attempt %d)",
	    task->id, (int)task->attempt);

	/* The host copies the document; doc may go when we return. */
	len = snprintf(doc, sizeof(doc), "{\"greeting\": \"hello\", \"at\": %lld}",
	    (long long)host->now_ms());
	if (host->set_result(task->ctx, doc, (size_t)len) != 0) {
		/* Error text goes into the host's buffer, never a pointer of ours. */
		snprintf(result->error, result->error_size, "result refused");
		result->outcome = TF_RUN_RETRY;
		return;
	}
	result->outcome = TF_RUN_SUCCESS;
	result->completed = 1;
}

static const struct tf_runner hello_runner = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.flags = 0,
	.name = "hello",
	.version = "1.0",
	.init = NULL,
	.run = hello_run,
	.fini = NULL,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &hello_runner;
}
