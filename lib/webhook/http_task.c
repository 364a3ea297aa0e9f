/*
 * http_task.c - parsing and checking the `http` runner's params.
 *
 * Every check names the field in its message and quotes what was given, so
 * a user reading a FAILED task or a refused `taskfleet http` sees what to
 * fix. The URL goes through libcurl's own parser (the one that will fetch
 * it), so what passes here is what the runner can send.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "aws/marshal.h"
#include "base/alloc.h"
#include "webhook/http_task.h"

static const char *const methods[] = {
	"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
};

static const char *const reserved_headers[] = {
	"host", "content-length", "transfer-encoding", "connection", "expect",
	"te", "upgrade", "keep-alive", "proxy-connection", "trailer",
};

static const char *const default_result_headers[] = {
	TF_HTTP_DEFAULT_RESULT_HEADERS
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

bool
tf_http_header_name_valid(const char *name)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (i >= 256 || ch >= 0x80 ||
		    (!isalnum(ch) && strchr(extra, ch) == NULL))
			return false;
	}
	return i > 0;
}

bool
tf_http_header_value_valid(const char *value)
{
	size_t n = strcspn(value, "\r\n");

	return value[n] == '\0' && n <= TF_HTTP_HEADER_LINE_MAX;
}

bool
tf_http_header_reserved(const char *name)
{
	size_t i;

	if (strncasecmp(name, "taskfleet-", 10) == 0)
		return true;
	for (i = 0; i < NELEM(reserved_headers); i++)
		if (strcasecmp(name, reserved_headers[i]) == 0)
			return true;
	return false;
}

bool
tf_http_task_is_success(const struct tf_http_task *t, long status)
{
	return status >= 0 && status < TF_HTTP_STATUS_END &&
	    (t->success[status / 8] >> (status % 8) & 1) != 0;
}

/* Makes statuses lo..hi (within 0..TF_HTTP_STATUS_END - 1) success for t. */
static void
set_success(struct tf_http_task *t, long lo, long hi)
{
	long s;

	for (s = lo; s <= hi; s++)
		t->success[s / 8] |= (unsigned char)(1u << (s % 8));
}

void
tf_http_task_free(struct tf_http_task *t)
{
	size_t i;

	tf_free(t->url);
	for (i = 0; i < t->n_headers; i++) {
		tf_free(t->headers[i].name);
		tf_free(t->headers[i].value);
	}
	tf_free(t->headers);
	tf_free(t->body);
	for (i = 0; i < t->n_result_headers; i++)
		tf_free(t->result_headers[i]);
	tf_free(t->result_headers);
	memset(t, 0, sizeof(*t));
}

/* Quotes a string for a message: at most 64 characters, odd bytes as '?'. */
static const char *
quote(const char *s, char *buf, size_t len)
{
	tf_err_quote(buf, len, s, strlen(s), 64);
	return buf;
}

static const char *
json_kind(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "an array";
	return "an object";
}

static enum tf_err
parse_method(const cJSON *v, struct tf_http_task *t, char *errbuf, size_t errlen)
{
	char q[80];
	size_t i, j;

	if (v == NULL) {
		strcpy(t->method, "GET");
		return TF_OK;
	}
	if (!cJSON_IsString(v)) {
		tf_errf(errbuf, errlen, "params.method: must be a string, got %s",
		    json_kind(v));
		return TF_ERR_INVALID;
	}
	for (i = 0; i < NELEM(methods); i++) {
		if (strcasecmp(v->valuestring, methods[i]) == 0) {
			for (j = 0; methods[i][j] != '\0'; j++)
				t->method[j] = methods[i][j];
			t->method[j] = '\0';
			return TF_OK;
		}
	}
	tf_errf(errbuf, errlen, "params.method: \"%s\" is not one of GET, POST, "
	    "PUT, PATCH, DELETE, HEAD", quote(v->valuestring, q, sizeof(q)));
	return TF_ERR_INVALID;
}

bool
tf_http_url_has_userinfo(const char *url)
{
	CURLU *u = curl_url();
	char *user = NULL, *password = NULL;
	bool has;

	if (u == NULL)
		return true;
	has = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ==
	    CURLUE_OK && (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK);
	curl_free(user);
	curl_free(password);
	curl_url_cleanup(u);
	return has;
}

