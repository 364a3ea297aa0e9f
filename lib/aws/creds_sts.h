/*
 * creds_sts.h - the two AWS STS calls of the credential chain: AssumeRole
 * (signed with the source credentials by lib/aws/sigv4.c) and
 * AssumeRoleWithWebIdentity (unsigned: the token is the proof).
 *
 * STS speaks the query protocol: a form-encoded POST with Action and
 * Version=2011-06-15, answered in XML. Only the Credentials element of the
 * answer is read, and an error's Code and Message.
 */
#ifndef TF_CREDS_STS_H
#define TF_CREDS_STS_H

#include <stddef.h>
#include <stdint.h>

#include "aws/creds.h"
#include "base/err.h"

/* Where STS is: url as "scheme://host[:port]" (a path is kept), and the
 * region its requests are signed for. */
struct tf_sts_endpoint {
	char url[512];
	char region[64];
};

/* Resolves the STS endpoint from the environment and region (NULL or "":
 * none known): AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else
 * https://sts.REGION.amazonaws.com, or the global https://sts.amazonaws.com
 * without a region. Requests are signed for region, else us-east-1.
 * TF_ERR_TOO_LARGE when a value does not fit. */
enum tf_err tf_sts_endpoint_resolve(const char *region,
    struct tf_sts_endpoint *out);

/* One role to assume. Every string is borrowed. */
struct tf_sts_assume {
	const char *role_arn;
	const char *session_name;   /* NULL: "taskfleet-<epoch seconds>" */
	const char *external_id;    /* NULL: none (AssumeRole only) */
	int duration_s;             /* 0: the role's default */
	const char *web_identity_token;  /* non-NULL: AssumeRoleWithWebIdentity,
	                                    unsigned; NULL: AssumeRole */
};

/* Calls STS at ep. source (borrowed) signs an AssumeRole and is ignored for
 * web identity. On TF_OK *out holds the role's credentials with their
 * expiry, labelled with the static string source_label. Otherwise the
 * cause is logged, naming the role, and the result is TF_ERR_CREDENTIALS
 * (STS refused, or the answer is unusable), TF_ERR_IO / TF_ERR_TIMEOUT
 * (STS not reached) or TF_ERR_NOMEM. */
enum tf_err tf_sts_assume_role(const struct tf_sts_endpoint *ep,
    const struct tf_sts_assume *a, const struct tf_creds *source,
    const char *source_label, struct tf_creds *out);

/* Parses an STS answer of len bytes (status is its HTTP status). TF_OK:
 * *out holds the Credentials element's AccessKeyId, SecretAccessKey,
 * SessionToken and Expiration. TF_ERR_CREDENTIALS: an STS error or an
 * answer without usable credentials; why (whylen bytes) says which, with
 * STS's Code and Message when it sent them. Exposed for tests. */
enum tf_err tf_sts_parse_response(long status, const char *xml, size_t len,
    const char *source_label, struct tf_creds *out, char *why, size_t whylen);

#endif /* TF_CREDS_STS_H */
