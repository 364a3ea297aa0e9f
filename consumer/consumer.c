/* consumer.c - the receiver, the workers, and shutdown. */
#include "consumer.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "isolate.h"
#include "metrics.h"

/* Under a backlog the receiver waits up to this long for a fuller batch. */
#define BATCH_WAIT_MS 25

/* Receive errors back off from 1 s, doubling to 30 s, with jitter. */
#define RECEIVE_BACKOFF_MIN_MS 1000
#define RECEIVE_BACKOFF_MAX_MS 30000

/* A stopping consumer waits this long past a receive's wait for its reply. */
#define RECEIVE_REPLY_MARGIN_MS 5000

void
tf_consumer_release(struct tf_consumer *c, const struct tf_sqs_message *m)
{
	enum tf_err rc = tf_sqs_change_message_visibility(c->ctx->aws,
	    c->ctx->queue_url, m->receipt_handle, 0);

	if (rc != TF_OK)
		tf_log(TF_LOG_WARN, "returning a message failed (%s); it reappears "
		    "after its visibility timeout", tf_strerror(rc));
}

/* Hands back the n messages (borrowed; at most a batch) a receive brought
 * in after the stop began, or that --once held (`what` says which, for the
 * log), none of them started: visibility 0 in one batch call, so the next
 * consumer receives them at once instead of after their visibility timeout. */
static void
release_all(struct tf_consumer *c, const struct tf_sqs_message *msgs, size_t n,
    const char *what)
{
	struct tf_sqs_handle_entry e[TF_SQS_MAX_BATCH];
	struct tf_sqs_batch_result res;
	char ids[TF_SQS_MAX_BATCH][4];
	size_t i;
	enum tf_err rc;

	if (n == 0)
		return;
	for (i = 0; i < n && i < TF_SQS_MAX_BATCH; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%zu", i);
		e[i] = (struct tf_sqs_handle_entry){ ids[i], msgs[i].receipt_handle, 0 };
		tf_metrics_released(c->metrics);
	}
	rc = tf_sqs_change_message_visibility_batch(c->ctx->aws,
	    c->ctx->queue_url, e, i, &res);
	if (rc == TF_OK || rc == TF_ERR_PARTIAL) {
		tf_log(TF_LOG_INFO, "stopping: handed back %zu message(s) %s (%zu "
		    "failed; they reappear after their visibility timeout)",
		    i - res.n_failed, what, res.n_failed);
		tf_sqs_batch_result_free(&res);
	} else {
		tf_log(TF_LOG_WARN, "stopping: handing back %zu message(s) failed "
		    "(%s); they reappear after their visibility timeout", i,
		    tf_strerror(rc));
	}
}

/*
 * The long poll's wait: --wait-time, but no longer than the shutdown timeout
 * (at least a second), because a stop lets the open receive return rather
 * than abort it: SQS would still hand messages to an aborted receive, and
 * they would stay invisible for their whole visibility timeout.
 */
static int
receive_wait_s(const struct tf_consumer *c)
{
	int bound = c->o.shutdown_timeout_s > 1 ? c->o.shutdown_timeout_s : 1;

	return c->o.wait_s < bound ? c->o.wait_s : bound;
}

/* --once polls for a second at most: long enough for SQS to look at every
 * server (a short poll may miss messages), short for an empty queue. */
static int
once_wait_s(const struct tf_consumer *c)
{
	return c->o.wait_s < 1 ? c->o.wait_s : 1;
}

/* --once: keeps the n received messages (owned) that are due at the cutoff
 * at the front of msgs and returns how many; the others are held until the
 * drain ends (once.h), or handed back at once when they cannot be held. */
static size_t
admit_once(struct tf_consumer *c, struct tf_sqs_message *msgs, size_t n)
{
	size_t i, kept = 0;
	bool held;

	for (i = 0; i < n; i++) {
		if (tf_once_admit(c->once, &msgs[i], &held)) {
			msgs[kept++] = msgs[i];
		} else if (!held) {
			tf_consumer_release(c, &msgs[i]);
			tf_sqs_message_clear(&msgs[i]);
		}
	}
	return kept;
}

