/* ready.c - the table and queue readiness check (ready.h). */
#include "aws/ready.h"

#include <stdio.h>

#include "aws/ddb.h"

/* Calls operation on svc once, quickly, with request (owned: deleted here);
 * true when it succeeded, else what went wrong is in why, after what. */
static bool
probe(struct tf_aws *aws, enum tf_aws_service svc, const char *operation,
    cJSON *request, const char *what, char *why, size_t n)
{
	static const struct tf_aws_call_opts quick = { 3000, NULL, 1 };
	cJSON *response = NULL;
	enum tf_err rc = TF_ERR_NOMEM;

	if (request != NULL)
		rc = tf_aws_call(aws, svc, operation, request, &quick, &response);
	if (rc != TF_OK)
		snprintf(why, n, "%s: %s %s (%s)\n", what, operation,
		    tf_strerror(rc), rc == TF_ERR_NOMEM ? "out of memory" :
		    tf_aws_last_error()->message);
	cJSON_Delete(request);
	cJSON_Delete(response);
	return rc == TF_OK;
}

bool
tf_aws_table_queue_ready(struct tf_aws *aws, const char *table,
    const char *queue_url, char *why, size_t n)
{
	cJSON *req, *key, *names;
	char what[512];

	/* A key no task has: the table answers with no item. */
	req = cJSON_CreateObject();
	key = cJSON_AddObjectToObject(req, "Key");
	if (key == NULL || cJSON_AddStringToObject(req, "TableName", table) ==
	    NULL || cJSON_AddItemToObject(key, "id",
	    tf_ddb_av_s(TF_READY_PROBE_ID)) == 0) {
		cJSON_Delete(req);
		req = NULL;
	}
	snprintf(what, sizeof(what), "table %s", table);
	if (!probe(aws, TF_AWS_DYNAMODB, "GetItem", req, what, why, n))
		return false;
	req = cJSON_CreateObject();
	names = cJSON_AddArrayToObject(req, "AttributeNames");
	if (names == NULL || cJSON_AddStringToObject(req, "QueueUrl",
	    queue_url) == NULL || cJSON_AddItemToArray(names,
	    cJSON_CreateString("QueueArn")) == 0) {
		cJSON_Delete(req);
		req = NULL;
	}
	snprintf(what, sizeof(what), "queue %s", queue_url);
	if (!probe(aws, TF_AWS_SQS, "GetQueueAttributes", req, what, why, n))
		return false;
	snprintf(why, n, "ok\n");
	return true;
}
