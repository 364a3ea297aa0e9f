/*
 * http.h - HTTP requests through libcurl, with connections kept alive.
 *
 * A tf_http_pool keeps idle curl easy handles; each handle keeps its own
 * connection cache, so a request that takes a handle reuses a warm
 * connection to the same host. The pool is thread-safe: any number of
 * threads may perform requests at once (each takes its own handle).
 *
 * This layer knows nothing of AWS: it sends one request and reports either a
 * transport failure (TF_ERR_IO, TF_ERR_TIMEOUT, TF_ERR_CANCELLED) or the HTTP
 * status and body. Retries are the caller's policy (aws.c).
 */
#ifndef TF_HTTP_H
#define TF_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "base/err.h"

struct tf_http_pool;

struct tf_http_header {
	const char *name;   /* borrowed */
	const char *value;  /* borrowed; must not contain CR or LF */
};

/* Response headers a caller wants to read (an AWS error type, a Lambda
 * function error): filled by the transfer, "" for a header that did not
 * come. Names are matched without regard to case; a value longer than
 * the buffer is cut. */
#define TF_HTTP_CAPTURE_MAX 4
struct tf_http_capture {
	const char *names[TF_HTTP_CAPTURE_MAX];  /* borrowed; NULL ends the list */
	char values[TF_HTTP_CAPTURE_MAX][256];
};

struct tf_http_request {
	const char *method;                     /* "GET", "POST", "PUT", ... */
	const char *url;                        /* borrowed */
	const struct tf_http_header *headers;   /* borrowed array */
	size_t n_headers;
	const void *body;                       /* borrowed; NULL when body_len is 0 */
	size_t body_len;
	long connect_timeout_ms;                /* 0: 3000 */
	long timeout_ms;                        /* whole transfer; 0: 30000 */
	const atomic_int *cancel;               /* optional: a non-zero value aborts
	                                           the transfer within ~100 ms */
	size_t max_response;                    /* 0: 16 MiB; larger bodies fail
	                                           with TF_ERR_TOO_LARGE */
	struct tf_http_capture *capture;        /* optional, borrowed: response
	                                           headers to keep */
};

struct tf_http_response {
	long status;          /* HTTP status code */
	struct tf_buf body;   /* owned; free with tf_http_response_free() */
	int sends;            /* times the request went on the wire, set also
	                         when the transfer failed: more than 1 when
	                         libcurl sent it again by itself on a fresh
	                         connection, as it does when a kept-alive one
	                         dies before any byte of the answer came (an
	                         earlier send may have been applied) */
};

/* Creates an empty pool. Caller frees with tf_http_pool_free(). */
enum tf_err tf_http_pool_new(struct tf_http_pool **out);
/* Frees p and every handle in it; NULL is fine. No request may be running. */
void tf_http_pool_free(struct tf_http_pool *p);

/* Performs req. resp (initialised: { 0, TF_BUF_INIT, 0 } or an earlier answer,
 * whose body's memory is reused) is emptied first. TF_OK means a complete
 * response arrived, whatever its status; resp is then filled and owned by the
 * caller. On failure resp is empty.
 * errtext (may be NULL) receives curl's explanation of a transport error. */
enum tf_err tf_http_perform(struct tf_http_pool *p,
    const struct tf_http_request *req, struct tf_http_response *resp,
    char *errtext, size_t errlen);

void tf_http_response_free(struct tf_http_response *resp);

/* The state of one transfer that curl's callbacks see, for callers that drive
 * the easy handle themselves (lib/loop/ through a curl multi handle). */
struct tf_http_xfer {
	struct tf_buf *body;            /* borrowed: the response's body */
	size_t max_response;
	int too_large;
	const atomic_int *cancel;       /* borrowed */
	struct curl_slist *headers;     /* owned; freed by tf_http_xfer_release() */
	struct tf_http_capture *capture;  /* borrowed from the request; may be NULL */
	int sends;                      /* the request's trips to the wire */
	char curl_err[CURL_ERROR_SIZE];
};

/* Sets c up to perform req: headers, timeouts, body, and the callbacks that
 * fill resp (emptied first; owned by the caller). t must stay at its address
 * until tf_http_xfer_release(); req and its strings must outlive the
 * transfer. On failure everything is released and resp is empty. */
enum tf_err tf_http_xfer_prepare(CURL *c, const struct tf_http_request *req,
    struct tf_http_xfer *t, struct tf_http_response *resp);

/* Turns the transfer's result cc into our code: TF_OK with resp->status set,
 * or a transport error (resp emptied, errtext filled when not NULL);
 * resp->sends either way. */
enum tf_err tf_http_xfer_finish(CURL *c, CURLcode cc, struct tf_http_xfer *t,
    struct tf_http_response *resp, char *errtext, size_t errlen);

/* Frees what tf_http_xfer_prepare() made and drops c's pointers to t; c (may
 * be NULL) can then be reused or cleaned up. */
void tf_http_xfer_release(CURL *c, struct tf_http_xfer *t);

/* Initialises libcurl once per process; called by tf_http_pool_new() and safe
 * to call again. Returns TF_OK or TF_ERR_NOMEM. */
enum tf_err tf_http_global_init(void);

#endif /* TF_HTTP_H */
