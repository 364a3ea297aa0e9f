/* json_escape.c - JSON string literals. */
#include "base/json_escape.h"

#include <stdio.h>

enum tf_err
tf_json_escape_append(struct tf_buf *b, const char *s, size_t len)
{
	enum tf_err rc = tf_buf_append_char(b, '"');
	size_t i;

	for (i = 0; rc == TF_OK && i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':  rc = tf_buf_append(b, "\\\"", 2); break;
		case '\\': rc = tf_buf_append(b, "\\\\", 2); break;
		case '\n': rc = tf_buf_append(b, "\\n", 2); break;
		case '\r': rc = tf_buf_append(b, "\\r", 2); break;
		case '\t': rc = tf_buf_append(b, "\\t", 2); break;
		default:
			if (c < 0x20)
				rc = tf_buf_appendf(b, "\\u%04x", c);
			else
				rc = tf_buf_append_char(b, (char)c);
		}
	}
	if (rc == TF_OK)
		rc = tf_buf_append_char(b, '"');
	return rc;
}