/* Checks the URL with libcurl's parser: http or https, a host, no user
 * information, no spaces or control characters. */
static enum tf_err
parse_url(const cJSON *v, struct tf_http_task *t, char *errbuf, size_t errlen)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL;
	char q[80];
	const char *s;
	size_t i, n;
	enum tf_err rc = TF_ERR_INVALID;

	if (v == NULL) {
		tf_errf(errbuf, errlen, "params.url: required");
		return TF_ERR_INVALID;
	}
	if (!cJSON_IsString(v)) {
		tf_errf(errbuf, errlen, "params.url: must be a string, got %s",
		    json_kind(v));
		return TF_ERR_INVALID;
	}
	s = v->valuestring;
	n = strlen(s);
	if (n == 0) {
		tf_errf(errbuf, errlen, "params.url: empty");
		return TF_ERR_INVALID;
	}
	if (n > TF_HTTP_URL_MAX) {
		tf_errf(errbuf, errlen, "params.url: too long (%zu bytes; at most %d)",
		    n, TF_HTTP_URL_MAX);
		return TF_ERR_INVALID;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch == 0x7f) {
			tf_errf(errbuf, errlen, "params.url: \"%s\" holds a space or a "
			    "control character (percent-encode it)", quote(s, q,
			    sizeof(q)));
			return TF_ERR_INVALID;
		}
	}
	u = curl_url();
	if (u == NULL)
		return TF_ERR_NOMEM;
	if (curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		tf_errf(errbuf, errlen, "params.url: \"%s\" is not a URL (expected "
		    "http://host/... or https://host/...)", quote(s, q, sizeof(q)));
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		tf_errf(errbuf, errlen, "params.url: scheme \"%s\" is not http or "
		    "https", quote(scheme, q, sizeof(q)));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0') {
		tf_errf(errbuf, errlen, "params.url: \"%s\" has no host",
		    quote(s, q, sizeof(q)));
		goto out;
	}
	if (tf_http_url_has_userinfo(s)) {
		/* Not quoted: it holds a credential. */
		tf_errf(errbuf, errlen, "params.url: holds a user name or password; "
		    "put credentials in an Authorization header instead");
		goto out;
	}
	t->url = tf_strdup(s);
	rc = t->url == NULL ? TF_ERR_NOMEM : TF_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static enum tf_err
parse_headers(const cJSON *v, struct tf_http_task *t, char *errbuf,
    size_t errlen)
{
	const cJSON *h;
	char q[80];
	size_t n = 0, i;

	if (v == NULL)
		return TF_OK;
	if (!cJSON_IsObject(v)) {
		tf_errf(errbuf, errlen, "params.headers: must be an object of "
		    "name: value, got %s", json_kind(v));
		return TF_ERR_INVALID;
	}
	cJSON_ArrayForEach(h, v)
		n++;
	if (n > TF_HTTP_HEADERS_MAX) {
		tf_errf(errbuf, errlen, "params.headers: %zu headers; at most %d", n,
		    TF_HTTP_HEADERS_MAX);
		return TF_ERR_INVALID;
	}
	if (n == 0)
		return TF_OK;
	t->headers = tf_calloc(n, sizeof(*t->headers));
	if (t->headers == NULL)
		return TF_ERR_NOMEM;
	cJSON_ArrayForEach(h, v) {
		const char *name = h->string;

		if (!tf_http_header_name_valid(name)) {
			tf_errf(errbuf, errlen, "params.headers: \"%s\" is not a header "
			    "name (letters, digits and !#$%%&'*+-.^_`|~)",
			    quote(name, q, sizeof(q)));
			return TF_ERR_INVALID;
		}
		if (tf_http_header_reserved(name)) {
			tf_errf(errbuf, errlen, "params.headers: %s is set by the runner "
			    "and cannot be given", name);
			return TF_ERR_INVALID;
		}
		for (i = 0; i < t->n_headers; i++) {
			if (strcasecmp(t->headers[i].name, name) == 0) {
				tf_errf(errbuf, errlen, "params.headers: %s is given twice",
				    name);
				return TF_ERR_INVALID;
			}
		}
		if (!cJSON_IsString(h)) {
			tf_errf(errbuf, errlen, "params.headers.%s: must be a string, "
			    "got %s", name, json_kind(h));
			return TF_ERR_INVALID;
		}
		if (!tf_http_header_value_valid(h->valuestring)) {
			tf_errf(errbuf, errlen, "params.headers.%s: the value holds a CR "
			    "or LF (header injection) or is longer than %d bytes", name,
			    TF_HTTP_HEADER_LINE_MAX);
			return TF_ERR_INVALID;
		}
		if (strcasecmp(name, "content-type") == 0)
			t->has_content_type = true;
		t->headers[t->n_headers].name = tf_strdup(name);
		t->headers[t->n_headers].value = tf_strdup(h->valuestring);
		t->n_headers++;
		if (t->headers[t->n_headers - 1].name == NULL ||
		    t->headers[t->n_headers - 1].value == NULL)
			return TF_ERR_NOMEM;
	}
	return TF_OK;
}

