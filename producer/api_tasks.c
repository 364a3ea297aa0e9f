/*
 * api_tasks.c - the REST API's handlers of existing tasks (api_handlers.h):
 * GET and DELETE /v1/tasks/{id}, its actions (suspend, resume, run, retry),
 * GET /v1/tasks (a namespace's tasks, paged) and PATCH /v1/tasks/{id}.
 */
#include "api_handlers.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "aws/ddb.h"
#include "aws/marshal.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "submit_spec.h"
#include "task/task.h"
#include "time/timefmt.h"

#define LIST_DEFAULT_LIMIT 50

/* --- tasks by id -------------------------------------------------------- */

/* The task as JSON, as `taskfleet get --json` prints it. NULL when out of
 * memory; caller frees with cJSON_Delete(). */
static cJSON *
task_json(const struct tf_task *t)
{
	cJSON *o = NULL;

	if (tf_task_to_json(t, &o) != TF_OK)
		return NULL;
	if (t->suspend_requested &&
	    cJSON_GetObjectItemCaseSensitive(o, "suspend_requested") == NULL &&
	    cJSON_AddTrueToObject(o, "suspend_requested") == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Reads task id for the request into *t (tf_task_free() it either way).
 * Returns false after replying: 404 when there is none or it is in a
 * namespace the key may not see. */
static bool
load_task(struct rq *rq, const char *id, struct tf_task *t,
    enum MHD_Result *ret)
{
	struct cli *c = rq->srv->cfg.cli;
	char errbuf[256];
	enum tf_err rc;

	memset(t, 0, sizeof(*t));
	rc = tf_task_get(c->ctx.aws, c->cfg.table, id, t, errbuf, sizeof(errbuf));
	if ((rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) ||
	    (rc == TF_OK && !api_ns_allowed(rq, t->ns, API_SCOPE_READ))) {
		*ret = api_error(rq, MHD_HTTP_NOT_FOUND, "not_found",
		    "no task \"%s\"", id);
		return false;
	}
	if (rc == TF_ERR_PARSE) {
		*ret = api_error(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "the item \"%s\" is not a task: %s", id, errbuf);
		return false;
	}
	if (rc != TF_OK) {
		*ret = api_aws_fail(rq, "reading the task", rc);
		return false;
	}
	return true;
}

enum MHD_Result
api_get_task(struct rq *rq, const char *id)
{
	struct tf_task t;
	enum MHD_Result ret;
	cJSON *o;

	if (!load_task(rq, id, &t, &ret))
		goto out;
	o = task_json(&t);
	ret = o != NULL ? api_reply_json(rq, MHD_HTTP_OK, o) : api_oom(rq);
	cJSON_Delete(o);
out:
	tf_task_free(&t);
	return ret;
}

enum MHD_Result
api_delete_task(struct rq *rq, const char *id)
{
	struct cli *c = rq->srv->cfg.cli;
	struct tf_task t;
	enum MHD_Result ret;
	enum tf_err rc;
	cJSON *o = NULL;

	/* Read first: the namespace decides whether this key may. */
	if (!load_task(rq, id, &t, &ret))
		goto out;
	rc = tf_task_delete(c->ctx.aws, c->cfg.table, id);
	if (rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) {
		ret = api_error(rq, MHD_HTTP_NOT_FOUND, "not_found", "no task \"%s\"",
		    id);
		goto out;
	}
	if (rc != TF_OK) {
		ret = api_aws_fail(rq, "deleting the task", rc);
		goto out;
	}
	o = cJSON_CreateObject();
	if (o == NULL || cJSON_AddStringToObject(o, "id", id) == NULL ||
	    cJSON_AddTrueToObject(o, "deleted") == NULL)
		ret = api_oom(rq);
	else
		ret = api_reply_json(rq, MHD_HTTP_OK, o);
out:
	cJSON_Delete(o);
	tf_task_free(&t);
	return ret;
}

/* The body of POST /v1/tasks/{id}/retry: none, or {"at": TIME or null}
 * (ISO 8601 or +DURATION, as submit's). Sets *at_ms (0: now). Returns false
 * after replying 400 or 415. */
static bool
retry_body(struct rq *rq, int64_t *at_ms, enum MHD_Result *ret)
{
	cJSON *doc = NULL;
	const cJSON *f;
	char err[256];
	bool ok = false;

	*at_ms = 0;
	if (rq->body.len == 0)
		return true;
	if (!api_is_json(rq)) {
		*ret = api_error(rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported_media_type", "the body must be application/json");
		return false;
	}
	doc = cJSON_ParseWithLength(rq->body.data, rq->body.len);
	if (doc == NULL || !cJSON_IsObject(doc)) {
		*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_json",
		    "expected an object: {\"at\": TIME} or nothing");
		goto out;
	}
	cJSON_ArrayForEach(f, doc) {
		if (strcmp(f->string, "at") != 0) {
			*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "unknown field \"%.40s\" (at)", f->string);
			goto out;
		}
		if (cJSON_IsNull(f))
			continue;
		if (!cJSON_IsString(f) ||
		    tf_timefmt_parse(f->valuestring, tf_now_ms(), at_ms, err,
		    sizeof(err)) != TF_OK) {
			*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "at: %s", cJSON_IsString(f) ? err : "expected a string "
			    "(ISO 8601 or +DURATION)");
			goto out;
		}
	}
	ok = true;
out:
	cJSON_Delete(doc);
	return ok;
}

