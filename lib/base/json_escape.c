/* json_escape.c - JSON string literals. */
#include "base/json_escape.h"

#include <stdio.h>

/* True for the bytes that go out as they are. */
static int
plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

enum tf_err
tf_json_escape_append(struct tf_buf *b, const char *s, size_t len)
{
	enum tf_err rc = tf_buf_reserve(b, len + 2);
	size_t i = 0, run;

	if (rc == TF_OK)
		rc = tf_buf_append_char(b, '"');
	while (rc == TF_OK && i < len) {
		/* Runs of plain bytes are copied at once. */
		for (run = i; run < len && plain((unsigned char)s[run]); run++)
			;
		if (run > i) {
			rc = tf_buf_append(b, s + i, run - i);
			i = run;
			continue;
		}
		switch ((unsigned char)s[i]) {
		case '"':  rc = tf_buf_append(b, "\\\"", 2); break;
		case '\\': rc = tf_buf_append(b, "\\\\", 2); break;
		case '\n': rc = tf_buf_append(b, "\\n", 2); break;
		case '\r': rc = tf_buf_append(b, "\\r", 2); break;
		case '\t': rc = tf_buf_append(b, "\\t", 2); break;
		default:
			rc = tf_buf_appendf(b, "\\u%04x", (unsigned char)s[i]);
		}
		i++;
	}
	if (rc == TF_OK)
		rc = tf_buf_append_char(b, '"');
	return rc;
}
