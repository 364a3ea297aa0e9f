/* task_bulk.c - creating many tasks at once on an event loop (task_bulk.h). */
#include "task/task_bulk.h"

#include <stdio.h>
#include <string.h>

#include "aws/ddb_async.h"
#include "aws/sqs_async.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/rand.h"
#include "loop/loop.h"
#include "task/due.h"

/* The first backoff before a round, and the longest (ms). */
#define BACKOFF_MS 200
#define BACKOFF_MAX_MS 5000

struct bulk;

/* One task in flight. */
struct slot {
	struct bulk *b;
	struct tf_bulk_task *t;     /* the caller's */
	cJSON *item;                /* owned: the item put */
	int64_t now;                /* its created_at */
	bool soon;                  /* due within the horizon: a message */
	bool writing;               /* counted in b->active */
	struct tf_task found;       /* owned: the item read back, if any */
	bool retried;               /* an earlier attempt may have been applied */
	bool reading;               /* the next round reads it back */
	int round;                  /* our own tries so far */
};

/* One SendMessageBatch of created tasks. */
struct send_batch {
	struct bulk *b;
	struct slot *s[TF_SQS_MAX_BATCH];
	char *body[TF_SQS_MAX_BATCH];   /* owned */
	size_t n;
	int round;
	enum tf_priority prio;          /* every task's in the batch */
	char *url;                      /* owned: prio's queue, NULL once it
	                                   turned out not to exist (a deployment
	                                   made before priorities): the normal
	                                   queue */
};

struct bulk {
	struct tf_aws *aws;             /* borrowed */
	struct tf_loop *loop;           /* owned */
	const char *table;              /* borrowed */
	struct tf_bulk_opts o;
	int rounds;
	int window;                     /* writes allowed in flight now */
	int wins;                       /* successes since the window grew */
	int active;                     /* slots writing, reading or waiting
	                                   for their next round */
	int sends;                      /* send batches not finished */
	/* Created, message unsent, by priority (a batch goes to one queue): */
	struct slot *pending[TF_PRIORITY__N][TF_SQS_MAX_BATCH];
	size_t n_pending[TF_PRIORITY__N];
	bool input_done;
};

static void pump(struct bulk *b);
static void put(struct slot *s);
static void again(struct slot *s, enum tf_err rc);

static bool
retryable(enum tf_err rc)
{
	return rc == TF_ERR_THROTTLED || rc == TF_ERR_SERVER ||
	    rc == TF_ERR_TIMEOUT || rc == TF_ERR_IO;
}

/* The wait before round `round` (1, 2, ...): exponential, half jittered. */
static long
backoff_ms(int round)
{
	long d = BACKOFF_MS << (round < 6 ? round - 1 : 5);

	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	return d / 2 + (long)tf_random_below(d / 2 + 1);
}

/* Writes "what: reason (Type: message)" for a failed call into buf. */
static void
reason(char *buf, size_t len, const char *what, enum tf_err rc,
    const struct tf_aws_error *err)
{
	if (err != NULL && err->code == rc &&
	    (err->type[0] != '\0' || err->message[0] != '\0'))
		snprintf(buf, len, "%.60s: %s (%.127s%s%.300s)", what, tf_strerror(rc),
		    err->type, err->type[0] && err->message[0] ? ": " : "",
		    err->message);
	else
		snprintf(buf, len, "%s: %s", what, tf_strerror(rc));
}

/* Hands s's task back to the caller and frees s. */
static void
finish(struct slot *s)
{
	struct bulk *b = s->b;

	if (s->writing)
		b->active--;
	b->o.done(b->o.ctx, s->t);
	tf_task_free(&s->found);
	cJSON_Delete(s->item);
	tf_free(s);
}

static void
fail(struct slot *s, enum tf_err rc, const char *what,
    const struct tf_aws_error *err)
{
	s->t->outcome = TF_BULK_FAILED;
	s->t->rc = rc;
	reason(s->t->error, sizeof(s->t->error), what, rc, err);
	finish(s);
}

/* --- messages ------------------------------------------------------------ */

static void send_batch(struct send_batch *sb);

/* Ends a batch: every task in it goes back to the caller. */
static void
batch_done(struct send_batch *sb)
{
	struct bulk *b = sb->b;
	size_t i;

	for (i = 0; i < sb->n; i++) {
		finish(sb->s[i]);
		tf_free(sb->body[i]);
	}
	b->sends--;
	tf_free(sb->url);
	tf_free(sb);
}

