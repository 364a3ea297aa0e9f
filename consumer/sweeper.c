/* sweeper.c - enqueueing tasks as they come due, and recovering lost ones:
 * a state machine on the consumer's event loop (sweeper.h). */
#include "sweeper.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "aws/ddb_async.h"
#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "ns_gate.h"
#include "sweep_lease.h"
#include "task/due.h"
#include "task/task.h"
#include "task/task_async.h"

#define PAGE_LIMIT 100
/* The first page of a shard is smaller: when the window is empty, the
 * items it returns from beyond the window (look_at()) are read for
 * nothing. */
#define FIRST_PAGE_LIMIT 20

/* A sweep looks at this many items of a page, then gives the loop back (a
 * 0 ms timer) before it looks at more: receives and runs wait behind the
 * sweep for one such step at most. */
#define ITEMS_PER_STEP 32

/* Calls for items (enqueues, recoveries, their batches of messages, the
 * releases of failed sends) in flight at once; more items wait until one
 * ends, so a sweep never takes the loop's connections from receives and
 * runs. */
#define OPS_MAX 8

/* A batch of messages not yet full is sent once no claim in flight can add
 * to it, or once this many claims ended since its first message came (one
 * of another priority than a burst's waits about two claims' round trips,
 * not the whole burst). Above TF_SQS_MAX_BATCH, so a burst of one priority
 * sends full batches. */
#define BATCH_WAIT_CLAIMS (2 * OPS_MAX)

/* Queue waits are remembered in windows of this length; the longest wait of
 * the current and the previous window counts. */
#define WAIT_WINDOW_MS 60000

/* While sweeps keep failing, their error is logged again at most this often
 * (not once per shard per sweep). */
#define FAILURE_LOG_EVERY_MS (5 * 60000)

/* The table's shard count is taken from a read of the config item at most
 * this old (a raised count reaches every consumer within this); a consumer
 * that runs tasks reads the item more often for its paused namespaces
 * (ns_gate.h), and the sweeper then reads nothing. */
#define CONFIG_REFRESH_MS (5 * 60000)

/* What the sweeper is doing. */
enum phase {
	PHASE_IDLE,                   /* waiting on its timer */
	PHASE_ROUND,                  /* a lease round: the shard count, the
	                                 leases read, then written one by one */
	PHASE_SWEEP                   /* a sweep: the shards' query pages and
	                                 the calls for their items */
};

/* Where the error lines about failing queries stand. */
struct failure_log {
	int64_t logged_at;            /* monotonic ms of the last error line; 0 */
	long sweeps_failed;           /* failed sweeps since that line */
	bool failing;
};

struct tf_sweeper {
	struct tf_sweeper_opts o;
	struct tf_sweeper_stats stats;
	pthread_mutex_t lock;         /* guards the fields below: other threads
	                                 (runs' queue waits, /readyz) use them */
	int64_t wait_window_start;    /* monotonic ms */
	int64_t wait_max_cur, wait_max_prev;
	char failure[400];            /* why the last sweep's queries failed,
	                                 when the error is not transient; "" */
	atomic_bool quiet;            /* stopping, and nothing is left in
	                                 flight: the leases are handed back */

	/* The rest is the loop's own. */
	enum phase phase;
	struct tf_loop_timer *timer;  /* the next step; NULL: none armed */
	bool stopping;                /* tf_sweeper_stop_begin() was called */
	bool released;                /* the leases' hand-back was sent */
	int ops;                      /* calls in flight for items (and lease
	                                 hand-backs) */
	int claims;                   /* of those, the item calls whose end may
	                                 queue a message (enqueue claims,
	                                 recoveries) */
	long claims_ended;            /* such calls ended so far */
	int queued;                   /* items waiting for a call: in a batch,
	                                 or for the release of a failed send */
	struct op *batch[TF_PRIORITY__N][TF_SQS_MAX_BATCH];
	                              /* owned: the messages to send, by queue */
	int n_batch[TF_PRIORITY__N];
	long batch_since[TF_PRIORITY__N];  /* claims_ended when its first came */
	struct op *release;           /* owned: items whose send failed, waiting
	                                 for their release (through op->next) */
	bool in_step;                 /* work_items() is running */
	int shards;                   /* the table's due shards */
	int groups;                   /* lease groups (sweep_lease.h) */
	bool held[TF_SWEEP_LEASES];   /* the groups whose lease we hold */
	bool leaseless;               /* the leases could not be read: sweep
	                                 every shard until they can */
	int64_t token;                /* ours, in the lease items */
	int64_t lease_ms;
	int64_t interval, idle_max;   /* between sweeps, now and at most */
	int64_t next_sweep, next_round;  /* monotonic ms */
	struct failure_log fl;
	tf_sweeper_done_cb *done;     /* a manual sweep's caller; NULL */
	void *done_ctx;

	/* The lease round in progress: */
	struct tf_sweep_lease l[TF_SWEEP_LEASES];
	enum tf_sweep_lease_action act[TF_SWEEP_LEASES];
	int g;                        /* the group whose write is next */
	bool took;                    /* took a lease it did not hold */
	int64_t round_now;            /* epoch ms */

	/* The sweep in progress: */
	bool all;                     /* every shard, leases or not */
	bool draining;                /* every shard read: waiting for ops */
	int64_t ahead;                /* how far past the window to look */
	int64_t sweep_mono;           /* when it began */
	int first, i;                 /* the first shard, and where it is */
	int swept, failed;            /* shards queried, and failed */
	long seen;                    /* items seen (a failed shard counts 1) */
	enum tf_err rc;               /* the failures' worst error ... */
	char err[400];                /* ... and what it said */

	/* Its shard in progress: */
	struct tf_ddb_expr e;         /* owned */
	struct tf_ddb_query q;        /* points into e */
	cJSON *start;                 /* owned: the next page's key, or NULL */
	cJSON *items;                 /* owned: the page being looked at */
	const cJSON *next_item;       /* in items: the next one to look at */
	int pages;
	long shard_seen;
	bool shard_over;              /* an item beyond the window, or stopping:
	                                 no more items or pages */
	int64_t now, grace;           /* epoch ms the shard's query began, and
	                                 the grace a message had then */
};

