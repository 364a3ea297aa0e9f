/*
 * sqs_async.h - the SQS calls of sqs.h on an event loop (aws_async.h), apart
 * so that programs that never run a loop do not link libuv.
 */
#ifndef TF_SQS_ASYNC_H
#define TF_SQS_ASYNC_H

#include <stddef.h>

#include "aws/aws_async.h"
#include "aws/sqs.h"

/*
 * Built, retried and read as the synchronous calls. Each returns TF_OK when
 * the call started (its callback then runs exactly once, on the loop), or an
 * error without calling back. Call on the loop's thread; strings are copied.
 */

/* message_id (the new message's id) is borrowed for the callback; NULL on
 * failure. err as for tf_aws_async_cb. */
typedef void tf_sqs_send_cb(void *ctx, enum tf_err rc, const char *message_id,
    const struct tf_aws_error *err);

/* messages: an owned array of n messages (possibly 0) that the callee frees
 * with tf_sqs_messages_free(); NULL on failure. opts->cancel is not used:
 * stopping the loop cancels the poll. */
typedef void tf_sqs_receive_cb(void *ctx, enum tf_err rc,
    struct tf_sqs_message *messages, size_t n, const struct tf_aws_error *err);

/* result (borrowed for the callback) says which entries failed; rc is
 * TF_ERR_PARTIAL when any did, as for the synchronous batch calls. */
typedef void tf_sqs_batch_cb(void *ctx, enum tf_err rc,
    const struct tf_sqs_batch_result *result, const struct tf_aws_error *err);

enum tf_err tf_sqs_send_message_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, const char *body, int delay_seconds,
    tf_sqs_send_cb *cb, void *ctx);

enum tf_err tf_sqs_receive_message_async(struct tf_aws *aws,
    struct tf_loop *loop, const char *queue_url,
    const struct tf_sqs_receive_opts *opts, tf_sqs_receive_cb *cb, void *ctx);

/* Up to 10 entries (strings copied); TF_ERR_INVALID for 0 or more. A send
 * batch's result has a message id per entry (NULL for a failed one). */
enum tf_err tf_sqs_send_message_batch_async(struct tf_aws *aws,
    struct tf_loop *loop, const char *queue_url,
    const struct tf_sqs_send_entry *entries, size_t n, tf_sqs_batch_cb *cb,
    void *ctx);

enum tf_err tf_sqs_delete_message_batch_async(struct tf_aws *aws,
    struct tf_loop *loop, const char *queue_url,
    const struct tf_sqs_handle_entry *entries, size_t n, tf_sqs_batch_cb *cb,
    void *ctx);

enum tf_err tf_sqs_change_message_visibility_batch_async(struct tf_aws *aws,
    struct tf_loop *loop, const char *queue_url,
    const struct tf_sqs_handle_entry *entries, size_t n, tf_sqs_batch_cb *cb,
    void *ctx);

#endif /* TF_SQS_ASYNC_H */
