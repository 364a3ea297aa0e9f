/*
 * consumer.h - the consumer daemon's state, shared by its modules.
 *
 * One event loop (lib/loop, on its own thread) drives every run: it keeps
 * as many long polls open as free capacity needs (receive.c), never taking
 * more messages than can start at once; each message becomes a run, a state
 * machine that walks the processing algorithm of docs/design.md section 5
 * with asynchronous AWS calls (process.c), holding early messages on loop
 * timers. Runners that return at once are called on the loop; blocking ones
 * on the runner threads (runpool.h). Up to `concurrency` runs are in flight.
 * Finished messages are deleted in batches on the loop (deleter.h). The
 * heartbeat, a timer on the loop, keeps the leases of blocking runs
 * (inflight.h); the sweeper is a state machine on the loop too (sweeper.h);
 * the watchdog has a thread. docs/design.md section 12 tells the whole
 * design.
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
#include "loop/loop.h"
#include "once.h"
#include "runpool.h"
#include "sweeper.h"
#include "task/priority.h"
#include "task/runners.h"
#include "watchdog.h"

struct tf_metrics;
struct tf_receiver;
struct tf_run;
struct tf_metrics_server;
struct tf_ns_gate;
struct tf_limiter;
struct tf_limits;

struct tf_consumer_opts {
	int concurrency;            /* runs in flight at once */
	int runner_threads;         /* threads calling blocking runners; 0:
	                               concurrency, at most 16 */
	int http_host_connections;  /* connections to one host for runners'
	                               transfers on the loop; 0: concurrency */
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
	const struct tf_limits *limits;  /* borrowed: TASKFLEET_LIMITS, the
	                               limits of keys the table has none for */
};

struct tf_consumer {
	struct tf_consumer_opts o;
	const struct tf_config *cfg;        /* borrowed */
	struct tf_context *ctx;             /* borrowed: AWS client, queue URL */
	struct tf_runner_set *runners;      /* borrowed */
	char *queue_url[TF_PRIORITY__N];    /* owned: the queue of each
	                                       priority (priority.h), indexed
	                                       by a message's `queue` tag */
	struct tf_deleter *deleter[TF_PRIORITY__N];  /* owned: one for each */
	struct tf_heartbeat *hb;            /* owned */
	struct tf_aws *hb_aws;              /* owned: the heartbeat's client */
	struct tf_sweeper *sweeper;         /* owned */

	struct tf_watchdog *watchdog;       /* owned */
	struct tf_journal *journal;         /* owned: the crash journal
	                                       (journal.c), NULL when off */

	atomic_int stopping;                /* stop receiving (the open receives
	                                       return first) */
	atomic_int abandon;                 /* shutdown timeout passed */
	atomic_llong stopping_since_ms;     /* monotonic; 0 while running */
	atomic_llong receiver_beat_ms;      /* the loop's last sign of progress
	                                       (monotonic), for the watchdog */
	atomic_int watchdog_fired;          /* the watchdog started the stop:
	                                       the consumer exits non-zero */
	atomic_int receive_limit;           /* runs taken at once, lowered while
	                                       AWS throttles (backpressure) */
	struct tf_once *once;               /* owned: --once's state, NULL for
	                                       a daemon */
	bool once_swept;                    /* --once: its sweep is over (guarded
	                                       by lock) */
	atomic_int drained;                 /* --once: receiving stopped, as
	                                       nothing more is due (or it could
	                                       not receive); main() stops */

	struct tf_loop *loop;               /* owned: drives every run */
	pthread_t loop_thread;
	bool loop_started;
	struct tf_runpool *pool;            /* owned: calls blocking runners */
	struct tf_ns_gate *ns_gate;         /* owned: the paused namespaces,
	                                       on the loop */
	struct tf_limiter *limiter;         /* owned: limits per key
	                                       (limiter.h), on the loop */

	pthread_mutex_t lock;               /* guards busy and handing_back */
	pthread_cond_t space;               /* either went down */
	int busy;                           /* runs in flight: from their
	                                       message's receipt to its end */
	int handing_back;                   /* hand-back calls in flight */
	atomic_int receives_open;           /* long polls in flight */

