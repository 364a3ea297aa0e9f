/* target.c - params and requests of the AWS target runners. */
#include "target/target.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aws/sigv4.h"
#include "base/alloc.h"
#include "base/buf.h"

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
/* What SQS and SNS allow in a group or deduplication id: letters, digits
 * and punctuation, as a strspn set. */
#define ID_CHARS ALNUM "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
#define ID_MAX 128
/* Step Functions execution names: letters, digits, '-' and '_' (of what
 * AWS allows, the characters that are safe everywhere). */
#define NAME_CHARS ALNUM "-_"
#define NAME_MAX 80
#define ATTRIBUTES_MAX 10

static const char *const kind_names[TF_TARGET__KINDS] = {
	"sqs", "sns", "lambda", "eventbridge", "stepfunctions"
};

/* The params each kind takes; NULL ends a list. */
static const char *const keys_sqs[] = { "queue", "body", "delay_seconds",
	"attributes", "message_group_id", "message_deduplication_id", "region",
	NULL };
static const char *const keys_sns[] = { "topic_arn", "message", "subject",
	"attributes", "message_group_id", "message_deduplication_id", "region",
	NULL };
static const char *const keys_lambda[] = { "function", "qualifier",
	"payload", "invocation_type", "handled_error", "region", NULL };
static const char *const keys_events[] = { "event_bus", "source",
	"detail_type", "detail", "resources", "region", NULL };
static const char *const keys_sfn[] = { "state_machine_arn", "input",
	"region", NULL };
static const char *const *const kind_keys[TF_TARGET__KINDS] = {
	keys_sqs, keys_sns, keys_lambda, keys_events, keys_sfn
};

const char *
tf_target_name(enum tf_target_kind kind)
{
	return (unsigned)kind < TF_TARGET__KINDS ? kind_names[kind] : "?";
}

void
tf_target_free(struct tf_target *t)
{
	cJSON_Delete(t->params);
	memset(t, 0, sizeof(*t));
}

void
tf_target_req_free(struct tf_target_req *r)
{
	tf_free(r->body);
	tf_free(r->path);
	tf_free(r->query);
	tf_free(r->name);
	tf_free(r->input);
	memset(r, 0, sizeof(*r));
}

