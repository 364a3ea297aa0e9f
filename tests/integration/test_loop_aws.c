/* test_loop_aws.c - AWS calls on the event loop against the local stand-ins:
 * many calls in flight at once, long polls that overlap, and a conditional
 * failure reported as final. */
#include "harness.h"
#include "itest.h"

#include "aws/ddb_async.h"
#include "aws/sqs_async.h"
#include "loop/loop.h"

#define AWS (itest_ctx.aws)
#define N_SEND 200

static char *table;

/* Creates a fresh queue; caller frees the URL with tf_free(). */
static char *
new_queue(void)
{
	char *name = itest_name("tf-loop"), *url = NULL;
	cJSON *attrs = cJSON_CreateObject();

	cJSON_AddStringToObject(attrs, "VisibilityTimeout", "60");
	if (tf_sqs_create_queue(AWS, name, attrs, &url) != TF_OK)
		url = NULL;
	cJSON_Delete(attrs);
	tf_free(name);
	return url;
}

struct traffic {
	struct tf_loop *loop;
	const char *queue_url;
	int sent_ok, send_failed;
	size_t max_in_flight;
	unsigned char seen[N_SEND];
	int received, duplicates, strangers, receive_failed;
	int polls_in_flight;
	int64_t deadline;
	int done;
};

static void on_received(void *ctx, enum tf_err rc,
    struct tf_sqs_message *messages, size_t n, const struct tf_aws_error *err);

/* Starts one more long poll while messages are missing. */
static void
poll_more(struct traffic *t)
{
	struct tf_sqs_receive_opts o = { 10, 1, 60, NULL };

	if (t->received >= N_SEND || tf_mono_ms() > t->deadline)
		return;
	if (tf_sqs_receive_message_async(AWS, t->loop, t->queue_url, &o,
	    on_received, t) == TF_OK)
		t->polls_in_flight++;
	else
		t->receive_failed++;
}

static void
on_received(void *ctx, enum tf_err rc, struct tf_sqs_message *messages,
    size_t n, const struct tf_aws_error *err)
{
	struct traffic *t = ctx;
	size_t i;
	int k;

	t->polls_in_flight--;
	if (rc != TF_OK)
		t->receive_failed++;
	for (i = 0; i < n; i++) {
		if (sscanf(messages[i].body, "loop-%d", &k) != 1 || k < 0 || k >= N_SEND) {
			t->strangers++;
		} else if (t->seen[k]) {
			t->duplicates++;
		} else {
			t->seen[k] = 1;
			t->received++;
		}
	}
	tf_sqs_messages_free(messages, n);
	if (rc != TF_ERR_CANCELLED)
		poll_more(t);
	if (t->polls_in_flight == 0)
		tf_loop_stop(t->loop);
}

static void
on_sent(void *ctx, enum tf_err rc, const char *message_id,
    const struct tf_aws_error *err)
{
	struct traffic *t = ctx;
	size_t in_flight = tf_loop_transfers(t->loop) + 1;

	if (in_flight > t->max_in_flight)
		t->max_in_flight = in_flight;
	if (rc == TF_OK && message_id != NULL && message_id[0] != '\0')
		t->sent_ok++;
	else
		t->send_failed++;
	if (t->sent_ok + t->send_failed == N_SEND)
		tf_loop_stop(t->loop);
}

static void
test_200_sends_then_concurrent_long_polls(void)
{
	struct traffic t;
	struct tf_loop *loop = NULL;
	char *url = new_queue(), body[32];
	int i;

	memset(&t, 0, sizeof(t));
	CHECK(url != NULL);
	t.queue_url = url;
	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	t.loop = loop;
	for (i = 0; i < N_SEND; i++) {
		snprintf(body, sizeof(body), "loop-%d", i);
		CHECK_INT_EQ(tf_sqs_send_message_async(AWS, loop, url, body, 0,
		    on_sent, &t), TF_OK);
	}
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	tf_loop_free(loop);
	loop = NULL;
	CHECK_INT_EQ(t.send_failed, 0);
	CHECK_INT_EQ(t.sent_ok, N_SEND);
	/* The sends overlapped: many were on the loop at once. */
	CHECK_MSG(t.max_in_flight >= 32, "at most %zu in flight", t.max_in_flight);

	/* Eight long polls at a time until every message is back. */
	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	t.loop = loop;
	t.deadline = tf_mono_ms() + 60000;
	for (i = 0; i < 8; i++)
		poll_more(&t);
	CHECK_INT_EQ(t.polls_in_flight, 8);
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	tf_loop_free(loop);
	CHECK_INT_EQ(t.receive_failed, 0);
	CHECK_INT_EQ(t.strangers, 0);
	CHECK_INT_EQ(t.duplicates, 0);
	CHECK_INT_EQ(t.received, N_SEND);
	tf_sqs_delete_queue(AWS, url);
	tf_free(url);
}

