/*
 * ddb_wire.h - the bodies of DynamoDB item requests, shared by the
 * synchronous client (ddb.c) and its event-loop twin (ddb_async.c).
 *
 * GetItem, PutItem, UpdateItem, DeleteItem and Query/Scan pages are written
 * straight into a buffer as JSON text: the key, item and expression values
 * are walked where they are (tf_marshal_write_json), never copied into a
 * request tree and printed.
 */
#ifndef TF_DDB_WIRE_H
#define TF_DDB_WIRE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "aws/ddb.h"
#include "base/buf.h"

/*
 * Each empties b (the caller's) and writes the request into it; all other
 * arguments are borrowed. TF_OK or TF_ERR_NOMEM.
 */

/* GetItem: only e's projection and names are used (e may be NULL). */
enum tf_err tf_ddb_get_body(struct tf_buf *b, const char *table,
    const cJSON *key, bool consistent, const struct tf_ddb_expr *e);

/* PutItem of item, with e's condition when set (e may be NULL). */
enum tf_err tf_ddb_put_body(struct tf_buf *b, const char *table,
    const cJSON *item, const struct tf_ddb_expr *e);

/* UpdateItem or DeleteItem of the item at key, with the parts of e that
 * are set (e may be NULL) and return_values (NULL: none). */
enum tf_err tf_ddb_key_body(struct tf_buf *b, const char *table,
    const cJSON *key, const struct tf_ddb_expr *e, const char *return_values);

/* A Query or Scan page after exclusive_start (NULL: the first page). */
enum tf_err tf_ddb_page_body(struct tf_buf *b, const struct tf_ddb_query *q,
    const cJSON *exclusive_start);

#endif /* TF_DDB_WIRE_H */
