/*
 * process.c - one message through docs/design.md section 5: parse, hold
 * until due, claim, run, write the outcome, enqueue the next iteration,
 * delete.
 *
 * Every step that can fail leaves the system in a state the next message or
 * the sweeper repairs: a message is deleted only after the state it stood for
 * is written, and a write is always conditional on the generation read.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "callback.h"
#include "consumer.h"
#include "host.h"
#include "invoke.h"
#include "limiter.h"
#include "metrics.h"
#include "ns_gate.h"
#include "task/ns_pause.h"
#include "task/task.h"
#include "task/task_async.h"
#include "task/task_write.h"
#include "time/schedule.h"

#define ERRTEXT 512

/* The context of one message, for log lines. */
struct job {
	struct tf_consumer *c;
	const struct tf_sqs_message *m;
	struct tf_task_message msg;
	const char *runner;           /* borrowed from the task once claimed */
	const char *ns;               /* borrowed from the task once read */
	char iteration[24];
	char attempt[24];
	char late[24];                /* the run's start minus its due time, ms */
	int64_t late_ms;              /* the same, when late[0] is set */
	int64_t claim_mono;           /* monotonic ms just before the claim: the
	                                 lease it writes ends a visibility later */
	bool chained;                 /* the run's outcome write claimed the
	                                 next iteration (logged as "chained") */
};

