/* sqs.c - SQS calls in the JSON protocol. */
#include "aws/sqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "aws/sqs_wire.h"
#include "base/alloc.h"
#include "base/log.h"

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

/* Lower-case hex MD5 of s, as SQS reports message bodies. */
static void
md5_hex(const char *s, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	EVP_Digest(s, strlen(s), md, &len, EVP_md5(), NULL);
	for (i = 0; i < len && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[32] = '\0';
}

/* True when the reply's MD5 (if it gave one) matches body. */
static int
md5_matches(const cJSON *obj, const char *member, const char *body)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, member);
	char hex[33];

	if (!cJSON_IsString(v))
		return 1;
	md5_hex(body, hex);
	return strcmp(hex, v->valuestring) == 0;
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

int
tf_sqs_valid_send(const char *body, int delay_seconds)
{
	return body != NULL && body[0] != '\0' && strlen(body) <= TF_SQS_MAX_BODY &&
	    delay_seconds >= 0 && delay_seconds <= TF_SQS_MAX_DELAY_S;
}

/* A SendMessage request; NULL when out of memory. Caller frees with
 * cJSON_Delete(). */
cJSON *
tf_sqs_send_request(const char *queue_url, const char *body, int delay_seconds)
{
	cJSON *req = request_for(queue_url);

	if (req != NULL &&
	    (cJSON_AddStringToObject(req, "MessageBody", body) == NULL ||
	    cJSON_AddNumberToObject(req, "DelaySeconds", delay_seconds) == NULL)) {
		cJSON_Delete(req);
		req = NULL;
	}
	return req;
}

/* Checks a SendMessage reply (borrowed) against the body sent and copies its
 * MessageId into *message_id (may be NULL; caller frees with tf_free()). */
enum tf_err
tf_sqs_send_result(const cJSON *resp, const char *body, char **message_id)
{
	if (!md5_matches(resp, "MD5OfMessageBody", body)) {
		tf_log(TF_LOG_ERROR, "SendMessage: MD5 of the body does not match");
		return TF_ERR_PARSE;
	}
	if (message_id != NULL) {
		*message_id = dup_member(resp, "MessageId");
		if (*message_id == NULL)
			return TF_ERR_PARSE;
	}
	return TF_OK;
}

enum tf_err
tf_sqs_send_message(struct tf_aws *aws, const char *queue_url,
    const char *body, int delay_seconds, char **message_id)
{
	enum tf_err rc = TF_ERR_NOMEM;
	cJSON *req = NULL, *resp = NULL;

	if (message_id != NULL)
		*message_id = NULL;
	if (!tf_sqs_valid_send(body, delay_seconds))
		return strlen(body ? body : "") > TF_SQS_MAX_BODY ?
		    TF_ERR_TOO_LARGE : TF_ERR_INVALID;
	req = tf_sqs_send_request(queue_url, body, delay_seconds);
	if (req == NULL)
		goto out;
	rc = tf_aws_call(aws, TF_AWS_SQS, "SendMessage", req, NULL, &resp);
	if (rc == TF_OK)
		rc = tf_sqs_send_result(resp, body, message_id);
out:
	cJSON_Delete(resp);
	cJSON_Delete(req);
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

enum tf_err
tf_sqs_parse_failed(const cJSON *resp, struct tf_sqs_batch_result *result)
{
	const cJSON *failed = cJSON_GetObjectItemCaseSensitive(resp, "Failed");
	const cJSON *e;
	size_t n = 0;

	if (!cJSON_IsArray(failed) || cJSON_GetArraySize(failed) == 0)
		return TF_OK;
	result->failed = tf_calloc((size_t)cJSON_GetArraySize(failed),
	    sizeof(*result->failed));
	if (result->failed == NULL)
		return TF_ERR_NOMEM;
	cJSON_ArrayForEach(e, failed) {
		struct tf_sqs_failed_entry *f = &result->failed[n++];
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "Id");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "Code");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "Message");

		snprintf(f->id, sizeof(f->id), "%s",
		    cJSON_IsString(id) ? id->valuestring : "");
		snprintf(f->code, sizeof(f->code), "%s",
		    cJSON_IsString(code) ? code->valuestring : "");
		snprintf(f->message, sizeof(f->message), "%s",
		    cJSON_IsString(msg) ? msg->valuestring : "");
		f->sender_fault = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e,
		    "SenderFault"));
	}
	result->n_failed = n;
	return TF_OK;
}

