/* aws.c - signed calls to AWS with retries: the JSON protocol, and requests
 * of other shapes (tf_aws_request). */
#include "aws/aws.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "aws/http.h"
#include "aws/sigv4.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"

#define RETRY_COST          5
#define TIMEOUT_RETRY_COST 10

struct endpoint {
	char *url;    /* owned: scheme://host[:port]/path */
	char *host;   /* owned: the Host header value, port included when given */
	char *path;   /* owned: the path to sign, "/" at least */
	char *origin; /* owned: scheme://host[:port], for shaped paths */
};

struct tf_aws {
	char *region;                          /* owned */
	struct endpoint ep[TF_AWS__SERVICES];
	struct tf_creds_provider *creds;       /* borrowed */
	struct tf_http_pool *http;             /* owned */
	int max_attempts;
	long base_backoff_ms, max_backoff_ms;
	long connect_timeout_ms, timeout_ms;
	int budget_max;
	atomic_int budget;                     /* retry tokens left */
	struct tf_aws_stats stats;
	pthread_mutex_t creds_lock;            /* guards cached and have_cached */
	struct tf_creds cached;                /* the chain's latest answer, for
	                                          callers that must not block */
	int have_cached;
	pthread_mutex_t ops_lock;              /* guards ops and n_ops */
	struct tf_aws_op_count ops[TF_AWS_MAX_OPS];
	size_t n_ops;
};

/* The signing name is also the endpoint's first label. */
static const char *const signing_name[TF_AWS__SERVICES] = {
	"sqs", "dynamodb", "secretsmanager", "ssm", "sns", "lambda", "events",
	"states"
};
/* X-Amz-Target's prefix and the content type of the JSON services (the JSON
 * protocol's version: 1.0 or 1.1); NULL for those that take shaped requests
 * only. */
static const char *const target_prefix[TF_AWS__SERVICES] = {
	"AmazonSQS.", "DynamoDB_20120810.", "secretsmanager.", "AmazonSSM.", NULL,
	NULL, "AWSEvents.", "AWSStepFunctions."
};
static const char *const json_type[TF_AWS__SERVICES] = {
	"application/x-amz-json-1.0", "application/x-amz-json-1.0",
	"application/x-amz-json-1.1", "application/x-amz-json-1.1", NULL, NULL,
	"application/x-amz-json-1.1", "application/x-amz-json-1.0"
};

static _Thread_local struct tf_aws_error last_error;

const struct tf_aws_error *
tf_aws_last_error(void)
{
	return &last_error;
}

void
tf_aws_reason(enum tf_err rc, char *buf, size_t len)
{
	const struct tf_aws_error *e = &last_error;

	if (e->code == rc && (e->type[0] != '\0' || e->message[0] != '\0'))
		snprintf(buf, len, "%s (%s%s%s)", tf_strerror(rc), e->type,
		    e->type[0] && e->message[0] ? ": " : "", e->message);
	else
		snprintf(buf, len, "%s", tf_strerror(rc));
}

bool
tf_aws_resource_missing(void)
{
	const struct tf_aws_error *e = &last_error;

	return e->code == TF_ERR_NOT_FOUND &&
	    (strcmp(e->type, "ResourceNotFoundException") == 0 ||
	    strcmp(e->type, "QueueDoesNotExist") == 0 ||
	    strcmp(e->type, "AWS.SimpleQueueService.NonExistentQueue") == 0);
}

/* Fills ep from url; the Host header keeps an explicit port, as curl sends it. */
static enum tf_err
endpoint_parse(struct endpoint *ep, const char *url)
{
	enum tf_err rc = TF_ERR_INVALID;
	CURLU *u = NULL;
	char *host = NULL, *port = NULL, *path = NULL, *scheme = NULL;
	size_t len;

	memset(ep, 0, sizeof(*ep));
	u = curl_url();
	if (u == NULL)
		return TF_ERR_NOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		goto out;
	rc = TF_ERR_NOMEM;
	ep->url = tf_strdup(url);
	len = strlen(host) + (port ? strlen(port) + 1 : 0) + 1;
	ep->host = tf_malloc(len);
	ep->path = tf_strdup(path[0] ? path : "/");
	if (ep->url == NULL || ep->host == NULL || ep->path == NULL)
		goto out;
	snprintf(ep->host, len, "%s%s%s", host, port ? ":" : "", port ? port : "");
	len = strlen(scheme) + 3 + strlen(ep->host) + 1;
	if ((ep->origin = tf_malloc(len)) == NULL)
		goto out;
	snprintf(ep->origin, len, "%s://%s", scheme, ep->host);
	rc = TF_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	if (rc != TF_OK) {
		tf_free(ep->url);
		tf_free(ep->host);
		tf_free(ep->path);
		tf_free(ep->origin);
		memset(ep, 0, sizeof(*ep));
	}
	return rc;
}

