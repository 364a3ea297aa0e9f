/*
 * inflight.h - the runs in progress, and the heartbeat that keeps them ours.
 *
 * While a runner runs, its task's lease (in DynamoDB) and its message's
 * visibility (in SQS) must not run out, or another consumer would run the
 * task too. The heartbeat lives on the consumer's event loop: one timer
 * looks at every registered run each tick and extends both whenever less
 * than half of either is left (taking along every run with less than three
 * quarters left, so their extensions share calls), the lease with an
 * asynchronous conditional UpdateItem per run, the visibility with
 * ChangeMessageVisibilityBatch (ten messages a call). A run costs a registry entry, not a thread. A run is
 * removed from the registry before its outcome is written and its message
 * deleted; removal waits for an extension of that run in flight, so no
 * extension is ever sent for a message after its deletion.
 *
 * Threads: tf_heartbeat_new(), tf_heartbeat_add() and tf_heartbeat_remove()
 * are called on the loop's thread (or on the creating thread before the loop
 * runs); tf_heartbeat_extend_now(), tf_heartbeat_alive_ms(),
 * tf_heartbeat_find_stuck(), tf_inflight_lease_over() and
 * tf_inflight_lease_ending() from any thread.
 */
#ifndef TF_INFLIGHT_H
#define TF_INFLIGHT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/aws.h"
#include "base/err.h"
#include "loop/loop.h"

struct tf_heartbeat;

struct tf_inflight {
	const char *task_id;          /* borrowed from the run */
	const char *receipt_handle;   /* borrowed from the run */
	const char *queue_url;        /* borrowed: the queue its message came
	                                 from (a priority's); NULL: o.queue_url */
	int64_t gen;                  /* the generation the claim wrote */
	atomic_llong lease_until;     /* epoch ms */
	atomic_llong lease_end_mono;  /* monotonic ms: the lease's end as this
	                                 consumer measures it, from before the
	                                 claim or the last extension that
	                                 succeeded; 0: unknown */
	int64_t visible_until;        /* epoch ms: the message's visibility */
	atomic_llong deadline_ms;     /* epoch ms by which the run must end (its
	                                 runner's time limit), 0: no limit; set by
	                                 tf_consumer_invoke() */
	atomic_int lost;              /* set when the lease was found taken, or
	                                 is about to run out unextended: the run
	                                 must stop and its result is discarded */
	atomic_int started;           /* its runner was called (a run waiting
	                                 for a runner thread is leased too, but
	                                 cannot be stuck) */
	atomic_int want_now;          /* the runner asked for an extension
	                                 (host->heartbeat()): at the next tick */
	atomic_int pending;           /* the extension's calls in flight (loop) */
	int64_t ext_until;            /* epoch ms: what they ask for (loop) */
	int64_t ext_mono;             /* monotonic ms when they were sent (loop) */
	int receipt_gone;             /* SQS no longer knows the receipt handle:
	                                 stop extending its visibility */
	struct tf_heartbeat *hb;      /* borrowed: set by tf_heartbeat_add() */
	void (*removed)(void *ctx);   /* tf_heartbeat_remove()'s continuation,
	                                 called when pending reaches 0 */
	void *removed_ctx;
	struct tf_inflight *prev, *next;  /* registry links */
};

struct tf_heartbeat_opts {
	struct tf_loop *loop;         /* borrowed: the consumer's event loop */
	struct tf_aws *aws;           /* borrowed: a client that gives up quickly
	                                 (tf_heartbeat_call_timeout_ms()) */
	const char *table;            /* borrowed */
	const char *queue_url;        /* borrowed */
	const char *owner;            /* borrowed: the lease owner name */
	int visibility_s;             /* lease and visibility extension, seconds */
};

/* The per-attempt timeout of the heartbeat's AWS client, and how long before
 * a lease's end an unextended run is cancelled, for a given visibility. */
long tf_heartbeat_call_timeout_ms(int visibility_s);
int64_t tf_heartbeat_margin_ms(int visibility_s);

/* Starts the heartbeat's timer on o->loop (call on the loop's thread, or
 * before it runs); the strings in o must outlive it. Caller frees it with
 * tf_heartbeat_free() once the loop has stopped (which cancels the timer and
 * every extension in flight). */
enum tf_err tf_heartbeat_new(const struct tf_heartbeat_opts *o,
    struct tf_heartbeat **out);
void tf_heartbeat_free(struct tf_heartbeat *hb);

/* The heartbeat's last tick (monotonic ms): the loop's sign of life; and
 * how long it may stay silent before the loop is taken as stuck. */
int64_t tf_heartbeat_alive_ms(struct tf_heartbeat *hb);
int64_t tf_heartbeat_stall_limit_ms(int visibility_s);

/* What the heartbeat sent so far: lease extensions (UpdateItem calls),
 * visibility calls (ChangeMessageVisibilityBatch) and the messages those
 * extended. For tests and benchmarks. */
struct tf_heartbeat_counts {
	long lease_calls;
	long visibility_calls;
	long visibility_entries;
};
void tf_heartbeat_counts(struct tf_heartbeat *hb, struct tf_heartbeat_counts *out);

/*
 * Finds a run whose runner ignores being told to stop: one still running
 * overrun_ms past its time limit (deadline_ms), or one cancelled (`lost`)
 * and still running lease_slack_ms past the end of its lease, when another
 * consumer may start the task. Returns 1 and a one-line reason naming the
 * task in why, else 0. Only ending the process stops such a run.
 */
int tf_heartbeat_find_stuck(struct tf_heartbeat *hb, int64_t now_ms,
    int64_t overrun_ms, int64_t lease_slack_ms, char *why, size_t whylen);

/* Whether the monotonic clock (mono_now) is within margin_ms of f's lease
 * end (lease_end_mono), or past it; false while lease_end_mono is 0. Only
 * looks: tf_inflight_lease_ending() also marks the run lost. */
bool tf_inflight_lease_over(const struct tf_inflight *f, int64_t mono_now,
    int64_t margin_ms);

/*
 * The clock rule of cancelled(): true once the monotonic clock (mono_now)
 * is within margin_ms of f's lease end (lease_end_mono), whatever the
 * heartbeat did or failed to do (a consumer paused past its lease and
 * resumed, a heartbeat stuck in a call). Then marks the run lost (its result
 * is discarded), logging that once. False while lease_end_mono is 0.
 */
bool tf_inflight_lease_ending(struct tf_inflight *f, int64_t mono_now,
    int64_t margin_ms);

/* Registers a run (borrowed until tf_heartbeat_remove() called back);
 * on the loop. The run's fields above `pending` must be set. */
void tf_heartbeat_add(struct tf_heartbeat *hb, struct tf_inflight *f);

/* Unregisters a run, on the loop: no extension for f is started after this
 * call. Calls done(ctx) once no extension of f is in flight either: at once
 * (before returning) when none is, else when the last one ends (on the loop,
 * also when the loop stops and cancels it). */
void tf_heartbeat_remove(struct tf_heartbeat *hb, struct tf_inflight *f,
    void (*done)(void *ctx), void *ctx);

/* A runner's host->heartbeat(), from any thread: asks the loop to extend f
 * at its next tick (without waiting for it) and answers from the state the
 * loop keeps: 0 while the run is ours, -1 once its lease is lost. */
int tf_heartbeat_extend_now(struct tf_heartbeat *hb, struct tf_inflight *f);

#endif /* TF_INFLIGHT_H */