/* One item's calls in flight: an enqueue and its message, or a recovery
 * (read, outcome write) and its message. */
struct op {
	struct tf_sweeper *sw;        /* borrowed */
	char *id;                     /* owned */
	int64_t gen, next_run;        /* an enqueue's item, as read */
	bool lost;                    /* an enqueue whose message was lost */
	enum tf_priority prio;        /* the queue its message goes to */
	int64_t due;                  /* its message's due time */
	struct op *next;              /* in sw->release */
	int64_t now;                  /* epoch ms the item was looked at */
	enum tf_err send_rc;          /* a failed send, while its release is out */
	/* A recovery: */
	struct tf_task t;             /* owned: the item read */
	struct tf_task_outcome out;   /* what is written; points into error */
	char *error;                  /* owned: the run's error text */
	char *owner;                  /* owned: a crashed run's consumer */
	bool charged;                 /* a crashed run: the one that crashed */
	const char *what;             /* static: how the run ended, for the log */
};

static void sweep_end(struct tf_sweeper *sw);
static void work_items(struct tf_sweeper *sw);
static void next_shard(struct tf_sweeper *sw);
static void tick(struct tf_sweeper *sw);

void
tf_sweeper_note_queue_wait(struct tf_sweeper *sw, int64_t wait_ms)
{
	int64_t now = tf_mono_ms();

	if (sw == NULL)
		return;
	pthread_mutex_lock(&sw->lock);
	if (now - sw->wait_window_start >= WAIT_WINDOW_MS) {
		/* A whole window with no report forgets both. */
		sw->wait_max_prev = now - sw->wait_window_start < 2 * WAIT_WINDOW_MS ?
		    sw->wait_max_cur : 0;
		sw->wait_max_cur = 0;
		sw->wait_window_start = now;
	}
	if (wait_ms > sw->wait_max_cur)
		sw->wait_max_cur = wait_ms;
	pthread_mutex_unlock(&sw->lock);
}

int64_t
tf_sweeper_message_grace_ms(struct tf_sweeper *sw)
{
	int64_t now = tf_mono_ms(), wait = 0;

	pthread_mutex_lock(&sw->lock);
	if (now - sw->wait_window_start < 2 * WAIT_WINDOW_MS)
		wait = sw->wait_max_cur > sw->wait_max_prev ? sw->wait_max_cur :
		    sw->wait_max_prev;
	pthread_mutex_unlock(&sw->lock);
	return sw->o.grace_ms + 2 * wait;
}

/* ---- the steps on the loop's timer ------------------------------------------ */

static void
on_timer(void *ctx, enum tf_err rc)
{
	struct tf_sweeper *sw = ctx;

	sw->timer = NULL;
	if (rc != TF_OK)
		return;  /* the loop stopped */
	if (sw->phase == PHASE_SWEEP)
		work_items(sw);  /* the rest of a page, after a step */
	else if (sw->phase == PHASE_IDLE)
		tick(sw);
}

/* Arms the timer for the next step in delay_ms (unless one is armed). */
static void
step_later(struct tf_sweeper *sw, int64_t delay_ms)
{
	if (sw->timer != NULL || sw->stopping)
		return;
	if (delay_ms < 0)
		delay_ms = 0;
	if (tf_loop_after(sw->o.loop, (long)delay_ms, on_timer, sw,
	    &sw->timer) != TF_OK)
		sw->timer = NULL;  /* the loop is stopping */
}

/* True when the sweeper holds the lease of at least one shard group. */
static bool
holds_any(const struct tf_sweeper *sw)
{
	int g;

	for (g = 0; g < sw->groups; g++)
		if (sw->held[g])
			return true;
	return false;
}

static void
on_lease_released(void *ctx, enum tf_err rc)
{
	struct tf_sweeper *sw = ctx;

	(void)rc;
	sw->ops--;
	if (sw->ops == 0)
		atomic_store(&sw->quiet, true);
}

/* Once stopping with nothing in flight: hands the leases back, so another
 * consumer sweeps these shards at its next round instead of a lease time
 * from now; quiet once that is done. */
static void
settle(struct tf_sweeper *sw)
{
	int g;

	if (!sw->stopping || sw->phase != PHASE_IDLE || sw->ops > 0 ||
	    sw->queued > 0 || sw->released)
		return;
	sw->released = true;
	for (g = 0; g < sw->groups; g++) {
		if (!sw->held[g])
			continue;
		sw->held[g] = false;
		if (tf_sweep_lease_release(sw->o.aws, sw->o.loop, sw->o.table, g,
		    sw->token, on_lease_released, sw) == TF_OK)
			sw->ops++;
	}
	if (sw->ops == 0)
		atomic_store(&sw->quiet, true);
}

/* ---- the calls for one item ------------------------------------------------- */

static struct op *
op_new(struct tf_sweeper *sw, const char *id)
{
	struct op *op = tf_calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->sw = sw;
	op->id = tf_strdup(id);
	if (op->id == NULL) {
		tf_free(op);
		return NULL;
	}
	sw->ops++;
	sw->claims++;
	return op;
}

static void
op_free(struct op *op)
{
	tf_task_free(&op->t);
	tf_free(op->error);
	tf_free(op->owner);
	tf_free(op->id);
	tf_free(op);
}

static void pump(struct tf_sweeper *sw);

/* What waited for a free call starts, and the sweep goes on (or ends, its
 * last call over). */
static void
go_on(struct tf_sweeper *sw)
{
	pump(sw);
	if (sw->phase == PHASE_SWEEP && sw->draining && sw->ops == 0 &&
	    sw->queued == 0)
		sweep_end(sw);
	else if (sw->phase == PHASE_SWEEP && sw->items != NULL &&
	    sw->timer == NULL)
		work_items(sw);  /* it waited for a free call */
	else
		settle(sw);
}

