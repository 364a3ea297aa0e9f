/*
 * creds_sts.c - AssumeRole and AssumeRoleWithWebIdentity over the STS query
 * protocol.
 *
 * The XML answer is not parsed as a whole: the text of a few elements is
 * taken by name, inside the <Credentials> element for the keys (so an
 * element of the same name elsewhere is never mistaken for them), and
 * decoded (the five predefined entities and numeric character references;
 * anything else, CDATA or a nested element in those values is refused).
 */
#include "aws/creds_sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "aws/http.h"
#include "aws/sigv4.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/config.h"
#include "base/log.h"

#define STS_VERSION        "2011-06-15"
#define STS_CONTENT_TYPE   "application/x-www-form-urlencoded; charset=utf-8"
#define STS_TIMEOUT_MS     10000L
#define STS_MAX_RESPONSE   (64 * 1024)

enum tf_err
tf_sts_endpoint_resolve(const char *region, struct tf_sts_endpoint *out)
{
	static const char *const vars[] = { "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", NULL };
	const char *url = tf_env_first(vars);
	bool have_region = region != NULL && *region != '\0';
	int n;

	if (url != NULL)
		n = snprintf(out->url, sizeof(out->url), "%s", url);
	else if (have_region)
		n = snprintf(out->url, sizeof(out->url), "https://sts.%s.amazonaws.com", region);
	else
		n = snprintf(out->url, sizeof(out->url), "https://sts.amazonaws.com");
	if (n < 0 || (size_t)n >= sizeof(out->url))
		return TF_ERR_TOO_LARGE;
	n = snprintf(out->region, sizeof(out->region), "%s",
	    have_region ? region : "us-east-1");
	if (n < 0 || (size_t)n >= sizeof(out->region))
		return TF_ERR_TOO_LARGE;
	return TF_OK;
}

/* ---- The answer ----------------------------------------------------- */

/* Decodes the XML text [s, e) into out (outlen bytes). False for markup,
 * an unknown entity, a NUL, or text that does not fit. */
static bool
xml_decode(const char *s, const char *e, char *out, size_t outlen)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' },
		{ "quot;", '"' }, { "apos;", '\'' },
	};
	size_t n = 0, i;

	while (s < e) {
		char c = *s++;

		if (c == '<' || c == '\0')
			return false;
		if (c == '&') {
			for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t k = strlen(ents[i].name);

				if ((size_t)(e - s) >= k && memcmp(s, ents[i].name, k) == 0) {
					c = ents[i].c;
					s += k;
					break;
				}
			}
			if (i == sizeof(ents) / sizeof(ents[0])) {
				/* &#NN; or &#xHH; for an ASCII character. */
				char *end;
				long v;

				if (s >= e || *s != '#')
					return false;
				s++;
				if (s < e && (*s == 'x' || *s == 'X'))
					v = strtol(s + 1, &end, 16);
				else
					v = strtol(s, &end, 10);
				if (end >= e || *end != ';' || v <= 0 || v > 127)
					return false;
				c = (char)v;
				s = end + 1;
			}
		}
		if (n + 1 >= outlen)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return true;
}

/* Finds "<name>text</name>" in [s, e) and decodes the text into out.
 * Returns 1 when found and decoded, 0 when absent, -1 when malformed. On
 * success *after (may be NULL) points past the closing tag. */
static int
xml_element(const char *s, const char *e, const char *name, char *out,
    size_t outlen, const char **after)
{
	char open[64], close[64];
	const char *a, *b;
	int no, nc;

	no = snprintf(open, sizeof(open), "<%s>", name);
	nc = snprintf(close, sizeof(close), "</%s>", name);
	if (no < 0 || nc < 0 || (size_t)no >= sizeof(open) || (size_t)nc >= sizeof(close))
		return -1;
	a = memmem(s, (size_t)(e - s), open, (size_t)no);
	if (a == NULL)
		return 0;
	a += no;
	b = memmem(a, (size_t)(e - a), close, (size_t)nc);
	if (b == NULL)
		return -1;
	if (after != NULL)
		*after = b + nc;
	return xml_decode(a, b, out, outlen) ? 1 : -1;
}

