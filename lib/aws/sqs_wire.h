/*
 * sqs_wire.h - the bodies of SQS requests and the reading of their answers,
 * shared by the synchronous client (sqs.c) and its event-loop twin
 * (sqs_async.c), so both send and check exactly the same.
 *
 * The calls a consumer makes for every run (SendMessage(Batch),
 * ReceiveMessage, DeleteMessage(Batch), ChangeMessageVisibility(Batch)) are
 * written straight into a buffer as JSON text, strings escaped by
 * tf_json_escape_append(), and their answers are read in place with
 * json_scan.h: no JSON tree is built for them.
 */
#ifndef TF_SQS_WIRE_H
#define TF_SQS_WIRE_H

#include <stddef.h>

#include "aws/sqs.h"
#include "base/buf.h"

/* Extra HTTP time beyond a long poll's wait, so the server answers first. */
#define TF_SQS_LONG_POLL_MARGIN_MS 10000

/* TF_OK when SQS would take body with this delay; TF_ERR_TOO_LARGE for a
 * body over TF_SQS_MAX_BODY, TF_ERR_INVALID for anything else it refuses. */
enum tf_err tf_sqs_check_send(const char *body, int delay_seconds);

/* The lower-case hex MD5 of s, as SQS reports message bodies. */
void tf_sqs_md5_hex(const char *s, char out[33]);

/* What the answer to a send batch is checked against, for one entry. */
struct tf_sqs_sent {
	char id[81];    /* the entry's id */
	char md5[33];   /* its body's MD5 (tf_sqs_md5_hex) */
};

/*
 * Request bodies. Each empties b (the caller's) and writes the request
 * into it; TF_ERR_INVALID for arguments SQS refuses (nothing useful is left
 * in b then), TF_ERR_NOMEM.
 */

/* SendMessage. */
enum tf_err tf_sqs_send_body(struct tf_buf *b, const char *queue_url,
    const char *body, int delay_seconds);

/* SendMessageBatch of 1..10 entries; sent (the caller's, n of them) receives
 * what tf_sqs_read_batch() checks the answer against. */
enum tf_err tf_sqs_send_batch_body(struct tf_buf *b, const char *queue_url,
    const struct tf_sqs_send_entry *entries, size_t n,
    struct tf_sqs_sent *sent);

/* ReceiveMessage, asking for every system attribute. */
enum tf_err tf_sqs_receive_body(struct tf_buf *b, const char *queue_url,
    const struct tf_sqs_receive_opts *opts);

/* DeleteMessage (visibility_timeout negative) or ChangeMessageVisibility. */
enum tf_err tf_sqs_handle_body(struct tf_buf *b, const char *queue_url,
    const char *receipt_handle, int visibility_timeout);

/* DeleteMessageBatch or (with_visibility) ChangeMessageVisibilityBatch of
 * 1..10 entries. */
enum tf_err tf_sqs_handle_batch_body(struct tf_buf *b, const char *queue_url,
    const struct tf_sqs_handle_entry *entries, size_t n, int with_visibility);

/*
 * Answers: text (len bytes, borrowed; empty reads as "{}"). TF_ERR_PARSE
 * for text that is not JSON, TF_ERR_NOMEM.
 */

/* A SendMessage answer: checks its MD5 against md5 (the body's) and copies
 * the MessageId into *message_id (may be NULL; caller frees with
 * tf_free()); TF_ERR_PARSE when the MD5 differs or the id is missing. */
enum tf_err tf_sqs_read_send(const char *text, size_t len,
    const char md5[33], char **message_id);

/* A ReceiveMessage answer, as tf_sqs_parse_receive() reads it. */
enum tf_err tf_sqs_read_receive(const char *text, size_t len,
    struct tf_sqs_message **messages, size_t *n);

/* A batch answer: its "Failed" list into result->failed and n_failed and,
 * with sent (n_sent entries, as tf_sqs_send_batch_body() filled them) not
 * NULL, result->message_ids (n_sent of them, NULL for an entry that failed
 * or whose MD5 differs). result must be zeroed (n_entries may be set); the
 * caller frees it with tf_sqs_batch_result_free(), also on failure. */
enum tf_err tf_sqs_read_batch(const char *text, size_t len,
    const struct tf_sqs_sent *sent, size_t n_sent,
    struct tf_sqs_batch_result *result);

#endif /* TF_SQS_WIRE_H */