/* Sends a batch request whose Entries the caller has filled; collects the
 * failed entries. Takes ownership of req. */
static enum tf_err
call_batch(struct tf_aws *aws, const char *op, cJSON *req, cJSON **resp,
    struct tf_sqs_batch_result *result)
{
	enum tf_err rc;

	*resp = NULL;
	rc = tf_aws_call(aws, TF_AWS_SQS, op, req, NULL, resp);
	cJSON_Delete(req);
	if (rc != TF_OK)
		return rc;
	rc = tf_sqs_parse_failed(*resp, result);
	if (rc == TF_OK && result->n_failed > 0)
		rc = TF_ERR_PARTIAL;
	return rc;
}

/* Appends an empty object to a batch's entry list and returns it; it
 * belongs to the list's request (deleting the request frees it). NULL when
 * out of memory. */
static cJSON *
add_entry(cJSON *list)
{
	cJSON *e = cJSON_CreateObject();

	if (!cJSON_AddItemToArray(list, e)) {
		cJSON_Delete(e);
		return NULL;
	}
	return e;
}

/* A SendMessageBatch request in *out (caller frees with cJSON_Delete()), or
 * TF_ERR_INVALID (0 or over 10 entries, a body or delay SQS refuses), or
 * TF_ERR_NOMEM. */
enum tf_err
tf_sqs_send_batch_request(const char *queue_url,
    const struct tf_sqs_send_entry *entries, size_t n, cJSON **out)
{
	cJSON *req = NULL, *list, *e;
	size_t i;

	*out = NULL;
	if (n == 0 || n > TF_SQS_MAX_BATCH)
		return TF_ERR_INVALID;
	for (i = 0; i < n; i++)
		if (!tf_sqs_valid_send(entries[i].body, entries[i].delay_seconds))
			return TF_ERR_INVALID;
	req = request_for(queue_url);
	if (req == NULL || (list = cJSON_AddArrayToObject(req, "Entries")) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		e = add_entry(list);
		if (e == NULL)
			goto fail;
		if (cJSON_AddStringToObject(e, "Id", entries[i].id) == NULL ||
		    cJSON_AddStringToObject(e, "MessageBody", entries[i].body) == NULL ||
		    cJSON_AddNumberToObject(e, "DelaySeconds",
		    entries[i].delay_seconds) == NULL)
			goto fail;
	}
	*out = req;
	return TF_OK;
fail:
	cJSON_Delete(req);
	return TF_ERR_NOMEM;
}

/* Fills result->message_ids (allocated here, n of them) from a
 * SendMessageBatch reply (borrowed), checking each body's MD5; an entry
 * whose MD5 does not match keeps a NULL id. */
enum tf_err
tf_sqs_send_batch_ids(const cJSON *resp, const struct tf_sqs_send_entry *entries,
    size_t n, struct tf_sqs_batch_result *result)
{
	const cJSON *ok, *s;
	size_t i;

	result->message_ids = tf_calloc(n, sizeof(char *));
	if (result->message_ids == NULL)
		return TF_ERR_NOMEM;
	result->n_entries = n;
	ok = cJSON_GetObjectItemCaseSensitive(resp, "Successful");
	cJSON_ArrayForEach(s, ok) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(s, "Id");

		for (i = 0; cJSON_IsString(id) && i < n; i++) {
			if (strcmp(entries[i].id, id->valuestring) != 0)
				continue;
			if (!md5_matches(s, "MD5OfMessageBody", entries[i].body)) {
				tf_log(TF_LOG_ERROR, "SendMessageBatch: MD5 mismatch "
				    "for entry %s", entries[i].id);
				break;
			}
			tf_free(result->message_ids[i]);
			result->message_ids[i] = dup_member(s, "MessageId");
		}
	}
	return TF_OK;
}

enum tf_err
tf_sqs_send_message_batch(struct tf_aws *aws, const char *queue_url,
    const struct tf_sqs_send_entry *entries, size_t n,
    struct tf_sqs_batch_result *result)
{
	enum tf_err rc, ids_rc;
	cJSON *req = NULL, *resp = NULL;

