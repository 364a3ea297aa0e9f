/*
 * sqs_wire.h - the bodies of SQS requests and the reading of their answers,
 * shared by the synchronous client (sqs.c) and its event-loop twin
 * (sqs_async.c), so both send and check exactly the same.
 */
#ifndef TF_SQS_WIRE_H
#define TF_SQS_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "aws/sqs.h"

/* Extra HTTP time beyond a long poll's wait, so the server answers first. */
#define TF_SQS_LONG_POLL_MARGIN_MS 10000

/* True when SQS would take body with this delay. */
int tf_sqs_valid_send(const char *body, int delay_seconds);

/* A SendMessage request; NULL when out of memory. Caller frees with
 * cJSON_Delete(). */
cJSON *tf_sqs_send_request(const char *queue_url, const char *body,
    int delay_seconds);

/* Checks a SendMessage reply (borrowed) against the body sent and copies its
 * MessageId into *message_id (may be NULL; caller frees with tf_free()). */
enum tf_err tf_sqs_send_result(const cJSON *resp, const char *body,
    char **message_id);

/* A SendMessageBatch request in *out (caller frees with cJSON_Delete()), or
 * TF_ERR_INVALID (0 or over 10 entries, a body or delay SQS refuses), or
 * TF_ERR_NOMEM. */
enum tf_err tf_sqs_send_batch_request(const char *queue_url,
    const struct tf_sqs_send_entry *entries, size_t n, cJSON **out);

/* Fills result->message_ids (allocated here, n of them) from a
 * SendMessageBatch reply (borrowed), checking each body's MD5; an entry
 * whose MD5 does not match keeps a NULL id. */
enum tf_err tf_sqs_send_batch_ids(const cJSON *resp,
    const struct tf_sqs_send_entry *entries, size_t n,
    struct tf_sqs_batch_result *result);

/* A ReceiveMessage request in *out (caller frees with cJSON_Delete()), or
 * TF_ERR_INVALID for options out of SQS's range, or TF_ERR_NOMEM. */
enum tf_err tf_sqs_receive_request(const char *queue_url,
    const struct tf_sqs_receive_opts *opts, cJSON **out);

/* A DeleteMessageBatch or (with_visibility) ChangeMessageVisibilityBatch
 * request in *out (caller frees with cJSON_Delete()); TF_ERR_INVALID for 0
 * or more than 10 entries, or TF_ERR_NOMEM. */
enum tf_err tf_sqs_handle_batch_request(const char *queue_url,
    const struct tf_sqs_handle_entry *entries, size_t n, int with_visibility,
    cJSON **out);

#endif /* TF_SQS_WIRE_H */