void
tf_aws_free(struct tf_aws *aws)
{
	int i;

	if (aws == NULL)
		return;
	for (i = 0; i < TF_AWS__SERVICES; i++) {
		tf_free(aws->ep[i].url);
		tf_free(aws->ep[i].host);
		tf_free(aws->ep[i].path);
		tf_free(aws->ep[i].origin);
	}
	tf_http_pool_free(aws->http);
	tf_free(aws->region);
	pthread_mutex_destroy(&aws->ops_lock);
	pthread_mutex_destroy(&aws->creds_lock);
	explicit_bzero(&aws->cached, sizeof(aws->cached));
	tf_free(aws);
}

enum tf_err
tf_aws_new(const struct tf_aws_config *cfg, struct tf_aws **out)
{
	enum tf_err rc = TF_ERR_NOMEM;
	struct tf_aws *aws = NULL;
	char url[256];
	int i;

	*out = NULL;
	aws = tf_calloc(1, sizeof(*aws));
	if (aws == NULL)
		goto out;
	pthread_mutex_init(&aws->ops_lock, NULL);
	pthread_mutex_init(&aws->creds_lock, NULL);
	aws->region = tf_strdup(cfg->region ? cfg->region : "us-east-1");
	if (aws->region == NULL)
		goto out;
	for (i = 0; i < TF_AWS__SERVICES; i++) {
		if (cfg->endpoint[i] != NULL && cfg->endpoint[i][0] != '\0') {
			rc = endpoint_parse(&aws->ep[i], cfg->endpoint[i]);
		} else {
			snprintf(url, sizeof(url), "https://%s.%s.amazonaws.com/",
			    signing_name[i], aws->region);
			rc = endpoint_parse(&aws->ep[i], url);
		}
		if (rc != TF_OK)
			goto out;
	}
	rc = tf_http_pool_new(&aws->http);
	if (rc != TF_OK)
		goto out;
	aws->creds = cfg->creds;
	aws->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 5;
	aws->base_backoff_ms = cfg->base_backoff_ms > 0 ? cfg->base_backoff_ms : 50;
	aws->max_backoff_ms = cfg->max_backoff_ms > 0 ? cfg->max_backoff_ms : 5000;
	aws->connect_timeout_ms = cfg->connect_timeout_ms > 0 ?
	    cfg->connect_timeout_ms : 3000;
	aws->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	aws->budget_max = cfg->retry_budget > 0 ? cfg->retry_budget : 500;
	atomic_store(&aws->budget, aws->budget_max);
	*out = aws;
	aws = NULL;
	rc = TF_OK;
out:
	tf_aws_free(aws);
	return rc;
}

struct tf_aws_stats *
tf_aws_stats(struct tf_aws *aws)
{
	return &aws->stats;
}

/* Adds one call of `operation` on svc that made `requests` requests and
 * returned rc. */
static void
op_count(struct tf_aws *aws, enum tf_aws_service svc, const char *operation,
    int requests, int throttled, enum tf_err rc)
{
	struct tf_aws_op_count *o = NULL;
	size_t i;

	pthread_mutex_lock(&aws->ops_lock);
	for (i = 0; i < aws->n_ops && o == NULL; i++)
		if (strcmp(aws->ops[i].operation, operation) == 0)
			o = &aws->ops[i];
	if (o == NULL && aws->n_ops < TF_AWS_MAX_OPS - 1) {
		o = &aws->ops[aws->n_ops++];
		snprintf(o->operation, sizeof(o->operation), "%s", operation);
		o->service = svc;
	} else if (o == NULL) {
		o = &aws->ops[TF_AWS_MAX_OPS - 1];
		snprintf(o->operation, sizeof(o->operation), "other");
		aws->n_ops = TF_AWS_MAX_OPS;
	}
	o->calls++;
	o->requests += requests;
	o->throttled += throttled;
	o->failed += rc != TF_OK;
	if (rc != TF_OK && (unsigned)rc < TF_ERR__COUNT)
		o->errors[rc]++;
	pthread_mutex_unlock(&aws->ops_lock);
}

