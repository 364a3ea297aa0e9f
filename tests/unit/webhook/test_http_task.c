/* test_http_task.c - the `http` runner's params (lib/webhook/http_task.c).
 *
 * Table-driven: good params with every parsed field checked, bad params with
 * the exact message (or at least its "params.<field>" prefix), the header
 * helpers, the success table's boundaries, and an allocation-failure walk
 * over rich params. */
#include "harness.h"

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "webhook/http_task.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The default result_headers, written out here rather than taken from the
 * header's macro, so the macro is checked too. */
#define RH_DEFAULT { "content-type", "content-length", "location", \
	"retry-after", "etag", "x-request-id", NULL }

/* The messages of a few checks, spelled once. */
#define MSG_METHOD_NOT_ONE " is not one of GET, POST, PUT, PATCH, DELETE, HEAD"
#define MSG_NOT_URL " is not a URL (expected http://host/... or " \
	"https://host/...)"
#define MSG_HEADER_NAME " is not a header name (letters, digits and " \
	"!#$%&'*+-.^_`|~)"
#define MSG_HEADER_VALUE ": the value holds a CR or LF (header injection) " \
	"or is longer than 8192 bytes"
#define MSG_SUCCESS_ARRAY "params.success: must be a non-empty array such " \
	"as [\"2xx\", 404], got "
#define MSG_SUCCESS_TEXT " is not a status, a class like \"2xx\" or a range " \
	"like \"200-204\" within 100 to 599"
#define MSG_TIMEOUT "params.timeout_ms: must be a whole number of " \
	"milliseconds from 1 to 900000"
#define MSG_REDIRECTS "params.max_redirects: must be a whole number from 0 " \
	"to 20"
#define MSG_RESULT_HEADERS "params.result_headers: must be an array of at " \
	"most 32 header names"
#define MSG_UNKNOWN ": unknown field (known: url, method, headers, body, " \
	"timeout_ms, success, follow_redirects, max_redirects, result_headers)"

/* True when every byte of t is zero: what tf_http_task_free() and a failed
 * parse leave. */
static bool
task_is_empty(const struct tf_http_task *t)
{
	static const struct tf_http_task zero;

	return memcmp(t, &zero, sizeof(zero)) == 0;
}

/* Parses a C string with the default body cap. */
static enum tf_err
parse(const char *params, struct tf_http_task *t, char *err, size_t errlen)
{
	return tf_http_task_parse(params, strlen(params), 0, t, err, errlen);
}

/* Fills want[0..599] from a spec such as "404,500-599": the statuses that
 * must count as success. */
static void
success_spec(const char *spec, unsigned char *want)
{
	const char *p = spec;
	char *end;
	long lo, hi, s;

	memset(want, 0, 600);
	while (*p != '\0') {
		lo = strtol(p, &end, 10);
		hi = lo;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (s = lo; s <= hi; s++)
			want[s] = 1;
		p = *end == ',' ? end + 1 : end;
	}
}

/* A test name of prefix and text, cut, with anything not printable as '?'. */
static void
test_name(char *out, size_t len, const char *prefix, const char *text)
{
	size_t i;

	snprintf(out, len, "%s%.100s", prefix, text);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
			out[i] = '?';
}

/* ---- Good params ------------------------------------------------------ */

struct good_case {
	const char *params;
	size_t max_body;              /* 0: the default */
	const char *method;
	const char *url;
	const char *headers[11];      /* name, value, ...; NULL-terminated */
	bool has_content_type;
	const char *body;             /* NULL: no body */
	bool body_is_json;
	long timeout_ms;
	const char *success;          /* statuses, as for success_spec() */
	bool follow_redirects;
	int max_redirects;
	const char *result_headers[9];  /* NULL-terminated */
};

