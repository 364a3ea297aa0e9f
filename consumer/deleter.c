/* deleter.c - batched DeleteMessageBatch from a thread of its own. */
#include "deleter.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"

struct pending {
	char *handle;             /* owned */
	struct pending *next;
};

struct tf_deleter {
	struct tf_aws *aws;       /* borrowed */
	char *queue_url;          /* owned */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t drained;   /* a batch was sent (for flushes) */
	struct pending *head, *tail;  /* owned list, oldest first */
	size_t n;
	int64_t oldest_ms;        /* when the head was queued (monotonic) */
	int sending;              /* a batch is being sent */
	int flushing;             /* send at once, without lingering */
	int stopping;
};

/* Deletes up to ten handles taken from the list; frees them. */
static void
send_batch(struct tf_deleter *d, struct pending *batch)
{
	struct tf_sqs_handle_entry e[TF_SQS_MAX_BATCH];
	struct tf_sqs_batch_result res;
	char ids[TF_SQS_MAX_BATCH][4];
	struct pending *p, *next;
	size_t n = 0, i;
	enum tf_err rc;

	for (p = batch; p != NULL && n < TF_SQS_MAX_BATCH; p = p->next, n++) {
		snprintf(ids[n], sizeof(ids[n]), "%zu", n);
		e[n] = (struct tf_sqs_handle_entry){ ids[n], p->handle, 0 };
	}
	rc = tf_sqs_delete_message_batch(d->aws, d->queue_url, e, n, &res);
	if (rc == TF_ERR_PARTIAL) {
		/* Usually an expired receipt handle: the message reappears and is
		 * then recognised as stale. */
		for (i = 0; i < res.n_failed; i++)
			tf_log(TF_LOG_WARN, "delete of a message failed: %s: %s",
			    res.failed[i].code, res.failed[i].message);
	} else if (rc != TF_OK) {
		tf_log(TF_LOG_WARN, "DeleteMessageBatch of %zu messages failed: %s "
		    "(they reappear and are dropped as stale)", n, tf_strerror(rc));
	}
	if (rc == TF_OK || rc == TF_ERR_PARTIAL)
		tf_sqs_batch_result_free(&res);
	for (p = batch; p != NULL; p = next) {
		next = p->next;
		tf_free(p->handle);
		tf_free(p);
	}
}

/* Takes up to ten handles off the list (lock held). */
static struct pending *
take_batch(struct tf_deleter *d)
{
	struct pending *batch = d->head, *p = d->head;
	size_t n = 1;

	if (p == NULL)
		return NULL;
	while (p->next != NULL && n < TF_SQS_MAX_BATCH) {
		p = p->next;
		n++;
	}
	d->head = p->next;
	if (d->head == NULL)
		d->tail = NULL;
	p->next = NULL;
	d->n -= n;
	d->oldest_ms = tf_mono_ms();
	return batch;
}

static void *
deleter_main(void *arg)
{
	struct tf_deleter *d = arg;
	struct pending *batch;
	struct timespec ts;
	int64_t wait_until;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (d->n == 0 && !d->stopping)
			pthread_cond_wait(&d->wake, &d->lock);
		if (d->n == 0 && d->stopping)
			break;
		/* Linger for a fuller batch unless stopping or full. */
		wait_until = d->oldest_ms + TF_DELETER_LINGER_MS;
		while (d->n < TF_SQS_MAX_BATCH && !d->stopping && !d->flushing &&
		    tf_mono_ms() < wait_until) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 5 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&d->wake, &d->lock, &ts);
		}
		batch = take_batch(d);
		d->sending = 1;
		pthread_mutex_unlock(&d->lock);
		send_batch(d, batch);
		pthread_mutex_lock(&d->lock);
		d->sending = 0;
		pthread_cond_broadcast(&d->drained);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

enum tf_err
tf_deleter_start(struct tf_aws *aws, const char *queue_url,
    struct tf_deleter **out)
{
	struct tf_deleter *d;

	*out = NULL;
	d = tf_calloc(1, sizeof(*d));
	if (d == NULL)
		return TF_ERR_NOMEM;
	d->aws = aws;
	d->queue_url = tf_strdup(queue_url);
	if (d->queue_url == NULL) {
		tf_free(d);
		return TF_ERR_NOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	pthread_cond_init(&d->drained, NULL);
	if (pthread_create(&d->thread, NULL, deleter_main, d) != 0) {
		pthread_mutex_destroy(&d->lock);
		pthread_cond_destroy(&d->wake);
		pthread_cond_destroy(&d->drained);
		tf_free(d->queue_url);
		tf_free(d);
		return TF_ERR_NOMEM;
	}
	*out = d;
	return TF_OK;
}

enum tf_err
tf_deleter_add(struct tf_deleter *d, const char *receipt_handle)
{
	struct pending *p = tf_calloc(1, sizeof(*p));

	if (p == NULL || (p->handle = tf_strdup(receipt_handle)) == NULL) {
		tf_free(p);
		return TF_ERR_NOMEM;
	}
	pthread_mutex_lock(&d->lock);
	if (d->tail == NULL) {
		d->head = d->tail = p;
		d->oldest_ms = tf_mono_ms();
	} else {
		d->tail->next = p;
		d->tail = p;
	}
	d->n++;
	if (d->n == 1 || d->n >= TF_SQS_MAX_BATCH)
		pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	return TF_OK;
}

void
tf_deleter_flush(struct tf_deleter *d, int64_t timeout_ms)
{
	int64_t until = tf_mono_ms() + timeout_ms;
	struct timespec ts;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->flushing = 1;
	pthread_cond_signal(&d->wake);
	while ((d->n > 0 || d->sending) && tf_mono_ms() < until) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&d->drained, &d->lock, &ts);
	}
	d->flushing = 0;
	pthread_mutex_unlock(&d->lock);
}

void
tf_deleter_stop(struct tf_deleter *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = 1;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->drained);
	tf_free(d->queue_url);
	tf_free(d);
}