/* The JSON text of params.body with every number exactly as written (an
 * amount of 12345678901234567890 must not arrive rounded), from the
 * marshalled params, which keep numbers as text. *out: caller frees with
 * tf_free(). */
static enum tf_err
exact_body_text(const cJSON *item, char **out)
{
	const cJSON *av = cJSON_GetObjectItemCaseSensitive(item, "body");

	*out = NULL;
	if (av == NULL)
		return TF_ERR_INVALID;
	return tf_unmarshal_value_to_json_text(av, out, NULL, 0);
}

static enum tf_err
parse_body(const cJSON *v, const cJSON *item, size_t max_body,
    struct tf_http_task *t, char *errbuf, size_t errlen)
{
	enum tf_err rc;

	if (v == NULL)
		return TF_OK;
	if (strcmp(t->method, "HEAD") == 0) {
		tf_errf(errbuf, errlen, "params.body: a HEAD request has no body");
		return TF_ERR_INVALID;
	}
	if (cJSON_IsString(v)) {
		t->body = tf_strdup(v->valuestring);
	} else {
		t->body_is_json = true;
		if ((rc = exact_body_text(item, &t->body)) != TF_OK)
			return rc;
	}
	if (t->body == NULL)
		return TF_ERR_NOMEM;
	t->body_len = strlen(t->body);
	if (t->body_len > max_body) {
		tf_errf(errbuf, errlen, "params.body: %zu bytes; at most %zu",
		    t->body_len, max_body);
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

/* Reads a whole number from min to max; -1 when v is no such number. */
static long
whole_number(const cJSON *v, long min, long max)
{
	double d;

	if (!cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	if (!(d >= (double)min && d <= (double)max) || d != (double)(long)d)
		return -1;
	return (long)d;
}

/* Marks one entry of `success`: 204, "2xx" or "200-204". */
static enum tf_err
parse_success_entry(const cJSON *e, struct tf_http_task *t, char *errbuf,
    size_t errlen)
{
	char q[80], *end;
	long lo, hi;

	if (cJSON_IsNumber(e)) {
		lo = hi = whole_number(e, 100, 599);
		if (lo < 0) {
			tf_errf(errbuf, errlen, "params.success: %g is not a status "
			    "from 100 to 599", e->valuedouble);
			return TF_ERR_INVALID;
		}
	} else if (cJSON_IsString(e)) {
		const char *s0 = e->valuestring;

		if (strlen(s0) == 3 && s0[0] >= '1' && s0[0] <= '5' &&
		    (s0[1] == 'x' || s0[1] == 'X') && (s0[2] == 'x' || s0[2] == 'X')) {
			lo = (s0[0] - '0') * 100;
			hi = lo + 99;
		} else {
			lo = strtol(s0, &end, 10);
			hi = lo;
			if (end != s0 && *end == '-' && isdigit((unsigned char)end[1]))
				hi = strtol(end + 1, &end, 10);
			if (!isdigit((unsigned char)s0[0]) || *end != '\0' ||
			    lo < 100 || hi > 599 || lo > hi) {
				tf_errf(errbuf, errlen, "params.success: \"%s\" is not a "
				    "status, a class like \"2xx\" or a range like "
				    "\"200-204\" within 100 to 599", quote(s0, q, sizeof(q)));
				return TF_ERR_INVALID;
			}
		}
	} else {
		tf_errf(errbuf, errlen, "params.success: entries must be statuses "
		    "(numbers) or strings like \"2xx\", got %s", json_kind(e));
		return TF_ERR_INVALID;
	}
	set_success(t, lo, hi);
	return TF_OK;
}

static enum tf_err
parse_success(const cJSON *v, struct tf_http_task *t, char *errbuf,
    size_t errlen)
{
	const cJSON *e;
	enum tf_err rc;

	if (v == NULL) {
		set_success(t, 200, 299);
		return TF_OK;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
		tf_errf(errbuf, errlen, "params.success: must be a non-empty array "
		    "such as [\"2xx\", 404], got %s", cJSON_IsArray(v) ? "[]" :
		    json_kind(v));
		return TF_ERR_INVALID;
	}
	cJSON_ArrayForEach(e, v) {
		if ((rc = parse_success_entry(e, t, errbuf, errlen)) != TF_OK)
			return rc;
	}
	return TF_OK;
}

/* Copies a header name for result_headers, lower case. */
static enum tf_err
add_result_header(struct tf_http_task *t, const char *name)
{
	char *copy = tf_strdup(name), *p;

	if (copy == NULL)
		return TF_ERR_NOMEM;
	for (p = copy; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	t->result_headers[t->n_result_headers++] = copy;
	return TF_OK;
}

static enum tf_err
parse_result_headers(const cJSON *v, struct tf_http_task *t, char *errbuf,
    size_t errlen)
{
	const cJSON *e;
	char q[80];
	size_t i, n;
	enum tf_err rc;

	if (v != NULL && (!cJSON_IsArray(v) ||
	    cJSON_GetArraySize(v) > TF_HTTP_RESULT_HEADERS_MAX)) {
		tf_errf(errbuf, errlen, "params.result_headers: must be an array of "
		    "at most %d header names", TF_HTTP_RESULT_HEADERS_MAX);
		return TF_ERR_INVALID;
	}
	n = v != NULL ? (size_t)cJSON_GetArraySize(v) : NELEM(default_result_headers);
	if (n == 0)
		return TF_OK;
	t->result_headers = tf_calloc(n, sizeof(*t->result_headers));
	if (t->result_headers == NULL)
		return TF_ERR_NOMEM;
	if (v == NULL) {
		for (i = 0; i < n; i++)
			if ((rc = add_result_header(t, default_result_headers[i])) != TF_OK)
				return rc;
		return TF_OK;
	}
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e) || !tf_http_header_name_valid(e->valuestring)) {
			tf_errf(errbuf, errlen, "params.result_headers: %s%s%s is not a "
			    "header name", cJSON_IsString(e) ? "\"" : "",
			    cJSON_IsString(e) ? quote(e->valuestring, q, sizeof(q)) :
			    json_kind(e), cJSON_IsString(e) ? "\"" : "");
			return TF_ERR_INVALID;
		}
		if ((rc = add_result_header(t, e->valuestring)) != TF_OK)
			return rc;
	}
	return TF_OK;
}

static enum tf_err
parse_fields(const cJSON *root, const cJSON *item, size_t max_body,
    struct tf_http_task *t, char *errbuf, size_t errlen)
{
	static const char *const known[] = {
		"url", "method", "headers", "body", "timeout_ms", "success",
		"follow_redirects", "max_redirects", "result_headers",
	};
	const cJSON *f, *v;
	char q[80];
	size_t i;
	enum tf_err rc;

