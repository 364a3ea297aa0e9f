/* test_marshal.c - JSON <-> DynamoDB AttributeValue marshalling. */
#include "harness.h"

#include <math.h>

#include <cjson/cJSON.h>

#include "aws/marshal.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"

/* The AV as compact text (cJSON's printer); caller frees with tf_free(). */
static char *
print(const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	char *copy = s != NULL ? tf_strdup(s) : NULL;

	cJSON_free(s);
	return copy;
}

/* ---- JSON text -> AV: the AV for each JSON type ---- */

struct av_case {
	const char *json;  /* a JSON value */
	const char *av;    /* its AV, as cJSON prints it */
};

static const struct av_case av_cases[] = {
	{ "\"x\"", "{\"S\":\"x\"}" },
	{ "\"\"", "{\"S\":\"\"}" },
	{ "12.5", "{\"N\":\"12.5\"}" },
	{ "-0", "{\"N\":\"-0\"}" },
	{ "1.50", "{\"N\":\"1.50\"}" },
	{ "1E+3", "{\"N\":\"1E+3\"}" },
	{ "12345678901234567890", "{\"N\":\"12345678901234567890\"}" },
	{ "true", "{\"BOOL\":true}" },
	{ "false", "{\"BOOL\":false}" },
	{ "null", "{\"NULL\":true}" },
	{ "[]", "{\"L\":[]}" },
	{ "{}", "{\"M\":{}}" },
	{ " [ 1 , \"b\" , { } ] ",
	  "{\"L\":[{\"N\":\"1\"},{\"S\":\"b\"},{\"M\":{}}]}" },
	{ "{\"a\":{\"b\":[null,true]}}",
	  "{\"M\":{\"a\":{\"M\":{\"b\":{\"L\":[{\"NULL\":true},{\"BOOL\":true}]}}}}}" },
	{ "\"\\u00e9\\ud83d\\ude00\\/\"", "{\"S\":\"\xc3\xa9\xf0\x9f\x98\x80/\"}" },
};

static void
check_av_case(const struct av_case *tc)
{
	char err[256];
	cJSON *av = NULL;
	char *got;

	CHECK_INT_EQ(tf_marshal_value_json_text(tc->json, strlen(tc->json), &av,
	    err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(err, "");
	got = print(av);
	cJSON_Delete(av);
	CHECK(got != NULL);
	if (strcmp(got, tc->av) != 0) {
		TF_FAIL_AT("got %s, expected %s", got, tc->av);
		tf_free(got);
		return;
	}
	tf_free(got);
}

/* ---- JSON text -> item -> JSON text ---- */

struct rt_case {
	const char *in;   /* an item (JSON object) */
	const char *out;  /* what comes back; NULL: exactly `in` */
};

static const struct rt_case rt_cases[] = {
	{ "{}", NULL },
	{ "{\"s\":\"x\",\"n\":1,\"b\":true,\"f\":false,\"z\":null}", NULL },
	{ "{\"big\":12345678901234567890,"
	  "\"neg\":-12345678901234567890123456789012345678}", NULL },
	{ "{\"d\":0.1000000000000000055511151231257827,\"p\":3.14159265358979323846}",
	  NULL },
	{ "{\"e\":[1e5,1E+5,-2.5e-3,1.50,-0,0.0,0e0,0e400,-0.0e-7,1e125,"
	  "9.9999999999999999999999999999999999999E+125,1e-130,-1E-130,"
	  "1.0000000000000000000000000000000000000000000000000000,"
	  "100000000000000000000000000000000000000000000000000]}", NULL },
	{ "{\"nested\":{\"a\":{\"b\":[[],{},[{\"c\":\"d\"}],[[[1]]]]}},\"l\":[]}",
	  NULL },
	{ "{\"u\":\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\","
	  "\"esc\":\"q\\\" b\\\\ n\\n t\\t r\\r c\\u0001 d\\u001f\"}", NULL },
	{ "{\"k\xc3\xa9y with spaces.and.dots\":{\"\\\"\":\"\"}}", NULL },
	{ " {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\":{ } } ", "{\"a\":[1,2],\"b\":{}}" },
	{ "{\"s\":\"\\u00e9\\/\\b\\f\\ud83d\\ude00\"}",
	  "{\"s\":\"\xc3\xa9/\\u0008\\u000c\xf0\x9f\x98\x80\"}" },
	{ "{\"ts\":1767225600000,\"x\":-1.5e-10,\"y\":2E-3}", NULL },
};

static void
check_rt_case(const struct rt_case *tc)
{
	const char *want = tc->out != NULL ? tc->out : tc->in;
	char err[256];
	cJSON *item = NULL, *a = NULL, *b = NULL;
	char *text = NULL;

	CHECK_INT_EQ(tf_marshal_json_text(tc->in, strlen(tc->in), &item, err,
	    sizeof(err)), TF_OK);
	if (tf_unmarshal_to_json_text(item, &text, err, sizeof(err)) != TF_OK) {
		TF_FAIL_AT("unmarshal: %s", err);
		goto out;
	}
	if (strcmp(text, want) != 0) {
		TF_FAIL_AT("\n  got:      %s\n  expected: %s", text, want);
		goto out;
	}
	/* Semantically equal too (cJSON compares numbers as doubles). */
	a = cJSON_Parse(tc->in);
	b = cJSON_Parse(text);
	if (a == NULL || b == NULL || !cJSON_Compare(a, b, 1))
		TF_FAIL_AT("not semantically equal: %s", text);
out:
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(item);
	tf_free(text);
}

/* The value-level text functions keep numbers exact as well. */
static void
test_value_text_roundtrip(void)
{
	static const char *const docs[] = {
		"\"x\"", "12345678901234567890", "-0", "1.50", "[1,[2,[3e-7]]]",
		"null", "{\"a\":{\"b\":0.1000000000000000055511151231257827}}",
	};
	char err[256];
	cJSON *av = NULL;
	char *text = NULL;
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		CHECK_INT_EQ(tf_marshal_value_json_text(docs[i], strlen(docs[i]),
		    &av, err, sizeof(err)), TF_OK);
		CHECK_INT_EQ(tf_unmarshal_value_to_json_text(av, &text, err,
		    sizeof(err)), TF_OK);
		cJSON_Delete(av);
		av = NULL;
		if (strcmp(text, docs[i]) != 0) {
			TF_FAIL_AT("got %s, expected %s", text, docs[i]);
			tf_free(text);
			return;
		}
		tf_free(text);
		text = NULL;
	}
}

/* ---- the cJSON tree functions ---- */

static void
test_tree_roundtrip(void)
{
	const char *doc = "{\"s\":\"x\",\"n\":1767225600000,\"d\":0.1,\"neg\":-2.5,"
	    "\"b\":true,\"z\":null,\"l\":[1,\"two\",[3],{\"four\":4}],"
	    "\"m\":{\"k\":{\"deep\":[]}},\"e\":{}}";
	char err[256];
	cJSON *json = cJSON_Parse(doc), *item = NULL, *back = NULL;

	CHECK(json != NULL);
	CHECK_INT_EQ(tf_marshal_item(json, &item, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(item, "n"), "N")->
	    valuestring, "1767225600000");
	CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(item, "d"), "N")->
	    valuestring, "0.1");
	CHECK_INT_EQ(tf_unmarshal_item(item, &back, err, sizeof(err)), TF_OK);
	CHECK(cJSON_Compare(json, back, 1));
	cJSON_Delete(json);
	cJSON_Delete(item);
	cJSON_Delete(back);
}

