/*
 * receive.c - the receive scheduling of the consumer's event loop.
 *
 * As many long polls are open as free capacity needs: free capacity is the
 * receive limit (the concurrency, lowered while AWS throttles) minus the
 * runs in flight minus what the open polls may still bring, so no message
 * is ever received that cannot start at once (a message that came early
 * waits on a timer, taking no slot, up to tf_consumer_hold_cap() of them;
 * the one message of an idle queue's spare poll, below, may wait for the
 * first run to end), and no message waits while its visibility runs out.
 *
 * How many polls are open adapts to the queue: a poll that comes back at
 * least half full allows one more (up to one per ten free slots, at most
 * RECEIVES_MAX), a poll that comes back empty one fewer (at least one). A
 * backlog so opens many polls within a few round trips, and a poll that
 * finds the queue empty for the moment among many full ones costs little;
 * an idle consumer soon keeps one, at one request per long poll. While
 * polls are open, a new one waits for ten free slots, so batches stay full.
 * --once keeps one poll open at a time (once.h), on each queue in turn.
 *
 * Priorities (docs/design.md, "Priorities"): each priority has a queue
 * (priority.h). Every queue that exists keeps one poll open, the high one
 * first, so a high message is taken as soon as it is sent; free slots go
 * to the queues without a poll open in the order high, normal, low, and the
 * extra polls a backlog allows to the most urgent queue with a backlog. A
 * backlogged low queue so keeps a poll in flight and gets a slot whenever
 * its poll is back before the others': it is slowed, never starved. While
 * other queues exist, a queue whose last poll came back empty asks for one
 * message, and that idle poll holds no slot (a spare poll): the queues
 * that stay empty cost a busy consumer none of its slots, and the one
 * message a spare poll may bring while every slot is taken waits for the
 * first run to end (tf_consumer_process()), ahead of any message received
 * later; at most one per queue waits so. A queue that does not
 * exist (a deployment made before priorities) is looked for again every
 * ABSENT_RETRY_MS; its tasks' messages go to the normal queue meanwhile.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "aws/sqs_async.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "consumer.h"
#include "metrics.h"

/* Receive errors back off from 1 s, doubling to 30 s, with jitter. */
#define RECEIVE_BACKOFF_MIN_MS 1000
#define RECEIVE_BACKOFF_MAX_MS 30000

/* The most long polls open at once: far below the connections the loop
 * keeps per host (64), so deletes and hand-backs to SQS always find one;
 * 16 polls of ten at 25 ms a round trip bring 6,400 messages a second. */
#define RECEIVES_MAX 16

/* With runs in flight, no poll open and fewer than ten slots free, a poll
 * waits this long for more to free up (runs end every few milliseconds
 * under a backlog): fuller batches, fewer requests per run. */
#define BATCH_WAIT_MS 25

/* The housekeeping tick: the watchdog's sign of progress, backpressure. */
#define TICK_MS 1000

/* The longest wait of a poll beyond the one each queue keeps open, while
 * several queues are polled. */
#define EXTRA_WAIT_S 1

/* A queue with a backlog, or with no poll open, gets a poll once the
 * other queues' polls have asked for this many slots since its last one,
 * however urgent they are: its guaranteed share. */
#define SHARE_SLOTS 8

/* A priority's queue found missing is polled again after this long. */
#define ABSENT_RETRY_MS 60000

/* fill_small(): how many polls in a row a queue that brought messages gets
 * before the others' turn. */
#define SMALL_AGAIN_MAX 4

/* The order queues get free slots in: most urgent first. */
static const enum tf_priority poll_order[TF_PRIORITY__N] = {
	TF_PRIORITY_HIGH, TF_PRIORITY_NORMAL, TF_PRIORITY_LOW,
};

/* The receive state of one priority's queue. */
struct queue_rx {
	int open;                       /* polls open on it */
	int target;                     /* polls wanted open (1..RECEIVES_MAX) */
	bool hot;                       /* its last poll came back at least
	                                   half full: a backlog */
	bool empty;                     /* its last poll came back empty */
	bool woke;                      /* its last poll was a spare one and
	                                   brought a message */
	int64_t absent_until;           /* > 0: it does not exist; monotonic ms
	                                   when to look again */
	int owed;                       /* slots other queues' polls asked for
	                                   since its last poll, while it had a
	                                   backlog or no poll open */
};

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

