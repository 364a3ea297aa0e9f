/*
 * api_request.c - what the REST API's handlers share (api_request.h): the
 * replies with the headers every reply carries, JSON errors, the check of
 * a key's namespaces, query parameters and request bodies.
 */
#include "api_request.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aws/marshal.h"
#include "cli.h"
#include "submit_spec.h"

/* --- replies ----------------------------------------------------------- */

enum MHD_Result
api_reply(struct rq *rq, unsigned int status, const char *type,
    const void *body, size_t len, const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char num[24];

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	rq->status = status;
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

enum MHD_Result
api_reply_json(struct rq *rq, unsigned int status, const cJSON *o)
{
	static const char oom[] =
	    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
	enum MHD_Result ret;
	char *text;

	text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	if (text == NULL)
		return api_reply(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
		    oom, sizeof(oom) - 1, NULL);
	ret = api_reply(rq, status, "application/json", text, strlen(text), NULL);
	cJSON_free(text);
	return ret;
}

enum MHD_Result
api_reply_error_v(struct rq *rq, unsigned int status, const char *code,
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
	ret = api_reply_json(rq, status, o);
	cJSON_Delete(o);
	return ret;
}

enum MHD_Result
api_error(struct rq *rq, unsigned int status, const char *code,
    const char *fmt, ...)
{
	enum MHD_Result ret;
	va_list ap;

	va_start(ap, fmt);
	ret = api_reply_error_v(rq, status, code, false, fmt, ap);
	va_end(ap);
	return ret;
}

enum MHD_Result
api_aws_fail(struct rq *rq, const char *what, enum tf_err rc)
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

enum MHD_Result
api_oom(struct rq *rq)
{
	return api_error(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
	    "out of memory");
}

bool
api_ns_allowed(const struct rq *rq, const char *ns, enum api_scope scope)
{
	return rq->key == NULL || api_key_allows(rq->key, ns, scope);
}

bool
api_read_ns(struct rq *rq, const char **ns, enum MHD_Result *ret)
{
	*ns = api_query(rq, "ns");
	if (*ns != NULL && !tf_task_ns_valid(*ns))
		*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "ns: must be 1 to %d of A-Z a-z 0-9 _ . -", TF_TASK_NS_MAX);
	else if (*ns == NULL && rq->key != NULL && !rq->key->all_ns)
		*ret = api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "this API key may read only some namespaces: give ns");
	else if (*ns != NULL && !api_ns_allowed(rq, *ns, API_SCOPE_READ))
		*ret = api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "this API key may not read namespace \"%s\"", *ns);
	else
		return true;
	return false;
}

bool
api_write_ns(struct rq *rq, const char *ns, enum MHD_Result *ret)
{
	if (!tf_task_ns_valid(ns))
		*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "ns: must be 1 to %d of A-Z a-z 0-9 _ . -", TF_TASK_NS_MAX);
	else if (!api_ns_allowed(rq, ns, API_SCOPE_WRITE))
		*ret = api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "this API key may not write namespace \"%s\"", ns);
	else
		return true;
	return false;
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

bool
api_check_query(struct rq *rq, const char *const *allowed,
    enum MHD_Result *ret)
{
	struct query_check q = { .allowed = allowed };

	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, query_iter, &q);
	if (q.bad[0] == '\0')
		return true;
	*ret = api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s", q.bad);
	return false;
}

const char *
api_query(struct rq *rq, const char *name)
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

/* --- request bodies ---------------------------------------------------- */

bool
api_is_json(struct rq *rq)
{
	const char *ct = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen("application/json");

	return ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int
api_read_params_field(const cJSON *f, const cJSON *av, char **out, char *err,
    size_t errlen)
{
	return submit_read_params_field(f, av, out, err, errlen);
}
