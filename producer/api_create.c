/*
 * api_create.c - POST /v1/tasks (api_handlers.h): one task, or a batch of up
 * to API_BATCH_MAX, each checked as `taskfleet submit` checks it before any
 * is written; an Idempotency-Key names the same tasks again.
 */
#include "api_handlers.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "aws/marshal.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "submit_spec.h"
#include "task/task.h"

#define IDEMPOTENCY_KEY_MAX 255

/* --- POST /v1/tasks ----------------------------------------------------- */

/* One task of a POST, as parsed. */
struct new_task {
	struct submit_opts o;          /* strings borrowed from the body's tree,
	                                  or from the buffers below */
	const char *type;
	char *params;                  /* owned: exact JSON text, or NULL */
	char max_runs[40];
	char id[80];                   /* the id an Idempotency-Key makes */
	struct submit_spec ss;
};

/* The id for Idempotency-Key key of a task in namespace ns (index: its place
 * in a batch, or -1): "idem-" and the hex SHA-256 of the three, so the same
 * key names the same task again, and different namespaces never share
 * one. */
static bool
idempotent_id(const char *key, const char *ns, long index, char out[80])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	struct tf_buf b = TF_BUF_INIT;
	bool ok;

	ok = tf_buf_append(&b, ns, strlen(ns) + 1) == TF_OK &&
	    tf_buf_append(&b, key, strlen(key) + 1) == TF_OK &&
	    (index < 0 || tf_buf_appendf(&b, "%ld", index) == TF_OK) &&
	    EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) &&
	    mdlen == 32;
	tf_buf_free(&b);
	if (!ok)
		return false;
	memcpy(out, "idem-", 5);
	for (i = 0; i < 32; i++)
		snprintf(out + 5 + 2 * i, 3, "%02x", md[i]);
	return true;
}

/*
 * Reads the fields of task object item (borrowed; av: the same object
 * marshalled with exact numbers) into *nt. Returns 0, or EXIT_USAGE /
 * EXIT_FAILED with a message naming the field in err.
 */
static int
parse_task(const cJSON *item, const cJSON *av, const char *idem, long index,
    struct new_task *nt, char *err, size_t errlen)
{
	static const char *const strings[] = { "at", "every", "cron", "tz",
	    "until", "ns", "id", "name", "description" };
	const char **dest[] = { &nt->o.at, &nt->o.every, &nt->o.cron,
	    &nt->o.tz, &nt->o.until, &nt->o.ns, &nt->o.id, &nt->o.name,
	    &nt->o.description };
	const cJSON *f;
	char num[40];
	size_t i;
	int code;

	submit_opts_init(&nt->o);
	if (!cJSON_IsObject(item)) {
		snprintf(err, errlen, "expected a task object ({\"type\": ...})");
		return EXIT_USAGE;
	}
	cJSON_ArrayForEach(f, item) {
		for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
			if (strcmp(f->string, strings[i]) == 0)
				break;
		if (i < sizeof(strings) / sizeof(strings[0])) {
			if (cJSON_IsNull(f))
				continue;
			if (!cJSON_IsString(f)) {
				snprintf(err, errlen, "%s: expected a string", f->string);
				return EXIT_USAGE;
			}
			*dest[i] = f->valuestring;
		} else if (strcmp(f->string, "type") == 0) {
			if (!cJSON_IsString(f)) {
				snprintf(err, errlen, "type: expected a string, a runner name");
				return EXIT_USAGE;
			}
			nt->type = f->valuestring;
		} else if (strcmp(f->string, "max_runs") == 0 ||
		    strcmp(f->string, "max_attempts") == 0) {
			if (cJSON_IsNull(f))
				continue;
			if (!cJSON_IsNumber(f)) {
				snprintf(err, errlen, "%s: expected a number", f->string);
				return EXIT_USAGE;
			}
			snprintf(num, sizeof(num), "%.17g", f->valuedouble);
			if (f->string[4] == 'r') {
				memcpy(nt->max_runs, num, sizeof(num));
				nt->o.max_runs = nt->max_runs;
			} else if ((code = submit_parse_max_attempts(num, SUBMIT_FIELDS,
			    &nt->o.max_attempts, err, errlen)) != 0) {
				return code;
			}
		} else if (strcmp(f->string, "params") == 0) {
			if (cJSON_IsNull(f))
				continue;
			if ((code = api_read_params_field(f, av, &nt->params, err,
			    errlen)) != 0)
				return code;
		} else {
			snprintf(err, errlen, "unknown field \"%.40s\"", f->string);
			return EXIT_USAGE;
		}
	}
	if (nt->type == NULL) {
		snprintf(err, errlen, "type: required (the runner that runs it)");
		return EXIT_USAGE;
	}
	if (idem != NULL) {
		if (nt->o.id != NULL) {
			snprintf(err, errlen, "id: give either id or an Idempotency-Key "
			    "header, not both");
			return EXIT_USAGE;
		}
		if (!idempotent_id(idem, nt->o.ns, index, nt->id)) {
			snprintf(err, errlen, "out of memory");
			return EXIT_FAILED;
		}
		nt->o.id = nt->id;
	}
	return 0;
}

