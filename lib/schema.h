/*
 * schema.h - the DynamoDB table and SQS queues taskfleet runs on
 * (SPEC sections 4 and 5), created idempotently by `taskfleet init`.
 */
#ifndef TF_SCHEMA_H
#define TF_SCHEMA_H

#include "aws.h"
#include "err.h"

/* Number of due_shard partitions of the by_due index: "0" to "15". */
#define TF_DUE_SHARDS 16

struct tf_schema_opts {
	const char *table;           /* borrowed */
	const char *queue_name;      /* borrowed; the DLQ is queue_name + "-dlq" */
	int visibility_timeout_s;    /* 0: 60 */
	int max_receive_count;       /* before a message moves to the DLQ; 0: 5 */
};

/* Creates the table with its by_due and by_ns indexes and TTL on `ttl`, or
 * finds it; waits until it is ACTIVE. *created (may be NULL) says which. */
enum tf_err tf_schema_create_table(struct tf_aws *aws,
    const struct tf_schema_opts *o, int *created);

/* Creates the dead-letter queue and the queue with its redrive policy, or
 * brings existing ones to these attributes. *queue_url and *dlq_url (either
 * may be NULL): caller frees with tf_free(). */
enum tf_err tf_schema_create_queues(struct tf_aws *aws,
    const struct tf_schema_opts *o, char **queue_url, char **dlq_url);

#endif /* TF_SCHEMA_H */
