/*
 * creds_sso.h - IAM Identity Center (SSO) role credentials, from the token
 * that `aws sso login` caches.
 *
 * A profile names the account and role (sso_account_id, sso_role_name) and
 * either an sso_session (a "[sso-session NAME]" section of the config file
 * with sso_start_url and sso_region) or, in the legacy form, sso_start_url
 * and sso_region itself. The cached token is
 * ~/.aws/sso/cache/<sha1 hex of the session name, or of the start URL in
 * the legacy form>.json, holding accessToken and expiresAt. The token is
 * exchanged for role credentials with the portal's GetRoleCredentials (GET
 * /federation/credentials on https://portal.sso.REGION.amazonaws.com, or
 * the endpoint the caller names: AWS_ENDPOINT_URL_SSO / AWS_ENDPOINT_URL). The token is never refreshed
 * here: an expired or refused one asks the operator to run aws sso login.
 */
#ifndef TF_CREDS_SSO_H
#define TF_CREDS_SSO_H

#include <stdint.h>

#include "aws/creds.h"
#include "base/err.h"

/* The SSO settings of one profile; every string is borrowed. */
struct tf_sso_config {
	const char *profile;       /* for messages */
	const char *session_name;  /* NULL in the legacy form */
	const char *start_url;
	const char *region;
	const char *account_id;
	const char *role_name;
};

/* The cache file name of a session name or legacy start URL: 40 hex digits
 * and ".json", into out. TF_ERR_NOMEM if OpenSSL fails. */
enum tf_err tf_sso_cache_name(const char *key, char out[46]);

/* Fetches role credentials for c with the token cached under cache_dir at
 * now_ms from the portal at endpoint (NULL: the public one of c->region).
 * On TF_OK *out holds them, labelled "sso". TF_ERR_CREDENTIALS
 * (the cause is logged: a missing or expired token names aws sso login),
 * TF_ERR_IO / TF_ERR_TIMEOUT (portal not reached) or TF_ERR_NOMEM. */
enum tf_err tf_sso_get_credentials(const struct tf_sso_config *c,
    const char *cache_dir, const char *endpoint, int64_t now_ms,
    struct tf_creds *out);

#endif /* TF_CREDS_SSO_H */
