/* deleter.c - batched DeleteMessageBatch on the event loop (see deleter.h). */
#include "deleter.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws/sqs.h"
#include "aws/sqs_async.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"

/* How long tf_deleter_stop() waits for the last batches. */
#define STOP_WAIT_MS 10000

struct tf_deleter {
	struct tf_aws *aws;           /* borrowed */
	struct tf_loop *loop;         /* borrowed */
	char *queue_url;              /* owned */
	pthread_mutex_t lock;         /* guards everything below */
	pthread_cond_t idle;          /* nothing queued, posted or in flight */
	char **handles;               /* owned array of owned strings */
	size_t n, cap;
	bool posted;                  /* a kick is queued for the loop */
	bool flushing;                /* send everything at once */
	struct tf_loop_timer *linger; /* armed while a partial batch waits
	                                 (loop thread only) */
	int in_flight;                /* batches sent and not answered */
};

/* True when nothing waits, is posted or is in flight (lock held). */
static bool
is_idle(const struct tf_deleter *d)
{
	return d->n == 0 && !d->posted && d->in_flight == 0 && d->linger == NULL;
}

/* One batch in flight: its handles, for the log. */
struct batch {
	struct tf_deleter *d;
	size_t n;
};

static void
on_deleted(void *ctx, enum tf_err rc, const struct tf_sqs_batch_result *res,
    const struct tf_aws_error *err)
{
	struct batch *b = ctx;
	struct tf_deleter *d = b->d;
	size_t i;

	if (rc == TF_ERR_PARTIAL && res != NULL) {
		/* Usually an expired receipt handle: the message reappears and is
		 * then recognised as stale. */
		for (i = 0; i < res->n_failed; i++)
			tf_log(TF_LOG_WARN, "delete of a message failed: %s: %s",
			    res->failed[i].code, res->failed[i].message);
	} else if (rc != TF_OK) {
		tf_log(TF_LOG_WARN, "DeleteMessageBatch of %zu messages failed: %s "
		    "(they reappear and are dropped as stale)", b->n,
		    err != NULL && err->message[0] ? err->message : tf_strerror(rc));
	}
	pthread_mutex_lock(&d->lock);
	d->in_flight--;
	if (is_idle(d))
		pthread_cond_broadcast(&d->idle);
	pthread_mutex_unlock(&d->lock);
	tf_free(b);
}

/* On the loop, lock held: sends the first k queued handles as one batch. */
static void
send_first(struct tf_deleter *d, size_t k)
{
	struct tf_sqs_handle_entry e[TF_SQS_MAX_BATCH];
	struct batch *b = tf_malloc(sizeof(*b));
	enum tf_err rc = TF_ERR_NOMEM;
	size_t i;

	for (i = 0; i < k; i++)
		e[i] = (struct tf_sqs_handle_entry){ tf_sqs_batch_ids[i],
		    d->handles[i], 0 };
	if (b != NULL) {
		*b = (struct batch){ d, k };
		rc = tf_sqs_delete_message_batch_async(d->aws, d->loop, d->queue_url,
		    e, k, on_deleted, b);
	}
	if (rc == TF_OK) {
		d->in_flight++;
	} else {
		tf_free(b);
		tf_log(TF_LOG_WARN, "DeleteMessageBatch of %zu messages could not "
		    "start: %s (they reappear and are dropped as stale)", k,
		    tf_strerror(rc));
	}
	for (i = 0; i < k; i++)
		tf_free(d->handles[i]);
	memmove(d->handles, d->handles + k, (d->n - k) * sizeof(*d->handles));
	d->n -= k;
}

static void on_linger_over(void *ctx, enum tf_err rc);

/* On the loop, lock held: sends the full batches (all of them when `all`),
 * and lingers for the rest. */
static void
send_due(struct tf_deleter *d, bool all)
{
	while (d->n >= TF_SQS_MAX_BATCH)
		send_first(d, TF_SQS_MAX_BATCH);
	if (d->n > 0 && (all || d->flushing)) {
		send_first(d, d->n);
	}
	if (d->n > 0 && d->linger == NULL &&
	    tf_loop_after(d->loop, TF_DELETER_LINGER_MS, on_linger_over, d,
	    &d->linger) != TF_OK) {
		d->linger = NULL;
		send_first(d, d->n);
	}
	if (d->n == 0 && d->linger != NULL) {
		tf_loop_timer_cancel(d->linger);
		d->linger = NULL;
	}
	if (is_idle(d))
		pthread_cond_broadcast(&d->idle);
}

