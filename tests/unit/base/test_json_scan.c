/* test_json_scan.c - the tree-less JSON reader: walking, decoding, and
 * refusing what is not strict JSON (malformed, truncated, badly escaped,
 * nested too deeply). */
#include "harness.h"

#include "base/alloc.h"
#include "base/json_scan.h"

/* Scans text whole (one value, skipped); true when it is well-formed. */
static bool
well_formed(const char *text)
{
	struct tf_json_scan sc;

	tf_json_scan_init(&sc, text, strlen(text));
	return tf_json_skip(&sc) && tf_json_finish(&sc);
}

static void
test_walk_members_and_elements(void)
{
	static const char text[] = " {\"Messages\": [ {\"Body\": \"b1\", "
	    "\"Skip\": {\"x\": [1, {\"y\": null}, [true, false]], \"z\": \"}\"}, "
	    "\"N\": -12}, {\"Body\": \"b2\"} ], \"Last\": true } ";
	struct tf_json_scan sc;
	struct tf_json_str key, s;
	int64_t n = 0;
	bool b = false;
	int elements = 0, bodies = 0;

	tf_json_scan_init(&sc, text, sizeof(text) - 1);
	CHECK(tf_json_enter(&sc, TF_JSON_OBJECT));
	CHECK(tf_json_member(&sc, &key));
	CHECK(tf_json_str_eq(&key, "Messages"));
	CHECK(tf_json_enter(&sc, TF_JSON_ARRAY));
	while (tf_json_element(&sc)) {
		elements++;
		CHECK(tf_json_enter(&sc, TF_JSON_OBJECT));
		while (tf_json_member(&sc, &key)) {
			if (tf_json_str_eq(&key, "Body")) {
				CHECK(tf_json_string(&sc, &s));
				CHECK(tf_json_str_eq(&s, bodies == 0 ? "b1" : "b2"));
				bodies++;
			} else if (tf_json_str_eq(&key, "N")) {
				CHECK(tf_json_number(&sc, &s));
				CHECK(tf_json_str_int64(&s, &n));
			} else {
				CHECK(tf_json_skip(&sc));
			}
		}
		CHECK(sc.error == NULL);
	}
	CHECK(sc.error == NULL);
	CHECK(tf_json_member(&sc, &key));
	CHECK(tf_json_str_eq(&key, "Last"));
	CHECK(tf_json_bool(&sc, &b));
	CHECK(!tf_json_member(&sc, &key));
	CHECK_MSG(tf_json_finish(&sc), "%s at %zu", sc.error, sc.error_pos);
	CHECK_INT_EQ(elements, 2);
	CHECK_INT_EQ(bodies, 2);
	CHECK_INT_EQ(n, -12);
	CHECK(b);
}

static void
test_escapes_decoded(void)
{
	static const char text[] = "\"q\\\"b\\\\s\\/ \\b\\f\\n\\r\\t "
	    "\\u00e9\\u20AC\\ud83d\\ude00 raw\xc3\xa9\"";
	static const char want[] = "q\"b\\s/ \b\f\n\r\t "
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 raw\xc3\xa9";
	struct tf_json_scan sc;
	struct tf_json_str s;
	char out[64], *dup;

	tf_json_scan_init(&sc, text, sizeof(text) - 1);
	CHECK(tf_json_string(&sc, &s));
	CHECK(tf_json_finish(&sc));
	CHECK(s.escaped);
	CHECK_INT_EQ(tf_json_str_copy(&s, out, sizeof(out)), sizeof(want) - 1);
	CHECK_STR_EQ(out, want);
	CHECK(tf_json_str_eq(&s, want));
	CHECK(!tf_json_str_eq(&s, "q\"b"));
	dup = tf_json_str_dup(&s);
	CHECK_STR_EQ(dup, want);
	tf_free(dup);
}

static void
test_copy_cuts_at_a_character(void)
{
	static const char text[] = "\"\\u20ac\xe2\x82\xac\"";
	struct tf_json_scan sc;
	struct tf_json_str s;
	char out[8];

	tf_json_scan_init(&sc, text, sizeof(text) - 1);
	CHECK(tf_json_string(&sc, &s));
	/* Two euro signs of 3 bytes each: 5 bytes of room hold only one. */
	CHECK_INT_EQ(tf_json_str_copy(&s, out, 5), 3);
	CHECK_STR_EQ(out, "\xe2\x82\xac");
	CHECK_INT_EQ(tf_json_str_copy(&s, out, 7), 6);
	CHECK_INT_EQ(tf_json_str_copy(&s, out, 1), 0);
	CHECK_STR_EQ(out, "");
	/* The same cut for a raw (unescaped) sequence. */
	s.raw += 6;
	s.len -= 6;
	s.escaped = false;
	CHECK_INT_EQ(tf_json_str_copy(&s, out, 3), 0);
}

