/* callback.c - delivering a run's completion callback on the consumer's
 * event loop: each attempt a transfer (tf_loop_easy), the wait between
 * attempts a timer, so a slow or dead receiver holds no thread. */
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

/* One callback on its way; everything owned but c. */
struct delivery {
	struct tf_consumer *c;         /* borrowed: its loop */
	char *url;
	char *id;      /* Taskfleet-Callback-Id */
	char *body;
	char *task_id;
	struct tf_callback_attempt *a; /* the attempt in flight, or NULL */
	int attempts;
	long wait_ms;                  /* before the next attempt */
	char why[256];
};

static void
delivery_free(struct delivery *d)
{
	tf_callback_attempt_free(d->a);
	tf_free(d->url);
	tf_free(d->id);
	tf_free(d->body);
	tf_free(d->task_id);
	tf_free(d);
}

/* Says how it went and frees d. */
static void
delivery_end(struct delivery *d, enum tf_err rc)
{
	struct tf_log_field f[] = { { "task", d->task_id }, { "callback", d->id } };

	if (rc == TF_ERR_CANCELLED)
		tf_log_fields(TF_LOG_WARN, f, 2, "callback not sent: the consumer "
		    "stopped first");
	else if (rc != TF_OK)
		tf_log_fields(TF_LOG_WARN, f, 2, "callback failed after %d "
		    "attempt%s: %s", d->attempts, d->attempts == 1 ? "" : "s",
		    d->why);
	else
		tf_log_fields(TF_LOG_INFO, f, 2, "callback delivered (%d "
		    "attempt%s)", d->attempts, d->attempts == 1 ? "" : "s");
	delivery_free(d);
}

static void start_attempt(struct delivery *d);

static void
on_backoff_over(void *ctx, enum tf_err rc)
{
	struct delivery *d = ctx;

	if (rc != TF_OK) {
		delivery_end(d, TF_ERR_CANCELLED);
		return;
	}
	start_attempt(d);
}

/* On the loop: an attempt's transfer ended. */
static void
on_attempt_done(void *ctx, CURLcode cc, CURL *easy)
{
	struct delivery *d = ctx;
	enum tf_err rc;

	(void)easy;
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		delivery_end(d, TF_ERR_CANCELLED);  /* the loop stopped */
		return;
	}
	rc = tf_callback_attempt_judge(d->a, cc, d->why, sizeof(d->why));
	tf_callback_attempt_free(d->a);
	d->a = NULL;
	if (rc != TF_ERR_IO || d->attempts >= TF_CALLBACK_ATTEMPTS) {
		delivery_end(d, rc);
		return;
	}
	rc = tf_loop_after(d->c->loop, d->wait_ms, on_backoff_over, d, NULL);
	d->wait_ms *= 2;
	if (rc != TF_OK)
		delivery_end(d, rc);
}

static void
start_attempt(struct delivery *d)
{
	enum tf_err rc;

	d->attempts++;
	rc = tf_callback_attempt_new(&env, d->url, d->id, d->body, &d->a,
	    d->why, sizeof(d->why));
	if (rc == TF_OK)
		rc = tf_loop_easy(d->c->loop, tf_callback_attempt_easy(d->a),
		    on_attempt_done, d, NULL);
	if (rc != TF_OK)
		delivery_end(d, rc);
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
	d->c = c;
	d->wait_ms = env.backoff_ms;
	start_attempt(d);
}
