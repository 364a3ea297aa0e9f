/* schema.c - creating the table, its indexes and the queues. */
#include "aws/schema.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/ddb.h"
#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/log.h"
#include "task/priority.h"

/* The CreateTable request, as JSON text with the table name filled in later.
 * by_due projects what the sweeper reads; by_ns projects everything for
 * listing a namespace. */
static const char create_table_json[] =
	"{"
	"\"AttributeDefinitions\":["
	"{\"AttributeName\":\"id\",\"AttributeType\":\"S\"},"
	"{\"AttributeName\":\"due_shard\",\"AttributeType\":\"S\"},"
	"{\"AttributeName\":\"due_at\",\"AttributeType\":\"N\"},"
	"{\"AttributeName\":\"ns\",\"AttributeType\":\"S\"},"
	"{\"AttributeName\":\"next_run\",\"AttributeType\":\"N\"}],"
	"\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}],"
	"\"BillingMode\":\"PAY_PER_REQUEST\","
	"\"GlobalSecondaryIndexes\":["
	"{\"IndexName\":\"by_due\",\"KeySchema\":["
	"{\"AttributeName\":\"due_shard\",\"KeyType\":\"HASH\"},"
	"{\"AttributeName\":\"due_at\",\"KeyType\":\"RANGE\"}],"
	"\"Projection\":{\"ProjectionType\":\"INCLUDE\",\"NonKeyAttributes\":"
	"[\"status\",\"gen\",\"next_run\",\"lease_until\",\"enqueued_for\"]}},"
	"{\"IndexName\":\"by_ns\",\"KeySchema\":["
	"{\"AttributeName\":\"ns\",\"KeyType\":\"HASH\"},"
	"{\"AttributeName\":\"next_run\",\"KeyType\":\"RANGE\"}],"
	"\"Projection\":{\"ProjectionType\":\"ALL\"}}]"
	"}";

/* The global index called name in a CreateTable request or a table
 * description (both list them under GlobalSecondaryIndexes), borrowed from
 * it; NULL when there is none. An existing table gets exactly the indexes a
 * new one is created with. */
static const cJSON *
index_def(const cJSON *create_req, const char *name)
{
	const cJSON *g, *n;

	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(create_req,
	    "GlobalSecondaryIndexes")) {
		n = cJSON_GetObjectItemCaseSensitive(g, "IndexName");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return g;
	}
	return NULL;
}

/* True when the table description desc has a global index called name. */
static bool
has_index(const cJSON *desc, const char *name)
{
	return index_def(desc, name) != NULL;
}

/* The provisioned throughput of the table description desc (borrowed), or
 * NULL when it is billed per request. */
static const cJSON *
provisioned_throughput(const cJSON *desc)
{
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(desc, "BillingModeSummary"),
	    "BillingMode");

	if (cJSON_IsString(mode) && strcmp(mode->valuestring, "PAY_PER_REQUEST") == 0)
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(desc, "ProvisionedThroughput");
}

/* The UpdateTable request that adds index gsi (borrowed, from the CreateTable
 * request create_req) to the table, with the definitions of its key
 * attributes; NULL when out of memory. A table with provisioned capacity
 * (desc: its description, borrowed) needs the index's, which DynamoDB
 * requires: the table's is used. Caller frees with cJSON_Delete(). */
static cJSON *
add_index_request(const char *table, const cJSON *create_req, const cJSON *gsi,
    const cJSON *desc)
{
	cJSON *req = cJSON_CreateObject(), *defs, *updates, *create, *index, *tp;
	const cJSON *k, *d, *kn, *dn, *pt = provisioned_throughput(desc);

	if (req == NULL || cJSON_AddStringToObject(req, "TableName", table) == NULL ||
	    (defs = cJSON_AddArrayToObject(req, "AttributeDefinitions")) == NULL ||
	    (updates = cJSON_AddArrayToObject(req, "GlobalSecondaryIndexUpdates")) == NULL ||
	    (create = cJSON_CreateObject()) == NULL)
		goto fail;
	cJSON_AddItemToArray(updates, create);
	index = cJSON_Duplicate(gsi, 1);
	if (!cJSON_AddItemToObject(create, "Create", index))
		goto fail;
	if (pt != NULL && ((tp = cJSON_AddObjectToObject(index,
	    "ProvisionedThroughput")) == NULL ||
	    !cJSON_AddItemToObject(tp, "ReadCapacityUnits", cJSON_Duplicate(
	    cJSON_GetObjectItemCaseSensitive(pt, "ReadCapacityUnits"), 1)) ||
	    !cJSON_AddItemToObject(tp, "WriteCapacityUnits", cJSON_Duplicate(
	    cJSON_GetObjectItemCaseSensitive(pt, "WriteCapacityUnits"), 1))))
		goto fail;
	cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(gsi, "KeySchema")) {
		kn = cJSON_GetObjectItemCaseSensitive(k, "AttributeName");
		cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(create_req,
		    "AttributeDefinitions")) {
			dn = cJSON_GetObjectItemCaseSensitive(d, "AttributeName");
			if (cJSON_IsString(kn) && cJSON_IsString(dn) &&
			    strcmp(kn->valuestring, dn->valuestring) == 0 &&
			    !cJSON_AddItemToArray(defs, cJSON_Duplicate(d, 1)))
				goto fail;
		}
	}
	return req;
