/*
 * err.h - the one error code type of taskfleet.
 *
 * Every function named for an action returns enum tf_err; TF_OK is zero.
 * The cases a caller handles differently have their own code: a failed
 * DynamoDB condition, throttling, a missing resource, out of memory.
 */
#ifndef TF_ERR_H
#define TF_ERR_H

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

#endif /* TF_ERR_H */
