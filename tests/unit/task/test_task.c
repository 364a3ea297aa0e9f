/* test_task.c - the task item and message formats, without AWS. */
#include "harness.h"

#include "aws/marshal.h"
#include "base/alloc.h"
#include "task/priority.h"
#include "task/task.h"
#include "time/schedule.h"

static cJSON *
parse(const char *text)
{
	return cJSON_Parse(text);
}

static void
test_message_round_trip(void)
{
	struct tf_task_message m;
	char *body = NULL, err[128];

	CHECK_INT_EQ(tf_task_message_format("t-1", 1767225600000LL, 4, TF_PRIORITY_NORMAL,
	    &body), TF_OK);
	CHECK_STR_EQ(body, "{\"taskId\":\"t-1\",\"targetTimestamp\":1767225600000,"
	    "\"priority\":null,\"gen\":4}");
	CHECK_INT_EQ(tf_task_message_parse(body, &m, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(m.id, "t-1");
	CHECK_INT_EQ(m.target_ms, 1767225600000LL);
	CHECK_INT_EQ(m.gen, 4);
	CHECK(m.has_gen);
	tf_free(body);
}

/* tf_task_message_parse() as it was, on a cJSON tree: the reference the
 * tree-less reader must match. */
static enum tf_err
message_by_tree(const char *body, struct tf_task_message *m, char *errbuf,
    size_t errlen)
{
	enum tf_err rc = TF_ERR_PARSE;
	cJSON *doc = cJSON_Parse(body);
	const cJSON *id, *ts, *gen;

	memset(m, 0, sizeof(*m));
	if (!cJSON_IsObject(doc)) {
		snprintf(errbuf, errlen, "message body is not a JSON object");
		goto out;
	}
	id = cJSON_GetObjectItemCaseSensitive(doc, "taskId");
	if (!cJSON_IsString(id) || !tf_task_id_valid(id->valuestring)) {
		snprintf(errbuf, errlen, "taskId: missing or not a valid id");
		goto out;
	}
	snprintf(m->id, sizeof(m->id), "%s", id->valuestring);
	ts = cJSON_GetObjectItemCaseSensitive(doc, "targetTimestamp");
	if (ts != NULL && !cJSON_IsNull(ts)) {
		if (!cJSON_IsNumber(ts) || ts->valuedouble < 0 ||
		    ts->valuedouble > 9.0e15) {
			snprintf(errbuf, errlen, "targetTimestamp: not epoch milliseconds");
			goto out;
		}
		m->target_ms = (int64_t)ts->valuedouble;
	}
	gen = cJSON_GetObjectItemCaseSensitive(doc, "gen");
	if (gen != NULL && !cJSON_IsNull(gen)) {
		if (!cJSON_IsNumber(gen) || gen->valuedouble < 0 ||
		    gen->valuedouble > 9.0e15 ||
		    gen->valuedouble != (double)(int64_t)gen->valuedouble) {
			snprintf(errbuf, errlen, "gen: not a generation number");
			goto out;
		}
		m->gen = (int64_t)gen->valuedouble;
		m->has_gen = true;
	}
	(void)tf_priority_from_json(cJSON_GetObjectItemCaseSensitive(doc,
	    "priority"), &m->priority);
	rc = TF_OK;
out:
	cJSON_Delete(doc);
	return rc;
}

/* The message body is read without a tree, exactly as the tree read it. */
static void
test_message_parse_matches_the_tree(void)
{
	static const char *const bodies[] = {
		"{\"taskId\":\"t-1\",\"targetTimestamp\":1767225600000,"
		    "\"priority\":null,\"gen\":4}",
		"{\"taskId\":\"t-1\",\"targetTimestamp\":null,\"other\":[1,{}]}",
		" { \"gen\" : 2 , \"taskId\" : \"t\\u002d2\" } ",
		"{\"taskId\":\"a\",\"targetTimestamp\":1.5e3,\"gen\":7.0}",
		"{\"taskId\":\"a\",\"targetTimestamp\":-1}",
		"{\"taskId\":\"a\",\"targetTimestamp\":9000000000000001}",
		"{\"taskId\":\"a\",\"targetTimestamp\":\"5\"}",
		"{\"taskId\":\"a\",\"gen\":1.5}",
		"{\"taskId\":\"a\",\"gen\":true,\"targetTimestamp\":[]}",
		"{\"taskId\":\"a\",\"gen\":12345678901234567890123456789012345678901"
		    "234567890123456789012345678901234567890}",
		"{\"taskId\":\"a\",\"taskId\":\"b\",\"gen\":1,\"gen\":\"x\","
		    "\"priority\":\"HIGH\",\"priority\":\"low\"}",
		"{\"t\\u0061skId\":\"a\",\"g\\u0065n\":3,\"priority\":1}",
		"{\"taskId\":\"a b\"}", "{\"taskId\":\"\\u00e9\"}",
		"{\"taskId\":\"\"}", "{\"taskId\":5}", "{}", "[]", "", "  ",
		"{\"taskId\":\"a\"} trailing", "{\"taskId\":\"a\",}",
		"{\"taskId\":\"a\",\"x\":tru}", "{\"taskId\":\"a\"",
		"{\"taskId\":\"a\",\"priority\":\"nope\"}",
		"{\"taskId\":\"a\",\"priority\":-3.5}",
		"{\"taskId\":\"a\",\"priority\":{\"S\":\"high\"}}",
	};
	struct tf_task_message a, b;
	char ea[128], eb[128], id[300];
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]) + 2; i++) {
		const char *body = i < sizeof(bodies) / sizeof(bodies[0]) ?
		    bodies[i] : id;
		enum tf_err ra, rb;

		if (i == sizeof(bodies) / sizeof(bodies[0])) {
			/* the longest id, and one byte more */
			snprintf(id, sizeof(id), "{\"taskId\":\"%0128d\"}", 7);
		} else if (i > sizeof(bodies) / sizeof(bodies[0])) {
			snprintf(id, sizeof(id), "{\"taskId\":\"%0129d\"}", 7);
		}
		ea[0] = eb[0] = '\0';
		ra = tf_task_message_parse(body, &a, ea, sizeof(ea));
		rb = message_by_tree(body, &b, eb, sizeof(eb));
		CHECK_MSG(ra == rb && strcmp(ea, eb) == 0, "%s: %s (%s), the tree: "
		    "%s (%s)", body, tf_strerror(ra), ea, tf_strerror(rb), eb);
		CHECK_MSG(ra != TF_OK || (strcmp(a.id, b.id) == 0 &&
		    a.target_ms == b.target_ms && a.gen == b.gen &&
		    a.has_gen == b.has_gen && a.priority == b.priority),
		    "%s: the fields differ from the tree's", body);
	}
}

