/* callback.c - delivering a run's completion callback on the consumer's
 * event loop (callback.h): each attempt a transfer (tf_loop_easy), the wait
 * between attempts a timer, so a slow or dead receiver holds no thread; the
 * callback kept on the item (task/callback_pending.h) cleared once it is
 * over, and taken on again when its consumer died first. */
#include "callback.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ddb_async.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "loop/loop.h"
#include "task/callback_pending.h"
#include "task/due.h"
#include "webhook/callback.h"

/* Every body tf_callback_body() writes can be kept on the item. */
_Static_assert(TF_CALLBACK_BODY_MAX <= TF_CALLBACK_PENDING_BODY_MAX,
    "a callback body the item cannot keep");

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
	const char *t = getenv("TASKFLEET_CALLBACK_TIMEOUT_MS");

	env_ok = tf_callback_env_load(&env, err, sizeof(err)) == TF_OK;
	if (!env_ok) {
		tf_log(TF_LOG_ERROR, "callbacks: %s; no callback is sent", err);
		return;
	}
	if (b != NULL && atol(b) > 0)
		env.backoff_ms = atol(b);
	if (t != NULL && atol(t) > 0)
		env.timeout_ms = atol(t);
}

/* How old a pending callback must be before another consumer takes it on:
 * longer than a lease, and than its consumer may take to make all its
 * attempts (so a live consumer's slow receiver causes no second
 * delivery), plus the lease grace for clocks that disagree. */
static int64_t
take_after_ms(const struct tf_consumer *c)
{
	int64_t lease = c->o.visibility_s * 1000LL;
	int64_t most = 0, wait = env.backoff_ms;
	int i;

	for (i = 0; i < TF_CALLBACK_ATTEMPTS; i++) {
		most += env.timeout_ms + (i + 1 < TF_CALLBACK_ATTEMPTS ? wait : 0);
		wait *= 2;
	}
	return (most > lease ? most : lease) + c->cfg->lease_grace_ms;
}

/* One callback on its way; everything owned but c. */
struct tf_consumer_callback {
	struct tf_consumer *c;         /* borrowed: its loop */
	char *url;
	char *id;      /* Taskfleet-Callback-Id */
	char *body;
	char *task_id;
	cJSON *av;                     /* the callback_pending map written with
	                                  the outcome, or NULL */
	const char *finished;          /* the task's status name when COMPLETED
	                                  or FAILED (static), else NULL */
	bool recorded;                 /* on the item: cleared when over */
	struct tf_callback_attempt *a; /* the attempt in flight, or NULL */
	int attempts;
	long wait_ms;                  /* before the next attempt */
	char why[256];
};

void
tf_consumer_callback_drop(struct tf_consumer_callback *d)
{
	if (d == NULL)
		return;
	tf_callback_attempt_free(d->a);
	cJSON_Delete(d->av);
	tf_free(d->url);
	tf_free(d->id);
	tf_free(d->body);
	tf_free(d->task_id);
	tf_free(d);
}

/* A delivery of url, id and body (borrowed: copied) for task task_id; NULL
 * when out of memory or callbacks cannot be sent (logged). */
static struct tf_consumer_callback *
delivery_new(struct tf_consumer *c, const char *task_id, const char *url,
    const char *id, const char *body)
{
	struct tf_consumer_callback *d;
	struct tf_log_field f[] = { { "task", task_id } };

	pthread_once(&env_once, env_load);
	if (!env_ok)
		return NULL;
	if ((d = tf_calloc(1, sizeof(*d))) == NULL ||
	    (d->url = tf_strdup(url)) == NULL || (d->id = tf_strdup(id)) == NULL ||
	    (d->task_id = tf_strdup(task_id)) == NULL ||
	    (body != NULL && (d->body = tf_strdup(body)) == NULL)) {
		tf_log_fields(TF_LOG_WARN, f, 1, "callback not sent: out of memory");
		tf_consumer_callback_drop(d);
		return NULL;
	}
	d->c = c;
	d->wait_ms = env.backoff_ms;
	return d;
}

static void
on_cleared(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct tf_consumer_callback *d = ctx;
	struct tf_log_field f[] = { { "task", d->task_id }, { "callback", d->id } };

	(void)next_key;
	(void)err;
	cJSON_Delete(value);
	/* A condition that fails: a later run's callback replaced it, or
	 * the task is gone; neither is this one's to clear. Any other error
	 * leaves it pending: sent again a lease later (at least once). */
	if (rc != TF_OK && rc != TF_ERR_CONDITION)
		tf_log_fields(TF_LOG_WARN, f, 2, "clearing the delivered callback "
		    "failed (%s); it may be sent again", tf_strerror(rc));
	tf_consumer_callback_drop(d);
}

/* The delivery is over (sent, or failed after its attempts): off the item,
 * then freed. */
