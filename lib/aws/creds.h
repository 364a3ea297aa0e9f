/*
 * creds.h - the AWS credential chain (docs/configuration.md).
 *
 * Order, as the AWS SDKs do it: environment variables; then, for AWS_PROFILE
 * (default "default") in the shared credentials and config files: a role
 * to assume (role_arn with source_profile or credential_source, through
 * STS: creds_sts.h), web identity (AWS_WEB_IDENTITY_TOKEN_FILE and
 * AWS_ROLE_ARN, or web_identity_token_file in the profile), IAM Identity
 * Center (sso_*: creds_sso.h), static keys, credential_process
 * (creds_process.h); then the ECS container
 * credentials endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI,
 * with AWS_CONTAINER_AUTHORIZATION_TOKEN); EC2 instance metadata with an IMDSv2
 * token (skipped when AWS_EC2_METADATA_DISABLED=true; the endpoint can be moved
 * with AWS_EC2_METADATA_SERVICE_ENDPOINT).
 *
 * Temporary credentials are refreshed ahead of their expiry; tf_creds_get()
 * never hands out credentials that have expired: if the refresh fails and the
 * old ones have run out, it fails with TF_ERR_CREDENTIALS instead.
 */
#ifndef TF_CREDS_H
#define TF_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define TF_CREDS_KEY_MAX   256
#define TF_CREDS_TOKEN_MAX 4096

/* Temporary credentials are refreshed this long before they expire. */
#define TF_CREDS_REFRESH_AHEAD_MS (5 * 60 * 1000)
/* While a refresh keeps failing and the current credentials are still valid,
 * it is tried again at most this often (they are handed out meanwhile). */
#define TF_CREDS_RETRY_MS (30 * 1000)

/* A snapshot of credentials, copied by value so no pointer is shared with the
 * provider's refresh thread. */
struct tf_creds {
	char access_key_id[TF_CREDS_KEY_MAX];
	char secret_access_key[TF_CREDS_KEY_MAX];
	char session_token[TF_CREDS_TOKEN_MAX];  /* "" when there is none */
	int64_t expires_at_ms;                   /* epoch ms; 0: never expires */
	const char *source;                      /* static: "environment", "profile",
	                                            "assume-role", "web-identity",
	                                            "sso", "process", "container",
	                                            "imds", "static" */
};

struct tf_creds_provider;

/* Creates a provider reading the environment as it is now. Resolving the
 * chain happens on the first tf_creds_get(). Caller frees with
 * tf_creds_provider_free(). */
enum tf_err tf_creds_provider_new(struct tf_creds_provider **out);

/* Creates a provider that always returns these static credentials (tests,
 * and explicit keys from a command line). session_token may be NULL. */
enum tf_err tf_creds_provider_new_static(const char *access_key_id,
    const char *secret_access_key, const char *session_token,
    struct tf_creds_provider **out);

/* Creates a provider of the credentials of role role_arn (with external_id,
 * NULL: none), assumed through STS (creds_sts.h; the endpoint for region,
 * NULL: the global one) with source's credentials: AssumeRole on the first
 * tf_creds_get(), again 5 minutes before they expire. source is borrowed
 * and must outlive the provider; the strings are copied. TF_ERR_INVALID
 * without a role; caller frees with tf_creds_provider_free(). */
enum tf_err tf_creds_provider_new_role(struct tf_creds_provider *source,
    const char *role_arn, const char *external_id, const char *region,
    struct tf_creds_provider **out);

/* Copies valid credentials into *out, resolving or refreshing them first when
 * needed (refresh starts 5 minutes before expiry). Thread-safe; concurrent
 * callers share one refresh. now_ms is the current epoch time in ms (a
 * parameter so tests can move the clock). */
enum tf_err tf_creds_get(struct tf_creds_provider *p, int64_t now_ms,
    struct tf_creds *out);

/* Frees p; NULL is fine. */
void tf_creds_provider_free(struct tf_creds_provider *p);

/* Parses an ISO 8601 / RFC 3339 UTC time as the credential endpoints send it
 * ("2026-11-23T20:15:30Z", also with fractional seconds and a "+00:00" or
 * other numeric offset) into epoch ms. Returns TF_ERR_PARSE for anything
 * else, *epoch_ms untouched then. */
enum tf_err tf_creds_parse_expiration(const char *s, int64_t *epoch_ms);

/* True when AWS_CONTAINER_CREDENTIALS_FULL_URI may be url, as the SDKs
 * restrict it: https to any host, or http only to a loopback address
 * (127.0.0.0/8, ::1, "localhost") or the ECS/EKS link-local hosts
 * (169.254.170.2, 169.254.170.23, fd00:ec2::23). Only looks at the text;
 * never connects. */
bool tf_creds_container_url_allowed(const char *url);

/* Copies the parts into out; TF_ERR_TOO_LARGE (out untouched) when one
 * does not fit. token may be NULL. source is a static string. For the
 * credential sources (creds_*.c). */
enum tf_err tf_creds_set(struct tf_creds *out, const char *key_id,
    const char *secret, const char *token, int64_t expires_at_ms,
    const char *source);

/* Reads the file at path (at most max bytes) into *out without trailing
 * blanks and line ends; freshly allocated, caller zeroes and frees it with
 * tf_free(). Logs why it fails: TF_ERR_NOT_FOUND, TF_ERR_IO,
 * TF_ERR_TOO_LARGE, TF_ERR_NOMEM. For the credential sources. */
enum tf_err tf_creds_read_file(const char *path, size_t max, char **out);

/* Test hook: how long credential_process may run, in ms; 0 restores
 * TF_CREDS_PROCESS_TIMEOUT_MS. Providers made afterwards use it. */
void tf_creds_test_set_process_timeout(long ms);

/* Test hook: the host[:port] that AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is
 * appended to, instead of 169.254.170.2; NULL restores it. Providers made
 * afterwards use it. Not thread-safe: call before any provider exists. */
void tf_creds_test_set_ecs_host(const char *host_port);

#endif /* TF_CREDS_H */
