/* task_manage.c - suspend, resume, run-now, retry, patch, clear, due and
 * stats. */
#include "task/task_manage.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ddb.h"
#include "aws/marshal.h"
#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "task/due.h"
#include "time/timefmt.h"

/* BatchWriteItem rounds for the unprocessed items of one clear page. */
#define CLEAR_ROUNDS 10

const char *
tf_manage_verdict_name(enum tf_manage_verdict v)
{
	static const char *const names[] = {
		[TF_MANAGE_CHANGE] = "changed",
		[TF_MANAGE_REQUEST] = "requested",
		[TF_MANAGE_WITHDRAW] = "withdrawn",
		[TF_MANAGE_ALREADY] = "already",
		[TF_MANAGE_REFUSE] = "refused",
	};

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

enum tf_manage_verdict
tf_manage_decide(enum tf_manage_action action, const struct tf_task *t)
{
	switch (action) {
	case TF_MANAGE_SUSPEND:
		if (t->status == TF_TASK_PENDING)
			return TF_MANAGE_CHANGE;
		if (t->status == TF_TASK_PROCESSING)
			return t->suspend_requested ? TF_MANAGE_ALREADY : TF_MANAGE_REQUEST;
		if (t->status == TF_TASK_SUSPENDED)
			return TF_MANAGE_ALREADY;
		return TF_MANAGE_REFUSE;
	case TF_MANAGE_RESUME:
		if (t->status == TF_TASK_SUSPENDED)
			return TF_MANAGE_CHANGE;
		if (t->status == TF_TASK_PROCESSING && t->suspend_requested)
			return TF_MANAGE_WITHDRAW;
		return TF_MANAGE_REFUSE;
	case TF_MANAGE_RUN_NOW:
		return t->status == TF_TASK_PENDING ? TF_MANAGE_CHANGE : TF_MANAGE_REFUSE;
	case TF_MANAGE_RETRY:
		return t->status == TF_TASK_FAILED ? TF_MANAGE_CHANGE : TF_MANAGE_REFUSE;
	}
	return TF_MANAGE_REFUSE;
}

char *
tf_manage_refusal(enum tf_manage_action action, const char *id,
    enum tf_task_status found, bool suspend_requested, char *buf, size_t len)
{
	const char *st = tf_task_status_name(found);

	switch (action) {
	case TF_MANAGE_SUSPEND:
		snprintf(buf, len, "task %s is %s; only PENDING or PROCESSING tasks "
		    "can be suspended", id, st);
		break;
	case TF_MANAGE_RESUME:
		if (found == TF_TASK_PENDING)
			snprintf(buf, len, "task %s is PENDING, not suspended; only "
			    "SUSPENDED tasks can be resumed", id);
		else if (found == TF_TASK_PROCESSING && !suspend_requested)
			snprintf(buf, len, "task %s is PROCESSING and no suspend was "
			    "requested; only SUSPENDED tasks can be resumed", id);
		else
			snprintf(buf, len, "task %s is %s; only SUSPENDED tasks can be "
			    "resumed", id, st);
		break;
	case TF_MANAGE_RUN_NOW:
		if (found == TF_TASK_SUSPENDED)
			snprintf(buf, len, "task %s is SUSPENDED; resume it instead "
			    "(taskfleet resume %s): a resumed task whose time has passed "
			    "runs at once", id, id);
		else if (found == TF_TASK_PROCESSING)
			snprintf(buf, len, "task %s is running now (PROCESSING); only "
			    "PENDING tasks can be run now", id);
		else
			snprintf(buf, len, "task %s is %s; only PENDING tasks can be run "
			    "now", id, st);
		break;
	case TF_MANAGE_RETRY:
		if (found == TF_TASK_PENDING)
			snprintf(buf, len, "task %s is PENDING, it has not failed; only "
			    "FAILED tasks can be retried (taskfleet run-now %s runs it "
			    "now)", id, id);
		else if (found == TF_TASK_SUSPENDED)
			snprintf(buf, len, "task %s is SUSPENDED, it has not failed; only "
			    "FAILED tasks can be retried (taskfleet resume %s)", id, id);
		else
			snprintf(buf, len, "task %s is %s; only FAILED tasks can be "
			    "retried", id, st);
		break;
	default:
		snprintf(buf, len, "task %s is %s", id, st);
		break;
	}
	return buf;
}

int
tf_manage_delay_s(int64_t due_ms, int64_t now_ms)
{
	return tf_task_delay_s(due_ms, now_ms);
}

enum tf_err
tf_manage_send(struct tf_aws *aws, const char *queue_url, enum tf_priority p,
    const char *id, int64_t gen, int64_t due_ms, int64_t now_ms, int *delay_s)
{
	if (delay_s != NULL)
		*delay_s = tf_task_delay_s(due_ms, now_ms);
	return tf_task_send_message(aws, queue_url, p, id, due_ms, gen, now_ms);
}

/* True when text uses the placeholder ph as a whole word (":f" is not used
 * by ":found"): DynamoDB refuses values an expression does not use. */
static bool
uses(const char *text, const char *ph)
{
	size_t n = strlen(ph);
	const char *p;

	for (p = text; p != NULL && (p = strstr(p, ph)) != NULL; p += n)
		if (!isalnum((unsigned char)p[n]) && p[n] != '_')
			return true;
	return false;
}

/* The values a change may use, bound when the expressions use them. */
struct change_values {
	const char *found;     /* :found */
	const char *status;    /* :new */
	int64_t gen, ngen;     /* :g, :ng */
	int64_t now, next;     /* :now, :next (and :dmsg, the due_at of a
	                          message out for :next) */
	const char *shard;     /* :shard */
	const char *ns;        /* :dns; NULL: the default namespace */
	const cJSON *hist;     /* :hist, the new history (AV); borrowed */
	const char *prio;      /* :prio, a priority's name (#prio: PRIORITY is
	                          one of DynamoDB's reserved words) */
};

static enum tf_err
bind_values(struct tf_ddb_expr *e, const char *exprs,
    const struct change_values *v)
{
	enum tf_err rc = TF_OK;

	if (rc == TF_OK && uses(exprs, "#st"))
		rc = tf_ddb_expr_name(e, "#st", "status");
	if (rc == TF_OK && uses(exprs, "#ttl"))
		rc = tf_ddb_expr_name(e, "#ttl", "ttl");
	if (rc == TF_OK && uses(exprs, "#prio"))
		rc = tf_ddb_expr_name(e, "#prio", "priority");
	if (rc == TF_OK && uses(exprs, ":prio"))
		rc = tf_ddb_expr_value_s(e, ":prio", v->prio);
	if (rc == TF_OK && uses(exprs, ":hist"))
		rc = tf_ddb_expr_value(e, ":hist", cJSON_Duplicate(v->hist, 1));
	if (rc == TF_OK && uses(exprs, ":found"))
		rc = tf_ddb_expr_value_s(e, ":found", v->found);
	if (rc == TF_OK && uses(exprs, ":new"))
		rc = tf_ddb_expr_value_s(e, ":new", v->status);
	if (rc == TF_OK && uses(exprs, ":g"))
		rc = tf_ddb_expr_value_n(e, ":g", v->gen);
	if (rc == TF_OK && uses(exprs, ":ng"))
		rc = tf_ddb_expr_value_n(e, ":ng", v->ngen);
	if (rc == TF_OK && uses(exprs, ":now"))
		rc = tf_ddb_expr_value_n(e, ":now", v->now);
	if (rc == TF_OK && uses(exprs, ":next"))
		rc = tf_ddb_expr_value_n(e, ":next", v->next);
	if (rc == TF_OK && uses(exprs, ":dmsg"))
		rc = tf_ddb_expr_value_n(e, ":dmsg", tf_due_at_message(NULL,
		    v->next));
	if (rc == TF_OK && uses(exprs, ":shard"))
		rc = tf_ddb_expr_value_s(e, ":shard", v->shard);
	if (rc == TF_OK && uses(exprs, ":f"))
		rc = tf_ddb_expr_value_bool(e, ":f", false);
	if (rc == TF_OK && uses(exprs, ":t"))
		rc = tf_ddb_expr_value_bool(e, ":t", true);
	if (rc == TF_OK && uses(exprs, ":zero"))
		rc = tf_ddb_expr_value_n(e, ":zero", 0);
	if (rc == TF_OK && uses(exprs, ":dns"))
		rc = tf_ddb_expr_value_s(e, ":dns", v->ns != NULL ? v->ns :
		    TF_DEFAULT_NS);
	if (rc == TF_OK && uses(exprs, ":dmax"))
		rc = tf_ddb_expr_value_n(e, ":dmax", TF_DEFAULT_MAX_ATTEMPTS);
	return rc;
}

/* What a consumer's claim fills in for an item of the original scheduler
 * (next_run apart: the caller sets it). */
#define LEGACY_FILL ", ns = if_not_exists(ns, :dns), " \
	"iteration = if_not_exists(iteration, :zero), " \
	"attempts = if_not_exists(attempts, :zero), " \
	"max_attempts = if_not_exists(max_attempts, :dmax), " \
	"created_at = if_not_exists(created_at, :now)"

/* The condition of a change to task t as read: its status (for an item of
 * the original scheduler, no status and not completed) and its generation
 * (:found, :f, :g). */
static enum tf_err
append_read_condition(struct tf_buf *cond, const struct tf_task *t)
{
	enum tf_err rc;

	if (t->legacy)
		rc = tf_buf_append_str(cond, "attribute_not_exists(#st) AND "
		    "(attribute_not_exists(completed) OR completed = :f)");
	else
		rc = tf_buf_append_str(cond, "#st = :found");
	if (rc != TF_OK)
		return rc;
	return tf_buf_append_str(cond, t->gen == 0 ?
	    " AND (attribute_not_exists(gen) OR gen = :g)" : " AND gen = :g");
}

/* The end of the SET clause of a task due again at `next` (:next, :shard):
 * back in the due index, and enqueued_for set when it is within the enqueue
 * horizon (*enqueue: the caller sends the message; due_at then says when
 * that message may be lost, due.h), else removed (the sweeper sends it
 * later). The message out before, if any, is stale by the new generation. */
static enum tf_err
append_due_again(struct tf_buf *upd, int64_t next, int64_t now_ms,
    int64_t horizon_ms, bool *enqueue)
{
	enum tf_err rc;

	*enqueue = next <= now_ms + (horizon_ms > 0 ? horizon_ms :
	    TF_ENQUEUE_HORIZON_MS);
	rc = tf_buf_append_str(upd, *enqueue ? ", due_at = :dmsg" :
	    ", due_at = :next");
	if (rc == TF_OK)
		rc = tf_buf_append_str(upd, ", due_shard = :shard");
	if (rc != TF_OK)
		return rc;
	return tf_buf_append_str(upd, *enqueue ? ", enqueued_for = :next" :
	    " REMOVE enqueued_for");
}

/* Appends attributes attrs ("a, b") to the REMOVE clause of upd, opening it
 * when there is none yet (an update has one clause of each kind). */
static enum tf_err
append_remove(struct tf_buf *upd, const char *attrs)
{
	return tf_buf_appendf(upd, "%s%s", strstr(tf_buf_str(upd), " REMOVE ") ?
	    ", " : " REMOVE ", attrs);
}

/* Updates task id with the SET/REMOVE text upd under the condition cond,
 * binding the values of v they use. TF_ERR_CONDITION when it fails. */
static enum tf_err
update_with(struct tf_aws *aws, const char *table, const char *id,
    const struct tf_buf *upd, const struct tf_buf *cond,
    const struct change_values *v)
{
	struct tf_ddb_expr e = { 0 };
	struct tf_buf all = TF_BUF_INIT;
	cJSON *key = NULL;
	enum tf_err rc = TF_ERR_NOMEM;

	if (tf_buf_appendf(&all, "%s %s", tf_buf_str(upd), tf_buf_str(cond)) != TF_OK)
		goto out;
	e.update = tf_buf_str(upd);
	e.condition = tf_buf_str(cond);
	rc = bind_values(&e, tf_buf_str(&all), v);
	if (rc != TF_OK)
		goto out;
	rc = TF_ERR_NOMEM;
	key = tf_task_key(id);
	if (key == NULL)
		goto out;
	rc = tf_ddb_update_item(aws, table, key, &e, NULL, NULL);
out:
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
	tf_buf_free(&all);
	return rc;
}

/* Writes the change the verdict calls for on task t, as read. Fills r.
 * at_ms and history_kept: a retry's (tf_manage_retry). TF_ERR_CONDITION
 * when t changed since it was read. */
static enum tf_err
write_change(struct tf_aws *aws, const char *table, const struct tf_task *t,
    enum tf_manage_action action, enum tf_manage_verdict verdict,
    int64_t now_ms, int64_t horizon_ms, int64_t at_ms, int history_kept,
    struct tf_manage_result *r)
{
	struct tf_buf upd = TF_BUF_INIT, cond = TF_BUF_INIT;
	struct change_values v = { 0 };
	cJSON *hist = NULL;
	char shard[4];
	bool enqueue = false;
	enum tf_err rc = TF_ERR_NOMEM;

	(void)tf_due_load(aws, table);   /* the shard count: due.h */
	tf_task_shard(t->id, shard);
	v.found = tf_task_status_name(t->status);
	v.gen = t->gen;
	v.ngen = t->gen + 1;
	v.now = now_ms;
	v.shard = shard;
	r->gen = t->gen;
	r->next_run = t->next_run;
	r->status = t->status;

	/* The condition: the status and generation that were read. */
	if (append_read_condition(&cond, t) != TF_OK)
		goto out;

	switch (verdict) {
	case TF_MANAGE_REQUEST:
		/* gen and the lease stay: the consumer's outcome write is
		 * conditional on them and reads the flag. */
		if (tf_buf_append_str(&upd, "SET suspend_requested = :t") != TF_OK)
			goto out;
		break;
	case TF_MANAGE_WITHDRAW:
		if (tf_buf_append_str(&upd, "REMOVE suspend_requested") != TF_OK ||
		    tf_buf_append_str(&cond, " AND suspend_requested = :t") != TF_OK)
			goto out;
		break;
	case TF_MANAGE_CHANGE:
		r->gen = t->gen + 1;
		if (tf_buf_append_str(&upd, "SET #st = :new, gen = :ng, "
		    "updated_at = :now, completed = :f") != TF_OK ||
		    (t->legacy && tf_buf_append_str(&upd, LEGACY_FILL) != TF_OK))
			goto out;
		if (action == TF_MANAGE_SUSPEND) {
			v.status = "SUSPENDED";
			r->status = TF_TASK_SUSPENDED;
			if (t->next_run <= 0)
				r->next_run = now_ms;
			if ((t->next_run <= 0 && tf_buf_append_str(&upd,
			    ", next_run = if_not_exists(next_run, :now)") != TF_OK) ||
			    tf_buf_append_str(&upd, " REMOVE due_shard, due_at, "
			    "enqueued_for") != TF_OK)
				goto out;
			break;
		}
		v.status = "PENDING";
		r->status = TF_TASK_PENDING;
		/* resume: a task whose time passed while suspended runs now;
		 * run-now: now; retry: at its time, now if that has passed. */
		if (action == TF_MANAGE_RETRY)
			v.next = at_ms > now_ms ? at_ms : now_ms;
		else
			v.next = action == TF_MANAGE_RUN_NOW || t->next_run < now_ms ?
			    now_ms : t->next_run;
		r->next_run = v.next;
		if (tf_buf_append_str(&upd, ", next_run = :next") != TF_OK)
			goto out;
		if (action == TF_MANAGE_RETRY) {
			/* A fresh count of attempts; errors and history stay,
			 * with a note of the retry. */
			if (history_kept > 0 && (v.hist = hist =
			    tf_task_history_note(t, "retried", now_ms,
			    history_kept)) == NULL)
				goto out;
			if (tf_buf_append_str(&upd, ", attempts = :zero") != TF_OK ||
			    (hist != NULL &&
			    tf_buf_append_str(&upd, ", history = :hist") != TF_OK))
				goto out;
		}
		if (append_due_again(&upd, v.next, now_ms, horizon_ms,
		    &enqueue) != TF_OK)
			goto out;
		/* Not finished any more: DynamoDB's TTL must not delete it. */
		if (action == TF_MANAGE_RETRY &&
		    append_remove(&upd, "#ttl, finished_at") != TF_OK)
			goto out;
		/* Running again: no longer the pause's to resume (ns_pause.h). */
		if (append_remove(&upd, "paused_by_ns") != TF_OK)
			goto out;
		break;
	default:
		rc = TF_ERR_INVALID;
		goto out;
	}
	rc = update_with(aws, table, t->id, &upd, &cond, &v);
	if (rc == TF_OK && enqueue)
		r->enqueue_at = v.next;
out:
	cJSON_Delete(hist);
	tf_buf_free(&upd);
	tf_buf_free(&cond);
	return rc;
}

/* tf_manage_change() and tf_manage_retry(): read, decide, write, and again
 * from a fresh read when the task changed in between. */
static enum tf_err
change(struct tf_aws *aws, const char *table, const char *id,
    enum tf_manage_action action, int64_t now_ms, int64_t horizon_ms,
    int64_t at_ms, int history_kept, struct tf_manage_result *r, char *errbuf,
    size_t errlen)
{
	struct tf_task t;
	enum tf_err rc = TF_ERR_CONDITION;
	int try;

	memset(r, 0, sizeof(*r));
	memset(&t, 0, sizeof(t));
	for (try = 0; try < TF_MANAGE_TRIES && rc == TF_ERR_CONDITION; try++) {
		tf_task_free(&t);
		rc = tf_task_get(aws, table, id, &t, errbuf, errlen);
		if (rc != TF_OK)
			break;
		memset(r, 0, sizeof(*r));
		r->verdict = tf_manage_decide(action, &t);
		r->found = r->status = t.status;
		r->gen = t.gen;
		r->next_run = t.next_run;
		r->suspend_requested = t.suspend_requested;
		r->legacy = t.legacy;
		r->priority = t.priority;
		if (r->verdict == TF_MANAGE_ALREADY || r->verdict == TF_MANAGE_REFUSE)
			break;
		rc = write_change(aws, table, &t, action, r->verdict, now_ms,
		    horizon_ms, at_ms, history_kept, r);
	}
	if (rc == TF_ERR_CONDITION)
		snprintf(errbuf, errlen, "task %s kept changing while it was being "
		    "changed (%d tries); try again", id, TF_MANAGE_TRIES);
	tf_task_free(&t);
	return rc;
}

enum tf_err
tf_manage_change(struct tf_aws *aws, const char *table, const char *id,
    enum tf_manage_action action, int64_t now_ms, int64_t horizon_ms,
    struct tf_manage_result *r, char *errbuf, size_t errlen)
{
	return change(aws, table, id, action, now_ms, horizon_ms, 0,
	    TF_TASK_HISTORY_DEFAULT, r, errbuf, errlen);
}

enum tf_err
tf_manage_retry(struct tf_aws *aws, const char *table, const char *id,
    int64_t at_ms, int64_t now_ms, int64_t horizon_ms, int history_kept,
    struct tf_manage_result *r, char *errbuf, size_t errlen)
{
	return change(aws, table, id, TF_MANAGE_RETRY, now_ms, horizon_ms, at_ms,
	    history_kept, r, errbuf, errlen);
}

bool
tf_manage_patchable(enum tf_task_status s)
{
	return s == TF_TASK_PENDING || s == TF_TASK_SUSPENDED;
}

char *
tf_manage_patch_refusal(const char *id, enum tf_task_status found, char *buf,
    size_t len)
{
	if (found == TF_TASK_PROCESSING)
		snprintf(buf, len, "task %s is running now (PROCESSING); only PENDING "
		    "or SUSPENDED tasks can be changed: suspend it first, or try "
		    "again when the run ends", id);
	else
		snprintf(buf, len, "task %s is %s; only PENDING or SUSPENDED tasks "
		    "can be changed", id, tf_task_status_name(found));
	return buf;
}

/* Binds what append_labels() wrote for patch p in e. */
static enum tf_err
bind_labels(struct tf_ddb_expr *e, const struct tf_manage_patch *p)
{
	enum tf_err rc = TF_OK;

	/* "name" is a DynamoDB reserved word: the expressions say #nm. */
	if (p->name != NULL)
		rc = tf_ddb_expr_name(e, "#nm", "name");
	if (rc == TF_OK && p->name != NULL && p->name[0] != '\0')
		rc = tf_ddb_expr_value_s(e, ":name", p->name);
	if (rc == TF_OK && p->description != NULL)
		rc = tf_ddb_expr_name(e, "#desc", "description");
	if (rc == TF_OK && p->description != NULL && p->description[0] != '\0')
		rc = tf_ddb_expr_value_s(e, ":desc", p->description);
	return rc;
}

/* Appends the SET of the labels patch p gives non-empty to upd; with
 * removing, the REMOVE of those it gives "" instead (after the SET clause
 * is complete). */
static enum tf_err
append_labels(struct tf_buf *upd, const struct tf_manage_patch *p,
    bool removing)
{
	static const char *const set[] = { ", #nm = :name", ", #desc = :desc" };
	static const char *const rm[] = { "#nm", "#desc" };
	const char *v[] = { p->name, p->description };
	enum tf_err rc = TF_OK;
	size_t i;

	for (i = 0; rc == TF_OK && i < 2; i++) {
		if (v[i] == NULL || (v[i][0] == '\0') != removing)
			continue;
		rc = removing ? append_remove(upd, rm[i]) :
		    tf_buf_append_str(upd, set[i]);
	}
	return rc;
}

enum tf_err
tf_manage_patch(struct tf_aws *aws, const char *table, const struct tf_task *t,
    const struct tf_manage_patch *p, int64_t now_ms, int64_t horizon_ms,
    struct tf_manage_result *r, char *errbuf, size_t errlen)
{
	struct tf_ddb_expr e = { 0 };
	struct tf_buf upd = TF_BUF_INIT, cond = TF_BUF_INIT, all = TF_BUF_INIT;
	struct change_values v = { 0 };
	cJSON *key = NULL, *av = NULL;
	char shard[4];
	bool pending = t->status == TF_TASK_PENDING, enqueue = false;
	enum tf_err rc = TF_ERR_NOMEM;

	memset(r, 0, sizeof(*r));
	r->found = r->status = t->status;
	r->gen = t->gen;
	r->next_run = t->next_run;
	r->suspend_requested = t->suspend_requested;
	r->legacy = t->legacy;
	r->priority = t->priority;
	if (!tf_manage_patchable(t->status)) {
		r->verdict = TF_MANAGE_REFUSE;
		return TF_OK;
	}
	if (tf_task_labels_check(p->name, p->description, errbuf,
	    errlen) != TF_OK)
		return TF_ERR_INVALID;
	r->verdict = TF_MANAGE_CHANGE;
	(void)tf_due_load(aws, table);   /* the shard count: due.h */
	tf_task_shard(t->id, shard);
	v.found = v.status = tf_task_status_name(t->status);
	v.gen = t->gen;
	v.ngen = t->gen + 1;
	v.now = now_ms;
	v.shard = shard;
	v.next = p->next_run > 0 ? p->next_run : t->next_run > 0 ? t->next_run :
	    now_ms;
	v.prio = tf_priority_name(p->priority);

	if (append_read_condition(&cond, t) != TF_OK)
		goto out;
	if (tf_buf_append_str(&upd, "SET #st = :new, gen = :ng, updated_at = :now, "
	    "next_run = :next") != TF_OK ||
	    (t->legacy && tf_buf_append_str(&upd, ", completed = :f"
	    LEGACY_FILL) != TF_OK) ||
	    (p->params_json != NULL &&
	    tf_buf_append_str(&upd, ", params = :params") != TF_OK) ||
	    (p->schedule != NULL &&
	    tf_buf_append_str(&upd, ", schedule = :sched") != TF_OK) ||
	    (p->max_attempts > 0 &&
	    tf_buf_append_str(&upd, ", max_attempts = :ma") != TF_OK) ||
	    (p->set_priority &&
	    tf_buf_append_str(&upd, ", #prio = :prio") != TF_OK) ||
	    append_labels(&upd, p, false) != TF_OK)
		goto out;
	if (pending) {
		/* The message out (if any) is stale by the new gen: the task is
		 * due again, with a message now when that is soon. */
		if (append_due_again(&upd, v.next, now_ms, horizon_ms,
		    &enqueue) != TF_OK)
			goto out;
	}
	/* A one-shot from now on: the run at next_run is the last. */
	if (p->schedule == NULL && p->clear_schedule &&
	    append_remove(&upd, "schedule, slot") != TF_OK)
		goto out;
	if (append_labels(&upd, p, true) != TF_OK ||
	    tf_buf_appendf(&all, "%s %s", tf_buf_str(&upd), tf_buf_str(&cond)) != TF_OK)
		goto out;
	e.update = tf_buf_str(&upd);
	e.condition = tf_buf_str(&cond);
	if ((rc = bind_values(&e, tf_buf_str(&all), &v)) != TF_OK ||
	    (rc = bind_labels(&e, p)) != TF_OK)
		goto out;
	if (p->params_json != NULL) {
		rc = tf_marshal_value_json_text(p->params_json,
		    strlen(p->params_json), &av, errbuf, errlen);
		if (rc == TF_OK && cJSON_GetObjectItemCaseSensitive(av, "M") == NULL) {
			snprintf(errbuf, errlen, "params: must be a JSON object");
			rc = TF_ERR_INVALID;
		}
		if (rc != TF_OK)
			goto out;
		rc = tf_ddb_expr_value(&e, ":params", av);
		av = NULL;
		if (rc != TF_OK)
			goto out;
	}
	if (p->schedule != NULL) {
		if ((rc = tf_marshal_value(p->schedule, &av, errbuf, errlen)) != TF_OK)
			goto out;
		rc = tf_ddb_expr_value(&e, ":sched", av);
		av = NULL;
		if (rc != TF_OK)
			goto out;
	}
	if (p->max_attempts > 0 &&
	    (rc = tf_ddb_expr_value_n(&e, ":ma", p->max_attempts)) != TF_OK)
		goto out;
	rc = TF_ERR_NOMEM;
	key = tf_task_key(t->id);
	if (key == NULL)
		goto out;
	rc = tf_ddb_update_item(aws, table, key, &e, NULL, NULL);
	if (rc == TF_OK) {
		r->gen = t->gen + 1;
		r->next_run = v.next;
		if (enqueue)
			r->enqueue_at = v.next;
		if (p->set_priority)
			r->priority = p->priority;
	}
out:
	cJSON_Delete(av);
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
	tf_buf_free(&upd);
	tf_buf_free(&cond);
	tf_buf_free(&all);
	return rc;
}

enum tf_err
tf_manage_clear_ns(struct tf_aws *aws, const char *table, const char *ns,
    int64_t *deleted)
{
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	cJSON *start = NULL, *page = NULL, *reqs = NULL, *req, *key;
	const cJSON *it;
	const char *id;
	enum tf_err rc = TF_ERR_INVALID;
	int n;

	*deleted = 0;
	if (ns == NULL || !tf_task_ns_valid(ns))
		return TF_ERR_INVALID;
	e.key_condition = "#ns = :ns";
	e.projection = "id";
	if ((rc = tf_ddb_expr_name(&e, "#ns", "ns")) != TF_OK ||
	    (rc = tf_ddb_expr_value_s(&e, ":ns", ns)) != TF_OK)
		goto out;
	q.table = table;
	q.index = "by_ns";
	q.expr = &e;
	/* One BatchWriteItem round trip of 25 per 100 keys read. */
	q.limit = 100;
	do {
		rc = tf_ddb_query_page(aws, &q, &start, &page);
		if (rc != TF_OK)
			goto out;
		rc = TF_ERR_NOMEM;
		if ((reqs = cJSON_CreateArray()) == NULL)
			goto out;
		n = 0;
		cJSON_ArrayForEach(it, page) {
			if ((id = tf_ddb_item_s(it, "id")) == NULL)
				continue;
			req = cJSON_CreateObject();
			if (!cJSON_AddItemToArray(reqs, req)) {
				cJSON_Delete(req);
				goto out;
			}
			key = tf_task_key(id);
			if (key == NULL)
				goto out;
			if (cJSON_AddObjectToObject(req, "DeleteRequest") == NULL ||
			    !cJSON_AddItemToObject(cJSON_GetObjectItem(req, "DeleteRequest"),
			    "Key", key)) {
				cJSON_Delete(key);
				goto out;
			}
			n++;
		}
		if (n > 0) {
			rc = tf_ddb_batch_write(aws, table, reqs, CLEAR_ROUNDS);
			if (rc != TF_OK)
				goto out;
			*deleted += n;
		}
		cJSON_Delete(reqs);
		cJSON_Delete(page);
		reqs = page = NULL;
	} while (start != NULL);
	rc = TF_OK;
out:
	cJSON_Delete(reqs);
	cJSON_Delete(page);
	cJSON_Delete(start);
	tf_ddb_expr_free(&e);
	return rc;
}

/* Orders items by next_run, then by id. */
static int
by_due_time(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	int64_t tx = 0, ty = 0;
	const char *ix, *iy;

	tf_ddb_item_n(x, "next_run", &tx);
	tf_ddb_item_n(y, "next_run", &ty);
	if (tx != ty)
		return tx < ty ? -1 : 1;
	ix = tf_ddb_item_s(x, "id");
	iy = tf_ddb_item_s(y, "id");
	return strcmp(ix ? ix : "", iy ? iy : "");
}

/* Sorts the array of items by due time and keeps the first limit. */
static enum tf_err
sort_and_cut(cJSON *items, int limit)
{
	int n = cJSON_GetArraySize(items), i;
	cJSON **v, *it;

	if (n == 0)
		return TF_OK;
	v = tf_calloc((size_t)n, sizeof(*v));
	if (v == NULL)
		return TF_ERR_NOMEM;
	i = 0;
	while ((it = items->child) != NULL)
		v[i++] = cJSON_DetachItemViaPointer(items, it);
	qsort(v, (size_t)n, sizeof(*v), by_due_time);
	for (i = 0; i < n; i++) {
		if (i < limit)
			cJSON_AddItemToArray(items, v[i]);
		else
			cJSON_Delete(v[i]);
	}
	tf_free(v);
	return TF_OK;
}

/* Appends to out the PENDING items of one by_due shard with next_run <=
 * now_ms, keeping the first `limit` of out by next_run. due_at is not
 * next_run (due.h): an overdue task whose message is out has due_at up to
 * a grace and a horizon later, so the key reaches that far and the filter
 * keeps the overdue ones. */
static enum tf_err
due_shard(struct tf_aws *aws, const char *table, const char *shard,
    int64_t now_ms, int limit, cJSON *out)
{
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	cJSON *start = NULL, *page = NULL, *it;
	enum tf_err rc;

	e.key_condition = "due_shard = :shard AND due_at <= :upto";
	e.filter = "#st = :pending AND next_run <= :now";
	if ((rc = tf_ddb_expr_name(&e, "#st", "status")) != TF_OK ||
	    (rc = tf_ddb_expr_value_s(&e, ":shard", shard)) != TF_OK ||
	    (rc = tf_ddb_expr_value_n(&e, ":upto", tf_due_at_message(NULL,
	    now_ms))) != TF_OK ||
	    (rc = tf_ddb_expr_value_n(&e, ":now", now_ms)) != TF_OK ||
	    (rc = tf_ddb_expr_value_s(&e, ":pending", "PENDING")) != TF_OK)
		goto out;
	q.table = table;
	q.index = "by_due";
	q.expr = &e;
	q.limit = TF_TASK_LIST_MAX;
	do {
		rc = tf_ddb_query_page(aws, &q, &start, &page);
		if (rc != TF_OK)
			goto out;
		while ((it = page->child) != NULL) {
			cJSON_DetachItemViaPointer(page, it);
			cJSON_AddItemToArray(out, it);
		}
		cJSON_Delete(page);
		page = NULL;
		rc = sort_and_cut(out, limit);
	} while (rc == TF_OK && start != NULL);
out:
	cJSON_Delete(page);
	cJSON_Delete(start);
	tf_ddb_expr_free(&e);
	return rc;
}

enum tf_err
tf_manage_due(struct tf_aws *aws, const char *table, const char *ns,
    int64_t now_ms, int limit, cJSON **items)
{
	struct tf_task_list_query lq = { 0 };
	struct tf_due_timing timing;
	cJSON *out = NULL, *cursor = NULL;
	char shard[TF_DUE_SHARD_SIZE];
	enum tf_err rc = TF_ERR_INVALID;
	int i;

	*items = NULL;
	if (limit < 1 || limit > TF_TASK_LIST_MAX ||
	    (ns != NULL && !tf_task_ns_valid(ns)))
		return TF_ERR_INVALID;
	if (ns != NULL) {
		lq.ns = ns;
		lq.has_status = true;
		lq.status = TF_TASK_PENDING;
		lq.has_to = true;
		lq.to_ms = now_ms;
		lq.limit = limit;
		lq.ascending = true;
		rc = tf_task_list_page(aws, table, &lq, &cursor, items);
		cJSON_Delete(cursor);
		return rc;
	}
	out = cJSON_CreateArray();
	if (out == NULL)
		return TF_ERR_NOMEM;
	tf_due_get(&timing);
	for (i = 0; i < timing.shards; i++) {
		tf_due_shard_name(i, shard);
		rc = due_shard(aws, table, shard, now_ms, limit, out);
		if (rc != TF_OK)
			goto out;
	}
	*items = out;
	out = NULL;
out:
	cJSON_Delete(out);
	return rc;
}

/* Counts one page of items that carry status (and completed). */
static void
count_page(const cJSON *page, struct tf_manage_counts *c)
{
	const cJSON *it, *done;
	const char *st;
	enum tf_task_status s;

	cJSON_ArrayForEach(it, page) {
		/* The table's own items (config, sweep leases) are no tasks. */
		if (tf_due_internal_id(tf_ddb_item_s(it, "id")))
			continue;
		c->total++;
		st = tf_ddb_item_s(it, "status");
		if (st == NULL) {
			/* The original scheduler's item: only completed says. */
			done = cJSON_GetObjectItemCaseSensitive(it, "completed");
			c->legacy++;
			c->by_status[cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(done,
			    "BOOL")) ? TF_TASK_COMPLETED : TF_TASK_PENDING]++;
		} else if (tf_task_status_parse(st, &s)) {
			c->by_status[s]++;
		} else {
			c->other++;
		}
	}
}

