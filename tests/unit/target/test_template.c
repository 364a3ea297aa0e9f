/* test_template.c - the AWS targets' placeholders (lib/target/template.c):
 * every placeholder filled, JSON escaping left to the JSON writer, keys
 * untouched, unknown placeholders refused, <taskfleet.attempt> refused where
 * every attempt must send the same payload. */
#include "harness.h"

#include <cjson/cJSON.h>

#include "base/alloc.h"
#include "base/err.h"
#include "target/template.h"

/* 2026-12-07T09:00:00.000Z */
#define DUE_MS 1796634000000LL

static const struct tf_template_ctx ctx = {
	.task_id = "a\"b\\c", .ns = "reports", .iteration = 7, .attempt = 2,
	.scheduled_ms = DUE_MS,
};

static void
test_every_placeholder_filled(void)
{
	char *out = NULL;

	CHECK_INT_EQ(tf_template_string("<taskfleet.task-id>|<taskfleet.namespace>|"
	    "<taskfleet.iteration>|<taskfleet.attempt>|<taskfleet.scheduled-time>|"
	    "<taskfleet.scheduled-time-ms>", &ctx, &out), TF_OK);
	CHECK_STR_EQ(out, "a\"b\\c|reports|7|2|2026-12-07T09:00:00.000Z|"
	    "1796634000000");
	tf_free(out);
}

static void
test_text_without_placeholders_unchanged(void)
{
	char *out = NULL;

	CHECK_INT_EQ(tf_template_string("plain <taskfleet text> <aws.x>", &ctx,
	    &out), TF_OK);
	CHECK_STR_EQ(out, "plain <taskfleet text> <aws.x>");
	tf_free(out);
}

/* A task id with a quote and a backslash stays inside its string: the
 * document keeps its shape, keys are never templated. */
static void
test_json_escaped_and_keys_untouched(void)
{
	cJSON *v = cJSON_Parse("{\"<taskfleet.task-id>\": \"id=<taskfleet.task-id>\","
	    " \"n\": [\"<taskfleet.iteration>\", 1, {\"t\": \"<taskfleet.scheduled-time-ms>\"}]}");
	char *text;

	CHECK(v != NULL);
	CHECK_INT_EQ(tf_template_apply(v, &ctx), TF_OK);
	text = cJSON_PrintUnformatted(v);
	cJSON_Delete(v);
	CHECK(text != NULL);
	CHECK_MSG(strcmp(text, "{\"<taskfleet.task-id>\":\"id=a\\\"b\\\\c\","
	    "\"n\":[\"7\",1,{\"t\":\"1796634000000\"}]}") == 0, "got %s", text);
	cJSON_free(text);
}

static void
test_unknown_placeholder_refused(void)
{
	cJSON *v = cJSON_Parse("{\"a\": [\"ok <taskfleet.iteration>\", "
	    "\"<taskfleet.itteration>\"]}");
	char err[200] = "";

	CHECK(v != NULL);
	CHECK_INT_EQ(tf_template_check(v, "params.body", false, err, sizeof(err)),
	    TF_ERR_INVALID);
	cJSON_Delete(v);
	CHECK_MSG(strstr(err, "params.body") != NULL &&
	    strstr(err, "<taskfleet.itteration>") != NULL, "err: %s", err);
}

static void
test_attempt_refused_when_asked(void)
{
	cJSON *v = cJSON_CreateString("try <taskfleet.attempt>");
	char err[200] = "";

	CHECK(v != NULL);
	CHECK_INT_EQ(tf_template_check(v, "params.input", false, err, sizeof(err)),
	    TF_OK);
	CHECK_INT_EQ(tf_template_check(v, "params.input", true, err, sizeof(err)),
	    TF_ERR_INVALID);
	cJSON_Delete(v);
	CHECK_MSG(strstr(err, "same payload") != NULL, "err: %s", err);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_every_placeholder_filled);
	TF_RUN(test_text_without_placeholders_unchanged);
	TF_RUN(test_json_escaped_and_keys_untouched);
	TF_RUN(test_unknown_placeholder_refused);
	TF_RUN(test_attempt_refused_when_asked);
	return tf_test_summary();
}