/* Creates the checked task nt. *res: what happened, as JSON (caller frees);
 * *created: whether it is new. Returns false after replying with an error
 * (prefix: "tasks[i]: " in a batch, else ""). */
static bool
create_task(struct rq *rq, struct new_task *nt, int64_t now,
    const char *prefix, cJSON **res, bool *created, enum MHD_Result *ret)
{
	struct cli *c = rq->srv->cfg.cli;
	const struct tf_task_spec *spec = &nt->ss.spec;
	struct tf_task t;
	char errbuf[512], *id = NULL;
	int delay_s = 0;
	bool enqueue = false, sent = false, warn = false;
	enum tf_err rc;
	cJSON *o = NULL;

	memset(&t, 0, sizeof(t));
	*res = NULL;
	*created = false;
	rc = tf_task_create(c->ctx.aws, c->cfg.table, spec, now, &id, &enqueue,
	    errbuf, sizeof(errbuf));
	if (rc == TF_ERR_CONDITION && spec->id != NULL) {
		/* There already: the same task again (an id or Idempotency-Key
		 * repeated), unless another namespace holds the id. */
		rc = tf_task_get(c->ctx.aws, c->cfg.table, spec->id, &t, errbuf,
		    sizeof(errbuf));
		if (rc == TF_OK && strcmp(t.ns, spec->ns) != 0) {
			*ret = api_error(rq, MHD_HTTP_CONFLICT, "conflict", "%sid: \"%s\" "
			    "is taken", prefix, spec->id);
			goto fail;
		}
		if (rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) {
			*ret = api_error(rq, MHD_HTTP_CONFLICT, "conflict", "%sid: task "
			    "\"%s\" was deleted while it was being created again; retry",
			    prefix, spec->id);
			goto fail;
		}
		if (rc != TF_OK) {
			*ret = api_aws_fail(rq, "reading the existing task", rc);
			goto fail;
		}
		o = cJSON_CreateObject();
		if (o == NULL || cJSON_AddStringToObject(o, "id", t.id) == NULL ||
		    cJSON_AddFalseToObject(o, "created") == NULL ||
		    cJSON_AddStringToObject(o, "ns", t.ns) == NULL ||
		    cJSON_AddStringToObject(o, "type", t.type) == NULL ||
		    cJSON_AddStringToObject(o, "status",
		    tf_task_status_name(t.status)) == NULL ||
		    (t.next_run > 0 && cJSON_AddNumberToObject(o, "next_run",
		    (double)t.next_run) == NULL) ||
		    (t.schedule != NULL && !cJSON_AddItemToObject(o, "schedule",
		    cJSON_Duplicate(t.schedule, 1))) ||
		    cJSON_AddFalseToObject(o, "enqueued") == NULL)
			goto oom;
		goto done;
	}
	if (rc == TF_ERR_INVALID || rc == TF_ERR_TOO_LARGE) {
		*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s%s",
		    prefix, errbuf);
		goto fail;
	}
	if (rc != TF_OK) {
		*ret = api_aws_fail(rq, "writing the task", rc);
		goto fail;
	}
	*created = true;
	if (enqueue) {
		rc = tf_manage_send(c->ctx.aws, c->ctx.queue_url, id, 1,
		    spec->next_run, tf_now_ms(), &delay_s);
		sent = rc == TF_OK;
		warn = !sent;
		if (warn)
			tf_log(TF_LOG_WARN, "api: task %s was created, but sending its "
			    "queue message failed; the sweeper will enqueue it", id);
	}
	o = cJSON_CreateObject();
	if (o == NULL || cJSON_AddStringToObject(o, "id", id) == NULL ||
	    cJSON_AddTrueToObject(o, "created") == NULL ||
	    cJSON_AddStringToObject(o, "ns", spec->ns) == NULL ||
	    cJSON_AddStringToObject(o, "type", spec->type) == NULL ||
	    cJSON_AddStringToObject(o, "status", "PENDING") == NULL ||
	    cJSON_AddNumberToObject(o, "next_run", (double)spec->next_run) == NULL ||
	    (spec->schedule != NULL && !cJSON_AddItemToObject(o, "schedule",
	    cJSON_Duplicate(spec->schedule, 1))) ||
	    cJSON_AddBoolToObject(o, "enqueued", sent) == NULL ||
	    (sent && cJSON_AddNumberToObject(o, "delay_seconds", delay_s) == NULL) ||
	    (warn && cJSON_AddStringToObject(o, "warning", "sending the queue "
	    "message failed; the sweeper will enqueue it") == NULL))
		goto oom;
done:
	*res = o;
	tf_free(id);
	tf_task_free(&t);
	return true;
oom:
	*ret = api_oom(rq);
fail:
	cJSON_Delete(o);
	tf_free(id);
	tf_task_free(&t);
	return false;
}

