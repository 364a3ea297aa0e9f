/* task_async.c - the claim, the outcome write, the lease extension and the
 * next message on an event loop (see task_async.h). */
#include "task/task_async.h"

#include <stdio.h>
#include <string.h>

#include "aws/ddb.h"
#include "aws/ddb_async.h"
#include "aws/sqs.h"
#include "aws/sqs_async.h"
#include "base/alloc.h"
#include "task/task_answer.h"
#include "task/task_write.h"

#define ERRTEXT 512

/* Copies err's message (or rc's name) into buf. */
static void
error_text(char *buf, size_t len, enum tf_err rc, const struct tf_aws_error *err)
{
	if (err != NULL && err->message[0] != '\0')
		snprintf(buf, len, "%s", err->message);
	else
		snprintf(buf, len, "%s", tf_strerror(rc));
}

/* ---- a failure before anything was sent ----------------------------------- */

/* What a call that could not start reports, from a 0 ms timer so that the
 * callback never runs inside the starting call. */
struct early_end {
	void (*report)(void *call, enum tf_err rc);
	void *call;
	enum tf_err rc;
};

static void
on_early_end(void *ctx, enum tf_err cancelled)
{
	struct early_end *e = ctx;

	(void)cancelled;
	e->report(e->call, e->rc);
	tf_free(e);
}

/* Reports rc for call through report() from the loop; when even that
 * cannot be arranged (out of memory, the loop stopping), reports now. */
static void
end_early(struct tf_loop *loop, void (*report)(void *call, enum tf_err rc),
    void *call, enum tf_err rc)
{
	struct early_end *e = tf_malloc(sizeof(*e));

	if (e != NULL) {
		*e = (struct early_end){ report, call, rc };
		if (tf_loop_after(loop, 0, on_early_end, e, NULL) == TF_OK)
			return;
		tf_free(e);
	}
	report(call, rc);
}

/* Starts a strongly consistent read of task id's item (the claim's and the
 * outcome write's re-read after a failed condition). False when it could
 * not start: cb is not called then. */
static bool
read_task(struct tf_aws *aws, struct tf_loop *loop, const char *table,
    const char *id, tf_ddb_async_cb *cb, void *ctx)
{
	cJSON *key = tf_task_key(id);
	bool started = key != NULL && tf_ddb_get_item_async(aws, loop, table, key,
	    true, NULL, cb, ctx) == TF_OK;

	cJSON_Delete(key);
	return started;
}

/* ---- the claim ------------------------------------------------------------- */

struct claim_call {
	struct tf_aws *aws;          /* borrowed */
	struct tf_loop *loop;        /* borrowed */
	char *table, *id;            /* owned */
	int64_t msg_gen;
	char token[TF_TASK_TOKEN_SIZE];
	char err[ERRTEXT];
	tf_task_claim_cb *cb;
	void *ctx;
};

/* Calls back with rc (and t on TF_OK) and frees the call. */
static void
claim_end(struct claim_call *k, enum tf_err rc, struct tf_task *t)
{
	struct tf_task none;

	if (t == NULL) {
		memset(&none, 0, sizeof(none));
		t = &none;
	}
	if (rc != TF_OK && k->err[0] == '\0')
		snprintf(k->err, sizeof(k->err), "%s", tf_strerror(rc));
	k->cb(k->ctx, rc, t, k->err);
	if (t == &none)
		tf_task_free(&none);
	tf_free(k->table);
	tf_free(k->id);
	tf_free(k);
}

static void
claim_report(void *call, enum tf_err rc)
{
	claim_end(call, rc, NULL);
}

/* The item read after a retried claim failed its condition: ours when it
 * holds this claim's token. */
static void
on_claim_reread(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct claim_call *k = ctx;
	struct tf_task t;
	char why[64];

	(void)next_key;
	(void)err;
	memset(&t, 0, sizeof(t));
	if (rc == TF_OK && tf_task_from_item(value, &t, why, sizeof(why)) == TF_OK &&
	    tf_task_claim_is(&t, k->msg_gen, k->token)) {
		cJSON_Delete(value);
		tf_task_log_claim_recovered(k->id);
		claim_end(k, TF_OK, &t);
		return;
	}
	tf_task_free(&t);
	cJSON_Delete(value);
	claim_end(k, TF_ERR_CONDITION, NULL);
}