size_t
tf_aws_op_counts(struct tf_aws *aws, struct tf_aws_op_count *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&aws->ops_lock);
	n = aws->n_ops < max ? aws->n_ops : max;
	memcpy(out, aws->ops, n * sizeof(*out));
	pthread_mutex_unlock(&aws->ops_lock);
	return n;
}

const char *
tf_aws_endpoint(const struct tf_aws *aws, enum tf_aws_service svc)
{
	return aws->ep[svc].url;
}

const char *
tf_aws_region(const struct tf_aws *aws)
{
	return aws->region;
}

/* The error type without its namespace ("com.amazonaws.sqs#X" -> "X"). */
static const char *
bare_type(const char *type)
{
	const char *hash = strrchr(type, '#');

	return hash ? hash + 1 : type;
}

static int
type_in(const char *type, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(type, *list) == 0)
			return 1;
	return 0;
}

static const char *const throttling_types[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"ProvisionedThroughputExceededException", "TransactionInProgressException",
	"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
	"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	"EC2ThrottledException", "ThrottlingError", NULL
};

static const char *const transient_types[] = {
	"RequestTimeout", "RequestTimeoutException", "InternalError",
	"InternalFailure", "InternalServerError", "ServiceUnavailable",
	"TransactionConflictException", "KMSThrottlingException", NULL
};

int
tf_aws_is_retryable(const char *type, long http_status)
{
	const char *t = bare_type(type ? type : "");

	if (type_in(t, throttling_types) || type_in(t, transient_types))
		return 1;
	return http_status >= 500 || http_status == 429;
}

enum tf_err
tf_aws_map_error(const char *type, long http_status)
{
	static const char *const not_found[] = {
		"ResourceNotFoundException", "QueueDoesNotExist",
		"AWS.SimpleQueueService.NonExistentQueue", "TableNotFoundException",
		NULL
	};
	static const char *const exists[] = {
		"ResourceInUseException", "QueueAlreadyExists", "QueueNameExists",
		"TableAlreadyExistsException", "QueueDeletedRecently",
		"AWS.SimpleQueueService.QueueDeletedRecently", NULL
	};
	static const char *const denied[] = {
		"AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
		"InvalidSignatureException", "SignatureDoesNotMatch",
		"MissingAuthenticationToken", "MissingAuthenticationTokenException",
		"IncompleteSignature", "IncompleteSignatureException",
		"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
		"InvalidSecurity", "KMS.AccessDeniedException", NULL
	};
	static const char *const too_large[] = {
		"ItemCollectionSizeLimitExceededException",
		"AWS.SimpleQueueService.BatchRequestTooLong", "BatchRequestTooLong",
		NULL
	};
	const char *t = bare_type(type ? type : "");

	if (strcmp(t, "ConditionalCheckFailedException") == 0)
		return TF_ERR_CONDITION;
	if (type_in(t, throttling_types))
		return TF_ERR_THROTTLED;
	if (type_in(t, not_found))
		return TF_ERR_NOT_FOUND;
	if (type_in(t, exists))
		return TF_ERR_EXISTS;
	if (type_in(t, denied))
		return TF_ERR_ACCESS_DENIED;
	if (type_in(t, too_large))
		return TF_ERR_TOO_LARGE;
	if (type_in(t, transient_types) || http_status >= 500)
		return TF_ERR_SERVER;
	if (http_status == 429)
		return TF_ERR_THROTTLED;
	if (http_status == 403)
		return TF_ERR_ACCESS_DENIED;
	if (http_status >= 400 && http_status < 500)
		return TF_ERR_VALIDATION;
	return TF_ERR_AWS;
}

/* Records the error of a call in *e (tf_aws_last_error()'s record for
 * synchronous calls, the call's own for asynchronous ones). */
static void
set_error(struct tf_aws_error *e, enum tf_err code, long status,
    const char *type, const char *message, const char *operation, int attempts)
{
	e->code = code;
	e->http_status = status;
	snprintf(e->type, sizeof(e->type), "%s", bare_type(type ? type : ""));
	snprintf(e->message, sizeof(e->message), "%s", message ? message : "");
	snprintf(e->operation, sizeof(e->operation), "%s", operation);
	e->attempts = attempts;
}

