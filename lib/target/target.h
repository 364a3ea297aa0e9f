/*
 * target.h - the params of the AWS target runners (sqs, sns, lambda,
 * eventbridge, stepfunctions; docs/targets.md): parsing and checking them,
 * and building the request one run sends. Shared by the runners (run time)
 * and `taskfleet sqs|sns|lambda|events|sfn` (before anything is written),
 * so both refuse the same input with the same words.
 *
 * Every kind takes `region` (the AWS region to call; default: the region of
 * an ARN the params name, else the consumer's), and `role_arn` with an
 * optional `external_id` (a role to assume for the call, e.g. in another
 * account). Payload strings may hold the placeholders of template.h.
 *
 *   sqs            queue (URL or name), body, delay_seconds, attributes,
 *                  message_group_id, message_deduplication_id
 *   sns            topic_arn, message, subject, attributes,
 *                  message_group_id, message_deduplication_id
 *   lambda         function, qualifier, payload, invocation_type
 *                  ("RequestResponse" or "Event"), handled_error
 *                  ("fail" or "retry")
 *   eventbridge    event_bus, source, detail_type, detail, resources
 *   stepfunctions  state_machine_arn, input (the execution name is
 *                  TASKID-ITERATION, tf_target_iteration_id())
 */
#ifndef TF_TARGET_H
#define TF_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "target/template.h"

enum tf_target_kind {
	TF_TARGET_SQS,
	TF_TARGET_SNS,
	TF_TARGET_LAMBDA,
	TF_TARGET_EVENTBRIDGE,
	TF_TARGET_SFN,
	TF_TARGET__KINDS
};

/* The runner (task type) name of kind: "sqs", ..., "stepfunctions". */
const char *tf_target_name(enum tf_target_kind kind);

/* Parsed params; every pointer but params borrows from params. Free with
 * tf_target_free(). */
struct tf_target {
	enum tf_target_kind kind;
	cJSON *params;            /* owned */
	char region[32];          /* "" : the consumer's */
	bool fifo;                /* sqs, sns: a .fifo queue or topic */
	const char *resource;     /* queue, topic_arn, function,
	                             state_machine_arn; event_bus (or NULL) */
	const cJSON *payload;     /* body, message, payload, detail, input */
	const char *role_arn;     /* the role the call is made as, assumed
	                             through STS; NULL: the consumer's own */
	const char *external_id;  /* with role_arn; NULL: none */
	/* lambda */
	bool event;               /* invocation_type "Event" */
	bool retry_handled;       /* handled_error "retry" */
};

/* The longest payload sent, in bytes (SQS's and SNS's 256 KiB). */
#define TF_TARGET_PAYLOAD_MAX (256 * 1024)

/* Parses params (len bytes, JSON object text) of kind into *out. Returns
 * TF_OK; TF_ERR_INVALID with err naming the field (one line); or
 * TF_ERR_NOMEM. Free *out with tf_target_free() either way. */
enum tf_err tf_target_parse(enum tf_target_kind kind, const char *params,
    size_t len, struct tf_target *out, char *err, size_t errlen);

void tf_target_free(struct tf_target *t);

/* The request of one run, built by tf_target_build(). */
struct tf_target_req {
	const char *operation;    /* "SendMessage", "Publish", "Invoke",
	                             "PutEvents", "StartExecution" */
	char *body;               /* owned: JSON, or the SNS query form */
	char *path;               /* owned, lambda: the invocation path */
	char *query;              /* owned, lambda: "Qualifier=..." or NULL */
	char *name;               /* owned: stepfunctions, the execution name;
	                             sqs, sns (FIFO): the deduplication id */
	char *input;              /* owned, stepfunctions: the input sent */
};

/* Builds the request of one run of t for ctx (the payload templated).
 * queue_url is the sqs queue's URL (its name resolved by the caller), NULL
 * for other kinds. Free *out with tf_target_req_free() either way. */
enum tf_err tf_target_build(const struct tf_target *t,
    const struct tf_template_ctx *ctx, const char *queue_url,
    struct tf_target_req *out);

void tf_target_req_free(struct tf_target_req *r);

/* The deterministic id of one iteration of task_id, made of the id's
 * characters in allowed (a strspn set) and '-' for others, "-<iteration>"
 * appended; when it would be longer than max, "tf-" and a hash of the id
 * replace the id. Used for FIFO deduplication ids and execution names, so
 * a retried run is recognised. Writes into out (max + 1 bytes). */
void tf_target_iteration_id(const char *task_id, long long iteration,
    const char *allowed, size_t max, char *out);

#endif /* TF_TARGET_H */
