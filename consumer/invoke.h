/*
 * invoke.h - calling a runner for one run: in the consumer's own process, or
 * isolated in a worker process, within the runner's time limit.
 *
 * The policy comes from two settings, flags overriding the environment:
 *
 *   --isolate LIST / TASKFLEET_ISOLATE: runner names, comma-separated, or
 *       "*" for all; those run in worker processes (isolate.c), the rest in
 *       this process. Default: none.
 *   --run-timeout SPEC / TASKFLEET_RUN_TIMEOUT: one DURATION for every
 *       runner ("30s", "500ms", "5m"), or "name=DURATION,...", where the
 *       name "*" (or an element without a name) sets the limit of the
 *       runners not named. "0s" means no limit. Default: no limit.
 *
 * A limit makes the run's deadline (tf_inflight.deadline_ms and
 * tf_task_view.deadline_ms, epoch ms). In this process, cancelled() turns
 * true at the deadline, and a run that returns after it fails its attempt
 * (TF_RUN_RETRY, its params and result dropped); a run that never returns
 * is left to the watchdog. Isolated, the worker is told to stop at the
 * deadline and killed a second later.
 */
#ifndef TF_INVOKE_H
#define TF_INVOKE_H

#include <taskfleet/runner.h>

#include "async_run.h"
#include "consumer.h"
#include "host.h"
#include "task/runners.h"

/* The longest time limit accepted: a year. */
#define TF_RUN_TIMEOUT_MAX_MS (366LL * 24 * 3600 * 1000)

/*
 * Reads the isolation and time-limit settings (o->isolate or
 * TASKFLEET_ISOLATE, o->run_timeout or TASKFLEET_RUN_TIMEOUT; borrowed) and
 * records them on the runners of set (tf_runner_set_isolate(),
 * tf_runner_set_time_limit()). Call after loading the set and before
 * initialising it. TF_ERR_INVALID with a one-line message naming the
 * setting in err when a value does not parse or names a runner that is not
 * loaded (a usage error: exit 2).
 */
enum tf_err tf_consumer_policy(const struct tf_consumer_opts *o,
    struct tf_runner_set *set, char *err, size_t errlen);

/*
 * Runs one iteration of view's task with runner lr and fills result (prepared
 * by the caller with tf_run_result_prepare()). ctx is the run's host context
 * (its inflight entry is registered with the heartbeat); all borrowed. Sets
 * the run's deadline in ctx->f and view from lr's time limit first.
 */
void tf_consumer_invoke(struct tf_consumer *c, const struct tf_loaded_runner *lr,
    struct tf_task_view *view, struct tf_run_result *result,
    struct tf_run_ctx *ctx);

/*
 * Begins one iteration of view's task with runner lr's start() on the
 * consumer's loop (lr in the asynchronous style: tf_loaded_runner_starts()),
 * as tf_consumer_invoke() does with run(): the deadline first, the crash
 * journal's slot marked around the call. Returns true when the run is
 * pending: done(arg) runs on the loop once the runner completed, and the
 * caller then ends it with tf_consumer_begun_end(); view, result and ctx
 * are borrowed until then. false when the run is over (result settled and
 * checked against the limit; done is not called).
 */
bool tf_consumer_begin(struct tf_consumer *c, const struct tf_loaded_runner *lr,
    struct tf_task_view *view, struct tf_run_result *result,
    struct tf_run_ctx *ctx, int slot, tf_async_done_fn *done, void *arg);

/* Ends a run tf_consumer_begin() left pending, after its completion: the
 * result made safe to read (tf_run_result_settle(), with the host's error
 * buffer errbuf of errsize bytes), and a run that completed after its
 * deadline made a failed attempt. */
void tf_consumer_begun_end(const struct tf_loaded_runner *lr,
    const struct tf_task_view *view, struct tf_run_result *result,
    char *errbuf, size_t errsize, struct tf_run_ctx *ctx);

/*
 * Makes a run that ended after its deadline a failed attempt: TF_RUN_RETRY
 * "run exceeded its time limit of N ms" (limit_ms), its params and result
 * dropped. For the in-process and the isolated mode alike.
 */
void tf_run_overrun(struct tf_run_result *result, struct tf_run_ctx *ctx,
    int64_t limit_ms);

#endif /* TF_INVOKE_H */
