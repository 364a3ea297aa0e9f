/*
 * http - the webhook runner: calls an HTTP endpoint at the task's time.
 *
 * Params are described in lib/webhook/http_task.h; a delivery is one exchange
 * (exchange.h). The outcome:
 *
 *   a status in params.success (default 2xx)   success; the occurrence is done
 *   429 or 5xx, timeout, connection error      retry; a Retry-After header is
 *                                              the earliest next attempt
 *   any other status                           permanent failure ("HTTP 404")
 *   a refused target, bad params, a TLS
 *   certificate that does not verify           permanent failure
 *
 * The result attribute records the status, duration, final URL, the
 * selected response headers and an excerpt of the body (valid UTF-8: other
 * bytes become U+FFFD).
 *
 * Configuration (TASKFLEET_RUNNER_CONFIG_HTTP, a JSON object), each also
 * settable by an environment variable that takes precedence:
 *
 *   allow               TASKFLEET_HTTP_ALLOW         allow-list (netaddr.h)
 *   targets             TASKFLEET_HTTP_TARGETS       the only targets allowed
 *                                                    (netaddr.h)
 *   signing_keys        TASKFLEET_HTTP_SIGNING_KEYS  array of keys (env:
 *                                                    comma-separated)
 *   ca_bundle           TASKFLEET_HTTP_CA_BUNDLE     CA certificates file
 *   timeout             TASKFLEET_HTTP_TIMEOUT       the time limit of a
 *                                                    webhook whose params set
 *                                                    no timeout_ms: a duration
 *                                                    (10s, 1500ms), 1ms to
 *                                                    15m; default 10s
 *   max_request_bytes   request body cap (default 256 KiB, at most 400 KiB)
 *   max_response_bytes  response bytes read at most (default 1 MiB)
 *   body_excerpt_bytes  response body kept in the result (default 1024,
 *                       at most 16384)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <taskfleet/runner.h>

#include "../common/params.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/version.h"
#include "client.h"
#include "exchange.h"
#include "time/timefmt.h"
#include "webhook/http_sign.h"
#include "webhook/http_task.h"
#include "webhook/netaddr.h"

/* A body lives in the task item, which DynamoDB caps at 400 KB. */
#define REQUEST_MAX_LIMIT   (400 * 1024)
#define RESPONSE_MAX_DEFAULT (1024 * 1024)
#define RESPONSE_MAX_LIMIT  (64 * 1024 * 1024)
#define EXCERPT_DEFAULT     1024
#define EXCERPT_LIMIT       16384

/* Everything a run shares, built by init and read-only afterwards (the
 * client has its own locks). */
struct http_state {
	const struct tf_host_api *host;
	struct http_client *client;
	struct tf_allow_list *allow;
	struct tf_target_list *targets;
	struct tf_http_keys keys;
	char *ca_bundle;
	size_t max_request;
	size_t max_response;
	size_t excerpt;
	long timeout_ms;             /* for params without timeout_ms */
	char user_agent[64];
};

static void
state_free(struct http_state *st)
{
	if (st == NULL)
		return;
	http_client_free(st->client);
	tf_allow_list_free(st->allow);
	tf_target_list_free(st->targets);
	tf_http_keys_free(&st->keys);
	tf_free(st->ca_bundle);
	tf_free(st);
}

/* Reads a size setting from 0 (or 1) to max into *out; absent keeps it. */
static int
config_size(const cJSON *cfg, const char *key, size_t min, size_t max,
    size_t *out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);

	if (v == NULL)
		return 0;
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)min &&
	    v->valuedouble <= (double)max) ||
	    v->valuedouble != (double)(size_t)v->valuedouble) {
		snprintf(err, errlen, "%s must be a whole number from %zu to %zu",
		    key, min, max);
		return -1;
	}
	*out = (size_t)v->valuedouble;
	return 0;
}

/* A string setting: the environment variable, else the configuration key.
 * Returns the borrowed text or NULL; -1 in *bad when the key is no string. */
