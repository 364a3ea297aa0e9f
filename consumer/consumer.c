/* consumer.c - starting the consumer's threads and loop, hand-backs, and
 * shutdown. */
#include "consumer.h"

#include <stdio.h>
#include <string.h>

#include "aws/sqs_async.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "callback.h"
#include "isolate.h"
#include "metrics.h"
#include "limiter.h"
#include "ns_gate.h"

/* A stopping consumer waits this long past a receive's wait for its reply. */
#define RECEIVE_REPLY_MARGIN_MS 5000

/* And this long past the shutdown timeout for the sweeper's last calls. */
#define SWEEPER_STOP_MARGIN_MS 5000

/* Blocking runners get this many threads by default: the concurrency, at
 * most this. */
#define RUNNER_THREADS_DEFAULT_MAX 16

void
tf_consumer_run_ended(struct tf_consumer *c)
{
	pthread_mutex_lock(&c->lock);
	c->busy--;
	pthread_cond_broadcast(&c->space);
	pthread_mutex_unlock(&c->lock);
	tf_consumer_start_ready(c);
	tf_receiver_fill(c);
}

const char *
tf_consumer_queue_url(const struct tf_consumer *c, int q)
{
	return q > 0 && q < TF_PRIORITY__N && c->queue_url[q] != NULL ?
	    c->queue_url[q] : c->ctx->queue_url;
}

int
tf_consumer_hold_cap(const struct tf_consumer *c)
{
	return 4 * c->o.concurrency > TF_CONSUMER_HOLD_MIN ?
	    4 * c->o.concurrency : TF_CONSUMER_HOLD_MIN;
}

/* One hand-back call in flight. */
struct hand_back {
	struct tf_consumer *c;
	size_t n;
	int visibility_s;
	const char *what;               /* static text */
};

static void
hand_back_done(struct tf_consumer *c)
{
	pthread_mutex_lock(&c->lock);
	c->handing_back--;
	pthread_cond_broadcast(&c->space);
	pthread_mutex_unlock(&c->lock);
}

static void
on_handed_back(void *ctx, enum tf_err rc, const struct tf_sqs_batch_result *res,
    const struct tf_aws_error *err)
{
	struct hand_back *h = ctx;
	size_t failed = rc == TF_ERR_PARTIAL && res != NULL ? res->n_failed : 0;

	if (rc == TF_OK || rc == TF_ERR_PARTIAL)
		tf_log(h->visibility_s > 0 ? TF_LOG_DEBUG : TF_LOG_INFO, "handed back %zu message(s) %s (%zu failed; "
		    "they reappear after their visibility timeout)", h->n - failed,
		    h->what, failed);
	else
		tf_log(TF_LOG_WARN, "handing back %zu message(s) failed (%s); they "
		    "reappear after their visibility timeout", h->n,
		    err != NULL && err->message[0] ? err->message : tf_strerror(rc));
	hand_back_done(h->c);
	tf_free(h);
}

