/* inflight.c - the registry of running tasks and its heartbeat, a timer on
 * the consumer's event loop. */
#include "inflight.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aws/sqs.h"
#include "aws/sqs_async.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "task/priority.h"
#include "task/task_async.h"

struct tf_heartbeat {
	struct tf_heartbeat_opts o;
	struct tf_loop_timer *timer;  /* the next tick; NULL once cancelled */
	pthread_mutex_t lock;     /* guards the list's links (the watchdog reads
	                             it from its thread); the loop alone writes */
	struct tf_inflight *head; /* borrowed entries */
	atomic_llong alive_ms;    /* the last tick, monotonic */
	atomic_long lease_calls, visibility_calls, visibility_entries;
};

/* A ChangeMessageVisibilityBatch being filled, then in flight. */
struct vis_batch {
	struct tf_heartbeat *hb;
	const char *queue_url;    /* borrowed: every message's queue */
	size_t n;
	struct tf_inflight *f[TF_SQS_MAX_BATCH];  /* borrowed: each stays
	                                             registered or its removal
	                                             waits (pending) */
};

long
tf_heartbeat_call_timeout_ms(int visibility_s)
{
	long t = visibility_s * 1000L / 8;

	return t < 1000 ? 1000 : t > 5000 ? 5000 : t;
}

int64_t
tf_heartbeat_margin_ms(int visibility_s)
{
	int64_t m = visibility_s * 1000LL / 4;

	/* Always below half the visibility, when extensions start. */
	return m > 15000 ? 15000 : m;
}

/* Marks run f lost because its lease ends in left_ms unextended; logs it
 * the first time. */
static void
cancel_unextended(struct tf_inflight *f, int64_t left_ms)
{
	struct tf_log_field fields[] = { { "task", f->task_id } };

	if (atomic_exchange(&f->lost, 1) == 0)
		tf_log_fields(TF_LOG_WARN, fields, 1, "the lease could not be "
		    "extended and ends in %lld ms: cancelling the run (its result "
		    "will be discarded; the task is retried after the lease)",
		    (long long)left_ms);
}

/* Cancels every run whose lease runs out within the margin: its extensions
 * failed (AWS unreachable or throttling), and once the lease is over the
 * sweeper of another consumer may start the task again. An extension in
 * flight (bounded by the client's short timeout) may still save it. */
static void
cancel_expiring(struct tf_heartbeat *hb, int64_t now)
{
	int64_t margin = tf_heartbeat_margin_ms(hb->o.visibility_s), left;
	struct tf_inflight *f;

	for (f = hb->head; f != NULL; f = f->next) {
		left = atomic_load(&f->lease_until) - now;
		if (atomic_load(&f->lost) || atomic_load(&f->pending) > 0 ||
		    left >= margin)
			continue;
		cancel_unextended(f, left);
	}
}

/* One call of f's extension ended: when it was the last and f's removal
 * waits for it, the removal goes on. */
static void
call_ended(struct tf_inflight *f)
{
	void (*done)(void *ctx);

	if (atomic_fetch_sub(&f->pending, 1) != 1 || f->removed == NULL)
		return;
	done = f->removed;
	f->removed = NULL;
	done(f->removed_ctx);
}

static void
on_lease_extended(void *ctx, enum tf_err rc)
{
	struct tf_inflight *f = ctx;
	struct tf_heartbeat *hb = f->hb;
	struct tf_log_field fields[] = { { "task", f->task_id } };

	if (rc == TF_OK) {
		atomic_store(&f->lease_until, f->ext_until);
		atomic_store(&f->lease_end_mono, f->ext_mono +
		    hb->o.visibility_s * 1000LL);
	} else if (rc == TF_ERR_CONDITION || rc == TF_ERR_NOT_FOUND) {
		atomic_store(&f->lost, 1);
		tf_log_fields(TF_LOG_WARN, fields, 1, "lease lost while running: "
		    "another consumer owns the task now");
	} else if (rc != TF_ERR_CANCELLED) {
		tf_log_fields(TF_LOG_WARN, fields, 1, "extending the lease failed: "
		    "%s; will try again", tf_strerror(rc));
	}
	call_ended(f);
}

/* The visibility call's answer for entry f: rc (TF_OK, or why it failed,
 * sender_fault when retrying cannot help). */
