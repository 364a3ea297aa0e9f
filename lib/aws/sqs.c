/* sqs.c - SQS calls in the JSON protocol. */
#include "aws/sqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sqs_wire.h"
#include "base/alloc.h"
#include "base/log.h"

const char *const tf_sqs_batch_ids[TF_SQS_MAX_BATCH] = {
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"
};

/* A request object with QueueUrl set; NULL when out of memory. Caller
 * frees with cJSON_Delete(). */
static cJSON *
request_for(const char *queue_url)
{
	cJSON *req = cJSON_CreateObject();

	if (req != NULL && cJSON_AddStringToObject(req, "QueueUrl", queue_url) == NULL) {
		cJSON_Delete(req);
		return NULL;
	}
	return req;
}

/* Copies the string member `name` of obj; NULL when absent or out of memory. */
static char *
dup_member(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? tf_strdup(v->valuestring) : NULL;
}

/* Calls op and discards the reply. Takes ownership of req (may be NULL:
 * then it reports out of memory). */
static enum tf_err
call_simple(struct tf_aws *aws, const char *op, cJSON *req)
{
	cJSON *resp = NULL;
	enum tf_err rc;

	if (req == NULL)
		return TF_ERR_NOMEM;
	rc = tf_aws_call(aws, TF_AWS_SQS, op, req, NULL, &resp);
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return rc;
}

static enum tf_err
call_for_url(struct tf_aws *aws, const char *op, cJSON *req, char **queue_url)
{
	cJSON *resp = NULL;
	enum tf_err rc;

	*queue_url = NULL;
	rc = tf_aws_call(aws, TF_AWS_SQS, op, req, NULL, &resp);
	if (rc == TF_OK) {
		*queue_url = dup_member(resp, "QueueUrl");
		if (*queue_url == NULL)
			rc = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(resp,
			    "QueueUrl")) ? TF_ERR_NOMEM : TF_ERR_PARSE;
	}
	cJSON_Delete(resp);
	return rc;
}

enum tf_err
tf_sqs_create_queue(struct tf_aws *aws, const char *name,
    const cJSON *attributes, char **queue_url)
{
	enum tf_err rc = TF_ERR_NOMEM;
	cJSON *req = NULL, *attrs = NULL;

	*queue_url = NULL;
	req = cJSON_CreateObject();
	if (req == NULL || cJSON_AddStringToObject(req, "QueueName", name) == NULL)
		goto out;
	if (attributes != NULL) {
		attrs = cJSON_Duplicate(attributes, 1);
		if (attrs == NULL || !cJSON_AddItemToObject(req, "Attributes", attrs)) {
			cJSON_Delete(attrs);
			goto out;
		}
	}
	rc = call_for_url(aws, "CreateQueue", req, queue_url);
out:
	cJSON_Delete(req);
	return rc;
}

enum tf_err
tf_sqs_get_queue_url(struct tf_aws *aws, const char *name, char **queue_url)
{
	enum tf_err rc = TF_ERR_NOMEM;
	cJSON *req = cJSON_CreateObject();

	*queue_url = NULL;
	if (req != NULL && cJSON_AddStringToObject(req, "QueueName", name) != NULL)
		rc = call_for_url(aws, "GetQueueUrl", req, queue_url);
	cJSON_Delete(req);
	return rc;
}

enum tf_err
tf_sqs_delete_queue(struct tf_aws *aws, const char *queue_url)
{
	return call_simple(aws, "DeleteQueue", request_for(queue_url));
}

enum tf_err
tf_sqs_purge_queue(struct tf_aws *aws, const char *queue_url)
{
	return call_simple(aws, "PurgeQueue", request_for(queue_url));
}

enum tf_err
tf_sqs_get_queue_attributes(struct tf_aws *aws, const char *queue_url,
    const char *const *names, cJSON **attributes)
{
	static const char *const all[] = { "All", NULL };
	enum tf_err rc = TF_ERR_NOMEM;
	cJSON *req = NULL, *list, *resp = NULL, *attrs;

	*attributes = NULL;
	req = request_for(queue_url);
	if (req == NULL)
		goto out;
	list = cJSON_AddArrayToObject(req, "AttributeNames");
	if (list == NULL)
		goto out;
	for (names = names ? names : all; *names != NULL; names++)
		if (!cJSON_AddItemToArray(list, cJSON_CreateString(*names)))
			goto out;
	rc = tf_aws_call(aws, TF_AWS_SQS, "GetQueueAttributes", req, NULL, &resp);
	if (rc != TF_OK)
		goto out;
	attrs = cJSON_DetachItemFromObjectCaseSensitive(resp, "Attributes");
	*attributes = attrs ? attrs : cJSON_CreateObject();
	rc = *attributes ? TF_OK : TF_ERR_NOMEM;
out:
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return rc;
}

