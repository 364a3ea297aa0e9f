/* test_buf.c - the growable buffer, the JSON escaper and the allocator hooks. */
#include "harness.h"

#include <stdbool.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/json_escape.h"

static void
test_buf_append_and_grow(void)
{
	struct tf_buf b = TF_BUF_INIT;
	int i;

	CHECK_STR_EQ(tf_buf_str(&b), "");
	for (i = 0; i < 1000; i++)
		CHECK(tf_buf_appendf(&b, "%d,", i) == TF_OK);
	CHECK(b.len == strlen(b.data));
	CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
	CHECK(strcmp(b.data + b.len - 4, "999,") == 0);
	tf_buf_reset(&b);
	CHECK_INT_EQ(b.len, 0);
	CHECK_STR_EQ(tf_buf_str(&b), "");
	tf_buf_free(&b);
	CHECK(b.data == NULL);
}

static void
test_buf_steal(void)
{
	struct tf_buf b = TF_BUF_INIT;
	char *s;

	CHECK(tf_buf_append_str(&b, "hello") == TF_OK);
	s = tf_buf_steal(&b);
	CHECK_STR_EQ(s, "hello");
	CHECK(b.data == NULL && b.len == 0);
	tf_free(s);
	s = tf_buf_steal(&b);
	CHECK_STR_EQ(s, "");
	tf_free(s);
}

static void
test_buf_nomem_keeps_contents(void)
{
	struct tf_buf b = TF_BUF_INIT;
	char big[4096];

	memset(big, 'x', sizeof(big));
	CHECK(tf_buf_append_str(&b, "keep") == TF_OK);
	tf_alloc_fail_after(0);
	CHECK(tf_buf_append(&b, big, sizeof(big)) == TF_ERR_NOMEM);
	tf_alloc_fail_after(-1);
	CHECK_STR_EQ(b.data, "keep");
	tf_buf_free(&b);
}

/* The short paths for appends that fit: a char or a formatted text written
 * straight into the free space, up to the last byte before the
 * terminator, and one byte more takes the long path. */
static void
test_buf_appends_at_the_edge(void)
{
	struct tf_buf b = TF_BUF_INIT;
	size_t room;

	CHECK(tf_buf_append_char(&b, 'a') == TF_OK);
	CHECK(b.len == 1 && b.cap == 64 && b.data[1] == '\0');
	while (b.len < b.cap - 2)
		CHECK(tf_buf_append_char(&b, 'a') == TF_OK);
	CHECK(tf_buf_append_char(&b, 'z') == TF_OK);
	CHECK(b.len == b.cap - 1 && b.cap == 64 && b.data[b.len - 1] == 'z');
	CHECK(tf_buf_append_char(&b, 'y') == TF_OK);
	CHECK(b.len == 64 && b.cap == 128 && strcmp(b.data + 62, "zy") == 0);

	/* A formatted text of exactly the free space less the terminator. */
	room = b.cap - b.len;
	CHECK(tf_buf_appendf(&b, "%0*d", (int)(room - 1), 7) == TF_OK);
	CHECK(b.len == b.cap - 1 && b.cap == 128 && b.data[b.len - 1] == '7');
	CHECK(strlen(b.data) == b.len);
	tf_buf_reset(&b);
	room = b.cap;
	CHECK(tf_buf_appendf(&b, "%0*d", (int)room, 8) == TF_OK);
	CHECK(b.len == room && b.cap == 256 && b.data[0] == '0' &&
	    b.data[room - 1] == '8' && b.data[room] == '\0');

	/* A text that does not fit, and no memory to grow: the contents and
	 * their terminator are as they were, though the first pass wrote. */
	tf_buf_reset(&b);
	CHECK(tf_buf_append_str(&b, "keep") == TF_OK);
	tf_alloc_fail_after(0);
	CHECK(tf_buf_appendf(&b, "%0*d", 300, 1) == TF_ERR_NOMEM);
	tf_alloc_fail_after(-1);
	CHECK(b.len == 4);
	CHECK_STR_EQ(b.data, "keep");
	tf_buf_free(&b);
}

static void
test_buf_append_i64(void)
{
	struct tf_buf b = TF_BUF_INIT;

	CHECK(tf_buf_append_i64(&b, 0) == TF_OK);
	CHECK(tf_buf_append_char(&b, ' ') == TF_OK);
	CHECK(tf_buf_append_i64(&b, -1700000000123) == TF_OK);
	CHECK(tf_buf_append_char(&b, ' ') == TF_OK);
	CHECK(tf_buf_append_i64(&b, INT64_MAX) == TF_OK);
	CHECK(tf_buf_append_char(&b, ' ') == TF_OK);
	CHECK(tf_buf_append_i64(&b, INT64_MIN) == TF_OK);
	CHECK_STR_EQ(b.data, "0 -1700000000123 9223372036854775807 "
	    "-9223372036854775808");
	tf_buf_free(&b);
}

static void
test_json_escape(void)
{
	struct tf_buf b = TF_BUF_INIT;
	const char in[] = "a\"b\\c\n\x01z";

	CHECK(tf_json_escape_append(&b, in, sizeof(in) - 1) == TF_OK);
	CHECK_STR_EQ(b.data, "\"a\\\"b\\\\c\\n\\u0001z\"");
	tf_buf_free(&b);
}

