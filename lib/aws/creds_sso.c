/*
 * creds_sso.c - IAM Identity Center role credentials from the token cache
 * of `aws sso login`.
 */
#include "aws/creds_sso.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "aws/http.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"

#define SSO_TIMEOUT_MS    10000L
#define SSO_MAX_RESPONSE  (64 * 1024)
#define SSO_MAX_CACHE     (64 * 1024)

enum tf_err
tf_sso_cache_name(const char *key, char out[46])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	out[0] = '\0';
	if (EVP_Digest(key, strlen(key), md, &len, EVP_sha1(), NULL) != 1 || len != 20)
		return TF_ERR_NOMEM;
	for (i = 0; i < len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	memcpy(out + 40, ".json", 6);
	return TF_OK;
}

/* How to name the login command for c in messages, into out. */
static void
login_hint(const struct tf_sso_config *c, char *out, size_t outlen)
{
	if (c->session_name != NULL)
		snprintf(out, outlen, "run aws sso login --sso-session %s", c->session_name);
	else
		snprintf(out, outlen, "run aws sso login --profile %s", c->profile);
}

/* Reads the cached access token of c into token (tlen bytes). */
static enum tf_err
cached_token(const struct tf_sso_config *c, const char *cache_dir,
    int64_t now_ms, char *token, size_t tlen)
{
	enum tf_err rc;
	struct tf_buf path = TF_BUF_INIT;
	char name[46], hint[200];
	char *text = NULL;
	cJSON *root = NULL;
	const cJSON *tok, *exp;
	int64_t exp_ms;

	login_hint(c, hint, sizeof(hint));
	rc = tf_sso_cache_name(c->session_name != NULL ? c->session_name : c->start_url, name);
	if (rc != TF_OK)
		goto out;
	rc = tf_buf_appendf(&path, "%s/%s", cache_dir, name);
	if (rc != TF_OK)
		goto out;
	rc = tf_creds_read_file(tf_buf_str(&path), SSO_MAX_CACHE, &text);
	if (rc == TF_ERR_NOMEM)
		goto out;
	if (rc != TF_OK) {
		tf_error("credentials: profile \"%s\": no SSO token in %s (%s)",
		    c->profile, tf_buf_str(&path), hint);
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	rc = TF_ERR_CREDENTIALS;
	root = cJSON_Parse(text);
	tok = cJSON_GetObjectItemCaseSensitive(root, "accessToken");
	exp = cJSON_GetObjectItemCaseSensitive(root, "expiresAt");
	if (!cJSON_IsString(tok) || tok->valuestring[0] == '\0' ||
	    strlen(tok->valuestring) >= tlen || strpbrk(tok->valuestring, "\r\n") != NULL ||
	    !cJSON_IsString(exp) ||
	    tf_creds_parse_expiration(exp->valuestring, &exp_ms) != TF_OK) {
		tf_error("credentials: profile \"%s\": the SSO token cache %s has no "
		    "usable accessToken and expiresAt (%s)", c->profile,
		    tf_buf_str(&path), hint);
		goto out;
	}
	if (now_ms >= exp_ms) {
		tf_error("credentials: profile \"%s\": the SSO token expired at %s "
		    "(%s)", c->profile, exp->valuestring, hint);
		goto out;
	}
	snprintf(token, tlen, "%s", tok->valuestring);
	rc = TF_OK;
out:
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		tf_free(text);
	}
	cJSON_Delete(root);
	tf_buf_free(&path);
	return rc;
}

/* Parses GetRoleCredentials' answer into out. */
static enum tf_err
parse_role_credentials(const struct tf_buf *body, struct tf_creds *out)
{
	cJSON *root = cJSON_ParseWithLength(tf_buf_str(body), body->len);
	const cJSON *rc_obj, *id, *secret, *token, *exp;
	enum tf_err rc = TF_ERR_CREDENTIALS;

	rc_obj = cJSON_GetObjectItemCaseSensitive(root, "roleCredentials");
	id = cJSON_GetObjectItemCaseSensitive(rc_obj, "accessKeyId");
	secret = cJSON_GetObjectItemCaseSensitive(rc_obj, "secretAccessKey");
	token = cJSON_GetObjectItemCaseSensitive(rc_obj, "sessionToken");
	exp = cJSON_GetObjectItemCaseSensitive(rc_obj, "expiration");
	/* expiration is epoch milliseconds. */
	if (cJSON_IsString(id) && id->valuestring[0] != '\0' &&
	    cJSON_IsString(secret) && secret->valuestring[0] != '\0' &&
	    cJSON_IsString(token) && cJSON_IsNumber(exp) && exp->valuedouble > 0 &&
	    tf_creds_set(out, id->valuestring, secret->valuestring,
	    token->valuestring, (int64_t)exp->valuedouble, "sso") == TF_OK)
		rc = TF_OK;
	cJSON_Delete(root);
	return rc;
}

