/*
 * inflight.h - the runs in progress, and the heartbeat that keeps them ours.
 *
 * While a runner runs, its task's lease (in DynamoDB) and its message's
 * visibility (in SQS) must not run out, or another consumer would run the
 * task too. The heartbeat thread extends both whenever less than half of
 * either is left. The AWS calls are made outside the registry lock, so one
 * slow call delays no other run's extension. A run is removed from the
 * registry before its outcome is written and its message deleted; removal
 * waits for an extension of that run in progress, so no extension is ever
 * sent for a message after its deletion.
 */
#ifndef TF_INFLIGHT_H
#define TF_INFLIGHT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "aws/aws.h"
#include "base/err.h"

struct tf_inflight {
	const char *task_id;          /* borrowed from the run */
	const char *receipt_handle;   /* borrowed from the run */
	int64_t gen;                  /* the generation the claim wrote */
	int64_t lease_until;          /* epoch ms */
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
	int extending;                /* an extension is under way (registry lock) */
	int64_t extended_at;          /* the heartbeat pass that last looked at it */
	int receipt_gone;             /* SQS no longer knows the receipt handle:
	                                 stop extending its visibility */
	struct tf_inflight *prev, *next;  /* registry links */
};

struct tf_heartbeat_opts {
	struct tf_aws *aws;           /* borrowed: a client that gives up quickly
	                                 (tf_heartbeat_call_timeout_ms()) */
	const char *table;            /* borrowed */
	const char *queue_url;        /* borrowed */
	const char *owner;            /* borrowed: the lease owner name */
	int visibility_s;             /* lease and visibility extension, seconds */
};

struct tf_heartbeat;

/* The per-attempt timeout of the heartbeat's AWS client, and how long before
 * a lease's end an unextended run is cancelled, for a given visibility. */
long tf_heartbeat_call_timeout_ms(int visibility_s);
int64_t tf_heartbeat_margin_ms(int visibility_s);

/* Starts the heartbeat thread; the strings in o must outlive it. Caller stops
 * it with tf_heartbeat_stop(). */
enum tf_err tf_heartbeat_start(const struct tf_heartbeat_opts *o,
    struct tf_heartbeat **out);
void tf_heartbeat_stop(struct tf_heartbeat *hb);

/* The heartbeat thread's last sign of life (monotonic ms), and how long it
 * may stay silent before it is taken as stuck. */
int64_t tf_heartbeat_alive_ms(struct tf_heartbeat *hb);
int64_t tf_heartbeat_stall_limit_ms(int visibility_s);

/*
 * Finds a run whose runner ignores being told to stop: one still running
 * overrun_ms past its time limit (deadline_ms), or one cancelled (`lost`)
 * and still running lease_slack_ms past the end of its lease, when another
 * consumer may start the task. Returns 1 and a one-line reason naming the
 * task in why, else 0. Only ending the process stops such a run.
 */
int tf_heartbeat_find_stuck(struct tf_heartbeat *hb, int64_t now_ms,
    int64_t overrun_ms, int64_t lease_slack_ms, char *why, size_t whylen);

/*
 * The clock rule of cancelled(): true once the monotonic clock (mono_now)
 * is within margin_ms of f's lease end (lease_end_mono), whatever the
 * heartbeat thread did or failed to do (a consumer paused past its lease and
 * resumed, a heartbeat stuck in a call). Then marks the run lost (its result
 * is discarded), logging that once. False while lease_end_mono is 0.
 */
bool tf_inflight_lease_ending(struct tf_inflight *f, int64_t mono_now,
    int64_t margin_ms);

/* Registers a run (borrowed until tf_heartbeat_remove()). */
void tf_heartbeat_add(struct tf_heartbeat *hb, struct tf_inflight *f);
/* Unregisters a run; when it returns no extension for f is in progress or
 * will be made. */
void tf_heartbeat_remove(struct tf_heartbeat *hb, struct tf_inflight *f);
/* Extends f's lease and visibility now. Returns 0, or -1 when the lease is
 * lost. */
int tf_heartbeat_extend_now(struct tf_heartbeat *hb, struct tf_inflight *f);

#endif /* TF_INFLIGHT_H */