struct num_case {
	double d;
	const char *n;
};

static void
test_tree_numbers(void)
{
	static const struct num_case cases[] = {
		{ 0, "0" }, { 1, "1" }, { -1, "-1" }, { 1767225600000.0, "1767225600000" },
		{ 0.1, "0.1" }, { 1.0 / 3, "0.3333333333333333" }, { 1e20, "1e+20" },
		{ 123456789012345678.0, "1.2345678901234568e+17" }, { 2.5e-7, "2.5e-07" },
		{ -0.0, "-0" }, { 1e125, "1e+125" },
	};
	char err[256];
	cJSON *json, *av = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json = cJSON_CreateNumber(cases[i].d);
		CHECK(json != NULL);
		CHECK_INT_EQ(tf_marshal_value(json, &av, err, sizeof(err)), TF_OK);
		cJSON_Delete(json);
		CHECK_STR_EQ(cJSON_GetObjectItem(av, "N")->valuestring, cases[i].n);
		cJSON_Delete(av);
		av = NULL;
	}
	/* Out of DynamoDB's range, and not finite. */
	json = cJSON_CreateNumber(1e300);
	CHECK_INT_EQ(tf_marshal_value(json, &av, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(av == NULL);
	CHECK_STR_EQ(err, "top level: number 1e+300 is out of range (magnitude "
	    "over 9.9999999999999999999999999999999999999E+125)");
	cJSON_SetNumberValue(json, NAN);
	CHECK_INT_EQ(tf_marshal_value(json, &av, err, sizeof(err)), TF_ERR_INVALID);
	CHECK_STR_EQ(err, "top level: number is not finite");
	cJSON_Delete(json);
	/* cJSON_Raw carries an exact number; other raw text is refused. */
	json = cJSON_CreateRaw("12345678901234567890.5");
	CHECK_INT_EQ(tf_marshal_value(json, &av, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(cJSON_GetObjectItem(av, "N")->valuestring,
	    "12345678901234567890.5");
	cJSON_Delete(av);
	cJSON_Delete(json);
	json = cJSON_CreateRaw("[1]");
	CHECK_INT_EQ(tf_marshal_value(json, &av, err, sizeof(err)), TF_ERR_INVALID);
	CHECK_STR_EQ(err, "top level: \"[1]\" is not a JSON number");
	cJSON_Delete(json);
	/* Strings must be UTF-8. */
	json = cJSON_CreateString("ok \xff");
	CHECK_INT_EQ(tf_marshal_value(json, &av, err, sizeof(err)), TF_ERR_INVALID);
	CHECK_STR_EQ(err, "top level: string is not valid UTF-8");
	cJSON_Delete(json);
	CHECK_INT_EQ(tf_marshal_value(NULL, &av, err, sizeof(err)), TF_ERR_INVALID);
	CHECK_INT_EQ(tf_marshal_item(NULL, &av, err, sizeof(err)), TF_ERR_INVALID);
}

/* ---- refusals ---- */

struct refusal {
	const char *name;
	const char *text;  /* an item, as JSON text */
	size_t len;        /* 0: strlen(text) */
	enum tf_err rc;
	const char *msg;
};

#define RANGE_OVER "is out of range (magnitude over " \
	"9.9999999999999999999999999999999999999E+125)"
#define RANGE_UNDER "is out of range (magnitude under 1E-130)"

static const struct refusal refusals[] = {
	{ "empty attribute name", "{\"\":1}", 0, TF_ERR_INVALID,
	  "top level: empty attribute name" },
	{ "empty nested key", "{\"params\":{\"a\":{\"b\":{\"\":1}}}}", 0,
	  TF_ERR_INVALID, "params.a.b: empty key" },
	{ "empty key in list", "{\"l\":[0,{\"\":1}]}", 0, TF_ERR_INVALID,
	  "l[1]: empty key" },
	{ "odd keys in path", "{\"a b\":{\"x\\\"y\":{\"\":1}}}", 0, TF_ERR_INVALID,
	  "[\"a b\"][\"x\\\"y\"]: empty key" },
	{ "duplicate attribute", "{\"a\":1,\"a\":2}", 0, TF_ERR_INVALID,
	  "a: duplicate attribute name" },
	{ "duplicate key", "{\"p\":{\"x\":1,\"y\":2,\"x\":3}}", 0, TF_ERR_INVALID,
	  "p.x: duplicate key" },
	{ "duplicate among many", "{\"p\":{\"k0\":0,\"k1\":0,\"k2\":0,\"k3\":0,"
	  "\"k4\":0,\"k5\":0,\"k6\":0,\"k7\":0,\"k8\":0,\"k9\":0,\"ka\":0,"
	  "\"kb\":0,\"kc\":0,\"kd\":0,\"ke\":0,\"kf\":0,\"kg\":0,\"k7\":0}}", 0,
	  TF_ERR_INVALID, "p.k7: duplicate key" },
	{ "not an object", "[1]", 0, TF_ERR_INVALID,
	  "top level: not a JSON object" },
	{ "empty text", "  ", 0, TF_ERR_INVALID, "top level: not a JSON object" },
	{ "number too big", "{\"n\":1e400}", 0, TF_ERR_INVALID,
	  "n: number 1e400 " RANGE_OVER },
	{ "number 1e126", "{\"n\":1e126}", 0, TF_ERR_INVALID,
	  "n: number 1e126 " RANGE_OVER },
	{ "number 10e125", "{\"n\":-10e125}", 0, TF_ERR_INVALID,
	  "n: number -10e125 " RANGE_OVER },
	{ "number too small", "{\"n\":1e-131}", 0, TF_ERR_INVALID,
	  "n: number 1e-131 " RANGE_UNDER },
	{ "number 0.1e-130", "{\"n\":0.1e-130}", 0, TF_ERR_INVALID,
	  "n: number 0.1e-130 " RANGE_UNDER },
	{ "huge exponent", "{\"n\":1e99999999999999999999999}", 0, TF_ERR_INVALID,
	  "n: number 1e99999999999999999999999 " RANGE_OVER },
	{ "39 digits", "{\"n\":123456789012345678901234567890123456789}", 0,
	  TF_ERR_INVALID, "n: number 123456789012345678901234567890123456789 "
	  "has more than 38 significant digits" },
	{ "39 digits decimal", "{\"l\":[1,{\"x\":0.000123456789012345678901234567"
	  "8901234567891}]}", 0, TF_ERR_INVALID, "l[1].x: number "
	  "0.00012345678901234567890123456789012345... has more than 38 "
	  "significant digits" },
	{ "syntax: missing value", "{\"a\":}", 0, TF_ERR_INVALID,
	  "a: unexpected character (byte 5)" },
	{ "syntax: trailing comma", "{\"a\":1,}", 0, TF_ERR_INVALID,
	  "top level: expected a string key (byte 7)" },
	{ "syntax: leading zero", "{\"a\":01}", 0, TF_ERR_INVALID,
	  "top level: expected ',' or '}' (byte 6)" },
	{ "syntax: plus sign", "{\"a\":+1}", 0, TF_ERR_INVALID,
	  "a: unexpected character (byte 5)" },
	{ "syntax: bare fraction", "{\"a\":.5}", 0, TF_ERR_INVALID,
	  "a: unexpected character (byte 5)" },
	{ "syntax: trailing dot", "{\"a\":1.}", 0, TF_ERR_INVALID,
	  "a: bad number (byte 7)" },
	{ "syntax: NaN", "{\"a\":NaN}", 0, TF_ERR_INVALID,
	  "a: unexpected character (byte 5)" },
	{ "syntax: tru", "{\"a\":tru}", 0, TF_ERR_INVALID,
	  "a: unexpected character (byte 5)" },
	{ "syntax: unterminated", "{\"a\":\"abc", 0, TF_ERR_INVALID,
	  "a: unexpected end of JSON text (byte 9)" },
	{ "syntax: trailing data", "{\"a\":1} x", 0, TF_ERR_INVALID,
	  "top level: unexpected data after the JSON value (byte 8)" },
	{ "syntax: NUL after", "{\"a\":1}\0", 8, TF_ERR_INVALID,
	  "top level: unexpected data after the JSON value (byte 7)" },
	{ "syntax: raw tab", "{\"a\":\"x\ty\"}", 0, TF_ERR_INVALID,
	  "a: control character in string (byte 7)" },
	{ "syntax: bad escape", "{\"a\":\"\\x\"}", 0, TF_ERR_INVALID,
	  "a: bad escape in string (byte 7)" },
	{ "syntax: NUL escape", "{\"a\":\"\\u0000\"}", 0, TF_ERR_INVALID,
	  "a: \\u0000 is not supported in strings (byte 6)" },
	{ "syntax: lone surrogate", "{\"a\":\"\\ud800x\"}", 0, TF_ERR_INVALID,
	  "a: unpaired UTF-16 surrogate in string (byte 6)" },
	{ "syntax: lone low surrogate", "{\"a\":[\"\\udc00\"]}", 0, TF_ERR_INVALID,
	  "a[0]: unpaired UTF-16 surrogate in string (byte 7)" },
	{ "syntax: bad UTF-8", "{\"a\":\"x\xff\"}", 0, TF_ERR_INVALID,
	  "a: invalid UTF-8 in string (byte 7)" },
	{ "syntax: overlong UTF-8", "{\"a\":\"\xc0\xaf\"}", 0, TF_ERR_INVALID,
	  "a: invalid UTF-8 in string (byte 6)" },
	{ "syntax: UTF-8 surrogate", "{\"a\":\"\xed\xa0\x80\"}", 0, TF_ERR_INVALID,
	  "a: invalid UTF-8 in string (byte 6)" },
	{ "syntax: bad key UTF-8", "{\"\xf5\":1}", 0, TF_ERR_INVALID,
	  "top level: invalid UTF-8 in string (byte 2)" },
	{ "syntax: missing colon", "{\"a\" 1}", 0, TF_ERR_INVALID,
	  "top level: expected ':' (byte 5)" },
	{ "syntax: unclosed array", "{\"a\":[1 2]}", 0, TF_ERR_INVALID,
	  "a: expected ',' or ']' (byte 8)" },
};

static void
check_refusal(const struct refusal *tc)
{
	char err[256];
	cJSON *item = NULL;
	size_t len = tc->len != 0 ? tc->len : strlen(tc->text);

	CHECK_INT_EQ(tf_marshal_json_text(tc->text, len, &item, err, sizeof(err)),
	    tc->rc);
	CHECK(item == NULL);
	CHECK_STR_EQ(err, tc->msg);
}

/* Numbers at the edges that DynamoDB accepts. */
static void
test_numbers_accepted(void)
{
	static const char *const ok[] = {
		"1e125", "-1e125", "9.9999999999999999999999999999999999999E+125",
		"1e-130", "-1E-130", "0.00000000001e-119", "1000e122",
		"12345678901234567890123456789012345678",
		"0.00012345678901234567890123456789012345678",
		"123456789012345678901234567890123456780000000000",
		"0", "-0", "0e999999999999", "0.000", "1.0000000000000000000000000000000000000000000",
	};
	char err[256];
	cJSON *av = NULL;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (tf_marshal_value_json_text(ok[i], strlen(ok[i]), &av, err,
		    sizeof(err)) != TF_OK) {
			TF_FAIL_AT("%s refused: %s", ok[i], err);
			return;
		}
		CHECK_STR_EQ(cJSON_GetObjectItem(av, "N")->valuestring, ok[i]);
		cJSON_Delete(av);
		av = NULL;
	}
}

/* Builds n nested arrays around 1, as an item attribute `a` when `item`. */
static char *
nested(int n, int item)
{
	struct tf_buf b = TF_BUF_INIT;
	int i;

	if (item)
		tf_buf_append_str(&b, "{\"a\":");
	for (i = 0; i < n; i++)
		tf_buf_append_str(&b, i % 2 ? "{\"k\":" : "[");
	tf_buf_append_str(&b, "1");
	for (i = n - 1; i >= 0; i--)
		tf_buf_append_str(&b, i % 2 ? "}" : "]");
	if (item)
		tf_buf_append_str(&b, "}");
	return tf_buf_steal(&b);
}

/* The path to the 33rd container of nested(). */
static void
nested_path(char *out, size_t len, int item)
{
	int i;

	snprintf(out, len, "%s", item ? "a" : "");
	for (i = 0; i < 32; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s",
		    i % 2 ? (strlen(out) ? ".k" : "k") : "[0]");
}

/* Maps only, n deep around 1: the limit holds for a map as the 33rd
 * container as well as for a list (nested() ends in a list). */
static void
test_depth_of_maps(void)
{
	struct tf_buf b = TF_BUF_INIT;
	char err[256];
	cJSON *json, *av = NULL;
	int n, i;

	for (n = 32; n <= 33; n++) {
		tf_buf_reset(&b);
		for (i = 0; i < n; i++)
			tf_buf_append_str(&b, "{\"k\":");
		tf_buf_append_str(&b, "1");
		for (i = 0; i < n; i++)
			tf_buf_append_str(&b, "}");
		json = cJSON_Parse(tf_buf_str(&b));
		CHECK(json != NULL);
		CHECK_INT_EQ(tf_marshal_value(json, &av, err, sizeof(err)),
		    n == 32 ? TF_OK : TF_ERR_INVALID);
		cJSON_Delete(av);
		av = NULL;
		CHECK_INT_EQ(tf_marshal_value_json_text(tf_buf_str(&b), b.len, &av, err,
		    sizeof(err)), n == 32 ? TF_OK : TF_ERR_INVALID);
		cJSON_Delete(av);
		av = NULL;
		cJSON_Delete(json);
	}
	tf_buf_free(&b);
}

static void
test_depth(void)
{
	char err[256], want[512], path[256];
	cJSON *av = NULL, *json = NULL, *back = NULL;
	char *text;
	int item;

	for (item = 0; item <= 1; item++) {
		text = nested(32, item);
		CHECK_INT_EQ(item ? tf_marshal_json_text(text, strlen(text), &av, err,
		    sizeof(err)) : tf_marshal_value_json_text(text, strlen(text), &av,
		    err, sizeof(err)), TF_OK);
		tf_free(text);
		/* The same through the tree functions, both ways. */
		CHECK_INT_EQ(item ? tf_unmarshal_item(av, &json, err, sizeof(err)) :
		    tf_unmarshal_value(av, &json, err, sizeof(err)), TF_OK);
		cJSON_Delete(av);
		av = NULL;
		CHECK_INT_EQ(item ? tf_marshal_item(json, &av, err, sizeof(err)) :
		    tf_marshal_value(json, &av, err, sizeof(err)), TF_OK);
		cJSON_Delete(av);
		av = NULL;

		/* One more level is refused by the text parser... */
		nested_path(path, sizeof(path), item);
		snprintf(want, sizeof(want), "%s: nested deeper than 32 levels", path);
		text = nested(33, item);
		CHECK_INT_EQ(item ? tf_marshal_json_text(text, strlen(text), &av, err,
		    sizeof(err)) : tf_marshal_value_json_text(text, strlen(text), &av,
		    err, sizeof(err)), TF_ERR_INVALID);
		CHECK_STR_EQ(err, want);
		/* ...by the tree marshaller... */
		back = cJSON_Parse(text);
		tf_free(text);
		CHECK(back != NULL);
		CHECK_INT_EQ(item ? tf_marshal_item(back, &av, err, sizeof(err)) :
		    tf_marshal_value(back, &av, err, sizeof(err)), TF_ERR_INVALID);
		CHECK_STR_EQ(err, want);
		cJSON_Delete(back);
		back = NULL;
		cJSON_Delete(json);
		json = NULL;
	}
	/* An AV nested 33 deep from the network. */
	{
		struct tf_buf b = TF_BUF_INIT;
		int i;

		for (i = 0; i < 33; i++)
			tf_buf_append_str(&b, "{\"L\":[");
		tf_buf_append_str(&b, "{\"S\":\"x\"}");
		for (i = 0; i < 33; i++)
			tf_buf_append_str(&b, "]}");
		av = cJSON_Parse(tf_buf_str(&b));
		tf_buf_free(&b);
		CHECK(av != NULL);
		CHECK_INT_EQ(tf_unmarshal_value(av, &json, err, sizeof(err)),
		    TF_ERR_PARSE);
		CHECK_STR_EQ(err, "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
		    "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nested deeper "
		    "than 32 levels");
		CHECK_INT_EQ(tf_marshal_value_size(av), SIZE_MAX);
		cJSON_Delete(av);
	}
}

/* ---- item size ---- */

struct size_case {
	const char *av;  /* an item */
	size_t size;
};

static void
test_item_size(void)
{
	static const struct size_case cases[] = {
		{ "{}", 0 },
		{ "{\"id\":{\"S\":\"abc\"}}", 5 },
		{ "{\"n\":{\"N\":\"12345\"}}", 1 + 4 },
		{ "{\"n\":{\"N\":\"0\"}}", 1 + 2 },
		{ "{\"n\":{\"N\":\"100\"}}", 1 + 2 },
		{ "{\"n\":{\"N\":\"-0.00012\"}}", 1 + 3 },
		{ "{\"flag\":{\"BOOL\":true},\"z\":{\"NULL\":true}}", 5 + 2 },
		{ "{\"l\":{\"L\":[{\"S\":\"xy\"}]}}", 1 + 3 + 1 + 2 },
		{ "{\"m\":{\"M\":{\"ab\":{\"NULL\":true}}}}", 1 + 3 + 1 + 2 + 1 },
		{ "{\"e\":{\"M\":{}},\"f\":{\"L\":[]}}", 4 + 4 },
		{ "{\"b\":{\"B\":\"AAAA\"},\"c\":{\"B\":\"\"}}", 4 + 1 },
		{ "{\"bs\":{\"BS\":[\"AAAA\",\"AA==\"]}}", 2 + 3 + 1 },
		{ "{\"ss\":{\"SS\":[\"a\",\"bc\"]}}", 2 + 3 },
		{ "{\"ns\":{\"NS\":[\"1\",\"22\"]}}", 2 + 2 + 3 },
		{ "{\"\xc3\xa9\":{\"S\":\"\xe2\x9c\x93\"}}", 2 + 3 },
	};
	cJSON *item;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		item = cJSON_Parse(cases[i].av);
		CHECK(item != NULL);
		CHECK_MSG(tf_marshal_item_size(item) == cases[i].size,
		    "%s: %zu, expected %zu", cases[i].av, tf_marshal_item_size(item),
		    cases[i].size);
		cJSON_Delete(item);
	}
	CHECK_INT_EQ(tf_marshal_item_size(NULL), 0);
	CHECK_INT_EQ(tf_marshal_value_size(NULL), 0);
}

/* An item {"id": "<n x's>"} through the text marshaller. */
static enum tf_err
marshal_big(size_t n, char *err, size_t errlen)
{
	struct tf_buf b = TF_BUF_INIT;
	cJSON *item = NULL;
	enum tf_err rc;

	tf_buf_append_str(&b, "{\"id\":\"");
	tf_buf_reserve(&b, n + 2);
	while (n-- > 0)
		tf_buf_append_char(&b, 'x');
	tf_buf_append_str(&b, "\"}");
	rc = tf_marshal_json_text(tf_buf_str(&b), b.len, &item, err, errlen);
	if (rc == TF_OK && tf_marshal_item_size(item) != TF_MARSHAL_MAX_ITEM_SIZE)
		rc = TF_ERR__COUNT;
	cJSON_Delete(item);
	tf_buf_free(&b);
	return rc;
}

static void
test_item_size_limit(void)
{
	char err[256];
	cJSON *json, *av = NULL;
	char *big;

	/* "id" (2) + the string: exactly 400 KB is fine, one byte more is not. */
	CHECK_INT_EQ(marshal_big(TF_MARSHAL_MAX_ITEM_SIZE - 2, err, sizeof(err)),
	    TF_OK);
	CHECK_INT_EQ(marshal_big(TF_MARSHAL_MAX_ITEM_SIZE - 1, err, sizeof(err)),
	    TF_ERR_TOO_LARGE);
	CHECK_STR_EQ(err, "top level: item is 409601 bytes, over DynamoDB's item "
	    "limit of 409600 bytes (400 KB)");

	/* A single value over the limit, through the tree function. */
	big = tf_malloc(TF_MARSHAL_MAX_ITEM_SIZE + 2);
	CHECK(big != NULL);
	memset(big, 'y', TF_MARSHAL_MAX_ITEM_SIZE + 1);
	big[TF_MARSHAL_MAX_ITEM_SIZE + 1] = '\0';
	json = cJSON_CreateString(big);
	big[TF_MARSHAL_MAX_ITEM_SIZE] = '\0';
	CHECK(json != NULL);
	CHECK_INT_EQ(tf_marshal_value(json, &av, err, sizeof(err)),
	    TF_ERR_TOO_LARGE);
	CHECK_STR_EQ(err, "top level: value is 409601 bytes, over DynamoDB's item "
	    "limit of 409600 bytes (400 KB)");
	cJSON_SetValuestring(json, big);
	CHECK_INT_EQ(tf_marshal_value(json, &av, err, sizeof(err)), TF_OK);
	cJSON_Delete(av);
	cJSON_Delete(json);
	tf_free(big);
}

static void
test_long_names(void)
{
	struct tf_buf b = TF_BUF_INIT;
	char err[256];
	cJSON *item = NULL;
	size_t i;

	tf_buf_append_str(&b, "{\"");
	for (i = 0; i < TF_MARSHAL_MAX_NAME; i++)
		tf_buf_append_char(&b, 'k');
	tf_buf_append_str(&b, "\":1}");
	CHECK_INT_EQ(tf_marshal_json_text(b.data, b.len, &item, err, sizeof(err)),
	    TF_OK);
	cJSON_Delete(item);
	b.len -= 4;
	tf_buf_append_str(&b, "k\":1}");
	CHECK_INT_EQ(tf_marshal_json_text(b.data, b.len, &item, err, sizeof(err)),
	    TF_ERR_INVALID);
	CHECK_STR_EQ(err, "top level: attribute name of 65536 bytes (more than "
	    "65535)");
	tf_buf_free(&b);
}

/* ---- AVs from the network ---- */

struct bad_av {
	const char *av;
	int item;  /* through tf_unmarshal_item rather than _value */
	const char *msg;
};

static const struct bad_av bad_avs[] = {
	{ "\"x\"", 0, "top level: not an AttributeValue (a JSON object)" },
	{ "{}", 0, "top level: AttributeValue without a type" },
	{ "{\"S\":\"a\",\"N\":\"1\"}", 0,
	  "top level: AttributeValue with more than one type (\"S\", \"N\")" },
	{ "{\"X\":1}", 0, "top level: unknown AttributeValue type \"X\"" },
	{ "{\"s\":\"x\"}", 0, "top level: unknown AttributeValue type \"s\"" },
	{ "{\"S\":1}", 0, "top level: S is not a JSON string" },
	{ "{\"S\":null}", 0, "top level: S is not a JSON string" },
	{ "{\"S\":\"\xff\"}", 0, "top level: S is not valid UTF-8" },
	{ "{\"N\":1}", 0, "top level: N is not a JSON string" },
	{ "{\"N\":\"abc\"}", 0, "top level: N \"abc\" is not a number" },
	{ "{\"N\":\"\"}", 0, "top level: N \"\" is not a number" },
	{ "{\"N\":\"1 \"}", 0, "top level: N \"1 \" is not a number" },
	{ "{\"N\":\"0x10\"}", 0, "top level: N \"0x10\" is not a number" },
	{ "{\"N\":\"1e\"}", 0, "top level: N \"1e\" is not a number" },
	{ "{\"N\":\"Infinity\"}", 0, "top level: N \"Infinity\" is not a number" },
	{ "{\"N\":\"1e400\"}", 0, "top level: N 1e400 " RANGE_OVER },
	{ "{\"B\":\"abc\"}", 0, "top level: B is not base64" },
	{ "{\"B\":\"ab=c\"}", 0, "top level: B is not base64" },
	{ "{\"B\":true}", 0, "top level: B is not a JSON string" },
	{ "{\"BOOL\":\"true\"}", 0, "top level: BOOL is not true or false" },
	{ "{\"NULL\":false}", 0, "top level: NULL is not true" },
	{ "{\"NULL\":1}", 0, "top level: NULL is not true" },
	{ "{\"M\":[]}", 0, "top level: M is not a JSON object" },
	{ "{\"L\":{}}", 0, "top level: L is not a JSON array" },
	{ "{\"SS\":\"a\"}", 0, "top level: SS is not a JSON array" },
	{ "{\"L\":[{\"S\":\"a\"},{\"Q\":1}]}", 0,
	  "[1]: unknown AttributeValue type \"Q\"" },
	{ "{\"L\":[{\"S\":\"a\"},[]]}", 0,
	  "[1]: not an AttributeValue (a JSON object)" },
	{ "{\"M\":{\"a\":{\"M\":{\"b\":{\"N\":\"x\"}}}}}", 0,
	  "a.b: N \"x\" is not a number" },
	{ "{\"M\":{\"a\":{\"S\":\"x\"},\"a\":{\"S\":\"y\"}}}", 0, "a: duplicate key" },
	{ "{\"SS\":[\"a\",1]}", 0, "[1]: SS member is not a JSON string" },
	{ "{\"NS\":[\"1\",\"x\"]}", 0, "[1]: NS member \"x\" is not a number" },
	{ "{\"BS\":[\"AAAA\",\"A\"]}", 0, "[1]: BS member is not base64" },
	{ "{\"M\":{\"k\":{\"S\":\"\\\"quoted\\\" and a very long string\"}, "
	  "\"k2\":{\"T\":\"\"}}}", 0, "k2: unknown AttributeValue type \"T\"" },
	{ "[]", 1, "top level: not an item (a JSON object)" },
	{ "{\"a\":{\"S\":\"x\"},\"a\":{\"N\":\"1\"}}", 1,
	  "a: duplicate attribute name" },
	{ "{\"a\":{\"S\":\"x\"},\"b\":{}}", 1, "b: AttributeValue without a type" },
	{ "{\"a\":\"x\"}", 1, "a: not an AttributeValue (a JSON object)" },
};

static void
check_bad_av(const struct bad_av *tc)
{
	char err[256];
	cJSON *av = cJSON_Parse(tc->av), *json = NULL;
	char *text = NULL;

	CHECK(av != NULL);
	CHECK_INT_EQ(tc->item ? tf_unmarshal_item(av, &json, err, sizeof(err)) :
	    tf_unmarshal_value(av, &json, err, sizeof(err)), TF_ERR_PARSE);
	CHECK(json == NULL);
	CHECK_STR_EQ(err, tc->msg);
	CHECK_INT_EQ(tc->item ? tf_unmarshal_to_json_text(av, &text, err,
	    sizeof(err)) : tf_unmarshal_value_to_json_text(av, &text, err,
	    sizeof(err)), TF_ERR_PARSE);
	CHECK(text == NULL);
	CHECK_STR_EQ(err, tc->msg);
	cJSON_Delete(av);
}

/* Trees no parser would build: members without names, odd cJSON types. */
static void
test_unmarshal_odd_trees(void)
{
	char err[256];
	cJSON *av = cJSON_CreateObject(), *json = NULL;

	CHECK(av != NULL);
	cJSON_AddItemToArray(av, cJSON_CreateString("x"));  /* no name */
	CHECK_INT_EQ(tf_unmarshal_value(av, &json, err, sizeof(err)), TF_ERR_PARSE);
	CHECK_STR_EQ(err, "top level: AttributeValue member without a name");
	CHECK_INT_EQ(tf_unmarshal_item(av, &json, err, sizeof(err)), TF_ERR_PARSE);
	CHECK_STR_EQ(err, "top level: member without a name");
	cJSON_Delete(av);
	CHECK_INT_EQ(tf_unmarshal_value(NULL, &json, err, sizeof(err)),
	    TF_ERR_PARSE);
	CHECK_INT_EQ(tf_unmarshal_item(NULL, &json, err, sizeof(err)),
	    TF_ERR_PARSE);
	/* Marshalling a cJSON_Invalid item. */
	av = cJSON_CreateNull();
	CHECK(av != NULL);
	av->type = cJSON_Invalid;
	CHECK_INT_EQ(tf_marshal_value(av, &json, err, sizeof(err)), TF_ERR_INVALID);
	CHECK_STR_EQ(err, "top level: not a JSON value (cJSON type 0)");
	cJSON_Delete(av);
}

struct good_av {
	const char *av;
	const char *json;  /* what tf_unmarshal_value_to_json_text writes */
};

static void
test_unmarshal_accepts(void)
{
	static const struct good_av cases[] = {
		{ "{\"B\":\"aGk=\"}", "\"aGk=\"" },
		{ "{\"B\":\"\"}", "\"\"" },
		{ "{\"SS\":[\"a\",\"b\",\"a\"]}", "[\"a\",\"b\",\"a\"]" },
		{ "{\"NS\":[\"1\",\"+2\",\".5\",\"5.\",\"007\",\"-00.10E+3\"]}",
		  "[1,2,0.5,5,7,-0.10e+3]" },
		{ "{\"BS\":[]}", "[]" },
		{ "{\"BS\":[\"AAAA\",\"AA==\"]}", "[\"AAAA\",\"AA==\"]" },
		{ "{\"M\":{\"\":{\"S\":\"x\"}}}", "{\"\":\"x\"}" },
		{ "{\"N\":\"-0\"}", "-0" },
		{ "{\"N\":\"1E+2\"}", "1E+2" },
		{ "{\"N\":\"123456789012345678901234567890.12345678\"}",
		  "123456789012345678901234567890.12345678" },
		{ "{\"S\":\"a\\\"b\\n\\u0001\"}", "\"a\\\"b\\n\\u0001\"" },
		{ "{\"BOOL\":false}", "false" },
		{ "{\"NULL\":true}", "null" },
		{ "{\"L\":[{\"M\":{}},{\"L\":[]}]}", "[{},[]]" },
	};
	char err[256];
	cJSON *av, *json = NULL;
	char *text = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		av = cJSON_Parse(cases[i].av);
		CHECK(av != NULL);
		if (tf_unmarshal_value_to_json_text(av, &text, err, sizeof(err)) !=
		    TF_OK) {
			TF_FAIL_AT("%s: %s", cases[i].av, err);
			cJSON_Delete(av);
			return;
		}
		CHECK_INT_EQ(tf_unmarshal_value(av, &json, err, sizeof(err)), TF_OK);
		cJSON_Delete(av);
		cJSON_Delete(json);
		json = NULL;
		if (strcmp(text, cases[i].json) != 0) {
			TF_FAIL_AT("%s: got %s, expected %s", cases[i].av, text,
			    cases[i].json);
			tf_free(text);
			return;
		}
		tf_free(text);
		text = NULL;
	}
	/* The tree form holds N as a double. */
	av = cJSON_Parse("{\"N\":\"12.5\"}");
	CHECK(av != NULL);
	CHECK_INT_EQ(tf_unmarshal_value(av, &json, err, sizeof(err)), TF_OK);
	CHECK(cJSON_IsNumber(json) && json->valuedouble == 12.5);
	cJSON_Delete(json);
	cJSON_Delete(av);
}

