/*
 * api.c - the REST API of `taskfleet serve` (api.h): routing, the handlers,
 * authorisation (with api_auth.h), CORS and JSON errors.
 *
 * Error codes (stable; clients may branch on them):
 *   400 invalid_json            the body is not strict JSON, or not an object
 *   400 invalid_field           a field, query parameter or header is bad;
 *                               the message names it as submit names flags;
 *                               also a URL holding a NUL (%00 or raw)
 *   401 unauthorized            no bearer token, or an unknown one
 *   403 forbidden               the key's scope or namespaces do not allow
 *                               it; a CORS preflight from an origin that is
 *                               not allowed
 *   404 not_found               no such task (also a task in a namespace the
 *                               key may not see: its existence is not told)
 *   404 no_route                no such endpoint (or console file)
 *   405 method_not_allowed      (with Allow)
 *   409 conflict                the task's state does not allow the change,
 *                               or the id is taken in another namespace
 *   413 payload_too_large       a body over API_BODY_MAX
 *   415 unsupported_media_type  a body that is not application/json
 *   429 rate_limited            this API key is over its rate; or this
 *                               client address sent too many unknown keys
 *                               (or, under --no-auth, is over its rate);
 *                               with Retry-After
 *   429 throttled               AWS throttled us (with Retry-After)
 *   500 internal                out of memory; an item that is not a task
 *   502 aws_error               AWS failed
 *
 * The web console's static files (producer/console/, compiled in) are served
 * under / and /console/NAME without a key (they hold no data; every call
 * they make to /v1 carries the key the user gives), with a strict
 * Content-Security-Policy.
 *
 * Rate limits (rate_limit.h) apply to /v1 requests once the key is known:
 * each key has a token bucket (its own rate, or TASKFLEET_API_RATE); a
 * request with an unknown key takes a token from its client address's
 * bucket of TASKFLEET_API_AUTH_RATE, and while that is empty every /v1
 * request from the address is refused before its key is even looked at (so
 * guessing cannot go faster by trying good and bad keys together). Without
 * keys the client address has the bucket of TASKFLEET_API_RATE. The console's
 * files and CORS preflights are never limited. Requests that a rate applies
 * to carry RateLimit-Limit (the burst) and RateLimit-Remaining.
 *
 * libmicrohttpd runs each connection on its own thread; the handlers share
 * the producer's one AWS client (thread-safe, pooled connections), the
 * runner set loaded at startup and the rate tables (each with its own
 * mutex), so a request opens nothing of its own.
 */
#include "api.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "server/httpd.h"
#include "aws/ddb.h"
#include "base/log.h"
#include "aws/marshal.h"
#include "aws/sqs.h"
#include "submit_spec.h"
#include "task/task.h"
#include "task/task_manage.h"
#include "time/timefmt.h"

/* The OpenAPI document, producer/openapi.json, compiled in by the Makefile
 * (gen/openapi_json.c). */
extern const unsigned char tf_api_openapi_json[];
extern const size_t tf_api_openapi_json_len;

/* The web console, producer/console/ (static files, no data), compiled in
 * by the Makefile (gen/console_files.c): a table ending with a NULL name. */
struct tf_console_file {
	const char *name;
	const unsigned char *data;
	size_t len;
};
extern const struct tf_console_file tf_console_files[];

/* What the console's pages may load: only this server's own files, and
 * fetch() calls to this server's API. */
#define CONSOLE_CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; " \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

#define LIST_DEFAULT_LIMIT 50
#define IDEMPOTENCY_KEY_MAX 255

struct api_server {
	struct tf_httpd http;
	struct api_config cfg;
	struct rate_table *limits;         /* owned; by key (its position), or
	                                      by client address without keys */
	struct rate_table *auth_failures;  /* owned; unknown keys by client
	                                      address; NULL without keys */
};

/* One request, from its first call to its completion. */
struct rq {
	struct api_server *srv;
	struct MHD_Connection *conn;
	const char *origin;        /* the Origin header when allowed, else NULL */
	const struct api_key *key; /* NULL when authentication is off */
	struct tf_buf body;
	bool too_large;            /* the body went over API_BODY_MAX */
	struct rate_verdict rl;    /* the rate that applied; limit 0: none */
};

enum route {
	R_NONE,
	R_OPENAPI,
	R_STATS,
	R_TASKS,
	R_TASK,
	R_TASK_ACTION,
	R_PREVIEW
};

/* The methods each route answers (the Allow header). */
static const char *const route_allow[] = {
	[R_NONE] = "",
	[R_OPENAPI] = "GET",
	[R_STATS] = "GET",
	[R_TASKS] = "GET, POST",
	[R_TASK] = "GET, PATCH, DELETE",
	[R_TASK_ACTION] = "POST",
	[R_PREVIEW] = "GET",
};

/* --- replies ----------------------------------------------------------- */

/* Queues a reply with a copy of body (len bytes) and the headers every reply
 * carries. allow: the Allow header, or NULL. */
