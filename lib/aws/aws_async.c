/* aws_async.c - signed AWS calls on an event loop, retried on loop timers. */
#include "aws/aws_async.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"

/* One call in flight: a small state machine. Each state has one function
 * that advances it: on_timer -> start_attempt (credentials ready?) ->
 * on_creds (after a fetch off the loop) -> send_attempt -> on_answer ->
 * on_timer again after a backoff, or finish. */
struct call {
	struct tf_aws *aws;             /* borrowed */
	struct tf_loop *loop;           /* borrowed */
	enum tf_aws_service svc;
	char operation[64];
	char *body;                     /* owned, terminated */
	size_t len;
	long timeout_ms;
	int no_retry;
	tf_aws_async_cb *cb;
	void *ctx;                      /* borrowed: the caller's */
	int attempt;
	int throttled, retried_cost;
	struct tf_aws_signed sig;       /* the attempt on the wire */
	int signed_ok;                  /* sig holds something to free */
	struct tf_creds *fetched;       /* owned, only while the chain is
	                                   asked off the loop (fetch_creds) */
	enum tf_err creds_rc;
	struct tf_aws_error err;
};

static void start_attempt(struct call *c);

/* Wipes and frees the credentials fetched off the loop, if any. */
static void
free_fetched(struct call *c)
{
	if (c->fetched != NULL) {
		explicit_bzero(c->fetched, sizeof(*c->fetched));
		tf_free(c->fetched);
		c->fetched = NULL;
	}
}

static void
call_free(struct call *c)
{
	if (c->signed_ok)
		tf_aws_signed_free(&c->sig);
	free_fetched(c);
	tf_free(c->body);
	tf_free(c);
}

/* Ends the call with rc: counts it, calls back, frees it. */
static void
finish(struct call *c, enum tf_err rc, const char *body, size_t len)
{
	if (rc == TF_OK)
		memset(&c->err, 0, sizeof(c->err));
	else if (c->err.code == TF_OK)
		/* Failed before AWS or the transport said anything. */
		snprintf(c->err.message, sizeof(c->err.message), "%s",
		    tf_strerror(rc));
	if (rc != TF_OK) {
		c->err.code = rc;
		snprintf(c->err.operation, sizeof(c->err.operation), "%s",
		    c->operation);
		c->err.attempts = c->attempt;
	}
	tf_aws_call_end(c->aws, c->svc, c->operation, c->attempt, c->throttled,
	    c->retried_cost, rc);
	c->cb(c->ctx, rc, body ? body : "", body ? len : 0, &c->err);
	call_free(c);
}

/* A timer's end: the first attempt (a 0 ms timer, so cb is never called
 * from inside tf_aws_call_async()) or the next one after a backoff. */
static void
on_timer(void *ctx, enum tf_err rc)
{
	struct call *c = ctx;

	if (rc != TF_OK) {
		finish(c, rc, NULL, 0);
		return;
	}
	start_attempt(c);
}

/* The loop's answer to one attempt: done, or retried after a backoff. */
static void
on_answer(void *ctx, enum tf_err rc, struct tf_http_response *resp,
    const char *errtext)
{
	struct call *c = ctx;
	long delay;

	tf_aws_signed_free(&c->sig);
	c->signed_ok = 0;
	c->attempt += tf_aws_resends(c->aws, resp);
	if (rc == TF_OK && resp->status == 200) {
		finish(c, TF_OK, tf_buf_str(&resp->body), resp->body.len);
		return;
	}
	if (!tf_aws_attempt_retryable(c->aws, c->operation, c->attempt, rc, resp,
	    errtext, &c->throttled, &c->err, &rc) || c->no_retry) {
		finish(c, rc, NULL, 0);
		return;
	}
	delay = tf_aws_retry_delay(c->aws, c->operation, c->attempt, NULL, &rc,
	    &c->err, &c->retried_cost);
	if (delay < 0) {
		finish(c, rc, NULL, 0);
		return;
	}
	rc = tf_loop_after(c->loop, delay, on_timer, c, NULL);
	if (rc != TF_OK)
		finish(c, rc, NULL, 0);
}

