/*
 * task_bulk.h - creating many tasks at once (`taskfleet submit --file`, the
 * REST API's batch; docs/design.md section 11).
 *
 * Each task is the item tf_task_create() writes, put with the same
 * condition (its id is free), so an id given twice creates nothing twice:
 * BatchWriteItem cannot be conditional, hence one PutItem a task, up to
 * in_flight of them at once on an event loop. The messages of the created
 * tasks due within the enqueue horizon go out ten at a time
 * (SendMessageBatch).
 *
 * Nothing is lost to throttling: a write or a send that is still throttled
 * (or met a 5xx, a timeout or a dropped connection) after the AWS layer's
 * own retries is tried again after a backoff, up to `rounds` more times, and
 * every throttled answer halves the writes in flight (they grow back by one
 * for each window of successes). A write whose reply was lost and whose
 * retry then fails its condition is read back (that read retried the same
 * way): the task is ours (created) when the item holds this write's
 * created_at.
 *
 * Tasks come from the caller one at a time (next()), when there is room,
 * and go back through done() once their fate is known, each exactly once, on
 * the calling thread: a caller can stream a file of any length.
 */
#ifndef TF_TASK_BULK_H
#define TF_TASK_BULK_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/aws.h"
#include "task/task.h"

/* Writes in flight unless the caller says. */
#define TF_BULK_IN_FLIGHT 32
/* Further rounds for a throttled write unless the caller says. */
#define TF_BULK_ROUNDS 8

enum tf_bulk_outcome {
	TF_BULK_CREATED,   /* written now */
	TF_BULK_EXISTS,    /* the id was taken already: nothing written */
	TF_BULK_FAILED     /* not written: rc and error say why */
};

/* One task through tf_bulk_create(): the caller's, from next() until done()
 * returns. */
struct tf_bulk_task {
	/* In. */
	struct tf_task_spec spec;   /* strings borrowed until done() */
	void *user;                 /* the caller's */
	/* Out, for done(). */
	enum tf_bulk_outcome outcome;
	enum tf_err rc;             /* FAILED: why; TF_OK otherwise */
	char id[TF_TASK_ID_MAX + 1];  /* the task's id (a new UUID when
	                               spec.id is NULL) */
	char error[600];            /* FAILED: why, in one line; a created task
	                               whose message could not be sent: why */
	bool enqueued;              /* created, and its message sent */
	bool send_failed;           /* created and due soon, but the message
	                               failed: the sweeper enqueues it */
	int delay_s;                /* enqueued: its DelaySeconds */
	const struct tf_task *existing;  /* the item found when it was read
	                               (EXISTS with read_existing): borrowed,
	                               valid in done() only; else NULL */
};

/* The next task to create (the caller's, filled in, outputs zeroed), or
 * NULL when there are no more. Called on the calling thread, whenever a
 * write has room; it may block (reading a file). */
typedef struct tf_bulk_task *tf_bulk_next_fn(void *ctx);

/* Task t (as next() gave it) is finished: its outputs are set. */
typedef void tf_bulk_done_fn(void *ctx, struct tf_bulk_task *t);

struct tf_bulk_opts {
	int in_flight;            /* writes at once; 0: TF_BULK_IN_FLIGHT */
	int rounds;               /* tries after the AWS layer's own retries
	                             ran out; 0: TF_BULK_ROUNDS, -1: none */
	const char *queue_url;    /* where the messages go; NULL: none are
	                             sent (created tasks due soon then have
	                             send_failed) */
	bool read_existing;       /* read the item of an id that was taken,
	                             into existing */
	tf_bulk_next_fn *next;
	tf_bulk_done_fn *done;
	void *ctx;                /* for next and done */
};

/*
 * Creates every task next() gives, in table, through aws (thread-safe; a
 * loop of its own runs on this thread until the last task is done). Returns
 * TF_OK when every task went through done() (whatever its outcome), or an
 * error when the loop could not run (nothing was started, or what was in
 * flight went to done() as FAILED with TF_ERR_CANCELLED).
 */
enum tf_err tf_bulk_create(struct tf_aws *aws, const char *table,
    const struct tf_bulk_opts *o);

#endif /* TF_TASK_BULK_H */