/* The claim's answer, the claimed item as UpdateItem's ALL_NEW, read from
 * its text without a tree (task_answer.h). */
static void
on_claim_answer(void *ctx, enum tf_err rc, const char *body, size_t len,
    const struct tf_aws_error *err)
{
	struct claim_call *k = ctx;
	struct tf_task t;

	memset(&t, 0, sizeof(t));
	if (rc == TF_OK) {
		rc = tf_task_from_answer(body, len, "Attributes", &t, k->err,
		    sizeof(k->err));
		if (rc == TF_ERR_NOT_FOUND)
			rc = TF_ERR_PARSE;  /* an answer without the item */
		claim_end(k, rc, rc == TF_OK ? &t : NULL);
		if (rc != TF_OK)
			tf_task_free(&t);
		return;
	}
	if (rc == TF_ERR_CONDITION && err != NULL && err->attempts > 1) {
		/* An earlier attempt's reply was lost: it may have been applied. */
		if (read_task(k->aws, k->loop, k->table, k->id, on_claim_reread, k))
			return;
	}
	error_text(k->err, sizeof(k->err), rc, err);
	claim_end(k, rc, NULL);
}

void
tf_task_claim_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *id, int64_t msg_gen, const char *owner,
    int64_t now_ms, int64_t skew_ms, int64_t lease_ms, tf_task_claim_cb *cb,
    void *ctx)
{
	struct claim_call *k = tf_calloc(1, sizeof(*k));
	struct tf_ddb_expr e;
	cJSON *key = NULL;
	enum tf_err rc = TF_ERR_NOMEM;

	if (k == NULL) {
		struct tf_task none;

		memset(&none, 0, sizeof(none));
		cb(ctx, TF_ERR_NOMEM, &none, "out of memory");
		return;
	}
	*k = (struct claim_call){ aws, loop, tf_strdup(table), tf_strdup(id),
	    msg_gen, "", "", cb, ctx };
	if (k->table == NULL || k->id == NULL || (key = tf_task_key(id)) == NULL)
		goto fail;
	rc = tf_task_claim_build(&e, id, msg_gen, owner, now_ms, skew_ms, lease_ms,
	    k->token);
	if (rc != TF_OK)
		goto fail;
	rc = tf_ddb_update_item_text_async(aws, loop, table, key, &e, "ALL_NEW",
	    on_claim_answer, k);
	tf_ddb_expr_free(&e);
	if (rc == TF_OK) {
		cJSON_Delete(key);
		return;
	}
fail:
	cJSON_Delete(key);
	end_early(loop, claim_report, k, rc);
}

/* ---- the outcome write ------------------------------------------------------ */

struct finish_call {
	struct tf_aws *aws;                 /* borrowed */
	struct tf_loop *loop;               /* borrowed */
	char *table;                        /* owned */
	const struct tf_task *t;            /* borrowed */
	const struct tf_task_outcome *o;    /* borrowed */
	int64_t now_ms;
	enum tf_task_status state;          /* what the write that is out sets */
	int64_t enqueue_at;
	bool rewriting;                     /* the SUSPENDED write is out */
	char err[ERRTEXT];
	tf_task_finish_cb *cb;
	void *ctx;
};

static void
finish_end(struct finish_call *f, enum tf_err rc)
{
	if (rc != TF_OK) {
		f->enqueue_at = 0;
		if (f->err[0] == '\0')
			snprintf(f->err, sizeof(f->err), "%s", tf_strerror(rc));
	}
	f->cb(f->ctx, rc, f->state, f->t->gen + 1, f->enqueue_at, f->err);
	tf_free(f->table);
	tf_free(f);
}

static void
finish_report(void *call, enum tf_err rc)
{
	finish_end(call, rc);
}

static void on_outcome_answer(void *ctx, enum tf_err rc, cJSON *value,
    cJSON *next_key, const struct tf_aws_error *err);

/* Builds and sends the outcome write for f->state. */
static enum tf_err
send_outcome(struct finish_call *f, bool guard_suspend)
{
	struct tf_task_write w = TF_TASK_WRITE_INIT;
	cJSON *key = tf_task_key(f->t->id);
	enum tf_err rc = TF_ERR_NOMEM;

	if (key != NULL)
		rc = tf_task_outcome_build(&w, f->t, f->o, f->now_ms, f->state,
		    guard_suspend, &f->enqueue_at, f->err, sizeof(f->err));
	if (rc == TF_OK)
		rc = tf_ddb_update_item_async(f->aws, f->loop, f->table, key, &w.e,
		    NULL, on_outcome_answer, f);
	tf_task_write_free(&w);
	cJSON_Delete(key);
	return rc;
}

