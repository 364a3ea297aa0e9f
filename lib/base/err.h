/*
 * err.h - the one error code type of taskfleet.
 *
 * Every function named for an action returns enum tf_err; TF_OK is zero.
 * The cases a caller handles differently have their own code: a failed
 * DynamoDB condition, throttling, a missing resource, out of memory.
 */
#ifndef TF_ERR_H
#define TF_ERR_H

#include <stddef.h>

enum tf_err {
	TF_OK = 0,
	TF_ERR_NOMEM,          /* an allocation failed */
	TF_ERR_INVALID,        /* bad input from our caller (flag, JSON, size) */
	TF_ERR_PARSE,          /* a response or file that does not parse */
	TF_ERR_IO,             /* connection refused, reset or dropped; local I/O */
	TF_ERR_TIMEOUT,        /* connect or transfer timed out */
	TF_ERR_THROTTLED,      /* AWS throttling; retried already, still throttled */
	TF_ERR_CONDITION,      /* ConditionalCheckFailedException */
	TF_ERR_NOT_FOUND,      /* ResourceNotFound, QueueDoesNotExist, missing item */
	TF_ERR_EXISTS,         /* ResourceInUse, QueueAlreadyExists (different attributes) */
	TF_ERR_VALIDATION,     /* ValidationException and other 400s AWS rejects as malformed */
	TF_ERR_ACCESS_DENIED,  /* AccessDenied, signature or token rejected */
	TF_ERR_CREDENTIALS,    /* no credentials could be found or refreshed */
	TF_ERR_SERVER,         /* AWS 5xx after the retries ran out */
	TF_ERR_AWS,            /* any other error AWS returned (see the message) */
	TF_ERR_TOO_LARGE,      /* over a size limit: item 400 KB, message 256 KB */
	TF_ERR_PARTIAL,        /* a batch call in which some entries failed */
	TF_ERR_CANCELLED,      /* stopped on purpose (shutdown cancelled a long poll) */
	TF_ERR__COUNT
};

/* Returns a constant, human-readable name for err; never NULL. */
const char *tf_strerror(enum tf_err err);

/* True for errors a caller may reasonably retry later (I/O, timeouts,
 * throttling, 5xx, out of memory). */
int tf_err_is_transient(enum tf_err err);

/* Writes a formatted one-line message into errbuf (errlen bytes); errbuf may
 * be NULL when errlen is 0. The common way modules report what went wrong. */
void tf_errf(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Copies s[0..len) into dst (n bytes, terminated) for quoting input in a
 * message: at most max characters, anything not printable ASCII (and '"')
 * as '?', and "..." when it was cut. */
void tf_err_quote(char *dst, size_t n, const char *s, size_t len, size_t max);

#endif /* TF_ERR_H */
