/*
 * task_async.h - the consumer's hot-path task writes on an event loop
 * (lib/loop): the claim, the outcome write, the lease extension and the
 * next message, built and judged exactly as tf_task_claim(),
 * tf_task_finish(), tf_task_extend_lease() and tf_task_send_message() do
 * (task_write.h), sent with tf_aws_call_async()
 * and never blocking the loop: where the synchronous calls read the item
 * again (a claim or outcome write retried after a lost reply, a suspend
 * requested during the run) these read it with an asynchronous GetItem.
 *
 * Each function starts the work and calls cb exactly once, later, on the
 * loop's thread (also when it could not start: then from a 0 ms timer;
 * only when memory is too short even for that, at once with
 * TF_ERR_NOMEM). Call them on the loop's thread.
 */
#ifndef TF_TASK_ASYNC_H
#define TF_TASK_ASYNC_H

#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "loop/loop.h"
#include "task/task.h"

/* A claim's end. rc as tf_task_claim() returns it; on TF_OK *t is the
 * claimed task, whose contents the callback takes (copy the struct, free it
 * with tf_task_free()). err (borrowed for the callback) says what failed. */
typedef void tf_task_claim_cb(void *ctx, enum tf_err rc, struct tf_task *t,
    const char *err);

/* tf_task_claim() on the loop; the strings are copied. */
void tf_task_claim_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *id, int64_t msg_gen, const char *owner,
    int64_t now_ms, int64_t skew_ms, int64_t lease_ms, tf_task_claim_cb *cb,
    void *ctx);

/* An outcome write's end: rc, *state_out, *next_gen and *enqueue_at as
 * tf_task_finish() returns them; err (borrowed) says what failed. */
typedef void tf_task_finish_cb(void *ctx, enum tf_err rc,
    enum tf_task_status state, int64_t next_gen, int64_t enqueue_at,
    const char *err);

/* tf_task_finish() on the loop. table is copied; t and o (and what they
 * point to) are borrowed until cb is called. */
void tf_task_finish_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const struct tf_task *t,
    const struct tf_task_outcome *o, int64_t now_ms, tf_task_finish_cb *cb,
    void *ctx);

/*
 * The outcome of claimed task t's run written and its next iteration
 * claimed in one write, for this owner with a lease of lease_ms (o must be
 * DONE and not completed; o->chain_* are set here): docs/design.md section
 * 12.1. On TF_OK the callback takes *next, the claimed next iteration (as
 * for tf_task_claim_cb). Any other rc: nothing was written (the condition
 * failed, or AWS failed): the caller writes the outcome the ordinary way
 * (tf_task_finish_async() with o->chain_owner NULL), which tells a suspend
 * or a lost lease apart. t and o are borrowed until cb is called.
 */
void tf_task_chain_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const struct tf_task *t, struct tf_task_outcome *o,
    int64_t now_ms, const char *owner, int64_t lease_ms, tf_task_claim_cb *cb,
    void *ctx);

/* A lease extension's end: rc as tf_task_extend_lease() returns it
 * (TF_ERR_CONDITION: the lease is lost). */
typedef void tf_task_extend_cb(void *ctx, enum tf_err rc);

/* tf_task_extend_lease() on the loop; the strings are copied. */
void tf_task_extend_lease_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *id, int64_t gen, const char *owner,
    int64_t until_ms, tf_task_extend_cb *cb, void *ctx);

/* A send's end; err (borrowed) says what failed. */
typedef void tf_task_send_cb(void *ctx, enum tf_err rc, const char *err);

/* tf_task_send_message() on the loop (the normal queue when p's queue does
 * not exist, likewise); the strings are copied. */
void tf_task_send_message_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, enum tf_priority p, const char *id, int64_t due_ms,
    int64_t gen, int64_t now_ms, tf_task_send_cb *cb, void *ctx);

/* One message of tf_task_send_messages_async(): task id's live message of
 * generation gen, due at due_ms. */
struct tf_task_send_item {
	const char *id;              /* borrowed for the call; copied */
	int64_t due_ms;
	int64_t gen;
};

/* A batch send's end: rc[i] (borrowed for the callback) is what sending
 * message i came to, TF_OK when it was sent; err[i] (borrowed) says what
 * failed. */
typedef void tf_task_send_batch_cb(void *ctx, size_t n,
    const enum tf_err *rc, const char *const *err);

/* tf_task_send_message_async() for n (1..TF_SQS_MAX_BATCH) messages of
 * priority p in one SendMessageBatch (the normal queue when p's queue does
 * not exist, likewise): each message's failure is its own, as if it had
 * been sent alone. The strings are copied. n outside 1..10 is reported at
 * once (TF_ERR_INVALID for each, at most 10), as is memory too short for the
 * call's state (TF_ERR_NOMEM). */
void tf_task_send_messages_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, enum tf_priority p,
    const struct tf_task_send_item *m, size_t n, int64_t now_ms,
    tf_task_send_batch_cb *cb, void *ctx);

/* tf_task_get() on the loop: on TF_OK the callback takes *t (as for
 * tf_task_claim_cb); TF_ERR_NOT_FOUND when there is no such item. The
 * strings are copied. */
void tf_task_get_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *id, tf_task_claim_cb *cb, void *ctx);

/* A conditional write's end: rc as the synchronous call returns it
 * (TF_ERR_CONDITION: the condition failed). */
typedef void tf_task_write_cb(void *ctx, enum tf_err rc);

/* A sweeper's enqueue claim's end: rc as for tf_task_write_cb, and on
 * TF_OK the task's priority as written (its message's queue: the due index
 * does not hold it). */
typedef void tf_task_enqueue_cb(void *ctx, enum tf_err rc,
    enum tf_priority prio);

/* tf_task_sweep_enqueue() on the loop, with its re-read after a retried
 * write failed its condition; the strings are copied. */
void tf_task_sweep_enqueue_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *id, int64_t gen, int64_t due_ms,
    int64_t stale_before_ms, int64_t now_ms, tf_task_enqueue_cb *cb,
    void *ctx);

/* tf_task_release_message() on the loop; the strings are copied. */
void tf_task_release_message_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *id, int64_t gen, tf_task_write_cb *cb,
    void *ctx);

#endif /* TF_TASK_ASYNC_H */