static void
visibility_answer(struct tf_inflight *f, enum tf_err rc, bool sender_fault,
    const char *why)
{
	struct tf_log_field fields[] = { { "task", f->task_id } };

	if (rc == TF_OK) {
		f->visible_until = f->ext_until;
	} else if (sender_fault) {
		/* ReceiptHandleIsInvalid, MessageNotInflight: the message is not
		 * ours to extend any more; the lease alone keeps the task. */
		f->receipt_gone = 1;
		f->visible_until = INT64_MAX;
		tf_log_fields(TF_LOG_WARN, fields, 1, "the message can no longer be "
		    "extended (%s); relying on the lease", why);
	} else if (rc != TF_ERR_CANCELLED) {
		tf_log_fields(TF_LOG_WARN, fields, 1, "extending the message's "
		    "visibility failed: %s; will try again", why);
	}
}

static void
on_visibility_extended(void *ctx, enum tf_err rc,
    const struct tf_sqs_batch_result *res, const struct tf_aws_error *err)
{
	struct vis_batch *b = ctx;
	const struct tf_sqs_failed_entry *fe;
	size_t i, k;

	for (i = 0; i < b->n; i++) {
		fe = NULL;
		if (rc == TF_ERR_PARTIAL && res != NULL)
			for (k = 0; k < res->n_failed && fe == NULL; k++)
				if (strcmp(res->failed[k].id, tf_sqs_batch_ids[i]) == 0)
					fe = &res->failed[k];
		if (rc == TF_OK || (rc == TF_ERR_PARTIAL && fe == NULL))
			visibility_answer(b->f[i], TF_OK, false, NULL);
		else if (fe != NULL)
			visibility_answer(b->f[i], TF_ERR_PARTIAL, fe->sender_fault != 0,
			    fe->code[0] ? fe->code : fe->message);
		else
			visibility_answer(b->f[i], rc, rc == TF_ERR_NOT_FOUND ||
			    rc == TF_ERR_VALIDATION, err != NULL && err->message[0] ?
			    err->message : tf_strerror(rc));
		call_ended(b->f[i]);
	}
	tf_free(b);
}

/* Sends the filled batch *bp (if any) and forgets it. */
static void
send_batch(struct vis_batch **bp)
{
	struct tf_sqs_handle_entry e[TF_SQS_MAX_BATCH];
	struct vis_batch *b = *bp;
	struct tf_heartbeat *hb;
	size_t i;

	*bp = NULL;
	if (b == NULL)
		return;
	hb = b->hb;
	for (i = 0; i < b->n; i++)
		e[i] = (struct tf_sqs_handle_entry){ tf_sqs_batch_ids[i],
		    b->f[i]->receipt_handle, hb->o.visibility_s };
	if (tf_sqs_change_message_visibility_batch_async(hb->o.aws, hb->o.loop,
	    b->queue_url, e, b->n, on_visibility_extended, b) == TF_OK) {
		atomic_fetch_add(&hb->visibility_calls, 1);
		atomic_fetch_add(&hb->visibility_entries, (long)b->n);
		return;
	}
	/* Not started (the loop stops, or memory is short): the next tick
	 * tries again. */
	for (i = 0; i < b->n; i++)
		call_ended(b->f[i]);
	tf_free(b);
}

/* Starts f's extension: its lease now, its message's visibility in the
 * batch of its queue among the TF_PRIORITY__N at b, one per priority's
 * queue (sent when full; when the runs' messages come from more queues, a
 * batch in the way is sent). */
static void
extend(struct tf_heartbeat *hb, struct tf_inflight *f, int64_t now,
    int64_t mono, struct vis_batch **b)
{
	const char *url = f->queue_url != NULL ? f->queue_url : hb->o.queue_url;
	struct vis_batch **bp = &b[TF_PRIORITY__N - 1];
	int i;

	f->ext_until = now + hb->o.visibility_s * 1000LL;
	f->ext_mono = mono;
	atomic_store(&f->pending, 1);
	atomic_fetch_add(&hb->lease_calls, 1);
	/* Calls back exactly once, later (at once only when memory is short:
	 * pending drops to 0 before the batch adds to it, and f is not being
	 * removed, so that is harmless). */
	tf_task_extend_lease_async(hb->o.aws, hb->o.loop, hb->o.table, f->task_id,
	    f->gen, hb->o.owner, f->ext_until, on_lease_extended, f);
	if (f->receipt_gone)
		return;
	for (i = 0; i < TF_PRIORITY__N; i++)
		if (b[i] == NULL || b[i]->queue_url == url) {
			bp = &b[i];
			break;
		}
	if (*bp != NULL && (*bp)->queue_url != url)
		send_batch(bp);
	if (*bp == NULL) {
		*bp = tf_calloc(1, sizeof(**bp));
		if (*bp == NULL)
			return;  /* the next tick tries again */
		(*bp)->hb = hb;
		(*bp)->queue_url = url;
	}
	atomic_fetch_add(&f->pending, 1);
	(*bp)->f[(*bp)->n++] = f;
	if ((*bp)->n == TF_SQS_MAX_BATCH)
		send_batch(bp);
}

