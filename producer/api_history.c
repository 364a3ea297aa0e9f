/*
 * api_history.c - the stats over time (api_history.h): the sampling thread
 * and its ring.
 */
#include "api_history.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/ticker.h"
#include "task/dlq.h"
#include "task/task.h"
#include "task/task_manage.h"

/* One sample. */
struct sample {
	int64_t t;                        /* epoch ms */
	int64_t by_status[TF_TASK__STATUSES];
	int64_t total;
	bool has_queue, has_dlq;
	struct tf_sqs_depth queue, dlq;
};

struct api_history {
	struct cli *c;                    /* borrowed */
	int64_t every_ms;
	char *dlq_url;                    /* owned; found at the first sample;
	                                     only the thread touches it */
	pthread_mutex_t lock;             /* guards ring, n, head */
	struct sample ring[API_HISTORY_SAMPLES];
	size_t n, head;                   /* samples held; the next slot */
	struct tf_ticker ticker;          /* the sampling thread, once started */
};

struct api_history *
api_history_new(struct cli *c, int64_t every_ms)
{
	struct api_history *h = tf_calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->c = c;
	h->every_ms = every_ms;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

/* Takes one sample into *s. False (logged) when the tasks could not be
 * counted: no sample then. A queue that cannot be read is null in it. */
static bool
take(struct api_history *h, struct sample *s)
{
	struct cli *c = h->c;
	struct tf_manage_counts counts;
	char reason[800];
	enum tf_err rc;

	memset(s, 0, sizeof(*s));
	s->t = tf_now_ms();
	rc = tf_manage_count(c->ctx.aws, c->cfg.table, NULL, &counts);
	if (rc != TF_OK) {
		tf_aws_reason(rc, reason, sizeof(reason));
		tf_log(TF_LOG_WARN, "api: stats history: counting the tasks: %s; "
		    "no sample", reason);
		return false;
	}
	memcpy(s->by_status, counts.by_status, sizeof(s->by_status));
	s->total = counts.total;
	s->has_queue = tf_sqs_queue_depth(c->ctx.aws, c->ctx.queue_url,
	    &s->queue) == TF_OK;
	if (h->dlq_url == NULL &&
	    tf_dlq_find(c->ctx.aws, c->ctx.queue_url, &h->dlq_url) != TF_OK)
		h->dlq_url = NULL;
	s->has_dlq = h->dlq_url != NULL && tf_sqs_queue_depth(c->ctx.aws,
	    h->dlq_url, &s->dlq) == TF_OK;
	return true;
}

/* One sample into the ring (tf_ticker: now, then every every_ms). */
static void
sample_tick(void *arg)
{
	struct api_history *h = arg;
	struct sample s;

	if (!take(h, &s))
		return;
	pthread_mutex_lock(&h->lock);
	h->ring[h->head] = s;
	h->head = (h->head + 1) % API_HISTORY_SAMPLES;
	if (h->n < API_HISTORY_SAMPLES)
		h->n++;
	pthread_mutex_unlock(&h->lock);
}

enum tf_err
api_history_start(struct api_history *h)
{
	return tf_ticker_start(&h->ticker, h->every_ms, true, sample_tick, h);
}

void
api_history_free(struct api_history *h)
{
	if (h == NULL)
		return;
	tf_ticker_stop(&h->ticker);
	pthread_mutex_destroy(&h->lock);
	tf_free(h->dlq_url);
	tf_free(h);
}

/* Adds {"visible", "in_flight", "delayed"} of d, or null, as key. */
static bool
add_depth(cJSON *o, const char *key, bool known, const struct tf_sqs_depth *d)
{
	cJSON *q;

	if (!known)
		return cJSON_AddNullToObject(o, key) != NULL;
	q = cJSON_AddObjectToObject(o, key);
	return q != NULL &&
	    cJSON_AddNumberToObject(q, "visible", (double)d->visible) != NULL &&
	    cJSON_AddNumberToObject(q, "in_flight", (double)d->in_flight) != NULL &&
	    cJSON_AddNumberToObject(q, "delayed", (double)d->delayed) != NULL;
}

/* Adds sample s to arr. */
static bool
add_sample(cJSON *arr, const struct sample *s)
{
	cJSON *o = cJSON_CreateObject(), *by;
	int i;

	if (o == NULL || !cJSON_AddItemToArray(arr, o))
		return false;
	if (cJSON_AddNumberToObject(o, "t", (double)s->t) == NULL ||
	    (by = cJSON_AddObjectToObject(o, "tasks")) == NULL)
		return false;
	for (i = 0; i < TF_TASK__STATUSES; i++)
		if (cJSON_AddNumberToObject(by, tf_task_status_name(
		    (enum tf_task_status)i), (double)s->by_status[i]) == NULL)
			return false;
	return cJSON_AddNumberToObject(o, "total", (double)s->total) != NULL &&
	    add_depth(o, "queue", s->has_queue, &s->queue) &&
	    add_depth(o, "dlq", s->has_dlq, &s->dlq);
}

cJSON *
api_history_json(struct api_history *h)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	size_t i, at;
	bool good;

	arr = cJSON_AddArrayToObject(o, "samples");
	good = arr != NULL &&
	    cJSON_AddNumberToObject(o, "every_ms", (double)h->every_ms) != NULL;
	pthread_mutex_lock(&h->lock);
	for (i = 0; good && i < h->n; i++) {
		at = (h->head + API_HISTORY_SAMPLES - h->n + i) % API_HISTORY_SAMPLES;
		good = add_sample(arr, &h->ring[at]);
	}
	pthread_mutex_unlock(&h->lock);
	if (!good) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