static enum MHD_Result
reply(struct rq *rq, unsigned int status, const char *type, const void *body,
    size_t len, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char num[24];

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (type != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"taskfleet\"");
	if (status == MHD_HTTP_TOO_MANY_REQUESTS) {
		/* Our own limit knows when; AWS's throttling does not. */
		snprintf(num, sizeof(num), "%lld", rq->rl.retry_after_s > 0 ?
		    (long long)rq->rl.retry_after_s : 1LL);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
	}
	if (rq->rl.limit > 0) {
		snprintf(num, sizeof(num), "%lld", (long long)rq->rl.limit);
		MHD_add_response_header(r, "RateLimit-Limit", num);
		snprintf(num, sizeof(num), "%lld", (long long)rq->rl.remaining);
		MHD_add_response_header(r, "RateLimit-Remaining", num);
	}
	if (rq->srv->cfg.origins->n > 0)
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Origin");
	if (rq->origin != NULL) {
		MHD_add_response_header(r,
		    MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, rq->origin);
		MHD_add_response_header(r, "Access-Control-Expose-Headers",
		    "Retry-After, RateLimit-Limit, RateLimit-Remaining");
	}
	ret = MHD_queue_response(rq->conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Replies with o (borrowed) as JSON. */
static enum MHD_Result
reply_json(struct rq *rq, unsigned int status, const cJSON *o)
{
	static const char oom[] =
	    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
	enum MHD_Result ret;
	char *text;

	text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	if (text == NULL)
		return reply(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
		    oom, sizeof(oom) - 1, NULL);
	ret = reply(rq, status, "application/json", text, strlen(text), NULL);
	cJSON_free(text);
	return ret;
}

static enum MHD_Result api_error(struct rq *rq, unsigned int status,
    const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum MHD_Result reply_error_v(struct rq *rq, unsigned int status,
    const char *code, bool preview, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

/* Replies {"error": {"code": code, "message": fmt...}} with status; with
 * preview, also "runs": [] and "times": [] (preview_invalid()). */
static enum MHD_Result
reply_error_v(struct rq *rq, unsigned int status, const char *code,
    bool preview, const char *fmt, va_list ap)
{
	char msg[1024];
	cJSON *o, *e;
	enum MHD_Result ret;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	o = cJSON_CreateObject();
	e = cJSON_AddObjectToObject(o, "error");
	if (e == NULL || cJSON_AddStringToObject(e, "code", code) == NULL ||
	    cJSON_AddStringToObject(e, "message", msg) == NULL ||
	    (preview && (cJSON_AddArrayToObject(o, "runs") == NULL ||
	    cJSON_AddArrayToObject(o, "times") == NULL))) {
		cJSON_Delete(o);
		o = NULL;
	}
	ret = reply_json(rq, status, o);
	cJSON_Delete(o);
	return ret;
}

/* Replies {"error": {"code": code, "message": ...}}. */
static enum MHD_Result
api_error(struct rq *rq, unsigned int status, const char *code,
    const char *fmt, ...)
{
	enum MHD_Result ret;
	va_list ap;

	va_start(ap, fmt);
	ret = reply_error_v(rq, status, code, false, fmt, ap);
	va_end(ap);
	return ret;
}

/* Replies for a failed AWS call: 429 when throttled, 502 otherwise. */
static enum MHD_Result
aws_fail(struct rq *rq, const char *what, enum tf_err rc)
{
	char reason[800];

	if (rc == TF_ERR_NOMEM)
		return api_error(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "%s: out of memory", what);
	cli_aws_reason(rc, reason, sizeof(reason));
	if (rc == TF_ERR_THROTTLED)
		return api_error(rq, MHD_HTTP_TOO_MANY_REQUESTS, "throttled",
		    "%s: %s", what, reason);
	return api_error(rq, MHD_HTTP_BAD_GATEWAY, "aws_error", "%s: %s", what,
	    reason);
}

static enum MHD_Result
oom(struct rq *rq)
{
	return api_error(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
	    "out of memory");
}

/* True when the request may touch namespace ns. */
static bool
ns_allowed(const struct rq *rq, const char *ns, enum api_scope scope)
{
	return rq->key == NULL || api_key_allows(rq->key, ns, scope);
}

/* --- query parameters --------------------------------------------------- */

struct query_check {
	const char *const *allowed;   /* NULL-terminated */
	const char *seen[8];
	size_t n_seen;
	char bad[80];                 /* the first bad parameter's message */
};

static enum MHD_Result
query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct query_check *q = cls;
	size_t i, k;

	(void)kind;
	(void)value;
	for (k = 0; q->allowed[k] != NULL; k++)
		if (strcmp(q->allowed[k], key) == 0)
			break;
	if (q->allowed[k] == NULL) {
		snprintf(q->bad, sizeof(q->bad), "unknown query parameter \"%.40s\"",
		    key);
		return MHD_NO;
	}
	for (i = 0; i < q->n_seen; i++)
		if (strcmp(q->seen[i], key) == 0) {
			snprintf(q->bad, sizeof(q->bad), "%s: given twice", key);
			return MHD_NO;
		}
	if (q->n_seen < sizeof(q->seen) / sizeof(q->seen[0]))
		q->seen[q->n_seen++] = q->allowed[k];
	return MHD_YES;
}

/* Checks that every query parameter is one of allowed, each once. Returns
 * false after replying 400. */
static bool
check_query(struct rq *rq, const char *const *allowed, enum MHD_Result *ret)
{
	struct query_check q = { .allowed = allowed };

	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, query_iter, &q);
	if (q.bad[0] == '\0')
		return true;
	*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s", q.bad);
	return false;
}

/* A query parameter; "" for one given without a value; NULL when absent. */
static const char *
query(struct rq *rq, const char *name)
{
	const char *v;
	bool present;

	v = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
	if (v != NULL)
		return v;
	present = MHD_lookup_connection_value_n(rq->conn, MHD_GET_ARGUMENT_KIND,
	    name, strlen(name), NULL, NULL) == MHD_YES;
	return present ? "" : NULL;
}

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
	    (rc == TF_OK && !ns_allowed(rq, t->ns, API_SCOPE_READ))) {
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
		*ret = aws_fail(rq, "reading the task", rc);
		return false;
	}
	return true;
}