bool
tf_aws_xml_text(const char *body, size_t len, const char *tag, char *out,
    size_t outlen)
{
	char open[32], close[32];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = memmem(body, len, open, strlen(open));
	if (a == NULL)
		return false;
	a += strlen(open);
	b = memmem(a, len - (size_t)(a - body), close, strlen(close));
	if (b == NULL)
		return false;
	snprintf(out, outlen, "%.*s", (int)(b - a), a);
	return true;
}

/* The query protocol's error (<ErrorResponse><Error><Code>...): its code
 * and message, when body is one. */
static void
xml_error(const char *body, size_t len, char *type, size_t typelen,
    char *message, size_t msglen)
{
	char code[128];

	if (body == NULL || memmem(body, len, "<Error>", 7) == NULL ||
	    !tf_aws_xml_text(body, len, "Code", code, sizeof(code)))
		return;
	snprintf(type, typelen, "%s", bare_type(code));
	(void)tf_aws_xml_text(body, len, "Message", message, msglen);
}

void
tf_aws_parse_error_body(const char *body, size_t len, char *type,
    size_t typelen, char *message, size_t msglen)
{
	const cJSON *t, *m;
	cJSON *doc;

	snprintf(type, typelen, "%s", "");
	snprintf(message, msglen, "%.*s", (int)(len < msglen ? len : msglen), body);
	doc = cJSON_ParseWithLength(body, len);
	if (doc == NULL) {
		xml_error(body, len, type, typelen, message, msglen);
		return;
	}
	t = cJSON_GetObjectItemCaseSensitive(doc, "__type");
	if (!cJSON_IsString(t))
		t = cJSON_GetObjectItemCaseSensitive(doc, "code");
	m = cJSON_GetObjectItemCaseSensitive(doc, "message");
	if (!cJSON_IsString(m))
		m = cJSON_GetObjectItemCaseSensitive(doc, "Message");
	if (cJSON_IsString(t))
		snprintf(type, typelen, "%s", bare_type(t->valuestring));
	if (cJSON_IsString(m))
		snprintf(message, msglen, "%s", m->valuestring);
	cJSON_Delete(doc);
}

/* Takes `cost` tokens from the retry budget; false when it is spent. */
static int
budget_take(struct tf_aws *aws, int cost)
{
	int have = atomic_load(&aws->budget);

	while (have >= cost) {
		if (atomic_compare_exchange_weak(&aws->budget, &have, have - cost))
			return 1;
	}
	return 0;
}

static void
budget_return(struct tf_aws *aws, int tokens)
{
	int have = atomic_load(&aws->budget);

	while (have < aws->budget_max) {
		int want = have + tokens > aws->budget_max ?
		    aws->budget_max : have + tokens;

		if (atomic_compare_exchange_weak(&aws->budget, &have, want))
			return;
	}
}

/* Sleeps ms, waking early when *cancel becomes non-zero. */
static void
sleep_cancellable(long ms, const atomic_int *cancel)
{
	int64_t until = tf_mono_ms() + ms;
	int64_t left;

	while ((left = until - tf_mono_ms()) > 0) {
		if (cancel != NULL && atomic_load(cancel))
			return;
		tf_sleep_ms(left < 50 ? left : 50);
	}
}

bool
tf_aws_cached_creds(struct tf_aws *aws, int64_t now_ms, struct tf_creds *out)
{
	bool fresh;

	pthread_mutex_lock(&aws->creds_lock);
	fresh = aws->have_cached && (aws->cached.expires_at_ms == 0 ||
	    now_ms < aws->cached.expires_at_ms - TF_CREDS_REFRESH_AHEAD_MS);
	if (fresh)
		*out = aws->cached;
	pthread_mutex_unlock(&aws->creds_lock);
	return fresh;
}

enum tf_err
tf_aws_fetch_creds(struct tf_aws *aws, int64_t now_ms, struct tf_creds *out)
{
	enum tf_err rc;

	rc = tf_creds_get(aws->creds, now_ms, out);
	if (rc != TF_OK)
		return rc;
	pthread_mutex_lock(&aws->creds_lock);
	aws->cached = *out;
	aws->have_cached = 1;
	pthread_mutex_unlock(&aws->creds_lock);
	return TF_OK;
}

