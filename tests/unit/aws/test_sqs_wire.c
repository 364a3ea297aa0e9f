/* test_sqs_wire.c - SQS request bodies written without a JSON tree (read
 * back with cJSON, an independent parser) and answers read without one:
 * escaping, messages, MD5 checks, batch failure entries, malformed and
 * truncated answers. */
#include "harness.h"

#include <cjson/cJSON.h>

#include "aws/sqs_wire.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/json_scan.h"
#include "base/log.h"

/* Every byte that needs escaping, UTF-8 of 2 and 4 bytes, and DEL. */
static const char NASTY[] = "q\"b\\s/ \b\f\n\r\t\x01\x1f\x7f "
    "\xc3\xa9 \xf0\x9f\x98\x80 </script>";

/* Parses b with cJSON, checking first that the strict reader takes it. */
static cJSON *
parsed(const struct tf_buf *b)
{
	struct tf_json_scan sc;

	tf_json_scan_init(&sc, b->data, b->len);
	if (!tf_json_skip(&sc) || !tf_json_finish(&sc))
		return NULL;
	return cJSON_ParseWithLength(b->data, b->len);
}

static const char *
str_of(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
num_of(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void
test_md5_hex(void)
{
	char hex[33];

	tf_sqs_md5_hex("", hex);
	CHECK_STR_EQ(hex, "d41d8cd98f00b204e9800998ecf8427e");
	tf_sqs_md5_hex("abc", hex);
	CHECK_STR_EQ(hex, "900150983cd24fb0d6963f7d28e17f72");
}

static void
test_send_body_escapes(void)
{
	struct tf_buf b = TF_BUF_INIT;
	cJSON *req;
	char *big;

	CHECK_INT_EQ(tf_sqs_send_body(&b, "http://127.0.0.1:1/q\"1", NASTY, 5),
	    TF_OK);
	req = parsed(&b);
	CHECK_MSG(req != NULL, "not JSON: %s", b.data);
	CHECK_STR_EQ(str_of(req, "QueueUrl"), "http://127.0.0.1:1/q\"1");
	CHECK_STR_EQ(str_of(req, "MessageBody"), NASTY);
	CHECK(num_of(req, "DelaySeconds") == 5);
	cJSON_Delete(req);

	CHECK_INT_EQ(tf_sqs_send_body(&b, "u", "", 0), TF_ERR_INVALID);
	CHECK_INT_EQ(tf_sqs_send_body(&b, "u", "x", 901), TF_ERR_INVALID);
	CHECK_INT_EQ(tf_sqs_send_body(&b, "u", "x", -1), TF_ERR_INVALID);
	big = tf_malloc(TF_SQS_MAX_BODY + 2);
	CHECK(big != NULL);
	memset(big, 'x', TF_SQS_MAX_BODY + 1);
	big[TF_SQS_MAX_BODY + 1] = '\0';
	CHECK_INT_EQ(tf_sqs_send_body(&b, "u", big, 0), TF_ERR_TOO_LARGE);
	tf_free(big);
	tf_buf_free(&b);
}

static void
test_send_batch_body(void)
{
	const struct tf_sqs_send_entry e[3] = {
		{ "a", NASTY, 0 }, { "b-2", "{\"k\":1}", 7 }, { "c_3", "x", 900 },
	};
	struct tf_sqs_sent sent[TF_SQS_MAX_BATCH];
	struct tf_buf b = TF_BUF_INIT;
	const cJSON *list, *x;
	char md5[33];
	cJSON *req;
	int i = 0;

	CHECK_INT_EQ(tf_sqs_send_batch_body(&b, "u", e, 3, sent), TF_OK);
	req = parsed(&b);
	CHECK_MSG(req != NULL, "not JSON: %s", b.data);
	list = cJSON_GetObjectItemCaseSensitive(req, "Entries");
	CHECK_INT_EQ(cJSON_GetArraySize(list), 3);
	cJSON_ArrayForEach(x, list) {
		CHECK_STR_EQ(str_of(x, "Id"), e[i].id);
		CHECK_STR_EQ(str_of(x, "MessageBody"), e[i].body);
		CHECK(num_of(x, "DelaySeconds") == e[i].delay_seconds);
		CHECK_STR_EQ(sent[i].id, e[i].id);
		tf_sqs_md5_hex(e[i].body, md5);
		CHECK_STR_EQ(sent[i].md5, md5);
		i++;
	}
	cJSON_Delete(req);
	CHECK_INT_EQ(tf_sqs_send_batch_body(&b, "u", e, 0, sent), TF_ERR_INVALID);
	CHECK_INT_EQ(tf_sqs_send_batch_body(&b, "u", e, 11, sent),
	    TF_ERR_INVALID);
	tf_buf_free(&b);
}

static void
test_receive_and_handle_bodies(void)
{
	struct tf_sqs_receive_opts o = { 10, 20, -1, NULL };
	const struct tf_sqs_handle_entry e[2] = {
		{ "m1", "AQEB+/h=\"\\", 30 }, { "m2", "h2", 0 },
	};
	struct tf_buf b = TF_BUF_INIT;
	const cJSON *x;
	cJSON *req;

	CHECK_INT_EQ(tf_sqs_receive_body(&b, "u", &o), TF_OK);
	req = parsed(&b);
	CHECK(req != NULL);
	CHECK(num_of(req, "MaxNumberOfMessages") == 10);
	CHECK(num_of(req, "WaitTimeSeconds") == 20);
	CHECK(cJSON_GetObjectItemCaseSensitive(req, "VisibilityTimeout") == NULL);
	x = cJSON_GetObjectItemCaseSensitive(req, "MessageSystemAttributeNames");
	CHECK(cJSON_IsString(cJSON_GetArrayItem(x, 0)));
	cJSON_Delete(req);
	o.visibility_timeout = 45;
	CHECK_INT_EQ(tf_sqs_receive_body(&b, "u", &o), TF_OK);
	req = parsed(&b);
	CHECK(req != NULL && num_of(req, "VisibilityTimeout") == 45);
	cJSON_Delete(req);
	o.max_messages = 11;
	CHECK_INT_EQ(tf_sqs_receive_body(&b, "u", &o), TF_ERR_INVALID);

	CHECK_INT_EQ(tf_sqs_handle_batch_body(&b, "u", e, 2, 1), TF_OK);
	req = parsed(&b);
	CHECK(req != NULL);
	x = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(req, "Entries"), 0);
	CHECK_STR_EQ(str_of(x, "ReceiptHandle"), "AQEB+/h=\"\\");
	CHECK(num_of(x, "VisibilityTimeout") == 30);
	cJSON_Delete(req);
	CHECK_INT_EQ(tf_sqs_handle_batch_body(&b, "u", e, 2, 0), TF_OK);
	req = parsed(&b);
	x = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(req, "Entries"), 1);
	CHECK(x != NULL && cJSON_GetObjectItemCaseSensitive(x,
	    "VisibilityTimeout") == NULL);
	cJSON_Delete(req);

	CHECK_INT_EQ(tf_sqs_handle_body(&b, "u", "h\"1", -1), TF_OK);
	req = parsed(&b);
	CHECK(req != NULL && str_of(req, "ReceiptHandle") != NULL);
	CHECK_STR_EQ(str_of(req, "ReceiptHandle"), "h\"1");
	cJSON_Delete(req);
	tf_buf_free(&b);
}

