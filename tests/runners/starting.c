/*
 * starting - a runner in the asynchronous style (runner ABI 1.2, start()),
 * for the host's side of start() without a loop (test_runners):
 *   params {"done": 1}  start() ends the run at once: TF_RUN_RETRY, with
 *                       error pointed at the runner's own text (the host
 *                       copies it in);
 *   anything else       start() leaves the run pending with an outcome no
 *                       enum tf_run_outcome has (the host settles it after
 *                       complete() into a failure naming the runner).
 * run() (isolated, or a host before 1.2) completes the task.
 */
#include <string.h>

#include <taskfleet/runner.h>

static void
starting_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	result->completed = 1;
}

static enum tf_start_status
starting_start(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	static const char later[] = "started and done: try later";

	if (task->params_len > 0 && strstr(task->params_json, "\"done\"") != NULL) {
		result->outcome = TF_RUN_RETRY;
		result->error = (char *)later;
		return TF_START_DONE;
	}
	result->outcome = (enum tf_run_outcome)42;
	return TF_START_PENDING;
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "starting",
	.version = "1.2",
	.run = starting_run,
	.start = starting_start,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