void
tf_consumer_hand_back(struct tf_consumer *c, const struct tf_sqs_message *msgs,
    size_t n, int visibility_s, const char *what)
{
	struct tf_sqs_handle_entry e[TF_SQS_MAX_BATCH];
	struct hand_back *h;
	size_t i, k;
	enum tf_err rc;
	int q;

	/* A batch goes to one queue: the messages of each in turn. */
	for (q = 0; q < TF_PRIORITY__N; q++) {
		for (i = 0; i < n; ) {
			for (k = 0; i < n && k < TF_SQS_MAX_BATCH; i++) {
				if (msgs[i].queue != q && (q != TF_PRIORITY_NORMAL ||
				    (msgs[i].queue > 0 && msgs[i].queue < TF_PRIORITY__N)))
					continue;
				e[k] = (struct tf_sqs_handle_entry){ tf_sqs_batch_ids[k],
				    msgs[i].receipt_handle, visibility_s };
				k++;
				if (visibility_s == 0)
					tf_metrics_released(c->metrics);
			}
			if (k == 0)
				break;
			pthread_mutex_lock(&c->lock);
			c->handing_back++;
			pthread_mutex_unlock(&c->lock);
			rc = TF_ERR_NOMEM;
			h = tf_malloc(sizeof(*h));
			if (h != NULL) {
				*h = (struct hand_back){ c, k, visibility_s, what };
				rc = tf_sqs_change_message_visibility_batch_async(
				    c->ctx->aws, c->loop, tf_consumer_queue_url(c, q), e,
				    k, on_handed_back, h);
			}
			if (rc != TF_OK) {
				tf_free(h);
				tf_log(TF_LOG_WARN, "handing back %zu message(s) failed "
				    "(%s); they reappear after their visibility timeout",
				    k, tf_strerror(rc));
				hand_back_done(c);
			}
		}
	}
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

/* On the loop: --once's sweep is over (its writes and messages answered). */
static void
on_once_swept(void *ctx)
{
	struct tf_consumer *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->once_swept = true;
	pthread_cond_broadcast(&c->space);
	pthread_mutex_unlock(&c->lock);
}

/* On the loop: --once's receives start (c->once is set). */
static void
on_once_receive(void *ctx, enum tf_err rc)
{
	struct tf_consumer *c = ctx;

	if (rc != TF_OK)
		return;
	if (tf_receiver_start(c) != TF_OK) {
		tf_log(TF_LOG_ERROR, "--once: cannot start receiving: %s",
		    tf_strerror(TF_ERR_NOMEM));
		atomic_store(&c->drained, 1);
	}
}

/* Starts the watchdog, which counts the receive loop's progress from now. */
static enum tf_err
watchdog_start(struct tf_consumer *c)
{
	struct tf_watchdog_opts wo = {
		.receiver_stall_ms = c->o.watchdog_ms,
		/* A runner gets this long after its time limit to notice
		 * cancelled(), and a cancelled one half the lease grace after its
		 * lease: the sweepers of other consumers wait the whole grace. */
		.overrun_ms = 10000,
		.lease_slack_ms = c->cfg->lease_grace_ms / 2,
	};

	atomic_store(&c->receiver_beat_ms, tf_mono_ms());
	return tf_watchdog_start(c, &wo, &c->watchdog);
}

/* --once, the loop running: waits for its sweep, then fixes what is due
 * (the cutoff: now), starts the watchdog (a long sweep is no stalled
 * receive loop) and starts receiving. */
static enum tf_err
once_start(struct tf_consumer *c)
{
	enum tf_err rc;

	pthread_mutex_lock(&c->lock);
	while (!c->once_swept)
		pthread_cond_wait(&c->space, &c->lock);
	pthread_mutex_unlock(&c->lock);
	rc = tf_once_new(tf_now_ms(), c->o.hold_max_ms, &c->once);
	if (rc == TF_OK)
		rc = watchdog_start(c);
	if (rc != TF_OK)
		return rc;
	return tf_loop_post(c->loop, on_once_receive, c);
}

static void *
loop_main(void *arg)
{
	struct tf_consumer *c = arg;

	tf_loop_run(c->loop);
	return NULL;
}

enum tf_err
tf_consumer_start(struct tf_consumer *c)
{
	struct tf_heartbeat_opts ho;
	struct tf_sweeper_opts so;
	struct tf_creds creds;
	struct tf_loop_config loop_cfg = { 0 };
	int threads, q;
	enum tf_err rc;

	/* Isolated runners' worker processes (isolate.c): first, so that a
	 * runner whose init() fails stops the start before anything else. */
	rc = tf_isolate_start(c);
	if (rc != TF_OK)
		return rc;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->space, NULL);
	c->metrics = tf_metrics_new(c->runners);
	if (c->metrics == NULL)
		return TF_ERR_NOMEM;
	/* Lease extensions give up quickly, so that the heartbeat can cancel a
	 * run in time when they keep failing. */
	rc = tf_context_new_client(c->ctx, c->cfg,
	    tf_heartbeat_call_timeout_ms(c->o.visibility_s), 1, &c->hb_aws);
	if (rc != TF_OK)
		return rc;
	/* Both clients' credentials now (the main one's were fetched by the
	 * sweeper's first synchronous read when it had a thread): fetched on
	 * the loop they would start libuv's thread pool for nothing. Should
	 * this fail, the first call fetches them. */
	tf_aws_fetch_creds(c->hb_aws, tf_now_ms(), &creds);
	tf_aws_fetch_creds(c->ctx->aws, tf_now_ms(), &creds);
	explicit_bzero(&creds, sizeof(creds));
	/* By default as many as runs in flight: a transfer waiting for a
	 * connection spends its timeout waiting (libcurl counts it from when the
	 * transfer is added), so none waits unless the limit is set lower. */
	loop_cfg.hook_host_connections = c->o.http_host_connections > 0 ?
	    c->o.http_host_connections : c->o.concurrency;
	rc = tf_loop_new(&loop_cfg, &c->loop);
	if (rc != TF_OK)
		return rc;
	/* The config item's reader: the paused namespaces of runs, and the
	 * sweeper's shard count, from one read. */
	c->ns_gate = tf_ns_gate_new(c->ctx->aws, c->loop, c->cfg->table);
	if (c->ns_gate == NULL)
		return TF_ERR_NOMEM;
	so = (struct tf_sweeper_opts){
		.aws = c->ctx->aws, .loop = c->loop, .gate = c->ns_gate,
		.table = c->cfg->table, .queue_url = c->ctx->queue_url,
		.interval_ms = c->cfg->sweep_interval_ms,
		.horizon_ms = c->cfg->horizon_ms, .grace_ms = c->cfg->sweep_grace_ms,
		.lease_grace_ms = c->cfg->lease_grace_ms,
		.owner = c->o.owner, .lease_ms = c->cfg->sweep_lease_ms,
		.history_kept = c->cfg->history_kept,
		.retention_ms = c->cfg->retention_ms,
		.manual = c->o.once,
		.callback_due = tf_consumer_callback_rescue, .callback_arg = c,
	};
	rc = tf_sweeper_start(&so, &c->sweeper);
	if (rc != TF_OK)
		return rc;
	/* Before the first receive: the runs a crash on this machine ended
	 * (their calls go out when the loop runs). */
	journal_start(c);
	/* --once: one sweep, so that tasks whose message was lost and runs
	 * whose lease expired are due too; the receives start after it. */
	if (c->o.once)
		tf_sweeper_sweep(c->sweeper, on_once_swept, c);
	/* The heartbeat's timer and extensions run on the loop; its ticks are
	 * the loop's sign of life, which the watchdog reads from its start. */
	ho = (struct tf_heartbeat_opts){
		.loop = c->loop, .aws = c->hb_aws, .table = c->cfg->table,
		.queue_url = c->ctx->queue_url, .owner = c->o.owner,
		.visibility_s = c->o.visibility_s,
	};
	rc = tf_heartbeat_new(&ho, &c->hb);
	if (rc != TF_OK)
		return rc;
	atomic_store(&c->receive_limit, c->o.concurrency);
	/* --once: after its sweep, when the receives start. */
	if (!c->o.once) {
		rc = watchdog_start(c);
		if (rc != TF_OK)
			return rc;
	}
	threads = c->o.runner_threads > 0 ? c->o.runner_threads :
	    c->o.concurrency < RUNNER_THREADS_DEFAULT_MAX ? c->o.concurrency :
	    RUNNER_THREADS_DEFAULT_MAX;
	rc = tf_runpool_start(threads, &c->pool);
	if (rc != TF_OK)
		return rc;
	for (q = 0; q < TF_PRIORITY__N; q++) {
		c->queue_url[q] = tf_priority_queue_url(c->ctx->queue_url,
		    (enum tf_priority)q);
		if (c->queue_url[q] == NULL)
			return TF_ERR_NOMEM;
		rc = tf_deleter_start(c->ctx->aws, c->loop, c->queue_url[q],
		    &c->deleter[q]);
		if (rc != TF_OK)
			return rc;
	}
	c->limiter = tf_limiter_new(c->ctx->aws, c->loop, c->cfg->table,
	    c->o.owner, c->o.limits);
	if (c->limiter == NULL)
		return TF_ERR_NOMEM;
	if (!c->o.once) {
		rc = tf_receiver_start(c);
		if (rc != TF_OK)
			return rc;
	}
	if (pthread_create(&c->loop_thread, NULL, loop_main, c) != 0)
		return TF_ERR_NOMEM;
	c->loop_started = true;
	return c->o.once ? once_start(c) : TF_OK;
}

