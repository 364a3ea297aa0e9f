/*
 * http_sign.h - signatures on the `http` runner's deliveries.
 *
 * When signing keys are configured, each request carries
 *
 *     Taskfleet-Timestamp: 1795430400            (Unix seconds)
 *     Taskfleet-Signature: v1=<hex>[,v1=<hex>]   (one per active key)
 *
 * where <hex> is the lower-case hex HMAC-SHA256, under the key, of the
 * timestamp, a full stop, and the raw body bytes ("1795430400.{...}"; just
 * "1795430400." without a body). A receiver recomputes the HMAC with its
 * key, compares it in constant time with any v1 entry, and rejects a
 * timestamp more than a few minutes from its clock (replays). Two keys are
 * active during a rotation: receivers accept either while they move over.
 */
#ifndef TF_HTTP_SIGN_H
#define TF_HTTP_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* At most this many keys are active at once. */
#define TF_HTTP_SIGN_KEYS_MAX 4
/* The shortest key accepted, in bytes. */
#define TF_HTTP_SIGN_KEY_MIN 16

/* A set of signing keys. The keys are secrets: nothing here prints them. */
struct tf_http_keys {
	char *key[TF_HTTP_SIGN_KEYS_MAX];   /* owned */
	size_t len[TF_HTTP_SIGN_KEYS_MAX];
	size_t n;
};

/*
 * Parses a comma-separated list of keys (TASKFLEET_HTTP_SIGNING_KEYS) into
 * *keys, which the caller frees with tf_http_keys_free(). Empty text or NULL
 * gives no keys. Errors (a key shorter than TF_HTTP_SIGN_KEY_MIN, too many
 * keys) say which key by position, never its text.
 */
enum tf_err tf_http_keys_parse(const char *text, struct tf_http_keys *keys,
    char *errbuf, size_t errlen);

/* Adds one key (copied). TF_ERR_INVALID as above. */
enum tf_err tf_http_keys_add(struct tf_http_keys *keys, const char *key,
    size_t len, char *errbuf, size_t errlen);

/* Wipes and frees the keys; an empty set is fine. */
void tf_http_keys_free(struct tf_http_keys *keys);

/*
 * Appends the Taskfleet-Signature value for body (len bytes, may be NULL
 * when len is 0) at timestamp ts (Unix seconds) to out: "v1=<hex>" for each
 * key, comma-separated. keys must hold at least one key.
 */
enum tf_err tf_http_sign(const struct tf_http_keys *keys, int64_t ts,
    const void *body, size_t len, struct tf_buf *out);

#endif /* TF_HTTP_SIGN_H */