/* One of the sweeper's calls ended. */
static void
call_end(struct tf_sweeper *sw)
{
	sw->ops--;
	go_on(sw);
}

/* op's claim (or recovery) call ended. */
static void
claim_over(struct op *op)
{
	op->sw->claims--;
	op->sw->claims_ended++;
}

/* The item's calls are over with no message to send: frees op. */
static void
op_end(struct op *op)
{
	struct tf_sweeper *sw = op->sw;

	claim_over(op);
	op_free(op);
	call_end(sw);
}

static void
on_released(void *ctx, enum tf_err rc)
{
	struct op *op = ctx;
	struct tf_sweeper *sw = op->sw;
	struct tf_log_field f[] = { { "task", op->id } };

	tf_log_fields(TF_LOG_WARN, f, 1, "sweeper: sending the message failed "
	    "(%s); will retry %s", tf_strerror(op->send_rc), rc == TF_OK ?
	    "at the next sweep" : "after the grace period");
	op_free(op);
	call_end(sw);
}

/* Says no message is out for op's task (its send failed with rc), so the
 * next sweep tries again; if that write fails too, enqueued_for stays and
 * a sweep after the grace period retries. It waits for a free call. */
static void
send_failed(struct op *op, enum tf_err rc)
{
	struct tf_sweeper *sw = op->sw;

	op->send_rc = rc;
	op->next = sw->release;
	sw->release = op;
	sw->queued++;
}

/* A batch of messages in flight. */
struct send_batch {
	struct tf_sweeper *sw;        /* borrowed */
	size_t n;
	struct op *op[TF_SQS_MAX_BATCH];  /* owned */
};

static void
on_batch_sent(void *ctx, size_t n, const enum tf_err *rc,
    const char *const *err)
{
	struct send_batch *b = ctx;
	struct tf_sweeper *sw = b->sw;
	size_t i;

	(void)err;
	for (i = 0; i < b->n; i++) {
		enum tf_err r = i < n ? rc[i] : TF_ERR_NOMEM;

		if (r == TF_OK)
			atomic_fetch_add(&sw->stats.enqueued, 1);
		if (r == TF_OK || r == TF_ERR_CANCELLED)
			op_free(b->op[i]);
		else
			send_failed(b->op[i], r);
	}
	tf_free(b);
	call_end(sw);
}

/* Sends the messages waiting in the batch of priority p, in one call. */
static void
send_batch(struct tf_sweeper *sw, enum tf_priority p)
{
	struct tf_task_send_item m[TF_SQS_MAX_BATCH];
	struct send_batch *b = tf_calloc(1, sizeof(*b));
	int i, n = sw->n_batch[p];

	sw->n_batch[p] = 0;
	sw->queued -= n;
	if (b == NULL) {
		for (i = 0; i < n; i++)
			send_failed(sw->batch[p][i], TF_ERR_NOMEM);
		return;
	}
	b->sw = sw;
	b->n = (size_t)n;
	for (i = 0; i < n; i++) {
		b->op[i] = sw->batch[p][i];
		m[i] = (struct tf_task_send_item){ b->op[i]->id, b->op[i]->due,
		    b->op[i]->gen };
	}
	sw->ops++;
	tf_task_send_messages_async(sw->o.aws, sw->o.loop, sw->o.queue_url, p,
	    m, b->n, tf_now_ms(), on_batch_sent, b);
}

/* True when the batch of priority p waits for no more messages: it is
 * full, no claim in flight can add to it, or it waited long enough. */
static bool
batch_ready(const struct tf_sweeper *sw, int p)
{
	return sw->n_batch[p] > 0 && (sw->n_batch[p] == TF_SQS_MAX_BATCH ||
	    sw->claims == 0 ||
	    sw->claims_ended - sw->batch_since[p] >= BATCH_WAIT_CLAIMS);
}

/* Starts what waits for a free call, while calls are free: the releases of
 * failed sends, then the batches that are ready. A lone message is sent as
 * soon as its claim ends, a burst's in batches of ten. */
static void
pump(struct tf_sweeper *sw)
{
	struct op *op;
	int p;

	while (sw->ops < OPS_MAX) {
		if ((op = sw->release) != NULL) {
			sw->release = op->next;
			sw->queued--;
			sw->ops++;
			tf_task_release_message_async(sw->o.aws, sw->o.loop,
			    sw->o.table, op->id, op->gen, on_released, op);
			continue;
		}
		for (p = 0; p < TF_PRIORITY__N && !batch_ready(sw, p); p++)
			;
		if (p == TF_PRIORITY__N)
			return;
		send_batch(sw, (enum tf_priority)p);
	}
}

/* The message of generation gen, due at due, for the task whose enqueue
 * (or recovery) op claimed: it joins the batch of its queue. */
static void
send_claimed(struct op *op, int64_t due, int64_t gen)
{
	struct tf_sweeper *sw = op->sw;
	int p = op->prio >= 0 && op->prio < TF_PRIORITY__N ? (int)op->prio :
	    TF_PRIORITY_NORMAL;

	op->gen = gen;
	op->due = due;
	claim_over(op);
	sw->ops--;
	if (sw->n_batch[p] == TF_SQS_MAX_BATCH)
		send_batch(sw, p);  /* full, it waited for a call: the claim's */
	if (sw->n_batch[p] == 0)
		sw->batch_since[p] = sw->claims_ended;
	sw->batch[p][sw->n_batch[p]++] = op;
	sw->queued++;
	go_on(sw);
}

static void
on_enqueued(void *ctx, enum tf_err rc, enum tf_priority prio)
{
	struct op *op = ctx;

	op->prio = prio;
	if (rc != TF_OK) {
		/* TF_ERR_CONDITION: another consumer won, or the task moved on. */
		if (rc != TF_ERR_CONDITION && rc != TF_ERR_CANCELLED)
			tf_log(TF_LOG_WARN, "sweeper: claiming the enqueue of %s "
			    "failed: %s", op->id, tf_strerror(rc));
		op_end(op);
		return;
	}
	if (op->lost) {
		struct tf_log_field f[] = { { "task", op->id } };

		tf_log_fields(TF_LOG_WARN, f, 1, "sweeper: message for the run due "
		    "%lld ms ago was lost; sent again",
		    (long long)(op->now - op->next_run));
	}
	send_claimed(op, op->next_run, op->gen + 1);
}

