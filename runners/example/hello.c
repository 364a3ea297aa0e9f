/*
 * hello.c - the smallest useful taskfleet runner: it greets the task in the
 * log, records a result document and completes the task. It takes no
 * params, and says so before a task is written (validate(), runner ABI 1.1)
 * with the same check run() makes first.
 *
 * Build it against the installed header, outside the taskfleet tree:
 *     cc -shared -fPIC -fvisibility=hidden -I$PREFIX/include -o hello.so hello.c
 */
#include <stdio.h>

#include <taskfleet/runner.h>

/*
 * The one check of params, used by validate() (before the task is written)
 * and by run() (before doing anything): hello takes none, so only an empty
 * object passes. Returns 0, or -1 with the reason in error.
 */
static int
check_params(const char *params, size_t len, char *error, size_t error_size)
{
	size_t i, braces = 0;

	for (i = 0; i < len; i++) {
		if (params[i] == '{' || params[i] == '}')
			braces++;
		else if (params[i] != ' ' && params[i] != '\t' &&
		    params[i] != '\n' && params[i] != '\r')
			break;
	}
	if (i == len && braces == 2)
		return 0;
	snprintf(error, error_size, "hello takes no params: give {}");
	return -1;
}

/* Asked by `taskfleet submit` and the API before the task is written; no
 * init(), no state: only the params. */
static int
hello_validate(const char *params_json, size_t params_len, char *error,
    size_t error_size)
{
	return check_params(params_json, params_len, error, error_size);
}

static void
hello_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	const struct tf_host_api *host = task->host;
	char doc[128];
	int len;

	(void)state;
	/* Tasks written before validate() existed, or by a producer without
	 * this runner, still reach us: check first, fail for good. */
	if (check_params(task->params_json, task->params_len, result->error,
	    result->error_size) != 0) {
		result->outcome = TF_RUN_FAILED;
		return;
	}
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
	.validate = hello_validate,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &hello_runner;
}
