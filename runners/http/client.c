/*
 * client.c - shared libcurl caches and a pool of easy handles (client.h).
 *
 * The share handle holds the connection cache, so a connection one thread
 * opened is reused by the next delivery to that host from any thread.
 * libcurl calls our lock functions around each use of a shared cache; each
 * kind of data has its own mutex.
 *
 * TLS (OpenSSL, libcurl's backend here): libcurl makes an SSL_CTX per
 * connection and hands it to http_client_ssl_ctx() before the handshake.
 * There each connection gets SSL_MODE_RELEASE_BUFFERS (a connection
 * waiting for a slow answer holds no 16 KiB read and write buffers), and
 * libcurl's new-session callback is wrapped so that the origin learns when
 * its session is in the shared cache (the ramp, client.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "base/alloc.h"
#include "client.h"

#define POOL_MAX 64
/* https origins followed for the ramp; past this, new origins have none. */
#define ORIGINS_MAX 64

enum origin_state {
	ORIGIN_COLD,       /* no hop to it yet */
	ORIGIN_OPENING,    /* the first hop is connecting: the rest wait */
	ORIGIN_WARM        /* its session is cached (or the wait is over) */
};

struct http_origin {
	char key[272];               /* host:port */
	atomic_int state;            /* enum origin_state */
	int64_t opened_ms;           /* monotonic: the first hop let through
	                                (loop thread only) */
};

/* Each handle's receive buffer: libcurl's least (its default is 16 KiB).
 * A webhook's answer is read as it comes and capped, and most are a status
 * line, a few headers and a short body, so 1 KiB costs a few more reads
 * for a large answer only; with thousands of webhooks in flight on the
 * loop each handle's buffer is held the whole time (massif, 300 slow
 * webhooks in flight: 4 KiB of about 23 KiB each at 4096). */
#define READ_BUFFER 1024L

struct http_client {
	CURLSH *share;
	CURLSH *share_loop;        /* DNS and TLS sessions only */
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	bool locks_ready;
	pthread_mutex_t pool_lock;
	CURL *idle[POOL_MAX];
	size_t n_idle;
	bool curl_ready;
	pthread_mutex_t origins_lock;
	struct http_origin *origins[ORIGINS_MAX];   /* owned */
	size_t n_origins;
};

/* The SSL_CTX ex_data slot that names a connection's origin, and libcurl's
 * new-session callback that on_new_session() wraps; set once. */
static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;
static int ssl_index = -1;
typedef int new_session_fn(SSL *ssl, SSL_SESSION *session);
static _Atomic(new_session_fn *) curl_new_session;

static void
ssl_setup(void)
{
	ssl_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

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
	for (i = 0; i < c->n_origins; i++)
		tf_free(c->origins[i]);
	if (c->locks_ready) {
		for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&c->locks[i]);
		pthread_mutex_destroy(&c->pool_lock);
		pthread_mutex_destroy(&c->origins_lock);
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
	pthread_mutex_init(&c->origins_lock, NULL);
	c->locks_ready = true;
	pthread_once(&ssl_once, ssl_setup);
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

struct http_origin *
http_client_origin(struct http_client *c, const char *host, unsigned port)
{
	struct http_origin *o = NULL;
	char key[sizeof(o->key)];
	size_t i;

	snprintf(key, sizeof(key), "%s:%u", host, port);
	pthread_mutex_lock(&c->origins_lock);
	for (i = 0; i < c->n_origins; i++)
		if (strcmp(c->origins[i]->key, key) == 0) {
			o = c->origins[i];
			break;
		}
	if (o == NULL && c->n_origins < ORIGINS_MAX &&
	    (o = tf_calloc(1, sizeof(*o))) != NULL) {
		memcpy(o->key, key, sizeof(key));
		atomic_init(&o->state, ORIGIN_COLD);
		c->origins[c->n_origins++] = o;
	}
	pthread_mutex_unlock(&c->origins_lock);
	return o;
}

/* libcurl's new-session callback, wrapped: the connection's origin (if it
 * has one) is warm once a session for it reached the cache. */
static int
on_new_session(SSL *ssl, SSL_SESSION *session)
{
	struct http_origin *o = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
	    ssl_index);
	new_session_fn *curl_cb = atomic_load(&curl_new_session);
	int kept = curl_cb != NULL ? curl_cb(ssl, session) : 0;

	if (o != NULL && kept)
		atomic_store(&o->state, ORIGIN_WARM);
	return kept;
}

/*
 * At the start of a handshake that is to resume a session (libcurl set it
 * from the shared cache), the connection gets a copy of it. OpenSSL marks a
 * TLS 1.3 session it resumed with not resumable (tls_finish_handshake(),
 * "tickets once" for clients with a session cache): on the cache's own
 * object that made every later connection to the host a full handshake
 * until another full handshake cached a new session (10 of 20 connections
 * opened one after another against Node's server; 1 with the copy).
 */
static void
on_ssl_info(const SSL *ssl, int where, int ret)
{
	SSL *s = (SSL *)ssl;   /* OpenSSL's callback type; ours to change */
	SSL_SESSION *cached, *copy;

	if (!(where & SSL_CB_HANDSHAKE_START) || (cached = SSL_get_session(s)) == NULL)
		return;
	copy = SSL_SESSION_dup(cached);
	if (copy == NULL)
		return;     /* it resumes with the cache's own */
	SSL_set_session(s, copy);
	SSL_SESSION_free(copy);
}

CURLcode
http_client_ssl_ctx(CURL *h, void *ssl_ctx, void *userptr)
{
	SSL_CTX *ctx = ssl_ctx;
	new_session_fn *prev = SSL_CTX_sess_get_new_cb(ctx), *expected = NULL;

	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_info_callback(ctx, on_ssl_info);
	/* Without libcurl's session cache (or with a callback other than the
	 * one seen first) there is nothing to wrap: no ramp signal then, the
	 * wait ends with the first hop or HTTP_RAMP_MAX_MS. */
	if (userptr == NULL || ssl_index < 0 || prev == NULL ||
	    prev == on_new_session)
		return CURLE_OK;
	if (!atomic_compare_exchange_strong(&curl_new_session, &expected, prev) &&
	    expected != prev)
		return CURLE_OK;
	if (SSL_CTX_set_ex_data(ctx, ssl_index, userptr) == 1)
		SSL_CTX_sess_set_new_cb(ctx, on_new_session);
	return CURLE_OK;
}

bool
http_origin_may_connect(struct http_origin *o, int64_t now_ms)
{
	int cold = ORIGIN_COLD;

	if (o == NULL || atomic_load(&o->state) == ORIGIN_WARM)
		return true;
	if (atomic_compare_exchange_strong(&o->state, &cold, ORIGIN_OPENING)) {
		o->opened_ms = now_ms;
		return true;
	}
	if (now_ms - o->opened_ms < HTTP_RAMP_MAX_MS)
		return false;
	atomic_store(&o->state, ORIGIN_WARM);
	return true;
}

void
http_origin_hop_ended(struct http_origin *o)
{
	if (o != NULL)
		atomic_store(&o->state, ORIGIN_WARM);
}
