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
	enum tf_err rc = tf_buf_reserve(b, len);

	if (rc != TF_OK)
		return rc;
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
	return tf_buf_append(b, &c, 1);
}

enum tf_err
tf_buf_vappendf(struct tf_buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	int n;
	enum tf_err rc;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return TF_ERR_INVALID;
	rc = tf_buf_reserve(b, (size_t)n);
	if (rc != TF_OK)
		return rc;
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
