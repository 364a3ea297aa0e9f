/*
 * sweeper.h - finds tasks that need a message and sends it
 * (docs/design.md section 6).
 *
 * Every consumer runs one, as a state machine on its event loop (no thread
 * of its own): a loop timer starts each lease round and each sweep, and
 * every call (the config item's read through ns_gate.h, the lease items,
 * the query pages, the conditional writes, the messages) goes through the
 * asynchronous clients. A sweep looks at a page's items ITEMS_PER_STEP
 * (sweeper.c) at a time, then gives the loop back, with at most OPS_MAX
 * item calls in flight, so a loop busy sweeping never keeps receives and
 * runs waiting for long. Each sweeps the due shards whose sweep lease it
 * holds (sweep_lease.h), so a fleet sweeps each shard once. Each sweep
 * (every interval_ms, backing off to a minute, at most half the horizon,
 * while the due window is empty) queries those shards of the sparse by_due
 * index for the items whose due_at (task/due.h) says they need a look:
 *   - PENDING with no live message (no enqueued_for, or one older than the
 *     grace period, i.e. lost): the sweeper claims the enqueue with a
 *     conditional write that bumps gen, then sends the message with the
 *     exact delay (ten due tasks' messages to a SendMessageBatch). Several
 *     consumers sweeping at once send one message.
 *     Tasks due further ahead get no message (and cost nothing) until they
 *     come within the horizon.
 *   - PROCESSING whose lease ended more than lease_grace_ms ago (its
 *     consumer died; the grace covers clocks that disagree): the run counts
 *     as a failed attempt and the task is retried at once (or FAILED when its
 *     attempts are spent).
 */
#ifndef TF_SWEEPER_H
#define TF_SWEEPER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "base/err.h"
#include "loop/loop.h"

struct tf_ns_gate;

struct tf_sweeper_opts {
	struct tf_aws *aws;          /* borrowed */
	struct tf_loop *loop;        /* borrowed: the loop it runs on */
	struct tf_ns_gate *gate;     /* borrowed: reads the config item (the
	                                shard count) for it */
	const char *table;           /* borrowed */
	const char *queue_url;       /* borrowed */
	int64_t interval_ms;         /* between sweeps */
	int64_t horizon_ms;          /* enqueue tasks due within this */
	int64_t grace_ms;            /* a message this late (plus the queue's
	                                current wait) is taken as lost */
	int64_t lease_grace_ms;      /* a lease this far past its end is taken
	                                as dead (covers clock differences) */
	int history_kept;            /* runs kept in a task's `history` */
	int64_t retention_ms;        /* a finished task's `ttl`; 0: none */
	bool manual;                 /* no timer: the caller sweeps with
	                                tf_sweeper_sweep() (--once), every
	                                shard, without leases */
	const char *owner;           /* borrowed; names this consumer in the
	                                sweep leases; NULL: "?" */
	int64_t lease_ms;            /* a sweep lease's length
	                                (TASKFLEET_SWEEP_LEASE); 0: the
	                                default */
	void (*callback_due)(void *arg, const char *id);
	                             /* called (on the loop) for
	                                a COMPLETED or FAILED task in the due
	                                window: one whose completion callback
	                                is still pending (consumer/callback.h);
	                                NULL: none */
	void *callback_arg;
};

struct tf_sweeper_stats {
	atomic_long sweeps;
	atomic_long enqueued;        /* messages sent for tasks without one */
	atomic_long recovered;       /* expired leases taken back */
	/* Logged when it stops: */
	atomic_long queries;         /* query pages of the due index */
	atomic_long items_read;      /* items they returned */
	atomic_long items;           /* of those, the ones due for a look
	                                (due_at within the window) */
};

struct tf_sweeper;

/* Starts the sweeper: its first lease round and sweep run as soon as the
 * loop runs (none when o->manual). Call on the loop's thread, or before it
 * runs; o's pointers must outlive the sweeper. Caller frees it with
 * tf_sweeper_stop(). */
enum tf_err tf_sweeper_start(const struct tf_sweeper_opts *o,
    struct tf_sweeper **out);

/* On the loop: the consumer stops. No new round, sweep, page or item; once
 * the calls in flight end, the leases are handed back (so another consumer
 * sweeps these shards at its next round instead of a lease time from now)
 * and tf_sweeper_quiet() turns true. */
void tf_sweeper_stop_begin(struct tf_sweeper *sw);

/* True once tf_sweeper_stop_begin()'s work is done; any thread. */
bool tf_sweeper_quiet(struct tf_sweeper *sw);

/* Frees sw after the loop stopped (or never ran), logging its counts; NULL
 * is fine. */
void tf_sweeper_stop(struct tf_sweeper *sw);

/* The default length of a sweep lease (sweep_lease.h). */
#define TF_SWEEPER_LEASE_DEFAULT_MS 120000

/* An idle sweeper (its last sweep found the due window empty) doubles its
 * interval up to this, or half the horizon if that is shorter. */
#define TF_SWEEPER_IDLE_MAX_MS 60000

/* A manual sweep is over: its queries done, its writes and messages
 * answered. On the loop. */
typedef void tf_sweeper_done_cb(void *ctx);

/* Starts one sweep of every shard (o->manual), on the loop: the shard count
 * read, then each shard's due window; done(ctx) when it is over. Call on
 * the loop's thread, or before it runs. */
void tf_sweeper_sweep(struct tf_sweeper *sw, tf_sweeper_done_cb *done,
    void *ctx);

/*
 * Tells the sweeper how long a message this consumer received waited in the
 * queue after it became visible. A backlog is not a loss: a PENDING task's
 * message is taken as lost only once it is later than the grace plus twice
 * the longest wait seen in the last one to two minutes; otherwise every
 * message waiting in a backlog longer than the grace would be sent again,
 * each copy making the waiting one stale and joining the back of the queue.
 * Any thread may call it.
 */
void tf_sweeper_note_queue_wait(struct tf_sweeper *sw, int64_t wait_ms);

/* The grace a sweep now allows a message (grace_ms plus the backlog). */
int64_t tf_sweeper_message_grace_ms(struct tf_sweeper *sw);

/* True when the last sweep's queries failed with an error a retry will not
 * cure (a table without the by_due index, no permission); why (n bytes)
 * then says so, for /readyz. The sweeper logs such failures itself: one
 * error line, repeated at most every 5 minutes while they last. */
bool tf_sweeper_failing(struct tf_sweeper *sw, char *why, size_t n);

/*
 * Recovers the run of task id, generation gen, leased to owner, whose
 * consumer died and left a crash journal (journal.h), now rather than at
 * lease expiry: as a failed attempt with error why (borrowed) when it is the
 * run that crashed (charged), else back to PENDING with its attempts
 * unchanged, why recorded as its last error. Does nothing when the item
 * moved on (finished, or recovered by another consumer). The strings are
 * copied; the calls run on the loop (call on its thread, or before it runs)
 * and a manual sweep's done waits for them.
 */
void tf_sweeper_recover_crashed(struct tf_sweeper *sw, const char *id,
    int64_t gen, const char *owner, bool charged, const char *why);

/* The counters; borrowed for the sweeper's lifetime. */
struct tf_sweeper_stats *tf_sweeper_stats(struct tf_sweeper *sw);

#endif /* TF_SWEEPER_H */
