/* test_ddb_wire.c - DynamoDB item request bodies written without a request
 * tree: each is read back with cJSON and compared, member by member, with
 * the request DynamoDB expects. */
#include "harness.h"

#include <cjson/cJSON.h>

#include "aws/ddb_wire.h"
#include "base/alloc.h"
#include "base/buf.h"

/* True when b holds JSON equal to the JSON text want. */
static bool
same_json(const struct tf_buf *b, const char *want)
{
	cJSON *got = cJSON_ParseWithLength(b->data, b->len);
	cJSON *exp = cJSON_Parse(want);
	bool same = got != NULL && exp != NULL && cJSON_Compare(got, exp, 1);

	if (!same)
		printf("# got:  %s\n# want: %s\n", b->data, want);
	cJSON_Delete(got);
	cJSON_Delete(exp);
	return same;
}

/* The expression of a claim: names, and S, N and BOOL values, one of them a
 * string that needs escaping. */
static void
claim_expr(struct tf_ddb_expr *e)
{
	memset(e, 0, sizeof(*e));
	e->update = "SET #s = :run, lease = :l";
	e->condition = "#s = :ready AND note <> :q";
	tf_ddb_expr_name(e, "#s", "status");
	tf_ddb_expr_value_s(e, ":run", "RUNNING");
	tf_ddb_expr_value_s(e, ":q", "say \"hi\"\\\n\xc3\xa9");
	tf_ddb_expr_value_n(e, ":l", -1700000000123);
	tf_ddb_expr_value_bool(e, ":ready", true);
}

static void
test_update_body(void)
{
	struct tf_buf b = TF_BUF_INIT;
	struct tf_ddb_expr e;
	cJSON *key = cJSON_Parse("{\"id\":{\"S\":\"t/1\\\"\"}}");

	claim_expr(&e);
	CHECK(key != NULL);
	CHECK_INT_EQ(tf_ddb_key_body(&b, "tab\"le", key, &e, "ALL_NEW"), TF_OK);
	CHECK(same_json(&b, "{\"TableName\":\"tab\\\"le\","
	    "\"UpdateExpression\":\"SET #s = :run, lease = :l\","
	    "\"ConditionExpression\":\"#s = :ready AND note <> :q\","
	    "\"ExpressionAttributeNames\":{\"#s\":\"status\"},"
	    "\"ExpressionAttributeValues\":{\":run\":{\"S\":\"RUNNING\"},"
	    "\":q\":{\"S\":\"say \\\"hi\\\"\\\\\\n\\u00e9\"},"
	    "\":l\":{\"N\":\"-1700000000123\"},\":ready\":{\"BOOL\":true}},"
	    "\"Key\":{\"id\":{\"S\":\"t/1\\\"\"}},\"ReturnValues\":\"ALL_NEW\"}"));
	CHECK_INT_EQ(tf_ddb_key_body(&b, "t", key, NULL, NULL), TF_OK);
	CHECK(same_json(&b, "{\"TableName\":\"t\","
	    "\"Key\":{\"id\":{\"S\":\"t/1\\\"\"}}}"));
	tf_ddb_expr_free(&e);
	cJSON_Delete(key);
	tf_buf_free(&b);
}