/* --once, as the receiver stops: hands back what it held, a batch at a
 * time. */
static void
hand_back_held(struct tf_consumer *c)
{
	const struct tf_sqs_message *held;
	size_t n, i, k;

	held = tf_once_held(c->once, &n);
	for (i = 0; i < n; i += k) {
		k = n - i < TF_SQS_MAX_BATCH ? n - i : TF_SQS_MAX_BATCH;
		release_all(c, held + i, k, "not due at the --once cutoff");
	}
}

/* Records that the receive loop is making progress, for the watchdog. */
static void
receiver_beat(struct tf_consumer *c)
{
	atomic_store(&c->receiver_beat_ms, tf_mono_ms());
}

/* Sleeps up to ms, waking early when the consumer is stopping. Backing off
 * is progress. */
static void
nap(struct tf_consumer *c, int64_t ms)
{
	int64_t until = tf_mono_ms() + ms, left;

	while (!atomic_load(&c->stopping) && (left = until - tf_mono_ms()) > 0) {
		receiver_beat(c);
		tf_sleep_ms(left < 100 ? left : 100);
	}
}

/*
 * Backpressure: calls that AWS still throttled after their retries (a
 * DynamoDB table at its capacity, an SQS quota), anywhere in this consumer,
 * halve how many runs it takes at once, at most once a second; each second
 * without such a call gives back an eighth of the concurrency (at least one).
 * Fewer messages received means fewer claims and writes to throttle.
 * Throttles the retries absorbed do not count: they cost only latency.
 */
struct backpressure {
	long throttled;          /* the clients' throttled-call count last seen */
	int64_t changed_at;      /* monotonic ms of the last change */
};

static long
throttled_calls(struct tf_consumer *c)
{
	long n = atomic_load(&tf_aws_stats(c->ctx->aws)->throttled_calls);

	if (c->hb_aws != NULL)
		n += atomic_load(&tf_aws_stats(c->hb_aws)->throttled_calls);
	return n;
}

static void
backpressure_update(struct tf_consumer *c, struct backpressure *bp)
{
	long now_throttled = throttled_calls(c);
	int64_t now = tf_mono_ms();
	int limit = atomic_load(&c->receive_limit), step;

	if (now - bp->changed_at < 1000)
		return;
	if (now_throttled > bp->throttled) {
		bp->throttled = now_throttled;
		bp->changed_at = now;
		if (limit > 1) {
			atomic_store(&c->receive_limit, limit / 2);
			tf_log(TF_LOG_WARN, "AWS is throttling: taking at most %d "
			    "message(s) at once until it stops", limit / 2);
		}
	} else if (limit < c->o.concurrency) {
		bp->changed_at = now;
		step = c->o.concurrency / 8 > 1 ? c->o.concurrency / 8 : 1;
		limit = limit + step < c->o.concurrency ? limit + step :
		    c->o.concurrency;
		atomic_store(&c->receive_limit, limit);
		if (limit == c->o.concurrency)
			tf_log(TF_LOG_INFO, "throttling over: back to %d at once",
			    c->o.concurrency);
	}
}

