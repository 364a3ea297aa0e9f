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
#include <stdint.h>

#include "aws.h"
#include "err.h"

struct tf_inflight {
	const char *task_id;          /* borrowed from the run */
	const char *receipt_handle;   /* borrowed from the run */
	int64_t gen;                  /* the generation the claim wrote */
	int64_t lease_until;          /* epoch ms */
	int64_t visible_until;        /* epoch ms: the message's visibility */
	atomic_int lost;              /* set when the lease was found taken */
	int extending;                /* an extension is under way (registry lock) */
	int64_t extended_at;          /* the heartbeat pass that last looked at it */
	int receipt_gone;             /* SQS no longer knows the receipt handle:
	                                 stop extending its visibility */
	struct tf_inflight *prev, *next;  /* registry links */
};

struct tf_heartbeat_opts {
	struct tf_aws *aws;           /* borrowed */
	const char *table;            /* borrowed */
	const char *queue_url;        /* borrowed */
	const char *owner;            /* borrowed: the lease owner name */
	int visibility_s;             /* lease and visibility extension, seconds */
};

struct tf_heartbeat;

/* Starts the heartbeat thread; the strings in o must outlive it. Caller stops
 * it with tf_heartbeat_stop(). */
enum tf_err tf_heartbeat_start(const struct tf_heartbeat_opts *o,
    struct tf_heartbeat **out);
void tf_heartbeat_stop(struct tf_heartbeat *hb);

/* Registers a run (borrowed until tf_heartbeat_remove()). */
void tf_heartbeat_add(struct tf_heartbeat *hb, struct tf_inflight *f);
/* Unregisters a run; when it returns no extension for f is in progress or
 * will be made. */
void tf_heartbeat_remove(struct tf_heartbeat *hb, struct tf_inflight *f);
/* Extends f's lease and visibility now. Returns 0, or -1 when the lease is
 * lost. */
int tf_heartbeat_extend_now(struct tf_heartbeat *hb, struct tf_inflight *f);

#endif /* TF_INFLIGHT_H */