/* Marks the tasks of sb whose message failed (all, or those result names). */
static void
batch_failed(struct send_batch *sb, enum tf_err rc,
    const struct tf_sqs_batch_result *result, const struct tf_aws_error *err)
{
	const struct tf_sqs_failed_entry *f;
	struct tf_bulk_task *t;
	size_t i;

	for (i = 0; i < sb->n; i++) {
		t = sb->s[i]->t;
		f = result != NULL ? tf_sqs_batch_failed(result,
		    tf_sqs_batch_ids[i]) : NULL;
		if (result != NULL && f == NULL) {
			t->enqueued = true;
			continue;
		}
		t->send_failed = true;
		if (f != NULL)
			snprintf(t->error, sizeof(t->error), "sending its queue message: "
			    "%s: %s", f->code, f->message);
		else
			reason(t->error, sizeof(t->error), "sending its queue message",
			    rc, err);
	}
}

static void
on_resend(void *ctx, enum tf_err rc)
{
	struct send_batch *sb = ctx;

	if (rc != TF_OK) {
		batch_failed(sb, rc, NULL, NULL);
		batch_done(sb);
		return;
	}
	send_batch(sb);
}

static void
on_sent(void *ctx, enum tf_err rc, const struct tf_sqs_batch_result *result,
    const struct tf_aws_error *err)
{
	struct send_batch *sb = ctx;
	struct bulk *b = sb->b;
	size_t i;

	if (rc == TF_ERR_NOT_FOUND && sb->url != NULL) {
		tf_free(sb->url);
		sb->url = NULL;
		send_batch(sb);
		return;
	}
	if (rc != TF_OK && rc != TF_ERR_PARTIAL && retryable(rc) &&
	    sb->round < b->rounds) {
		sb->round++;
		if (tf_loop_after(b->loop, backoff_ms(sb->round), on_resend, sb,
		    NULL) == TF_OK)
			return;
	}
	if (rc == TF_OK) {
		for (i = 0; i < sb->n; i++)
			sb->s[i]->t->enqueued = true;
	} else {
		batch_failed(sb, rc, rc == TF_ERR_PARTIAL ? result : NULL, err);
	}
	batch_done(sb);
	pump(b);
}

/* Sends (or sends again) the messages of sb; DelaySeconds from now. */
static void
send_batch(struct send_batch *sb)
{
	struct tf_sqs_send_entry e[TF_SQS_MAX_BATCH];
	struct bulk *b = sb->b;
	int64_t now = tf_now_ms();
	size_t i;
	enum tf_err rc;

	for (i = 0; i < sb->n; i++) {
		sb->s[i]->t->delay_s = tf_task_delay_s(sb->s[i]->t->spec.next_run,
		    now);
		e[i].id = tf_sqs_batch_ids[i];
		e[i].body = sb->body[i];
		e[i].delay_seconds = sb->s[i]->t->delay_s;
	}
	rc = tf_sqs_send_message_batch_async(b->aws, b->loop, sb->url != NULL ?
	    sb->url : b->o.queue_url, e, sb->n, on_sent, sb);
	if (rc != TF_OK) {
		batch_failed(sb, rc, NULL, NULL);
		batch_done(sb);
		pump(b);
	}
}

/* Sends the messages of the created tasks of priority p waiting for one. */
static void
flush(struct bulk *b, enum tf_priority p)
{
	struct slot **pending = b->pending[p];
	struct send_batch *sb;
	enum tf_err rc = TF_OK;
	size_t i;

	sb = tf_calloc(1, sizeof(*sb));
	if (sb == NULL)
		rc = TF_ERR_NOMEM;
	else
		sb->b = b;
	if (sb != NULL && (sb->prio = p) != TF_PRIORITY_NORMAL &&
	    (sb->url = tf_priority_queue_url(b->o.queue_url, p)) == NULL)
		rc = TF_ERR_NOMEM;
	for (i = 0; rc == TF_OK && i < b->n_pending[p]; i++) {
		sb->s[i] = pending[i];
		sb->n = i + 1;
		rc = tf_task_message_format(sb->s[i]->t->id,
		    sb->s[i]->t->spec.next_run, 1, p, &sb->body[i]);
	}
	if (rc != TF_OK) {
		/* Out of memory: the sweeper enqueues them. */
		for (i = 0; i < b->n_pending[p]; i++) {
			pending[i]->t->send_failed = true;
			snprintf(pending[i]->t->error,
			    sizeof(pending[i]->t->error), "sending its queue "
			    "message: %s", tf_strerror(rc));
			if (sb == NULL || i >= sb->n)
				finish(pending[i]);
		}
		b->n_pending[p] = 0;
		if (sb != NULL) {
			b->sends++;
			batch_done(sb);
		}
		return;
	}
	b->n_pending[p] = 0;
	b->sends++;
	send_batch(sb);
}