/* Waits on c->space (c->lock held) for at most ms. */
static void
timedwait_ms(struct tf_consumer *c, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&c->space, &c->lock, &ts);
}

/* On the loop: the stop begins. */
static void
on_stop(void *ctx, enum tf_err rc)
{
	struct tf_consumer *c = ctx;

	if (rc != TF_OK)
		return;
	tf_receiver_stop(c);
	tf_consumer_release_held(c);
	tf_sweeper_stop_begin(c->sweeper);
	/* Runs waiting for their limits are handed back, uncharged. */
	tf_limiter_stop(c->limiter);
}

bool
tf_consumer_shutdown(struct tf_consumer *c)
{
	int64_t deadline = tf_mono_ms() + c->o.shutdown_timeout_s * 1000LL;
	int64_t receive_deadline;
	int wait_s = tf_receiver_wait_s(c);
	bool finished;
	int q;

	/* The open polls may take their whole wait (at most the shutdown
	 * timeout) and their reply's latency. */
	receive_deadline = tf_mono_ms() + (c->o.shutdown_timeout_s > wait_s ?
	    c->o.shutdown_timeout_s : wait_s) * 1000LL + RECEIVE_REPLY_MARGIN_MS;
	atomic_store(&c->stopping_since_ms, tf_mono_ms());
	atomic_store(&c->stopping, 1);
	/* No new poll; the open ones return and their messages are handed
	 * back (receive.c), as are the messages held until their time. */
	if (tf_loop_post(c->loop, on_stop, c) != TF_OK)
		tf_log(TF_LOG_WARN, "stopping: the event loop is gone");
	pthread_mutex_lock(&c->lock);
	while (atomic_load(&c->receives_open) > 0 &&
	    tf_mono_ms() < receive_deadline)
		timedwait_ms(c, 100);
	/* Then what runs finishes, up to the shutdown timeout. */
	while ((c->busy > 0 || c->handing_back > 0) && tf_mono_ms() < deadline)
		timedwait_ms(c, 100);
	finished = c->busy == 0 && c->handing_back == 0;
	pthread_mutex_unlock(&c->lock);
	if (!finished) {
		/* Runners see cancelled(); their leases expire and the tasks are
		 * recovered by another consumer. */
		atomic_store(&c->abandon, 1);
		tf_log(TF_LOG_WARN, "shutdown timeout: %d run(s) still going; "
		    "leaving them to lease expiry", c->busy);
		/* The runs that did finish have written their outcomes; delete
		 * their messages now rather than leave them to reappear. */
		for (q = 0; q < TF_PRIORITY__N; q++)
			tf_deleter_flush(c->deleter[q], 2000);
		return false;
	}
	/* The sweeper's last calls end and its leases are handed back, on the
	 * loop; they are quick (a few calls), so they get a few seconds past
	 * the shutdown timeout. */
	deadline = (deadline > tf_mono_ms() ? deadline : tf_mono_ms()) +
	    SWEEPER_STOP_MARGIN_MS;
	pthread_mutex_lock(&c->lock);
	while (!tf_sweeper_quiet(c->sweeper) && tf_mono_ms() < deadline)
		timedwait_ms(c, 20);
	pthread_mutex_unlock(&c->lock);
	/* The last deletes go out on the loop. */
	for (q = 0; q < TF_PRIORITY__N; q++) {
		tf_deleter_stop(c->deleter[q]);
		c->deleter[q] = NULL;
	}
	/* Nothing is in flight but polls past their bound: stopping the loop
	 * aborts them. */
	tf_loop_stop(c->loop);
	pthread_join(c->loop_thread, NULL);
	c->loop_started = false;
	tf_runpool_stop(c->pool);
	c->pool = NULL;
	/* The metrics server answered 503 while the runs finished; it reads
	 * the threads stopped below, so it stops first. */
	tf_metrics_server_stop(c->metrics_srv);
	c->metrics_srv = NULL;
	tf_watchdog_stop(c->watchdog);
	c->watchdog = NULL;
	/* Runs report queue waits to the sweeper: it stops after them. */
	tf_sweeper_stop(c->sweeper);
	c->sweeper = NULL;
	tf_ns_gate_free(c->ns_gate);
	c->ns_gate = NULL;
	/* The loop stopped: its timer is gone. */
	tf_heartbeat_free(c->hb);
	c->hb = NULL;
	/* Every run finished: nothing for a crash journal to speak for. */
	tf_journal_close(c->journal);
	c->journal = NULL;
	return true;
}

