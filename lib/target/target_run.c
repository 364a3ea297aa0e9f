/* target_run.c - one run of an AWS target: the call and its judgement. */
#include "target/target_run.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "aws/creds.h"
#include "base/alloc.h"
#include "base/config.h"

/* Clients a runner keeps at most: one per region and role (the consumer's
 * region and credentials, and those tasks name). */
#define CLIENTS_MAX 64
/* The most of a Lambda function's answer kept in the result. */
#define PAYLOAD_KEEP 1024

static const enum tf_aws_service service_of[TF_TARGET__KINDS] = {
	TF_AWS_SQS, TF_AWS_SNS, TF_AWS_LAMBDA, TF_AWS_EVENTS, TF_AWS_SFN
};

struct region_client {
	char region[32];
	char *role_arn;                /* owned; NULL: the consumer's creds */
	char *external_id;             /* owned; NULL: none */
	struct tf_creds_provider *role_creds;  /* owned: the role's, assumed
	                                  through STS and refreshed before they
	                                  expire; NULL without a role */
	struct tf_aws *aws;            /* owned */
};

/* A runner's state; read-only after init but for the clients (lock). */
struct target_state {
	enum tf_target_kind kind;
	const struct tf_host_api *host;
	struct tf_config cfg;          /* owned: region and endpoints */
	struct tf_creds_provider *creds;  /* owned */
	int max_attempts;
	long timeout_ms;
	pthread_mutex_t lock;          /* guards clients and n_clients */
	struct region_client clients[CLIENTS_MAX];
	int n_clients;
};

/* One run's working set. */
struct run {
	struct target_state *st;
	const struct tf_task_view *task;
	struct tf_run_result *result;
	struct tf_target t;
	struct tf_target_req req;
	struct tf_aws *aws;            /* borrowed from st */
	cJSON *doc;                    /* owned: the result document */
};

/* Frees what rc holds (the client before the credentials it borrows). */
static void
client_clear(struct region_client *rc)
{
	tf_aws_free(rc->aws);
	tf_creds_provider_free(rc->role_creds);
	tf_free(rc->role_arn);
	tf_free(rc->external_id);
	memset(rc, 0, sizeof(*rc));
}

void
tf_target_runner_fini(void *state)
{
	struct target_state *st = state;
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < st->n_clients; i++)
		client_clear(&st->clients[i]);
	tf_creds_provider_free(st->creds);
	tf_config_free(&st->cfg);
	pthread_mutex_destroy(&st->lock);
	tf_free(st);
}

/* Reads a whole number setting from min to max; absent keeps *out. */
static int
config_int(const cJSON *cfg, const char *key, long min, long max, long *out,
    char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);

	if (v == NULL)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min ||
	    v->valuedouble > (double)max ||
	    v->valuedouble != (double)(long)v->valuedouble) {
		snprintf(err, errlen, "%s must be a whole number from %ld to %ld",
		    key, min, max);
		return -1;
	}
	*out = (long)v->valuedouble;
	return 0;
}

static int
configure(struct target_state *st, const char *config_json, char *err,
    size_t errlen)
{
	cJSON *cfg = cJSON_Parse(config_json != NULL ? config_json : "{}");
	const cJSON *f;
	long attempts = 3;
	int rc = -1;

	st->timeout_ms = 10000;
	if (cfg == NULL || !cJSON_IsObject(cfg)) {
		snprintf(err, errlen, "the configuration is not a JSON object");
		goto out;
	}
	cJSON_ArrayForEach(f, cfg) {
		if (strcmp(f->string, "max_attempts") != 0 &&
		    strcmp(f->string, "timeout_ms") != 0) {
			snprintf(err, errlen, "unknown configuration key \"%.64s\"",
			    f->string);
			goto out;
		}
	}
	if (config_int(cfg, "max_attempts", 1, 10, &attempts, err, errlen) != 0 ||
	    config_int(cfg, "timeout_ms", 100, 60000, &st->timeout_ms, err,
	    errlen) != 0)
		goto out;
	st->max_attempts = (int)attempts;
	rc = 0;
out:
	cJSON_Delete(cfg);
	return rc;
}