	cJSON_ArrayForEach(f, root) {
		for (i = 0; i < NELEM(known); i++)
			if (strcmp(f->string, known[i]) == 0)
				break;
		if (i == NELEM(known)) {
			tf_errf(errbuf, errlen, "params.%s: unknown field (known: url, "
			    "method, headers, body, timeout_ms, success, "
			    "follow_redirects, max_redirects, result_headers)",
			    quote(f->string, q, sizeof(q)));
			return TF_ERR_INVALID;
		}
	}
	if ((rc = parse_url(cJSON_GetObjectItemCaseSensitive(root, "url"), t,
	    errbuf, errlen)) != TF_OK ||
	    (rc = parse_method(cJSON_GetObjectItemCaseSensitive(root, "method"), t,
	    errbuf, errlen)) != TF_OK ||
	    (rc = parse_headers(cJSON_GetObjectItemCaseSensitive(root, "headers"),
	    t, errbuf, errlen)) != TF_OK ||
	    (rc = parse_body(cJSON_GetObjectItemCaseSensitive(root, "body"),
	    item, max_body, t, errbuf, errlen)) != TF_OK ||
	    (rc = parse_success(cJSON_GetObjectItemCaseSensitive(root, "success"),
	    t, errbuf, errlen)) != TF_OK ||
	    (rc = parse_result_headers(cJSON_GetObjectItemCaseSensitive(root,
	    "result_headers"), t, errbuf, errlen)) != TF_OK)
		return rc;