struct tf_receiver {
	int asked;                      /* messages the open polls may bring,
	                                   spare polls not counted */
	struct queue_rx q[TF_PRIORITY__N];  /* by priority */
	int once_turn;                  /* --once: the queue polled next */
	int once_empty;                 /* --once: idle polls in a row that
	                                   found their queue empty */
	int small_turn;                 /* fill_small(): the queue polled next */
	int small_last;                 /* fill_small(): the queue polled last
	                                   (-1: none yet) */
	int small_again;                /* and how many times in a row */
	bool over;                      /* no more polls: stopping, or --once
	                                   drained */
	struct tf_loop_timer *backoff;  /* a failed poll's wait; NULL: none */
	struct tf_loop_timer *batch;    /* waiting for a fuller batch */
	bool batch_waited;              /* that wait is over: poll now */
	int64_t backoff_ms;
	int failures;                   /* polls failed in a row */
	long receives;                  /* polls opened */
	struct backpressure bp;
	struct tf_loop_timer *tick;
};

/* One open poll. */
struct receive {
	struct tf_consumer *c;
	int max;                        /* messages asked for */
	bool idle;                      /* --once: no run was in flight */
	int queue;                      /* the priority of its queue */
	bool spare;                     /* an idle queue's poll: holds no slot
	                                   (not in asked) */
};

static void
beat(struct tf_consumer *c)
{
	atomic_store(&c->receiver_beat_ms, tf_mono_ms());
}

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

/*
 * The long poll's wait: --wait-time, but no longer than the shutdown timeout
 * (at least a second), because a stop lets the open polls return rather
 * than abort them: SQS would still hand messages to an aborted poll, and
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

int
tf_receiver_wait_s(const struct tf_consumer *c)
{
	return c->o.once ? once_wait_s(c) : receive_wait_s(c);
}

/* --once: no more polls; what it held goes back to the queue, visible, for
 * the next invocation or a daemon. */
static void
end_once(struct tf_consumer *c)
{
	const struct tf_sqs_message *held;
	size_t n;

	c->rx->over = true;
	held = tf_once_held(c->once, &n);
	tf_consumer_hand_back(c, held, n, 0, "not due at the --once cutoff");
	atomic_store(&c->drained, 1);
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
			tf_consumer_hand_back(c, &msgs[i], 1, 0, "not due at the --once "
			    "cutoff");
			tf_sqs_message_clear(&msgs[i]);
		}
	}
	/* The slots past kept were moved or emptied: never free them twice. */
	for (i = kept; i < n; i++)
		memset(&msgs[i], 0, sizeof(msgs[i]));
	return kept;
}

static void
on_batch_wait_over(void *ctx, enum tf_err rc)
{
	struct tf_consumer *c = ctx;

	if (rc == TF_ERR_CANCELLED)
		return;
	c->rx->batch = NULL;
	c->rx->batch_waited = true;
	tf_receiver_fill(c);
}

static void
on_backoff_over(void *ctx, enum tf_err rc)
{
	struct tf_consumer *c = ctx;

	if (rc == TF_ERR_CANCELLED)
		return;
	c->rx->backoff = NULL;
	tf_receiver_fill(c);
}

/* A poll failed (rc, err): back off, or end --once after too many. */
static void
receive_failed(struct tf_consumer *c, enum tf_err rc, const char *why)
{
	struct tf_receiver *rx = c->rx;
	int64_t wait;

	tf_log(TF_LOG_WARN, "receive failed: %s (%s); retrying", tf_strerror(rc),
	    why);
	if (c->o.once && ++rx->failures >= TF_ONCE_RECEIVE_FAILURES_MAX) {
		tf_log(TF_LOG_ERROR, "--once: receiving failed %d times in a row; "
		    "stopping", rx->failures);
		tf_once_receive_failed(c->once);
		end_once(c);
		return;
	}
	if (rx->backoff != NULL)
		return;
	wait = rx->backoff_ms / 2 + tf_random_below(rx->backoff_ms / 2 + 1);
	rx->backoff_ms = rx->backoff_ms * 2 > RECEIVE_BACKOFF_MAX_MS ?
	    RECEIVE_BACKOFF_MAX_MS : rx->backoff_ms * 2;
	if (tf_loop_after(c->loop, (long)wait, on_backoff_over, c,
	    &rx->backoff) != TF_OK)
		rx->backoff = NULL;
}

