/*
 * api.h - the admin REST API behind `taskfleet serve` (docs/design.md
 * section 11; GitHub issue 9): JSON over HTTP, versioned under /v1, on
 * libmicrohttpd with a thread per connection.
 *
 *   GET    /v1/tasks                  a namespace's tasks, paged (as `list`)
 *   POST   /v1/tasks                  one task, or {"tasks": [...]} (up to
 *                                     500, written at once), checked as
 *                                     `submit` checks them; Idempotency-Key
 *   GET    /v1/tasks/{id}             one task (as `get --json`)
 *   DELETE /v1/tasks/{id}
 *   POST   /v1/tasks/{id}/suspend|resume|run
 *   GET    /v1/stats                  counts by status and queue depth
 *                                     (history=1: sampled over time,
 *                                     api_history.h)
 *   GET    /v1/dlq                    the dead-letter queue (api_dlq.c);
 *   POST   /v1/dlq/redrive            moving it back, with a dry run
 *   GET    /v1/openapi.json           the OpenAPI document of all this
 *   GET    /healthz, /readyz          the probes (api_health.h): no key,
 *                                     no rate limit
 *
 * Errors are {"error": {"code": "...", "message": "..."}} with a stable code
 * (api.c lists them). Every request is authorised by api_auth.h unless the
 * server runs without keys (--no-auth, loopback only: cmd_serve.c), and
 * limited by rate_limit.h: per API key (per client address under --no-auth),
 * and unknown keys per client address.
 */
#ifndef TF_PRODUCER_API_H
#define TF_PRODUCER_API_H

#include <sys/socket.h>

#include "api_auth.h"
#include "api_health.h"
#include "api_history.h"
#include "api_keyring.h"
#include "api_metrics.h"
#include "base/err.h"
#include "cli.h"
#include "rate_limit.h"
#include "task/runners.h"

/* The largest request body read; a larger one is answered 413. */
#define API_BODY_MAX (1024 * 1024)
/* The most tasks one POST /v1/tasks creates (a request counts once
 * against a key's rate: 50/s of 500 is 25,000 tasks/s). */
#define API_BATCH_MAX 500
/* A key's rate unless TASKFLEET_API_RATE or the key's own says otherwise. */
#define API_RATE_DEFAULT "50/s:100"
/* Unknown keys a client address may send (TASKFLEET_API_AUTH_RATE). */
#define API_AUTH_RATE_DEFAULT "10/min:20"
/* The client addresses whose buckets are kept; the least recently seen
 * makes room for a new one. */
#define API_ADDR_BUCKETS 1024
/* Connections at once: in all, and by default from one client address
 * (TASKFLEET_API_PER_ADDRESS; so that one address cannot take them all). */
#define API_MAX_CONNECTIONS 256
#define API_PER_ADDRESS_CONNECTIONS 32
/* Seconds a client has to send a whole request (headers and body), from
 * its connection's start or the end of its previous request. */
#define API_REQUEST_TIMEOUT_S 15

/* What the server serves from. Everything is borrowed and must outlive the
 * server. */
struct api_config {
	struct cli *cli;                      /* opened, queue URL resolved */
	const struct tf_runner_set *runners;  /* the types a task may have */
	struct api_keyring *keys;             /* NULL: no authentication */
	struct api_metrics *metrics;          /* what is counted; NULL: none */
	struct api_health *health;            /* /healthz and /readyz */
	struct api_history *history;          /* GET /v1/stats?history=1;
	                                         NULL: not sampled */
	const struct api_origins *origins;    /* allowed CORS origins */
	const struct rate *rate;              /* a key's, unless it has its
	                                         own; a client address's
	                                         without keys */
	const struct rate *auth_rate;         /* unknown keys, per client
	                                         address */
	unsigned int per_address;             /* connections one client
	                                         address may hold at once */
};

struct api_server;

/* Starts serving on addr (port 0: any free one). *out: stop it with
 * api_server_stop(). TF_ERR_IO with the reason in err when it cannot
 * listen; TF_ERR_NOMEM. */
enum tf_err api_server_start(const struct sockaddr *addr,
    const struct api_config *cfg, struct api_server **out,
    char *err, size_t errlen);

/* The port it listens on. */
int api_server_port(const struct api_server *s);

/* Stops it, waiting for requests in progress. s may be NULL. */
void api_server_stop(struct api_server *s);

#endif /* TF_PRODUCER_API_H */
