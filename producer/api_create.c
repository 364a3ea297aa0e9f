/*
 * api_create.c - POST /v1/tasks (api_handlers.h): one task, or a batch of up
 * to API_BATCH_MAX, each checked as `taskfleet submit` checks it before any
 * is written; an Idempotency-Key names the same tasks again.
 */
#include "api_handlers.h"

#include <stdarg.h>
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
#include "task/task_bulk.h"

#define IDEMPOTENCY_KEY_MAX 255
/* A batch's writes in flight at once. */
#define API_BATCH_IN_FLIGHT 32

/* --- POST /v1/tasks ----------------------------------------------------- */

/* One task of a POST, as parsed. */
struct new_task {
	struct submit_json_task j;     /* as parsed; j.o.id may point to id */
	char id[80];                   /* the id an Idempotency-Key makes */
	struct submit_spec ss;
	struct tf_bulk_task bt;        /* a batch's write */
	cJSON *res;                    /* a batch's reply for it (owned) */
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
 * Reads task object item (borrowed; av: the same object marshalled with
 * exact numbers) into *nt, and gives it the id Idempotency-Key idem (NULL:
 * none) makes. Returns 0, or EXIT_USAGE / EXIT_FAILED with a message naming
 * the field in err.
 */
static int
parse_task(const cJSON *item, const cJSON *av, const char *idem, long index,
    struct new_task *nt, char *err, size_t errlen)
{
	int code;

	if ((code = submit_parse_task(item, av, &nt->j, err, errlen)) != 0)
		return code;
	if (idem != NULL) {
		if (nt->j.o.id != NULL) {
			snprintf(err, errlen, "id: give either id or an Idempotency-Key "
			    "header, not both");
			return EXIT_USAGE;
		}
		if (!idempotent_id(idem, nt->j.o.ns, index, nt->id)) {
			snprintf(err, errlen, "out of memory");
			return EXIT_FAILED;
		}
		nt->j.o.id = nt->id;
	}
	return 0;
}

/* What a POST answers for one task. All borrowed. */
struct task_reply {
	const char *id;
	bool created;          /* false: the id was there already */
	const char *ns;
	const char *type;
	const char *status;
	int64_t next_run;      /* 0: none */
	const cJSON *schedule; /* plain JSON, or NULL */
	bool enqueued;         /* its message sent now */
	int delay_s;
	bool warn;             /* created, but its message could not be sent */
};

/* The reply object of r; caller frees with cJSON_Delete(). NULL when out
 * of memory. */
static cJSON *
reply_json(const struct task_reply *r)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "id", r->id) == NULL ||
	    cJSON_AddBoolToObject(o, "created", r->created) == NULL ||
	    cJSON_AddStringToObject(o, "ns", r->ns) == NULL ||
	    cJSON_AddStringToObject(o, "type", r->type) == NULL ||
	    cJSON_AddStringToObject(o, "status", r->status) == NULL ||
	    (r->next_run > 0 && cJSON_AddNumberToObject(o, "next_run",
	    (double)r->next_run) == NULL) ||
	    (r->schedule != NULL && !cJSON_AddItemToObject(o, "schedule",
	    cJSON_Duplicate(r->schedule, 1))) ||
	    cJSON_AddBoolToObject(o, "enqueued", r->enqueued) == NULL ||
	    (r->enqueued &&
	    cJSON_AddNumberToObject(o, "delay_seconds", r->delay_s) == NULL) ||
	    (r->warn && cJSON_AddStringToObject(o, "warning", "sending the queue "
	    "message failed; the sweeper will enqueue it") == NULL)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The reply for a task t (as read) that was there already. */
static cJSON *
existing_json(const struct tf_task *t)
{
	struct task_reply r = { 0 };

	r.id = t->id;
	r.ns = t->ns;
	r.type = t->type;
	r.status = tf_task_status_name(t->status);
	r.next_run = t->next_run;
	r.schedule = t->schedule;
	return reply_json(&r);
}

/* The reply for a task created from spec with id; sent: its message went
 * out, with delay_s; warn: it was due soon, but sending failed. */