int
tf_target_runner_init(enum tf_target_kind kind, const struct tf_host_api *host,
    const char *config_json, void **state)
{
	struct target_state *st;
	char err[512] = "";

	st = tf_calloc(1, sizeof(*st));
	if (st == NULL)
		return -1;
	pthread_mutex_init(&st->lock, NULL);
	st->kind = kind;
	st->host = host;
	if (configure(st, config_json, err, sizeof(err)) != 0 ||
	    tf_config_load(&st->cfg, err, sizeof(err)) != TF_OK) {
		host->log(NULL, TF_RUNNER_LOG_ERROR, "%s runner: %s",
		    tf_target_name(kind), err[0] ? err : "out of memory");
		tf_target_runner_fini(st);
		return -1;
	}
	if (tf_creds_provider_new(&st->creds) != TF_OK) {
		host->log(NULL, TF_RUNNER_LOG_ERROR, "%s runner: cannot set up the "
		    "credential chain", tf_target_name(kind));
		tf_target_runner_fini(st);
		return -1;
	}
	host->log(NULL, TF_RUNNER_LOG_INFO, "%s runner: region %s, endpoint %s, "
	    "%d attempts per call", tf_target_name(kind), st->cfg.region,
	    st->cfg.endpoint[service_of[kind]] != NULL ?
	    st->cfg.endpoint[service_of[kind]] : "AWS's", st->max_attempts);
	*state = st;
	return 0;
}

int
tf_target_host_init(const struct tf_host_api *host, const char *target,
    const char *config_json, void **state)
{
	int k;

	for (k = 0; k < TF_TARGET__KINDS; k++)
		if (target != NULL &&
		    strcmp(target, tf_target_name((enum tf_target_kind)k)) == 0)
			return tf_target_runner_init((enum tf_target_kind)k, host,
			    config_json, state);
	host->log(NULL, TF_RUNNER_LOG_ERROR, "no AWS target is named \"%.64s\"",
	    target != NULL ? target : "");
	return -1;
}