/* ---- error buffers ---- */

static void
test_errbuf(void)
{
	char err[8];
	cJSON *item = NULL;
	const char *bad = "{\"\":1}";

	CHECK_INT_EQ(tf_marshal_json_text(bad, strlen(bad), &item, NULL, 0),
	    TF_ERR_INVALID);
	memset(err, 'z', sizeof(err));
	CHECK_INT_EQ(tf_marshal_json_text(bad, strlen(bad), &item, err, 1),
	    TF_ERR_INVALID);
	CHECK_INT_EQ(err[0], '\0');
	CHECK_INT_EQ(err[1], 'z');
	CHECK_INT_EQ(tf_marshal_json_text(bad, strlen(bad), &item, err,
	    sizeof(err)), TF_ERR_INVALID);
	CHECK_STR_EQ(err, "top lev");
	CHECK_INT_EQ(tf_marshal_json_text("{}", 2, &item, err, sizeof(err)),
	    TF_OK);
	CHECK_STR_EQ(err, "");
	cJSON_Delete(item);
	CHECK_INT_EQ(tf_marshal_json_text(NULL, 0, &item, err, sizeof(err)),
	    TF_ERR_INVALID);
}

/* ---- allocation failures ---- */

static const char alloc_doc[] =
	"{\"id\":\"t1\",\"n\":12345678901234567890,\"params\":{\"url\":"
	"\"https://example.com/\\u00e9\",\"list\":[1,2.5,-3e10,true,null,[],{}],"
	"\"many\":{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,"
	"\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"ka\":10,\"kb\":11,\"kc\":12,"
	"\"kd\":13,\"ke\":14,\"kf\":15,\"kg\":16,\"kh\":17}}}";

