/* test_sqs_client.c - every SQS call against the local stand-in. */
#include "harness.h"
#include "itest.h"

#include <pthread.h>

#include "aws/schema.h"
#include "aws/sqs.h"

#define AWS (itest_ctx.aws)

/* Creates a fresh queue; caller frees the URL with tf_free(). */
static char *
new_queue(const char *visibility)
{
	char *name = itest_name("tf-sqs"), *url = NULL;
	cJSON *attrs = cJSON_CreateObject();

	cJSON_AddStringToObject(attrs, "VisibilityTimeout", visibility);
	if (tf_sqs_create_queue(AWS, name, attrs, &url) != TF_OK)
		url = NULL;
	cJSON_Delete(attrs);
	tf_free(name);
	return url;
}

static int
receive(const char *url, int wait, int visibility, struct tf_sqs_message **m,
    size_t *n)
{
	struct tf_sqs_receive_opts o = { 10, wait, visibility, NULL };

	return tf_sqs_receive_message(AWS, url, &o, m, n);
}

static void
test_create_and_find_queue(void)
{
	char *name = itest_name("tf-sqs"), *url = NULL, *again = NULL, *found = NULL;
	cJSON *attrs = cJSON_CreateObject(), *got = NULL;
	const char *const names[] = { "VisibilityTimeout", NULL };

	cJSON_AddStringToObject(attrs, "VisibilityTimeout", "45");
	CHECK_INT_EQ(tf_sqs_create_queue(AWS, name, attrs, &url), TF_OK);
	CHECK(strstr(url, name) != NULL);
	/* The same name and attributes again: the same queue. */
	CHECK_INT_EQ(tf_sqs_create_queue(AWS, name, attrs, &again), TF_OK);
	CHECK_STR_EQ(again, url);
	CHECK_INT_EQ(tf_sqs_get_queue_url(AWS, name, &found), TF_OK);
	CHECK_STR_EQ(found, url);
	CHECK_INT_EQ(tf_sqs_get_queue_attributes(AWS, url, names, &got), TF_OK);
	CHECK_STR_EQ(cJSON_GetObjectItem(got, "VisibilityTimeout")->valuestring, "45");
	cJSON_Delete(got);
	got = NULL;
	cJSON_SetValuestring(cJSON_GetObjectItem(attrs, "VisibilityTimeout"), "70");
	CHECK_INT_EQ(tf_sqs_set_queue_attributes(AWS, url, attrs), TF_OK);
	CHECK_INT_EQ(tf_sqs_get_queue_attributes(AWS, url, NULL, &got), TF_OK);
	CHECK_STR_EQ(cJSON_GetObjectItem(got, "VisibilityTimeout")->valuestring, "70");
	CHECK(cJSON_GetObjectItem(got, "QueueArn") != NULL);
	CHECK_INT_EQ(tf_sqs_delete_queue(AWS, url), TF_OK);
	cJSON_Delete(got);
	cJSON_Delete(attrs);
	tf_free(name);
	tf_free(url);
	tf_free(again);
	tf_free(found);
}

static void
test_missing_queue_and_bad_url(void)
{
	char *url = (char *)"not set";
	char bad[256];

	CHECK_INT_EQ(tf_sqs_get_queue_url(AWS, "tf-no-such-queue-xyz", &url),
	    TF_ERR_NOT_FOUND);
	CHECK(url == NULL);
	CHECK_STR_EQ(tf_aws_last_error()->type, "QueueDoesNotExist");
	snprintf(bad, sizeof(bad), "%s/123456789012/tf-no-such-queue-xyz",
	    getenv("AWS_ENDPOINT_URL_SQS"));
	CHECK_INT_EQ(tf_sqs_send_message(AWS, bad, "x", 0, NULL), TF_ERR_NOT_FOUND);
}

