/* ddb.c - DynamoDB calls in the JSON protocol. */
#include "aws/ddb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ddb_wire.h"
#include "aws/marshal.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/json_escape.h"
#include "base/json_scan.h"
#include "base/log.h"

#define BATCH_WRITE_MAX 25

cJSON *
tf_ddb_av_s(const char *s)
{
	cJSON *av = cJSON_CreateObject();

	if (av != NULL && cJSON_AddStringToObject(av, "S", s) == NULL) {
		cJSON_Delete(av);
		return NULL;
	}
	return av;
}

cJSON *
tf_ddb_av_n(int64_t n)
{
	char text[24];
	cJSON *av = cJSON_CreateObject();

	snprintf(text, sizeof(text), "%" PRId64, n);
	if (av != NULL && cJSON_AddStringToObject(av, "N", text) == NULL) {
		cJSON_Delete(av);
		return NULL;
	}
	return av;
}

cJSON *
tf_ddb_av_bool(bool b)
{
	cJSON *av = cJSON_CreateObject();

	if (av != NULL && cJSON_AddBoolToObject(av, "BOOL", b) == NULL) {
		cJSON_Delete(av);
		return NULL;
	}
	return av;
}

const cJSON *
tf_ddb_attr(const cJSON *obj, const char *name)
{
	const cJSON *c;

	if (obj == NULL || name == NULL)
		return NULL;
	/* The first byte settles most members without a call to strcmp. */
	for (c = obj->child; c != NULL; c = c->next)
		if (c->string != NULL && c->string[0] == name[0] &&
		    strcmp(c->string, name) == 0)
			return c;
	return NULL;
}

const char *
tf_ddb_item_s(const cJSON *item, const char *name)
{
	const cJSON *av = tf_ddb_attr(item, name);
	const cJSON *s = tf_ddb_attr(av, "S");

	return cJSON_IsString(s) ? s->valuestring : NULL;
}

bool
tf_ddb_item_n(const cJSON *item, const char *name, int64_t *out)
{
	const cJSON *av = tf_ddb_attr(item, name);
	const cJSON *n = tf_ddb_attr(av, "N");
	char *end;
	long long v;

	if (!cJSON_IsString(n) || n->valuestring[0] == '\0')
		return false;
	v = strtoll(n->valuestring, &end, 10);
	if (*end != '\0')
		return false;
	*out = v;
	return true;
}

/* Removes the member whose quoted key and colon are `key` ("\":v\":",
 * key_len bytes) from the object text m ("{...}", written by map_open() and
 * map_close(): no whitespace), when it has one. Most binds are of a new
 * placeholder: a search for the bytes settles those, and a hit (perhaps a
 * key of a nested map) is confirmed by reading the object's top level. */
static void
map_remove(struct tf_buf *m, const char *key, size_t key_len)
{
	struct tf_json_scan sc;
	struct tf_json_str k;
	size_t start, end;

	if (memmem(m->data, m->len, key, key_len) == NULL)
		return;
	tf_json_scan_init(&sc, m->data, m->len);
	if (!tf_json_enter(&sc, TF_JSON_OBJECT))
		return;
	while (tf_json_member(&sc, &k)) {
		start = (size_t)(k.raw - m->data) - 1;  /* its opening quote */
		if (!tf_json_skip(&sc))
			return;
		end = sc.pos;
		if (k.len != key_len - 3 || memcmp(k.raw, key + 1, k.len) != 0)
			continue;
		/* Take the comma before it, or after it when it is first. */
		if (m->data[start - 1] == ',')
			start--;
		else if (m->data[end] == ',')
			end++;
		memmove(m->data + start, m->data + end, m->len - end + 1);
		m->len -= end - start;
		return;
	}
}

