/*
 * client.h - the http runner's libcurl state shared by every run: one
 * connection cache (and DNS and TLS session caches) for all threads, so
 * deliveries to the same host reuse warm connections across tasks, and a
 * pool of idle easy handles so a run does not build a handle from scratch.
 */
#ifndef TF_HTTP_RUNNER_CLIENT_H
#define TF_HTTP_RUNNER_CLIENT_H

#include <stdbool.h>

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

#endif /* TF_HTTP_RUNNER_CLIENT_H */