/* alloc_doc as it comes back: the \u00e9 escape decoded. */
static const char alloc_doc_back[] =
	"{\"id\":\"t1\",\"n\":12345678901234567890,\"params\":{\"url\":"
	"\"https://example.com/\xc3\xa9\",\"list\":[1,2.5,-3e10,true,null,[],{}],"
	"\"many\":{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,"
	"\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"ka\":10,\"kb\":11,\"kc\":12,"
	"\"kd\":13,\"ke\":14,\"kf\":15,\"kg\":16,\"kh\":17}}}";

static const char alloc_av[] =
	"{\"M\":{\"b\":{\"B\":\"aGk=\"},\"ss\":{\"SS\":[\"a\",\"b\"]},"
	"\"ns\":{\"NS\":[\"1\",\"+2\"]},\"l\":{\"L\":[{\"N\":\"1.5\"},"
	"{\"NULL\":true},{\"BOOL\":false}]}}}";

/* 0: the call worked; 1: it failed cleanly with TF_ERR_NOMEM; -1: neither. */
static int
outcome(enum tf_err rc, const void *out, const char *err)
{
	if (rc == TF_ERR_NOMEM)
		return out == NULL && strcmp(err, "out of memory") == 0 ? 1 : -1;
	return rc == TF_OK && out != NULL ? 0 : -1;
}