/* The bit of *bound that stands for the placeholder key (n bytes). */
static uint64_t
bound_bit(const char *key, size_t n)
{
	uint32_t h = 2166136261u;  /* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return (uint64_t)1 << (h & 63);
}

/* Starts the member `key` (a placeholder: no quote or backslash in it) of
 * the object text m, replacing the one it had: m is left open as
 * {...,"key": for the value and map_close(). *bound has a bit set for each
 * placeholder bound in m since it was empty: a placeholder whose bit is
 * clear is new, and m is not searched for it (a dozen binds a request). */
static enum tf_err
map_open(struct tf_buf *m, uint64_t *bound, const char *key)
{
	char quoted[64];
	size_t n = strlen(key);
	uint64_t bit;
	enum tf_err rc;

	if (n == 0 || n + 3 > sizeof(quoted) || strpbrk(key, "\"\\") != NULL)
		return TF_ERR_INVALID;
	quoted[0] = '"';
	memcpy(quoted + 1, key, n);
	memcpy(quoted + 1 + n, "\":", 2);
	bit = bound_bit(key, n);
	if (m->len == 0) {
		*bound = bit;
		rc = tf_buf_append_char(m, '{');
	} else {
		if ((*bound & bit) != 0)
			map_remove(m, quoted, n + 3);
		*bound |= bit;
		m->data[--m->len] = '\0';  /* the closing brace */
		rc = m->len > 1 ? tf_buf_append_char(m, ',') : TF_OK;
	}
	return rc == TF_OK ? tf_buf_append(m, quoted, n + 3) : rc;
}

/* Ends the member started by map_open() after rc (its value) succeeded;
 * on failure m is left empty: the request is not sent. */
static enum tf_err
map_close(struct tf_buf *m, enum tf_err rc)
{
	if (rc == TF_OK)
		rc = tf_buf_append_char(m, '}');
	if (rc != TF_OK)
		tf_buf_free(m);
	return rc;
}

enum tf_err
tf_ddb_expr_name(struct tf_ddb_expr *e, const char *placeholder,
    const char *name)
{
	enum tf_err rc = name != NULL ?
	    map_open(&e->names, &e->names_bound, placeholder) : TF_ERR_INVALID;

	if (rc == TF_OK)
		rc = tf_json_escape_append(&e->names, name, strlen(name));
	return map_close(&e->names, rc);
}

enum tf_err
tf_ddb_expr_value(struct tf_ddb_expr *e, const char *placeholder, cJSON *av)
{
	enum tf_err rc = av != NULL ?
	    map_open(&e->values, &e->values_bound, placeholder) : TF_ERR_NOMEM;

	if (rc == TF_OK)
		rc = tf_marshal_write_json(&e->values, av);
	cJSON_Delete(av);
	return map_close(&e->values, rc);
}

/* The typed forms write their AttributeValue's text directly: the claim and
 * the outcome bind a dozen values per request. */
enum tf_err
tf_ddb_expr_value_s(struct tf_ddb_expr *e, const char *placeholder,
    const char *s)
{
	enum tf_err rc = s != NULL ?
	    map_open(&e->values, &e->values_bound, placeholder) :
	    TF_ERR_INVALID;

	if (rc == TF_OK)
		rc = tf_buf_append(&e->values, "{\"S\":", 5);
	if (rc == TF_OK)
		rc = tf_json_escape_append(&e->values, s, strlen(s));
	if (rc == TF_OK)
		rc = tf_buf_append_char(&e->values, '}');
	return map_close(&e->values, rc);
}

enum tf_err
tf_ddb_expr_value_n(struct tf_ddb_expr *e, const char *placeholder, int64_t n)
{
	enum tf_err rc = map_open(&e->values, &e->values_bound, placeholder);

	if (rc == TF_OK)
		rc = tf_buf_append(&e->values, "{\"N\":\"", 6);
	if (rc == TF_OK)
		rc = tf_buf_append_i64(&e->values, n);
	if (rc == TF_OK)
		rc = tf_buf_append(&e->values, "\"}", 2);
	return map_close(&e->values, rc);
}

enum tf_err
tf_ddb_expr_value_bool(struct tf_ddb_expr *e, const char *placeholder, bool b)
{
	enum tf_err rc = map_open(&e->values, &e->values_bound, placeholder);

	if (rc == TF_OK)
		rc = tf_buf_append_str(&e->values, b ? "{\"BOOL\":true}" :
		    "{\"BOOL\":false}");
	return map_close(&e->values, rc);
}

void
tf_ddb_expr_free(struct tf_ddb_expr *e)
{
	tf_buf_free(&e->names);
	tf_buf_free(&e->values);
	e->names_bound = 0;
	e->values_bound = 0;
}

static bool
add_text(cJSON *obj, const char *key, const char *text)
{
	return text == NULL || cJSON_AddStringToObject(obj, key, text) != NULL;
}

/* A request with TableName (the table calls; the item calls write their
 * requests as text, ddb_wire.h); NULL when out of memory. Caller frees
 * with cJSON_Delete(). */
static cJSON *
request_with(const char *table)
{
	cJSON *req = cJSON_CreateObject();

	if (req != NULL && !add_text(req, "TableName", table)) {
		cJSON_Delete(req);
		req = NULL;
	}
	return req;
}

/* Calls op with req (borrowed); *resp as tf_aws_call. */
static enum tf_err
ddb_call(struct tf_aws *aws, const char *op, const cJSON *req, cJSON **resp)
{
	if (req == NULL) {
		*resp = NULL;
		return TF_ERR_NOMEM;
	}
	return tf_aws_call(aws, TF_AWS_DYNAMODB, op, req, NULL, resp);
}

/* Calls op and keeps the member `take` of the reply (NULL when absent) in
 * *out, if out is not NULL. Takes ownership of req. */
static enum tf_err
call_take(struct tf_aws *aws, const char *op, cJSON *req, const char *take,
    cJSON **out)
{
	cJSON *resp = NULL;
	enum tf_err rc;

	if (out != NULL)
		*out = NULL;
	rc = ddb_call(aws, op, req, &resp);
	if (rc == TF_OK && out != NULL && take != NULL)
		*out = cJSON_DetachItemFromObjectCaseSensitive(resp, take);
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return rc;
}

/* Calls op with a complete request (borrowed) and drops the reply. */
static enum tf_err
call_whole_request(struct tf_aws *aws, const char *op, const cJSON *request)
{
	cJSON *resp = NULL;
	enum tf_err rc = ddb_call(aws, op, request, &resp);

	cJSON_Delete(resp);
	return rc;
}

enum tf_err
tf_ddb_create_table(struct tf_aws *aws, const cJSON *request)
{
	return call_whole_request(aws, "CreateTable", request);
}

enum tf_err
tf_ddb_update_table(struct tf_aws *aws, const cJSON *request)
{
	return call_whole_request(aws, "UpdateTable", request);
}

enum tf_err
tf_ddb_describe_table(struct tf_aws *aws, const char *table,
    cJSON **description)
{
	enum tf_err rc = call_take(aws, "DescribeTable", request_with(table),
	    "Table", description);

	if (rc == TF_OK && *description == NULL)
		rc = TF_ERR_PARSE;
	return rc;
}

/* True when the table and every global index in desc are ACTIVE. */
static bool
all_active(const cJSON *desc)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(desc, "TableStatus");
	const cJSON *gsis = cJSON_GetObjectItemCaseSensitive(desc,
	    "GlobalSecondaryIndexes");
	const cJSON *g;

	if (!cJSON_IsString(status) || strcmp(status->valuestring, "ACTIVE") != 0)
		return false;
	cJSON_ArrayForEach(g, gsis) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(g, "IndexStatus");

		if (cJSON_IsString(s) && strcmp(s->valuestring, "ACTIVE") != 0)
			return false;
	}
	return true;
}

