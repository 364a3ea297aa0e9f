/* test_task_manage.c - suspend, resume and run-now decisions and writes,
 * clear/due/count paging, against a scripted loopback DynamoDB; the refusal
 * texts, the message delay and the schedule description. */
#include "harness.h"

#include "aws/aws.h"
#include "aws/creds.h"
#include "aws/ddb.h"
#include "base/alloc.h"
#include "fake_aws.h"
#include "task/due.h"
#include "task/task.h"
#include "task/task_manage.h"

static struct fake_http server;
static struct tf_creds_provider *creds;

#define NOW 1800000000000LL

/* The body of the last request the server saw. */
static const char *
last_body(void)
{
	const char *b = strstr(server.last_request, "\r\n\r\n");

	return b ? b + 4 : "";
}

static const char item_pending[] =
    "{\"Item\":{\"id\":{\"S\":\"t1\"},\"type\":{\"S\":\"noop\"},"
    "\"params\":{\"M\":{}},\"status\":{\"S\":\"PENDING\"},\"gen\":{\"N\":\"3\"},"
    "\"next_run\":{\"N\":\"1900000000000\"},\"due_shard\":{\"S\":\"5\"},"
    "\"due_at\":{\"N\":\"1900000000000\"}}}";
static const char item_suspended_past[] =
    "{\"Item\":{\"id\":{\"S\":\"t1\"},\"type\":{\"S\":\"noop\"},"
    "\"params\":{\"M\":{}},\"status\":{\"S\":\"SUSPENDED\"},\"gen\":{\"N\":\"4\"},"
    "\"next_run\":{\"N\":\"1700000000000\"}}}";
static const char item_suspended_later[] =
    "{\"Item\":{\"id\":{\"S\":\"t1\"},\"type\":{\"S\":\"noop\"},"
    "\"params\":{\"M\":{}},\"status\":{\"S\":\"SUSPENDED\"},\"gen\":{\"N\":\"4\"},"
    "\"next_run\":{\"N\":\"1800003600000\"}}}";
static const char item_processing[] =
    "{\"Item\":{\"id\":{\"S\":\"t1\"},\"type\":{\"S\":\"noop\"},"
    "\"params\":{\"M\":{}},\"status\":{\"S\":\"PROCESSING\"},\"gen\":{\"N\":\"9\"},"
    "\"lease_owner\":{\"S\":\"c1\"},\"lease_until\":{\"N\":\"1800000060000\"},"
    "\"next_run\":{\"N\":\"1800000000000\"}}}";
static const char item_processing_flag[] =
    "{\"Item\":{\"id\":{\"S\":\"t1\"},\"type\":{\"S\":\"noop\"},"
    "\"params\":{\"M\":{}},\"status\":{\"S\":\"PROCESSING\"},\"gen\":{\"N\":\"9\"},"
    "\"lease_owner\":{\"S\":\"c1\"},\"lease_until\":{\"N\":\"1800000060000\"},"
    "\"next_run\":{\"N\":\"1800000000000\"},\"suspend_requested\":{\"BOOL\":true}}}";
static const char item_legacy[] =
    "{\"Item\":{\"id\":{\"S\":\"t1\"},\"type\":{\"S\":\"noop\"},"
    "\"params\":{\"M\":{}},\"completed\":{\"BOOL\":false}}}";
static const char item_completed[] =
    "{\"Item\":{\"id\":{\"S\":\"t1\"},\"type\":{\"S\":\"noop\"},"
    "\"params\":{\"M\":{}},\"status\":{\"S\":\"COMPLETED\"},\"gen\":{\"N\":\"5\"},"
    "\"completed\":{\"BOOL\":true}}}";
static const char item_failed[] =
    "{\"Item\":{\"id\":{\"S\":\"t1\"},\"type\":{\"S\":\"fail\"},"
    "\"params\":{\"M\":{}},\"status\":{\"S\":\"FAILED\"},\"gen\":{\"N\":\"6\"},"
    "\"completed\":{\"BOOL\":false},\"attempts\":{\"N\":\"3\"},"
    "\"max_attempts\":{\"N\":\"3\"},\"iteration\":{\"N\":\"2\"},"
    "\"next_run\":{\"N\":\"1700000000000\"},\"ttl\":{\"N\":\"1900000000\"},"
    "\"finished_at\":{\"N\":\"1700000000500\"},\"last_error\":{\"S\":\"boom\"},"
    "\"errors\":{\"L\":[{\"M\":{\"at\":{\"N\":\"1700000000500\"},"
    "\"error\":{\"S\":\"boom\"}}}]},"
    "\"history\":{\"L\":[{\"M\":{\"at\":{\"N\":\"1700000000500\"},"
    "\"outcome\":{\"S\":\"failed\"}}}]}}}";
static const char cond_failed[] =
    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
    "\"message\":\"The conditional request failed\"}";