static void job_log(const struct job *j, enum tf_log_level level,
    const char *outcome, const char *duration, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Logs one line about this message with its task, namespace, runner,
 * iteration, attempt, outcome and run duration (those that are known). */
static void
job_log(const struct job *j, enum tf_log_level level, const char *outcome,
    const char *duration, const char *fmt, ...)
{
	struct tf_log_field f[9] = {
		{ "task", j->msg.id[0] ? j->msg.id : NULL },
		{ "ns", j->ns },
		{ "runner", j->runner },
		{ "iteration", j->iteration[0] ? j->iteration : NULL },
		{ "attempt", j->attempt[0] ? j->attempt : NULL },
		{ "outcome", outcome },
		{ "duration_ms", duration },
		{ "late_ms", duration != NULL && j->late[0] ? j->late : NULL },
		{ "chained", j->chained ? "true" : NULL },
	};
	char text[1024];
	va_list ap;

	if (!tf_log_enabled(level))
		return;
	/* A message without conversions (the run's own lines) is not copied. */
	if (strchr(fmt, '%') == NULL) {
		tf_log_fields(level, f, 9, "%s", fmt);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	tf_log_fields(level, f, 9, "%s", text);
}

/* Counts a run for /metrics: under its runner's name when this consumer
 * has the runner (loaded), else under TF_METRICS_UNKNOWN_RUNNER. */
static void
count_run(const struct job *j, bool loaded, enum tf_metrics_outcome outcome,
    int64_t duration_ms)
{
	tf_metrics_run(j->c->metrics, loaded ? j->runner :
	    TF_METRICS_UNKNOWN_RUNNER, outcome, duration_ms, j->late[0] != '\0',
	    j->late_ms);
}

/* The index of the queue message m came from (its tag, checked). */
static int
message_queue(const struct tf_sqs_message *m)
{
	return m->queue > 0 && m->queue < TF_PRIORITY__N ? m->queue :
	    TF_PRIORITY_NORMAL;
}

/* The priority task t (borrowed) is sent with: its own, or for an item of
 * the original scheduler without one, the priority its message carried. */
static enum tf_priority
task_priority(const struct job *j, const struct tf_task *t)
{
	return t->legacy && t->priority == TF_PRIORITY_NORMAL ?
	    j->msg.priority : t->priority;
}

static void
delete_message(struct job *j)
{
	if (j->m->receipt_handle == NULL)
		return;  /* a chained iteration has no message (section 12.1) */
	if (tf_deleter_add(j->c->deleter[message_queue(j->m)],
	    j->m->receipt_handle) != TF_OK)
		tf_sqs_delete_message(j->c->ctx->aws,
		    tf_consumer_queue_url(j->c, j->m->queue), j->m->receipt_handle);
}

/* Makes the message visible again after `seconds` (a retry soon). */
static void
retry_message_in(struct job *j, int seconds)
{
	tf_sqs_change_message_visibility(j->c->ctx->aws,
	    tf_consumer_queue_url(j->c, j->m->queue), j->m->receipt_handle,
	    seconds);
}

/* Sends the live message for task id, generation gen, due at due_ms, to the
 * queue of priority p (twice under the duplicate-sends test switch). */
static enum tf_err
send_wakeup(struct tf_consumer *c, enum tf_priority p, const char *id,
    int64_t due_ms, int64_t gen)
{
	enum tf_err rc = tf_task_send_message(c->ctx->aws, c->ctx->queue_url, p,
	    id, due_ms, gen, tf_now_ms());

	if (rc == TF_OK && c->o.duplicate_sends)
		rc = tf_task_send_message(c->ctx->aws, c->ctx->queue_url, p, id,
		    due_ms, gen, tf_now_ms());
	return rc;
}

/* Tells the sweeper how long this message waited in the queue after it
 * became visible (at its send, or its delay's end, a second before its
 * target time at the earliest): a backlog is not a lost message. */
static void
note_queue_wait(const struct job *j)
{
	int64_t visible = j->m->sent_ms;

	if (visible <= 0)
		return;
	if (j->msg.target_ms - 1000 > visible)
		visible = j->msg.target_ms - 1000;
	if (tf_now_ms() > visible)
		tf_sweeper_note_queue_wait(j->c->sweeper, tf_now_ms() - visible);
}

/*
 * A recurring task's next occurrence after this run: the schedule's next slot
 * after the one this run belongs to (and after now). Returns false when the
 * task has no usable schedule; *next is 0 when the schedule is over.
 */
static bool
next_occurrence(const struct tf_task *t, int64_t now, int64_t *next)
{
	struct tf_schedule *s = NULL;
	char err[256];

	if (t->schedule == NULL)
		return false;
	if (tf_schedule_parse(t->schedule, &s, err, sizeof(err)) != TF_OK) {
		struct tf_log_field f[] = { { "task", t->id } };

		tf_log_fields(TF_LOG_ERROR, f, 1, "ignoring the task's schedule: %s",
		    err);
		return false;
	}
	*next = tf_schedule_next(s, t->slot > 0 ? t->slot : t->next_run, now,
	    t->iteration + 1);
	tf_schedule_free(s);
	return true;
}

/* An empty outcome with the consumer's settings: the enqueue horizon, the
 * runs kept in `history`, the retention of finished tasks. */
static void
outcome_init(const struct tf_consumer *c, struct tf_task_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->horizon_ms = c->cfg->horizon_ms;
	o->history_kept = c->cfg->history_kept;
	o->retention_ms = c->cfg->retention_ms;
}

/* Turns the runner's result into the outcome to write. */
static void
outcome_from_result(const struct tf_consumer *c, const struct tf_task *t,
    const struct tf_run_result *r, const struct tf_run_ctx *ctx, int64_t now,
    struct tf_task_outcome *o)
{
	int64_t backoff, next = 0;
	bool recurring;

	outcome_init(c, o);
	o->result_json = ctx->result_json;
	/* A recurring task's occurrence that succeeded, or failed for good, makes
	 * way for the next slot: the schedule decides when the task is over. */
	recurring = r->outcome != TF_RUN_RETRY && next_occurrence(t, now, &next);
	switch (recurring ? TF_RUN_SUCCESS : r->outcome) {
	case TF_RUN_SUCCESS:
		o->kind = TF_OUTCOME_DONE;
		o->new_params = ctx->new_params;
		if (recurring) {
			o->completed = next == 0;
			o->slot = next;
			o->next_run = r->new_target_timestamp > 0 ?
			    r->new_target_timestamp : next;
			if (r->outcome == TF_RUN_FAILED)
				o->error = r->error[0] ? r->error : "permanent error";
		} else {
			o->completed = r->completed != 0;
			o->next_run = r->new_target_timestamp > 0 ?
			    r->new_target_timestamp : now;
		}
		break;
	case TF_RUN_RETRY:
		o->kind = TF_OUTCOME_RETRY;
		o->error = r->error[0] ? r->error : "retryable error";
		backoff = tf_task_backoff_ms(t->attempts + 1, c->cfg->retry_base_ms,
		    c->cfg->retry_cap_ms);
		o->retry_at = now + backoff;
		if (r->retry_after_ms > o->retry_at)
			o->retry_at = r->retry_after_ms;
		break;
	default:
		o->kind = TF_OUTCOME_FAILED;
		o->error = r->error[0] ? r->error : "permanent error";
		break;
	}
}

/*
 * The claim succeeded but the item is not a task this consumer can read (no
 * type, params that are not a map...): it cannot run, so it ends FAILED with
 * the reason, instead of staying PROCESSING.
 */
static void
fail_unreadable(struct job *j, const char *why)
{
	struct tf_task t;
	struct tf_task_outcome o = { 0 };
	enum tf_task_status state;
	int64_t next_gen, enqueue_at;
	char text[TF_TASK_ERROR_MAX], err[ERRTEXT];
	enum tf_err rc;

	memset(&t, 0, sizeof(t));
	t.id = j->msg.id;
	t.gen = j->msg.gen + 1;               /* what the claim wrote */
	t.lease_owner = (char *)j->c->o.owner;
	t.max_attempts = 1;
	snprintf(text, sizeof(text), "item is not a valid task: %s", why);
	o.kind = TF_OUTCOME_FAILED;
	o.error = text;
	o.retention_ms = j->c->cfg->retention_ms;
	rc = tf_task_finish(j->c->ctx->aws, j->c->cfg->table, &t, &o, tf_now_ms(),
	    &state, &next_gen, &enqueue_at, err, sizeof(err));
	job_log(j, TF_LOG_ERROR, "failed", NULL, "%s%s%s", text,
	    rc == TF_OK ? "" : "; marking it FAILED failed too: ",
	    rc == TF_OK ? "" : tf_strerror(rc));
	if (rc == TF_OK || rc == TF_ERR_CONDITION)
		delete_message(j);
}

/*
 * A message without gen for an item of the original scheduler, which has no
 * next_run: the message's targetTimestamp is the task's only due time, and
 * the claim cannot see it. When such a message comes early (the original
 * scheduler delayed messages by at most 15 minutes and sent them again),
 * send it again for its time and delete this one instead of running the task
 * now. True when the message was dealt with here.
 */
static bool
legacy_early(struct job *j)
{
	struct tf_consumer *c = j->c;
	struct tf_task t;
	char err[ERRTEXT];
	bool handled = false;

	if (j->msg.gen != 0 || j->msg.target_ms <= tf_now_ms() + c->o.skew_ms)
		return false;
	if (tf_task_get(c->ctx->aws, c->cfg->table, j->msg.id, &t, err,
	    sizeof(err)) == TF_OK && t.legacy && t.gen == 0 && t.next_run == 0 &&
	    t.status == TF_TASK_PENDING) {
		handled = true;
		tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_EARLY);
		if (send_wakeup(c, task_priority(j, &t), t.id, j->msg.target_ms,
		    0) == TF_OK) {
			job_log(j, TF_LOG_DEBUG, "early", NULL, "early message re-sent "
			    "for its due time");
			delete_message(j);
		} else {
			retry_message_in(j, 5);
		}
	}
	tf_task_free(&t);
	return handled;
}

/* ---- the run: one message as a state machine on the loop --------------------
 *
 * received -> (held on a timer until due) -> claim -> runner (on the loop
 * when it returns at once, else on a runner thread) -> outcome write ->
 * next message -> delete. Every AWS call of the hot path is asynchronous;
 * the rare branches (a claim that failed its condition, an unreadable item,
 * a message of the original scheduler that came early) run the synchronous
 * code above on a thread of libuv's pool, exactly as before.
 */

struct tf_run {
	struct job j;                   /* j.m points at m */
	struct tf_sqs_message m;        /* owned */
	struct tf_task t;               /* owned: the claimed task */
	int slot;                       /* the crash journal's slot, -1: none */
	struct tf_loop_timer *hold;     /* the hold timer, while held */
	struct tf_run *prev, *next;     /* c->held, while held */

	const struct tf_loaded_runner *lr;  /* borrowed; NULL: not loaded */
	struct tf_inflight f;
	struct tf_run_ctx ctx;
	struct tf_task_view view;
	struct tf_run_result result;
	char errbuf[TF_TASK_ERROR_MAX];
	int64_t started_mono, took;
	char dur[24];

	struct tf_task_outcome o;
	int64_t now;
	bool refused;                   /* the outcome is "runner output refused"
	                                   (its text in errbuf: the runner's own
	                                   error is not written then) */
	enum tf_task_status state;      /* what the outcome wrote */
	int64_t next_gen, enqueue_at;
	int sends_left;                 /* next messages still to send (2 under
	                                   the duplicate-sends test switch) */
	bool blocking_ok;               /* the pool's blocking branch handled
	                                   the message (legacy_early) */
	struct tf_consumer_callback *cb; /* owned: the run's callback, written
	                                   with its outcome, sent after; NULL */
	struct tf_limiter_wait *lw;     /* owned: its keys' limits (limiter.h),
	                                   NULL: none applies */
	bool limit_held;                /* waiting for them, counted in held_n */
};

static void
run_end(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	tf_limiter_wait_free(r->lw);
	tf_journal_run_end(c->journal, r->slot);
	tf_consumer_callback_drop(r->cb);
	tf_run_ctx_clear(&r->ctx);
	tf_task_free(&r->t);
	tf_sqs_message_clear(&r->m);
	tf_free(r);
	tf_consumer_run_ended(c);
}

/* ---- the rare branches, on libuv's pool ---- */

static void
on_blocking_done(void *ctx, enum tf_err rc)
{
	run_end(ctx);
}

/* Runs branch(r) on a pool thread, then ends the run. */
static void
run_blocking(struct tf_run *r, void (*branch)(void *))
{
	if (tf_loop_work(r->j.c->loop, branch, on_blocking_done, r) != TF_OK) {
		job_log(&r->j, TF_LOG_WARN, NULL, NULL, "cannot hand the message "
		    "to a thread; it reappears after its visibility timeout");
		run_end(r);
	}
}

static void
branch_unreadable(void *ctx)
{
	struct tf_run *r = ctx;

	fail_unreadable(&r->j, r->errbuf);
}

/* The message is made visible again after `seconds`; the run ends. */
static void
retry_in(struct tf_run *r, int seconds)
{
	tf_consumer_hand_back(r->j.c, &r->m, 1, seconds, "to retry");
	run_end(r);
}

/* ---- a claim that failed its condition (docs/design.md section 5, step 3):
 * the item, read on the loop, says why, and the message is dealt with
 * accordingly; every call is asynchronous, so a burst of early or stale
 * messages holds no thread and no run waits behind it. ---- */

/* Its message deleted (dropped, or replaced), the run ends. */
static void
unclaimed_end(struct tf_run *r)
{
	delete_message(&r->j);
	run_end(r);
}

static void
on_early_released(void *ctx, enum tf_err rc)
{
	struct tf_run *r = ctx;

	if (rc != TF_OK && rc != TF_ERR_CONDITION) {
		retry_in(r, 5);
		return;
	}
	job_log(&r->j, TF_LOG_DEBUG, "early", NULL, "message far ahead of its "
	    "due time; left to the sweeper");
	unclaimed_end(r);
}

static void send_wakeup_async(struct tf_run *r);

static void
on_wakeup_sent(void *ctx, enum tf_err rc, const char *err)
{
	struct tf_run *r = ctx;

	(void)err;
	if (rc != TF_OK) {
		retry_in(r, 5);
		return;
	}
	if (--r->sends_left > 0) {
		send_wakeup_async(r);
		return;
	}
	job_log(&r->j, TF_LOG_DEBUG, "early", NULL, "early message re-sent for "
	    "its due time");
	unclaimed_end(r);
}

/* Sends the live message of the task read (r->t) again, for its due time
 * (twice under the duplicate-sends test switch). */
static void
send_wakeup_async(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	tf_task_send_message_async(c->ctx->aws, c->loop, c->ctx->queue_url,
	    task_priority(&r->j, &r->t), r->t.id, r->t.next_run, r->t.gen,
	    tf_now_ms(), on_wakeup_sent, r);
}

/* The item of a task whose claim failed its condition; on TF_OK the run
 * takes *t. */
static void
on_unclaimed_read(void *ctx, enum tf_err rc, struct tf_task *t,
    const char *err)
{
	struct tf_run *r = ctx;
	struct tf_consumer *c = r->j.c;
	struct job *j = &r->j;
	int64_t now;

	if (rc == TF_OK) {
		r->t = *t;
		memset(t, 0, sizeof(*t));
		j->ns = r->t.ns;
	}
	if (rc == TF_ERR_NOT_FOUND) {
		tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_MISSING);
		job_log(j, TF_LOG_WARN, "dropped", NULL, "task does not exist; "
		    "message deleted");
		unclaimed_end(r);
		return;
	}
	if (rc == TF_ERR_PARSE) {
		tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_INVALID);
		job_log(j, TF_LOG_ERROR, "dropped", NULL, "item is not a task (%s); "
		    "message deleted", err);
		unclaimed_end(r);
		return;
	}
	if (rc != TF_OK) {
		tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_ERROR);
		job_log(j, TF_LOG_WARN, NULL, NULL, "reading the task failed (%s); "
		    "the message will be retried", tf_strerror(rc));
		retry_in(r, 5);
		return;
	}
	if (r->t.gen != j->msg.gen) {
		/* Another generation's message: a duplicate or one the sweeper
		 * replaced. Never runs: the live message carries t.gen. */
		tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_STALE);
		job_log(j, TF_LOG_DEBUG, "stale", NULL, "stale message dropped");
		unclaimed_end(r);
		return;
	}
	if (r->t.status != TF_TASK_PENDING) {
		tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_FINISHED);
		job_log(j, TF_LOG_DEBUG, "dropped", NULL, "task is %s; message deleted",
		    tf_task_status_name(r->t.status));
		unclaimed_end(r);
		return;
	}
	now = tf_now_ms();
	if (r->t.next_run > now + c->cfg->horizon_ms) {
		/* Its live message, far too early (the horizon shrank, or the task
		 * was moved later): no message until it comes within the horizon,
		 * when the sweeper sends one. */
		tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_EARLY);
		tf_task_release_message_async(c->ctx->aws, c->loop, c->cfg->table,
		    r->t.id, r->t.gen, on_early_released, r);
		return;
	}
	if (r->t.next_run > now + c->o.skew_ms) {
		/* Its live message, early: send it again for the due time. */
		tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_EARLY);
		r->sends_left = c->o.duplicate_sends ? 2 : 1;
		send_wakeup_async(r);
		return;
	}
	/* Pending, due, same generation: the item changed between the claim
	 * and the read. Retry soon; should it never settle, the dead-letter
	 * queue takes the message after maxReceiveCount receives. */
	tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_CHANGED);
	job_log(j, TF_LOG_WARN, NULL, NULL, "the task changed during the claim; "
	    "the message will be retried in 1 s");
	retry_in(r, 1);
}

