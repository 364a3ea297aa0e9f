/* test_dlq.c - the dead-letter queue's redrive (lib/task/dlq.c) against a
 * scripted loopback SQS: how many messages a run holds (max_held), that
 * one message asked for by id ends the receiving once found, the actions
 * each message gets, and that every message not moved is released. */
#include "harness.h"

#include "aws/aws.h"
#include "aws/creds.h"
#include "base/alloc.h"
#include "fake_aws.h"
#include "task/dlq.h"

static struct fake_http server;
static struct tf_creds_provider *creds;

/* Two messages, of tasks a and b. */
static const char two_messages[] =
    "{\"Messages\":["
    "{\"MessageId\":\"m-a\",\"ReceiptHandle\":\"r-a\","
    "\"Body\":\"{\\\"taskId\\\":\\\"a\\\",\\\"gen\\\":1}\"},"
    "{\"MessageId\":\"m-b\",\"ReceiptHandle\":\"r-b\","
    "\"Body\":\"{\\\"taskId\\\":\\\"b\\\",\\\"gen\\\":1}\"}]}";
static const char released[] = "{\"Successful\":[{\"Id\":\"m0\"},{\"Id\":\"m1\"}],"
    "\"Failed\":[]}";

/* A run on the fake server's queue and its dead-letter queue. */
static void
run_init(struct tf_dlq_run *r, struct tf_aws *aws)
{
	char url[96];

	memset(r, 0, sizeof(*r));
	r->aws = aws;
	r->queue_url = "http://127.0.0.1/1/q";
	r->table = "t";
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/1/q-dlq", server.port);
	r->dlq_url = tf_strdup(url);
}

/* A run that may hold two messages, looking for one it never finds: it
 * receives two (asking for two), stops there with at_limit, moves nothing
 * and releases both. */
static void
test_max_held_bounds_the_receiving(void)
{
	struct fake_reply script[] = {
		{ 200, two_messages, 0, 0 },
		{ 200, released, 0, 0 },
		{ 200, "{}", 0, 0 },
	};
	struct tf_dlq_redrive_opts o = { .message_id = "m-z", .max_held = 2 };
	struct tf_dlq_redrive_result res;
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_dlq_run r;

	CHECK(aws != NULL);
	if (aws == NULL)
		return;
	fake_http_script(&server, script, 3);
	run_init(&r, aws);
	tf_dlq_redrive(&r, &o, &res);
	CHECK(strstr(server.last_request, "ChangeMessageVisibilityBatch") != NULL);
	CHECK_INT_EQ(fake_http_requests(&server), 2);
	CHECK_INT_EQ((int)r.n, 2);
	CHECK(res.at_limit);
	CHECK_INT_EQ((int)res.count[TF_DLQ_OTHER], 2);
	CHECK_INT_EQ((int)res.left, 0);
	CHECK(!r.failed);
	tf_dlq_run_free(&r);
	tf_aws_free(aws);
}

/* One message by id, in a dry run: found in the first receive, the run
 * receives no more; it would move that one, leaves the other, and releases
 * both. */
static void
test_one_message_stops_once_found(void)
{
	struct fake_reply script[] = {
		{ 200, two_messages, 0, 0 },
		{ 200, released, 0, 0 },
		{ 200, "{}", 0, 0 },
	};
	struct tf_dlq_redrive_opts o = { .message_id = "m-b", .dry_run = true };
	struct tf_dlq_redrive_result res;
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_dlq_run r;
	cJSON *j;

	CHECK(aws != NULL);
	if (aws == NULL)
		return;
	fake_http_script(&server, script, 3);
	run_init(&r, aws);
	tf_dlq_redrive(&r, &o, &res);
	CHECK_INT_EQ(fake_http_requests(&server), 2);
	CHECK(!res.at_limit);
	CHECK_INT_EQ((int)res.count[TF_DLQ_MOVE], 1);
	CHECK_INT_EQ((int)res.count[TF_DLQ_OTHER], 1);
	CHECK_INT_EQ((int)r.v[1].act, TF_DLQ_MOVE);
	CHECK_STR_EQ(tf_dlq_action_name(r.v[1].act), "would_move");
	j = tf_dlq_redrive_json(&r, true, &res);
	CHECK(j != NULL && cJSON_GetArraySize(cJSON_GetObjectItem(j,
	    "messages")) == 1);
	cJSON_Delete(j);
	tf_dlq_run_free(&r);
	tf_aws_free(aws);
}

int
main(void)
{
	int rc;

	tf_alloc_init();
	if (fake_http_start(&server) != 0 ||
	    tf_creds_provider_new_static("AKIDTEST", "secret", NULL, &creds) != TF_OK) {
		printf("FAIL setup: no loopback server or credentials\n");
		return 1;
	}
	TF_RUN(test_max_held_bounds_the_receiving);
	TF_RUN(test_one_message_stops_once_found);
	rc = tf_test_summary();
	tf_creds_provider_free(creds);
	fake_http_stop(&server);
	return rc;
}
