/*
 * api_dlq.c - the dead-letter queue in the REST API (api_handlers.h): GET
 * /v1/dlq lists its messages as `taskfleet dlq list --json` does, POST
 * /v1/dlq/redrive moves them back to the queue (all, one task's or one
 * message) as `taskfleet dlq redrive` does, with a dry run. Both run
 * lib/task/dlq.h, as the CLI does.
 *
 * A message carries no namespace: its task's item says which one it is in.
 * A key limited to some namespaces sees and moves only the messages whose
 * task is in one of them (read scope to list, write scope to move); a
 * message without a task (a malformed body, a deleted task) belongs to no
 * namespace, and only a key of every namespace sees it. The others are
 * held and released like any message a run receives, never shown nor
 * counted.
 */
#include "api_handlers.h"

#include <stdlib.h>
#include <string.h>

#include "aws/sqs.h"
#include "base/log.h"
#include "task/dlq.h"
#include "task/task.h"

#define LIST_DEFAULT  100
#define LIST_MAX      1000
#define REDRIVE_DEFAULT 1000
#define REDRIVE_MAX   10000
/* The most messages one request receives (and holds): to find a limited
 * key's own, or a task's or a message among them. */
#define SCAN_MAX      10000

/* What the visible callback needs. */
struct seen {
	struct rq *rq;
	struct tf_dlq_run *run;
	enum api_scope scope;
};

/* tf_dlq_visible_fn: the message's task is in a namespace the key may act
 * on with the scope (read from the table). */
static bool
visible(void *cls, struct tf_dlq_msg *d)
{
	struct seen *s = cls;

	tf_dlq_view_task(s->run, d);
	return d->view.found && api_ns_allowed(s->rq, d->view.ns, s->scope);
}

/* True when the key sees every namespace (or there are no keys). */
static bool
every_ns(const struct rq *rq)
{
	return rq->key == NULL || rq->key->all_ns;
}

/* Reads the boolean query parameter name: absent false, "true" or "1" true,
 * "false" or "0" false. Returns false after replying 400. */
static bool
query_bool(struct rq *rq, const char *name, bool *out, enum MHD_Result *ret)
{
	const char *v = api_query(rq, name);

	*out = false;
	if (v == NULL || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return true;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || v[0] == '\0') {
		*out = true;
		return true;
	}
	*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
	    "%s: expected true or false, got \"%.32s\"", name, v);
	return false;
}

/* Reads the query parameter limit (default dflt, 1..max) into *limit.
 * Returns false after replying 400. */
static bool
query_limit(struct rq *rq, long long dflt, long long max, long long *limit,
    enum MHD_Result *ret)
{
	const char *v = api_query(rq, "limit");

	*limit = dflt;
	if (v == NULL || cli_parse_int(v, 1, max, limit))
		return true;
	*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
	    "limit: expected a number from 1 to %lld, got \"%.32s\"", max, v);
	return false;
}

/* Finds the dead-letter queue into run (aws, queue and table set). Returns
 * false after replying: 502 when AWS failed, 404 when there is none, 409
 * when the queue is its own. */
static bool
open_dlq(struct rq *rq, struct tf_dlq_run *run, enum MHD_Result *ret)
{
	struct cli *c = rq->srv->cfg.cli;
	enum tf_err rc;

	run->aws = c->ctx.aws;
	run->queue_url = c->ctx.queue_url;
	run->table = c->cfg.table;
	rc = tf_dlq_find(c->ctx.aws, c->ctx.queue_url, &run->dlq_url);
	if (rc != TF_OK)
		*ret = api_aws_fail(rq, "finding the dead-letter queue", rc);
	else if (run->dlq_url == NULL)
		*ret = api_error(rq, MHD_HTTP_NOT_FOUND, "not_found",
		    "the queue has no dead-letter queue (no redrive policy, no queue "
		    "named after it with -dlq); `taskfleet init` creates one");
	else if (strcmp(run->dlq_url, c->ctx.queue_url) == 0)
		*ret = api_error(rq, MHD_HTTP_CONFLICT, "conflict",
		    "the queue is its own dead-letter queue (its redrive policy "
		    "names it): nothing to list or move");
	else
		return true;
	return false;
}

/* Logs what a run could not do that its reply does not say. */
static void
log_run(const char *what, const struct tf_dlq_run *run, size_t left)
{
	if (run->failed)
		tf_log(TF_LOG_WARN, "api: %s: %s", what, run->reason);
	if (left > 0)
		tf_log(TF_LOG_WARN, "api: %s: %zu messages stay hidden in the "
		    "dead-letter queue for up to %d s: making them visible again "
		    "failed: %s", what, left, TF_DLQ_HOLD_S, run->release_reason);
}

/* --- GET /v1/dlq --------------------------------------------------------- */