/* ---- the outcome ---- */

static void write_outcome(struct tf_run *r);
static void refuse_output(struct tf_run *r, const char *why);

/* The run is over: counted, logged, its message deleted. */
static void
run_finished(struct tf_run *r)
{
	struct job *j = &r->j;
	struct tf_task_outcome *o = &r->o;
	enum tf_task_status state = r->state;

	if (o->paused_ns) {
		count_run(j, r->lr != NULL, TF_METRICS_PAUSED, 0);
		job_log(j, TF_LOG_INFO, "paused", r->dur, "not run: namespace %s "
		    "is paused; the task is suspended until it is resumed",
		    r->t.ns);
		delete_message(j);
		run_end(r);
		return;
	}
	count_run(j, r->lr != NULL, state == TF_TASK_COMPLETED ?
	    TF_METRICS_COMPLETED : state == TF_TASK_FAILED ? TF_METRICS_FAILED :
	    o->kind == TF_OUTCOME_RETRY ? TF_METRICS_RETRY : TF_METRICS_SUCCESS,
	    r->took);
	job_log(j, state == TF_TASK_FAILED ? TF_LOG_WARN : TF_LOG_INFO,
	    state == TF_TASK_COMPLETED ? "completed" : state == TF_TASK_FAILED ?
	    "failed" : o->kind == TF_OUTCOME_RETRY ? "retry" : "success", r->dur,
	    "run finished%s%s", o->error != NULL ? ": " : "",
	    o->error != NULL ? o->error : "");
	delete_message(j);
	run_end(r);
}