	memset(result, 0, sizeof(*result));
	rc = tf_sqs_send_batch_request(queue_url, entries, n, &req);
	if (rc != TF_OK)
		return rc;
	rc = call_batch(aws, "SendMessageBatch", req, &resp, result);
	if (rc == TF_OK || rc == TF_ERR_PARTIAL) {
		ids_rc = tf_sqs_send_batch_ids(resp, entries, n, result);
		if (ids_rc != TF_OK)
			rc = ids_rc;
	}
	if (rc != TF_OK && rc != TF_ERR_PARTIAL)
		tf_sqs_batch_result_free(result);
	cJSON_Delete(resp);
	return rc;
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

static int64_t
attr_number(const cJSON *attrs, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(attrs, name);

	return cJSON_IsString(v) ? strtoll(v->valuestring, NULL, 10) : 0;
}

enum tf_err
tf_sqs_parse_receive(const cJSON *resp, struct tf_sqs_message **messages,
    size_t *n)
{
	enum tf_err rc = TF_ERR_NOMEM;
	const cJSON *list, *m;
	struct tf_sqs_message *out_msgs = NULL;
	size_t count = 0;

	*messages = NULL;
	*n = 0;
	list = cJSON_GetObjectItemCaseSensitive(resp, "Messages");
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
		return TF_OK;
	out_msgs = tf_calloc((size_t)cJSON_GetArraySize(list), sizeof(*out_msgs));
	if (out_msgs == NULL)
		goto out;
	cJSON_ArrayForEach(m, list) {
		struct tf_sqs_message *msg = &out_msgs[count];
		const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(m, "Attributes");
		const cJSON *body = cJSON_GetObjectItemCaseSensitive(m, "Body");
		const cJSON *rh = cJSON_GetObjectItemCaseSensitive(m, "ReceiptHandle");

		if (!cJSON_IsString(body) || !cJSON_IsString(rh)) {
			tf_log(TF_LOG_ERROR, "ReceiveMessage: a message without "
			    "body or receipt handle was skipped");
			continue;
		}
		if (!md5_matches(m, "MD5OfBody", body->valuestring)) {
			/* Left in flight: it reappears after its visibility timeout. */
			tf_log(TF_LOG_ERROR, "ReceiveMessage: MD5 of a message body "
			    "does not match; skipped");
			continue;
		}
		msg->body = tf_strdup(body->valuestring);
		msg->receipt_handle = tf_strdup(rh->valuestring);
		msg->message_id = dup_member(m, "MessageId");
		if (msg->message_id == NULL)
			msg->message_id = tf_strdup("");
		count++;
		if (msg->body == NULL || msg->receipt_handle == NULL ||
		    msg->message_id == NULL)
			goto out;
		msg->receive_count = (int)attr_number(attrs, "ApproximateReceiveCount");
		msg->sent_ms = attr_number(attrs, "SentTimestamp");
		msg->first_receive_ms = attr_number(attrs,
		    "ApproximateFirstReceiveTimestamp");
	}
	rc = TF_OK;
	*messages = out_msgs;
	*n = count;
	out_msgs = NULL;
out:
	tf_sqs_messages_free(out_msgs, count);
	return rc;
}

/* A ReceiveMessage request in *req (caller frees with cJSON_Delete()), or
 * TF_ERR_INVALID for options out of SQS's range, or TF_ERR_NOMEM. */
enum tf_err
tf_sqs_receive_request(const char *queue_url, const struct tf_sqs_receive_opts *opts,
    cJSON **out)
{
	cJSON *req = NULL, *names;

	*out = NULL;
	if (opts->max_messages < 1 || opts->max_messages > TF_SQS_MAX_BATCH ||
	    opts->wait_seconds < 0 || opts->wait_seconds > TF_SQS_MAX_WAIT_S ||
	    opts->visibility_timeout > TF_SQS_MAX_VISIBILITY_S)
		return TF_ERR_INVALID;
	req = request_for(queue_url);
	if (req == NULL ||
	    cJSON_AddNumberToObject(req, "MaxNumberOfMessages", opts->max_messages) == NULL ||
	    cJSON_AddNumberToObject(req, "WaitTimeSeconds", opts->wait_seconds) == NULL)
		goto fail;
	if (opts->visibility_timeout >= 0 && cJSON_AddNumberToObject(req,
	    "VisibilityTimeout", opts->visibility_timeout) == NULL)
		goto fail;
	/* Both spellings: AttributeNames is deprecated but still the one some
	 * implementations read. */
	names = cJSON_AddArrayToObject(req, "MessageSystemAttributeNames");
	if (names == NULL || !cJSON_AddItemToArray(names, cJSON_CreateString("All")))
		goto fail;
	names = cJSON_AddArrayToObject(req, "AttributeNames");
	if (names == NULL || !cJSON_AddItemToArray(names, cJSON_CreateString("All")))
		goto fail;
	*out = req;
	return TF_OK;
fail:
	cJSON_Delete(req);
	return TF_ERR_NOMEM;
}

enum tf_err
tf_sqs_receive_message(struct tf_aws *aws, const char *queue_url,
    const struct tf_sqs_receive_opts *opts, struct tf_sqs_message **messages,
    size_t *n)
{
	enum tf_err rc = TF_ERR_NOMEM;
	cJSON *req = NULL, *resp = NULL;
	struct tf_aws_call_opts call = { 0 };

	*messages = NULL;
	*n = 0;
	rc = tf_sqs_receive_request(queue_url, opts, &req);
	if (rc != TF_OK)
		goto out;
	call.timeout_ms = opts->wait_seconds * 1000L + TF_SQS_LONG_POLL_MARGIN_MS;
	call.cancel = opts->cancel;
	rc = tf_aws_call(aws, TF_AWS_SQS, "ReceiveMessage", req, &call, &resp);
	if (rc == TF_OK)
		rc = tf_sqs_parse_receive(resp, messages, n);
out:
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return rc;
}

enum tf_err
tf_sqs_delete_message(struct tf_aws *aws, const char *queue_url,
    const char *receipt_handle)
{
	cJSON *req = request_for(queue_url);

	if (req != NULL &&
	    cJSON_AddStringToObject(req, "ReceiptHandle", receipt_handle) == NULL) {
		cJSON_Delete(req);
		req = NULL;
	}
	return call_simple(aws, "DeleteMessage", req);
}

enum tf_err
tf_sqs_change_message_visibility(struct tf_aws *aws, const char *queue_url,
    const char *receipt_handle, int visibility_timeout)
{
	cJSON *req = request_for(queue_url);

	if (visibility_timeout < 0 || visibility_timeout > TF_SQS_MAX_VISIBILITY_S) {
		cJSON_Delete(req);
		return TF_ERR_INVALID;
	}
	if (req != NULL &&
	    (cJSON_AddStringToObject(req, "ReceiptHandle", receipt_handle) == NULL ||
	    cJSON_AddNumberToObject(req, "VisibilityTimeout", visibility_timeout) == NULL)) {
		cJSON_Delete(req);
		req = NULL;
	}
	return call_simple(aws, "ChangeMessageVisibility", req);
}

/* Shared by the delete and visibility batches. */
/* A DeleteMessageBatch or (with_visibility) ChangeMessageVisibilityBatch
 * request in *req (caller frees with cJSON_Delete()); TF_ERR_INVALID for 0
 * or more than 10 entries, or TF_ERR_NOMEM. */
enum tf_err
tf_sqs_handle_batch_request(const char *queue_url,
    const struct tf_sqs_handle_entry *entries, size_t n, int with_visibility,
    cJSON **out)
{
	cJSON *req = NULL, *list, *e;
	size_t i;

	*out = NULL;
	if (n == 0 || n > TF_SQS_MAX_BATCH)
		return TF_ERR_INVALID;
	req = request_for(queue_url);
	if (req == NULL || (list = cJSON_AddArrayToObject(req, "Entries")) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		e = add_entry(list);
		if (e == NULL)
			goto fail;
		if (cJSON_AddStringToObject(e, "Id", entries[i].id) == NULL ||
		    cJSON_AddStringToObject(e, "ReceiptHandle",
		    entries[i].receipt_handle) == NULL ||
		    (with_visibility && cJSON_AddNumberToObject(e, "VisibilityTimeout",
		    entries[i].visibility_timeout) == NULL))
			goto fail;
	}
	*out = req;
	return TF_OK;
fail:
	cJSON_Delete(req);
	return TF_ERR_NOMEM;
}

static enum tf_err
handle_batch(struct tf_aws *aws, const char *op, const char *queue_url,
    const struct tf_sqs_handle_entry *entries, size_t n, int with_visibility,
    struct tf_sqs_batch_result *result)
{
	enum tf_err rc;
	cJSON *req = NULL, *resp = NULL;

	memset(result, 0, sizeof(*result));
	rc = tf_sqs_handle_batch_request(queue_url, entries, n, with_visibility, &req);
	if (rc != TF_OK)
		return rc;
	result->n_entries = n;
	rc = call_batch(aws, op, req, &resp, result);
	if (rc != TF_OK && rc != TF_ERR_PARTIAL)
		tf_sqs_batch_result_free(result);
	cJSON_Delete(resp);
	return rc;
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