/* The item read after the outcome write failed its condition. */
static void
on_outcome_reread(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct finish_call *f = ctx;
	struct tf_task item;
	char why[64];

	(void)next_key;
	memset(&item, 0, sizeof(item));
	if (rc == TF_OK)
		rc = tf_task_from_item(value, &item, why, sizeof(why));
	cJSON_Delete(value);
	if (rc == TF_OK) {
		switch (tf_task_finish_check(f->t, f->now_ms, f->state, &item,
		    &f->state, &f->enqueue_at)) {
		case TF_FINISH_APPLIED:
			break;
		case TF_FINISH_SUSPEND:
			f->rewriting = true;
			rc = send_outcome(f, false);
			tf_task_free(&item);
			if (rc == TF_OK)
				return;
			finish_end(f, rc);
			return;
		default:
			rc = TF_ERR_CONDITION;
			break;
		}
	} else if (rc == TF_ERR_NOT_FOUND || rc == TF_ERR_PARSE) {
		rc = TF_ERR_CONDITION;
	} else {
		error_text(f->err, sizeof(f->err), rc, err);
	}
	tf_task_free(&item);
	finish_end(f, rc);
}

static void
on_outcome_answer(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct finish_call *f = ctx;

	(void)next_key;
	cJSON_Delete(value);
	if (rc == TF_ERR_CONDITION && !f->rewriting) {
		/* Our own write applied with its reply lost, a suspend requested
		 * during the run, or the lease gone: the item tells. */
		if (read_task(f->aws, f->loop, f->table, f->t->id,
		    on_outcome_reread, f))
			return;
	}
	if (rc != TF_OK)
		error_text(f->err, sizeof(f->err), rc, err);
	finish_end(f, rc);
}

void
tf_task_finish_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const struct tf_task *t,
    const struct tf_task_outcome *o, int64_t now_ms, tf_task_finish_cb *cb,
    void *ctx)
{
	struct finish_call *f = tf_calloc(1, sizeof(*f));
	enum tf_err rc = TF_ERR_NOMEM;

	if (f == NULL) {
		cb(ctx, TF_ERR_NOMEM, TF_TASK_PENDING, t->gen + 1, 0, "out of memory");
		return;
	}
	f->aws = aws;
	f->loop = loop;
	f->table = tf_strdup(table);
	f->t = t;
	f->o = o;
	f->now_ms = now_ms;
	f->state = tf_task_outcome_state(t, o);
	f->cb = cb;
	f->ctx = ctx;
	if (f->table != NULL)
		rc = send_outcome(f, f->state == TF_TASK_PENDING);
	if (rc != TF_OK)
		end_early(loop, finish_report, f, rc);
}

/* ---- the outcome with the next iteration claimed -------------------------- */

void
tf_task_chain_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const struct tf_task *t, struct tf_task_outcome *o,
    int64_t now_ms, const char *owner, int64_t lease_ms, tf_task_claim_cb *cb,
    void *ctx)
{
	struct claim_call *k = tf_calloc(1, sizeof(*k));
	struct tf_task_write w = TF_TASK_WRITE_INIT;
	int64_t enqueue_at;
	cJSON *key = NULL;
	enum tf_err rc = TF_ERR_NOMEM;

	if (k == NULL) {
		struct tf_task none;

		memset(&none, 0, sizeof(none));
		cb(ctx, TF_ERR_NOMEM, &none, "out of memory");
		return;
	}
	/* A claim of "message generation" t->gen + 1: the item it leaves has
	 * gen t->gen + 2, which tf_task_claim_is() checks on a re-read. */
	*k = (struct claim_call){ aws, loop, tf_strdup(table), tf_strdup(t->id),
	    t->gen + 1, "", "", cb, ctx };
	tf_task_new_token(k->token);
	o->chain_owner = owner;
	o->chain_lease_until = now_ms + lease_ms;
	o->chain_token = k->token;
	if (k->table == NULL || k->id == NULL || (key = tf_task_key(t->id)) == NULL)
		goto fail;
	rc = tf_task_outcome_build(&w, t, o, now_ms, TF_TASK_PENDING, true,
	    &enqueue_at, k->err, sizeof(k->err));
	if (rc == TF_OK)
		/* The answer is the new item, PROCESSING under the new token: it
		 * is read as a claim's answer, a lost reply re-read the same way. */
		rc = tf_ddb_update_item_text_async(aws, loop, table, key, &w.e,
		    "ALL_NEW", on_claim_answer, k);
	tf_task_write_free(&w);
	cJSON_Delete(key);
	if (rc == TF_OK)
		return;
fail:
	end_early(loop, claim_report, k, rc);
}