/* On a pool thread: no message is out for the next generation. */
static void
branch_release(void *ctx)
{
	struct tf_run *r = ctx;
	struct tf_consumer *c = r->j.c;

	tf_task_release_message(c->ctx->aws, c->cfg->table, r->t.id, r->next_gen);
}

static void
on_released(void *ctx, enum tf_err rc)
{
	run_finished(ctx);
}

static void send_next(struct tf_run *r);

static void
on_next_sent(void *ctx, enum tf_err rc, const char *err)
{
	struct tf_run *r = ctx;

	if (rc != TF_OK) {
		/* No message is out: say so, and the next sweep sends it (else
		 * the sweep after the grace period does). */
		job_log(&r->j, TF_LOG_WARN, NULL, NULL, "sending the next message "
		    "failed (%s); the sweeper will enqueue it", err);
		if (tf_loop_work(r->j.c->loop, branch_release, on_released, r) !=
		    TF_OK)
			run_finished(r);
		return;
	}
	if (--r->sends_left > 0)
		send_next(r);
	else
		run_finished(r);
}

static void
send_next(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	tf_task_send_message_async(c->ctx->aws, c->loop, c->ctx->queue_url,
	    task_priority(&r->j, &r->t), r->t.id, r->enqueue_at, r->next_gen,
	    tf_now_ms(), on_next_sent, r);
}

static void
on_outcome_written(void *ctx, enum tf_err rc, enum tf_task_status state,
    int64_t next_gen, int64_t enqueue_at, const char *err)
{
	struct tf_run *r = ctx;
	struct tf_consumer *c = r->j.c;
	struct job *j = &r->j;

	if (!r->refused && (rc == TF_ERR_INVALID || rc == TF_ERR_TOO_LARGE ||
	    (rc == TF_ERR_VALIDATION && (r->o.new_params != NULL ||
	    r->o.result_json != NULL)))) {
		/* The runner handed back params or a result DynamoDB cannot take
		 * (each may fit while the item they make is over 400 KB): that is
		 * the runner's permanent failure. */
		refuse_output(r, err);
		write_outcome(r);
		return;
	}
	if (rc == TF_ERR_CONDITION) {
		count_run(j, r->lr != NULL, TF_METRICS_LEASE_LOST, r->took);
		job_log(j, TF_LOG_WARN, "lease_lost", r->dur, "the task changed "
		    "during the run; result discarded");
		delete_message(j);
		run_end(r);
		return;
	}
	if (rc != TF_OK) {
		/* The lease expires and the task is recovered; this message is
		 * stale by then. */
		count_run(j, r->lr != NULL, TF_METRICS_WRITE_FAILED, r->took);
		job_log(j, TF_LOG_ERROR, "write_failed", r->dur, "writing the "
		    "outcome failed: %s", tf_strerror(rc));
		run_end(r);
		return;
	}
	r->state = state;
	r->next_gen = next_gen;
	r->enqueue_at = enqueue_at;
	/* After the write, never before: a callback tells of a written
	 * outcome (which keeps it on the item until it is cleared). */
	tf_consumer_callback_send(r->cb, state);
	r->cb = NULL;
	if (enqueue_at > 0) {
		r->sends_left = c->o.duplicate_sends ? 2 : 1;
		send_next(r);
		return;
	}
	run_finished(r);
}

/* The runner's output cannot be stored (why: borrowed): the outcome
 * becomes its permanent failure "runner output refused: why". */
static void
refuse_output(struct tf_run *r, const char *why)
{
	snprintf(r->errbuf, sizeof(r->errbuf), "runner output refused: %s", why);
	r->refused = true;
	outcome_init(r->j.c, &r->o);
	r->o.kind = TF_OUTCOME_FAILED;
	r->o.error = r->errbuf;
	r->o.duration_ms = r->took;
	r->o.late_ms = r->j.late_ms;
	r->o.limited_ms = tf_limiter_waited(r->lw, &r->o.limited_by);
}

/* Prepares the callback of r's outcome and has the outcome write keep it
 * on the item (callback.h). */
static void
prepare_callback(struct tf_run *r)
{
	tf_consumer_callback_drop(r->cb);
	r->cb = tf_consumer_callback_prepare(r->j.c, &r->t, &r->o,
	    tf_task_outcome_state(&r->t, &r->o), tf_now_ms());
	tf_consumer_callback_record(r->cb, tf_now_ms(), &r->o);
}

static void
write_outcome(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	prepare_callback(r);
	tf_task_finish_async(c->ctx->aws, c->loop, c->cfg->table, &r->t, &r->o,
	    r->now, on_outcome_written, r);
}

/* ---- chains continued locally (docs/design.md section 12.1) ---- */

static void run_claimed(struct tf_run *r);

/* True when r's next iteration is due within the hold window and this
 * consumer keeps going and has room: the outcome write then claims it too.
 * Room: one due at once keeps its run's slot; one due later waits on a
 * timer without a slot, counted with the held messages, whose cap
 * (tf_consumer_hold_cap()) bounds the memory they take. The wait is also
 * at most half of what the chained claim's lease leaves before the
 * heartbeat's margin (a short --visibility-timeout), so the iteration
 * starts well inside its lease (lease_over_before_start()). */
