/* buf.c - growable byte buffer. */
#include "base/buf.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

enum tf_err
tf_buf_reserve(struct tf_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > (size_t)-1 - b->len - 1)
		return TF_ERR_NOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return TF_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > (size_t)-1 / 2 ? need : cap * 2;
	p = tf_realloc(b->data, cap);
	if (p == NULL)
		return TF_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return TF_OK;
}

enum tf_err
tf_buf_append(struct tf_buf *b, const void *data, size_t len)
{
	enum tf_err rc;

	/* Request bodies, signatures and log lines are built from many short
	 * appends: those that fit skip the reserve call. */
	if (len >= b->cap - b->len) {
		rc = tf_buf_reserve(b, len);
		if (rc != TF_OK)
			return rc;
	}
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return TF_OK;
}

enum tf_err
tf_buf_append_str(struct tf_buf *b, const char *s)
{
	return tf_buf_append(b, s, strlen(s));
}

enum tf_err
tf_buf_append_char(struct tf_buf *b, char c)
{
	/* Room for c and the terminator: the common case, without a call. */
	if (b->cap - b->len >= 2) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return TF_OK;
	}
	return tf_buf_append(b, &c, 1);
}

enum tf_err
tf_buf_append_i64(struct tf_buf *b, int64_t n)
{
	char text[21];  /* 20 digits and a sign at most */
	char *p = text + sizeof(text);
	/* The magnitude as unsigned, so that INT64_MIN has one too. */
	uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (n < 0)
		*--p = '-';
	return tf_buf_append(b, p, (size_t)(text + sizeof(text) - p));
}

enum tf_err
tf_buf_vappendf(struct tf_buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	size_t room = b->cap - b->len;
	int n;
	enum tf_err rc;

	/* Formatted straight into the free space when it fits: one pass
	 * instead of measuring first and formatting again. */
	va_copy(copy, ap);
	n = vsnprintf(room > 0 ? b->data + b->len : NULL, room, fmt, copy);
	va_end(copy);
	if (n < 0) {
		if (b->data != NULL)
			b->data[b->len] = '\0';
		return TF_ERR_INVALID;
	}
	if ((size_t)n < room) {
		b->len += (size_t)n;
		return TF_OK;
	}
	rc = tf_buf_reserve(b, (size_t)n);
	if (rc != TF_OK) {
		/* The first pass wrote a cut-off copy: put the end back. */
		if (b->data != NULL)
			b->data[b->len] = '\0';
		return rc;
	}
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return TF_OK;
}

enum tf_err
tf_buf_appendf(struct tf_buf *b, const char *fmt, ...)
{
	va_list ap;
	enum tf_err rc;

	va_start(ap, fmt);
	rc = tf_buf_vappendf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void
tf_buf_reset(struct tf_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

char *
tf_buf_steal(struct tf_buf *b)
{
	char *p = b->data;

	if (p == NULL)
		return tf_strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void
tf_buf_free(struct tf_buf *b)
{
	tf_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *
tf_buf_str(const struct tf_buf *b)
{
	return b->data != NULL ? b->data : "";
}