enum tf_err
tf_sso_get_credentials(const struct tf_sso_config *c, const char *cache_dir,
    const char *endpoint, int64_t now_ms, struct tf_creds *out)
{
	enum tf_err rc;
	struct tf_buf url = TF_BUF_INIT;
	struct tf_http_pool *pool = NULL;
	struct tf_http_response resp = { 0, TF_BUF_INIT, 0 };
	struct tf_http_header hh[1];
	struct tf_http_request req;
	char token[4096], hint[200], errtext[CURL_ERROR_SIZE];
	char *acct = NULL, *role = NULL;

	errtext[0] = '\0';
	login_hint(c, hint, sizeof(hint));
	rc = cached_token(c, cache_dir, now_ms, token, sizeof(token));
	if (rc != TF_OK)
		goto out;
	rc = TF_ERR_NOMEM;
	acct = curl_easy_escape(NULL, c->account_id, 0);
	role = curl_easy_escape(NULL, c->role_name, 0);
	if (acct == NULL || role == NULL)
		goto out;
	if (endpoint != NULL)
		rc = tf_buf_appendf(&url, "%s", endpoint);
	else
		rc = tf_buf_appendf(&url, "https://portal.sso.%s.amazonaws.com", c->region);
	while (rc == TF_OK && url.len > 0 && url.data[url.len - 1] == '/')
		url.data[--url.len] = '\0';
	if (rc == TF_OK)
		rc = tf_buf_appendf(&url, "/federation/credentials?account_id=%s&role_name=%s",
		    acct, role);
	if (rc != TF_OK)
		goto out;
	rc = tf_http_pool_new(&pool);
	if (rc != TF_OK)
		goto out;
	hh[0] = (struct tf_http_header){ "x-amz-sso_bearer_token", token };
	req = (struct tf_http_request){
		.method = "GET", .url = tf_buf_str(&url), .headers = hh, .n_headers = 1,
		.timeout_ms = SSO_TIMEOUT_MS, .max_response = SSO_MAX_RESPONSE,
	};
	rc = tf_http_perform(pool, &req, &resp, errtext, sizeof(errtext));
	if (rc != TF_OK) {
		tf_error("credentials: profile \"%s\": the SSO portal %s was not "
		    "reached: %s", c->profile, tf_buf_str(&url),
		    errtext[0] != '\0' ? errtext : tf_strerror(rc));
		goto out;
	}
	rc = TF_ERR_CREDENTIALS;
	if (resp.status == 401 || resp.status == 403) {
		tf_error("credentials: profile \"%s\": the SSO portal refused the "
		    "cached token (HTTP %ld; %s)", c->profile, resp.status, hint);
		goto out;
	}
	if (resp.status != 200) {
		tf_error("credentials: profile \"%s\": the SSO portal answered HTTP "
		    "%ld for account %s role %s: %.200s", c->profile, resp.status,
		    c->account_id, c->role_name, tf_buf_str(&resp.body));
		goto out;
	}
	rc = parse_role_credentials(&resp.body, out);
	if (rc != TF_OK)
		tf_error("credentials: profile \"%s\": the SSO portal's answer has "
		    "no usable roleCredentials", c->profile);
out:
	explicit_bzero(token, sizeof(token));
	curl_free(acct);
	curl_free(role);
	tf_buf_free(&url);
	if (resp.body.data != NULL)
		explicit_bzero(resp.body.data, resp.body.cap);
	tf_http_response_free(&resp);
	tf_http_pool_free(pool);
	return rc;
}
