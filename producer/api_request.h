/*
 * api_request.h - what the REST API's files share (internal to
 * producer/api*.c; nothing else includes it): the server, one request, the
 * replies every handler sends (JSON bodies, the error codes api.c lists),
 * the check of a key's namespaces, query parameters and request bodies.
 *
 * Every function here is called on the request's own connection thread;
 * a struct rq is never shared between threads.
 */
#ifndef TF_PRODUCER_API_REQUEST_H
#define TF_PRODUCER_API_REQUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "api.h"
#include "api_auth.h"
#include "base/buf.h"
#include "base/err.h"
#include "rate_limit.h"
#include "server/httpd.h"

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
	const struct api_key *key; /* NULL when authentication is off; points
	                              into held's keys */
	struct api_keyset *held;   /* the key set held until the request ends
	                              (api_keyring.h); NULL: none */
	const char *route;         /* the route template, for the metrics */
	unsigned int status;       /* the status answered; 0: none yet */
	int64_t start_ms;          /* monotonic: when the headers were in */
	char method[12];           /* a copy: the metrics read it at the end */
	struct tf_buf body;
	bool too_large;            /* the body went over API_BODY_MAX */
	struct rate_verdict rl;    /* the rate that applied; limit 0: none */
};

/* --- replies (api_request.c) ------------------------------------------- */

/* Each queues the reply on rq->conn and returns what MHD_queue_response()
 * did (MHD_NO: drop the connection). The body and every string argument
 * are borrowed for the call (copied into the reply). */

/* Replies with body (len bytes) of type and the headers every reply
 * carries (CORS, RateLimit-*, Retry-After on 429). allow: the Allow
 * header, or NULL. */
enum MHD_Result api_reply(struct rq *rq, unsigned int status,
    const char *type, const void *body, size_t len, const char *allow);

/* Replies with o (borrowed; NULL: 500 out of memory) as JSON. */
enum MHD_Result api_reply_json(struct rq *rq, unsigned int status,
    const cJSON *o);

/* Replies {"error": {"code": code, "message": fmt...}} with status; with
 * preview, also "runs": [] and "times": [] (api_preview.c). */
enum MHD_Result api_reply_error_v(struct rq *rq, unsigned int status,
    const char *code, bool preview, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

/* Replies {"error": {"code": code, "message": ...}}. */
enum MHD_Result api_error(struct rq *rq, unsigned int status,
    const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Replies for a failed AWS call about what: 429 when throttled, 500 when
 * out of memory, 502 otherwise. */
enum MHD_Result api_aws_fail(struct rq *rq, const char *what,
    enum tf_err rc);

/* Replies 500 internal, out of memory. */
enum MHD_Result api_oom(struct rq *rq);

/* True when the request may touch namespace ns (always without keys). */
bool api_ns_allowed(const struct rq *rq, const char *ns,
    enum api_scope scope);

/* The optional query parameter ns of a read that may span namespaces
 * (GET /v1/stats, /v1/due): *ns is it (borrowed from the request) or NULL
 * for every namespace, which only a key allowed all of them may ask.
 * Returns false after replying 400 (a bad name) or 403 (its result in
 * *ret). */
bool api_read_ns(struct rq *rq, const char **ns, enum MHD_Result *ret);

/* The namespace ns of a path that writes it (DELETE /v1/namespaces/{ns},
 * its pause and resume): returns false after replying 400 (a bad name) or
 * 403 (a key that may not write it), its result in *ret. */
bool api_write_ns(struct rq *rq, const char *ns, enum MHD_Result *ret);

/* --- query parameters (api_request.c) ---------------------------------- */

/* Checks that every query parameter is one of allowed (NULL-terminated),
 * each once. Returns false after replying 400 (its result in *ret). */
bool api_check_query(struct rq *rq, const char *const *allowed,
    enum MHD_Result *ret);

/* A query parameter; "" for one given without a value; NULL when absent.
 * Borrowed from the connection: valid until the request completes. */
const char *api_query(struct rq *rq, const char *name);

/* --- request bodies (api_request.c) ------------------------------------ */

/* True when the request's Content-Type is JSON. */
bool api_is_json(struct rq *rq);

/* Reads a body's "params" field f (borrowed; an object) as its exact text
 * from av (borrowed: the same body marshalled) into *out (caller frees
 * with tf_free()), and checks it as submit does. Returns 0 or EXIT_USAGE
 * with the reason in err. Shared by POST and PATCH. */
int api_read_params_field(const cJSON *f, const cJSON *av, char **out,
    char *err, size_t errlen);

#endif /* TF_PRODUCER_API_REQUEST_H */