static enum MHD_Result
get_task(struct rq *rq, const char *id)
{
	struct tf_task t;
	enum MHD_Result ret;
	cJSON *o;

	if (!load_task(rq, id, &t, &ret))
		goto out;
	o = task_json(&t);
	ret = o != NULL ? reply_json(rq, MHD_HTTP_OK, o) : oom(rq);
	cJSON_Delete(o);
out:
	tf_task_free(&t);
	return ret;
}

static enum MHD_Result
delete_task(struct rq *rq, const char *id)
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
		ret = aws_fail(rq, "deleting the task", rc);
		goto out;
	}
	o = cJSON_CreateObject();
	if (o == NULL || cJSON_AddStringToObject(o, "id", id) == NULL ||
	    cJSON_AddTrueToObject(o, "deleted") == NULL)
		ret = oom(rq);
	else
		ret = reply_json(rq, MHD_HTTP_OK, o);
out:
	cJSON_Delete(o);
	tf_task_free(&t);
	return ret;
}

static bool is_json(struct rq *rq);

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
	if (!is_json(rq)) {
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
static enum MHD_Result
change_task(struct rq *rq, const char *id, enum tf_manage_action action,
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
		ret = aws_fail(rq, "changing the task", rc);
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
		rc = tf_manage_send(c->ctx.aws, c->ctx.queue_url, id, r.gen,
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
		ret = oom(rq);
	else
		ret = reply_json(rq, MHD_HTTP_OK, o);
out:
	cJSON_Delete(o);
	tf_task_free(&t);
	return ret;
}

/* --- GET /v1/tasks ------------------------------------------------------ */

static enum MHD_Result
list_tasks(struct rq *rq)
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

	if (!check_query(rq, allowed, &ret))
		return ret;
	q.ns = query(rq, "ns") ? query(rq, "ns") : TF_DEFAULT_NS;
	if (!tf_task_ns_valid(q.ns))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "ns: must be 1 to %d of A-Z a-z 0-9 _ . -", TF_TASK_NS_MAX);
	if (!ns_allowed(rq, q.ns, API_SCOPE_READ))
		return api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "this API key may not read namespace \"%s\"", q.ns);
	if ((v = query(rq, "status")) != NULL) {
		if (!cli_parse_status(v, &q.status))
			return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "status: \"%.32s\" is not one of PENDING, PROCESSING, "
			    "COMPLETED, FAILED, SUSPENDED", v);
		q.has_status = true;
	}
	if ((v = query(rq, "from")) != NULL) {
		if (tf_timefmt_parse(v, now, &q.from_ms, errbuf, sizeof(errbuf)) != TF_OK)
			return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "from: %s", errbuf);
		q.has_from = true;
	}
	if ((v = query(rq, "to")) != NULL) {
		if (tf_timefmt_parse(v, now, &q.to_ms, errbuf, sizeof(errbuf)) != TF_OK)
			return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "to: %s", errbuf);
		q.has_to = true;
	}
	if (q.has_from && q.has_to && q.from_ms > q.to_ms)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "from is after to");
	if ((v = query(rq, "limit")) != NULL &&
	    !cli_parse_int(v, 1, TF_TASK_LIST_MAX, &limit))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "limit: expected a number from 1 to %d, got \"%.32s\"",
		    TF_TASK_LIST_MAX, v);
	q.limit = (int)limit;
	if ((v = query(rq, "next")) != NULL &&
	    tf_task_list_token_decode(v, q.ns, &cursor, errbuf,
	    sizeof(errbuf)) != TF_OK)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "next: %s", errbuf);

	rc = tf_task_list_page(c->ctx.aws, c->cfg.table, &q, &cursor, &items);
	if (rc != TF_OK) {
		ret = aws_fail(rq, "listing the tasks", rc);
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
	ret = reply_json(rq, MHD_HTTP_OK, o);
	goto out;
oom:
	ret = oom(rq);
out:
	tf_free(token);
	cJSON_Delete(o);
	cJSON_Delete(items);
	cJSON_Delete(cursor);
	return ret;
}

/* --- GET /v1/stats ------------------------------------------------------ */

/* Adds {"visible", "in_flight", "delayed"} of the queue at url as key.
 * Returns TF_OK, an AWS error, or TF_ERR_NOMEM. */
static enum tf_err
add_depth(struct tf_aws *aws, cJSON *o, const char *key, const char *url)
{
	static const char *const names[] = { "ApproximateNumberOfMessages",
	    "ApproximateNumberOfMessagesNotVisible",
	    "ApproximateNumberOfMessagesDelayed", NULL };
	static const char *const keys[] = { "visible", "in_flight", "delayed" };
	cJSON *attrs = NULL, *q;
	const cJSON *v;
	enum tf_err rc;
	size_t i;

	rc = tf_sqs_get_queue_attributes(aws, url, names, &attrs);
	if (rc != TF_OK)
		return rc;
	q = cJSON_AddObjectToObject(o, key);
	for (i = 0; q != NULL && i < 3; i++) {
		v = cJSON_GetObjectItemCaseSensitive(attrs, names[i]);
		if (cJSON_AddNumberToObject(q, keys[i], cJSON_IsString(v) ?
		    (double)strtoll(v->valuestring, NULL, 10) : 0) == NULL)
			q = NULL;
	}
	cJSON_Delete(attrs);
	return q != NULL ? TF_OK : TF_ERR_NOMEM;
}

