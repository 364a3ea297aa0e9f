/*
 * aws.h - calling AWS services that speak the JSON protocol (SQS, DynamoDB,
 * Secrets Manager, SSM, EventBridge, Step Functions), and with
 * tf_aws_request() those that do not (SNS's query protocol, Lambda's REST
 * API).
 *
 * tf_aws_call() builds the POST, signs it with SigV4 (credentials from the
 * chain, refreshed as needed), sends it over kept-alive connections, and
 * applies the AWS retry rules: throttling, 5xx and transport failures are
 * retried with exponential backoff and full jitter, under a retry budget
 * shared by the whole client (a token bucket, as the SDKs' standard mode
 * does it), so an outage does not multiply the load. Every other error is
 * returned at once, mapped to an enum tf_err; AWS's own `__type` and
 * `message` stay available through tf_aws_last_error().
 *
 * A tf_aws is thread-safe: one client serves every thread of a process.
 */
#ifndef TF_AWS_H
#define TF_AWS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "aws/creds.h"
#include "aws/http.h"
#include "base/buf.h"
#include "base/err.h"

enum tf_aws_service {
	TF_AWS_SQS,
	TF_AWS_DYNAMODB,
	TF_AWS_SECRETSMANAGER,   /* `serve`'s API keys (aws/secrets.h) */
	TF_AWS_SSM,              /* the same from Parameter Store */
	TF_AWS_SNS,              /* query protocol: tf_aws_request() */
	TF_AWS_LAMBDA,           /* REST: tf_aws_request() */
	TF_AWS_EVENTS,           /* EventBridge, JSON 1.1 */
	TF_AWS_SFN,              /* Step Functions ("states"), JSON 1.0 */
	TF_AWS__SERVICES
};

struct tf_aws_config {
	const char *region;          /* borrowed; NULL: "us-east-1" */
	const char *endpoint[TF_AWS__SERVICES];  /* borrowed; NULL: the public
	                                            endpoint of the region */
	struct tf_creds_provider *creds;  /* borrowed; must outlive the client */
	int max_attempts;            /* per call, first try included; 0: 5 */
	long base_backoff_ms;        /* 0: 50 */
	long max_backoff_ms;         /* 0: 5000 */
	int retry_budget;            /* tokens; 0: 500 (a retry costs 5, a
	                                timeout 10; a success returns 1) */
	long connect_timeout_ms;     /* 0: 3000 */
	long timeout_ms;             /* per attempt, unless the call says; 0: 10000 */
};

/* What AWS said about the last failed call on this thread. */
struct tf_aws_error {
	enum tf_err code;
	long http_status;     /* 0 for transport errors */
	char type[128];       /* AWS's __type without its namespace, e.g.
	                         "ConditionalCheckFailedException"; "" if none */
	char message[512];    /* AWS's message, or the transport error */
	char operation[64];   /* e.g. "UpdateItem" */
	int attempts;         /* attempts made */
};

/* Counters of requests sent, for metrics and benchmarks. */
struct tf_aws_stats {
	atomic_long requests;    /* HTTP requests sent, retries included */
	atomic_long retries;
	atomic_long throttles;   /* throttled attempts, retried ones included */
	atomic_long throttled_calls;  /* calls still throttled after retries */
	atomic_long errors;      /* calls that returned an error */
};

struct tf_aws;

/* Creates a client; copies everything it keeps from cfg except creds.
 * Caller frees with tf_aws_free(). */
enum tf_err tf_aws_new(const struct tf_aws_config *cfg, struct tf_aws **out);
void tf_aws_free(struct tf_aws *aws);

/* Per-call options; a NULL pointer means all defaults. */
struct tf_aws_call_opts {
	long timeout_ms;           /* per attempt; 0: the client's */
	const atomic_int *cancel;  /* a non-zero value aborts the call */
	int no_retry;              /* one attempt only */
};

/* Calls `operation` (e.g. "SendMessage", "UpdateItem") on svc with the JSON
 * request body. On TF_OK, *response is the parsed reply (an empty object for
 * an empty body); caller frees with cJSON_Delete(). On error *response is
 * NULL and tf_aws_last_error() says what AWS said. */
enum tf_err tf_aws_call(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, const cJSON *request,
    const struct tf_aws_call_opts *opts, cJSON **response);

/* tf_aws_call() for a request already in JSON text: body (len bytes,
 * borrowed; NULL: "{}") is sent as it is. *reply (the caller's, initialised)
 * is emptied and receives the answer in its own memory, so a buffer kept
 * across calls (tf_aws_scratch) costs no allocation for answers that fit.
 * On TF_OK it holds the raw answer, "" for an empty one; on error it is
 * empty. The caller frees it with tf_buf_free() when done with it. */