/* A ReceiveMessage answer: a message whose body is escaped (its MD5 is
 * that of the decoded text), one without a receipt handle, one whose MD5
 * does not match, one that is not an object, and one without an id or an
 * MD5. */
static void
receive_answer(struct tf_buf *b)
{
	char md5[33];

	tf_sqs_md5_hex("{\"n\":\"\xc3\xa9\xf0\x9f\x98\x80\"}\n", md5);
	tf_buf_reset(b);
	tf_buf_appendf(b, "{\"Other\":{\"Messages\":[]},\"Messages\":[{"
	    "\"MessageId\":\"id-1\",\"ReceiptHandle\":\"rh\\/1\","
	    "\"MD5OfBody\":\"%s\","
	    "\"Body\":\"{\\\"n\\\":\\\"\\u00e9\\ud83d\\ude00\\\"}\\n\","
	    "\"MessageAttributes\":{\"a\":{\"StringValue\":\"x\",\"DataType\":"
	    "\"String\"}},\"Attributes\":{\"ApproximateReceiveCount\":\"3\","
	    "\"SentTimestamp\":\"1700000000123\",\"Other\":[1,2],"
	    "\"ApproximateFirstReceiveTimestamp\":\"1700000000456\"}},"
	    "{\"MessageId\":\"id-2\",\"Body\":\"no handle\"},"
	    "{\"MessageId\":\"id-3\",\"ReceiptHandle\":\"rh3\",\"Body\":\"b\","
	    "\"MD5OfBody\":\"00000000000000000000000000000000\"},"
	    "\"not an object\","
	    "{\"ReceiptHandle\":\"rh5\",\"Body\":\"plain\"}]}", md5);
}