enum tf_err
tf_ddb_wait_active(struct tf_aws *aws, const char *table, long timeout_ms)
{
	int64_t deadline = tf_mono_ms() + timeout_ms;
	long pause_ms = 200;
	cJSON *desc = NULL;
	enum tf_err rc;
	bool active;

	for (;;) {
		rc = tf_ddb_describe_table(aws, table, &desc);
		if (rc != TF_OK)
			return rc;
		active = all_active(desc);
		cJSON_Delete(desc);
		desc = NULL;
		if (active)
			return TF_OK;
		if (tf_mono_ms() >= deadline)
			return TF_ERR_TIMEOUT;
		/* A new index on a large table takes minutes to fill: ask less
		 * often the longer it takes, up to every 5 s. */
		tf_sleep_ms(pause_ms);
		if (pause_ms < 5000)
			pause_ms = pause_ms * 3 / 2 > 5000 ? 5000 : pause_ms * 3 / 2;
	}
}

enum tf_err
tf_ddb_delete_table(struct tf_aws *aws, const char *table)
{
	return call_take(aws, "DeleteTable", request_with(table), NULL, NULL);
}

enum tf_err
tf_ddb_update_ttl(struct tf_aws *aws, const char *table, const char *attribute,
    bool enabled)
{
	cJSON *req = request_with(table), *spec;

	if (req == NULL)
		return TF_ERR_NOMEM;
	spec = cJSON_AddObjectToObject(req, "TimeToLiveSpecification");
	if (spec == NULL || !add_text(spec, "AttributeName", attribute) ||
	    cJSON_AddBoolToObject(spec, "Enabled", enabled) == NULL) {
		cJSON_Delete(req);
		return TF_ERR_NOMEM;
	}
	return call_take(aws, "UpdateTimeToLive", req, NULL, NULL);
}

