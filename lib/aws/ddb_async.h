/*
 * ddb_async.h - the DynamoDB calls of ddb.h on an event loop (aws_async.h),
 * apart so that programs that never run a loop do not link libuv.
 */
#ifndef TF_DDB_ASYNC_H
#define TF_DDB_ASYNC_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "aws/aws_async.h"
#include "aws/ddb.h"

/*
 * Built, retried and judged as the synchronous calls. Each returns TF_OK when
 * the call started (cb then runs exactly once, on the loop), or an error
 * without calling back. Call on the loop's thread; the arguments are copied
 * into the request.
 */

/* value: GetItem's "Item" (rc TF_ERR_NOT_FOUND and value NULL when there is
 * none), UpdateItem's "Attributes" (NULL without return values), Query's
 * "Items" (an array, possibly empty); next_key: Query's LastEvaluatedKey
 * (NULL on the last page). Both are owned by the callee (cJSON_Delete());
 * NULL on failure. err as for tf_aws_async_cb. */
typedef void tf_ddb_async_cb(void *ctx, enum tf_err rc, cJSON *value,
    cJSON *next_key, const struct tf_aws_error *err);

enum tf_err tf_ddb_get_item_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const cJSON *key, bool consistent,
    const struct tf_ddb_expr *e, tf_ddb_async_cb *cb, void *ctx);

/* Writes item (copied), with e's condition when set (e may be NULL);
 * TF_ERR_CONDITION (final, not retried) when it fails. value is NULL. */
enum tf_err tf_ddb_put_item_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const cJSON *item, const struct tf_ddb_expr *e,
    tf_ddb_async_cb *cb, void *ctx);

/* TF_ERR_CONDITION (final, not retried) when e->condition fails. */
enum tf_err tf_ddb_update_item_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const cJSON *key, const struct tf_ddb_expr *e,
    const char *return_values, tf_ddb_async_cb *cb, void *ctx);

/* tf_ddb_update_item_async() whose answer goes to cb as the text AWS sent
 * (the hot path reads it without a tree: task/task_answer.h); cb as for
 * tf_aws_call_async(). */
enum tf_err tf_ddb_update_item_text_async(struct tf_aws *aws,
    struct tf_loop *loop, const char *table, const cJSON *key,
    const struct tf_ddb_expr *e, const char *return_values,
    tf_aws_async_cb *cb, void *ctx);

/* One page of q, from exclusive_start (borrowed; NULL: the first page). */
enum tf_err tf_ddb_query_page_async(struct tf_aws *aws, struct tf_loop *loop,
    const struct tf_ddb_query *q, const cJSON *exclusive_start,
    tf_ddb_async_cb *cb, void *ctx);

#endif /* TF_DDB_ASYNC_H */