fail:
	cJSON_Delete(req);
	return NULL;
}

/* Adds each index of create_req that the (ACTIVE) table lacks, one
 * UpdateTable at a time as DynamoDB requires, waiting until each is ACTIVE. */
static enum tf_err
add_missing_indexes(struct tf_aws *aws, const struct tf_schema_opts *o,
    const cJSON *create_req, struct tf_schema_changes *ch, char *step,
    size_t steplen)
{
	cJSON *desc = NULL, *req = NULL;
	const cJSON *g, *name;
	enum tf_err rc;

	snprintf(step, steplen, "reading the table %s", o->table);
	rc = tf_ddb_describe_table(aws, o->table, &desc);
	if (rc != TF_OK)
		return rc;
	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(create_req,
	    "GlobalSecondaryIndexes")) {
		name = cJSON_GetObjectItemCaseSensitive(g, "IndexName");
		if (!cJSON_IsString(name) || has_index(desc, name->valuestring))
			continue;
		snprintf(step, steplen, "adding the index %s to the table %s",
		    name->valuestring, o->table);
		req = add_index_request(o->table, create_req, g, desc);
		rc = req == NULL ? TF_ERR_NOMEM : tf_ddb_update_table(aws, req);
		cJSON_Delete(req);
		req = NULL;
		if (rc != TF_OK)
			break;
		if (o->progress != NULL)
			fprintf(o->progress, "table %s: adding the index %s; waiting "
			    "until DynamoDB has built it\n", o->table, name->valuestring);
		snprintf(step, steplen, "waiting for the index %s of the table %s",
		    name->valuestring, o->table);
		rc = tf_ddb_wait_active(aws, o->table, TF_SCHEMA_INDEX_WAIT_MS);
		if (rc != TF_OK)
			break;
		if (ch->n_indexes_added < TF_SCHEMA_INDEXES)
			snprintf(ch->indexes_added[ch->n_indexes_added++],
			    sizeof(ch->indexes_added[0]), "%s", name->valuestring);
	}
	cJSON_Delete(desc);
	return rc;
}

/* Turns TTL on for `ttl` unless it is on already. DynamoDB allows one TTL
 * attribute per table: one on another attribute is an error to report,
 * since finished tasks would then never expire. */
static enum tf_err
enable_ttl(struct tf_aws *aws, const struct tf_schema_opts *o,
    struct tf_schema_changes *ch, char *step, size_t steplen)
{
	char status[32], attr[256];
	enum tf_err rc;

	snprintf(step, steplen, "reading the TTL setting of the table %s",
	    o->table);
	rc = tf_ddb_describe_ttl(aws, o->table, status, sizeof(status), attr,
	    sizeof(attr));
	if (rc != TF_OK)
		return rc;
	if (strcmp(status, "ENABLED") == 0 || strcmp(status, "ENABLING") == 0) {
		if (strcmp(attr, TF_SCHEMA_TTL_ATTRIBUTE) == 0)
			return TF_OK;
		snprintf(step, steplen, "TTL of the table %s is on the attribute "
		    "\"%.64s\", not \"%s\" (DynamoDB allows one): finished tasks "
		    "would never expire", o->table, attr, TF_SCHEMA_TTL_ATTRIBUTE);
		return TF_ERR_INVALID;
	}
	snprintf(step, steplen, "enabling TTL on the attribute %s of the table %s",
	    TF_SCHEMA_TTL_ATTRIBUTE, o->table);
	rc = tf_ddb_update_ttl(aws, o->table, TF_SCHEMA_TTL_ATTRIBUTE, true);
	if (rc == TF_OK)
		ch->ttl_enabled = true;
	return rc;
}

enum tf_err
tf_schema_create_table(struct tf_aws *aws, const struct tf_schema_opts *o,
    struct tf_schema_changes *ch, char *step, size_t steplen)
{
	enum tf_err rc = TF_ERR_NOMEM;
	cJSON *req = NULL;

	memset(ch, 0, sizeof(*ch));
	snprintf(step, steplen, "creating the table %s", o->table);
	req = cJSON_Parse(create_table_json);
	if (req == NULL || cJSON_AddStringToObject(req, "TableName", o->table) == NULL)
		goto out;
	rc = tf_ddb_create_table(aws, req);
	if (rc != TF_OK && rc != TF_ERR_EXISTS)
		goto out;
	ch->table_created = rc == TF_OK;
	snprintf(step, steplen, "waiting for the table %s", o->table);
	rc = tf_ddb_wait_active(aws, o->table, 60000);
	if (rc != TF_OK)
		goto out;
	/* A table made elsewhere (the original scheduler's Terraform makes one
	 * with only the key) gets the indexes the queries need. */
	if (!ch->table_created &&
	    (rc = add_missing_indexes(aws, o, req, ch, step, steplen)) != TF_OK)
		goto out;
	rc = enable_ttl(aws, o, ch, step, steplen);
out:
	cJSON_Delete(req);
	return rc;
}