enum MHD_Result
api_list_dlq(struct rq *rq)
{
	static const char *const allowed[] = { "limit", NULL };
	struct tf_dlq_run run = { 0 };
	struct seen s = { .rq = rq, .run = &run, .scope = API_SCOPE_READ };
	struct tf_sqs_depth depth;
	bool all = every_ns(rq), have_depth = false;
	long long limit;
	size_t i, shown, left;
	cJSON *o = NULL, *arr, *m;
	enum MHD_Result ret;

	if (!api_check_query(rq, allowed, &ret) ||
	    !query_limit(rq, LIST_DEFAULT, LIST_MAX, &limit, &ret) ||
	    !open_dlq(rq, &run, &ret))
		goto out;
	/* The depth before the listing hides the messages it receives; only
	 * for a key that sees them all. */
	if (all)
		have_depth = tf_sqs_queue_depth(run.aws, run.dlq_url, &depth) == TF_OK;
	shown = tf_dlq_collect(&run, (size_t)limit, all ? (size_t)limit :
	    SCAN_MAX, all ? NULL : visible, &s);
	left = tf_dlq_release(&run);
	log_run("listing the dead-letter queue", &run, left);
	if (run.failed && run.n == 0) {
		ret = api_error(rq, MHD_HTTP_BAD_GATEWAY, "aws_error", "%s",
		    run.reason);
		goto out;
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "messages");
	if (arr == NULL)
		goto oom;
	for (i = 0; i < run.n; i++) {
		if (run.v[i].act == TF_DLQ_HIDDEN)
			continue;
		tf_dlq_view_task(&run, &run.v[i]);
		m = tf_dlq_msg_json(&run.v[i]);
		if (m == NULL)
			goto oom;
		cJSON_AddItemToArray(arr, m);
	}
	if ((have_depth ? cJSON_AddNumberToObject(o, "depth",
	    (double)depth.visible) : cJSON_AddNullToObject(o, "depth")) == NULL ||
	    cJSON_AddBoolToObject(o, "limit_reached",
	    shown >= (size_t)limit) == NULL ||
	    (run.failed ? cJSON_AddStringToObject(o, "warning", run.reason) :
	    cJSON_AddNullToObject(o, "warning")) == NULL)
		goto oom;
	ret = api_reply_json(rq, MHD_HTTP_OK, o);
	goto out;
oom:
	ret = api_oom(rq);
out:
	cJSON_Delete(o);
	tf_dlq_run_free(&run);
	return ret;
}

/* --- POST /v1/dlq/redrive ------------------------------------------------ */

enum MHD_Result
api_redrive_dlq(struct rq *rq)
{
	static const char *const allowed[] = { "limit", "task", "message_id",
	    "dry_run", "include_malformed", NULL };
	struct tf_dlq_run run = { 0 };
	struct seen s = { .rq = rq, .run = &run, .scope = API_SCOPE_WRITE };
	struct tf_dlq_redrive_opts o = { 0 };
	struct tf_dlq_redrive_result res;
	cJSON *j = NULL;
	enum MHD_Result ret;

	if (!api_check_query(rq, allowed, &ret) ||
	    !query_limit(rq, REDRIVE_DEFAULT, REDRIVE_MAX, &o.limit, &ret) ||
	    !query_bool(rq, "dry_run", &o.dry_run, &ret) ||
	    !query_bool(rq, "include_malformed", &o.include_malformed, &ret))
		goto out;
	o.task = api_query(rq, "task");
	o.message_id = api_query(rq, "message_id");
	if (o.task != NULL && !tf_task_id_valid(o.task)) {
		ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "task: must be 1 to %d printable characters without spaces",
		    TF_TASK_ID_MAX);
		goto out;
	}
	if (o.message_id != NULL && (o.message_id[0] == '\0' ||
	    strlen(o.message_id) > 100)) {
		ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "message_id: must be 1 to 100 characters");
		goto out;
	}
	if (o.task != NULL && o.include_malformed) {
		ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "include_malformed: cannot go with task (a malformed body names "
		    "no task)");
		goto out;
	}
	if (!open_dlq(rq, &run, &ret))
		goto out;
	/* A request holds what it receives: at most SCAN_MAX. */
	o.max_held = SCAN_MAX;
	if (!every_ns(rq)) {
		o.visible = visible;
		o.cls = &s;
	}
	tf_dlq_redrive(&run, &o, &res);
	log_run("redriving the dead-letter queue", &run, res.left);
	if (!o.dry_run && res.count[TF_DLQ_MOVED] > 0)
		tf_log(TF_LOG_INFO, "api: moved %zu messages from the dead-letter "
		    "queue to the queue", res.count[TF_DLQ_MOVED]);
	if (run.failed && run.n == 0) {
		ret = api_error(rq, MHD_HTTP_BAD_GATEWAY, "aws_error", "%s",
		    run.reason);
		goto out;
	}
	j = tf_dlq_redrive_json(&run, o.dry_run, &res);
	if (j == NULL || (run.failed ? cJSON_AddStringToObject(j, "warning",
	    run.reason) : cJSON_AddNullToObject(j, "warning")) == NULL) {
		ret = api_oom(rq);
		goto out;
	}
	ret = api_reply_json(rq, MHD_HTTP_OK, j);
out:
	cJSON_Delete(j);
	tf_dlq_run_free(&run);
	return ret;
}