/* A PENDING task in the due window: send its message unless one is out. */
static void
sweep_pending(struct tf_sweeper *sw, const cJSON *item, const char *id)
{
	int64_t gen = 0, next_run = 0, enqueued_for = 0;
	struct op *op;

	tf_ddb_item_n(item, "gen", &gen);
	if (!tf_ddb_item_n(item, "next_run", &next_run))
		return;
	if (tf_ddb_item_n(item, "enqueued_for", &enqueued_for) &&
	    enqueued_for >= sw->now - sw->grace)
		return;  /* its message is out and not yet overdue */
	op = op_new(sw, id);
	if (op == NULL)
		return;  /* the next sweep looks again */
	op->gen = gen;
	op->next_run = next_run;
	op->lost = enqueued_for > 0;
	op->now = sw->now;
	tf_task_sweep_enqueue_async(sw->o.aws, sw->o.loop, sw->o.table, id, gen,
	    next_run, sw->now - sw->grace, sw->now, on_enqueued, op);
}

static void
on_recovered(void *ctx, enum tf_err rc, enum tf_task_status state,
    int64_t next_gen, int64_t enqueue_at, const char *err)
{
	struct op *op = ctx;
	struct tf_log_field f[] = { { "task", op->id } };

	if (rc == TF_OK) {
		atomic_fetch_add(&op->sw->stats.recovered, 1);
		tf_log_fields(TF_LOG_WARN, f, 1, "sweeper: recovered a run %s (%s)%s; "
		    "task is %s", op->what, op->t.lease_owner ? op->t.lease_owner :
		    "?", op->out.uncharged ? ", not counted as an attempt" : "",
		    tf_task_status_name(state));
		if (enqueue_at > 0) {
			op->prio = op->t.priority;
			send_claimed(op, enqueue_at, next_gen);
			return;
		}
	} else if (rc != TF_ERR_CONDITION && rc != TF_ERR_CANCELLED) {
		tf_log(TF_LOG_WARN, "sweeper: recovering %s failed: %s", op->id, err);
	}
	op_end(op);
}

/* Takes back the run of PROCESSING task op->t, whose consumer is gone, as a
 * retry now with error text op->error, charged an attempt unless
 * `uncharged`; what: how the run ended, for the log (static). */
static void
recover_run(struct op *op, bool uncharged, int64_t lease_expired_before,
    const char *what)
{
	struct tf_sweeper *sw = op->sw;
	struct tf_task_outcome *o = &op->out;

	op->what = what;
	memset(o, 0, sizeof(*o));
	o->kind = TF_OUTCOME_RETRY;
	o->error = op->error;
	o->uncharged = uncharged;
	o->retry_at = op->now;
	o->horizon_ms = sw->o.horizon_ms;
	/* A run that does not count is no run of the history either. */
	o->history_kept = uncharged ? 0 : sw->o.history_kept;
	o->retention_ms = sw->o.retention_ms;
	o->duration_ms = -1;               /* the run's length is unknown */
	o->lease_expired_before = lease_expired_before;
	tf_task_finish_async(sw->o.aws, sw->o.loop, sw->o.table, &op->t, o,
	    op->now, on_recovered, op);
}

/* The item of a task whose lease had run out, read again. */
static void
on_expired_read(void *ctx, enum tf_err rc, struct tf_task *t, const char *err)
{
	struct op *op = ctx;
	struct tf_sweeper *sw = op->sw;
	char text[300];

	(void)err;
	if (rc == TF_OK)
		op->t = *t;  /* ours to free */
	if (rc != TF_OK || op->t.status != TF_TASK_PROCESSING ||
	    op->t.lease_until >= op->now - sw->o.lease_grace_ms) {
		op_end(op);
		return;
	}
	snprintf(text, sizeof(text), "lease expired: consumer %s stopped without "
	    "finishing the run", op->t.lease_owner ? op->t.lease_owner : "?");
	op->error = tf_strdup(text);
	if (op->error == NULL) {
		op_end(op);
		return;
	}
	recover_run(op, false, op->now - sw->o.lease_grace_ms,
	    "whose lease expired");
}

/* A PROCESSING task whose lease has run out: its consumer is gone. The run
 * counts as a failed attempt and the task is retried now. */
static void
sweep_expired(struct tf_sweeper *sw, const char *id)
{
	struct op *op = op_new(sw, id);

	if (op == NULL)
		return;
	op->now = sw->now;
	tf_task_get_async(sw->o.aws, sw->o.loop, sw->o.table, id, on_expired_read,
	    op);
}

/* The item of a run a crash journal names, read. */
static void
on_crashed_read(void *ctx, enum tf_err rc, struct tf_task *t, const char *err)
{
	struct op *op = ctx;
	struct tf_log_field f[] = { { "task", op->id } };

	(void)err;
	if (rc == TF_OK)
		op->t = *t;  /* ours to free */
	/* Only that very run, still leased to the dead consumer: its claim
	 * may never have been applied, and another consumer may have
	 * recovered it already. */
	if (rc == TF_OK && op->t.status == TF_TASK_PROCESSING &&
	    op->t.gen == op->gen && op->t.lease_owner != NULL &&
	    strcmp(op->t.lease_owner, op->owner) == 0) {
		op->now = tf_now_ms();
		recover_run(op, !op->charged, 0, op->charged ?
		    "that crashed its consumer" : "that another run's crash ended");
		return;
	}
	if (rc != TF_ERR_CANCELLED)
		tf_log_fields(TF_LOG_DEBUG, f, 1, "sweeper: the crash journal's run "
		    "(generation %lld of %s) is not in flight: nothing to recover",
		    (long long)op->gen, op->owner);
	op_end(op);
}

