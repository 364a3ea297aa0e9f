/* test_aws.c - signed calls, error mapping and the retry rules, against a
 * scripted loopback server. */
#include "harness.h"

#include <pthread.h>
#include <unistd.h>

#include "aws/aws.h"
#include "aws/creds.h"
#include "aws/ddb.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "fake_http.h"

static struct fake_http server;
static struct tf_creds_provider *creds;

/* A client for the fake server; caller frees with tf_aws_free(). */
static struct tf_aws *
client(int max_attempts, int budget, long timeout_ms)
{
	char url[64];
	struct tf_aws_config cfg = { 0 };
	struct tf_aws *aws = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", server.port);
	cfg.region = "eu-west-1";
	cfg.endpoint[TF_AWS_SQS] = url;
	cfg.endpoint[TF_AWS_DYNAMODB] = url;
	cfg.creds = creds;
	cfg.max_attempts = max_attempts;
	cfg.base_backoff_ms = 1;
	cfg.max_backoff_ms = 5;
	cfg.retry_budget = budget;
	cfg.timeout_ms = timeout_ms;
	if (tf_aws_new(&cfg, &aws) != TF_OK)
		return NULL;
	return aws;
}

static void
test_success_is_signed_and_parsed(void)
{
	struct fake_reply ok[] = { { 200, "{\"Item\":{\"id\":{\"S\":\"a\"}}}", 0, 0 } };
	struct tf_aws *aws = client(3, 0, 0);
	cJSON *req = cJSON_Parse("{\"TableName\":\"t\"}"), *resp = NULL;
	enum tf_err rc;

	CHECK(aws != NULL && req != NULL);
	fake_http_script(&server, ok, 1);
	rc = tf_aws_call(aws, TF_AWS_DYNAMODB, "GetItem", req, NULL, &resp);
	CHECK_INT_EQ(rc, TF_OK);
	CHECK(cJSON_GetObjectItem(resp, "Item") != NULL);
	CHECK(strstr(server.last_request, "POST / HTTP/1.1") != NULL);
	CHECK(strcasestr(server.last_request, "x-amz-target: DynamoDB_20120810.GetItem") != NULL);
	CHECK(strcasestr(server.last_request, "content-type: application/x-amz-json-1.0") != NULL);
	CHECK(strcasestr(server.last_request, "x-amz-date: 20") != NULL);
	CHECK(strcasestr(server.last_request, "x-amz-security-token: TOKEN123") != NULL);
	CHECK(strcasestr(server.last_request, "authorization: AWS4-HMAC-SHA256 "
	    "Credential=AKIDTEST/") != NULL);
	CHECK(strstr(server.last_request, "/eu-west-1/dynamodb/aws4_request, "
	    "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;"
	    "x-amz-target, Signature=") != NULL);
	CHECK(strstr(server.last_request, "{\"TableName\":\"t\"}") != NULL);
	cJSON_Delete(resp);
	resp = NULL;
	rc = tf_aws_call(aws, TF_AWS_SQS, "SendMessage", req, NULL, &resp);
	CHECK_INT_EQ(rc, TF_OK);
	CHECK(strcasestr(server.last_request, "x-amz-target: AmazonSQS.SendMessage") != NULL);
	CHECK(strstr(server.last_request, "/eu-west-1/sqs/aws4_request") != NULL);
	cJSON_Delete(resp);
	cJSON_Delete(req);
	tf_aws_free(aws);
}

static void
test_5xx_and_throttling_are_retried(void)
{
	struct fake_reply script[] = {
		{ 500, "{\"__type\":\"InternalServerError\",\"message\":\"oops\"}", 0, 0 },
		{ 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
		  "ProvisionedThroughputExceededException\",\"message\":\"slow\"}", 0, 0 },
		{ 400, "{\"__type\":\"com.amazonaws.sqs#ThrottlingException\"}", 0, 0 },
		{ 503, "", 0, 0 },
		{ 200, "{\"ok\":true}", 0, 0 },
	};
	struct tf_aws *aws = client(5, 0, 0);
	cJSON *resp = NULL;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 5);
	CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_DYNAMODB, "PutItem", NULL, NULL, &resp), TF_OK);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(resp, "ok")));
	CHECK_INT_EQ(fake_http_requests(&server), 5);
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(aws)->retries), 4);
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(aws)->throttles), 2);
	cJSON_Delete(resp);
	tf_aws_free(aws);
}