enum tf_err
tf_aws_sign(struct tf_aws *aws, enum tf_aws_service svc, const char *operation,
    const char *body, size_t body_len, const struct tf_creds *creds,
    long timeout_ms, const atomic_int *cancel, struct tf_aws_signed *out)
{
	return tf_aws_sign_shaped(aws, svc, operation, NULL, body, body_len,
	    creds, timeout_ms, cancel, out);
}

enum tf_err
tf_aws_sign_shaped(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, const struct tf_aws_shape *shape,
    const char *body, size_t body_len, const struct tf_creds *creds,
    long timeout_ms, const atomic_int *cancel, struct tf_aws_signed *out)
{
	static const struct tf_aws_shape json_shape;
	const struct endpoint *ep = &aws->ep[svc];
	struct tf_sigv4_header sh[5 + TF_AWS_EXTRA_HEADERS];
	struct tf_sigv4_request sreq;
	struct tf_sigv4_key key;
	const char *method, *path, *url = ep->url, *ctype;
	size_t n = 0, i, len;
	time_t now;
	enum tf_err rc;

	if (shape == NULL)
		shape = &json_shape;
	out->authorization = NULL;
	out->url = NULL;
	out->session_token = NULL;
	if (shape->n_headers > TF_AWS_EXTRA_HEADERS)
		return TF_ERR_INVALID;
	if (creds->session_token[0] != '\0') {
		out->session_token = tf_strdup(creds->session_token);
		if (out->session_token == NULL)
			return TF_ERR_NOMEM;
	}
	method = shape->method != NULL ? shape->method : "POST";
	path = shape->path != NULL ? shape->path : ep->path;
	ctype = shape->content_type != NULL ? shape->content_type : json_type[svc];
	if (shape->path != NULL || shape->query != NULL) {
		len = strlen(ep->origin) + strlen(path) + 2 +
		    (shape->query != NULL ? strlen(shape->query) : 0);
		if ((out->url = tf_malloc(len)) == NULL) {
			tf_aws_signed_free(out);
			return TF_ERR_NOMEM;
		}
		snprintf(out->url, len, "%s%s%s%s", ep->origin, path,
		    shape->query != NULL ? "?" : "",
		    shape->query != NULL ? shape->query : "");
		url = out->url;
	}
	now = time(NULL);
	tf_sigv4_amz_date(now, out->amz_date);
	if (ctype != NULL)
		sh[n++] = (struct tf_sigv4_header){ "content-type", ctype };
	sh[n++] = (struct tf_sigv4_header){ "host", ep->host };
	sh[n++] = (struct tf_sigv4_header){ "x-amz-date", out->amz_date };
	/* The JSON protocol names the operation in X-Amz-Target. */
	if (shape->path == NULL && shape->content_type == NULL &&
	    target_prefix[svc] != NULL) {
		snprintf(out->target, sizeof(out->target), "%s%s",
		    target_prefix[svc], operation);
		sh[n++] = (struct tf_sigv4_header){ "x-amz-target", out->target };
	}
	if (out->session_token != NULL)
		sh[n++] = (struct tf_sigv4_header){ "x-amz-security-token",
		    out->session_token };
	for (i = 0; i < shape->n_headers; i++)
		sh[n++] = (struct tf_sigv4_header){ shape->headers[i].name,
		    shape->headers[i].value };
	sreq = (struct tf_sigv4_request){
		.method = method, .path = path, .query = shape->query,
		.headers = sh, .n_headers = n,
		.payload = body, .payload_len = body_len,
	};
	key = (struct tf_sigv4_key){
		.access_key_id = creds->access_key_id,
		.secret_access_key = creds->secret_access_key,
		.region = aws->region, .service = signing_name[svc],
	};
	rc = tf_sigv4_sign(&sreq, &key, now, &out->authorization);
	if (rc != TF_OK) {
		tf_aws_signed_free(out);
		return rc;
	}
	for (i = 0; i < n; i++)
		out->headers[i] = (struct tf_http_header){ sh[i].name, sh[i].value };
	out->headers[n] = (struct tf_http_header){ "authorization",
	    out->authorization };
	out->req = (struct tf_http_request){
		.method = method, .url = url, .headers = out->headers,
		.n_headers = n + 1, .body = body, .body_len = body_len,
		.connect_timeout_ms = aws->connect_timeout_ms,
		.timeout_ms = timeout_ms > 0 ? timeout_ms : aws->timeout_ms,
		.cancel = cancel, .capture = shape->capture,
	};
	return TF_OK;
}