/* True when a and b are both NULL or the same string. */
static bool
same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The client for region ("": the consumer's) and the role of t (none: the
 * consumer's credentials), made on first use and kept: so a role's
 * credentials are assumed once and refreshed before they expire, not
 * assumed again for every run. Borrowed for the runner's lifetime. NULL
 * when out of memory or clients. */
static struct tf_aws *
client_for(struct target_state *st, const char *region,
    const struct tf_target *t)
{
	struct tf_aws_config ac = { 0 };
	struct region_client *rc = NULL;
	struct tf_aws *aws = NULL;
	int i;

	if (region[0] == '\0')
		region = st->cfg.region;
	pthread_mutex_lock(&st->lock);
	for (i = 0; i < st->n_clients && aws == NULL; i++)
		if (strcmp(st->clients[i].region, region) == 0 &&
		    same(st->clients[i].role_arn, t->role_arn) &&
		    same(st->clients[i].external_id, t->external_id))
			aws = st->clients[i].aws;
	if (aws != NULL || st->n_clients >= CLIENTS_MAX)
		goto out;
	rc = &st->clients[st->n_clients];
	snprintf(rc->region, sizeof(rc->region), "%s", region);
	if (t->role_arn != NULL &&
	    ((rc->role_arn = tf_strdup(t->role_arn)) == NULL ||
	    (t->external_id != NULL &&
	    (rc->external_id = tf_strdup(t->external_id)) == NULL) ||
	    tf_creds_provider_new_role(st->creds, t->role_arn, t->external_id,
	    region, &rc->role_creds) != TF_OK))
		goto out_clear;
	ac.region = region;
	for (i = 0; i < TF_AWS__SERVICES; i++)
		ac.endpoint[i] = st->cfg.endpoint[i];
	ac.creds = rc->role_creds != NULL ? rc->role_creds : st->creds;
	ac.max_attempts = st->max_attempts;
	ac.timeout_ms = st->timeout_ms;
	if (tf_aws_new(&ac, &rc->aws) != TF_OK)
		goto out_clear;
	aws = rc->aws;
	st->n_clients++;
	goto out;
out_clear:
	client_clear(rc);
out:
	pthread_mutex_unlock(&st->lock);
	return aws;
}

static void run_fail(struct run *r, enum tf_run_outcome outcome,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sets the outcome and the error text. */
static void
run_fail(struct run *r, enum tf_run_outcome outcome, const char *fmt, ...)
{
	va_list ap;

	r->result->outcome = outcome;
	r->result->completed = 0;
	if (r->result->error == NULL || r->result->error_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(r->result->error, r->result->error_size, fmt, ap);
	va_end(ap);
}

/* True for the errors worth another run later. */
static bool
retryable(enum tf_err rc)
{
	return rc == TF_ERR_THROTTLED || rc == TF_ERR_SERVER || rc == TF_ERR_IO ||
	    rc == TF_ERR_TIMEOUT || rc == TF_ERR_CREDENTIALS || rc == TF_ERR_NOMEM ||
	    rc == TF_ERR_CANCELLED;
}

/* Judges a failed AWS call: the outcome by its code, the error text and
 * the result document from what AWS said. */
static void
call_failed(struct run *r, enum tf_err rc)
{
	const struct tf_aws_error *e = tf_aws_last_error();

	if (r->doc != NULL) {
		cJSON_AddStringToObject(r->doc, "error", e->type[0] ? e->type :
		    tf_strerror(rc));
		if (e->http_status != 0)
			cJSON_AddNumberToObject(r->doc, "status_code",
			    (double)e->http_status);
		if (e->message[0] != '\0')
			cJSON_AddStringToObject(r->doc, "message", e->message);
	}
	run_fail(r, retryable(rc) ? TF_RUN_RETRY : TF_RUN_FAILED,
	    "%s: %s%s%s (%s%ld, %d attempt%s)", e->operation[0] ? e->operation :
	    r->req.operation, e->type[0] ? e->type : tf_strerror(rc),
	    e->message[0] ? ": " : "", e->message, e->http_status ? "HTTP " : "",
	    e->http_status, e->attempts, e->attempts == 1 ? "" : "s");
}

/* A JSON answer's string field into the result document under key. */
static void
keep_string(struct run *r, const cJSON *reply, const char *field,
    const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(reply, field);

	if (cJSON_IsString(v))
		cJSON_AddStringToObject(r->doc, key, v->valuestring);
}

/* Makes a JSON-protocol call of the run's request; *reply: caller deletes. */
static enum tf_err
json_call(struct run *r, enum tf_aws_service svc, const char *operation,
    const char *body, cJSON **reply)
{
	struct tf_buf text = TF_BUF_INIT;
	enum tf_err rc;

	*reply = NULL;
	rc = tf_aws_call_text(r->aws, svc, operation, body, strlen(body), NULL,
	    &text);
	if (rc == TF_OK) {
		*reply = text.len == 0 ? cJSON_CreateObject() :
		    cJSON_ParseWithLength(text.data, text.len);
		if (*reply == NULL)
			rc = TF_ERR_PARSE;
	}
	tf_buf_free(&text);
	return rc;
}

/* SQS: the queue's URL (GetQueueUrl of a name) into *url (caller frees). */
static enum tf_err
queue_url(struct run *r, char **url)
{
	cJSON *req = NULL, *reply = NULL;
	const cJSON *u;
	char *body = NULL;
	enum tf_err rc = TF_ERR_NOMEM;

	*url = NULL;
	if (strncmp(r->t.resource, "http", 4) == 0)
		return (*url = tf_strdup(r->t.resource)) != NULL ? TF_OK : TF_ERR_NOMEM;
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "QueueName", r->t.resource) == NULL ||
	    (body = cJSON_PrintUnformatted(req)) == NULL)
		goto out;
	if ((rc = json_call(r, TF_AWS_SQS, "GetQueueUrl", body, &reply)) != TF_OK)
		goto out;
	u = cJSON_GetObjectItemCaseSensitive(reply, "QueueUrl");
	rc = !cJSON_IsString(u) ? TF_ERR_PARSE :
	    (*url = tf_strdup(u->valuestring)) != NULL ? TF_OK : TF_ERR_NOMEM;
out:
	cJSON_free(body);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return rc;
}

static void
run_sqs(struct run *r, const cJSON *reply)
{
	keep_string(r, reply, "MessageId", "message_id");
	keep_string(r, reply, "SequenceNumber", "sequence_number");
	if (r->req.name != NULL && r->t.fifo)
		cJSON_AddStringToObject(r->doc, "deduplication_id", r->req.name);
	r->result->completed = 1;
}

static void
run_sns(struct run *r)
{
	static const char form[] = "application/x-www-form-urlencoded; charset=utf-8";
	struct tf_aws_shape shape = { .content_type = form };
	struct tf_http_response resp = { 0, TF_BUF_INIT, 0 };
	char id[128];
	enum tf_err rc;

	rc = tf_aws_request(r->aws, TF_AWS_SNS, "Publish", &shape, r->req.body,
	    strlen(r->req.body), NULL, &resp);
	if (rc != TF_OK) {
		call_failed(r, rc);
		goto out;
	}
	if (!tf_aws_xml_text(tf_buf_str(&resp.body), resp.body.len, "MessageId",
	    id, sizeof(id))) {
		run_fail(r, TF_RUN_FAILED, "Publish: the answer holds no MessageId");
		goto out;
	}
	cJSON_AddStringToObject(r->doc, "message_id", id);
	if (tf_aws_xml_text(tf_buf_str(&resp.body), resp.body.len,
	    "SequenceNumber", id, sizeof(id)))
		cJSON_AddStringToObject(r->doc, "sequence_number", id);
	if (r->req.name != NULL)
		cJSON_AddStringToObject(r->doc, "deduplication_id", r->req.name);
	r->result->completed = 1;
out:
	tf_http_response_free(&resp);
}

/* Keeps a function's answer in the result: as JSON when it is a small JSON
 * document, else its first PAYLOAD_KEEP bytes with anything but printable
 * ASCII as '?'. */
static void
keep_payload(struct run *r, const struct tf_buf *body)
{
	char text[PAYLOAD_KEEP + 1];
	cJSON *v = NULL;
	size_t i, n;

	if (body->len == 0)
		return;
	if (body->len <= PAYLOAD_KEEP &&
	    (v = cJSON_ParseWithLength(body->data, body->len)) != NULL) {
		cJSON_AddItemToObject(r->doc, "payload", v);
		return;
	}
	n = body->len < PAYLOAD_KEEP ? body->len : PAYLOAD_KEEP;
	for (i = 0; i < n; i++)
		text[i] = body->data[i] >= 0x20 && body->data[i] < 0x7f ?
		    body->data[i] : '?';
	text[n] = '\0';
	cJSON_AddStringToObject(r->doc, "payload", text);
	cJSON_AddBoolToObject(r->doc, "payload_truncated", body->len > n);
}

static void
run_lambda(struct run *r)
{
	struct tf_http_header h[1] = {
		{ "x-amz-invocation-type", r->t.event ? "Event" : "RequestResponse" }
	};
	struct tf_http_capture capture = {
		.names = { "x-amz-function-error", "x-amz-executed-version" }
	};
	struct tf_aws_shape shape = {
		.path = r->req.path, .query = r->req.query,
		.content_type = "application/json", .headers = h, .n_headers = 1,
		.capture = &capture,
	};
	struct tf_http_response resp = { 0, TF_BUF_INIT, 0 };
	const char *ferr = capture.values[0];
	enum tf_err rc;

	rc = tf_aws_request(r->aws, TF_AWS_LAMBDA, "Invoke", &shape, r->req.body,
	    strlen(r->req.body), NULL, &resp);
	if (rc != TF_OK) {
		call_failed(r, rc);
		goto out;
	}
	cJSON_AddNumberToObject(r->doc, "status_code", (double)resp.status);
	if (capture.values[1][0] != '\0')
		cJSON_AddStringToObject(r->doc, "executed_version", capture.values[1]);
	keep_payload(r, &resp.body);
	if (ferr[0] == '\0') {
		r->result->completed = 1;
		goto out;
	}
	cJSON_AddStringToObject(r->doc, "function_error", ferr);
	/* Unhandled: the runtime failed (a crash, a timeout, out of memory):
	 * worth another attempt. Handled: the function reported an error
	 * itself; params.handled_error decides. */
	run_fail(r, strcmp(ferr, "Unhandled") == 0 || r->t.retry_handled ?
	    TF_RUN_RETRY : TF_RUN_FAILED, "Invoke: function error %.32s: %.200s",
	    ferr, tf_buf_str(&resp.body));
out:
	tf_http_response_free(&resp);
}

/* PutEvents answers 200 with FailedEntryCount for events it refused: the
 * entry's ErrorCode decides. */
static void
run_events(struct run *r, const cJSON *reply)
{
	static const char *const transient[] = {
		"ThrottlingException", "InternalFailure", "InternalException",
		"ServiceUnavailable", NULL
	};
	const cJSON *failed = cJSON_GetObjectItemCaseSensitive(reply,
	    "FailedEntryCount");
	const cJSON *entry = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
	    reply, "Entries"), 0);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(entry, "ErrorCode");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(entry, "ErrorMessage");
	const char *c;
	int i;

	if (!cJSON_IsNumber(failed) || failed->valuedouble == 0) {
		keep_string(r, entry, "EventId", "event_id");
		r->result->completed = 1;
		return;
	}
	c = cJSON_IsString(code) ? code->valuestring : "unknown";
	cJSON_AddStringToObject(r->doc, "error", c);
	if (cJSON_IsString(msg))
		cJSON_AddStringToObject(r->doc, "message", msg->valuestring);
	for (i = 0; transient[i] != NULL; i++)
		if (strcmp(c, transient[i]) == 0)
			break;
	run_fail(r, transient[i] != NULL ? TF_RUN_RETRY : TF_RUN_FAILED,
	    "PutEvents: the event was refused: %.64s%s%.200s", c,
	    cJSON_IsString(msg) ? ": " : "", cJSON_IsString(msg) ?
	    msg->valuestring : "");
}