enum tf_err
tf_manage_count(struct tf_aws *aws, const char *table, const char *ns,
    struct tf_manage_counts *c)
{
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	cJSON *start = NULL, *page = NULL;
	enum tf_err rc;

	memset(c, 0, sizeof(*c));
	if (ns != NULL && !tf_task_ns_valid(ns))
		return TF_ERR_INVALID;
	e.projection = "id, #st, completed";
	if ((rc = tf_ddb_expr_name(&e, "#st", "status")) != TF_OK)
		goto out;
	if (ns != NULL) {
		e.key_condition = "#ns = :ns";
		if ((rc = tf_ddb_expr_name(&e, "#ns", "ns")) != TF_OK ||
		    (rc = tf_ddb_expr_value_s(&e, ":ns", ns)) != TF_OK)
			goto out;
		q.index = "by_ns";
	}
	q.table = table;
	q.expr = &e;
	do {
		rc = ns != NULL ? tf_ddb_query_page(aws, &q, &start, &page) :
		    tf_ddb_scan_page(aws, &q, &start, &page);
		if (rc != TF_OK)
			goto out;
		count_page(page, c);
		cJSON_Delete(page);
		page = NULL;
	} while (start != NULL);
out:
	cJSON_Delete(page);
	cJSON_Delete(start);
	tf_ddb_expr_free(&e);
	return rc;
}

