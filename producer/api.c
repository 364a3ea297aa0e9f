/*
 * api.c - the REST API of `taskfleet serve` (api.h): the server, the
 * console's static files, routing, authorisation (with api_auth.h) and
 * CORS. The handlers live by what they serve (api_handlers.h): tasks that
 * exist in api_tasks.c, new ones in api_create.c, api_stats.c and
 * api_preview.c, the due tasks and the namespaces in api_manage.c, the
 * dead-letter queue in api_dlq.c; the replies and JSON errors they share
 * in api_request.c.
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
 * /healthz and /readyz (api_health.h) answer without a key and are never
 * rate limited: a load balancer's health check has neither. /metrics is
 * not here but on --metrics-listen's port (api_metrics.h). Every request is
 * counted there by its route template and status when it ends.
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
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>

#include "api_handlers.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/httpd.h"
#include "task/limits.h"
#include "task/task.h"
#include "task/task_manage.h"

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

enum route {
	R_NONE,
	R_OPENAPI,
	R_STATS,
	R_TASKS,
	R_TASK,
	R_TASK_ACTION,
	R_PREVIEW,
	R_DUE,
	R_NAMESPACE_PAUSE,
	R_NAMESPACE_RESUME,
	R_NAMESPACES,
	R_NAMESPACE,
	R_DLQ,
	R_DLQ_REDRIVE,
	R_LIMITS,
	R_LIMIT
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
	[R_DUE] = "GET",
	[R_NAMESPACE_PAUSE] = "POST",
	[R_NAMESPACE_RESUME] = "POST",
	[R_NAMESPACES] = "GET",
	[R_NAMESPACE] = "DELETE",
	[R_DLQ] = "GET",
	[R_DLQ_REDRIVE] = "POST",
	[R_LIMITS] = "GET",
	[R_LIMIT] = "PUT, DELETE",
};

/* Each route's template: the route label of the metrics. */
static const char *const route_template[] = {
	[R_NONE] = "(none)",
	[R_OPENAPI] = "/v1/openapi.json",
	[R_STATS] = "/v1/stats",
	[R_TASKS] = "/v1/tasks",
	[R_TASK] = "/v1/tasks/{id}",
	[R_TASK_ACTION] = "/v1/tasks/{id}/{action}",
	[R_PREVIEW] = "/v1/schedule/preview",
	[R_DUE] = "/v1/due",
	[R_NAMESPACE_PAUSE] = "/v1/namespaces/{ns}/pause",
	[R_NAMESPACE_RESUME] = "/v1/namespaces/{ns}/resume",
	[R_NAMESPACES] = "/v1/namespaces",
	[R_NAMESPACE] = "/v1/namespaces/{ns}",
	[R_DLQ] = "/v1/dlq",
	[R_DLQ_REDRIVE] = "/v1/dlq/redrive",
	[R_LIMITS] = "/v1/limits",
	[R_LIMIT] = "/v1/limits/{key}",
};

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
		return api_reply(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
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
	rq->status = MHD_HTTP_OK;
	ret = MHD_queue_response(rq->conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* --- routing ------------------------------------------------------------ */

/* Finds the route of url; for task routes, *id points into url (its length
 * in *id_len) and *action is the action; for R_NAMESPACE and its pause
 * and resume, *id is the namespace (its length in *id_len). */
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
	const char *slash;
	size_t len, i, n;

	if (strcmp(url, "/v1/openapi.json") == 0)
		return R_OPENAPI;
	if (strcmp(url, "/v1/stats") == 0)
		return R_STATS;
	if (strcmp(url, "/v1/tasks") == 0)
		return R_TASKS;
	if (strcmp(url, "/v1/schedule/preview") == 0)
		return R_PREVIEW;
	if (strcmp(url, "/v1/due") == 0)
		return R_DUE;
	if (strcmp(url, "/v1/namespaces") == 0)
		return R_NAMESPACES;
	if (strcmp(url, "/v1/dlq") == 0)
		return R_DLQ;
	if (strcmp(url, "/v1/dlq/redrive") == 0)
		return R_DLQ_REDRIVE;
	if (strcmp(url, "/v1/limits") == 0)
		return R_LIMITS;
	if (strncmp(url, "/v1/limits/", 11) == 0 && url[11] != '\0' &&
	    strchr(url + 11, '/') == NULL) {
		*id = url + 11;
		*id_len = strlen(*id);
		return R_LIMIT;
	}
	if (strncmp(url, "/v1/namespaces/", 15) == 0 && url[15] != '\0' &&
	    strchr(url + 15, '/') == NULL) {
		*id = url + 15;
		*id_len = strlen(*id);
		return R_NAMESPACE;
	}
	if (strncmp(url, "/v1/namespaces/", 15) == 0 && url[15] != '/' &&
	    (slash = strchr(url + 15, '/')) != NULL &&
	    (strcmp(slash, "/pause") == 0 || strcmp(slash, "/resume") == 0)) {
		*id = url + 15;
		*id_len = (size_t)(slash - *id);
		return slash[1] == 'p' ? R_NAMESPACE_PAUSE : R_NAMESPACE_RESUME;
	}
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
	rq->status = MHD_HTTP_NO_CONTENT;
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
over_rate(struct rq *rq, const struct rate_verdict *v, enum api_refusal limit,
    const char *why, enum MHD_Result *ret)
{
	api_metrics_refused(rq->srv->cfg.metrics, limit);
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
	const struct api_keys *keys;
	size_t addr_len;
	const char *auth;
	int64_t now = mono_ns();

	addr_len = client_id(rq->conn, addr, addr_text, sizeof(addr_text));
	if (cfg->keys == NULL) {
		if (!rate_table_try_take(srv->limits, addr, addr_len, cfg->rate, now,
		    &v))
			return over_rate(rq, &v, API_LIMIT_ADDRESS,
			    "this client is over its rate limit "
			    "(TASKFLEET_API_RATE)", ret);
		rq->rl = v;
		return true;
	}
	if (!rate_table_has_token(srv->auth_failures, addr, addr_len,
	    cfg->auth_rate, now, &v)) {
		v.limit = 0;    /* no RateLimit headers: they are for keys */
		return over_rate(rq, &v, API_LIMIT_UNKNOWN_KEYS,
		    "too many unknown API keys from this "
		    "address", ret);
	}
	auth = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		api_metrics_refused(cfg->metrics, API_AUTH_MISSING);
		*ret = api_error(rq, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		    "an API key is required: Authorization: Bearer KEY");
		return false;
	}
	auth += 7;
	while (*auth == ' ')
		auth++;
	keys = api_keyring_hold(cfg->keys, &rq->held);
	rq->key = api_keys_match(keys, auth);
	if (rq->key == NULL) {
		if (!rate_table_try_take(srv->auth_failures, addr, addr_len,
		    cfg->auth_rate, now, &v)) {
			v.limit = 0;
			return over_rate(rq, &v, API_LIMIT_UNKNOWN_KEYS,
			    "too many unknown API keys from this "
			    "address", ret);
		}
		if (v.limit > 0 && v.remaining == 0)
			tf_log(TF_LOG_WARN, "api: too many unknown API keys from %s: "
			    "its requests are refused (429) until "
			    "TASKFLEET_API_AUTH_RATE allows another", addr_text);
		api_metrics_refused(cfg->metrics, API_AUTH_UNKNOWN);
		*ret = api_error(rq, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		    "unknown API key");
		return false;
	}
	/* By the key's hash: its bucket outlives a reload of the keys. */
	if (!rate_table_try_take(srv->limits, rq->key->hash,
	    sizeof(rq->key->hash), rq->key->has_rate ? &rq->key->rate :
	    cfg->rate, now, &v))
		return over_rate(rq, &v, API_LIMIT_KEY,
		    "this API key is over its rate limit", ret);
	rq->rl = v;
	if (!api_key_has_scope(rq->key, scope)) {
		*ret = api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden",
		    "this API key may only read");
		return false;
	}
	return true;
}

