/*
 * buf.h - a growable, always NUL-terminated byte buffer.
 *
 * Initialise with TF_BUF_INIT or a zeroed struct; release with tf_buf_free().
 * A buffer that failed to grow keeps what it had and returns TF_ERR_NOMEM.
 */
#ifndef TF_BUF_H
#define TF_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct tf_buf {
	char *data;  /* owned; NULL until the first append; data[len] == '\0' */
	size_t len;  /* bytes used, not counting the terminator */
	size_t cap;  /* bytes allocated */
};

#define TF_BUF_INIT { NULL, 0, 0 }

enum tf_err tf_buf_append(struct tf_buf *b, const void *data, size_t len);
enum tf_err tf_buf_append_str(struct tf_buf *b, const char *s);
enum tf_err tf_buf_append_char(struct tf_buf *b, char c);
/* Appends n in decimal ("-12"), without printf. */
enum tf_err tf_buf_append_i64(struct tf_buf *b, int64_t n);
enum tf_err tf_buf_appendf(struct tf_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum tf_err tf_buf_vappendf(struct tf_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Makes room for at least `extra` more bytes. */
enum tf_err tf_buf_reserve(struct tf_buf *b, size_t extra);
/* Empties the buffer, keeping its memory. */
void tf_buf_reset(struct tf_buf *b);
/* Hands the contents to the caller (free with tf_free(); "" when empty, NULL
 * on allocation failure) and leaves b empty. */
char *tf_buf_steal(struct tf_buf *b);
/* Frees the contents; b is empty and reusable afterwards. */
void tf_buf_free(struct tf_buf *b);
/* The contents as a C string: "" for an empty buffer. Borrowed. */
const char *tf_buf_str(const struct tf_buf *b);

#endif /* TF_BUF_H */