/* True when the queue of priority q is polled now: it exists, or it is
 * time to look for it again. */
static bool
queue_polled(const struct queue_rx *q, int64_t now)
{
	return q->absent_until == 0 || now >= q->absent_until;
}

/* How many queues are known to exist. */
static int
queues_present(const struct tf_receiver *rx)
{
	int q, n = 0;

	for (q = 0; q < TF_PRIORITY__N; q++)
		n += rx->q[q].absent_until == 0;
	return n;
}

static void
on_received(void *ctx, enum tf_err rc, struct tf_sqs_message *msgs, size_t n,
    const struct tf_aws_error *err)
{
	struct receive *r = ctx;
	struct tf_consumer *c = r->c;
	struct tf_receiver *rx = c->rx;
	struct queue_rx *q = &rx->q[r->queue];
	size_t i, received = n;

	atomic_fetch_sub(&c->receives_open, 1);
	if (rc == TF_ERR_CANCELLED) {
		tf_free(r);
		return;
	}
	if (!r->spare)
		rx->asked -= r->max;
	q->open--;
	beat(c);
	if (rc == TF_ERR_NOT_FOUND && r->queue != TF_PRIORITY_NORMAL) {
		/* A deployment made before priorities: its tasks' messages go
		 * to the normal queue (tf_task_send_message()). */
		if (q->absent_until == 0)
			tf_log(TF_LOG_INFO, "there is no queue %s: %s tasks go to "
			    "the normal queue (taskfleet init makes it); looking "
			    "again every %d s", tf_consumer_queue_url(c, r->queue),
			    tf_priority_name((enum tf_priority)r->queue),
			    ABSENT_RETRY_MS / 1000);
		q->absent_until = tf_mono_ms() + ABSENT_RETRY_MS;
		tf_free(r);
		tf_receiver_fill(c);
		return;
	}
	if (rc == TF_OK && q->absent_until > 0) {
		tf_log(TF_LOG_INFO, "queue %s found: polling it",
		    tf_consumer_queue_url(c, r->queue));
		q->absent_until = 0;
	}
	if (rc != TF_OK) {
		receive_failed(c, rc, err != NULL ? err->message : "");
		tf_free(r);
		return;
	}
	rx->backoff_ms = RECEIVE_BACKOFF_MIN_MS;
	rx->failures = 0;
	tf_metrics_received(c->metrics, n);
	if (atomic_load(&c->stopping)) {
		/* The stop began during this poll: none of these starts. */
		tf_consumer_hand_back(c, msgs, n, 0, "received during the stop");
		tf_sqs_messages_free(msgs, n);
		tf_free(r);
		return;
	}
	for (i = 0; i < n; i++)
		msgs[i].queue = r->queue;
	if (c->o.once && !rx->over) {
		n = admit_once(c, msgs, n);
		rx->once_empty = received == 0 && r->idle ? rx->once_empty + 1 : 0;
		if (rx->once_empty >= queues_present(rx)) {
			/* Nothing was visible on any queue, and nothing ran that
			 * could have sent a message meanwhile. */
			tf_log(TF_LOG_INFO, "--once: nothing more is due");
			end_once(c);
		}
	}
	q->hot = received > 0 && 2 * (int)received >= r->max && !r->spare;
	q->empty = received == 0;
	q->woke = r->spare && received > 0;
	if (q->hot)
		q->target = q->target < RECEIVES_MAX ? q->target + 1 : RECEIVES_MAX;
	else if (received == 0)
		q->target = q->target > 1 ? q->target - 1 : 1;
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&c->lock);
		c->busy++;
		pthread_mutex_unlock(&c->lock);
		tf_consumer_process(c, &msgs[i]);  /* takes msgs[i]'s strings */
	}
	tf_sqs_messages_free(msgs, received);
	tf_free(r);
	tf_receiver_fill(c);
}

/* Opens one poll on the queue of priority q for up to max messages,
 * waiting at most wait_s (-1: the long poll's wait); a spare poll holds no
 * slot. */