enum tf_err
tf_manage_namespaces(struct tf_aws *aws, const char *table, cJSON **by_ns,
    int64_t *without_ns)
{
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	cJSON *start = NULL, *page = NULL, *out, *n;
	const cJSON *it;
	const char *ns;
	enum tf_err rc;

	*by_ns = NULL;
	*without_ns = 0;
	out = cJSON_CreateObject();
	if (out == NULL)
		return TF_ERR_NOMEM;
	e.projection = "id, #ns";
	if ((rc = tf_ddb_expr_name(&e, "#ns", "ns")) != TF_OK)
		goto out;
	q.table = table;
	q.expr = &e;
	do {
		if ((rc = tf_ddb_scan_page(aws, &q, &start, &page)) != TF_OK)
			goto out;
		cJSON_ArrayForEach(it, page) {
			/* The table's own items (config, sweep leases) are no tasks. */
			if (tf_due_internal_id(tf_ddb_item_s(it, "id")))
				continue;
			if ((ns = tf_ddb_item_s(it, "ns")) == NULL) {
				(*without_ns)++;
				continue;
			}
			n = cJSON_GetObjectItemCaseSensitive(out, ns);
			if (n != NULL)
				cJSON_SetNumberValue(n, n->valuedouble + 1);
			else if (cJSON_AddNumberToObject(out, ns, 1) == NULL) {
				rc = TF_ERR_NOMEM;
				goto out;
			}
		}
		cJSON_Delete(page);
		page = NULL;
	} while (start != NULL);
	*by_ns = out;
	out = NULL;
out:
	cJSON_Delete(out);
	cJSON_Delete(page);
	cJSON_Delete(start);
	tf_ddb_expr_free(&e);
	return rc;
}