static void *
receiver_main(void *arg)
{
	struct tf_consumer *c = arg;
	struct tf_sqs_receive_opts ro = { 0 };
	struct tf_sqs_message *msgs = NULL;
	int64_t backoff = RECEIVE_BACKOFF_MIN_MS;
	size_t n, i;
	int free_slots;
	enum tf_err rc;

	struct backpressure bp = { throttled_calls(c), tf_mono_ms() };
	struct timespec ts;
	long receives = 0;
	int64_t batch_until;
	bool backlog = false;
	bool idle = false;          /* --once: no run in flight as this
	                               receive began */
	int want, failures = 0;
	size_t received;

	ro.wait_seconds = c->o.once ? once_wait_s(c) : receive_wait_s(c);
	ro.visibility_timeout = c->o.visibility_s;
	/* A stop lets the open receive return; only a receive still open when
	 * tf_consumer_shutdown()'s bound passes is aborted. */
	ro.cancel = &c->receive_cancel;
	while (!atomic_load(&c->stopping)) {
		receiver_beat(c);
		backpressure_update(c, &bp);
		pthread_mutex_lock(&c->lock);
		/* Waiting for a free worker is progress; look again each second
		 * for the watchdog and for the throttling limit to rise. */
		while (c->busy >= atomic_load(&c->receive_limit) &&
		    !atomic_load(&c->stopping)) {
			pthread_mutex_unlock(&c->lock);
			receiver_beat(c);
			backpressure_update(c, &bp);
			pthread_mutex_lock(&c->lock);
			if (c->busy < atomic_load(&c->receive_limit))
				break;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&c->space, &c->lock, &ts);
		}
		/* While there is a backlog (the last receive was full), wait a
		 * moment for workers to free up, so that one receive fetches a
		 * fuller batch: fewer requests and less CPU per run, at most
		 * BATCH_WAIT_MS more latency, and only when busy anyway. */
		batch_until = tf_mono_ms() + BATCH_WAIT_MS;
		want = atomic_load(&c->receive_limit) < TF_SQS_MAX_BATCH ?
		    atomic_load(&c->receive_limit) : TF_SQS_MAX_BATCH;
		while (backlog && c->busy > 0 && !atomic_load(&c->stopping) &&
		    atomic_load(&c->receive_limit) - c->busy < want &&
		    tf_mono_ms() < batch_until) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 5 * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&c->space, &c->lock, &ts);
		}
		free_slots = atomic_load(&c->receive_limit) - c->busy;
		idle = c->busy == 0;
		pthread_mutex_unlock(&c->lock);
		if (atomic_load(&c->stopping))
			break;
		if (c->o.stall_receiver && receives > 0) {
			tf_log(TF_LOG_WARN, "TASKFLEET_TEST_STALL_RECEIVER=1: the "
			    "receive loop hangs now (a test setting)");
			for (;;)
				tf_sleep_ms(1000);
		}
		receives++;
		/* Never more than can start now: no message waits for a worker
		 * while its visibility runs out. */
		ro.max_messages = free_slots < TF_SQS_MAX_BATCH ? free_slots :
		    TF_SQS_MAX_BATCH;
		rc = tf_sqs_receive_message(c->ctx->aws, c->ctx->queue_url, &ro,
		    &msgs, &n);
		if (rc == TF_ERR_CANCELLED)
			break;
		if (rc != TF_OK) {
			tf_log(TF_LOG_WARN, "receive failed: %s (%s); retrying",
			    tf_strerror(rc), tf_aws_last_error()->message);
			if (c->o.once && ++failures >= TF_ONCE_RECEIVE_FAILURES_MAX) {
				tf_log(TF_LOG_ERROR, "--once: receiving failed %d times "
				    "in a row; stopping", failures);
				tf_once_receive_failed(c->once);
				break;
			}
			nap(c, backoff / 2 + tf_random_below(backoff / 2 + 1));
			backoff = backoff * 2 > RECEIVE_BACKOFF_MAX_MS ?
			    RECEIVE_BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		backoff = RECEIVE_BACKOFF_MIN_MS;
		failures = 0;
		tf_metrics_received(c->metrics, n);
		if (atomic_load(&c->stopping)) {
			/* The stop began during this receive: none of these
			 * starts; hand them all back now. */
			release_all(c, msgs, n, "received during the stop");
			tf_sqs_messages_free(msgs, n);
			msgs = NULL;
			break;
		}
		received = n;
		if (c->o.once) {
			n = admit_once(c, msgs, n);
			if (received == 0 && idle) {
				/* Nothing was visible, and nothing ran that could
				 * have sent a message meanwhile. */
				tf_log(TF_LOG_INFO, "--once: nothing more is due");
				tf_free(msgs);
				msgs = NULL;
				break;
			}
		}
		backlog = received > 0 && (int)received == ro.max_messages;
		pthread_mutex_lock(&c->lock);
		for (i = 0; i < n; i++) {
			size_t slot = (c->q_head + c->q_len) % (size_t)c->o.concurrency;

			c->queue[slot] = msgs[i];
			c->q_len++;
			c->busy++;
		}
		if (n > 0)
			pthread_cond_broadcast(&c->work);
		pthread_mutex_unlock(&c->lock);
		/* The strings now belong to the queue slots. */
		tf_free(msgs);
		msgs = NULL;
	}
	if (c->o.once) {
		/* What was held is for the next invocation or a daemon: back
		 * to the queue, visible. */
		hand_back_held(c);
		atomic_store(&c->drained, 1);
	}
	pthread_mutex_lock(&c->lock);
	c->receiver_done = 1;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void *