static void
test_decide(void)
{
	struct tf_task t;
	static const struct {
		enum tf_task_status st;
		bool flag;
		enum tf_manage_verdict suspend, resume, run_now, retry;
	} cases[] = {
		{ TF_TASK_PENDING, false, TF_MANAGE_CHANGE, TF_MANAGE_REFUSE, TF_MANAGE_CHANGE, TF_MANAGE_REFUSE },
		{ TF_TASK_PROCESSING, false, TF_MANAGE_REQUEST, TF_MANAGE_REFUSE, TF_MANAGE_REFUSE, TF_MANAGE_REFUSE },
		{ TF_TASK_PROCESSING, true, TF_MANAGE_ALREADY, TF_MANAGE_WITHDRAW, TF_MANAGE_REFUSE, TF_MANAGE_REFUSE },
		{ TF_TASK_SUSPENDED, false, TF_MANAGE_ALREADY, TF_MANAGE_CHANGE, TF_MANAGE_REFUSE, TF_MANAGE_REFUSE },
		{ TF_TASK_COMPLETED, false, TF_MANAGE_REFUSE, TF_MANAGE_REFUSE, TF_MANAGE_REFUSE, TF_MANAGE_REFUSE },
		{ TF_TASK_FAILED, false, TF_MANAGE_REFUSE, TF_MANAGE_REFUSE, TF_MANAGE_REFUSE, TF_MANAGE_CHANGE },
	};
	size_t i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t.status = cases[i].st;
		t.suspend_requested = cases[i].flag;
		CHECK_INT_EQ(tf_manage_decide(TF_MANAGE_SUSPEND, &t), cases[i].suspend);
		CHECK_INT_EQ(tf_manage_decide(TF_MANAGE_RESUME, &t), cases[i].resume);
		CHECK_INT_EQ(tf_manage_decide(TF_MANAGE_RUN_NOW, &t), cases[i].run_now);
		CHECK_INT_EQ(tf_manage_decide(TF_MANAGE_RETRY, &t), cases[i].retry);
	}
}

static void
test_refusal_texts(void)
{
	char buf[256];

	CHECK_STR_EQ(tf_manage_refusal(TF_MANAGE_SUSPEND, "X", TF_TASK_COMPLETED,
	    false, buf, sizeof(buf)),
	    "task X is COMPLETED; only PENDING or PROCESSING tasks can be suspended");
	CHECK_STR_EQ(tf_manage_refusal(TF_MANAGE_RESUME, "X", TF_TASK_FAILED,
	    false, buf, sizeof(buf)),
	    "task X is FAILED; only SUSPENDED tasks can be resumed");
	CHECK(strstr(tf_manage_refusal(TF_MANAGE_RESUME, "X", TF_TASK_PENDING,
	    false, buf, sizeof(buf)), "PENDING, not suspended") != NULL);
	CHECK(strstr(tf_manage_refusal(TF_MANAGE_RESUME, "X", TF_TASK_PROCESSING,
	    false, buf, sizeof(buf)), "no suspend was requested") != NULL);
	CHECK(strstr(tf_manage_refusal(TF_MANAGE_RUN_NOW, "X", TF_TASK_SUSPENDED,
	    false, buf, sizeof(buf)), "taskfleet resume X") != NULL);
	CHECK(strstr(tf_manage_refusal(TF_MANAGE_RUN_NOW, "X", TF_TASK_PROCESSING,
	    false, buf, sizeof(buf)), "running now") != NULL);
	CHECK(strstr(tf_manage_refusal(TF_MANAGE_RUN_NOW, "X", TF_TASK_COMPLETED,
	    false, buf, sizeof(buf)), "X is COMPLETED; only PENDING") != NULL);
	CHECK_STR_EQ(tf_manage_refusal(TF_MANAGE_RETRY, "X", TF_TASK_COMPLETED,
	    false, buf, sizeof(buf)),
	    "task X is COMPLETED; only FAILED tasks can be retried");
	CHECK(strstr(tf_manage_refusal(TF_MANAGE_RETRY, "X", TF_TASK_PENDING,
	    false, buf, sizeof(buf)), "taskfleet run-now X") != NULL);
	/* A short buffer is cut, never overrun. */
	CHECK_INT_EQ(strlen(tf_manage_refusal(TF_MANAGE_SUSPEND, "X",
	    TF_TASK_FAILED, false, buf, 8)), 7);
}

static void
test_delay(void)
{
	CHECK_INT_EQ(tf_manage_delay_s(NOW, NOW), 0);
	CHECK_INT_EQ(tf_manage_delay_s(NOW - 5000, NOW), 0);
	CHECK_INT_EQ(tf_manage_delay_s(NOW + 999, NOW), 0);
	CHECK_INT_EQ(tf_manage_delay_s(NOW + 1999, NOW), 1);
	CHECK_INT_EQ(tf_manage_delay_s(NOW + 900000, NOW), 900);
	CHECK_INT_EQ(tf_manage_delay_s(NOW + 86400000, NOW), 900);
}

