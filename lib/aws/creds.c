/*
 * creds.c - the AWS credential chain.
 *
 * Decisions the SDKs leave open, and what this file does:
 *   - The environment is read once, by tf_creds_provider_new(); the shared
 *     files when the chain is first resolved (and again after a failure).
 *   - Incomplete environment credentials (only one of the key pair) are
 *     skipped with a warning.
 *   - AWS_PROFILE naming a profile that neither file has is an error, as is
 *     a profile holding only one of the key pair. A profile's source that is
 *     configured and fails (a role that cannot be assumed, a process that
 *     exits non-zero, an expired SSO token) is an error, as in the SDKs,
 *     for the implicit default profile too. A profile with none of them
 *     lets the chain go on.
 *   - mfa_serial is refused: nothing here can ask for a code.
 *   - A source_profile chain is resolved from its start at every refresh
 *     (nothing cached between the links); it may be at most MAX_CHAIN
 *     profiles deep. A profile may name itself as source_profile when it
 *     holds static keys (the SDKs allow that); any other repeat is a loop.
 *   - When container credentials are configured, they are the answer: a
 *     failure there does not fall through to instance metadata, so a task
 *     never runs silently with its host's role.
 *   - IMDSv2 only: no fallback to IMDSv1 when the token PUT is refused. A new
 *     token is fetched for each refresh (refreshes are rare).
 *   - Once a source has worked, refreshes go to that source.
 */
#include "aws/creds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "aws/creds_process.h"
#include "aws/creds_sso.h"
#include "aws/creds_sts.h"
#include "aws/ini.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/config.h"
#include "base/log.h"

#define ECS_HOST          "169.254.170.2"
#define IMDS_ENDPOINT     "http://169.254.169.254"
#define IMDS_ENDPOINT_V6  "http://[fd00:ec2::254]"
#define IMDS_TOKEN_TTL    "21600"
#define IMDS_CREDS_PATH   "/latest/meta-data/iam/security-credentials/"
#define CONNECT_TIMEOUT_MS 1000L
#define TOTAL_TIMEOUT_MS   2000L
#define MAX_RESPONSE       (64 * 1024)
#define MAX_TOKEN_FILE     (16 * 1024)

enum source {
	SRC_NONE,       /* the chain has not been resolved yet */
	SRC_STATIC,
	SRC_ENV,
	SRC_PROFILE,
	SRC_CONTAINER,
	SRC_IMDS,
	SRC_ROLE,       /* a role assumed with another provider's credentials
	                   (tf_creds_provider_new_role()) */
};

/* The environment when the provider was made. Every string is owned, and
 * NULL when the variable was unset or empty. */
struct config {
	char *key_id;            /* AWS_ACCESS_KEY_ID */
	char *secret;            /* AWS_SECRET_ACCESS_KEY */
	char *session_token;     /* AWS_SESSION_TOKEN */
	char *profile;           /* AWS_PROFILE or "default" */
	bool profile_explicit;   /* AWS_PROFILE was set */
	char *credentials_path;  /* NULL when no home directory is known */
	char *config_path;       /* likewise */
	char *container_rel;     /* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI */
	char *container_full;    /* AWS_CONTAINER_CREDENTIALS_FULL_URI */
	char *container_auth;    /* AWS_CONTAINER_AUTHORIZATION_TOKEN */
	char *container_auth_file;  /* AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE */
	char *ecs_host;          /* host the relative URI goes to */
	bool imds_disabled;      /* AWS_EC2_METADATA_DISABLED=true */
	char *imds_endpoint;     /* without a trailing '/' */
	char *wi_token_file;     /* AWS_WEB_IDENTITY_TOKEN_FILE */
	char *wi_role_arn;       /* AWS_ROLE_ARN */
	char *wi_session_name;   /* AWS_ROLE_SESSION_NAME */
	char *sso_cache_dir;     /* ~/.aws/sso/cache; NULL without a home */
	char *sso_endpoint;      /* AWS_ENDPOINT_URL_SSO or AWS_ENDPOINT_URL */
	struct tf_sts_endpoint sts;  /* where roles are assumed */
	long process_timeout_ms; /* credential_process's; 0: the default */
	/* SRC_ROLE only: */
	struct tf_creds_provider *role_source;  /* borrowed */
	char *role_arn;
	char *role_external_id;  /* NULL: none */
};

struct tf_creds_provider {
	pthread_mutex_t mu;
	pthread_cond_t done;     /* broadcast when a fetch finishes */
	struct config cfg;       /* read-only after tf_creds_provider_new() */
	/* The fields below are guarded by mu. */
	enum source src;         /* the source that worked last */
	bool have;               /* cur holds credentials */
	struct tf_creds cur;
	bool busy;               /* a thread is fetching, without holding mu */
	uint64_t attempts;       /* fetches finished, so waiters see one end */
	enum tf_err last_rc;     /* result of the last fetch */
	bool attempted;          /* last_attempt_ms is set */
	int64_t last_attempt_ms;
};

static char test_ecs_host[256];
static long test_process_timeout_ms;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
tf_creds_test_set_ecs_host(const char *host_port)
{
	if (host_port == NULL)
		test_ecs_host[0] = '\0';
	else
		snprintf(test_ecs_host, sizeof(test_ecs_host), "%s", host_port);
}

void
tf_creds_test_set_process_timeout(long ms)
{
	test_process_timeout_ms = ms;
}

/* Overwrites a secret before its memory goes back. */
static void
free_secret(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
	tf_free(s);
}

/* Formats epoch ms as "2026-11-23T20:15:30Z" into out. */
static void
format_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%lld", (long long)ms);
}

/* ---- Times ---------------------------------------------------------- */

/* Reads exactly n digits at *p into *v and moves *p past them. */
static bool
read_digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

enum tf_err
tf_creds_parse_expiration(const char *s, int64_t *epoch_ms)
{
	const char *p = s;
	int year, mon, day, hour, min, sec, ms = 0, oh = 0, om = 0, sign = 0;
	struct tm tm;
	time_t t;

	if (s == NULL)
		return TF_ERR_PARSE;
	if (!read_digits(&p, 4, &year) || *p++ != '-' ||
	    !read_digits(&p, 2, &mon) || *p++ != '-' ||
	    !read_digits(&p, 2, &day))
		return TF_ERR_PARSE;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return TF_ERR_PARSE;
	p++;
	if (!read_digits(&p, 2, &hour) || *p++ != ':' ||
	    !read_digits(&p, 2, &min) || *p++ != ':' ||
	    !read_digits(&p, 2, &sec))
		return TF_ERR_PARSE;
	if (*p == '.' || *p == ',') {
		int scale = 100;

		p++;
		if (*p < '0' || *p > '9')
			return TF_ERR_PARSE;
		for (; *p >= '0' && *p <= '9'; p++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!read_digits(&p, 2, &oh))
			return TF_ERR_PARSE;
		if (*p == ':')
			p++;
		if (!read_digits(&p, 2, &om))
			return TF_ERR_PARSE;
		if (oh > 23 || om > 59)
			return TF_ERR_PARSE;
	} else {
		return TF_ERR_PARSE;
	}
	if (*p != '\0')
		return TF_ERR_PARSE;
	if (year < 1970 || mon < 1 || mon > 12 || day < 1 ||
	    day > days_in_month(year, mon) || hour > 23 || min > 59 || sec > 60)
		return TF_ERR_PARSE;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return TF_ERR_PARSE;
	*epoch_ms = (int64_t)t * 1000 + ms - (int64_t)sign * (oh * 3600 + om * 60) * 1000;
	return TF_OK;
}