void
tf_sweeper_recover_crashed(struct tf_sweeper *sw, const char *id, int64_t gen,
    const char *owner, bool charged, const char *why)
{
	struct op *op = op_new(sw, id);

	if (op == NULL)
		return;  /* left to lease expiry */
	op->gen = gen;
	op->charged = charged;
	op->owner = tf_strdup(owner);
	op->error = tf_strdup(why);
	if (op->owner == NULL || op->error == NULL) {
		op_end(op);
		return;
	}
	tf_task_get_async(sw->o.aws, sw->o.loop, sw->o.table, id, on_crashed_read,
	    op);
}

/* ---- a sweep: the shards, their pages, their items --------------------------- */

/* Logs the failures of one sweep: one error line when they start, then at
 * most one every FAILURE_LOG_EVERY_MS while they go on, and one line when
 * they end. */
static void
log_failure(struct tf_sweeper *sw)
{
	struct failure_log *fl = &sw->fl;
	int64_t now = tf_mono_ms();
	char again[64] = "";

	if (sw->failed == 0) {
		if (fl->failing)
			tf_log(TF_LOG_INFO, "sweeper: querying the index by_due of "
			    "table %s works again; due and lost tasks are sent "
			    "again", sw->o.table);
		fl->failing = false;
		fl->logged_at = 0;
		fl->sweeps_failed = 0;
		return;
	}
	fl->failing = true;
	fl->sweeps_failed++;
	if (fl->logged_at != 0 && now - fl->logged_at < FAILURE_LOG_EVERY_MS)
		return;
	if (fl->logged_at != 0)
		snprintf(again, sizeof(again), "; still, after %ld more failed "
		    "sweep(s)", fl->sweeps_failed);
	tf_log(TF_LOG_ERROR, "sweeper: querying the index by_due of table %s "
	    "failed (%d of %d shards%s): %s. Until it works, tasks are not "
	    "enqueued when they come due, lost messages are not sent again and "
	    "runs of crashed consumers are not recovered%s", sw->o.table,
	    sw->failed, sw->swept, again, sw->err, sw->rc == TF_ERR_VALIDATION ||
	    sw->rc == TF_ERR_NOT_FOUND ?
	    "; a table without the index is fixed by `taskfleet init`" : "");
	fl->logged_at = now;
	fl->sweeps_failed = 0;
}

/* The shard in progress is over: frees what its query held. */
static void
shard_end(struct tf_sweeper *sw)
{
	tf_ddb_expr_free(&sw->e);
	cJSON_Delete(sw->start);
	sw->start = NULL;
	cJSON_Delete(sw->items);
	sw->items = NULL;
	sw->next_item = NULL;
}

/* The shard's query failed with rc (ae: what AWS said, may be NULL): a
 * failed shard counts as one item seen, so the sweeper does not back off;
 * the worst error is kept for the log and /readyz. */
static void
shard_failed(struct tf_sweeper *sw, enum tf_err rc, const struct tf_aws_error *ae)
{
	shard_end(sw);
	sw->seen++;
	if (sw->failed++ == 0 || (!tf_err_is_transient(rc) &&
	    tf_err_is_transient(sw->rc))) {
		sw->rc = rc;
		if (ae != NULL && ae->code == rc && (ae->type[0] || ae->message[0]))
			snprintf(sw->err, sizeof(sw->err), "%s (%.100s%s%.240s)",
			    tf_strerror(rc), ae->type, ae->type[0] &&
			    ae->message[0] ? ": " : "", ae->message);
		else
			snprintf(sw->err, sizeof(sw->err), "%s", tf_strerror(rc));
	}
}

static void
on_page(void *ctx, enum tf_err rc, cJSON *items, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct tf_sweeper *sw = ctx;

	if (rc == TF_ERR_CANCELLED) {
		cJSON_Delete(items);
		cJSON_Delete(next_key);
		return;  /* the loop stopped; tf_sweeper_stop() frees the rest */
	}
	if (rc != TF_OK) {
		cJSON_Delete(items);
		cJSON_Delete(next_key);
		shard_failed(sw, rc, err);
		next_shard(sw);
		return;
	}
	atomic_fetch_add(&sw->stats.queries, 1);
	atomic_fetch_add(&sw->stats.items_read, cJSON_GetArraySize(items));
	cJSON_Delete(sw->start);
	sw->start = next_key;
	sw->pages++;
	sw->q.limit = PAGE_LIMIT;
	sw->items = items;
	sw->next_item = items != NULL ? items->child : NULL;
	work_items(sw);
}

/* Reads the shard's next page; false when it could not start (the shard
 * then counts as failed). */
static bool
next_page(struct tf_sweeper *sw)
{
	enum tf_err rc = tf_ddb_query_page_async(sw->o.aws, sw->o.loop, &sw->q,
	    sw->start, on_page, sw);

	if (rc != TF_OK)
		shard_failed(sw, rc, NULL);
	return rc == TF_OK;
}

/* Starts the query of shard `shard`: the items with due_at <= now + horizon
 * (due.h: those whose message must be sent or may be lost, or whose lease
 * may have ended), in due_at order. It reaches `ahead` ms further, and
 * stops at the first item there: such an item keeps the sweeper from
 * backing off, since it needs a look within that time, without reading the
 * items behind it. False when it could not start. */
static bool
shard_start(struct tf_sweeper *sw, int shard)
{
	char shard_text[TF_DUE_SHARD_SIZE];

	memset(&sw->e, 0, sizeof(sw->e));
	memset(&sw->q, 0, sizeof(sw->q));
	sw->now = tf_now_ms();
	sw->grace = tf_sweeper_message_grace_ms(sw);
	sw->pages = 0;
	sw->shard_seen = 0;
	sw->shard_over = false;
	tf_due_shard_name(shard, shard_text);
	sw->e.key_condition = "due_shard = :s AND due_at <= :until";
	if (tf_ddb_expr_value_s(&sw->e, ":s", shard_text) != TF_OK ||
	    tf_ddb_expr_value_n(&sw->e, ":until", sw->now + sw->o.horizon_ms +
	    sw->ahead) != TF_OK) {
		shard_failed(sw, TF_ERR_NOMEM, NULL);
		return false;
	}
	sw->q.table = sw->o.table;
	sw->q.index = "by_due";
	sw->q.expr = &sw->e;
	sw->q.limit = FIRST_PAGE_LIMIT;
	return next_page(sw);
}

