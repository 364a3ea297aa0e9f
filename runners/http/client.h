/*
 * client.h - the http runner's libcurl state shared by every run: one
 * connection cache (and DNS and TLS session caches) for all threads, so
 * deliveries to the same host reuse warm connections across tasks, and a
 * pool of idle easy handles so a run does not build a handle from scratch.
 */
#ifndef TF_HTTP_RUNNER_CLIENT_H
#define TF_HTTP_RUNNER_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "base/err.h"

struct http_client;

/* Initialises libcurl (reference counted) and creates the shared caches.
 * *out: free with http_client_free(). */
enum tf_err http_client_new(struct http_client **out);

/* Frees the client and every idle handle; no handle may be out. */
void http_client_free(struct http_client *c);

/* A reset easy handle bound to the shared caches. For a transfer on the
 * host's event loop (on_loop), the connections are not shared: the loop's
 * connection cache keeps them, with its per-host limit; DNS and TLS
 * sessions still are. Return it with http_client_put(). NULL when out of
 * memory. */
CURL *http_client_get(struct http_client *c, bool on_loop);

/* Gives a handle back to the pool (or frees it when the pool is full). */
void http_client_put(struct http_client *c, CURL *h);

/* An https origin's TLS state, for the ramp below. Owned by the client,
 * valid until http_client_free(). */
struct http_origin;

/*
 * The https origin host:port (NULL when the table of origins is full: no
 * ramp for it). With its result set as CURLOPT_SSL_CTX_DATA and
 * http_client_ssl_ctx() as CURLOPT_SSL_CTX_FUNCTION, the handle's
 * connection releases its idle TLS buffers and tells the origin when its
 * TLS session is cached.
 */
struct http_origin *http_client_origin(struct http_client *c,
    const char *host, unsigned port);

/* CURLOPT_SSL_CTX_FUNCTION (userptr: an origin from http_client_origin(),
 * or NULL). */
CURLcode http_client_ssl_ctx(CURL *h, void *ssl_ctx, void *userptr);

/*
 * The ramp of new TLS connections to an origin: true when a hop may
 * connect now (the origin's session is cached, the first hop to it ended,
 * or that first hop started more than HTTP_RAMP_MAX_MS ago); the first
 * hop asked for is let through and the rest wait, so that they resume its
 * session instead of each making a full handshake. o NULL: always true.
 */
#define HTTP_RAMP_MAX_MS 1000
bool http_origin_may_connect(struct http_origin *o, int64_t now_ms);

/* A hop to o ended (whatever its result): the hops waiting may go. */
void http_origin_hop_ended(struct http_origin *o);

#endif /* TF_HTTP_RUNNER_CLIENT_H */