static const struct good_case good_cases[] = {
	/* Only the URL: every default. */
	{ .params = "{\"url\":\"https://hooks.example.com/x\"}",
	  .method = "GET", .url = "https://hooks.example.com/x",
	  .headers = { NULL }, .timeout_ms = 10000, .success = "200-299",
	  .max_redirects = 5, .result_headers = RH_DEFAULT },
	/* Method in lower and mixed case comes out upper case. */
	{ .params = "{\"url\":\"http://a/\",\"method\":\"post\"}",
	  .method = "POST", .url = "http://a/", .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"method\":\"pAtCh\"}",
	  .method = "PATCH", .url = "http://a/", .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"method\":\"GET\"}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"method\":\"Put\"}",
	  .method = "PUT", .url = "http://a/", .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"method\":\"delete\"}",
	  .method = "DELETE", .url = "http://a/", .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"method\":\"head\"}",
	  .method = "HEAD", .url = "http://a/", .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	/* Headers copied in order with their case; Content-Type noticed in
	 * any case; a string body. */
	{ .params = "{\"url\":\"https://h.example/p?q=1#f\",\"method\":\"POST\","
	    "\"headers\":{\"X-B\":\"1\",\"a-Header\":\"two words\","
	    "\"content-TYPE\":\"text/csv\",\"Empty\":\"\","
	    "\"!#$%&'*+-.^_`|~09azAZ\":\"tab\\there\"},"
	    "\"body\":\"a,b\\n1,2\\n\"}",
	  .method = "POST", .url = "https://h.example/p?q=1#f",
	  .headers = { "X-B", "1", "a-Header", "two words", "content-TYPE",
	    "text/csv", "Empty", "", "!#$%&'*+-.^_`|~09azAZ", "tab\there",
	    NULL },
	  .has_content_type = true, .body = "a,b\n1,2\n", .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	/* An empty string body is a body of 0 bytes. */
	{ .params = "{\"url\":\"http://a/\",\"method\":\"PUT\",\"body\":\"\"}",
	  .method = "PUT", .url = "http://a/", .body = "", .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	/* A JSON body keeps its numbers exactly as written, and its order. */
	{ .params = "{\"url\":\"http://a/\",\"method\":\"POST\","
	    "\"body\":{\"a\":12345678901234567890}}",
	  .method = "POST", .url = "http://a/",
	  .body = "{\"a\":12345678901234567890}", .body_is_json = true,
	  .timeout_ms = 10000, .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"body\" : { \"z\" : [ 1.50, -0, 1E+3, \"s\\u00e9\" ],"
	    " \"a\" : { \"n\" : null, \"t\" : true } },\"url\":\"http://a/\","
	    "\"method\":\"post\"}",
	  .method = "POST", .url = "http://a/",
	  .body = "{\"z\":[1.50,-0,1E+3,\"s\xc3\xa9\"],\"a\":{\"n\":null,"
	    "\"t\":true}}", .body_is_json = true,
	  .timeout_ms = 10000, .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"method\":\"POST\","
	    "\"body\":12345678901234567890}",
	  .method = "POST", .url = "http://a/", .body = "12345678901234567890",
	  .body_is_json = true, .timeout_ms = 10000, .success = "200-299",
	  .max_redirects = 5, .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"method\":\"POST\",\"body\":[]}",
	  .method = "POST", .url = "http://a/", .body = "[]",
	  .body_is_json = true, .timeout_ms = 10000, .success = "200-299",
	  .max_redirects = 5, .result_headers = RH_DEFAULT },
	/* A GET may carry a body too. */
	{ .params = "{\"url\":\"http://a/\",\"body\":true}",
	  .method = "GET", .url = "http://a/", .body = "true",
	  .body_is_json = true, .timeout_ms = 10000, .success = "200-299",
	  .max_redirects = 5, .result_headers = RH_DEFAULT },
	/* A body of exactly max_body bytes passes, string and JSON. */
	{ .params = "{\"url\":\"http://a/\",\"body\":\"0123456789\"}",
	  .max_body = 10, .method = "GET", .url = "http://a/",
	  .body = "0123456789", .timeout_ms = 10000, .success = "200-299",
	  .max_redirects = 5, .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"body\":{\"a\":123456}}",
	  .max_body = 12, .method = "GET", .url = "http://a/",
	  .body = "{\"a\":123456}", .body_is_json = true, .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	/* success: a status, a class, a range; exactly those statuses. */
	{ .params = "{\"url\":\"http://a/\",\"success\":[404]}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 10000,
	  .success = "404", .max_redirects = 5, .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"success\":[\"5xx\"]}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 10000,
	  .success = "500-599", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"success\":[\"200-204\"]}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 10000,
	  .success = "200-204", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"success\":[404,\"5xx\","
	    "\"200-204\",\"1XX\",302,302]}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 10000,
	  .success = "100-199,200-204,302,404,500-599", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"success\":[100,599,\"301\","
	    "\"303-303\",2e2]}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 10000,
	  .success = "100,200,301,303,599", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"success\":[\"100-599\"]}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 10000,
	  .success = "100-599", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	/* timeout_ms, follow_redirects and max_redirects at their edges. */
	{ .params = "{\"url\":\"http://a/\",\"timeout_ms\":1,"
	    "\"follow_redirects\":true,\"max_redirects\":0}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 1,
	  .success = "200-299", .follow_redirects = true, .max_redirects = 0,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"timeout_ms\":900000,"
	    "\"follow_redirects\":false,\"max_redirects\":20}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 900000,
	  .success = "200-299", .max_redirects = 20,
	  .result_headers = RH_DEFAULT },
	{ .params = "{\"url\":\"http://a/\",\"timeout_ms\":2.5e3,"
	    "\"max_redirects\":3.0}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 2500,
	  .success = "200-299", .max_redirects = 3,
	  .result_headers = RH_DEFAULT },
	/* result_headers: lower-cased, in order; [] records none. */
	{ .params = "{\"url\":\"http://a/\",\"result_headers\":[\"X-Request-ID\","
	    "\"ETag\",\"retry-after\",\"WWW-Authenticate\"]}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = { "x-request-id", "etag", "retry-after",
	    "www-authenticate", NULL } },
	{ .params = "{\"url\":\"http://a/\",\"result_headers\":[]}",
	  .method = "GET", .url = "http://a/", .timeout_ms = 10000,
	  .success = "200-299", .max_redirects = 5,
	  .result_headers = { NULL } },
	/* URL forms libcurl accepts: upper-case scheme, IPv6 literal with a
	 * port, percent-encoding, raw UTF-8 in the path. */
	{ .params = "{\"url\":\"HTTPS://[::1]:8443/a%20b/\\u00e9?x=%2F\"}",
	  .method = "GET", .url = "HTTPS://[::1]:8443/a%20b/\xc3\xa9?x=%2F",
	  .timeout_ms = 10000, .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	/* Not reserved: names that only look like reserved ones. */
	{ .params = "{\"url\":\"http://a/\",\"headers\":{\"Taskfleet\":\"1\","
	    "\"Taskfleetx\":\"2\",\"Hosts\":\"3\",\"Authorization\":\"Bearer t\"}}",
	  .method = "GET", .url = "http://a/",
	  .headers = { "Taskfleet", "1", "Taskfleetx", "2", "Hosts", "3",
	    "Authorization", "Bearer t", NULL },
	  .timeout_ms = 10000, .success = "200-299", .max_redirects = 5,
	  .result_headers = RH_DEFAULT },
	/* Every field at once, in an unusual order, with blanks. */
	{ .params = " \n{ \"result_headers\" : [ \"Location\" ] ,"
	    " \"max_redirects\" : 7, \"follow_redirects\" : true,"
	    " \"success\" : [ \"2xx\", 409 ], \"timeout_ms\" : 30000,"
	    " \"body\" : { \"id\" : 18446744073709551617 },"
	    " \"headers\" : { \"Content-Type\" : \"application/cloudevents+json\" },"
	    " \"method\" : \"Post\", \"url\" : \"https://x.example/hook\" }\n",
	  .method = "POST", .url = "https://x.example/hook",
	  .headers = { "Content-Type", "application/cloudevents+json", NULL },
	  .has_content_type = true, .body = "{\"id\":18446744073709551617}",
	  .body_is_json = true, .timeout_ms = 30000, .success = "200-299,409",
	  .follow_redirects = true, .max_redirects = 7,
	  .result_headers = { "location", NULL } },
};

static void
check_good_case(const struct good_case *c)
{
	struct tf_http_task t;
	unsigned char want[600];
	char err[512] = "";
	size_t i, n;
	long s;
	enum tf_err rc;

	rc = tf_http_task_parse(c->params, strlen(c->params), c->max_body, &t,
	    err, sizeof(err));
	CHECK_MSG(rc == TF_OK, "rc %d: %s", (int)rc, err);
	CHECK_STR_EQ(t.method, c->method);
	CHECK_STR_EQ(t.url, c->url);
	for (n = 0; c->headers[n] != NULL; n += 2)
		;
	CHECK_INT_EQ(t.n_headers, n / 2);
	CHECK(n > 0 || t.headers == NULL);
	for (i = 0; i < t.n_headers; i++) {
		CHECK_STR_EQ(t.headers[i].name, c->headers[2 * i]);
		CHECK_STR_EQ(t.headers[i].value, c->headers[2 * i + 1]);
	}
	CHECK_INT_EQ(t.has_content_type, c->has_content_type);
	if (c->body == NULL) {
		CHECK(t.body == NULL);
		CHECK_INT_EQ(t.body_len, 0);
	} else {
		CHECK_STR_EQ(t.body, c->body);
		CHECK_INT_EQ(t.body_len, strlen(c->body));
	}
	CHECK_INT_EQ(t.body_is_json, c->body_is_json);
	CHECK_INT_EQ(t.timeout_ms, c->timeout_ms);
	success_spec(c->success, want);
	for (s = 0; s < 600; s++) {
		CHECK_MSG((t.success[s / 8] >> (s % 8) & 1) == (want[s] != 0),
		    "success bit %ld is %d", s, t.success[s / 8] >> (s % 8) & 1);
		CHECK_MSG(tf_http_task_is_success(&t, s) == (want[s] != 0),
		    "is_success(%ld)", s);
	}
	CHECK_INT_EQ(t.follow_redirects, c->follow_redirects);
	CHECK_INT_EQ(t.max_redirects, c->max_redirects);
	for (n = 0; c->result_headers[n] != NULL; n++)
		;
	CHECK_INT_EQ(t.n_result_headers, n);
	CHECK(n > 0 || t.result_headers == NULL);
	for (i = 0; i < n; i++)
		CHECK_STR_EQ(t.result_headers[i], c->result_headers[i]);
	tf_http_task_free(&t);
	CHECK(task_is_empty(&t));
}

/* ---- Bad params ------------------------------------------------------- */

struct bad_case {
	const char *params;
	size_t max_body;       /* 0: the default */
	const char *msg;       /* the whole message, or its start */
	bool prefix;           /* msg is only the start */
};

static const struct bad_case bad_cases[] = {
	/* Not a JSON object. */
	{ "", 0, "params: not a JSON object", false },
	{ "{", 0, "params: unexpected end of JSON text (byte 1)", false },
	{ "{\"url\":\"http://a/\",}", 0,
	  "params: expected a string key (byte 19)", false },
	{ "{'url':'http://a/'}", 0, "params: expected a string key (byte 1)",
	  false },
	{ "[]", 0, "params: not a JSON object", false },
	{ "[{\"url\":\"http://a/\"}]", 0, "params: not a JSON object", false },
	{ "\"http://a/\"", 0, "params: not a JSON object", false },
	{ "null", 0, "params: not a JSON object", false },
	{ "42", 0, "params: not a JSON object", false },
	/* url */
	{ "{}", 0, "params.url: required", false },
	{ "{\"method\":\"GET\"}", 0, "params.url: required", false },
	{ "{\"URL\":\"http://a/\"}", 0, "params.URL" MSG_UNKNOWN, false },
	{ "{\"url\":1}", 0, "params.url: must be a string, got a number", false },
	{ "{\"url\":null}", 0, "params.url: must be a string, got null", false },
	{ "{\"url\":[\"http://a/\"]}", 0,
	  "params.url: must be a string, got an array", false },
	{ "{\"url\":{}}", 0, "params.url: must be a string, got an object",
	  false },
	{ "{\"url\":true}", 0, "params.url: must be a string, got a boolean",
	  false },
	{ "{\"url\":\"\"}", 0, "params.url: empty", false },
	{ "{\"url\":\"http://a/b c\"}", 0, "params.url: \"http://a/b c\" holds "
	  "a space or a control character (percent-encode it)", false },
	{ "{\"url\":\" http://a/\"}", 0, "params.url: \" http://a/\" holds "
	  "a space or a control character (percent-encode it)", false },
	{ "{\"url\":\"http://a/\\t\"}", 0, "params.url: \"http://a/?\" holds "
	  "a space or a control character (percent-encode it)", false },
	{ "{\"url\":\"http://a/\\r\\nX: y\"}", 0, "params.url: \"http://a/??X: "
	  "y\" holds a space or a control character (percent-encode it)", false },
	{ "{\"url\":\"http://a/\\u007f\"}", 0, "params.url: \"http://a/?\" "
	  "holds a space or a control character (percent-encode it)", false },
	{ "{\"url\":\"ftp://a/\"}", 0,
	  "params.url: scheme \"ftp\" is not http or https", false },
	{ "{\"url\":\"file:///etc/passwd\"}", 0,
	  "params.url: scheme \"file\" is not http or https", false },
	{ "{\"url\":\"gopher://a/\"}", 0,
	  "params.url: scheme \"gopher\" is not http or https", false },
	{ "{\"url\":\"a.example/hook\"}", 0,
	  "params.url: \"a.example/hook\"" MSG_NOT_URL, false },
	{ "{\"url\":\"//a.example/hook\"}", 0,
	  "params.url: \"//a.example/hook\"" MSG_NOT_URL, false },
	{ "{\"url\":\"http://a:99999/\"}", 0,
	  "params.url: \"http://a:99999/\"" MSG_NOT_URL, false },
	{ "{\"url\":\"http://[::1/\"}", 0,
	  "params.url: \"http://[::1/\"" MSG_NOT_URL, false },
	/* No host: libcurl itself refuses these as URLs, so the "has no host"
	 * words are not reached; only the field and the code are certain. */
	/* \u0000 would cut a string short in C: refused wherever it is. */
	{ "{\"url\":\"http://x/a\\u0000b\"}", 0, "params.url: ", true },
	{ "{\"url\":\"http://x/\",\"body\":\"a\\u0000b\"}", 0, "params.body: ",
	  true },
	{ "{\"url\":\"http://x/\",\"headers\":{\"X-A\":\"v\\u0000\\r\\nI: 1\"}}", 0,
	  "params.headers.X-A: ", true },
	/* Trailing text after the object. */
	{ "{\"url\":\"http://x/\"} x", 0, "params: ", true },
	{ "{\"url\":\"http:///\"}", 0, "params.url: ", true },
	{ "{\"url\":\"http://:80/\"}", 0, "params.url: ", true },
	{ "{\"url\":\"http://?q\"}", 0, "params.url: ", true },
	{ "{\"url\":\"https://\"}", 0, "params.url: ", true },
	/* User information, even empty, is refused without quoting it. */
	{ "{\"url\":\"http://user:hunter2@a/\"}", 0, "params.url: holds a user "
	  "name or password; put credentials in an Authorization header "
	  "instead", false },
	{ "{\"url\":\"https://user@a/\"}", 0, "params.url: holds a user "
	  "name or password; put credentials in an Authorization header "
	  "instead", false },
	{ "{\"url\":\"https://:hunter2@a/\"}", 0, "params.url: holds a user "
	  "name or password; put credentials in an Authorization header "
	  "instead", false },
	{ "{\"url\":\"https://@a/\"}", 0, "params.url: holds a user "
	  "name or password; put credentials in an Authorization header "
	  "instead", false },
	/* method */
	{ "{\"url\":\"http://a/\",\"method\":\"FETCH\"}", 0,
	  "params.method: \"FETCH\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":\"\"}", 0,
	  "params.method: \"\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":\"OPTIONS\"}", 0,
	  "params.method: \"OPTIONS\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":\"TRACE\"}", 0,
	  "params.method: \"TRACE\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":\"CONNECT\"}", 0,
	  "params.method: \"CONNECT\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":\"GETX\"}", 0,
	  "params.method: \"GETX\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":\"GE\"}", 0,
	  "params.method: \"GE\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":\" GET\"}", 0,
	  "params.method: \" GET\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":\"POST\\n\"}", 0,
	  "params.method: \"POST?\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":\"P\\\"ST\"}", 0,
	  "params.method: \"P?ST\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":\"\\u00c9T\"}", 0,
	  "params.method: \"??T\"" MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":"
	  "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	  0, "params.method: "
	  "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...\""
	  MSG_METHOD_NOT_ONE, false },
	{ "{\"url\":\"http://a/\",\"method\":7}", 0,
	  "params.method: must be a string, got a number", false },
	{ "{\"url\":\"http://a/\",\"method\":null}", 0,
	  "params.method: must be a string, got null", false },
	{ "{\"url\":\"http://a/\",\"method\":[\"GET\"]}", 0,
	  "params.method: must be a string, got an array", false },
	/* headers */
	{ "{\"url\":\"http://a/\",\"headers\":[]}", 0, "params.headers: must be "
	  "an object of name: value, got an array", false },
	{ "{\"url\":\"http://a/\",\"headers\":\"X: y\"}", 0, "params.headers: "
	  "must be an object of name: value, got a string", false },
	{ "{\"url\":\"http://a/\",\"headers\":null}", 0, "params.headers: "
	  "must be an object of name: value, got null", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X A\":\"1\"}}", 0,
	  "params.headers: \"X A\"" MSG_HEADER_NAME, false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X-A\\r\":\"1\"}}", 0,
	  "params.headers: \"X-A?\"" MSG_HEADER_NAME, false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X\\r\\nY\":\"1\"}}", 0,
	  "params.headers: \"X??Y\"" MSG_HEADER_NAME, false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"Caf\\u00e9\":\"1\"}}", 0,
	  "params.headers: \"Caf??\"" MSG_HEADER_NAME, false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"Caf\xc3\xa9\":\"1\"}}", 0,
	  "params.headers: \"Caf??\"" MSG_HEADER_NAME, false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"\":\"1\"}}", 0,
	  "params.headers: empty key", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X:Y\":\"1\"}}", 0,
	  "params.headers: \"X:Y\"" MSG_HEADER_NAME, false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"(X)\":\"1\"}}", 0,
	  "params.headers: \"(X)\"" MSG_HEADER_NAME, false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"Host\":\"evil\"}}", 0,
	  "params.headers: Host is set by the runner and cannot be given", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"content-length\":\"5\"}}", 0,
	  "params.headers: content-length is set by the runner and cannot be "
	  "given", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"Taskfleet-Anything\":\"1\"}}", 0,
	  "params.headers: Taskfleet-Anything is set by the runner and cannot be "
	  "given", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"TASKFLEET-SIGNATURE\":\"v1=x\"}}",
	  0, "params.headers: TASKFLEET-SIGNATURE is set by the runner and cannot "
	  "be given", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"Transfer-Encoding\":\"chunked\"}}",
	  0, "params.headers: Transfer-Encoding is set by the runner and cannot "
	  "be given", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"Connection\":\"close\"}}", 0,
	  "params.headers: Connection is set by the runner and cannot be given",
	  false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"expect\":\"100-continue\"}}", 0,
	  "params.headers: expect is set by the runner and cannot be given",
	  false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"TE\":\"trailers\"}}", 0,
	  "params.headers: TE is set by the runner and cannot be given", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"Upgrade\":\"h2c\"}}", 0,
	  "params.headers: Upgrade is set by the runner and cannot be given",
	  false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X-A\":\"1\",\"x-a\":\"2\"}}", 0,
	  "params.headers: x-a is given twice", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"Content-Type\":\"a/b\","
	  "\"X\":\"1\",\"CONTENT-TYPE\":\"c/d\"}}", 0,
	  "params.headers: CONTENT-TYPE is given twice", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X-A\":\"1\",\"X-A\":\"1\"}}", 0,
	  "params.headers.X-A: duplicate key", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X-A\":\"a\\rb\"}}", 0,
	  "params.headers.X-A" MSG_HEADER_VALUE, false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X-A\":\"a\\nb\"}}", 0,
	  "params.headers.X-A" MSG_HEADER_VALUE, false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X-A\":\"a\\r\\nX-B: 1\"}}", 0,
	  "params.headers.X-A" MSG_HEADER_VALUE, false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X-A\":1}}", 0,
	  "params.headers.X-A: must be a string, got a number", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X-A\":null}}", 0,
	  "params.headers.X-A: must be a string, got null", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X-A\":[\"1\"]}}", 0,
	  "params.headers.X-A: must be a string, got an array", false },
	{ "{\"url\":\"http://a/\",\"headers\":{\"X-A\":true}}", 0,
	  "params.headers.X-A: must be a string, got a boolean", false },
	/* body */
	{ "{\"url\":\"http://a/\",\"method\":\"HEAD\",\"body\":\"x\"}", 0,
	  "params.body: a HEAD request has no body", false },
	{ "{\"url\":\"http://a/\",\"method\":\"head\",\"body\":\"\"}", 0,
	  "params.body: a HEAD request has no body", false },
	{ "{\"url\":\"http://a/\",\"method\":\"HEAD\",\"body\":{}}", 0,
	  "params.body: a HEAD request has no body", false },
	{ "{\"url\":\"http://a/\",\"body\":\"hello world\"}", 10,
	  "params.body: 11 bytes; at most 10", false },
	{ "{\"url\":\"http://a/\",\"body\":{\"a\":1234567}}", 12,
	  "params.body: 13 bytes; at most 12", false },
	{ "{\"url\":\"http://a/\",\"body\":12345678901234567890}", 19,
	  "params.body: 20 bytes; at most 19", false },
	/* timeout_ms */
	{ "{\"url\":\"http://a/\",\"timeout_ms\":0}", 0, MSG_TIMEOUT, false },
	{ "{\"url\":\"http://a/\",\"timeout_ms\":900001}", 0, MSG_TIMEOUT, false },
	{ "{\"url\":\"http://a/\",\"timeout_ms\":1.5}", 0, MSG_TIMEOUT, false },
	{ "{\"url\":\"http://a/\",\"timeout_ms\":\"10\"}", 0, MSG_TIMEOUT, false },
	{ "{\"url\":\"http://a/\",\"timeout_ms\":-1}", 0, MSG_TIMEOUT, false },
	{ "{\"url\":\"http://a/\",\"timeout_ms\":1e999}", 0,
	  "params.timeout_ms: number 1e999 is out of range (magnitude over "
	  "9.9999999999999999999999999999999999999E+125)", false },
	{ "{\"url\":\"http://a/\",\"timeout_ms\":null}", 0, MSG_TIMEOUT, false },
	{ "{\"url\":\"http://a/\",\"timeout_ms\":true}", 0, MSG_TIMEOUT, false },
	/* success */
	{ "{\"url\":\"http://a/\",\"success\":[]}", 0, MSG_SUCCESS_ARRAY "[]",
	  false },
	{ "{\"url\":\"http://a/\",\"success\":\"2xx\"}", 0,
	  MSG_SUCCESS_ARRAY "a string", false },
	{ "{\"url\":\"http://a/\",\"success\":200}", 0,
	  MSG_SUCCESS_ARRAY "a number", false },
	{ "{\"url\":\"http://a/\",\"success\":{}}", 0,
	  MSG_SUCCESS_ARRAY "an object", false },
	{ "{\"url\":\"http://a/\",\"success\":[700]}", 0,
	  "params.success: 700 is not a status from 100 to 599", false },
	{ "{\"url\":\"http://a/\",\"success\":[99]}", 0,
	  "params.success: 99 is not a status from 100 to 599", false },
	{ "{\"url\":\"http://a/\",\"success\":[600]}", 0,
	  "params.success: 600 is not a status from 100 to 599", false },
	{ "{\"url\":\"http://a/\",\"success\":[-200]}", 0,
	  "params.success: -200 is not a status from 100 to 599", false },
	{ "{\"url\":\"http://a/\",\"success\":[200.5]}", 0,
	  "params.success: 200.5 is not a status from 100 to 599", false },
	{ "{\"url\":\"http://a/\",\"success\":[\"6xx\"]}", 0,
	  "params.success: \"6xx\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"0xx\"]}", 0,
	  "params.success: \"0xx\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"20x\"]}", 0,
	  "params.success: \"20x\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"2xxx\"]}", 0,
	  "params.success: \"2xxx\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"204-200\"]}", 0,
	  "params.success: \"204-200\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"200-\"]}", 0,
	  "params.success: \"200-\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"-200\"]}", 0,
	  "params.success: \"-200\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"200-600\"]}", 0,
	  "params.success: \"200-600\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"99-200\"]}", 0,
	  "params.success: \"99-200\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\" 200\"]}", 0,
	  "params.success: \" 200\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"200 \"]}", 0,
	  "params.success: \"200 \"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"\"]}", 0,
	  "params.success: \"\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"99999999999999999999999\"]}", 0,
	  "params.success: \"99999999999999999999999\"" MSG_SUCCESS_TEXT, false },
	{ "{\"url\":\"http://a/\",\"success\":[\"200-99999999999999999999999\"]}",
	  0, "params.success: \"200-99999999999999999999999\"" MSG_SUCCESS_TEXT,
	  false },
	{ "{\"url\":\"http://a/\",\"success\":[true]}", 0, "params.success: "
	  "entries must be statuses (numbers) or strings like \"2xx\", got a "
	  "boolean", false },
	{ "{\"url\":\"http://a/\",\"success\":[200,[201]]}", 0, "params.success: "
	  "entries must be statuses (numbers) or strings like \"2xx\", got an "
	  "array", false },
	{ "{\"url\":\"http://a/\",\"success\":[null]}", 0, "params.success: "
	  "entries must be statuses (numbers) or strings like \"2xx\", got null",
	  false },
	/* follow_redirects, max_redirects */
	{ "{\"url\":\"http://a/\",\"follow_redirects\":\"yes\"}", 0,
	  "params.follow_redirects: must be true or false, got a string", false },
	{ "{\"url\":\"http://a/\",\"follow_redirects\":1}", 0,
	  "params.follow_redirects: must be true or false, got a number", false },
	{ "{\"url\":\"http://a/\",\"follow_redirects\":null}", 0,
	  "params.follow_redirects: must be true or false, got null", false },
	{ "{\"url\":\"http://a/\",\"max_redirects\":21}", 0, MSG_REDIRECTS,
	  false },
	{ "{\"url\":\"http://a/\",\"max_redirects\":-1}", 0, MSG_REDIRECTS,
	  false },
	{ "{\"url\":\"http://a/\",\"max_redirects\":2.5}", 0, MSG_REDIRECTS,
	  false },
	{ "{\"url\":\"http://a/\",\"max_redirects\":\"5\"}", 0, MSG_REDIRECTS,
	  false },
	{ "{\"url\":\"http://a/\",\"max_redirects\":4294967301}", 0,
	  MSG_REDIRECTS, false },
	/* result_headers */
	{ "{\"url\":\"http://a/\",\"result_headers\":\"etag\"}", 0,
	  MSG_RESULT_HEADERS, false },
	{ "{\"url\":\"http://a/\",\"result_headers\":{}}", 0, MSG_RESULT_HEADERS,
	  false },
	{ "{\"url\":\"http://a/\",\"result_headers\":null}", 0,
	  MSG_RESULT_HEADERS, false },
	{ "{\"url\":\"http://a/\",\"result_headers\":[\"ETag\",\"X Y\"]}", 0,
	  "params.result_headers: \"X Y\" is not a header name", false },
	{ "{\"url\":\"http://a/\",\"result_headers\":[\"\"]}", 0,
	  "params.result_headers: \"\" is not a header name", false },
	{ "{\"url\":\"http://a/\",\"result_headers\":[\"a\\nb\"]}", 0,
	  "params.result_headers: \"a?b\" is not a header name", false },
	{ "{\"url\":\"http://a/\",\"result_headers\":[1]}", 0,
	  "params.result_headers: a number is not a header name", false },
	{ "{\"url\":\"http://a/\",\"result_headers\":[null]}", 0,
	  "params.result_headers: null is not a header name", false },
	/* Unknown fields, found before anything else. */
	{ "{\"url\":\"http://a/\",\"mehtod\":\"POST\"}", 0,
	  "params.mehtod" MSG_UNKNOWN, false },
	{ "{\"mehtod\":\"POST\"}", 0, "params.mehtod" MSG_UNKNOWN, false },
	{ "{\"url\":\"ftp://a/\",\"Body\":\"x\"}", 0, "params.Body" MSG_UNKNOWN,
	  false },
	{ "{\"url\":\"http://a/\",\"x\\ny\":1}", 0, "params.x?y" MSG_UNKNOWN,
	  false },
	{ "{\"url\":\"http://a/\",\"\":1}", 0, "params: empty attribute name", false },
};

static void
check_bad_case(const struct bad_case *c)
{
	struct tf_http_task t;
	char err[512];
	enum tf_err rc;

	memset(&t, 0xa5, sizeof(t));
	memset(err, 'z', sizeof(err));
	rc = tf_http_task_parse(c->params, strlen(c->params), c->max_body, &t,
	    err, sizeof(err));
	CHECK_MSG(rc == TF_ERR_INVALID, "rc %d, expected TF_ERR_INVALID", (int)rc);
	CHECK(task_is_empty(&t));
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	CHECK_MSG(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL,
	    "not one line: %s", err);
	CHECK_MSG(strncmp(err, "params", 6) == 0, "no params prefix: %s", err);
	if (c->prefix)
		CHECK_MSG(strncmp(err, c->msg, strlen(c->msg)) == 0,
		    "\n  got:      %s\n  expected: %s...", err, c->msg);
	else
		CHECK_STR_EQ(err, c->msg);
	/* A failed parse leaves nothing to free, and freeing is harmless. */
	tf_http_task_free(&t);
	CHECK(task_is_empty(&t));
}

/* The user information of a URL, as the task's URL check and the http
 * runner's redirects see it: a user name, a password or both; "@" or ":"
 * elsewhere in the URL is none. */
static void
test_url_has_userinfo(void)
{
	static const struct { const char *url; bool has; } cases[] = {
		{ "http://u:pw@127.0.0.1:8080/", true },
		{ "http://u@127.0.0.1/", true },
		{ "http://:pw@127.0.0.1/", true },
		{ "https://u:pw@[::1]:8443/x?y=1", true },
		{ "HTTP://u%3Ax:p%40w@hooks.example/", true },
		{ "http://127.0.0.1:8080/", false },
		{ "http://127.0.0.1/a@b?c=d:e@f#g@h", false },
		{ "https://hooks.example/to?u=a:b@c", false },
		{ "not a url", false },
	};
	size_t i;

	for (i = 0; i < NELEM(cases); i++)
		CHECK_MSG(tf_http_url_has_userinfo(cases[i].url) == cases[i].has,
		    "%s: expected %s", cases[i].url, cases[i].has ? "true" : "false");
}

/* The password (and the user name) never reach the message. */
static void
test_url_credentials_not_quoted(void)
{
	static const char *const urls[] = {
		"{\"url\":\"https://alice:hunter2@hooks.example/x\"}",
		"{\"url\":\"https://alice:hunter2@hooks.example:8443/x?y=1\"}",
		"{\"url\":\"http://:hunter2@hooks.example/\"}",
		"{\"url\":\"http://alice@hooks.example/\"}",
	};
	struct tf_http_task t;
	char err[512];
	size_t i;

	for (i = 0; i < NELEM(urls); i++) {
		CHECK(parse(urls[i], &t, err, sizeof(err)) == TF_ERR_INVALID);
		CHECK_MSG(strstr(err, "hunter2") == NULL, "leaked: %s", err);
		CHECK_MSG(strstr(err, "alice") == NULL, "leaked: %s", err);
		CHECK_MSG(strstr(err, "hooks.example") == NULL, "quoted: %s", err);
		CHECK(strncmp(err, "params.url: ", 12) == 0);
		CHECK(task_is_empty(&t));
	}
}

/* A URL of exactly TF_HTTP_URL_MAX bytes passes; one byte more does not. */
static void
test_url_length(void)
{
	struct tf_buf b = TF_BUF_INIT;
	struct tf_http_task t;
	char err[512];
	size_t n;

	CHECK(tf_buf_append_str(&b, "{\"url\":\"https://a.example/") == TF_OK);
	for (n = strlen("https://a.example/"); n < TF_HTTP_URL_MAX; n++)
		CHECK(tf_buf_append_char(&b, 'p') == TF_OK);
	CHECK(tf_buf_append_str(&b, "\"}") == TF_OK);
	CHECK_MSG(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_OK, "%s", err);
	CHECK_INT_EQ(strlen(t.url), 8192);
	tf_http_task_free(&t);

	b.len -= 2;
	CHECK(tf_buf_append_str(&b, "p\"}") == TF_OK);
	CHECK(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_ERR_INVALID);
	CHECK_STR_EQ(err, "params.url: too long (8193 bytes; at most 8192)");
	CHECK(task_is_empty(&t));
	tf_buf_free(&b);
}

/* Builds params with n headers "X-0".."X-<n-1>". */
static enum tf_err
headers_params(struct tf_buf *b, int n)
{
	int i;

	tf_buf_reset(b);
	if (tf_buf_append_str(b, "{\"url\":\"http://a/\",\"headers\":{") != TF_OK)
		return TF_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if (tf_buf_appendf(b, "%s\"X-%d\":\"%d\"", i ? "," : "", i, i) !=
		    TF_OK)
			return TF_ERR_NOMEM;
	return tf_buf_append_str(b, "}}");
}

/* 64 headers pass, in order; 65 do not. */
static void
test_headers_count(void)
{
	struct tf_buf b = TF_BUF_INIT;
	struct tf_http_task t;
	char err[512], want[32];
	size_t i;

	CHECK(headers_params(&b, 64) == TF_OK);
	CHECK_MSG(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_OK, "%s", err);
	CHECK_INT_EQ(t.n_headers, 64);
	for (i = 0; i < t.n_headers; i++) {
		snprintf(want, sizeof(want), "X-%zu", i);
		CHECK_STR_EQ(t.headers[i].name, want);
		snprintf(want, sizeof(want), "%zu", i);
		CHECK_STR_EQ(t.headers[i].value, want);
	}
	CHECK(!t.has_content_type);
	tf_http_task_free(&t);
	CHECK(task_is_empty(&t));

	CHECK(headers_params(&b, 65) == TF_OK);
	CHECK(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_ERR_INVALID);
	CHECK_STR_EQ(err, "params.headers: 65 headers; at most 64");
	CHECK(task_is_empty(&t));
	tf_buf_free(&b);
}

/* A value of 8192 bytes passes, 8193 do not; a 256-byte name passes, 257
 * do not (the name is quoted cut at 64 characters). */
static void
test_header_sizes(void)
{
	struct tf_buf b = TF_BUF_INIT;
	struct tf_http_task t;
	char err[512], name[300];
	size_t i;

	CHECK(tf_buf_append_str(&b, "{\"url\":\"http://a/\",\"headers\":{\"X\":\"")
	    == TF_OK);
	for (i = 0; i < 8192; i++)
		CHECK(tf_buf_append_char(&b, 'v') == TF_OK);
	CHECK(tf_buf_append_str(&b, "\"}}") == TF_OK);
	CHECK_MSG(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_OK, "%s", err);
	CHECK_INT_EQ(strlen(t.headers[0].value), 8192);
	tf_http_task_free(&t);
	b.len -= 3;
	CHECK(tf_buf_append_str(&b, "v\"}}") == TF_OK);
	CHECK(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_ERR_INVALID);
	CHECK_STR_EQ(err, "params.headers.X" MSG_HEADER_VALUE);
	CHECK(task_is_empty(&t));

	memset(name, 'n', 256);
	name[256] = '\0';
	tf_buf_reset(&b);
	CHECK(tf_buf_appendf(&b, "{\"url\":\"http://a/\",\"headers\":{\"%s\":\"1\"}}",
	    name) == TF_OK);
	CHECK_MSG(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_OK, "%s", err);
	CHECK_STR_EQ(t.headers[0].name, name);
	tf_http_task_free(&t);
	strcat(name, "n");
	tf_buf_reset(&b);
	CHECK(tf_buf_appendf(&b, "{\"url\":\"http://a/\",\"headers\":{\"%s\":\"1\"}}",
	    name) == TF_OK);
	CHECK(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_ERR_INVALID);
	CHECK_STR_EQ(err, "params.headers: "
	    "\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...\""
	    MSG_HEADER_NAME);
	CHECK(task_is_empty(&t));
	tf_buf_free(&b);
}

/* The default body cap is 256 KiB, for string and JSON bodies. */
static void
test_body_default_cap(void)
{
	struct tf_buf b = TF_BUF_INIT;
	struct tf_http_task t;
	char err[512];
	size_t i;

	CHECK(tf_buf_append_str(&b, "{\"url\":\"http://a/\",\"body\":\"") == TF_OK);
	for (i = 0; i < 262144; i++)
		CHECK(tf_buf_append_char(&b, 'b') == TF_OK);
	CHECK(tf_buf_append_str(&b, "\"}") == TF_OK);
	CHECK_MSG(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_OK, "%s", err);
	CHECK_INT_EQ(t.body_len, 262144);
	CHECK(!t.body_is_json);
	tf_http_task_free(&t);
	/* The same through max_body given as exactly the default. */
	CHECK(tf_http_task_parse(b.data, b.len, TF_HTTP_REQUEST_MAX_DEFAULT, &t,
	    err, sizeof(err)) == TF_OK);
	tf_http_task_free(&t);
	/* A smaller cap given explicitly wins over the default. */
	CHECK(tf_http_task_parse(b.data, b.len, 262143, &t, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	CHECK_STR_EQ(err, "params.body: 262144 bytes; at most 262143");
	CHECK(task_is_empty(&t));
	/* A bigger cap lets a bigger body through. */
	b.len -= 2;
	CHECK(tf_buf_append_str(&b, "b\"}") == TF_OK);
	CHECK(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_ERR_INVALID);
	CHECK_STR_EQ(err, "params.body: 262145 bytes; at most 262144");
	CHECK(task_is_empty(&t));
	CHECK(tf_http_task_parse(b.data, b.len, 262145, &t, err, sizeof(err)) ==
	    TF_OK);
	CHECK_INT_EQ(t.body_len, 262145);
	tf_http_task_free(&t);

	/* A JSON body is measured as its text. */
	tf_buf_reset(&b);
	CHECK(tf_buf_append_str(&b, "{\"url\":\"http://a/\",\"body\":[\"") ==
	    TF_OK);
	for (i = 0; i < 262144 - 4; i++)
		CHECK(tf_buf_append_char(&b, 'j') == TF_OK);
	CHECK(tf_buf_append_str(&b, "\"]}") == TF_OK);
	CHECK_MSG(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_OK, "%s", err);
	CHECK_INT_EQ(t.body_len, 262144);
	CHECK(t.body_is_json);
	tf_http_task_free(&t);
	b.len -= 3;
	CHECK(tf_buf_append_str(&b, "j\"]}") == TF_OK);
	CHECK(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_ERR_INVALID);
	CHECK_STR_EQ(err, "params.body: 262145 bytes; at most 262144");
	CHECK(task_is_empty(&t));
	tf_buf_free(&b);
}

/* 32 result_headers pass, 33 do not. */
static void
test_result_headers_count(void)
{
	struct tf_buf b = TF_BUF_INIT;
	struct tf_http_task t;
	char err[512], want[32];
	size_t i;

	CHECK(tf_buf_append_str(&b, "{\"url\":\"http://a/\",\"result_headers\":[")
	    == TF_OK);
	for (i = 0; i < 32; i++)
		CHECK(tf_buf_appendf(&b, "%s\"X-R%zu\"", i ? "," : "", i) == TF_OK);
	CHECK(tf_buf_append_str(&b, "]}") == TF_OK);
	CHECK_MSG(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_OK, "%s", err);
	CHECK_INT_EQ(t.n_result_headers, 32);
	for (i = 0; i < 32; i++) {
		snprintf(want, sizeof(want), "x-r%zu", i);
		CHECK_STR_EQ(t.result_headers[i], want);
	}
	tf_http_task_free(&t);
	b.len -= 2;
	CHECK(tf_buf_append_str(&b, ",\"X-R32\"]}") == TF_OK);
	CHECK(parse(tf_buf_str(&b), &t, err, sizeof(err)) == TF_ERR_INVALID);
	CHECK_STR_EQ(err, MSG_RESULT_HEADERS);
	CHECK(task_is_empty(&t));
	tf_buf_free(&b);
}

/* The message fits any buffer, and no buffer at all is fine. */
static void
test_errbuf_sizes(void)
{
	const char *p = "{\"url\":\"http://a/\",\"method\":\"FETCH\"}";
	struct tf_http_task t;
	char err[8];

	CHECK(parse(p, &t, NULL, 0) == TF_ERR_INVALID);
	CHECK(task_is_empty(&t));
	memset(err, 'z', sizeof(err));
	CHECK(parse(p, &t, err, sizeof(err)) == TF_ERR_INVALID);
	CHECK_STR_EQ(err, "params.");
	memset(err, 'z', sizeof(err));
	CHECK(parse(p, &t, err, 1) == TF_ERR_INVALID);
	CHECK_INT_EQ(err[0], '\0');
	CHECK_INT_EQ(err[1], 'z');
	/* Only len bytes are read: the rest of the text is not seen. */
	CHECK(tf_http_task_parse("{\"url\":\"http://a/\"}garbage", 19, 0, &t,
	    NULL, 0) == TF_OK);
	CHECK_STR_EQ(t.url, "http://a/");
	tf_http_task_free(&t);
	CHECK(tf_http_task_parse("{\"url\":\"http://a/\"}", 10, 0, &t, NULL, 0) ==
	    TF_ERR_INVALID);
	CHECK(task_is_empty(&t));
}

/* tf_http_task_free() empties the struct and may be called again. */
static void
test_free_twice(void)
{
	const char *p = "{\"url\":\"http://a/\",\"method\":\"POST\","
	    "\"headers\":{\"A\":\"1\",\"B\":\"2\"},\"body\":{\"x\":[1,2]},"
	    "\"result_headers\":[\"ETag\"]}";
	struct tf_http_task t;
	char err[256];

	memset(&t, 0, sizeof(t));
	tf_http_task_free(&t);
	CHECK(task_is_empty(&t));
	CHECK_MSG(parse(p, &t, err, sizeof(err)) == TF_OK, "%s", err);
	CHECK(!task_is_empty(&t));
	tf_http_task_free(&t);
	CHECK(task_is_empty(&t));
	tf_http_task_free(&t);
	CHECK(task_is_empty(&t));
	/* The struct can be parsed into again after a free. */
	CHECK_MSG(parse(p, &t, err, sizeof(err)) == TF_OK, "%s", err);
	CHECK_STR_EQ(t.body, "{\"x\":[1,2]}");
	tf_http_task_free(&t);
	CHECK(task_is_empty(&t));
}

/* ---- The helpers ------------------------------------------------------- */

static void
test_header_name_valid(void)
{
	static const char *const good[] = {
		"X", "x-a", "Content-Type", "0", "!#$%&'*+-.^_`|~",
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
	};
	static const char *const bad[] = {
		"", " ", "X A", "X\tA", "X:", ":authority", "X\r", "X\n", "\r\n",
		"(x)", "<x>", "x@y", "x,y", "x;y", "x=y", "x\"y", "x/y", "x?y",
		"x[y]", "x{y}", "x\\y", "\x7f", "\x01", "caf\xc3\xa9", "\x80", "\xff",
	};
	char name[300];
	size_t i;

	for (i = 0; i < NELEM(good); i++)
		CHECK_MSG(tf_http_header_name_valid(good[i]), "refused %s", good[i]);
	for (i = 0; i < NELEM(bad); i++)
		CHECK_MSG(!tf_http_header_name_valid(bad[i]), "accepted case %zu", i);
	memset(name, 'a', sizeof(name));
	name[256] = '\0';
	CHECK(tf_http_header_name_valid(name));
	name[256] = 'a';
	name[257] = '\0';
	CHECK(!tf_http_header_name_valid(name));
	name[299] = '\0';
	CHECK(!tf_http_header_name_valid(name));
}

static void
test_header_value_valid(void)
{
	static char value[8194];

	CHECK(tf_http_header_value_valid(""));
	CHECK(tf_http_header_value_valid("text/plain; charset=utf-8"));
	CHECK(tf_http_header_value_valid("tab\there"));
	CHECK(tf_http_header_value_valid("caf\xc3\xa9 \x7f \x01"));
	CHECK(!tf_http_header_value_valid("\r"));
	CHECK(!tf_http_header_value_valid("\n"));
	CHECK(!tf_http_header_value_valid("a\r\nX-Injected: 1"));
	CHECK(!tf_http_header_value_valid("a\nb"));
	CHECK(!tf_http_header_value_valid("trailing\r"));
	memset(value, 'v', 8192);
	value[8192] = '\0';
	CHECK(tf_http_header_value_valid(value));
	value[8192] = 'v';
	value[8193] = '\0';
	CHECK(!tf_http_header_value_valid(value));
}

static void
test_header_reserved(void)
{
	static const char *const reserved[] = {
		"Host", "host", "HOST", "Content-Length", "content-length",
		"Transfer-Encoding", "Connection", "Expect", "TE", "te",
		"Upgrade", "Keep-Alive", "Proxy-Connection", "Trailer",
		"Taskfleet-", "Taskfleet-Anything", "taskfleet-signature",
		"TASKFLEET-TIMESTAMP",
	};
	static const char *const free_names[] = {
		"Content-Type", "Authorization", "X-Host", "Hosts", "Taskfleet",
		"Taskfleetx", "X-Taskfleet-Id", "Tea", "T", "Content-Lengths",
		"Accept", "User-Agent", "",
	};
	size_t i;

	for (i = 0; i < NELEM(reserved); i++)
		CHECK_MSG(tf_http_header_reserved(reserved[i]), "%s not reserved",
		    reserved[i]);
	for (i = 0; i < NELEM(free_names); i++)
		CHECK_MSG(!tf_http_header_reserved(free_names[i]), "%s reserved",
		    free_names[i]);
}

static void
test_is_success_boundaries(void)
{
	static const struct {
		long status;
		bool ok;
	} dflt[] = {
		{ -1, false }, { 0, false }, { 199, false }, { 200, true },
		{ 299, true }, { 300, false }, { 599, false }, { 600, false },
		{ 100000, false }, { -100000, false },
	};
	struct tf_http_task t;
	char err[256];
	size_t i;

	CHECK(parse("{\"url\":\"http://a/\"}", &t, err, sizeof(err)) == TF_OK);
	for (i = 0; i < NELEM(dflt); i++)
		CHECK_MSG(tf_http_task_is_success(&t, dflt[i].status) == dflt[i].ok,
		    "status %ld", dflt[i].status);
	tf_http_task_free(&t);

	CHECK(parse("{\"url\":\"http://a/\",\"success\":[\"1xx\",\"5xx\"]}", &t,
	    err, sizeof(err)) == TF_OK);
	CHECK(!tf_http_task_is_success(&t, -1));
	CHECK(!tf_http_task_is_success(&t, 0));
	CHECK(!tf_http_task_is_success(&t, 99));
	CHECK(tf_http_task_is_success(&t, 100));
	CHECK(tf_http_task_is_success(&t, 199));
	CHECK(!tf_http_task_is_success(&t, 200));
	CHECK(!tf_http_task_is_success(&t, 299));
	CHECK(!tf_http_task_is_success(&t, 499));
	CHECK(tf_http_task_is_success(&t, 500));
	CHECK(tf_http_task_is_success(&t, 599));
	CHECK(!tf_http_task_is_success(&t, 600));
	CHECK(!tf_http_task_is_success(&t, 100000));
	CHECK(!tf_http_task_is_success(&t, 2147483647L));
	CHECK(!tf_http_task_is_success(&t, -2147483647L - 1));
	tf_http_task_free(&t);

	/* An emptied task counts nothing as success. */
	CHECK(!tf_http_task_is_success(&t, 200));
}

/* ---- Allocation failure ------------------------------------------------ */

/* How many allocations cJSON_ParseWithLength makes for text: the smallest
 * injection point at which it succeeds. */
static long
cjson_parse_allocs(const char *text)
{
	cJSON *root;
	long n;

	for (n = 0; n < 100000; n++) {
		tf_alloc_fail_after(n);
		root = cJSON_ParseWithLength(text, strlen(text));
		tf_alloc_fail_after(-1);
		if (root != NULL) {
			cJSON_Delete(root);
			return n;
		}
	}
	return -1;
}

/* Checks the fields of a parse of nomem_params[0]. */
static bool
rich_task_ok(const struct tf_http_task *t)
{
	return strcmp(t->method, "POST") == 0 &&
	    strcmp(t->url, "https://hooks.example.com/a/b?x=1") == 0 &&
	    t->n_headers == 3 &&
	    strcmp(t->headers[2].name, "Authorization") == 0 &&
	    strcmp(t->headers[2].value, "Bearer t") == 0 &&
	    t->has_content_type &&
	    t->body_is_json &&
	    strcmp(t->body, "{\"amount\":12345678901234567890,\"items\":"
	    "[1.50,\"x\",{\"k\":null}]}") == 0 &&
	    t->timeout_ms == 2500 &&
	    tf_http_task_is_success(t, 404) && tf_http_task_is_success(t, 550) &&
	    tf_http_task_is_success(t, 204) && !tf_http_task_is_success(t, 205) &&
	    t->follow_redirects && t->max_redirects == 3 &&
	    t->n_result_headers == 2 &&
	    strcmp(t->result_headers[0], "etag") == 0 &&
	    strcmp(t->result_headers[1], "x-request-id") == 0;
}

/* Checks the fields of a parse of nomem_params[1]. */
static bool
plain_task_ok(const struct tf_http_task *t)
{
	return strcmp(t->method, "PUT") == 0 &&
	    strcmp(t->url, "http://h/") == 0 &&
	    t->n_headers == 1 && !t->body_is_json &&
	    strcmp(t->body, "plain text") == 0 &&
	    t->n_result_headers == 6 &&
	    strcmp(t->result_headers[5], "x-request-id") == 0;
}

static const char *const nomem_params[] = {
	"{\"url\":\"https://hooks.example.com/a/b?x=1\",\"method\":\"post\","
	"\"headers\":{\"Content-Type\":\"application/json\",\"X-Trace\":\"abc\","
	"\"Authorization\":\"Bearer t\"},"
	"\"body\":{\"amount\":12345678901234567890,\"items\":[1.50,\"x\","
	"{\"k\":null}]},\"timeout_ms\":2500,"
	"\"success\":[404,\"5xx\",\"200-204\"],\"follow_redirects\":true,"
	"\"max_redirects\":3,\"result_headers\":[\"ETag\",\"X-Request-Id\"]}",
	"{\"url\":\"http://h/\",\"method\":\"PUT\",\"headers\":{\"X\":\"y\"},"
	"\"body\":\"plain text\"}",
};

/*
 * Fails each allocation in turn. A run that fails must say TF_ERR_NOMEM
 * with "params: out of memory" and leave the struct empty: never "bad
 * params", which would fail a task for good. A run that succeeds although an
 * allocation was failed must still
 * give the full, exact result (no silent fallback). The ASan build checks
 * for leaks.
 */
static void
test_parse_nomem(void)
{
	struct tf_http_task t;
	char err[512];
	long n, parse_allocs, injected;
	size_t k;
	enum tf_err rc;
	bool done;

	for (k = 0; k < NELEM(nomem_params); k++) {
		parse_allocs = cjson_parse_allocs(nomem_params[k]);
		CHECK(parse_allocs > 0);
		done = false;
		for (n = 0; n < 10000 && !done; n++) {
			injected = tf_alloc_failures();
			err[0] = '\0';
			tf_alloc_fail_after(n);
			rc = parse(nomem_params[k], &t, err, sizeof(err));
			tf_alloc_fail_after(-1);
			if (rc == TF_OK) {
				CHECK_MSG(k == 0 ? rich_task_ok(&t) : plain_task_ok(&t),
				    "params %zu, allocation %ld: wrong result (body %s)",
				    k, n, t.body != NULL ? t.body : "(null)");
				tf_http_task_free(&t);
				/* Done once no failure was needed. */
				done = tf_alloc_failures() == injected;
				continue;
			}
			CHECK_MSG(tf_alloc_failures() == injected + 1,
			    "params %zu: failed at %ld without an injected failure: %s",
			    k, n, err);
			CHECK(task_is_empty(&t));
			CHECK_MSG(rc == TF_ERR_NOMEM,
			    "params %zu, allocation %ld: rc %d: %s", k, n, (int)rc, err);
			CHECK_STR_EQ(err, "params: out of memory");
		}
		CHECK_MSG(done, "params %zu never parsed", k);
		CHECK_MSG(n > parse_allocs + 10, "only %ld allocations", n);
		printf("# nomem params %zu: %ld allocations, the first %ld in cJSON's "
		    "parse\n", k, n - 1, parse_allocs);
	}
}

int
main(void)
{
	char name[200];
	size_t i;

	tf_alloc_init();
	for (i = 0; i < NELEM(good_cases); i++) {
		test_name(name, sizeof(name), "parse_good ", good_cases[i].params);
		TF_RUN_NAMED(name, check_good_case, &good_cases[i]);
	}
	for (i = 0; i < NELEM(bad_cases); i++) {
		test_name(name, sizeof(name), "parse_bad ", bad_cases[i].params);
		TF_RUN_NAMED(name, check_bad_case, &bad_cases[i]);
	}
	TF_RUN(test_url_has_userinfo);
	TF_RUN(test_url_credentials_not_quoted);
	TF_RUN(test_url_length);
	TF_RUN(test_headers_count);
	TF_RUN(test_header_sizes);
	TF_RUN(test_body_default_cap);
	TF_RUN(test_result_headers_count);
	TF_RUN(test_errbuf_sizes);
	TF_RUN(test_free_twice);
	TF_RUN(test_header_name_valid);
	TF_RUN(test_header_value_valid);
	TF_RUN(test_header_reserved);
	TF_RUN(test_is_success_boundaries);
	TF_RUN(test_parse_nomem);
	return tf_test_summary();
}
