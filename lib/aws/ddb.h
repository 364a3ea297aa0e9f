/*
 * ddb.h - the DynamoDB client (JSON protocol) on top of aws.h.
 *
 * Items, keys and values are DynamoDB AttributeValue JSON (cJSON), e.g.
 * {"id": {"S": "t1"}, "n": {"N": "3"}}; marshal.h converts them to and from
 * plain JSON. Expressions carry their placeholders in a struct tf_ddb_expr.
 */
#ifndef TF_DDB_H
#define TF_DDB_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "base/buf.h"

/* An expression set: the texts are borrowed; names and values are owned by
 * the struct (built with the tf_ddb_expr_* functions, freed with
 * tf_ddb_expr_free()). Zero-initialise before use. The maps are kept as the
 * JSON text that goes on the wire (a request is built from them without a
 * tree): empty, or one object "{...}" with each placeholder bound once. */
struct tf_ddb_expr {
	const char *update;         /* UpdateExpression */
	const char *condition;      /* ConditionExpression */
	const char *key_condition;  /* KeyConditionExpression (Query) */
	const char *filter;         /* FilterExpression (Query) */
	const char *projection;     /* ProjectionExpression */
	struct tf_buf names;        /* owned: ExpressionAttributeNames */
	struct tf_buf values;       /* owned: ExpressionAttributeValues */
	uint64_t names_bound;       /* a bit per placeholder's hash bound in */
	uint64_t values_bound;      /* names or values: a clear bit, not bound */
};

/* Binds the placeholder ("#s") to an attribute name ("status"). */
enum tf_err tf_ddb_expr_name(struct tf_ddb_expr *e, const char *placeholder,
    const char *name);
/* Binds the placeholder (":v") to an AttributeValue; takes ownership of av
 * (also on failure). Binding a placeholder again replaces its value. */
enum tf_err tf_ddb_expr_value(struct tf_ddb_expr *e, const char *placeholder,
    cJSON *av);
enum tf_err tf_ddb_expr_value_s(struct tf_ddb_expr *e, const char *placeholder,
    const char *s);
enum tf_err tf_ddb_expr_value_n(struct tf_ddb_expr *e, const char *placeholder,
    int64_t n);
enum tf_err tf_ddb_expr_value_bool(struct tf_ddb_expr *e,
    const char *placeholder, bool b);
/* Frees names and values; the struct is empty and reusable afterwards. */
void tf_ddb_expr_free(struct tf_ddb_expr *e);

/* New AttributeValues; NULL when out of memory. Caller owns them. */
cJSON *tf_ddb_av_s(const char *s);
cJSON *tf_ddb_av_n(int64_t n);
cJSON *tf_ddb_av_bool(bool b);

/* The member `name` of the object obj (an item or an AttributeValue), as
 * cJSON_GetObjectItemCaseSensitive() finds it; NULL when obj is NULL or has
 * none. Borrowed from obj. Reading a task looks up ~70 names a run. */
const cJSON *tf_ddb_attr(const cJSON *obj, const char *name);
/* Reads attribute `name` of item as a string or integer; NULL / false when
 * absent or of another type. Borrowed from item. */
const char *tf_ddb_item_s(const cJSON *item, const char *name);
bool tf_ddb_item_n(const cJSON *item, const char *name, int64_t *out);

/* Creates a table from a complete CreateTable request (borrowed).
 * TF_ERR_EXISTS when the table exists already. */
enum tf_err tf_ddb_create_table(struct tf_aws *aws, const cJSON *request);
/* DescribeTable's "Table" object; caller frees with cJSON_Delete(). */
enum tf_err tf_ddb_describe_table(struct tf_aws *aws, const char *table,
    cJSON **description);
/* Polls until the table and its indexes are ACTIVE, or timeout_ms passes
 * (TF_ERR_TIMEOUT). */
enum tf_err tf_ddb_wait_active(struct tf_aws *aws, const char *table,
    long timeout_ms);
