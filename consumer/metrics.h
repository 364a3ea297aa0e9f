/*
 * metrics.h - what the consumer counts, in the Prometheus text format, and
 * the small HTTP server (--metrics-listen) that serves it with the health
 * and readiness probes.
 *
 * Counting is lock-free (C11 atomics): the receiver and the workers call the
 * tf_metrics_* counting functions on their hot paths. The counters of
 * other modules (the AWS clients' requests by operation, the sweeper's
 * enqueues and recoveries) and the gauges (tasks in flight, the receive
 * limit) are read when /metrics is scraped.
 *
 * The server is libmicrohttpd with its own threads (one per connection, a
 * few at most), bound to the one address given. GET (and HEAD) only:
 *   /metrics  the text exposition format 0.0.4;
 *   /healthz  200 "ok" while the receive loop makes progress and the
 *             event loop's heartbeat ticks; 503 with the reason otherwise,
 *             and from the moment the consumer starts stopping;
 *   /readyz   200 "ok" when the credentials work and the table and the
 *             queue answer (a GetItem of a key no task has and a
 *             GetQueueAttributes, at most once per TF_METRICS_READY_TTL_MS
 *             whatever the number of probes) and the sweeper's last sweep
 *             could query the by_due index; 503 with the reason otherwise.
 * Other methods get 405, other paths 404.
 */
#ifndef TF_METRICS_H
#define TF_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "aws/aws.h"
#include "base/buf.h"
#include "base/err.h"

struct tf_consumer;
struct tf_runner_set;

/* How a run ended: the "outcome" of its log line. */
enum tf_metrics_outcome {
	TF_METRICS_SUCCESS,       /* ran; the task continues (next iteration) */
	TF_METRICS_COMPLETED,     /* ran; the task is COMPLETED */
	TF_METRICS_RETRY,         /* retryable error; retried after a backoff */
	TF_METRICS_FAILED,        /* the task is FAILED */
	TF_METRICS_LEASE_LOST,    /* the lease was lost; the result discarded */
	TF_METRICS_WRITE_FAILED,  /* the outcome could not be written */
	TF_METRICS_PAUSED,        /* not run: its namespace is paused; suspended */
	TF_METRICS__OUTCOMES
};

/* Why a received message did not lead to a run (claims_lost). */
enum tf_metrics_lost {
	TF_METRICS_LOST_STALE,     /* an older generation's message */
	TF_METRICS_LOST_EARLY,     /* the live message, before its due time */
	TF_METRICS_LOST_FINISHED,  /* the task is completed, failed or suspended */
	TF_METRICS_LOST_MISSING,   /* no such task */
	TF_METRICS_LOST_INVALID,   /* the item is not a valid task */
	TF_METRICS_LOST_CHANGED,   /* the item changed during the claim */
	TF_METRICS_LOST_ERROR,     /* the claim or the read failed (AWS error) */
	TF_METRICS__LOST
};

/* The runner label of runs whose runner this consumer has not loaded. */
#define TF_METRICS_UNKNOWN_RUNNER "(unknown)"

/* Readiness is checked against AWS at most this often. */
#define TF_METRICS_READY_TTL_MS 5000

struct tf_metrics;

/* Creates the counters, with one set per runner of set (borrowed; may be
 * NULL) and one for TF_METRICS_UNKNOWN_RUNNER. Caller frees with
 * tf_metrics_free(). NULL when out of memory. */
struct tf_metrics *tf_metrics_new(const struct tf_runner_set *set);
void tf_metrics_free(struct tf_metrics *m);

/* Counting. Any thread; m may be NULL (nothing is counted). */
void tf_metrics_received(struct tf_metrics *m, size_t n);
void tf_metrics_released(struct tf_metrics *m);
void tf_metrics_malformed(struct tf_metrics *m);
void tf_metrics_claim_won(struct tf_metrics *m);
void tf_metrics_chained(struct tf_metrics *m);
/* A run that limits held back waited_ms before it started (limiter.h). */
void tf_metrics_limited(struct tf_metrics *m, int64_t waited_ms);
void tf_metrics_claim_lost(struct tf_metrics *m, enum tf_metrics_lost why);
/* A run of runner (a loaded runner's name, else TF_METRICS_UNKNOWN_RUNNER)
 * that took duration_ms and, when late_known, started late_ms after its due
 * time (a start before it, within the claim's skew, counts as 0). */
void tf_metrics_run(struct tf_metrics *m, const char *runner,
    enum tf_metrics_outcome outcome, int64_t duration_ms, bool late_known,
    int64_t late_ms);

/* The counts of runs and lost claims, summed over the runners. */
struct tf_metrics_totals {
	long runs[TF_METRICS__OUTCOMES];
	long claims_lost[TF_METRICS__LOST];
};

/* Fills *out from m (borrowed); any thread. */
void tf_metrics_totals(const struct tf_metrics *m,
    struct tf_metrics_totals *out);

/* The values read from elsewhere when /metrics is scraped. */
struct tf_metrics_sources {
	const struct tf_aws_op_count *ops;  /* borrowed: the AWS clients'
	                                       counts, one entry per operation */
	size_t n_ops;
	long aws_retries;            /* retries of both clients */
	long aws_throttled_calls;    /* calls still throttled after retries */
	long sweeps;                 /* the sweeper's counters */
	long sweeper_enqueued;
	long sweeper_recovered;
	int in_flight;               /* messages received and not yet done */
	int held;                    /* of those, held on a timer until due */
	int receive_limit;           /* messages taken at once (backpressure) */
	int concurrency;             /* worker threads */
};

/* Appends the exposition of m and s (both borrowed) to out: # HELP and
 * # TYPE for every family, counters ending in _total, seconds as the unit.
 * TF_ERR_NOMEM when out could not grow. */
enum tf_err tf_metrics_render(const struct tf_metrics *m,
    const struct tf_metrics_sources *s, struct tf_buf *out);

/* Appends s to out as a label value (backslash, double quote and newline
 * escaped). */
void tf_metrics_label_append(struct tf_buf *out, const char *s);

struct tf_metrics_server;

/*
 * Binds addr (borrowed) and starts serving. Until tf_metrics_server_attach()
 * every path answers 503 "starting". On TF_OK *out is the server; stop it
 * with tf_metrics_server_stop(). Otherwise TF_ERR_IO (or TF_ERR_NOMEM) with
 * the reason in err.
 */
enum tf_err tf_metrics_server_start(const struct sockaddr *addr,
    socklen_t addrlen, struct tf_metrics_server **out, char *err,
    size_t errlen);

/* The port the server listens on (the one picked when 0 was asked for). */
int tf_metrics_server_port(const struct tf_metrics_server *srv);

/* Starts answering for c (borrowed): its counters, its threads, its AWS
 * clients must stay until tf_metrics_server_stop(). Call it once c runs. */
void tf_metrics_server_attach(struct tf_metrics_server *srv,
    struct tf_consumer *c);

/* Stops the server, waiting for requests being answered, and frees it;
 * NULL is fine. */
void tf_metrics_server_stop(struct tf_metrics_server *srv);

#endif /* TF_METRICS_H */