static void
test_malformed_refused(void)
{
	static const char *const bad[] = {
		"", " ", "{", "[", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}", "[1,]",
		"[,1]", "{,}", "[1 2]", "{1:2}", "{\"a\":1}}", "[1]]", "[1]x",
		"[01]", "[1.]", "[.5]", "[-]", "[1e]", "[1e+]", "[+1]", "[0x1]",
		"tru", "nul", "falsey", "[True]", "\"abc", "\"a\x01\"",
		"\"\\q\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\ud800\"",
		"\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\\u0000\"",
		"{\"a\":1 \"b\":2}", "'a'", "[1,2", "{\"a\"",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(!well_formed(bad[i]), "accepted: %s", bad[i]);
	CHECK(well_formed(" [ ] "));
	CHECK(well_formed("{}"));
	CHECK(well_formed("\"\""));
	CHECK(well_formed("[0, -0, 1.5e-3, 2E+10, -0.0e0]"));
}

static void
test_every_truncation_refused(void)
{
	static const char text[] = "{\"M\":[{\"B\":\"x\\u00e9\\ud83d\\ude00\","
	    "\"A\":{\"S\":\"17\"},\"n\":-1.5e3,\"t\":true,\"f\":false,"
	    "\"z\":null}]}";
	struct tf_json_scan sc;
	size_t n;

	for (n = 0; n < sizeof(text) - 1; n++) {
		tf_json_scan_init(&sc, text, n);
		CHECK_MSG(!(tf_json_skip(&sc) && tf_json_finish(&sc)),
		    "a truncation to %zu bytes was accepted", n);
		CHECK(sc.error != NULL);
	}
	CHECK(well_formed(text));
}

static void
test_nesting_limit(void)
{
	char text[2 * TF_JSON_MAX_DEPTH + 3];
	int i;

	for (i = 0; i < TF_JSON_MAX_DEPTH; i++) {
		text[i] = '[';
		text[TF_JSON_MAX_DEPTH + i] = ']';
	}
	text[2 * TF_JSON_MAX_DEPTH] = '\0';
	CHECK(well_formed(text));
	memmove(text + 1, text, 2 * TF_JSON_MAX_DEPTH + 1);
	text[0] = '[';
	strcat(text, "]");
	CHECK(!well_formed(text));
}

static void
test_huge_numbers(void)
{
	static const char text[] = "[123456789012345678901234567890e999999, "
	    "9223372036854775807, -9223372036854775808, 9223372036854775808, "
	    "-9223372036854775809, 1.5, 1e3]";
	static const int ok[] = { 0, 1, 1, 0, 0, 0, 0 };
	static const int64_t want[] = { 0, INT64_MAX, INT64_MIN };
	struct tf_json_scan sc;
	struct tf_json_str s;
	int64_t v;
	int i = 0;

	tf_json_scan_init(&sc, text, sizeof(text) - 1);
	CHECK(tf_json_enter(&sc, TF_JSON_ARRAY));
	while (tf_json_element(&sc)) {
		CHECK(tf_json_number(&sc, &s));
		CHECK_MSG(tf_json_str_int64(&s, &v) == (bool)ok[i],
		    "element %d", i);
		if (ok[i])
			CHECK(v == want[i]);
		i++;
	}
	CHECK(tf_json_finish(&sc));
	CHECK_INT_EQ(i, 7);
}

static void
test_wrong_type_is_an_error(void)
{
	struct tf_json_scan sc;
	struct tf_json_str s;

	tf_json_scan_init(&sc, "{\"a\":5}", 7);
	CHECK(tf_json_enter(&sc, TF_JSON_OBJECT));
	CHECK(tf_json_member(&sc, &s));
	CHECK(!tf_json_string(&sc, &s));
	CHECK(sc.error != NULL);
	/* The first error sticks. */
	CHECK(!tf_json_skip(&sc));
	CHECK(!tf_json_finish(&sc));
	CHECK_INT_EQ(sc.error_pos, 5);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_walk_members_and_elements);
	TF_RUN(test_escapes_decoded);
	TF_RUN(test_copy_cuts_at_a_character);
	TF_RUN(test_malformed_refused);
	TF_RUN(test_every_truncation_refused);
	TF_RUN(test_nesting_limit);
	TF_RUN(test_huge_numbers);
	TF_RUN(test_wrong_type_is_an_error);
	return tf_test_summary();
}
