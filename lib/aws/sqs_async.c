/* sqs_async.c - the SQS calls on an event loop. */
#include "aws/sqs_async.h"

#include <string.h>

#include "aws/sqs_wire.h"
#include "base/alloc.h"

/* One asynchronous SQS call: what its answer is read with. */
struct sqs_async {
	tf_sqs_send_cb *send_cb;        /* one of the three callbacks is set */
	tf_sqs_receive_cb *receive_cb;
	tf_sqs_batch_cb *batch_cb;
	void *ctx;                      /* borrowed: the caller's */
	char *body;                     /* owned: the message sent, for its MD5 */
	size_t n_entries;               /* batch calls */
	struct tf_sqs_send_entry *sent; /* owned, with owned strings: a send
	                                   batch's entries, for their MD5s */
};

/* Frees a and what it owns. */
static void
sqs_async_free(struct sqs_async *a)
{
	size_t i;

	for (i = 0; a->sent != NULL && i < a->n_entries; i++) {
		tf_free((char *)a->sent[i].id);
		tf_free((char *)a->sent[i].body);
	}
	tf_free(a->sent);
	tf_free(a->body);
	tf_free(a);
}

static void
on_sqs_answer(void *ctx, enum tf_err rc, const char *body, size_t len,
    const struct tf_aws_error *err)
{
	struct sqs_async *a = ctx;
	struct tf_sqs_message *messages = NULL;
	struct tf_sqs_batch_result result;
	char *message_id = NULL;
	cJSON *resp = NULL;
	size_t n = 0;

	memset(&result, 0, sizeof(result));
	result.n_entries = a->n_entries;

	if (rc == TF_OK) {
		resp = len == 0 ? cJSON_CreateObject() :
		    cJSON_ParseWithLength(body, len);
		if (resp == NULL)
			rc = TF_ERR_PARSE;
	}
	if (rc == TF_OK && a->send_cb != NULL)
		rc = tf_sqs_send_result(resp, a->body, &message_id);
	else if (rc == TF_OK && a->receive_cb != NULL)
		rc = tf_sqs_parse_receive(resp, &messages, &n);
	else if (rc == TF_OK)
		rc = tf_sqs_parse_failed(resp, &result);
	if (rc == TF_OK && a->sent != NULL)
		rc = tf_sqs_send_batch_ids(resp, a->sent, a->n_entries, &result);
	if (rc == TF_OK && result.n_failed > 0)
		rc = TF_ERR_PARTIAL;
	cJSON_Delete(resp);
	if (a->send_cb != NULL)
		a->send_cb(a->ctx, rc, message_id, err);
	else if (a->receive_cb != NULL)
		a->receive_cb(a->ctx, rc, messages, n, err);
	else
		a->batch_cb(a->ctx, rc, &result, err);
	tf_sqs_batch_result_free(&result);
	tf_free(message_id);
	sqs_async_free(a);
}

/* Prints req (taken: freed here) and starts op with it; a (taken) is freed
 * when the call cannot start. */
static enum tf_err
start_sqs_async(struct tf_aws *aws, struct tf_loop *loop, const char *op,
    cJSON *req, long timeout_ms, struct sqs_async *a)
{
	struct tf_aws_async_opts opts = { timeout_ms, 0 };
	enum tf_err rc = TF_ERR_NOMEM;
	char *text = NULL;

	if (req != NULL)
		text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (text != NULL)
		rc = tf_aws_call_async(aws, loop, TF_AWS_SQS, op, text, strlen(text),
		    &opts, on_sqs_answer, a);
	cJSON_free(text);
	if (rc != TF_OK)
		sqs_async_free(a);
	return rc;
}

enum tf_err
tf_sqs_send_message_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, const char *body, int delay_seconds,
    tf_sqs_send_cb *cb, void *ctx)
{
	struct sqs_async *a;

	if (!tf_sqs_valid_send(body, delay_seconds))
		return strlen(body ? body : "") > TF_SQS_MAX_BODY ?
		    TF_ERR_TOO_LARGE : TF_ERR_INVALID;
	a = tf_calloc(1, sizeof(*a));
	if (a == NULL)
		return TF_ERR_NOMEM;
	a->send_cb = cb;
	a->ctx = ctx;
	a->body = tf_strdup(body);
	if (a->body == NULL) {
		tf_free(a);
		return TF_ERR_NOMEM;
	}
	return start_sqs_async(aws, loop, "SendMessage",
	    tf_sqs_send_request(queue_url, body, delay_seconds), 0, a);
}

