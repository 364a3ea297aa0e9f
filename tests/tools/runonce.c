/*
 * runonce - runs a task runner on tasks given on standard input, without
 * AWS, and prints what each run did. For tests that need a runner's exact
 * outcome (the http runner against a local receiver) without a consumer.
 *
 *     runonce RUNNER.so < tasks.jsonl > results.jsonl
 *
 * The runner is loaded and initialised by the consumer's own loader
 * (lib/task/runners.h), so its configuration comes from
 * TASKFLEET_RUNNER_CONFIG_<NAME> and its ABI is checked the same way.
 * Each input line is one task:
 *
 *     {"id": "t1", "type": "http", "params": {...}, "iteration": 0,
 *      "attempt": 1, "deadline_ms": 0, "cancel_after_ms": 0,
 *      "target_ms": 0}
 *
 * (everything but params optional; type defaults to the only runner;
 * target_ms, when the run was due, defaults to now;
 * cancel_after_ms > 0 makes the host report the run cancelled that long
 * after it started, < 0 cancelled from the start). Each output line is
 *
 *     {"id": "t1", "outcome": "success"|"retry"|"failed", "completed": true,
 *      "error": "...", "retry_after_ms": N, "retry_after_in_ms": N,
 *      "result": {...} or null, "params": {...} or null, "elapsed_ms": N}
 *
 * where retry_after_in_ms is retry_after_ms minus the time the run ended.
 * Runner log lines go to standard error. Exit 0 after all lines, 1 when a
 * line cannot be read or the runner cannot be loaded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <taskfleet/runner.h>

#include "aws/marshal.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "task/runners.h"
#include "target/target_run.h"

/* The host's state of one run. */
struct tf_run_ctx {
	int64_t started;
	int64_t cancel_after_ms;
	cJSON *result;    /* owned: from set_result */
	cJSON *params;    /* owned: from set_params */
};