static void
test_send_receive_delete(void)
{
	char *url = new_queue("30"), *id = NULL;
	struct tf_sqs_message *m = NULL;
	size_t n = 0;

	CHECK(url != NULL);
	CHECK_INT_EQ(tf_sqs_send_message(AWS, url, "{\"taskId\":\"a\"}", 0, &id), TF_OK);
	CHECK(id != NULL && id[0] != '\0');
	CHECK_INT_EQ(receive(url, 1, -1, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(m[0].body, "{\"taskId\":\"a\"}");
	CHECK_STR_EQ(m[0].message_id, id);
	CHECK_INT_EQ(m[0].receive_count, 1);
	CHECK(m[0].sent_ms > 0);
	CHECK_INT_EQ(tf_sqs_delete_message(AWS, url, m[0].receipt_handle), TF_OK);
	tf_sqs_messages_free(m, n);
	m = NULL;
	CHECK_INT_EQ(receive(url, 0, 0, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 0);
	/* Client-side checks: an empty body and a delay past 15 minutes. */
	CHECK_INT_EQ(tf_sqs_send_message(AWS, url, "", 0, NULL), TF_ERR_INVALID);
	CHECK_INT_EQ(tf_sqs_send_message(AWS, url, "x", 901, NULL), TF_ERR_INVALID);
	tf_sqs_delete_queue(AWS, url);
	tf_free(id);
	tf_free(url);
}

static void
test_delayed_message_arrives_in_long_poll(void)
{
	char *url = new_queue("30");
	struct tf_sqs_message *m = NULL;
	size_t n = 0;

	CHECK(url != NULL);
	CHECK_INT_EQ(tf_sqs_send_message(AWS, url, "later", 2, NULL), TF_OK);
	CHECK_INT_EQ(receive(url, 0, -1, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 0);
	/* The long poll returns once the delay passes, well before its wait. */
	CHECK_INT_EQ(receive(url, 10, -1, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(m[0].body, "later");
	tf_sqs_messages_free(m, n);
	tf_sqs_delete_queue(AWS, url);
	tf_free(url);
}

static void
test_batches_report_each_entry(void)
{
	char *url = new_queue("30");
	struct tf_sqs_send_entry send[10];
	struct tf_sqs_handle_entry del[10];
	struct tf_sqs_batch_result res = { 0 };
	struct tf_sqs_message *m = NULL, *all = NULL;
	char ids[10][8], bodies[10][16];
	size_t n = 0, total = 0, i;
	int rounds;

	CHECK(url != NULL);
	for (i = 0; i < 10; i++) {
		snprintf(ids[i], sizeof(ids[i]), "e%zu", i);
		snprintf(bodies[i], sizeof(bodies[i]), "body-%zu", i);
		send[i] = (struct tf_sqs_send_entry){ ids[i], bodies[i], 0 };
	}
	CHECK_INT_EQ(tf_sqs_send_message_batch(AWS, url, send, 10, &res), TF_OK);
	CHECK_INT_EQ(res.n_failed, 0);
	for (i = 0; i < 10; i++)
		CHECK(res.message_ids[i] != NULL);
	tf_sqs_batch_result_free(&res);
	CHECK_INT_EQ(tf_sqs_send_message_batch(AWS, url, send, 11, &res), TF_ERR_INVALID);

	all = tf_calloc(10, sizeof(*all));
	for (rounds = 0; total < 10 && rounds < 20; rounds++) {
		CHECK_INT_EQ(receive(url, 1, -1, &m, &n), TF_OK);
		for (i = 0; i < n; i++)
			all[total++] = m[i];
		tf_free(m);
		m = NULL;
	}
	CHECK_INT_EQ(total, 10);
	for (i = 0; i < 10; i++)
		del[i] = (struct tf_sqs_handle_entry){ ids[i], all[i].receipt_handle, 0 };
	/* One bad receipt handle: that entry fails, the others are deleted. */
	del[3].receipt_handle = "bogus-handle";
	CHECK_INT_EQ(tf_sqs_delete_message_batch(AWS, url, del, 10, &res), TF_ERR_PARTIAL);
	CHECK_INT_EQ(res.n_failed, 1);
	CHECK_STR_EQ(res.failed[0].id, "e3");
	CHECK(res.failed[0].code[0] != '\0');
	CHECK(tf_sqs_batch_failed(&res, "e3") != NULL);
	CHECK(tf_sqs_batch_failed(&res, "e4") == NULL);
	tf_sqs_batch_result_free(&res);
	tf_sqs_messages_free(all, total);
	tf_sqs_delete_queue(AWS, url);
	tf_free(url);
}

static void
test_visibility_changes(void)
{
	char *url = new_queue("30");
	struct tf_sqs_message *m = NULL;
	struct tf_sqs_handle_entry e;
	struct tf_sqs_batch_result res = { 0 };
	size_t n = 0;

	CHECK(url != NULL);
	CHECK_INT_EQ(tf_sqs_send_message(AWS, url, "v", 0, NULL), TF_OK);
	CHECK_INT_EQ(receive(url, 1, 30, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 1);
	/* Extending is a heartbeat; it must not count as a receive. */
	CHECK_INT_EQ(tf_sqs_change_message_visibility(AWS, url, m[0].receipt_handle, 60),
	    TF_OK);
	e = (struct tf_sqs_handle_entry){ "h", m[0].receipt_handle, 0 };
	CHECK_INT_EQ(tf_sqs_change_message_visibility_batch(AWS, url, &e, 1, &res), TF_OK);
	tf_sqs_batch_result_free(&res);
	tf_sqs_messages_free(m, n);
	m = NULL;
	/* Visibility 0 returns it at once. */
	CHECK_INT_EQ(receive(url, 2, 30, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(m[0].receive_count, 2);
	CHECK_INT_EQ(tf_sqs_change_message_visibility(AWS, url, m[0].receipt_handle, 43201),
	    TF_ERR_INVALID);
	tf_sqs_messages_free(m, n);
	tf_sqs_delete_queue(AWS, url);
	tf_free(url);
}

static atomic_int cancel_flag;

static void *
cancel_soon(void *arg)
{
	tf_sleep_ms(300);
	atomic_store(&cancel_flag, 1);
	return arg;
}

static void
test_long_poll_cancel(void)
{
	char *url = new_queue("30");
	struct tf_sqs_message *m = NULL;
	struct tf_sqs_receive_opts o = { 10, 20, -1, &cancel_flag };
	size_t n = 0;
	pthread_t t;
	int64_t t0;

	CHECK(url != NULL);
	atomic_store(&cancel_flag, 0);
	t0 = tf_mono_ms();
	pthread_create(&t, NULL, cancel_soon, NULL);
	CHECK_INT_EQ(tf_sqs_receive_message(AWS, url, &o, &m, &n), TF_ERR_CANCELLED);
	pthread_join(t, NULL);
	CHECK(tf_mono_ms() - t0 < 5000);
	tf_sqs_delete_queue(AWS, url);
	tf_free(url);
}

static void
test_schema_queues_redrive_to_dlq(void)
{
	char *name = itest_name("tf-redrive"), *url = NULL, *dlq = NULL;
	char *url2 = NULL, *dlq2 = NULL;
	struct tf_schema_opts o = { NULL, name, 1, 2, NULL };
	struct tf_sqs_message *m = NULL;
	size_t n = 0;
	int i;

	CHECK_INT_EQ(tf_schema_create_queues(AWS, &o, &url, &dlq), TF_OK);
	CHECK(strstr(dlq, "-dlq") != NULL);
	/* Idempotent: a second init finds the same queues. */
	CHECK_INT_EQ(tf_schema_create_queues(AWS, &o, &url2, &dlq2), TF_OK);
	CHECK_STR_EQ(url2, url);
	CHECK_STR_EQ(dlq2, dlq);
	CHECK_INT_EQ(tf_sqs_send_message(AWS, url, "poison", 0, NULL), TF_OK);
	/* Received twice and never deleted: the third receive finds it gone. */
	for (i = 0; i < 2; i++) {
		CHECK_INT_EQ(receive(url, 2, 0, &m, &n), TF_OK);
		CHECK_INT_EQ(n, 1);
		tf_sqs_messages_free(m, n);
		m = NULL;
	}
	CHECK_INT_EQ(receive(url, 1, 0, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(receive(dlq, 2, 30, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(m[0].body, "poison");
	tf_sqs_messages_free(m, n);
	tf_sqs_delete_queue(AWS, url);
	tf_sqs_delete_queue(AWS, dlq);
	tf_free(url);
	tf_free(dlq);
	tf_free(url2);
	tf_free(dlq2);
	tf_free(name);
}

int
main(void)
{
	int rc;

	if (itest_open() != 0)
		return 1;
	TF_RUN(test_create_and_find_queue);
	TF_RUN(test_missing_queue_and_bad_url);
	TF_RUN(test_send_receive_delete);
	TF_RUN(test_delayed_message_arrives_in_long_poll);
	TF_RUN(test_batches_report_each_entry);
	TF_RUN(test_visibility_changes);
	TF_RUN(test_long_poll_cancel);
	TF_RUN(test_schema_queues_redrive_to_dlq);
	rc = tf_test_summary();
	itest_close();
	return rc;
}
