/*
 * async_run.h - the host side of an asynchronous run (runner ABI 1.2,
 * start()): the HTTP transfers and timers a runner asks for on the
 * consumer's event loop, its cancellation, and its completion.
 *
 * A run begun with start() holds no thread: it is this struct, its pending
 * transfers (easy handles on the loop's webhook multi, tf_loop_easy()) and
 * timers, and one watch timer that looks at cancelled() (lease lost, stop
 * past its grace period, time limit passed) at most WATCH_MS apart and at
 * the deadline. Once the run is cancelled every pending transfer and timer
 * is called back cancelled, and no new one is accepted; the runner then
 * completes. complete() may come from any thread: the end is posted to the
 * loop.
 *
 * Threads: everything but tf_async_complete() runs on the loop thread.
 */
#ifndef TF_ASYNC_RUN_H
#define TF_ASYNC_RUN_H

#include <stdint.h>

#include <taskfleet/runner.h>

#include "base/err.h"
#include "consumer.h"

struct tf_run_ctx;

/* Called on the loop once the run completed (arg: the caller's). */
typedef void tf_async_done_fn(void *arg);

/*
 * Prepares ctx (borrowed until done runs or tf_async_run_drop()) for an
 * asynchronous run whose crash-journal slot is `slot` (-1: none) and starts
 * its watch. done(arg) runs on the loop after the runner's complete().
 * TF_ERR_NOMEM, TF_ERR_CANCELLED (the loop is stopping).
 */
enum tf_err tf_async_run_begin(struct tf_consumer *c, struct tf_run_ctx *ctx,
    int slot, tf_async_done_fn *done, void *arg);

/* Undoes tf_async_run_begin() for a run that ended without being pending
 * (start() returned TF_START_DONE): nothing is called back. */
void tf_async_run_drop(struct tf_run_ctx *ctx);

/* The host functions of runner ABI 1.2 (struct tf_host_api): complete,
 * http and after. ctx is the run's (NULL or a run not begun here: -1, or
 * nothing for complete). */
void tf_async_complete(struct tf_run_ctx *ctx);
int tf_async_http(struct tf_run_ctx *ctx, void *curl_easy, tf_host_http_cb *cb,
    void *user);
int tf_async_after(struct tf_run_ctx *ctx, int64_t delay_ms,
    tf_host_timer_cb *cb, void *user);

#endif /* TF_ASYNC_RUN_H */