enum tf_err
tf_ddb_describe_ttl(struct tf_aws *aws, const char *table, char *status,
    size_t status_len, char *attribute, size_t attribute_len)
{
	cJSON *desc = NULL;
	const cJSON *st, *attr;
	enum tf_err rc = call_take(aws, "DescribeTimeToLive",
	    request_with(table), "TimeToLiveDescription", &desc);

	if (rc != TF_OK)
		return rc;
	st = cJSON_GetObjectItemCaseSensitive(desc, "TimeToLiveStatus");
	attr = cJSON_GetObjectItemCaseSensitive(desc, "AttributeName");
	if (!cJSON_IsString(st))
		rc = TF_ERR_PARSE;
	else {
		snprintf(status, status_len, "%s", st->valuestring);
		snprintf(attribute, attribute_len, "%s", cJSON_IsString(attr) ?
		    attr->valuestring : "");
	}
	cJSON_Delete(desc);
	return rc;
}

/* Sends op with the request in b (rc: what building it returned) and keeps
 * the member `take` of the answer (NULL when absent) in *out, if out is not
 * NULL; the answer is not parsed when nothing of it is kept. */
static enum tf_err
call_body(struct tf_aws *aws, const char *op, enum tf_err rc,
    const struct tf_buf *b, const char *take, cJSON **out)
{
	struct tf_buf *reply = tf_aws_scratch(TF_AWS_SCRATCH_REPLY);
	cJSON *resp = NULL;

	if (out != NULL)
		*out = NULL;
	if (rc == TF_OK && reply == NULL)
		rc = TF_ERR_NOMEM;
	if (rc == TF_OK)
		rc = tf_aws_call_text(aws, TF_AWS_DYNAMODB, op, b->data, b->len,
		    NULL, reply);
	if (rc == TF_OK && out != NULL && reply->len > 0) {
		resp = cJSON_ParseWithLength(reply->data, reply->len);
		if (resp == NULL)
			rc = TF_ERR_PARSE;
		*out = cJSON_DetachItemFromObjectCaseSensitive(resp, take);
	}
	cJSON_Delete(resp);
	return rc;
}

enum tf_err
tf_ddb_get_item(struct tf_aws *aws, const char *table, const cJSON *key,
    bool consistent, const struct tf_ddb_expr *e, cJSON **item)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);
	enum tf_err rc;

	rc = call_body(aws, "GetItem", b == NULL ? TF_ERR_NOMEM :
	    tf_ddb_get_body(b, table, key, consistent, e), b, "Item", item);
	if (rc == TF_OK && *item == NULL)
		rc = TF_ERR_NOT_FOUND;
	return rc;
}

enum tf_err
tf_ddb_put_item(struct tf_aws *aws, const char *table, const cJSON *item,
    const struct tf_ddb_expr *e)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);

	return call_body(aws, "PutItem", b == NULL ? TF_ERR_NOMEM :
	    tf_ddb_put_body(b, table, item, e), b, NULL, NULL);
}

enum tf_err
tf_ddb_update_item(struct tf_aws *aws, const char *table, const cJSON *key,
    const struct tf_ddb_expr *e, const char *return_values, cJSON **attributes)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);

	return call_body(aws, "UpdateItem", b == NULL ? TF_ERR_NOMEM :
	    tf_ddb_key_body(b, table, key, e, return_values), b, "Attributes",
	    attributes);
}

enum tf_err
tf_ddb_delete_item(struct tf_aws *aws, const char *table, const cJSON *key,
    const struct tf_ddb_expr *e, cJSON **old_item)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);

	return call_body(aws, "DeleteItem", b == NULL ? TF_ERR_NOMEM :
	    tf_ddb_key_body(b, table, key, e, old_item != NULL ? "ALL_OLD" : NULL),
	    b, "Attributes", old_item);
}

/* Reads one page of a Query or a Scan (op); the two differ only in the key
 * condition and ScanIndexForward, which Scan does not take. */
static enum tf_err
read_page(struct tf_aws *aws, const char *op, const struct tf_ddb_query *q,
    cJSON **exclusive_start, cJSON **items)
{
	struct tf_buf *b = tf_aws_scratch(TF_AWS_SCRATCH_REQUEST);
	struct tf_buf *reply = tf_aws_scratch(TF_AWS_SCRATCH_REPLY);
	enum tf_err rc = TF_ERR_NOMEM;
	cJSON *resp = NULL;

	*items = NULL;
	if (b != NULL && reply != NULL)
		rc = tf_ddb_page_body(b, q, *exclusive_start);
	if (rc == TF_OK)
		rc = tf_aws_call_text(aws, TF_AWS_DYNAMODB, op, b->data, b->len,
		    NULL, reply);
	if (rc != TF_OK)
		goto out;
	resp = reply->len == 0 ? cJSON_CreateObject() :
	    cJSON_ParseWithLength(reply->data, reply->len);
	if (resp == NULL) {
		rc = reply->len == 0 ? TF_ERR_NOMEM : TF_ERR_PARSE;
		goto out;
	}
	*items = cJSON_DetachItemFromObjectCaseSensitive(resp, "Items");
	if (*items == NULL)
		*items = cJSON_CreateArray();
	if (*items == NULL) {
		rc = TF_ERR_NOMEM;
		goto out;
	}
	cJSON_Delete(*exclusive_start);
	*exclusive_start = cJSON_DetachItemFromObjectCaseSensitive(resp,
	    "LastEvaluatedKey");
out:
	cJSON_Delete(resp);
	return rc;
}

