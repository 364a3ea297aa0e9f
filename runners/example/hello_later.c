/*
 * hello_later.c - the asynchronous style (runner ABI 1.2): a runner that
 * waits before it greets, without holding a thread while it waits. Params:
 * {"delay_ms": N} (0 to 600000; {} is 0).
 *
 * start() asks the host for a timer on the consumer's event loop and
 * returns TF_START_PENDING; the timer's callback fills the result and calls
 * complete(). run(), the blocking style, does the same with a sleep: the
 * host calls it when the runner is isolated (--isolate) or is older than
 * ABI 1.2. Both styles share the params check and the greeting.
 *
 * Build it against the installed header, outside the taskfleet tree:
 *     cc -shared -fPIC -fvisibility=hidden -I$PREFIX/include -o hello_later.so hello_later.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <taskfleet/runner.h>

#define DELAY_MAX_MS 600000

/*
 * Reads params {"delay_ms": N} (or {}) into *delay_ms. A small reader for a
 * small example: a real runner would use a JSON library. Returns 0, or -1
 * with the reason in error.
 */
static int
check_params(const char *params, size_t len, long *delay_ms, char *error,
    size_t error_size)
{
	const char *key = strstr(params, "\"delay_ms\"");
	const char *p;
	char *end;
	long v = 0;

	(void)len;
	if (key != NULL) {
		p = strchr(key + 10, ':');
		v = p != NULL ? strtol(p + 1, &end, 10) : -1;
		if (p == NULL || end == p + 1 || v < 0 || v > DELAY_MAX_MS) {
			snprintf(error, error_size, "delay_ms must be a whole number "
			    "from 0 to %d", DELAY_MAX_MS);
			return -1;
		}
	}
	*delay_ms = v;
	return 0;
}

static int
later_validate(const char *params_json, size_t params_len, char *error,
    size_t error_size)
{
	long delay_ms;

	return check_params(params_json, params_len, &delay_ms, error,
	    error_size);
}

/* The end of either style: the greeting and the result document. */
static void
greet(const struct tf_task_view *task, struct tf_run_result *result)
{
	const struct tf_host_api *host = task->host;
	char doc[128];
	int len;

	if (host->cancelled(task->ctx)) {
		/* Stopped early (lease lost, stop, time limit): not done. */
		snprintf(result->error, result->error_size, "cancelled");
		result->outcome = TF_RUN_RETRY;
		return;
	}
	host->log(task->ctx, TF_RUNNER_LOG_INFO, "hello later, task %s",
	    task->id);
	len = snprintf(doc, sizeof(doc), "{\"greeting\": \"hello later\", "
	    "\"at\": %lld}", (long long)host->now_ms());
	if (host->set_result(task->ctx, doc, (size_t)len) != 0) {
		snprintf(result->error, result->error_size, "result refused");
		result->outcome = TF_RUN_RETRY;
		return;
	}
	result->outcome = TF_RUN_SUCCESS;
	result->completed = 1;
}

/* The blocking style: sleeps on the host's runner thread, looking at
 * cancelled() every 100 ms. */
static void
later_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	struct timespec tick = { 0, 100 * 1000000L };
	int64_t until;
	long delay_ms;

	(void)state;
	if (check_params(task->params_json, task->params_len, &delay_ms,
	    result->error, result->error_size) != 0) {
		result->outcome = TF_RUN_FAILED;
		return;
	}
	until = task->host->now_ms() + delay_ms;
	while (task->host->now_ms() < until && !task->host->cancelled(task->ctx))
		nanosleep(&tick, NULL);
	greet(task, result);
}

/* What a pending run keeps between start() and its timer: the host's task
 * view and result, borrowed until complete(). */
struct pending {
	const struct tf_task_view *task;
	struct tf_run_result *result;
};

/* On the host's loop: the delay passed, or the run was cancelled (greet()
 * sees that through cancelled()). */
static void
on_delay(void *user, int cancelled)
{
	struct pending *p = user;
	const struct tf_task_view *task = p->task;

	(void)cancelled;
	greet(task, p->result);
	free(p);
	/* The last thing: the view and result are the host's again. */
	task->host->complete(task->ctx);
}

/* The asynchronous style: a timer on the host's loop, no thread. */
static enum tf_start_status
later_start(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	struct pending *p;
	long delay_ms;

	(void)state;
	if (check_params(task->params_json, task->params_len, &delay_ms,
	    result->error, result->error_size) != 0) {
		result->outcome = TF_RUN_FAILED;
		return TF_START_DONE;
	}
	p = malloc(sizeof(*p));
	if (p == NULL) {
		snprintf(result->error, result->error_size, "out of memory");
		result->outcome = TF_RUN_RETRY;
		return TF_START_DONE;
	}
	p->task = task;
	p->result = result;
	if (task->host->after(task->ctx, delay_ms, on_delay, p) != 0) {
		free(p);
		snprintf(result->error, result->error_size, "the host refused a "
		    "timer");
		result->outcome = TF_RUN_RETRY;
		return TF_START_DONE;
	}
	return TF_START_PENDING;
}

static const struct tf_runner later_runner = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.flags = 0,
	.name = "hello-later",
	.version = "1.0",
	.init = NULL,
	.run = later_run,
	.fini = NULL,
	.validate = later_validate,
	.start = later_start,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &later_runner;
}