enum tf_err tf_ddb_delete_table(struct tf_aws *aws, const char *table);
/* Changes a table with a complete UpdateTable request (borrowed), e.g. one
 * GlobalSecondaryIndexUpdates Create. */
enum tf_err tf_ddb_update_table(struct tf_aws *aws, const cJSON *request);
/* Enables (or disables) TTL on an attribute. */
enum tf_err tf_ddb_update_ttl(struct tf_aws *aws, const char *table,
    const char *attribute, bool enabled);
/* The table's TTL setting: status ("ENABLED", "ENABLING", "DISABLED",
 * "DISABLING") and attribute ("" when none), cut to fit the buffers. */
enum tf_err tf_ddb_describe_ttl(struct tf_aws *aws, const char *table,
    char *status, size_t status_len, char *attribute, size_t attribute_len);

/* Reads one item by key (borrowed). TF_ERR_NOT_FOUND when it does not exist;
 * otherwise *item: caller frees with cJSON_Delete(). e may be NULL (only its
 * projection and names are used). */
enum tf_err tf_ddb_get_item(struct tf_aws *aws, const char *table,
    const cJSON *key, bool consistent, const struct tf_ddb_expr *e,
    cJSON **item);

/* Writes item (borrowed), conditionally when e->condition is set.
 * TF_ERR_CONDITION when the condition fails. e may be NULL. */
enum tf_err tf_ddb_put_item(struct tf_aws *aws, const char *table,
    const cJSON *item, const struct tf_ddb_expr *e);

/* Updates the item at key with e->update (and e->condition). return_values is
 * NULL ("NONE"), "ALL_NEW", "ALL_OLD", "UPDATED_NEW" or "UPDATED_OLD"; the
 * returned attributes go to *attributes (may be NULL; caller frees with
 * cJSON_Delete()). TF_ERR_CONDITION when the condition fails. */
enum tf_err tf_ddb_update_item(struct tf_aws *aws, const char *table,
    const cJSON *key, const struct tf_ddb_expr *e, const char *return_values,
    cJSON **attributes);

/* Deletes the item at key, conditionally when e->condition is set. With
 * old_item not NULL, *old_item receives the deleted item (NULL when there was
 * none); caller frees with cJSON_Delete(). */
enum tf_err tf_ddb_delete_item(struct tf_aws *aws, const char *table,
    const cJSON *key, const struct tf_ddb_expr *e, cJSON **old_item);

struct tf_ddb_query {
	const char *table;
	const char *index;        /* NULL: the table itself */
	const struct tf_ddb_expr *expr;  /* key_condition required */
	int limit;                /* items evaluated per page; 0: no limit */
	bool descending;          /* ScanIndexForward = false */
	bool consistent;
};

/* Reads one page of a query. *exclusive_start (in/out, may point to NULL):
 * the page to start from, replaced by the next page's key, or NULL when this
 * was the last page; ownership passes both ways (the old key is freed).
 * *items is a JSON array of items; caller frees with cJSON_Delete(). */
enum tf_err tf_ddb_query_page(struct tf_aws *aws, const struct tf_ddb_query *q,
    cJSON **exclusive_start, cJSON **items);

/* Reads one page of a Scan of q->table (or of its index q->index), with
 * q->expr's filter and projection when given (expr may be NULL;
 * key_condition must be NULL) and q->limit items evaluated per page (0: no
 * limit); descending is ignored. Paging and *items as for
 * tf_ddb_query_page(). */
enum tf_err tf_ddb_scan_page(struct tf_aws *aws, const struct tf_ddb_query *q,
    cJSON **exclusive_start, cJSON **items);

/* Writes the put and delete requests of `requests` (a JSON array of
 * {"PutRequest": {...}} / {"DeleteRequest": {...}}, borrowed) to table in
 * batches of 25, re-sending unprocessed items with backoff until done or
 * max_rounds rounds pass (TF_ERR_THROTTLED then). */
enum tf_err tf_ddb_batch_write(struct tf_aws *aws, const char *table,
    const cJSON *requests, int max_rounds);

#endif /* TF_DDB_H */
