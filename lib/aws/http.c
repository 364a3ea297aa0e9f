/* http.c - libcurl requests with a pool of keep-alive handles. */
#include "aws/http.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base/alloc.h"

/* Idle handles kept at most; more are cleaned up when returned. */
#define POOL_MAX_IDLE 64
/* The read buffer of every transfer, bytes (see tf_http_xfer_prepare()). */
#define TF_HTTP_READ_BUFFER 4096

struct tf_http_pool {
	pthread_mutex_t lock;
	CURL *idle[POOL_MAX_IDLE];  /* owned */
	int n_idle;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void
global_init_once(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

enum tf_err
tf_http_global_init(void)
{
	pthread_once(&global_once, global_init_once);
	return global_rc == CURLE_OK ? TF_OK : TF_ERR_NOMEM;
}

enum tf_err
tf_http_pool_new(struct tf_http_pool **out)
{
	struct tf_http_pool *p;
	enum tf_err rc;

	*out = NULL;
	rc = tf_http_global_init();
	if (rc != TF_OK)
		return rc;
	p = tf_calloc(1, sizeof(*p));
	if (p == NULL)
		return TF_ERR_NOMEM;
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return TF_OK;
}

void
tf_http_pool_free(struct tf_http_pool *p)
{
	int i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n_idle; i++)
		curl_easy_cleanup(p->idle[i]);
	pthread_mutex_destroy(&p->lock);
	tf_free(p);
}

/* Takes an idle handle, or makes a new one; NULL when out of memory. */
static CURL *
pool_take(struct tf_http_pool *p)
{
	CURL *c = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->n_idle > 0)
		c = p->idle[--p->n_idle];
	pthread_mutex_unlock(&p->lock);
	if (c == NULL)
		c = curl_easy_init();
	return c;
}

/* Returns a handle for reuse; its connections stay open. */
static void
pool_give_back(struct tf_http_pool *p, CURL *c)
{
	pthread_mutex_lock(&p->lock);
	if (p->n_idle < POOL_MAX_IDLE) {
		p->idle[p->n_idle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	if (c != NULL)
		curl_easy_cleanup(c);
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct tf_http_xfer *t = userdata;
	size_t n = size * nmemb;

	if (t->body->len + n > t->max_response) {
		t->too_large = 1;
		return 0;
	}
	if (tf_buf_append(t->body, data, n) != TF_OK)
		return 0;
	return n;
}

/* Keeps the response headers the request asked for (tf_http_capture). */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct tf_http_xfer *t = userdata;
	size_t n = size * nmemb, len, i;
	const char *colon = memchr(data, ':', n);
	const char *v, *end = data + n;

	if (colon == NULL)
		return n;
	len = (size_t)(colon - data);
	for (i = 0; i < TF_HTTP_CAPTURE_MAX && t->capture->names[i] != NULL; i++) {
		if (strlen(t->capture->names[i]) != len ||
		    strncasecmp(t->capture->names[i], data, len) != 0)
			continue;
		for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
			;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
		    end[-1] == ' ' || end[-1] == '\t'))
			end--;
		snprintf(t->capture->values[i], sizeof(t->capture->values[i]),
		    "%.*s", (int)(end - v), v);
	}
	return n;
}

static int
on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct tf_http_xfer *t = userdata;

	return t->cancel != NULL && atomic_load(t->cancel) != 0;
}

/* Called each time curl is about to send the request: once, or again when
 * it retries on a fresh connection by itself (a reused connection that died
 * before any answer came: libcurl does this even for a POST, and no option
 * turns it off). The count lets the caller know an earlier send may have
 * been applied. */
static int
on_prereq(void *userdata, char *remote_ip, char *local_ip, int remote_port,
    int local_port)
{
	struct tf_http_xfer *t = userdata;

	t->sends++;
	return CURL_PREREQFUNC_OK;
}

/* Maps a transport failure to our error codes. */
static enum tf_err
map_curl_error(CURLcode cc, const struct tf_http_xfer *t)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return TF_ERR_TIMEOUT;
	case CURLE_OUT_OF_MEMORY:
		return TF_ERR_NOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		return TF_ERR_CANCELLED;
	case CURLE_WRITE_ERROR:
		return t->too_large ? TF_ERR_TOO_LARGE : TF_ERR_NOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return TF_ERR_INVALID;
	default:
		return TF_ERR_IO;
	}
}

static enum tf_err prepare(CURL *c, const struct tf_http_request *req,
    struct tf_http_xfer *t, struct tf_http_response *resp);

enum tf_err
tf_http_xfer_prepare(CURL *c, const struct tf_http_request *req,
    struct tf_http_xfer *t, struct tf_http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	return prepare(c, req, t, resp);
}

/* tf_http_xfer_prepare() for a resp that is already empty (its body's memory
 * is kept and filled). */
