/*
 * exchange.c - one webhook delivery through libcurl (exchange.h).
 *
 * Redirects are followed here, not by libcurl, so that each hop's host name
 * is known when its connection is checked against the allow-list, and so
 * that credentials given in the headers do not travel to another origin.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "exchange.h"

/* The most header bytes a response may have (libcurl's own cap is 300 KB). */
#define HEADER_BYTES_MAX (64 * 1024)
/* Connecting takes at most this long, within the delivery's limit. */
#define CONNECT_TIMEOUT_MS 10000L
/* Retry-After values beyond this are taken as this: 30 days. */
#define RETRY_AFTER_MAX_S (30 * 86400)


void
exchange_result_free(struct exchange_result *res)
{
	size_t i;

	for (i = 0; i < res->n_headers; i++) {
		tf_free(res->headers[i].name);
		tf_free(res->headers[i].value);
	}
	tf_free(res->headers);
	tf_free(res->final_url);
	tf_free(res->error);
	tf_buf_free(&res->body);
	memset(res, 0, sizeof(*res));
}

/* Makes f res's failure, with the text fmt formats (cut at
 * EXCHANGE_ERROR_MAX - 1 bytes), allocated to its size: only a failed
 * delivery keeps one. */
static void set_failure(struct exchange_result *res, enum exchange_failure f,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
set_failure(struct exchange_result *res, enum exchange_failure f,
    const char *fmt, ...)
{
	char text[EXCHANGE_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	res->failure = f;
	tf_free(res->error);
	res->error = tf_strdup(text);
}

const char *
exchange_error(const struct exchange_result *res)
{
	return res->error != NULL ? res->error : "out of memory";
}

/* Forgets what an earlier response (an interim 1xx, or a redirect that is
 * being followed) left in res. */
static void
reset_response(struct exchange_result *res)
{
	size_t i;

	for (i = 0; i < res->n_headers; i++) {
		tf_free(res->headers[i].name);
		tf_free(res->headers[i].value);
	}
	res->n_headers = 0;
	res->status = 0;
	res->retry_after_s = -1;
	tf_buf_reset(&res->body);
	res->body_bytes = 0;
	res->body_truncated = false;
}

/* Refuses, before connecting, every address that is not a listed target
 * (when there is a target list) or that the allow-list does not permit.
 * libcurl calls this for each address it tries. */
static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct hop *h = clientp;
	char why[256];

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (tf_target_list_permits(h->env->targets, h->host, &a->addr, why,
	    sizeof(why)) && tf_allow_list_permits(h->env->allow, h->host,
	    &a->addr, why, sizeof(why)))
		return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	/* Kept to its size: only a refused hop has one. */
	h->refused = true;
	tf_free(h->why);
	if ((h->why = tf_strdup(why)) == NULL)
		h->nomem = true;
	return CURL_SOCKET_BAD;
}

/* Keeps the response headers the task asked for. */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct hop *h = arg;
	struct exchange_result *res = h->res;
	const struct tf_http_task *t = h->task;
	struct exchange_header *grown;
	size_t len = size * n, name_len, i;
	const char *colon, *v, *end;

	h->header_bytes += len;
	if (h->header_bytes > HEADER_BYTES_MAX) {
		h->headers_over = true;
		return 0;
	}
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* A new response (after a 1xx): its headers replace the last. */
		reset_response(res);
		return len;
	}
	colon = memchr(data, ':', len);
	if (colon == NULL)
		return len;
	name_len = (size_t)(colon - data);
	for (i = 0; i < t->n_result_headers; i++)
		if (strlen(t->result_headers[i]) == name_len &&
		    strncasecmp(t->result_headers[i], data, name_len) == 0)
			break;
	if (i == t->n_result_headers)
		return len;
	for (v = colon + 1, end = data + len; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	if ((size_t)(end - v) > EXCHANGE_HEADER_VALUE_MAX)
		end = v + EXCHANGE_HEADER_VALUE_MAX;
	for (i = 0; i < res->n_headers; i++)
		if (strlen(res->headers[i].name) == name_len &&
		    strncasecmp(res->headers[i].name, data, name_len) == 0)
			return len;   /* the first of repeated headers is kept */
	grown = tf_realloc(res->headers, (res->n_headers + 1) * sizeof(*grown));
	if (grown == NULL) {
		h->nomem = true;
		return 0;
	}
	res->headers = grown;
	grown[res->n_headers].name = tf_strndup(data, name_len);
	grown[res->n_headers].value = tf_strndup(v, (size_t)(end - v));
	res->n_headers++;
	if (grown[res->n_headers - 1].name == NULL ||
	    grown[res->n_headers - 1].value == NULL) {
		h->nomem = true;
		return 0;
	}
	for (i = 0; i < name_len; i++)
		grown[res->n_headers - 1].name[i] =
		    (char)tolower((unsigned char)grown[res->n_headers - 1].name[i]);
	return len;
}