static const char *
config_string(const cJSON *cfg, const char *key, const char *env, int *bad)
{
	const char *s = getenv(env);
	const cJSON *v;

	if (s != NULL)
		return s;
	v = cJSON_GetObjectItemCaseSensitive(cfg, key);
	if (v == NULL)
		return NULL;
	if (!cJSON_IsString(v)) {
		*bad = -1;
		return NULL;
	}
	return v->valuestring;
}

static int
config_keys(const cJSON *cfg, struct tf_http_keys *keys, char *err,
    size_t errlen)
{
	const char *env = getenv("TASKFLEET_HTTP_SIGNING_KEYS");
	const cJSON *v, *k;

	if (env != NULL)
		return tf_http_keys_parse(env, keys, err, errlen) == TF_OK ? 0 : -1;
	v = cJSON_GetObjectItemCaseSensitive(cfg, "signing_keys");
	if (v == NULL)
		return 0;
	if (!cJSON_IsArray(v)) {
		snprintf(err, errlen, "signing_keys must be an array of strings");
		return -1;
	}
	cJSON_ArrayForEach(k, v) {
		if (!cJSON_IsString(k)) {
			snprintf(err, errlen, "signing_keys must be an array of strings");
			return -1;
		}
		if (tf_http_keys_add(keys, k->valuestring, strlen(k->valuestring),
		    err, errlen) != TF_OK)
			return -1;
	}
	return 0;
}

/* The default time limit: TASKFLEET_HTTP_TIMEOUT, else the key "timeout",
 * else TF_HTTP_TIMEOUT_DEFAULT; a duration from 1ms to 15m, as the
 * per-task timeout_ms (and `taskfleet http --timeout`) allows. Returns 0, or
 * -1 with err naming the setting. */
static int
config_timeout(const cJSON *cfg, long *out, char *err, size_t errlen)
{
	const char *s = getenv("TASKFLEET_HTTP_TIMEOUT");
	const char *name = "TASKFLEET_HTTP_TIMEOUT";
	const cJSON *v;
	char why[128];
	int64_t ms;

	*out = TF_HTTP_TIMEOUT_DEFAULT;
	if (s == NULL || *s == '\0') {
		name = "timeout";
		if ((v = cJSON_GetObjectItemCaseSensitive(cfg, name)) == NULL)
			return 0;
		if (!cJSON_IsString(v)) {
			snprintf(err, errlen, "timeout must be a duration such as "
			    "\"10s\"");
			return -1;
		}
		s = v->valuestring;
	}
	if (tf_timefmt_parse_duration(s, &ms, why, sizeof(why)) != TF_OK) {
		snprintf(err, errlen, "%s: %s", name, why);
		return -1;
	}
	if (ms < 1 || ms > TF_HTTP_TIMEOUT_MAX) {
		snprintf(err, errlen, "%s: \"%.64s\" is not from 1ms to 15m", name,
		    s);
		return -1;
	}
	*out = (long)ms;
	return 0;
}

