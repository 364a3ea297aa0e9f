/*
 * api_stats.c - GET /v1/stats (api_handlers.h): the tasks counted by
 * status, and the depth of the queue and of its dead-letter queue; with
 * history=1 also their samples over time (api_history.h).
 */
#include "api_handlers.h"

#include <stdlib.h>
#include <string.h>

#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/log.h"
#include "task/dlq.h"
#include "task/task.h"

/* --- GET /v1/stats ------------------------------------------------------ */

/* Adds {"visible", "in_flight", "delayed"} of the queue at url as key.
 * Returns TF_OK, an AWS error, or TF_ERR_NOMEM. */
static enum tf_err
add_depth(struct tf_aws *aws, cJSON *o, const char *key, const char *url)
{
	struct tf_sqs_depth d;
	enum tf_err rc;
	cJSON *q;

	rc = tf_sqs_queue_depth(aws, url, &d);
	if (rc != TF_OK)
		return rc;
	q = cJSON_AddObjectToObject(o, key);
	return q != NULL &&
	    cJSON_AddNumberToObject(q, "visible", (double)d.visible) != NULL &&
	    cJSON_AddNumberToObject(q, "in_flight", (double)d.in_flight) != NULL &&
	    cJSON_AddNumberToObject(q, "delayed", (double)d.delayed) != NULL ?
	    TF_OK : TF_ERR_NOMEM;
}

enum MHD_Result
api_get_stats(struct rq *rq)
{
	static const char *const allowed[] = { "ns", "history", NULL };
	struct cli *c = rq->srv->cfg.cli;
	struct tf_manage_counts counts;
	const char *ns, *hist;
	char *dlq_url = NULL, reason[800];
	cJSON *o = NULL;
	enum MHD_Result ret;
	enum tf_err rc;

	if (!api_check_query(rq, allowed, &ret))
		return ret;
	if (!api_read_ns(rq, &ns, &ret))
		return ret;
	/* The samples are of every namespace together. */
	hist = api_query(rq, "history");
	if (hist != NULL && strcmp(hist, "1") != 0 && strcmp(hist, "true") != 0 &&
	    strcmp(hist, "0") != 0 && strcmp(hist, "false") != 0)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "history: expected 1 or 0, got \"%.32s\"", hist);
	if (hist != NULL && (hist[0] == '0' || hist[0] == 'f'))
		hist = NULL;
	if (hist != NULL && ns != NULL)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "history: kept for every namespace together; give no ns");
	rc = tf_manage_count(c->ctx.aws, c->cfg.table, ns, &counts);
	if (rc != TF_OK)
		return api_aws_fail(rq, "counting the tasks", rc);
	o = cJSON_CreateObject();
	if (o == NULL || !cli_add_counts(o, ns, &counts))
		goto oom;
	/* The queues: a failure here still answers the counts. */
	rc = add_depth(c->ctx.aws, o, "queue", c->ctx.queue_url);
	if (rc == TF_OK)
		rc = tf_dlq_find(c->ctx.aws, c->ctx.queue_url, &dlq_url);
	if (rc == TF_OK && dlq_url != NULL)
		rc = add_depth(c->ctx.aws, o, "dlq", dlq_url);
	if (rc == TF_ERR_NOMEM)
		goto oom;
	if (rc != TF_OK) {
		cli_aws_reason(rc, reason, sizeof(reason));
		if (cJSON_AddStringToObject(o, "warning", "reading the queue failed")
		    == NULL)
			goto oom;
		tf_log(TF_LOG_WARN, "api: stats: reading the queue: %s", reason);
	}
	if (hist != NULL && (rq->srv->cfg.history == NULL ?
	    cJSON_AddNullToObject(o, "history") == NULL :
	    !cJSON_AddItemToObject(o, "history",
	    api_history_json(rq->srv->cfg.history))))
		goto oom;
	if ((!cJSON_HasObjectItem(o, "queue") &&
	    cJSON_AddNullToObject(o, "queue") == NULL) ||
	    (!cJSON_HasObjectItem(o, "dlq") &&
	    cJSON_AddNullToObject(o, "dlq") == NULL))
		goto oom;
	ret = api_reply_json(rq, MHD_HTTP_OK, o);
	goto out;
oom:
	ret = api_oom(rq);
out:
	tf_free(dlq_url);
	cJSON_Delete(o);
	return ret;
}
