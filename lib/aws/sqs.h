/*
 * sqs.h - the SQS client (JSON protocol) on top of aws.h.
 *
 * Batch calls report each failed entry; a batch with any failed entry returns
 * TF_ERR_PARTIAL and the caller decides what to do with those entries.
 */
#ifndef TF_SQS_H
#define TF_SQS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"

/* SQS's own limits. */
#define TF_SQS_MAX_BATCH        10
#define TF_SQS_MAX_DELAY_S      900
#define TF_SQS_MAX_WAIT_S       20
#define TF_SQS_MAX_VISIBILITY_S 43200
#define TF_SQS_MAX_BODY         262144

struct tf_sqs_message {
	char *message_id;       /* owned */
	char *receipt_handle;   /* owned */
	char *body;             /* owned */
	int receive_count;      /* ApproximateReceiveCount; 0 if not returned */
	int64_t sent_ms;        /* SentTimestamp; 0 if not returned */
	int64_t first_receive_ms; /* ApproximateFirstReceiveTimestamp */
	int queue;              /* the receiver's tag for the queue it came
	                           from; the client sets 0 */
};

/* One entry of a send batch. All strings borrowed. */
struct tf_sqs_send_entry {
	const char *id;         /* unique within the batch: [A-Za-z0-9_-]{1,80} */
	const char *body;
	int delay_seconds;      /* 0..900 */
};

/* One entry of a delete or visibility batch. All strings borrowed. */
struct tf_sqs_handle_entry {
	const char *id;
	const char *receipt_handle;
	int visibility_timeout; /* for ChangeMessageVisibilityBatch only */
};

/* Entry ids for a batch whose entries are known by position: "0" to "9". */
extern const char *const tf_sqs_batch_ids[TF_SQS_MAX_BATCH];

/* A failed entry of a batch call. */
struct tf_sqs_failed_entry {
	char id[81];
	char code[96];
	char message[256];
	int sender_fault;       /* 1: the request was wrong, retrying won't help */
};

struct tf_sqs_batch_result {
	struct tf_sqs_failed_entry *failed;  /* owned array */
	size_t n_failed;
	char **message_ids;     /* send batches: owned array, one per entry in
	                           entry order; NULL for a failed entry */
	size_t n_entries;
};

/* Creates (or finds, when it exists with the same attributes) the queue.
 * attributes: a JSON object of string values ("VisibilityTimeout": "30", ...)
 * or NULL. *queue_url is freshly allocated; caller frees with tf_free(). */
enum tf_err tf_sqs_create_queue(struct tf_aws *aws, const char *name,
    const cJSON *attributes, char **queue_url);

/* Looks up a queue URL by name. *queue_url: caller frees with tf_free().
 * TF_ERR_NOT_FOUND when there is no such queue. */
enum tf_err tf_sqs_get_queue_url(struct tf_aws *aws, const char *name,
    char **queue_url);

enum tf_err tf_sqs_delete_queue(struct tf_aws *aws, const char *queue_url);
enum tf_err tf_sqs_purge_queue(struct tf_aws *aws, const char *queue_url);

/* Reads queue attributes (names: NULL-terminated list, or NULL for "All").
 * *attributes is a JSON object of strings; caller frees with cJSON_Delete(). */
enum tf_err tf_sqs_get_queue_attributes(struct tf_aws *aws,
    const char *queue_url, const char *const *names, cJSON **attributes);

/* A queue's approximate depth: messages visible, in flight (received, not
 * yet deleted) and delayed. */
struct tf_sqs_depth {
	int64_t visible, in_flight, delayed;
};

/* Reads the depth of the queue at queue_url into *depth (a count SQS does
 * not give reads as 0). */
enum tf_err tf_sqs_queue_depth(struct tf_aws *aws, const char *queue_url,
    struct tf_sqs_depth *depth);

/* Sets queue attributes from a JSON object of strings (borrowed). */
enum tf_err tf_sqs_set_queue_attributes(struct tf_aws *aws,
    const char *queue_url, const cJSON *attributes);

/* Sends one message. *message_id (may be NULL): caller frees with tf_free(). */
enum tf_err tf_sqs_send_message(struct tf_aws *aws, const char *queue_url,
    const char *body, int delay_seconds, char **message_id);

/* Sends up to 10 messages. result is filled (free with
 * tf_sqs_batch_result_free()) on TF_OK and TF_ERR_PARTIAL. */
enum tf_err tf_sqs_send_message_batch(struct tf_aws *aws, const char *queue_url,
    const struct tf_sqs_send_entry *entries, size_t n,
    struct tf_sqs_batch_result *result);

/* Receive options. */
struct tf_sqs_receive_opts {
	int max_messages;        /* 1..10 */
	int wait_seconds;        /* 0..20: long poll */
	int visibility_timeout;  /* seconds; negative: the queue's default */
	const atomic_int *cancel; /* optional: aborts the long poll */
};

/* Receives messages with a long poll; the HTTP timeout is above the wait.
 * *messages is an owned array of *n (possibly 0) messages; caller frees with
 * tf_sqs_messages_free(). */
enum tf_err tf_sqs_receive_message(struct tf_aws *aws, const char *queue_url,
    const struct tf_sqs_receive_opts *opts, struct tf_sqs_message **messages,
    size_t *n);

void tf_sqs_messages_free(struct tf_sqs_message *messages, size_t n);

/* Frees the strings of one message (not m itself) and empties it. */
void tf_sqs_message_clear(struct tf_sqs_message *m);

enum tf_err tf_sqs_delete_message(struct tf_aws *aws, const char *queue_url,
    const char *receipt_handle);

/* Deletes up to 10 messages; result as for sends (message_ids unused). */
enum tf_err tf_sqs_delete_message_batch(struct tf_aws *aws,
    const char *queue_url, const struct tf_sqs_handle_entry *entries, size_t n,
    struct tf_sqs_batch_result *result);

enum tf_err tf_sqs_change_message_visibility(struct tf_aws *aws,
    const char *queue_url, const char *receipt_handle, int visibility_timeout);

enum tf_err tf_sqs_change_message_visibility_batch(struct tf_aws *aws,
    const char *queue_url, const struct tf_sqs_handle_entry *entries, size_t n,
    struct tf_sqs_batch_result *result);

void tf_sqs_batch_result_free(struct tf_sqs_batch_result *result);

/* Reads the messages of a ReceiveMessage reply (borrowed). Messages without a
 * body or receipt handle, or whose body fails its MD5, are skipped (they
 * reappear after their visibility timeout). *messages as for
 * tf_sqs_receive_message(). */
enum tf_err tf_sqs_parse_receive(const cJSON *resp,
    struct tf_sqs_message **messages, size_t *n);

/* Fills result->failed and n_failed from a batch reply's "Failed" list
 * (resp borrowed); the caller frees result with tf_sqs_batch_result_free(). */
enum tf_err tf_sqs_parse_failed(const cJSON *resp,
    struct tf_sqs_batch_result *result);

/* Finds the failed entry with this id in result; NULL when it succeeded. */
const struct tf_sqs_failed_entry *tf_sqs_batch_failed(
    const struct tf_sqs_batch_result *result, const char *id);

#endif /* TF_SQS_H */