/* suspend, resume, run, retry: tf_manage_change() or tf_manage_retry(), as
 * the CLI's commands do. */
enum MHD_Result
api_change_task(struct rq *rq, const char *id, enum tf_manage_action action,
    const char *name)
{
	struct cli *c = rq->srv->cfg.cli;
	struct tf_manage_result r;
	struct tf_task t;
	char errbuf[512], reason[800];
	int64_t horizon, at_ms = 0;
	int delay_s = 0;
	bool sent = false;
	enum MHD_Result ret;
	enum tf_err rc;
	cJSON *o = NULL;

	memset(&t, 0, sizeof(t));
	if (action == TF_MANAGE_RETRY && !retry_body(rq, &at_ms, &ret))
		goto out;
	if (!load_task(rq, id, &t, &ret))
		goto out;
	horizon = c->cfg.horizon_ms > 0 ? c->cfg.horizon_ms : TF_ENQUEUE_HORIZON_MS;
	if (action == TF_MANAGE_RETRY)
		rc = tf_manage_retry(c->ctx.aws, c->cfg.table, id, at_ms, tf_now_ms(),
		    horizon, c->cfg.history_kept, &r, errbuf, sizeof(errbuf));
	else
		rc = tf_manage_change(c->ctx.aws, c->cfg.table, id, action,
		    tf_now_ms(), horizon, &r, errbuf, sizeof(errbuf));
	if (rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) {
		ret = api_error(rq, MHD_HTTP_NOT_FOUND, "not_found", "no task \"%s\"",
		    id);
		goto out;
	}
	if (rc == TF_ERR_PARSE) {
		ret = api_error(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "the item \"%s\" is not a task: %s", id, errbuf);
		goto out;
	}
	if (rc == TF_ERR_CONDITION) {
		ret = api_error(rq, MHD_HTTP_CONFLICT, "conflict", "%s", errbuf);
		goto out;
	}
	if (rc != TF_OK) {
		ret = api_aws_fail(rq, "changing the task", rc);
		goto out;
	}
	if (r.verdict == TF_MANAGE_REFUSE) {
		ret = api_error(rq, MHD_HTTP_CONFLICT, "conflict", "%s",
		    tf_manage_refusal(action, id, r.found, r.suspend_requested, reason,
		    sizeof(reason)));
		goto out;
	}
	reason[0] = '\0';
	if (r.enqueue_at > 0) {
		rc = tf_manage_send(c->ctx.aws, c->ctx.queue_url, r.priority, id, r.gen,
		    r.enqueue_at, tf_now_ms(), &delay_s);
		if (rc == TF_OK)
			sent = true;
		else
			/* The write stands; the sweeper sends the message. */
			cli_aws_reason(rc, reason, sizeof(reason));
	}
	o = cJSON_CreateObject();
	if (o == NULL ||
	    cJSON_AddStringToObject(o, "id", id) == NULL ||
	    cJSON_AddStringToObject(o, "action", name) == NULL ||
	    cJSON_AddStringToObject(o, "result", tf_manage_verdict_name(r.verdict)) == NULL ||
	    cJSON_AddStringToObject(o, "status", tf_task_status_name(r.status)) == NULL ||
	    cJSON_AddBoolToObject(o, "suspend_requested",
	    r.verdict == TF_MANAGE_REQUEST ||
	    (r.verdict == TF_MANAGE_ALREADY && r.status == TF_TASK_PROCESSING)) == NULL ||
	    cJSON_AddNumberToObject(o, "gen", (double)r.gen) == NULL ||
	    (r.next_run > 0 &&
	    cJSON_AddNumberToObject(o, "next_run", (double)r.next_run) == NULL) ||
	    cJSON_AddBoolToObject(o, "enqueued", sent) == NULL ||
	    (sent && cJSON_AddNumberToObject(o, "delay_seconds", delay_s) == NULL) ||
	    (reason[0] != '\0' && cJSON_AddStringToObject(o, "warning",
	    "sending the queue message failed; the sweeper will enqueue it") == NULL))
		ret = api_oom(rq);
	else
		ret = api_reply_json(rq, MHD_HTTP_OK, o);
out:
	cJSON_Delete(o);
	tf_task_free(&t);
	return ret;
}

