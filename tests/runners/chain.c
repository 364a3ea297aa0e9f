/*
 * chain - a recording runner for the fault suite (tests/fault/).
 *
 * Every run gets a run id unique across processes ("<pid>-<counter>-<random
 * hex>") and appends lines to a file (params "file", else the environment
 * variable TF_RECORD_FILE), each with one write() on a descriptor opened with
 * O_APPEND, so lines of concurrent runs and processes never interleave:
 *
 *   start <task> <iteration> <attempt> <run id> <pid> <realtime ms> <monotonic ms>
 *   tick <run id> <realtime ms> <monotonic ms>         (hang mode, every 10 ms)
 *   end <run id> <outcome> <realtime ms> <monotonic ms>
 *
 * outcome is success, completed, retry, cancelled, failed or crash (written
 * just before the process crashes on purpose).
 *
 * Params:
 *   "n"            iterations in all (required): iteration + 1 == n completes
 *   "work_ms"      how long a run works, in steps of at most 10 ms, asking
 *                  host->cancelled() at each (cancelled: outcome retry)
 *   "delay_ms"     the next iteration is due now + delay_ms (host clock)
 *   "slow_iteration", "slow_ms"
 *                  that iteration works slow_ms instead of work_ms (to need
 *                  heartbeats: longer than the visibility timeout)
 *   "chain"        a list of run ids; on success the new params are the old
 *                  ones with this run's id appended, so the final item's
 *                  params list exactly the runs whose outcome was committed
 *   "retry_every"  K: the first attempt of an iteration returns TF_RUN_RETRY
 *                  when hash(task, iteration) % K == 0
 *   "crash_every"  K: the first attempt crashes (SIGSEGV) when
 *                  hash(task, iteration, "crash") % K == 0
 *   "hang_every"   K: the first attempt hangs (ignoring cancellation,
 *                  writing tick lines) when hash(task, iteration, "hang") % K == 0
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <taskfleet/runner.h>

#include "../../runners/common/params.h"

#define STEP_MS 10
#define TICK_MS 10

static atomic_uint_fast64_t counter;

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* FNV-1a of the task id, the iteration and a salt: the same on every
 * consumer, so the faults are deterministic. */
static uint64_t
fault_hash(const char *id, int64_t iteration, const char *salt)
{
	uint64_t h = 1469598103934665603ULL;
	char num[32];
	const char *parts[3];
	int i;

	snprintf(num, sizeof(num), "/%" PRId64 "/", iteration);
	parts[0] = id;
	parts[1] = num;
	parts[2] = salt;
	for (i = 0; i < 3; i++) {
		const unsigned char *p = (const unsigned char *)parts[i];

		for (; *p != '\0'; p++) {
			h ^= *p;
			h *= 1099511628211ULL;
		}
	}
	return h;
}

/* Appends one formatted line with one write(). Returns 0 or -1. */
static int appendf(const char *file, const char *fmt, ...)
    TF_RUNNER_PRINTF(2, 3);

static int
appendf(const char *file, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	ssize_t n;
	int len, fd;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(line))
		return -1;
	fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	n = write(fd, line, (size_t)len);
	close(fd);
	return n == len ? 0 : -1;
}

static int
end_line(const char *file, const char *run_id, const char *outcome)
{
	return appendf(file, "end %s %s %" PRId64 " %" PRId64 "\n", run_id, outcome,
	    clock_ms(CLOCK_REALTIME), clock_ms(CLOCK_MONOTONIC));
}

/* True when params.<key> is a K > 0 and hash % K == 0. */
static int
fault_hit(const cJSON *params, const char *key, const struct tf_task_view *task,
    const char *salt, struct tf_run_result *result, int *bad)
{
	int64_t k = 0;
	int found = runner_get_count(params, key, &k, result);

	if (found < 0) {
		*bad = 1;
		return 0;
	}
	return found > 0 && k > 0 && task->attempt == 1 &&
	    fault_hash(task->id, task->iteration, salt) % (uint64_t)k == 0;
}