enum tf_err
tf_sqs_queue_depth(struct tf_aws *aws, const char *queue_url,
    struct tf_sqs_depth *depth)
{
	static const char *const names[] = { "ApproximateNumberOfMessages",
	    "ApproximateNumberOfMessagesNotVisible",
	    "ApproximateNumberOfMessagesDelayed", NULL };
	int64_t *out[] = { &depth->visible, &depth->in_flight, &depth->delayed };
	const cJSON *v;
	cJSON *attrs = NULL;
	enum tf_err rc;
	size_t i;

	memset(depth, 0, sizeof(*depth));
	rc = tf_sqs_get_queue_attributes(aws, queue_url, names, &attrs);
	if (rc != TF_OK)
		return rc;
	for (i = 0; i < 3; i++) {
		v = cJSON_GetObjectItemCaseSensitive(attrs, names[i]);
		*out[i] = cJSON_IsString(v) ? strtoll(v->valuestring, NULL, 10) : 0;
	}
	cJSON_Delete(attrs);
	return TF_OK;
}

enum tf_err
tf_sqs_set_queue_attributes(struct tf_aws *aws, const char *queue_url,
    const cJSON *attributes)
{
	cJSON *req = request_for(queue_url), *copy;

	if (req == NULL)
		return TF_ERR_NOMEM;
	copy = cJSON_Duplicate(attributes, 1);
	if (copy == NULL || !cJSON_AddItemToObject(req, "Attributes", copy)) {
		cJSON_Delete(copy);
		cJSON_Delete(req);
		return TF_ERR_NOMEM;
	}
	return call_simple(aws, "SetQueueAttributes", req);
}

/* Sends the request in b and points *reply at the thread's reply buffer
 * (tf_aws_scratch), which holds the answer on TF_OK: borrowed until the
 * thread's next call. */
static enum tf_err
call_text(struct tf_aws *aws, const char *op, const struct tf_buf *b,
    const struct tf_aws_call_opts *opts, struct tf_buf **reply)
{
	*reply = tf_aws_scratch(TF_AWS_SCRATCH_REPLY);
	if (*reply == NULL)
		return TF_ERR_NOMEM;
	return tf_aws_call_text(aws, TF_AWS_SQS, op, b->data, b->len, opts,
	    *reply);
}

enum tf_err
tf_sqs_send_message(struct tf_aws *aws, const char *queue_url,
    const char *body, int delay_seconds, char **message_id)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST), *reply;
	enum tf_err rc;
	char md5[33];

	if (message_id != NULL)
		*message_id = NULL;
	rc = b != NULL ? tf_sqs_send_body(b, queue_url, body, delay_seconds) :
	    TF_ERR_NOMEM;
	if (rc != TF_OK)
		return rc;
	tf_sqs_md5_hex(body, md5);
	rc = call_text(aws, "SendMessage", b, NULL, &reply);
	if (rc == TF_OK)
		rc = tf_sqs_read_send(reply->data, reply->len, md5, message_id);
	return rc;
}

void
tf_sqs_batch_result_free(struct tf_sqs_batch_result *result)
{
	size_t i;

	if (result == NULL)
		return;
	for (i = 0; result->message_ids != NULL && i < result->n_entries; i++)
		tf_free(result->message_ids[i]);
	tf_free(result->message_ids);
	tf_free(result->failed);
	memset(result, 0, sizeof(*result));
}

const struct tf_sqs_failed_entry *
tf_sqs_batch_failed(const struct tf_sqs_batch_result *result, const char *id)
{
	size_t i;

	for (i = 0; i < result->n_failed; i++)
		if (strcmp(result->failed[i].id, id) == 0)
			return &result->failed[i];
	return NULL;
}

/* Prints resp (borrowed) and hands its text to read; the tree-less readers
 * are the only ones, and these cJSON entry points (kept for callers that
 * hold a tree) go through them. */
static enum tf_err
with_text(const cJSON *resp, char **text)
{
	*text = resp != NULL ? cJSON_PrintUnformatted(resp) : NULL;
	return *text != NULL ? TF_OK : resp != NULL ? TF_ERR_NOMEM :
	    TF_ERR_PARSE;
}

enum tf_err
tf_sqs_parse_failed(const cJSON *resp, struct tf_sqs_batch_result *result)
{
	char *text = NULL;
	enum tf_err rc = with_text(resp, &text);

	if (rc == TF_OK)
		rc = tf_sqs_read_batch(text, strlen(text), NULL, 0, result);
	cJSON_free(text);
	return rc;
}

enum tf_err
tf_sqs_parse_receive(const cJSON *resp, struct tf_sqs_message **messages,
    size_t *n)
{
	char *text = NULL;
	enum tf_err rc = with_text(resp, &text);

	*messages = NULL;
	*n = 0;
	if (rc == TF_OK)
		rc = tf_sqs_read_receive(text, strlen(text), messages, n);
	cJSON_free(text);
	return rc;
}

/* Sends the batch request in b and reads the answer into result (zeroed
 * here; filled on TF_OK and TF_ERR_PARTIAL, emptied otherwise); sent as for
 * tf_sqs_read_batch(). */
