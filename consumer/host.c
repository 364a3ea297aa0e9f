/* host.c - logging, heartbeats, time and hand-overs for runners. */
#include "host.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "async_run.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "target/target_run.h"

void
tf_host_vlog(const char *task_id, const char *runner,
    enum tf_runner_log_level level, const char *fmt, va_list ap)
{
	struct tf_buf msg = TF_BUF_INIT;
	struct tf_log_field fields[2] = {
		{ "task", task_id }, { "runner", runner },
	};
	enum tf_log_level l;

	switch (level) {
	case TF_RUNNER_LOG_DEBUG: l = TF_LOG_DEBUG; break;
	case TF_RUNNER_LOG_WARN: l = TF_LOG_WARN; break;
	case TF_RUNNER_LOG_ERROR: l = TF_LOG_ERROR; break;
	default: l = TF_LOG_INFO; break;
	}
	if (!tf_log_enabled(l))
		return;
	tf_buf_vappendf(&msg, fmt, ap);
	tf_log_fields(l, fields, 2, "%s", tf_buf_str(&msg));
	tf_buf_free(&msg);
}

static void host_log(struct tf_run_ctx *ctx, enum tf_runner_log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
host_log(struct tf_run_ctx *ctx, enum tf_runner_log_level level,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tf_host_vlog(ctx ? ctx->task_id : NULL, ctx ? ctx->runner : NULL, level,
	    fmt, ap);
	va_end(ap);
}

/* Asks the loop to extend the run's lease and visibility at its next tick
 * and answers from the state the loop keeps (inflight.h): it never blocks,
 * so a runner may call it from any thread, the loop's included. */
static int
host_heartbeat(struct tf_run_ctx *ctx)
{
	if (ctx == NULL)
		return -1;
	return tf_heartbeat_extend_now(ctx->c->hb, ctx->f);
}

/* True once the lease is lost or the clock says it is about to end (whatever
 * the heartbeat did), the shutdown timeout passed, or the run's time
 * limit (f->deadline_ms, set by tf_consumer_invoke()) is over. */
static int
host_cancelled(struct tf_run_ctx *ctx)
{
	int64_t deadline;

	if (ctx == NULL)
		return 0;
	if (atomic_load(&ctx->f->lost) || atomic_load(&ctx->c->abandon) ||
	    tf_inflight_lease_ending(ctx->f, tf_mono_ms(),
	    tf_heartbeat_margin_ms(ctx->c->o.visibility_s)))
		return 1;
	deadline = ctx->f->deadline_ms;
	return deadline > 0 && tf_now_ms() >= deadline;
}

static int64_t
host_now_ms(void)
{
	return tf_now_ms();
}

int
tf_host_take_document(char **slot, const char *json, size_t len)
{
	cJSON *doc;
	char *copy;

	if (json == NULL || len > TF_HOST_MAX_DOCUMENT)
		return -1;
	doc = cJSON_ParseWithLength(json, len);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return -1;
	}
	cJSON_Delete(doc);
	copy = tf_strndup(json, len);
	if (copy == NULL)
		return -1;
	tf_free(*slot);
	*slot = copy;
	return 0;
}

static int
host_set_params(struct tf_run_ctx *ctx, const char *json, size_t len)
{
	return ctx ? tf_host_take_document(&ctx->new_params, json, len) : -1;
}

static int
host_set_result(struct tf_run_ctx *ctx, const char *json, size_t len)
{
	return ctx ? tf_host_take_document(&ctx->result_json, json, len) : -1;
}

static const struct tf_host_api host = {
	.size = sizeof(struct tf_host_api),
	.log = host_log,
	.heartbeat = host_heartbeat,
	.cancelled = host_cancelled,
	.now_ms = host_now_ms,
	.set_params = host_set_params,
	.set_result = host_set_result,
	.complete = tf_async_complete,
	.http = tf_async_http,
	.after = tf_async_after,
	.target_init = tf_target_host_init,
	.target_run = tf_target_runner_run,
	.target_fini = tf_target_runner_fini,
};

const struct tf_host_api *
tf_host_api(void)
{
	return &host;
}

void
tf_run_ctx_clear(struct tf_run_ctx *ctx)
{
	tf_free(ctx->new_params);
	tf_free(ctx->result_json);
	ctx->new_params = ctx->result_json = NULL;
}