static void
test_schedule_describe(void)
{
	char buf[256];
	cJSON *s;

	s = cJSON_Parse("{\"every\":\"30m\"}");
	CHECK_STR_EQ(tf_manage_schedule_describe(s, buf, sizeof(buf)), "every 30m");
	cJSON_Delete(s);
	s = cJSON_Parse("{\"cron\":\"0 9 * * 1-5\",\"tz\":\"Europe/Berlin\","
	    "\"max_runs\":10,\"until\":1798675200000}");
	CHECK_STR_EQ(tf_manage_schedule_describe(s, buf, sizeof(buf)),
	    "cron 0 9 * * 1-5 Europe/Berlin, max 10 runs, until "
	    "2026-12-31T00:00:00.000Z");
	cJSON_Delete(s);
	s = cJSON_Parse("{\"cron\":\"*/5 * * * *\",\"max_runs\":1}");
	CHECK_STR_EQ(tf_manage_schedule_describe(s, buf, sizeof(buf)),
	    "cron */5 * * * * UTC, max 1 run");
	cJSON_Delete(s);
	s = cJSON_Parse("{\"every\":\"1mo\",\"tz\":\"Europe/Berlin\","
	    "\"anchor\":1769650200000}");
	CHECK_STR_EQ(tf_manage_schedule_describe(s, buf, sizeof(buf)),
	    "every 1mo Europe/Berlin");
	cJSON_Delete(s);
	s = cJSON_Parse("{\"every\":\"1y\",\"anchor\":1769650200000}");
	CHECK_STR_EQ(tf_manage_schedule_describe(s, buf, sizeof(buf)),
	    "every 1y");
	cJSON_Delete(s);
	s = cJSON_Parse("{\"odd\":1}");
	CHECK_STR_EQ(tf_manage_schedule_describe(s, buf, sizeof(buf)), "{\"odd\":1}");
	cJSON_Delete(s);
	s = cJSON_Parse("{\"every\":\"30m\",\"max_runs\":10}");
	CHECK_INT_EQ(strlen(tf_manage_schedule_describe(s, buf, 12)), 11);
	cJSON_Delete(s);
}

static void
test_suspend_pending(void)
{
	struct fake_reply script[] = { { 200, item_pending, 0, 0 }, { 200, "{}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_manage_result r;
	char err[256];
	const char *b;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 2);
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_SUSPEND, NOW, 0,
	    &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(fake_http_requests(&server), 2);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_CHANGE);
	CHECK_INT_EQ(r.found, TF_TASK_PENDING);
	CHECK_INT_EQ(r.status, TF_TASK_SUSPENDED);
	CHECK_INT_EQ(r.gen, 4);
	CHECK_INT_EQ(r.enqueue_at, 0);
	b = last_body();
	CHECK(strcasestr(server.last_request, "DynamoDB_20120810.UpdateItem") != NULL);
	CHECK(strstr(b, "REMOVE due_shard, due_at, enqueued_for") != NULL);
	CHECK(strstr(b, "\"ConditionExpression\":\"#st = :found AND gen = :g\"") != NULL);
	CHECK(strstr(b, "\":g\":{\"N\":\"3\"}") != NULL);
	CHECK(strstr(b, "\":ng\":{\"N\":\"4\"}") != NULL);
	CHECK(strstr(b, "\":new\":{\"S\":\"SUSPENDED\"}") != NULL);
	/* Only the placeholders the expressions use are sent. */
	CHECK(strstr(b, ":shard") == NULL && strstr(b, ":dns") == NULL);
	tf_aws_free(aws);
}

