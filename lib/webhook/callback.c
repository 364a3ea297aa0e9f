/* callback.c - delivering completion callbacks (callback.h). */
#include "webhook/callback.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "time/timefmt.h"

enum tf_err
tf_callback_url_check(const char *url, char *why, size_t whylen)
{
	size_t n, i, scheme;

	if (url == NULL || url[0] == '\0')
		return TF_OK;
	n = strlen(url);
	if (n > TF_CALLBACK_URL_MAX) {
		snprintf(why, whylen, "too long (%zu bytes; at most %d)", n,
		    TF_CALLBACK_URL_MAX);
		return TF_ERR_INVALID;
	}
	scheme = strncmp(url, "https://", 8) == 0 ? 8 :
	    strncmp(url, "http://", 7) == 0 ? 7 : 0;
	if (scheme == 0 || url[scheme] == '\0' || url[scheme] == '/') {
		snprintf(why, whylen, "must be an http:// or https:// URL with a "
		    "host");
		return TF_ERR_INVALID;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) {
			snprintf(why, whylen, "holds a space or control character "
			    "(byte %zu)", i);
			return TF_ERR_INVALID;
		}
	}
	return TF_OK;
}

enum tf_err
tf_callback_env_load(struct tf_callback_env *env, char *err, size_t errlen)
{
	memset(env, 0, sizeof(*env));
	env->backoff_ms = TF_CALLBACK_BACKOFF_MS;
	env->timeout_ms = TF_CALLBACK_TIMEOUT_MS;
	if (tf_http_keys_parse(getenv("TASKFLEET_HTTP_SIGNING_KEYS"), &env->keys,
	    err, errlen) != TF_OK ||
	    tf_allow_list_parse(getenv("TASKFLEET_HTTP_ALLOW"), &env->allow, err,
	    errlen) != TF_OK ||
	    tf_target_list_parse(getenv("TASKFLEET_HTTP_TARGETS"), &env->targets,
	    err, errlen) != TF_OK) {
		tf_callback_env_free(env);
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

void
tf_callback_env_free(struct tf_callback_env *env)
{
	tf_http_keys_free(&env->keys);
	tf_allow_list_free(env->allow);
	tf_target_list_free(env->targets);
	memset(env, 0, sizeof(*env));
}

/* The body of run into *out (caller frees with tf_free()), with the
 * runner's result when with_result, else with "result_omitted": true when
 * there was one. TF_ERR_NOMEM. */
static enum tf_err
body_text(const struct tf_callback_run *run, bool with_result, char **out)
{
	cJSON *o = cJSON_CreateObject(), *result = NULL;
	char when[TF_TIMEFMT_ISO_SIZE];
	char *text = NULL;

	*out = NULL;
	if (o == NULL)
		return TF_ERR_NOMEM;
	if (run->result_json != NULL)
		result = cJSON_Parse(run->result_json);
	if (cJSON_AddStringToObject(o, "task_id", run->task_id) == NULL ||
	    cJSON_AddStringToObject(o, "ns", run->ns) == NULL ||
	    cJSON_AddStringToObject(o, "type", run->type) == NULL ||
	    cJSON_AddStringToObject(o, "event", run->event) == NULL ||
	    cJSON_AddNumberToObject(o, "iteration", (double)run->iteration) == NULL ||
	    cJSON_AddNumberToObject(o, "attempt", (double)run->attempt) == NULL ||
	    cJSON_AddNumberToObject(o, "duration_ms", (double)run->duration_ms) == NULL ||
	    cJSON_AddStringToObject(o, "finished_at", tf_timefmt_format(
	    run->finished_ms, when, sizeof(when))) == NULL ||
	    (run->error != NULL &&
	    cJSON_AddStringToObject(o, "error", run->error) == NULL))
		goto out;
	if (result != NULL && with_result) {
		cJSON_AddItemToObject(o, "result", result);
		result = NULL;
	} else if (result != NULL &&
	    cJSON_AddTrueToObject(o, "result_omitted") == NULL) {
		goto out;
	}
	text = cJSON_PrintUnformatted(o);
	if (text != NULL)
		*out = tf_strdup(text);
out:
	cJSON_free(text);
	cJSON_Delete(result);
	cJSON_Delete(o);
	return *out != NULL ? TF_OK : TF_ERR_NOMEM;
}

enum tf_err
tf_callback_body(const struct tf_callback_run *run, char **out)
{
	enum tf_err rc = body_text(run, true, out);

	/* Too long to keep on the item: the result is read from the task. */
	if (rc == TF_OK && strlen(*out) > TF_CALLBACK_BODY_MAX) {
		tf_free(*out);
		rc = body_text(run, false, out);
	}
	return rc;
}

/* One attempt's guard state: the URL's host and why a connection was
 * refused. */
struct guard {
	const struct tf_callback_env *env;
	char host[256];
	bool refused;
	char why[256];
};

/* Refuses, before connecting, the addresses the webhooks may not reach
 * (netaddr.h); libcurl calls this for each address it tries. */
static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct guard *g = clientp;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    !tf_target_list_permits(g->env->targets, g->host, &a->addr, g->why,
	    sizeof(g->why)) ||
	    !tf_allow_list_permits(g->env->allow, g->host, &a->addr, g->why,
	    sizeof(g->why))) {
		g->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Discards the receiver's answer body. */
static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* The URL's host (brackets stripped) into g->host. */
static bool
url_host(const char *url, struct guard *g)
{
	CURLU *u = curl_url();
	char *host = NULL;
	size_t n;
	bool ok = false;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		n = strlen(host);
		if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
			snprintf(g->host, sizeof(g->host), "%.*s", (int)(n - 2),
			    host + 1);
		else
			snprintf(g->host, sizeof(g->host), "%s", host);
		ok = true;
	}
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* Appends line to *list; false when out of memory. */
static bool
add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (l == NULL)
		return false;
	*list = l;
	return true;
}

/* The request's headers into *out (caller frees): JSON, the id, and the
 * signature when there are keys. */
static enum tf_err
headers(const struct tf_callback_env *env, const char *id, const char *body,
    struct curl_slist **out)
{
	struct curl_slist *list = NULL;
	struct tf_buf sig = TF_BUF_INIT;
	int64_t ts = (int64_t)time(NULL);
	char line[TF_CALLBACK_URL_MAX + 64];
	enum tf_err rc = TF_ERR_NOMEM;

	*out = NULL;
	snprintf(line, sizeof(line), "Taskfleet-Callback-Id: %s", id);
	if (!add_header(&list, "Content-Type: application/json") ||
	    !add_header(&list, "Expect:") || !add_header(&list, line))
		goto out;
	if (env->keys.n > 0) {
		if ((rc = tf_http_sign(&env->keys, ts, body, strlen(body),
		    &sig)) != TF_OK)
			goto out;
		rc = TF_ERR_NOMEM;
		snprintf(line, sizeof(line), "Taskfleet-Timestamp: %" PRId64, ts);
		if (!add_header(&list, line))
			goto out;
		snprintf(line, sizeof(line), "Taskfleet-Signature: %s",
		    tf_buf_str(&sig));
		if (!add_header(&list, line))
			goto out;
	}
	*out = list;
	list = NULL;
	rc = TF_OK;
out:
	tf_buf_free(&sig);
	curl_slist_free_all(list);
	return rc;
}

/* One attempt, set up for whoever performs it; everything owned. */
struct tf_callback_attempt {
	CURL *easy;
	struct curl_slist *headers;
	struct guard g;             /* the socket callback's: its address */
	char errbuf[CURL_ERROR_SIZE];
};

void
tf_callback_attempt_free(struct tf_callback_attempt *a)
{
	if (a == NULL)
		return;
	curl_easy_cleanup(a->easy);
	curl_slist_free_all(a->headers);
	tf_free(a);
}

enum tf_err
tf_callback_attempt_new(const struct tf_callback_env *env, const char *url,
    const char *id, const char *body, struct tf_callback_attempt **out,
    char *why, size_t whylen)
{
	struct tf_callback_attempt *a;
	CURL *e;
	enum tf_err rc;

	*out = NULL;
	if ((a = tf_calloc(1, sizeof(*a))) == NULL)
		return TF_ERR_NOMEM;
	a->g.env = env;
	if (!url_host(url, &a->g)) {
		snprintf(why, whylen, "the URL does not parse");
		tf_free(a);
		return TF_ERR_INVALID;
	}
	if ((a->easy = e = curl_easy_init()) == NULL) {
		tf_free(a);
		return TF_ERR_NOMEM;
	}
	if ((rc = headers(env, id, body, &a->headers)) != TF_OK) {
		tf_callback_attempt_free(a);
		return rc;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* The environment's proxies would hide the address connected to. */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &a->g);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->headers);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, env->timeout_ms > 0 ?
	    env->timeout_ms : (long)TF_CALLBACK_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "taskfleet-callback");
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->errbuf);
	*out = a;
	return TF_OK;
}