/* StartExecution refused as ExecutionAlreadyExists: an earlier attempt of
 * this iteration started it (success) when its input is ours. */
static void
sfn_exists(struct run *r)
{
	const char *marker = ":stateMachine:";
	const char *at = strstr(r->t.resource, marker);
	cJSON *req = NULL, *reply = NULL, *theirs = NULL, *ours = NULL;
	const cJSON *in;
	char *arn = NULL, *body = NULL;
	size_t len;
	enum tf_err rc;

	len = strlen(r->t.resource) + strlen(r->req.name) + 16;
	if (at == NULL || (arn = tf_malloc(len)) == NULL) {
		run_fail(r, TF_RUN_RETRY, "out of memory");
		goto out;
	}
	snprintf(arn, len, "%.*s:execution:%s:%s", (int)(at - r->t.resource),
	    r->t.resource, at + strlen(marker), r->req.name);
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "executionArn", arn) == NULL ||
	    (body = cJSON_PrintUnformatted(req)) == NULL) {
		run_fail(r, TF_RUN_RETRY, "out of memory");
		goto out;
	}
	if ((rc = json_call(r, TF_AWS_SFN, "DescribeExecution", body,
	    &reply)) != TF_OK) {
		call_failed(r, rc);
		goto out;
	}
	in = cJSON_GetObjectItemCaseSensitive(reply, "input");
	theirs = cJSON_IsString(in) ? cJSON_Parse(in->valuestring) : NULL;
	ours = cJSON_Parse(r->req.input);
	if (theirs == NULL || ours == NULL || !cJSON_Compare(theirs, ours, 1)) {
		run_fail(r, TF_RUN_FAILED, "StartExecution: an execution named %s "
		    "already exists with other input", r->req.name);
		goto out;
	}
	cJSON_AddStringToObject(r->doc, "execution_arn", arn);
	cJSON_AddBoolToObject(r->doc, "already_started", 1);
	r->result->completed = 1;