static void
test_suspend_processing_sets_the_flag_only(void)
{
	struct fake_reply script[] = { { 200, item_processing, 0, 0 }, { 200, "{}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_manage_result r;
	char err[256];
	const char *b;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 2);
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_SUSPEND, NOW, 0,
	    &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_REQUEST);
	CHECK_INT_EQ(r.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(r.gen, 9);
	b = last_body();
	CHECK(strstr(b, "\"UpdateExpression\":\"SET suspend_requested = :t\"") != NULL);
	CHECK(strstr(b, "lease") == NULL && strstr(b, ":ng") == NULL);
	CHECK(strstr(b, "\":found\":{\"S\":\"PROCESSING\"}") != NULL);
	tf_aws_free(aws);
}

static void
test_resume_withdraws_a_request(void)
{
	struct fake_reply script[] = { { 200, item_processing_flag, 0, 0 },
	    { 200, "{}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_manage_result r;
	char err[256];
	const char *b;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 2);
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_RESUME, NOW, 0,
	    &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_WITHDRAW);
	CHECK_INT_EQ(r.gen, 9);
	b = last_body();
	CHECK(strstr(b, "\"UpdateExpression\":\"REMOVE suspend_requested\"") != NULL);
	CHECK(strstr(b, "AND suspend_requested = :t") != NULL);
	tf_aws_free(aws);
}

static void
test_resume_overdue_enqueues_now(void)
{
	struct fake_reply script[] = { { 200, item_suspended_past, 0, 0 },
	    { 200, "{}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_manage_result r;
	char err[256], shard[4], want[64];
	const char *b;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 2);
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_RESUME, NOW, 0,
	    &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_CHANGE);
	CHECK_INT_EQ(r.status, TF_TASK_PENDING);
	CHECK_INT_EQ(r.gen, 5);
	CHECK_INT_EQ(r.next_run, NOW);
	CHECK_INT_EQ(r.enqueue_at, NOW);
	b = last_body();
	/* Its message out, it surfaces in the due index only once that
	 * message may be lost: a grace (60 s) and a horizon (15 min) after it
	 * becomes visible (task/due.h). */
	CHECK(strstr(b, "next_run = :next, due_at = :dmsg, due_shard = :shard, "
	    "enqueued_for = :next") != NULL);
	CHECK(strstr(b, "\":next\":{\"N\":\"1800000000000\"}") != NULL);
	CHECK(strstr(b, "\":dmsg\":{\"N\":\"1800000960000\"}") != NULL);
	tf_task_shard("t1", shard);
	snprintf(want, sizeof(want), "\":shard\":{\"S\":\"%s\"}", shard);
	CHECK(strstr(b, want) != NULL);
	tf_aws_free(aws);
}

static void
test_resume_beyond_the_horizon_waits_for_the_sweeper(void)
{
	struct fake_reply script[] = { { 200, item_suspended_later, 0, 0 },
	    { 200, "{}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_manage_result r;
	char err[256];

	CHECK(aws != NULL);
	fake_http_script(&server, script, 2);
	/* Due in an hour; the horizon is 15 minutes. */
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_RESUME, NOW, 0,
	    &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.next_run, 1800003600000LL);
	CHECK_INT_EQ(r.enqueue_at, 0);
	CHECK(strstr(last_body(), " REMOVE enqueued_for") != NULL);
	CHECK(strstr(last_body(), "due_at = :next, ") != NULL);
	/* With a two-hour horizon it is enqueued at once. */
	fake_http_script(&server, script, 2);
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_RESUME, NOW,
	    2 * 3600 * 1000, &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.enqueue_at, 1800003600000LL);
	tf_aws_free(aws);
}

static void
test_run_now_legacy_item(void)
{
	struct fake_reply script[] = { { 200, item_legacy, 0, 0 }, { 200, "{}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_manage_result r;
	char err[256];
	const char *b;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 2);
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_RUN_NOW, NOW, 0,
	    &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_CHANGE);
	CHECK(r.legacy);
	CHECK_INT_EQ(r.gen, 1);
	CHECK_INT_EQ(r.enqueue_at, NOW);
	b = last_body();
	CHECK(strstr(b, "attribute_not_exists(#st) AND (attribute_not_exists(completed) "
	    "OR completed = :f) AND (attribute_not_exists(gen) OR gen = :g)") != NULL);
	CHECK(strstr(b, "ns = if_not_exists(ns, :dns)") != NULL);
	CHECK(strstr(b, ":found") == NULL);
	tf_aws_free(aws);
}

static void
test_refused_and_missing_write_nothing(void)
{
	struct fake_reply completed[] = { { 200, item_completed, 0, 0 } };
	struct fake_reply missing[] = { { 200, "{}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_manage_result r;
	char err[256];

	CHECK(aws != NULL);
	fake_http_script(&server, completed, 1);
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_SUSPEND, NOW, 0,
	    &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_REFUSE);
	CHECK_INT_EQ(r.found, TF_TASK_COMPLETED);
	CHECK_INT_EQ(fake_http_requests(&server), 1);
	fake_http_script(&server, missing, 1);
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_RESUME, NOW, 0,
	    &r, err, sizeof(err)), TF_ERR_NOT_FOUND);
	CHECK_INT_EQ(fake_http_requests(&server), 1);
	tf_aws_free(aws);
}