/* Counts the body, keeps its first `excerpt` bytes, and stops reading past
 * max_response. */
static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct hop *h = arg;
	struct exchange_result *res = h->res;
	size_t len = size * n, room;

	res->body_bytes += len;
	if (res->body.len < h->env->excerpt) {
		room = h->env->excerpt - res->body.len;
		if (tf_buf_append(&res->body, data, len < room ? len : room) != TF_OK) {
			h->nomem = true;
			return 0;
		}
	}
	if (res->body_bytes > res->body.len)
		res->body_truncated = true;
	if (res->body_bytes > h->env->max_response) {
		h->read_capped = true;
		return 0;
	}
	return len;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct hop *h = arg;

	if (h->env->cancelled != NULL && h->env->cancelled(h->env->cancel_arg)) {
		h->cancelled = true;
		return 1;
	}
	return 0;
}

/* The parts of a URL that decide its origin, and its host for the
 * allow-list (brackets of an IPv6 literal stripped) and its port (the
 * scheme's default when it names none) for the target list. Returns false
 * when url does not parse, is not http or https, or its host or origin do
 * not fit (never cut short: two origins must not compare equal by their
 * first bytes). */
static bool
url_origin(const char *url, char *host, size_t host_len, unsigned *port_num,
    char *origin, size_t origin_len)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *port = NULL;
	bool ok = false;
	size_t n;

	if (u == NULL)
		return false;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		goto out;
	n = strlen(h);
	if (n >= host_len)
		goto out;
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
		snprintf(host, host_len, "%.*s", (int)(n - 2), h + 1);
	else
		snprintf(host, host_len, "%s", h);
	n = (size_t)snprintf(origin, origin_len, "%s://%s:%s", scheme, h, port);
	if (n >= origin_len)
		goto out;
	*port_num = (unsigned)strtoul(port, NULL, 10);
	ok = true;
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(port);
	curl_url_cleanup(u);
	return ok;
}

/* Headers that carry credentials, dropped when a redirect leaves the
 * origin the task named. */
static bool
is_credential_header(const char *name)
{
	return strcasecmp(name, "authorization") == 0 ||
	    strcasecmp(name, "cookie") == 0 ||
	    strcasecmp(name, "proxy-authorization") == 0;
}

static enum tf_err
append_header(struct curl_slist **list, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum tf_err
append_header(struct curl_slist **list, const char *fmt, ...)
{
	struct tf_buf line = TF_BUF_INIT;
	struct curl_slist *grown;
	va_list ap;
	enum tf_err rc;

	va_start(ap, fmt);
	rc = tf_buf_vappendf(&line, fmt, ap);
	va_end(ap);
	if (rc == TF_OK) {
		grown = curl_slist_append(*list, tf_buf_str(&line));
		if (grown == NULL)
			rc = TF_ERR_NOMEM;
		else
			*list = grown;
	}
	tf_buf_free(&line);
	return rc;
}

/* The request headers of one hop: the task's (without credentials once the
 * origin changed), Content-Type, the Taskfleet-* headers and the
 * signature. */
static enum tf_err
build_headers(const struct exchange_env *env, const struct exchange_meta *meta,
    const struct tf_http_task *t, const char *body, size_t body_len,
    bool same_origin, struct curl_slist **out)
{
	struct curl_slist *list = NULL;
	struct tf_buf sig = TF_BUF_INIT;
	size_t i;
	int64_t ts;
	enum tf_err rc = TF_OK;

	for (i = 0; i < t->n_headers && rc == TF_OK; i++) {
		if (!same_origin && is_credential_header(t->headers[i].name))
			continue;
		if (body == NULL && strcasecmp(t->headers[i].name, "content-type") == 0)
			continue;
		rc = append_header(&list, "%s: %s", t->headers[i].name,
		    t->headers[i].value);
	}
	if (rc == TF_OK && body != NULL && !t->has_content_type)
		rc = append_header(&list, "Content-Type: %s", t->body_is_json ?
		    "application/json" : "text/plain; charset=utf-8");
	/* Without a body, no Content-Type (libcurl would add a form's). */
	if (rc == TF_OK && body == NULL)
		rc = append_header(&list, "Content-Type:");
	/* No "Expect: 100-continue" round trip before a large body. */
	if (rc == TF_OK)
		rc = append_header(&list, "Expect:");
	if (rc == TF_OK)
		rc = append_header(&list, "Taskfleet-Task-Id: %s", meta->task_id);
	if (rc == TF_OK)
		rc = append_header(&list, "Taskfleet-Iteration: %" PRId64,
		    meta->iteration);
	if (rc == TF_OK)
		rc = append_header(&list, "Taskfleet-Attempt: %" PRId32, meta->attempt);
	if (rc == TF_OK && env->keys != NULL && env->keys->n > 0) {
		ts = env->now_ms() / 1000;
		rc = tf_http_sign(env->keys, ts, body, body_len, &sig);
		if (rc == TF_OK)
			rc = append_header(&list, "Taskfleet-Timestamp: %" PRId64, ts);
		if (rc == TF_OK)
			rc = append_header(&list, "Taskfleet-Signature: %s",
			    tf_buf_str(&sig));
	}
	tf_buf_free(&sig);
	if (rc != TF_OK) {
		curl_slist_free_all(list);
		return rc;
	}
	*out = list;
	return TF_OK;
}

/* Sets the method and body of one hop. body NULL: none. */
static void
set_method(CURL *e, const char *method, const char *body, size_t body_len)
{
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (body != NULL || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
		/* A body, or a method that expects one: Content-Length 0 then. */
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(body != NULL ? body_len : 0));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body != NULL ? body : "");
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
}