#define N_POLLS 4

struct polls {
	struct tf_loop *loop;
	int64_t start[N_POLLS], end[N_POLLS];
	enum tf_err rc[N_POLLS];
	size_t n[N_POLLS];
	int left;
};

struct poll_slot {
	struct polls *p;
	int i;
};

static void
on_poll_done(void *ctx, enum tf_err rc, struct tf_sqs_message *messages,
    size_t n, const struct tf_aws_error *err)
{
	struct poll_slot *s = ctx;

	s->p->end[s->i] = tf_mono_ms();
	s->p->rc[s->i] = rc;
	s->p->n[s->i] = n;
	tf_sqs_messages_free(messages, n);
	if (--s->p->left == 0)
		tf_loop_stop(s->p->loop);
}

static void
test_long_polls_are_in_flight_together(void)
{
	struct tf_sqs_receive_opts o = { 10, 2, 60, NULL };
	struct poll_slot slot[N_POLLS];
	struct polls p;
	struct tf_loop *loop = NULL;
	char *url = new_queue();
	int64_t first_end = INT64_MAX, last_end = 0;
	int i;

	memset(&p, 0, sizeof(p));
	CHECK(url != NULL);
	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	p.loop = loop;
	p.left = N_POLLS;
	for (i = 0; i < N_POLLS; i++) {
		slot[i] = (struct poll_slot){ &p, i };
		p.start[i] = tf_mono_ms();
		CHECK_INT_EQ(tf_sqs_receive_message_async(AWS, loop, url, &o,
		    on_poll_done, &slot[i]), TF_OK);
	}
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	tf_loop_free(loop);
	for (i = 0; i < N_POLLS; i++) {
		CHECK_INT_EQ(p.rc[i], TF_OK);
		CHECK_INT_EQ(p.n[i], 0);
		/* Each one really waited on the empty queue. */
		CHECK_MSG(p.end[i] - p.start[i] >= 1500, "poll %d took %lld ms", i,
		    (long long)(p.end[i] - p.start[i]));
		if (p.end[i] < first_end)
			first_end = p.end[i];
		if (p.end[i] > last_end)
			last_end = p.end[i];
	}
	/* All four were on the wire at once: a poll sent only after the first
	 * one ended would itself wait at least 1.5 s more, so its end would be
	 * that far after the first end. */
	CHECK_MSG(last_end - first_end < 1500, "the polls ended %lld ms apart",
	    (long long)(last_end - first_end));
	tf_sqs_delete_queue(AWS, url);
	tf_free(url);
}

struct batch_call {
	struct tf_loop *loop;
	enum tf_err rc;
	size_t n_failed;
	char failed_id[81];
	int n_ids;       /* message ids a send batch returned */
};

static void
on_batch(void *ctx, enum tf_err rc, const struct tf_sqs_batch_result *result,
    const struct tf_aws_error *err)
{
	struct batch_call *b = ctx;
	size_t i;

	b->rc = rc;
	b->n_failed = result->n_failed;
	if (result->n_failed > 0)
		snprintf(b->failed_id, sizeof(b->failed_id), "%s", result->failed[0].id);
	for (i = 0; result->message_ids != NULL && i < result->n_entries; i++)
		b->n_ids += result->message_ids[i] != NULL;
	tf_loop_stop(b->loop);
}

/* Runs one handle batch on a fresh loop: delete, or change visibility. */
static void
batch_async(int delete, const char *url, const struct tf_sqs_handle_entry *e,
    size_t n, struct batch_call *b)
{
	enum tf_err rc;

	memset(b, 0, sizeof(*b));
	b->rc = TF_ERR__COUNT;
	if (tf_loop_new(NULL, &b->loop) != TF_OK)
		return;
	rc = delete ?
	    tf_sqs_delete_message_batch_async(AWS, b->loop, url, e, n, on_batch, b) :
	    tf_sqs_change_message_visibility_batch_async(AWS, b->loop, url, e, n,
	    on_batch, b);
	if (rc == TF_OK)
		tf_loop_run(b->loop);
	tf_loop_free(b->loop);
}