static bool
can_chain(const struct tf_run *r)
{
	const struct tf_consumer *c = r->j.c;
	int64_t next = r->o.next_run > 0 ? r->o.next_run : r->now;
	int64_t now = tf_now_ms();
	int64_t lease_ms = c->o.visibility_s * 1000LL;
	int64_t wait_max = (lease_ms - tf_heartbeat_margin_ms(
	    c->o.visibility_s)) / 2;

	return !atomic_load(&c->stopping) && !c->o.once && !r->refused &&
	    r->lr != NULL && r->o.kind == TF_OUTCOME_DONE && !r->o.completed &&
	    tf_task_outcome_state(&r->t, &r->o) == TF_TASK_PENDING &&
	    next <= now + c->o.hold_max_ms && next <= now + wait_max &&
	    (next <= now || atomic_load(&c->held_n) < tf_consumer_hold_cap(c));
}

/* A chained iteration waiting on its timer: what it needs to run when due
 * (its claimed task, the journal slot naming it, its message's fields for
 * log lines and the claim's time), not a whole run (struct tf_run is 2.3
 * KB; this a fifth of it). It is counted as a run until that run ends. */
struct chain_wait {
	struct tf_consumer *c;
	struct tf_task t;               /* owned: the claimed iteration */
	struct tf_task_message msg;
	int slot;
	int64_t claim_mono;
	struct tf_loop_timer *hold;
};

static void
on_chain_due(void *ctx, enum tf_err rc)
{
	struct chain_wait *w = ctx;
	struct tf_consumer *c = w->c;
	struct tf_run *r;

	w->hold = NULL;
	if (rc == TF_ERR_CANCELLED)
		return;  /* the loop stopped: only after every run ended */
	/* It takes a slot again, even when all are taken meanwhile: the
	 * iteration is claimed, its lease runs. */
	atomic_fetch_sub(&c->held_n, 1);
	r = tf_calloc(1, sizeof(*r));
	if (r == NULL) {
		/* Not run here: its lease runs out and the sweeper sends its
		 * message again (section 12.1), as if this consumer had died. */
		tf_log(TF_LOG_ERROR, "out of memory: chained iteration of task "
		    "%s left to its lease", w->t.id);
		tf_journal_run_end(c->journal, w->slot);
		tf_task_free(&w->t);
		tf_free(w);
		tf_consumer_run_ended(c);
		return;
	}
	r->j.c = c;
	r->j.m = &r->m;
	r->j.msg = w->msg;
	r->j.claim_mono = w->claim_mono;
	r->slot = w->slot;
	r->t = w->t;  /* the run takes the task */
	tf_free(w);
	run_claimed(r);
}

/* Ends r, whose next iteration (claimed, in r->t) is due in left ms, and
 * keeps that iteration on a timer in a struct chain_wait. False when it
 * cannot wait (no memory, no timer): r is unchanged and runs it now. */
static bool
chain_wait(struct tf_run *r, int64_t left)
{
	struct tf_consumer *c = r->j.c;
	struct chain_wait *w = tf_malloc(sizeof(*w));

	if (w == NULL)
		return false;
	w->c = c;
	w->t = r->t;
	w->msg = r->j.msg;
	w->slot = r->slot;
	w->claim_mono = r->j.claim_mono;
	if (tf_loop_after(c->loop, (long)left, on_chain_due, w, &w->hold) !=
	    TF_OK) {
		tf_free(w);
		return false;
	}
	/* Nothing else of r is live here: its message is deleted and cleared,
	 * its context, callback and limiter wait released (on_chained). */
	tf_free(r);
	return true;
}

static void
on_chained(void *ctx, enum tf_err rc, struct tf_task *t, const char *err)
{
	struct tf_run *r = ctx;
	struct tf_consumer *c = r->j.c;
	struct job *j = &r->j;
	int64_t left;

	r->o.chain_owner = NULL;
	r->o.chain_token = NULL;
	r->o.chain_lease_until = 0;
	if (rc != TF_OK) {
		/* Nothing was written: the ordinary outcome write tells a
		 * suspend or a lost lease apart, and sends the next message. */
		job_log(j, TF_LOG_DEBUG, NULL, NULL, "chaining the next iteration "
		    "failed (%s); writing the outcome", err);
		write_outcome(r);
		return;
	}
	/* This iteration is done: counted and logged as any run; its message
	 * (the chain's first) is stale now and deleted. */
	r->state = TF_TASK_PENDING;
	tf_consumer_callback_send(r->cb, r->state);
	r->cb = NULL;
	count_run(j, true, TF_METRICS_SUCCESS, r->took);
	j->chained = true;
	job_log(j, TF_LOG_INFO, "success", r->dur, "run finished");
	j->chained = false;
	delete_message(j);
	tf_sqs_message_clear(&r->m);
	tf_metrics_chained(c->metrics);

	/* The next iteration, claimed by that write. */
	tf_run_ctx_clear(&r->ctx);
	memset(&r->ctx, 0, sizeof(r->ctx));
	tf_task_free(&r->t);
	r->t = *t;
	memset(t, 0, sizeof(*t));
	memset(&r->view, 0, sizeof(r->view));
	memset(&r->o, 0, sizeof(r->o));
	/* Released after the run; the next iteration passes its limits anew. */
	tf_limiter_wait_free(r->lw);
	r->lw = NULL;
	r->refused = false;
	j->late[0] = '\0';
	j->late_ms = 0;
	left = r->t.next_run - tf_now_ms();
	if (left > 0 && chain_wait(r, left)) {
		/* Waiting for its time it takes no run's slot, as a held
		 * message does: another message may use it meanwhile. */
		atomic_fetch_add(&c->held_n, 1);
		tf_receiver_fill(c);
		return;
	}
	run_claimed(r);
}

static void
chain_next(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	/* The journal names the generation the chained write claims. */
	tf_journal_run_end(c->journal, r->slot);
	r->slot = tf_journal_run_begin(c->journal, r->t.id, r->t.gen + 2);
	r->j.claim_mono = tf_mono_ms();
	prepare_callback(r);
	tf_task_chain_async(c->ctx->aws, c->loop, c->cfg->table, &r->t, &r->o,
	    r->now, c->o.owner, c->o.visibility_s * 1000LL, on_chained, r);
}

