/* test_limits.c - limits per key without AWS (task/limits.h): keys and
 * their checks, TASKFLEET_LIMITS, the config item's attributes, a task's
 * keys. */
#include "harness.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "base/alloc.h"
#include "task/limits.h"
#include "task/task.h"

static void
test_keys_checked(void)
{
	char err[256];

	CHECK(tf_limit_check_key("ns:team-a", err, sizeof(err)) == TF_OK);
	CHECK(tf_limit_check_key("type:http", err, sizeof(err)) == TF_OK);
	CHECK(tf_limit_check_key("host:api.example.com", err, sizeof(err)) == TF_OK);
	CHECK(tf_limit_check_key("flow:customer-42", err, sizeof(err)) == TF_OK);
	CHECK(tf_limit_check_key("flow:*", err, sizeof(err)) == TF_OK);
	CHECK(tf_limit_check_key("team:x", err, sizeof(err)) == TF_ERR_INVALID);
	CHECK(strstr(err, "ns:NAME, type:NAME, host:NAME or flow:NAME") != NULL);
	CHECK(tf_limit_check_key("ns:", err, sizeof(err)) == TF_ERR_INVALID);
	CHECK(tf_limit_check_key("ns:a b", err, sizeof(err)) == TF_ERR_INVALID);
	CHECK(tf_limit_check_key("ns:a/b", err, sizeof(err)) == TF_ERR_INVALID);
	CHECK(tf_limit_check_key("host:API.example.com", err, sizeof(err)) ==
	    TF_ERR_INVALID);
	CHECK(tf_limit_check_key(NULL, err, sizeof(err)) == TF_ERR_INVALID);
}

static void
test_limit_checked(void)
{
	struct tf_limit l = { "ns:a", 0, 1, 0, false };
	char err[256];

	CHECK(tf_limit_check(&l, err, sizeof(err)) == TF_ERR_INVALID);
	CHECK(strstr(err, "needs a rate, an in_flight or both") != NULL);
	l.rate = -1;
	CHECK(tf_limit_check(&l, err, sizeof(err)) == TF_ERR_INVALID);
	l.rate = 0.5;
	CHECK(tf_limit_check(&l, err, sizeof(err)) == TF_OK);
	l.burst = 0;
	CHECK(tf_limit_check(&l, err, sizeof(err)) == TF_ERR_INVALID);
	l.burst = 1;
	l.in_flight = TF_LIMIT_COUNT_MAX + 1;
	CHECK(tf_limit_check(&l, err, sizeof(err)) == TF_ERR_INVALID);
	/* Ordered: a flow key with in_flight 1 only. */
	l.in_flight = 1;
	l.ordered = true;
	CHECK(tf_limit_check(&l, err, sizeof(err)) == TF_ERR_INVALID);
	CHECK(strstr(err, "ordered") != NULL);
	snprintf(l.key, sizeof(l.key), "flow:f");
	CHECK(tf_limit_check(&l, err, sizeof(err)) == TF_OK);
	l.in_flight = 2;
	CHECK(tf_limit_check(&l, err, sizeof(err)) == TF_ERR_INVALID);
}

