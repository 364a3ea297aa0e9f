/* test_task_answer.c - the task read from a DynamoDB answer's text
 * (lib/task/task_answer.c) against tf_task_from_item() on the same answer
 * parsed by cJSON: real answers of the stand-ins, escapes, nesting, errors,
 * truncated and malformed text, duplicates and allocation failures. */
#include "harness.h"

#include <stdbool.h>

#include "base/alloc.h"
#include "task/task.h"
#include "task/task_answer.h"

/* The stand-ins' answers (tests/fuzz/corpus/responses/ddb_*.json, also the
 * fuzz target's seeds): UpdateItem ALL_NEW in a claim's shape, and GetItem,
 * of a noop task, a countdown task with every kind of attribute and escape,
 * and a cron task. */
static const char *const corpus[] = {
	"ddb_claim_0", "ddb_claim_1", "ddb_claim_2",
	"ddb_get_0", "ddb_get_1", "ddb_get_2",
};

/* Reads tests/fuzz/corpus/responses/<name>.json (root from TF_ROOT, else
 * "."); caller frees with free(). NULL when it cannot be read. */
static char *
read_answer(const char *name, size_t *len)
{
	const char *root = getenv("TF_ROOT");
	char path[1024];
	char *data = NULL;
	long size;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/responses/%s.json",
	    root != NULL && *root != '\0' ? root : ".", name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)size + 1)) != NULL) {
		if (fread(data, 1, (size_t)size, f) == (size_t)size) {
			data[size] = '\0';
			*len = (size_t)size;
		} else {
			free(data);
			data = NULL;
		}
	}
	fclose(f);
	return data;
}

static bool
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Names the first field in which a and b differ; NULL when none does. */
static const char *
differs(const struct tf_task *a, const struct tf_task *b)
{
#define STR(f) if (!same_str(a->f, b->f)) return #f
#define NUM(f) if (a->f != b->f) return #f
	STR(id); STR(ns); STR(type); STR(name); STR(description); STR(callback);
	STR(failure_callback); STR(flow_key); STR(limited_by); STR(params_json);
	STR(result_json); STR(lease_owner); STR(lease_token); STR(last_error);
	STR(errors_av); STR(history_av); STR(callback_pending_av);
	NUM(limited_ms); NUM(status); NUM(next_run); NUM(iteration);
	NUM(attempts); NUM(max_attempts); NUM(gen); NUM(lease_until);
	NUM(enqueued_for); NUM(slot); NUM(suspend_requested); NUM(created_at);
	NUM(updated_at); NUM(finished_at); NUM(ttl); NUM(legacy); NUM(priority);
	if ((a->schedule == NULL) != (b->schedule == NULL) ||
	    (a->schedule != NULL && !cJSON_Compare(a->schedule, b->schedule, 1)))
		return "schedule";
#undef STR
#undef NUM
	return NULL;
}

/* What the tree path makes of text: member of the parsed answer through
 * tf_task_from_item(); TF_ERR_PARSE when cJSON does not parse it,
 * TF_ERR_NOT_FOUND without the member. */
static enum tf_err
by_tree(const char *text, size_t len, const char *member, struct tf_task *t,
    char *err, size_t errlen)
{
	cJSON *doc = cJSON_ParseWithLength(text, len);
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, member);
	enum tf_err rc;

	memset(t, 0, sizeof(*t));
	err[0] = '\0';
	if (doc == NULL)
		return TF_ERR_PARSE;
	rc = item != NULL ? tf_task_from_item(item, t, err, errlen) :
	    TF_ERR_NOT_FOUND;
	cJSON_Delete(doc);
	return rc;
}

/* Reads text both ways; fails the test (returns false) when the results
 * differ in rc, error text or any field. */
