/*
 * loop.h - one event loop that drives HTTP transfers, timers and hand-offs.
 *
 * A tf_loop owns a libuv loop and a curl multi handle joined through curl's
 * multi-socket interface: libuv watches the sockets and the one timer curl
 * asks for, curl is told what happened (curl_multi_socket_action) and reports
 * finished transfers, whose callbacks then run on the loop. Every transfer of
 * a loop shares the multi handle's connection cache, so connections are kept
 * alive and reused (the pool's size is a setting).
 *
 * Threads: everything but tf_loop_post() and tf_loop_stop() must be called on
 * the thread running tf_loop_run() (or on the creating thread before it
 * runs). Every callback runs on that thread and must not block; blocking work
 * goes to tf_loop_work().
 *
 * Callbacks are called exactly once for every submission that returned TF_OK,
 * never from inside the submitting call. Stopping cancels what is in flight:
 * transfers, timers, work not yet started and posted functions are called
 * back with TF_ERR_CANCELLED, work already running is waited for.
 */
#ifndef TF_LOOP_H
#define TF_LOOP_H

#include <stddef.h>

#include "aws/http.h"
#include "base/err.h"

struct tf_loop;
struct tf_loop_timer;
struct tf_loop_easy;

struct tf_loop_config {
	long max_host_connections;  /* connections open to one host at once,
	                               and transfers of one origin on the wire
	                               (more wait in the loop); 0: 64 */
	long max_connections;       /* idle connections kept alive in the pool;
	                               0: max_host_connections * 2 */
	long max_transfers;         /* transfers on the wire at once; more wait
	                               in order of submission, holding no curl
	                               handle or buffer; 0: max_connections */
	long hook_host_connections; /* tf_loop_easy()'s connections open to one
	                               host at once (more transfers wait for
	                               one; 4 times as many idle ones are kept
	                               alive); 0: 64 */
};

/* A function run later on the loop; rc is TF_OK, or TF_ERR_CANCELLED when
 * the loop stopped before it could run. */
typedef void tf_loop_fn(void *ctx, enum tf_err rc);

/* A finished transfer: rc as tf_http_perform() returns it. resp is borrowed
 * for the callback (the callee may move resp->body out with a tf_buf swap);
 * errtext is borrowed ("" when there was no transport error). */
typedef void tf_loop_http_cb(void *ctx, enum tf_err rc,
    struct tf_http_response *resp, const char *errtext);

/* Creates a loop (cfg may be NULL: defaults). Caller frees with
 * tf_loop_free(). */
enum tf_err tf_loop_new(const struct tf_loop_config *cfg, struct tf_loop **out);

/* Runs the loop on this thread until tf_loop_stop(); then cancels everything
 * still pending (see above) and returns. A loop runs once. */
enum tf_err tf_loop_run(struct tf_loop *loop);

/* Asks the loop to stop; thread-safe, and may be called from a callback. */
void tf_loop_stop(struct tf_loop *loop);

/* Cancels whatever a loop that never ran still holds, then frees it; NULL is
 * fine. Call after tf_loop_run() returned, on the thread that ran it. */
void tf_loop_free(struct tf_loop *loop);

/* Starts req on the loop. req and everything it points to are borrowed until
 * cb is called. TF_ERR_CANCELLED when the loop is stopping (cb not called). */
enum tf_err tf_loop_http(struct tf_loop *loop, const struct tf_http_request *req,
    tf_loop_http_cb *cb, void *ctx);

/* Calls fn(ctx, TF_OK) on the loop after delay_ms. *out (out may be NULL)
 * names the timer for tf_loop_timer_cancel(); it is valid until fn runs. */
enum tf_err tf_loop_after(struct tf_loop *loop, long delay_ms, tf_loop_fn *fn,
    void *ctx, struct tf_loop_timer **out);

/* Cancels a timer that has not fired: fn is not called, t is freed. */
void tf_loop_timer_cancel(struct tf_loop_timer *t);

/* Hands fn to the loop from any thread: fn(ctx, TF_OK) runs on the loop soon
 * after, in the order of posting. TF_ERR_CANCELLED when the loop is stopping
 * (fn not called); TF_ERR_NOMEM. */
enum tf_err tf_loop_post(struct tf_loop *loop, tf_loop_fn *fn, void *ctx);

/* Runs work(ctx) on a thread of libuv's pool (it may block), then
 * done(ctx, TF_OK) on the loop; done(ctx, TF_ERR_CANCELLED) without work
 * when the loop stopped before a thread took it. */
enum tf_err tf_loop_work(struct tf_loop *loop, void (*work)(void *ctx),
    tf_loop_fn *done, void *ctx);

/* Transfers in flight (started and not yet called back). */
size_t tf_loop_transfers(const struct tf_loop *loop);

/* A finished handed-in transfer: cc is curl's result for it
 * (CURLE_ABORTED_BY_CALLBACK when the loop stopped first); easy is the
 * caller's again. */
typedef void tf_loop_easy_cb(void *ctx, CURLcode cc, CURL *easy);

/*
 * Performs a transfer the caller set up on its own easy handle (every option
 * but CURLOPT_PRIVATE, which the loop takes), on a second multi handle of
 * the loop: its own connection cache (kept alive, reused per host) and
 * per-host limit (tf_loop_config.hook_host_connections), apart from the
 * AWS calls'. easy is borrowed until cb runs or tf_loop_easy_cancel().
 * *out (out may be NULL) names the transfer until then.
 * TF_ERR_CANCELLED when the loop is stopping, TF_ERR_NOMEM (cb not called).
 */
enum tf_err tf_loop_easy(struct tf_loop *loop, CURL *easy, tf_loop_easy_cb *cb,
    void *ctx, struct tf_loop_easy **out);

/* Takes a transfer off the loop before it finished: cb is not called, the
 * easy handle is the caller's again. */
void tf_loop_easy_cancel(struct tf_loop_easy *e);

/* Handed-in transfers in flight (waiting for a connection included). */
size_t tf_loop_easy_transfers(const struct tf_loop *loop);

#endif /* TF_LOOP_H */
