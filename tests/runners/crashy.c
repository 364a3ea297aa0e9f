/*
 * crashy - a runner that misbehaves on request, for the isolated mode's
 * tests. Params {"mode": M}:
 *   "ok"          completes the task, with set_result {"ok": true}
 *   "segv"        dereferences a null pointer (SIGSEGV)
 *   "abort"       abort() (SIGABRT)
 *   "exit"        exit(3) in the middle of the run
 *   "hang"        sleeps forever, ignoring cancelled()
 *   "slow"        sleeps "ms" milliseconds (default 1000) in 20 ms steps,
 *                 stopping with TF_RUN_RETRY "cancelled" once cancelled();
 *                 otherwise completes
 *   "big_result"  hands set_result() a document over the host's limit
 *                 (which it must refuse) and then a small one, and
 *                 completes with the refusal recorded in the small one
 *   "fat_output"  hands set_params() and set_result() a document of
 *                 FAT_DOC_BYTES each, both within the host's limit but too
 *                 big for one DynamoDB item together, and completes
 * Anything else fails the task permanently. Its configuration
 * (TASKFLEET_RUNNER_CONFIG_CRASHY) may hold {"pid_file": PATH}: init()
 * appends its pid there, so a test can tell where runs happen; and
 * {"atexit_file": PATH}: init() registers an atexit() handler that appends
 * "atexit PID" there, so a test can tell whether exit() ran the process's
 * exit handlers. init(), each run and fini() log a line with the pid.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <taskfleet/runner.h>

#define BIG_RESULT_BYTES (400 * 1024)
#define FAT_DOC_BYTES (250 * 1024)

/* The host table init() was given, for fini()'s log line. */
static const struct tf_host_api *init_host;
/* The config's atexit_file, for on_process_exit(). */
static char atexit_file[4096];

/* Runs among the process's exit handlers: records that they ran. */
static void
on_process_exit(void)
{
	FILE *f = fopen(atexit_file, "a");

	if (f != NULL) {
		fprintf(f, "atexit %ld\n", (long)getpid());
		fclose(f);
	}
}

static void
fail(struct tf_run_result *result, enum tf_run_outcome outcome,
    const char *msg)
{
	result->outcome = outcome;
	result->completed = 0;
	if (result->error != NULL && result->error_size > 0)
		snprintf(result->error, result->error_size, "%s", msg);
}

/* Hands the JSON text s to set_params or set_result. */
static int
hand_over(int (*fn)(struct tf_run_ctx *, const char *, size_t),
    const struct tf_task_view *task, const char *s)
{
	return fn(task->ctx, s, strlen(s));
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
crashy_init(const struct tf_host_api *host, const char *config_json,
    void **state)
{
	cJSON *conf = cJSON_Parse(config_json);
	const cJSON *pf = cJSON_GetObjectItemCaseSensitive(conf, "pid_file");
	const cJSON *af = cJSON_GetObjectItemCaseSensitive(conf, "atexit_file");
	FILE *f;

	if (cJSON_IsString(pf) && (f = fopen(pf->valuestring, "a")) != NULL) {
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}
	if (cJSON_IsString(af) && atexit_file[0] == '\0') {
		snprintf(atexit_file, sizeof(atexit_file), "%s", af->valuestring);
		atexit(on_process_exit);
	}
	cJSON_Delete(conf);
	init_host = host;
	host->log(NULL, TF_RUNNER_LOG_INFO, "crashy init in pid %ld",
	    (long)getpid());
	return 0;
}

/* A real SIGSEGV: a store through a null pointer. UBSan would report the
 * store and stop the process its own way; here it is the point. */
__attribute__((no_sanitize("undefined")))
static void
segv(void)
{
	volatile int *volatile nowhere = NULL;

	*nowhere = 1;
}

static void
crashy_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	const struct tf_host_api *host = task->host;
	cJSON *params = cJSON_Parse(task->params_json);
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(params, "mode");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(params, "ms");
	const char *m = cJSON_IsString(mode) ? mode->valuestring : "";
	char *big;
	int64_t end;

	host->log(task->ctx, TF_RUNNER_LOG_INFO, "crashy %s in pid %ld", m,
	    (long)getpid());
	if (strcmp(m, "ok") == 0) {
		hand_over(host->set_result, task, "{\"ok\": true}");
		result->completed = 1;
	} else if (strcmp(m, "segv") == 0) {
		segv();
	} else if (strcmp(m, "abort") == 0) {
		abort();
	} else if (strcmp(m, "exit") == 0) {
		exit(3);
	} else if (strcmp(m, "hang") == 0) {
		for (;;)
			nap_ms(1000);
	} else if (strcmp(m, "slow") == 0) {
		end = mono_ms() + (cJSON_IsNumber(ms) ? (int64_t)ms->valuedouble : 1000);
		while (mono_ms() < end) {
			if (host->cancelled(task->ctx)) {
				fail(result, TF_RUN_RETRY, "cancelled");
				goto out;
			}
			nap_ms(20);
		}
		hand_over(host->set_params, task, "{\"mode\": \"slow\", \"done\": true}");
		result->completed = 1;
	} else if (strcmp(m, "big_result") == 0) {
		big = malloc(BIG_RESULT_BYTES + 1);
		if (big == NULL) {
			fail(result, TF_RUN_RETRY, "out of memory");
			goto out;
		}
		memset(big, ' ', BIG_RESULT_BYTES);
		big[0] = '{';
		big[BIG_RESULT_BYTES - 1] = '}';
		big[BIG_RESULT_BYTES] = '\0';
		if (host->set_result(task->ctx, big, BIG_RESULT_BYTES) == 0)
			hand_over(host->set_result, task, "{\"big\": \"accepted\"}");
		else
			hand_over(host->set_result, task, "{\"big\": \"refused\"}");
		free(big);
		result->completed = 1;
	} else if (strcmp(m, "fat_output") == 0) {
		/* {"pad":"xxx...x"}, FAT_DOC_BYTES long */
		big = malloc(FAT_DOC_BYTES + 1);
		if (big == NULL) {
			fail(result, TF_RUN_RETRY, "out of memory");
			goto out;
		}
		memset(big, 'x', FAT_DOC_BYTES);
		memcpy(big, "{\"pad\":\"", 8);
		memcpy(big + FAT_DOC_BYTES - 2, "\"}", 2);
		big[FAT_DOC_BYTES] = '\0';
		if (host->set_params(task->ctx, big, FAT_DOC_BYTES) != 0 ||
		    host->set_result(task->ctx, big, FAT_DOC_BYTES) != 0)
			fail(result, TF_RUN_FAILED, "a fat document was refused");
		else
			result->completed = 1;
		free(big);
	} else {
		fail(result, TF_RUN_FAILED, "unknown mode");
	}
out:
	cJSON_Delete(params);
}

static void
crashy_fini(void *state)
{
	if (init_host != NULL)
		init_host->log(NULL, TF_RUNNER_LOG_INFO, "crashy fini in pid %ld",
		    (long)getpid());
}

static const struct tf_runner desc = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.name = "crashy",
	.version = "1",
	.init = crashy_init,
	.run = crashy_run,
	.fini = crashy_fini,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &desc;
}