/* ---- Container URL rules -------------------------------------------- */

/* True for the hosts plain http may reach: loopback and ECS/EKS link-local. */
static bool
http_host_allowed(const char *host)
{
	char bare[64];
	unsigned char a[16];
	size_t n = strlen(host);
	static const unsigned char v6_loop[16] = { [15] = 1 };
	static const unsigned char v6_eks[16] = { 0xfd, 0x00, 0x0e, 0xc2,
	    [14] = 0x00, [15] = 0x23 };

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127 ||
		    (a[0] == 169 && a[1] == 254 && a[2] == 170 && (a[3] == 2 || a[3] == 23));
	if (n < 3 || n - 2 >= sizeof(bare) || host[0] != '[' || host[n - 1] != ']')
		return false;
	memcpy(bare, host + 1, n - 2);
	bare[n - 2] = '\0';
	if (inet_pton(AF_INET6, bare, a) != 1)
		return false;
	return memcmp(a, v6_loop, 16) == 0 || memcmp(a, v6_eks, 16) == 0;
}

bool
tf_creds_container_url_allowed(const char *url)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	if (url == NULL)
		goto out;
	pthread_once(&curl_once, curl_init_once);
	u = curl_url();
	if (u == NULL)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0')
		goto out;
	if (strcasecmp(scheme, "https") == 0)
		ok = true;
	else if (strcasecmp(scheme, "http") == 0)
		ok = http_host_allowed(host);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* ---- HTTP for the metadata endpoints -------------------------------- */

/* Collects a response body into a tf_buf, refusing more than MAX_RESPONSE. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct tf_buf *b = userdata;
	size_t n = size * nmemb;

	if (n > MAX_RESPONSE - b->len || tf_buf_append(b, data, n) != TF_OK)
		return 0;
	return n;
}

/* One request. headers are borrowed. On TF_OK *status is the HTTP status and
 * body holds the response; *retry tells whether trying again may help (a 5xx,
 * or a connection that was made and then failed). On an error, why
 * (CURL_ERROR_SIZE bytes) says what went wrong. */
static enum tf_err
http_once(const char *method, const char *url, const struct curl_slist *headers,
    long *status, struct tf_buf *body, bool *retry, char *why)
{
	enum tf_err rc = TF_ERR_NOMEM;
	char errbuf[CURL_ERROR_SIZE];
	curl_off_t connect_us = 0;
	CURL *h = NULL;
	CURLcode cc;

	*retry = false;
	*status = 0;
	errbuf[0] = '\0';
	snprintf(why, CURL_ERROR_SIZE, "out of memory");
	tf_buf_reset(body);
	h = curl_easy_init();
	if (h == NULL)
		goto out;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
	/* Metadata endpoints are never reached through a proxy. */
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_USERAGENT, "taskfleet");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
		*retry = connect_us > 0 && cc != CURLE_WRITE_ERROR;
		snprintf(why, CURL_ERROR_SIZE, "%s", cc == CURLE_WRITE_ERROR ?
		    "response too large" : errbuf[0] != '\0' ? errbuf :
		    curl_easy_strerror(cc));
		tf_debug("credentials: %s %s failed: %s", method, url, why);
		if (cc == CURLE_OPERATION_TIMEDOUT)
			rc = TF_ERR_TIMEOUT;
		else if (cc == CURLE_WRITE_ERROR)
			rc = TF_ERR_TOO_LARGE;
		else if (cc == CURLE_OUT_OF_MEMORY)
			rc = TF_ERR_NOMEM;
		else
			rc = TF_ERR_IO;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	*retry = *status >= 500;
	rc = TF_OK;
out:
	curl_easy_cleanup(h);
	return rc;
}

/* A request with at most one retry. As http_once(); a 5xx after the retry
 * comes back as TF_OK with that status. */
static enum tf_err
http_call(const char *method, const char *url, const struct curl_slist *headers,
    long *status, struct tf_buf *body, char *why)
{
	enum tf_err rc;
	bool retry;

	pthread_once(&curl_once, curl_init_once);
	rc = http_once(method, url, headers, status, body, &retry, why);
	if (retry)
		rc = http_once(method, url, headers, status, body, &retry, why);
	return rc;
}

/* Appends "name: value" to *list. */
static enum tf_err
add_header(struct curl_slist **list, const char *name, const char *value)
{
	enum tf_err rc;
	struct tf_buf line = TF_BUF_INIT;
	struct curl_slist *l;

	rc = tf_buf_appendf(&line, "%s: %s", name, value);
	if (rc != TF_OK)
		goto out;
	l = curl_slist_append(*list, tf_buf_str(&line));
	if (l == NULL) {
		rc = TF_ERR_NOMEM;
		goto out;
	}
	*list = l;
out:
	if (line.data != NULL)
		explicit_bzero(line.data, line.len);
	tf_buf_free(&line);
	return rc;
}

/* ---- Filling a tf_creds --------------------------------------------- */

enum tf_err
tf_creds_set(struct tf_creds *out, const char *key_id, const char *secret,
    const char *token, int64_t expires_at_ms, const char *source)
{
	if (token == NULL)
		token = "";
	if (strlen(key_id) >= sizeof(out->access_key_id) ||
	    strlen(secret) >= sizeof(out->secret_access_key) ||
	    strlen(token) >= sizeof(out->session_token))
		return TF_ERR_TOO_LARGE;
	memset(out, 0, sizeof(*out));
	strcpy(out->access_key_id, key_id);
	strcpy(out->secret_access_key, secret);
	strcpy(out->session_token, token);
	out->expires_at_ms = expires_at_ms;
	out->source = source;
	return TF_OK;
}