static void
test_get_put_and_page_bodies(void)
{
	struct tf_ddb_query q = { 0 };
	struct tf_buf b = TF_BUF_INIT;
	struct tf_ddb_expr e;
	cJSON *key = cJSON_Parse("{\"id\":{\"S\":\"t1\"}}");
	cJSON *item = cJSON_Parse("{\"id\":{\"S\":\"t1\"},\"m\":{\"M\":{\"l\":"
	    "{\"L\":[{\"N\":\"1.5\"},{\"NULL\":true}]}}}}");

	claim_expr(&e);
	e.projection = "#s, id";
	/* GetItem takes the projection and its names only. */
	CHECK_INT_EQ(tf_ddb_get_body(&b, "t", key, true, &e), TF_OK);
	CHECK(same_json(&b, "{\"TableName\":\"t\",\"ProjectionExpression\":"
	    "\"#s, id\",\"ExpressionAttributeNames\":{\"#s\":\"status\"},"
	    "\"Key\":{\"id\":{\"S\":\"t1\"}},\"ConsistentRead\":true}"));
	CHECK_INT_EQ(tf_ddb_get_body(&b, "t", key, false, NULL), TF_OK);
	CHECK(same_json(&b, "{\"TableName\":\"t\",\"Key\":{\"id\":{\"S\":"
	    "\"t1\"}},\"ConsistentRead\":false}"));
	CHECK_INT_EQ(tf_ddb_put_body(&b, "t", item, NULL), TF_OK);
	CHECK(same_json(&b, "{\"TableName\":\"t\",\"Item\":{\"id\":{\"S\":"
	    "\"t1\"},\"m\":{\"M\":{\"l\":{\"L\":[{\"N\":\"1.5\"},"
	    "{\"NULL\":true}]}}}}}"));
	tf_ddb_expr_free(&e);

	memset(&e, 0, sizeof(e));
	e.key_condition = "due_shard = :s";
	tf_ddb_expr_value_n(&e, ":s", 3);
	q.table = "t";
	q.index = "due";
	q.expr = &e;
	q.limit = 25;
	q.descending = true;
	CHECK_INT_EQ(tf_ddb_page_body(&b, &q, key), TF_OK);
	CHECK(same_json(&b, "{\"TableName\":\"t\",\"KeyConditionExpression\":"
	    "\"due_shard = :s\",\"ExpressionAttributeValues\":{\":s\":{\"N\":"
	    "\"3\"}},\"IndexName\":\"due\",\"ExclusiveStartKey\":{\"id\":"
	    "{\"S\":\"t1\"}},\"Limit\":25,\"ScanIndexForward\":false}"));
	tf_ddb_expr_free(&e);
	cJSON_Delete(item);
	cJSON_Delete(key);
	tf_buf_free(&b);
}

/* Times `what` appears in b. */
static int
count(const struct tf_buf *b, const char *what)
{
	const char *p = b->data;
	int n = 0;

	while ((p = strstr(p, what)) != NULL) {
		n++;
		p += strlen(what);
	}
	return n;
}

/* Binding a placeholder again replaces its value, wherever it is in the
 * map, and leaves a nested map's key of the same name alone. */
static void
test_rebinding_replaces(void)
{
	struct tf_buf b = TF_BUF_INIT;
	struct tf_ddb_expr e;
	cJSON *key = cJSON_Parse("{\"id\":{\"S\":\"t1\"}}");
	cJSON *nested = cJSON_Parse("{\"M\":{\":b\":{\"S\":\"inner\"}}}");

	memset(&e, 0, sizeof(e));
	e.update = "SET a = :a";
	CHECK(tf_ddb_expr_value_s(&e, ":only", "x") == TF_OK);
	CHECK(tf_ddb_expr_value_s(&e, ":only", "y") == TF_OK);
	CHECK_STR_EQ(e.values.data, "{\":only\":{\"S\":\"y\"}}");
	tf_ddb_expr_free(&e);

	CHECK(tf_ddb_expr_value_s(&e, ":a", "1") == TF_OK);
	CHECK(tf_ddb_expr_value(&e, ":m", nested) == TF_OK);
	CHECK(tf_ddb_expr_value_n(&e, ":b", 2) == TF_OK);
	CHECK(tf_ddb_expr_value_bool(&e, ":c", false) == TF_OK);
	CHECK(tf_ddb_expr_value_n(&e, ":b", 20) == TF_OK);   /* middle */
	CHECK(tf_ddb_expr_value_n(&e, ":a", 10) == TF_OK);   /* first */
	CHECK(tf_ddb_expr_value_bool(&e, ":a", true) == TF_OK);  /* last */
	CHECK(tf_ddb_expr_name(&e, "#s", "status") == TF_OK);
	CHECK(tf_ddb_expr_name(&e, "#s", "state") == TF_OK);
	CHECK_INT_EQ(tf_ddb_key_body(&b, "t", key, &e, NULL), TF_OK);
	CHECK(same_json(&b, "{\"TableName\":\"t\",\"UpdateExpression\":"
	    "\"SET a = :a\",\"ExpressionAttributeNames\":{\"#s\":\"state\"},"
	    "\"ExpressionAttributeValues\":{\":m\":{\"M\":{\":b\":{\"S\":"
	    "\"inner\"}}},\":b\":{\"N\":\"20\"},\":c\":{\"BOOL\":false},"
	    "\":a\":{\"BOOL\":true}},\"Key\":{\"id\":{\"S\":\"t1\"}}}"));
	/* Each bound once: a JSON reader would not see a duplicate. */
	CHECK_INT_EQ(count(&b, "\":a\":"), 1);
	CHECK_INT_EQ(count(&b, "\":b\":"), 2);  /* one of them nested */
	CHECK_INT_EQ(count(&b, "\"#s\":"), 1);
	/* Placeholders that cannot be written as they are. */
	CHECK(tf_ddb_expr_value_s(&e, "", "x") == TF_ERR_INVALID);
	tf_ddb_expr_free(&e);
	CHECK(tf_ddb_expr_value_s(&e, ":q\"", "x") == TF_ERR_INVALID);
	CHECK(e.values.len == 0);
	tf_ddb_expr_free(&e);
	cJSON_Delete(key);
	tf_buf_free(&b);
}