static enum MHD_Result
get_stats(struct rq *rq)
{
	static const char *const allowed[] = { "ns", NULL };
	struct cli *c = rq->srv->cfg.cli;
	struct tf_manage_counts counts;
	const char *ns;
	char *dlq_url = NULL, reason[800];
	cJSON *o = NULL;
	enum MHD_Result ret;
	enum tf_err rc;

	if (!check_query(rq, allowed, &ret))
		return ret;
	ns = query(rq, "ns");
	if (ns != NULL && !tf_task_ns_valid(ns))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "ns: must be 1 to %d of A-Z a-z 0-9 _ . -", TF_TASK_NS_MAX);
	if (ns == NULL && rq->key != NULL && !rq->key->all_ns)
		return api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "this API key may read only some namespaces: give ns");
	if (ns != NULL && !ns_allowed(rq, ns, API_SCOPE_READ))
		return api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "this API key may not read namespace \"%s\"", ns);
	rc = tf_manage_count(c->ctx.aws, c->cfg.table, ns, &counts);
	if (rc != TF_OK)
		return aws_fail(rq, "counting the tasks", rc);
	o = cJSON_CreateObject();
	if (o == NULL || !cli_add_counts(o, ns, &counts))
		goto oom;
	/* The queues: a failure here still answers the counts. */
	rc = add_depth(c->ctx.aws, o, "queue", c->ctx.queue_url);
	if (rc == TF_OK)
		rc = cli_find_dlq(c->ctx.aws, c->ctx.queue_url, &dlq_url);
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
	if ((!cJSON_HasObjectItem(o, "queue") &&
	    cJSON_AddNullToObject(o, "queue") == NULL) ||
	    (!cJSON_HasObjectItem(o, "dlq") &&
	    cJSON_AddNullToObject(o, "dlq") == NULL))
		goto oom;
	ret = reply_json(rq, MHD_HTTP_OK, o);
	goto out;
oom:
	ret = oom(rq);
out:
	tf_free(dlq_url);
	cJSON_Delete(o);
	return ret;
}

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
 * Reads a body's "params" field f (an object) as its exact text (numbers as
 * written) from av, the same body marshalled, into *out (caller frees with
 * tf_free), and checks it as submit does. Returns 0 or EXIT_USAGE with the
 * reason in err. Shared by POST and PATCH.
 */