static void
clear(struct tf_consumer_callback *d)
{
	struct tf_consumer *c = d->c;
	struct tf_ddb_expr e;
	cJSON *key = NULL;
	enum tf_err rc = TF_ERR_NOMEM;

	if (!d->recorded) {
		tf_consumer_callback_drop(d);
		return;
	}
	if (tf_callback_pending_clear_build(&e, d->id, d->finished) == TF_OK &&
	    (key = tf_task_key(d->task_id)) != NULL)
		rc = tf_ddb_update_item_async(c->ctx->aws, c->loop, c->cfg->table,
		    key, &e, NULL, on_cleared, d);
	tf_ddb_expr_free(&e);
	cJSON_Delete(key);
	if (rc != TF_OK)
		on_cleared(d, rc, NULL, NULL, NULL);
}

/* Says how it went; then clears it, unless the consumer stopped first
 * (it stays pending for another consumer). */
static void
delivery_end(struct tf_consumer_callback *d, enum tf_err rc)
{
	struct tf_log_field f[] = { { "task", d->task_id }, { "callback", d->id } };

	if (rc == TF_ERR_CANCELLED) {
		tf_log_fields(TF_LOG_WARN, f, 2, "callback not sent: the consumer "
		    "stopped first%s", d->recorded ? "; another consumer sends it "
		    "a lease later" : "");
		tf_consumer_callback_drop(d);
		return;
	}
	if (rc != TF_OK)
		tf_log_fields(TF_LOG_WARN, f, 2, "callback failed after %d "
		    "attempt%s: %s", d->attempts, d->attempts == 1 ? "" : "s",
		    d->why);
	else
		tf_log_fields(TF_LOG_INFO, f, 2, "callback delivered (%d "
		    "attempt%s)", d->attempts, d->attempts == 1 ? "" : "s");
	clear(d);
}

static void start_attempt(struct tf_consumer_callback *d);