/* Strings with nothing to escape take a one-copy path, and the others
 * continue from where their first escape is: both at every fill of the
 * buffer around its capacity, so an off-by-one in the room taken shows as
 * a wrong text or length (or a sanitizer report). */
static void
test_json_escape_at_the_edge(void)
{
	struct tf_buf b = TF_BUF_INIT;
	char in[80], want[256];
	size_t fill, n;
	bool ok = true;

	memset(in, 'x', sizeof(in));
	for (fill = 0; fill < 70 && ok; fill++) {
		for (n = 0; n < sizeof(in) && ok; n++) {
			tf_buf_free(&b);
			memset(want, 'f', fill);
			want[fill] = '\0';
			ok = tf_buf_append_str(&b, want) == TF_OK &&
			    tf_json_escape_append(&b, in, n) == TF_OK;
			want[fill] = '"';
			memcpy(want + fill + 1, in, n);
			memcpy(want + fill + 1 + n, "\"", 2);
			ok = ok && b.len == fill + n + 2 &&
			    strlen(b.data) == b.len && strcmp(b.data, want) == 0;
		}
	}
	CHECK_MSG(ok, "plain string of %zu bytes after %zu: %s", n - 1,
	    fill - 1, tf_buf_str(&b));
	tf_buf_free(&b);
	/* One byte to escape at every place of strings of up to 40 bytes
	 * (plain runs are tested eight bytes at a time), and bytes that look
	 * alike but are plain. */
	for (n = 1; n <= 40 && ok; n++) {
		static const char special[] = "\"\\\n\x01\x1f\x7f\x80\xff!#[]";
		static const char *const esc[] = { "\\\"", "\\\\", "\\n",
		    "\\u0001", "\\u001f", "\x7f", "\x80", "\xff", "!", "#", "[",
		    "]" };
		size_t at, k;

		for (at = 0; at < n && ok; at++)
			for (k = 0; k < sizeof(special) - 1 && ok; k++) {
				memset(in, 'y', n);
				in[at] = special[k];
				memset(want, 'y', at + 1);
				want[0] = '"';
				want[at + 1] = '\0';
				strcat(want, esc[k]);
				memset(want + strlen(want), 'y', n - at - 1);
				want[strlen(esc[k]) + n + 1 - 1] = '\0';
				strcat(want, "\"");
				tf_buf_free(&b);
				ok = tf_json_escape_append(&b, in, n) == TF_OK &&
				    strcmp(b.data, want) == 0 &&
				    b.len == strlen(want);
			}
	}
	CHECK_MSG(ok, "%zu bytes: got %s", n - 1, tf_buf_str(&b));
	tf_buf_free(&b);
	CHECK(tf_buf_append_str(&b, "[") == TF_OK);
	CHECK(tf_json_escape_append(&b, "plain then \"quoted\"\ttab", 23) ==
	    TF_OK);
	CHECK(tf_json_escape_append(&b, "", 0) == TF_OK);
	CHECK(tf_json_escape_append(&b, "\x1f", 1) == TF_OK);
	CHECK_STR_EQ(b.data, "[\"plain then \\\"quoted\\\"\\ttab\"\"\"\"\\u001f\"");
	CHECK(b.len == strlen(b.data));
	tf_buf_free(&b);
}

static void
test_strerror_covers_all(void)
{
	int e;

	for (e = 0; e < TF_ERR__COUNT; e++)
		CHECK_MSG(strcmp(tf_strerror((enum tf_err)e), "unknown error") != 0,
		    "code %d has no name", e);
	CHECK_STR_EQ(tf_strerror((enum tf_err)999), "unknown error");
	CHECK(tf_err_is_transient(TF_ERR_THROTTLED));
	CHECK(!tf_err_is_transient(TF_ERR_CONDITION));
}

static void
test_error_message_helpers(void)
{
	char buf[16], q[16];

	tf_errf(buf, sizeof(buf), "field %d: %s", 2, "too long to fit here");
	CHECK_STR_EQ(buf, "field 2: too lo");
	tf_errf(NULL, 0, "nothing %s", "written");
	tf_err_quote(q, sizeof(q), "ab\ncd\"e", 7, 40);
	CHECK_STR_EQ(q, "ab?cd?e");
	tf_err_quote(q, sizeof(q), "0123456789", 10, 4);
	CHECK_STR_EQ(q, "0123...");
	tf_err_quote(q, 4, "0123456789", 10, 40);
	CHECK_STR_EQ(q, "012");
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_buf_append_and_grow);
	TF_RUN(test_buf_steal);
	TF_RUN(test_buf_nomem_keeps_contents);
	TF_RUN(test_buf_appends_at_the_edge);
	TF_RUN(test_buf_append_i64);
	TF_RUN(test_json_escape);
	TF_RUN(test_json_escape_at_the_edge);
	TF_RUN(test_strerror_covers_all);
	TF_RUN(test_error_message_helpers);
	return tf_test_summary();
}
