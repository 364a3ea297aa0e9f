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

struct http_client {
	CURLSH *share;
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
	c->share = curl_share_init();
	if (c->share == NULL ||
	    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
		goto fail;
	*out = c;
	return TF_OK;
fail:
	http_client_free(c);
	return TF_ERR_NOMEM;
}

CURL *
http_client_get(struct http_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->pool_lock);
	if (c->n_idle > 0)
		h = c->idle[--c->n_idle];
	pthread_mutex_unlock(&c->pool_lock);
	if (h == NULL)
		h = curl_easy_init();
	if (h != NULL && curl_easy_setopt(h, CURLOPT_SHARE, c->share) != CURLE_OK) {
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