/* ---- the lease extension ----------------------------------------------------- */

struct extend_call {
	tf_task_extend_cb *cb;
	void *ctx;
};

static void
extend_report(void *call, enum tf_err rc)
{
	struct extend_call *x = call;

	x->cb(x->ctx, rc);
	tf_free(x);
}

static void
on_extended(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	(void)err;
	cJSON_Delete(value);
	cJSON_Delete(next_key);
	extend_report(ctx, rc);
}

void
tf_task_extend_lease_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *id, int64_t gen, const char *owner,
    int64_t until_ms, tf_task_extend_cb *cb, void *ctx)
{
	struct extend_call *x = tf_malloc(sizeof(*x));
	struct tf_ddb_expr e;
	cJSON *key = NULL;
	enum tf_err rc = TF_ERR_NOMEM;

	if (x == NULL) {
		cb(ctx, TF_ERR_NOMEM);
		return;
	}
	*x = (struct extend_call){ cb, ctx };
	key = tf_task_key(id);
	if (key != NULL && (rc = tf_task_extend_lease_build(&e, gen, owner,
	    until_ms)) == TF_OK) {
		rc = tf_ddb_update_item_async(aws, loop, table, key, &e, NULL,
		    on_extended, x);
		tf_ddb_expr_free(&e);
	}
	cJSON_Delete(key);
	if (rc != TF_OK)
		end_early(loop, extend_report, x, rc);
}

/* ---- the next message ------------------------------------------------------- */

/* Where a send of priority p to queue_url goes (priority.h): *first, the
 * priority's own queue, and *normal, the normal queue to fall back to when
 * that one does not exist (both owned; NULL for the normal priority, which
 * goes to queue_url itself). TF_ERR_NOMEM. */
static enum tf_err
send_urls(const char *queue_url, enum tf_priority p, char **first,
    char **normal)
{
	*first = *normal = NULL;
	if (p != TF_PRIORITY_NORMAL &&
	    ((*first = tf_priority_queue_url(queue_url, p)) == NULL ||
	    (*normal = tf_strdup(queue_url)) == NULL))
		return TF_ERR_NOMEM;
	return TF_OK;
}

/* Sends call's message(s) again, to url (borrowed). */
typedef enum tf_err resend_fn(void *call, const char *url);

/* A send to a priority queue ended with *rc. When that was "no such queue"
 * (a deployment made before priorities) and *normal (owned) is the normal
 * queue: takes *normal (NULL after) and sends there with resend(call, url).
 * True when that send is under way; otherwise false, with *rc the send's
 * result (and *err NULL when it is the resend's failure to start). */
static bool
fall_back(enum tf_err *rc, const struct tf_aws_error **err, char **normal,
    resend_fn *resend, void *call)
{
	char *url = *normal;

	if (*rc != TF_ERR_NOT_FOUND || url == NULL)
		return false;
	*normal = NULL;
	*rc = resend(call, url);
	tf_free(url);
	if (*rc == TF_OK)
		return true;
	*err = NULL;
	return false;
}

struct send_call {
	tf_task_send_cb *cb;
	void *ctx;
	/* For a priority queue that does not exist: the send to the normal
	 * queue instead (priority.h). NULL once that is under way. */
	struct tf_aws *aws;
	struct tf_loop *loop;
	char *queue_url;                /* owned: the normal queue */
	char *body;                     /* owned */
	int delay_s;
};

static void
send_free(struct send_call *s)
{
	tf_free(s->queue_url);
	tf_free(s->body);
	tf_free(s);
}

static void
send_report(void *call, enum tf_err rc)
{
	struct send_call *s = call;

	s->cb(s->ctx, rc, tf_strerror(rc));
	send_free(s);
}

static tf_sqs_send_cb on_sent;

static enum tf_err
resend(void *call, const char *url)
{
	struct send_call *s = call;

	return tf_sqs_send_message_async(s->aws, s->loop, url, s->body,
	    s->delay_s, on_sent, s);
}

