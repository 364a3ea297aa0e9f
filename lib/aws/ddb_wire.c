/* ddb_wire.c - DynamoDB item request bodies, without JSON trees. */
#include "aws/ddb_wire.h"

#include <stdio.h>
#include <string.h>

#include "aws/marshal.h"
#include "base/json_escape.h"

/* Appends ,"name": to b; name is a plain word that needs no escaping. */
static enum tf_err
put_name(struct tf_buf *b, const char *name)
{
	if (tf_buf_append(b, ",\"", 2) != TF_OK ||
	    tf_buf_append_str(b, name) != TF_OK)
		return TF_ERR_NOMEM;
	return tf_buf_append(b, "\":", 2);
}

/* Appends ,"name": and the string s (escaped); nothing when s is NULL. */
static enum tf_err
put_text(struct tf_buf *b, const char *name, const char *s)
{
	enum tf_err rc;

	if (s == NULL)
		return TF_OK;
	rc = put_name(b, name);
	if (rc == TF_OK)
		rc = tf_json_escape_append(b, s, strlen(s));
	return rc;
}

/* Appends ,"name": and the JSON j (borrowed); nothing when j is NULL. */
static enum tf_err
put_json(struct tf_buf *b, const char *name, const cJSON *j)
{
	enum tf_err rc;

	if (j == NULL)
		return TF_OK;
	rc = put_name(b, name);
	if (rc == TF_OK)
		rc = tf_marshal_write_json(b, j);
	return rc;
}

/* Appends ,"name": and the object text m (a map of struct tf_ddb_expr,
 * borrowed); nothing when the map is empty. */
static enum tf_err
put_map(struct tf_buf *b, const char *name, const struct tf_buf *m)
{
	enum tf_err rc;

	if (m->len == 0)
		return TF_OK;
	rc = put_name(b, name);
	if (rc == TF_OK)
		rc = tf_buf_append(b, m->data, m->len);
	return rc;
}

/* Appends ,"name":true or false. */
static enum tf_err
put_bool(struct tf_buf *b, const char *name, bool v)
{
	enum tf_err rc = put_name(b, name);

	return rc == TF_OK ? tf_buf_append_str(b, v ? "true" : "false") : rc;
}

/* Empties b and writes the start of a request: TableName and the parts of
 * e that are set (e may be NULL); the caller adds the rest and the '}'. */
static enum tf_err
begin(struct tf_buf *b, const char *table, const struct tf_ddb_expr *e)
{
	enum tf_err rc;

	tf_buf_reset(b);
	rc = tf_buf_append(b, "{\"TableName\":", 13);
	if (rc == TF_OK)
		rc = tf_json_escape_append(b, table, strlen(table));
	if (rc != TF_OK || e == NULL)
		return rc;
	if ((rc = put_text(b, "UpdateExpression", e->update)) != TF_OK ||
	    (rc = put_text(b, "ConditionExpression", e->condition)) != TF_OK ||
	    (rc = put_text(b, "KeyConditionExpression", e->key_condition)) != TF_OK ||
	    (rc = put_text(b, "FilterExpression", e->filter)) != TF_OK ||
	    (rc = put_text(b, "ProjectionExpression", e->projection)) != TF_OK ||
	    (rc = put_map(b, "ExpressionAttributeNames", &e->names)) != TF_OK)
		return rc;
	return put_map(b, "ExpressionAttributeValues", &e->values);
}

/* Closes the request object, after rc (the writing so far) succeeded. */
static enum tf_err
end(struct tf_buf *b, enum tf_err rc)
{
	return rc == TF_OK ? tf_buf_append_char(b, '}') : rc;
}

enum tf_err
tf_ddb_get_body(struct tf_buf *b, const char *table, const cJSON *key,
    bool consistent, const struct tf_ddb_expr *e)
{
	struct tf_ddb_expr proj = { 0 };
	enum tf_err rc;

	/* GetItem takes only a projection and its names, nothing else. */
	if (e != NULL) {
		proj.projection = e->projection;
		proj.names = e->names;  /* a borrowed view: not freed */
	}
	rc = begin(b, table, &proj);
	if (rc == TF_OK)
		rc = put_json(b, "Key", key);
	if (rc == TF_OK)
		rc = put_bool(b, "ConsistentRead", consistent);
	return end(b, rc);
}

enum tf_err
tf_ddb_put_body(struct tf_buf *b, const char *table, const cJSON *item,
    const struct tf_ddb_expr *e)
{
	enum tf_err rc = begin(b, table, e);

	if (rc == TF_OK)
		rc = put_json(b, "Item", item);
	return end(b, rc);
}

enum tf_err
tf_ddb_key_body(struct tf_buf *b, const char *table, const cJSON *key,
    const struct tf_ddb_expr *e, const char *return_values)
{
	enum tf_err rc = begin(b, table, e);

	if (rc == TF_OK)
		rc = put_json(b, "Key", key);
	if (rc == TF_OK)
		rc = put_text(b, "ReturnValues", return_values);
	return end(b, rc);
}

enum tf_err
tf_ddb_page_body(struct tf_buf *b, const struct tf_ddb_query *q,
    const cJSON *exclusive_start)
{
	char limit[24];
	enum tf_err rc = begin(b, q->table, q->expr);

	if (rc == TF_OK)
		rc = put_text(b, "IndexName", q->index);
	if (rc == TF_OK)
		rc = put_json(b, "ExclusiveStartKey", exclusive_start);
	if (rc == TF_OK && q->limit > 0) {
		rc = put_name(b, "Limit");
		snprintf(limit, sizeof(limit), "%d", q->limit);
		if (rc == TF_OK)
			rc = tf_buf_append_str(b, limit);
	}
	if (rc == TF_OK && q->descending)
		rc = put_bool(b, "ScanIndexForward", false);
	if (rc == TF_OK && q->consistent)
		rc = put_bool(b, "ConsistentRead", true);
	return end(b, rc);
}
