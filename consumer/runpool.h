/*
 * runpool.h - the threads that call blocking runners.
 *
 * A runner built against the ABI's blocking run() holds a thread for the
 * whole run. The consumer's event loop never waits on one: it hands the
 * call to this pool of `threads` threads and goes on with every other run.
 * The pool's size is a setting (--runner-threads, TASKFLEET_RUNNER_THREADS),
 * independent of how many runs are in flight waiting on AWS; calls beyond
 * it wait in order for a free thread.
 */
#ifndef TF_RUNPOOL_H
#define TF_RUNPOOL_H

#include "base/err.h"

struct tf_runpool;

/* A call to make on a pool thread; it may block. */
typedef void tf_runpool_fn(void *ctx);

/* Makes a pool of up to `threads` threads (at least 1), started as work
 * needs them (a job queued while none is idle starts one). Caller stops the
 * pool with tf_runpool_stop(). */
enum tf_err tf_runpool_start(int threads, struct tf_runpool **out);

/* Queues fn(ctx) for the next free thread. TF_ERR_NOMEM, or
 * TF_ERR_CANCELLED when the pool is stopping (fn is not called). Any
 * thread. */
enum tf_err tf_runpool_submit(struct tf_runpool *p, tf_runpool_fn *fn,
    void *ctx);

/* Lets the threads finish what is queued, joins them and frees p; NULL is
 * fine. */
void tf_runpool_stop(struct tf_runpool *p);

#endif /* TF_RUNPOOL_H */
