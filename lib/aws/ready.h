/*
 * ready.h - whether the table and the queue a program works on answer:
 * the AWS half of the readiness probes (the consumer's /readyz in
 * consumer/metrics.c, `taskfleet serve`'s in producer/api_health.c).
 *
 * Two cheap calls, one attempt each with a short timeout: a GetItem of a key
 * no task has (the table answers with no item) and a GetQueueAttributes of
 * the queue's ARN. Both need only the permissions the programs already have,
 * and both prove that the credentials work.
 */
#ifndef TF_AWS_READY_H
#define TF_AWS_READY_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/aws.h"

/* The id the table is probed with (no task can have it: docs/design.md). */
#define TF_READY_PROBE_ID "taskfleet-readiness-probe"

/* True when table and the queue at queue_url (both borrowed) answer through
 * aws; otherwise false with a line in why ("table T: GetItem ... (AWS's
 * message)\n"). On success why holds "ok\n". */
bool tf_aws_table_queue_ready(struct tf_aws *aws, const char *table,
    const char *queue_url, char *why, size_t n);

#endif /* TF_AWS_READY_H */