	t->timeout_ms = TF_HTTP_TIMEOUT_DEFAULT;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "timeout_ms")) != NULL &&
	    (t->timeout_ms = whole_number(v, 1, TF_HTTP_TIMEOUT_MAX)) < 0) {
		tf_errf(errbuf, errlen, "params.timeout_ms: must be a whole number "
		    "of milliseconds from 1 to %d", TF_HTTP_TIMEOUT_MAX);
		return TF_ERR_INVALID;
	}
	t->timeout_given = v != NULL;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "follow_redirects")) != NULL) {
		if (!cJSON_IsBool(v)) {
			tf_errf(errbuf, errlen, "params.follow_redirects: must be true or "
			    "false, got %s", json_kind(v));
			return TF_ERR_INVALID;
		}
		t->follow_redirects = cJSON_IsTrue(v);
	}
	t->max_redirects = TF_HTTP_REDIRECTS_DEFAULT;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "max_redirects")) != NULL &&
	    (t->max_redirects = (int)whole_number(v, 0, TF_HTTP_REDIRECTS_MAX)) < 0) {
		tf_errf(errbuf, errlen, "params.max_redirects: must be a whole number "
		    "from 0 to %d", TF_HTTP_REDIRECTS_MAX);
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

enum tf_err
tf_http_task_parse(const char *params, size_t len, size_t max_body,
    struct tf_http_task *out, char *errbuf, size_t errlen)
{
	cJSON *root = NULL, *item = NULL;
	char msg[256];
	enum tf_err rc;

	memset(out, 0, sizeof(*out));
	if (max_body == 0)
		max_body = TF_HTTP_REQUEST_MAX_DEFAULT;
	/* The strict parser first: it refuses what cJSON would let through
	 * (trailing text, duplicate keys, \u0000 that would cut a string short,
	 * numbers DynamoDB cannot hold), tells out of memory from bad input,
	 * and keeps numbers exact for the body. */
	rc = tf_marshal_json_text(params, len, &item, msg, sizeof(msg));
	if (rc == TF_OK) {
		root = cJSON_ParseWithLength(params, len);
		rc = root == NULL ? TF_ERR_NOMEM : parse_fields(root, item, max_body,
		    out, errbuf, errlen);
	} else if (rc != TF_ERR_NOMEM) {
		/* "top level: not a JSON object" -> "params: not a JSON object";
		 * "headers.X-A: duplicate key" -> "params.headers.X-A: ..." */
		if (strncmp(msg, "top level: ", 11) == 0)
			tf_errf(errbuf, errlen, "params: %s", msg + 11);
		else
			tf_errf(errbuf, errlen, "params.%s", msg);
		rc = TF_ERR_INVALID;
	}
	if (rc == TF_ERR_NOMEM)
		tf_errf(errbuf, errlen, "params: out of memory");
	if (rc != TF_OK)
		tf_http_task_free(out);
	cJSON_Delete(root);
	cJSON_Delete(item);
	return rc;
}