static void
test_read_receive(void)
{
	struct tf_sqs_message *m = NULL;
	struct tf_buf b = TF_BUF_INIT;
	size_t n = 0;

	receive_answer(&b);
	CHECK_INT_EQ(tf_sqs_read_receive(b.data, b.len, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 2);
	CHECK_STR_EQ(m[0].message_id, "id-1");
	CHECK_STR_EQ(m[0].receipt_handle, "rh/1");
	CHECK_STR_EQ(m[0].body, "{\"n\":\"\xc3\xa9\xf0\x9f\x98\x80\"}\n");
	CHECK_INT_EQ(m[0].receive_count, 3);
	CHECK(m[0].sent_ms == 1700000000123);
	CHECK(m[0].first_receive_ms == 1700000000456);
	CHECK_STR_EQ(m[1].message_id, "");
	CHECK_STR_EQ(m[1].body, "plain");
	CHECK_INT_EQ(m[1].receive_count, 0);
	tf_sqs_messages_free(m, n);
	tf_buf_free(&b);
}

static void
test_read_receive_refuses_broken_answers(void)
{
	static const char *const bad[] = {
		"not json", "{\"Messages\":[{\"Body\":\"a\",}]}",
		"{\"Messages\":[{\"Body\":\"a\\q\",\"ReceiptHandle\":\"r\"}]}",
		"{\"Messages\":[]} x",
	};
	struct tf_sqs_message *m = NULL;
	struct tf_buf b = TF_BUF_INIT;
	size_t n = 0, i, cut;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_MSG(tf_sqs_read_receive(bad[i], strlen(bad[i]), &m, &n) ==
		    TF_ERR_PARSE, "took %s", bad[i]);
		CHECK(m == NULL && n == 0);
	}
	/* Every truncation of a good answer is refused, and frees what it
	 * had read (the leak checkers see this). */
	receive_answer(&b);
	for (cut = 1; cut < b.len; cut++) {
		CHECK_MSG(tf_sqs_read_receive(b.data, cut, &m, &n) == TF_ERR_PARSE,
		    "took a cut at %zu", cut);
		CHECK(m == NULL && n == 0);
	}
	CHECK_INT_EQ(tf_sqs_read_receive("", 0, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(tf_sqs_read_receive("{\"Messages\":5}", 14, &m, &n), TF_OK);
	CHECK_INT_EQ(n, 0);
	tf_buf_free(&b);
}

static void
test_read_send(void)
{
	static const char ok[] = "{\"MD5OfMessageBody\":"
	    "\"900150983cd24fb0d6963f7d28e17f72\",\"MessageId\":\"m\\u002d1\"}";
	char md5[33], *id = NULL;

	tf_sqs_md5_hex("abc", md5);
	CHECK_INT_EQ(tf_sqs_read_send(ok, sizeof(ok) - 1, md5, &id), TF_OK);
	CHECK_STR_EQ(id, "m-1");
	tf_free(id);
	CHECK_INT_EQ(tf_sqs_read_send(ok, sizeof(ok) - 1, md5, NULL), TF_OK);
	tf_sqs_md5_hex("abd", md5);
	CHECK_INT_EQ(tf_sqs_read_send(ok, sizeof(ok) - 1, md5, &id),
	    TF_ERR_PARSE);
	CHECK(id == NULL);
	CHECK_INT_EQ(tf_sqs_read_send("{}", 2, md5, &id), TF_ERR_PARSE);
	CHECK_INT_EQ(tf_sqs_read_send("{}", 2, md5, NULL), TF_OK);
	CHECK_INT_EQ(tf_sqs_read_send(ok, 20, md5, &id), TF_ERR_PARSE);
}

static void
test_read_batch_failed_entries(void)
{
	struct tf_sqs_sent sent[3];
	struct tf_sqs_batch_result r;
	const struct tf_sqs_failed_entry *f;
	struct tf_buf b = TF_BUF_INIT;
	char long_msg[400];

	memset(long_msg, 'm', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	snprintf(sent[0].id, sizeof(sent[0].id), "a");
	tf_sqs_md5_hex("body a", sent[0].md5);
	snprintf(sent[1].id, sizeof(sent[1].id), "b");
	tf_sqs_md5_hex("body b", sent[1].md5);
	snprintf(sent[2].id, sizeof(sent[2].id), "c");
	tf_sqs_md5_hex("body c", sent[2].md5);
	tf_buf_appendf(&b, "{\"Successful\":[{\"Id\":\"a\",\"MessageId\":\"ma\","
	    "\"MD5OfMessageBody\":\"%s\"},{\"Id\":\"b\",\"MessageId\":\"mb\","
	    "\"MD5OfMessageBody\":\"ffffffffffffffffffffffffffffffff\"}],"
	    "\"Failed\":[{\"Id\":\"c\",\"SenderFault\":true,\"Code\":"
	    "\"InvalidParameterValue\",\"Message\":\"%s\"},{\"Id\":\"x\\\"y\","
	    "\"SenderFault\":false,\"Code\":\"InternalError\"}]}",
	    sent[0].md5, long_msg);

	memset(&r, 0, sizeof(r));
	CHECK_INT_EQ(tf_sqs_read_batch(b.data, b.len, sent, 3, &r), TF_OK);
	CHECK_INT_EQ(r.n_failed, 2);
	CHECK_INT_EQ(r.n_entries, 3);
	CHECK_STR_EQ(r.message_ids[0], "ma");
	CHECK(r.message_ids[1] == NULL);  /* its MD5 differs */
	CHECK(r.message_ids[2] == NULL);  /* it failed */
	f = tf_sqs_batch_failed(&r, "c");
	CHECK(f != NULL);
	CHECK_STR_EQ(f->code, "InvalidParameterValue");
	CHECK_INT_EQ(f->sender_fault, 1);
	CHECK_INT_EQ(strlen(f->message), sizeof(f->message) - 1);
	f = tf_sqs_batch_failed(&r, "x\"y");
	CHECK(f != NULL);
	CHECK_STR_EQ(f->code, "InternalError");
	CHECK_INT_EQ(f->sender_fault, 0);
	CHECK(tf_sqs_batch_failed(&r, "a") == NULL);
	tf_sqs_batch_result_free(&r);

	/* A delete batch's answer: no ids, the failed entries only. */
	CHECK_INT_EQ(tf_sqs_read_batch(b.data, b.len, NULL, 0, &r), TF_OK);
	CHECK(r.message_ids == NULL);
	CHECK_INT_EQ(r.n_failed, 2);
	tf_sqs_batch_result_free(&r);
	CHECK_INT_EQ(tf_sqs_read_batch(b.data, b.len - 1, NULL, 0, &r),
	    TF_ERR_PARSE);
	tf_sqs_batch_result_free(&r);
	CHECK_INT_EQ(tf_sqs_read_batch("{\"Successful\":[]}", 17, NULL, 0, &r),
	    TF_OK);
	CHECK_INT_EQ(r.n_failed, 0);
	tf_sqs_batch_result_free(&r);
	tf_buf_free(&b);
}

int
main(void)
{
	tf_alloc_init();
	tf_log_set_level(TF_LOG_ERROR + 1);
	TF_RUN(test_md5_hex);
	TF_RUN(test_send_body_escapes);
	TF_RUN(test_send_batch_body);
	TF_RUN(test_receive_and_handle_bodies);
	TF_RUN(test_read_receive);
	TF_RUN(test_read_receive_refuses_broken_answers);
	TF_RUN(test_read_send);
	TF_RUN(test_read_batch_failed_entries);
	return tf_test_summary();
}
