/*
 * aws_async.h - AWS JSON-protocol calls driven by an event loop (lib/loop/).
 *
 * tf_aws_call_async() is tf_aws_call() without a thread: it signs with the
 * same code, sends on the loop, and judges each answer by the same rules
 * (throttling, 5xx, timeouts and dropped connections retried with the same
 * backoff and the client's shared retry budget; validation and conditional
 * failures final), waiting between attempts on a loop timer, never sleeping.
 *
 * Credentials never block the loop: a call uses the client's cached
 * credentials while they are not due for refresh; otherwise it asks the
 * chain (files, container or instance metadata) on a thread of libuv's pool
 * and continues on the loop when the answer is back. Static and environment
 * credentials never expire, so after the first call every call takes the
 * cached copy.
 */
#ifndef TF_AWS_ASYNC_H
#define TF_AWS_ASYNC_H

#include <stddef.h>

#include "aws/aws.h"
#include "loop/loop.h"

/* A finished call, on the loop's thread. rc is TF_OK for a 200 answer, else
 * the same code tf_aws_call() would return (TF_ERR_CANCELLED when the loop
 * stopped first). body (len bytes, terminated) is the raw JSON answer on
 * TF_OK, "" otherwise; err says what AWS or the transport said on failure
 * (code TF_OK on success). Both are borrowed for the callback only. */
typedef void tf_aws_async_cb(void *ctx, enum tf_err rc, const char *body,
    size_t len, const struct tf_aws_error *err);

/* Per-call options; NULL means all defaults. */
struct tf_aws_async_opts {
	long timeout_ms;   /* per attempt; 0: the client's */
	int no_retry;      /* one attempt only */
};

/* Starts `operation` on svc with the JSON request body (len bytes, copied;
 * NULL: "{}"). TF_OK: cb(ctx, ...) is called exactly once, later, on the
 * loop. Any other code: cb is never called. aws must outlive the call;
 * operation is copied. Call on the loop's thread. */
enum tf_err tf_aws_call_async(struct tf_aws *aws, struct tf_loop *loop,
    enum tf_aws_service svc, const char *operation, const char *body,
    size_t len, const struct tf_aws_async_opts *opts, tf_aws_async_cb *cb,
    void *ctx);

#endif /* TF_AWS_ASYNC_H */
