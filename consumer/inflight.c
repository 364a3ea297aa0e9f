/* inflight.c - the registry of running tasks and its heartbeat thread. */
#include "inflight.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "task/task.h"

struct tf_heartbeat {
	struct tf_heartbeat_opts o;
	pthread_t thread;
	pthread_mutex_t lock;     /* guards the list and the entries' flags */
	pthread_cond_t wake;      /* wakes the thread (stop) */
	pthread_cond_t extended;  /* an extension finished */
	struct tf_inflight *head; /* borrowed entries */
	atomic_llong alive_ms;    /* last sign of life, monotonic */
	int stopping;
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
 * sweeper of another consumer may start the task again (lock held). */
static void
cancel_expiring(struct tf_heartbeat *hb, int64_t now)
{
	int64_t margin = tf_heartbeat_margin_ms(hb->o.visibility_s);
	struct tf_inflight *f;

	for (f = hb->head; f != NULL; f = f->next) {
		if (atomic_load(&f->lost) || f->extending ||
		    f->lease_until - now >= margin)
			continue;
		cancel_unextended(f, f->lease_until - now);
	}
}

/* Extends one run; called without the lock, with f->extending set so that
 * nobody removes f meanwhile. Returns 0, or -1 when the lease is lost. */
static int
extend(struct tf_heartbeat *hb, struct tf_inflight *f)
{
	int64_t now = tf_now_ms(), mono = tf_mono_ms();
	int64_t until = now + hb->o.visibility_s * 1000LL;
	struct tf_log_field fields[] = { { "task", f->task_id } };
	enum tf_err rc;

	if (atomic_load(&f->lost))
		return -1;
	rc = tf_task_extend_lease(hb->o.aws, hb->o.table, f->task_id, f->gen,
	    hb->o.owner, until);
	if (rc == TF_ERR_CONDITION || rc == TF_ERR_NOT_FOUND) {
		atomic_store(&f->lost, 1);
		tf_log_fields(TF_LOG_WARN, fields, 1, "lease lost while running: "
		    "another consumer owns the task now");
		return -1;
	}
	if (rc == TF_OK) {
		f->lease_until = until;
		atomic_store(&f->lease_end_mono, mono + hb->o.visibility_s * 1000LL);
	} else {
		tf_log_fields(TF_LOG_WARN, fields, 1, "extending the lease failed: "
		    "%s; will try again", tf_strerror(rc));
	}
	if (f->receipt_gone)
		return 0;
	rc = tf_sqs_change_message_visibility(hb->o.aws, hb->o.queue_url,
	    f->receipt_handle, hb->o.visibility_s);
	if (rc == TF_OK) {
		f->visible_until = until;
	} else if (rc == TF_ERR_NOT_FOUND || rc == TF_ERR_VALIDATION) {
		/* ReceiptHandleIsInvalid, MessageNotInflight: the message is not
		 * ours to extend any more; the lease alone keeps the task. */
		f->receipt_gone = 1;
		f->visible_until = INT64_MAX;
		tf_log_fields(TF_LOG_WARN, fields, 1, "the message can no longer be "
		    "extended (%s); relying on the lease", tf_strerror(rc));
	} else {
		tf_log_fields(TF_LOG_WARN, fields, 1, "extending the message's "
		    "visibility failed: %s; will try again", tf_strerror(rc));
	}
	return 0;
}

/* Extends f outside the lock (held on entry and on return). */
static int
extend_unlocked(struct tf_heartbeat *hb, struct tf_inflight *f)
{
	int rc;

	while (f->extending)
		pthread_cond_wait(&hb->extended, &hb->lock);
	f->extending = 1;
	pthread_mutex_unlock(&hb->lock);
	rc = extend(hb, f);
	pthread_mutex_lock(&hb->lock);
	f->extending = 0;
	pthread_cond_broadcast(&hb->extended);
	return rc;
}

/* How often the thread looks: a tenth of the visibility, 200 ms to 1 s. */
static int64_t
tick_ms(const struct tf_heartbeat *hb)
{
	int64_t t = hb->o.visibility_s * 100LL;

	return t < 200 ? 200 : t > 1000 ? 1000 : t;
}

/* The run that most needs an extension now, or NULL (lock held). */
static struct tf_inflight *
most_urgent(struct tf_heartbeat *hb, int64_t now)
{
	int64_t half = hb->o.visibility_s * 500LL, left, best_left = half;
	struct tf_inflight *f, *best = NULL;

	for (f = hb->head; f != NULL; f = f->next) {
		if (f->extending || atomic_load(&f->lost) || f->extended_at == now)
			continue;
		left = f->lease_until < f->visible_until ?
		    f->lease_until - now : f->visible_until - now;
		if (left < best_left) {
			best = f;
			best_left = left;
		}
	}
	return best;
}

static void *
heartbeat_main(void *arg)
{
	struct tf_heartbeat *hb = arg;
	struct tf_inflight *f;
	struct timespec ts;
	int64_t pass;

	pthread_mutex_lock(&hb->lock);
	while (!hb->stopping) {
		/* One run at a time, most urgent first; the list may change
		 * while the lock is down for the AWS calls. */
		pass = tf_now_ms();
		atomic_store(&hb->alive_ms, tf_mono_ms());
		while (!hb->stopping && (f = most_urgent(hb, pass)) != NULL) {
			/* Before each call: one slow call must not make another
			 * run's cancellation late. */
			cancel_expiring(hb, tf_now_ms());
			f->extended_at = pass;
			extend_unlocked(hb, f);
			atomic_store(&hb->alive_ms, tf_mono_ms());
		}
		cancel_expiring(hb, tf_now_ms());
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += tick_ms(hb) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if (!hb->stopping)
			pthread_cond_timedwait(&hb->wake, &hb->lock, &ts);
	}
	pthread_mutex_unlock(&hb->lock);
	return NULL;
}

enum tf_err
tf_heartbeat_start(const struct tf_heartbeat_opts *o, struct tf_heartbeat **out)
{
	struct tf_heartbeat *hb = tf_calloc(1, sizeof(*hb));

	*out = NULL;
	if (hb == NULL)
		return TF_ERR_NOMEM;
	hb->o = *o;
	atomic_store(&hb->alive_ms, tf_mono_ms());
	pthread_mutex_init(&hb->lock, NULL);
	pthread_cond_init(&hb->wake, NULL);
	pthread_cond_init(&hb->extended, NULL);
	if (pthread_create(&hb->thread, NULL, heartbeat_main, hb) != 0) {
		pthread_mutex_destroy(&hb->lock);
		pthread_cond_destroy(&hb->wake);
		pthread_cond_destroy(&hb->extended);
		tf_free(hb);
		return TF_ERR_NOMEM;
	}
	*out = hb;
	return TF_OK;
}

void
tf_heartbeat_stop(struct tf_heartbeat *hb)
{
	if (hb == NULL)
		return;
	pthread_mutex_lock(&hb->lock);
	hb->stopping = 1;
	pthread_cond_signal(&hb->wake);
	pthread_mutex_unlock(&hb->lock);
	pthread_join(hb->thread, NULL);
	pthread_mutex_destroy(&hb->lock);
	pthread_cond_destroy(&hb->wake);
	pthread_cond_destroy(&hb->extended);
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
	/* One pass's tick plus two calls' timeouts, with room to spare. */
	return 1000 + 2 * tf_heartbeat_call_timeout_ms(visibility_s) + 5000;
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

		if (deadline > 0 && now_ms > deadline + overrun_ms) {
			snprintf(why, whylen, "the run of task %s is %lld ms past its "
			    "time limit and its runner does not stop", f->task_id,
			    (long long)(now_ms - deadline));
			found = 1;
		} else if (atomic_load(&f->lost) && !f->extending &&
		    now_ms > f->lease_until + lease_slack_ms) {
			snprintf(why, whylen, "the run of task %s was cancelled but "
			    "its runner still runs %lld ms after its lease ended",
			    f->task_id, (long long)(now_ms - f->lease_until));
			found = 1;
		}
	}
	pthread_mutex_unlock(&hb->lock);
	return found;
}