/* TASKFLEET_LIMITS: limits separated by ';', settings by spaces. */
static void
test_environment_spec(void)
{
	struct tf_limits ls;
	const struct tf_limit *l;
	char err[256];

	CHECK(tf_limits_parse("ns:bulk rate=20 burst=5; host:h in_flight=3 ;"
	    "flow:* in_flight=1 ordered", &ls, err, sizeof(err)) == TF_OK);
	CHECK_INT_EQ(ls.n, 3);
	l = tf_limits_find(&ls, "ns:bulk");
	CHECK(l != NULL && l->rate == 20 && l->burst == 5 && l->in_flight == 0);
	l = tf_limits_find(&ls, "host:h");
	CHECK(l != NULL && l->rate == 0 && l->in_flight == 3);
	/* A flow key without its own limit takes flow:*'s. */
	l = tf_limits_find(&ls, "flow:anything");
	CHECK(l != NULL && strcmp(l->key, "flow:*") == 0 && l->ordered);
	CHECK(tf_limits_find(&ls, "ns:other") == NULL);
	tf_limits_free(&ls);
	CHECK(tf_limits_parse("ns:x rate=-2", &ls, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	CHECK(strstr(err, "rate must be a number above 0") != NULL);
	CHECK(tf_limits_parse("ns:x speed=2", &ls, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	CHECK(tf_limits_parse("ns:x in_flight=0", &ls, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	CHECK(tf_limits_parse("ns:x rate=1; ns:x rate=2", &ls, err,
	    sizeof(err)) == TF_ERR_INVALID);
	CHECK(strstr(err, "given twice") != NULL);
	CHECK(tf_limits_parse(NULL, &ls, err, sizeof(err)) == TF_OK);
	CHECK_INT_EQ(ls.n, 0);
}

/* The config item's limit:KEY maps and hold:KEY times; anything else, and
 * holds already over, are left out. */
static void
test_config_item(void)
{
	struct tf_limits ls;
	cJSON *item = cJSON_Parse("{\"id\": {\"S\": \"taskfleet config\"},"
	    "\"shards\": {\"N\": \"16\"},"
	    "\"limit:ns:a\": {\"M\": {\"rate\": {\"N\": \"2.5\"},"
	    "  \"burst\": {\"N\": \"4\"}}},"
	    "\"limit:flow:f\": {\"M\": {\"burst\": {\"N\": \"1\"},"
	    "  \"in_flight\": {\"N\": \"1\"}, \"ordered\": {\"BOOL\": true}}},"
	    "\"limit:ns:bad\": {\"M\": {\"rate\": {\"N\": \"-1\"}}},"
	    "\"hold:host:h\": {\"N\": \"2000\"},"
	    "\"hold:host:over\": {\"N\": \"500\"}}");

	CHECK(item != NULL);
	CHECK(tf_limits_from_item(item, 1000, &ls) == TF_OK);
	cJSON_Delete(item);
	CHECK_INT_EQ(ls.n, 2);
	CHECK_STR_EQ(ls.v[0].key, "flow:f");
	CHECK_INT_EQ(ls.v[0].in_flight, 1);
	CHECK(ls.v[0].ordered);
	CHECK_STR_EQ(ls.v[1].key, "ns:a");
	CHECK(ls.v[1].rate == 2.5 && ls.v[1].burst == 4);
	CHECK_INT_EQ(ls.n_holds, 1);
	CHECK_STR_EQ(ls.holds[0].key, "host:h");
	CHECK_INT_EQ(ls.holds[0].until, 2000);
	tf_limits_free(&ls);
}

/* tf_limits_json(): the limits and the holds still in force, as the API's
 * GET /v1/limits and `taskfleet limit --json` give them. */
static void
test_limits_json(void)
{
	struct tf_limits ls;
	cJSON *item = cJSON_Parse("{\"limit:ns:a\": {\"M\": {"
	    "  \"in_flight\": {\"N\": \"3\"}}},"
	    "\"hold:host:h\": {\"N\": \"2000\"},"
	    "\"hold:host:over\": {\"N\": \"500\"}}"), *o;
	char *text;

	CHECK(item != NULL);
	CHECK(tf_limits_from_item(item, 1000, &ls) == TF_OK);
	cJSON_Delete(item);
	o = tf_limits_json(&ls);
	CHECK(o != NULL);
	text = cJSON_PrintUnformatted(o);
	CHECK_STR_EQ(text, "{\"limits\":[{\"key\":\"ns:a\",\"in_flight\":3}],"
	    "\"holds\":[{\"key\":\"host:h\",\"until\":2000}]}");
	cJSON_free(text);
	cJSON_Delete(o);
	tf_limits_free(&ls);
}

/* A task's keys: ns, type, the host of an http task's url, its flow key. */
static void
test_task_keys(void)
{
	struct tf_task t = { 0 };
	char keys[TF_LIMIT_TASK_KEYS][TF_LIMIT_KEY_SIZE];
	static const char *const urls[][2] = {
		{ "{\"url\": \"https://API.Example.com/x\"}", "host:api.example.com" },
		{ "{\"url\": \"http://u:p@127.0.0.1:8080/y?z\"}", "host:127.0.0.1" },
		{ "{\"url\": \"http://[::1]:9/\"}", "host:[::1]" },
		{ "{\"url\": \"http://h.test#frag\"}", "host:h.test" },
	};
	size_t i;

	t.ns = (char *)"team";
	t.type = (char *)"record";
	t.params_json = (char *)"{\"url\": \"http://a.test/\"}";
	CHECK_INT_EQ(tf_limit_task_keys(&t, keys), 2);
	CHECK_STR_EQ(keys[0], "ns:team");
	CHECK_STR_EQ(keys[1], "type:record");
	t.type = (char *)"http";
	t.flow_key = (char *)"customer-42";
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		t.params_json = (char *)urls[i][0];
		CHECK_INT_EQ(tf_limit_task_keys(&t, keys), 4);
		CHECK_STR_EQ(keys[2], urls[i][1]);
		CHECK_STR_EQ(keys[3], "flow:customer-42");
	}
	t.params_json = (char *)"{\"url\": 3}";
	CHECK_INT_EQ(tf_limit_task_keys(&t, keys), 3);
	CHECK_STR_EQ(keys[2], "flow:customer-42");
}

/* The API's body: unknown fields and bad values are refused. */
static void
test_json_body(void)
{
	struct tf_limit l;
	char err[256];
	cJSON *b = cJSON_Parse("{\"rate\": 3, \"in_flight\": 2}");

	CHECK(tf_limit_from_json("type:x", b, &l, err, sizeof(err)) == TF_OK);
	cJSON_Delete(b);
	CHECK(l.rate == 3 && l.burst == 1 && l.in_flight == 2);
	b = cJSON_Parse("{\"rate\": 3, \"speed\": 2}");
	CHECK(tf_limit_from_json("type:x", b, &l, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	cJSON_Delete(b);
	CHECK(strstr(err, "unknown field \"speed\"") != NULL);
	b = cJSON_Parse("{\"in_flight\": 1.5}");
	CHECK(tf_limit_from_json("type:x", b, &l, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	cJSON_Delete(b);
	b = cJSON_Parse("[]");
	CHECK(tf_limit_from_json("type:x", b, &l, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	cJSON_Delete(b);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_keys_checked);
	TF_RUN(test_limit_checked);
	TF_RUN(test_environment_spec);
	TF_RUN(test_config_item);
	TF_RUN(test_limits_json);
	TF_RUN(test_task_keys);
	TF_RUN(test_json_body);
	return tf_test_summary();
}