worker_main(void *arg)
{
	struct tf_consumer *c = arg;
	struct tf_sqs_message m;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (c->q_len == 0 && !c->receiver_done)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->q_len == 0) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		m = c->queue[c->q_head];
		c->q_head = (c->q_head + 1) % (size_t)c->o.concurrency;
		c->q_len--;
		pthread_mutex_unlock(&c->lock);

		if (atomic_load(&c->stopping)) {
			tf_consumer_release(c, &m);  /* received, never started */
			tf_metrics_released(c->metrics);
		} else {
			tf_consumer_process(c, &m);
		}
		tf_sqs_message_clear(&m);

		pthread_mutex_lock(&c->lock);
		c->busy--;
		pthread_cond_broadcast(&c->space);
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

/* A run in the crash journal of a consumer of this table that died
 * (journal.h): the run that crashed it is charged its attempt, the others
 * it took down are not; without a crashed run, lease expiry decides. */
static void
recover_journaled(void *arg, const struct tf_journal_run *run,
    bool culprit_known)
{
	struct tf_consumer *c = arg;
	struct tf_log_field f[] = { { "task", run->task_id } };
	const char *abbrev;
	char why[300];

	if (run->crashed) {
		abbrev = run->how > 0 ? sigabbrev_np(run->how) : NULL;
		if (run->how > 0)
			snprintf(why, sizeof(why), "runner crashed (signal %d, SIG%s) "
			    "and took consumer %s down", run->how,
			    abbrev != NULL ? abbrev : "?", run->owner);
		else
			snprintf(why, sizeof(why), "runner called exit() and took "
			    "consumer %s down", run->owner);
		tf_sweeper_recover_crashed(c->sweeper, run->task_id, run->gen,
		    run->owner, true, why);
	} else if (culprit_known) {
		snprintf(why, sizeof(why), "interrupted: another task's runner "
		    "crashed consumer %s (not counted as an attempt)", run->owner);
		tf_sweeper_recover_crashed(c->sweeper, run->task_id, run->gen,
		    run->owner, false, why);
	} else {
		tf_log_fields(TF_LOG_WARN, f, 1, "consumer %s ended without a "
		    "crash record (killed?): its run is left to lease expiry",
		    run->owner);
	}
}

/* Recovers the runs of the consumers of this table that crashed on this
 * machine, then opens this one's journal; a journal that cannot be made is
 * logged and left off. */
static void
journal_start(struct tf_consumer *c)
{
	char dir[1024], err[1200];
	int n;

	if (tf_journal_dir(dir, sizeof(dir)) == NULL)
		return;
	n = tf_journal_recover(dir, c->cfg->table, recover_journaled, c);
	if (n > 0)
		tf_log(TF_LOG_INFO, "read %d crash journal(s) of consumers that "
		    "ended in %s", n, dir);
	if (tf_journal_open(dir, c->o.owner, c->cfg->table, c->o.concurrency,
	    &c->journal, err, sizeof(err)) != TF_OK)
		tf_log(TF_LOG_WARN, "crash journal off: %s; a crashing runner's "
		    "neighbours are charged an attempt at lease expiry", err);
}