/* The hop's time limit: timeout_ms in all, its connection within it. */
static void
set_timeouts(CURL *e, long timeout_ms)
{
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS);
}

/*
 * Verifies with the CA file alone (ours, or libcurl's built-in one) when
 * there is one, without libcurl's CA directory. libcurl keeps the
 * certificate store it builds from a CA file in the multi handle and gives
 * it to every later connection (CURLOPT_CA_CACHE_TIMEOUT, a day), but not
 * when a CA directory is set too, as Debian's libcurl does by default
 * (/etc/ssl/certs): then every new connection parsed the whole file again
 * (callgrind: 1.6 M instructions a connection for a file of one
 * certificate; the system's has about 140). The system's directory holds
 * the certificates of its file (update-ca-certificates writes both).
 */
static void
drop_ca_dir(CURL *e, bool have_file)
{
	char *builtin = NULL;

	if (!have_file)
		have_file = curl_easy_getinfo(e, CURLINFO_CAINFO, &builtin) ==
		    CURLE_OK && builtin != NULL;
	if (have_file)
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
}

/* Sets what every hop has in common (tls: the https origin, or NULL). */
static void
set_common(CURL *e, const struct exchange_env *env, struct hop *h,
    long timeout_ms, char *errbuf, struct http_origin *tls)
{
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* The environment's proxies would hide the address connected to. */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, h);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	set_timeouts(e, timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, env->user_agent);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, http_client_ssl_ctx);
	curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, tls);
	if (env->ca_bundle != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, env->ca_bundle);
	drop_ca_dir(e, env->ca_bundle != NULL);
}

void
exchange_cancelled(struct exchange_result *res)
{
	set_failure(res, EXCHANGE_CANCELLED, "cancelled: the consumer "
	    "stopped the run");
}

/* Turns a transfer that ended without a response into res's failure. */
static void
describe_failure(CURL *e, CURLcode rc, const struct hop *h, long timeout_ms,
    const char *errbuf, struct exchange_result *res)
{
	long os_errno = 0;
	const char *detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);

	curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
	if (h->cancelled) {
		exchange_cancelled(res);
	} else if (h->refused && (rc == CURLE_COULDNT_CONNECT ||
	    rc == CURLE_COULDNT_RESOLVE_HOST)) {
		set_failure(res, EXCHANGE_REFUSED, "refused: %s", h->why);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		set_failure(res, EXCHANGE_TIMEOUT, "timeout after %ld ms",
		    timeout_ms);
	} else if (rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CACERT_BADFILE) {
		set_failure(res, EXCHANGE_TLS, "TLS: %s", detail);
	} else if (rc == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED) {
		set_failure(res, EXCHANGE_NETWORK, "connection refused (%s)",
		    h->host);
	} else if (rc == CURLE_COULDNT_RESOLVE_HOST) {
		set_failure(res, EXCHANGE_NETWORK, "cannot resolve host \"%s\"",
		    h->host);
	} else if (h->headers_over) {
		set_failure(res, EXCHANGE_NETWORK, "the response headers are "
		    "larger than %d bytes", HEADER_BYTES_MAX);
	} else if (rc == CURLE_GOT_NOTHING) {
		set_failure(res, EXCHANGE_NETWORK, "connection closed without "
		    "a response (%s)", h->host);
	} else if (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
	    rc == CURLE_PARTIAL_FILE) {
		set_failure(res, EXCHANGE_NETWORK, "connection %s (%.200s): %s",
		    os_errno == ECONNRESET ? "reset" : "failed", h->host, detail);
	} else {
		set_failure(res, EXCHANGE_NETWORK, "%s", detail);
	}
}