static cJSON *
created_json(const struct tf_task_spec *spec, const char *id, bool sent,
    int delay_s, bool warn)
{
	struct task_reply r = { 0 };

	r.id = id;
	r.created = true;
	r.ns = spec->ns;
	r.type = spec->type;
	r.status = "PENDING";
	r.next_run = spec->next_run;
	r.schedule = spec->schedule;
	r.enqueued = sent;
	r.delay_s = delay_s;
	r.warn = warn;
	return reply_json(&r);
}

/* Creates the checked task nt. *res: what happened, as JSON (caller frees);
 * *created: whether it is new. Returns false after replying with an error. */
static bool
create_task(struct rq *rq, struct new_task *nt, int64_t now, cJSON **res,
    bool *created, enum MHD_Result *ret)
{
	struct cli *c = rq->srv->cfg.cli;
	const struct tf_task_spec *spec = &nt->ss.spec;
	struct tf_task t;
	char errbuf[512], *id = NULL;
	int delay_s = 0;
	bool enqueue = false, sent = false;
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
			*ret = api_error(rq, MHD_HTTP_CONFLICT, "conflict", "id: \"%s\" "
			    "is taken", spec->id);
			goto fail;
		}
		if (rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) {
			*ret = api_error(rq, MHD_HTTP_CONFLICT, "conflict", "id: task "
			    "\"%s\" was deleted while it was being created again; retry",
			    spec->id);
			goto fail;
		}
		if (rc != TF_OK) {
			*ret = api_aws_fail(rq, "reading the existing task", rc);
			goto fail;
		}
		o = existing_json(&t);
		if (o == NULL)
			goto oom;
		goto done;
	}
	if (rc == TF_ERR_INVALID || rc == TF_ERR_TOO_LARGE) {
		*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s",
		    errbuf);
		goto fail;
	}
	if (rc != TF_OK) {
		*ret = api_aws_fail(rq, "writing the task", rc);
		goto fail;
	}
	*created = true;
	if (enqueue) {
		rc = tf_manage_send(c->ctx.aws, c->ctx.queue_url, spec->priority, id, 1,
		    spec->next_run, tf_now_ms(), &delay_s);
		sent = rc == TF_OK;
		if (!sent)
			tf_log(TF_LOG_WARN, "api: task %s was created, but sending its "
			    "queue message failed; the sweeper will enqueue it", id);
	}
	o = created_json(spec, id, sent, delay_s, enqueue && !sent);
	if (o == NULL)
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

/* --- a batch, written concurrently (task_bulk.h) ----------------------- */

/* A batch on its way through tf_bulk_create(). */
struct batch {
	struct new_task *nt;           /* borrowed: n tasks */
	size_t n, next;
	/* The first task that failed, for the error reply. */
	size_t bad;                    /* n: none */
	unsigned int status;
	const char *code;              /* static */
	char message[800];
	size_t n_created;
	bool oom;
};

static struct tf_bulk_task *
batch_next(void *ctx)
{
	struct batch *b = ctx;
	struct new_task *nt;

	if (b->next == b->n)
		return NULL;
	nt = &b->nt[b->next];
	nt->bt.spec = nt->ss.spec;
	nt->bt.user = nt;
	b->next++;
	return &nt->bt;
}

/* Records the failure of task i (the first one is the reply). */
static void __attribute__((format(printf, 5, 6)))
batch_fail(struct batch *b, size_t i, unsigned int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->bad <= i)
		return;
	b->bad = i;
	b->status = status;
	b->code = code;
	k = snprintf(b->message, sizeof(b->message), "tasks[%zu]: ", i);
	va_start(ap, fmt);
	vsnprintf(b->message + k, sizeof(b->message) - (size_t)k, fmt, ap);
	va_end(ap);
}

