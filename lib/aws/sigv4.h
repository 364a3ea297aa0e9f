/*
 * sigv4.h - AWS Signature Version 4 (header signing), on OpenSSL.
 *
 * The clock is a parameter, so tests can sign with the AWS test suite's date.
 * The caller supplies every header to sign, already including `host`,
 * `x-amz-date` (tf_sigv4_amz_date()) and, with temporary credentials,
 * `x-amz-security-token`; the signer never adds headers itself, and every
 * header passed in is signed.
 *
 * The canonical request follows the rules for every service except S3, as
 * the AWS SDKs apply them:
 *   - path: dot segments removed and runs of '/' collapsed (botocore's
 *     remove_dot_segments), then every byte other than A-Z a-z 0-9 - . _ ~
 *     and '/' written as %XX. The path is taken as sent on the wire, so an
 *     already-encoded "%20" becomes "%2520": non-S3 services sign the path
 *     encoded twice.
 *   - query: split on '&' (empty pieces dropped), each name and value
 *     percent-decoded once and encoded again with the same unreserved set,
 *     sorted by encoded name, then encoded value; "flag" signs as "flag=".
 *     A literal '+' is a plus sign (%2B), not a space: write spaces as %20.
 *   - headers: names lower-cased and sorted; values trimmed and each run of
 *     whitespace (space, tab, CR, LF, VT, FF) folded to one space; several
 *     headers with the same name are joined with ',' in the order given.
 *   - payload: lower-case hex SHA-256 of the body.
 *
 * All functions are thread-safe and keep no state between calls.
 */
#ifndef TF_SIGV4_H
#define TF_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "base/err.h"

struct tf_sigv4_header {
	const char *name;   /* any case; borrowed; an RFC 7230 token */
	const char *value;  /* borrowed; leading/trailing whitespace is trimmed
	                       and inner runs folded to one space when signing */
};

struct tf_sigv4_request {
	const char *method;   /* "GET", "POST", ...; used as given (a token) */
	const char *path;     /* the URI path as sent on the wire, e.g. "/";
	                         NULL or "" mean "/"; no '?' or '#' */
	const char *query;    /* the raw query string without '?'; NULL or "" for none */
	const struct tf_sigv4_header *headers;  /* borrowed array */
	size_t n_headers;
	const void *payload;  /* request body; may be NULL when payload_len is 0 */
	size_t payload_len;
};

struct tf_sigv4_key {
	const char *access_key_id;      /* borrowed */
	const char *secret_access_key;  /* borrowed */
	const char *region;             /* e.g. "us-east-1" */
	const char *service;            /* signing name: "sqs", "dynamodb" */
};

/* Writes t as the x-amz-date value "YYYYMMDDTHHMMSSZ" (UTC) into out.
 * Returns TF_ERR_INVALID, with out set to "", when t is outside the years
 * 0000-9999. */
enum tf_err tf_sigv4_amz_date(time_t t, char out[17]);

/* Builds the canonical request for req. On success *canonical (and, when
 * signed_headers is not NULL, *signed_headers: "host;x-amz-date") are freshly
 * allocated; caller frees both with tf_free(). On failure both are left NULL.
 * TF_ERR_INVALID: req or canonical is NULL, the method is not a token, the
 * path does not start with '/' or holds '?' or '#', a header name is not a
 * token or its value is NULL, a header is named "authorization", headers is
 * NULL with n_headers > 0, or payload is NULL with payload_len > 0.
 * TF_ERR_NOMEM: out of memory. */
enum tf_err tf_sigv4_canonical_request(const struct tf_sigv4_request *req,
    char **canonical, char **signed_headers);

/* Builds the string to sign for a canonical request signed at time t.
 * *out is freshly allocated; caller frees with tf_free(). TF_ERR_INVALID:
 * bad t (see tf_sigv4_amz_date()), or region or service empty or holding
 * '/', ',', whitespace or control characters. */
enum tf_err tf_sigv4_string_to_sign(const char *canonical, time_t t,
    const char *region, const char *service, char **out);

/* Signs req at time t with key and returns the complete Authorization header
 * value ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...").
 * *authorization is freshly allocated; caller frees with tf_free(); it is
 * NULL on failure. Besides the errors above, TF_ERR_INVALID when the access
 * key id is empty or holds '/', ',' or whitespace, when the secret is NULL,
 * or when req carries an x-amz-date header whose value is not
 * tf_sigv4_amz_date(t) (the signature would never verify). */
enum tf_err tf_sigv4_sign(const struct tf_sigv4_request *req,
    const struct tf_sigv4_key *key, time_t t, char **authorization);

/* Lower-case hex SHA-256 of data into out (65 bytes with the terminator).
 * data may be NULL when len is 0. Returns TF_ERR_NOMEM, with out set to "",
 * if OpenSSL fails (in practice only when it cannot allocate). */
enum tf_err tf_sha256_hex(const void *data, size_t len, char out[65]);

#endif /* TF_SIGV4_H */