static void
on_linger_over(void *ctx, enum tf_err rc)
{
	struct tf_deleter *d = ctx;

	pthread_mutex_lock(&d->lock);
	d->linger = NULL;
	if (rc == TF_OK)
		send_due(d, true);
	pthread_mutex_unlock(&d->lock);
}

static void
on_kick(void *ctx, enum tf_err rc)
{
	struct tf_deleter *d = ctx;

	pthread_mutex_lock(&d->lock);
	d->posted = false;
	if (rc == TF_OK)
		send_due(d, false);
	else if (is_idle(d))
		pthread_cond_broadcast(&d->idle);
	pthread_mutex_unlock(&d->lock);
}

/* Lock held: has the loop look at the queue soon, unless it will. */
static void
kick(struct tf_deleter *d)
{
	if (d->posted)
		return;
	if (tf_loop_post(d->loop, on_kick, d) == TF_OK)
		d->posted = true;
}

enum tf_err
tf_deleter_start(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, struct tf_deleter **out)
{
	struct tf_deleter *d = tf_calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL)
		return TF_ERR_NOMEM;
	d->aws = aws;
	d->loop = loop;
	d->queue_url = tf_strdup(queue_url);
	if (d->queue_url == NULL) {
		tf_free(d);
		return TF_ERR_NOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->idle, NULL);
	*out = d;
	return TF_OK;
}

enum tf_err
tf_deleter_add(struct tf_deleter *d, const char *receipt_handle)
{
	char *copy = tf_strdup(receipt_handle), **grown;
	size_t cap;

	if (copy == NULL)
		return TF_ERR_NOMEM;
	pthread_mutex_lock(&d->lock);
	if (d->n == d->cap) {
		cap = d->cap ? d->cap * 2 : 4 * TF_SQS_MAX_BATCH;
		grown = tf_realloc(d->handles, cap * sizeof(*grown));
		if (grown == NULL) {
			pthread_mutex_unlock(&d->lock);
			tf_free(copy);
			return TF_ERR_NOMEM;
		}
		d->handles = grown;
		d->cap = cap;
	}
	d->handles[d->n++] = copy;
	/* The first handle arms the linger timer; a full batch goes at once. */
	if (d->n == 1 || d->n >= TF_SQS_MAX_BATCH)
		kick(d);
	pthread_mutex_unlock(&d->lock);
	return TF_OK;
}

/* Sends everything and waits up to timeout_ms until nothing is left. */
static void
drain(struct tf_deleter *d, int64_t timeout_ms)
{
	int64_t until = tf_mono_ms() + timeout_ms;
	struct timespec ts;

	pthread_mutex_lock(&d->lock);
	d->flushing = true;
	if (d->n > 0 || d->linger != NULL)
		kick(d);
	while (!is_idle(d) && tf_mono_ms() < until) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&d->idle, &d->lock, &ts);
	}
	d->flushing = false;
	pthread_mutex_unlock(&d->lock);
}

void
tf_deleter_flush(struct tf_deleter *d, int64_t timeout_ms)
{
	if (d != NULL)
		drain(d, timeout_ms);
}

void
tf_deleter_stop(struct tf_deleter *d)
{
	size_t i;
	bool idle;

	if (d == NULL)
		return;
	drain(d, STOP_WAIT_MS);
	pthread_mutex_lock(&d->lock);
	idle = is_idle(d);
	pthread_mutex_unlock(&d->lock);
	if (!idle) {
		/* The loop did not answer in time: d stays allocated, since the
		 * loop may still call back into it. */
		tf_log(TF_LOG_WARN, "stopping: %zu message(s) not deleted; they "
		    "reappear and are dropped as stale", d->n);
		return;
	}
	for (i = 0; i < d->n; i++)
		tf_free(d->handles[i]);
	tf_free(d->handles);
	tf_free(d->queue_url);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->idle);
	tf_free(d);
}