/* --- writes -------------------------------------------------------------- */

static void
created(struct slot *s)
{
	struct bulk *b = s->b;
	enum tf_priority p;

	s->t->outcome = TF_BULK_CREATED;
	if (++b->wins >= b->window && b->window < b->o.in_flight) {
		b->window++;
		b->wins = 0;
	}
	if (!s->soon) {
		finish(s);
		return;
	}
	if (b->o.queue_url == NULL) {
		s->t->send_failed = true;
		snprintf(s->t->error, sizeof(s->t->error), "no queue to send its "
		    "message to");
		finish(s);
		return;
	}
	s->writing = false;
	b->active--;
	p = s->t->spec.priority < TF_PRIORITY__N ? s->t->spec.priority :
	    TF_PRIORITY_NORMAL;
	b->pending[p][b->n_pending[p]++] = s;
	if (b->n_pending[p] == TF_SQS_MAX_BATCH)
		flush(b, p);
}

static void
on_read(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct slot *s = ctx;
	struct bulk *b = s->b;
	struct tf_bulk_task *t = s->t;
	char errbuf[256];

	cJSON_Delete(next_key);
	if (rc == TF_OK && tf_task_from_item(value, &s->found, errbuf,
	    sizeof(errbuf)) == TF_OK) {
		t->existing = &s->found;
		/* Our own write, whose reply was lost: created now. */
		if (s->retried && tf_task_create_was_ours(&s->found, &t->spec,
		    s->now))
			created(s);
		else
			goto exists;
	} else if (rc == TF_ERR_NOT_FOUND && !s->retried) {
		/* Deleted since: existing tells nothing. */
		goto exists;
	} else if (retryable(rc) && s->round < b->rounds) {
		/* Read again after a backoff: the write's fate is still unknown. */
		again(s, rc);
	} else {
		fail(s, rc == TF_OK ? TF_ERR_PARSE : rc, s->retried ?
		    "reading it back after a lost reply" : "reading the existing "
		    "task", err);
	}
	goto out;
exists:
	t->outcome = TF_BULK_EXISTS;
	finish(s);
out:
	cJSON_Delete(value);
	pump(b);
}

/* Reads the item whose id was taken. */
static void
read_back(struct slot *s)
{
	cJSON *key = tf_task_key(s->t->id);
	enum tf_err rc = TF_ERR_NOMEM;

	if (key != NULL)
		rc = tf_ddb_get_item_async(s->b->aws, s->b->loop, s->b->table, key,
		    true, NULL, on_read, s);
	cJSON_Delete(key);
	if (rc != TF_OK)
		fail(s, rc, "reading the existing task", NULL);
}

static void
on_round(void *ctx, enum tf_err rc)
{
	struct slot *s = ctx;

	if (rc != TF_OK)
		fail(s, rc, s->reading ? "reading the task back" : "writing the task",
		    NULL);
	else if (s->reading)
		read_back(s);
	else
		put(s);
}

/* Schedules s's next round (its write, or its read back when s->reading)
 * after a backoff; the caller saw it has one left. A throttled answer (rc)
 * halves the writes in flight. */
static void
again(struct slot *s, enum tf_err rc)
{
	struct bulk *b = s->b;

	if (rc == TF_ERR_THROTTLED) {
		b->window = b->window > 1 ? b->window / 2 : 1;
		b->wins = 0;
	}
	s->round++;
	rc = tf_loop_after(b->loop, backoff_ms(s->round), on_round, s, NULL);
	if (rc != TF_OK)
		fail(s, rc, s->reading ? "reading the task back" : "writing the task",
		    NULL);
}