void
tf_aws_signed_free(struct tf_aws_signed *s)
{
	tf_free(s->authorization);
	s->authorization = NULL;
	tf_free(s->url);
	s->url = NULL;
	if (s->session_token != NULL) {
		/* Do not leave the token in memory longer than needed. */
		explicit_bzero(s->session_token, strlen(s->session_token));
		tf_free(s->session_token);
		s->session_token = NULL;
	}
}

/* tf_aws_attempt_retryable() with the error type a REST service gave in a
 * header (hint, "" or NULL when none; "Type:detail" is cut at the colon),
 * used when the body names none. */
static bool
attempt_retryable(struct tf_aws *aws, const char *operation, int attempt,
    enum tf_err send_rc, const struct tf_http_response *resp,
    const char *errtext, const char *hint, int *throttled,
    struct tf_aws_error *err, enum tf_err *rc)
{
	char etype[128], emsg[512];

	if (send_rc != TF_OK) {
		*rc = send_rc;
		set_error(err, send_rc, 0, NULL, errtext, operation, attempt);
		return send_rc == TF_ERR_IO || send_rc == TF_ERR_TIMEOUT;
	}
	tf_aws_parse_error_body(tf_buf_str(&resp->body), resp->body.len,
	    etype, sizeof(etype), emsg, sizeof(emsg));
	if (etype[0] == '\0' && hint != NULL && hint[0] != '\0')
		snprintf(etype, sizeof(etype), "%.*s", (int)strcspn(hint, ":"),
		    hint);
	*rc = tf_aws_map_error(etype, resp->status);
	if (*rc == TF_ERR_THROTTLED) {
		atomic_fetch_add(&aws->stats.throttles, 1);
		(*throttled)++;
	}
	set_error(err, *rc, resp->status, etype, emsg, operation, attempt);
	return tf_aws_is_retryable(etype, resp->status);
}

bool
tf_aws_attempt_retryable(struct tf_aws *aws, const char *operation, int attempt,
    enum tf_err send_rc, const struct tf_http_response *resp,
    const char *errtext, int *throttled, struct tf_aws_error *err,
    enum tf_err *rc)
{
	return attempt_retryable(aws, operation, attempt, send_rc, resp, errtext,
	    NULL, throttled, err, rc);
}

int
tf_aws_resends(struct tf_aws *aws, const struct tf_http_response *resp)
{
	int extra = resp->sends > 1 ? resp->sends - 1 : 0;

	if (extra > 0) {
		atomic_fetch_add(&aws->stats.requests, extra);
		tf_log(TF_LOG_DEBUG, "libcurl sent a request %d times (a reused "
		    "connection died before its answer)", resp->sends);
	}
	return extra;
}

long
tf_aws_retry_delay(struct tf_aws *aws, const char *operation, int attempt,
    const atomic_int *cancel, enum tf_err *rc, struct tf_aws_error *err,
    int *retried_cost)
{
	long backoff_cap;
	int cost;

	if (attempt >= aws->max_attempts)
		return -1;
	if (cancel != NULL && atomic_load(cancel)) {
		*rc = TF_ERR_CANCELLED;
		set_error(err, *rc, 0, NULL, "cancelled", operation, attempt);
		return -1;
	}
	cost = *rc == TF_ERR_TIMEOUT ? TIMEOUT_RETRY_COST : RETRY_COST;
	if (!budget_take(aws, cost)) {
		tf_log(TF_LOG_WARN, "%s: retry budget spent; not retrying %s",
		    operation, tf_strerror(*rc));
		return -1;
	}
	*retried_cost += cost;
	atomic_fetch_add(&aws->stats.retries, 1);
	backoff_cap = aws->base_backoff_ms << (attempt - 1 < 20 ? attempt - 1 : 20);
	if (backoff_cap > aws->max_backoff_ms || backoff_cap <= 0)
		backoff_cap = aws->max_backoff_ms;
	tf_log(TF_LOG_DEBUG, "%s attempt %d failed (%s%s%s); retrying",
	    operation, attempt, tf_strerror(*rc), err->type[0] ? ": " : "",
	    err->type);
	return (long)tf_random_below(backoff_cap + 1);
}