static void
on_sent(void *ctx, enum tf_err rc, const char *message_id,
    const struct tf_aws_error *err)
{
	struct send_call *s = ctx;
	char text[ERRTEXT] = "";

	(void)message_id;
	if (fall_back(&rc, &err, &s->queue_url, resend, s))
		return;
	if (rc != TF_OK)
		error_text(text, sizeof(text), rc, err);
	s->cb(s->ctx, rc, text);
	send_free(s);
}

void
tf_task_send_message_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, enum tf_priority p, const char *id, int64_t due_ms,
    int64_t gen, int64_t now_ms, tf_task_send_cb *cb, void *ctx)
{
	struct send_call *s = tf_calloc(1, sizeof(*s));
	char *url = NULL;
	enum tf_err rc;

	if (s == NULL) {
		cb(ctx, TF_ERR_NOMEM, "out of memory");
		return;
	}
	*s = (struct send_call){ cb, ctx, aws, loop, NULL, NULL,
	    tf_task_delay_s(due_ms, now_ms) };
	rc = tf_task_message_format(id, due_ms, gen, p, &s->body);
	if (rc == TF_OK)
		rc = send_urls(queue_url, p, &url, &s->queue_url);
	if (rc == TF_OK)
		rc = tf_sqs_send_message_async(aws, loop, url != NULL ? url :
		    queue_url, s->body, s->delay_s, on_sent, s);
	tf_free(url);
	if (rc != TF_OK)
		end_early(loop, send_report, s, rc);
}

/* ---- messages in a batch -------------------------------------------------- */

struct send_batch_call {
	tf_task_send_batch_cb *cb;
	void *ctx;
	struct tf_aws *aws;             /* borrowed */
	struct tf_loop *loop;           /* borrowed */
	char *queue_url;                /* owned: the normal queue; NULL once
	                                   the send to it is under way (or for
	                                   the normal priority) */
	size_t n;
	struct tf_sqs_send_entry e[TF_SQS_MAX_BATCH];  /* bodies point into
	                                                  body */
	char *body[TF_SQS_MAX_BATCH];   /* owned */
	enum tf_err rc[TF_SQS_MAX_BATCH];
	const char *err[TF_SQS_MAX_BATCH];  /* into text, or static */
	char text[TF_SQS_MAX_BATCH][ERRTEXT];
};

static void
send_batch_free(struct send_batch_call *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		tf_free(s->body[i]);
	tf_free(s->queue_url);
	tf_free(s);
}

/* Every message of s came to rc. */
static void
send_batch_report(void *call, enum tf_err rc)
{
	struct send_batch_call *s = call;
	size_t i;

	for (i = 0; i < s->n; i++) {
		s->rc[i] = rc;
		s->err[i] = tf_strerror(rc);
	}
	s->cb(s->ctx, s->n, s->rc, s->err);
	send_batch_free(s);
}

static tf_sqs_batch_cb on_batch_sent;

static enum tf_err
resend_batch(void *call, const char *url)
{
	struct send_batch_call *s = call;

	return tf_sqs_send_message_batch_async(s->aws, s->loop, url, s->e,
	    s->n, on_batch_sent, s);
}

static void
on_batch_sent(void *ctx, enum tf_err rc,
    const struct tf_sqs_batch_result *result, const struct tf_aws_error *err)
{
	struct send_batch_call *s = ctx;
	const struct tf_sqs_failed_entry *f;
	size_t i;

	if (fall_back(&rc, &err, &s->queue_url, resend_batch, s))
		return;
	for (i = 0; i < s->n; i++) {
		s->rc[i] = rc;
		s->err[i] = s->text[i];
		s->text[i][0] = '\0';
		if (rc == TF_ERR_PARTIAL && result->message_ids != NULL &&
		    i < result->n_entries && result->message_ids[i] != NULL) {
			s->rc[i] = TF_OK;
		} else if (rc == TF_ERR_PARTIAL &&
		    (f = tf_sqs_batch_failed(result, s->e[i].id)) != NULL) {
			/* Its own error, as a send of it alone would have had. */
			s->rc[i] = tf_aws_map_error(f->code, f->sender_fault ?
			    400 : 500);
			snprintf(s->text[i], sizeof(s->text[i]), "%s: %s", f->code,
			    f->message);
		} else if (rc != TF_OK) {
			if (rc == TF_ERR_PARTIAL)
				s->rc[i] = TF_ERR_AWS;  /* neither sent nor failed */
			error_text(s->text[i], sizeof(s->text[i]), s->rc[i], err);
		}
	}
	s->cb(s->ctx, s->n, s->rc, s->err);
	send_batch_free(s);
}