static void
open_receive(struct tf_consumer *c, int q, int max, bool idle, int wait_s,
    bool spare)
{
	struct tf_sqs_receive_opts ro = { 0 };
	struct receive *r = tf_malloc(sizeof(*r));
	enum tf_err rc = TF_ERR_NOMEM;

	ro.max_messages = max;
	ro.wait_seconds = tf_receiver_wait_s(c);
	if (wait_s >= 0 && ro.wait_seconds > wait_s)
		ro.wait_seconds = wait_s;
	ro.visibility_timeout = c->o.visibility_s;
	if (r != NULL) {
		*r = (struct receive){ c, max, idle, q, spare };
		rc = tf_sqs_receive_message_async(c->ctx->aws, c->loop,
		    tf_consumer_queue_url(c, q), &ro, on_received, r);
	}
	if (rc != TF_OK) {
		tf_free(r);
		receive_failed(c, rc, "the poll could not start");
		return;
	}
	if (!spare)
		c->rx->asked += max;
	c->rx->q[q].open++;
	c->rx->receives++;
	atomic_fetch_add(&c->receives_open, 1);
	tf_debug("poll of %s for %d opened: %d open, %d wanted there",
	    tf_priority_name((enum tf_priority)q), max,
	    atomic_load(&c->receives_open), c->rx->q[q].target);
}

/* --once: one poll at a time, on each queue in turn. */
static void
fill_once(struct tf_consumer *c, int limit, bool idle)
{
	struct tf_receiver *rx = c->rx;
	int64_t now = tf_mono_ms();
	int i, q;

	for (i = 0; i < TF_PRIORITY__N; i++) {
		q = poll_order[(rx->once_turn + i) % TF_PRIORITY__N];
		if (queue_polled(&rx->q[q], now)) {
			rx->once_turn = (rx->once_turn + i + 1) % TF_PRIORITY__N;
			open_receive(c, q, limit < TF_SQS_MAX_BATCH ? limit :
			    TF_SQS_MAX_BATCH, idle, -1, false);
			return;
		}
	}
}

/* Fewer slots than queues (--concurrency 1 or 2, or throttling lowered the
 * limit that far): no poll can stay open on each. One poll at a time: a
 * short poll (no wait) of the high queue, then of the low one, then a long
 * poll of the normal queue, in turn; a high task then waits at most one
 * long poll (and SMALL_AGAIN_MAX quick ones of a queue with a backlog).
 * Idle, that is still three requests a long poll. */
static void
fill_small(struct tf_consumer *c, int free_slots, bool idle)
{
	static const enum tf_priority turn[TF_PRIORITY__N] = {
		TF_PRIORITY_HIGH, TF_PRIORITY_LOW, TF_PRIORITY_NORMAL,
	};
	struct tf_receiver *rx = c->rx;
	int64_t now = tf_mono_ms();
	int max = free_slots < TF_SQS_MAX_BATCH ? free_slots : TF_SQS_MAX_BATCH;
	int i, q;

	/* A queue whose poll just brought messages is asked again, up to
	 * SMALL_AGAIN_MAX times in a row: its backlog (early messages held on
	 * timers take no slot) comes in without waiting for the other queues'
	 * turns, which still come between. */
	q = rx->small_last;
	if (q >= 0 && !rx->q[q].empty && rx->small_again < SMALL_AGAIN_MAX &&
	    queue_polled(&rx->q[q], now)) {
		rx->small_again++;
		open_receive(c, q, max, idle, q == TF_PRIORITY_NORMAL ? -1 : 0,
		    false);
		return;
	}
	for (i = 0; i < TF_PRIORITY__N; i++) {
		q = turn[(rx->small_turn + i) % TF_PRIORITY__N];
		if (!queue_polled(&rx->q[q], now))
			continue;
		rx->small_turn = (rx->small_turn + i + 1) % TF_PRIORITY__N;
		rx->small_last = q;
		rx->small_again = 0;
		open_receive(c, q, max, idle, q == TF_PRIORITY_NORMAL ? -1 : 0,
		    false);
		return;
	}
}

/* A backlog, and runs about to end: a moment for a fuller batch of queue q
 * (BATCH_WAIT_MS at most; a run that ends looks again). True while the
 * wait lasts. */
