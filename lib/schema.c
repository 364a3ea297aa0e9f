/* schema.c - creating the table, its indexes and the queues. */
#include "schema.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "ddb.h"
#include "log.h"
#include "sqs.h"

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

enum tf_err
tf_schema_create_table(struct tf_aws *aws, const struct tf_schema_opts *o,
    int *created)
{
	enum tf_err rc = TF_ERR_NOMEM;
	cJSON *req = NULL;

	if (created != NULL)
		*created = 0;
	req = cJSON_Parse(create_table_json);
	if (req == NULL || cJSON_AddStringToObject(req, "TableName", o->table) == NULL)
		goto out;
	rc = tf_ddb_create_table(aws, req);
	if (rc != TF_OK && rc != TF_ERR_EXISTS)
		goto out;
	if (created != NULL)
		*created = rc == TF_OK;
	rc = tf_ddb_wait_active(aws, o->table, 60000);
	if (rc != TF_OK)
		goto out;
	rc = tf_ddb_update_ttl(aws, o->table, "ttl", true);
	/* DynamoDB reports TTL already on as a ValidationException; dynalite
	 * does not implement UpdateTimeToLive (UnknownOperationException, also
	 * a 400). Neither stops init: the table works without expiry. */
	if (rc == TF_ERR_VALIDATION)
		rc = TF_OK;
out:
	cJSON_Delete(req);
	return rc;
}

/* Creates queue `name` with attrs, or finds it and sets attrs on it.
 * *url: caller frees with tf_free(). */
static enum tf_err
ensure_queue(struct tf_aws *aws, const char *name, const cJSON *attrs, char **url)
{
	enum tf_err rc = tf_sqs_create_queue(aws, name, attrs, url);

	if (rc != TF_ERR_EXISTS)
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
	char dlq_name[128], num[16];
	const cJSON *arn;

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
