/*
 * fail - fails on demand, to exercise retries, backoff and failure handling.
 *
 * Params (all optional):
 *   "mode": "retry" (default) or "permanent": a retryable error (TF_RUN_RETRY)
 *           or a permanent failure (TF_RUN_FAILED);
 *   "message": the error text (default "requested failure");
 *   "succeed_after": K: when this is attempt K+1 or later of the iteration
 *           (task->attempt > K), succeed and complete the task instead, so
 *           "retry twice, then succeed" is {"succeed_after": 2};
 *   "retry_after_ms": X: with mode retry, ask for the next attempt no
 *           earlier than X milliseconds from now (result.retry_after_ms).
 * K and X are integers from 0 to 2^53. Params that are not a JSON object, an
 * unknown mode or a value of the wrong type fail the task permanently with a
 * message naming the field: every value comes from users and is checked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <taskfleet/runner.h>

#include "../common/params.h"

#define DEFAULT_MESSAGE "requested failure"

static void
fail_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	const char *text = task->params_json != NULL ? task->params_json : "{}";
	const char *mode = "retry", *message = DEFAULT_MESSAGE;
	cJSON *params = NULL;
	int64_t succeed_after = 0, retry_after = 0;
	int has_succeed_after, has_retry_after;
	int permanent;

	params = cJSON_ParseWithOpts(text, NULL, 1);
	if (params == NULL) {
		runner_set_error(result, TF_RUN_FAILED, "params are not valid JSON");
		goto out;
	}
	if (!cJSON_IsObject(params)) {
		runner_set_error(result, TF_RUN_FAILED, "params must be a JSON object");
		goto out;
	}
	if (runner_get_string(params, "mode", &mode, result) != 0 ||
	    runner_get_string(params, "message", &message, result) != 0)
		goto out;
	if (strcmp(mode, "retry") == 0) {
		permanent = 0;
	} else if (strcmp(mode, "permanent") == 0) {
		permanent = 1;
	} else {
		runner_set_error(result, TF_RUN_FAILED, "params.mode must be \"retry\" or "
		    "\"permanent\"");
		goto out;
	}
	has_succeed_after = runner_get_count(params, "succeed_after", &succeed_after,
	    result);
	if (has_succeed_after < 0)
		goto out;
	has_retry_after = runner_get_count(params, "retry_after_ms", &retry_after, result);
	if (has_retry_after < 0)
		goto out;

	if (has_succeed_after && (int64_t)task->attempt > succeed_after) {
		result->outcome = TF_RUN_SUCCESS;
		result->completed = 1;
		goto out;
	}
	if (permanent) {
		runner_set_error(result, TF_RUN_FAILED, "%s", message);
		goto out;
	}
	runner_set_error(result, TF_RUN_RETRY, "%s", message);
	if (has_retry_after)
		result->retry_after_ms = task->host->now_ms() + retry_after;
out:
	cJSON_Delete(params);
}

static const struct tf_runner fail_runner = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.flags = TF_RUNNER_RETURNS_AT_ONCE,
	.name = "fail",
	.version = "1.0.0",
	.init = NULL,
	.run = fail_run,
	.fini = NULL,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &fail_runner;
}