char *
tf_manage_schedule_describe(const cJSON *schedule, char *buf, size_t len)
{
	const cJSON *every = cJSON_GetObjectItemCaseSensitive(schedule, "every");
	const cJSON *cron = cJSON_GetObjectItemCaseSensitive(schedule, "cron");
	const cJSON *tz = cJSON_GetObjectItemCaseSensitive(schedule, "tz");
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(schedule, "max_runs");
	const cJSON *until = cJSON_GetObjectItemCaseSensitive(schedule, "until");
	char iso[TF_TIMEFMT_ISO_SIZE], *json;
	size_t n;

	buf[0] = '\0';
	if (cJSON_IsString(every))
		/* A zone goes only with calendar steps ("every 1mo Europe/Berlin"). */
		snprintf(buf, len, "every %s%s%s", every->valuestring,
		    cJSON_IsString(tz) ? " " : "",
		    cJSON_IsString(tz) ? tz->valuestring : "");
	else if (cJSON_IsString(cron))
		snprintf(buf, len, "cron %s %s", cron->valuestring,
		    cJSON_IsString(tz) ? tz->valuestring : "UTC");
	else {
		/* Not a schedule this version knows: show it as it is. */
		json = cJSON_PrintUnformatted(schedule);
		snprintf(buf, len, "%s", json ? json : "?");
		cJSON_free(json);
		return buf;
	}
	n = strlen(buf);
	if (cJSON_IsNumber(max) && n < len)
		n += (size_t)snprintf(buf + n, len - n, ", max %.0f run%s",
		    max->valuedouble, max->valuedouble == 1 ? "" : "s");
	if (cJSON_IsNumber(until) && n < len)
		snprintf(buf + n, len - n, ", until %s",
		    tf_timefmt_format((int64_t)until->valuedouble, iso, sizeof(iso)));
	return buf;
}

