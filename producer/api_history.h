/*
 * api_history.h - the stats of `taskfleet serve` over time (docs/api.md):
 * a thread samples the tasks counted by status (every namespace), the
 * queue's depth and the dead-letter queue's every TASKFLEET_API_STATS_EVERY
 * (default API_HISTORY_EVERY_DEFAULT; off: none) into a ring of the latest
 * API_HISTORY_SAMPLES in memory, which GET /v1/stats?history=1 returns. The
 * ring is each server's own and starts empty: it is not stored anywhere.
 * Each sample costs what GET /v1/stats does (a Scan of the table that reads
 * only status and completed, and two GetQueueAttributes).
 *
 * Thread-safe: one mutex guards the ring.
 */
#ifndef TF_PRODUCER_API_HISTORY_H
#define TF_PRODUCER_API_HISTORY_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "cli.h"

#define API_HISTORY_EVERY_DEFAULT "60s"
#define API_HISTORY_SAMPLES 1440    /* a day at the default */

struct api_history;

/* A history of c's table and queue (borrowed: opened, queue URL resolved;
 * it must outlive the history), sampled every every_ms. NULL when out of
 * memory. Free with api_history_free(). */
struct api_history *api_history_new(struct cli *c, int64_t every_ms);

/* Starts the sampling thread (the first sample at once). TF_ERR_NOMEM when
 * it cannot. */
enum tf_err api_history_start(struct api_history *h);

/* Stops the thread and frees h (NULL is fine). */
void api_history_free(struct api_history *h);

/* The samples, oldest first, as {"every_ms", "samples": [{"t", "tasks":
 * {"PENDING", ...}, "total", "queue": {"visible", "in_flight", "delayed"}
 * or null, "dlq": {...} or null}]}. Caller frees with cJSON_Delete(); NULL
 * when out of memory. */
cJSON *api_history_json(struct api_history *h);

#endif /* TF_PRODUCER_API_HISTORY_H */