/* Goes on with the next shard of the sweep (those whose lease this sweeper
 * holds, or every one), or ends the sweep after the last. */
static void
next_shard(struct tf_sweeper *sw)
{
	int shard;

	for (;;) {
		sw->i++;
		if (sw->i >= sw->shards || sw->stopping) {
			/* The last item calls end the sweep (op_end()). */
			sw->draining = true;
			if (sw->ops == 0 && sw->queued == 0)
				sweep_end(sw);
			return;
		}
		shard = (sw->first + sw->i) % sw->shards;
		if (!sw->all && !sw->held[shard % sw->groups])
			continue;
		sw->swept++;
		if (shard_start(sw, shard))
			return;  /* on_page() goes on */
	}
}

/* Looks at one item of the shard's page. */
static void
look_at(struct tf_sweeper *sw, const cJSON *it)
{
	int64_t due_at, lease_until;
	const char *status, *id;

	sw->shard_seen++;
	if (tf_ddb_item_n(it, "due_at", &due_at) &&
	    due_at > sw->now + sw->o.horizon_ms) {
		sw->shard_over = true;  /* ahead of the window: see shard_start() */
		return;
	}
	atomic_fetch_add(&sw->stats.items, 1);
	status = tf_ddb_item_s(it, "status");
	id = tf_ddb_item_s(it, "id");
	if (status == NULL || id == NULL)
		return;
	if (strcmp(status, "PENDING") == 0)
		sweep_pending(sw, it, id);
	else if (strcmp(status, "PROCESSING") == 0 &&
	    tf_ddb_item_n(it, "lease_until", &lease_until) &&
	    lease_until < sw->now - sw->o.lease_grace_ms)
		sweep_expired(sw, id);
	else if ((strcmp(status, "COMPLETED") == 0 ||
	    strcmp(status, "FAILED") == 0) && sw->o.callback_due != NULL)
		sw->o.callback_due(sw->o.callback_arg, id);
}

/* Looks at the page's items, ITEMS_PER_STEP at a time with OPS_MAX calls
 * in flight at most; then reads the next page, or goes on with the next
 * shard. Called again by the step timer and as item calls end. */
static void
work_items(struct tf_sweeper *sw)
{
	int n = 0;

	if (sw->in_step || sw->items == NULL)
		return;
	sw->in_step = true;
	while (sw->next_item != NULL && !sw->shard_over) {
		if (sw->stopping) {
			sw->shard_over = true;
			break;
		}
		if (sw->ops >= OPS_MAX) {
			sw->in_step = false;
			return;  /* op_end() calls again */
		}
		if (n++ == ITEMS_PER_STEP) {
			sw->in_step = false;
			step_later(sw, 0);  /* the loop's turn first */
			return;
		}
		look_at(sw, sw->next_item);
		sw->next_item = sw->next_item->next;
	}
	sw->in_step = false;
	cJSON_Delete(sw->items);
	sw->items = NULL;
	sw->next_item = NULL;
	if (!sw->shard_over && sw->start != NULL && sw->pages < 1000) {
		if (!next_page(sw))
			next_shard(sw);
		return;
	}
	sw->seen += sw->shard_seen;
	shard_end(sw);
	next_shard(sw);
}

/* Starts a sweep of the shards whose lease this sweeper holds (of every
 * shard when `all`); ahead: how far past the window to look for items that
 * will need a look (shard_start()). */
static void
sweep_start(struct tf_sweeper *sw, bool all, int64_t ahead)
{
	sw->phase = PHASE_SWEEP;
	sw->all = all;
	sw->ahead = ahead;
	sw->draining = false;
	sw->sweep_mono = tf_mono_ms();
	/* Sweepers start at different shards, so they rarely race. */
	sw->first = (int)tf_random_below(sw->shards);
	sw->i = -1;
	sw->swept = sw->failed = 0;
	sw->seen = 0;
	sw->rc = TF_OK;
	sw->err[0] = '\0';
	next_shard(sw);
}

/* Sets when the next sweep starts: sooner while the window has items, less
 * often while it is empty (empty). */
static void
schedule_sweep(struct tf_sweeper *sw, int64_t from, bool empty)
{
	/* An empty due window means nothing can be lost or late: every task
	 * in it would show. Sweep less often until one appears; the query
	 * looks two idle intervals (with their jitter) past the window, so
	 * that a message that may be lost, or a lease that may end, before
	 * the next sweep keeps the interval short. */
	if (empty)
		sw->interval = sw->interval * 2 > sw->idle_max ? sw->idle_max :
		    sw->interval * 2;
	else
		sw->interval = sw->o.interval_ms;
	sw->next_sweep = from + sw->interval * 9 / 10 +
	    tf_random_below(sw->interval / 5 + 1);
}

/* The sweep's queries are done and its item calls ended. */
static void
sweep_end(struct tf_sweeper *sw)
{
	tf_sweeper_done_cb *done = sw->done;

	sw->draining = false;
	sw->phase = PHASE_IDLE;
	log_failure(sw);
	/* Readiness tells of failures a retry will not cure (a missing index,
	 * no permission), not of a throttled query. */
	pthread_mutex_lock(&sw->lock);
	snprintf(sw->failure, sizeof(sw->failure), "%s",
	    sw->failed > 0 && !tf_err_is_transient(sw->rc) ? sw->err : "");
	pthread_mutex_unlock(&sw->lock);
	atomic_fetch_add(&sw->stats.sweeps, 1);
	if (done != NULL) {
		sw->done = NULL;
		done(sw->done_ctx);
	} else if (!sw->o.manual) {
		schedule_sweep(sw, sw->sweep_mono, sw->seen == 0);
		step_later(sw, 0);
	}
	settle(sw);
}