bool
tf_inflight_lease_ending(struct tf_inflight *f, int64_t mono_now,
    int64_t margin_ms)
{
	int64_t end = atomic_load(&f->lease_end_mono);

	if (end == 0 || mono_now < end - margin_ms)
		return false;
	cancel_unextended(f, end - mono_now);
	return true;
}

void
tf_heartbeat_add(struct tf_heartbeat *hb, struct tf_inflight *f)
{
	pthread_mutex_lock(&hb->lock);
	f->prev = NULL;
	f->next = hb->head;
	if (hb->head != NULL)
		hb->head->prev = f;
	hb->head = f;
	pthread_mutex_unlock(&hb->lock);
}

void
tf_heartbeat_remove(struct tf_heartbeat *hb, struct tf_inflight *f)
{
	pthread_mutex_lock(&hb->lock);
	while (f->extending)
		pthread_cond_wait(&hb->extended, &hb->lock);
	if (f->prev != NULL)
		f->prev->next = f->next;
	else if (hb->head == f)
		hb->head = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
	pthread_mutex_unlock(&hb->lock);
}

int
tf_heartbeat_extend_now(struct tf_heartbeat *hb, struct tf_inflight *f)
{
	int rc;

	pthread_mutex_lock(&hb->lock);
	rc = extend_unlocked(hb, f);
	pthread_mutex_unlock(&hb->lock);
	return rc;
}