/* One run of every function; each step runs only if the one before worked.
 * Returns 1 when some step reported TF_ERR_NOMEM, 0 when all worked, -1 on
 * any other outcome or broken output. */
static int
alloc_run(const cJSON *tree, const cJSON *av_in)
{
	char err[128];
	cJSON *item = NULL, *json = NULL, *av = NULL;
	char *text = NULL;
	enum tf_err rc;
	int result;

	rc = tf_marshal_json_text(alloc_doc, sizeof(alloc_doc) - 1, &item, err,
	    sizeof(err));
	if ((result = outcome(rc, item, err)) != 0)
		goto out;
	rc = tf_unmarshal_to_json_text(item, &text, err, sizeof(err));
	if ((result = outcome(rc, text, err)) != 0)
		goto out;
	if (strcmp(text, alloc_doc_back) != 0) {
		result = -1;
		goto out;
	}
	rc = tf_marshal_item(tree, &av, err, sizeof(err));
	if ((result = outcome(rc, av, err)) != 0)
		goto out;
	rc = tf_unmarshal_item(av, &json, err, sizeof(err));
	if ((result = outcome(rc, json, err)) != 0)
		goto out;
	cJSON_Delete(av);
	av = NULL;
	rc = tf_marshal_value(json, &av, err, sizeof(err));
	if ((result = outcome(rc, av, err)) != 0)
		goto out;
	cJSON_Delete(json);
	json = NULL;
	rc = tf_unmarshal_value(av_in, &json, err, sizeof(err));
	if ((result = outcome(rc, json, err)) != 0)
		goto out;
	tf_free(text);
	text = NULL;
	rc = tf_unmarshal_value_to_json_text(av_in, &text, err, sizeof(err));
	if ((result = outcome(rc, text, err)) != 0)
		goto out;
	cJSON_Delete(av);
	av = NULL;
	rc = tf_marshal_value_json_text(text, strlen(text), &av, err, sizeof(err));
	result = outcome(rc, av, err);
out:
	cJSON_Delete(item);
	cJSON_Delete(json);
	cJSON_Delete(av);
	tf_free(text);
	return result;
}