static bool
agree(const char *label, const char *text, const char *member)
{
	struct tf_task a, b;
	char ea[256], eb[256];
	enum tf_err ra, rb;
	const char *field;
	size_t len = strlen(text);
	bool ok = true;

	ra = tf_task_from_answer(text, len, member, &a, ea, sizeof(ea));
	rb = by_tree(text, len, member, &b, eb, sizeof(eb));
	if (ra != rb) {
		TF_FAIL_AT("%s: rc %s, the tree's %s (%s)", label, tf_strerror(ra),
		    tf_strerror(rb), ea);
		ok = false;
	} else if (ra != TF_OK && strcmp(ea, eb) != 0) {
		TF_FAIL_AT("%s: error \"%s\", the tree's \"%s\"", label, ea, eb);
		ok = false;
	} else if (ra == TF_OK && (field = differs(&a, &b)) != NULL) {
		TF_FAIL_AT("%s: %s differs from the tree's", label, field);
		ok = false;
	}
	tf_task_free(&a);
	tf_task_free(&b);
	return ok;
}

static void
test_stand_in_answers_read_as_the_tree_reads_them(void)
{
	struct tf_task t;
	char *text, err[256];
	size_t i, len = 0;

	for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		text = read_answer(corpus[i], &len);
		CHECK_MSG(text != NULL, "cannot read %s (TF_ROOT)", corpus[i]);
		if (!agree(corpus[i], text, i < 3 ? "Attributes" : "Item")) {
			free(text);
			return;
		}
		free(text);
	}
	/* And the values themselves, for the one with every kind. */
	text = read_answer("ddb_claim_1", &len);
	CHECK(text != NULL);
	CHECK_INT_EQ(tf_task_from_answer(text, len, "Attributes", &t, err,
	    sizeof(err)), TF_OK);
	free(text);
	CHECK_STR_EQ(t.name, "n\\u00e4me \"q\" \\\\ \\u2028");
	CHECK_STR_EQ(t.description, "multi\r\nline\ttab");
	CHECK_STR_EQ(t.lease_token, "tok1");
	CHECK_INT_EQ(t.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(t.gen, 2);
	CHECK_INT_EQ(t.priority, TF_PRIORITY_HIGH);
	CHECK(strstr(t.params_json, "\"every_ms\":200") != NULL);
	CHECK(strstr(t.history_av, "\"consumer\":{\"S\":\"c \\\"x\\\"\\n\"}") !=
	    NULL);
	tf_task_free(&t);
}