/* A task of the batch is done: its reply, or the batch's error. */
static void
batch_done(void *ctx, struct tf_bulk_task *t)
{
	struct batch *b = ctx;
	struct new_task *nt = t->user;
	size_t i = (size_t)(nt - b->nt);
	cJSON *o = NULL;

	switch (t->outcome) {
	case TF_BULK_CREATED:
		b->n_created++;
		if (t->send_failed)
			tf_log(TF_LOG_WARN, "api: task %s was created, but sending its "
			    "queue message failed; the sweeper will enqueue it", t->id);
		o = created_json(&t->spec, t->id, t->enqueued, t->delay_s,
		    t->send_failed);
		break;
	case TF_BULK_EXISTS:
		if (t->existing == NULL) {
			batch_fail(b, i, MHD_HTTP_CONFLICT, "conflict", "id: task \"%s\" "
			    "was deleted while it was being created again; retry", t->id);
			return;
		}
		if (strcmp(t->existing->ns, t->spec.ns) != 0) {
			batch_fail(b, i, MHD_HTTP_CONFLICT, "conflict", "id: \"%s\" is "
			    "taken", t->id);
			return;
		}
		o = existing_json(t->existing);
		break;
	case TF_BULK_FAILED:
		if (t->rc == TF_ERR_INVALID || t->rc == TF_ERR_TOO_LARGE)
			batch_fail(b, i, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s",
			    t->error);
		else if (t->rc == TF_ERR_NOMEM)
			b->oom = true;
		else if (t->rc == TF_ERR_THROTTLED)
			batch_fail(b, i, MHD_HTTP_TOO_MANY_REQUESTS, "throttled", "%s",
			    t->error);
		else
			batch_fail(b, i, MHD_HTTP_BAD_GATEWAY, "aws_error", "%s",
			    t->error);
		return;
	}
	if (o == NULL)
		b->oom = true;
	nt->res = o;
}

/* Writes the checked tasks of a batch at once and replies: every task's
 * result in order, or the error of the first that failed (the others are
 * written even so; their ids make a retry create nothing twice). */
static enum MHD_Result
create_batch(struct rq *rq, struct new_task *nt, size_t n)
{
	struct cli *c = rq->srv->cfg.cli;
	struct tf_bulk_opts o = { 0 };
	struct batch b = { 0 };
	cJSON *out = NULL, *arr;
	enum MHD_Result ret;
	enum tf_err rc;
	size_t i;

	b.nt = nt;
	b.n = n;
	b.bad = n;
	o.in_flight = API_BATCH_IN_FLIGHT;
	o.queue_url = c->ctx.queue_url;
	o.read_existing = true;
	o.next = batch_next;
	o.done = batch_done;
	o.ctx = &b;
	rc = tf_bulk_create(c->ctx.aws, c->cfg.table, &o);
	if (rc != TF_OK)
		return api_aws_fail(rq, "writing the tasks", rc);
	if (b.bad < n)
		return api_error(rq, b.status, b.code, "%s", b.message);
	if (b.oom)
		return api_oom(rq);
	out = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(out, "tasks");
	if (arr == NULL) {
		cJSON_Delete(out);
		return api_oom(rq);
	}
	for (i = 0; i < n; i++) {
		cJSON_AddItemToArray(arr, nt[i].res);
		nt[i].res = NULL;
	}
	ret = api_reply_json(rq, b.n_created > 0 ? MHD_HTTP_CREATED : MHD_HTTP_OK,
	    out);
	cJSON_Delete(out);
	return ret;
}

enum MHD_Result
api_post_tasks(struct rq *rq)
{
	struct cli *c = rq->srv->cfg.cli;
	struct new_task *nt = NULL;
	cJSON *doc = NULL, *av = NULL, *out = NULL;
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
		if (code == 0 && !api_ns_allowed(rq, nt[i].j.o.ns, API_SCOPE_WRITE) &&
		    tf_task_ns_valid(nt[i].j.o.ns)) {
			ret = api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden", "%sns: this "
			    "API key may not write to namespace \"%s\"", prefix,
			    nt[i].j.o.ns);
			goto out;
		}
		if (code == 0)
			code = submit_spec_build(&nt[i].j.o, nt[i].j.type, nt[i].j.params,
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
		ret = create_batch(rq, nt, n);
		goto out;
	}
	if (!create_task(rq, &nt[0], now, &out, &created, &ret))
		goto out;
	n_created = created;
	ret = api_reply_json(rq, n_created > 0 ? MHD_HTTP_CREATED : MHD_HTTP_OK, out);
	goto out;
oom:
	ret = api_oom(rq);
out:
	for (i = 0; nt != NULL && i < n; i++) {
		submit_spec_free(&nt[i].ss);
		submit_json_task_free(&nt[i].j);
		cJSON_Delete(nt[i].res);
	}
	tf_free(nt);
	cJSON_Delete(out);
	cJSON_Delete(doc);
	cJSON_Delete(av);
	return ret;
}