/* Answers /healthz or /readyz (url): text/plain, 200 or 503 with the
 * reason; no key, no rate limit. */
static enum MHD_Result
probe(struct rq *rq, const char *url, const char *method)
{
	static const char not_allowed[] = "method not allowed\n";
	char why[700];
	bool ok;

	rq->route = url[1] == 'h' ? "/healthz" : "/readyz";
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return api_reply(rq, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "text/plain; charset=utf-8", not_allowed,
		    sizeof(not_allowed) - 1, "GET, HEAD");
	ok = url[1] == 'h' ?
	    api_health_live(rq->srv->cfg.health, why, sizeof(why)) :
	    api_health_ready(rq->srv->cfg.health, why, sizeof(why));
	return api_reply(rq, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
	    "text/plain; charset=utf-8", why, strlen(why), NULL);
}

/* Answers a request whose body (if any) is all in. */
static enum MHD_Result
dispatch(struct rq *rq, const char *url, const char *method)
{
	static const char not_allowed[] = "{\"error\":{\"code\":"
	    "\"method_not_allowed\",\"message\":\"method not allowed\"}}";
	char id[TF_TASK_ID_MAX + 1];
	char key[TF_LIMIT_KEY_SIZE];
	const char *idp = NULL, *action_name = "";
	size_t id_len = 0;
	enum tf_manage_action action = TF_MANAGE_SUSPEND;
	const struct tf_console_file *cf;
	bool console;
	enum route r;
	enum MHD_Result ret;

	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0)
		return probe(rq, url, method);
	rq->route = "/console/{file}";
	cf = console_file(url, &console);
	if (cf != NULL)
		return serve_console(rq, cf, method);
	if (console)
		return api_error(rq, MHD_HTTP_NOT_FOUND, "no_route",
		    "no such console file: %.200s", url);
	r = route_of(url, &idp, &id_len, &action, &action_name);
	rq->route = route_template[r];
	if (r == R_NONE)
		return api_error(rq, MHD_HTTP_NOT_FOUND, "no_route",
		    "no such endpoint: %.200s", url);
	if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0)
		return preflight(rq, r);
	if (!route_has(r, method))
		return api_reply(rq, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
		    not_allowed, sizeof(not_allowed) - 1, route_allow[r]);
	if (rq->too_large)
		return api_error(rq, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
		    "the body is over %d bytes", API_BODY_MAX);
	if (!authorise(rq, strcmp(method, MHD_HTTP_METHOD_GET) == 0 ?
	    API_SCOPE_READ : API_SCOPE_WRITE, &ret))
		return ret;
	if (r == R_NAMESPACE || r == R_NAMESPACE_PAUSE ||
	    r == R_NAMESPACE_RESUME) {
		if (id_len > TF_TASK_NS_MAX)
			return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "ns: too long (%zu bytes; at most %d)", id_len,
			    TF_TASK_NS_MAX);
		memcpy(id, idp, id_len);
		id[id_len] = '\0';
	}
	if (r == R_LIMIT) {
		if (id_len >= sizeof(key))
			return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
			    "key: too long (%zu bytes; at most %zu)", id_len,
			    sizeof(key) - 1);
		memcpy(key, idp, id_len);
		key[id_len] = '\0';
	}
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
		return api_reply(rq, MHD_HTTP_OK, "application/json",
		    tf_api_openapi_json, tf_api_openapi_json_len, NULL);
	case R_STATS:
		return api_get_stats(rq);
	case R_TASKS:
		return method[0] == 'G' ? api_list_tasks(rq) : api_post_tasks(rq);
	case R_TASK:
		if (method[0] == 'G')
			return api_get_task(rq, id);
		return method[0] == 'P' ? api_patch_task(rq, id) : api_delete_task(rq, id);
	case R_PREVIEW:
		return api_schedule_preview(rq);
	case R_TASK_ACTION:
		return api_change_task(rq, id, action, action_name);
	case R_DUE:
		return api_get_due(rq);
	case R_NAMESPACES:
		return api_list_namespaces(rq);
	case R_NAMESPACE:
		return api_clear_namespace(rq, id);
	case R_NAMESPACE_PAUSE:
	case R_NAMESPACE_RESUME:
		return api_pause_namespace(rq, id, r == R_NAMESPACE_PAUSE);
	case R_DLQ:
		return api_list_dlq(rq);
	case R_DLQ_REDRIVE:
		return api_redrive_dlq(rq);
	case R_LIMITS:
		return api_list_limits(rq);
	case R_LIMIT:
		return api_change_limit(rq, key, method[1] == 'U');
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
		rq->route = route_template[R_NONE];
		rq->start_ms = tf_mono_ms();
		snprintf(rq->method, sizeof(rq->method), "%s", method);
		api_metrics_begin(srv->cfg.metrics);
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
	struct api_server *srv = cls;
	struct rq *rq = *con_cls;

	(void)conn;
	(void)toe;
	if (rq == NULL)
		return;
	api_metrics_end(srv->cfg.metrics, rq->route, rq->method, rq->status,
	    tf_mono_ms() - rq->start_ms);
	if (rq->held != NULL)
		api_keyring_release(srv->cfg.keys, rq->held);
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
	/* By key hash (keys may be reloaded), or by client address. */
	srv->limits = rate_table_new(API_ADDR_BUCKETS);
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
