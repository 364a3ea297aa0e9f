/* test_aws_async.c - AWS calls on the event loop: signing, the retry rules on
 * loop timers, final errors, credentials fetched off the loop, and a stop
 * with calls in flight; against scripted loopback servers. */
#include "harness.h"

#include <pthread.h>
#include <unistd.h>

#include "aws/aws_async.h"
#include "aws/creds.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "fake_http.h"
#include "loop/loop.h"

static struct fake_http server;
static struct tf_creds_provider *creds;

/* A client for url (NULL: the fake server); caller frees with tf_aws_free(). */
static struct tf_aws *
client_for(const char *url, struct tf_creds_provider *cp, int max_attempts,
    int budget, long base_ms, long max_ms)
{
	char own[64];
	struct tf_aws_config cfg = { 0 };
	struct tf_aws *aws = NULL;

	if (url == NULL) {
		snprintf(own, sizeof(own), "http://127.0.0.1:%d/", server.port);
		url = own;
	}
	cfg.region = "eu-west-1";
	cfg.endpoint[TF_AWS_SQS] = url;
	cfg.endpoint[TF_AWS_DYNAMODB] = url;
	cfg.creds = cp;
	cfg.max_attempts = max_attempts;
	cfg.base_backoff_ms = base_ms;
	cfg.max_backoff_ms = max_ms;
	cfg.retry_budget = budget;
	cfg.timeout_ms = 5000;
	if (tf_aws_new(&cfg, &aws) != TF_OK)
		return NULL;
	return aws;
}

static struct tf_aws *
client(int max_attempts, int budget)
{
	return client_for(NULL, creds, max_attempts, budget, 1, 5);
}

/* What a call's callback saw. */
struct result {
	struct tf_loop *loop;
	int calls;            /* callbacks seen */
	int pending;          /* calls still to finish before the loop stops */
	enum tf_err rc;
	char body[256];
	struct tf_aws_error err;
	int on_loop;          /* the callback ran on the loop's thread */
	pthread_t loop_thread;
	/* A ticker on the loop: the longest gap between its ticks. */
	int64_t last_tick, max_gap;
	int ticking;
};

static void
on_done(void *ctx, enum tf_err rc, const char *body, size_t len,
    const struct tf_aws_error *err)
{
	struct result *r = ctx;

	r->calls++;
	r->rc = rc;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body);
	r->err = *err;
	r->on_loop = pthread_equal(pthread_self(), r->loop_thread);
	if (--r->pending == 0) {
		r->ticking = 0;
		tf_loop_stop(r->loop);
	}
}

static void
on_tick(void *ctx, enum tf_err rc)
{
	struct result *r = ctx;
	int64_t now = tf_mono_ms();

	if (rc != TF_OK || !r->ticking)
		return;
	if (r->last_tick != 0 && now - r->last_tick > r->max_gap)
		r->max_gap = now - r->last_tick;
	r->last_tick = now;
	tf_loop_after(r->loop, 5, on_tick, r, NULL);
}

/* Runs one call of operation on a fresh loop; returns what came back. */
static void
run_call(struct tf_aws *aws, const char *operation, const char *body,
    const struct tf_aws_async_opts *opts, int tick, struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->rc = TF_ERR__COUNT;
	if (tf_loop_new(NULL, &r->loop) != TF_OK)
		return;
	r->loop_thread = pthread_self();
	r->pending = 1;
	r->ticking = tick;
	if (tick)
		tf_loop_after(r->loop, 0, on_tick, r, NULL);
	if (tf_aws_call_async(aws, r->loop, TF_AWS_DYNAMODB, operation, body,
	    body ? strlen(body) : 0, opts, on_done, r) == TF_OK)
		tf_loop_run(r->loop);
	tf_loop_free(r->loop);
	r->loop = NULL;
}

static void
test_call_is_signed_and_answers_raw_json(void)
{
	struct fake_reply ok[] = { { 200, "{\"Item\":{\"id\":{\"S\":\"a\"}}}", 0, 0 } };
	struct tf_aws *aws = client(3, 0);
	struct result r;

	CHECK(aws != NULL);
	fake_http_script(&server, ok, 1);
	run_call(aws, "GetItem", "{\"TableName\":\"t\"}", NULL, 0, &r);
	CHECK_INT_EQ(r.calls, 1);
	CHECK_INT_EQ(r.rc, TF_OK);
	CHECK(r.on_loop);
	CHECK_STR_EQ(r.body, "{\"Item\":{\"id\":{\"S\":\"a\"}}}");
	CHECK_INT_EQ(r.err.code, TF_OK);
	CHECK(strcasestr(server.last_request, "x-amz-target: DynamoDB_20120810.GetItem") != NULL);
	CHECK(strcasestr(server.last_request, "x-amz-security-token: TOKEN123") != NULL);
	CHECK(strstr(server.last_request, "Credential=AKIDTEST/") != NULL);
	CHECK(strstr(server.last_request, "/eu-west-1/dynamodb/aws4_request, "
	    "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;"
	    "x-amz-target, Signature=") != NULL);
	CHECK(strstr(server.last_request, "{\"TableName\":\"t\"}") != NULL);
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(aws)->requests), 1);
	tf_aws_free(aws);
}

