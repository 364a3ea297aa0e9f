/*
 * api_manage.c - what an operator does beyond one task (api_handlers.h):
 * GET /v1/due, the dry run of the due tasks (`taskfleet due`), GET
 * /v1/namespaces, the namespaces, their tasks and whether each is paused,
 * and DELETE /v1/namespaces/{ns}, clearing a namespace (`taskfleet clear`).
 * They call task_manage.h as the CLI does and answer the CLI's JSON (cli.h)
 * where the CLI has the command.
 */
#include "api_handlers.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ddb.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "task/ns_pause.h"
#include "task/task.h"

/* --- GET /v1/due -------------------------------------------------------- */

enum MHD_Result
api_get_due(struct rq *rq)
{
	static const char *const allowed[] = { "ns", "limit", NULL };
	struct cli *c = rq->srv->cfg.cli;
	const char *ns, *v;
	long long limit = CLI_DUE_DEFAULT_LIMIT;
	cJSON *items = NULL, *o = NULL, *arr, *tj;
	const cJSON *it;
	int64_t now;
	int n = 0;
	enum MHD_Result ret;
	enum tf_err rc;

	if (!api_check_query(rq, allowed, &ret))
		return ret;
	if (!api_read_ns(rq, &ns, &ret))
		return ret;
	if ((v = api_query(rq, "limit")) != NULL &&
	    !cli_parse_int(v, 1, TF_TASK_LIST_MAX - 1, &limit))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "limit: expected a number from 1 to %d, got \"%.32s\"",
		    TF_TASK_LIST_MAX - 1, v);
	now = tf_now_ms();
	/* One more than asked says whether there are more. */
	rc = tf_manage_due(c->ctx.aws, c->cfg.table, ns, now, (int)limit + 1,
	    &items);
	if (rc != TF_OK)
		return api_aws_fail(rq, "reading the due tasks", rc);
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "tasks");
	if (arr == NULL)
		goto oom;
	cJSON_ArrayForEach(it, items) {
		if (n == limit)
			break;
		if (tf_ddb_item_s(it, "id") == NULL)
			continue;
		tj = cli_due_json(c, it, now);
		if (tj == NULL)
			goto oom;
		cJSON_AddItemToArray(arr, tj);
		n++;
	}
	if (cJSON_AddNumberToObject(o, "now", (double)now) == NULL ||
	    cJSON_AddBoolToObject(o, "more",
	    cJSON_GetArraySize(items) > limit) == NULL)
		goto oom;
	ret = api_reply_json(rq, MHD_HTTP_OK, o);
	goto out;
oom:
	ret = api_oom(rq);
out:
	cJSON_Delete(o);
	cJSON_Delete(items);
	return ret;
}

/* --- GET /v1/namespaces ------------------------------------------------- */

/* qsort() order of cJSON items by name. */
static int
by_name(const void *a, const void *b)
{
	return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

enum MHD_Result
api_list_namespaces(struct rq *rq)
{
	static const char *const allowed[] = { NULL };
	struct cli *c = rq->srv->cfg.cli;
	cJSON *by_ns = NULL, *o = NULL, *arr, *e, **sorted = NULL;
	const cJSON *it;
	struct tf_ns_paused paused = { NULL, 0 };
	int64_t without = 0;
	size_t n = 0, i;
	enum MHD_Result ret;
	enum tf_err rc;

	if (!api_check_query(rq, allowed, &ret))
		return ret;
	rc = tf_manage_namespaces(c->ctx.aws, c->cfg.table, &by_ns, &without);
	if (rc != TF_OK)
		return api_aws_fail(rq, "listing the namespaces", rc);
	rc = tf_ns_paused_read(c->ctx.aws, c->cfg.table, &paused);
	if (rc != TF_OK) {
		cJSON_Delete(by_ns);
		return api_aws_fail(rq, "reading the paused namespaces", rc);
	}
	/* A paused namespace is listed even with no task left in it, so the
	 * console can resume it. */
	for (i = 0; i < paused.n; i++)
		if (!cJSON_HasObjectItem(by_ns, paused.names[i]) &&
		    cJSON_AddNumberToObject(by_ns, paused.names[i], 0) == NULL)
			goto oom;
	sorted = tf_calloc((size_t)cJSON_GetArraySize(by_ns) + 1, sizeof(*sorted));
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "namespaces");
	if (sorted == NULL || arr == NULL)
		goto oom;
	/* A key limited to some namespaces sees those only. */
	cJSON_ArrayForEach(it, by_ns)
		if (api_ns_allowed(rq, it->string, API_SCOPE_READ))
			sorted[n++] = (cJSON *)(uintptr_t)it;
	qsort(sorted, n, sizeof(*sorted), by_name);
	for (i = 0; i < n; i++) {
		e = cJSON_CreateObject();
		if (e == NULL)
			goto oom;
		cJSON_AddItemToArray(arr, e);
		if (cJSON_AddStringToObject(e, "ns", sorted[i]->string) == NULL ||
		    cJSON_AddNumberToObject(e, "tasks", sorted[i]->valuedouble) == NULL ||
		    cJSON_AddBoolToObject(e, "paused",
		    tf_ns_paused_has(&paused, sorted[i]->string)) == NULL)
			goto oom;
	}
	if ((rq->key == NULL || rq->key->all_ns ?
	    cJSON_AddNumberToObject(o, "without_ns", (double)without) :
	    cJSON_AddNullToObject(o, "without_ns")) == NULL)
		goto oom;
	ret = api_reply_json(rq, MHD_HTTP_OK, o);
	goto out;
oom:
	ret = api_oom(rq);
out:
	tf_free(sorted);
	cJSON_Delete(o);
	cJSON_Delete(by_ns);
	tf_ns_paused_free(&paused);
	return ret;
}