/* --- GET /v1/tasks ------------------------------------------------------ */

enum MHD_Result
api_list_tasks(struct rq *rq)
{
	static const char *const allowed[] = { "ns", "status", "from", "to",
	    "limit", "next", NULL };
	struct cli *c = rq->srv->cfg.cli;
	struct tf_task_list_query q = { 0 };
	struct tf_task t;
	cJSON *cursor = NULL, *items = NULL, *o = NULL, *arr, *tj;
	const cJSON *it;
	const char *v;
	char errbuf[512], *token = NULL;
	long long limit = LIST_DEFAULT_LIMIT;
	int64_t now = tf_now_ms();
	enum MHD_Result ret;
	enum tf_err rc;

	if (!api_check_query(rq, allowed, &ret))
		return ret;
	q.ns = api_query(rq, "ns") ? api_query(rq, "ns") : TF_DEFAULT_NS;
	/* ns=*: every namespace, for a key that may read them all. */
	q.all_ns = strcmp(q.ns, "*") == 0;
	if (q.all_ns && rq->key != NULL && !rq->key->all_ns)
		return api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "this API key may read only some namespaces: ns=* lists every "
		    "namespace; give one of the key's");
	if (!q.all_ns && !tf_task_ns_valid(q.ns))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "ns: must be 1 to %d of A-Z a-z 0-9 _ . -, or * for every "
		    "namespace", TF_TASK_NS_MAX);
	if (!q.all_ns && !api_ns_allowed(rq, q.ns, API_SCOPE_READ))
		return api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "this API key may not read namespace \"%s\"", q.ns);
	if ((v = api_query(rq, "status")) != NULL) {
		if (!cli_parse_status(v, &q.status))
			return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "status: \"%.32s\" is not one of PENDING, PROCESSING, "
			    "COMPLETED, FAILED, SUSPENDED", v);
		q.has_status = true;
	}
	if ((v = api_query(rq, "from")) != NULL) {
		if (tf_timefmt_parse(v, now, &q.from_ms, errbuf, sizeof(errbuf)) != TF_OK)
			return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "from: %s", errbuf);
		q.has_from = true;
	}
	if ((v = api_query(rq, "to")) != NULL) {
		if (tf_timefmt_parse(v, now, &q.to_ms, errbuf, sizeof(errbuf)) != TF_OK)
			return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "to: %s", errbuf);
		q.has_to = true;
	}
	if (q.has_from && q.has_to && q.from_ms > q.to_ms)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "from is after to");
	if ((v = api_query(rq, "limit")) != NULL &&
	    !cli_parse_int(v, 1, TF_TASK_LIST_MAX, &limit))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "limit: expected a number from 1 to %d, got \"%.32s\"",
		    TF_TASK_LIST_MAX, v);
	q.limit = (int)limit;
	if ((v = api_query(rq, "next")) != NULL &&
	    tf_task_list_token_decode(v, q.ns, &cursor, errbuf,
	    sizeof(errbuf)) != TF_OK)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "next: %s", errbuf);

	rc = tf_task_list_page(c->ctx.aws, c->cfg.table, &q, &cursor, &items);
	if (rc != TF_OK) {
		ret = api_aws_fail(rq, "listing the tasks", rc);
		goto out;
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "tasks");
	if (arr == NULL)
		goto oom;
	cJSON_ArrayForEach(it, items) {
		rc = tf_task_from_item(it, &t, errbuf, sizeof(errbuf));
		if (rc != TF_OK) {
			/* One odd item does not hide the others. */
			tf_log(TF_LOG_WARN, "api: skipping item \"%s\", not a task: %s",
			    tf_ddb_item_s(it, "id") ? tf_ddb_item_s(it, "id") : "?",
			    errbuf);
			tf_task_free(&t);
			continue;
		}
		tj = task_json(&t);
		tf_task_free(&t);
		if (tj == NULL)
			goto oom;
		cJSON_AddItemToArray(arr, tj);
	}
	if (cursor != NULL && tf_task_list_token_encode(cursor, &token) != TF_OK)
		goto oom;
	if ((token != NULL ? cJSON_AddStringToObject(o, "next", token) :
	    cJSON_AddNullToObject(o, "next")) == NULL)
		goto oom;
	ret = api_reply_json(rq, MHD_HTTP_OK, o);
	goto out;