static void
test_5xx_twice_then_ok_is_retried(void)
{
	struct fake_reply script[] = {
		{ 500, "{\"__type\":\"InternalServerError\",\"message\":\"oops\"}", 0, 0 },
		{ 503, "", 0, 0 },
		{ 200, "{\"ok\":true}", 0, 0 },
	};
	struct tf_aws *aws = client(5, 0);
	struct result r;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 3);
	run_call(aws, "PutItem", NULL, NULL, 0, &r);
	CHECK_INT_EQ(r.rc, TF_OK);
	CHECK_STR_EQ(r.body, "{\"ok\":true}");
	CHECK_INT_EQ(fake_http_requests(&server), 3);
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(aws)->retries), 2);
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(aws)->errors), 0);
	tf_aws_free(aws);
}

static void
test_throttled_until_attempts_run_out(void)
{
	struct fake_reply script[] = {
		{ 400, "{\"__type\":\"com.amazonaws.sqs#ThrottlingException\","
		  "\"message\":\"Rate exceeded\"}", 0, 0 },
	};
	struct tf_aws *aws = client(3, 0);
	struct result r;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 1);
	run_call(aws, "ReceiveMessage", NULL, NULL, 0, &r);
	CHECK_INT_EQ(r.rc, TF_ERR_THROTTLED);
	CHECK_INT_EQ(fake_http_requests(&server), 3);
	CHECK_STR_EQ(r.body, "");
	CHECK_INT_EQ(r.err.code, TF_ERR_THROTTLED);
	CHECK_INT_EQ(r.err.http_status, 400);
	CHECK_STR_EQ(r.err.type, "ThrottlingException");
	CHECK_STR_EQ(r.err.message, "Rate exceeded");
	CHECK_STR_EQ(r.err.operation, "ReceiveMessage");
	CHECK_INT_EQ(r.err.attempts, 3);
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(aws)->throttles), 3);
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(aws)->throttled_calls), 1);
	tf_aws_free(aws);
}

static void
test_conditional_and_validation_failures_are_final(void)
{
	struct fake_reply cond[] = {
		{ 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
		  "ConditionalCheckFailedException\",\"message\":\"The conditional "
		  "request failed\"}", 0, 0 },
		{ 200, "{}", 0, 0 },
	};
	struct fake_reply invalid[] = {
		{ 400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
		  "\"message\":\"bad\"}", 0, 0 },
		{ 200, "{}", 0, 0 },
	};
	struct tf_aws *aws = client(5, 0);
	struct result r;

	CHECK(aws != NULL);
	fake_http_script(&server, cond, 2);
	run_call(aws, "UpdateItem", "{}", NULL, 0, &r);
	CHECK_INT_EQ(r.rc, TF_ERR_CONDITION);
	CHECK_INT_EQ(fake_http_requests(&server), 1);
	CHECK_STR_EQ(r.err.type, "ConditionalCheckFailedException");
	CHECK_INT_EQ(r.err.attempts, 1);
	fake_http_script(&server, invalid, 2);
	run_call(aws, "UpdateItem", "{}", NULL, 0, &r);
	CHECK_INT_EQ(r.rc, TF_ERR_VALIDATION);
	CHECK_INT_EQ(fake_http_requests(&server), 1);
	CHECK_STR_EQ(r.err.message, "bad");
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(aws)->retries), 0);
	tf_aws_free(aws);
}

/* The answers of test_curl_resend_is_an_attempt's second call: its first
 * send is dropped (a kept-alive connection that dies), libcurl's own resend
 * fails its condition. */
static const struct fake_reply lost_then_condition[] = {
	{ 0, NULL, 1, 0 },
	{ 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
	  "ConditionalCheckFailedException\",\"message\":\"The conditional "
	  "request failed\"}", 0, 0 },
};
static struct tf_aws *resend_aws;   /* borrowed by on_warm() */

/* The first call is answered and its connection kept: the second goes out
 * on it. */
static void
on_warm(void *ctx, enum tf_err rc, const char *body, size_t len,
    const struct tf_aws_error *err)
{
	struct result *r = ctx;

	r->calls++;
	fake_http_script(&server, lost_then_condition, 2);
	if (rc != TF_OK || tf_aws_call_async(resend_aws, r->loop,
	    TF_AWS_DYNAMODB, "PutItem", "{}", 2, NULL, on_done, r) != TF_OK) {
		r->rc = rc != TF_OK ? rc : TF_ERR__COUNT;
		tf_loop_stop(r->loop);
	}
}