/* True when s (len bytes) consists of characters of set only. */
static bool
only(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

/* Reads params.key as a string of 1 to max bytes of the set chars (NULL:
 * any) into *out; absent leaves *out, unless required. */
static enum tf_err
get_string(const cJSON *p, const char *key, bool required, size_t max,
    const char *chars, const char **out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
	size_t n;

	if (v == NULL) {
		if (!required)
			return TF_OK;
		tf_errf(err, errlen, "params.%s is required", key);
		return TF_ERR_INVALID;
	}
	if (!cJSON_IsString(v)) {
		tf_errf(err, errlen, "params.%s must be a string", key);
		return TF_ERR_INVALID;
	}
	n = strlen(v->valuestring);
	if (n == 0 || n > max) {
		tf_errf(err, errlen, "params.%s must be 1 to %zu bytes long", key,
		    max);
		return TF_ERR_INVALID;
	}
	if (chars != NULL && !only(v->valuestring, chars)) {
		tf_errf(err, errlen, "params.%s holds a character it may not "
		    "(\"%.60s\")", key, v->valuestring);
		return TF_ERR_INVALID;
	}
	*out = v->valuestring;
	return TF_OK;
}

/* Reads an ARN's field n (0 "arn", 1 partition, 2 service, 3 region,
 * 4 account) into out; false when arn is not "arn:...:...:...:...:...". */
static bool
arn_field(const char *arn, int n, char *out, size_t len)
{
	const char *p = arn, *end;
	int i;

	if (strncmp(arn, "arn:", 4) != 0)
		return false;
	for (i = 0; i < n; i++) {
		if ((p = strchr(p, ':')) == NULL)
			return false;
		p++;
	}
	end = strchr(p, ':');
	if (end == NULL)
		return false;
	snprintf(out, len, "%.*s", (int)(end - p), p);
	return true;
}

/* Checks that arn is an ARN of service with a resource part starting with
 * kind_prefix (NULL: any), and takes its region into t->region unless the
 * params named one. */
static enum tf_err
check_arn(struct tf_target *t, const char *key, const char *arn,
    const char *service, const char *kind_prefix, char *err, size_t errlen)
{
	char svc[32], region[32], account[32];
	const char *rest = arn;
	int i;

	for (i = 0; i < 5 && rest != NULL; i++)
		if ((rest = strchr(rest, ':')) != NULL)
			rest++;
	if (rest == NULL || !arn_field(arn, 2, svc, sizeof(svc)) ||
	    strcmp(svc, service) != 0 ||
	    !arn_field(arn, 3, region, sizeof(region)) ||
	    !arn_field(arn, 4, account, sizeof(account)) || region[0] == '\0' ||
	    strlen(account) != 12 || !only(account, "0123456789") ||
	    (kind_prefix != NULL && strncmp(rest, kind_prefix,
	    strlen(kind_prefix)) != 0) || rest[strlen(kind_prefix ?
	    kind_prefix : "")] == '\0') {
		tf_errf(err, errlen, "params.%s must be an ARN "
		    "arn:aws:%s:REGION:ACCOUNT:%s..., got \"%.80s\"", key, service,
		    kind_prefix != NULL ? kind_prefix : "", arn);
		return TF_ERR_INVALID;
	}
	if (t->region[0] == '\0')
		snprintf(t->region, sizeof(t->region), "%s", region);
	return TF_OK;
}

/* The role to assume for the call (every kind): params.role_arn, an IAM
 * role's ARN (arn:PARTITION:iam::ACCOUNT:role/PATH/NAME, at most 2048
 * bytes), and params.external_id (2 to 1224 bytes of [A-Za-z0-9+=,.@:/-],
 * only with a role), as STS's AssumeRole takes them. */
static enum tf_err
get_role(struct tf_target *t, char *err, size_t errlen)
{
	static const char id_chars[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@:/-_";
	char svc[8], region[8], account[16];
	const char *rest;
	enum tf_err rc;
	int i;

	if ((rc = get_string(t->params, "role_arn", false, 2048, NULL,
	    &t->role_arn, err, errlen)) != TF_OK ||
	    (rc = get_string(t->params, "external_id", false, 1224, id_chars,
	    &t->external_id, err, errlen)) != TF_OK)
		return rc;
	if (t->external_id != NULL && (t->role_arn == NULL ||
	    strlen(t->external_id) < 2)) {
		tf_errf(err, errlen, t->role_arn == NULL ? "params.external_id "
		    "needs params.role_arn" : "params.external_id must be 2 to "
		    "1224 bytes long");
		return TF_ERR_INVALID;
	}
	if (t->role_arn == NULL)
		return TF_OK;
	rest = t->role_arn;
	for (i = 0; i < 5 && rest != NULL; i++)
		if ((rest = strchr(rest, ':')) != NULL)
			rest++;
	if (rest == NULL || strncmp(rest, "role/", 5) != 0 || rest[5] == '\0' ||
	    !arn_field(t->role_arn, 2, svc, sizeof(svc)) ||
	    strcmp(svc, "iam") != 0 ||
	    !arn_field(t->role_arn, 3, region, sizeof(region)) ||
	    region[0] != '\0' ||
	    !arn_field(t->role_arn, 4, account, sizeof(account)) ||
	    strlen(account) != 12 || !only(account, "0123456789") ||
	    !only(rest + 5, id_chars)) {
		tf_errf(err, errlen, "params.role_arn must be an IAM role's ARN "
		    "arn:aws:iam::ACCOUNT:role/NAME, got \"%.80s\"", t->role_arn);
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

/* The payload params.key (any JSON value; a string is sent as it is):
 * its placeholders checked. */
static enum tf_err
get_payload(struct tf_target *t, const char *key, bool required,
    bool object_only, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(t->params, key);
	char what[48];

	if (v == NULL && required) {
		tf_errf(err, errlen, "params.%s is required", key);
		return TF_ERR_INVALID;
	}
	if (v == NULL)
		return TF_OK;
	if (object_only && !cJSON_IsObject(v)) {
		tf_errf(err, errlen, "params.%s must be a JSON object", key);
		return TF_ERR_INVALID;
	}
	if (cJSON_IsString(v) && v->valuestring[0] == '\0') {
		tf_errf(err, errlen, "params.%s must not be empty", key);
		return TF_ERR_INVALID;
	}
	t->payload = v;
	snprintf(what, sizeof(what), "params.%s", key);
	return tf_template_check(v, what, t->kind == TF_TARGET_SFN, err, errlen);
}

/* Message attributes (sqs, sns): {"Name": "text" or a number}. */
static enum tf_err
check_attributes(const cJSON *p, char *err, size_t errlen)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(p, "attributes"), *v;
	int n = 0;

	if (a == NULL)
		return TF_OK;
	if (!cJSON_IsObject(a)) {
		tf_errf(err, errlen, "params.attributes must be an object of "
		    "names to strings or numbers");
		return TF_ERR_INVALID;
	}
	cJSON_ArrayForEach(v, a) {
		if (++n > ATTRIBUTES_MAX) {
			tf_errf(err, errlen, "params.attributes: at most %d",
			    ATTRIBUTES_MAX);
			return TF_ERR_INVALID;
		}
		if (v->string[0] == '\0' || strlen(v->string) > 256 ||
		    !only(v->string, ALNUM "_-.") || v->string[0] == '.' ||
		    strncasecmp(v->string, "aws.", 4) == 0 ||
		    strncasecmp(v->string, "amazon.", 7) == 0) {
			tf_errf(err, errlen, "params.attributes: \"%.60s\" is not an "
			    "attribute name (letters, digits, _ - .; not AWS. or "
			    "Amazon.)", v->string);
			return TF_ERR_INVALID;
		}
		if (!(cJSON_IsString(v) && v->valuestring[0] != '\0') &&
		    !cJSON_IsNumber(v)) {
			tf_errf(err, errlen, "params.attributes.%.60s must be a "
			    "non-empty string or a number", v->string);
			return TF_ERR_INVALID;
		}
		if (tf_template_check(v, "params.attributes", false, err,
		    errlen) != TF_OK)
			return TF_ERR_INVALID;
	}
	return TF_OK;
}

/* The FIFO fields (sqs, sns). */
static enum tf_err
check_fifo(const struct tf_target *t, char *err, size_t errlen)
{
	const char *s = NULL;
	enum tf_err rc;

	if ((rc = get_string(t->params, "message_group_id", false, ID_MAX,
	    ID_CHARS, &s, err, errlen)) != TF_OK ||
	    (rc = get_string(t->params, "message_deduplication_id", false, ID_MAX,
	    ID_CHARS, &s, err, errlen)) != TF_OK)
		return rc;
	if (!t->fifo && s != NULL) {
		tf_errf(err, errlen, "params.message_deduplication_id is for FIFO "
		    "%s (names ending in .fifo)", t->kind == TF_TARGET_SQS ?
		    "queues" : "topics");
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

static bool
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && strcmp(s + n - m, tail) == 0;
}

static enum tf_err
parse_sqs(struct tf_target *t, char *err, size_t errlen)
{
	const cJSON *d;
	enum tf_err rc;

	if ((rc = get_string(t->params, "queue", true, 1024, NULL, &t->resource,
	    err, errlen)) != TF_OK)
		return rc;
	if (strncmp(t->resource, "https://", 8) != 0 &&
	    strncmp(t->resource, "http://", 7) != 0 &&
	    (strlen(t->resource) > 80 || !only(t->resource, ALNUM "-_.") ||
	    (strchr(t->resource, '.') != NULL &&
	    strchr(t->resource, '.') != t->resource + strlen(t->resource) - 5) ||
	    (strchr(t->resource, '.') != NULL && !ends_with(t->resource, ".fifo")))) {
		tf_errf(err, errlen, "params.queue must be a queue URL "
		    "(https://sqs.REGION.amazonaws.com/ACCOUNT/NAME) or a name "
		    "(letters, digits, - and _, at most 80, .fifo allowed at the "
		    "end), got \"%.80s\"", t->resource);
		return TF_ERR_INVALID;
	}
	t->fifo = ends_with(t->resource, ".fifo");
	if ((rc = get_payload(t, "body", true, false, err, errlen)) != TF_OK)
		return rc;
	d = cJSON_GetObjectItemCaseSensitive(t->params, "delay_seconds");
	if (d != NULL && (!cJSON_IsNumber(d) || d->valuedouble < 0 ||
	    d->valuedouble > 900 || d->valuedouble != (double)(int)d->valuedouble)) {
		tf_errf(err, errlen, "params.delay_seconds must be a whole number "
		    "from 0 to 900");
		return TF_ERR_INVALID;
	}
	if (d != NULL && t->fifo) {
		tf_errf(err, errlen, "params.delay_seconds: a FIFO queue takes no "
		    "per-message delay (set the queue's DelaySeconds)");
		return TF_ERR_INVALID;
	}
	if ((rc = check_attributes(t->params, err, errlen)) != TF_OK)
		return rc;
	return check_fifo(t, err, errlen);
}

static enum tf_err
parse_sns(struct tf_target *t, char *err, size_t errlen)
{
	const char *subject = NULL;
	enum tf_err rc;

	if ((rc = get_string(t->params, "topic_arn", true, 1024, NULL,
	    &t->resource, err, errlen)) != TF_OK ||
	    (rc = check_arn(t, "topic_arn", t->resource, "sns", NULL, err,
	    errlen)) != TF_OK)
		return rc;
	t->fifo = ends_with(t->resource, ".fifo");
	if ((rc = get_payload(t, "message", true, false, err, errlen)) != TF_OK ||
	    (rc = get_string(t->params, "subject", false, 100, NULL, &subject,
	    err, errlen)) != TF_OK ||
	    (rc = check_attributes(t->params, err, errlen)) != TF_OK)
		return rc;
	if (subject != NULL && (rc = tf_template_check(cJSON_GetObjectItemCaseSensitive(
	    t->params, "subject"), "params.subject", false, err, errlen)) != TF_OK)
		return rc;
	return check_fifo(t, err, errlen);
}

static enum tf_err
parse_lambda(struct tf_target *t, char *err, size_t errlen)
{
	const char *q = NULL, *type = "RequestResponse", *handled = "fail";
	enum tf_err rc;

	if ((rc = get_string(t->params, "function", true, 170,
	    ALNUM "-_:.$", &t->resource, err, errlen)) != TF_OK ||
	    (rc = get_string(t->params, "qualifier", false, 128, ALNUM "-_$",
	    &q, err, errlen)) != TF_OK ||
	    (rc = get_string(t->params, "invocation_type", false, 32, NULL,
	    &type, err, errlen)) != TF_OK ||
	    (rc = get_string(t->params, "handled_error", false, 16, NULL,
	    &handled, err, errlen)) != TF_OK)
		return rc;
	if (strncmp(t->resource, "arn:", 4) == 0 && (rc = check_arn(t,
	    "function", t->resource, "lambda", "function:", err, errlen)) != TF_OK)
		return rc;
	if (strcmp(type, "RequestResponse") != 0 && strcmp(type, "Event") != 0) {
		tf_errf(err, errlen, "params.invocation_type must be "
		    "\"RequestResponse\" or \"Event\", got \"%.40s\"", type);
		return TF_ERR_INVALID;
	}
	if (strcmp(handled, "fail") != 0 && strcmp(handled, "retry") != 0) {
		tf_errf(err, errlen, "params.handled_error must be \"fail\" or "
		    "\"retry\", got \"%.40s\"", handled);
		return TF_ERR_INVALID;
	}
	t->event = strcmp(type, "Event") == 0;
	t->retry_handled = strcmp(handled, "retry") == 0;
	return get_payload(t, "payload", false, false, err, errlen);
}

static enum tf_err
parse_events(struct tf_target *t, char *err, size_t errlen)
{
	const char *s = NULL;
	const cJSON *r, *e;
	enum tf_err rc;

	if ((rc = get_string(t->params, "event_bus", false, 1600, NULL,
	    &t->resource, err, errlen)) != TF_OK ||
	    (rc = get_string(t->params, "source", true, 256, NULL, &s, err,
	    errlen)) != TF_OK ||
	    (rc = get_string(t->params, "detail_type", true, 128, NULL, &s, err,
	    errlen)) != TF_OK)
		return rc;
	if (t->resource != NULL && strncmp(t->resource, "arn:", 4) == 0 &&
	    (rc = check_arn(t, "event_bus", t->resource, "events", "event-bus/",
	    err, errlen)) != TF_OK)
		return rc;
	if (t->resource != NULL && strncmp(t->resource, "arn:", 4) != 0 &&
	    !only(t->resource, ALNUM "/._-")) {
		tf_errf(err, errlen, "params.event_bus must be a bus name or ARN, "
		    "got \"%.80s\"", t->resource);
		return TF_ERR_INVALID;
	}
	if (strncmp(cJSON_GetObjectItemCaseSensitive(t->params,
	    "source")->valuestring, "aws.", 4) == 0) {
		tf_errf(err, errlen, "params.source: \"aws.\" sources are AWS's");
		return TF_ERR_INVALID;
	}
	r = cJSON_GetObjectItemCaseSensitive(t->params, "resources");
	if (r != NULL && !cJSON_IsArray(r)) {
		tf_errf(err, errlen, "params.resources must be an array of ARNs");
		return TF_ERR_INVALID;
	}
	cJSON_ArrayForEach(e, r) {
		if (!cJSON_IsString(e) || strncmp(e->valuestring, "arn:", 4) != 0) {
			tf_errf(err, errlen, "params.resources must be an array of "
			    "ARNs");
			return TF_ERR_INVALID;
		}
	}
	return get_payload(t, "detail", false, true, err, errlen);
}

static enum tf_err
parse_sfn(struct tf_target *t, char *err, size_t errlen)
{
	enum tf_err rc;

	if ((rc = get_string(t->params, "state_machine_arn", true, 256, NULL,
	    &t->resource, err, errlen)) != TF_OK ||
	    (rc = check_arn(t, "state_machine_arn", t->resource, "states",
	    "stateMachine:", err, errlen)) != TF_OK)
		return rc;
	return get_payload(t, "input", false, false, err, errlen);
}

enum tf_err
tf_target_parse(enum tf_target_kind kind, const char *params, size_t len,
    struct tf_target *out, char *err, size_t errlen)
{
	static enum tf_err (*const parse[TF_TARGET__KINDS])(struct tf_target *,
	    char *, size_t) = {
		parse_sqs, parse_sns, parse_lambda, parse_events, parse_sfn
	};
	const char *const *k;
	const char *region = NULL;
	const cJSON *f;
	enum tf_err rc;

	memset(out, 0, sizeof(*out));
	out->kind = kind;
	if ((unsigned)kind >= TF_TARGET__KINDS) {
		tf_errf(err, errlen, "unknown target kind");
		return TF_ERR_INVALID;
	}
	out->params = cJSON_ParseWithLength(params, len);
	if (out->params == NULL || !cJSON_IsObject(out->params)) {
		tf_errf(err, errlen, "params must be a JSON object");
		return TF_ERR_INVALID;
	}
	cJSON_ArrayForEach(f, out->params) {
		for (k = kind_keys[kind]; *k != NULL; k++)
			if (strcmp(f->string, *k) == 0)
				break;
		if (*k == NULL && strcmp(f->string, "role_arn") != 0 &&
		    strcmp(f->string, "external_id") != 0) {
			tf_errf(err, errlen, "params.%.60s: the %s target takes no "
			    "such field", f->string, kind_names[kind]);
			return TF_ERR_INVALID;
		}
	}
	if ((rc = get_string(out->params, "region", false, 31,
	    "abcdefghijklmnopqrstuvwxyz0123456789-", &region, err,
	    errlen)) != TF_OK)
		return rc;
	if (region != NULL)
		snprintf(out->region, sizeof(out->region), "%s", region);
	if ((rc = get_role(out, err, errlen)) != TF_OK)
		return rc;
	return parse[kind](out, err, errlen);
}

void
tf_target_iteration_id(const char *task_id, long long iteration,
    const char *allowed, size_t max, char *out)
{
	char tail[24], hex[65];
	size_t n = strlen(task_id), i;

	snprintf(tail, sizeof(tail), "-%lld", iteration);
	if (n + strlen(tail) <= max) {
		for (i = 0; i < n; i++)
			out[i] = strchr(allowed, task_id[i]) != NULL ? task_id[i] : '-';
		snprintf(out + n, max + 1 - n, "%s", tail);
		return;
	}
	/* Too long: a hash keeps distinct ids distinct. */
	if (tf_sha256_hex(task_id, n, hex) != TF_OK)
		snprintf(hex, sizeof(hex), "unhashed");
	snprintf(out, max + 1, "tf-%.40s%s", hex, tail);
}

/* The payload of one run as text: a string as it is, any other value as
 * compact JSON; placeholders filled. *out: caller frees with tf_free(). */
static enum tf_err
payload_text(const cJSON *payload, const char *dflt,
    const struct tf_template_ctx *ctx, char **out)
{
	cJSON *copy;
	char *text;
	enum tf_err rc;

	*out = NULL;
	if (payload == NULL)
		return (*out = tf_strdup(dflt)) != NULL ? TF_OK : TF_ERR_NOMEM;
	if (cJSON_IsString(payload))
		return tf_template_string(payload->valuestring, ctx, out);
	if ((copy = cJSON_Duplicate(payload, 1)) == NULL)
		return TF_ERR_NOMEM;
	rc = tf_template_apply(copy, ctx);
	text = rc == TF_OK ? cJSON_PrintUnformatted(copy) : NULL;
	cJSON_Delete(copy);
	if (text == NULL)
		return TF_ERR_NOMEM;
	*out = tf_strdup(text);
	cJSON_free(text);
	return *out != NULL ? TF_OK : TF_ERR_NOMEM;
}

/* Adds string s, templated, to o as key. */
static enum tf_err
add_templated(cJSON *o, const char *key, const char *s,
    const struct tf_template_ctx *ctx)
{
	char *filled;
	enum tf_err rc;

	if ((rc = tf_template_string(s, ctx, &filled)) != TF_OK)
		return rc;
	rc = cJSON_AddStringToObject(o, key, filled) != NULL ? TF_OK : TF_ERR_NOMEM;
	tf_free(filled);
	return rc;
}

/* The message attribute v's data type and value text (a number as it was
 * written, within what a double holds). */
static void
attribute_value(const cJSON *v, const char **type, char *num, size_t len)
{
	*type = cJSON_IsNumber(v) ? "Number" : "String";
	if (cJSON_IsNumber(v))
		snprintf(num, len, "%.17g", v->valuedouble);
}

/* The FIFO group and deduplication ids of a run: the params', templated,
 * else the task id and the iteration id. */
static enum tf_err
fifo_ids(const struct tf_target *t, const struct tf_template_ctx *ctx,
    char **group, char **dedup)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(t->params,
	    "message_group_id");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(t->params,
	    "message_deduplication_id");
	char id[ID_MAX + 1];
	enum tf_err rc;

	*group = *dedup = NULL;
	rc = g != NULL ? tf_template_string(g->valuestring, ctx, group) :
	    (*group = tf_strdup(ctx->task_id)) != NULL ? TF_OK : TF_ERR_NOMEM;
	if (rc != TF_OK)
		return rc;
	if (d != NULL)
		return tf_template_string(d->valuestring, ctx, dedup);
	tf_target_iteration_id(ctx->task_id, ctx->iteration, ID_CHARS, ID_MAX, id);
	return (*dedup = tf_strdup(id)) != NULL ? TF_OK : TF_ERR_NOMEM;
}

static enum tf_err
build_sqs(const struct tf_target *t, const struct tf_template_ctx *ctx,
    const char *queue_url, cJSON *o, struct tf_target_req *out)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(t->params, "delay_seconds");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(t->params, "attributes");
	const cJSON *v;
	cJSON *attrs, *one;
	const char *type;
	char *text = NULL, *group = NULL, num[32];
	enum tf_err rc;

	out->operation = "SendMessage";
	if ((rc = payload_text(t->payload, "", ctx, &text)) != TF_OK)
		return rc;
	rc = TF_ERR_NOMEM;
	if (cJSON_AddStringToObject(o, "QueueUrl", queue_url) == NULL ||
	    cJSON_AddStringToObject(o, "MessageBody", text) == NULL ||
	    (d != NULL && cJSON_AddNumberToObject(o, "DelaySeconds",
	    d->valuedouble) == NULL))
		goto out;
	if (a != NULL && cJSON_GetArraySize(a) > 0) {
		if ((attrs = cJSON_AddObjectToObject(o, "MessageAttributes")) == NULL)
			goto out;
		cJSON_ArrayForEach(v, a) {
			attribute_value(v, &type, num, sizeof(num));
			if ((one = cJSON_AddObjectToObject(attrs, v->string)) == NULL ||
			    cJSON_AddStringToObject(one, "DataType", type) == NULL)
				goto out;
			if (cJSON_IsNumber(v) ? cJSON_AddStringToObject(one,
			    "StringValue", num) == NULL : (rc = add_templated(one,
			    "StringValue", v->valuestring, ctx)) != TF_OK) {
				rc = TF_ERR_NOMEM;
				goto out;
			}
		}
	}
	if (t->fifo || cJSON_GetObjectItemCaseSensitive(t->params,
	    "message_group_id") != NULL) {
		if ((rc = fifo_ids(t, ctx, &group, &out->name)) != TF_OK)
			goto out;
		rc = TF_ERR_NOMEM;
		if (cJSON_AddStringToObject(o, "MessageGroupId", group) == NULL ||
		    (t->fifo && cJSON_AddStringToObject(o, "MessageDeduplicationId",
		    out->name) == NULL))
			goto out;
	}
	rc = TF_OK;
out:
	tf_free(group);
	tf_free(text);
	return rc;
}

/* Appends "&key=value" to b, value percent-encoded (RFC 3986). */
static enum tf_err
form_add(struct tf_buf *b, const char *key, const char *value)
{
	const unsigned char *p;
	enum tf_err rc;

	rc = tf_buf_appendf(b, "%s%s=", b->len > 0 ? "&" : "", key);
	for (p = (const unsigned char *)value; rc == TF_OK && *p != '\0'; p++)
		rc = isalnum(*p) || strchr("-_.~", *p) != NULL ?
		    tf_buf_append_char(b, (char)*p) : tf_buf_appendf(b, "%%%02X", *p);
	return rc;
}

static enum tf_err
build_sns(const struct tf_target *t, const struct tf_template_ctx *ctx,
    struct tf_target_req *out)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(t->params, "attributes");
	const cJSON *subj = cJSON_GetObjectItemCaseSensitive(t->params, "subject");
	const cJSON *v;
	struct tf_buf b = TF_BUF_INIT;
	const char *type;
	char *text = NULL, *group = NULL, *filled = NULL, key[96], num[32];
	int i = 0;
	enum tf_err rc;

	out->operation = "Publish";
	if ((rc = payload_text(t->payload, "", ctx, &text)) != TF_OK)
		goto out;
	if ((rc = form_add(&b, "Action", "Publish")) != TF_OK ||
	    (rc = form_add(&b, "Version", "2010-03-31")) != TF_OK ||
	    (rc = form_add(&b, "TopicArn", t->resource)) != TF_OK ||
	    (rc = form_add(&b, "Message", text)) != TF_OK)
		goto out;
	if (subj != NULL && ((rc = tf_template_string(subj->valuestring, ctx,
	    &filled)) != TF_OK || (rc = form_add(&b, "Subject", filled)) != TF_OK))
		goto out;
	cJSON_ArrayForEach(v, a) {
		i++;
		attribute_value(v, &type, num, sizeof(num));
		tf_free(filled);
		filled = NULL;
		if (cJSON_IsString(v) && (rc = tf_template_string(v->valuestring,
		    ctx, &filled)) != TF_OK)
			goto out;
		snprintf(key, sizeof(key), "MessageAttributes.entry.%d.Name", i);
		if ((rc = form_add(&b, key, v->string)) != TF_OK)
			goto out;
		snprintf(key, sizeof(key), "MessageAttributes.entry.%d.Value.DataType", i);
		if ((rc = form_add(&b, key, type)) != TF_OK)
			goto out;
		snprintf(key, sizeof(key), "MessageAttributes.entry.%d.Value.StringValue", i);
		if ((rc = form_add(&b, key, filled != NULL ? filled : num)) != TF_OK)
			goto out;
	}
	if (t->fifo) {
		if ((rc = fifo_ids(t, ctx, &group, &out->name)) != TF_OK ||
		    (rc = form_add(&b, "MessageGroupId", group)) != TF_OK ||
		    (rc = form_add(&b, "MessageDeduplicationId", out->name)) != TF_OK)
			goto out;
	}
	out->body = tf_buf_steal(&b);
	rc = out->body != NULL ? TF_OK : TF_ERR_NOMEM;
out:
	tf_buf_free(&b);
	tf_free(filled);
	tf_free(group);
	tf_free(text);
	return rc;
}

/* Appends s percent-encoded (everything but RFC 3986's unreserved). */
static enum tf_err
path_add(struct tf_buf *b, const char *s)
{
	enum tf_err rc = TF_OK;

	for (; rc == TF_OK && *s != '\0'; s++)
		rc = isalnum((unsigned char)*s) || strchr("-_.~", *s) != NULL ?
		    tf_buf_append_char(b, *s) : tf_buf_appendf(b, "%%%02X",
		    (unsigned char)*s);
	return rc;
}

static enum tf_err
build_lambda(const struct tf_target *t, const struct tf_template_ctx *ctx,
    struct tf_target_req *out)
{
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(t->params, "qualifier");
	struct tf_buf b = TF_BUF_INIT;
	enum tf_err rc;

	out->operation = "Invoke";
	if ((rc = payload_text(t->payload, "{}", ctx, &out->body)) != TF_OK)
		return rc;
	if ((rc = tf_buf_append_str(&b, "/2015-03-31/functions/")) != TF_OK ||
	    (rc = path_add(&b, t->resource)) != TF_OK ||
	    (rc = tf_buf_append_str(&b, "/invocations")) != TF_OK ||
	    (out->path = tf_buf_steal(&b)) == NULL)
		goto out;
	if (q != NULL && ((rc = tf_buf_append_str(&b, "Qualifier=")) != TF_OK ||
	    (rc = path_add(&b, q->valuestring)) != TF_OK ||
	    (out->query = tf_buf_steal(&b)) == NULL))
		goto out;
	rc = TF_OK;
out:
	tf_buf_free(&b);
	return rc != TF_OK ? rc : out->path == NULL ||
	    (q != NULL && out->query == NULL) ? TF_ERR_NOMEM : TF_OK;
}

static enum tf_err
build_events(const struct tf_target *t, const struct tf_template_ctx *ctx,
    cJSON *o, struct tf_target_req *out)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(t->params, "resources");
	cJSON *entries, *e, *copy;
	char *detail = NULL;
	enum tf_err rc;

	out->operation = "PutEvents";
	if ((rc = payload_text(t->payload, "{}", ctx, &detail)) != TF_OK)
		return rc;
	rc = TF_ERR_NOMEM;
	if ((entries = cJSON_AddArrayToObject(o, "Entries")) == NULL ||
	    (e = cJSON_CreateObject()) == NULL)
		goto out;
	cJSON_AddItemToArray(entries, e);
	if (add_templated(e, "Source", cJSON_GetObjectItemCaseSensitive(t->params,
	    "source")->valuestring, ctx) != TF_OK ||
	    add_templated(e, "DetailType", cJSON_GetObjectItemCaseSensitive(
	    t->params, "detail_type")->valuestring, ctx) != TF_OK ||
	    cJSON_AddStringToObject(e, "Detail", detail) == NULL ||
	    (t->resource != NULL && cJSON_AddStringToObject(e, "EventBusName",
	    t->resource) == NULL))
		goto out;
	if (r != NULL) {
		if ((copy = cJSON_Duplicate(r, 1)) == NULL)
			goto out;
		cJSON_AddItemToObject(e, "Resources", copy);
	}
	rc = TF_OK;
out:
	tf_free(detail);
	return rc;
}