enum MHD_Result
api_post_tasks(struct rq *rq)
{
	struct cli *c = rq->srv->cfg.cli;
	struct new_task *nt = NULL;
	cJSON *doc = NULL, *av = NULL, *out = NULL, *arr = NULL, *res;
	const cJSON *list = NULL, *avlist = NULL, *item, *itemav;
	const char *idem;
	char err[800], prefix[32] = "";
	size_t n = 1, i, n_created = 0;
	int64_t now, horizon;
	int code;
	bool batch, created;
	enum MHD_Result ret;

	if (!api_check_query(rq, (const char *const[]){ NULL }, &ret))
		return ret;
	if (!api_is_json(rq))
		return api_error(rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported_media_type", "the body must be application/json");
	idem = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	    "Idempotency-Key");
	if (idem != NULL && (idem[0] == '\0' ||
	    strlen(idem) > IDEMPOTENCY_KEY_MAX))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "Idempotency-Key: must be 1 to %d characters",
		    IDEMPOTENCY_KEY_MAX);
	if (rq->body.len == 0)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_json",
		    "the body is empty: expected a task object or {\"tasks\": [...]}");
	/* Strict JSON with every number exact (the params keep them). */
	if (tf_marshal_value_json_text(rq->body.data, rq->body.len, &av, err,
	    sizeof(err)) != TF_OK) {
		ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_json", "%s", err);
		goto out;
	}
	doc = cJSON_ParseWithLength(rq->body.data, rq->body.len);
	if (doc == NULL) {
		ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_json",
		    "the body is not JSON");
		goto out;
	}
	if (!cJSON_IsObject(doc)) {
		ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_json",
		    "expected a task object or {\"tasks\": [...]}");
		goto out;
	}
	list = cJSON_GetObjectItemCaseSensitive(doc, "tasks");
	batch = list != NULL;
	if (batch) {
		if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1 ||
		    cJSON_GetArraySize(list) > API_BATCH_MAX ||
		    cJSON_GetArraySize(doc) != 1) {
			ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "tasks: expected {\"tasks\": [...]} with 1 to %d task objects "
			    "and nothing else", API_BATCH_MAX);
			goto out;
		}
		n = (size_t)cJSON_GetArraySize(list);
		avlist = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(av, "M"), "tasks"), "L");
	}
	nt = tf_calloc(n, sizeof(*nt));
	if (nt == NULL)
		goto oom;
	now = tf_now_ms();
	horizon = c->cfg.horizon_ms > 0 ? c->cfg.horizon_ms : TF_ENQUEUE_HORIZON_MS;
	/* Every task is checked before any is written. */
	for (i = 0; i < n; i++) {
		item = batch ? cJSON_GetArrayItem(list, (int)i) : doc;
		itemav = batch ? cJSON_GetArrayItem(avlist, (int)i) : av;
		if (batch)
			snprintf(prefix, sizeof(prefix), "tasks[%zu]: ", i);
		code = parse_task(item, itemav, idem, batch ? (long)i : -1, &nt[i],
		    err, sizeof(err));
		if (code == 0 && !api_ns_allowed(rq, nt[i].o.ns, API_SCOPE_WRITE) &&
		    tf_task_ns_valid(nt[i].o.ns)) {
			ret = api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden", "%sns: this "
			    "API key may not write to namespace \"%s\"", prefix,
			    nt[i].o.ns);
			goto out;
		}
		if (code == 0)
			code = submit_spec_build(&nt[i].o, nt[i].type, nt[i].params,
			    SUBMIT_FIELDS, rq->srv->cfg.runners, NULL, now, horizon,
			    &nt[i].ss, err, sizeof(err));
		/* No max_attempts: the fleet's default, as `submit` has it. */
		if (code == 0 && nt[i].ss.spec.max_attempts == 0)
			nt[i].ss.spec.max_attempts = c->cfg.default_max_attempts;
		if (code == EXIT_USAGE) {
			ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s%s",
			    prefix, err);
			goto out;
		}
		if (code != 0) {
			ret = api_error(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			    "%s%s", prefix, err);
			goto out;
		}
	}
	if (batch) {
		out = cJSON_CreateObject();
		arr = cJSON_AddArrayToObject(out, "tasks");
		if (arr == NULL)
			goto oom;
	}
	for (i = 0; i < n; i++) {
		if (batch)
			snprintf(prefix, sizeof(prefix), "tasks[%zu]: ", i);
		if (!create_task(rq, &nt[i], now, prefix, &res, &created, &ret))
			goto out;
		n_created += created;
		if (!batch)
			out = res;
		else
			cJSON_AddItemToArray(arr, res);
	}
	ret = api_reply_json(rq, n_created > 0 ? MHD_HTTP_CREATED : MHD_HTTP_OK, out);
	goto out;
oom:
	ret = api_oom(rq);
out:
	for (i = 0; nt != NULL && i < n; i++) {
		submit_spec_free(&nt[i].ss);
		tf_free(nt[i].params);
	}
	tf_free(nt);
	cJSON_Delete(out);
	cJSON_Delete(doc);
	cJSON_Delete(av);
	return ret;
}