/* --- DELETE /v1/namespaces/{ns} ------------------------------------------ */

enum MHD_Result
api_clear_namespace(struct rq *rq, const char *ns)
{
	static const char *const allowed[] = { "confirm", NULL };
	struct cli *c = rq->srv->cfg.cli;
	const char *confirm;
	char reason[800];
	int64_t deleted = 0;
	cJSON *o;
	enum MHD_Result ret;
	enum tf_err rc;

	if (!api_check_query(rq, allowed, &ret) || !api_write_ns(rq, ns, &ret))
		return ret;
	/* The confirmation: the namespace's name again, as a person types it
	 * at `taskfleet clear`'s prompt. */
	confirm = api_query(rq, "confirm");
	if (confirm == NULL || strcmp(confirm, ns) != 0)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "confirm: must be the namespace's name (\"%s\") to delete every "
		    "task in it", ns);
	rc = tf_manage_clear_ns(c->ctx.aws, c->cfg.table, ns, &deleted);
	if (rc != TF_OK) {
		cli_aws_reason(rc, reason, sizeof(reason));
		tf_log(TF_LOG_WARN, "api: clearing namespace %s: deleted %" PRId64
		    ", then failed: %s", ns, deleted, reason);
		return api_aws_fail(rq, "clearing the namespace", rc);
	}
	tf_log(TF_LOG_INFO, "api: cleared namespace %s: deleted %" PRId64
	    " tasks", ns, deleted);
	o = cli_clear_json(ns, deleted);
	if (o == NULL)
		return api_oom(rq);
	ret = api_reply_json(rq, MHD_HTTP_OK, o);
	cJSON_Delete(o);
	return ret;
}

/* --- POST /v1/namespaces/{ns}/pause and /resume -------------------------- */

enum MHD_Result
api_pause_namespace(struct rq *rq, const char *ns, bool pause)
{
	static const char *const allowed[] = { NULL };
	struct cli *c = rq->srv->cfg.cli;
	char errbuf[512];
	int64_t resumed = 0, failed = 0;
	bool unpaused = false;
	cJSON *o;
	enum MHD_Result ret;
	enum tf_err rc;

	if (!api_check_query(rq, allowed, &ret) || !api_write_ns(rq, ns, &ret))
		return ret;
	/* Both answer once every consumer follows (2 s: ns_pause.h). */
	if (pause)
		rc = tf_ns_pause(c->ctx.aws, c->cfg.table, ns);
	else
		rc = tf_ns_resume(c->ctx.aws, c->cfg.table, c->ctx.queue_url, ns,
		    c->cfg.horizon_ms, &unpaused, &resumed, &failed, errbuf,
		    sizeof(errbuf));
	if (rc != TF_OK)
		return api_aws_fail(rq, pause ? "pausing the namespace" : unpaused ?
		    "resuming the tasks the pause suspended (the namespace is no "
		    "longer paused; resume again)" : "resuming the namespace", rc);
	tf_log(TF_LOG_INFO, "api: %s namespace %s%s", pause ? "paused" :
	    "resumed", ns, pause ? "" : " and its suspended tasks");
	if (failed > 0)
		tf_log(TF_LOG_WARN, "api: %" PRId64 " tasks of %s not resumed, "
		    "e.g. %s", failed, ns, errbuf);
	o = cli_ns_pause_json(ns, pause, resumed, failed);
	if (o == NULL)
		return api_oom(rq);
	ret = api_reply_json(rq, MHD_HTTP_OK, o);
	cJSON_Delete(o);
	return ret;
}