out:
	cJSON_Delete(ours);
	cJSON_Delete(theirs);
	cJSON_Delete(reply);
	cJSON_free(body);
	cJSON_Delete(req);
	tf_free(arn);
}

/* The JSON-protocol targets: SQS, EventBridge, Step Functions. */
static void
run_json(struct run *r)
{
	cJSON *reply = NULL;
	enum tf_err rc;

	/* One call site per operation, so tests/infra/aws_ops.py can read each
	 * call's service and operation (the IAM statements of docs/targets.md). */
	if (r->t.kind == TF_TARGET_SQS)
		rc = json_call(r, TF_AWS_SQS, "SendMessage", r->req.body, &reply);
	else if (r->t.kind == TF_TARGET_EVENTBRIDGE)
		rc = json_call(r, TF_AWS_EVENTS, "PutEvents", r->req.body, &reply);
	else
		rc = json_call(r, TF_AWS_SFN, "StartExecution", r->req.body, &reply);
	if (rc == TF_OK) {
		if (r->t.kind == TF_TARGET_SQS)
			run_sqs(r, reply);
		else if (r->t.kind == TF_TARGET_EVENTBRIDGE)
			run_events(r, reply);
		else {
			keep_string(r, reply, "executionArn", "execution_arn");
			r->result->completed = 1;
		}
	} else if (r->t.kind == TF_TARGET_SFN &&
	    strcmp(tf_aws_last_error()->type, "ExecutionAlreadyExists") == 0) {
		sfn_exists(r);
	} else {
		call_failed(r, rc);
	}
	cJSON_Delete(reply);
}

