/* inflight.c - the registry of running tasks and its heartbeat thread. */
#include "inflight.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "sqs.h"
#include "task.h"

struct tf_heartbeat {
	struct tf_heartbeat_opts o;
	pthread_t thread;
	pthread_mutex_t lock;     /* guards the list and every extension */
	pthread_cond_t wake;
	struct tf_inflight *head; /* borrowed entries */
	int stopping;
};

/* Extends one run (lock held). Returns 0, or -1 when the lease is lost. */
static int
extend(struct tf_heartbeat *hb, struct tf_inflight *f)
{
	int64_t now = tf_now_ms();
	int64_t until = now + hb->o.visibility_s * 1000LL;
	enum tf_err rc;

	if (atomic_load(&f->lost))
		return -1;
	rc = tf_task_extend_lease(hb->o.aws, hb->o.table, f->task_id, f->gen,
	    hb->o.owner, until);
	if (rc == TF_ERR_CONDITION || rc == TF_ERR_NOT_FOUND) {
		struct tf_log_field fields[] = { { "task", f->task_id } };

		atomic_store(&f->lost, 1);
		tf_log_fields(TF_LOG_WARN, fields, 1, "lease lost while running: "
		    "another consumer owns the task now");
		return -1;
	}
	if (rc == TF_OK)
		f->lease_until = until;
	else
		tf_log(TF_LOG_WARN, "extending the lease of %s failed: %s; will "
		    "try again", f->task_id, tf_strerror(rc));
	rc = tf_sqs_change_message_visibility(hb->o.aws, hb->o.queue_url,
	    f->receipt_handle, hb->o.visibility_s);
	if (rc == TF_OK)
		f->visible_until = until;
	else
		tf_log(TF_LOG_WARN, "extending the visibility of %s's message "
		    "failed: %s; will try again", f->task_id, tf_strerror(rc));
	return 0;
}

/* How often the thread looks: a tenth of the visibility, 200 ms to 1 s. */
static int64_t
tick_ms(const struct tf_heartbeat *hb)
{
	int64_t t = hb->o.visibility_s * 100LL;

	return t < 200 ? 200 : t > 1000 ? 1000 : t;
}

static void *
heartbeat_main(void *arg)
{
	struct tf_heartbeat *hb = arg;
	int64_t half = hb->o.visibility_s * 500LL, now, left;
	struct tf_inflight *f;
	struct timespec ts;

	pthread_mutex_lock(&hb->lock);
	while (!hb->stopping) {
		now = tf_now_ms();
		for (f = hb->head; f != NULL; f = f->next) {
			left = f->lease_until < f->visible_until ?
			    f->lease_until - now : f->visible_until - now;
			if (left < half)
				extend(hb, f);
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += tick_ms(hb) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
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
	pthread_mutex_init(&hb->lock, NULL);
	pthread_cond_init(&hb->wake, NULL);
	if (pthread_create(&hb->thread, NULL, heartbeat_main, hb) != 0) {
		pthread_mutex_destroy(&hb->lock);
		pthread_cond_destroy(&hb->wake);
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
	tf_free(hb);
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
	rc = extend(hb, f);
	pthread_mutex_unlock(&hb->lock);
	return rc;
}