void
tf_task_send_messages_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *queue_url, enum tf_priority p,
    const struct tf_task_send_item *m, size_t n, int64_t now_ms,
    tf_task_send_batch_cb *cb, void *ctx)
{
	struct send_batch_call *s = NULL;
	char *url = NULL;
	enum tf_err rc = n > 0 && n <= TF_SQS_MAX_BATCH ? TF_OK : TF_ERR_INVALID;
	enum tf_err rcs[TF_SQS_MAX_BATCH];
	const char *errs[TF_SQS_MAX_BATCH];
	size_t i;

	if (rc == TF_OK && (s = tf_calloc(1, sizeof(*s))) == NULL)
		rc = TF_ERR_NOMEM;
	if (rc != TF_OK) {
		/* Not even the call's state: said at once. */
		n = n < TF_SQS_MAX_BATCH ? n : TF_SQS_MAX_BATCH;
		for (i = 0; i < n; i++) {
			rcs[i] = rc;
			errs[i] = tf_strerror(rc);
		}
		cb(ctx, n, rcs, errs);
		return;
	}
	*s = (struct send_batch_call){ .cb = cb, .ctx = ctx, .aws = aws,
	    .loop = loop, .n = n };
	for (i = 0; i < n && rc == TF_OK; i++) {
		rc = tf_task_message_format(m[i].id, m[i].due_ms, m[i].gen, p,
		    &s->body[i]);
		s->e[i].id = tf_sqs_batch_ids[i];
		s->e[i].body = s->body[i];
		s->e[i].delay_seconds = tf_task_delay_s(m[i].due_ms, now_ms);
	}
	if (rc == TF_OK)
		rc = send_urls(queue_url, p, &url, &s->queue_url);
	if (rc == TF_OK)
		rc = tf_sqs_send_message_batch_async(aws, loop, url != NULL ? url :
		    queue_url, s->e, n, on_batch_sent, s);
	tf_free(url);
	if (rc != TF_OK)
		end_early(loop, send_batch_report, s, rc);
}

/* ---- the sweeper's reads and writes ----------------------------------------- */

/* A task read with tf_task_get_async(). */
static void
on_got(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct claim_call *k = ctx;
	struct tf_task t;

	(void)next_key;
	memset(&t, 0, sizeof(t));
	if (rc == TF_OK)
		rc = tf_task_from_item(value, &t, k->err, sizeof(k->err));
	else
		error_text(k->err, sizeof(k->err), rc, err);
	cJSON_Delete(value);
	claim_end(k, rc, rc == TF_OK ? &t : NULL);
	if (rc != TF_OK)
		tf_task_free(&t);
}

void
tf_task_get_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *id, tf_task_claim_cb *cb, void *ctx)
{
	struct claim_call *k = tf_calloc(1, sizeof(*k));

	if (k == NULL) {
		struct tf_task none;

		memset(&none, 0, sizeof(none));
		cb(ctx, TF_ERR_NOMEM, &none, "out of memory");
		return;
	}
	*k = (struct claim_call){ aws, loop, tf_strdup(table), tf_strdup(id), 0,
	    "", "", cb, ctx };
	if (k->table == NULL || k->id == NULL ||
	    !read_task(aws, loop, table, id, on_got, k))
		end_early(loop, claim_report, k, TF_ERR_NOMEM);
}

/* A sweep enqueue or a message release in flight. */
struct write_call {
	struct tf_aws *aws;          /* borrowed */
	struct tf_loop *loop;        /* borrowed */
	char *table, *id;            /* owned */
	int64_t gen, visible;        /* the enqueue's, for its re-read */
	tf_task_write_cb *cb;        /* a write's; NULL for an enqueue */
	tf_task_enqueue_cb *enqueue_cb;
	void *ctx;
	enum tf_priority prio;       /* an enqueue's task's, as written */
};

static void
write_report(void *call, enum tf_err rc)
{
	struct write_call *w = call;

	if (w->enqueue_cb != NULL)
		w->enqueue_cb(w->ctx, rc, w->prio);
	else
		w->cb(w->ctx, rc);
	tf_free(w->table);
	tf_free(w->id);
	tf_free(w);
}