static enum tf_err
call_batch(struct tf_aws *aws, const char *op, const struct tf_buf *b,
    const struct tf_sqs_sent *sent, size_t n,
    struct tf_sqs_batch_result *result)
{
	struct tf_buf *reply;
	enum tf_err rc;

	rc = call_text(aws, op, b, NULL, &reply);
	if (rc == TF_OK)
		rc = tf_sqs_read_batch(reply->data, reply->len, sent, n, result);
	if (rc == TF_OK && result->n_failed > 0)
		rc = TF_ERR_PARTIAL;
	if (rc != TF_OK && rc != TF_ERR_PARTIAL)
		tf_sqs_batch_result_free(result);
	return rc;
}

enum tf_err
tf_sqs_send_message_batch(struct tf_aws *aws, const char *queue_url,
    const struct tf_sqs_send_entry *entries, size_t n,
    struct tf_sqs_batch_result *result)
{
	struct tf_sqs_sent sent[TF_SQS_MAX_BATCH];
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);
	enum tf_err rc;

	memset(result, 0, sizeof(*result));
	rc = b != NULL ? tf_sqs_send_batch_body(b, queue_url, entries, n, sent) :
	    TF_ERR_NOMEM;
	if (rc != TF_OK)
		return rc;
	return call_batch(aws, "SendMessageBatch", b, sent, n, result);
}

void
tf_sqs_message_clear(struct tf_sqs_message *m)
{
	tf_free(m->message_id);
	tf_free(m->receipt_handle);
	tf_free(m->body);
	memset(m, 0, sizeof(*m));
}

void
tf_sqs_messages_free(struct tf_sqs_message *messages, size_t n)
{
	size_t i;

	for (i = 0; messages != NULL && i < n; i++)
		tf_sqs_message_clear(&messages[i]);
	tf_free(messages);
}

enum tf_err
tf_sqs_receive_message(struct tf_aws *aws, const char *queue_url,
    const struct tf_sqs_receive_opts *opts, struct tf_sqs_message **messages,
    size_t *n)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST), *reply;
	struct tf_aws_call_opts call = { 0 };
	enum tf_err rc;

	*messages = NULL;
	*n = 0;
	rc = b != NULL ? tf_sqs_receive_body(b, queue_url, opts) : TF_ERR_NOMEM;
	if (rc != TF_OK)
		return rc;
	call.timeout_ms = opts->wait_seconds * 1000L + TF_SQS_LONG_POLL_MARGIN_MS;
	call.cancel = opts->cancel;
	rc = call_text(aws, "ReceiveMessage", b, &call, &reply);
	if (rc == TF_OK)
		rc = tf_sqs_read_receive(reply->data, reply->len, messages, n);
	return rc;
}

/* DeleteMessage or (visibility_timeout not negative)
 * ChangeMessageVisibility; the answer is empty. */
static enum tf_err
handle_call(struct tf_aws *aws, const char *op, const char *queue_url,
    const char *receipt_handle, int visibility_timeout)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST), *reply;
	enum tf_err rc;

	rc = b != NULL ? tf_sqs_handle_body(b, queue_url, receipt_handle,
	    visibility_timeout) : TF_ERR_NOMEM;
	if (rc == TF_OK)
		rc = call_text(aws, op, b, NULL, &reply);
	return rc;
}

enum tf_err
tf_sqs_delete_message(struct tf_aws *aws, const char *queue_url,
    const char *receipt_handle)
{
	return handle_call(aws, "DeleteMessage", queue_url, receipt_handle, -1);
}

enum tf_err
tf_sqs_change_message_visibility(struct tf_aws *aws, const char *queue_url,
    const char *receipt_handle, int visibility_timeout)
{
	if (visibility_timeout < 0)
		return TF_ERR_INVALID;
	return handle_call(aws, "ChangeMessageVisibility", queue_url,
	    receipt_handle, visibility_timeout);
}

static enum tf_err
handle_batch(struct tf_aws *aws, const char *op, const char *queue_url,
    const struct tf_sqs_handle_entry *entries, size_t n, int with_visibility,
    struct tf_sqs_batch_result *result)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);
	enum tf_err rc;

	memset(result, 0, sizeof(*result));
	rc = b != NULL ? tf_sqs_handle_batch_body(b, queue_url, entries, n,
	    with_visibility) : TF_ERR_NOMEM;
	if (rc != TF_OK)
		return rc;
	result->n_entries = n;
	return call_batch(aws, op, b, NULL, 0, result);
}

enum tf_err
tf_sqs_delete_message_batch(struct tf_aws *aws, const char *queue_url,
    const struct tf_sqs_handle_entry *entries, size_t n,
    struct tf_sqs_batch_result *result)
{
	return handle_batch(aws, "DeleteMessageBatch", queue_url, entries, n, 0,
	    result);
}

enum tf_err
tf_sqs_change_message_visibility_batch(struct tf_aws *aws,
    const char *queue_url, const struct tf_sqs_handle_entry *entries, size_t n,
    struct tf_sqs_batch_result *result)
{
	return handle_batch(aws, "ChangeMessageVisibilityBatch", queue_url,
	    entries, n, 1, result);
}
