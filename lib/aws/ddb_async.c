/* ddb_async.c - the DynamoDB calls on an event loop. */
#include "aws/ddb_async.h"

#include "aws/ddb_wire.h"
#include "base/alloc.h"
#include "base/json_scan.h"

/* One asynchronous call: which members of the answer go to the callback. */
struct ddb_async {
	tf_ddb_async_cb *cb;
	void *ctx;                 /* borrowed: the caller's */
	const char *take;          /* static: "Item", "Attributes" or "Items" */
	int paged;                 /* also hand over LastEvaluatedKey */
	int need_value;            /* no value is TF_ERR_NOT_FOUND (GetItem) */
	int no_value;              /* the answer holds none (a write without
	                              return values): checked, not parsed */
};

static void
on_ddb_answer(void *ctx, enum tf_err rc, const char *body, size_t len,
    const struct tf_aws_error *err)
{
	struct ddb_async *a = ctx;
	cJSON *resp = NULL, *value = NULL, *next = NULL;
	struct tf_json_scan sc;

	if (rc == TF_OK && a->no_value) {
		/* Well-formed is all there is to know: no tree for it. */
		tf_json_scan_init(&sc, body, len);
		if (len > 0 && (!tf_json_skip(&sc) || !tf_json_finish(&sc)))
			rc = TF_ERR_PARSE;
	} else if (rc == TF_OK) {
		resp = cJSON_ParseWithLength(body, len);
		if (resp == NULL)
			rc = len == 0 ? TF_OK : TF_ERR_PARSE;
	}
	if (rc == TF_OK && resp != NULL) {
		value = cJSON_DetachItemFromObjectCaseSensitive(resp, a->take);
		if (a->paged) {
			next = cJSON_DetachItemFromObjectCaseSensitive(resp,
			    "LastEvaluatedKey");
			if (value == NULL)
				value = cJSON_CreateArray();
			if (value == NULL)
				rc = TF_ERR_NOMEM;
		}
		if (value == NULL && a->need_value)
			rc = TF_ERR_NOT_FOUND;
	}
	cJSON_Delete(resp);
	if (rc != TF_OK && rc != TF_ERR_NOT_FOUND) {
		cJSON_Delete(value);
		cJSON_Delete(next);
		value = next = NULL;
	}
	a->cb(a->ctx, rc, value, next, err);
	tf_free(a);
}

/* Starts op with the request in b (rc: what building it returned). */
static enum tf_err
start_ddb_async(struct tf_aws *aws, struct tf_loop *loop, const char *op,
    enum tf_err rc, const struct tf_buf *b, const char *take, int paged,
    int need_value, int no_value, tf_ddb_async_cb *cb, void *ctx)
{
	struct ddb_async *a = NULL;

	if (rc != TF_OK)
		return rc;
	a = tf_calloc(1, sizeof(*a));
	if (a == NULL)
		return TF_ERR_NOMEM;
	*a = (struct ddb_async){ cb, ctx, take, paged, need_value, no_value };
	rc = tf_aws_call_async(aws, loop, TF_AWS_DYNAMODB, op, b->data, b->len,
	    NULL, on_ddb_answer, a);
	if (rc != TF_OK)
		tf_free(a);
	return rc;
}

enum tf_err
tf_ddb_get_item_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const cJSON *key, bool consistent,
    const struct tf_ddb_expr *e, tf_ddb_async_cb *cb, void *ctx)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);

	return start_ddb_async(aws, loop, "GetItem", b == NULL ? TF_ERR_NOMEM :
	    tf_ddb_get_body(b, table, key, consistent, e), b, "Item", 0, 1, 0, cb,
	    ctx);
}

enum tf_err
tf_ddb_put_item_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const cJSON *item, const struct tf_ddb_expr *e,
    tf_ddb_async_cb *cb, void *ctx)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);

	return start_ddb_async(aws, loop, "PutItem", b == NULL ? TF_ERR_NOMEM :
	    tf_ddb_put_body(b, table, item, e), b, "Attributes", 0, 0, 1, cb,
	    ctx);
}

enum tf_err
tf_ddb_update_item_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const cJSON *key, const struct tf_ddb_expr *e,
    const char *return_values, tf_ddb_async_cb *cb, void *ctx)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);

	return start_ddb_async(aws, loop, "UpdateItem", b == NULL ?
	    TF_ERR_NOMEM : tf_ddb_key_body(b, table, key, e, return_values), b,
	    "Attributes", 0, 0, return_values == NULL, cb, ctx);
}

enum tf_err
tf_ddb_update_item_text_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const cJSON *key, const struct tf_ddb_expr *e,
    const char *return_values, tf_aws_async_cb *cb, void *ctx)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);
	enum tf_err rc = b == NULL ? TF_ERR_NOMEM :
	    tf_ddb_key_body(b, table, key, e, return_values);

	if (rc == TF_OK)
		rc = tf_aws_call_async(aws, loop, TF_AWS_DYNAMODB, "UpdateItem",
		    b->data, b->len, NULL, cb, ctx);
	return rc;
}

enum tf_err
tf_ddb_query_page_async(struct tf_aws *aws, struct tf_loop *loop,
    const struct tf_ddb_query *q, const cJSON *exclusive_start,
    tf_ddb_async_cb *cb, void *ctx)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);

	return start_ddb_async(aws, loop, "Query", b == NULL ? TF_ERR_NOMEM :
	    tf_ddb_page_body(b, q, exclusive_start), b, "Items", 1, 0, 0, cb, ctx);
}