static void
test_message_original_format(void)
{
	struct tf_task_message m;
	char err[128];

	/* The original scheduler's message: no gen, null target, other fields. */
	CHECK_INT_EQ(tf_task_message_parse("{\"taskId\":\"x\",\"targetTimestamp\":null,"
	    "\"priority\":null,\"extra\":[1,2]}", &m, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(m.id, "x");
	CHECK_INT_EQ(m.target_ms, 0);
	CHECK_INT_EQ(m.gen, 0);
	CHECK(!m.has_gen);
}

static void
test_message_refusals(void)
{
	static const char *const bad[] = {
		"", "not json", "[]", "{}", "{\"taskId\":5}", "{\"taskId\":\"\"}",
		"{\"taskId\":\"has space\"}",
		"{\"taskId\":\"a\",\"targetTimestamp\":\"soon\"}",
		"{\"taskId\":\"a\",\"targetTimestamp\":-1}",
		"{\"taskId\":\"a\",\"gen\":1.5}", "{\"taskId\":\"a\",\"gen\":-2}",
		"{\"taskId\":\"a\",\"gen\":\"3\"}",
	};
	struct tf_task_message m;
	char err[128], long_id[300], body[400];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_MSG(tf_task_message_parse(bad[i], &m, err, sizeof(err)) == TF_ERR_PARSE,
		    "accepted: %s", bad[i]);
		CHECK(err[0] != '\0');
	}
	memset(long_id, 'a', 200);
	long_id[200] = '\0';
	snprintf(body, sizeof(body), "{\"taskId\":\"%s\"}", long_id);
	CHECK_INT_EQ(tf_task_message_parse(body, &m, err, sizeof(err)), TF_ERR_PARSE);
}

static void
test_item_full(void)
{
	cJSON *item = parse("{\"id\":{\"S\":\"t1\"},\"ns\":{\"S\":\"acme\"},"
	    "\"type\":{\"S\":\"countdown\"},\"params\":{\"M\":{\"n\":{\"N\":\"12345678901234567890\"}}},"
	    "\"status\":{\"S\":\"PROCESSING\"},\"completed\":{\"BOOL\":false},"
	    "\"next_run\":{\"N\":\"1000\"},\"iteration\":{\"N\":\"2\"},\"attempts\":{\"N\":\"1\"},"
	    "\"max_attempts\":{\"N\":\"5\"},\"gen\":{\"N\":\"7\"},\"lease_owner\":{\"S\":\"c1\"},"
	    "\"lease_until\":{\"N\":\"2000\"},\"schedule\":{\"M\":{\"every\":{\"S\":\"30m\"}}},"
	    "\"errors\":{\"L\":[{\"M\":{\"error\":{\"S\":\"e\"}}}]},\"last_error\":{\"S\":\"e\"}}");
	struct tf_task t;
	char err[128];
	cJSON *json = NULL;
	char *text;

	CHECK(item != NULL);
	CHECK_INT_EQ(tf_task_from_item(item, &t, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(t.id, "t1");
	CHECK_STR_EQ(t.ns, "acme");
	CHECK_STR_EQ(t.params_json, "{\"n\":12345678901234567890}");
	CHECK_INT_EQ(t.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(t.gen, 7);
	CHECK_INT_EQ(t.iteration, 2);
	CHECK_INT_EQ(t.max_attempts, 5);
	CHECK_STR_EQ(t.lease_owner, "c1");
	CHECK_STR_EQ(cJSON_GetObjectItem(t.schedule, "every")->valuestring, "30m");
	CHECK(!t.legacy);
	CHECK_INT_EQ(tf_task_to_json(&t, &json), TF_OK);
	text = cJSON_PrintUnformatted(json);
	CHECK(strstr(text, "\"params\":{\"n\":12345678901234567890}") != NULL);
	CHECK(strstr(text, "\"status\":\"PROCESSING\"") != NULL);
	CHECK(strstr(text, "\"errors\":[{\"error\":\"e\"}]") != NULL);
	cJSON_free(text);
	cJSON_Delete(json);
	tf_task_free(&t);
	cJSON_Delete(item);
}

/* A calendar schedule survives the trip to an item and back: its anchor
 * exactly, and the schedule it gives still computes the same next run. */
static void
test_item_calendar_schedule(void)
{
	const char *text = "{\"every\":\"1mo\",\"tz\":\"Europe/Berlin\","
	    "\"anchor\":1769650200000,\"max_runs\":12}";
	cJSON *sched = cJSON_Parse(text), *av = NULL, *item = NULL;
	struct tf_schedule *s = NULL;
	struct tf_task t;
	char err[128];

	memset(&t, 0, sizeof(t));
	CHECK(sched != NULL);
	CHECK_INT_EQ(tf_marshal_value(sched, &av, err, sizeof(err)), TF_OK);
	item = parse("{\"id\":{\"S\":\"t1\"},\"type\":{\"S\":\"countdown\"},"
	    "\"status\":{\"S\":\"PENDING\"},\"next_run\":{\"N\":\"1769650200000\"},"
	    "\"gen\":{\"N\":\"1\"}}");
	CHECK(item != NULL && av != NULL);
	CHECK(cJSON_AddItemToObject(item, "schedule", av));
	av = NULL;
	CHECK_INT_EQ(tf_task_from_item(item, &t, err, sizeof(err)), TF_OK);
	CHECK(t.schedule != NULL && cJSON_Compare(t.schedule, sched, true));
	CHECK_INT_EQ((int64_t)cJSON_GetObjectItem(t.schedule,
	    "anchor")->valuedouble, 1769650200000LL);
	CHECK_INT_EQ(tf_schedule_parse(t.schedule, &s, err, sizeof(err)), TF_OK);
	/* 2026-01-29T02:30 Berlin, then Feb 28 (clamped), then Mar 29 at the
	 * end of the spring gap, 03:00 CEST. */
	CHECK_INT_EQ(tf_schedule_next(s, 1769650200000LL, 1769650200000LL, 1),
	    1772242200000LL);
	CHECK_INT_EQ(tf_schedule_next(s, 1772242200000LL, 1772242200000LL, 2),
	    1774746000000LL);
	tf_schedule_free(s);
	tf_task_free(&t);
	cJSON_Delete(item);
	cJSON_Delete(sched);
}

/* The result is read exactly for display; one that does not unmarshal is
 * left out and the task stays readable. */
static void
test_item_result(void)
{
	cJSON *good = parse("{\"id\":{\"S\":\"r\"},\"type\":{\"S\":\"http\"},"
	    "\"status\":{\"S\":\"COMPLETED\"},\"params\":{\"M\":{}},"
	    "\"result\":{\"M\":{\"status\":{\"N\":\"200\"},\"big\":"
	    "{\"N\":\"12345678901234567890\"}}}}");
	cJSON *bad = parse("{\"id\":{\"S\":\"r\"},\"type\":{\"S\":\"http\"},"
	    "\"status\":{\"S\":\"COMPLETED\"},\"params\":{\"M\":{}},"
	    "\"result\":{\"M\":{\"status\":{\"N\":\"not a number\"}}}}");
	struct tf_task t;
	char err[128];
	cJSON *json = NULL;
	char *text;

	CHECK_INT_EQ(tf_task_from_item(good, &t, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(t.result_json, "{\"status\":200,\"big\":12345678901234567890}");
	CHECK_INT_EQ(tf_task_to_json(&t, &json), TF_OK);
	text = cJSON_PrintUnformatted(json);
	CHECK(strstr(text, "\"result\":{\"status\":200,\"big\":12345678901234567890}") != NULL);
	cJSON_free(text);
	cJSON_Delete(json);
	tf_task_free(&t);
	CHECK_INT_EQ(tf_task_from_item(bad, &t, err, sizeof(err)), TF_OK);
	CHECK(t.result_json == NULL);
	CHECK_INT_EQ(t.status, TF_TASK_COMPLETED);
	tf_task_free(&t);
	cJSON_Delete(good);
	cJSON_Delete(bad);
}

static void
test_item_legacy(void)
{
	cJSON *item = parse("{\"id\":{\"S\":\"old\"},\"completed\":{\"BOOL\":false},"
	    "\"type\":{\"S\":\"noop\"},\"params\":{\"M\":{\"a\":{\"S\":\"b\"}}}}");
	cJSON *done = parse("{\"id\":{\"S\":\"old\"},\"completed\":{\"BOOL\":true},"
	    "\"type\":{\"S\":\"noop\"},\"params\":{\"S\":\"{\\\"x\\\":1}\"}}");
	struct tf_task t;
	char err[128];

	CHECK_INT_EQ(tf_task_from_item(item, &t, err, sizeof(err)), TF_OK);
	CHECK(t.legacy);
	CHECK_INT_EQ(t.status, TF_TASK_PENDING);
	CHECK_INT_EQ(t.gen, 0);
	CHECK_STR_EQ(t.ns, "default");
	CHECK_INT_EQ(t.max_attempts, 3);
	CHECK_STR_EQ(t.params_json, "{\"a\":\"b\"}");
	tf_task_free(&t);
	/* Completed, with params as JSON text in an S (an older producer). */
	CHECK_INT_EQ(tf_task_from_item(done, &t, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(t.status, TF_TASK_COMPLETED);
	CHECK_STR_EQ(t.params_json, "{\"x\":1}");
	tf_task_free(&t);
	cJSON_Delete(item);
	cJSON_Delete(done);
}

static void
test_item_refusals(void)
{
	static const char *const bad[] = {
		"{\"type\":{\"S\":\"noop\"}}",
		"{\"id\":{\"S\":\"a\"}}",
		"{\"id\":{\"N\":\"1\"},\"type\":{\"S\":\"noop\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"noop\"},\"status\":{\"S\":\"DANCING\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"noop\"},\"params\":{\"N\":\"3\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"noop\"},\"params\":{\"S\":\"[1]\"}}",
		/* Numbers the consumer acts on, of the wrong type or missing. */
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"noop\"},\"status\":{\"S\":\"PENDING\"},"
		    "\"next_run\":{\"N\":\"1\"},\"gen\":{\"S\":\"1\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"noop\"},\"status\":{\"S\":\"PENDING\"},"
		    "\"next_run\":{\"N\":\"1.5\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"noop\"},\"status\":{\"S\":\"PENDING\"},"
		    "\"next_run\":{\"N\":\"1\"},\"attempts\":{\"NULL\":true}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"noop\"},\"status\":{\"S\":\"PENDING\"},"
		    "\"gen\":{\"N\":\"2\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"noop\"},\"status\":{\"S\":\"PROCESSING\"},"
		    "\"gen\":{\"N\":\"2\"}}",
		"{\"type\":{\"S\":\"noop\"},\"id\":{\"S\":\"a\"},\"completed\":{\"BOOL\":false},"
		    "\"gen\":{\"S\":\"0\"}}",
	};
	struct tf_task t;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *item = parse(bad[i]);

		CHECK_MSG(tf_task_from_item(item, &t, err, sizeof(err)) == TF_ERR_PARSE,
		    "accepted: %s", bad[i]);
		CHECK(err[0] != '\0');
		if (i >= 6)  /* the message names the attribute */
			CHECK_MSG(strstr(err, "gen") != NULL || strstr(err, "next_run") != NULL ||
			    strstr(err, "attempts") != NULL, "%s", err);
		tf_task_free(&t);
		cJSON_Delete(item);
	}
}

static void
test_validators_and_shard(void)
{
	char a[4], b[4];
	char id[200];

	CHECK(tf_task_id_valid("a"));
	CHECK(tf_task_id_valid("order:123/retry#2"));
	CHECK(!tf_task_id_valid(""));
	CHECK(!tf_task_id_valid("with space"));
	memset(id, 'x', 129);
	id[129] = '\0';
	CHECK(!tf_task_id_valid(id));
	id[128] = '\0';
	CHECK(tf_task_id_valid(id));
	CHECK(tf_task_ns_valid("tenant-1.prod_eu"));
	CHECK(!tf_task_ns_valid("a/b"));
	tf_task_shard("task-1", a);
	tf_task_shard("task-1", b);
	CHECK_STR_EQ(a, b);
	CHECK(atoi(a) >= 0 && atoi(a) < 16);
}

/* Runner names (task types): the original scheduler's "exampleTask" is one,
 * case-sensitive; only ASCII letters, digits, '_' and '-', 1 to 64. */
static void
test_type_names(void)
{
	char name[80];

	CHECK(tf_task_type_valid("exampleTask"));
	CHECK(tf_task_type_valid("HTTP_v2-b"));
	CHECK(tf_task_type_valid("noop"));
	CHECK(!tf_task_type_valid(NULL));
	CHECK(!tf_task_type_valid(""));
	CHECK(!tf_task_type_valid("Bad Name"));
	CHECK(!tf_task_type_valid("a.b"));
	CHECK(!tf_task_type_valid("../noop"));
	CHECK(!tf_task_type_valid("caf\xc3\xa9"));
	memset(name, 'A', 65);
	name[65] = '\0';
	CHECK(!tf_task_type_valid(name));
	name[64] = '\0';
	CHECK(tf_task_type_valid(name));
}

static void
test_backoff_grows_and_is_capped(void)
{
	int64_t max1 = 0, max3 = 0, max20 = 0, min3 = INT64_MAX;
	int i;

	for (i = 0; i < 400; i++) {
		int64_t d1 = tf_task_backoff_ms(1, 1000, 60000);
		int64_t d3 = tf_task_backoff_ms(3, 1000, 60000);
		int64_t d20 = tf_task_backoff_ms(20, 1000, 60000);

		CHECK(d1 >= 0 && d1 <= 1000);
		CHECK(d3 >= 0 && d3 <= 4000);
		CHECK(d20 >= 0 && d20 <= 60000);
		max1 = d1 > max1 ? d1 : max1;
		max3 = d3 > max3 ? d3 : max3;
		min3 = d3 < min3 ? d3 : min3;
		max20 = d20 > max20 ? d20 : max20;
	}
	/* Full jitter: the whole range is used (400 draws each). */
	CHECK(max1 > 500 && max3 > 3000 && min3 < 1000 && max20 > 45000);
}

static void
test_status_names(void)
{
	enum tf_task_status s;

	CHECK(tf_task_status_parse("SUSPENDED", &s) && s == TF_TASK_SUSPENDED);
	CHECK(!tf_task_status_parse("pending", &s));
	CHECK_STR_EQ(tf_task_status_name(TF_TASK_FAILED), "FAILED");
}

/* The limits of a task's name and description (tf_task_label_check). */
static void
test_label_limits(void)
{
	char text[TF_TASK_DESCRIPTION_MAX + 2], why[128], err[160];

	CHECK_INT_EQ(tf_task_label_check(TF_TASK_NAME, NULL, why, sizeof(why)), TF_OK);
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_NAME, "", why, sizeof(why)), TF_OK);
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_NAME, "Nightly r\xc3\xa9port \xf0\x9f\x93\x88",
	    why, sizeof(why)), TF_OK);
	/* 200 bytes are fine, 201 are not. */
	memset(text, 'n', TF_TASK_NAME_MAX);
	text[TF_TASK_NAME_MAX] = '\0';
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_NAME, text, why, sizeof(why)), TF_OK);
	strcat(text, "n");
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_NAME, text, why, sizeof(why)),
	    TF_ERR_INVALID);
	CHECK_STR_EQ(why, "too long (201 bytes; at most 200)");
	/* ... but are a fine description, up to 2000 bytes. */
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_DESCRIPTION, text, why,
	    sizeof(why)), TF_OK);
	memset(text, 'd', TF_TASK_DESCRIPTION_MAX + 1);
	text[TF_TASK_DESCRIPTION_MAX] = '\0';
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_DESCRIPTION, text, why,
	    sizeof(why)), TF_OK);
	text[TF_TASK_DESCRIPTION_MAX] = 'd';
	text[TF_TASK_DESCRIPTION_MAX + 1] = '\0';
	CHECK_INT_EQ(tf_task_labels_check(NULL, text, err, sizeof(err)),
	    TF_ERR_INVALID);
	CHECK_STR_EQ(err, "description: too long (2001 bytes; at most 2000)");
	/* Control characters: none in a name; tab and line breaks only in a
	 * description. */
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_NAME, "a\tb", why, sizeof(why)),
	    TF_ERR_INVALID);
	CHECK_STR_EQ(why, "holds a control character (byte 1)");
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_NAME, "a\nb", why, sizeof(why)),
	    TF_ERR_INVALID);
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_NAME, "a\x7f", why, sizeof(why)),
	    TF_ERR_INVALID);
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_NAME, "a\xc2\x85", why, sizeof(why)),
	    TF_ERR_INVALID);
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_DESCRIPTION, "line 1\r\n\tline 2",
	    why, sizeof(why)), TF_OK);
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_DESCRIPTION, "bell\a", why,
	    sizeof(why)), TF_ERR_INVALID);
	/* UTF-8 only. */
	CHECK_INT_EQ(tf_task_labels_check("caf\xe9", NULL, err, sizeof(err)),
	    TF_ERR_INVALID);
	CHECK_STR_EQ(err, "name: not valid UTF-8");
	CHECK_INT_EQ(tf_task_label_check(TF_TASK_DESCRIPTION, "\xed\xa0\x80",
	    why, sizeof(why)), TF_ERR_INVALID);
}