static enum tf_err
prepare(CURL *c, const struct tf_http_request *req, struct tf_http_xfer *t,
    struct tf_http_response *resp)
{
	enum tf_err rc = TF_ERR_NOMEM;
	struct curl_slist *grown;
	struct tf_buf line = TF_BUF_INIT;
	size_t i;

	memset(t, 0, sizeof(*t));
	/* "Expect: 100-continue" would cost a round trip on every large POST. */
	t->headers = curl_slist_append(NULL, "Expect:");
	if (t->headers == NULL)
		goto out;
	for (i = 0; i < req->n_headers; i++) {
		if (strpbrk(req->headers[i].name, "\r\n:") != NULL ||
		    strpbrk(req->headers[i].value, "\r\n") != NULL) {
			rc = TF_ERR_INVALID;
			goto out;
		}
		tf_buf_reset(&line);
		/* "Name;" is curl's way of sending a header with an empty value. */
		rc = tf_buf_append_str(&line, req->headers[i].name);
		if (rc == TF_OK && req->headers[i].value[0] == '\0')
			rc = tf_buf_append_char(&line, ';');
		else if (rc == TF_OK && (rc = tf_buf_append_str(&line, ": ")) == TF_OK)
			rc = tf_buf_append_str(&line, req->headers[i].value);
		if (rc != TF_OK)
			goto out;
		rc = TF_ERR_NOMEM;
		grown = curl_slist_append(t->headers, line.data);
		if (grown == NULL)
			goto out;
		t->headers = grown;
	}

	t->body = &resp->body;
	t->max_response = req->max_response ? req->max_response : 16u << 20;
	t->too_large = 0;
	t->cancel = req->cancel;
	t->capture = req->capture;
	for (i = 0; t->capture != NULL && i < TF_HTTP_CAPTURE_MAX; i++)
		t->capture->values[i][0] = '\0';

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* Each handle keeps a read buffer of this size for its life: AWS's
	 * answers are mostly under a few KiB, and curl's default of 16 KiB per
	 * handle is most of a busy consumer's heap. A larger answer takes a
	 * few more reads. */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)TF_HTTP_READ_BUFFER);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    req->connect_timeout_ms ? req->connect_timeout_ms : 3000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
	    req->timeout_ms ? req->timeout_ms : 30000L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->curl_err);
	curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(c, CURLOPT_PREREQDATA, t);
	if (t->capture != NULL) {
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
	}
	if (req->cancel != NULL) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
	}
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS,
		    req->body_len ? (const char *)req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
	}

	/* An empty body still gets a terminated, non-NULL buffer. */
	rc = tf_buf_reserve(&resp->body, 0);
out:
	tf_buf_free(&line);
	if (rc != TF_OK)
		tf_http_xfer_release(c, t);
	return rc;
}

enum tf_err
tf_http_xfer_finish(CURL *c, CURLcode cc, struct tf_http_xfer *t,
    struct tf_http_response *resp, char *errtext, size_t errlen)
{
	enum tf_err rc;

	if (errtext != NULL && errlen > 0)
		errtext[0] = '\0';
	if (cc != CURLE_OK) {
		rc = map_curl_error(cc, t);
		if (errtext != NULL && errlen > 0)
			snprintf(errtext, errlen, "%s",
			    t->curl_err[0] ? t->curl_err : curl_easy_strerror(cc));
		tf_http_response_free(resp);
		resp->sends = t->sends;
		return rc;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->sends = t->sends;
	return TF_OK;
}

void
tf_http_xfer_release(CURL *c, struct tf_http_xfer *t)
{
	/* Drop pointers to t before the handle is reused. */
	if (c != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, NULL);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, NULL);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
		curl_easy_setopt(c, CURLOPT_PREREQDATA, NULL);
	}
	curl_slist_free_all(t->headers);
	t->headers = NULL;
}

enum tf_err
tf_http_perform(struct tf_http_pool *p, const struct tf_http_request *req,
    struct tf_http_response *resp, char *errtext, size_t errlen)
{
	struct tf_http_xfer t;
	enum tf_err rc;
	CURL *c;

	/* The body's memory is kept: a caller that reuses resp allocates
	 * nothing for answers that fit. */
	resp->status = 0;
	resp->sends = 0;
	tf_buf_reset(&resp->body);
	if (errtext != NULL && errlen > 0)
		errtext[0] = '\0';
	c = pool_take(p);
	if (c == NULL)
		return TF_ERR_NOMEM;
	rc = prepare(c, req, &t, resp);
	if (rc == TF_OK) {
		rc = tf_http_xfer_finish(c, curl_easy_perform(c), &t, resp,
		    errtext, errlen);
		tf_http_xfer_release(c, &t);
	}
	pool_give_back(p, c);
	return rc;
}

void
tf_http_response_free(struct tf_http_response *resp)
{
	tf_buf_free(&resp->body);
	resp->status = 0;
}