static void
test_escapes_decode_exactly(void)
{
	struct tf_task t;
	char err[256];
	const char *text = "{\"Attributes\":{\"id\":{\"S\":\"t-1\"},"
	    "\"type\":{\"S\":\"noop\"},\"status\":{\"S\":\"PENDING\"},"
	    "\"next_run\":{\"N\":\"5\"},\"name\":{\"S\":\"q\\\" b\\\\ s\\/ "
	    "\\b\\f\\n\\r\\t \\u00e9\\u20AC\\ud83d\\ude00 \\u0001\"},"
	    "\"history\":{\"L\":[{\"S\":\"\\u00e9\\/\\u001f\"}]},"
	    "\"errors\":{ \"L\" : [ { \"S\" : \"plain\" } ] }}}";

	CHECK(agree("escapes", text, "Attributes"));
	CHECK_INT_EQ(tf_task_from_answer(text, strlen(text), "Attributes", &t,
	    err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(t.name, "q\" b\\ s/ \b\f\n\r\t \xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80 \x01");
	/* Lists are kept as cJSON prints them: escapes as cJSON writes them,
	 * and without whitespace between tokens. */
	CHECK_STR_EQ(t.history_av, "{\"L\":[{\"S\":\"\xc3\xa9/\\u001f\"}]}");
	CHECK_STR_EQ(t.errors_av, "{\"L\":[{\"S\":\"plain\"}]}");
	tf_task_free(&t);
}

static void
test_shapes_and_errors_match_the_tree(void)
{
	static const char *const items[] = {
		/* legacy: no status */
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},"
		    "\"completed\":{\"BOOL\":true},\"params\":{\"S\":\"{\\\"k\\\":1}\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"}}",
		/* the errors tf_task_from_item() names */
		"{\"type\":{\"S\":\"t\"}}",
		"{\"id\":{\"N\":\"1\"},\"type\":{\"S\":\"t\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":[]}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"status\":{\"S\":\"NOPE\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"status\":{\"S\":"
		    "\"PENDING\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"status\":{\"S\":"
		    "\"PENDING\"},\"next_run\":{\"N\":\"1.5\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"gen\":{\"S\":\"1\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"slot\":{\"N\":\"\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"params\":{\"S\":\"[1]\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"params\":{\"N\":\"1\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"params\":{\"M\":{\"x\":"
		    "{\"Q\":\"1\"}}}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"params\":{\"NULL\":true}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"params\":{\"M\":{},"
		    "\"S\":\"x\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"schedule\":{\"S\":\"x\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"result\":{\"M\":{\"r\":"
		    "{\"N\":\"12345678901234567890\"}}}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"result\":{\"M\":{\"r\":"
		    "{\"B\":\"!!\"}}}}",
		/* numbers as strtoll reads them, priorities of every form */
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"gen\":{\"N\":\" +7\"},"
		    "\"ttl\":{\"N\":\"99999999999999999999\"},\"priority\":{\"N\":\"1\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"gen\":{\"N\":"
		    "\"000000000000000000000000000000000000000000000000000000000000000042\"},"
		    "\"priority\":{\"S\":\"LOW\"}}",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"priority\":{\"NULL\":true},"
		    "\"suspend_requested\":{\"BOOL\":true},\"limited_by\":{\"S\":\"k\"},"
		    "\"limited_ms\":{\"N\":\"-3\"}}",
		/* whitespace wherever JSON allows it */
		" { \"id\" : { \"S\" : \"a\" } , \"type\":{\"S\":\"t\"},"
		    "\"suspend_requested\":{\"BOOL\": true },\"completed\":{"
		    "\"BOOL\"\t:\ntrue},\"params\":{ \"M\" : { } },\"gen\":{\"N\":"
		    " \"4\"}} ",
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"params\":"
		    "{\"NULL\": true}}",
		/* duplicates: the first counts, as in cJSON */
		"{\"id\":{\"S\":\"a\"},\"id\":{\"S\":\"b\"},\"type\":{\"S\":\"t\","
		    "\"S\":\"u\"},\"gen\":{\"N\":\"1\"},\"gen\":{\"N\":\"x\"}}",
		/* escaped attribute names, unknown and nested attributes */
		"{\"\\u0069d\":{\"S\":\"a\"},\"typ\\u0065\":{\"S\":\"t\"},\"other\":"
		    "{\"M\":{\"id\":{\"S\":\"z\"}}},\"history\":{\"L\":[[[{}]]]},"
		    "\"callback_pending\":{\"M\":{\"n\":{\"N\":\"1\"}}}}",
		/* lists with JSON numbers, printed by cJSON */
		"{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"},\"errors\":{\"L\":[1.50,"
		    "-2e3,true,null]},\"history\":{\"S\":\"not a list\"}}",
	};
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		snprintf(text, sizeof(text), "{\"Attributes\":%s,\"Other\":1}",
		    items[i]);
		if (!agree(items[i], text, "Attributes"))
			return;
	}
	CHECK(agree("not found", "{\"Item\":{}}", "Attributes"));
	CHECK(agree("no object", "{\"Attributes\":null}", "Attributes"));
	CHECK(agree("first of two", "{\"Attributes\":7,\"Attributes\":"
	    "{\"id\":{\"S\":\"a\"},\"type\":{\"S\":\"t\"}}}", "Attributes"));
}

/* Every prefix of a real answer, each in a buffer of exactly its size (the
 * sanitizer builds catch a read past it), is refused with a reason. */