static int
read_params_field(const cJSON *f, const cJSON *av, char **out, char *err,
    size_t errlen)
{
	char errbuf[256];

	if (!cJSON_IsObject(f)) {
		snprintf(err, errlen, "params: must be a JSON object ({...})");
		return EXIT_USAGE;
	}
	if (tf_unmarshal_value_to_json_text(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(av, "M"), "params"), out, errbuf,
	    sizeof(errbuf)) != TF_OK) {
		snprintf(err, errlen, "params: %s", errbuf);
		return EXIT_USAGE;
	}
	return submit_check_params(*out, strlen(*out), SUBMIT_FIELDS, err, errlen);
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
			if ((code = read_params_field(f, av, &nt->params, err,
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
			*ret = aws_fail(rq, "reading the existing task", rc);
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
		*ret = aws_fail(rq, "writing the task", rc);
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
	*ret = oom(rq);
fail:
	cJSON_Delete(o);
	tf_free(id);
	tf_task_free(&t);
	return false;
}

/* True when the request's Content-Type is JSON. */
static bool
is_json(struct rq *rq)
{
	const char *ct = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen("application/json");

	return ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result
post_tasks(struct rq *rq)
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

	if (!check_query(rq, (const char *const[]){ NULL }, &ret))
		return ret;
	if (!is_json(rq))
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
		if (code == 0 && !ns_allowed(rq, nt[i].o.ns, API_SCOPE_WRITE) &&
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
	ret = reply_json(rq, n_created > 0 ? MHD_HTTP_CREATED : MHD_HTTP_OK, out);
	goto out;
oom:
	ret = oom(rq);
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
			if ((code = read_params_field(f, av, &pb->params, err,
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
		} else {
			snprintf(err, errlen, "unknown field \"%.40s\" (params, every, "
			    "cron, tz, max_runs, until, next_run, max_attempts, name, "
			    "description)", f->string);
			return EXIT_USAGE;
		}
	}
	if (!pb->has_any) {
		snprintf(err, errlen, "nothing to change: give params, every, cron "
		    "(with tz), max_runs, until, next_run, max_attempts, name or "
		    "description");
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

static enum MHD_Result
patch_task(struct rq *rq, const char *id)
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
	if (!check_query(rq, (const char *const[]){ NULL }, &ret))
		return ret;
	if (!is_json(rq))
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
	if (!ns_allowed(rq, t.ns, API_SCOPE_WRITE)) {
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
		ret = aws_fail(rq, "changing the task", rc);
		goto out;
	}
	if (r.verdict == TF_MANAGE_REFUSE) {
		ret = patch_conflict(rq, id, false);
		goto out;
	}
	if (r.enqueue_at > 0 &&
	    tf_manage_send(c->ctx.aws, c->ctx.queue_url, id, r.gen, r.enqueue_at,
	    tf_now_ms(), &delay_s) != TF_OK)
		/* The write stands; the sweeper sends the message. */
		tf_log(TF_LOG_WARN, "api: task %s was changed, but sending its "
		    "queue message failed; the sweeper will enqueue it", id);
	/* The task as it is now. */
	tf_task_free(&t);
	if (!load_task(rq, id, &t, &ret))
		goto out;
	o = task_json(&t);
	ret = o != NULL ? reply_json(rq, MHD_HTTP_OK, o) : oom(rq);
out:
	cJSON_Delete(o);
	cJSON_Delete(doc);
	cJSON_Delete(av);
	tf_free(pb.params);
	submit_spec_free(&ss);
	tf_task_free(&t);
	return ret;
}

/* --- GET /v1/schedule/preview ------------------------------------------- */

#define PREVIEW_DEFAULT 5
#define PREVIEW_MAX 50

static enum MHD_Result preview_invalid(struct rq *rq, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Replies 200 {"runs": [], "times": [], "error": {"code": "invalid_field",
 * "message": ...}}: the preview's answer for a schedule that does not parse.
 * The console previews what the user is typing, so "this is not a schedule,
 * because ..." is the answer it asked for, not a malformed request (and a
 * 400 would be logged as a failed load by the browser at each keystroke). */
static enum MHD_Result
preview_invalid(struct rq *rq, const char *fmt, ...)
{
	enum MHD_Result ret;
	va_list ap;

	va_start(ap, fmt);
	ret = reply_error_v(rq, MHD_HTTP_OK, "invalid_field", true, fmt, ap);
	va_end(ap);
	return ret;
}

/* The next run times of a schedule, for the console's form: every or cron
 * (with tz), optional max_runs and until, from at (default: the schedule's
 * first run from now); or a one-shot at alone. The schedule is checked by
 * tf_schedule_parse(), as submit's is; a value that does not parse is
 * answered by preview_invalid(), a malformed query (unknown parameter, bad
 * count, nothing or too much to preview) by 400. */
static enum MHD_Result
schedule_preview(struct rq *rq)
{
	static const char *const allowed[] = { "every", "cron", "tz", "at",
	    "count", "max_runs", "until", NULL };
	const char *every = query(rq, "every"), *cron = query(rq, "cron");
	const char *tz = query(rq, "tz"), *at = query(rq, "at");
	const char *mr = query(rq, "max_runs"), *until = query(rq, "until");
	const char *v;
	struct tf_schedule *sched = NULL;
	char err[512], iso[TF_TIMEFMT_ISO_SIZE];
	long long count = PREVIEW_DEFAULT, max_runs = 0;
	int64_t now = tf_now_ms(), when = now, until_ms = 0, first;
	cJSON *out = NULL, *sj = NULL, *runs, *times;
	enum MHD_Result ret;
	int i;

	if (!check_query(rq, allowed, &ret))
		return ret;
	if ((v = query(rq, "count")) != NULL &&
	    !cli_parse_int(v, 1, PREVIEW_MAX, &count))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "count: expected a number from 1 to %d, got \"%.32s\"",
		    PREVIEW_MAX, v);
	if (every != NULL && cron != NULL)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "every and cron exclude each other");
	if (tz != NULL && cron == NULL && every == NULL)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "tz is the time zone of cron; there is no cron");
	if (every == NULL && cron == NULL && (mr != NULL || until != NULL))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "%s applies to a recurring task: give every or cron",
		    mr != NULL ? "max_runs" : "until");
	if (every == NULL && cron == NULL && at == NULL)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "give every, cron (with tz) or at");
	if (at != NULL && (tf_timefmt_parse(at, now, &when, err,
	    sizeof(err)) != TF_OK || when <= 0))
		return preview_invalid(rq, "at: %s",
		    when <= 0 ? "not after 1970-01-01T00:00:00Z" : err);
	if (mr != NULL && !cli_parse_int(mr, 1, 9007199254740991LL, &max_runs))
		return preview_invalid(rq,
		    "max_runs: expected a whole number of at least 1, got \"%.32s\"",
		    mr);
	if (until != NULL && tf_timefmt_parse(until, now, &until_ms, err,
	    sizeof(err)) != TF_OK)
		return preview_invalid(rq, "until: %s", err);
	out = cJSON_CreateObject();
	runs = cJSON_AddArrayToObject(out, "runs");
	times = cJSON_AddArrayToObject(out, "times");
	if (runs == NULL || times == NULL)
		goto oom;
	if (every != NULL || cron != NULL) {
		sj = cJSON_CreateObject();
		if (sj == NULL ||
		    (every != NULL && cJSON_AddStringToObject(sj, "every", every) == NULL) ||
		    (cron != NULL && cJSON_AddStringToObject(sj, "cron", cron) == NULL) ||
		    (tz != NULL && cJSON_AddStringToObject(sj, "tz", tz) == NULL) ||
		    (mr != NULL && cJSON_AddNumberToObject(sj, "max_runs",
		    (double)max_runs) == NULL) ||
		    (until != NULL && cJSON_AddNumberToObject(sj, "until",
		    (double)until_ms) == NULL))
			goto oom;
		if (tf_schedule_parse(sj, &sched, err, sizeof(err)) != TF_OK) {
			ret = preview_invalid(rq, "%s",
			    strncmp(err, "schedule.", 9) == 0 ? err + 9 : err);
			goto out;
		}
		if (at == NULL)
			when = tf_schedule_first(sched, now);
		else if (until != NULL && when > until_ms)
			when = 0;
		if (!cJSON_AddItemToObject(out, "schedule", sj))
			goto oom;
		sj = NULL;
	}
	/* Slots count from the first run: calendar steps keep its day. */
	first = when;
	for (i = 0; i < count && when > 0; i++) {
		if (!cJSON_AddItemToArray(runs, cJSON_CreateNumber((double)when)) ||
		    !cJSON_AddItemToArray(times, cJSON_CreateString(
		    tf_timefmt_format(when, iso, sizeof(iso)))))
			goto oom;
		if (sched == NULL)
			break;
		when = tf_schedule_next(sched, first, when, i + 1);
	}
	ret = reply_json(rq, MHD_HTTP_OK, out);
	goto out;
oom:
	ret = oom(rq);
out:
	tf_schedule_free(sched);
	cJSON_Delete(sj);
	cJSON_Delete(out);
	return ret;
}

