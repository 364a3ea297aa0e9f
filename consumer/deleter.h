/*
 * deleter.h - deletes received messages in batches of up to ten, on the
 * consumer's event loop.
 *
 * Runs hand over receipt handles (from any thread); the loop sends
 * DeleteMessageBatch when ten are waiting or the oldest has waited
 * TF_DELETER_LINGER_MS (a loop timer), so a busy consumer pays one request
 * per ten messages and an idle one still deletes promptly. No thread of its
 * own: a batch is an asynchronous call like any other.
 */
#ifndef TF_DELETER_H
#define TF_DELETER_H

#include <stdint.h>

#include "aws/aws.h"
#include "base/err.h"
#include "loop/loop.h"

/* A message waits at most this long for its batch: long enough that a
 * consumer running a few hundred runs a second sends full batches, short
 * next to any visibility timeout. */
#define TF_DELETER_LINGER_MS 50

struct tf_deleter;

/* Starts the deleter for queue_url (copied) on loop; aws and loop are
 * borrowed and must outlive it. Caller stops and frees it with
 * tf_deleter_stop() while the loop still runs. */
enum tf_err tf_deleter_start(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, struct tf_deleter **out);

/* Queues a receipt handle (copied) for deletion. Any thread. */
enum tf_err tf_deleter_add(struct tf_deleter *d, const char *receipt_handle);

/* Sends what is queued now, waiting up to timeout_ms for it to go; the
 * deleter keeps running. Not on the loop's thread. */
void tf_deleter_flush(struct tf_deleter *d, int64_t timeout_ms);

/* Sends what is queued (waiting up to 10 s), then frees d; NULL is fine.
 * Not on the loop's thread; the loop must still run when anything was
 * ever queued. */
void tf_deleter_stop(struct tf_deleter *d);

#endif /* TF_DELETER_H */