/* The runner returned (or there was none): the outcome to write. */
static void
after_run(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;
	struct job *j = &r->j;
	char err[ERRTEXT];

	r->took = tf_mono_ms() - r->started_mono;
	snprintf(r->dur, sizeof(r->dur), "%" PRId64, r->took);
	/* Its in-flight slots go to the next run now, not after the write. */
	tf_limiter_release(r->lw);
	if (atomic_load(&r->f.lost)) {
		count_run(j, r->lr != NULL, TF_METRICS_LEASE_LOST, r->took);
		job_log(j, TF_LOG_WARN, "lease_lost", r->dur, "lease lost during "
		    "the run; result discarded");
		delete_message(j);
		run_end(r);
		return;
	}
	r->now = tf_now_ms();
	if (r->result.outcome == TF_RUN_RETRY && r->result.retry_after_ms >
	    r->now)
		/* Its host asked for time (Retry-After): the fleet holds it. */
		tf_limiter_hold(c->limiter, &r->t, r->result.retry_after_ms);
	outcome_from_result(c, &r->t, &r->result, &r->ctx, r->now, &r->o);
	r->o.duration_ms = r->took;
	r->o.late_ms = j->late_ms;
	r->o.limited_ms = tf_limiter_waited(r->lw, &r->o.limited_by);
	/* A time outside 2000..9999 is refused like output too big to store. */
	if (tf_run_result_check_times(&r->result, err, sizeof(err)) != TF_OK) {
		refuse_output(r, err);
	}
	if (can_chain(r))
		chain_next(r);
	else
		write_outcome(r);
}

/* ---- the runner ---- */

static void
on_unleased(void *ctx)
{
	after_run(ctx);
}

/* On the loop: a run begun with start() completed. */
static void
on_runner_completed(void *ctx)
{
	struct tf_run *r = ctx;

	tf_consumer_begun_end(r->lr, &r->view, &r->result, r->errbuf,
	    sizeof(r->errbuf), &r->ctx);
	/* No extension after this (the message is deleted after the write):
	 * after_run() waits for one in flight. */
	tf_heartbeat_remove(r->j.c->hb, &r->f, on_unleased, r);
}

static void
on_runner_returned(void *ctx, enum tf_err rc)
{
	struct tf_run *r = ctx;

	/* No extension after this (the message is deleted after the write):
	 * after_run() waits for one in flight. */
	tf_heartbeat_remove(r->j.c->hb, &r->f, on_unleased, r);
}

/* On a runner thread: the blocking runner's call, leased by the heartbeat
 * (on the loop) from its hand-off until the loop hears it returned. */
static void
call_runner_blocking(void *ctx)
{
	struct tf_run *r = ctx;
	struct tf_consumer *c = r->j.c;

	/* A lease lost while it waited for this thread, or ending by the
	 * clock: not started at all (after_run() discards it). */
	atomic_store(&r->f.started, 1);
	if (!atomic_load(&r->f.lost) && !tf_inflight_lease_ending(&r->f,
	    tf_mono_ms(), tf_heartbeat_margin_ms(c->o.visibility_s))) {
		tf_journal_enter(c->journal, r->slot);
		tf_consumer_invoke(c, r->lr, &r->view, &r->result, &r->ctx);
		tf_journal_leave(c->journal);
	}
	if (tf_loop_post(c->loop, on_runner_returned, r) != TF_OK)
		tf_log(TF_LOG_WARN, "a run ended after the event loop stopped; its "
		    "lease expires");
}

static void start_run(struct tf_run *r);

/* Claimed run r whose lease was lost before its runner started: not run.
 * Counted and logged (why) as a lost lease, its limits released, its
 * message deleted (the item belongs to whoever recovers it), r ended. */
static void
end_unstarted_lease_lost(struct tf_run *r, const char *why)
{
	struct job *j = &r->j;

	tf_limiter_release(r->lw);
	count_run(j, false, TF_METRICS_LEASE_LOST, 0);
	job_log(j, TF_LOG_WARN, "lease_lost", NULL, "%s", why);
	delete_message(j);
	run_end(r);
}

/* Claimed run r whose namespace is paused: not run. Its task is suspended
 * with the mark paused_by_ns and no attempt charged; resuming the namespace
 * resumes it (lib/task/ns_pause.h). */
static void
park_paused(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	r->now = tf_now_ms();
	r->took = 0;
	snprintf(r->dur, sizeof(r->dur), "0");
	outcome_init(c, &r->o);
	r->o.kind = TF_OUTCOME_RETRY;
	r->o.uncharged = true;
	r->o.paused_ns = true;
	r->o.duration_ms = -1;
	r->o.late_ms = r->j.late_ms;
	write_outcome(r);
}

/* The wait for r's limits is over, its lease no longer extended by the
 * heartbeat for it: it starts, unless its lease was lost meanwhile. */
static void
on_limit_unleased(void *ctx)
{
	struct tf_run *r = ctx;

	if (atomic_load(&r->f.lost)) {
		end_unstarted_lease_lost(r, "lease lost while the run waited for "
		    "its limits; not run");
		return;
	}
	start_run(r);
}

/* The consumer stops while r waits for its limits: not run. Its task goes
 * back to PENDING with no attempt charged and its message is sent again,
 * for another consumer. */
static void
on_limit_unleased_stopping(void *ctx)
{
	struct tf_run *r = ctx;
	struct tf_consumer *c = r->j.c;

	tf_limiter_release(r->lw);
	r->now = tf_now_ms();
	r->took = 0;
	snprintf(r->dur, sizeof(r->dur), "0");
	snprintf(r->errbuf, sizeof(r->errbuf), "not started: consumer %s "
	    "stopped while the run waited for its limits", c->o.owner);
	outcome_init(c, &r->o);
	r->o.kind = TF_OUTCOME_RETRY;
	r->o.uncharged = true;
	r->o.error = r->errbuf;
	r->o.retry_at = r->now;
	r->o.duration_ms = -1;
	r->o.late_ms = r->j.late_ms;
	r->o.limited_ms = tf_limiter_waited(r->lw, &r->o.limited_by);
	write_outcome(r);
}

static void
on_limits_passed(void *ctx, bool granted)
{
	struct tf_run *r = ctx;
	struct tf_consumer *c = r->j.c;
	const char *by;
	int64_t waited = tf_limiter_waited(r->lw, &by);

	if (r->limit_held) {
		r->limit_held = false;
		atomic_fetch_sub(&c->held_n, 1);
	}
	tf_metrics_limited(c->metrics, waited);
	if (granted)
		job_log(&r->j, TF_LOG_DEBUG, NULL, NULL, "limits held the run back "
		    "%" PRId64 " ms (longest: %s)", waited, by != NULL ? by : "-");
	tf_heartbeat_remove(c->hb, &r->f, granted ? on_limit_unleased :
	    on_limit_unleased_stopping, r);
}

/* Claimed run r, its namespace not paused: it starts once its keys'
 * limits let it (limiter.h). While it waits its lease is kept by the
 * heartbeat, and it takes no run's slot while the held messages' cap
 * allows (the limit, not this consumer, is what it waits for). */