static void
test_throttled_until_attempts_run_out(void)
{
	struct fake_reply script[] = {
		{ 400, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}", 0, 0 },
	};
	struct tf_aws *aws = client(3, 0, 0);
	cJSON *resp = NULL;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 1);
	CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_SQS, "ReceiveMessage", NULL, NULL, &resp),
	    TF_ERR_THROTTLED);
	CHECK(resp == NULL);
	CHECK_INT_EQ(fake_http_requests(&server), 3);
	CHECK_STR_EQ(tf_aws_last_error()->type, "ThrottlingException");
	CHECK_STR_EQ(tf_aws_last_error()->message, "Rate exceeded");
	CHECK_STR_EQ(tf_aws_last_error()->operation, "ReceiveMessage");
	CHECK_INT_EQ(tf_aws_last_error()->attempts, 3);
	tf_aws_free(aws);
}

static void
test_client_errors_are_not_retried(void)
{
	static const struct {
		const char *body;
		int status;
		enum tf_err want;
	} cases[] = {
		{ "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
		  "\"message\":\"The conditional request failed\"}", 400, TF_ERR_CONDITION },
		{ "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
		  "\"message\":\"Requested resource not found\"}", 400, TF_ERR_NOT_FOUND },
		{ "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\","
		  "\"message\":\"The specified queue does not exist.\"}", 400, TF_ERR_NOT_FOUND },
		{ "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
		  "\"message\":\"bad\"}", 400, TF_ERR_VALIDATION },
		{ "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\"}",
		  400, TF_ERR_ACCESS_DENIED },
		{ "{\"__type\":\"AccessDeniedException\"}", 400, TF_ERR_ACCESS_DENIED },
		{ "{\"__type\":\"ResourceInUseException\"}", 400, TF_ERR_EXISTS },
		{ "not json at all", 400, TF_ERR_VALIDATION },
		{ "{}", 403, TF_ERR_ACCESS_DENIED },
	};
	struct tf_aws *aws = client(5, 0, 0);
	cJSON *resp = NULL;
	size_t i;

	CHECK(aws != NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_reply r = { cases[i].status, cases[i].body, 0, 0 };

		fake_http_script(&server, &r, 1);
		CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_DYNAMODB, "UpdateItem", NULL, NULL,
		    &resp), cases[i].want);
		CHECK_INT_EQ(fake_http_requests(&server), 1);
		CHECK_INT_EQ(tf_aws_last_error()->http_status, cases[i].status);
	}
	CHECK_STR_EQ(tf_aws_last_error()->message, "{}");
	tf_aws_free(aws);
}

static void
test_dropped_connection_is_retried(void)
{
	struct fake_reply script[] = {
		{ 0, NULL, 1, 0 },
		{ 0, NULL, 1, 0 },
		{ 200, "{\"n\":1}", 0, 0 },
	};
	struct tf_aws *aws = client(5, 0, 0);
	cJSON *resp = NULL;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 3);
	CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_SQS, "SendMessage", NULL, NULL, &resp), TF_OK);
	CHECK_INT_EQ(fake_http_requests(&server), 3);
	cJSON_Delete(resp);
	resp = NULL;
	/* Dropped every time: a transport error once the attempts run out. */
	fake_http_script(&server, script, 1);
	CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_SQS, "SendMessage", NULL, NULL, &resp),
	    TF_ERR_IO);
	/* Five attempts: curl's own resend when a kept-alive connection
	 * turns out closed counts as one (tf_aws_resends()). */
	CHECK_INT_EQ(fake_http_requests(&server), 5);
	CHECK_INT_EQ(tf_aws_last_error()->attempts, 5);
	CHECK(tf_aws_last_error()->message[0] != '\0');
	tf_aws_free(aws);
}

/* A kept-alive connection that dies before any byte of the answer: libcurl
 * sends the request again on a fresh one by itself (even a POST). The first
 * send may have been applied, so the call counts both as attempts: with
 * max_attempts 1 (no retry of ours) a conditional write whose resend fails
 * its condition still says attempts 2, which is what tells the task code to
 * read its write back. */
static void
test_curl_resend_is_an_attempt(void)
{
	struct fake_reply warm[] = { { 200, "{}", 0, 0 } };
	struct fake_reply lost[] = {
		{ 0, NULL, 1, 0 },
		{ 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
		  "ConditionalCheckFailedException\",\"message\":\"The conditional "
		  "request failed\"}", 0, 0 },
	};
	struct tf_aws *aws = client(1, 0, 0);
	cJSON *resp = NULL;
	enum tf_err warm_rc, rc;
	long requests;

	CHECK(aws != NULL);
	fake_http_script(&server, warm, 1);
	warm_rc = tf_aws_call(aws, TF_AWS_DYNAMODB, "GetItem", NULL, NULL, &resp);
	cJSON_Delete(resp);
	resp = NULL;
	requests = atomic_load(&tf_aws_stats(aws)->requests);
	fake_http_script(&server, lost, 2);
	rc = tf_aws_call(aws, TF_AWS_DYNAMODB, "PutItem", NULL, NULL, &resp);
	requests = atomic_load(&tf_aws_stats(aws)->requests) - requests;
	/* Freed first: its connections would hold the one-at-a-time server. */
	tf_aws_free(aws);
	CHECK_INT_EQ(warm_rc, TF_OK);
	CHECK_INT_EQ(rc, TF_ERR_CONDITION);
	CHECK_INT_EQ(fake_http_requests(&server), 2);
	CHECK_INT_EQ(tf_aws_last_error()->attempts, 2);
	CHECK_INT_EQ(requests, 2);
}

