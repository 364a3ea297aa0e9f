/* test_ddb_client.c - every DynamoDB call against the local stand-in. */
#include "harness.h"
#include "itest.h"

#include "aws/ddb.h"
#include "aws/schema.h"

#define AWS (itest_ctx.aws)

static char *table;  /* one table with the taskfleet schema for these tests */

/* {"id": {"S": id}}; caller frees with cJSON_Delete(). */
static cJSON *
key_of(const char *id)
{
	cJSON *k = cJSON_CreateObject();

	cJSON_AddItemToObject(k, "id", tf_ddb_av_s(id));
	return k;
}

/* A task-like item; caller frees with cJSON_Delete(). */
static cJSON *
item_of(const char *id, const char *ns, int64_t next_run)
{
	cJSON *it = key_of(id);

	cJSON_AddItemToObject(it, "ns", tf_ddb_av_s(ns));
	cJSON_AddItemToObject(it, "next_run", tf_ddb_av_n(next_run));
	cJSON_AddItemToObject(it, "gen", tf_ddb_av_n(0));
	cJSON_AddItemToObject(it, "status", tf_ddb_av_s("PENDING"));
	return it;
}

static void
test_create_table_is_idempotent(void)
{
	struct tf_schema_opts o = { table, "unused", 0, 0, NULL };
	struct tf_schema_changes ch;
	cJSON *desc = NULL;
	const cJSON *g;
	char step[200];
	int seen = 0;

	/* main() created it; creating again finds it and changes nothing. */
	CHECK_INT_EQ(tf_schema_create_table(AWS, &o, &ch, step, sizeof(step)), TF_OK);
	CHECK_INT_EQ(ch.table_created, 0);
	CHECK_INT_EQ(ch.n_indexes_added, 0);
	CHECK_INT_EQ(ch.ttl_enabled, 0);
	CHECK_INT_EQ(tf_ddb_describe_table(AWS, table, &desc), TF_OK);
	CHECK_STR_EQ(cJSON_GetObjectItem(desc, "TableStatus")->valuestring, "ACTIVE");
	cJSON_ArrayForEach(g, cJSON_GetObjectItem(desc, "GlobalSecondaryIndexes")) {
		const char *name = cJSON_GetObjectItem(g, "IndexName")->valuestring;

		seen += strcmp(name, "by_due") == 0 || strcmp(name, "by_ns") == 0;
	}
	CHECK_INT_EQ(seen, 2);
	cJSON_Delete(desc);
}

static void
test_missing_table(void)
{
	cJSON *k = key_of("x"), *item = NULL, *desc = NULL;

	CHECK_INT_EQ(tf_ddb_get_item(AWS, "tf-no-such-table", k, true, NULL, &item),
	    TF_ERR_NOT_FOUND);
	CHECK_STR_EQ(tf_aws_last_error()->type, "ResourceNotFoundException");
	CHECK_INT_EQ(tf_ddb_describe_table(AWS, "tf-no-such-table", &desc),
	    TF_ERR_NOT_FOUND);
	cJSON_Delete(k);
}

static void
test_put_get_delete(void)
{
	char *id = itest_name("item");
	cJSON *it = item_of(id, "ns1", 1000), *k = key_of(id), *got = NULL, *old = NULL;
	struct tf_ddb_expr e = { 0 };
	int64_t v = 0;

	CHECK_INT_EQ(tf_ddb_put_item(AWS, table, it, NULL), TF_OK);
	CHECK_INT_EQ(tf_ddb_get_item(AWS, table, k, true, NULL, &got), TF_OK);
	CHECK_STR_EQ(tf_ddb_item_s(got, "ns"), "ns1");
	CHECK(tf_ddb_item_n(got, "next_run", &v) && v == 1000);
	cJSON_Delete(got);
	got = NULL;
	/* A projection reads only what it names. */
	e.projection = "#s";
	tf_ddb_expr_name(&e, "#s", "status");
	CHECK_INT_EQ(tf_ddb_get_item(AWS, table, k, true, &e, &got), TF_OK);
	CHECK_STR_EQ(tf_ddb_item_s(got, "status"), "PENDING");
	CHECK(tf_ddb_item_s(got, "ns") == NULL);
	cJSON_Delete(got);
	got = NULL;
	tf_ddb_expr_free(&e);
	/* Conditional put: only if absent. */
	e.condition = "attribute_not_exists(id)";
	CHECK_INT_EQ(tf_ddb_put_item(AWS, table, it, &e), TF_ERR_CONDITION);
	CHECK_STR_EQ(tf_aws_last_error()->type, "ConditionalCheckFailedException");
	CHECK_INT_EQ(tf_ddb_delete_item(AWS, table, k, NULL, &old), TF_OK);
	CHECK(old != NULL);
	CHECK_STR_EQ(tf_ddb_item_s(old, "ns"), "ns1");
	cJSON_Delete(old);
	old = NULL;
	CHECK_INT_EQ(tf_ddb_get_item(AWS, table, k, true, NULL, &got), TF_ERR_NOT_FOUND);
	CHECK(got == NULL);
	/* Deleting what is not there is fine, and returns no old item. */
	CHECK_INT_EQ(tf_ddb_delete_item(AWS, table, k, NULL, &old), TF_OK);
	CHECK(old == NULL);
	cJSON_Delete(it);
	cJSON_Delete(k);
	tf_free(id);
}

