/*
 * api_metrics.h - what `taskfleet serve` counts, in the Prometheus text
 * format (lib/server/prom.h, as the consumer's metrics.h), and the small
 * server of --metrics-listen that serves it with the probes:
 *   /metrics  requests by route template, method and status; their latency
 *             by route; authentication failures; rate-limited requests;
 *             requests in flight; the API keys loaded and their reloads;
 *             the process's CPU time, resident memory and open files;
 *   /healthz, /readyz  as on the API port (api_health.h).
 * The metrics are on their own port only, never on the API's: they need no
 * key, so the port is for the scraper (bind it to a private address).
 *
 * Counting takes a mutex for the (route, method, status) slot; everything
 * else is atomic. Any thread.
 */
#ifndef TF_PRODUCER_API_METRICS_H
#define TF_PRODUCER_API_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/err.h"

struct api_health;

/* Why a request was refused before its handler. */
enum api_refusal {
	API_AUTH_MISSING,        /* 401: no bearer token */
	API_AUTH_UNKNOWN,        /* 401: a key that is not configured */
	API_LIMIT_KEY,           /* 429: the key over its rate */
	API_LIMIT_ADDRESS,       /* 429: the client address over its rate
	                            (--no-auth) */
	API_LIMIT_UNKNOWN_KEYS,  /* 429: the address sent too many unknown keys */
	API__REFUSALS
};

/* A source of API keys, for the reload counters (api_keyring.h). */
enum api_key_load {
	API_KEYS_LOADED,         /* read and parsed */
	API_KEYS_FAILED,         /* the source failed or held bad keys: the
	                            keys before stay */
	API__KEY_LOADS
};

struct api_metrics;

/* Creates the counters. Caller frees with api_metrics_free(). NULL when
 * out of memory. */
struct api_metrics *api_metrics_new(void);
void api_metrics_free(struct api_metrics *m);

/* A request began (in flight until api_metrics_end()). m may be NULL. */
void api_metrics_begin(struct api_metrics *m);

/* A request ended: route is its template ("/v1/tasks/{id}"; a string that
 * lives as long as the program), method its HTTP method (borrowed), status
 * the status answered (0: none, then only in-flight changes), ms how long
 * it took. m may be NULL. */
void api_metrics_end(struct api_metrics *m, const char *route,
    const char *method, unsigned int status, int64_t ms);

/* Counts a refusal. m may be NULL. */
void api_metrics_refused(struct api_metrics *m, enum api_refusal why);

/* Counts a load of the keys and, when loaded, how many there are now.
 * m may be NULL. */
void api_metrics_keys(struct api_metrics *m, enum api_key_load result,
    size_t n_keys);

/* Renders everything into b (appended). TF_ERR_NOMEM. */
enum tf_err api_metrics_render(struct api_metrics *m, struct tf_buf *b);

struct api_metrics_server;

/* Starts the --metrics-listen server on addr serving m and health (both
 * borrowed; they must outlive the server). *out: stop it with
 * api_metrics_server_stop(). TF_ERR_IO with the reason in err. */
enum tf_err api_metrics_server_start(const struct sockaddr *addr,
    struct api_metrics *m, struct api_health *health,
    struct api_metrics_server **out, char *err, size_t errlen);

/* The port it listens on. */
int api_metrics_server_port(const struct api_metrics_server *s);

/* Stops it after the requests in progress. s may be NULL. */
void api_metrics_server_stop(struct api_metrics_server *s);

#endif /* TF_PRODUCER_API_METRICS_H */