void
tf_aws_call_end(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, int attempts, int throttled, int retried_cost,
    enum tf_err rc)
{
	if (rc == TF_OK)
		budget_return(aws, retried_cost ? retried_cost : 1);
	if (rc != TF_OK)
		atomic_fetch_add(&aws->stats.errors, 1);
	if (rc == TF_ERR_THROTTLED)
		atomic_fetch_add(&aws->stats.throttled_calls, 1);
	op_count(aws, svc, operation, attempts, throttled, rc);
}

/* Signs and sends one attempt. TF_OK: resp holds an HTTP answer. */
static enum tf_err
send_signed(struct tf_aws *aws, enum tf_aws_service svc, const char *operation,
    const struct tf_aws_shape *shape,
    const char *body, size_t body_len, long timeout_ms,
    const atomic_int *cancel, struct tf_http_response *resp,
    char *errtext, size_t errlen)
{
	struct tf_aws_signed sig;
	struct tf_creds creds;
	enum tf_err rc;

	rc = tf_aws_fetch_creds(aws, tf_now_ms(), &creds);
	if (rc != TF_OK) {
		snprintf(errtext, errlen, "no credentials: %s", tf_strerror(rc));
		return TF_ERR_CREDENTIALS;
	}
	rc = tf_aws_sign_shaped(aws, svc, operation, shape, body, body_len, &creds,
	    timeout_ms, cancel, &sig);
	explicit_bzero(&creds, sizeof(creds));
	if (rc != TF_OK)
		return rc;
	atomic_fetch_add(&aws->stats.requests, 1);
	rc = tf_http_perform(aws->http, &sig.req, resp, errtext, errlen);
	tf_aws_signed_free(&sig);
	return rc;
}

/* The attempts of one call: sends, judges the answer, waits and sends
 * again while it is retryable and the budget allows. ok_status is the one
 * status that succeeds, 0 for any 2xx; hint is where the REST error type
 * header lands at each attempt, or NULL. resp (the caller's) holds the
 * last answer. */
static enum tf_err
call_attempts(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, const struct tf_aws_shape *shape, const char *body,
    size_t len, const struct tf_aws_call_opts *opts, int ok_status,
    const char *hint, struct tf_http_response *resp)
{
	char errtext[256];
	long timeout_ms, delay;
	int attempt, retried_cost = 0, throttled = 0;
	enum tf_err rc;

	timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : aws->timeout_ms;
	for (attempt = 1;; attempt++) {
		errtext[0] = '\0';
		resp->sends = 0;
		rc = send_signed(aws, svc, operation, shape, body, len, timeout_ms,
		    opts->cancel, resp, errtext, sizeof(errtext));
		attempt += tf_aws_resends(aws, resp);
		if (rc == TF_OK && (ok_status != 0 ? resp->status == ok_status :
		    resp->status >= 200 && resp->status <= 299))
			break;
		/* Retryable: throttling, 5xx, timeouts and dropped connections. */
		if (!attempt_retryable(aws, operation, attempt, rc, resp, errtext,
		    hint, &throttled, &last_error, &rc) || opts->no_retry)
			break;
		delay = tf_aws_retry_delay(aws, operation, attempt, opts->cancel, &rc,
		    &last_error, &retried_cost);
		if (delay < 0)
			break;
		sleep_cancellable(delay, opts->cancel);
	}
	tf_aws_call_end(aws, svc, operation, attempt, throttled, retried_cost, rc);
	return rc;
}

enum tf_err
tf_aws_call_text(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, const char *body, size_t len,
    const struct tf_aws_call_opts *opts, struct tf_buf *reply)
{
	static const struct tf_aws_call_opts defaults;
	static const struct tf_buf empty = TF_BUF_INIT;
	struct tf_http_response resp = { 0, TF_BUF_INIT, 0 };
	enum tf_err rc;

	if (opts == NULL)
		opts = &defaults;
	if (body == NULL) {
		body = "{}";
		len = 2;
	}
	/* The answer is read into the caller's buffer: one kept across calls
	 * costs no allocation for answers that fit. */
	resp.body = *reply;
	*reply = empty;
	rc = call_attempts(aws, svc, operation, NULL, body, len, opts, 200, NULL,
	    &resp);
	*reply = resp.body;
	if (rc != TF_OK)
		tf_buf_reset(reply);
	return rc;
}

