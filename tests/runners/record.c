/*
 * record - a runner that leaves a trace, for end-to-end tests.
 *
 * Every run appends "<task id> <iteration>\n" (with params "stamp": true,
 * "<task id> <iteration> <now ms> <target ms>\n") to a file with one write() on
 * a descriptor opened with O_APPEND, so lines from concurrent runs (and
 * several consumers on one machine) never interleave. The file is params
 * "file", else the environment variable TF_RECORD_FILE; without either the
 * run fails permanently.
 *
 * Then, when params has "n", it behaves as the countdown runner (n and
 * "every_ms" as there; other keys, "file" included, are kept); otherwise the
 * task completes.
 *
 * With params "work_ms": W, it first works W milliseconds (one sleep, not
 * looking at cancelled()), then asks host->cancelled() right before its
 * side effect: when cancelled, it appends "<task id> <iteration> cancelled"
 * instead of its line and stops with TF_RUN_RETRY "cancelled".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <taskfleet/runner.h>

#include "../../runners/common/params.h"


/* Sets params.<key> to v. Returns 0, -1 when out of memory. */
static int
put_count(cJSON *params, const char *key, int64_t v)
{
	cJSON *item = cJSON_GetObjectItemCaseSensitive(params, key);

	if (item != NULL && cJSON_IsNumber(item)) {
		cJSON_SetNumberValue(item, (double)v);
		return 0;
	}
	return cJSON_AddNumberToObject(params, key, (double)v) != NULL ? 0 : -1;
}

/* Appends the line for this run with one write(): stamped (stamp 1), or
 * marked cancelled (stamp -1). Returns 0, or -1 with the result failed. */
static int
append_line(const char *file, const struct tf_task_view *task, int stamp,
    struct tf_run_result *result)
{
	char *line = NULL;
	size_t cap = strlen(task->id) + 64;
	ssize_t n;
	int fd = -1, len, e, rc = -1;

	if ((line = malloc(cap)) == NULL) {
		runner_set_error(result, TF_RUN_RETRY, "out of memory");
		goto out;
	}
	if (stamp > 0)
		len = snprintf(line, cap, "%s %" PRId64 " %" PRId64 " %" PRId64 "\n",
		    task->id, task->iteration, task->host->now_ms(), task->target_ms);
	else if (stamp < 0)
		len = snprintf(line, cap, "%s %" PRId64 " cancelled\n", task->id,
		    task->iteration);
	else
		len = snprintf(line, cap, "%s %" PRId64 "\n", task->id,
		    task->iteration);
	if (len < 0 || (size_t)len >= cap) {
		runner_set_error(result, TF_RUN_FAILED, "cannot format the line");
		goto out;
	}
	fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		e = errno;
		runner_set_error(result, TF_RUN_RETRY, "cannot open %s: %s", file,
		    strerror(e));
		goto out;
	}
	n = write(fd, line, (size_t)len);
	if (n != len) {
		e = n < 0 ? errno : EIO;
		runner_set_error(result, TF_RUN_RETRY, "cannot write %s: %s", file,
		    strerror(e));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	return rc;
}

static void
record_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	const struct tf_host_api *host = task->host;
	const char *text = task->params_json != NULL ? task->params_json : "{}";
	const cJSON *item;
	const char *file;
	cJSON *params = NULL;
	char *updated = NULL;
	int64_t n = 0, every_ms = 0, work_ms = 0;
	struct timespec ts;
	int found;

	params = cJSON_ParseWithOpts(text, NULL, 1);
	if (params == NULL || !cJSON_IsObject(params)) {
		runner_set_error(result, TF_RUN_FAILED, "params must be a JSON object");
		goto out;
	}
	item = cJSON_GetObjectItemCaseSensitive(params, "file");
	if (item != NULL && !(cJSON_IsString(item) && item->valuestring != NULL &&
	    item->valuestring[0] != '\0')) {
		runner_set_error(result, TF_RUN_FAILED, "params.file must be a file name");
		goto out;
	}
	file = item != NULL ? item->valuestring : getenv("TF_RECORD_FILE");
	if (file == NULL || *file == '\0') {
		runner_set_error(result, TF_RUN_FAILED, "no file: set params.file or "
		    "TF_RECORD_FILE");
		goto out;
	}
	if (runner_get_count(params, "work_ms", &work_ms, result) < 0)
		goto out;
	if (work_ms > 0) {
		ts.tv_sec = (time_t)(work_ms / 1000);
		ts.tv_nsec = (long)(work_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		if (host->cancelled(task->ctx)) {
			if (append_line(file, task, -1, result) == 0)
				runner_set_error(result, TF_RUN_RETRY, "cancelled");
			goto out;
		}
	}
	if (append_line(file, task, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	    params, "stamp")), result) != 0)
		goto out;

	found = runner_get_count(params, "n", &n, result);
	if (found < 0 || runner_get_count(params, "every_ms", &every_ms, result) < 0)
		goto out;
	result->outcome = TF_RUN_SUCCESS;
	if (found == 0 || n == 0) {
		result->completed = 1;
		goto out;
	}
	n--;
	if (put_count(params, "n", n) != 0 ||
	    put_count(params, "every_ms", every_ms) != 0 ||
	    (updated = cJSON_PrintUnformatted(params)) == NULL) {
		runner_set_error(result, TF_RUN_RETRY, "out of memory");
		goto out;
	}
	if (host->set_params(task->ctx, updated, strlen(updated)) != 0) {
		runner_set_error(result, TF_RUN_FAILED, "the host refused the new params");
		goto out;
	}
	if (n == 0)
		result->completed = 1;
	else
		result->new_target_timestamp = host->now_ms() + every_ms;
out:
	cJSON_free(updated);
	cJSON_Delete(params);
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "record",
	.version = "1",
	.run = record_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