static void
test_a_lost_race_reads_again(void)
{
	static const char item_suspended_now[] =
	    "{\"Item\":{\"id\":{\"S\":\"t1\"},\"type\":{\"S\":\"noop\"},"
	    "\"params\":{\"M\":{}},\"status\":{\"S\":\"SUSPENDED\"},\"gen\":{\"N\":\"4\"}}}";
	struct fake_reply script[] = { { 200, item_pending, 0, 0 },
	    { 400, cond_failed, 0, 0 }, { 200, item_suspended_now, 0, 0 } };
	struct fake_reply always[] = { { 200, item_pending, 0, 0 },
	    { 400, cond_failed, 0, 0 }, { 200, item_pending, 0, 0 },
	    { 400, cond_failed, 0, 0 }, { 200, item_pending, 0, 0 },
	    { 400, cond_failed, 0, 0 }, { 200, item_pending, 0, 0 },
	    { 400, cond_failed, 0, 0 }, { 200, item_pending, 0, 0 },
	    { 400, cond_failed, 0, 0 }, { 200, "{}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_manage_result r;
	char err[256];

	CHECK(aws != NULL);
	/* Someone else suspended it between the read and the write. */
	fake_http_script(&server, script, 3);
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_SUSPEND, NOW, 0,
	    &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(fake_http_requests(&server), 3);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_ALREADY);
	CHECK_INT_EQ(r.gen, 4);
	/* A task that keeps changing: a few tries, then the condition error. */
	fake_http_script(&server, always, 11);
	CHECK_INT_EQ(tf_manage_change(aws, "tab", "t1", TF_MANAGE_RUN_NOW, NOW, 0,
	    &r, err, sizeof(err)), TF_ERR_CONDITION);
	CHECK_INT_EQ(fake_http_requests(&server), 2 * TF_MANAGE_TRIES);
	CHECK(strstr(err, "kept changing") != NULL);
	tf_aws_free(aws);
}

static void
test_scan_page(void)
{
	struct fake_reply script[] = {
		{ 200, "{\"Items\":[{\"id\":{\"S\":\"a\"}}],"
		  "\"LastEvaluatedKey\":{\"id\":{\"S\":\"a\"}}}", 0, 0 },
		{ 200, "{\"Items\":[{\"id\":{\"S\":\"b\"}}]}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	cJSON *start = NULL, *items = NULL;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 2);
	e.projection = "id";
	q.table = "tab";
	q.expr = &e;
	q.limit = 7;
	CHECK_INT_EQ(tf_ddb_scan_page(aws, &q, &start, &items), TF_OK);
	CHECK(strcasestr(server.last_request, "DynamoDB_20120810.Scan") != NULL);
	CHECK(strstr(last_body(), "\"ProjectionExpression\":\"id\"") != NULL);
	CHECK(strstr(last_body(), "\"Limit\":7") != NULL);
	CHECK(strstr(last_body(), "ExclusiveStartKey") == NULL);
	CHECK_INT_EQ(cJSON_GetArraySize(items), 1);
	CHECK(start != NULL);
	cJSON_Delete(items);
	CHECK_INT_EQ(tf_ddb_scan_page(aws, &q, &start, &items), TF_OK);
	CHECK(strstr(last_body(), "\"ExclusiveStartKey\":{\"id\":{\"S\":\"a\"}}") != NULL);
	CHECK(start == NULL);
	CHECK_STR_EQ(tf_ddb_item_s(cJSON_GetArrayItem(items, 0), "id"), "b");
	cJSON_Delete(items);
	/* A key condition belongs to a query. */
	e.key_condition = "id = :x";
	CHECK_INT_EQ(tf_ddb_scan_page(aws, &q, &start, &items), TF_ERR_INVALID);
	tf_aws_free(aws);
}

static void
test_count_pages(void)
{
	struct fake_reply script[] = {
		{ 200, "{\"Items\":[{\"status\":{\"S\":\"PENDING\"}},"
		  "{\"status\":{\"S\":\"FAILED\"}},{\"completed\":{\"BOOL\":true}}],"
		  "\"LastEvaluatedKey\":{\"id\":{\"S\":\"x\"}}}", 0, 0 },
		{ 200, "{\"Items\":[{\"status\":{\"S\":\"PENDING\"}},"
		  "{\"completed\":{\"BOOL\":false}},{\"status\":{\"S\":\"WEIRD\"}},"
		  /* The table's own items: no tasks, not counted. */
		  "{\"id\":{\"S\":\"taskfleet config\"}},"
		  "{\"id\":{\"S\":\"taskfleet sweep 0\"},\"lease_owner\":{\"S\":\"c1\"}}]}",
		  0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_manage_counts c;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 2);
	CHECK_INT_EQ(tf_manage_count(aws, "tab", NULL, &c), TF_OK);
	CHECK_INT_EQ(fake_http_requests(&server), 2);
	CHECK_INT_EQ(c.by_status[TF_TASK_PENDING], 3);
	CHECK_INT_EQ(c.by_status[TF_TASK_FAILED], 1);
	CHECK_INT_EQ(c.by_status[TF_TASK_COMPLETED], 1);
	CHECK_INT_EQ(c.legacy, 2);
	CHECK_INT_EQ(c.other, 1);
	CHECK_INT_EQ(c.total, 6);
	CHECK(strstr(last_body(), "\"ProjectionExpression\":\"id, #st, completed\"") != NULL);
	/* With a namespace: a query of by_ns. */
	fake_http_script(&server, script + 1, 1);
	CHECK_INT_EQ(tf_manage_count(aws, "tab", "ops", &c), TF_OK);
	CHECK(strcasestr(server.last_request, "DynamoDB_20120810.Query") != NULL);
	CHECK(strstr(last_body(), "\"IndexName\":\"by_ns\"") != NULL);
	CHECK_INT_EQ(c.total, 3);
	CHECK_INT_EQ(tf_manage_count(aws, "tab", "bad ns", &c), TF_ERR_INVALID);
	tf_aws_free(aws);
}

static void
test_due_merges_the_shards(void)
{
	/* Shard "0" has a task due at 200, shard "1" one due at 100 and one at
	 * 300; the others none. due_at is not the order: it says when the
	 * sweeper looks (a message out makes it later). */
	struct fake_reply script[] = {
		{ 200, "{\"Items\":[{\"id\":{\"S\":\"a\"},\"next_run\":{\"N\":\"200\"},"
		  "\"due_at\":{\"N\":\"200\"}}]}", 0, 0 },
		{ 200, "{\"Items\":[{\"id\":{\"S\":\"c\"},\"next_run\":{\"N\":\"300\"},"
		  "\"due_at\":{\"N\":\"300\"}},{\"id\":{\"S\":\"b\"},"
		  "\"next_run\":{\"N\":\"100\"},\"due_at\":{\"N\":\"960100\"}}]}", 0, 0 },
		{ 200, "{\"Items\":[]}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	cJSON *items = NULL;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 3);
	CHECK_INT_EQ(tf_manage_due(aws, "tab", NULL, NOW, 2, &items), TF_OK);
	CHECK_INT_EQ(fake_http_requests(&server), 16);
	CHECK_INT_EQ(cJSON_GetArraySize(items), 2);
	CHECK_STR_EQ(tf_ddb_item_s(cJSON_GetArrayItem(items, 0), "id"), "b");
	CHECK_STR_EQ(tf_ddb_item_s(cJSON_GetArrayItem(items, 1), "id"), "a");
	CHECK(strstr(last_body(), "\"IndexName\":\"by_due\"") != NULL);
	CHECK(strstr(last_body(), "\":shard\":{\"S\":\"15\"}") != NULL);
	CHECK(strstr(last_body(), "\"FilterExpression\":\"#st = :pending AND "
	    "next_run <= :now\"") != NULL);
	/* The key reaches a grace and a horizon past now: an overdue task
	 * whose message is out has its due_at up to there. */
	CHECK(strstr(last_body(), "\":upto\":{\"N\":\"1800000960000\"}") != NULL);
	cJSON_Delete(items);
	CHECK_INT_EQ(tf_manage_due(aws, "tab", NULL, NOW, 0, &items), TF_ERR_INVALID);
	tf_aws_free(aws);
}

static void
test_clear_deletes_page_by_page(void)
{
	struct fake_reply script[] = {
		{ 200, "{\"Items\":[{\"id\":{\"S\":\"a\"}},{\"id\":{\"S\":\"b\"}}],"
		  "\"LastEvaluatedKey\":{\"id\":{\"S\":\"b\"}}}", 0, 0 },
		{ 200, "{}", 0, 0 },
		{ 200, "{\"Items\":[{\"id\":{\"S\":\"c\"}}]}", 0, 0 },
		{ 200, "{}", 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	int64_t n = -1;

	CHECK(aws != NULL);
	fake_http_script(&server, script, 4);
	CHECK_INT_EQ(tf_manage_clear_ns(aws, "tab", "ops", &n), TF_OK);
	CHECK_INT_EQ(n, 3);
	CHECK_INT_EQ(fake_http_requests(&server), 4);
	CHECK(strcasestr(server.last_request, "DynamoDB_20120810.BatchWriteItem") != NULL);
	CHECK(strstr(last_body(), "{\"DeleteRequest\":{\"Key\":{\"id\":{\"S\":\"c\"}}}}") != NULL);
	CHECK_INT_EQ(tf_manage_clear_ns(aws, "tab", NULL, &n), TF_ERR_INVALID);
	tf_aws_free(aws);
}

/* A task as read, for tf_manage_patch(). */
static void
patch_task_of(struct tf_task *t, enum tf_task_status st, int64_t gen,
    int64_t next_run)
{
	static char id[] = "t1", ns[] = "default", type[] = "noop";

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->ns = ns;
	t->type = type;
	t->status = st;
	t->gen = gen;
	t->next_run = next_run;
}

static void
test_patch(void)
{
	struct fake_reply ok[] = { { 200, "{}", 0, 0 } };
	struct fake_reply lost[] = { { 400, cond_failed, 0, 0 } };
	struct tf_manage_patch p = { 0 };
	struct tf_manage_result r;
	struct tf_task t;
	struct tf_aws *aws = fake_aws_client(&server, creds);
	cJSON *sched = cJSON_Parse("{\"every\":\"30m\"}");
	char err[256], buf[256];
	const char *b;

	CHECK(aws != NULL && sched != NULL);
	CHECK(tf_manage_patchable(TF_TASK_PENDING));
	CHECK(tf_manage_patchable(TF_TASK_SUSPENDED));
	CHECK(!tf_manage_patchable(TF_TASK_PROCESSING));
	CHECK(!tf_manage_patchable(TF_TASK_COMPLETED));
	CHECK(strstr(tf_manage_patch_refusal("X", TF_TASK_PROCESSING, buf,
	    sizeof(buf)), "running now") != NULL);
	CHECK(strstr(tf_manage_patch_refusal("X", TF_TASK_FAILED, buf,
	    sizeof(buf)), "task X is FAILED; only PENDING or SUSPENDED") != NULL);

	/* PENDING, moved to within the horizon: due again, with a message for
	 * the new gen; params exact, the schedule and max_attempts written. */
	patch_task_of(&t, TF_TASK_PENDING, 3, NOW + 3600000);
	p.params_json = "{\"n\":1.50}";
	p.schedule = sched;
	p.next_run = NOW + 60000;
	p.max_attempts = 7;
	fake_http_script(&server, ok, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_OK);
	CHECK_INT_EQ(fake_http_requests(&server), 1);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_CHANGE);
	CHECK_INT_EQ(r.gen, 4);
	CHECK_INT_EQ(r.status, TF_TASK_PENDING);
	CHECK_INT_EQ(r.next_run, NOW + 60000);
	CHECK_INT_EQ(r.enqueue_at, NOW + 60000);
	b = last_body();
	CHECK(strstr(b, "\"ConditionExpression\":\"#st = :found AND gen = :g\"") != NULL);
	CHECK(strstr(b, "params = :params, schedule = :sched, max_attempts = :ma, "
	    "due_at = :dmsg, due_shard = :shard, enqueued_for = :next") != NULL);
	CHECK(strstr(b, "\":dmsg\":{\"N\":\"1800001020000\"}") != NULL);
	CHECK(strstr(b, "\"N\":\"1.50\"") != NULL);
	CHECK(strstr(b, "\":ng\":{\"N\":\"4\"}") != NULL);
	CHECK(strstr(b, "\":ma\":{\"N\":\"7\"}") != NULL);

	/* PENDING, only params: the same time, due again (the old message is
	 * stale by gen); beyond the horizon the sweeper sends it. */
	memset(&p, 0, sizeof(p));
	p.params_json = "{}";
	patch_task_of(&t, TF_TASK_PENDING, 3, NOW + 86400000);
	fake_http_script(&server, ok, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.next_run, NOW + 86400000);
	CHECK_INT_EQ(r.enqueue_at, 0);
	b = last_body();
	CHECK(strstr(b, "REMOVE enqueued_for") != NULL);
	CHECK(strstr(b, ":sched") == NULL && strstr(b, ":ma") == NULL);

	/* SUSPENDED: stays out of the due index, no message. */
	memset(&p, 0, sizeof(p));
	p.next_run = NOW + 1000;
	patch_task_of(&t, TF_TASK_SUSPENDED, 4, NOW - 1000);
	fake_http_script(&server, ok, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.status, TF_TASK_SUSPENDED);
	CHECK_INT_EQ(r.enqueue_at, 0);
	b = last_body();
	CHECK(strstr(b, "due_at") == NULL && strstr(b, "enqueued_for") == NULL);
	CHECK(strstr(b, "\":new\":{\"S\":\"SUSPENDED\"}") != NULL);

	/* Refused states write nothing; a lost race is the condition error. */
	patch_task_of(&t, TF_TASK_PROCESSING, 9, NOW);
	fake_http_script(&server, ok, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_REFUSE);
	CHECK_INT_EQ(fake_http_requests(&server), 0);
	patch_task_of(&t, TF_TASK_PENDING, 3, NOW);
	fake_http_script(&server, lost, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_ERR_CONDITION);
	CHECK_INT_EQ(r.gen, 3);
	cJSON_Delete(sched);
	tf_aws_free(aws);
}

/* name and description by PATCH: set under #nm and #desc (name is a
 * DynamoDB reserved word), removed when given "", in the one REMOVE clause
 * the update may have; a bad one writes nothing. */
static void
test_patch_labels(void)
{
	struct fake_reply ok[] = { { 200, "{}", 0, 0 } };
	struct tf_manage_patch p = { 0 };
	struct tf_manage_result r;
	struct tf_task t;
	struct tf_aws *aws = fake_aws_client(&server, creds);
	char err[256];
	const char *b;

	CHECK(aws != NULL);
	/* Set both; beyond the horizon the update removes enqueued_for too. */
	patch_task_of(&t, TF_TASK_PENDING, 3, NOW + 86400000);
	p.name = "Nightly";
	p.description = "the report";
	fake_http_script(&server, ok, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_OK);
	b = last_body();
	CHECK(strstr(b, ", #nm = :name, #desc = :desc, due_at = :next") != NULL);
	CHECK(strstr(b, "\"#nm\":\"name\"") != NULL);
	CHECK(strstr(b, "\"#desc\":\"description\"") != NULL);
	CHECK(strstr(b, "\":name\":{\"S\":\"Nightly\"}") != NULL);
	CHECK(strstr(b, "\":desc\":{\"S\":\"the report\"}") != NULL);
	/* Remove both, joining the REMOVE of enqueued_for. */
	p.name = p.description = "";
	fake_http_script(&server, ok, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_OK);
	b = last_body();
	CHECK(strstr(b, "REMOVE enqueued_for, #nm, #desc\"") != NULL);
	CHECK(strstr(b, ":name") == NULL && strstr(b, ":desc") == NULL);
	/* SUSPENDED (no due index): a REMOVE clause of its own; the description
	 * is kept. */
	patch_task_of(&t, TF_TASK_SUSPENDED, 4, NOW);
	p.description = NULL;
	fake_http_script(&server, ok, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_OK);
	b = last_body();
	CHECK(strstr(b, "next_run = :next REMOVE #nm\"") != NULL);
	CHECK(strstr(b, "#desc") == NULL);
	/* Too long, or a control character: nothing written. */
	patch_task_of(&t, TF_TASK_PENDING, 3, NOW);
	p.name = "tab\there";
	fake_http_script(&server, ok, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_ERR_INVALID);
	CHECK_STR_EQ(err, "name: holds a control character (byte 3)");
	CHECK_INT_EQ(fake_http_requests(&server), 0);
	tf_aws_free(aws);
}

static void
test_retry_failed(void)
{
	struct fake_reply script[] = { { 200, item_failed, 0, 0 }, { 200, "{}", 0, 0 } };
	struct fake_reply pending[] = { { 200, item_pending, 0, 0 } };
	struct fake_reply raced[] = { { 200, item_failed, 0, 0 },
	    { 400, cond_failed, 0, 0 }, { 200, item_pending, 0, 0 } };
	struct tf_aws *aws = fake_aws_client(&server, creds);
	struct tf_manage_result r;
	char err[256];
	const char *b;

	CHECK(aws != NULL);
	/* Due in an hour: beyond the horizon, so the sweeper sends it. */
	fake_http_script(&server, script, 2);
	CHECK_INT_EQ(tf_manage_retry(aws, "tab", "t1", NOW + 3600000, NOW, 0, 5,
	    &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(fake_http_requests(&server), 2);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_CHANGE);
	CHECK_INT_EQ(r.found, TF_TASK_FAILED);
	CHECK_INT_EQ(r.status, TF_TASK_PENDING);
	CHECK_INT_EQ(r.gen, 7);
	CHECK_INT_EQ(r.next_run, NOW + 3600000);
	CHECK_INT_EQ(r.enqueue_at, 0);
	b = last_body();
	CHECK(strstr(b, "\"ConditionExpression\":\"#st = :found AND gen = :g\"") != NULL);
	CHECK(strstr(b, "\":found\":{\"S\":\"FAILED\"}") != NULL);
	CHECK(strstr(b, "\":new\":{\"S\":\"PENDING\"}") != NULL);
	CHECK(strstr(b, "next_run = :next, attempts = :zero, history = :hist, "
	    "due_at = :next, due_shard = :shard REMOVE enqueued_for, #ttl, "
	    "finished_at") != NULL);
	CHECK(strstr(b, "\"#ttl\":\"ttl\"") != NULL);
	/* errors and last_error are left alone; history keeps the old run
	 * and says it was retried. */
	CHECK(strstr(b, "errors") == NULL && strstr(b, "last_error") == NULL);
	CHECK(strstr(b, "{\"S\":\"failed\"}") != NULL);
	CHECK(strstr(b, "\"outcome\":{\"S\":\"retried\"}") != NULL);
	CHECK(strstr(b, "\"attempt\":{\"N\":\"3\"}") != NULL);
	CHECK(strstr(b, "\":zero\":{\"N\":\"0\"}") != NULL);

	/* Now (a time in the past is now), within the horizon: the message is
	 * the caller's; no history kept, none written. */
	fake_http_script(&server, script, 2);
	CHECK_INT_EQ(tf_manage_retry(aws, "tab", "t1", NOW - 5000, NOW, 0, 0,
	    &r, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.next_run, NOW);
	CHECK_INT_EQ(r.enqueue_at, NOW);
	b = last_body();
	CHECK(strstr(b, "enqueued_for = :next REMOVE #ttl, finished_at") != NULL);
	CHECK(strstr(b, ":hist") == NULL);

	/* A consumer or another retry got in between: the write's condition
	 * fails, the fresh read finds it PENDING, and that is refused. */
	fake_http_script(&server, raced, 3);
	CHECK_INT_EQ(tf_manage_retry(aws, "tab", "t1", 0, NOW, 0, 5, &r, err,
	    sizeof(err)), TF_OK);
	CHECK_INT_EQ(fake_http_requests(&server), 3);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_REFUSE);
	CHECK_INT_EQ(r.found, TF_TASK_PENDING);

	/* Not FAILED: refused, nothing written. */
	fake_http_script(&server, pending, 1);
	CHECK_INT_EQ(tf_manage_retry(aws, "tab", "t1", 0, NOW, 0, 5, &r, err,
	    sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_REFUSE);
	CHECK_INT_EQ(r.found, TF_TASK_PENDING);
	CHECK_INT_EQ(fake_http_requests(&server), 1);
	tf_aws_free(aws);
}

static void
test_patch_clears_the_schedule(void)
{
	struct fake_reply ok[] = { { 200, "{}", 0, 0 } };
	struct tf_manage_patch p = { 0 };
	struct tf_manage_result r;
	struct tf_task t;
	struct tf_aws *aws = fake_aws_client(&server, creds);
	char err[256];

	CHECK(aws != NULL);
	/* PENDING beyond the horizon: one REMOVE clause for both. */
	p.clear_schedule = true;
	patch_task_of(&t, TF_TASK_PENDING, 3, NOW + 86400000);
	fake_http_script(&server, ok, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.next_run, NOW + 86400000);
	CHECK(strstr(last_body(), "REMOVE enqueued_for, schedule, slot\"") != NULL);
	/* SUSPENDED: the clause of its own. */
	patch_task_of(&t, TF_TASK_SUSPENDED, 4, NOW);
	fake_http_script(&server, ok, 1);
	CHECK_INT_EQ(tf_manage_patch(aws, "tab", &t, &p, NOW, 0, &r, err,
	    sizeof(err)), TF_OK);
	CHECK(strstr(last_body(), "next_run = :next REMOVE schedule, slot\"") != NULL);
	tf_aws_free(aws);
}

int
main(void)
{
	/* The settings' defaults, and the table's shard count known: the
	 * writes read no config item from the scripted server. */
	struct tf_due_timing timing = { .horizon_ms = 15 * 60 * 1000,
	    .grace_ms = 60000, .shards = 16 };
	int rc;

	tf_alloc_init();
	tf_due_set(&timing);
	if (fake_http_start(&server) != 0 ||
	    tf_creds_provider_new_static("AKIDTEST", "secret", NULL, &creds) != TF_OK) {
		printf("FAIL setup: no loopback server or credentials\n");
		return 1;
	}
	TF_RUN(test_decide);
	TF_RUN(test_refusal_texts);
	TF_RUN(test_delay);
	TF_RUN(test_schedule_describe);
	TF_RUN(test_suspend_pending);
	TF_RUN(test_suspend_processing_sets_the_flag_only);
	TF_RUN(test_resume_withdraws_a_request);
	TF_RUN(test_resume_overdue_enqueues_now);
	TF_RUN(test_resume_beyond_the_horizon_waits_for_the_sweeper);
	TF_RUN(test_run_now_legacy_item);
	TF_RUN(test_refused_and_missing_write_nothing);
	TF_RUN(test_a_lost_race_reads_again);
	TF_RUN(test_patch);
	TF_RUN(test_retry_failed);
	TF_RUN(test_patch_clears_the_schedule);
	TF_RUN(test_patch_labels);
	TF_RUN(test_scan_page);
	TF_RUN(test_count_pages);
	TF_RUN(test_due_merges_the_shards);
	TF_RUN(test_clear_deletes_page_by_page);
	rc = tf_test_summary();
	tf_creds_provider_free(creds);
	fake_http_stop(&server);
	return rc;
}