/* --- the console's static files ----------------------------------------- */

/* The console file url names: "/", "/console", "/console/" (index.html) or
 * "/console/NAME". NULL for any other url; *console: whether url is under
 * the console at all. */
static const struct tf_console_file *
console_file(const char *url, bool *console)
{
	const struct tf_console_file *f;
	const char *name;

	*console = true;
	if (strcmp(url, "/") == 0 || strcmp(url, "/console") == 0 ||
	    strcmp(url, "/console/") == 0)
		name = "index.html";
	else if (strncmp(url, "/console/", 9) == 0)
		name = url + 9;
	else {
		*console = false;
		return NULL;
	}
	for (f = tf_console_files; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* The Content-Type of a console file, by its extension. */
static const char *
console_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot != NULL && strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (dot != NULL && strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (dot != NULL && strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	return "application/octet-stream";
}

/* Serves console file f (GET or HEAD; no key: the files hold no data). */
static enum MHD_Result
serve_console(struct rq *rq, const struct tf_console_file *f,
    const char *method)
{
	static const char not_allowed[] = "{\"error\":{\"code\":"
	    "\"method_not_allowed\",\"message\":\"method not allowed\"}}";
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
		    not_allowed, sizeof(not_allowed) - 1, "GET, HEAD");
	r = MHD_create_response_from_buffer(f->len, (void *)(uintptr_t)f->data,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    console_type(f->name));
	MHD_add_response_header(r, "Content-Security-Policy", CONSOLE_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	ret = MHD_queue_response(rq->conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* --- routing ------------------------------------------------------------ */

/* Finds the route of url; for task routes, *id points into url (its length
 * in *id_len) and *action is the action. */
static enum route
route_of(const char *url, const char **id, size_t *id_len,
    enum tf_manage_action *action, const char **action_name)
{
	static const struct { const char *suffix; enum tf_manage_action a;
	    const char *name; } actions[] = {
		{ "/suspend", TF_MANAGE_SUSPEND, "suspend" },
		{ "/resume", TF_MANAGE_RESUME, "resume" },
		{ "/run", TF_MANAGE_RUN_NOW, "run" },
		{ "/retry", TF_MANAGE_RETRY, "retry" },
	};
	size_t len, i, n;

	if (strcmp(url, "/v1/openapi.json") == 0)
		return R_OPENAPI;
	if (strcmp(url, "/v1/stats") == 0)
		return R_STATS;
	if (strcmp(url, "/v1/tasks") == 0)
		return R_TASKS;
	if (strcmp(url, "/v1/schedule/preview") == 0)
		return R_PREVIEW;
	if (strncmp(url, "/v1/tasks/", 10) != 0 || url[10] == '\0')
		return R_NONE;
	*id = url + 10;
	len = strlen(*id);
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		n = strlen(actions[i].suffix);
		if (len > n && strcmp(*id + len - n, actions[i].suffix) == 0) {
			*id_len = len - n;
			*action = actions[i].a;
			*action_name = actions[i].name;
			return R_TASK_ACTION;
		}
	}
	*id_len = len;
	return R_TASK;
}

/* True when route answers method. */
static bool
route_has(enum route r, const char *method)
{
	const char *allow = route_allow[r];
	size_t n = strlen(method);
	const char *p;

	for (p = allow; (p = strstr(p, method)) != NULL; p += n)
		if ((p == allow || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

/* Answers a CORS preflight: 204 with the CORS headers for an allowed
 * origin, 403 otherwise. */
static enum MHD_Result
preflight(struct rq *rq, enum route r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (rq->origin == NULL)
		return api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "cross-origin requests from this origin are not allowed "
		    "(TASKFLEET_API_CORS_ORIGINS)");
	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN,
	    rq->origin);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
	MHD_add_response_header(resp, "Access-Control-Allow-Methods",
	    route_allow[r]);
	MHD_add_response_header(resp, "Access-Control-Allow-Headers",
	    "Authorization, Content-Type, Idempotency-Key");
	MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
	ret = MHD_queue_response(rq->conn, MHD_HTTP_NO_CONTENT, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Nanoseconds on CLOCK_MONOTONIC: the rate limits' clock. */
static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The client's address as a bucket id in id (RATE_ID_MAX bytes): the family
 * and the IPv4 address, or the /64 prefix of an IPv6 one (a host usually
 * has a whole /64, so one host is one bucket); "?" when unknown. Fills
 * text (for logs). Returns the id's length. */
static size_t
client_id(struct MHD_Connection *conn, unsigned char *id, char *text,
    size_t textlen)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	snprintf(text, textlen, "?");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	sa = ci != NULL ? ci->client_addr : NULL;
	if (sa != NULL && sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		inet_ntop(AF_INET, &sin.sin_addr, text, (socklen_t)textlen);
		id[0] = 4;
		memcpy(id + 1, &sin.sin_addr, 4);
		return 5;
	}
	if (sa != NULL && sa->sa_family == AF_INET6) {
		memcpy(&sin6, sa, sizeof(sin6));
		inet_ntop(AF_INET6, &sin6.sin6_addr, text, (socklen_t)textlen);
		if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
			id[0] = 4;
			memcpy(id + 1, &sin6.sin6_addr.s6_addr[12], 4);
			return 5;
		}
		id[0] = 6;
		memcpy(id + 1, &sin6.sin6_addr, 8);
		return 9;
	}
	id[0] = '?';
	return 1;
}

/* Replies 429 rate_limited with why and Retry-After from v; returns
 * false. */
static bool
over_rate(struct rq *rq, const struct rate_verdict *v, const char *why,
    enum MHD_Result *ret)
{
	rq->rl = *v;
	*ret = api_error(rq, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
	    "%s; retry in %lld s", why, (long long)v->retry_after_s);
	return false;
}

/* Checks the bearer token and the rates: sets rq->key (and rq->rl), or
 * replies and returns false: 429 while the client's address has sent too
 * many unknown keys (before the key is looked at), 401 without a key or with
 * an unknown one, 429 when the key is over its rate, 403 when its scope
 * does not allow the method. Without keys, only the client address's
 * rate. */
static bool
authorise(struct rq *rq, enum api_scope scope, enum MHD_Result *ret)
{
	struct api_server *srv = rq->srv;
	const struct api_config *cfg = &srv->cfg;
	struct rate_verdict v;
	unsigned char addr[RATE_ID_MAX];
	char addr_text[INET6_ADDRSTRLEN];
	size_t addr_len, pos;
	const char *auth;
	int64_t now = mono_ns();

	addr_len = client_id(rq->conn, addr, addr_text, sizeof(addr_text));
	if (cfg->keys == NULL) {
		if (!rate_table_try_take(srv->limits, addr, addr_len, cfg->rate, now,
		    &v))
			return over_rate(rq, &v, "this client is over its rate limit "
			    "(TASKFLEET_API_RATE)", ret);
		rq->rl = v;
		return true;
	}
	if (!rate_table_has_token(srv->auth_failures, addr, addr_len,
	    cfg->auth_rate, now, &v)) {
		v.limit = 0;    /* no RateLimit headers: they are for keys */
		return over_rate(rq, &v, "too many unknown API keys from this "
		    "address", ret);
	}
	auth = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		*ret = api_error(rq, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		    "an API key is required: Authorization: Bearer KEY");
		return false;
	}
	auth += 7;
	while (*auth == ' ')
		auth++;
	rq->key = api_keys_match(cfg->keys, auth);
	if (rq->key == NULL) {
		if (!rate_table_try_take(srv->auth_failures, addr, addr_len,
		    cfg->auth_rate, now, &v)) {
			v.limit = 0;
			return over_rate(rq, &v, "too many unknown API keys from this "
			    "address", ret);
		}
		if (v.limit > 0 && v.remaining == 0)
			tf_log(TF_LOG_WARN, "api: too many unknown API keys from %s: "
			    "its requests are refused (429) until "
			    "TASKFLEET_API_AUTH_RATE allows another", addr_text);
		*ret = api_error(rq, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		    "unknown API key");
		return false;
	}
	pos = (size_t)(rq->key - cfg->keys->keys);
	if (!rate_table_try_take(srv->limits, &pos, sizeof(pos),
	    rq->key->has_rate ? &rq->key->rate : cfg->rate, now, &v))
		return over_rate(rq, &v, "this API key is over its rate limit", ret);
	rq->rl = v;
	if (!api_key_has_scope(rq->key, scope)) {
		*ret = api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "this API key may only read");
		return false;
	}
	return true;
}

/* Answers a request whose body (if any) is all in. */
static enum MHD_Result
dispatch(struct rq *rq, const char *url, const char *method)
{
	static const char not_allowed[] = "{\"error\":{\"code\":"
	    "\"method_not_allowed\",\"message\":\"method not allowed\"}}";
	char id[TF_TASK_ID_MAX + 1];
	const char *idp = NULL, *action_name = "";
	size_t id_len = 0;
	enum tf_manage_action action = TF_MANAGE_SUSPEND;
	const struct tf_console_file *cf;
	bool console;
	enum route r;
	enum MHD_Result ret;

	cf = console_file(url, &console);
	if (cf != NULL)
		return serve_console(rq, cf, method);
	if (console)
		return api_error(rq, MHD_HTTP_NOT_FOUND, "no_route",
		    "no such console file: %.200s", url);
	r = route_of(url, &idp, &id_len, &action, &action_name);
	if (r == R_NONE)
		return api_error(rq, MHD_HTTP_NOT_FOUND, "no_route",
		    "no such endpoint: %.200s", url);
	if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0)
		return preflight(rq, r);
	if (!route_has(r, method))
		return reply(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
		    not_allowed, sizeof(not_allowed) - 1, route_allow[r]);
	if (rq->too_large)
		return api_error(rq, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
		    "the body is over %d bytes", API_BODY_MAX);
	if (!authorise(rq, strcmp(method, MHD_HTTP_METHOD_GET) == 0 ?
	    API_SCOPE_READ : API_SCOPE_WRITE, &ret))
		return ret;
	if (r == R_TASK || r == R_TASK_ACTION) {
		if (id_len > TF_TASK_ID_MAX)
			return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "id: too long (%zu bytes; at most %d)", id_len,
			    TF_TASK_ID_MAX);
		memcpy(id, idp, id_len);
		id[id_len] = '\0';
		if (!tf_task_id_valid(id))
			return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "id: must be 1 to %d printable characters without spaces",
			    TF_TASK_ID_MAX);
	}
	switch (r) {
	case R_OPENAPI:
		return reply(rq, MHD_HTTP_OK, "application/json",
		    tf_api_openapi_json, tf_api_openapi_json_len, NULL);
	case R_STATS:
		return get_stats(rq);
	case R_TASKS:
		return method[0] == 'G' ? list_tasks(rq) : post_tasks(rq);
	case R_TASK:
		if (method[0] == 'G')
			return get_task(rq, id);
		return method[0] == 'P' ? patch_task(rq, id) : delete_task(rq, id);
	case R_PREVIEW:
		return schedule_preview(rq);
	case R_TASK_ACTION:
		return change_task(rq, id, action, action_name);
	default:
		break;
	}
	return api_error(rq, MHD_HTTP_NOT_FOUND, "no_route", "no such endpoint");
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct api_server *srv = cls;
	struct rq *rq = *con_cls;
	const char *origin, *cl;
	char *end;
	unsigned long long len;

	if (rq == NULL) {
		/* The first call: the headers are in, the body is not. */
		rq = tf_calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		rq->srv = srv;
		rq->conn = conn;
		origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    "Origin");
		if (api_origin_allowed(srv->cfg.origins, origin))
			rq->origin = origin;
		*con_cls = rq;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			len = strtoull(cl, &end, 10);
			if (*end == '\0' && len > API_BODY_MAX) {
				/* Answered at once: the body is never read. */
				rq->too_large = true;
				return api_error(rq, MHD_HTTP_CONTENT_TOO_LARGE,
				    "payload_too_large", "the body is over %d bytes",
				    API_BODY_MAX);
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!rq->too_large && rq->body.len + *upload_data_size <= API_BODY_MAX) {
			if (tf_buf_append(&rq->body, upload_data, *upload_data_size) !=
			    TF_OK)
				return MHD_NO;
		} else {
			rq->too_large = true;
			tf_buf_free(&rq->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* Before routing: a NUL would have cut the id or a parameter short. */
	if (!tf_httpd_url_intact(conn, version))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "the URL holds a NUL byte (raw or %%00)");
	return dispatch(rq, url, method);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct rq *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rq == NULL)
		return;
	tf_buf_free(&rq->body);
	tf_free(rq);
	*con_cls = NULL;
}