/* How long f has left: the lesser of its lease and its visibility, in ms
 * from now; INT64_MAX when it needs no look (lost, or an extension out). */
static int64_t
time_left(const struct tf_inflight *f, int64_t now)
{
	int64_t left, visible;

	if (atomic_load(&f->lost) || atomic_load(&f->pending) > 0)
		return INT64_MAX;
	left = atomic_load(&f->lease_until) - now;
	visible = f->visible_until - now;
	return visible < left ? visible : left;
}

/* One look at every run: cancels those whose lease ends unextended, and
 * when one has less than half of its lease or visibility left (or its
 * runner asked), extends it and every run with less than three quarters
 * left, ten messages to a visibility call. Runs received at different
 * moments thus come due together after their first extension, and share
 * visibility calls from then on. */
static void
pass(struct tf_heartbeat *hb)
{
	int64_t now = tf_now_ms(), mono = tf_mono_ms();
	int64_t half = hb->o.visibility_s * 500LL;
	int64_t three_quarters = hb->o.visibility_s * 750LL, left;
	struct vis_batch *b[TF_PRIORITY__N] = { NULL };
	struct tf_inflight *f;
	bool due = false;
	int i;

	atomic_store(&hb->alive_ms, mono);
	cancel_expiring(hb, now);
	for (f = hb->head; f != NULL && !due; f = f->next) {
		left = time_left(f, now);
		due = left != INT64_MAX && (left < half ||
		    atomic_load(&f->want_now) != 0);
	}
	if (!due)
		return;
	for (f = hb->head; f != NULL; f = f->next) {
		left = time_left(f, now);
		if (left == INT64_MAX || (left >= three_quarters &&
		    atomic_load(&f->want_now) == 0))
			continue;
		atomic_store(&f->want_now, 0);
		extend(hb, f, now, mono, b);
	}
	for (i = 0; i < TF_PRIORITY__N; i++)
		send_batch(&b[i]);
}

/* How often it looks: a tenth of the visibility, 200 ms to 1 s. */
static long
tick_ms(const struct tf_heartbeat *hb)
{
	long t = hb->o.visibility_s * 100L;

	return t < 200 ? 200 : t > 1000 ? 1000 : t;
}

static void
on_tick(void *ctx, enum tf_err rc)
{
	struct tf_heartbeat *hb = ctx;

	hb->timer = NULL;
	if (rc != TF_OK)
		return;  /* the loop stops */
	pass(hb);
	if (tf_loop_after(hb->o.loop, tick_ms(hb), on_tick, hb, &hb->timer) !=
	    TF_OK)
		tf_log(TF_LOG_ERROR, "the heartbeat could not set its next tick: "
		    "leases are no longer extended (the watchdog acts)");
}

enum tf_err
tf_heartbeat_new(const struct tf_heartbeat_opts *o, struct tf_heartbeat **out)
{
	struct tf_heartbeat *hb = tf_calloc(1, sizeof(*hb));
	enum tf_err rc;

	*out = NULL;
	if (hb == NULL)
		return TF_ERR_NOMEM;
	hb->o = *o;
	atomic_store(&hb->alive_ms, tf_mono_ms());
	pthread_mutex_init(&hb->lock, NULL);
	rc = tf_loop_after(hb->o.loop, tick_ms(hb), on_tick, hb, &hb->timer);
	if (rc != TF_OK) {
		pthread_mutex_destroy(&hb->lock);
		tf_free(hb);
		return rc;
	}
	*out = hb;
	return TF_OK;
}