enum tf_err
tf_sqs_receive_message_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, const struct tf_sqs_receive_opts *opts,
    tf_sqs_receive_cb *cb, void *ctx)
{
	struct sqs_async *a;
	cJSON *req = NULL;
	enum tf_err rc;

	rc = tf_sqs_receive_request(queue_url, opts, &req);
	if (rc != TF_OK)
		return rc;
	a = tf_calloc(1, sizeof(*a));
	if (a == NULL) {
		cJSON_Delete(req);
		return TF_ERR_NOMEM;
	}
	a->receive_cb = cb;
	a->ctx = ctx;
	return start_sqs_async(aws, loop, "ReceiveMessage", req,
	    opts->wait_seconds * 1000L + TF_SQS_LONG_POLL_MARGIN_MS, a);
}

/* Starts a DeleteMessageBatch or ChangeMessageVisibilityBatch on the loop. */
static enum tf_err
handle_batch_async(struct tf_aws *aws, struct tf_loop *loop, const char *op,
    const char *queue_url, const struct tf_sqs_handle_entry *entries,
    size_t n, int with_visibility, tf_sqs_batch_cb *cb, void *ctx)
{
	struct sqs_async *a;
	cJSON *req = NULL;
	enum tf_err rc;

	rc = tf_sqs_handle_batch_request(queue_url, entries, n, with_visibility, &req);
	if (rc != TF_OK)
		return rc;
	a = tf_calloc(1, sizeof(*a));
	if (a == NULL) {
		cJSON_Delete(req);
		return TF_ERR_NOMEM;
	}
	a->batch_cb = cb;
	a->ctx = ctx;
	a->n_entries = n;
	return start_sqs_async(aws, loop, op, req, 0, a);
}

enum tf_err
tf_sqs_delete_message_batch_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, const struct tf_sqs_handle_entry *entries, size_t n,
    tf_sqs_batch_cb *cb, void *ctx)
{
	return handle_batch_async(aws, loop, "DeleteMessageBatch", queue_url,
	    entries, n, 0, cb, ctx);
}

enum tf_err
tf_sqs_change_message_visibility_batch_async(struct tf_aws *aws,
    struct tf_loop *loop, const char *queue_url,
    const struct tf_sqs_handle_entry *entries, size_t n, tf_sqs_batch_cb *cb,
    void *ctx)
{
	return handle_batch_async(aws, loop, "ChangeMessageVisibilityBatch",
	    queue_url, entries, n, 1, cb, ctx);
}

enum tf_err
tf_sqs_send_message_batch_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, const struct tf_sqs_send_entry *entries, size_t n,
    tf_sqs_batch_cb *cb, void *ctx)
{
	struct sqs_async *a;
	cJSON *req = NULL;
	enum tf_err rc;
	size_t i;

	rc = tf_sqs_send_batch_request(queue_url, entries, n, &req);
	if (rc != TF_OK)
		return rc;
	a = tf_calloc(1, sizeof(*a));
	if (a == NULL || (a->sent = tf_calloc(n, sizeof(*a->sent))) == NULL) {
		tf_free(a);
		cJSON_Delete(req);
		return TF_ERR_NOMEM;
	}
	a->batch_cb = cb;
	a->ctx = ctx;
	a->n_entries = n;
	for (i = 0; i < n; i++) {
		a->sent[i].id = tf_strdup(entries[i].id);
		a->sent[i].body = tf_strdup(entries[i].body);
		if (a->sent[i].id == NULL || a->sent[i].body == NULL) {
			sqs_async_free(a);
			cJSON_Delete(req);
			return TF_ERR_NOMEM;
		}
	}
	return start_sqs_async(aws, loop, "SendMessageBatch", req, 0, a);
}
