/*
 * consumer.h - the consumer daemon's state, shared by its modules.
 *
 * One receiver thread long-polls SQS and never takes more messages than there
 * are free workers, so every message it holds starts at once; `concurrency`
 * worker threads run the processing algorithm of docs/design.md section 5
 * on one message each; the heartbeat thread keeps running tasks leased; the
 * deleter thread deletes finished messages in batches.
 */
#ifndef TF_CONSUMER_H
#define TF_CONSUMER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <taskfleet/runner.h>

#include "aws/sqs.h"
#include "base/config.h"
#include "deleter.h"
#include "inflight.h"
#include "journal.h"
#include "once.h"
#include "sweeper.h"
#include "task/runners.h"
#include "watchdog.h"

struct tf_metrics;
struct tf_metrics_server;

struct tf_consumer_opts {
	int concurrency;            /* worker threads */
	int visibility_s;           /* message visibility and lease, seconds */
	int wait_s;                 /* long poll, seconds */
	int shutdown_timeout_s;     /* for running tasks after SIGTERM */
	int64_t skew_ms;            /* a claim accepts tasks due this much later */
	int64_t hold_max_ms;        /* messages this early are held until due */
	const char *owner;          /* borrowed: the lease owner name */
	int64_t watchdog_ms;        /* the receive loop may stall this long
	                               before the watchdog acts; 0: never */
	bool stall_receiver;        /* tests only (TASKFLEET_TEST_STALL_RECEIVER=1):
	                               the receive loop hangs after its first
	                               receive, for the watchdog's test */
	bool duplicate_sends;       /* tests only (TASKFLEET_TEST_DUPLICATE_SENDS=1):
	                               every message is sent twice, as SQS's
	                               at-least-once delivery may deliver it */
	/* Isolated mode and run time limits (invoke.c, isolate.c): */
	const char *isolate;        /* borrowed: --isolate, or NULL for
	                               TASKFLEET_ISOLATE */
	const char *run_timeout;    /* borrowed: --run-timeout, or NULL for
	                               TASKFLEET_RUN_TIMEOUT */
	bool once;                  /* --once: one sweep, run what is due,
	                               then stop (once.h) */
};

struct tf_consumer {
	struct tf_consumer_opts o;
	const struct tf_config *cfg;        /* borrowed */
	struct tf_context *ctx;             /* borrowed: AWS client, queue URL */
	struct tf_runner_set *runners;      /* borrowed */
	struct tf_deleter *deleter;         /* owned */
	struct tf_heartbeat *hb;            /* owned */
	struct tf_aws *hb_aws;              /* owned: the heartbeat's client */
	struct tf_sweeper *sweeper;         /* owned */

	struct tf_watchdog *watchdog;       /* owned */
	struct tf_journal *journal;         /* owned: the crash journal
	                                       (journal.c), NULL when off */

	atomic_int stopping;                /* stop receiving (the open receive
	                                       returns first) */
	atomic_int receive_cancel;          /* aborts the open receive: set by
	                                       tf_consumer_shutdown() once its
	                                       bound passed */
	atomic_int abandon;                 /* shutdown timeout passed */
	atomic_llong stopping_since_ms;     /* monotonic; 0 while running */
	atomic_llong receiver_beat_ms;      /* the receive loop's last progress
	                                       (monotonic), for the watchdog */
	atomic_int watchdog_fired;          /* the watchdog started the stop:
	                                       the consumer exits non-zero */
	atomic_int receive_limit;           /* runs taken at once, lowered while
	                                       AWS throttles (backpressure) */
	struct tf_once *once;               /* owned: --once's state, NULL for
	                                       a daemon */
	atomic_int drained;                 /* --once: the receiver stopped, as
	                                       nothing more is due (or it could
	                                       not receive); main() stops */

	pthread_mutex_t lock;               /* guards the fields below */
	pthread_cond_t work;                /* a message was queued, or stopping */
	pthread_cond_t space;               /* a worker became free */
	struct tf_sqs_message *queue;       /* owned ring of concurrency slots */
	size_t q_head, q_len;
	int busy;                           /* messages queued or running */
	int receiver_done;

	pthread_t receiver;
	pthread_t *workers;                 /* owned array */
	int n_workers;

	struct tf_isolate *iso;             /* owned: the worker processes of
	                                       isolated runners (isolate.c) */

	struct tf_metrics *metrics;         /* owned: the counters of /metrics
	                                       (metrics.c), from tf_consumer_start */
	struct tf_metrics_server *metrics_srv;  /* owned: the --metrics-listen
	                                       server, or NULL; stopped by
	                                       tf_consumer_shutdown() before the
	                                       threads whose counters it reads */
};

/* Starts the threads. c->o, cfg, ctx and runners must be set. With
 * c->o.once, first runs one sweep in the caller's thread and starts the
 * drain (once.h): the receiver sets c->drained when it is over. */
enum tf_err tf_consumer_start(struct tf_consumer *c);

/* Stops receiving: lets the open receive return (aborting it only when it
 * outlasts the shutdown timeout) and hands back what it brought; waits for
 * running tasks up to the shutdown timeout; returns unstarted messages with
 * visibility 0. Returns true when every run
 * finished (the threads are joined and c can be freed), false when some did
 * not (the caller exits without freeing). */
bool tf_consumer_shutdown(struct tf_consumer *c);

void tf_consumer_free(struct tf_consumer *c);

/* Logs one line with the AWS requests this consumer made, by operation
 * (retries included), for benchmarks and operators. */
void tf_consumer_log_requests(struct tf_consumer *c);

/* Processes one received message (process.c). */
void tf_consumer_process(struct tf_consumer *c, struct tf_sqs_message *m);

/* Returns a message (borrowed) to the queue, visible at once. A stop lets
 * the open long poll return (consumer.c), so a message SQS hands to it again
 * is read and handed back too. */
void tf_consumer_release(struct tf_consumer *c, const struct tf_sqs_message *m);

#endif /* TF_CONSUMER_H */