static void
test_malformed_success_is_a_parse_error(void)
{
	struct fake_reply r[] = { { 200, "{\"Messages\": [", 0, 0 } };
	struct tf_aws *aws = client(5, 0, 0);
	cJSON *resp = NULL;

	CHECK(aws != NULL);
	fake_http_script(&server, r, 1);
	CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_SQS, "ReceiveMessage", NULL, NULL, &resp),
	    TF_ERR_PARSE);
	CHECK_INT_EQ(fake_http_requests(&server), 1);
	CHECK(resp == NULL);
	tf_aws_free(aws);
}

static void
test_timeout(void)
{
	struct fake_reply r[] = { { 200, "{}", 0, 1500 } };
	struct tf_aws *aws = client(1, 0, 300);
	cJSON *resp = NULL;
	int64_t t0 = tf_mono_ms();

	CHECK(aws != NULL);
	fake_http_script(&server, r, 1);
	CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_SQS, "ReceiveMessage", NULL, NULL, &resp),
	    TF_ERR_TIMEOUT);
	CHECK(tf_mono_ms() - t0 < 1400);
	tf_aws_free(aws);
	usleep(1300 * 1000);  /* let the server finish the slow reply */
}

static void
test_retry_budget_bounds_retries(void)
{
	struct fake_reply r[] = { { 500, "{}", 0, 0 } };
	struct tf_aws *aws = client(10, 10, 0);  /* two retries' worth of tokens */
	cJSON *resp = NULL;

	CHECK(aws != NULL);
	fake_http_script(&server, r, 1);
	CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_DYNAMODB, "GetItem", NULL, NULL, &resp),
	    TF_ERR_SERVER);
	CHECK_INT_EQ(fake_http_requests(&server), 3);
	/* The budget is spent: the next failing call is not retried at all. */
	fake_http_script(&server, r, 1);
	CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_DYNAMODB, "GetItem", NULL, NULL, &resp),
	    TF_ERR_SERVER);
	CHECK_INT_EQ(fake_http_requests(&server), 1);
	tf_aws_free(aws);
}

static void *
cancel_later(void *arg)
{
	usleep(200 * 1000);
	atomic_store((atomic_int *)arg, 1);
	return NULL;
}

static void
test_cancel_aborts_a_long_poll(void)
{
	struct fake_reply r[] = { { 200, "{}", 0, 2500 } };
	struct tf_aws *aws = client(3, 0, 30000);
	struct tf_aws_call_opts opts = { 0 };
	atomic_int cancel = 0;
	cJSON *resp = NULL;
	pthread_t t;
	int64_t t0 = tf_mono_ms();

	CHECK(aws != NULL);
	fake_http_script(&server, r, 1);
	opts.cancel = &cancel;
	pthread_create(&t, NULL, cancel_later, &cancel);
	CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_SQS, "ReceiveMessage", NULL, &opts, &resp),
	    TF_ERR_CANCELLED);
	pthread_join(t, NULL);
	CHECK(tf_mono_ms() - t0 < 1500);
	tf_aws_free(aws);
	usleep(2400 * 1000);
}

static void
test_connections_are_reused(void)
{
	struct fake_reply r[] = { { 200, "{}", 0, 0 } };
	struct tf_aws *aws = client(3, 0, 0);
	cJSON *resp = NULL;
	int before, i;

	CHECK(aws != NULL);
	fake_http_script(&server, r, 1);
	pthread_mutex_lock(&server.lock);
	before = server.connections;
	pthread_mutex_unlock(&server.lock);
	for (i = 0; i < 5; i++) {
		CHECK_INT_EQ(tf_aws_call(aws, TF_AWS_SQS, "SendMessage", NULL, NULL, &resp),
		    TF_OK);
		cJSON_Delete(resp);
		resp = NULL;
	}
	CHECK_INT_EQ(fake_http_requests(&server), 5);
	pthread_mutex_lock(&server.lock);
	CHECK_INT_EQ(server.connections - before, 1);
	pthread_mutex_unlock(&server.lock);
	tf_aws_free(aws);
}