/* Receives until `want` messages are in hand (SQS may return fewer than
 * there are) or 10 s pass; their receipt handles go to handles[] (caller
 * frees each with tf_free()). Returns how many. */
static size_t
receive_handles(const char *url, size_t want, char **handles)
{
	struct tf_sqs_receive_opts o = { 10, 1, 60, NULL };
	struct tf_sqs_message *m = NULL;
	int64_t deadline = tf_mono_ms() + 10000;
	size_t got = 0, n = 0, i;

	while (got < want && tf_mono_ms() < deadline) {
		if (tf_sqs_receive_message(AWS, url, &o, &m, &n) != TF_OK)
			break;
		for (i = 0; i < n && got < want; i++)
			handles[got++] = tf_strdup(m[i].receipt_handle);
		tf_sqs_messages_free(m, n);
		m = NULL;
	}
	return got;
}

static void
test_visibility_and_delete_batches(void)
{
	static const char *const names[] = { "ApproximateNumberOfMessages",
		"ApproximateNumberOfMessagesNotVisible", NULL };
	static const char *const id[] = { "e0", "e1", "e2" };
	static const struct tf_sqs_send_entry sends[] = { { "s0", "batch me", 0 },
		{ "s1", "batch me", 0 }, { "s2", "batch me", 0 } };
	struct tf_sqs_handle_entry e[4];
	struct batch_call b = { 0 };
	char *url = new_queue(), *h[3] = { NULL, NULL, NULL };
	cJSON *attrs = NULL;
	size_t i;

	CHECK(url != NULL);
	CHECK_INT_EQ(tf_loop_new(NULL, &b.loop), TF_OK);
	b.rc = TF_ERR__COUNT;
	CHECK_INT_EQ(tf_sqs_send_message_batch_async(AWS, b.loop, url, sends, 3,
	    on_batch, &b), TF_OK);
	tf_loop_run(b.loop);
	tf_loop_free(b.loop);
	CHECK_INT_EQ(b.rc, TF_OK);
	CHECK_INT_EQ(b.n_ids, 3);
	CHECK_INT_EQ(receive_handles(url, 3, h), 3);
	for (i = 0; i < 3; i++)
		e[i] = (struct tf_sqs_handle_entry){ id[i], h[i], 0 };
	/* Visible again at once: the same three come back. */
	batch_async(0, url, e, 3, &b);
	CHECK_INT_EQ(b.rc, TF_OK);
	for (i = 0; i < 3; i++) {
		tf_free(h[i]);
		h[i] = NULL;
	}
	CHECK_INT_EQ(receive_handles(url, 3, h), 3);
	for (i = 0; i < 3; i++)
		e[i] = (struct tf_sqs_handle_entry){ id[i], h[i], 0 };
	/* Deleted, with one bad handle reported on its own. */
	e[3] = (struct tf_sqs_handle_entry){ "bad", "not-a-receipt-handle", 0 };
	batch_async(1, url, e, 4, &b);
	CHECK_INT_EQ(b.rc, TF_ERR_PARTIAL);
	CHECK_INT_EQ(b.n_failed, 1);
	CHECK_STR_EQ(b.failed_id, "bad");
	/* An empty batch is refused at once, without a callback. */
	batch_async(1, url, e, 0, &b);
	CHECK_INT_EQ(b.rc, TF_ERR__COUNT);
	for (i = 0; i < 3; i++)
		tf_free(h[i]);
	/* Gone: neither visible nor in flight. */
	CHECK_INT_EQ(tf_sqs_get_queue_attributes(AWS, url, names, &attrs), TF_OK);
	CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(attrs,
	    "ApproximateNumberOfMessages")), "0");
	CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(attrs,
	    "ApproximateNumberOfMessagesNotVisible")), "0");
	cJSON_Delete(attrs);
	tf_sqs_delete_queue(AWS, url);
	tf_free(url);
}

struct ddb_result {
	struct tf_loop *loop;
	enum tf_err rc;
	struct tf_aws_error err;
	cJSON *value, *next_key;   /* owned */
};

static void
on_ddb(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct ddb_result *r = ctx;

	r->rc = rc;
	r->err = *err;
	r->value = value;
	r->next_key = next_key;
	tf_loop_stop(r->loop);
}

enum ddb_op { GET, UPDATE, QUERY };