static void
pass_limits(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	if (tf_limiter_acquire(c->limiter, tf_ns_gate_limits(c->ns_gate), &r->t,
	    &r->lw, on_limits_passed, r)) {
		start_run(r);
		return;
	}
	tf_heartbeat_add(c->hb, &r->f);
	if (atomic_load(&c->held_n) < tf_consumer_hold_cap(c)) {
		r->limit_held = true;
		atomic_fetch_add(&c->held_n, 1);
		tf_receiver_fill(c);
	}
}

static void
on_ns_decided(void *ctx, bool paused)
{
	struct tf_run *r = ctx;

	if (paused)
		park_paused(r);
	else
		pass_limits(r);
}

/* Claimed task r->t: runs it. */
static void
run_claimed(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;
	struct job *j = &r->j;
	struct tf_task *t = &r->t;

	/* An earlier run's callback its consumer never cleared: sent before
	 * this run's outcome replaces it. */
	tf_consumer_callback_rescue_task(c, t);
	j->runner = t->type;
	j->ns = t->ns;
	snprintf(j->iteration, sizeof(j->iteration), "%" PRId64, t->iteration);
	snprintf(j->attempt, sizeof(j->attempt), "%" PRId64, t->attempts + 1);

	memset(&r->f, 0, sizeof(r->f));
	r->f.task_id = t->id;
	r->f.receipt_handle = r->m.receipt_handle;
	r->f.queue_url = tf_consumer_queue_url(c, r->m.queue);
	if (r->m.receipt_handle == NULL) {
		/* A chained iteration: no message, the lease alone keeps it. */
		r->f.receipt_gone = 1;
		r->f.visible_until = INT64_MAX;
	}
	r->f.gen = t->gen;
	r->f.lease_until = t->lease_until;
	atomic_store(&r->f.lease_end_mono, j->claim_mono +
	    c->o.visibility_s * 1000LL);
	r->f.visible_until = tf_now_ms() + c->o.visibility_s * 1000LL;
	r->ctx.c = c;
	r->ctx.f = &r->f;
	r->ctx.task_id = t->id;
	r->ctx.runner = t->type;

	tf_run_result_prepare(&r->result, r->errbuf, sizeof(r->errbuf));
	if (t->next_run > 0) {
		j->late_ms = tf_now_ms() - t->next_run;
		snprintf(j->late, sizeof(j->late), "%" PRId64, j->late_ms);
	}
	/* A paused namespace starts nothing (ns_gate.h). A webhook's host may
	 * be held by another consumer's Retry-After: a fresher copy then. */
	tf_ns_gate_check_within(c->ns_gate, t->ns, strcmp(t->type, "http") == 0 ?
	    TF_LIMIT_HOLD_FRESH_MS : TF_NS_PAUSE_FRESH_MS, on_ns_decided, r);
}

/* True when r's lease is over or within the heartbeat's margin of its end
 * (consumer/inflight.h's clock rule) before its runner starts: a claim
 * answered late (DynamoDB slow or partitioned, the claim applied at once)
 * may hand over a lease that has already ended, and another consumer's
 * sweeper may have recovered the task and run the iteration meanwhile.
 * Then r is not run: counted and logged as a lost lease, its message
 * deleted, r ended (the task is retried after its lease). */
static bool
lease_over_before_start(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	if (!atomic_load(&r->f.lost) && !tf_inflight_lease_over(&r->f,
	    tf_mono_ms(), tf_heartbeat_margin_ms(c->o.visibility_s)))
		return false;
	end_unstarted_lease_lost(r, "the lease ran out before the run started "
	    "(its claim was answered late); not run");
	return true;
}

/* Claimed run r, its namespace not paused: its runner starts, unless its
 * lease is already over. */
static void
start_run(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;
	struct tf_task *t = &r->t;

	if (lease_over_before_start(r))
		return;
	r->started_mono = tf_mono_ms();
	r->lr = tf_runner_set_find(c->runners, t->type);
	if (r->lr == NULL) {
		/* Retried, not failed: in a rolling deploy another consumer may
		 * have the runner; max_attempts still ends it. */
		r->result.outcome = TF_RUN_RETRY;
		snprintf(r->errbuf, sizeof(r->errbuf), "no runner \"%s\" is loaded "
		    "in consumer %s", t->type, c->o.owner);
		after_run(r);
		return;
	}
	r->view.size = sizeof(r->view);
	r->view.id = t->id;
	r->view.ns = t->ns;
	r->view.type = t->type;
	r->view.params_json = t->params_json;
	r->view.params_len = strlen(t->params_json);
	r->view.iteration = t->iteration;
	r->view.attempt = (int32_t)(t->attempts + 1);
	r->view.max_attempts = (int32_t)t->max_attempts;
	r->view.target_ms = t->next_run;
	r->view.host = tf_host_api();
	r->view.ctx = &r->ctx;
	if (tf_loaded_runner_starts(r->lr)) {
		/* Asynchronous (runner ABI 1.2): begun here, on the loop; it
		 * holds no thread until it completes. */
		tf_heartbeat_add(c->hb, &r->f);
		if (!tf_consumer_begin(c, r->lr, &r->view, &r->result, &r->ctx,
		    r->slot, on_runner_completed, r))
			tf_heartbeat_remove(c->hb, &r->f, on_unleased, r);
		return;
	}
	if ((tf_loaded_runner_flags(r->lr) & TF_RUNNER_RETURNS_AT_ONCE) &&
	    !tf_loaded_runner_isolated(r->lr)) {
		/* It returns at once: called here, on the loop. */
		tf_journal_enter(c->journal, r->slot);
		tf_consumer_invoke(c, r->lr, &r->view, &r->result, &r->ctx);
		tf_journal_leave(c->journal);
		after_run(r);
		return;
	}
	/* Leased while it waits for a runner thread too. */
	tf_heartbeat_add(c->hb, &r->f);
	if (tf_runpool_submit(c->pool, call_runner_blocking, r) != TF_OK) {
		r->result.outcome = TF_RUN_RETRY;
		snprintf(r->errbuf, sizeof(r->errbuf), "consumer %s could not hand "
		    "the run to a runner thread", c->o.owner);
		tf_heartbeat_remove(c->hb, &r->f, on_unleased, r);
	}
}

/* ---- the claim ---- */

