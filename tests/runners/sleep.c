/*
 * sleep - a runner that takes its time, for heartbeat and shutdown tests.
 *
 * Params {"ms": M} (default 0, at most one day): sleeps M milliseconds,
 * asking host->cancelled() every 50 ms, then completes the task. When the
 * host cancels the run it stops at once with TF_RUN_RETRY "cancelled" (the
 * iteration was not done).
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include <taskfleet/runner.h>

#define MAX_MS (24.0 * 3600 * 1000)
#define POLL_MS 50

static void
set_error(struct tf_run_result *result, enum tf_run_outcome outcome,
    const char *msg)
{
	result->outcome = outcome;
	result->completed = 0;
	if (result->error != NULL && result->error_size > 0)
		snprintf(result->error, result->error_size, "%s", msg);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	const struct tf_host_api *host = task->host;
	const char *text = task->params_json != NULL ? task->params_json : "{}";
	const cJSON *item;
	cJSON *params;
	struct timespec ts;
	int64_t ms = 0, end, left;
	double d;

	params = cJSON_ParseWithOpts(text, NULL, 1);
	if (params == NULL || !cJSON_IsObject(params)) {
		set_error(result, TF_RUN_FAILED, "params must be a JSON object");
		goto out;
	}
	item = cJSON_GetObjectItemCaseSensitive(params, "ms");
	if (item != NULL) {
		d = item->valuedouble;
		if (!cJSON_IsNumber(item) || !(d >= 0 && d <= MAX_MS) ||
		    (double)(int64_t)d != d) {
			set_error(result, TF_RUN_FAILED, "params.ms must be an integer "
			    "from 0 to 86400000");
			goto out;
		}
		ms = (int64_t)d;
	}
	end = mono_ms() + ms;
	for (;;) {
		if (host->cancelled(task->ctx)) {
			set_error(result, TF_RUN_RETRY, "cancelled");
			goto out;
		}
		left = end - mono_ms();
		if (left <= 0)
			break;
		if (left > POLL_MS)
			left = POLL_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
	result->outcome = TF_RUN_SUCCESS;
	result->completed = 1;
out:
	cJSON_Delete(params);
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "sleep",
	.version = "1",
	.run = sleep_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