/* The update that brings a legacy item t into the indexes, and its
 * condition: the item as read (no status, completed as read, gen). With
 * prio, its `priority` (a number or a name in any case) is written as the
 * name of t's priority. */
static enum tf_err
adopt_expressions(const struct tf_task *t, bool prio, struct tf_buf *upd,
    struct tf_buf *cond)
{
	bool done = t->status == TF_TASK_COMPLETED;

	if (tf_buf_append_str(cond, done ? "attribute_not_exists(#st) AND "
	    "completed = :t AND (attribute_not_exists(gen) OR gen = :g)" :
	    "") != TF_OK ||
	    (!done && append_read_condition(cond, t) != TF_OK))
		return TF_ERR_NOMEM;
	/* The original items carry no due time (it was in their message):
	 * next_run is the time of adoption. A pending one enters the due index
	 * with no message out, so the next sweep sends one (gen + 1; a message
	 * of the original scheduler still out then finds its gen stale). */
	if (tf_buf_append_str(upd, "SET #st = :new, gen = :g, updated_at = :now, "
	    "next_run = :now" LEGACY_FILL) != TF_OK ||
	    (!done && tf_buf_append_str(upd, ", completed = :f, due_at = :now, "
	    "due_shard = :shard") != TF_OK) ||
	    (prio && tf_buf_append_str(upd, ", #prio = :prio") != TF_OK))
		return TF_ERR_NOMEM;
	return TF_OK;
}

