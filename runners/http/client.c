/*
 * client.c - shared libcurl caches and a pool of easy handles (client.h).
 *
 * The share handle holds the connection cache, so a connection one thread
 * opened is reused by the next delivery to that host from any thread.
 * libcurl calls our lock functions around each use of a shared cache; each
 * kind of data has its own mutex.
 */
#include <pthread.h>
#include <stdbool.h>

#include "base/alloc.h"
#include "client.h"

#define POOL_MAX 64

/* Each handle's receive buffer (libcurl's default is 16 KiB). A webhook's
 * answer is read as it comes and capped, so 4 KiB costs a few more reads
 * for a large answer only; with thousands of webhooks in flight on the loop
 * the default buffers were most of the consumer's memory. */
#define READ_BUFFER 4096L

struct http_client {
	CURLSH *share;
	CURLSH *share_loop;        /* DNS and TLS sessions only */
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	bool locks_ready;
	pthread_mutex_t pool_lock;
	CURL *idle[POOL_MAX];
	size_t n_idle;
	bool curl_ready;
};

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user)
{
	struct http_client *c = user;

	pthread_mutex_lock(&c->locks[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *user)
{
	struct http_client *c = user;

	pthread_mutex_unlock(&c->locks[data]);
}

/* A share handle for DNS and TLS sessions, and connections with
 * `connections`; NULL when out of memory. */
static CURLSH *
share_new(struct http_client *c, bool connections)
{
	CURLSH *sh = curl_share_init();

	if (sh == NULL ||
	    curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_USERDATA, c) != CURLSHE_OK ||
	    (connections && curl_share_setopt(sh, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		if (sh != NULL)
			curl_share_cleanup(sh);
		return NULL;
	}
	return sh;
}

void
http_client_free(struct http_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_idle; i++)
		curl_easy_cleanup(c->idle[i]);
	if (c->share != NULL)
		curl_share_cleanup(c->share);
	if (c->share_loop != NULL)
		curl_share_cleanup(c->share_loop);
	if (c->locks_ready) {
		for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&c->locks[i]);
		pthread_mutex_destroy(&c->pool_lock);
	}
	if (c->curl_ready)
		curl_global_cleanup();
	tf_free(c);
}

enum tf_err
http_client_new(struct http_client **out)
{
	struct http_client *c;
	size_t i;

	*out = NULL;
	c = tf_calloc(1, sizeof(*c));
	if (c == NULL)
		return TF_ERR_NOMEM;
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	pthread_mutex_init(&c->pool_lock, NULL);
	c->locks_ready = true;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto fail;
	c->curl_ready = true;
	c->share = share_new(c, true);
	c->share_loop = share_new(c, false);
	if (c->share == NULL || c->share_loop == NULL)
		goto fail;
	*out = c;
	return TF_OK;
fail:
	http_client_free(c);
	return TF_ERR_NOMEM;
}

CURL *
http_client_get(struct http_client *c, bool on_loop)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->pool_lock);
	if (c->n_idle > 0)
		h = c->idle[--c->n_idle];
	pthread_mutex_unlock(&c->pool_lock);
	if (h == NULL)
		h = curl_easy_init();
	if (h != NULL && (curl_easy_setopt(h, CURLOPT_SHARE, on_loop ?
	    c->share_loop : c->share) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, READ_BUFFER) != CURLE_OK)) {
		curl_easy_cleanup(h);
		h = NULL;
	}
	return h;
}

void
http_client_put(struct http_client *c, CURL *h)
{
	if (h == NULL)
		return;
	/* Forget the run's options: its buffers and callback data are gone. */
	curl_easy_reset(h);
	pthread_mutex_lock(&c->pool_lock);
	if (c->n_idle < POOL_MAX) {
		c->idle[c->n_idle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_lock);
	if (h != NULL)
		curl_easy_cleanup(h);
}