/* name and description go from the item to the task and its JSON, and an
 * item without them has neither. */
static void
test_item_labels(void)
{
	struct tf_task t;
	cJSON *item, *o = NULL;
	char err[128];

	item = parse("{\"id\":{\"S\":\"l1\"},\"type\":{\"S\":\"noop\"},"
	    "\"status\":{\"S\":\"PENDING\"},\"gen\":{\"N\":\"1\"},"
	    "\"next_run\":{\"N\":\"5\"},\"name\":{\"S\":\"Nightly\"},"
	    "\"description\":{\"S\":\"two\\nlines\"}}");
	CHECK(item != NULL);
	CHECK_INT_EQ(tf_task_from_item(item, &t, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(t.name, "Nightly");
	CHECK_STR_EQ(t.description, "two\nlines");
	CHECK_INT_EQ(tf_task_to_json(&t, &o), TF_OK);
	CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")), "Nightly");
	CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(o, "description")),
	    "two\nlines");
	cJSON_Delete(o);
	tf_task_free(&t);
	cJSON_DeleteItemFromObject(item, "name");
	cJSON_DeleteItemFromObject(item, "description");
	CHECK_INT_EQ(tf_task_from_item(item, &t, err, sizeof(err)), TF_OK);
	CHECK(t.name == NULL && t.description == NULL);
	CHECK_INT_EQ(tf_task_to_json(&t, &o), TF_OK);
	CHECK(!cJSON_HasObjectItem(o, "name") && !cJSON_HasObjectItem(o, "description"));
	cJSON_Delete(o);
	tf_task_free(&t);
	cJSON_Delete(item);
}