/* Runs one typed DynamoDB call on a fresh loop; frees what r held. */
static void
ddb_async(enum ddb_op op, const char *id, const struct tf_ddb_expr *e,
    struct ddb_result *r)
{
	struct tf_ddb_query q = { table, NULL, e, 0, false, true };
	cJSON *key = cJSON_CreateObject();
	enum tf_err rc;

	cJSON_Delete(r->value);
	cJSON_Delete(r->next_key);
	memset(r, 0, sizeof(*r));
	r->rc = TF_ERR__COUNT;
	cJSON_AddItemToObject(key, "id", tf_ddb_av_s(id));
	if (tf_loop_new(NULL, &r->loop) != TF_OK)
		goto out;
	if (op == GET)
		rc = tf_ddb_get_item_async(AWS, r->loop, table, key, true, e,
		    on_ddb, r);
	else if (op == UPDATE)
		rc = tf_ddb_update_item_async(AWS, r->loop, table, key, e,
		    "ALL_NEW", on_ddb, r);
	else
		rc = tf_ddb_query_page_async(AWS, r->loop, &q, NULL, on_ddb, r);
	if (rc == TF_OK)
		tf_loop_run(r->loop);
	tf_loop_free(r->loop);
out:
	cJSON_Delete(key);
}

static void
test_conditional_update_failure_is_final(void)
{
	struct tf_ddb_expr upd = { 0 }, query = { 0 };
	struct ddb_result r = { 0 };
	cJSON *item = cJSON_CreateObject();
	long before = atomic_load(&tf_aws_stats(AWS)->retries);
	int64_t gen = 0;

	upd.update = "SET gen = :g";
	upd.condition = "attribute_exists(id)";
	CHECK_INT_EQ(tf_ddb_expr_value_n(&upd, ":g", 1), TF_OK);
	ddb_async(UPDATE, "loop-item", &upd, &r);
	CHECK_INT_EQ(r.rc, TF_ERR_CONDITION);
	CHECK_STR_EQ(r.err.type, "ConditionalCheckFailedException");
	CHECK_INT_EQ(r.err.attempts, 1);
	CHECK_INT_EQ(r.err.http_status, 400);
	CHECK(r.value == NULL);
	CHECK_INT_EQ(atomic_load(&tf_aws_stats(AWS)->retries), before);
	ddb_async(GET, "loop-item", NULL, &r);
	CHECK_INT_EQ(r.rc, TF_ERR_NOT_FOUND);
	/* Once the item exists, the same update succeeds. */
	cJSON_AddItemToObject(item, "id", tf_ddb_av_s("loop-item"));
	cJSON_AddItemToObject(item, "gen", tf_ddb_av_n(0));
	CHECK_INT_EQ(tf_ddb_put_item(AWS, table, item, NULL), TF_OK);
	ddb_async(UPDATE, "loop-item", &upd, &r);
	CHECK_INT_EQ(r.rc, TF_OK);
	CHECK_INT_EQ(r.err.code, TF_OK);
	CHECK(tf_ddb_item_n(r.value, "gen", &gen));
	CHECK_INT_EQ(gen, 1);
	ddb_async(GET, "loop-item", NULL, &r);
	CHECK_INT_EQ(r.rc, TF_OK);
	CHECK_STR_EQ(tf_ddb_item_s(r.value, "id"), "loop-item");
	query.key_condition = "id = :id";
	CHECK_INT_EQ(tf_ddb_expr_value_s(&query, ":id", "loop-item"), TF_OK);
	ddb_async(QUERY, "loop-item", &query, &r);
	CHECK_INT_EQ(r.rc, TF_OK);
	CHECK_INT_EQ(cJSON_GetArraySize(r.value), 1);
	CHECK(r.next_key == NULL);
	cJSON_Delete(r.value);
	cJSON_Delete(r.next_key);
	cJSON_Delete(item);
	tf_ddb_expr_free(&upd);
	tf_ddb_expr_free(&query);
}

int
main(void)
{
	int rc;

	if (itest_open() != 0 || (table = itest_create_table("tf-loop")) == NULL)
		return 1;
	TF_RUN(test_200_sends_then_concurrent_long_polls);
	TF_RUN(test_long_polls_are_in_flight_together);
	TF_RUN(test_visibility_and_delete_batches);
	TF_RUN(test_conditional_update_failure_is_final);
	rc = tf_test_summary();
	tf_ddb_delete_table(AWS, table);
	tf_free(table);
	itest_close();
	return rc;
}
