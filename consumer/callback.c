/* callback.c - delivering a run's completion callback off the loop. */
#include "callback.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "loop/loop.h"
#include "webhook/callback.h"

/* The signing keys and SSRF lists, read once from the environment as the
 * http runner reads them; kept for the process's lifetime. */
static struct tf_callback_env env;
static bool env_ok;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void
env_load(void)
{
	char err[256];
	const char *b = getenv("TASKFLEET_CALLBACK_BACKOFF_MS");

	env_ok = tf_callback_env_load(&env, err, sizeof(err)) == TF_OK;
	if (!env_ok)
		tf_log(TF_LOG_ERROR, "callbacks: %s; no callback is sent", err);
	else if (b != NULL && atol(b) > 0)
		env.backoff_ms = atol(b);
}

/* One callback on its way; everything owned. */
struct delivery {
	char *url;
	char *id;      /* Taskfleet-Callback-Id */
	char *body;
	char *task_id;
	enum tf_err rc;
	int attempts;
	char why[256];
};

static void
delivery_free(struct delivery *d)
{
	tf_free(d->url);
	tf_free(d->id);
	tf_free(d->body);
	tf_free(d->task_id);
	tf_free(d);
}

/* On a pool thread: the POST and its retries. */
static void
deliver(void *ctx)
{
	struct delivery *d = ctx;

	d->rc = tf_callback_deliver(&env, d->url, d->id, d->body, &d->attempts,
	    d->why, sizeof(d->why));
}

/* Back on the loop: says how it went. */
static void
on_delivered(void *ctx, enum tf_err rc)
{
	struct delivery *d = ctx;
	struct tf_log_field f[] = { { "task", d->task_id }, { "callback", d->id } };

	if (rc == TF_ERR_CANCELLED)
		tf_log_fields(TF_LOG_WARN, f, 2, "callback not sent: the consumer "
		    "stopped first");
	else if (d->rc != TF_OK)
		tf_log_fields(TF_LOG_WARN, f, 2, "callback failed after %d "
		    "attempt%s: %s", d->attempts, d->attempts == 1 ? "" : "s",
		    d->why);
	else
		tf_log_fields(TF_LOG_INFO, f, 2, "callback delivered (%d "
		    "attempt%s)", d->attempts, d->attempts == 1 ? "" : "s");
	delivery_free(d);
}

void
tf_consumer_callback(struct tf_consumer *c, const struct tf_task *t,
    const struct tf_task_outcome *o, enum tf_task_status state,
    int64_t finished_ms)
{
	struct tf_callback_run run = {
		.task_id = t->id, .ns = t->ns, .type = t->type,
		.iteration = t->iteration, .attempt = t->attempts + 1,
		.error = o->error, .result_json = o->result_json,
		.duration_ms = o->duration_ms, .finished_ms = finished_ms,
	};
	struct tf_log_field f[] = { { "task", t->id } };
	const char *url;
	struct delivery *d;
	char id[TF_TASK_ID_MAX + 48];

	if (state == TF_TASK_FAILED) {
		url = t->failure_callback;
		run.event = "failed";
	} else if (o->kind == TF_OUTCOME_DONE) {
		url = t->callback;
		run.event = state == TF_TASK_COMPLETED ? "completed" : "success";
	} else {
		return;  /* a retry: the run is not over */
	}
	if (url == NULL || url[0] == '\0')
		return;
	pthread_once(&env_once, env_load);
	if (!env_ok)
		return;
	/* The same on every attempt and every redelivery of this run. */
	snprintf(id, sizeof(id), "%s/%" PRId64 "/%s", t->id, t->iteration,
	    run.event);
	if ((d = tf_calloc(1, sizeof(*d))) == NULL ||
	    (d->url = tf_strdup(url)) == NULL || (d->id = tf_strdup(id)) == NULL ||
	    (d->task_id = tf_strdup(t->id)) == NULL ||
	    tf_callback_body(&run, &d->body) != TF_OK) {
		tf_log_fields(TF_LOG_WARN, f, 1, "callback not sent: out of memory");
		if (d != NULL)
			delivery_free(d);
		return;
	}
	if (tf_loop_work(c->loop, deliver, on_delivered, d) != TF_OK) {
		tf_log_fields(TF_LOG_WARN, f, 1, "callback not sent: cannot hand "
		    "it to a thread");
		delivery_free(d);
	}
}