/* The string member name of obj, or NULL. Borrowed from obj. */
static const char *
json_str(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Parses a container or IMDS credentials document. what names the endpoint
 * in log lines. */
static enum tf_err
parse_creds_json(const struct tf_buf *body, const char *what,
    const char *source, struct tf_creds *out)
{
	enum tf_err rc = TF_ERR_PARSE;
	cJSON *root = NULL;
	const char *code, *id, *secret, *token, *exp;
	int64_t exp_ms;

	root = cJSON_ParseWithLength(tf_buf_str(body), body->len);
	if (root == NULL) {
		tf_error("credentials: %s returned a body that is not JSON", what);
		goto out;
	}
	code = json_str(root, "Code");
	if (cJSON_GetObjectItemCaseSensitive(root, "Code") != NULL &&
	    (code == NULL || strcmp(code, "Success") != 0)) {
		tf_error("credentials: %s returned Code \"%s\"", what,
		    code != NULL ? code : "(not a string)");
		goto out;
	}
	id = json_str(root, "AccessKeyId");
	secret = json_str(root, "SecretAccessKey");
	token = json_str(root, "Token");
	exp = json_str(root, "Expiration");
	if (id == NULL || *id == '\0' || secret == NULL || *secret == '\0') {
		tf_error("credentials: %s returned no AccessKeyId or SecretAccessKey", what);
		goto out;
	}
	if (exp == NULL || tf_creds_parse_expiration(exp, &exp_ms) != TF_OK) {
		tf_error("credentials: %s returned no valid Expiration", what);
		goto out;
	}
	rc = tf_creds_set(out, id, secret, token, exp_ms, source);
	if (rc != TF_OK)
		tf_error("credentials: %s returned a key or token that is too long", what);
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- The sources ---------------------------------------------------- */

/* Environment variables. TF_ERR_NOT_FOUND when they hold no key pair. */
static enum tf_err
from_env(const struct config *cfg, struct tf_creds *out)
{
	if (cfg->key_id == NULL || cfg->secret == NULL) {
		if (cfg->key_id != NULL || cfg->secret != NULL)
			tf_warn("credentials: %s is set but %s is not; skipping "
			    "environment credentials",
			    cfg->key_id != NULL ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			    cfg->key_id != NULL ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return TF_ERR_NOT_FOUND;
	}
	if (tf_creds_set(out, cfg->key_id, cfg->secret, cfg->session_token, 0,
	    "environment") != TF_OK) {
		tf_error("credentials: the AWS_* credential variables are too long");
		return TF_ERR_CREDENTIALS;
	}
	return TF_OK;
}

/* Loads one shared file; a missing or unreadable one leaves *out NULL (an
 * unreadable one with a warning). TF_ERR_CREDENTIALS for a file that does
 * not parse. */
static enum tf_err
load_shared(const char *path, struct tf_ini **out)
{
	struct tf_ini_error err;
	enum tf_err rc;

	*out = NULL;
	if (path == NULL)
		return TF_OK;
	rc = tf_ini_load(path, out, &err);
	switch (rc) {
	case TF_OK:
	case TF_ERR_NOT_FOUND:
		return TF_OK;
	case TF_ERR_NOMEM:
		return rc;
	case TF_ERR_PARSE:
		tf_error("credentials: %s line %d: %s", path, err.line, err.what);
		return TF_ERR_CREDENTIALS;
	case TF_ERR_TOO_LARGE:
		tf_error("credentials: %s is larger than %d bytes", path, TF_INI_MAX_FILE);
		return TF_ERR_CREDENTIALS;
	default:
		tf_warn("credentials: skipping %s: %s: %s", path,
		    err.what != NULL ? err.what : "cannot read", strerror(err.errnum));
		return TF_OK;
	}
}

/* Takes the static key pair of one profile section, if it has one.
 * TF_ERR_NOT_FOUND when it has neither key; TF_ERR_CREDENTIALS with one. */
static enum tf_err
profile_keys(const struct tf_ini_section *s, const char *path,
    const char *profile, struct tf_creds *out)
{
	const char *id = tf_ini_get(s, "aws_access_key_id");
	const char *secret = tf_ini_get(s, "aws_secret_access_key");
	const char *token = tf_ini_get(s, "aws_session_token");

	if (id != NULL && *id == '\0')
		id = NULL;
	if (secret != NULL && *secret == '\0')
		secret = NULL;
	if (token != NULL && *token == '\0')
		token = NULL;
	if (id == NULL && secret == NULL)
		return TF_ERR_NOT_FOUND;
	if (id == NULL || secret == NULL) {
		tf_error("credentials: profile \"%s\" in %s has %s but not %s", profile,
		    path, id != NULL ? "aws_access_key_id" : "aws_secret_access_key",
		    id != NULL ? "aws_secret_access_key" : "aws_access_key_id");
		return TF_ERR_CREDENTIALS;
	}
	if (tf_creds_set(out, id, secret, token, 0, "profile") != TF_OK) {
		tf_error("credentials: profile \"%s\" in %s has a key or token "
		    "that is too long", profile, path);
		return TF_ERR_CREDENTIALS;
	}
	return TF_OK;
}

enum tf_err
tf_creds_read_file(const char *path, size_t max, char **out)
{
	enum tf_err rc = TF_ERR_IO;
	struct tf_buf b = TF_BUF_INIT;
	int fd, e;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		tf_error("credentials: cannot open %s: %s", path, strerror(e));
		return e == ENOENT ? TF_ERR_NOT_FOUND : TF_ERR_IO;
	}
	for (;;) {
		ssize_t n;

		rc = tf_buf_reserve(&b, 1024);
		if (rc != TF_OK)
			goto out;
		n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0) {
			e = errno;
			if (e == EINTR)
				continue;
			tf_error("credentials: cannot read %s: %s", path, strerror(e));
			rc = TF_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		b.data[b.len] = '\0';
		if (b.len > max) {
			tf_error("credentials: %s is larger than %zu bytes", path, max);
			rc = TF_ERR_TOO_LARGE;
			goto out;
		}
	}
	while (b.len > 0 && strchr(" \t\r\n", b.data[b.len - 1]) != NULL)
		b.data[--b.len] = '\0';
	*out = tf_buf_steal(&b);
	rc = *out != NULL ? TF_OK : TF_ERR_NOMEM;
out:
	close(fd);
	if (b.data != NULL)
		explicit_bzero(b.data, b.cap);
	tf_buf_free(&b);
	return rc;
}

/* The ECS/EKS container credentials endpoint. url_out (url_len bytes) gets
 * the URL asked, for the log. */
static enum tf_err
from_container(const struct config *cfg, struct tf_creds *out, char *url_out,
    size_t url_len)
{
	enum tf_err rc = TF_ERR_CREDENTIALS;
	struct tf_buf url = TF_BUF_INIT, body = TF_BUF_INIT;
	struct curl_slist *hdrs = NULL;
	char *file_token = NULL;
	char why[CURL_ERROR_SIZE];
	const char *token;
	long status;

	url_out[0] = '\0';
	if (cfg->container_rel != NULL) {
		if (cfg->container_rel[0] != '/') {
			tf_error("credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
			    "must start with '/'");
			goto out;
		}
		if (tf_buf_appendf(&url, "http://%s%s", cfg->ecs_host,
		    cfg->container_rel) != TF_OK) {
			rc = TF_ERR_NOMEM;
			goto out;
		}
	} else {
		if (!tf_creds_container_url_allowed(cfg->container_full)) {
			tf_error("credentials: refusing AWS_CONTAINER_CREDENTIALS_FULL_URI "
			    "%s: it must be https, or http to a loopback address or "
			    "169.254.170.2, 169.254.170.23, fd00:ec2::23",
			    cfg->container_full);
			goto out;
		}
		if (tf_buf_append_str(&url, cfg->container_full) != TF_OK) {
			rc = TF_ERR_NOMEM;
			goto out;
		}
	}
	snprintf(url_out, url_len, "%s", tf_buf_str(&url));
	token = cfg->container_auth;
	if (cfg->container_auth_file != NULL) {
		rc = tf_creds_read_file(cfg->container_auth_file, MAX_TOKEN_FILE, &file_token);
		if (rc != TF_OK)
			goto out;
		token = file_token;
	}
	if (token != NULL && strpbrk(token, "\r\n") != NULL) {
		tf_error("credentials: the container authorization token holds a line break");
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	if ((token != NULL && add_header(&hdrs, "Authorization", token) != TF_OK) ||
	    add_header(&hdrs, "Accept", "application/json") != TF_OK) {
		rc = TF_ERR_NOMEM;
		goto out;
	}
	rc = http_call("GET", tf_buf_str(&url), hdrs, &status, &body, why);
	if (rc != TF_OK) {
		tf_error("credentials: container endpoint %s: %s", tf_buf_str(&url), why);
		goto out;
	}
	if (status != 200) {
		tf_error("credentials: container endpoint %s answered HTTP %ld%s",
		    tf_buf_str(&url), status, status == 401 || status == 403 ?
		    " (authorization token rejected)" : "");
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	rc = parse_creds_json(&body, "the container endpoint", "container", out);
out:
	curl_slist_free_all(hdrs);
	free_secret(file_token);
	tf_buf_free(&url);
	if (body.data != NULL)
		explicit_bzero(body.data, body.cap);
	tf_buf_free(&body);
	return rc;
}

/* True for an IAM role name (letters, digits and +=,.@_-). */
static bool
valid_role_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789+=,.@_-");

	return n > 0 && n <= 128 && s[n] == '\0';
}

/* Trims blanks and line ends off both ends of b, in place. */
static void
buf_trim(struct tf_buf *b)
{
	size_t start = 0;

	while (b->len > 0 && strchr(" \t\r\n", b->data[b->len - 1]) != NULL)
		b->data[--b->len] = '\0';
	while (start < b->len && strchr(" \t\r\n", b->data[start]) != NULL)
		start++;
	if (start > 0) {
		memmove(b->data, b->data + start, b->len - start + 1);
		b->len -= start;
	}
}

/* EC2 instance metadata, IMDSv2. *role_out (size TF_CREDS_KEY_MAX) gets the
 * role name for the log. */
static enum tf_err
from_imds(const struct config *cfg, struct tf_creds *out, char *role_out)
{
	enum tf_err rc = TF_ERR_NOMEM;
	struct tf_buf url = TF_BUF_INIT, body = TF_BUF_INIT, token = TF_BUF_INIT;
	struct curl_slist *put_hdrs = NULL, *get_hdrs = NULL;
	char why[CURL_ERROR_SIZE];
	long status;
	char *nl;

	role_out[0] = '\0';
	if (add_header(&put_hdrs, "X-aws-ec2-metadata-token-ttl-seconds",
	    IMDS_TOKEN_TTL) != TF_OK)
		goto out;
	if (tf_buf_appendf(&url, "%s/latest/api/token", cfg->imds_endpoint) != TF_OK)
		goto out;
	rc = http_call("PUT", tf_buf_str(&url), put_hdrs, &status, &token, why);
	if (rc != TF_OK || status != 200) {
		if (rc != TF_OK)
			tf_error("credentials: instance metadata %s: %s "
			    "(not on EC2? set AWS_EC2_METADATA_DISABLED=true to skip)",
			    tf_buf_str(&url), why);
		else
			tf_error("credentials: instance metadata token request answered "
			    "HTTP %ld (IMDSv1 is not supported)", status);
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	buf_trim(&token);
	if (token.len == 0 || token.len > 1024 || strpbrk(tf_buf_str(&token), "\r\n") != NULL) {
		tf_error("credentials: instance metadata returned an unusable token");
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	rc = add_header(&get_hdrs, "X-aws-ec2-metadata-token", tf_buf_str(&token));
	if (rc != TF_OK)
		goto out;
	tf_buf_reset(&url);
	rc = tf_buf_appendf(&url, "%s" IMDS_CREDS_PATH, cfg->imds_endpoint);
	if (rc != TF_OK)
		goto out;
	rc = http_call("GET", tf_buf_str(&url), get_hdrs, &status, &body, why);
	if (rc != TF_OK || status != 200) {
		if (rc != TF_OK)
			tf_error("credentials: instance metadata role list: %s", why);
		else if (status == 404)
			tf_error("credentials: this instance has no IAM role attached");
		else
			tf_error("credentials: instance metadata role list answered HTTP %ld",
			    status);
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	nl = strchr(body.data != NULL ? body.data : "", '\n');
	if (nl != NULL) {
		*nl = '\0';
		body.len = (size_t)(nl - body.data);
	}
	buf_trim(&body);
	if (!valid_role_name(tf_buf_str(&body))) {
		tf_error("credentials: instance metadata returned no valid role name");
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	snprintf(role_out, TF_CREDS_KEY_MAX, "%s", tf_buf_str(&body));
	tf_buf_reset(&url);
	rc = tf_buf_appendf(&url, "%s" IMDS_CREDS_PATH "%s", cfg->imds_endpoint, role_out);
	if (rc != TF_OK)
		goto out;
	rc = http_call("GET", tf_buf_str(&url), get_hdrs, &status, &body, why);
	if (rc != TF_OK || status != 200) {
		if (rc != TF_OK)
			tf_error("credentials: instance metadata credentials for role %s: %s",
			    role_out, why);
		else
			tf_error("credentials: instance metadata credentials for role %s "
			    "answered HTTP %ld", role_out, status);
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	rc = parse_creds_json(&body, "instance metadata", "imds", out);
out:
	curl_slist_free_all(put_hdrs);
	curl_slist_free_all(get_hdrs);
	tf_buf_free(&url);
	if (token.data != NULL)
		explicit_bzero(token.data, token.cap);
	tf_buf_free(&token);
	if (body.data != NULL)
		explicit_bzero(body.data, body.cap);
	tf_buf_free(&body);
	return rc;
}

/* ---- Profiles ------------------------------------------------------- */

/* Profiles deep in a source_profile chain; more is a configuration error. */
#define MAX_CHAIN 8

/* One resolution of the profile stage: the shared files, loaded once, and
 * the source_profile chain followed so far. */
struct resolution {
	const struct config *cfg;
	struct tf_ini *creds_ini;          /* owned; NULL when absent */
	struct tf_ini *config_ini;         /* owned; NULL when absent */
	const char *visited[MAX_CHAIN];    /* borrowed profile names */
	int n_visited;
	int64_t now_ms;
};

/* The non-empty value of key in profile, from the credentials file first,
 * else the config file; NULL when neither has it. *path (may be NULL) gets
 * the file it came from. Borrowed from r. */
static const char *
prof_get(const struct resolution *r, const char *profile, const char *key,
    const char **path)
{
	const char *v;

	v = tf_ini_get(tf_aws_profile_section(r->creds_ini, TF_AWS_CREDENTIALS_FILE,
	    profile), key);
	if (v != NULL && *v != '\0') {
		if (path != NULL)
			*path = r->cfg->credentials_path;
		return v;
	}
	v = tf_ini_get(tf_aws_profile_section(r->config_ini, TF_AWS_CONFIG_FILE,
	    profile), key);
	if (path != NULL)
		*path = r->cfg->config_path;
	return v != NULL && *v != '\0' ? v : NULL;
}

static bool
prof_exists(const struct resolution *r, const char *profile)
{
	return tf_aws_profile_section(r->creds_ini, TF_AWS_CREDENTIALS_FILE, profile) != NULL ||
	    tf_aws_profile_section(r->config_ini, TF_AWS_CONFIG_FILE, profile) != NULL;
}

static bool
has_static_keys(const struct resolution *r, const char *profile)
{
	return prof_get(r, profile, "aws_access_key_id", NULL) != NULL ||
	    prof_get(r, profile, "aws_secret_access_key", NULL) != NULL;
}

/* The value of an environment variable when use_env, else of the profile
 * key. Borrowed. */
static const char *
env_or_prof(const struct resolution *r, const char *profile, bool use_env,
    const char *env_value, const char *key)
{
	if (use_env && env_value != NULL)
		return env_value;
	return profile != NULL ? prof_get(r, profile, key, NULL) : NULL;
}

/* Web identity: AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN /
 * AWS_ROLE_SESSION_NAME (when use_env; each wins over the profile's key)
 * or web_identity_token_file / role_arn / role_session_name of profile
 * (may be NULL: no profile section). TF_ERR_NOT_FOUND without a token
 * file. The token file is read on every fetch: EKS rotates it. */
static enum tf_err
from_web_identity(const struct resolution *r, const char *profile,
    bool use_env, struct tf_creds *out)
{
	const struct config *cfg = r->cfg;
	const char *file = env_or_prof(r, profile, use_env, cfg->wi_token_file,
	    "web_identity_token_file");
	const char *role = env_or_prof(r, profile, use_env, cfg->wi_role_arn, "role_arn");
	const char *session = env_or_prof(r, profile, use_env, cfg->wi_session_name,
	    "role_session_name");
	struct tf_sts_assume a;
	char *token = NULL;
	enum tf_err rc;

	if (file == NULL)
		return TF_ERR_NOT_FOUND;
	if (role == NULL) {
		tf_error("credentials: web identity token file %s is configured, but "
		    "no role: set AWS_ROLE_ARN or role_arn in the profile", file);
		return TF_ERR_CREDENTIALS;
	}
	rc = tf_creds_read_file(file, MAX_TOKEN_FILE, &token);
	if (rc != TF_OK)
		return rc == TF_ERR_NOMEM ? rc : TF_ERR_CREDENTIALS;
	if (token[0] == '\0') {
		tf_error("credentials: the web identity token file %s is empty", file);
		free_secret(token);
		return TF_ERR_CREDENTIALS;
	}
	a = (struct tf_sts_assume){ .role_arn = role, .session_name = session,
	    .web_identity_token = token };
	rc = tf_sts_assume_role(&cfg->sts, &a, NULL, "web-identity", out);
	free_secret(token);
	return rc == TF_ERR_NOMEM ? rc : rc != TF_OK ? TF_ERR_CREDENTIALS : TF_OK;
}

/* IAM Identity Center. TF_ERR_NOT_FOUND when profile has no sso_* key. */
static enum tf_err
from_sso(const struct resolution *r, const char *profile, struct tf_creds *out)
{
	struct tf_sso_config c = { .profile = profile };
	const struct tf_ini_section *sess = NULL;
	char name[300];

	c.session_name = prof_get(r, profile, "sso_session", NULL);
	c.start_url = prof_get(r, profile, "sso_start_url", NULL);
	c.region = prof_get(r, profile, "sso_region", NULL);
	c.account_id = prof_get(r, profile, "sso_account_id", NULL);
	c.role_name = prof_get(r, profile, "sso_role_name", NULL);
	if (c.session_name == NULL && c.start_url == NULL && c.account_id == NULL &&
	    c.role_name == NULL)
		return TF_ERR_NOT_FOUND;
	if (c.session_name != NULL) {
		snprintf(name, sizeof(name), "sso-session %s", c.session_name);
		sess = tf_ini_section(r->config_ini, name);
		if (sess == NULL) {
			tf_error("credentials: profile \"%s\" names sso_session \"%s\", "
			    "but %s has no [sso-session %s] section", profile,
			    c.session_name, r->cfg->config_path ? r->cfg->config_path :
			    "(no config file)", c.session_name);
			return TF_ERR_CREDENTIALS;
		}
		c.start_url = tf_ini_get(sess, "sso_start_url");
		c.region = tf_ini_get(sess, "sso_region");
	}
	if (c.start_url == NULL || *c.start_url == '\0' || c.region == NULL ||
	    *c.region == '\0' || c.account_id == NULL || c.role_name == NULL) {
		tf_error("credentials: profile \"%s\" is incomplete for IAM Identity "
		    "Center: it needs sso_account_id, sso_role_name and sso_start_url "
		    "and sso_region (in the profile or its [sso-session] section)", profile);
		return TF_ERR_CREDENTIALS;
	}
	if (r->cfg->sso_cache_dir == NULL) {
		tf_error("credentials: profile \"%s\" uses IAM Identity Center, but "
		    "no home directory is known for ~/.aws/sso/cache", profile);
		return TF_ERR_CREDENTIALS;
	}
	return tf_sso_get_credentials(&c, r->cfg->sso_cache_dir, r->cfg->sso_endpoint,
	    r->now_ms, out);
}

/* The static keys of one of the shared files: ini is r's creds_ini or
 * config_ini. TF_ERR_NOT_FOUND when that file gives profile neither key. */
static enum tf_err
file_keys(const struct resolution *r, const struct tf_ini *ini,
    const char *profile, struct tf_creds *out)
{
	bool creds_file = ini == r->creds_ini;

	return profile_keys(tf_aws_profile_section(ini, creds_file ?
	    TF_AWS_CREDENTIALS_FILE : TF_AWS_CONFIG_FILE, profile),
	    creds_file ? r->cfg->credentials_path : r->cfg->config_path, profile, out);
}

/* The sources of one profile other than assuming its role, in the SDKs'
 * order: web identity, IAM Identity Center, the credentials file's static
 * keys, credential_process, the config file's static keys. use_env lets
 * the web identity variables in (the profile the chain starts at, not a
 * source_profile). TF_ERR_NOT_FOUND when the profile has none of them. */
static enum tf_err
profile_sources(const struct resolution *r, const char *profile, bool use_env,
    struct tf_creds *out)
{
	enum tf_err rc;
	const char *cmd;

	rc = from_web_identity(r, profile, use_env, out);
	if (rc != TF_ERR_NOT_FOUND)
		return rc;
	rc = from_sso(r, profile, out);
	if (rc != TF_ERR_NOT_FOUND)
		return rc;
	rc = file_keys(r, r->creds_ini, profile, out);
	if (rc != TF_ERR_NOT_FOUND)
		return rc;
	cmd = prof_get(r, profile, "credential_process", NULL);
	if (cmd != NULL)
		return tf_creds_process_run(cmd, profile, r->cfg->process_timeout_ms, out);
	return file_keys(r, r->config_ini, profile, out);
}

/* True when profile assumes a role with long-term source credentials
 * (role_arn without web_identity_token_file). */
static bool
assumes_role(const struct resolution *r, const char *profile)
{
	return prof_get(r, profile, "role_arn", NULL) != NULL &&
	    prof_get(r, profile, "web_identity_token_file", NULL) == NULL;
}

/* The credentials a credential_source names. */
static enum tf_err
from_credential_source(const struct resolution *r, const char *profile,
    const char *source, struct tf_creds *out)
{
	enum tf_err rc;
	char where[512];

	if (strcmp(source, "Environment") == 0) {
		rc = from_env(r->cfg, out);
	} else if (strcmp(source, "EcsContainer") == 0) {
		if (r->cfg->container_rel == NULL && r->cfg->container_full == NULL)
			rc = TF_ERR_NOT_FOUND;
		else
			rc = from_container(r->cfg, out, where, sizeof(where));
	} else if (strcmp(source, "Ec2InstanceMetadata") == 0) {
		if (r->cfg->imds_disabled)
			rc = TF_ERR_NOT_FOUND;
		else
			rc = from_imds(r->cfg, out, where);
	} else {
		tf_error("credentials: profile \"%s\": credential_source \"%s\" is not "
		    "one of Environment, Ec2InstanceMetadata, EcsContainer",
		    profile, source);
		return TF_ERR_CREDENTIALS;
	}
	if (rc == TF_ERR_NOT_FOUND)
		tf_error("credentials: profile \"%s\": credential_source %s has no "
		    "credentials%s", profile, source, strcmp(source, "Ec2InstanceMetadata") == 0 ?
		    " (instance metadata is disabled)" : "");
	return rc == TF_OK || rc == TF_ERR_NOMEM ? rc : TF_ERR_CREDENTIALS;
}

/* Parses duration_seconds of profile into *out (0 when unset). */
static enum tf_err
duration_of(const struct resolution *r, const char *profile, int *out)
{
	const char *v = prof_get(r, profile, "duration_seconds", NULL);
	char *end;
	long n;

	*out = 0;
	if (v == NULL)
		return TF_OK;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 900 || n > 43200) {
		tf_error("credentials: profile \"%s\": duration_seconds \"%s\" is not "
		    "a number of seconds from 900 to 43200", profile, v);
		return TF_ERR_CREDENTIALS;
	}
	*out = (int)n;
	return TF_OK;
}

/* Assumes the role of profile (which has role_arn): first resolves its
 * source credentials (source_profile, followed as a chain, or
 * credential_source), then calls AssumeRole with them. */
static enum tf_err
assume_role(struct resolution *r, const char *profile, struct tf_creds *out)
{
	enum tf_err rc;
	const char *role = prof_get(r, profile, "role_arn", NULL);
	const char *src_prof = prof_get(r, profile, "source_profile", NULL);
	const char *src_cred = prof_get(r, profile, "credential_source", NULL);
	const char *mfa = prof_get(r, profile, "mfa_serial", NULL);
	struct tf_creds source;
	struct tf_sts_assume a;
	int i, duration;

	memset(&source, 0, sizeof(source));
	if (mfa != NULL) {
		tf_error("credentials: profile \"%s\" sets mfa_serial %s: taskfleet runs "
		    "unattended and cannot ask for an MFA code; use a role without an "
		    "MFA condition, or get session credentials first (aws sts "
		    "get-session-token) and put them in the environment", profile, mfa);
		return TF_ERR_CREDENTIALS;
	}
	if ((src_prof == NULL) == (src_cred == NULL)) {
		tf_error("credentials: profile \"%s\" sets role_arn, so it needs exactly "
		    "one of source_profile and credential_source (it has %s)", profile,
		    src_prof == NULL ? "neither" : "both");
		return TF_ERR_CREDENTIALS;
	}
	rc = duration_of(r, profile, &duration);
	if (rc != TF_OK)
		return rc;
	if (src_cred != NULL) {
		rc = from_credential_source(r, profile, src_cred, &source);
	} else if (!prof_exists(r, src_prof)) {
		tf_error("credentials: profile \"%s\" names source_profile \"%s\", which "
		    "does not exist", profile, src_prof);
		rc = TF_ERR_CREDENTIALS;
	} else {
		bool seen = false;

		for (i = 0; i < r->n_visited; i++)
			seen = seen || strcmp(r->visited[i], src_prof) == 0;
		/* A profile may be its own source when it holds static keys. */
		if (seen && !(strcmp(src_prof, profile) == 0 && has_static_keys(r, src_prof))) {
			tf_error("credentials: profile \"%s\": source_profile \"%s\" makes "
			    "a loop (the chain starts at \"%s\")", profile, src_prof,
			    r->visited[0]);
			return TF_ERR_CREDENTIALS;
		}
		if (r->n_visited == MAX_CHAIN) {
			tf_error("credentials: profile \"%s\": source_profile chain longer "
			    "than %d profiles", profile, MAX_CHAIN);
			return TF_ERR_CREDENTIALS;
		}
		r->visited[r->n_visited++] = src_prof;
		if (has_static_keys(r, src_prof)) {
			/* The SDKs take a source profile's keys before anything
			 * else it has, in either file. */
			rc = file_keys(r, r->creds_ini, src_prof, &source);
			if (rc == TF_ERR_NOT_FOUND)
				rc = file_keys(r, r->config_ini, src_prof, &source);
		} else if (!assumes_role(r, src_prof)) {
			rc = profile_sources(r, src_prof, false, &source);
			if (rc == TF_ERR_NOT_FOUND) {
				tf_error("credentials: the source_profile \"%s\" of profile "
				    "\"%s\" has no credentials", src_prof, profile);
				rc = TF_ERR_CREDENTIALS;
			}
		} else {
			rc = assume_role(r, src_prof, &source);
		}
	}
	if (rc != TF_OK)
		goto out;
	a = (struct tf_sts_assume){
		.role_arn = role,
		.session_name = prof_get(r, profile, "role_session_name", NULL),
		.external_id = prof_get(r, profile, "external_id", NULL),
		.duration_s = duration,
	};
	tf_debug("credentials: profile \"%s\": assuming %s with %s credentials "
	    "(key %s)", profile, role, source.source, source.access_key_id);
	rc = tf_sts_assume_role(&r->cfg->sts, &a, &source, "assume-role", out);
	if (rc != TF_OK && rc != TF_ERR_NOMEM)
		rc = TF_ERR_CREDENTIALS;
out:
	explicit_bzero(&source, sizeof(source));
	return rc;
}

/* The profile stage of the chain for cfg->profile. TF_ERR_NOT_FOUND when
 * it yields nothing and the chain goes on. *path_used gets the file a
 * profile's static keys came from (else NULL). */
static enum tf_err
from_profile(const struct config *cfg, int64_t now_ms, struct tf_creds *out,
    const char **path_used)
{
	enum tf_err rc;
	struct resolution r;
	const char *profile = cfg->profile;
	bool exists;

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	r.now_ms = now_ms;
	r.visited[r.n_visited++] = profile;
	*path_used = NULL;
	rc = load_shared(cfg->credentials_path, &r.creds_ini);
	if (rc != TF_OK)
		goto out;
	rc = load_shared(cfg->config_path, &r.config_ini);
	if (rc != TF_OK)
		goto out;
	exists = prof_exists(&r, profile);
	if (!exists) {
		/* EKS: no files at all, only the web identity variables. */
		rc = from_web_identity(&r, NULL, true, out);
		if (rc == TF_ERR_NOT_FOUND && cfg->profile_explicit) {
			tf_error("credentials: AWS_PROFILE names profile \"%s\", which "
			    "is in neither %s nor %s", profile,
			    cfg->credentials_path ? cfg->credentials_path : "(no credentials file)",
			    cfg->config_path ? cfg->config_path : "(no config file)");
			rc = TF_ERR_CREDENTIALS;
		}
		goto out;
	}
	if (assumes_role(&r, profile)) {
		rc = assume_role(&r, profile, out);
		goto out;
	}
	rc = profile_sources(&r, profile, true, out);
	if (rc == TF_OK && strcmp(out->source, "profile") == 0)
		prof_get(&r, profile, "aws_access_key_id", path_used);
	if (rc == TF_ERR_NOT_FOUND)
		tf_info("credentials: profile \"%s\" has no credentials; "
		    "trying the next source", profile);
out:
	tf_ini_free(r.creds_ini);
	tf_ini_free(r.config_ini);
	return rc;
}

/* SRC_ROLE: cfg->role_arn assumed through STS, the call signed with the
 * source provider's credentials. */
static enum tf_err
from_role(const struct config *cfg, int64_t now_ms, struct tf_creds *out)
{
	struct tf_creds source;
	struct tf_sts_assume a = {
		.role_arn = cfg->role_arn, .external_id = cfg->role_external_id,
	};
	enum tf_err rc;

	memset(&source, 0, sizeof(source));
	rc = tf_creds_get(cfg->role_source, now_ms, &source);
	if (rc == TF_OK)
		rc = tf_sts_assume_role(&cfg->sts, &a, &source, "assume-role", out);
	explicit_bzero(&source, sizeof(source));
	return rc;
}

/* Fetches from src, or resolves the whole chain when src is SRC_NONE.
 * On TF_OK *out holds credentials and *src_out their source. Returns TF_OK,
 * TF_ERR_NOMEM or TF_ERR_CREDENTIALS (the cause is logged). */
static enum tf_err
fetch(const struct config *cfg, enum source src, int64_t now_ms,
    struct tf_creds *out, enum source *src_out)
{
	enum tf_err rc = TF_ERR_NOT_FOUND;
	const char *where = NULL;
	char role[TF_CREDS_KEY_MAX] = "";
	char url[512];
	char exp[32] = "";
	struct tf_log_field f[3];

	if (src == SRC_ROLE) {
		rc = from_role(cfg, now_ms, out);
		where = cfg->role_arn;
		*src_out = SRC_ROLE;
		goto done;
	}
	if (src == SRC_NONE || src == SRC_ENV) {
		rc = from_env(cfg, out);
		*src_out = SRC_ENV;
		if (rc != TF_ERR_NOT_FOUND)
			goto done;
	}
	if (src == SRC_NONE || src == SRC_PROFILE) {
		rc = from_profile(cfg, now_ms, out, &where);
		*src_out = SRC_PROFILE;
		if (rc != TF_ERR_NOT_FOUND)
			goto done;
	}
	if ((src == SRC_NONE || src == SRC_CONTAINER) &&
	    (cfg->container_rel != NULL || cfg->container_full != NULL)) {
		rc = from_container(cfg, out, url, sizeof(url));
		where = url;
		*src_out = SRC_CONTAINER;
		if (rc == TF_ERR_NOT_FOUND)
			rc = TF_ERR_CREDENTIALS;
		goto done;
	}
	if (src == SRC_NONE || src == SRC_IMDS) {
		if (cfg->imds_disabled) {
			tf_debug("credentials: instance metadata disabled by "
			    "AWS_EC2_METADATA_DISABLED");
		} else {
			rc = from_imds(cfg, out, role);
			where = cfg->imds_endpoint;
			*src_out = SRC_IMDS;
			if (rc == TF_ERR_NOT_FOUND)
				rc = TF_ERR_CREDENTIALS;
			goto done;
		}
	}
	tf_error("credentials: none found (looked at the environment and profile "
	    "\"%s\"; no container endpoint is configured%s)", cfg->profile,
	    cfg->imds_disabled ? "; instance metadata is disabled" : "");
	rc = TF_ERR_CREDENTIALS;
done:
	if (rc == TF_OK) {
		if (out->expires_at_ms != 0)
			format_time(out->expires_at_ms, exp);
		f[0].key = "source";
		f[0].value = out->source;
		f[1].key = *src_out == SRC_PROFILE ? "profile" :
		    *src_out == SRC_IMDS ? "role" : "from";
		f[1].value = *src_out == SRC_PROFILE ? cfg->profile :
		    *src_out == SRC_IMDS ? role : where;
		f[2].key = "expires";
		f[2].value = exp[0] != '\0' ? exp : NULL;
		tf_log_fields(TF_LOG_INFO, f, 3, "credentials: using %s credentials%s%s",
		    out->source, where != NULL ? " from " : "", where != NULL ? where : "");
	} else if (rc != TF_ERR_NOMEM) {
		rc = TF_ERR_CREDENTIALS;
	}
	return rc;
}

/* ---- The provider --------------------------------------------------- */

/* A copy of the environment variable name, NULL when unset or empty. */
static enum tf_err
env_dup(const char *name, char **out)
{
	const char *v = getenv(name);

	*out = NULL;
	if (v == NULL || *v == '\0')
		return TF_OK;
	*out = tf_strdup(v);
	return *out != NULL ? TF_OK : TF_ERR_NOMEM;
}

static void
config_free(struct config *c)
{
	free_secret(c->key_id);
	free_secret(c->secret);
	free_secret(c->session_token);
	tf_free(c->profile);
	tf_free(c->credentials_path);
	tf_free(c->config_path);
	tf_free(c->container_rel);
	tf_free(c->container_full);
	free_secret(c->container_auth);
	tf_free(c->container_auth_file);
	tf_free(c->ecs_host);
	tf_free(c->imds_endpoint);
	tf_free(c->wi_token_file);
	tf_free(c->wi_role_arn);
	tf_free(c->wi_session_name);
	tf_free(c->sso_cache_dir);
	tf_free(c->sso_endpoint);
	tf_free(c->role_arn);
	free_secret(c->role_external_id);
	memset(c, 0, sizeof(*c));
}

/* Reads the environment into c (zeroed by the caller). On error the caller
 * still frees c with config_free(). */
static enum tf_err
config_read(struct config *c)
{
	enum tf_err rc;
	static const char *const region_vars[] = { "AWS_REGION", "AWS_DEFAULT_REGION", NULL };
	const char *v;
	char *mode = NULL;
	char region[64];
	size_t n;

	if ((rc = env_dup("AWS_ACCESS_KEY_ID", &c->key_id)) != TF_OK ||
	    (rc = env_dup("AWS_SECRET_ACCESS_KEY", &c->secret)) != TF_OK ||
	    (rc = env_dup("AWS_SESSION_TOKEN", &c->session_token)) != TF_OK ||
	    (rc = env_dup("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", &c->container_rel)) != TF_OK ||
	    (rc = env_dup("AWS_CONTAINER_CREDENTIALS_FULL_URI", &c->container_full)) != TF_OK ||
	    (rc = env_dup("AWS_CONTAINER_AUTHORIZATION_TOKEN", &c->container_auth)) != TF_OK ||
	    (rc = env_dup("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &c->container_auth_file)) != TF_OK ||
	    (rc = env_dup("AWS_EC2_METADATA_SERVICE_ENDPOINT", &c->imds_endpoint)) != TF_OK ||
	    (rc = env_dup("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", &mode)) != TF_OK ||
	    (rc = env_dup("AWS_WEB_IDENTITY_TOKEN_FILE", &c->wi_token_file)) != TF_OK ||
	    (rc = env_dup("AWS_ROLE_ARN", &c->wi_role_arn)) != TF_OK ||
	    (rc = env_dup("AWS_ROLE_SESSION_NAME", &c->wi_session_name)) != TF_OK ||
	    (rc = env_dup("AWS_ENDPOINT_URL_SSO", &c->sso_endpoint)) != TF_OK ||
	    (c->sso_endpoint == NULL &&
	    (rc = env_dup("AWS_ENDPOINT_URL", &c->sso_endpoint)) != TF_OK))
		goto out;
	rc = TF_ERR_NOMEM;
	c->profile = tf_strdup(tf_aws_profile_name(&c->profile_explicit));
	if (c->profile == NULL)
		goto out;
	/* No home directory leaves a default path NULL: that file is skipped. */
	if ((rc = tf_aws_file_path(TF_AWS_CREDENTIALS_FILE, &c->credentials_path)) == TF_ERR_NOMEM ||
	    (rc = tf_aws_file_path(TF_AWS_CONFIG_FILE, &c->config_path)) == TF_ERR_NOMEM ||
	    (rc = tf_aws_file_path(TF_AWS_SSO_CACHE_DIR, &c->sso_cache_dir)) == TF_ERR_NOMEM)
		goto out;
	/* STS is regional: the region as the rest of taskfleet finds it. */
	v = tf_env_first(region_vars);
	if (v == NULL && tf_aws_profile_region(region, sizeof(region)) == TF_OK)
		v = region;
	if (tf_sts_endpoint_resolve(v, &c->sts) != TF_OK) {
		tf_error("credentials: the STS endpoint or region is too long");
		rc = TF_ERR_INVALID;
		goto out;
	}
	c->process_timeout_ms = test_process_timeout_ms;
	rc = TF_ERR_NOMEM;
	c->ecs_host = tf_strdup(test_ecs_host[0] != '\0' ? test_ecs_host : ECS_HOST);
	if (c->ecs_host == NULL)
		goto out;
	if (c->imds_endpoint == NULL) {
		c->imds_endpoint = tf_strdup(mode != NULL && strcasecmp(mode, "IPv6") == 0 ?
		    IMDS_ENDPOINT_V6 : IMDS_ENDPOINT);
		if (c->imds_endpoint == NULL)
			goto out;
	}
	n = strlen(c->imds_endpoint);
	while (n > 0 && c->imds_endpoint[n - 1] == '/')
		c->imds_endpoint[--n] = '\0';
	v = getenv("AWS_EC2_METADATA_DISABLED");
	c->imds_disabled = v != NULL && strcasecmp(v, "true") == 0;
	rc = TF_OK;
out:
	tf_free(mode);
	return rc;
}

/* Allocates a provider with its lock; *out is the caller's, to free with
 * tf_creds_provider_free(). */
static enum tf_err
provider_alloc(struct tf_creds_provider **out)
{
	struct tf_creds_provider *p;

	*out = NULL;
	p = tf_calloc(1, sizeof(*p));
	if (p == NULL)
		return TF_ERR_NOMEM;
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		tf_free(p);
		return TF_ERR_NOMEM;
	}
	if (pthread_cond_init(&p->done, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		tf_free(p);
		return TF_ERR_NOMEM;
	}
	p->src = SRC_NONE;
	*out = p;
	return TF_OK;
}

enum tf_err
tf_creds_provider_new(struct tf_creds_provider **out)
{
	enum tf_err rc;
	struct tf_creds_provider *p = NULL;

	*out = NULL;
	rc = provider_alloc(&p);
	if (rc != TF_OK)
		goto out;
	rc = config_read(&p->cfg);
	if (rc != TF_OK)
		goto out;
	*out = p;
	p = NULL;
out:
	tf_creds_provider_free(p);
	return rc;
}

enum tf_err
tf_creds_provider_new_static(const char *access_key_id,
    const char *secret_access_key, const char *session_token,
    struct tf_creds_provider **out)
{
	enum tf_err rc;
	struct tf_creds_provider *p = NULL;

	*out = NULL;
	if (access_key_id == NULL || *access_key_id == '\0' ||
	    secret_access_key == NULL || *secret_access_key == '\0')
		return TF_ERR_INVALID;
	rc = provider_alloc(&p);
	if (rc != TF_OK)
		goto out;
	rc = tf_creds_set(&p->cur, access_key_id, secret_access_key, session_token,
	    0, "static");
	if (rc != TF_OK) {
		rc = TF_ERR_INVALID;
		goto out;
	}
	p->have = true;
	p->src = SRC_STATIC;
	*out = p;
	p = NULL;
out:
	tf_creds_provider_free(p);
	return rc;
}

enum tf_err
tf_creds_provider_new_role(struct tf_creds_provider *source,
    const char *role_arn, const char *external_id, const char *region,
    struct tf_creds_provider **out)
{
	enum tf_err rc;
	struct tf_creds_provider *p = NULL;

	*out = NULL;
	if (source == NULL || role_arn == NULL || *role_arn == '\0')
		return TF_ERR_INVALID;
	rc = provider_alloc(&p);
	if (rc != TF_OK)
		goto out;
	rc = tf_sts_endpoint_resolve(region, &p->cfg.sts);
	if (rc != TF_OK)
		goto out;
	rc = TF_ERR_NOMEM;
	p->cfg.role_source = source;
	if ((p->cfg.role_arn = tf_strdup(role_arn)) == NULL ||
	    (external_id != NULL && *external_id != '\0' &&
	    (p->cfg.role_external_id = tf_strdup(external_id)) == NULL))
		goto out;
	p->src = SRC_ROLE;
	*out = p;
	p = NULL;
	rc = TF_OK;
out:
	tf_creds_provider_free(p);
	return rc;
}

void
tf_creds_provider_free(struct tf_creds_provider *p)
{
	if (p == NULL)
		return;
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	config_free(&p->cfg);
	explicit_bzero(&p->cur, sizeof(p->cur));
	tf_free(p);
}

/* True when c is due for a refresh at now_ms. */
static bool
needs_refresh(const struct tf_creds *c, int64_t now_ms)
{
	return c->expires_at_ms != 0 &&
	    now_ms >= c->expires_at_ms - TF_CREDS_REFRESH_AHEAD_MS;
}

/* True when c may still be used at now_ms. */
static bool
usable(const struct tf_creds *c, int64_t now_ms)
{
	return c->expires_at_ms == 0 || now_ms < c->expires_at_ms;
}

enum tf_err
tf_creds_get(struct tf_creds_provider *p, int64_t now_ms, struct tf_creds *out)
{
	enum tf_err rc;
	struct tf_creds fresh;
	enum source src, got = SRC_NONE;
	uint64_t seen;
	char exp[32];

	memset(&fresh, 0, sizeof(fresh));
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->have && !needs_refresh(&p->cur, now_ms)) {
			*out = p->cur;
			rc = TF_OK;
			goto out_unlock;
		}
		if (p->have && usable(&p->cur, now_ms) && (p->busy ||
		    (p->attempted && now_ms - p->last_attempt_ms < TF_CREDS_RETRY_MS))) {
			/* Someone is refreshing, or a refresh failed just now. */
			*out = p->cur;
			rc = TF_OK;
			goto out_unlock;
		}
		if (!p->busy)
			break;
		/* Nothing usable: share the fetch under way. */
		seen = p->attempts;
		while (p->busy && p->attempts == seen)
			pthread_cond_wait(&p->done, &p->mu);
		if (p->attempts != seen && p->last_rc != TF_OK &&
		    !(p->have && usable(&p->cur, now_ms))) {
			rc = p->last_rc;
			goto out_unlock;
		}
	}
	p->busy = true;
	src = p->src;
	pthread_mutex_unlock(&p->mu);

	rc = fetch(&p->cfg, src, now_ms, &fresh, &got);

	pthread_mutex_lock(&p->mu);
	p->busy = false;
	p->attempts++;
	p->attempted = true;
	p->last_attempt_ms = now_ms;
	if (rc == TF_OK && !usable(&fresh, now_ms)) {
		format_time(fresh.expires_at_ms, exp);
		tf_error("credentials: %s credentials expired at %s already",
		    fresh.source, exp);
		rc = TF_ERR_CREDENTIALS;
	}
	if (rc == TF_OK) {
		p->cur = fresh;
		p->have = true;
		p->src = got;
		*out = fresh;
	} else if (p->have && usable(&p->cur, now_ms)) {
		format_time(p->cur.expires_at_ms, exp);
		tf_warn("credentials: refreshing %s credentials failed; using the "
		    "current ones, valid until %s, and trying again in %d s",
		    p->cur.source, exp, TF_CREDS_RETRY_MS / 1000);
		*out = p->cur;
		rc = TF_OK;
	} else if (p->have) {
		format_time(p->cur.expires_at_ms, exp);
		tf_error("credentials: %s credentials expired at %s and could not "
		    "be refreshed", p->cur.source, exp);
		explicit_bzero(&p->cur, sizeof(p->cur));
		p->have = false;
	}
	p->last_rc = rc;
	pthread_cond_broadcast(&p->done);
out_unlock:
	pthread_mutex_unlock(&p->mu);
	explicit_bzero(&fresh, sizeof(fresh));
	return rc;
}
