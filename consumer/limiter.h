/*
 * limiter.h - limits per key enforced across the fleet (docs/design.md
 * section 14), on the consumer's event loop.
 *
 * A claimed run passes its keys' limits before its runner starts: first an
 * in-flight slot of each key limited in flight (slot items in the table,
 * leased to this consumer and extended by the limiter's timer; a slot a
 * run of this consumer ends is handed straight to the next run of this
 * consumer waiting for the key, else given back), then a start time on each
 * key limited in rate (GCRA: one item per key holds its theoretical arrival
 * time; one conditional UpdateItem reserves as many start slots as this
 * consumer has runs waiting for the key), then a timer until the latest of
 * those start times; a key held after a host's Retry-After
 * (tf_limiter_hold()) holds its runs on a timer until the hold ends. A run
 * of an ordered flow key takes the key's one slot only once no task of the
 * flow due before it (in its namespace, by_ns) is still to run.
 * Nothing polls but a run waiting for a full key's slot
 * (a backoff of 250 ms to 2 s); nothing charges an attempt.
 */
#ifndef TF_LIMITER_H
#define TF_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "task/limits.h"

struct tf_aws;
struct tf_loop;
struct tf_loop_timer;
struct tf_limiter;
struct tf_limiter_key;
struct tf_task;

/* How long an in-flight slot is leased to a consumer: a consumer that dies
 * holding one blocks it this long at most. Extended every third of it. */
#define TF_LIMIT_SLOT_LEASE_MS 15000

/* The wait is over: granted (the run may start), or not (the limiter
 * stopped: the run is handed back uncharged). On the loop. */
typedef void tf_limiter_cb(void *ctx, bool granted);

/* One run's passage through its limits, made by tf_limiter_acquire() only
 * for a run that some limit (or hold) applies to: a run of no limited key
 * costs no memory for it. Its fields are limiter.c's. */
struct tf_limiter_wait {
	struct tf_limiter *lim;                    /* borrowed; NULL: idle */
	struct tf_limit lims[TF_LIMIT_TASK_KEYS];  /* the limits that apply */
	struct tf_limiter_key *keys[TF_LIMIT_TASK_KEYS];  /* borrowed */
	int slot[TF_LIMIT_TASK_KEYS];              /* in-flight slot held, -1 */
	int n;                                     /* how many limits */
	int step;                                  /* 0..n-1 in flight, n..2n-1
	                                              rate, 2n the start time */
	int64_t start_at;                          /* epoch ms it may start */
	struct tf_limiter_key *start_key;          /* whose rate set start_at */
	struct tf_limiter_key *hold_key;           /* whose hold it waits for */
	int64_t wait_mono;                         /* the current wait began */
	int64_t waited_ms;                         /* waits so far, in total */
	int64_t longest_ms;                        /* the longest one, by key: */
	char by[TF_LIMIT_KEY_SIZE];
	struct tf_loop_timer *timer;               /* waiting for start_at */
	bool waiting;
	const struct tf_task *t;                   /* borrowed: the run's task */
	bool turn_ok[TF_LIMIT_TASK_KEYS];          /* an ordered key's turn came */
	bool asking;                               /* a turn query is in flight */
	bool cancelled;                            /* stopped while asking */
	bool in_acquire;                           /* inside tf_limiter_acquire */
	bool passed_at_once;
	struct tf_limiter_wait *qnext;             /* in a key's queue */
	struct tf_limiter_wait *prev, *next;       /* the limiter's waiting list */
	tf_limiter_cb *cb;
	void *ctx;
};

/* A limiter for table (borrowed, like aws, loop and owner: they outlive
 * it), with defaults (copied: limits for keys the table has none for; NULL:
 * none). NULL when out of memory. */
struct tf_limiter *tf_limiter_new(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *owner, const struct tf_limits *defaults);

/* Passes task t (borrowed for the call) through the limits of ls (the
 * table's, borrowed for the call) and the defaults. *wp is set to NULL when
 * no limit applies to t (or memory for the wait ran out: not limited then,
 * as for a key's state), else to the run's wait, which the caller owns and
 * frees with tf_limiter_wait_free() once the run is over. True when nothing
 * held it back: it may start now, cb is not called. False: cb(ctx, ...) is
 * called on the loop when the wait is over. t is borrowed until then. */
bool tf_limiter_acquire(struct tf_limiter *lim, const struct tf_limits *ls,
    const struct tf_task *t, struct tf_limiter_wait **wp, tf_limiter_cb *cb,
    void *ctx);

/* A run of a host key waits for a copy of the table's limits and holds at
 * most this old, so a hold another consumer wrote is seen this soon. */
#define TF_LIMIT_HOLD_FRESH_MS 250

/* The host of task t (borrowed for the call) answered with Retry-After:
 * its key `host:H` is held until `until` (epoch ms), here at once and, by
 * a write to the config item, for every consumer. */
void tf_limiter_hold(struct tf_limiter *lim, const struct tf_task *t,
    int64_t until);

/* How long limits held w's run back, in total (ms), and *by the key that
 * held it longest (borrowed from w; NULL when it did not wait). A NULL w
 * (no limit applied): 0. */
int64_t tf_limiter_waited(const struct tf_limiter_wait *w, const char **by);

/* The run of w ended (or never started): its in-flight slots go to the
 * next waiting run or back to the table. Idempotent; fine on NULL. w stays
 * readable by tf_limiter_waited(). */
void tf_limiter_release(struct tf_limiter_wait *w);

/* Releases w (tf_limiter_release()) and frees it. NULL is fine. */
void tf_limiter_wait_free(struct tf_limiter_wait *w);

/* Ends every wait with granted false (the consumer stops). */
void tf_limiter_stop(struct tf_limiter *lim);

/* Frees lim after the loop stopped. NULL is fine. */
void tf_limiter_free(struct tf_limiter *lim);

#endif /* TF_LIMITER_H */