/* Many placeholders (more than the 64 bits that mark those bound) bound
 * and bound again: each is in the request once, with its last value. */
static void
test_rebinding_many(void)
{
	struct tf_ddb_expr e;
	char ph[16], want[48];
	int i, round;

	memset(&e, 0, sizeof(e));
	for (round = 0; round < 2; round++)
		for (i = 0; i < 100; i++) {
			snprintf(ph, sizeof(ph), ":v%d", i);
			CHECK(tf_ddb_expr_value_n(&e, ph, i * 10 + round) ==
			    TF_OK);
			snprintf(ph, sizeof(ph), "#n%d", i);
			CHECK(tf_ddb_expr_name(&e, ph, round ? "b" : "a") ==
			    TF_OK);
		}
	for (i = 0; i < 100; i++) {
		snprintf(want, sizeof(want), "\":v%d\":", i);
		CHECK_MSG(count(&e.values, want) == 1, "%s bound %d times",
		    want, count(&e.values, want));
		snprintf(want, sizeof(want), "\":v%d\":{\"N\":\"%d\"}", i,
		    i * 10 + 1);
		CHECK_MSG(strstr(e.values.data, want) != NULL, "no %s", want);
		snprintf(want, sizeof(want), "\"#n%d\":", i);
		CHECK_MSG(count(&e.names, want) == 1, "%s: %s", want,
		    e.names.data);
	}
	tf_ddb_expr_free(&e);
	/* Emptied, the map starts again with nothing bound. */
	CHECK(tf_ddb_expr_value_n(&e, ":v1", 1) == TF_OK);
	CHECK(tf_ddb_expr_value_n(&e, ":v1", 2) == TF_OK);
	CHECK_STR_EQ(e.values.data, "{\":v1\":{\"N\":\"2\"}}");
	tf_ddb_expr_free(&e);
}

/* tf_ddb_attr() finds what cJSON_GetObjectItemCaseSensitive() finds:
 * names sharing a first byte, a prefix, another case, the empty name. */
static void
test_attr_lookup(void)
{
	cJSON *item = cJSON_Parse("{\"status\":{\"S\":\"READY\"},"
	    "\"schedule\":{\"S\":\"x\"},\"s\":{\"N\":\"1\"},\"Id\":{\"S\":"
	    "\"upper\"},\"id\":{\"S\":\"t1\"},\"\":{\"S\":\"empty\"},"
	    "\"gen\":{\"N\":\"7\"},\"bad\":{\"N\":\"7x\"}}");
	static const char *const names[] = { "status", "schedule", "s",
	    "Id", "id", "", "gen", "sched", "statuses", "ID", "missing" };
	size_t i;
	int64_t n = 0;

	CHECK(item != NULL);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECK_MSG(tf_ddb_attr(item, names[i]) ==
		    cJSON_GetObjectItemCaseSensitive(item, names[i]),
		    "%s found differently", names[i]);
	CHECK(tf_ddb_attr(NULL, "id") == NULL);
	CHECK_STR_EQ(tf_ddb_item_s(item, "id"), "t1");
	CHECK_STR_EQ(tf_ddb_item_s(item, "Id"), "upper");
	CHECK_STR_EQ(tf_ddb_item_s(item, ""), "empty");
	CHECK(tf_ddb_item_s(item, "gen") == NULL);
	CHECK(tf_ddb_item_n(item, "gen", &n) && n == 7);
	CHECK(!tf_ddb_item_n(item, "bad", &n) && n == 7);
	CHECK(!tf_ddb_item_n(item, "sched", &n));
	cJSON_Delete(item);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_update_body);
	TF_RUN(test_get_put_and_page_bodies);
	TF_RUN(test_rebinding_replaces);
	TF_RUN(test_rebinding_many);
	TF_RUN(test_attr_lookup);
	return tf_test_summary();
}