static bool
batch_wait(struct tf_consumer *c, const struct queue_rx *q, int free_slots,
    int busy)
{
	struct tf_receiver *rx = c->rx;

	if (free_slots >= TF_SQS_MAX_BATCH || busy == 0 || q->target <= 1 ||
	    rx->batch_waited)
		return false;
	if (rx->batch == NULL && tf_loop_after(c->loop, BATCH_WAIT_MS,
	    on_batch_wait_over, c, &rx->batch) != TF_OK)
		rx->batch = NULL;
	return rx->batch != NULL;
}

/* True when a queue more urgent than priority p's has a backlog. */
static bool
urgent_hot(const struct tf_receiver *rx, int p)
{
	int i;

	for (i = 0; i < TF_PRIORITY__N && (int)poll_order[i] != p; i++)
		if (rx->q[poll_order[i]].hot)
			return true;
	return false;
}

/* True when queue q is idle and has no poll open: it gets a spare poll
 * (one message, no slot held). Idle: looked for again while missing, or
 * beside other queues, its last poll came back empty. */
static bool
spare_poll_due(const struct queue_rx *q, int present, int64_t now)
{
	return q->open == 0 && queue_polled(q, now) &&
	    (q->absent_until > 0 || (q->empty && present > 1));
}

/* Whether priority p's queue may get one more poll now, with free_slots
 * free. */
static bool
may_poll(const struct tf_receiver *rx, int p, int free_slots, int64_t now)
{
	const struct queue_rx *q = &rx->q[p];

	if (!queue_polled(q, now))
		return false;
	if (q->open == 0)
		return true;
	/* Extra polls for a backlog; beside open ones, a new one waits for
	 * ten free slots (fuller batches, fewer requests per run), except on
	 * the high queue, where a slot is taken as soon as it frees. */
	return q->hot && q->absent_until == 0 && q->open < q->target &&
	    (p == TF_PRIORITY_HIGH || free_slots >= TF_SQS_MAX_BATCH);
}

/* The priority of the queue the next poll goes to, or -1 for none: a queue
 * owed its share first, then the most urgent queue that may poll; a queue
 * with a backlog that may not poll yet keeps the slots from less urgent
 * ones. */
static int
pick_queue(const struct tf_receiver *rx, int free_slots, int64_t now)
{
	int i, p;

	for (i = TF_PRIORITY__N - 1; i > 0; i--) {
		p = poll_order[i];
		if (rx->q[p].owed >= SHARE_SLOTS && may_poll(rx, p, free_slots, now))
			return p;
	}
	for (i = 0; i < TF_PRIORITY__N; i++) {
		p = poll_order[i];
		if (may_poll(rx, p, free_slots, now))
			return p;
		if (rx->q[p].hot)
			return -1;
	}
	return -1;
}

