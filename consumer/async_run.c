/* async_run.c - transfers, timers, cancellation and completion of runs begun
 * with start() (async_run.h). */
#include "async_run.h"

#include <stdatomic.h>
#include <stdbool.h>

#include <curl/curl.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "host.h"
#include "journal.h"
#include "loop/loop.h"

/* The longest a cancelled run goes unnoticed (a lost lease, a stop past its
 * grace period); the time limit is looked at on time. */
#define WATCH_MS 250

/* One transfer or timer the runner asked for. */
struct op {
	struct op *prev, *next;           /* run->ops */
	struct tf_async_run *run;
	struct tf_loop_easy *xfer;        /* a transfer: the loop's */
	void *easy;                       /* its easy handle: the runner's */
	struct tf_loop_timer *timer;      /* a timer: the loop's */
	tf_host_http_cb *http_cb;
	tf_host_timer_cb *timer_cb;
	void *user;                       /* borrowed: the runner's */
};

struct tf_async_run {
	struct tf_consumer *c;            /* borrowed */
	struct tf_run_ctx *ctx;           /* borrowed: the run's */
	int slot;                         /* crash journal slot, -1: none */
	struct op *ops;                   /* pending, owned */
	struct tf_loop_timer *watch;      /* the cancellation check */
	bool cancelled;                   /* ops were called back cancelled */
	atomic_bool completed;            /* complete() was called */
	tf_async_done_fn *done;
	void *arg;                        /* borrowed: done's */
};

static void
op_unlink(struct op *o)
{
	struct tf_async_run *run = o->run;

	if (o->prev != NULL)
		o->prev->next = o->next;
	else
		run->ops = o->next;
	if (o->next != NULL)
		o->next->prev = o->prev;
}

static void
op_link(struct tf_async_run *run, struct op *o)
{
	o->run = run;
	o->prev = NULL;
	o->next = run->ops;
	if (run->ops != NULL)
		run->ops->prev = o;
	run->ops = o;
}

/* Calls the runner's callback of o (unlinked) with "cancelled" or its
 * result, inside the crash journal's mark for the run, and frees o. */
static void
op_finish(struct op *o, bool cancelled, int curl_code, void *easy)
{
	struct tf_async_run *run = o->run;

	tf_journal_enter(run->c->journal, run->slot);
	if (o->http_cb != NULL)
		o->http_cb(o->user, cancelled ? TF_HOST_HTTP_CANCELLED : curl_code,
		    easy);
	else
		o->timer_cb(o->user, cancelled);
	tf_journal_leave(run->c->journal);
	tf_free(o);
}

/* The run is cancelled: every pending transfer and timer is taken off the
 * loop and called back cancelled; none is accepted afterwards. */
static void
cancel_ops(struct tf_async_run *run)
{
	struct op *o;

	run->cancelled = true;
	while ((o = run->ops) != NULL) {
		op_unlink(o);
		if (o->xfer != NULL)
			tf_loop_easy_cancel(o->xfer);
		else
			tf_loop_timer_cancel(o->timer);
		op_finish(o, true, 0, o->easy);
	}
}

static void on_watch(void *arg, enum tf_err rc);

/* Arms the watch for WATCH_MS from now, or the deadline when sooner. */
static void
watch(struct tf_async_run *run)
{
	int64_t wait = WATCH_MS, deadline = atomic_load(&run->ctx->f->deadline_ms);

	if (deadline > 0 && deadline - tf_now_ms() < wait)
		wait = deadline - tf_now_ms() > 0 ? deadline - tf_now_ms() : 0;
	if (tf_loop_after(run->c->loop, (long)wait, on_watch, run,
	    &run->watch) != TF_OK)
		run->watch = NULL;
}

static void
on_watch(void *arg, enum tf_err rc)
{
	struct tf_async_run *run = arg;

	run->watch = NULL;
	if (rc != TF_OK) {
		/* The loop stops: whatever is pending is called back by it. */
		return;
	}
	if (!run->cancelled && tf_host_api()->cancelled(run->ctx)) {
		cancel_ops(run);
		return;  /* no more looking: the runner completes */
	}
	if (!run->cancelled)
		watch(run);
}

static void
run_free(struct tf_async_run *run)
{
	tf_loop_timer_cancel(run->watch);
	run->ctx->async = NULL;
	tf_free(run);
}