oom:
	ret = api_oom(rq);
out:
	tf_free(token);
	cJSON_Delete(o);
	cJSON_Delete(items);
	cJSON_Delete(cursor);
	return ret;
}

/* --- PATCH /v1/tasks/{id} ----------------------------------------------- */

/* The fields of a PATCH body, borrowed from the parsed body. */
struct patch_body {
	struct submit_opts o;          /* every, cron, tz, max_runs, until; at:
	                                  next_run */
	char max_runs[40];
	char *params;                  /* exact text; owned */
	bool has_schedule;             /* any of the schedule fields */
	bool clear_schedule;           /* every or cron null: a one-shot */
	bool has_any;
	bool set_priority;             /* priority was given */
	enum tf_priority priority;
};

/* Reads the PATCH body doc (av: the same, marshalled with exact numbers).
 * Returns 0, or EXIT_USAGE / EXIT_FAILED with a message naming the field. */
static int
parse_patch(const cJSON *doc, const cJSON *av, struct patch_body *pb,
    char *err, size_t errlen)
{
	static const char *const strings[] = { "every", "cron", "tz", "until",
	    "next_run" };
	const char **dest[] = { &pb->o.every, &pb->o.cron, &pb->o.tz,
	    &pb->o.until, &pb->o.at };
	const cJSON *f;
	char num[40];
	size_t i;
	int code;

	submit_opts_init(&pb->o);
	cJSON_ArrayForEach(f, doc) {
		pb->has_any = true;
		for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
			if (strcmp(f->string, strings[i]) == 0)
				break;
		if (i < sizeof(strings) / sizeof(strings[0])) {
			/* every or cron null: no schedule, the next run is the
			 * last. */
			if (i < 2 && cJSON_IsNull(f)) {
				pb->clear_schedule = true;
				continue;
			}
			if (!cJSON_IsString(f)) {
				snprintf(err, errlen, "%s: expected a string%s", f->string,
				    i < 2 ? " (or null: no schedule)" : "");
				return EXIT_USAGE;
			}
			*dest[i] = f->valuestring;
			if (i < 4)
				pb->has_schedule = true;
		} else if (strcmp(f->string, "max_runs") == 0 ||
		    strcmp(f->string, "max_attempts") == 0) {
			if (!cJSON_IsNumber(f)) {
				snprintf(err, errlen, "%s: expected a number", f->string);
				return EXIT_USAGE;
			}
			snprintf(num, sizeof(num), "%.17g", f->valuedouble);
			if (f->string[4] == 'r') {
				memcpy(pb->max_runs, num, sizeof(num));
				pb->o.max_runs = pb->max_runs;
				pb->has_schedule = true;
			} else if ((code = submit_parse_max_attempts(num, SUBMIT_FIELDS,
			    &pb->o.max_attempts, err, errlen)) != 0) {
				return code;
			}
		} else if (strcmp(f->string, "params") == 0) {
			if ((code = api_read_params_field(f, av, &pb->params, err,
			    errlen)) != 0)
				return code;
		} else if (strcmp(f->string, "name") == 0 ||
		    strcmp(f->string, "description") == 0) {
			/* null or "" removes it. */
			if (!cJSON_IsNull(f) && !cJSON_IsString(f)) {
				snprintf(err, errlen, "%s: expected a string or null",
				    f->string);
				return EXIT_USAGE;
			}
			*(f->string[0] == 'n' ? &pb->o.name : &pb->o.description) =
			    cJSON_IsNull(f) ? "" : f->valuestring;
		} else if (strcmp(f->string, "priority") == 0) {
			if (!cJSON_IsString(f) || !tf_priority_parse(f->valuestring,
			    &pb->priority)) {
				snprintf(err, errlen, "priority: must be %s",
				    TF_PRIORITY_SYNTAX);
				return EXIT_USAGE;
			}
			pb->set_priority = true;
		} else {
			snprintf(err, errlen, "unknown field \"%.40s\" (params, every, "
			    "cron, tz, max_runs, until, next_run, max_attempts, name, "
			    "description, priority)", f->string);
			return EXIT_USAGE;
		}
	}
	if (!pb->has_any) {
		snprintf(err, errlen, "nothing to change: give params, every, cron "
		    "(with tz), max_runs, until, next_run, max_attempts, name, "
		    "description or priority");
		return EXIT_USAGE;
	}
	if (tf_task_labels_check(pb->o.name, pb->o.description, err,
	    errlen) != TF_OK)
		return EXIT_USAGE;
	if (pb->has_schedule && pb->o.every == NULL && pb->o.cron == NULL) {
		snprintf(err, errlen, "%s: the schedule is replaced whole: give every "
		    "or cron with it%s", pb->o.tz != NULL ? "tz" :
		    pb->o.max_runs != NULL ? "max_runs" : "until",
		    pb->clear_schedule ? " (every or cron null leaves no schedule)" :
		    "");
		return EXIT_USAGE;
	}
	return 0;
}

