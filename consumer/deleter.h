/*
 * deleter.h - deletes received messages in batches of up to ten.
 *
 * Workers hand over receipt handles; a thread sends DeleteMessageBatch when
 * ten are waiting or the oldest has waited TF_DELETER_LINGER_MS, so a busy
 * consumer pays one request per ten messages and an idle one still deletes
 * promptly. tf_deleter_stop() flushes everything before it returns.
 */
#ifndef TF_DELETER_H
#define TF_DELETER_H

#include <stdint.h>

#include "aws/aws.h"
#include "base/err.h"

#define TF_DELETER_LINGER_MS 20

struct tf_deleter;

/* Starts the deleter for queue_url (copied); aws is borrowed and must outlive
 * it. Caller stops and frees it with tf_deleter_stop(). */
enum tf_err tf_deleter_start(struct tf_aws *aws, const char *queue_url,
    struct tf_deleter **out);

/* Queues a receipt handle (copied) for deletion. */
enum tf_err tf_deleter_add(struct tf_deleter *d, const char *receipt_handle);

/* Sends what is queued now, waiting up to timeout_ms for it to go; the
 * deleter keeps running. For a shutdown that leaves runs behind. */
void tf_deleter_flush(struct tf_deleter *d, int64_t timeout_ms);

/* Sends what is queued, stops the thread and frees d; NULL is fine. */
void tf_deleter_stop(struct tf_deleter *d);

#endif /* TF_DELETER_H */
