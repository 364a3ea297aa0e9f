/*
 * isolate.h - the worker processes of isolated runners.
 *
 * Each runner marked isolated (tf_runner_set_isolate(), from --isolate) runs
 * in a pool of worker processes (runner_worker.c): up to the consumer's
 * concurrency of them per runner, started when needed and reused, one run
 * at a time each. A worker that crashes, exits, or has to be killed fails
 * the run it had (TF_RUN_RETRY) and is replaced by the next run that needs
 * one. Workers are started from one thread of the pool that lives as long
 * as the pool, so they die with the consumer (PR_SET_PDEATHSIG).
 *
 * Threads: tf_isolate_run() from any number of worker threads at once;
 * start and stop from one thread, stop after the last run returned.
 */
#ifndef TF_ISOLATE_H
#define TF_ISOLATE_H

#include <taskfleet/runner.h>

#include "consumer.h"
#include "host.h"
#include "task/runners.h"

struct tf_isolate;

/*
 * Starts the pool for the isolated runners of c->runners (none: c->iso
 * stays NULL) and one worker for each, waiting until each has run its
 * runner's init(). TF_ERR_INVALID when a worker does not start or its init()
 * fails, after logging why (naming the runner and its file); nothing is
 * left running then. On TF_OK c->iso is the pool; stop it with
 * tf_isolate_stop().
 */
enum tf_err tf_isolate_start(struct tf_consumer *c);

/*
 * Closes every worker's socket (they call fini() and exit), reaps them,
 * killing those still there after a few seconds, and frees the pool. Sets
 * c->iso to NULL; does nothing when it is NULL.
 */
void tf_isolate_stop(struct tf_consumer *c);

/*
 * Runs one iteration of view's task in a worker of isolated runner lr and
 * fills result and ctx's new params and result document, as
 * tf_runner_invoke() and the host table would in this process. Stops the
 * run (SIGUSR1, then SIGKILL a second later) at view->deadline_ms, when
 * ctx->f->lost is set or c->abandon; all borrowed.
 */
void tf_isolate_run(struct tf_consumer *c, const struct tf_loaded_runner *lr,
    const struct tf_task_view *view, struct tf_run_result *result,
    struct tf_run_ctx *ctx);

#endif /* TF_ISOLATE_H */