bool
tf_schema_queue_deleted_recently(void)
{
	const struct tf_aws_error *e = tf_aws_last_error();

	return e->code == TF_ERR_EXISTS &&
	    (strcmp(e->type, "QueueDeletedRecently") == 0 ||
	    strcmp(e->type, "AWS.SimpleQueueService.QueueDeletedRecently") == 0);
}

/* Creates queue `name` with attrs, or finds it and sets attrs on it.
 * *url: caller frees with tf_free(). */
static enum tf_err
ensure_queue(struct tf_aws *aws, const char *name, const cJSON *attrs, char **url)
{
	enum tf_err rc = tf_sqs_create_queue(aws, name, attrs, url);

	/* A queue deleted less than 60 s ago cannot be made again yet: there
	 * is none to look up, and GetQueueUrl's "not found" would hide why. */
	if (rc != TF_ERR_EXISTS || tf_schema_queue_deleted_recently())
		return rc;
	rc = tf_sqs_get_queue_url(aws, name, url);
	if (rc == TF_OK)
		rc = tf_sqs_set_queue_attributes(aws, *url, attrs);
	return rc;
}

enum tf_err
tf_schema_create_queues(struct tf_aws *aws, const struct tf_schema_opts *o,
    char **queue_url, char **dlq_url)
{
	static const char *const arn_name[] = { "QueueArn", NULL };
	enum tf_err rc = TF_ERR_NOMEM;
	cJSON *dlq_attrs = NULL, *attrs = NULL, *got = NULL, *policy = NULL;
	char *dlq = NULL, *main_url = NULL, *policy_text = NULL;
	char dlq_name[128], prio_name[128], num[16], *prio_url = NULL;
	const cJSON *arn;
	int p;

	if (queue_url != NULL)
		*queue_url = NULL;
	if (dlq_url != NULL)
		*dlq_url = NULL;
	snprintf(dlq_name, sizeof(dlq_name), "%s-dlq", o->queue_name);
	dlq_attrs = cJSON_CreateObject();
	if (dlq_attrs == NULL ||
	    cJSON_AddStringToObject(dlq_attrs, "MessageRetentionPeriod", "1209600") == NULL)
		goto out;
	rc = ensure_queue(aws, dlq_name, dlq_attrs, &dlq);
	if (rc != TF_OK)
		goto out;
	rc = tf_sqs_get_queue_attributes(aws, dlq, arn_name, &got);
	if (rc != TF_OK)
		goto out;
	arn = cJSON_GetObjectItemCaseSensitive(got, "QueueArn");
	if (!cJSON_IsString(arn)) {
		rc = TF_ERR_PARSE;
		goto out;
	}
	rc = TF_ERR_NOMEM;
	policy = cJSON_CreateObject();
	snprintf(num, sizeof(num), "%d", o->max_receive_count > 0 ?
	    o->max_receive_count : 5);
	if (policy == NULL ||
	    cJSON_AddStringToObject(policy, "deadLetterTargetArn", arn->valuestring) == NULL ||
	    cJSON_AddStringToObject(policy, "maxReceiveCount", num) == NULL ||
	    (policy_text = cJSON_PrintUnformatted(policy)) == NULL)
		goto out;
	attrs = cJSON_CreateObject();
	snprintf(num, sizeof(num), "%d", o->visibility_timeout_s > 0 ?
	    o->visibility_timeout_s : 60);
	if (attrs == NULL ||
	    cJSON_AddStringToObject(attrs, "VisibilityTimeout", num) == NULL ||
	    cJSON_AddStringToObject(attrs, "MessageRetentionPeriod", "1209600") == NULL ||
	    cJSON_AddStringToObject(attrs, "ReceiveMessageWaitTimeSeconds", "20") == NULL ||
	    cJSON_AddStringToObject(attrs, "RedrivePolicy", policy_text) == NULL)
		goto out;
	rc = ensure_queue(aws, o->queue_name, attrs, &main_url);
	if (rc != TF_OK)
		goto out;
	/* The queues of the other priorities (task/priority.h), alike. */
	for (p = 0; p < TF_PRIORITY__N; p++) {
		if (p == TF_PRIORITY_NORMAL)
			continue;
		snprintf(prio_name, sizeof(prio_name), "%s%s", o->queue_name,
		    tf_priority_suffix((enum tf_priority)p));
		rc = ensure_queue(aws, prio_name, attrs, &prio_url);
		tf_free(prio_url);
		prio_url = NULL;
		if (rc != TF_OK)
			goto out;
	}
	if (queue_url != NULL) {
		*queue_url = main_url;
		main_url = NULL;
	}
	if (dlq_url != NULL) {
		*dlq_url = dlq;
		dlq = NULL;
	}
out:
	cJSON_free(policy_text);
	cJSON_Delete(policy);
	cJSON_Delete(attrs);
	cJSON_Delete(dlq_attrs);
	cJSON_Delete(got);
	tf_free(dlq);
	tf_free(main_url);
	return rc;
}