enum tf_err tf_aws_call_text(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, const char *body, size_t len,
    const struct tf_aws_call_opts *opts, struct tf_buf *reply);

/* The shape of a request tf_aws_call() cannot send: another method, path,
 * content type or extra headers (the query protocol of SNS, Lambda's REST
 * API). Everything is borrowed for the call. */
struct tf_aws_shape {
	const char *method;          /* NULL: "POST" */
	const char *path;            /* the path as sent, percent-encoded,
	                                replacing the endpoint's; NULL: the
	                                endpoint's */
	const char *query;           /* without '?', encoded; NULL: none */
	const char *content_type;    /* NULL: the service's JSON type */
	const struct tf_http_header *headers;  /* extra headers, all signed */
	size_t n_headers;            /* at most TF_AWS_EXTRA_HEADERS */
	struct tf_http_capture *capture;  /* response headers to keep; may be
	                                     NULL; the call adds
	                                     x-amzn-errortype to a free slot */
};
#define TF_AWS_EXTRA_HEADERS 3

/* Sends one operation shaped by shape (NULL: as tf_aws_call() does) with
 * the same signing, retries and budget as tf_aws_call(). A 2xx answer is
 * TF_OK: resp (initialised by the caller) holds its status and body, the
 * caller frees it with tf_http_response_free(). Any other answer is an
 * error as for tf_aws_call(), its type read from a JSON body, an XML
 * <Error><Code> (the query protocol) or the X-Amzn-ErrorType header (REST);
 * resp then still holds the last answer (status 0 after a transport
 * failure). */
enum tf_err tf_aws_request(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, const struct tf_aws_shape *shape,
    const char *body, size_t len, const struct tf_aws_call_opts *opts,
    struct tf_http_response *resp);

/* The calling thread's buffers for one call at a time: its request body
 * and its answer (tf_aws_call_text). */
enum tf_aws_scratch {
	TF_AWS_SCRATCH_REQUEST,
	TF_AWS_SCRATCH_REPLY,
	TF_AWS__SCRATCH
};

/* The calling thread's buffer `which`, emptied: borrowed, valid until the
 * thread asks for the same buffer again (so it serves one call at a time),
 * freed when the thread ends. Reusing it saves an allocation (and the
 * reallocations of its growth) per call. NULL when out of memory. */
struct tf_buf *tf_aws_scratch(enum tf_aws_scratch which);

/* The last error of a call on this thread; borrowed, overwritten by the next
 * failing call on the same thread. */
const struct tf_aws_error *tf_aws_last_error(void);

/* Writes why a call failed with rc into buf for people: tf_strerror(rc),
 * and what AWS said (tf_aws_last_error()) when it is about rc. */
void tf_aws_reason(enum tf_err rc, char *buf, size_t len);

/* True when the last failed call on this thread failed because the table or
 * queue does not exist (rather than the item). */
bool tf_aws_resource_missing(void);

/* The client's counters; borrowed for the client's lifetime. */
struct tf_aws_stats *tf_aws_stats(struct tf_aws *aws);

/* Requests by operation: what a benchmark or an operator compares. */
#define TF_AWS_MAX_OPS 32
struct tf_aws_op_count {
	char operation[48];      /* e.g. "UpdateItem" */
	long calls;              /* tf_aws_call()s */
	long requests;           /* HTTP requests, retries included */
	long throttled;          /* requests answered with throttling */
	long failed;             /* calls that returned an error */
	enum tf_aws_service service;  /* the service the operation is on */
	long errors[TF_ERR__COUNT];   /* failed calls by the error returned */
};

/* Copies up to max per-operation counts into out (in the order the
 * operations were first used); returns how many. Operations beyond
 * TF_AWS_MAX_OPS are counted under "other". */
size_t tf_aws_op_counts(struct tf_aws *aws, struct tf_aws_op_count *out,
    size_t max);

/* The endpoint URL used for svc; borrowed for the client's lifetime. */
const char *tf_aws_endpoint(const struct tf_aws *aws, enum tf_aws_service svc);
const char *tf_aws_region(const struct tf_aws *aws);

/* Maps an AWS error type (namespace optional) and HTTP status to our code. */
enum tf_err tf_aws_map_error(const char *type, long http_status);

/* Reads AWS's error type (namespace removed) and message from an error reply
 * body into the caller's buffers; a body that is not JSON leaves type empty and
 * becomes the message (cut to fit). */
