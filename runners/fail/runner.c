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

/* The largest integer a double (and so a cJSON number) holds exactly. */
#define MAX_COUNT 9007199254740992.0

#define DEFAULT_MESSAGE "requested failure"

static void set_error(struct tf_run_result *result, enum tf_run_outcome outcome,
    const char *fmt, ...) TF_RUNNER_PRINTF(3, 4);

/* Sets the outcome and writes the error text into the host's buffer. */
static void
set_error(struct tf_run_result *result, enum tf_run_outcome outcome,
    const char *fmt, ...)
{
	va_list ap;

	result->outcome = outcome;
	result->completed = 0;
	if (result->error == NULL || result->error_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(result->error, result->error_size, fmt, ap);
	va_end(ap);
}

/*
 * Reads params.<key> as an integer from 0 to 2^53 into *out. Returns 1 when
 * it is there, 0 when it is absent (*out untouched), -1 when it is not such
 * an integer (the result is then a permanent failure saying so).
 */
static int
get_count(const cJSON *params, const char *key, int64_t *out,
    struct tf_run_result *result)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(params, key);
	double d;

	if (item == NULL)
		return 0;
	d = item->valuedouble;
	if (!cJSON_IsNumber(item) || !(d >= 0 && d <= MAX_COUNT) ||
	    (double)(int64_t)d != d) {
		set_error(result, TF_RUN_FAILED, "params.%s must be an integer from "
		    "0 to 2^53", key);
		return -1;
	}
	*out = (int64_t)d;
	return 1;
}

/* Reads params.<key> as a string (borrowed from params) into *out, or leaves
 * *out when absent. Returns 0, or -1 when it is not a string (the result is
 * then a permanent failure saying so). */
static int
get_string(const cJSON *params, const char *key, const char **out,
    struct tf_run_result *result)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(params, key);

	if (item == NULL)
		return 0;
	if (!cJSON_IsString(item) || item->valuestring == NULL) {
		set_error(result, TF_RUN_FAILED, "params.%s must be a string", key);
		return -1;
	}
	*out = item->valuestring;
	return 0;
}

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
		set_error(result, TF_RUN_FAILED, "params are not valid JSON");
		goto out;
	}
	if (!cJSON_IsObject(params)) {
		set_error(result, TF_RUN_FAILED, "params must be a JSON object");
		goto out;
	}
	if (get_string(params, "mode", &mode, result) != 0 ||
	    get_string(params, "message", &message, result) != 0)
		goto out;
	if (strcmp(mode, "retry") == 0) {
		permanent = 0;
	} else if (strcmp(mode, "permanent") == 0) {
		permanent = 1;
	} else {
		set_error(result, TF_RUN_FAILED, "params.mode must be \"retry\" or "
		    "\"permanent\"");
		goto out;
	}
	has_succeed_after = get_count(params, "succeed_after", &succeed_after,
	    result);
	if (has_succeed_after < 0)
		goto out;
	has_retry_after = get_count(params, "retry_after_ms", &retry_after, result);
	if (has_retry_after < 0)
		goto out;

	if (has_succeed_after && (int64_t)task->attempt > succeed_after) {
		result->outcome = TF_RUN_SUCCESS;
		result->completed = 1;
		goto out;
	}
	if (permanent) {
		set_error(result, TF_RUN_FAILED, "%s", message);
		goto out;
	}
	set_error(result, TF_RUN_RETRY, "%s", message);
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
	.flags = 0,
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
