/*
 * schema.h - the DynamoDB table and SQS queues taskfleet runs on
 * (docs/design.md sections 2 and 3), created idempotently by `taskfleet init`.
 */
#ifndef TF_SCHEMA_H
#define TF_SCHEMA_H

#include <stdbool.h>
#include <stdio.h>

#include "aws/aws.h"
#include "base/err.h"

/* The global indexes of the table: by_due and by_ns. */
#define TF_SCHEMA_INDEXES 2

/* The attribute DynamoDB's TTL deletes finished tasks by. */
#define TF_SCHEMA_TTL_ATTRIBUTE "ttl"

/* How long init waits for DynamoDB to build an index it added. */
#define TF_SCHEMA_INDEX_WAIT_MS (60L * 60 * 1000)

struct tf_schema_opts {
	const char *table;           /* borrowed */
	const char *queue_name;      /* borrowed; the DLQ is queue_name + "-dlq" */
	int visibility_timeout_s;    /* 0: 60 */
	int max_receive_count;       /* before a message moves to the DLQ; 0: 5 */
	FILE *progress;              /* borrowed; a line before each long wait;
	                                NULL: none */
};

/* What tf_schema_create_table() changed. */
struct tf_schema_changes {
	bool table_created;
	/* The names of the indexes added to a table that existed without. */
	char indexes_added[TF_SCHEMA_INDEXES][16];
	int n_indexes_added;
	bool ttl_enabled;            /* TTL was off and is now on `ttl` */
};

/* Creates the table with its by_due and by_ns indexes, or finds it and adds
 * the indexes it lacks (one UpdateTable each, waiting until each is ACTIVE);
 * then turns TTL on for `ttl` unless it is on. Waits until the table is
 * ACTIVE. *ch says what changed. On error, step (steplen bytes) says what was
 * being done (or, with TF_ERR_INVALID, what is wrong) and tf_aws_last_error()
 * what AWS said: a refused TTL is an error, never ignored. */
enum tf_err tf_schema_create_table(struct tf_aws *aws,
    const struct tf_schema_opts *o, struct tf_schema_changes *ch, char *step,
    size_t steplen);

/* Creates the dead-letter queue and the queue with its redrive policy, and
 * beside it the queues of the high and low priorities (the queue's name with
 * "-high" and "-low": task/priority.h), alike and sharing the dead-letter
 * queue, or brings existing ones to these attributes. *queue_url (the normal
 * queue) and *dlq_url (either may be NULL): caller frees with tf_free(). */
enum tf_err tf_schema_create_queues(struct tf_aws *aws,
    const struct tf_schema_opts *o, char **queue_url, char **dlq_url);

/* True when the last failed call of this thread was SQS refusing to create
 * a queue because one of that name was deleted less than 60 s ago
 * (QueueDeletedRecently; tf_schema_create_queues() returns TF_ERR_EXISTS). */
bool tf_schema_queue_deleted_recently(void);

#endif /* TF_SCHEMA_H */