static void
on_claimed(void *ctx, enum tf_err rc, struct tf_task *t, const char *err)
{
	struct tf_run *r = ctx;
	struct tf_consumer *c = r->j.c;

	if (rc == TF_OK) {
		r->t = *t;  /* the run takes the task */
		memset(t, 0, sizeof(*t));
		tf_metrics_claim_won(c->metrics);
		tf_once_claimed(c->once, r->j.msg.id);
		run_claimed(r);
	} else if (rc == TF_ERR_CONDITION) {
		tf_task_get_async(c->ctx->aws, c->loop, c->cfg->table, r->j.msg.id,
		    on_unclaimed_read, r);
	} else if (rc == TF_ERR_PARSE) {
		/* Claimed, but the item is no task: it ends FAILED, no run. */
		tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_INVALID);
		snprintf(r->errbuf, sizeof(r->errbuf), "%s", err);
		run_blocking(r, branch_unreadable);
	} else {
		tf_metrics_claim_lost(c->metrics, TF_METRICS_LOST_ERROR);
		job_log(&r->j, TF_LOG_WARN, NULL, NULL, "claim failed (%s); the "
		    "message will be retried", tf_strerror(rc));
		retry_in(r, 5);
	}
}

static void
claim(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	r->j.claim_mono = tf_mono_ms();
	/* In the crash journal (journal.h) from before the claim, which a
	 * process dying meanwhile may still see applied, until the outcome is
	 * written. */
	r->slot = tf_journal_run_begin(c->journal, r->j.msg.id, r->j.msg.gen + 1);
	tf_task_claim_async(c->ctx->aws, c->loop, c->cfg->table, r->j.msg.id,
	    r->j.msg.gen, c->o.owner, tf_now_ms(), c->o.skew_ms,
	    c->o.visibility_s * 1000LL, on_claimed, r);
}

/* ---- due: the original scheduler's early messages, then the claim ---- */

static void
branch_legacy_early(void *ctx)
{
	struct tf_run *r = ctx;

	r->blocking_ok = legacy_early(&r->j);
}

static void
on_legacy_checked(void *ctx, enum tf_err rc)
{
	struct tf_run *r = ctx;

	if (rc != TF_OK || r->blocking_ok)
		run_end(r);
	else
		claim(r);
}

/* The message is due (or never was early). */
static void
due(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	if (r->j.msg.gen == 0 && r->j.msg.target_ms > tf_now_ms() + c->o.skew_ms) {
		/* Perhaps an item of the original scheduler, due later. */
		if (tf_loop_work(c->loop, branch_legacy_early, on_legacy_checked,
		    r) != TF_OK)
			run_end(r);
		return;
	}
	claim(r);
}

/* ---- held until due ---- */

static void
unhold(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		c->held = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	r->hold = NULL;
	c->held_n--;
}

/* Runs in flight that hold a slot: not held, not waiting for one. */
static int
running(const struct tf_consumer *c)
{
	return c->busy - c->held_n - c->ready_n;
}

/* Every slot is taken: run r (counted in busy, not held) waits at the end
 * of the ready list; the first run to end starts it. */
static void
wait_for_slot(struct tf_run *r)
{
	struct tf_consumer *c = r->j.c;

	r->next = NULL;
	if (c->ready_tail != NULL)
		c->ready_tail->next = r;
	else
		c->ready = r;
	c->ready_tail = r;
	c->ready_n++;
}

static void
on_hold_over(void *ctx, enum tf_err rc)
{
	struct tf_run *r = ctx;
	struct tf_consumer *c = r->j.c;
	bool full;

	if (rc == TF_ERR_CANCELLED)
		return;  /* the loop stopped: only after every run ended */
	full = running(c) >= atomic_load(&c->receive_limit);  /* r not counted */
	unhold(r);
	if (full) {
		wait_for_slot(r);
		return;
	}
	due(r);
}

/* Takes the oldest run waiting for a slot off the list; NULL when none. */
static struct tf_run *
pop_ready(struct tf_consumer *c)
{
	struct tf_run *r = c->ready;

	if (r != NULL) {
		c->ready = r->next;
		if (c->ready == NULL)
			c->ready_tail = NULL;
		r->next = NULL;
		c->ready_n--;
	}
	return r;
}

void
tf_consumer_start_ready(struct tf_consumer *c)
{
	struct tf_run *r;

	while (c->ready != NULL && !atomic_load(&c->stopping) &&
	    running(c) < atomic_load(&c->receive_limit)) {
		r = pop_ready(c);
		due(r);
	}
}

void
tf_consumer_release_held(struct tf_consumer *c)
{
	struct tf_run *r;

	while ((r = c->held) != NULL) {
		tf_loop_timer_cancel(r->hold);
		unhold(r);
		tf_consumer_hand_back(c, &r->m, 1, 0, "held until their time when "
		    "the stop began");
		run_end(r);
	}
	while ((r = pop_ready(c)) != NULL) {
		tf_consumer_hand_back(c, &r->m, 1, 0, "waiting for a slot when the "
		    "stop began");
		run_end(r);
	}
}

void
tf_consumer_process(struct tf_consumer *c, struct tf_sqs_message *m)
{
	struct tf_run *r = tf_calloc(1, sizeof(*r));
	struct job *j;
	char err[ERRTEXT];
	int64_t left;

	if (r == NULL) {
		tf_log(TF_LOG_ERROR, "out of memory: a message reappears after its "
		    "visibility timeout");
		tf_sqs_message_clear(m);
		tf_consumer_run_ended(c);
		return;
	}
	r->m = *m;
	memset(m, 0, sizeof(*m));
	r->slot = -1;
	j = &r->j;
	j->c = c;
	j->m = &r->m;
	if (tf_task_message_parse(r->m.body, &j->msg, err, sizeof(err)) != TF_OK) {
		/* Never processable: delete it rather than let it cycle to the DLQ. */
		tf_metrics_malformed(c->metrics);
		job_log(j, TF_LOG_ERROR, "dropped", NULL, "malformed message "
		    "deleted: %s", err);
		delete_message(j);
		run_end(r);
		return;
	}
	/* What the run needs of its message is in j->msg now, and its receipt
	 * handle: the body and id are not kept while it runs. */
	tf_free(r->m.body);
	tf_free(r->m.message_id);
	r->m.body = r->m.message_id = NULL;
	note_queue_wait(j);
	left = j->msg.target_ms > 0 ? j->msg.target_ms - tf_now_ms() : 0;
	if (left > 0 && left <= c->o.hold_max_ms) {
		/* Early (DelaySeconds rounds down): a timer, not a thread. */
		job_log(j, TF_LOG_DEBUG, NULL, NULL, "message %lld ms early: held "
		    "until its time", (long long)left);
		if (tf_loop_after(c->loop, (long)left, on_hold_over, r, &r->hold) ==
		    TF_OK) {
			r->next = c->held;
			if (c->held != NULL)
				c->held->prev = r;
			c->held = r;
			c->held_n++;
			return;
		}
	}
	if (running(c) > atomic_load(&c->receive_limit)) {
		/* r is counted: every slot was taken when it came, by the
		 * spare poll of an idle queue (receive.c), which holds none. */
		wait_for_slot(r);
		return;
	}
	due(r);
}
