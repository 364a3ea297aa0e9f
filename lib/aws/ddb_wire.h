/*
 * ddb_wire.h - the bodies of DynamoDB requests, shared by the synchronous
 * client (ddb.c) and its event-loop twin (ddb_async.c).
 */
#ifndef TF_DDB_WIRE_H
#define TF_DDB_WIRE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "aws/ddb.h"

/* A GetItem request; NULL when out of memory. Caller frees with
 * cJSON_Delete(). */
cJSON *tf_ddb_get_request(const char *table, const cJSON *key, bool consistent,
    const struct tf_ddb_expr *e);

/* An UpdateItem request; NULL when out of memory. Caller frees with
 * cJSON_Delete(). */
cJSON *tf_ddb_update_request(const char *table, const cJSON *key,
    const struct tf_ddb_expr *e, const char *return_values);

/* A Query or Scan request for the page after exclusive_start (borrowed; may
 * be NULL); NULL when out of memory. Caller frees with cJSON_Delete(). */
cJSON *tf_ddb_page_request(const struct tf_ddb_query *q,
    const cJSON *exclusive_start);

#endif /* TF_DDB_WIRE_H */
