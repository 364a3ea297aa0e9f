/*
 * http_task.h - the params of the `http` runner (webhooks): parsing and
 * validation in one place, used by the runner before each delivery and by
 * `taskfleet http` before anything is written, so both refuse the same input
 * with the same words.
 *
 * Params, a JSON object:
 *
 *   url               string, required: http:// or https://, with a host, no
 *                     user:password@ (put credentials in a header), at most
 *                     TF_HTTP_URL_MAX bytes
 *   method            "GET" (default), "POST", "PUT", "PATCH", "DELETE" or
 *                     "HEAD" (upper or lower case)
 *   headers           object of header name -> string value. Names are HTTP
 *                     tokens; values hold no CR, LF or NUL. Host,
 *                     Content-Length, Transfer-Encoding, Connection, Expect,
 *                     TE, Upgrade, Keep-Alive, Proxy-Connection, Trailer and
 *                     the Taskfleet-* headers are the runner's and refused
 *                     here.
 *   body              a string, sent as it is (Content-Type text/plain;
 *                     charset=utf-8 unless the headers set one), or any other
 *                     JSON value, sent as its JSON text with Content-Type
 *                     application/json. Any method but HEAD may carry one.
 *   timeout_ms        1 to 900000 (15 minutes); default 10000 (the http
 *                     runner's own default, TASKFLEET_HTTP_TIMEOUT, replaces
 *                     it when params have none: see timeout_given)
 *   success           statuses that count as success: an array of numbers
 *                     (100 to 599) and strings "2xx" (a class) or "200-204"
 *                     (a range); default ["2xx"]
 *   follow_redirects  true to follow 301, 302, 303, 307 and 308; default
 *                     false (a 3xx then fails permanently unless listed in
 *                     `success`)
 *   max_redirects     0 to 20; default 5
 *   result_headers    response header names to record in the result;
 *                     default TF_HTTP_DEFAULT_RESULT_HEADERS
 *
 * Any other key is an error: a typo ("mehtod") must not pass silently. The
 * text must be strict JSON that DynamoDB can hold (no trailing text, no
 * duplicate keys, no \u0000, numbers of at most 38 digits): params live in
 * the task item.
 */
#ifndef TF_HTTP_TASK_H
#define TF_HTTP_TASK_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define TF_HTTP_URL_MAX           8192
#define TF_HTTP_HEADERS_MAX       64      /* headers in params */
#define TF_HTTP_HEADER_LINE_MAX   8192    /* "Name: value" */
#define TF_HTTP_TIMEOUT_DEFAULT   10000
#define TF_HTTP_TIMEOUT_MAX       900000
#define TF_HTTP_REDIRECTS_DEFAULT 5
#define TF_HTTP_REDIRECTS_MAX     20
#define TF_HTTP_RESULT_HEADERS_MAX 32
/* The default request body cap; the runner's configuration may change it. */
#define TF_HTTP_REQUEST_MAX_DEFAULT (256 * 1024)

/* Recorded in the result when params name no result_headers. */
#define TF_HTTP_DEFAULT_RESULT_HEADERS \
	"content-type", "content-length", "location", "retry-after", "etag", \
	"x-request-id"

struct tf_http_task_header {
	char *name;   /* owned */
	char *value;  /* owned */
};

/* Statuses are 0..TF_HTTP_STATUS_END - 1. */
#define TF_HTTP_STATUS_END 600

/* One webhook, as the params describe it. Every pointer is owned by the
 * struct; free with tf_http_task_free(). */
struct tf_http_task {
	char method[8];                        /* upper case */
	char *url;
	struct tf_http_task_header *headers;
	size_t n_headers;
	char *body;                            /* NULL: no body */
	size_t body_len;
	bool body_is_json;                     /* send as application/json */
	bool has_content_type;                 /* the headers set Content-Type */
	long timeout_ms;
	bool timeout_given;                    /* params set timeout_ms */
	unsigned char success[TF_HTTP_STATUS_END / 8];  /* bit s % 8 of
	                                          success[s / 8]: status s is
	                                          success (75 bytes, not 600:
	                                          one copy per webhook in
	                                          flight) */
	bool follow_redirects;
	int max_redirects;
	char **result_headers;                 /* lower case */
	size_t n_result_headers;
};

/*
 * Parses and checks params (len bytes of JSON object text) into *out.
 * max_body is the request body cap in bytes (0: TF_HTTP_REQUEST_MAX_DEFAULT).
 * On TF_ERR_INVALID, errbuf holds a one-line message naming the field
 * ("params.method: \"FETCH\" is not one of GET, POST, PUT, PATCH, DELETE,
 * HEAD") and *out is left empty. TF_ERR_NOMEM when out of memory.
 * Free *out with tf_http_task_free() either way.
 */
enum tf_err tf_http_task_parse(const char *params, size_t len, size_t max_body,
    struct tf_http_task *out, char *errbuf, size_t errlen);

/* Frees what t owns and empties it; an empty t is fine. */
void tf_http_task_free(struct tf_http_task *t);

/* True when status counts as success for t. */
bool tf_http_task_is_success(const struct tf_http_task *t, long status);

/* True when url (http or https, as libcurl parses it) carries a user name or
 * password (http://user:password@host/): credentials that neither a task's
 * URL nor a redirect's target may add. Also true when it cannot tell (out
 * of memory), so that callers refuse; false for a URL that does not
 * parse. */
bool tf_http_url_has_userinfo(const char *url);

/* True for an HTTP token (RFC 9110: letters, digits and !#$%&'*+-.^_`|~),
 * 1 to 256 bytes. */
bool tf_http_header_name_valid(const char *name);

/* True for a value without CR, LF or NUL, at most TF_HTTP_HEADER_LINE_MAX
 * bytes. */
bool tf_http_header_value_valid(const char *value);

/* True for a header the runner sets itself and params may not (case-
 * insensitive). */
bool tf_http_header_reserved(const char *name);

#endif /* TF_HTTP_TASK_H */