/* The item read after a retried enqueue failed its condition: applied when
 * it shows this very enqueue. */
static void
on_enqueue_reread(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct write_call *w = ctx;
	struct tf_task t;
	char why[64];
	bool ours;

	(void)next_key;
	(void)err;
	memset(&t, 0, sizeof(t));
	ours = rc == TF_OK && tf_task_from_item(value, &t, why, sizeof(why)) ==
	    TF_OK && tf_task_sweep_enqueue_is(&t, w->gen, w->visible);
	if (ours)
		w->prio = t.priority;
	tf_task_free(&t);
	cJSON_Delete(value);
	write_report(w, ours ? TF_OK : TF_ERR_CONDITION);
}

static void
on_written(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct write_call *w = ctx;

	/* An enqueue asks for the item as written, for its priority (an item
	 * whose `priority` is none of the values: normal). */
	if (rc == TF_OK && w->enqueue_cb != NULL && value != NULL)
		tf_priority_from_av(cJSON_GetObjectItemCaseSensitive(value,
		    "priority"), &w->prio);
	cJSON_Delete(value);
	cJSON_Delete(next_key);
	if (rc == TF_ERR_CONDITION && w->visible != 0 && err != NULL &&
	    err->attempts > 1 && read_task(w->aws, w->loop, w->table, w->id,
	    on_enqueue_reread, w))
		return;  /* an earlier attempt's reply was lost */
	write_report(w, rc);
}

/* Sends the update e (borrowed) of item id as call w (visible 0: no
 * re-read); reports through w->cb, also when it cannot start. */
static void
write_start(struct write_call *w, const char *id, const struct tf_ddb_expr *e)
{
	cJSON *key = tf_task_key(id);
	enum tf_err rc = TF_ERR_NOMEM;

	if (key != NULL && w->table != NULL && w->id != NULL)
		rc = tf_ddb_update_item_async(w->aws, w->loop, w->table, key, e,
		    w->enqueue_cb != NULL ? "ALL_NEW" : NULL, on_written, w);
	cJSON_Delete(key);
	if (rc != TF_OK)
		end_early(w->loop, write_report, w, rc);
}

/* A new write call; cb is told of a failed allocation at once (NULL). */
static struct write_call *
write_new(struct tf_aws *aws, struct tf_loop *loop, const char *table,
    const char *id, int64_t gen, tf_task_write_cb *cb, void *ctx)
{
	struct write_call *w = tf_calloc(1, sizeof(*w));

	if (w == NULL) {
		cb(ctx, TF_ERR_NOMEM);
		return NULL;
	}
	*w = (struct write_call){ aws, loop, tf_strdup(table), tf_strdup(id), gen,
	    0, cb, NULL, ctx, TF_PRIORITY_NORMAL };
	return w;
}

void
tf_task_sweep_enqueue_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *id, int64_t gen, int64_t due_ms,
    int64_t stale_before_ms, int64_t now_ms, tf_task_enqueue_cb *cb,
    void *ctx)
{
	struct write_call *w = tf_calloc(1, sizeof(*w));
	struct tf_ddb_expr e;

	if (w == NULL) {
		cb(ctx, TF_ERR_NOMEM, TF_PRIORITY_NORMAL);
		return;
	}
	*w = (struct write_call){ aws, loop, tf_strdup(table), tf_strdup(id), gen,
	    0, NULL, cb, ctx, TF_PRIORITY_NORMAL };
	if (tf_task_sweep_enqueue_build(&e, gen, due_ms, stale_before_ms, now_ms,
	    &w->visible) != TF_OK) {
		end_early(loop, write_report, w, TF_ERR_NOMEM);
		return;
	}
	write_start(w, id, &e);
	tf_ddb_expr_free(&e);
}

void
tf_task_release_message_async(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, const char *id, int64_t gen, tf_task_write_cb *cb,
    void *ctx)
{
	struct write_call *w = write_new(aws, loop, table, id, gen, cb, ctx);
	struct tf_ddb_expr e;

	if (w == NULL)
		return;
	if (tf_task_release_message_build(&e, gen) != TF_OK) {
		end_early(loop, write_report, w, TF_ERR_NOMEM);
		return;
	}
	write_start(w, id, &e);
	tf_ddb_expr_free(&e);
}