/* The status codes followed as redirects. */
static bool
is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 ||
	    status == 307 || status == 308;
}

/* Clears what the last hop left and sets the next one up on x->e: the
 * checks before a connection (time left, the target list), the headers,
 * the options. Returns true when the hop is ready to perform, false when
 * the delivery is over (x->res or x->err say how). */
/* The time the delivery has left, in ms; 0 with the timeout failure in
 * x->res when none. */
static int64_t
time_left(struct exchange *x)
{
	int64_t left = x->timeout_ms - (tf_mono_ms() - x->start);

	if (left > 0)
		return left;
	set_failure(x->res, EXCHANGE_TIMEOUT, "timeout after %ld ms",
	    x->timeout_ms);
	return 0;
}

static bool
hop_prepare(struct exchange *x)
{
	const struct exchange_env *env = x->env;
	int64_t left = time_left(x);
	char why[256];

	if (left == 0)
		return false;
	/* A host not on the target list is not even resolved. */
	if (!tf_target_list_may_permit(env->targets, x->h.host, x->port, why,
	    sizeof(why))) {
		set_failure(x->res, EXCHANGE_REFUSED, "refused: %s", why);
		return false;
	}
	curl_slist_free_all(x->headers);
	x->headers = NULL;
	x->err = build_headers(env, &x->meta, x->t, x->body, x->body_len,
	    x->same_origin, &x->headers);
	if (x->err != TF_OK)
		return false;
	x->errbuf[0] = '\0';
	x->h.refused = false;
	tf_free(x->h.why);
	x->h.why = NULL;
	x->h.cancelled = false;
	reset_response(x->res);
	x->tls = x->https ? http_client_origin(env->client, x->h.host, x->port) : NULL;
	set_common(x->e, env, &x->h, (long)left, x->errbuf, x->tls);
	set_method(x->e, x->method, x->body, x->body_len);
	curl_easy_setopt(x->e, CURLOPT_URL, x->url);
	curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, x->headers);
	return true;
}

/* Sets the hop's host, port and origin from url (borrowed); the first
 * call records the first origin. false when url does not parse as an http
 * or https URL, or with x->err set when memory ran out. */
static bool
hop_origin(struct exchange *x, const char *url)
{
	char host[256], origin[EXCHANGE_ORIGIN_MAX];

	if (!url_origin(url, host, sizeof(host), &x->port, origin,
	    sizeof(origin)))
		return false;
	tf_free(x->h.host);
	if ((x->h.host = tf_strdup(host)) == NULL || (x->first_origin == NULL &&
	    (x->first_origin = tf_strdup(origin)) == NULL)) {
		x->err = TF_ERR_NOMEM;
		return false;
	}
	x->same_origin = strcmp(origin, x->first_origin) == 0;
	x->https = strncmp(origin, "https:", 6) == 0;
	return true;
}

bool
exchange_begin(struct exchange *x, const struct exchange_env *env,
    const struct exchange_meta *meta, const struct tf_http_task *t,
    struct exchange_result *res)
{
	int64_t left;

	memset(x, 0, sizeof(*x));
	memset(res, 0, sizeof(*res));
	res->retry_after_s = -1;
	x->env = env;
	x->meta = *meta;
	x->t = t;
	x->res = res;
	x->h.env = env;
	x->h.task = t;
	x->h.res = res;
	x->body = t->body;
	x->body_len = t->body_len;
	x->start = tf_mono_ms();
	x->timeout_ms = t->timeout_ms;
	snprintf(x->method, sizeof(x->method), "%s", t->method);
	if (meta->deadline_ms > 0) {
		left = meta->deadline_ms - env->now_ms();
		if (left < x->timeout_ms)
			x->timeout_ms = left > 1 ? (long)left : 1;
	}
	x->url = tf_strdup(t->url);
	if (x->url == NULL) {
		x->err = TF_ERR_NOMEM;
		return false;
	}
	if (!hop_origin(x, x->url)) {
		if (x->err != TF_OK)
			return false;
		set_failure(res, EXCHANGE_BAD_REDIRECT, "the URL does not parse");
		return false;
	}
	x->e = http_client_get(env->client, env->on_loop);
	if (x->e == NULL) {
		x->err = TF_ERR_NOMEM;
		return false;
	}
	return hop_prepare(x);
}