CURL *
tf_callback_attempt_easy(struct tf_callback_attempt *a)
{
	return a->easy;
}

enum tf_err
tf_callback_attempt_judge(struct tf_callback_attempt *a, CURLcode cc,
    char *why, size_t whylen)
{
	long status = 0;

	curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
	if (a->g.refused) {
		snprintf(why, whylen, "refused: %s", a->g.why);
		return TF_ERR_INVALID;
	}
	if (cc != CURLE_OK) {
		snprintf(why, whylen, "%s", a->errbuf[0] ? a->errbuf :
		    curl_easy_strerror(cc));
		return TF_ERR_IO;
	}
	if (status >= 200 && status < 300)
		return TF_OK;
	snprintf(why, whylen, "HTTP %ld", status);
	return status == 408 || status == 429 || status >= 500 ? TF_ERR_IO :
	    TF_ERR_INVALID;
}

/* One attempt, performed here: TF_OK on 2xx; TF_ERR_IO worth another
 * attempt; TF_ERR_INVALID not. */
static enum tf_err
attempt(const struct tf_callback_env *env, const char *url, const char *id,
    const char *body, char *why, size_t whylen)
{
	struct tf_callback_attempt *a;
	enum tf_err rc;

	rc = tf_callback_attempt_new(env, url, id, body, &a, why, whylen);
	if (rc != TF_OK)
		return rc;
	rc = tf_callback_attempt_judge(a, curl_easy_perform(a->easy), why,
	    whylen);
	tf_callback_attempt_free(a);
	return rc;
}

enum tf_err
tf_callback_deliver(const struct tf_callback_env *env, const char *url,
    const char *id, const char *body, int *attempts, char *why, size_t whylen)
{
	long wait = env->backoff_ms;
	struct timespec ts;
	enum tf_err rc = TF_ERR_IO;
	int n;

	why[0] = '\0';
	for (n = 1; n <= TF_CALLBACK_ATTEMPTS; n++) {
		rc = attempt(env, url, id, body, why, whylen);
		if (rc != TF_ERR_IO || n == TF_CALLBACK_ATTEMPTS)
			break;
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		wait *= 2;
	}
	*attempts = n > TF_CALLBACK_ATTEMPTS ? TF_CALLBACK_ATTEMPTS : n;
	return rc;
}
