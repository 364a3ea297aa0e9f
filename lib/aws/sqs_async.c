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
	size_t n_entries;               /* batch calls */
	int send_batch;                 /* sent[] holds a send batch's entries */
	char md5[33];                   /* SendMessage: the body's MD5 */
	struct tf_sqs_sent sent[TF_SQS_MAX_BATCH];  /* what a send batch's
	                                   answer is checked against */
};

static void
on_sqs_answer(void *ctx, enum tf_err rc, const char *body, size_t len,
    const struct tf_aws_error *err)
{
	struct sqs_async *a = ctx;
	struct tf_sqs_message *messages = NULL;
	struct tf_sqs_batch_result result;
	char *message_id = NULL;
	size_t n = 0;

	memset(&result, 0, sizeof(result));
	result.n_entries = a->n_entries;
	if (rc == TF_OK && a->send_cb != NULL)
		rc = tf_sqs_read_send(body, len, a->md5, &message_id);
	else if (rc == TF_OK && a->receive_cb != NULL)
		rc = tf_sqs_read_receive(body, len, &messages, &n);
	else if (rc == TF_OK)
		rc = tf_sqs_read_batch(body, len, a->send_batch ? a->sent : NULL,
		    a->n_entries, &result);
	if (rc == TF_OK && result.n_failed > 0)
		rc = TF_ERR_PARTIAL;
	if (a->send_cb != NULL)
		a->send_cb(a->ctx, rc, message_id, err);
	else if (a->receive_cb != NULL)
		a->receive_cb(a->ctx, rc, messages, n, err);
	else
		a->batch_cb(a->ctx, rc, &result, err);
	tf_sqs_batch_result_free(&result);
	tf_free(message_id);
	tf_free(a);
}

/* Starts op with the request in b (built; rc is what building it
 * returned); a (taken) is freed when the call cannot start. */
static enum tf_err
start_sqs_async(struct tf_aws *aws, struct tf_loop *loop, const char *op,
    enum tf_err rc, const struct tf_buf *b, long timeout_ms,
    struct sqs_async *a)
{
	struct tf_aws_async_opts opts = { timeout_ms, 0 };

	if (rc == TF_OK)
		rc = tf_aws_call_async(aws, loop, TF_AWS_SQS, op, b->data, b->len,
		    &opts, on_sqs_answer, a);
	if (rc != TF_OK)
		tf_free(a);
	return rc;
}

/* A new call's state with ctx and no callback yet, and the thread's scratch
 * buffer to build its request in; false when out of memory. */
static bool
new_call(void *ctx, struct sqs_async **a, struct tf_buf **b)
{
	*b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);
	*a = *b != NULL ? tf_calloc(1, sizeof(**a)) : NULL;
	if (*a == NULL)
		return false;
	(*a)->ctx = ctx;
	return true;
}

/* new_call() for a batch of n entries that calls cb back. */
static bool
new_batch_call(tf_sqs_batch_cb *cb, void *ctx, size_t n,
    struct sqs_async **a, struct tf_buf **b)
{
	if (!new_call(ctx, a, b))
		return false;
	(*a)->batch_cb = cb;
	(*a)->n_entries = n;
	return true;
}

enum tf_err
tf_sqs_send_message_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, const char *body, int delay_seconds,
    tf_sqs_send_cb *cb, void *ctx)
{
	struct sqs_async *a;
	struct tf_buf *b;
	enum tf_err rc = tf_sqs_check_send(body, delay_seconds);

	if (rc != TF_OK)
		return rc;
	if (!new_call(ctx, &a, &b))
		return TF_ERR_NOMEM;
	a->send_cb = cb;
	tf_sqs_md5_hex(body, a->md5);
	return start_sqs_async(aws, loop, "SendMessage",
	    tf_sqs_send_body(b, queue_url, body, delay_seconds), b, 0, a);
}

enum tf_err
tf_sqs_receive_message_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, const struct tf_sqs_receive_opts *opts,
    tf_sqs_receive_cb *cb, void *ctx)
{
	struct sqs_async *a;
	struct tf_buf *b;

	if (!new_call(ctx, &a, &b))
		return TF_ERR_NOMEM;
	a->receive_cb = cb;
	return start_sqs_async(aws, loop, "ReceiveMessage",
	    tf_sqs_receive_body(b, queue_url, opts), b,
	    opts->wait_seconds * 1000L + TF_SQS_LONG_POLL_MARGIN_MS, a);
}

/* Starts a DeleteMessageBatch or ChangeMessageVisibilityBatch on the loop. */
static enum tf_err
handle_batch_async(struct tf_aws *aws, struct tf_loop *loop, const char *op,
    const char *queue_url, const struct tf_sqs_handle_entry *entries,
    size_t n, int with_visibility, tf_sqs_batch_cb *cb, void *ctx)
{
	struct sqs_async *a;
	struct tf_buf *b;

	if (!new_batch_call(cb, ctx, n, &a, &b))
		return TF_ERR_NOMEM;
	return start_sqs_async(aws, loop, op, tf_sqs_handle_batch_body(b,
	    queue_url, entries, n, with_visibility), b, 0, a);
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
	struct tf_buf *b;

	if (!new_batch_call(cb, ctx, n, &a, &b))
		return TF_ERR_NOMEM;
	a->send_batch = 1;
	return start_sqs_async(aws, loop, "SendMessageBatch",
	    tf_sqs_send_batch_body(b, queue_url, entries, n, a->sent), b, 0, a);
}
