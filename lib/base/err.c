/* err.c - names for enum tf_err. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[TF_ERR__COUNT] = {
	[TF_OK] = "success",
	[TF_ERR_NOMEM] = "out of memory",
	[TF_ERR_INVALID] = "invalid input",
	[TF_ERR_PARSE] = "malformed data",
	[TF_ERR_IO] = "connection or I/O error",
	[TF_ERR_TIMEOUT] = "timed out",
	[TF_ERR_THROTTLED] = "throttled",
	[TF_ERR_CONDITION] = "condition failed",
	[TF_ERR_NOT_FOUND] = "not found",
	[TF_ERR_EXISTS] = "already exists",
	[TF_ERR_VALIDATION] = "rejected as invalid by AWS",
	[TF_ERR_ACCESS_DENIED] = "access denied",
	[TF_ERR_CREDENTIALS] = "no usable credentials",
	[TF_ERR_SERVER] = "AWS server error",
	[TF_ERR_AWS] = "AWS error",
	[TF_ERR_TOO_LARGE] = "too large",
	[TF_ERR_PARTIAL] = "some batch entries failed",
	[TF_ERR_CANCELLED] = "cancelled",
};

const char *
tf_strerror(enum tf_err err)
{
	if ((unsigned)err >= TF_ERR__COUNT || names[err] == 0)
		return "unknown error";
	return names[err];
}

int
tf_err_is_transient(enum tf_err err)
{
	switch (err) {
	case TF_ERR_NOMEM:
	case TF_ERR_IO:
	case TF_ERR_TIMEOUT:
	case TF_ERR_THROTTLED:
	case TF_ERR_SERVER:
	case TF_ERR_CREDENTIALS:
		return 1;
	default:
		return 0;
	}
}

void
tf_errf(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

void
tf_err_quote(char *dst, size_t n, const char *s, size_t len, size_t max)
{
	size_t i, o = 0;

	if (n == 0)
		return;
	for (i = 0; i < len && i < max && o + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[o++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
	}
	if (i < len && o + 4 < n) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o < n ? o : n - 1] = '\0';
}