	struct tf_receiver *rx;             /* owned: the receive scheduling
	                                       state (receive.c); loop only */
	struct tf_run *held;                /* runs whose message came early,
	                                       waiting on a loop timer (a list,
	                                       process.c); loop only */
	atomic_int held_n;                  /* how many; they take no run's
	                                       slot (written on the loop) */
	struct tf_run *ready, *ready_tail;  /* runs whose hold ended while every
	                                       slot was taken, oldest first
	                                       (loop only) */
	int ready_n;

	struct tf_isolate *iso;             /* owned: the worker processes of
	                                       isolated runners (isolate.c) */

	struct tf_metrics *metrics;         /* owned: the counters of /metrics
	                                       (metrics.c), from tf_consumer_start */
	struct tf_metrics_server *metrics_srv;  /* owned: the --metrics-listen
	                                       server, or NULL; stopped by
	                                       tf_consumer_shutdown() before the
	                                       threads whose counters it reads */
};

/* Starts the threads and the loop. c->o, cfg, ctx and runners must be set.
 * With c->o.once, first runs one sweep in the caller's thread and starts the
 * drain (once.h): the receiver sets c->drained when it is over. */
enum tf_err tf_consumer_start(struct tf_consumer *c);

/* Stops receiving: lets the open receives return (aborting them only when
 * they outlast the shutdown timeout) and hands back what they bring and what
 * waits on a timer; waits for running tasks up to the shutdown timeout.
 * Returns true when every run finished (the threads are joined and c can be
 * freed), false when some did not (the caller exits without freeing). */
bool tf_consumer_shutdown(struct tf_consumer *c);

void tf_consumer_free(struct tf_consumer *c);

/* Logs one line with the AWS requests this consumer made, by operation
 * (retries included), for benchmarks and operators. */
void tf_consumer_log_requests(struct tf_consumer *c);

/* ---- between the modules, on the loop's thread ---------------------------- */

/* receive.c: starts the receive scheduling (TF_ERR_NOMEM), and frees it. */
enum tf_err tf_receiver_start(struct tf_consumer *c);
void tf_receiver_free(struct tf_consumer *c);

/* receive.c: opens as many receives as free capacity needs; called
 * whenever capacity may have changed. */
void tf_receiver_fill(struct tf_consumer *c);

/* receive.c: how long a long poll waits, seconds (what a stop waits for). */
int tf_receiver_wait_s(const struct tf_consumer *c);

/* receive.c: the stop began: no new receive, the hand-back of --once's held
 * messages. */
void tf_receiver_stop(struct tf_consumer *c);

/* process.c: starts the run of message m, whose contents the run takes (m
 * is emptied). Counted in c->busy by the caller; tf_consumer_run_ended()
 * ends it. */
void tf_consumer_process(struct tf_consumer *c, struct tf_sqs_message *m);

/* process.c: the stop began: the runs waiting on their hold timer, or for
 * a slot after it, hand their messages back. */
void tf_consumer_release_held(struct tf_consumer *c);

/* process.c: starts the runs that wait for a slot, while slots are free. */
void tf_consumer_start_ready(struct tf_consumer *c);

/* The most messages held until their time at once: they cost a timer and
 * a struct, not a run's slot, but each must find a slot soon after. */
#define TF_CONSUMER_HOLD_MIN 256
int tf_consumer_hold_cap(const struct tf_consumer *c);

/* consumer.c: the URL of the queue a message tagged q came from (borrowed,
 * valid while c is). */
const char *tf_consumer_queue_url(const struct tf_consumer *c, int q);

/* consumer.c: a run is over (c->busy goes down; receives may open). */
void tf_consumer_run_ended(struct tf_consumer *c);

/* consumer.c: hands back the n messages (borrowed; strings copied) to the
 * queues they came from, to be
 * visible again after visibility_s (0: at once, none of them started;
 * ChangeMessageVisibilityBatch in batches), `what` saying why in the log;
 * the shutdown waits for these calls. */
void tf_consumer_hand_back(struct tf_consumer *c,
    const struct tf_sqs_message *msgs, size_t n, int visibility_s,
    const char *what);

#endif /* TF_CONSUMER_H */