enum tf_err
tf_ddb_query_page(struct tf_aws *aws, const struct tf_ddb_query *q,
    cJSON **exclusive_start, cJSON **items)
{
	*items = NULL;
	if (q->expr == NULL || q->expr->key_condition == NULL)
		return TF_ERR_INVALID;
	return read_page(aws, "Query", q, exclusive_start, items);
}

enum tf_err
tf_ddb_scan_page(struct tf_aws *aws, const struct tf_ddb_query *q,
    cJSON **exclusive_start, cJSON **items)
{
	struct tf_ddb_query scan = *q;

	*items = NULL;
	if (q->expr != NULL && q->expr->key_condition != NULL)
		return TF_ERR_INVALID;
	scan.descending = false;  /* Scan has no order to reverse */
	return read_page(aws, "Scan", &scan, exclusive_start, items);
}

/* Sends one BatchWriteItem of `chunk` (taken) and re-sends what comes back
 * unprocessed, with backoff, for up to max_rounds rounds. */
static enum tf_err
batch_write_chunk(struct tf_aws *aws, const char *table, cJSON *chunk,
    int max_rounds)
{
	enum tf_err rc = TF_ERR_NOMEM;
	cJSON *req = NULL, *resp = NULL, *unprocessed, *mine, *map;
	long backoff_ms = 50;
	int round;

	for (round = 0; round < max_rounds; round++) {
		req = cJSON_CreateObject();
		map = req ? cJSON_AddObjectToObject(req, "RequestItems") : NULL;

		if (map == NULL || !cJSON_AddItemToObject(map, table, chunk))
			goto out;
		chunk = NULL;
		rc = ddb_call(aws, "BatchWriteItem", req, &resp);
		if (rc != TF_OK)
			goto out;
		unprocessed = cJSON_GetObjectItemCaseSensitive(resp,
		    "UnprocessedItems");
		mine = cJSON_DetachItemFromObjectCaseSensitive(unprocessed, table);
		if (mine == NULL || cJSON_GetArraySize(mine) == 0) {
			cJSON_Delete(mine);
			rc = TF_OK;
			goto out;
		}
		tf_log(TF_LOG_DEBUG, "BatchWriteItem: %d unprocessed; retrying",
		    cJSON_GetArraySize(mine));
		chunk = mine;
		cJSON_Delete(req);
		cJSON_Delete(resp);
		req = resp = NULL;
		tf_sleep_ms(backoff_ms);
		if (backoff_ms < 2000)
			backoff_ms *= 2;
	}
	rc = TF_ERR_THROTTLED;
out:
	cJSON_Delete(chunk);
	cJSON_Delete(req);
	cJSON_Delete(resp);
	return rc;
}

enum tf_err
tf_ddb_batch_write(struct tf_aws *aws, const char *table,
    const cJSON *requests, int max_rounds)
{
	const cJSON *r;
	cJSON *chunk = NULL, *copy;
	enum tf_err rc = TF_OK;

	if (!cJSON_IsArray(requests))
		return TF_ERR_INVALID;
	cJSON_ArrayForEach(r, requests) {
		if (chunk == NULL && (chunk = cJSON_CreateArray()) == NULL)
			return TF_ERR_NOMEM;
		copy = cJSON_Duplicate(r, 1);
		if (copy == NULL || !cJSON_AddItemToArray(chunk, copy)) {
			cJSON_Delete(copy);
			cJSON_Delete(chunk);
			return TF_ERR_NOMEM;
		}
		if (cJSON_GetArraySize(chunk) == BATCH_WRITE_MAX) {
			rc = batch_write_chunk(aws, table, chunk, max_rounds);
			chunk = NULL;
			if (rc != TF_OK)
				return rc;
		}
	}
	if (chunk != NULL)
		rc = batch_write_chunk(aws, table, chunk, max_rounds);
	return rc;
}
