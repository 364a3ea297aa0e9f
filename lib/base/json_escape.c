/* json_escape.c - JSON string literals. */
#include "base/json_escape.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* True for the bytes that go out as they are. */
static int
plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

/* The length of the leading run of plain bytes of s (len bytes). Eight
 * bytes are tested at once while none of them is a control byte, a quote or
 * a backslash: (x - 0x01..) & ~x & 0x80.. is nonzero exactly when a byte of
 * x is 0 (and (x - 0x20..) & ~x when one is below 0x20), x being the word
 * XORed with the byte sought. Request bodies carry kilobytes of strings. */
static size_t
plain_run(const char *s, size_t len)
{
	const uint64_t ones = 0x0101010101010101u;
	const uint64_t highs = 0x8080808080808080u;
	uint64_t v, q, bs;
	size_t i = 0;

	while (len - i >= 8) {
		memcpy(&v, s + i, 8);
		q = v ^ (ones * '"');
		bs = v ^ (ones * '\\');
		if ((((v - ones * 0x20) & ~v) | ((q - ones) & ~q) |
		    ((bs - ones) & ~bs)) & highs)
			break;
		i += 8;
	}
	while (i < len && plain((unsigned char)s[i]))
		i++;
	return i;
}

enum tf_err
tf_json_escape_append(struct tf_buf *b, const char *s, size_t len)
{
	enum tf_err rc = TF_OK;
	size_t i = 0, run;

	/* Most strings (keys, ids, placeholders, log fields) need no escape:
	 * they are written with one copy, without a call per piece. */
	run = plain_run(s, len);
	if (len + 2 >= b->cap - b->len)
		rc = tf_buf_reserve(b, len + 2);
	if (rc != TF_OK)
		return rc;
	b->data[b->len++] = '"';
	if (run > 0)
		memcpy(b->data + b->len, s, run);
	b->len += run;
	i = run;
	if (i == len) {
		b->data[b->len++] = '"';
		b->data[b->len] = '\0';
		return TF_OK;
	}
	b->data[b->len] = '\0';
	while (rc == TF_OK && i < len) {
		/* Runs of plain bytes are copied at once. */
		run = i + plain_run(s + i, len - i);
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