enum tf_err
tf_manage_adopt(struct tf_aws *aws, const char *table, const cJSON *item,
    const char *ns, int64_t now_ms, bool dry_run, enum tf_adopt_outcome *out)
{
	struct tf_buf upd = TF_BUF_INIT, cond = TF_BUF_INIT;
	struct change_values v = { 0 };
	struct tf_task t;
	char shard[4], err[200];
	enum tf_err rc;

	rc = tf_task_from_item(item, &t, err, sizeof(err));
	if (rc == TF_ERR_NOMEM)
		return rc;
	if (rc != TF_OK) {
		*out = TF_ADOPT_UNREADABLE;
		return TF_OK;
	}
	*out = !t.legacy ? TF_ADOPT_NOT_LEGACY :
	    t.status == TF_TASK_COMPLETED ? TF_ADOPT_COMPLETED : TF_ADOPT_PENDING;
	rc = TF_OK;
	if (!t.legacy || dry_run)
		goto out;
	rc = TF_ERR_NOMEM;
	(void)tf_due_load(aws, table);   /* the shard count: due.h */
	tf_task_shard(t.id, shard);
	v.status = tf_task_status_name(t.status);
	v.gen = t.gen;
	v.now = now_ms;
	v.shard = shard;
	v.ns = ns;
	v.prio = tf_priority_name(t.priority);
	if (adopt_expressions(&t, cJSON_GetObjectItemCaseSensitive(item,
	    "priority") != NULL, &upd, &cond) != TF_OK)
		goto out;
	rc = update_with(aws, table, t.id, &upd, &cond, &v);
	/* A consumer claimed it (or anyone changed it) since the Scan read it:
	 * it is theirs now, and left as it is. */
	if (rc == TF_ERR_CONDITION) {
		*out = TF_ADOPT_CHANGED;
		rc = TF_OK;
	}
out:
	tf_buf_free(&upd);
	tf_buf_free(&cond);
	tf_task_free(&t);
	return rc;
}