enum tf_err
api_server_start(const struct sockaddr *addr, const struct api_config *cfg,
    struct api_server **out, char *err, size_t errlen)
{
	struct api_server *srv;
	struct tf_httpd_config hc;
	enum tf_err rc;

	*out = NULL;
	srv = tf_calloc(1, sizeof(*srv));
	if (srv == NULL) {
		tf_errf(err, errlen, "out of memory");
		return TF_ERR_NOMEM;
	}
	srv->cfg = *cfg;
	srv->limits = rate_table_new(cfg->keys != NULL ? cfg->keys->n :
	    API_ADDR_BUCKETS);
	if (cfg->keys != NULL)
		srv->auth_failures = rate_table_new(API_ADDR_BUCKETS);
	if (srv->limits == NULL || (cfg->keys != NULL &&
	    srv->auth_failures == NULL)) {
		tf_errf(err, errlen, "out of memory");
		rate_table_free(srv->limits);
		rate_table_free(srv->auth_failures);
		tf_free(srv);
		return TF_ERR_NOMEM;
	}
	/* A thread per connection: a handler waits on AWS without holding up
	 * other requests. Room for many clients, a few of them from one
	 * address. */
	hc = (struct tf_httpd_config){
		.name = "api server", .handler = handle, .handler_cls = srv,
		.completed = completed, .completed_cls = srv,
		.max_connections = API_MAX_CONNECTIONS,
		.per_address_limit = cfg->per_address,
		.idle_timeout_s = 30, .request_timeout_s = API_REQUEST_TIMEOUT_S,
	};
	rc = tf_httpd_start(&srv->http, addr, &hc, err, errlen);
	if (rc != TF_OK) {
		rate_table_free(srv->limits);
		rate_table_free(srv->auth_failures);
		tf_free(srv);
		return rc;
	}
	*out = srv;
	return TF_OK;
}

int
api_server_port(const struct api_server *s)
{
	return s->http.port;
}

void
api_server_stop(struct api_server *s)
{
	if (s == NULL)
		return;
	tf_httpd_stop(&s->http);
	rate_table_free(s->limits);
	rate_table_free(s->auth_failures);
	tf_free(s);
}