/* ---- the lease round ------------------------------------------------------- */

/* Makes shards the table's count (on failure rc, keeps the one it has, 16
 * at first, and tries again at the next round), and the process's (due.h). */
static void
set_shards(struct tf_sweeper *sw, enum tf_err rc, int shards)
{
	struct tf_due_timing timing;

	if (rc != TF_OK) {
		tf_log(TF_LOG_WARN, "sweeper: reading the shard count of table %s "
		    "failed (%s); sweeping %d shards until it works", sw->o.table,
		    tf_strerror(rc), sw->shards);
		return;
	}
	if (shards == sw->shards)
		return;
	tf_log(TF_LOG_INFO, "sweeper: table %s now has %d due shards (was %d)",
	    sw->o.table, shards, sw->shards);
	sw->shards = shards;
	if (tf_sweep_lease_groups(shards) != sw->groups) {
		sw->groups = tf_sweep_lease_groups(shards);
		memset(sw->held, 0, sizeof(sw->held));
	}
	tf_due_get(&timing);
	timing.shards = shards;
	tf_due_set(&timing);
}

/* The round is over: took says whether it took a lease it did not hold, or
 * could not read them (a sweep then starts at once). */
static void
round_end(struct tf_sweeper *sw, bool took)
{
	int64_t now = tf_mono_ms();

	sw->phase = PHASE_IDLE;
	if (took)
		sw->next_sweep = now;
	/* A consumer that could not read the leases reads them again at the
	 * holders' pace. */
	sw->next_round = now + tf_sweep_lease_round_ms(sw->leaseless ?
	    TF_LEASE_PACE_HOLDER : tf_sweep_lease_pace(sw->l, sw->act, sw->held,
	    sw->groups, sw->round_now), sw->lease_ms,
	    tf_random_below(sw->lease_ms / 10 + 1));
	step_later(sw, 0);
	settle(sw);
}

/* Lease group sw->g's write ended with rc (TF_OK for no write). */
static void
lease_written(struct tf_sweeper *sw, enum tf_err rc)
{
	int g = sw->g++;
	enum tf_sweep_lease_action act = sw->act[g];
	bool had = sw->held[g];

	if (act == TF_LEASE_RENEW || act == TF_LEASE_TAKE)
		sw->held[g] = rc == TF_OK;
	else if (act != TF_LEASE_ASK || rc == TF_OK)
		sw->held[g] = false;
	if (rc != TF_OK && rc != TF_ERR_CONDITION)
		tf_log(TF_LOG_WARN, "sweeper: writing the sweep lease of shard "
		    "group %d failed: %s", g, tf_strerror(rc));
	if (sw->held[g] && !had) {
		sw->took = true;
		tf_log(TF_LOG_INFO, "sweeper: took the sweep lease of shard "
		    "group %d of %d%s", g, sw->groups, act == TF_LEASE_TAKE &&
		    sw->l[g].exists && sw->l[g].holder != 0 && sw->l[g].until > 0 ?
		    " (its holder stopped renewing it)" : "");
	} else if (had && !sw->held[g]) {
		tf_log(TF_LOG_INFO, "sweeper: %s the sweep lease of shard "
		    "group %d of %d", act == TF_LEASE_HAND_OVER ?
		    "handed over" : "lost", g, sw->groups);
	}
}

static void on_lease_written(void *ctx, enum tf_err rc);

/* Writes the leases the plan changes, one after the other. */
static void
write_leases(struct tf_sweeper *sw)
{
	enum tf_err rc;

	while (sw->g < sw->groups && !sw->stopping) {
		if (sw->act[sw->g] == TF_LEASE_NONE) {
			lease_written(sw, TF_OK);
			continue;
		}
		rc = tf_sweep_lease_apply(sw->o.aws, sw->o.loop, sw->o.table, sw->g,
		    &sw->l[sw->g], sw->act[sw->g], sw->token, sw->o.owner,
		    sw->round_now, sw->lease_ms, on_lease_written, sw);
		if (rc == TF_OK)
			return;  /* on_lease_written() goes on */
		lease_written(sw, rc);
	}
	round_end(sw, sw->took);
}

static void
on_lease_written(void *ctx, enum tf_err rc)
{
	struct tf_sweeper *sw = ctx;

	if (rc == TF_ERR_CANCELLED)
		return;  /* the loop stopped */
	lease_written(sw, rc);
	write_leases(sw);
}

/* The leases as read: renews, takes, hands over or asks for them
 * (sweep_lease.h). */
static void
on_leases(void *ctx, enum tf_err rc, const struct tf_sweep_lease *l)
{
	struct tf_sweeper *sw = ctx;

	if (rc == TF_ERR_CANCELLED)
		return;  /* the loop stopped */
	if (rc != TF_OK) {
		/* Sweep every shard until the leases can be read again: two
		 * sweepers on a shard are safe, none is not. A table without
		 * the by_due index lands here too, and its sweep then says so
		 * (readiness, the error line). */
		if (!sw->leaseless)
			tf_log(TF_LOG_WARN, "sweeper: reading the sweep leases failed "
			    "(%s); sweeping every shard until it works",
			    tf_strerror(rc));
		sw->leaseless = true;
		round_end(sw, true);
		return;
	}
	if (sw->leaseless)
		tf_log(TF_LOG_INFO, "sweeper: the sweep leases can be read again");
	sw->leaseless = false;
	memcpy(sw->l, l, (size_t)sw->groups * sizeof(*l));
	sw->round_now = tf_now_ms();
	tf_sweep_lease_plan(sw->l, sw->groups, sw->token, sw->round_now,
	    sw->lease_ms, sw->act);
	sw->g = 0;
	sw->took = false;
	write_leases(sw);
}

/* The shard count, read (or taken from a fresh enough read): a manual
 * sweep starts; a round reads the leases. */