void tf_aws_parse_error_body(const char *body, size_t len, char *type,
    size_t typelen, char *message, size_t msglen);

/* The text of the first <tag>...</tag> in body (len bytes) into out (cut
 * to fit); false when there is none. For the query protocol's answers
 * (SNS): no entity decoding, which the ids and codes read this way never
 * need. */
bool tf_aws_xml_text(const char *body, size_t len, const char *tag,
    char *out, size_t outlen);

/* True when an error of this type and status is worth retrying. */
int tf_aws_is_retryable(const char *type, long http_status);

/*
 * The steps of one call, shared by tf_aws_call() (which sleeps between
 * attempts) and tf_aws_call_async() (aws_async.h, which waits on loop
 * timers), so both sign, classify, back off and count the same way.
 */

/* One attempt, signed and ready to send. */
struct tf_aws_signed {
	struct tf_http_request req;       /* points into this struct, at the
	                                     client's endpoint and at the body
	                                     given to tf_aws_sign() */
	struct tf_http_header headers[7 + TF_AWS_EXTRA_HEADERS];
	char target[128];                 /* X-Amz-Target */
	char *url;                        /* owned when the shape gave a path */
	char amz_date[17];
	char *authorization;              /* owned */
	char *session_token;              /* owned: a copy of the credentials'
	                                     token (a header points at it);
	                                     NULL when they have none. The keys
	                                     are not kept: the signature is made */
};

/* Signs operation's body (borrowed; must outlive the request) with creds
 * (borrowed for the call; only the session token is copied) for svc at the current time. timeout_ms 0: the client's; cancel
 * may be NULL. Free with tf_aws_signed_free(). */
enum tf_err tf_aws_sign(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, const char *body, size_t body_len,
    const struct tf_creds *creds, long timeout_ms, const atomic_int *cancel,
    struct tf_aws_signed *out);
/* Frees the signature and wipes the session token's copy. */
void tf_aws_signed_free(struct tf_aws_signed *s);

/* tf_aws_sign() for a request of another shape (tf_aws_request); shape
 * and its strings must outlive the request. */
enum tf_err tf_aws_sign_shaped(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, const struct tf_aws_shape *shape,
    const char *body, size_t body_len, const struct tf_creds *creds,
    long timeout_ms, const atomic_int *cancel, struct tf_aws_signed *out);

/* Judges a failed attempt: send_rc is the transport's result; when it is
 * TF_OK, resp (borrowed) holds an answer other than 200. Fills *err and the
 * call's code *rc, counts a throttled answer in *throttled; true when the
 * failure is worth another attempt (throttling, 5xx, timeouts, dropped
 * connections). */
bool tf_aws_attempt_retryable(struct tf_aws *aws, const char *operation,
    int attempt, enum tf_err send_rc, const struct tf_http_response *resp,
    const char *errtext, int *throttled, struct tf_aws_error *err,
    enum tf_err *rc);

/* The sends of one attempt beyond the first: libcurl's own resends on a
 * fresh connection (tf_http_response's sends), each counted as a request.
 * The caller adds them to its attempts, so that a call whose earlier send
 * may have been applied says attempts > 1 (its error record too), as when
 * the AWS layer itself retried. */
int tf_aws_resends(struct tf_aws *aws, const struct tf_http_response *resp);

/* The wait in ms before the attempt after `attempt` (exponential backoff,
 * full jitter), its cost taken from the retry budget and added to
 * *retried_cost; -1 when there is to be no retry: attempts spent, budget
 * spent, or *cancel set (then *rc and *err say TF_ERR_CANCELLED). */
long tf_aws_retry_delay(struct tf_aws *aws, const char *operation, int attempt,
    const atomic_int *cancel, enum tf_err *rc, struct tf_aws_error *err,
    int *retried_cost);

/* Accounts a finished call: budget refund, counters, per-operation counts. */
void tf_aws_call_end(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, int attempts, int throttled, int retried_cost,
    enum tf_err rc);

/* Credentials without blocking: true, and *out filled, when the client holds
 * credentials that are not yet due for refresh at now_ms. */
bool tf_aws_cached_creds(struct tf_aws *aws, int64_t now_ms,
    struct tf_creds *out);

/* Credentials from the chain (may block on the network: container or
 * instance metadata), kept for tf_aws_cached_creds(). */
enum tf_err tf_aws_fetch_creds(struct tf_aws *aws, int64_t now_ms,
    struct tf_creds *out);

#endif /* TF_AWS_H */