static void
chain_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	const struct tf_host_api *host = task->host;
	const char *text = task->params_json != NULL ? task->params_json : "{}";
	const char *file = NULL, *outcome = "failed";
	cJSON *params = NULL, *chain, *id_item;
	char *updated = NULL;
	char run_id[96];
	uint64_t rnd = 0;
	int64_t n = 0, work_ms = 0, delay_ms = 0, slow_it = 0, end;
	int bad = 0, found, retry, crash, hang;

	(void)state;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint64_t)clock_ms(CLOCK_MONOTONIC) * 2654435761ULL;
	snprintf(run_id, sizeof(run_id), "%d-%" PRIu64 "-%08" PRIx64,
	    (int)getpid(), (uint64_t)atomic_fetch_add(&counter, 1) + 1,
	    (uint64_t)(rnd & 0xffffffffULL));

	params = cJSON_ParseWithOpts(text, NULL, 1);
	if (params == NULL || !cJSON_IsObject(params)) {
		runner_set_error(result, TF_RUN_FAILED, "params must be a JSON object");
		goto out;
	}
	if (runner_get_string(params, "file", &file, result) != 0)
		goto out;
	if (file == NULL)
		file = getenv("TF_RECORD_FILE");
	if (file == NULL || *file == '\0') {
		runner_set_error(result, TF_RUN_FAILED, "no file: set params.file or "
		    "TF_RECORD_FILE");
		file = NULL;
		goto out;
	}
	if (appendf(file, "start %s %" PRId64 " %d %s %d %" PRId64 " %" PRId64 "\n",
	    task->id, task->iteration, (int)task->attempt, run_id, (int)getpid(),
	    clock_ms(CLOCK_REALTIME), clock_ms(CLOCK_MONOTONIC)) != 0) {
		runner_set_error(result, TF_RUN_RETRY, "cannot write %s", file);
		file = NULL;
		goto out;
	}
	if (runner_get_count(params, "n", &n, result) <= 0 || n < 1) {
		if (result->outcome != TF_RUN_FAILED)
			runner_set_error(result, TF_RUN_FAILED, "params.n is required");
		goto out;
	}
	if (runner_get_count(params, "work_ms", &work_ms, result) < 0 ||
	    runner_get_count(params, "delay_ms", &delay_ms, result) < 0 ||
	    (found = runner_get_count(params, "slow_iteration", &slow_it,
	    result)) < 0)
		goto out;
	if (found > 0 && slow_it == task->iteration &&
	    runner_get_count(params, "slow_ms", &work_ms, result) < 0)
		goto out;
	retry = fault_hit(params, "retry_every", task, "retry", result, &bad);
	crash = fault_hit(params, "crash_every", task, "crash", result, &bad);
	hang = fault_hit(params, "hang_every", task, "hang", result, &bad);
	if (bad)
		goto out;

	if (hang) {
		/* Never returns on its own: the host's run timeout must end it. */
		for (;;) {
			appendf(file, "tick %s %" PRId64 " %" PRId64 "\n", run_id,
			    clock_ms(CLOCK_REALTIME), clock_ms(CLOCK_MONOTONIC));
			sleep_ms(TICK_MS);
		}
	}
	end = clock_ms(CLOCK_MONOTONIC) + work_ms;
	for (;;) {
		int64_t left;

		if (host->cancelled(task->ctx)) {
			runner_set_error(result, TF_RUN_RETRY, "cancelled");
			outcome = "cancelled";
			goto out;
		}
		left = end - clock_ms(CLOCK_MONOTONIC);
		if (left <= 0)
			break;
		sleep_ms(left < STEP_MS ? left : STEP_MS);
	}
	if (crash) {
		end_line(file, run_id, "crash");
		file = NULL;
		raise(SIGSEGV);
		abort();
	}
	if (retry) {
		runner_set_error(result, TF_RUN_RETRY, "retry_every: this attempt "
		    "fails on purpose");
		outcome = "retry";
		goto out;
	}

	chain = cJSON_GetObjectItemCaseSensitive(params, "chain");
	if (chain == NULL) {
		chain = cJSON_AddArrayToObject(params, "chain");
	} else if (!cJSON_IsArray(chain)) {
		runner_set_error(result, TF_RUN_FAILED, "params.chain must be a list");
		goto out;
	}
	if (chain == NULL || (id_item = cJSON_CreateString(run_id)) == NULL) {
		runner_set_error(result, TF_RUN_RETRY, "out of memory");
		outcome = "retry";
		goto out;
	}
	cJSON_AddItemToArray(chain, id_item);
	if ((updated = cJSON_PrintUnformatted(params)) == NULL) {
		runner_set_error(result, TF_RUN_RETRY, "out of memory");
		outcome = "retry";
		goto out;
	}
	if (host->set_params(task->ctx, updated, strlen(updated)) != 0) {
		runner_set_error(result, TF_RUN_FAILED, "the host refused the new params");
		goto out;
	}
	result->outcome = TF_RUN_SUCCESS;
	if (task->iteration + 1 >= n) {
		result->completed = 1;
		outcome = "completed";
	} else {
		result->new_target_timestamp = host->now_ms() + delay_ms;
		outcome = "success";
	}
out:
	if (file != NULL)
		end_line(file, run_id, outcome);
	cJSON_free(updated);
	cJSON_Delete(params);
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "chain",
	.version = "1",
	.run = chain_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