static void
test_conditional_update(void)
{
	char *id = itest_name("item");
	cJSON *it = item_of(id, "ns1", 1000), *k = key_of(id), *attrs = NULL;
	struct tf_ddb_expr e = { 0 };
	int64_t gen = -1;

	CHECK_INT_EQ(tf_ddb_put_item(AWS, table, it, NULL), TF_OK);
	e.update = "SET #s = :p, gen = gen + :one, lease_owner = :me";
	e.condition = "#s = :pending AND gen = :g";
	tf_ddb_expr_name(&e, "#s", "status");
	tf_ddb_expr_value_s(&e, ":p", "PROCESSING");
	tf_ddb_expr_value_s(&e, ":pending", "PENDING");
	tf_ddb_expr_value_s(&e, ":me", "consumer-1");
	tf_ddb_expr_value_n(&e, ":one", 1);
	tf_ddb_expr_value_n(&e, ":g", 0);
	CHECK_INT_EQ(tf_ddb_update_item(AWS, table, k, &e, "ALL_NEW", &attrs), TF_OK);
	CHECK_STR_EQ(tf_ddb_item_s(attrs, "status"), "PROCESSING");
	CHECK(tf_ddb_item_n(attrs, "gen", &gen) && gen == 1);
	CHECK_STR_EQ(tf_ddb_item_s(attrs, "ns"), "ns1");
	cJSON_Delete(attrs);
	attrs = NULL;
	/* The same claim again fails its condition: the generation moved on. */
	CHECK_INT_EQ(tf_ddb_update_item(AWS, table, k, &e, "ALL_NEW", &attrs),
	    TF_ERR_CONDITION);
	CHECK(attrs == NULL);
	tf_ddb_expr_free(&e);
	/* A malformed expression is a validation error, not retried. */
	e.update = "SET = broken";
	CHECK_INT_EQ(tf_ddb_update_item(AWS, table, k, &e, NULL, NULL), TF_ERR_VALIDATION);
	cJSON_Delete(it);
	cJSON_Delete(k);
	tf_free(id);
}

static void
test_query_pages_through_index(void)
{
	char *ns = itest_name("ns");
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	cJSON *start = NULL, *items = NULL, *it;
	const cJSON *x;
	int64_t last = -1, v;
	int i, total = 0, pages = 0;

	for (i = 0; i < 25; i++) {
		char id[160];

		snprintf(id, sizeof(id), "%s-%02d", ns, i);
		it = item_of(id, ns, 1000 + (25 - i) * 10);
		CHECK_INT_EQ(tf_ddb_put_item(AWS, table, it, NULL), TF_OK);
		cJSON_Delete(it);
	}
	e.key_condition = "ns = :ns AND next_run >= :from";
	tf_ddb_expr_value_s(&e, ":ns", ns);
	tf_ddb_expr_value_n(&e, ":from", 0);
	q.table = table;
	q.index = "by_ns";
	q.expr = &e;
	q.limit = 10;
	do {
		CHECK_INT_EQ(tf_ddb_query_page(AWS, &q, &start, &items), TF_OK);
		pages++;
		cJSON_ArrayForEach(x, items) {
			CHECK(tf_ddb_item_n(x, "next_run", &v));
			CHECK_MSG(v > last, "next_run out of order: %lld after %lld",
			    (long long)v, (long long)last);
			last = v;
			total++;
		}
		cJSON_Delete(items);
		items = NULL;
	} while (start != NULL && pages < 10);
	CHECK_INT_EQ(total, 25);
	CHECK(pages >= 3);
	/* Descending order: newest schedule first. */
	q.descending = true;
	q.limit = 5;
	CHECK_INT_EQ(tf_ddb_query_page(AWS, &q, &start, &items), TF_OK);
	CHECK_INT_EQ(cJSON_GetArraySize(items), 5);
	CHECK(tf_ddb_item_n(cJSON_GetArrayItem(items, 0), "next_run", &v) && v == 1250);
	cJSON_Delete(items);
	cJSON_Delete(start);
	tf_ddb_expr_free(&e);
	tf_free(ns);
}

