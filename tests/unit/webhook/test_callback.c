/* test_callback.c - completion callbacks' URL check, body and the SSRF
 * guard before any connection (lib/webhook/callback.c). Delivery itself is
 * tested end to end by tests/scripts/engine_callbacks.sh. */
#include "harness.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "base/alloc.h"
#include "base/err.h"
#include "webhook/callback.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void
test_url_accepted(void)
{
	static const char *const good[] = {
		NULL, "", "http://127.0.0.1:8080/cb", "https://hooks.example.com/x?a=1",
		"http://[::1]:9/p",
	};
	char why[128];
	size_t i;

	for (i = 0; i < NELEM(good); i++)
		CHECK_MSG(tf_callback_url_check(good[i], why, sizeof(why)) == TF_OK,
		    "refused %s: %s", good[i] ? good[i] : "(null)", why);
}

static void
test_url_refused(void)
{
	static const struct { const char *url, *why; } bad[] = {
		{ "ftp://127.0.0.1/x", "must be an http:// or https:// URL" },
		{ "http://", "must be an http:// or https:// URL" },
		{ "https:///path", "must be an http:// or https:// URL" },
		{ "127.0.0.1/cb", "must be an http:// or https:// URL" },
		{ "http://a b/", "holds a space or control character (byte 8)" },
		{ "http://a/\n", "holds a space or control character (byte 9)" },
	};
	char why[128], *longer;
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		CHECK_MSG(tf_callback_url_check(bad[i].url, why, sizeof(why)) ==
		    TF_ERR_INVALID, "accepted %s", bad[i].url);
		CHECK_MSG(strncmp(why, bad[i].why, strlen(bad[i].why)) == 0,
		    "%s: %s", bad[i].url, why);
	}
	longer = tf_malloc(TF_CALLBACK_URL_MAX + 2);
	CHECK(longer != NULL);
	memset(longer, 'a', TF_CALLBACK_URL_MAX + 1);
	memcpy(longer, "http://", 7);
	longer[TF_CALLBACK_URL_MAX + 1] = '\0';
	i = tf_callback_url_check(longer, why, sizeof(why)) == TF_ERR_INVALID &&
	    strstr(why, "too long") != NULL;
	longer[TF_CALLBACK_URL_MAX] = '\0';
	i = i && tf_callback_url_check(longer, why, sizeof(why)) == TF_OK;
	tf_free(longer);
	CHECK_MSG(i, "the %d-byte limit", TF_CALLBACK_URL_MAX);
}

static void
test_body(void)
{
	struct tf_callback_run run = {
		.task_id = "t\"1", .ns = "default", .type = "noop",
		.event = "failed", .iteration = 2, .attempt = 3,
		.error = "boom", .result_json = "{\"n\": 12345678901}",
		.duration_ms = 41, .finished_ms = 1796634000041LL,
	};
	cJSON *doc;
	char *text = NULL;

	CHECK(tf_callback_body(&run, &text) == TF_OK);
	doc = cJSON_Parse(text);
	tf_free(text);
	CHECK(doc != NULL);
	CHECK_STR_EQ(cJSON_GetObjectItem(doc, "task_id")->valuestring, "t\"1");
	CHECK_STR_EQ(cJSON_GetObjectItem(doc, "event")->valuestring, "failed");
	CHECK_INT_EQ(cJSON_GetObjectItem(doc, "iteration")->valuedouble, 2);
	CHECK_INT_EQ(cJSON_GetObjectItem(doc, "attempt")->valuedouble, 3);
	CHECK_STR_EQ(cJSON_GetObjectItem(doc, "error")->valuestring, "boom");
	CHECK_STR_EQ(cJSON_GetObjectItem(doc, "finished_at")->valuestring,
	    "2026-12-07T09:00:00.041Z");
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(doc, "result")));
	cJSON_Delete(doc);

	/* No error and a result that is not JSON: both left out. */
	run.error = NULL;
	run.result_json = "{not json";
	CHECK(tf_callback_body(&run, &text) == TF_OK);
	doc = cJSON_Parse(text);
	tf_free(text);
	CHECK(doc != NULL);
	CHECK(cJSON_GetObjectItem(doc, "error") == NULL);
	CHECK(cJSON_GetObjectItem(doc, "result") == NULL);
	cJSON_Delete(doc);
}

/* A result that would make the body longer than TF_CALLBACK_BODY_MAX is
 * left out, and said to be (the body is kept on the item until delivered);
 * one just within it is kept. */
static void
test_body_big_result(void)
{
	struct tf_callback_run run = {
		.task_id = "big", .ns = "default", .type = "noop",
		.event = "completed", .iteration = 0, .attempt = 1,
		.duration_ms = 1, .finished_ms = 1796634000041LL,
	};
	size_t pad = TF_CALLBACK_BODY_MAX + 1;
	char *result = tf_calloc(1, pad + 16), *text = NULL;
	cJSON *doc;

	CHECK(result != NULL);
	if (result == NULL)
		return;
	/* {"pad":"xxx..."}: longer than the limit on its own. */
	memcpy(result, "{\"pad\":\"", 8);
	memset(result + 8, 'x', pad);
	memcpy(result + 8 + pad, "\"}", 3);
	run.result_json = result;
	CHECK(tf_callback_body(&run, &text) == TF_OK);
	CHECK(text != NULL && strlen(text) <= TF_CALLBACK_BODY_MAX);
	doc = cJSON_Parse(text);
	tf_free(text);
	CHECK(doc != NULL);
	CHECK(cJSON_GetObjectItem(doc, "result") == NULL);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(doc, "result_omitted")));
	CHECK_STR_EQ(cJSON_GetObjectItem(doc, "event")->valuestring, "completed");
	cJSON_Delete(doc);

	/* 1 KiB of result: kept, and nothing said of it. */
	memcpy(result + 8 + 1024, "\"}", 3);
	CHECK(tf_callback_body(&run, &text) == TF_OK);
	doc = cJSON_Parse(text);
	tf_free(text);
	CHECK(doc != NULL);
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(doc, "result")));
	CHECK(cJSON_GetObjectItem(doc, "result_omitted") == NULL);
	cJSON_Delete(doc);
	tf_free(result);
}

/* Loopback is not on the (empty) allow-list: refused before connecting,
 * after one attempt (a refusal is not retried). */
static void
test_guard_refuses_before_connecting(void)
{
	struct tf_callback_env env = { .backoff_ms = 1 };
	char why[256];
	int attempts = 0;

	CHECK(tf_callback_deliver(&env, "http://127.0.0.1:9/cb", "t/0/completed",
	    "{}", &attempts, why, sizeof(why)) == TF_ERR_INVALID);
	CHECK_INT_EQ(attempts, 1);
	CHECK_MSG(strstr(why, "refused: 127.0.0.1 is a loopback address") != NULL,
	    "%s", why);
}

int
main(void)
{
	tf_alloc_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	TF_RUN(test_url_accepted);
	TF_RUN(test_url_refused);
	TF_RUN(test_body);
	TF_RUN(test_body_big_result);
	TF_RUN(test_guard_refuses_before_connecting);
	curl_global_cleanup();
	return tf_test_summary();
}