/* Replies 409 for task id found in a state that may not be patched, or
 * changed by another writer (raced: a lost race, read again). */
static enum MHD_Result
patch_conflict(struct rq *rq, const char *id, bool raced)
{
	struct tf_task t;
	enum MHD_Result ret;
	char reason[512];

	if (!load_task(rq, id, &t, &ret))
		goto out;
	if (!tf_manage_patchable(t.status))
		ret = api_error(rq, MHD_HTTP_CONFLICT, "conflict", "%s",
		    tf_manage_patch_refusal(id, t.status, reason, sizeof(reason)));
	else
		ret = api_error(rq, MHD_HTTP_CONFLICT, "conflict", "task %s %s "
		    "(it is %s, gen %" PRId64 " now); read it again and retry", id,
		    raced ? "changed while it was being changed" : "changed",
		    tf_task_status_name(t.status), t.gen);
out:
	tf_task_free(&t);
	return ret;
}

enum MHD_Result
api_patch_task(struct rq *rq, const char *id)
{
	struct cli *c = rq->srv->cfg.cli;
	struct patch_body pb;
	struct submit_spec ss;
	struct tf_manage_patch p = { 0 };
	struct tf_manage_result r;
	struct tf_task t;
	cJSON *doc = NULL, *av = NULL, *o = NULL;
	char err[800];
	int64_t now, horizon;
	int code, delay_s = 0;
	bool at;
	enum MHD_Result ret;
	enum tf_err rc;

	memset(&pb, 0, sizeof(pb));
	memset(&ss, 0, sizeof(ss));
	memset(&t, 0, sizeof(t));
	if (!api_check_query(rq, (const char *const[]){ NULL }, &ret))
		return ret;
	if (!api_is_json(rq))
		return api_error(rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported_media_type", "the body must be application/json");
	if (rq->body.len == 0)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_json",
		    "the body is empty: expected an object of the fields to change");
	if (tf_marshal_value_json_text(rq->body.data, rq->body.len, &av, err,
	    sizeof(err)) != TF_OK) {
		ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_json", "%s", err);
		goto out;
	}
	doc = cJSON_ParseWithLength(rq->body.data, rq->body.len);
	if (doc == NULL || !cJSON_IsObject(doc)) {
		ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_json",
		    "expected an object of the fields to change");
		goto out;
	}
	code = parse_patch(doc, av, &pb, err, sizeof(err));
	if (code != 0) {
		ret = api_error(rq, code == EXIT_USAGE ? MHD_HTTP_BAD_REQUEST :
		    MHD_HTTP_INTERNAL_SERVER_ERROR, code == EXIT_USAGE ?
		    "invalid_field" : "internal", "%s", err);
		goto out;
	}
	if (!load_task(rq, id, &t, &ret))
		goto out;
	if (!api_ns_allowed(rq, t.ns, API_SCOPE_WRITE)) {
		ret = api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden", "this API key "
		    "may not write to namespace \"%s\"", t.ns);
		goto out;
	}
	if (!tf_manage_patchable(t.status)) {
		ret = api_error(rq, MHD_HTTP_CONFLICT, "conflict", "%s",
		    tf_manage_patch_refusal(id, t.status, err, sizeof(err)));
		goto out;
	}
	now = tf_now_ms();
	horizon = c->cfg.horizon_ms > 0 ? c->cfg.horizon_ms : TF_ENQUEUE_HORIZON_MS;
	if (pb.has_schedule || pb.o.at != NULL) {
		/* The checks of submit, on the task's own type and namespace and
		 * the params it will have. */
		code = submit_patch_schedule(&pb.o, &t, pb.params, SUBMIT_FIELDS,
		    rq->srv->cfg.runners, now, horizon, &ss, &p, err, sizeof(err));
		if (code != 0) {
			/* submit's "at" is this body's "next_run". */
			at = strncmp(err, "at:", 3) == 0;
			ret = api_error(rq, code == EXIT_USAGE ? MHD_HTTP_BAD_REQUEST :
			    MHD_HTTP_INTERNAL_SERVER_ERROR, code == EXIT_USAGE ?
			    "invalid_field" : "internal", "%s%s", at ? "next_run:" : "",
			    at ? err + 3 : err);
			goto out;
		}
	} else if (pb.params != NULL &&
	    submit_validate_params(rq->srv->cfg.runners, t.type, pb.params,
	    SUBMIT_FIELDS, err, sizeof(err)) != 0) {
		/* New params only: the task's runner checks them when it is
		 * installed here. */
		ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s", err);
		goto out;
	}
	p.params_json = pb.params;
	p.max_attempts = pb.o.max_attempts;
	p.clear_schedule = pb.clear_schedule && p.schedule == NULL;
	p.name = pb.o.name;
	p.description = pb.o.description;
	p.set_priority = pb.set_priority;
	p.priority = pb.priority;
	rc = tf_manage_patch(c->ctx.aws, c->cfg.table, &t, &p, now, horizon, &r,
	    err, sizeof(err));
	if (rc == TF_ERR_CONDITION) {
		ret = patch_conflict(rq, id, true);
		goto out;
	}
	if (rc == TF_ERR_INVALID) {
		ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s", err);
		goto out;
	}
	if (rc != TF_OK) {
		ret = api_aws_fail(rq, "changing the task", rc);
		goto out;
	}
	if (r.verdict == TF_MANAGE_REFUSE) {
		ret = patch_conflict(rq, id, false);
		goto out;
	}
	if (r.enqueue_at > 0 &&
	    tf_manage_send(c->ctx.aws, c->ctx.queue_url, r.priority, id, r.gen, r.enqueue_at,
	    tf_now_ms(), &delay_s) != TF_OK)
		/* The write stands; the sweeper sends the message. */
		tf_log(TF_LOG_WARN, "api: task %s was changed, but sending its "
		    "queue message failed; the sweeper will enqueue it", id);
	/* The task as it is now. */
	tf_task_free(&t);
	if (!load_task(rq, id, &t, &ret))
		goto out;
	o = task_json(&t);
	ret = o != NULL ? api_reply_json(rq, MHD_HTTP_OK, o) : api_oom(rq);
out:
	cJSON_Delete(o);
	cJSON_Delete(doc);
	cJSON_Delete(av);
	tf_free(pb.params);
	submit_spec_free(&ss);
	tf_task_free(&t);
	return ret;
}