static enum tf_err
build_sfn(const struct tf_target *t, const struct tf_template_ctx *ctx,
    cJSON *o, struct tf_target_req *out)
{
	char name[NAME_MAX + 1];
	enum tf_err rc;

	out->operation = "StartExecution";
	if ((rc = payload_text(t->payload, "{}", ctx, &out->input)) != TF_OK)
		return rc;
	tf_target_iteration_id(ctx->task_id, ctx->iteration, NAME_CHARS, NAME_MAX,
	    name);
	if ((out->name = tf_strdup(name)) == NULL ||
	    cJSON_AddStringToObject(o, "stateMachineArn", t->resource) == NULL ||
	    cJSON_AddStringToObject(o, "name", name) == NULL ||
	    cJSON_AddStringToObject(o, "input", out->input) == NULL)
		return TF_ERR_NOMEM;
	return TF_OK;
}

enum tf_err
tf_target_build(const struct tf_target *t, const struct tf_template_ctx *ctx,
    const char *queue_url, struct tf_target_req *out)
{
	cJSON *o = NULL;
	char *text;
	enum tf_err rc;

	memset(out, 0, sizeof(*out));
	if (t->kind == TF_TARGET_SNS)
		return build_sns(t, ctx, out);
	if (t->kind == TF_TARGET_LAMBDA)
		return build_lambda(t, ctx, out);
	if ((o = cJSON_CreateObject()) == NULL)
		return TF_ERR_NOMEM;
	switch (t->kind) {
	case TF_TARGET_SQS:
		rc = build_sqs(t, ctx, queue_url != NULL ? queue_url : t->resource,
		    o, out);
		break;
	case TF_TARGET_EVENTBRIDGE:
		rc = build_events(t, ctx, o, out);
		break;
	default:
		rc = build_sfn(t, ctx, o, out);
		break;
	}
	if (rc == TF_OK) {
		text = cJSON_PrintUnformatted(o);
		out->body = text != NULL ? tf_strdup(text) : NULL;
		cJSON_free(text);
		rc = out->body != NULL ? TF_OK : TF_ERR_NOMEM;
	}
	cJSON_Delete(o);
	if (rc == TF_OK && strlen(out->body) > TF_TARGET_PAYLOAD_MAX + 64 * 1024)
		rc = TF_ERR_TOO_LARGE;
	return rc;
}
