/* json_escape.h - writing strings as JSON string literals. */
#ifndef TF_JSON_ESCAPE_H
#define TF_JSON_ESCAPE_H

#include <stddef.h>

#include "base/buf.h"

/* Appends s (len bytes) to b as a quoted JSON string, escaping quotes,
 * backslashes and control characters. Bytes are copied as they are otherwise. */
enum tf_err tf_json_escape_append(struct tf_buf *b, const char *s, size_t len);

#endif /* TF_JSON_ESCAPE_H */
