/* once.c - what `--once` runs, what it holds back, and its summary. */
#include "once.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "metrics.h"
#include "task/task.h"

/* Buckets of the set of claimed task ids (chained). */
#define CLAIMED_BUCKETS 1024

struct claimed {
	struct claimed *next;
	char id[];                        /* the task id */
};

struct tf_once {
	int64_t cutoff_ms;                /* the drain's start: epoch ms */
	int64_t hold_ms;                  /* an early message's hold */
	pthread_mutex_t lock;             /* guards claimed */
	struct claimed *claimed[CLAIMED_BUCKETS];
	struct tf_sqs_message *held;      /* owned array (receiver only) */
	size_t n_held, cap_held;
	atomic_long receive_failures;     /* drains ended by receive failures */
};

enum tf_err
tf_once_new(int64_t cutoff_ms, int64_t hold_ms, struct tf_once **out)
{
	struct tf_once *o = tf_calloc(1, sizeof(*o));

	*out = NULL;
	if (o == NULL)
		return TF_ERR_NOMEM;
	o->cutoff_ms = cutoff_ms;
	o->hold_ms = hold_ms;
	pthread_mutex_init(&o->lock, NULL);
	*out = o;
	return TF_OK;
}

void
tf_once_free(struct tf_once *o)
{
	struct claimed *e, *next;
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < CLAIMED_BUCKETS; i++) {
		for (e = o->claimed[i]; e != NULL; e = next) {
			next = e->next;
			tf_free(e);
		}
	}
	tf_sqs_messages_free(o->held, o->n_held);
	pthread_mutex_destroy(&o->lock);
	tf_free(o);
}

/* FNV-1a of id, reduced to a bucket. */
static size_t
bucket_of(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % CLAIMED_BUCKETS;
}

/* True when this invocation claimed task id. */
static bool
was_claimed(struct tf_once *o, const char *id)
{
	const struct claimed *e;
	bool found = false;

	pthread_mutex_lock(&o->lock);
	for (e = o->claimed[bucket_of(id)]; e != NULL && !found; e = e->next)
		found = strcmp(e->id, id) == 0;
	pthread_mutex_unlock(&o->lock);
	return found;
}

void
tf_once_claimed(struct tf_once *o, const char *id)
{
	size_t b, len;
	struct claimed *e;

	if (o == NULL || was_claimed(o, id))
		return;
	len = strlen(id);
	/* Out of memory: its next message may run in this invocation too,
	 * still once per iteration (the claim sees to that). */
	if ((e = tf_malloc(sizeof(*e) + len + 1)) == NULL)
		return;
	memcpy(e->id, id, len + 1);
	b = bucket_of(id);
	pthread_mutex_lock(&o->lock);
	e->next = o->claimed[b];
	o->claimed[b] = e;
	pthread_mutex_unlock(&o->lock);
}

/* Keeps m (its strings taken over) among the held messages; a message held
 * before and received again (its visibility ran out) replaces the old copy,
 * whose receipt handle no longer counts. False when out of memory. */
static bool
hold(struct tf_once *o, struct tf_sqs_message *m)
{
	struct tf_sqs_message *grown;
	size_t i, cap;

	for (i = 0; i < o->n_held; i++) {
		if (strcmp(o->held[i].message_id, m->message_id) == 0) {
			tf_sqs_message_clear(&o->held[i]);
			o->held[i] = *m;
			memset(m, 0, sizeof(*m));
			return true;
		}
	}
	if (o->n_held == o->cap_held) {
		cap = o->cap_held ? o->cap_held * 2 : 16;
		grown = tf_realloc(o->held, cap * sizeof(*grown));
		if (grown == NULL)
			return false;
		o->held = grown;
		o->cap_held = cap;
	}
	o->held[o->n_held++] = *m;
	memset(m, 0, sizeof(*m));
	return true;
}

bool
tf_once_admit(struct tf_once *o, struct tf_sqs_message *m, bool *held_now)
{
	struct tf_task_message msg;
	char err[128];

	*held_now = false;
	if (tf_task_message_parse(m->body, &msg, err, sizeof(err)) != TF_OK)
		return true;
	if (msg.target_ms <= o->cutoff_ms + o->hold_ms &&
	    !was_claimed(o, msg.id))
		return true;
	*held_now = hold(o, m);
	return false;
}

void
tf_once_receive_failed(struct tf_once *o)
{
	atomic_fetch_add(&o->receive_failures, 1);
}

const struct tf_sqs_message *
tf_once_held(const struct tf_once *o, size_t *n)
{
	*n = o->n_held;
	return o->held;
}

long
tf_once_summary(struct tf_once *o, const struct tf_metrics *m,
    FILE *out)
{
	struct tf_metrics_totals t;
	long runs = 0, errors;
	int i;

	tf_metrics_totals(m, &t);
	for (i = 0; i < TF_METRICS__OUTCOMES; i++)
		runs += t.runs[i];
	errors = t.runs[TF_METRICS_WRITE_FAILED] + t.runs[TF_METRICS_LEASE_LOST] +
	    t.claims_lost[TF_METRICS_LOST_ERROR] +
	    atomic_load(&o->receive_failures);
	fprintf(out, "taskfleet-consumer --once: runs=%ld completed=%ld "
	    "succeeded=%ld retried=%ld failed=%ld errors=%ld left=%zu\n", runs,
	    t.runs[TF_METRICS_COMPLETED], t.runs[TF_METRICS_SUCCESS],
	    t.runs[TF_METRICS_RETRY], t.runs[TF_METRICS_FAILED], errors,
	    o->n_held);
	fflush(out);
	return errors;
}