enum tf_err
tf_sts_parse_response(long status, const char *xml, size_t len,
    const char *source_label, struct tf_creds *out, char *why, size_t whylen)
{
	const char *end = xml + len, *cs, *ce;
	char code[128] = "", message[512] = "", exp[64];
	struct tf_creds c;
	int64_t exp_ms;
	int got;

	memset(&c, 0, sizeof(c));
	if (xml == NULL)
		xml = end = "";
	if (status != 200) {
		if (xml_element(xml, end, "Code", code, sizeof(code), NULL) != 1)
			snprintf(code, sizeof(code), "no error code");
		if (xml_element(xml, end, "Message", message, sizeof(message), NULL) != 1)
			message[0] = '\0';
		snprintf(why, whylen, "HTTP %ld, %s%s%s", status, code,
		    message[0] != '\0' ? ": " : "", message);
		return TF_ERR_CREDENTIALS;
	}
	cs = memmem(xml, len, "<Credentials>", 13);
	ce = cs != NULL ? memmem(cs, (size_t)(end - cs), "</Credentials>", 14) : NULL;
	if (cs == NULL || ce == NULL) {
		snprintf(why, whylen, "the answer has no Credentials element");
		return TF_ERR_CREDENTIALS;
	}
	if (xml_element(cs, ce, "AccessKeyId", c.access_key_id,
	    sizeof(c.access_key_id), NULL) != 1 || c.access_key_id[0] == '\0' ||
	    xml_element(cs, ce, "SecretAccessKey", c.secret_access_key,
	    sizeof(c.secret_access_key), NULL) != 1 || c.secret_access_key[0] == '\0') {
		snprintf(why, whylen, "the answer has no usable AccessKeyId or SecretAccessKey");
		explicit_bzero(&c, sizeof(c));
		return TF_ERR_CREDENTIALS;
	}
	got = xml_element(cs, ce, "SessionToken", c.session_token,
	    sizeof(c.session_token), NULL);
	if (got != 1 || c.session_token[0] == '\0') {
		snprintf(why, whylen, "the answer has no usable SessionToken");
		explicit_bzero(&c, sizeof(c));
		return TF_ERR_CREDENTIALS;
	}
	if (xml_element(cs, ce, "Expiration", exp, sizeof(exp), NULL) != 1 ||
	    tf_creds_parse_expiration(exp, &exp_ms) != TF_OK) {
		snprintf(why, whylen, "the answer has no valid Expiration");
		explicit_bzero(&c, sizeof(c));
		return TF_ERR_CREDENTIALS;
	}
	c.expires_at_ms = exp_ms;
	c.source = source_label;
	*out = c;
	explicit_bzero(&c, sizeof(c));
	return TF_OK;
}

/* ---- The request ---------------------------------------------------- */

/* Appends "&name=value" (value form-encoded) to b. */
static enum tf_err
form_add(struct tf_buf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	enum tf_err rc;
	const unsigned char *p;

	rc = tf_buf_appendf(b, "%s%s=", b->len > 0 ? "&" : "", name);
	for (p = (const unsigned char *)value; rc == TF_OK && *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL)
			rc = tf_buf_append_char(b, (char)*p);
		else
			rc = tf_buf_appendf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
	return rc;
}

/* The Host header of url (port kept when given) into out, and its path
 * ("/" when it has none) into path. */
