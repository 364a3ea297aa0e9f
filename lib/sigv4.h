/*
 * sigv4.h - AWS Signature Version 4 (header signing), on OpenSSL.
 *
 * The clock is a parameter, so tests can sign with the AWS test suite's date.
 * The caller supplies every header to sign, already including `host`,
 * `x-amz-date` (tf_sigv4_amz_date()) and, with temporary credentials,
 * `x-amz-security-token`; the signer never adds headers itself.
 */
#ifndef TF_SIGV4_H
#define TF_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "err.h"

struct tf_sigv4_header {
	const char *name;   /* any case; borrowed */
	const char *value;  /* borrowed; leading/trailing spaces are trimmed and
	                       inner runs of spaces folded when signing */
};

struct tf_sigv4_request {
	const char *method;   /* "GET", "POST", ... */
	const char *path;     /* the URI path as sent on the wire, e.g. "/" */
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

/* Writes t as the x-amz-date value "YYYYMMDDTHHMMSSZ" (UTC) into out. */
void tf_sigv4_amz_date(time_t t, char out[17]);

/* Builds the canonical request for req. On success *canonical (and, when
 * signed_headers is not NULL, *signed_headers: "host;x-amz-date") are freshly
 * allocated; caller frees both with tf_free(). */
enum tf_err tf_sigv4_canonical_request(const struct tf_sigv4_request *req,
    char **canonical, char **signed_headers);

/* Builds the string to sign for a canonical request signed at time t.
 * *out is freshly allocated; caller frees with tf_free(). */
enum tf_err tf_sigv4_string_to_sign(const char *canonical, time_t t,
    const char *region, const char *service, char **out);

/* Signs req at time t with key and returns the complete Authorization header
 * value ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...").
 * *authorization is freshly allocated; caller frees with tf_free(). */
enum tf_err tf_sigv4_sign(const struct tf_sigv4_request *req,
    const struct tf_sigv4_key *key, time_t t, char **authorization);

/* Lower-case hex SHA-256 of data into out (65 bytes with the terminator). */
void tf_sha256_hex(const void *data, size_t len, char out[65]);

#endif /* TF_SIGV4_H */