enum tf_err
tf_aws_request(struct tf_aws *aws, enum tf_aws_service svc,
    const char *operation, const struct tf_aws_shape *shape,
    const char *body, size_t len, const struct tf_aws_call_opts *opts,
    struct tf_http_response *resp)
{
	static const struct tf_aws_call_opts defaults;
	struct tf_aws_shape with_type;
	struct tf_http_capture capture, *want;
	size_t i, slot = TF_HTTP_CAPTURE_MAX;

	if (opts == NULL)
		opts = &defaults;
	if (body == NULL) {
		body = "";
		len = 0;
	}
	/* The error type of a REST answer comes in a header: capture it
	 * alongside whatever the caller wants (in the first free slot of the
	 * caller's list, where it stays). */
	memset(&with_type, 0, sizeof(with_type));
	if (shape != NULL)
		with_type = *shape;
	want = shape != NULL && shape->capture != NULL ? shape->capture : &capture;
	if (want == &capture)
		memset(&capture, 0, sizeof(capture));
	for (i = 0; i < TF_HTTP_CAPTURE_MAX && slot == TF_HTTP_CAPTURE_MAX; i++)
		if (want->names[i] == NULL ||
		    strcasecmp(want->names[i], "x-amzn-errortype") == 0)
			slot = i;
	if (slot < TF_HTTP_CAPTURE_MAX && want->names[slot] == NULL)
		want->names[slot] = "x-amzn-errortype";
	with_type.capture = want;
	return call_attempts(aws, svc, operation, &with_type, body, len, opts, 0,
	    slot < TF_HTTP_CAPTURE_MAX ? want->values[slot] : NULL, resp);
}

enum tf_err
tf_aws_call(struct tf_aws *aws, enum tf_aws_service svc, const char *operation,
    const cJSON *request, const struct tf_aws_call_opts *opts,
    cJSON **response)
{
	struct tf_buf reply = TF_BUF_INIT;
	char *body = NULL;
	enum tf_err rc;

	*response = NULL;
	if (request != NULL) {
		body = cJSON_PrintUnformatted(request);
		if (body == NULL) {
			set_error(&last_error, TF_ERR_NOMEM, 0, NULL,
			    "out of memory", operation, 0);
			return TF_ERR_NOMEM;
		}
	}
	rc = tf_aws_call_text(aws, svc, operation, body, body ? strlen(body) : 0,
	    opts, &reply);
	if (rc == TF_OK) {
		*response = reply.len == 0 ? cJSON_CreateObject() :
		    cJSON_ParseWithLength(reply.data, reply.len);
		if (*response == NULL) {
			rc = TF_ERR_PARSE;
			set_error(&last_error, rc, 200, NULL, "response is not JSON",
			    operation, 1);
		}
	}
	tf_buf_free(&reply);
	cJSON_free(body);
	return rc;
}

/* The thread's scratch buffers (tf_aws_scratch()); freed when the thread
 * ends. A buffer that grew past SCRATCH_KEEP (a large answer) is freed
 * rather than kept. */
#define SCRATCH_KEEP (512u << 10)
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void
scratch_free(void *p)
{
	struct tf_buf *b = p;
	int i;

	for (i = 0; i < TF_AWS__SCRATCH; i++)
		tf_buf_free(&b[i]);
	tf_free(b);
}

static void
scratch_key_make(void)
{
	(void)pthread_key_create(&scratch_key, scratch_free);
}

struct tf_buf *
tf_aws_scratch(enum tf_aws_scratch which)
{
	struct tf_buf *b;

	if (pthread_once(&scratch_once, scratch_key_make) != 0)
		return NULL;
	b = pthread_getspecific(scratch_key);
	if (b == NULL) {
		b = tf_calloc(TF_AWS__SCRATCH, sizeof(*b));
		if (b != NULL && pthread_setspecific(scratch_key, b) != 0) {
			tf_free(b);
			b = NULL;
		}
	}
	if (b == NULL)
		return NULL;
	b += which;
	if (b->cap > SCRATCH_KEEP)
		tf_buf_free(b);
	tf_buf_reset(b);
	return b;
}