enum tf_err
tf_consumer_start(struct tf_consumer *c)
{
	struct tf_heartbeat_opts ho;
	struct tf_sweeper_opts so;
	struct tf_watchdog_opts wo;
	enum tf_err rc;
	int i;

	/* Isolated runners' worker processes (isolate.c): first, so that a
	 * runner whose init() fails stops the start before anything else. */
	rc = tf_isolate_start(c);
	if (rc != TF_OK)
		return rc;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->space, NULL);
	c->queue = tf_calloc((size_t)c->o.concurrency, sizeof(*c->queue));
	c->workers = tf_calloc((size_t)c->o.concurrency, sizeof(*c->workers));
	c->metrics = tf_metrics_new(c->runners);
	if (c->queue == NULL || c->workers == NULL || c->metrics == NULL)
		return TF_ERR_NOMEM;
	rc = tf_deleter_start(c->ctx->aws, c->ctx->queue_url, &c->deleter);
	if (rc != TF_OK)
		return rc;
	/* Lease extensions give up quickly, so that the heartbeat can cancel a
	 * run in time when they keep failing. */
	rc = tf_context_new_client(c->ctx, c->cfg,
	    tf_heartbeat_call_timeout_ms(c->o.visibility_s), 1, &c->hb_aws);
	if (rc != TF_OK)
		return rc;
	ho = (struct tf_heartbeat_opts){
		.aws = c->hb_aws, .table = c->cfg->table,
		.queue_url = c->ctx->queue_url, .owner = c->o.owner,
		.visibility_s = c->o.visibility_s,
	};
	rc = tf_heartbeat_start(&ho, &c->hb);
	if (rc != TF_OK)
		return rc;
	so = (struct tf_sweeper_opts){
		.aws = c->ctx->aws, .table = c->cfg->table,
		.queue_url = c->ctx->queue_url,
		.interval_ms = c->cfg->sweep_interval_ms,
		.horizon_ms = c->cfg->horizon_ms, .grace_ms = c->cfg->sweep_grace_ms,
		.lease_grace_ms = c->cfg->lease_grace_ms,
		.owner = c->o.owner, .lease_ms = c->cfg->sweep_lease_ms,
		.history_kept = c->cfg->history_kept,
		.retention_ms = c->cfg->retention_ms,
		.manual = c->o.once,
	};
	rc = tf_sweeper_start(&so, &c->sweeper);
	if (rc != TF_OK)
		return rc;
	/* Before the first receive: the runs a crash on this machine ended. */
	journal_start(c);
	if (c->o.once) {
		/* One sweep, so that tasks whose message was lost and runs whose
		 * lease expired are due too; then what is due is fixed. */
		tf_sweeper_sweep(c->sweeper);
		rc = tf_once_new(tf_now_ms(), c->o.hold_max_ms, &c->once);
		if (rc != TF_OK)
			return rc;
	}
	atomic_store(&c->receive_limit, c->o.concurrency);
	atomic_store(&c->receiver_beat_ms, tf_mono_ms());
	wo = (struct tf_watchdog_opts){
		.receiver_stall_ms = c->o.watchdog_ms,
		/* A runner gets this long after its time limit to notice
		 * cancelled(), and a cancelled one half the lease grace after its
		 * lease: the sweepers of other consumers wait the whole grace. */
		.overrun_ms = 10000,
		.lease_slack_ms = c->cfg->lease_grace_ms / 2,
	};
	rc = tf_watchdog_start(c, &wo, &c->watchdog);
	if (rc != TF_OK)
		return rc;
	for (i = 0; i < c->o.concurrency; i++) {
		if (pthread_create(&c->workers[i], NULL, worker_main, c) != 0)
			return TF_ERR_NOMEM;
		c->n_workers++;
	}
	if (pthread_create(&c->receiver, NULL, receiver_main, c) != 0)
		return TF_ERR_NOMEM;
	return TF_OK;
}

/* Waits on cond (lock held) for at most ms. */
static void
timedwait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(cond, lock, &ts);
}