/* Reads the configuration into st. Returns 0 or -1 with err set. */
static int
configure(struct http_state *st, const char *config_json, char *err,
    size_t errlen)
{
	static const char *const known[] = {
		"allow", "targets", "signing_keys", "ca_bundle", "max_request_bytes",
		"max_response_bytes", "body_excerpt_bytes", "timeout",
	};
	cJSON *cfg = cJSON_Parse(config_json != NULL ? config_json : "{}");
	const cJSON *f;
	const char *s;
	size_t i;
	int bad = 0, rc = -1;

	if (cfg == NULL || !cJSON_IsObject(cfg)) {
		snprintf(err, errlen, "the configuration is not a JSON object");
		goto out;
	}
	cJSON_ArrayForEach(f, cfg) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(f->string, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			snprintf(err, errlen, "unknown configuration key \"%.64s\"",
			    f->string);
			goto out;
		}
	}
	s = config_string(cfg, "allow", "TASKFLEET_HTTP_ALLOW", &bad);
	if (bad) {
		snprintf(err, errlen, "allow must be a string");
		goto out;
	}
	if (tf_allow_list_parse(s, &st->allow, err, errlen) != TF_OK)
		goto out;
	s = config_string(cfg, "targets", "TASKFLEET_HTTP_TARGETS", &bad);
	if (bad) {
		snprintf(err, errlen, "targets must be a string");
		goto out;
	}
	if (tf_target_list_parse(s, &st->targets, err, errlen) != TF_OK)
		goto out;
	if (config_keys(cfg, &st->keys, err, errlen) != 0)
		goto out;
	s = config_string(cfg, "ca_bundle", "TASKFLEET_HTTP_CA_BUNDLE", &bad);
	if (bad) {
		snprintf(err, errlen, "ca_bundle must be a string");
		goto out;
	}
	if (s != NULL && s[0] != '\0') {
		if (access(s, R_OK) != 0) {
			snprintf(err, errlen, "ca_bundle \"%.200s\" cannot be read", s);
			goto out;
		}
		if ((st->ca_bundle = tf_strdup(s)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (config_timeout(cfg, &st->timeout_ms, err, errlen) != 0)
		goto out;
	st->max_request = TF_HTTP_REQUEST_MAX_DEFAULT;
	st->max_response = RESPONSE_MAX_DEFAULT;
	st->excerpt = EXCERPT_DEFAULT;
	if (config_size(cfg, "max_request_bytes", 1, REQUEST_MAX_LIMIT,
	    &st->max_request, err, errlen) != 0 ||
	    config_size(cfg, "max_response_bytes", 1, RESPONSE_MAX_LIMIT,
	    &st->max_response, err, errlen) != 0 ||
	    config_size(cfg, "body_excerpt_bytes", 0, EXCERPT_LIMIT,
	    &st->excerpt, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(cfg);
	return rc;
}

static int
http_init(const struct tf_host_api *host, const char *config_json, void **state)
{
	struct http_state *st;
	char err[512] = "";

	st = tf_calloc(1, sizeof(*st));
	if (st == NULL)
		return -1;
	st->host = host;
	snprintf(st->user_agent, sizeof(st->user_agent), "taskfleet-http/%s",
	    TF_VERSION);
	if (configure(st, config_json, err, sizeof(err)) != 0) {
		host->log(NULL, TF_RUNNER_LOG_ERROR, "http runner: %s", err);
		state_free(st);
		return -1;
	}
	if (http_client_new(&st->client) != TF_OK) {
		host->log(NULL, TF_RUNNER_LOG_ERROR, "http runner: cannot start "
		    "libcurl");
		state_free(st);
		return -1;
	}
	host->log(NULL, TF_RUNNER_LOG_INFO, "http runner: %zu allow-list "
	    "entries, %zu target-list entries, %zu signing keys, default timeout %ld ms",
	    tf_allow_list_count(st->allow), tf_target_list_count(st->targets),
	    st->keys.n, st->timeout_ms);
	*state = st;
	return 0;
}

static void
http_fini(void *state)
{
	state_free(state);
}

/*
 * Checks params before the task is written (the producer and the API call
 * this): tf_http_task_parse(), the check every delivery makes first, with
 * the largest request body any configuration allows (this consumer's own
 * max_request_bytes is applied when the task runs).
 */
static int
http_validate(const char *params_json, size_t params_len, char *error,
    size_t error_size)
{
	struct tf_http_task t;
	enum tf_err rc;

	rc = tf_http_task_parse(params_json, params_len, REQUEST_MAX_LIMIT, &t,
	    error, error_size);
	tf_http_task_free(&t);
	if (rc == TF_ERR_NOMEM)
		snprintf(error, error_size, "out of memory checking the params");
	return rc == TF_OK ? 0 : -1;
}

/* Appends s (len bytes) to out as valid UTF-8 without NUL bytes: anything
 * else becomes U+FFFD. */
static enum tf_err
append_utf8(struct tf_buf *out, const unsigned char *s, size_t len)
{
	static const char replacement[] = "\xef\xbf\xbd";
	size_t i = 0, n, k;
	uint32_t cp;
	enum tf_err rc = TF_OK;

	while (i < len && rc == TF_OK) {
		unsigned char c = s[i];

		if (c >= 0x01 && c < 0x80) {
			rc = tf_buf_append_char(out, (char)c);
			i++;
			continue;
		}
		n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 &&
		    c < 0xe0 ? 2 : 0;
		if (c >= 0xf5)
			n = 0;
		cp = n == 4 ? c & 0x07u : n == 3 ? c & 0x0fu : c & 0x1fu;
		for (k = 1; n > 0 && k < n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
				n = 0;
				break;
			}
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if (n == 0 || (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
			rc = tf_buf_append(out, replacement, 3);
			i++;
			continue;
		}
		rc = tf_buf_append(out, s + i, n);
		i += n;
	}
	return rc;
}

/* The result document of a delivery: plain cJSON, caller deletes. */
static cJSON *
result_json(const struct exchange_result *res)
{
	struct tf_buf excerpt = TF_BUF_INIT;
	cJSON *o = cJSON_CreateObject(), *h;
	size_t i;
	bool ok;

	if (o == NULL)
		return NULL;
	ok = (res->status == 0 ||
	    cJSON_AddNumberToObject(o, "status", (double)res->status) != NULL) &&
	    cJSON_AddNumberToObject(o, "duration_ms", (double)res->duration_ms) != NULL &&
	    (res->final_url == NULL ||
	    cJSON_AddStringToObject(o, "url", res->final_url) != NULL) &&
	    (res->redirects == 0 ||
	    cJSON_AddNumberToObject(o, "redirects", res->redirects) != NULL);
	if (ok && res->failure != EXCHANGE_OK)
		ok = cJSON_AddStringToObject(o, "error", exchange_error(res)) != NULL;
	if (ok && res->status != 0) {
		ok = (h = cJSON_AddObjectToObject(o, "headers")) != NULL;
		for (i = 0; ok && i < res->n_headers; i++)
			ok = cJSON_AddStringToObject(h, res->headers[i].name,
			    res->headers[i].value) != NULL;
		ok = ok && append_utf8(&excerpt, (const unsigned char *)res->body.data,
		    res->body.len) == TF_OK &&
		    cJSON_AddStringToObject(o, "body", excerpt.data != NULL ?
		    excerpt.data : "") != NULL &&
		    cJSON_AddNumberToObject(o, "body_bytes",
		    (double)res->body_bytes) != NULL &&
		    cJSON_AddBoolToObject(o, "body_truncated",
		    res->body_truncated) != NULL &&
		    (res->retry_after_s < 0 || cJSON_AddNumberToObject(o,
		    "retry_after_s", (double)res->retry_after_s) != NULL);
	}
	tf_buf_free(&excerpt);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Decides the outcome from a delivery that produced an HTTP status. */
static void
judge_status(const struct tf_task_view *task, const struct tf_http_task *t,
    const struct exchange_result *res, struct tf_run_result *result)
{
	long s = res->status;

	if (tf_http_task_is_success(t, s)) {
		result->outcome = TF_RUN_SUCCESS;
		result->completed = 1;
		return;
	}
	if (s == 429 || (s >= 500 && s <= 599)) {
		if (res->retry_after_s >= 0) {
			runner_set_error(result, TF_RUN_RETRY, "HTTP %ld (Retry-After %" PRId64
			    " s)", s, res->retry_after_s);
			result->retry_after_ms = task->host->now_ms() +
			    res->retry_after_s * 1000;
		} else {
			runner_set_error(result, TF_RUN_RETRY, "HTTP %ld", s);
		}
		return;
	}
	if (s >= 300 && s <= 399 && !t->follow_redirects)
		runner_set_error(result, TF_RUN_FAILED, "HTTP %ld (a redirect; set "
		    "follow_redirects to follow it)", s);
	else
		runner_set_error(result, TF_RUN_FAILED, "HTTP %ld", s);
}

static int
cancelled_thunk(void *arg)
{
	const struct tf_task_view *task = arg;

	return task->host->cancelled(task->ctx);
}

/* One delivery of one run: on the stack of run(), or on the heap while it
 * is on the host's loop (start()). */
struct delivery {
	const struct tf_task_view *task;     /* borrowed: the run's */
	struct tf_run_result *result;        /* borrowed: the run's */
	struct tf_http_task t;               /* owned */
	struct exchange_env env;
	struct exchange_meta meta;
	struct exchange_result res;          /* owned */
	struct exchange x;
};

/* Reads the task's params and sets d up (d zeroed by the caller). Returns
 * true when the request may go out; false with the outcome in d->result
 * (d->t freed). */
static bool
delivery_prepare(struct http_state *st, const struct tf_task_view *task,
    struct tf_run_result *result, bool on_loop, struct delivery *d)
{
	char err[512];
	enum tf_err rc;

	d->task = task;
	d->result = result;
	rc = tf_http_task_parse(task->params_json, task->params_len,
	    st->max_request, &d->t, err, sizeof(err));
	if (rc != TF_OK) {
		runner_set_error(result, rc == TF_ERR_INVALID ? TF_RUN_FAILED : TF_RUN_RETRY,
		    "%s", rc == TF_ERR_INVALID ? err : "out of memory");
		tf_http_task_free(&d->t);
		return false;
	}
	if (!d->t.timeout_given)
		d->t.timeout_ms = st->timeout_ms;
	d->env.client = st->client;
	d->env.allow = st->allow;
	d->env.targets = st->targets;
	d->env.keys = &st->keys;
	d->env.ca_bundle = st->ca_bundle;
	d->env.user_agent = st->user_agent;
	d->env.max_response = st->max_response;
	d->env.excerpt = st->excerpt;
	d->env.cancelled = cancelled_thunk;
	d->env.cancel_arg = (void *)task;
	d->env.now_ms = task->host->now_ms;
	d->env.on_loop = on_loop;
	d->meta.task_id = task->id;
	d->meta.iteration = task->iteration;
	d->meta.attempt = task->attempt;
	d->meta.deadline_ms = task->deadline_ms;

	/* The last look before the request goes out (a sent request cannot be
	 * taken back): a run whose lease is lost or ending stops here. */
	if (task->host->cancelled(task->ctx)) {
		runner_set_error(result, TF_RUN_RETRY, "cancelled: the consumer "
		    "stopped the run before sending");
		tf_http_task_free(&d->t);
		return false;
	}
	return true;
}

/* The delivery ended (rc from exchange_end() or exchange_perform()): its
 * result document and outcome go to the run; d's memory is freed. */
static void
delivery_report(struct delivery *d, enum tf_err rc)
{
	const struct tf_task_view *task = d->task;
	struct tf_run_result *result = d->result;
	char *text;
	cJSON *doc;

	if (rc != TF_OK) {
		runner_set_error(result, TF_RUN_RETRY, "out of memory");
		goto out;
	}
	doc = result_json(&d->res);
	if (doc != NULL) {
		text = cJSON_PrintUnformatted(doc);
		if (text != NULL)
			task->host->set_result(task->ctx, text, strlen(text));
		cJSON_free(text);
		cJSON_Delete(doc);
	}
	switch (d->res.failure) {
	case EXCHANGE_OK:
		judge_status(task, &d->t, &d->res, result);
		break;
	case EXCHANGE_REFUSED:
	case EXCHANGE_BAD_REDIRECT:
	case EXCHANGE_TLS:
		runner_set_error(result, TF_RUN_FAILED, "%s", exchange_error(&d->res));
		break;
	case EXCHANGE_TIMEOUT:
	case EXCHANGE_CANCELLED:
	case EXCHANGE_NETWORK:
		runner_set_error(result, TF_RUN_RETRY, "%s", exchange_error(&d->res));
		break;
	}
out:
	exchange_result_free(&d->res);
	tf_http_task_free(&d->t);
}

/* The blocking style: the delivery on this thread (isolated mode, and
 * hosts before runner ABI 1.2). */
static void
http_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	struct delivery d;

	memset(&d, 0, sizeof(d));
	if (delivery_prepare(state, task, result, false, &d))
		delivery_report(&d, exchange_perform(&d.env, &d.meta, &d.t, &d.res));
}

static void on_hop(void *user, int curl_code, void *curl_easy);
static void on_ramp(void *user, int cancelled);

/* How often a hop held back by the TLS ramp looks again. */
#define RAMP_TICK_MS 10

/* Hands the hop set up on d->x.e to the host's loop, or, while the first
 * connection to its https origin is still getting the session the others
 * are to resume (client.h), to a host timer to look again; false when the
 * host took neither (the delivery then ends as cancelled). */
static bool
send_hop(struct delivery *d)
{
	const struct tf_host_api *host = d->task->host;

	if (!http_origin_may_connect(d->x.tls, tf_mono_ms()) &&
	    host->after(d->task->ctx, RAMP_TICK_MS, on_ramp, d) == 0)
		return true;
	if (host->http(d->task->ctx, d->x.e, on_hop, d) == 0)
		return true;
	d->x.h.cancelled = true;
	exchange_cancelled(&d->res);
	return false;
}

/* Ends an asynchronous delivery: reports it and completes the run. */
static void
delivery_finish(struct delivery *d)
{
	const struct tf_task_view *task = d->task;

	delivery_report(d, exchange_end(&d->x));
	tf_free(d);
	task->host->complete(task->ctx);
}

/* On the host's loop: a hop ended (TF_HOST_HTTP_CANCELLED: the host
 * cancelled the run, as the progress check would have). */
static void
on_hop(void *user, int curl_code, void *curl_easy)
{
	struct delivery *d = user;
	CURLcode rc = (CURLcode)curl_code;

	http_origin_hop_ended(d->x.tls);
	if (curl_code == TF_HOST_HTTP_CANCELLED) {
		d->x.h.cancelled = true;
		rc = CURLE_ABORTED_BY_CALLBACK;
	}
	if (exchange_hop_done(&d->x, rc) && send_hop(d))
		return;
	delivery_finish(d);
}

/* On the host's loop: a hop held back by the ramp looks again (cancelled:
 * the host cancelled the run meanwhile). */
static void
on_ramp(void *user, int cancelled)
{
	struct delivery *d = user;

	if (cancelled) {
		d->x.h.cancelled = true;
		exchange_cancelled(&d->res);
	} else if (exchange_hop_resume(&d->x) && send_hop(d)) {
		return;
	}
	delivery_finish(d);
}

/* The asynchronous style (runner ABI 1.2): each hop is a transfer on the
 * host's loop, no thread waits for it. */
static enum tf_start_status
http_start(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	struct delivery *d = tf_calloc(1, sizeof(*d));

	if (d == NULL) {
		runner_set_error(result, TF_RUN_RETRY, "out of memory");
		return TF_START_DONE;
	}
	if (!delivery_prepare(state, task, result, true, d)) {
		tf_free(d);
		return TF_START_DONE;
	}
	if (exchange_begin(&d->x, &d->env, &d->meta, &d->t, &d->res) &&
	    send_hop(d))
		return TF_START_PENDING;
	delivery_report(d, exchange_end(&d->x));
	tf_free(d);
	return TF_START_DONE;
}

static const struct tf_runner http_runner = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.flags = 0,
	.name = "http",
	.version = TF_VERSION,
	.init = http_init,
	.run = http_run,
	.fini = http_fini,
	.validate = http_validate,
	.start = http_start,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &http_runner;
}
