/*
 * task_write.h - the task writes of the processing algorithm taken apart:
 * building a write, and judging its answer, without sending it. task.c
 * sends them with the synchronous client, task_async.c on an event loop;
 * both build and judge with these functions, so the two cannot differ.
 */
#ifndef TF_TASK_WRITE_H
#define TF_TASK_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/ddb.h"
#include "base/buf.h"
#include "task/task.h"

/* The random lease token of a claim: 32 hex digits and a NUL. */
#define TF_TASK_TOKEN_SIZE 40

/* Writes a new random lease token. */
void tf_task_new_token(char token[TF_TASK_TOKEN_SIZE]);

/*
 * Builds the claim of tf_task_claim() into *e (zeroed first; caller frees
 * it with tf_ddb_expr_free() on TF_OK) and writes its new random lease
 * token into token. TF_ERR_NOMEM (e freed).
 */
enum tf_err tf_task_claim_build(struct tf_ddb_expr *e, const char *id,
    int64_t msg_gen, const char *owner, int64_t now_ms, int64_t skew_ms,
    int64_t lease_ms, char token[TF_TASK_TOKEN_SIZE]);

/* True when item t shows the claim of generation msg_gen with lease token
 * token applied: a retried claim whose first attempt's reply was lost. */
bool tf_task_claim_is(const struct tf_task *t, int64_t msg_gen,
    const char *token);

/*
 * Builds the lease extension of tf_task_extend_lease() (lease_until and
 * due_at to until_ms, conditional on generation gen, this owner and
 * PROCESSING) into *e (zeroed first; caller frees it with tf_ddb_expr_free()
 * on TF_OK). TF_ERR_NOMEM (e freed).
 */
enum tf_err tf_task_extend_lease_build(struct tf_ddb_expr *e, int64_t gen,
    const char *owner, int64_t until_ms);

/* Logs that a lost claim reply was found applied (task id, borrowed). */
void tf_task_log_claim_recovered(const char *id);

/* An outcome write being built: the expression and the texts it points
 * into, all owned. */
struct tf_task_write {
	struct tf_ddb_expr e;
	struct tf_buf set, remove, update, cond;
};

#define TF_TASK_WRITE_INIT { { 0 }, TF_BUF_INIT, TF_BUF_INIT, TF_BUF_INIT, \
    TF_BUF_INIT }

/* The status an outcome o of claimed task t writes (before a suspend
 * request is taken into account). */
enum tf_task_status tf_task_outcome_state(const struct tf_task *t,
    const struct tf_task_outcome *o);

/*
 * Builds the outcome write of tf_task_finish() for status `state` into w
 * (initialised with TF_TASK_WRITE_INIT; caller frees it with
 * tf_task_write_free() whatever the result). guard_suspend adds "no suspend
 * was requested" to the condition. *enqueue_at: the due time of the message
 * the caller sends once the write succeeds (0: none). TF_ERR_INVALID or
 * TF_ERR_NOMEM with a message in errbuf for params or a result that do not
 * marshal.
 */
enum tf_err tf_task_outcome_build(struct tf_task_write *w,
    const struct tf_task *t, const struct tf_task_outcome *o, int64_t now_ms,
    enum tf_task_status state, bool guard_suspend, int64_t *enqueue_at,
    char *errbuf, size_t errlen);

void tf_task_write_free(struct tf_task_write *w);

/* Why an outcome write of status `state` at now_ms failed its condition,
 * judged from the item read afterwards. */
enum tf_task_finish_check {
	TF_FINISH_APPLIED,   /* our own write was applied (its reply was lost
	                        and the retry failed): *state_out and
	                        *enqueue_at are what it wrote */
	TF_FINISH_SUSPEND,   /* a suspend was requested during the run: write
	                        the outcome again as SUSPENDED, unguarded
	                        (*state_out is TF_TASK_SUSPENDED) */
	TF_FINISH_LOST       /* the lease is gone */
};

enum tf_task_finish_check tf_task_finish_check(const struct tf_task *t,
    int64_t now_ms, enum tf_task_status state, const struct tf_task *item,
    enum tf_task_status *state_out, int64_t *enqueue_at);

/*
 * Builds the sweeper's claim on sending a task's message
 * (tf_task_sweep_enqueue()) into *e (zeroed first; caller frees it with
 * tf_ddb_expr_free() on TF_OK); *visible: the enqueued_for it writes.
 * TF_ERR_NOMEM (e freed).
 */
enum tf_err tf_task_sweep_enqueue_build(struct tf_ddb_expr *e, int64_t gen,
    int64_t due_ms, int64_t stale_before_ms, int64_t now_ms, int64_t *visible);

/* True when item t shows that claim (of generation gen, enqueued_for
 * visible) applied: a retried claim whose first attempt's reply was lost. */
bool tf_task_sweep_enqueue_is(const struct tf_task *t, int64_t gen,
    int64_t visible);

/* Builds tf_task_release_message() into *e (as above). */
enum tf_err tf_task_release_message_build(struct tf_ddb_expr *e, int64_t gen);

#endif /* TF_TASK_WRITE_H */
