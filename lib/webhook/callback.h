/*
 * callback.h - completion callbacks (docs/webhooks.md, "Completion
 * callbacks"): a task may name a URL called after each run that succeeds
 * (`callback`) and one called when it fails for good (`failure_callback`),
 * as QStash's callback and failure-callback are.
 *
 * A callback is a POST of a JSON document (tf_callback_body()) carrying
 *
 *     Taskfleet-Callback-Id: <task id>/<iteration>/<event>
 *     Taskfleet-Timestamp, Taskfleet-Signature    (http_sign.h, when
 *                                                  signing keys are set)
 *
 * The id is the same on every attempt and after a redelivery: receivers
 * drop one they have seen (the guarantee is at least once while the
 * consumer runs; docs/design.md section 13). Connections pass the webhooks'
 * SSRF guard (netaddr.h: TASKFLEET_HTTP_ALLOW and TASKFLEET_HTTP_TARGETS).
 * A callback is retried on its own (TF_CALLBACK_ATTEMPTS, with doubling
 * backoff) and never re-runs the task.
 */
#ifndef TF_WEBHOOK_CALLBACK_H
#define TF_WEBHOOK_CALLBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "base/err.h"
#include "webhook/http_sign.h"
#include "webhook/netaddr.h"

/* The longest callback URL accepted, in bytes. */
#define TF_CALLBACK_URL_MAX 2048
/* Attempts of one callback, and the wait before the second (doubled after
 * each further attempt). */
#define TF_CALLBACK_ATTEMPTS 4
#define TF_CALLBACK_BACKOFF_MS 500
/* Per attempt. */
#define TF_CALLBACK_TIMEOUT_MS 10000
/* The longest callback body, in bytes: a run whose result would make it
 * longer is reported without the result (tf_callback_body()), so that every
 * callback fits on its task's item until it is delivered
 * (task/callback_pending.h) and survives its consumer's crash. */
#define TF_CALLBACK_BODY_MAX 65536

/* Checks a callback URL (NULL or "": none): http:// or https://, a host,
 * 1 to TF_CALLBACK_URL_MAX bytes, no spaces or control characters. On
 * TF_ERR_INVALID why gets the reason without the field's name. */
enum tf_err tf_callback_url_check(const char *url, char *why, size_t whylen);

/* What a consumer delivers callbacks with; filled by
 * tf_callback_env_load(), freed by tf_callback_env_free(). */
struct tf_callback_env {
	struct tf_http_keys keys;          /* owned; none: unsigned */
	struct tf_allow_list *allow;       /* owned; NULL: empty */
	struct tf_target_list *targets;    /* owned; NULL: any */
	long backoff_ms;                   /* TF_CALLBACK_BACKOFF_MS; tests
	                                      may shorten it */
	long timeout_ms;                   /* per attempt: TF_CALLBACK_TIMEOUT_MS;
	                                      tests may shorten it */
};

/* Reads TASKFLEET_HTTP_SIGNING_KEYS, TASKFLEET_HTTP_ALLOW and
 * TASKFLEET_HTTP_TARGETS, as the http runner does. TF_ERR_INVALID with the
 * setting named in err. */
enum tf_err tf_callback_env_load(struct tf_callback_env *env, char *err,
    size_t errlen);

void tf_callback_env_free(struct tf_callback_env *env);

/* One run's outcome, as the callback reports it; strings borrowed. */
struct tf_callback_run {
	const char *task_id;
	const char *ns;
	const char *type;
	const char *event;          /* "success", "completed" or "failed" */
	int64_t iteration;          /* the iteration that ran */
	int64_t attempt;
	const char *error;          /* NULL: none */
	const char *result_json;    /* the runner's result object, or NULL */
	int64_t duration_ms;
	int64_t finished_ms;        /* epoch ms */
};

/* The callback's JSON body into *out (caller frees with tf_free()):
 * {"task_id", "ns", "type", "event", "iteration", "attempt",
 * "duration_ms", "finished_at", and "error" and "result" when there are}.
 * A result that would make the body longer than TF_CALLBACK_BODY_MAX is left
 * out and "result_omitted": true said instead (the receiver reads it from
 * the task). */
enum tf_err tf_callback_body(const struct tf_callback_run *run, char **out);

/*
 * Delivers one callback, blocking (call it on a worker thread): POSTs body
 * to url with the headers above, up to TF_CALLBACK_ATTEMPTS times while the
 * answer is a connection error, a timeout, 408, 429 or 5xx, waiting
 * backoff_ms, then twice that, .... Returns TF_OK on a 2xx; otherwise why
 * (one line) says what the last attempt got. id: the Taskfleet-Callback-Id.
 */
enum tf_err tf_callback_deliver(const struct tf_callback_env *env,
    const char *url, const char *id, const char *body, int *attempts,
    char *why, size_t whylen);

/*
 * The same attempt by attempt, for a caller that performs the transfer
 * itself (the consumer, on its event loop: no thread waits on a slow
 * receiver). tf_callback_attempt_new() sets up one POST (*out: caller frees
 * with tf_callback_attempt_free(); TF_ERR_INVALID, why filled, for a URL
 * that does not parse); tf_callback_attempt_easy() is its libcurl handle
 * (owned by the attempt) to perform; tf_callback_attempt_judge() says what
 * curl's result cc and the answer mean: TF_OK on a 2xx, TF_ERR_IO worth
 * another attempt after the backoff, TF_ERR_INVALID not (why: one line).
 * url, id and body are borrowed until the attempt is freed.
 */
struct tf_callback_attempt;
enum tf_err tf_callback_attempt_new(const struct tf_callback_env *env,
    const char *url, const char *id, const char *body,
    struct tf_callback_attempt **out, char *why, size_t whylen);
CURL *tf_callback_attempt_easy(struct tf_callback_attempt *a);
enum tf_err tf_callback_attempt_judge(struct tf_callback_attempt *a,
    CURLcode cc, char *why, size_t whylen);
void tf_callback_attempt_free(struct tf_callback_attempt *a);

#endif /* TF_WEBHOOK_CALLBACK_H */
