/*
 * loop_hog - a runner that breaks its word: it declares
 * TF_RUNNER_RETURNS_AT_ONCE, so the consumer calls it on its event loop,
 * and then sleeps, so the loop stalls. For the watchdog's test of the
 * loop's liveness (tests/scripts/engine_loop_stall.sh).
 *
 * Params {"ms": M} (default 0, at most one hour): sleeps M milliseconds
 * without asking host->cancelled(), then completes the task.
 */
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include <taskfleet/runner.h>

static void
hog_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	cJSON *params = cJSON_Parse(task->params_json != NULL ?
	    task->params_json : "{}");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(params, "ms");
	double d = cJSON_IsNumber(ms) ? ms->valuedouble : 0;
	struct timespec ts;

	if (d < 0 || d > 3600000)
		d = 0;
	ts.tv_sec = (time_t)(d / 1000);
	ts.tv_nsec = (long)((int64_t)d % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
	cJSON_Delete(params);
	result->outcome = TF_RUN_SUCCESS;
	result->completed = 1;
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.flags = TF_RUNNER_RETURNS_AT_ONCE,
	.name = "loop_hog",
	.version = "1",
	.run = hog_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