static void
test_alloc_failures(void)
{
	cJSON *tree = cJSON_Parse(alloc_doc);
	cJSON *av_in = cJSON_Parse(alloc_av);
	long n, before;
	int r, injected;

	CHECK(tree != NULL && av_in != NULL);
	for (n = 0; n < 100000; n++) {
		before = tf_alloc_failures();
		tf_alloc_fail_after(n);
		r = alloc_run(tree, av_in);
		tf_alloc_fail_after(-1);
		injected = tf_alloc_failures() != before;
		if (r < 0 || (injected && r != 1) || (!injected && r != 0)) {
			TF_FAIL_AT("failing allocation %ld: result %d, injected %d",
			    n, r, injected);
			break;
		}
		if (!injected)
			break;
	}
	cJSON_Delete(tree);
	cJSON_Delete(av_in);
	CHECK_MSG(n > 50, "only %ld allocations walked", n);
	printf("# walked %ld allocation failures\n", n);
}

/* Writes a test name made of `prefix` and `text`, non-ASCII bytes as '?'. */
static void
test_name(char *out, size_t len, const char *prefix, const char *text)
{
	size_t i;

	snprintf(out, len, "%s%s", prefix, text);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
			out[i] = '?';
}

int
main(void)
{
	char name[160];
	size_t i;

	tf_alloc_init();
	for (i = 0; i < sizeof(av_cases) / sizeof(av_cases[0]); i++) {
		test_name(name, sizeof(name), "marshal_value_text ", av_cases[i].json);
		TF_RUN_NAMED(name, check_av_case, &av_cases[i]);
	}
	for (i = 0; i < sizeof(rt_cases) / sizeof(rt_cases[0]); i++) {
		snprintf(name, sizeof(name), "roundtrip_text #%zu", i);
		TF_RUN_NAMED(name, check_rt_case, &rt_cases[i]);
	}
	TF_RUN(test_value_text_roundtrip);
	TF_RUN(test_tree_roundtrip);
	TF_RUN(test_tree_numbers);
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		snprintf(name, sizeof(name), "refuse %s", refusals[i].name);
		TF_RUN_NAMED(name, check_refusal, &refusals[i]);
	}
	TF_RUN(test_numbers_accepted);
	TF_RUN(test_depth);
	TF_RUN(test_depth_of_maps);
	TF_RUN(test_item_size);
	TF_RUN(test_item_size_limit);
	TF_RUN(test_long_names);
	for (i = 0; i < sizeof(bad_avs) / sizeof(bad_avs[0]); i++) {
		test_name(name, sizeof(name), "malformed_av ", bad_avs[i].av);
		TF_RUN_NAMED(name, check_bad_av, &bad_avs[i]);
	}
	TF_RUN(test_unmarshal_odd_trees);
	TF_RUN(test_unmarshal_accepts);
	TF_RUN(test_errbuf);
	TF_RUN(test_alloc_failures);
	return tf_test_summary();
}