static void
on_put(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct slot *s = ctx;
	struct bulk *b = s->b;

	cJSON_Delete(value);
	cJSON_Delete(next_key);
	if (err != NULL && err->attempts > 1)
		s->retried = true;
	if (rc == TF_OK) {
		created(s);
	} else if (rc == TF_ERR_CONDITION) {
		if (s->retried || b->o.read_existing) {
			s->reading = true;
			read_back(s);
		} else {
			s->t->outcome = TF_BULK_EXISTS;
			finish(s);
		}
	} else if (retryable(rc) && s->round < b->rounds) {
		/* Wait, then write again. A throttled write was not applied,
		 * others may have been. */
		if (rc != TF_ERR_THROTTLED)
			s->retried = true;
		again(s, rc);
	} else {
		fail(s, rc, "writing the task", err);
	}
	pump(b);
}

static void
put(struct slot *s)
{
	struct tf_ddb_expr e = { 0 };
	enum tf_err rc;

	e.condition = TF_TASK_CREATE_CONDITION;
	rc = tf_ddb_put_item_async(s->b->aws, s->b->loop, s->b->table, s->item,
	    &e, on_put, s);
	if (rc != TF_OK)
		fail(s, rc, "writing the task", NULL);
}

/* Builds task t's item and starts its write. */
static void
start(struct bulk *b, struct tf_bulk_task *t)
{
	struct slot *s;
	const char *id;
	enum tf_err rc;

	t->outcome = TF_BULK_FAILED;
	t->rc = TF_OK;
	t->id[0] = t->error[0] = '\0';
	t->enqueued = t->send_failed = false;
	t->delay_s = 0;
	t->existing = NULL;
	s = tf_calloc(1, sizeof(*s));
	if (s == NULL) {
		t->rc = TF_ERR_NOMEM;
		snprintf(t->error, sizeof(t->error), "out of memory");
		b->o.done(b->o.ctx, t);
		return;
	}
	s->b = b;
	s->t = t;
	s->now = tf_now_ms();
	rc = tf_task_create_item(&t->spec, s->now, &s->item, &id, &s->soon,
	    t->error, sizeof(t->error));
	if (rc != TF_OK) {
		t->rc = rc;
		if (rc == TF_ERR_NOMEM)
			snprintf(t->error, sizeof(t->error), "out of memory");
		finish(s);
		return;
	}
	snprintf(t->id, sizeof(t->id), "%s", id);
	s->writing = true;
	b->active++;
	put(s);
}

/* Takes tasks while there is room, sends what waits for a message, and
 * stops the loop when everything is done. */
static void
pump(struct bulk *b)
{
	struct tf_bulk_task *t;
	size_t waiting = 0;
	int p;

	while (!b->input_done && b->active < b->window) {
		t = b->o.next(b->o.ctx);
		if (t == NULL)
			b->input_done = true;
		else
			start(b, t);
	}
	/* A part batch goes when no write could add to it. */
	for (p = 0; p < TF_PRIORITY__N; p++) {
		if (b->n_pending[p] > 0 && b->active == 0)
			flush(b, (enum tf_priority)p);
		waiting += b->n_pending[p];
	}
	if (b->input_done && b->active == 0 && b->sends == 0 && waiting == 0)
		tf_loop_stop(b->loop);
}

static void
on_kick(void *ctx, enum tf_err rc)
{
	struct bulk *b = ctx;

	if (rc == TF_OK)
		pump(b);
}

enum tf_err
tf_bulk_create(struct tf_aws *aws, const char *table,
    const struct tf_bulk_opts *o)
{
	struct tf_loop_config cfg = { 0 };
	struct bulk b;
	enum tf_err rc;

	memset(&b, 0, sizeof(b));
	b.aws = aws;
	b.table = table;
	b.o = *o;
	if (b.o.in_flight <= 0)
		b.o.in_flight = TF_BULK_IN_FLIGHT;
	b.rounds = o->rounds == 0 ? TF_BULK_ROUNDS : o->rounds < 0 ? 0 :
	    o->rounds;
	b.window = b.o.in_flight;
	/* The table's shard count (read once; 16 if that fails, always safe),
	 * before the loop: the items are built on it. */
	(void)tf_due_load(aws, table);
	cfg.max_host_connections = b.o.in_flight;
	rc = tf_loop_new(&cfg, &b.loop);
	if (rc != TF_OK)
		return rc;
	rc = tf_loop_post(b.loop, on_kick, &b);
	if (rc == TF_OK)
		rc = tf_loop_run(b.loop);
	tf_loop_free(b.loop);
	return rc;
}