static void
on_backoff_over(void *ctx, enum tf_err rc)
{
	struct tf_consumer_callback *d = ctx;

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
	struct tf_consumer_callback *d = ctx;
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
start_attempt(struct tf_consumer_callback *d)
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

struct tf_consumer_callback *
tf_consumer_callback_prepare(struct tf_consumer *c, const struct tf_task *t,
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
	struct tf_consumer_callback *d;
	const char *url;
	char id[TF_TASK_ID_MAX + 48];

	if (state == TF_TASK_FAILED) {
		url = t->failure_callback;
		run.event = "failed";
	} else if (o->kind == TF_OUTCOME_DONE) {
		url = t->callback;
		run.event = state == TF_TASK_COMPLETED ? "completed" : "success";
	} else {
		return NULL;  /* a retry: the run is not over */
	}
	if (url == NULL || url[0] == '\0')
		return NULL;
	/* The same on every attempt and every redelivery of this run. */
	snprintf(id, sizeof(id), "%s/%" PRId64 "/%s", t->id, t->iteration,
	    run.event);
	if ((d = delivery_new(c, t->id, url, id, NULL)) == NULL)
		return NULL;
	if (tf_callback_body(&run, &d->body) != TF_OK) {
		tf_log_fields(TF_LOG_WARN, f, 1, "callback not sent: out of memory");
		tf_consumer_callback_drop(d);
		return NULL;
	}
	return d;
}

void
tf_consumer_callback_record(struct tf_consumer_callback *d, int64_t now_ms,
    struct tf_task_outcome *o)
{
	o->callback_pending = NULL;
	o->callback_due_at = 0;
	if (d == NULL || strlen(d->body) > TF_CALLBACK_PENDING_BODY_MAX)
		return;
	cJSON_Delete(d->av);
	d->av = tf_callback_pending_av(d->url, d->id, d->body, now_ms, 0);
	o->callback_pending = d->av;
	/* The sweeper looks at it when another consumer may take it on
	 * (due.h: as at the end of a lease). */
	o->callback_due_at = tf_due_at_lease(NULL, now_ms + take_after_ms(d->c));
}

void
tf_consumer_callback_send(struct tf_consumer_callback *d,
    enum tf_task_status state)
{
	if (d == NULL)
		return;
	d->recorded = d->av != NULL;
	d->finished = state == TF_TASK_COMPLETED || state == TF_TASK_FAILED ?
	    tf_task_status_name(state) : NULL;
	start_attempt(d);
}

/* ---- taking on a callback whose consumer died ---- */

/* A pending callback being taken on; everything owned but c. */
struct rescue {
	struct tf_consumer *c;
	char *task_id;
	struct tf_callback_pending p;
	const char *finished;          /* as in struct tf_consumer_callback */
};

static void
rescue_free(struct rescue *k)
{
	tf_callback_pending_free(&k->p);
	tf_free(k->task_id);
	tf_free(k);
}

/* The take was written: this consumer sends it (clearing it after). */
static void
on_taken(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct rescue *k = ctx;
	struct tf_consumer_callback *d;
	struct tf_log_field f[] = { { "task", k->task_id }, { "callback", k->p.id } };

	(void)next_key;
	(void)err;
	cJSON_Delete(value);
	if (rc == TF_OK &&
	    (d = delivery_new(k->c, k->task_id, k->p.url, k->p.id, k->p.body)) !=
	    NULL) {
		tf_log_fields(TF_LOG_WARN, f, 2, "callback left pending by a "
		    "consumer that stopped %" PRId64 " ms ago: sending it",
		    tf_now_ms() - k->p.since);
		d->recorded = true;
		d->finished = k->finished;
		start_attempt(d);
	} else if (rc != TF_OK && rc != TF_ERR_CONDITION) {
		tf_log_fields(TF_LOG_WARN, f, 2, "taking on a pending callback "
		    "failed: %s", tf_strerror(rc));
	}
	rescue_free(k);
}

/* Task task_id (borrowed) of status `status` holds pending callback av_text
 * (borrowed): taken on when it is a lease old. On the loop. */
static void
rescue_pending(struct tf_consumer *c, const char *task_id,
    enum tf_task_status status, const char *av_text)
{
	struct rescue *k;
	struct tf_ddb_expr e;
	cJSON *key = NULL;
	int64_t now = tf_now_ms(), after;
	bool finished = status == TF_TASK_COMPLETED || status == TF_TASK_FAILED;
	enum tf_err rc = TF_ERR_NOMEM;

	if (av_text == NULL || (k = tf_calloc(1, sizeof(*k))) == NULL)
		return;
	pthread_once(&env_once, env_load);
	after = take_after_ms(c);
	k->c = c;
	k->finished = finished ? tf_task_status_name(status) : NULL;
	if ((k->task_id = tf_strdup(task_id)) == NULL ||
	    tf_callback_pending_parse(av_text, &k->p) != TF_OK ||
	    k->p.since + after >= now) {
		rescue_free(k);  /* unreadable, or its consumer may be at it */
		return;
	}
	if (k->p.attempts >= TF_CALLBACK_PENDING_TAKES) {
		struct tf_consumer_callback *d;
		struct tf_log_field f[] = { { "task", task_id },
		    { "callback", k->p.id } };

		/* Taken on this often, each time by a consumer that died
		 * before it was over: dropped, lest it stop every consumer that
		 * takes it on. */
		tf_log_fields(TF_LOG_ERROR, f, 2, "callback dropped: %" PRId64
		    " consumers took it on and none finished it", k->p.attempts);
		if ((d = delivery_new(c, task_id, k->p.url, k->p.id, NULL)) !=
		    NULL) {
			d->recorded = true;
			d->finished = k->finished;
			clear(d);
		}
		rescue_free(k);
		return;
	}
	if (tf_callback_pending_take_build(&e, &k->p, now, finished ?
	    tf_due_at_lease(NULL, now + after) : 0) == TF_OK &&
	    (key = tf_task_key(task_id)) != NULL)
		rc = tf_ddb_update_item_async(c->ctx->aws, c->loop, c->cfg->table,
		    key, &e, NULL, on_taken, k);
	tf_ddb_expr_free(&e);
	cJSON_Delete(key);
	if (rc != TF_OK)
		rescue_free(k);
}

void
tf_consumer_callback_rescue_task(struct tf_consumer *c, const struct tf_task *t)
{
	if (t->callback_pending_av != NULL)
		rescue_pending(c, t->id, t->status, t->callback_pending_av);
}

/* A task id the sweeper handed over, read on the loop; owned. */
struct rescue_read {
	struct tf_consumer *c;
	char *id;
};

static void
on_rescue_read(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct rescue_read *q = ctx;
	struct tf_task t;
	char why[128];

	(void)next_key;
	(void)err;
	memset(&t, 0, sizeof(t));
	if (rc == TF_OK && tf_task_from_item(value, &t, why, sizeof(why)) == TF_OK)
		tf_consumer_callback_rescue_task(q->c, &t);
	tf_task_free(&t);
	cJSON_Delete(value);
	tf_free(q->id);
	tf_free(q);
}

/* On the loop: reads the task the sweeper named. */
static void
on_rescue_posted(void *ctx, enum tf_err rc)
{
	struct rescue_read *q = ctx;
	cJSON *key = NULL;

	if (rc == TF_OK && (key = tf_task_key(q->id)) != NULL &&
	    tf_ddb_get_item_async(q->c->ctx->aws, q->c->loop, q->c->cfg->table,
	    key, true, NULL, on_rescue_read, q) == TF_OK) {
		cJSON_Delete(key);
		return;
	}
	cJSON_Delete(key);
	tf_free(q->id);
	tf_free(q);
}

void
tf_consumer_callback_rescue(void *arg, const char *id)
{
	struct rescue_read *q = tf_calloc(1, sizeof(*q));

	if (q == NULL || (q->id = tf_strdup(id)) == NULL) {
		tf_free(q);
		return;
	}
	q->c = arg;
	if (tf_loop_post(q->c->loop, on_rescue_posted, q) != TF_OK) {
		tf_free(q->id);
		tf_free(q);
	}
}