void
tf_consumer_free(struct tf_consumer *c)
{
	int q;

	tf_metrics_server_stop(c->metrics_srv);
	c->metrics_srv = NULL;
	if (c->loop_started) {
		tf_loop_stop(c->loop);
		pthread_join(c->loop_thread, NULL);
		c->loop_started = false;
	}
	tf_runpool_stop(c->pool);
	c->pool = NULL;
	tf_isolate_stop(c);  /* isolated runners' workers: fini(), reaped */
	tf_watchdog_stop(c->watchdog);
	for (q = 0; q < TF_PRIORITY__N; q++) {
		tf_deleter_stop(c->deleter[q]);
		c->deleter[q] = NULL;
		tf_free(c->queue_url[q]);
		c->queue_url[q] = NULL;
	}
	tf_loop_free(c->loop);
	c->loop = NULL;
	/* After the loop: freeing a loop that never ran cancels their calls. */
	tf_sweeper_stop(c->sweeper);
	c->sweeper = NULL;
	tf_ns_gate_free(c->ns_gate);
	c->ns_gate = NULL;
	tf_limiter_free(c->limiter);
	c->limiter = NULL;
	/* After the loop: freeing a loop that never ran cancels its timer. */
	tf_heartbeat_free(c->hb);
	c->hb = NULL;
	tf_receiver_free(c);
	tf_aws_free(c->hb_aws);
	tf_metrics_free(c->metrics);
	c->metrics = NULL;
	tf_once_free(c->once);
	c->once = NULL;
	pthread_mutex_destroy(&c->lock);
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