void
tf_receiver_fill(struct tf_consumer *c)
{
	struct tf_receiver *rx = c->rx;
	int busy, free_slots, open, max, limit, present, share, i, p;
	int64_t now = tf_mono_ms();
	struct queue_rx *q;

	if (rx == NULL || rx->over || rx->backoff != NULL ||
	    atomic_load(&c->stopping))
		return;
	if (c->o.stall_receiver && rx->receives > 0) {
		tf_log(TF_LOG_WARN, "TASKFLEET_TEST_STALL_RECEIVER=1: the event "
		    "loop hangs now (a test setting)");
		for (;;)
			sleep(1);
	}
	/* Runs in flight take a slot each, held messages none (a timer); the
	 * polls may bring as many as they asked for. Written on this thread
	 * only. */
	busy = c->busy - c->held_n;
	limit = atomic_load(&c->receive_limit);
	free_slots = limit - busy - rx->asked;
	if (c->held_n >= tf_consumer_hold_cap(c))
		return;
	open = atomic_load(&c->receives_open);
	if (c->o.once) {
		if (open == 0 && free_slots > 0)
			fill_once(c, limit, busy == 0);
		return;
	}
	present = queues_present(rx);
	if (limit < present) {
		if (open == 0 && free_slots > 0)
			fill_small(c, free_slots, busy == 0);
		return;
	}
	/* Idle queues first: each keeps a spare poll of one message open,
	 * holding no slot, even while every slot is taken (a message it brings
	 * then waits for the first to free, tf_consumer_process()). */
	for (i = 0; i < TF_PRIORITY__N; i++) {
		q = &rx->q[poll_order[i]];
		if (!spare_poll_due(q, present, now))
			continue;
		open_receive(c, poll_order[i], 1, busy == 0 && open == 0, -1,
		    true);
		if (rx->backoff != NULL || rx->over)
			return;
		open++;
	}
	while (free_slots > 0 && (p = pick_queue(rx, free_slots, now)) >= 0) {
		q = &rx->q[p];
		max = free_slots < TF_SQS_MAX_BATCH ? free_slots : TF_SQS_MAX_BATCH;
		share = q->owed / SHARE_SLOTS;
		if (urgent_hot(rx, p) && share < max)
			max = share > 0 ? share : 1;  /* its share, no more */
		if (p != TF_PRIORITY_HIGH && q->open == 0 &&
		    batch_wait(c, q, free_slots, busy))
			return;
		/* Beside other queues, an extra poll waits briefly, so that it
		 * soon gives back the slots it holds when the backlog ends; the
		 * poll after a spare one brought a message does not wait: one
		 * message is no backlog, and a long poll of an emptied queue
		 * would hold its slots for the whole wait. */
		open_receive(c, p, max, busy == 0 && open == 0, q->woke ? 0 :
		    q->open > 0 && present > 1 ? EXTRA_WAIT_S : -1, false);
		if (rx->backoff != NULL || rx->over)
			return;
		free_slots -= max;
		open++;
		/* The other queues waiting are owed these slots. */
		for (i = 0; i < TF_PRIORITY__N; i++)
			if (i != p && (rx->q[i].hot || rx->q[i].open == 0))
				rx->q[i].owed += max;
		q->owed = q->owed > max * SHARE_SLOTS ? q->owed - max * SHARE_SLOTS :
		    0;
	}
	if (rx->batch != NULL) {
		tf_loop_timer_cancel(rx->batch);
		rx->batch = NULL;
	}
	rx->batch_waited = false;
}

static void
on_tick(void *ctx, enum tf_err rc)
{
	struct tf_consumer *c = ctx;

	if (rc == TF_ERR_CANCELLED)
		return;
	c->rx->tick = NULL;
	beat(c);
	backpressure_update(c, &c->rx->bp);
	tf_receiver_fill(c);
	tf_loop_after(c->loop, TICK_MS, on_tick, c, &c->rx->tick);
}

static void
on_first_fill(void *ctx, enum tf_err rc)
{
	if (rc == TF_OK)
		tf_receiver_fill(ctx);
}

enum tf_err
tf_receiver_start(struct tf_consumer *c)
{
	struct tf_receiver *rx = tf_calloc(1, sizeof(*rx));
	int q;

	if (rx == NULL)
		return TF_ERR_NOMEM;
	rx->backoff_ms = RECEIVE_BACKOFF_MIN_MS;
	rx->small_last = -1;
	for (q = 0; q < TF_PRIORITY__N; q++)
		rx->q[q] = (struct queue_rx){ .target = 1, .empty = true };
	rx->bp = (struct backpressure){ throttled_calls(c), tf_mono_ms() };
	c->rx = rx;
	if (tf_loop_after(c->loop, TICK_MS, on_tick, c, &rx->tick) != TF_OK ||
	    tf_loop_after(c->loop, 0, on_first_fill, c, NULL) != TF_OK)
		return TF_ERR_NOMEM;
	return TF_OK;
}

void
tf_receiver_stop(struct tf_consumer *c)
{
	struct tf_receiver *rx = c->rx;

	if (rx == NULL)
		return;
	if (rx->backoff != NULL) {
		tf_loop_timer_cancel(rx->backoff);
		rx->backoff = NULL;
	}
	if (rx->batch != NULL) {
		tf_loop_timer_cancel(rx->batch);
		rx->batch = NULL;
	}
	if (c->o.once && !rx->over)
		end_once(c);
	rx->over = true;
}

void
tf_receiver_free(struct tf_consumer *c)
{
	tf_free(c->rx);
	c->rx = NULL;
}