static void
on_shards(void *ctx, enum tf_err rc, int shards)
{
	struct tf_sweeper *sw = ctx;

	if (rc == TF_ERR_CANCELLED)
		return;  /* the loop stopped */
	set_shards(sw, rc, shards);
	if (sw->o.manual) {
		sweep_start(sw, true, 0);
		return;
	}
	rc = tf_sweep_lease_read(sw->o.aws, sw->o.loop, sw->o.table, sw->groups,
	    on_leases, sw);
	if (rc != TF_OK)
		on_leases(sw, rc, NULL);
}

/* The timer: a lease round when one is due, else a sweep when one is due,
 * else the timer again. */
static void
tick(struct tf_sweeper *sw)
{
	int64_t now = tf_mono_ms();

	if (sw->stopping || sw->phase != PHASE_IDLE)
		return;
	if (now >= sw->next_round) {
		sw->phase = PHASE_ROUND;
		tf_ns_gate_shards(sw->o.gate, CONFIG_REFRESH_MS, on_shards, sw);
		return;
	}
	if (now >= sw->next_sweep) {
		if (holds_any(sw) || sw->leaseless) {
			sweep_start(sw, sw->leaseless, 2 * sw->idle_max);
			return;
		}
		schedule_sweep(sw, now, true);  /* nothing to sweep */
	}
	step_later(sw, (sw->next_sweep < sw->next_round ? sw->next_sweep :
	    sw->next_round) - now);
}

/* ---- the sweeper's life ---------------------------------------------------- */

void
tf_sweeper_sweep(struct tf_sweeper *sw, tf_sweeper_done_cb *done, void *ctx)
{
	sw->done = done;
	sw->done_ctx = ctx;
	sw->phase = PHASE_ROUND;
	tf_ns_gate_shards(sw->o.gate, CONFIG_REFRESH_MS, on_shards, sw);
}

bool
tf_sweeper_failing(struct tf_sweeper *sw, char *why, size_t n)
{
	bool failing;

	pthread_mutex_lock(&sw->lock);
	failing = sw->failure[0] != '\0';
	if (failing)
		snprintf(why, n, "sweeper: querying the index by_due of table %s "
		    "fails: %s\n", sw->o.table, sw->failure);
	pthread_mutex_unlock(&sw->lock);
	return failing;
}

enum tf_err
tf_sweeper_start(const struct tf_sweeper_opts *o, struct tf_sweeper **out)
{
	struct tf_sweeper *sw = tf_calloc(1, sizeof(*sw));
	struct tf_due_timing timing;

	*out = NULL;
	if (sw == NULL)
		return TF_ERR_NOMEM;
	sw->o = *o;
	sw->wait_window_start = tf_mono_ms();
	sw->lease_ms = o->lease_ms > 0 ? o->lease_ms : TF_SWEEPER_LEASE_DEFAULT_MS;
	sw->token = 1 + tf_random_below((1LL << 52) - 1);
	if (sw->o.owner == NULL)
		sw->o.owner = "?";
	/* A task entering the window while the sweeper idles is still sent
	 * at least half a horizon before it is due. */
	sw->interval = o->interval_ms;
	sw->idle_max = o->horizon_ms / 2 < TF_SWEEPER_IDLE_MAX_MS ?
	    o->horizon_ms / 2 : TF_SWEEPER_IDLE_MAX_MS;
	if (sw->idle_max < o->interval_ms)
		sw->idle_max = o->interval_ms;
	/* This process's writes set due_at with the sweeper's settings, and
	 * due_shard with the table's count (16 until the first round reads
	 * it: safe, as the count only grows). */
	tf_due_get(&timing);
	timing.horizon_ms = o->horizon_ms;
	timing.grace_ms = o->grace_ms;
	timing.shards = 0;  /* set_shards() sets the table's */
	tf_due_set(&timing);
	sw->shards = TF_DUE_SHARDS_DEFAULT;
	sw->groups = tf_sweep_lease_groups(sw->shards);
	pthread_mutex_init(&sw->lock, NULL);
	/* The first round (and its sweep) as soon as the loop runs. */
	if (!o->manual && tf_loop_after(o->loop, 0, on_timer, sw,
	    &sw->timer) != TF_OK) {
		pthread_mutex_destroy(&sw->lock);
		tf_free(sw);
		return TF_ERR_NOMEM;
	}
	*out = sw;
	return TF_OK;
}

void
tf_sweeper_stop_begin(struct tf_sweeper *sw)
{
	if (sw == NULL || sw->stopping)
		return;
	sw->stopping = true;
	if (sw->timer != NULL) {
		tf_loop_timer_cancel(sw->timer);
		sw->timer = NULL;
		if (sw->phase == PHASE_SWEEP)
			work_items(sw);  /* ends the page, and the sweep */
	}
	settle(sw);
}

bool
tf_sweeper_quiet(struct tf_sweeper *sw)
{
	return sw == NULL || atomic_load(&sw->quiet);
}

void
tf_sweeper_stop(struct tf_sweeper *sw)
{
	struct op *op;
	int p, i;

	if (sw == NULL)
		return;
	shard_end(sw);
	/* Items the loop stopped before their call: their tasks' messages are
	 * sent by a sweep after the grace period. */
	for (p = 0; p < TF_PRIORITY__N; p++)
		for (i = 0; i < sw->n_batch[p]; i++)
			op_free(sw->batch[p][i]);
	while ((op = sw->release) != NULL) {
		sw->release = op->next;
		op_free(op);
	}
	tf_log(TF_LOG_INFO, "sweeper: %ld sweep(s), %ld query page(s) read %ld "
	    "item(s) of the due index, %ld of them due for a look",
	    atomic_load(&sw->stats.sweeps), atomic_load(&sw->stats.queries),
	    atomic_load(&sw->stats.items_read), atomic_load(&sw->stats.items));
	pthread_mutex_destroy(&sw->lock);
	tf_free(sw);
}

struct tf_sweeper_stats *
tf_sweeper_stats(struct tf_sweeper *sw)
{
	return &sw->stats;
}