/* Priorities (task/priority.h): names, the original format's numbers and
 * names in any case, the queue URLs, and the message and item carrying it. */
static void
test_priorities(void)
{
	static const struct {
		const char *json;
		bool ok;
		enum tf_priority want;
	} v[] = {
		{ "null", true, TF_PRIORITY_NORMAL }, { "\"high\"", true, TF_PRIORITY_HIGH },
		{ "\"LOW\"", true, TF_PRIORITY_LOW }, { "\"Normal\"", true, TF_PRIORITY_NORMAL },
		{ "5", true, TF_PRIORITY_HIGH }, { "0", true, TF_PRIORITY_NORMAL },
		{ "-2.5", true, TF_PRIORITY_LOW }, { "\"urgent\"", false, TF_PRIORITY_NORMAL },
		{ "[1]", false, TF_PRIORITY_NORMAL }, { "true", false, TF_PRIORITY_NORMAL },
	};
	struct tf_task_message m;
	struct tf_task t;
	enum tf_priority p = TF_PRIORITY_LOW;
	cJSON *j, *item;
	char *body = NULL, *url, err[128];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		j = cJSON_Parse(v[i].json);
		CHECK_MSG(tf_priority_from_json(j, &p) == v[i].ok && p == v[i].want,
		    "%s: %d %d", v[i].json, (int)tf_priority_from_json(j, &p), (int)p);
		cJSON_Delete(j);
	}
	CHECK(tf_priority_from_json(NULL, &p) && p == TF_PRIORITY_NORMAL);
	/* The CLI's and the API's names are exact. */
	CHECK(tf_priority_parse("high", &p) && p == TF_PRIORITY_HIGH);
	CHECK(!tf_priority_parse("High", &p) && !tf_priority_parse("", &p) &&
	    !tf_priority_parse(NULL, &p));
	CHECK_STR_EQ(tf_priority_name(TF_PRIORITY_LOW), "low");
	url = tf_priority_queue_url("http://127.0.0.1:9/000000000000/q", TF_PRIORITY_HIGH);
	CHECK_STR_EQ(url, "http://127.0.0.1:9/000000000000/q-high");
	tf_free(url);
	url = tf_priority_queue_url("http://127.0.0.1:9/000000000000/q", TF_PRIORITY_NORMAL);
	CHECK_STR_EQ(url, "http://127.0.0.1:9/000000000000/q");
	tf_free(url);

	/* The message: the name when not normal; the original's number read. */
	CHECK_INT_EQ(tf_task_message_format("t-1", 5, 2, TF_PRIORITY_LOW, &body),
	    TF_OK);
	CHECK_STR_EQ(body, "{\"taskId\":\"t-1\",\"targetTimestamp\":5,"
	    "\"priority\":\"low\",\"gen\":2}");
	CHECK_INT_EQ(tf_task_message_parse(body, &m, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(m.priority, TF_PRIORITY_LOW);
	tf_free(body);
	CHECK_INT_EQ(tf_task_message_parse("{\"taskId\":\"x\",\"targetTimestamp\":"
	    "null,\"priority\":3}", &m, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(m.priority, TF_PRIORITY_HIGH);
	/* Any other value is a hint ignored, not a broken message. */
	CHECK_INT_EQ(tf_task_message_parse("{\"taskId\":\"x\",\"targetTimestamp\":"
	    "null,\"priority\":{\"level\":1}}", &m, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(m.priority, TF_PRIORITY_NORMAL);

	/* The item: S or N; shown by to_json always. */
	item = parse("{\"id\":{\"S\":\"o-1\"},\"completed\":{\"BOOL\":false},"
	    "\"type\":{\"S\":\"record\"},\"params\":{\"M\":{}},"
	    "\"priority\":{\"N\":\"-1\"}}");
	CHECK_INT_EQ(tf_task_from_item(item, &t, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(t.priority, TF_PRIORITY_LOW);
	j = NULL;
	CHECK_INT_EQ(tf_task_to_json(&t, &j), TF_OK);
	CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(j, "priority")), "low");
	cJSON_Delete(j);
	tf_task_free(&t);
	cJSON_ReplaceItemInObject(item, "priority", parse("{\"S\":\"soon\"}"));
	CHECK_INT_EQ(tf_task_from_item(item, &t, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(t.priority, TF_PRIORITY_NORMAL);
	tf_task_free(&t);
	cJSON_Delete(item);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_type_names);
	TF_RUN(test_message_round_trip);
	TF_RUN(test_message_original_format);
	TF_RUN(test_message_parse_matches_the_tree);
	TF_RUN(test_message_refusals);
	TF_RUN(test_item_full);
	TF_RUN(test_item_calendar_schedule);
	TF_RUN(test_item_result);
	TF_RUN(test_item_legacy);
	TF_RUN(test_item_refusals);
	TF_RUN(test_validators_and_shard);
	TF_RUN(test_backoff_grows_and_is_capped);
	TF_RUN(test_status_names);
	TF_RUN(test_label_limits);
	TF_RUN(test_item_labels);
	TF_RUN(test_priorities);
	return tf_test_summary();
}