static void
test_batch_write_over_25(void)
{
	char *ns = itest_name("batch");
	cJSON *reqs = cJSON_CreateArray(), *start = NULL, *items = NULL;
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	int i, total = 0;

	for (i = 0; i < 60; i++) {
		char id[160];
		cJSON *put = cJSON_CreateObject(), *pr = cJSON_AddObjectToObject(put, "PutRequest");

		snprintf(id, sizeof(id), "%s-%02d", ns, i);
		cJSON_AddItemToObject(pr, "Item", item_of(id, ns, i));
		cJSON_AddItemToArray(reqs, put);
	}
	CHECK_INT_EQ(tf_ddb_batch_write(AWS, table, reqs, 8), TF_OK);
	e.key_condition = "ns = :ns";
	tf_ddb_expr_value_s(&e, ":ns", ns);
	q.table = table;
	q.index = "by_ns";
	q.expr = &e;
	do {
		CHECK_INT_EQ(tf_ddb_query_page(AWS, &q, &start, &items), TF_OK);
		total += cJSON_GetArraySize(items);
		cJSON_Delete(items);
		items = NULL;
	} while (start != NULL);
	CHECK_INT_EQ(total, 60);
	CHECK_INT_EQ(tf_ddb_batch_write(AWS, table, NULL, 8), TF_ERR_INVALID);
	cJSON_Delete(reqs);
	tf_ddb_expr_free(&e);
	tf_free(ns);
}

static void
test_due_index_is_sparse(void)
{
	char *id = itest_name("due"), *other = itest_name("notdue");
	cJSON *it = item_of(id, "d", 5), *it2 = item_of(other, "d", 5), *items = NULL,
	    *start = NULL;
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	const cJSON *x;
	int found = 0, found_other = 0;
	const char *s;

	cJSON_AddItemToObject(it, "due_shard", tf_ddb_av_s("7"));
	cJSON_AddItemToObject(it, "due_at", tf_ddb_av_n(5));
	CHECK_INT_EQ(tf_ddb_put_item(AWS, table, it, NULL), TF_OK);
	CHECK_INT_EQ(tf_ddb_put_item(AWS, table, it2, NULL), TF_OK);
	e.key_condition = "due_shard = :s AND due_at <= :now";
	tf_ddb_expr_value_s(&e, ":s", "7");
	tf_ddb_expr_value_n(&e, ":now", 10);
	q.table = table;
	q.index = "by_due";
	q.expr = &e;
	CHECK_INT_EQ(tf_ddb_query_page(AWS, &q, &start, &items), TF_OK);
	cJSON_ArrayForEach(x, items) {
		s = tf_ddb_item_s(x, "id");
		found += s != NULL && strcmp(s, id) == 0;
		found_other += s != NULL && strcmp(s, other) == 0;
		/* Projected: what the sweeper reads, and nothing else. */
		CHECK_STR_EQ(tf_ddb_item_s(x, "status"), "PENDING");
	}
	CHECK_INT_EQ(found, 1);
	CHECK_INT_EQ(found_other, 0);
	cJSON_Delete(items);
	cJSON_Delete(start);
	cJSON_Delete(it);
	cJSON_Delete(it2);
	tf_ddb_expr_free(&e);
	tf_free(id);
	tf_free(other);
}

int
main(void)
{
	struct tf_schema_opts o = { 0 };
	struct tf_schema_changes ch;
	char step[200];
	int rc;

	if (itest_open() != 0)
		return 1;
	table = itest_name("tf-table");
	o.table = table;
	if (tf_schema_create_table(AWS, &o, &ch, step, sizeof(step)) != TF_OK ||
	    !ch.table_created || !ch.ttl_enabled) {
		printf("FAIL setup: cannot create table %s: %s\n", table,
		    tf_aws_last_error()->message);
		return 1;
	}
	TF_RUN(test_create_table_is_idempotent);
	TF_RUN(test_missing_table);
	TF_RUN(test_put_get_delete);
	TF_RUN(test_conditional_update);
	TF_RUN(test_query_pages_through_index);
	TF_RUN(test_batch_write_over_25);
	TF_RUN(test_due_index_is_sparse);
	rc = tf_test_summary();
	tf_ddb_delete_table(AWS, table);
	tf_free(table);
	itest_close();
	return rc;
}