bool
tf_consumer_shutdown(struct tf_consumer *c)
{
	int64_t deadline = tf_mono_ms() + c->o.shutdown_timeout_s * 1000LL;
	int64_t receive_deadline;
	bool finished;
	int i;

	/* The open receive may take its whole wait (receive_wait_s(), at
	 * most the shutdown timeout) and its reply's latency. */
	receive_deadline = tf_mono_ms() + (c->o.shutdown_timeout_s >
	    receive_wait_s(c) ? c->o.shutdown_timeout_s : receive_wait_s(c)) *
	    1000LL + RECEIVE_REPLY_MARGIN_MS;
	atomic_store(&c->stopping_since_ms, tf_mono_ms());
	atomic_store(&c->stopping, 1);
	/* No new receive; the open one returns and its messages are handed
	 * back (receiver_main). Past the bound, abort it. */
	pthread_mutex_lock(&c->lock);
	pthread_cond_broadcast(&c->space);
	while (!c->receiver_done && tf_mono_ms() < receive_deadline)
		timedwait_ms(&c->work, &c->lock, 100);
	pthread_mutex_unlock(&c->lock);
	atomic_store(&c->receive_cancel, 1);
	pthread_join(c->receiver, NULL);

	/* Workers now return what is queued and finish what runs. */
	pthread_mutex_lock(&c->lock);
	while (c->busy > 0 && tf_mono_ms() < deadline)
		timedwait_ms(&c->space, &c->lock, 100);
	finished = c->busy == 0;
	pthread_mutex_unlock(&c->lock);
	if (!finished) {
		/* Runners see cancelled(); their leases expire and the tasks are
		 * recovered by another consumer. */
		atomic_store(&c->abandon, 1);
		tf_log(TF_LOG_WARN, "shutdown timeout: %d run(s) still going; "
		    "leaving them to lease expiry", c->busy);
		/* The runs that did finish have written their outcomes; delete
		 * their messages now rather than leave them to reappear. */
		tf_deleter_flush(c->deleter, 2000);
		return false;
	}
	for (i = 0; i < c->n_workers; i++)
		pthread_join(c->workers[i], NULL);
	/* The metrics server answered 503 while the runs finished; it reads
	 * the threads stopped below, so it stops first. */
	tf_metrics_server_stop(c->metrics_srv);
	c->metrics_srv = NULL;
	tf_watchdog_stop(c->watchdog);
	c->watchdog = NULL;
	/* Workers report queue waits to the sweeper: it stops after them. */
	tf_sweeper_stop(c->sweeper);
	c->sweeper = NULL;
	tf_heartbeat_stop(c->hb);
	c->hb = NULL;
	tf_deleter_stop(c->deleter);
	c->deleter = NULL;
	/* Every run finished: nothing for a crash journal to speak for. */
	tf_journal_close(c->journal);
	c->journal = NULL;
	return true;
}

void
tf_consumer_free(struct tf_consumer *c)
{
	tf_metrics_server_stop(c->metrics_srv);
	c->metrics_srv = NULL;
	tf_isolate_stop(c);  /* isolated runners' workers: fini(), reaped */
	tf_watchdog_stop(c->watchdog);
	tf_sweeper_stop(c->sweeper);
	tf_heartbeat_stop(c->hb);
	tf_deleter_stop(c->deleter);
	tf_aws_free(c->hb_aws);
	tf_free(c->queue);
	tf_free(c->workers);
	tf_metrics_free(c->metrics);
	c->metrics = NULL;
	tf_once_free(c->once);
	c->once = NULL;
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->space);
}

void
tf_consumer_log_requests(struct tf_consumer *c)
{
	struct tf_aws_op_count ops[TF_AWS_MAX_OPS], hb[TF_AWS_MAX_OPS];
	struct tf_log_field f[TF_AWS_MAX_OPS];
	char text[TF_AWS_MAX_OPS][24];
	size_t n, n_hb, i, k;
	long total = 0;

	n = tf_aws_op_counts(c->ctx->aws, ops, TF_AWS_MAX_OPS);
	n_hb = c->hb_aws ? tf_aws_op_counts(c->hb_aws, hb, TF_AWS_MAX_OPS) : 0;
	/* The heartbeat's client counts with the main one, by operation. */
	for (i = 0; i < n_hb; i++) {
		for (k = 0; k < n && strcmp(ops[k].operation, hb[i].operation) != 0; k++)
			;
		if (k == n && n < TF_AWS_MAX_OPS)
			ops[n++] = hb[i];
		else if (k < n)
			ops[k].requests += hb[i].requests;
	}
	for (i = 0; i < n; i++) {
		snprintf(text[i], sizeof(text[i]), "%ld", ops[i].requests);
		f[i] = (struct tf_log_field){ ops[i].operation, text[i] };
		total += ops[i].requests;
	}
	tf_log_fields(TF_LOG_INFO, f, n, "AWS requests by operation: %ld in all",
	    total);
}