static void
host_log(struct tf_run_ctx *ctx, enum tf_runner_log_level level,
    const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "runonce: runner log %d: ", (int)level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
host_heartbeat(struct tf_run_ctx *ctx)
{
	return 0;
}

static int
host_cancelled(struct tf_run_ctx *ctx)
{
	return ctx != NULL && (ctx->cancel_after_ms < 0 ||
	    (ctx->cancel_after_ms > 0 &&
	    tf_mono_ms() - ctx->started >= ctx->cancel_after_ms));
}

/* Parses len bytes of a JSON object into *slot (replacing it). */
static int
take_object(const char *json, size_t len, cJSON **slot)
{
	cJSON *v = cJSON_ParseWithLength(json, len);

	if (v == NULL || !cJSON_IsObject(v)) {
		cJSON_Delete(v);
		return -1;
	}
	cJSON_Delete(*slot);
	*slot = v;
	return 0;
}

static int
host_set_params(struct tf_run_ctx *ctx, const char *json, size_t len)
{
	return take_object(json, len, &ctx->params);
}

static int
host_set_result(struct tf_run_ctx *ctx, const char *json, size_t len)
{
	return take_object(json, len, &ctx->result);
}

static const struct tf_host_api host = {
	.size = sizeof(struct tf_host_api),
	.log = host_log,
	.heartbeat = host_heartbeat,
	.cancelled = host_cancelled,
	.now_ms = tf_now_ms,
	.set_params = host_set_params,
	.set_result = host_set_result,
	.target_init = tf_target_host_init,
	.target_run = tf_target_runner_run,
	.target_fini = tf_target_runner_fini,
};

static const char *
outcome_name(enum tf_run_outcome o)
{
	return o == TF_RUN_SUCCESS ? "success" : o == TF_RUN_RETRY ? "retry" :
	    "failed";
}

static double
number_or(const cJSON *o, const char *key, double dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* Runs the task of one input line and prints its output line. */
static int
run_line(const struct tf_runner_set *set, const char *line)
{
	struct tf_run_ctx ctx = { 0 };
	struct tf_task_view view = { 0 };
	struct tf_run_result result;
	const struct tf_loaded_runner *r;
	cJSON *in, *out = NULL, *item = NULL;
	const cJSON *v;
	char errbuf[1024], *params = NULL, *text;
	int64_t ended;
	int rc = -1;

	in = cJSON_Parse(line);
	if (in == NULL || !cJSON_IsObject(in)) {
		fprintf(stderr, "runonce: a line is not a JSON object\n");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(in, "type");
	r = cJSON_IsString(v) ? tf_runner_set_find(set, v->valuestring) :
	    tf_runner_set_at(set, 0);
	if (r == NULL) {
		fprintf(stderr, "runonce: no such runner\n");
		goto out;
	}
	/* The params text with numbers exactly as written, as the consumer
	 * hands them over from DynamoDB. */
	if (tf_marshal_json_text(line, strlen(line), &item, errbuf,
	    sizeof(errbuf)) != TF_OK) {
		fprintf(stderr, "runonce: %s\n", errbuf);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(item, "params");
	if (v != NULL && tf_unmarshal_value_to_json_text(v, &params, errbuf,
	    sizeof(errbuf)) != TF_OK) {
		fprintf(stderr, "runonce: %s\n", errbuf);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(in, "id");
	view.size = sizeof(view);
	view.id = cJSON_IsString(v) ? v->valuestring : "runonce-task";
	view.ns = "default";
	view.type = tf_loaded_runner_name(r);
	view.params_json = params != NULL ? params : "{}";
	view.params_len = strlen(view.params_json);
	view.iteration = (int64_t)number_or(in, "iteration", 0);
	view.attempt = (int32_t)number_or(in, "attempt", 1);
	view.max_attempts = (int32_t)number_or(in, "max_attempts", 5);
	view.target_ms = (int64_t)number_or(in, "target_ms", 0);
	if (view.target_ms == 0)
		view.target_ms = tf_now_ms();
	view.deadline_ms = (int64_t)number_or(in, "deadline_ms", 0);
	view.host = &host;
	view.ctx = &ctx;
	ctx.cancel_after_ms = (int64_t)number_or(in, "cancel_after_ms", 0);
	ctx.started = tf_mono_ms();

	tf_run_result_prepare(&result, errbuf, sizeof(errbuf));
	tf_runner_invoke(r, &view, &result);
	ended = tf_now_ms();

	out = cJSON_CreateObject();
	if (out == NULL)
		goto out;
	cJSON_AddStringToObject(out, "id", view.id);
	cJSON_AddStringToObject(out, "outcome", outcome_name(result.outcome));
	cJSON_AddBoolToObject(out, "completed", result.completed != 0);
	cJSON_AddStringToObject(out, "error", result.error);
	cJSON_AddNumberToObject(out, "retry_after_ms", (double)result.retry_after_ms);
	cJSON_AddNumberToObject(out, "retry_after_in_ms", result.retry_after_ms > 0 ?
	    (double)(result.retry_after_ms - ended) : 0);
	cJSON_AddItemToObject(out, "result", ctx.result != NULL ? ctx.result :
	    cJSON_CreateNull());
	ctx.result = NULL;
	cJSON_AddItemToObject(out, "params", ctx.params != NULL ? ctx.params :
	    cJSON_CreateNull());
	ctx.params = NULL;
	cJSON_AddNumberToObject(out, "elapsed_ms", (double)(tf_mono_ms() - ctx.started));
	text = cJSON_PrintUnformatted(out);
	if (text == NULL)
		goto out;
	printf("%s\n", text);
	fflush(stdout);
	cJSON_free(text);
	rc = 0;
out:
	cJSON_Delete(ctx.result);
	cJSON_Delete(ctx.params);
	cJSON_Delete(out);
	tf_free(params);
	cJSON_Delete(item);
	cJSON_Delete(in);
	return rc;
}

int
main(int argc, char **argv)
{
	struct tf_runner_set *set = NULL;
	char err[1024], *line = NULL;
	size_t cap = 0;
	int status = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: runonce RUNNER.so < tasks.jsonl\n");
		return 2;
	}
	tf_alloc_init();
	if (tf_runner_set_load(argv[1], &set, err, sizeof(err)) != TF_OK ||
	    tf_runner_set_init(set, &host, err, sizeof(err)) != TF_OK) {
		fprintf(stderr, "runonce: %s\n", err);
		goto out;
	}
	while (getline(&line, &cap, stdin) > 0) {
		if (line[0] == '\n')
			continue;
		if (run_line(set, line) != 0)
			goto out;
	}
	status = 0;
out:
	free(line);
	tf_runner_set_free(set);
	return status;
}