bool
exchange_hop_done(struct exchange *x, CURLcode rc)
{
	const struct tf_http_task *t = x->t;
	struct exchange_result *res = x->res;
	curl_off_t retry_after = -1;
	char *location = NULL;
	long status = 0;

	if (x->h.nomem) {
		x->err = TF_ERR_NOMEM;
		return false;
	}
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x->h.read_capped)) {
		describe_failure(x->e, rc, &x->h, x->timeout_ms, x->errbuf, res);
		return false;
	}
	curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &status);
	res->status = status;
	/* libcurl reports 0 for no Retry-After; 0 would mean "now" anyway. */
	if (curl_easy_getinfo(x->e, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
	    retry_after > 0)
		res->retry_after_s = retry_after > RETRY_AFTER_MAX_S ?
		    RETRY_AFTER_MAX_S : (int64_t)retry_after;
	if (!t->follow_redirects || !is_redirect(status) ||
	    tf_http_task_is_success(t, status) || x->h.read_capped)
		return false;
	/* Follow the redirect, if it is one we may. */
	curl_easy_getinfo(x->e, CURLINFO_REDIRECT_URL, &location);
	if (location == NULL)
		return false;   /* no Location: the 3xx is the answer */
	if (res->redirects >= t->max_redirects) {
		set_failure(res, EXCHANGE_BAD_REDIRECT, "too many redirects "
		    "(more than %d)", t->max_redirects);
		return false;
	}
	x->next = tf_strdup(location);
	if (x->next == NULL) {
		x->err = TF_ERR_NOMEM;
		return false;
	}
	if (!hop_origin(x, x->next)) {
		if (x->err != TF_OK)
			return false;
		set_failure(res, EXCHANGE_BAD_REDIRECT, "HTTP %ld redirects to a "
		    "URL that is not http or https", status);
		return false;
	}
	/* The task's URL may not carry credentials; nor may a redirect
	 * add them (libcurl would send them as Authorization: Basic). */
	if (tf_http_url_has_userinfo(x->next)) {
		set_failure(res, EXCHANGE_BAD_REDIRECT, "HTTP %ld redirects to a "
		    "URL with a user name or password: refused, not followed",
		    status);
		return false;
	}
	tf_free(x->url);
	x->url = x->next;
	x->next = NULL;
	res->redirects++;
	/* 303, and 301/302 after a POST, continue with a GET, as browsers
	 * and libcurl do; 307 and 308 repeat the request as it was. */
	if (strcmp(x->method, "HEAD") != 0 && (status == 303 ||
	    ((status == 301 || status == 302) && strcmp(x->method, "POST") == 0))) {
		snprintf(x->method, sizeof(x->method), "GET");
		x->body = NULL;
		x->body_len = 0;
	}
	/* A clean handle for the next hop: no option of this one stays. */
	http_client_put(x->env->client, x->e);
	x->e = http_client_get(x->env->client, x->env->on_loop);
	if (x->e == NULL) {
		x->err = TF_ERR_NOMEM;
		return false;
	}
	return hop_prepare(x);
}

bool
exchange_hop_resume(struct exchange *x)
{
	int64_t left = time_left(x);

	if (left == 0)
		return false;
	set_timeouts(x->e, (long)left);
	return true;
}

enum tf_err
exchange_end(struct exchange *x)
{
	struct exchange_result *res = x->res;

	res->duration_ms = tf_mono_ms() - x->start;
	if (x->err == TF_OK && res->final_url == NULL) {
		res->final_url = x->url;
		x->url = NULL;
	}
	curl_slist_free_all(x->headers);
	x->headers = NULL;
	if (x->e != NULL)
		http_client_put(x->env->client, x->e);
	x->e = NULL;
	tf_free(x->next);
	tf_free(x->url);
	x->next = x->url = NULL;
	tf_free(x->h.host);
	tf_free(x->h.why);
	tf_free(x->first_origin);
	x->h.host = x->h.why = x->first_origin = NULL;
	return x->err;
}

enum tf_err
exchange_perform(const struct exchange_env *env,
    const struct exchange_meta *meta, const struct tf_http_task *t,
    struct exchange_result *res)
{
	struct exchange x;
	bool more;

	more = exchange_begin(&x, env, meta, t, res);
	while (more)
		more = exchange_hop_done(&x, curl_easy_perform(x.e));
	return exchange_end(&x);
}