void
tf_target_runner_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	struct run r = { .st = state, .task = task, .result = result };
	struct tf_template_ctx ctx = {
		.task_id = task->id, .ns = task->ns, .iteration = task->iteration,
		.attempt = task->attempt, .scheduled_ms = task->target_ms,
	};
	char err[512], *url = NULL, *text;
	enum tf_err rc;

	rc = tf_target_parse(r.st->kind, task->params_json, task->params_len,
	    &r.t, err, sizeof(err));
	if (rc != TF_OK) {
		run_fail(&r, rc == TF_ERR_INVALID ? TF_RUN_FAILED : TF_RUN_RETRY,
		    "%s", rc == TF_ERR_INVALID ? err : "out of memory");
		goto out;
	}
	if ((r.aws = client_for(r.st, r.t.region, &r.t)) == NULL ||
	    (r.doc = cJSON_CreateObject()) == NULL) {
		run_fail(&r, TF_RUN_RETRY, "out of memory (or more than %d "
		    "regions and roles)", CLIENTS_MAX);
		goto out;
	}
	if (r.t.role_arn != NULL)
		cJSON_AddStringToObject(r.doc, "role_arn", r.t.role_arn);
	cJSON_AddStringToObject(r.doc, "region", tf_aws_region(r.aws));
	if (r.st->kind == TF_TARGET_SQS && (rc = queue_url(&r, &url)) != TF_OK) {
		call_failed(&r, rc);
		goto out_result;
	}
	if (url != NULL)
		cJSON_AddStringToObject(r.doc, "queue_url", url);
	rc = tf_target_build(&r.t, &ctx, url, &r.req);
	if (rc != TF_OK) {
		run_fail(&r, rc == TF_ERR_NOMEM ? TF_RUN_RETRY : TF_RUN_FAILED,
		    "%s", rc == TF_ERR_NOMEM ? "out of memory" :
		    "the request is over 256 KiB with its placeholders filled");
		goto out_result;
	}
	if (r.req.name != NULL && r.st->kind == TF_TARGET_SFN)
		cJSON_AddStringToObject(r.doc, "execution_name", r.req.name);
	/* The last look before the request goes out. */
	if (task->host->cancelled(task->ctx)) {
		run_fail(&r, TF_RUN_RETRY, "cancelled: the consumer stopped the "
		    "run before sending");
		goto out_result;
	}
	if (r.st->kind == TF_TARGET_SNS)
		run_sns(&r);
	else if (r.st->kind == TF_TARGET_LAMBDA)
		run_lambda(&r);
	else
		run_json(&r);
out_result:
	text = cJSON_PrintUnformatted(r.doc);
	if (text != NULL)
		task->host->set_result(task->ctx, text, strlen(text));
	cJSON_free(text);
out:
	cJSON_Delete(r.doc);
	tf_free(url);
	tf_target_req_free(&r.req);
	tf_target_free(&r.t);
}