static void
test_default_endpoints(void)
{
	struct tf_aws_config cfg = { 0 };
	struct tf_aws *aws = NULL;

	cfg.region = "ap-southeast-2";
	cfg.creds = creds;
	CHECK_INT_EQ(tf_aws_new(&cfg, &aws), TF_OK);
	CHECK_STR_EQ(tf_aws_endpoint(aws, TF_AWS_SQS),
	    "https://sqs.ap-southeast-2.amazonaws.com/");
	CHECK_STR_EQ(tf_aws_endpoint(aws, TF_AWS_DYNAMODB),
	    "https://dynamodb.ap-southeast-2.amazonaws.com/");
	tf_aws_free(aws);
	cfg.endpoint[TF_AWS_SQS] = "not a url";
	CHECK_INT_EQ(tf_aws_new(&cfg, &aws), TF_ERR_INVALID);
}

static void
test_error_mapping_table(void)
{
	CHECK_INT_EQ(tf_aws_map_error("com.amazonaws.dynamodb.v20120810#"
	    "ConditionalCheckFailedException", 400), TF_ERR_CONDITION);
	CHECK_INT_EQ(tf_aws_map_error("AWS.SimpleQueueService.NonExistentQueue", 400),
	    TF_ERR_NOT_FOUND);
	CHECK_INT_EQ(tf_aws_map_error("RequestLimitExceeded", 400), TF_ERR_THROTTLED);
	CHECK_INT_EQ(tf_aws_map_error(NULL, 502), TF_ERR_SERVER);
	CHECK_INT_EQ(tf_aws_map_error("", 429), TF_ERR_THROTTLED);
	CHECK_INT_EQ(tf_aws_map_error("SomethingNew", 200), TF_ERR_AWS);
	CHECK(tf_aws_is_retryable("TransactionConflictException", 400));
	CHECK(!tf_aws_is_retryable("ValidationException", 400));
	CHECK(tf_aws_is_retryable(NULL, 500));
}

static void
test_batch_write_resends_unprocessed(void)
{
	struct fake_reply script[] = {
		{ 200, "{\"UnprocessedItems\":{\"t\":[{\"PutRequest\":{\"Item\":"
		  "{\"id\":{\"S\":\"item-7\"}}}}]}}", 0, 0 },
		{ 200, "{\"UnprocessedItems\":{}}", 0, 0 },
	};
	struct fake_reply always[] = {
		{ 200, "{\"UnprocessedItems\":{\"t\":[{\"PutRequest\":{\"Item\":"
		  "{\"id\":{\"S\":\"stuck\"}}}}]}}", 0, 0 },
	};
	struct tf_aws *aws = client(3, 0, 0);
	cJSON *reqs = cJSON_CreateArray();
	int i;

	CHECK(aws != NULL);
	for (i = 0; i < 30; i++) {
		char text[128];

		snprintf(text, sizeof(text), "{\"PutRequest\":{\"Item\":{\"id\":"
		    "{\"S\":\"item-%d\"}}}}", i);
		cJSON_AddItemToArray(reqs, cJSON_Parse(text));
	}
	/* 30 requests: a batch of 25 (one unprocessed, sent again), then 5. */
	fake_http_script(&server, script, 2);
	CHECK_INT_EQ(tf_ddb_batch_write(aws, "t", reqs, 5), TF_OK);
	CHECK_INT_EQ(fake_http_requests(&server), 3);
	/* The last request carried the last five items. */
	CHECK(strstr(server.last_request, "item-29") != NULL);
	CHECK(strstr(server.last_request, "item-24") == NULL);
	/* Items that never get processed end in TF_ERR_THROTTLED after the rounds. */
	fake_http_script(&server, always, 1);
	CHECK_INT_EQ(tf_ddb_batch_write(aws, "t", reqs, 3), TF_ERR_THROTTLED);
	CHECK_INT_EQ(fake_http_requests(&server), 3);
	cJSON_Delete(reqs);
	tf_aws_free(aws);
}

int
main(void)
{
	int rc;

	tf_alloc_init();
	if (fake_http_start(&server) != 0 ||
	    tf_creds_provider_new_static("AKIDTEST", "secret", "TOKEN123", &creds) != TF_OK) {
		printf("FAIL setup: no loopback server or credentials\n");
		return 1;
	}
	TF_RUN(test_success_is_signed_and_parsed);
	TF_RUN(test_5xx_and_throttling_are_retried);
	TF_RUN(test_throttled_until_attempts_run_out);
	TF_RUN(test_client_errors_are_not_retried);
	TF_RUN(test_dropped_connection_is_retried);
	TF_RUN(test_curl_resend_is_an_attempt);
	TF_RUN(test_malformed_success_is_a_parse_error);
	TF_RUN(test_timeout);
	TF_RUN(test_retry_budget_bounds_retries);
	TF_RUN(test_cancel_aborts_a_long_poll);
	TF_RUN(test_connections_are_reused);
	TF_RUN(test_default_endpoints);
	TF_RUN(test_error_mapping_table);
	TF_RUN(test_batch_write_resends_unprocessed);
	rc = tf_test_summary();
	tf_creds_provider_free(creds);
	fake_http_stop(&server);
	return rc;
}
