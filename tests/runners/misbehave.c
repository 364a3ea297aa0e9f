/*
 * misbehave - breaks the result rules on request, to test that
 * tf_runner_invoke() hands the host a result that is safe to read. params
 * is one of these words (matched as text):
 *   "bad_outcome"     stores outcome 42;
 *   "own_error"       points result->error at its own text (and changes
 *                     error_size and size) instead of writing into the buffer;
 *   "silent_failure"  TF_RUN_FAILED with no text;
 *   "unterminated"    TF_RUN_RETRY with the whole buffer filled, no NUL;
 *   "target_max"      success, not completed, new_target_timestamp INT64_MAX
 *                     (the year 292 million);
 *   "target_negative" the same with -5, "target_one" with 1 (1970);
 *   "retry_max"       TF_RUN_RETRY with retry_after_ms INT64_MAX;
 *   "target_last"     the same as target_max with TF_RUNNER_TIME_MAX_MS, the
 *                     last time a runner may name (9999-12-31T23:59:59.999Z).
 * The consumer must refuse the times out of range as runner output.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <taskfleet/runner.h>

static void
misbehave_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	const char *p = task->params_json;
	unsigned bad = 42;

	if (strstr(p, "bad_outcome") != NULL) {
		memcpy(&result->outcome, &bad, sizeof(bad));
	} else if (strstr(p, "own_error") != NULL) {
		result->outcome = TF_RUN_RETRY;
		result->error = (char *)"text of the runner's own";
		result->error_size = 3;
		result->size = 1;
	} else if (strstr(p, "silent_failure") != NULL) {
		result->outcome = TF_RUN_FAILED;
	} else if (strstr(p, "unterminated") != NULL) {
		result->outcome = TF_RUN_RETRY;
		memset(result->error, 'x', result->error_size);
	} else if (strstr(p, "target_max") != NULL) {
		result->new_target_timestamp = INT64_MAX;
	} else if (strstr(p, "target_negative") != NULL) {
		result->new_target_timestamp = -5;
	} else if (strstr(p, "target_one") != NULL) {
		result->new_target_timestamp = 1;
	} else if (strstr(p, "retry_max") != NULL) {
		result->outcome = TF_RUN_RETRY;
		result->retry_after_ms = INT64_MAX;
		snprintf(result->error, result->error_size, "later");
	} else if (strstr(p, "target_last") != NULL) {
		result->new_target_timestamp = TF_RUNNER_TIME_MAX_MS;
	}
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "misbehave",
	.version = "1",
	.run = misbehave_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