static void
test_truncated_answers_are_refused(void)
{
	struct tf_task t;
	char *text, *cut, err[256];
	size_t len = 0, n;

	text = read_answer("ddb_claim_1", &len);
	CHECK(text != NULL);
	for (n = 0; n < len; n++) {
		cut = malloc(n > 0 ? n : 1);
		CHECK(cut != NULL);
		memcpy(cut, text, n);
		err[0] = '\0';
		if (tf_task_from_answer(cut, n, "Attributes", &t, err,
		    sizeof(err)) != TF_ERR_PARSE || strncmp(err, "the answer: ",
		    12) != 0) {
			TF_FAIL_AT("prefix of %zu bytes: not refused (%s)", n, err);
			n = len;
		}
		tf_task_free(&t);
		free(cut);
	}
	free(text);
}

static void
test_malformed_answers_are_refused(void)
{
	static const char *const bad[] = {
		"", "[]", "\"Attributes\"", "{\"Attributes\":{}} x",
		"{\"Attributes\":{\"id\":{\"S\":\"a\\q\"}}}",
		"{\"Attributes\":{\"id\":{\"S\":\"\\ud83d\"}}}",
		"{\"Attributes\":{\"id\":{\"S\":\"\\u00\"}}}",
		"{\"Attributes\":{\"id\":{\"S\":\"\\u0000\"}}}",
		"{\"Attributes\":{\"id\":{\"S\":\"a\x01\"}}}",
		"{\"Attributes\":{\"id\":{\"S\" \"a\"}}}",
		"{\"Attributes\":{\"id\":{\"S\":\"a\"},}}",
		"{\"Attributes\":{\"gen\":{\"N\":01}}}",
		"{\"Other\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		    "[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
		    "]]]]]]]]]]]]]],\"Attributes\":{}}",
	};
	struct tf_task t;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_MSG(tf_task_from_answer(bad[i], strlen(bad[i]), "Attributes",
		    &t, err, sizeof(err)) == TF_ERR_PARSE && strncmp(err,
		    "the answer: ", 12) == 0, "not refused as malformed: %s (%s)",
		    bad[i], err);
		tf_task_free(&t);
	}
}

/* With each allocation in turn failing, the reader says out of memory (or
 * succeeds) and frees what it took: the sanitizer build finds a leak. */
static void
test_allocation_failures(void)
{
	struct tf_task t, want;
	char *text, err[256];
	size_t len = 0;
	enum tf_err rc = TF_ERR_NOMEM;
	long n;

	text = read_answer("ddb_claim_1", &len);
	CHECK(text != NULL);
	CHECK_INT_EQ(tf_task_from_answer(text, len, "Attributes", &want, err,
	    sizeof(err)), TF_OK);
	for (n = 0; rc == TF_ERR_NOMEM && n < 1000; n++) {
		tf_alloc_fail_after(n);
		rc = tf_task_from_answer(text, len, "Attributes", &t, err,
		    sizeof(err));
		tf_alloc_fail_after(-1);
		if (rc == TF_ERR_NOMEM && strcmp(err, "out of memory") != 0) {
			TF_FAIL_AT("allocation %ld failing: \"%s\"", n, err);
			rc = TF_OK;
		} else if (rc == TF_OK && differs(&t, &want) != NULL) {
			TF_FAIL_AT("allocation %ld failing: %s differs", n,
			    differs(&t, &want));
		} else if (rc != TF_OK && rc != TF_ERR_NOMEM) {
			TF_FAIL_AT("allocation %ld failing: %s", n, tf_strerror(rc));
		}
		tf_task_free(&t);
	}
	tf_task_free(&want);
	free(text);
	CHECK_MSG(rc == TF_OK, "still failing after %ld allocations", n);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_stand_in_answers_read_as_the_tree_reads_them);
	TF_RUN(test_escapes_decode_exactly);
	TF_RUN(test_shapes_and_errors_match_the_tree);
	TF_RUN(test_truncated_answers_are_refused);
	TF_RUN(test_malformed_answers_are_refused);
	TF_RUN(test_allocation_failures);
	return tf_test_summary();
}
