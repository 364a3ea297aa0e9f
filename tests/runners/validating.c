/*
 * validating - a runner with a validate() entry (runner ABI 1.1), for the
 * loader's tests and the producer's. validate() refuses params that hold
 * the key "bad", with a message that names it and ends with a newline (the
 * host must keep messages to one line); "silent" is refused without a
 * message; anything else is accepted. run() completes the task and
 * records how many times validate() was called in this process as
 * {"validated": N}.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <taskfleet/runner.h>

static atomic_int calls;

static int
validating_validate(const char *params_json, size_t params_len, char *error,
    size_t error_size)
{
	atomic_fetch_add(&calls, 1);
	if (strstr(params_json, "\"silent\"") != NULL)
		return 1;
	if (strstr(params_json, "\"bad\"") != NULL) {
		snprintf(error, error_size, "params.bad: not allowed (%zu bytes "
		    "checked)\n", params_len);
		return 1;
	}
	return 0;
}

static void
validating_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	char doc[64];
	int n;

	n = snprintf(doc, sizeof(doc), "{\"validated\": %d}", atomic_load(&calls));
	if (n > 0 && (size_t)n < sizeof(doc))
		task->host->set_result(task->ctx, doc, (size_t)n);
	result->completed = 1;
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "validating",
	.version = "1",
	.run = validating_run,
	.validate = validating_validate,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