/* On the loop: the runner completed. */
static void
on_completed(void *arg, enum tf_err rc)
{
	struct tf_async_run *run = arg;
	tf_async_done_fn *done = run->done;
	void *done_arg = run->arg;

	if (run->ops != NULL) {
		struct tf_log_field f[] = {
			{ "task", run->ctx->task_id }, { "runner", run->ctx->runner },
		};

		tf_log_fields(TF_LOG_ERROR, f, 2, "the runner completed with "
		    "transfers or timers still pending: they are cancelled without "
		    "a callback");
		while (run->ops != NULL) {
			struct op *o = run->ops;

			op_unlink(o);
			if (o->xfer != NULL)
				tf_loop_easy_cancel(o->xfer);
			else
				tf_loop_timer_cancel(o->timer);
			tf_free(o);
		}
	}
	run_free(run);
	done(done_arg);
}

enum tf_err
tf_async_run_begin(struct tf_consumer *c, struct tf_run_ctx *ctx, int slot,
    tf_async_done_fn *done, void *arg)
{
	struct tf_async_run *run = tf_calloc(1, sizeof(*run));

	if (run == NULL)
		return TF_ERR_NOMEM;
	run->c = c;
	run->ctx = ctx;
	run->slot = slot;
	run->done = done;
	run->arg = arg;
	atomic_init(&run->completed, false);
	ctx->async = run;
	watch(run);
	if (run->watch == NULL) {
		run_free(run);
		return TF_ERR_CANCELLED;
	}
	return TF_OK;
}

void
tf_async_run_drop(struct tf_run_ctx *ctx)
{
	struct tf_async_run *run = ctx->async;

	if (run == NULL)
		return;
	/* start() said done: it may not leave anything pending, but a runner
	 * that does gets its callbacks cancelled now, not later. */
	cancel_ops(run);
	run_free(run);
}

void
tf_async_complete(struct tf_run_ctx *ctx)
{
	struct tf_async_run *run = ctx != NULL ? ctx->async : NULL;

	if (run == NULL || atomic_exchange(&run->completed, true))
		return;  /* not an asynchronous run, or completed already */
	if (tf_loop_post(run->c->loop, on_completed, run) != TF_OK)
		tf_log(TF_LOG_WARN, "a run completed after the event loop stopped; "
		    "its lease expires");
}

static void
on_transfer_done(void *arg, CURLcode cc, CURL *easy)
{
	struct op *o = arg;

	op_unlink(o);
	/* The loop stopping aborts transfers: the run is cancelled then. */
	op_finish(o, cc == CURLE_ABORTED_BY_CALLBACK && o->run->cancelled,
	    (int)cc, easy);
}

int
tf_async_http(struct tf_run_ctx *ctx, void *curl_easy, tf_host_http_cb *cb,
    void *user)
{
	struct tf_async_run *run = ctx != NULL ? ctx->async : NULL;
	struct op *o;

	if (run == NULL || run->cancelled || curl_easy == NULL || cb == NULL ||
	    atomic_load(&run->completed))
		return -1;
	if ((o = tf_calloc(1, sizeof(*o))) == NULL)
		return -1;
	o->http_cb = cb;
	o->easy = curl_easy;
	o->user = user;
	op_link(run, o);
	if (tf_loop_easy(run->c->loop, curl_easy, on_transfer_done, o,
	    &o->xfer) != TF_OK) {
		op_unlink(o);
		tf_free(o);
		return -1;
	}
	return 0;
}

static void
on_timer_done(void *arg, enum tf_err rc)
{
	struct op *o = arg;

	op_unlink(o);
	op_finish(o, rc != TF_OK, 0, NULL);
}

int
tf_async_after(struct tf_run_ctx *ctx, int64_t delay_ms, tf_host_timer_cb *cb,
    void *user)
{
	struct tf_async_run *run = ctx != NULL ? ctx->async : NULL;
	struct op *o;

	if (run == NULL || run->cancelled || cb == NULL || delay_ms < 0 ||
	    atomic_load(&run->completed))
		return -1;
	if ((o = tf_calloc(1, sizeof(*o))) == NULL)
		return -1;
	o->timer_cb = cb;
	o->user = user;
	op_link(run, o);
	if (tf_loop_after(run->c->loop, delay_ms > 0x7fffffff ? 0x7fffffffL :
	    (long)delay_ms, on_timer_done, o, &o->timer) != TF_OK) {
		op_unlink(o);
		tf_free(o);
		return -1;
	}
	return 0;
}