/* Signs with creds (borrowed for the call) and puts the attempt on the
 * wire. */
static void
send_attempt(struct call *c, const struct tf_creds *creds)
{
	enum tf_err rc;

	rc = tf_aws_sign(c->aws, c->svc, c->operation, c->body, c->len,
	    creds, c->timeout_ms, NULL, &c->sig);
	if (rc != TF_OK) {
		finish(c, rc, NULL, 0);
		return;
	}
	c->signed_ok = 1;
	atomic_fetch_add(&tf_aws_stats(c->aws)->requests, 1);
	rc = tf_loop_http(c->loop, &c->sig.req, on_answer, c);
	if (rc != TF_OK)
		finish(c, rc, NULL, 0);
}

/* On a pool thread: may block on the credential chain. */
static void
fetch_creds(void *ctx)
{
	struct call *c = ctx;

	c->creds_rc = tf_aws_fetch_creds(c->aws, tf_now_ms(), c->fetched);
}

/* Back on the loop with credentials, or without. */
static void
on_creds(void *ctx, enum tf_err rc)
{
	struct call *c = ctx;
	struct tf_creds *creds;

	if (rc == TF_OK && c->creds_rc != TF_OK) {
		rc = TF_ERR_CREDENTIALS;
		c->err.code = rc;
		snprintf(c->err.message, sizeof(c->err.message),
		    "no credentials: %s", tf_strerror(c->creds_rc));
	}
	if (rc != TF_OK) {
		finish(c, rc, NULL, 0);
		return;
	}
	/* Taken out first: send_attempt() may end (and free) the call. */
	creds = c->fetched;
	c->fetched = NULL;
	send_attempt(c, creds);
	explicit_bzero(creds, sizeof(*creds));
	tf_free(creds);
}

static void
start_attempt(struct call *c)
{
	struct tf_creds creds;
	enum tf_err rc;

	c->attempt++;
	if (tf_aws_cached_creds(c->aws, tf_now_ms(), &creds)) {
		send_attempt(c, &creds);
		explicit_bzero(&creds, sizeof(creds));
		return;
	}
	/* Asking the chain may block: a pool thread does it. The call is not
	 * freed before on_creds() runs, so the copy lives on the heap only
	 * this long. */
	c->fetched = tf_calloc(1, sizeof(*c->fetched));
	if (c->fetched == NULL) {
		finish(c, TF_ERR_NOMEM, NULL, 0);
		return;
	}
	rc = tf_loop_work(c->loop, fetch_creds, on_creds, c);
	if (rc != TF_OK)
		finish(c, rc, NULL, 0);
}

enum tf_err
tf_aws_call_async(struct tf_aws *aws, struct tf_loop *loop,
    enum tf_aws_service svc, const char *operation, const char *body,
    size_t len, const struct tf_aws_async_opts *opts, tf_aws_async_cb *cb,
    void *ctx)
{
	struct call *c;
	enum tf_err rc;

	if (body == NULL) {
		body = "{}";
		len = 2;
	}
	c = tf_calloc(1, sizeof(*c));
	if (c == NULL)
		return TF_ERR_NOMEM;
	c->body = tf_strndup(body, len);
	if (c->body == NULL) {
		tf_free(c);
		return TF_ERR_NOMEM;
	}
	c->aws = aws;
	c->loop = loop;
	c->svc = svc;
	snprintf(c->operation, sizeof(c->operation), "%s", operation);
	c->len = len;
	c->timeout_ms = opts ? opts->timeout_ms : 0;
	c->no_retry = opts ? opts->no_retry : 0;
	c->cb = cb;
	c->ctx = ctx;
	rc = tf_loop_after(loop, 0, on_timer, c, NULL);
	if (rc != TF_OK)
		call_free(c);
	return rc;
}