/* libcurl sends a request again by itself on a fresh connection when a
 * kept-alive one dies before any answer: the call counts that send as an
 * attempt (max_attempts 1: no retry of ours), so a write whose resend fails
 * its condition says attempts 2 and its first send may have been applied. */
static void
test_curl_resend_is_an_attempt(void)
{
	static const struct fake_reply warm[] = { { 200, "{}", 0, 0 } };
	struct result r;

	resend_aws = client(1, 0);
	CHECK(resend_aws != NULL);
	memset(&r, 0, sizeof(r));
	fake_http_script(&server, warm, 1);
	CHECK(tf_loop_new(NULL, &r.loop) == TF_OK);
	r.loop_thread = pthread_self();
	r.pending = 1;
	r.rc = TF_ERR__COUNT;
	if (tf_aws_call_async(resend_aws, r.loop, TF_AWS_DYNAMODB, "GetItem",
	    "{}", 2, NULL, on_warm, &r) == TF_OK)
		tf_loop_run(r.loop);
	tf_loop_free(r.loop);
	tf_aws_free(resend_aws);
	CHECK_INT_EQ(r.calls, 2);
	CHECK_INT_EQ(r.rc, TF_ERR_CONDITION);
	CHECK_INT_EQ(fake_http_requests(&server), 2);
	CHECK_INT_EQ(r.err.attempts, 2);
}

/* A loopback port nothing listens on. */
static int
closed_port(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void
test_connection_refused_is_retried_within_the_budget(void)
{
	struct tf_aws *aws = NULL, *poor = NULL;
	struct result r;
	char url[64];
	int port = closed_port();

	CHECK(port > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	/* Budget to spare: every attempt is made. */
	aws = client_for(url, creds, 4, 0, 1, 5);
	CHECK(aws != NULL);
	run_call(aws, "SendMessage", "{}", NULL, 0, &r);
	CHECK_INT_EQ(r.rc, TF_ERR_IO);
	CHECK_INT_EQ(r.err.attempts, 4);
	CHECK_INT_EQ(r.err.http_status, 0);
	CHECK(r.err.message[0] != '\0');
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(aws)->requests), 4);
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(aws)->retries), 3);
	tf_aws_free(aws);
	/* Ten tokens are two retries: the call gives up after three attempts,
	 * and the next one is not retried at all. */
	poor = client_for(url, creds, 10, 10, 1, 5);
	CHECK(poor != NULL);
	run_call(poor, "SendMessage", "{}", NULL, 0, &r);
	CHECK_INT_EQ(r.rc, TF_ERR_IO);
	CHECK_INT_EQ(r.err.attempts, 3);
	run_call(poor, "SendMessage", "{}", NULL, 0, &r);
	CHECK_INT_EQ(r.rc, TF_ERR_IO);
	CHECK_INT_EQ(r.err.attempts, 1);
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(poor)->requests), 4);
	tf_aws_free(poor);
}

static void
test_backoff_waits_on_the_loop(void)
{
	/* Four backoffs of up to a second each: slept on the loop's thread,
	 * they would stall its ticker for one of them. */
	struct fake_reply script[] = {
		{ 500, "{}", 0, 0 }, { 500, "{}", 0, 0 }, { 500, "{}", 0, 0 },
		{ 500, "{}", 0, 0 }, { 200, "{}", 0, 0 },
	};
	struct tf_aws *aws = client_for(NULL, creds, 5, 0, 1000, 1000);
	struct result r;
	int64_t t0 = tf_mono_ms();

	CHECK(aws != NULL);
	fake_http_script(&server, script, 5);
	run_call(aws, "PutItem", NULL, NULL, 1, &r);
	CHECK_INT_EQ(r.rc, TF_OK);
	CHECK_INT_EQ(fake_http_requests(&server), 5);
	CHECK_MSG(r.max_gap < 150, "the loop stalled %lld ms during a %lld ms call",
	    (long long)r.max_gap, (long long)(tf_mono_ms() - t0));
	tf_aws_free(aws);
}