static enum tf_err
url_host(const char *url, char *out, size_t outlen, char *path, size_t pathlen)
{
	enum tf_err rc = TF_ERR_INVALID;
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *p = NULL;
	int n;

	if (u == NULL)
		return TF_ERR_NOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	n = snprintf(out, outlen, "%s%s%s", host, port != NULL ? ":" : "",
	    port != NULL ? port : "");
	if (n < 0 || (size_t)n >= outlen)
		goto out;
	n = snprintf(path, pathlen, "%s", p[0] != '\0' ? p : "/");
	if (n < 0 || (size_t)n >= pathlen)
		goto out;
	rc = TF_OK;
out:
	curl_free(host);
	curl_free(port);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

/* Builds the form body of a. */
static enum tf_err
build_body(const struct tf_sts_assume *a, struct tf_buf *body)
{
	enum tf_err rc;
	char session[64], duration[16];

	if (a->session_name != NULL && *a->session_name != '\0')
		snprintf(session, sizeof(session), "%.63s", a->session_name);
	else
		snprintf(session, sizeof(session), "taskfleet-%lld", (long long)time(NULL));
	rc = form_add(body, "Action", a->web_identity_token != NULL ?
	    "AssumeRoleWithWebIdentity" : "AssumeRole");
	if (rc == TF_OK)
		rc = form_add(body, "Version", STS_VERSION);
	if (rc == TF_OK)
		rc = form_add(body, "RoleArn", a->role_arn);
	if (rc == TF_OK)
		rc = form_add(body, "RoleSessionName", session);
	if (rc == TF_OK && a->duration_s > 0) {
		snprintf(duration, sizeof(duration), "%d", a->duration_s);
		rc = form_add(body, "DurationSeconds", duration);
	}
	if (rc == TF_OK && a->web_identity_token == NULL && a->external_id != NULL)
		rc = form_add(body, "ExternalId", a->external_id);
	if (rc == TF_OK && a->web_identity_token != NULL)
		rc = form_add(body, "WebIdentityToken", a->web_identity_token);
	return rc;
}

enum tf_err
tf_sts_assume_role(const struct tf_sts_endpoint *ep,
    const struct tf_sts_assume *a, const struct tf_creds *source,
    const char *source_label, struct tf_creds *out)
{
	enum tf_err rc;
	struct tf_buf body = TF_BUF_INIT;
	struct tf_http_pool *pool = NULL;
	struct tf_http_response resp = { 0, TF_BUF_INIT, 0 };
	struct tf_sigv4_header sh[5];
	struct tf_http_header hh[6];
	struct tf_http_request req;
	struct tf_sigv4_request sreq;
	struct tf_sigv4_key key;
	const char *action = a->web_identity_token != NULL ?
	    "AssumeRoleWithWebIdentity" : "AssumeRole";
	char host[300], path[256], amz_date[17], errtext[CURL_ERROR_SIZE], why[640];
	char *authorization = NULL;
	size_t n = 0, i;
	time_t now;

	errtext[0] = '\0';
	rc = build_body(a, &body);
	if (rc != TF_OK)
		goto out;
	rc = url_host(ep->url, host, sizeof(host), path, sizeof(path));
	if (rc != TF_OK) {
		tf_error("credentials: the STS endpoint \"%s\" is not a URL", ep->url);
		rc = rc == TF_ERR_NOMEM ? rc : TF_ERR_CREDENTIALS;
		goto out;
	}
	now = time(NULL);
	tf_sigv4_amz_date(now, amz_date);
	sh[n++] = (struct tf_sigv4_header){ "content-type", STS_CONTENT_TYPE };
	sh[n++] = (struct tf_sigv4_header){ "host", host };
	sh[n++] = (struct tf_sigv4_header){ "x-amz-date", amz_date };
	if (a->web_identity_token == NULL && source->session_token[0] != '\0')
		sh[n++] = (struct tf_sigv4_header){ "x-amz-security-token",
		    source->session_token };
	for (i = 0; i < n; i++)
		hh[i] = (struct tf_http_header){ sh[i].name, sh[i].value };
	if (a->web_identity_token == NULL) {
		sreq = (struct tf_sigv4_request){
			.method = "POST", .path = path, .query = NULL,
			.headers = sh, .n_headers = n,
			.payload = body.data, .payload_len = body.len,
		};
		key = (struct tf_sigv4_key){
			.access_key_id = source->access_key_id,
			.secret_access_key = source->secret_access_key,
			.region = ep->region, .service = "sts",
		};
		rc = tf_sigv4_sign(&sreq, &key, now, &authorization);
		if (rc != TF_OK) {
			tf_error("credentials: cannot sign %s for %s: %s", action,
			    a->role_arn, tf_strerror(rc));
			rc = rc == TF_ERR_NOMEM ? rc : TF_ERR_CREDENTIALS;
			goto out;
		}
		hh[n++] = (struct tf_http_header){ "authorization", authorization };
	}
	rc = tf_http_pool_new(&pool);
	if (rc != TF_OK)
		goto out;
	req = (struct tf_http_request){
		.method = "POST", .url = ep->url, .headers = hh, .n_headers = n,
		.body = body.data, .body_len = body.len,
		.timeout_ms = STS_TIMEOUT_MS, .max_response = STS_MAX_RESPONSE,
	};
	rc = tf_http_perform(pool, &req, &resp, errtext, sizeof(errtext));
	if (rc != TF_OK) {
		tf_error("credentials: %s for %s: STS at %s not reached: %s", action,
		    a->role_arn, ep->url, errtext[0] != '\0' ? errtext : tf_strerror(rc));
		goto out;
	}
	rc = tf_sts_parse_response(resp.status, tf_buf_str(&resp.body), resp.body.len,
	    source_label, out, why, sizeof(why));
	if (rc != TF_OK)
		tf_error("credentials: %s for %s at %s failed: %s", action,
		    a->role_arn, ep->url, why);
out:
	tf_free(authorization);
	if (body.data != NULL)
		explicit_bzero(body.data, body.cap);
	tf_buf_free(&body);
	if (resp.body.data != NULL)
		explicit_bzero(resp.body.data, resp.body.cap);
	tf_http_response_free(&resp);
	tf_http_pool_free(pool);
	return rc;
}
