/*
 * single - a runner flagged TF_RUNNER_SINGLE_THREADED that detects whether
 * two run() calls ever overlap. parallel.c builds the same code without the
 * flag, as the control that proves the detection works.
 *
 * Each run counts itself in, records the highest number of runs inside at
 * once, waits up to WAIT_MS for that peak to reach 2 (it returns at once
 * when it has), counts itself out and reports completed = 1 exactly when
 * the peak has reached 2, that is when some two runs overlapped. init()
 * resets the counters, so every loaded set starts from zero.
 */
#include <stdatomic.h>
#include <time.h>

#include <taskfleet/runner.h>

#ifndef RUNNER_NAME
#define RUNNER_NAME  "single"
#define RUNNER_FLAGS TF_RUNNER_SINGLE_THREADED
#define WAIT_MS      10
#endif

static atomic_int inside;
static atomic_int peak;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
overlap_init(const struct tf_host_api *host, const char *config_json,
    void **state)
{
	atomic_store(&inside, 0);
	atomic_store(&peak, 0);
	return 0;
}

static void
overlap_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	struct timespec ms = { 0, 1000000 };
	int64_t until;
	int now, seen;

	now = atomic_fetch_add(&inside, 1) + 1;
	seen = atomic_load(&peak);
	while (now > seen && !atomic_compare_exchange_weak(&peak, &seen, now))
		;
	until = mono_ms() + WAIT_MS;
	while (atomic_load(&peak) < 2 && mono_ms() < until)
		nanosleep(&ms, NULL);
	atomic_fetch_sub(&inside, 1);
	result->outcome = TF_RUN_SUCCESS;
	result->completed = atomic_load(&peak) >= 2;
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.flags = RUNNER_FLAGS,
	.name = RUNNER_NAME,
	.version = "1",
	.init = overlap_init,
	.run = overlap_run,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
