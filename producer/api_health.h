/*
 * api_health.h - `taskfleet serve`'s probes, on the API port (no key, no
 * rate limit: a load balancer's health check has neither) and on the
 * --metrics-listen port:
 *   /healthz  200 "ok" while the process answers (and is not stopping);
 *   /readyz   200 "ok" when the table and the queue answer (aws/ready.h: a
 *             GetItem of a key no task has and a GetQueueAttributes), at
 *             most one AWS check per API_READY_TTL_MS whatever the number
 *             of probes; 503 with the reason otherwise (text/plain).
 */
#ifndef TF_PRODUCER_API_HEALTH_H
#define TF_PRODUCER_API_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* An AWS answer about readiness is reused for this long. */
#define API_READY_TTL_MS 2000

struct api_health;

/* Creates the probes for c (borrowed: opened, queue URL resolved; it must
 * outlive them). Caller frees with api_health_free(). NULL when out of
 * memory. */
struct api_health *api_health_new(struct cli *c);
void api_health_free(struct api_health *h);

/* From now on /healthz and /readyz answer 503 "stopping". */
void api_health_stopping(struct api_health *h);

/* True when the process answers; why: "ok\n" or the reason (a line). */
bool api_health_live(struct api_health *h, char *why, size_t n);

/* True when the table and queue answer (cached); why: "ok\n" or the
 * reason (a line). Any thread; one AWS check at a time. */
bool api_health_ready(struct api_health *h, char *why, size_t n);

#endif /* TF_PRODUCER_API_HEALTH_H */