static void
test_credentials_are_fetched_off_the_loop(void)
{
	/* The container endpoint answers after 600 ms. */
	struct fake_reply slow[] = { { 200, "{\"AccessKeyId\":\"ASIACONT1\","
	    "\"SecretAccessKey\":\"cont-secret\",\"Token\":\"cont-token\","
	    "\"Expiration\":\"2099-01-01T00:00:00Z\"}", 0, 600 } };
	struct fake_reply ok[] = { { 200, "{\"n\":2}", 0, 0 } };
	struct tf_creds_provider *chain = NULL;
	struct fake_http ecs;
	struct tf_creds c;
	struct tf_aws *aws = NULL;
	struct result r;
	char url[96];

	CHECK(fake_http_start(&ecs) == 0);
	fake_http_script(&ecs, slow, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/creds", ecs.port);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	CHECK(tf_creds_provider_new(&chain) == TF_OK);
	aws = client_for(NULL, chain, 3, 0, 1, 5);
	CHECK(aws != NULL);
	CHECK(!tf_aws_cached_creds(aws, tf_now_ms(), &c));
	fake_http_script(&server, ok, 1);
	run_call(aws, "GetItem", "{}", NULL, 1, &r);
	CHECK_INT_EQ(r.rc, TF_OK);
	CHECK_STR_EQ(r.body, "{\"n\":2}");
	CHECK(strstr(server.last_request, "Credential=ASIACONT1/") != NULL);
	CHECK(strcasestr(server.last_request, "x-amz-security-token: cont-token") != NULL);
	CHECK_INT_EQ(fake_http_requests(&ecs), 1);
	CHECK_MSG(r.max_gap < 300, "the loop stalled %lld ms", (long long)r.max_gap);
	/* Kept: the next call does not ask the chain again. */
	CHECK(tf_aws_cached_creds(aws, tf_now_ms(), &c));
	run_call(aws, "GetItem", "{}", NULL, 0, &r);
	CHECK_INT_EQ(r.rc, TF_OK);
	CHECK_INT_EQ(fake_http_requests(&ecs), 1);
	explicit_bzero(&c, sizeof(c));
	tf_aws_free(aws);
	tf_creds_provider_free(chain);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	fake_http_stop(&ecs);
}

static void
on_stop_timer(void *ctx, enum tf_err rc)
{
	if (rc == TF_OK)
		tf_loop_stop(ctx);
}

struct cancel_count {
	int cancelled, other;
};

static void
on_cancelled(void *ctx, enum tf_err rc, const char *body, size_t len,
    const struct tf_aws_error *err)
{
	struct cancel_count *c = ctx;

	if (rc == TF_ERR_CANCELLED && err->code == TF_ERR_CANCELLED)
		c->cancelled++;
	else
		c->other++;
}

static void
test_stop_cancels_calls_in_flight_and_in_backoff(void)
{
	/* One call keeps getting 500s with long backoffs; the others wait on
	 * a server that never answers. */
	struct fake_reply fail[] = { { 500, "{}", 0, 0 } };
	struct cancel_count cc = { 0, 0 };
	struct tf_aws *retrying = client_for(NULL, creds, 1000, 100000, 50, 400);
	struct tf_aws *silent = NULL;
	struct tf_loop *loop = NULL;
	char url[64];
	int fd, i, port = 0;

	CHECK(retrying != NULL);
	fd = fake_http_silent(&port);
	CHECK(fd >= 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	silent = client_for(url, creds, 3, 0, 1, 5);
	CHECK(silent != NULL);
	fake_http_script(&server, fail, 1);
	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	CHECK_INT_EQ(tf_aws_call_async(retrying, loop, TF_AWS_SQS, "SendMessage",
	    "{}", 2, NULL, on_cancelled, &cc), TF_OK);
	for (i = 0; i < 8; i++)
		CHECK_INT_EQ(tf_aws_call_async(silent, loop, TF_AWS_SQS,
		    "ReceiveMessage", "{}", 2, NULL, on_cancelled, &cc), TF_OK);
	CHECK_INT_EQ(tf_loop_after(loop, 300, on_stop_timer, loop, NULL), TF_OK);
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	tf_loop_free(loop);
	close(fd);
	CHECK_INT_EQ(cc.other, 0);
	CHECK_INT_EQ(cc.cancelled, 9);
	CHECK(fake_http_requests(&server) >= 1);
	tf_aws_free(retrying);
	tf_aws_free(silent);
}

int
main(void)
{
	tf_alloc_init();
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	if (fake_http_start(&server) != 0 ||
	    tf_creds_provider_new_static("AKIDTEST", "secret", "TOKEN123",
	    &creds) != TF_OK) {
		printf("FAIL setup: cannot start the fake server\n");
		return 1;
	}
	TF_RUN(test_call_is_signed_and_answers_raw_json);
	TF_RUN(test_5xx_twice_then_ok_is_retried);
	TF_RUN(test_throttled_until_attempts_run_out);
	TF_RUN(test_conditional_and_validation_failures_are_final);
	TF_RUN(test_connection_refused_is_retried_within_the_budget);
	TF_RUN(test_backoff_waits_on_the_loop);
	TF_RUN(test_credentials_are_fetched_off_the_loop);
	TF_RUN(test_stop_cancels_calls_in_flight_and_in_backoff);
	TF_RUN(test_curl_resend_is_an_attempt);
	tf_creds_provider_free(creds);
	fake_http_stop(&server);
	return tf_test_summary();
}