void
tf_heartbeat_free(struct tf_heartbeat *hb)
{
	struct tf_heartbeat_counts n;

	if (hb == NULL)
		return;
	/* For operators and benchmarks, with the requests of
	 * tf_consumer_log_requests(). */
	tf_heartbeat_counts(hb, &n);
	if (n.lease_calls > 0)
		tf_log(TF_LOG_INFO, "heartbeat: %ld lease extension(s), %ld "
		    "visibility call(s) for %ld message(s)", n.lease_calls,
		    n.visibility_calls, n.visibility_entries);
	pthread_mutex_destroy(&hb->lock);
	tf_free(hb);
}

int64_t
tf_heartbeat_alive_ms(struct tf_heartbeat *hb)
{
	return atomic_load(&hb->alive_ms);
}

int64_t
tf_heartbeat_stall_limit_ms(int visibility_s)
{
	/* A tick is at most 1 s apart; the rest is room for a loop slowed
	 * down (a loaded machine, a burst of callbacks). */
	return 1000 + 2 * tf_heartbeat_call_timeout_ms(visibility_s) + 5000;
}

void
tf_heartbeat_counts(struct tf_heartbeat *hb, struct tf_heartbeat_counts *out)
{
	out->lease_calls = atomic_load(&hb->lease_calls);
	out->visibility_calls = atomic_load(&hb->visibility_calls);
	out->visibility_entries = atomic_load(&hb->visibility_entries);
}

int
tf_heartbeat_find_stuck(struct tf_heartbeat *hb, int64_t now_ms,
    int64_t overrun_ms, int64_t lease_slack_ms, char *why, size_t whylen)
{
	struct tf_inflight *f;
	int found = 0;

	pthread_mutex_lock(&hb->lock);
	for (f = hb->head; f != NULL && !found; f = f->next) {
		int64_t deadline = atomic_load(&f->deadline_ms);
		int64_t lease_until = atomic_load(&f->lease_until);

		if (deadline > 0 && now_ms > deadline + overrun_ms) {
			snprintf(why, whylen, "the run of task %s is %lld ms past its "
			    "time limit and its runner does not stop", f->task_id,
			    (long long)(now_ms - deadline));
			found = 1;
		} else if (atomic_load(&f->lost) && atomic_load(&f->started) &&
		    atomic_load(&f->pending) == 0 &&
		    now_ms > lease_until + lease_slack_ms) {
			snprintf(why, whylen, "the run of task %s was cancelled but "
			    "its runner still runs %lld ms after its lease ended",
			    f->task_id, (long long)(now_ms - lease_until));
			found = 1;
		}
	}
	pthread_mutex_unlock(&hb->lock);
	return found;
}

bool
tf_inflight_lease_over(const struct tf_inflight *f, int64_t mono_now,
    int64_t margin_ms)
{
	int64_t end = atomic_load(&f->lease_end_mono);

	return end != 0 && mono_now >= end - margin_ms;
}

bool
tf_inflight_lease_ending(struct tf_inflight *f, int64_t mono_now,
    int64_t margin_ms)
{
	if (!tf_inflight_lease_over(f, mono_now, margin_ms))
		return false;
	cancel_unextended(f, atomic_load(&f->lease_end_mono) - mono_now);
	return true;
}

void
tf_heartbeat_add(struct tf_heartbeat *hb, struct tf_inflight *f)
{
	f->hb = hb;
	atomic_store(&f->pending, 0);
	f->removed = NULL;
	pthread_mutex_lock(&hb->lock);
	f->prev = NULL;
	f->next = hb->head;
	if (hb->head != NULL)
		hb->head->prev = f;
	hb->head = f;
	pthread_mutex_unlock(&hb->lock);
}

void
tf_heartbeat_remove(struct tf_heartbeat *hb, struct tf_inflight *f,
    void (*done)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&hb->lock);
	if (f->prev != NULL)
		f->prev->next = f->next;
	else if (hb->head == f)
		hb->head = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
	pthread_mutex_unlock(&hb->lock);
	if (atomic_load(&f->pending) == 0) {
		done(ctx);
		return;
	}
	/* Its calls in flight end on the loop, after this returns. */
	f->removed = done;
	f->removed_ctx = ctx;
}

int
tf_heartbeat_extend_now(struct tf_heartbeat *hb, struct tf_inflight *f)
{
	(void)hb;
	atomic_store(&f->want_now, 1);
	return atomic_load(&f->lost) ? -1 : 0;
}
