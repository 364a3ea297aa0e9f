/*
 * dlq.c - the dead-letter queue (dlq.h): receiving and holding its
 * messages, judging them by their task's item, moving them back to the
 * queue, making the rest visible again, and the JSON of both.
 */
#include "task/dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "base/alloc.h"

#define POLL_S  1       /* the long poll of each receive */

static const char *const action_names[] = {
	[TF_DLQ_NONE] = "none",
	[TF_DLQ_MOVE] = "would_move",
	[TF_DLQ_MOVED] = "moved",
	[TF_DLQ_SKIP] = "skipped",
	[TF_DLQ_OTHER] = "other_task",
	[TF_DLQ_SEND_FAILED] = "send_failed",
	[TF_DLQ_DELETE_FAILED] = "delete_failed",
	[TF_DLQ_HIDDEN] = "hidden",
};

const char *
tf_dlq_action_name(enum tf_dlq_action a)
{
	return a < TF_DLQ__ACTIONS ? action_names[a] : "none";
}

/* Records the first AWS failure of the run. */
static void
run_failed(struct tf_dlq_run *r, const char *what, enum tf_err rc)
{
	char reason[700];

	if (r->failed)
		return;
	r->failed = true;
	tf_aws_reason(rc, reason, sizeof(reason));
	snprintf(r->reason, sizeof(r->reason), "%s: %s", what, reason);
}

static bool
stopped(const struct tf_dlq_run *r)
{
	return r->stop != NULL && *r->stop != 0;
}

void
tf_dlq_excerpt(const char *body, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; body[i] != '\0' && i < TF_DLQ_EXCERPT_MAX && o + 1 < len; i++) {
		unsigned char ch = (unsigned char)body[i];

		out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (body[i] != '\0' && o + 4 <= len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

enum tf_err
tf_dlq_find(struct tf_aws *aws, const char *url, char **dlq_url)
{
	static const char *const names[] = { "RedrivePolicy", NULL };
	cJSON *attrs = NULL, *policy = NULL;
	const cJSON *rp, *arn;
	const char *name;
	char dlq_name[256];
	enum tf_err rc;

	*dlq_url = NULL;
	rc = tf_sqs_get_queue_attributes(aws, url, names, &attrs);
	if (rc != TF_OK)
		goto out;
	rp = cJSON_GetObjectItemCaseSensitive(attrs, "RedrivePolicy");
	if (cJSON_IsString(rp))
		policy = cJSON_Parse(rp->valuestring);
	arn = cJSON_GetObjectItemCaseSensitive(policy, "deadLetterTargetArn");
	if (cJSON_IsString(arn) && (name = strrchr(arn->valuestring, ':')) != NULL)
		snprintf(dlq_name, sizeof(dlq_name), "%s", name + 1);
	else if ((name = strrchr(url, '/')) != NULL)
		snprintf(dlq_name, sizeof(dlq_name), "%s-dlq", name + 1);
	else
		goto out;
	rc = tf_sqs_get_queue_url(aws, dlq_name, dlq_url);
	if (rc == TF_ERR_NOT_FOUND)
		rc = TF_OK;
out:
	cJSON_Delete(policy);
	cJSON_Delete(attrs);
	return rc;
}

/* Returns the messages of got (n; taken over, array freed) that cannot be
 * kept for want of memory to the queue at once. */
static void
return_now(struct tf_dlq_run *r, struct tf_sqs_message *got, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		tf_sqs_change_message_visibility(r->aws, r->dlq_url,
		    got[i].receipt_handle, 0);
	tf_sqs_messages_free(got, n);
}

/* Receives up to want (1 to 10) more messages and holds them. *fresh: how
 * many were new; a message held already (received again) takes its new
 * receipt handle instead. */
static enum tf_err
receive_more(struct tf_dlq_run *r, int want, size_t *fresh)
{
	struct tf_sqs_receive_opts o = {
		.max_messages = want,
		.wait_seconds = POLL_S,
		.visibility_timeout = TF_DLQ_HOLD_S,
		/* No cancel: a receive cut short could hide messages whose
		 * receipt handles never arrive. A stop waits for POLL_S. */
		.cancel = NULL,
	};
	struct tf_sqs_message *got = NULL;
	struct tf_dlq_msg *d, *v;
	size_t n = 0, i, j, cap;
	enum tf_err rc;

	*fresh = 0;
	rc = tf_sqs_receive_message(r->aws, r->dlq_url, &o, &got, &n);
	if (rc != TF_OK)
		return rc;
	if (r->n + n > r->cap) {
		cap = r->cap ? r->cap * 2 : 64;
		while (cap < r->n + n)
			cap *= 2;
		v = tf_realloc(r->v, cap * sizeof(*v));
		if (v == NULL) {
			return_now(r, got, n);
			return TF_ERR_NOMEM;
		}
		r->v = v;
		r->cap = cap;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < r->n; j++)
			if (r->v[j].held &&
			    strcmp(r->v[j].m.message_id, got[i].message_id) == 0)
				break;
		if (j < r->n) {
			tf_free(r->v[j].m.receipt_handle);
			r->v[j].m.receipt_handle = got[i].receipt_handle;
			tf_free(got[i].message_id);
			tf_free(got[i].body);
			continue;
		}
		d = &r->v[r->n++];
		memset(d, 0, sizeof(*d));
		d->m = got[i];
		d->held = true;
		d->ok = tf_task_message_parse(d->m.body, &d->task, d->why,
		    sizeof(d->why)) == TF_OK;
		(*fresh)++;
	}
	tf_free(got);
	return TF_OK;
}

size_t
tf_dlq_collect(struct tf_dlq_run *r, size_t limit, size_t max_held,
    tf_dlq_visible_fn *visible, void *cls)
{
	size_t shown = 0, fresh, from, i, want;
	enum tf_err rc;

	while ((limit == 0 || shown < limit) && r->n < max_held && !stopped(r)) {
		want = TF_SQS_MAX_BATCH;
		if (limit > 0 && limit - shown < want)
			want = limit - shown;
		if (max_held - r->n < want)
			want = max_held - r->n;
		from = r->n;
		rc = receive_more(r, (int)want, &fresh);
		if (rc != TF_OK) {
			run_failed(r, "receiving from the dead-letter queue", rc);
			break;
		}
		if (fresh == 0)
			break;
		for (i = from; i < r->n; i++) {
			if (visible != NULL && !visible(cls, &r->v[i]))
				r->v[i].act = TF_DLQ_HIDDEN;
			else
				shown++;
		}
	}
	return shown;
}

size_t
tf_dlq_release(struct tf_dlq_run *r)
{
	struct tf_sqs_handle_entry e[TF_SQS_MAX_BATCH];
	struct tf_sqs_batch_result res;
	char ids[TF_SQS_MAX_BATCH][24];
	size_t idx[TF_SQS_MAX_BATCH], i, j, k = 0, left = 0;
	enum tf_err rc;

	for (i = 0; i <= r->n; i++) {
		if (i < r->n && r->v[i].held) {
			snprintf(ids[k], sizeof(ids[k]), "m%zu", k);
			e[k].id = ids[k];
			e[k].receipt_handle = r->v[i].m.receipt_handle;
			e[k].visibility_timeout = 0;
			idx[k++] = i;
		}
		if (k == 0 || (k < TF_SQS_MAX_BATCH && i < r->n))
			continue;
		rc = tf_sqs_change_message_visibility_batch(r->aws, r->dlq_url, e, k,
		    &res);
		if (rc != TF_OK && r->release_reason[0] == '\0')
			tf_aws_reason(rc, r->release_reason, sizeof(r->release_reason));
		for (j = 0; j < k; j++) {
			if (rc == TF_OK || (rc == TF_ERR_PARTIAL &&
			    tf_sqs_batch_failed(&res, e[j].id) == NULL))
				r->v[idx[j]].held = false;
			else
				left++;
		}
		tf_sqs_batch_result_free(&res);
		k = 0;
	}
	return left;
}

void
tf_dlq_run_free(struct tf_dlq_run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		tf_free(r->v[i].m.message_id);
		tf_free(r->v[i].m.receipt_handle);
		tf_free(r->v[i].m.body);
	}
	tf_free(r->v);
	tf_free(r->dlq_url);
	r->v = NULL;
	r->dlq_url = NULL;
	r->n = r->cap = 0;
}

/* ------------------------------------------------------------------ list */

enum tf_err
tf_dlq_view_task(struct tf_dlq_run *r, struct tf_dlq_msg *d)
{
	struct tf_dlq_view *tv = &d->view;
	struct tf_task t;
	enum tf_err rc;

	if (d->viewed)
		return TF_OK;
	d->viewed = true;
	memset(tv, 0, sizeof(*tv));
	if (!d->ok) {
		tv->verdict = "malformed";
		return TF_OK;
	}
	rc = tf_task_get(r->aws, r->table, d->task.id, &t, tv->note,
	    sizeof(tv->note));
	if (rc == TF_ERR_NOT_FOUND && !tf_aws_resource_missing()) {
		tv->verdict = "missing";
		rc = TF_OK;
	} else if (rc == TF_ERR_PARSE) {
		tv->verdict = "not_a_task";
		rc = TF_OK;
	} else if (rc != TF_OK) {
		tv->verdict = "unknown";
		tf_aws_reason(rc, tv->note, sizeof(tv->note));
	} else {
		tv->found = true;
		tv->status = t.status;
		tv->gen = t.gen;
		snprintf(tv->ns, sizeof(tv->ns), "%s", t.ns ? t.ns : TF_DEFAULT_NS);
		switch (t.status) {
		case TF_TASK_PENDING:
		case TF_TASK_PROCESSING:
			/* The consumer runs only the message of the task's own
			 * generation (a claim bumps it, so never a PROCESSING
			 * task's); it drops any other as stale. */
			tv->verdict = t.status == TF_TASK_PENDING &&
			    t.gen == d->task.gen ? "live" : "stale";
			break;
		case TF_TASK_SUSPENDED:
			tv->verdict = "suspended";
			break;
		default:
			tv->verdict = "finished";
			break;
		}
	}
	tf_task_free(&t);
	return rc;
}

cJSON *
tf_dlq_msg_json(const struct tf_dlq_msg *d)
{
	const struct tf_dlq_view *tv = &d->view;
	char ex[TF_DLQ_EXCERPT_MAX + 8];
	cJSON *o = cJSON_CreateObject();
	bool good;

	if (o == NULL)
		return NULL;
	good = cJSON_AddStringToObject(o, "message_id", d->m.message_id) != NULL &&
	    cJSON_AddBoolToObject(o, "malformed", !d->ok) != NULL;
	if (good && d->ok)
		good = cJSON_AddStringToObject(o, "task_id", d->task.id) != NULL &&
		    (d->task.has_gen ?
		    cJSON_AddNumberToObject(o, "gen", (double)d->task.gen) :
		    cJSON_AddNullToObject(o, "gen")) != NULL &&
		    (d->task.target_ms > 0 ?
		    cJSON_AddNumberToObject(o, "target", (double)d->task.target_ms) :
		    cJSON_AddNullToObject(o, "target")) != NULL;
	else if (good) {
		tf_dlq_excerpt(d->m.body, ex, sizeof(ex));
		good = cJSON_AddNullToObject(o, "task_id") != NULL &&
		    cJSON_AddNullToObject(o, "gen") != NULL &&
		    cJSON_AddNullToObject(o, "target") != NULL &&
		    cJSON_AddStringToObject(o, "error", d->why) != NULL &&
		    cJSON_AddStringToObject(o, "excerpt", ex) != NULL;
	}
	good = good &&
	    (d->m.receive_count > 0 ? cJSON_AddNumberToObject(o, "receive_count",
	    d->m.receive_count - 1) : cJSON_AddNullToObject(o,
	    "receive_count")) != NULL &&
	    (d->m.sent_ms > 0 ? cJSON_AddNumberToObject(o, "sent",
	    (double)d->m.sent_ms) : cJSON_AddNullToObject(o, "sent")) != NULL &&
	    (d->m.first_receive_ms > 0 ? cJSON_AddNumberToObject(o,
	    "first_receive", (double)d->m.first_receive_ms) :
	    cJSON_AddNullToObject(o, "first_receive")) != NULL &&
	    (tv->found ? cJSON_AddStringToObject(o, "status",
	    tf_task_status_name(tv->status)) : cJSON_AddNullToObject(o,
	    "status")) != NULL &&
	    (tv->found ? cJSON_AddNumberToObject(o, "task_gen", (double)tv->gen) :
	    cJSON_AddNullToObject(o, "task_gen")) != NULL &&
	    (tv->found ? cJSON_AddStringToObject(o, "ns", tv->ns) :
	    cJSON_AddNullToObject(o, "ns")) != NULL &&
	    cJSON_AddStringToObject(o, "verdict", tv->verdict) != NULL &&
	    (tv->note[0] == '\0' || tv->found ||
	    cJSON_AddStringToObject(o, "note", tv->note) != NULL);
	if (!good) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* --------------------------------------------------------------- redrive */

/* The priority of d's task, by its message (normal when malformed). */
static enum tf_priority
msg_priority(const struct tf_dlq_msg *d)
{
	return d->ok ? d->task.priority : TF_PRIORITY_NORMAL;
}

/* Sends the messages of r->v[from..to) of priority p marked TF_DLQ_MOVE to
 * p's queue (the normal queue when it does not exist, task/priority.h), and
 * deletes from the dead-letter queue each one whose send succeeded. At most
 * TF_SQS_MAX_BATCH of them. */
static enum tf_err
move_batch(struct tf_dlq_run *r, size_t from, size_t to, enum tf_priority p)
{
	char *url = NULL;
	struct tf_sqs_send_entry se[TF_SQS_MAX_BATCH];
	struct tf_sqs_handle_entry he[TF_SQS_MAX_BATCH];
	struct tf_sqs_batch_result res;
	const struct tf_sqs_failed_entry *f;
	char ids[TF_SQS_MAX_BATCH][24], reason[700] = "";
	size_t idx[TF_SQS_MAX_BATCH], sent[TF_SQS_MAX_BATCH], i, k = 0, ks = 0;
	struct tf_dlq_msg *d;
	enum tf_err rc, out = TF_OK;

	for (i = from; i < to && k < TF_SQS_MAX_BATCH; i++) {
		if (r->v[i].act != TF_DLQ_MOVE || msg_priority(&r->v[i]) != p)
			continue;
		snprintf(ids[k], sizeof(ids[k]), "e%zu", k);
		se[k].id = ids[k];
		se[k].body = r->v[i].m.body;
		se[k].delay_seconds = 0;
		idx[k++] = i;
	}
	if (k == 0)
		return TF_OK;
	url = tf_priority_queue_url(r->queue_url, p);
	rc = url == NULL ? TF_ERR_NOMEM : tf_sqs_send_message_batch(r->aws, url,
	    se, k, &res);
	if (rc == TF_ERR_NOT_FOUND && p != TF_PRIORITY_NORMAL)
		rc = tf_sqs_send_message_batch(r->aws, r->queue_url, se, k, &res);
	tf_free(url);
	if (rc != TF_OK && rc != TF_ERR_PARTIAL) {
		tf_aws_reason(rc, reason, sizeof(reason));
		for (i = 0; i < k; i++) {
			r->v[idx[i]].act = TF_DLQ_SEND_FAILED;
			snprintf(r->v[idx[i]].fail, sizeof(r->v[idx[i]].fail), "%s",
			    reason);
		}
		run_failed(r, "sending to the queue", rc);
		return rc;
	}
	for (i = 0; i < k; i++) {
		d = &r->v[idx[i]];
		if (res.message_ids[i] != NULL) {
			he[ks].id = ids[i];
			he[ks].receipt_handle = d->m.receipt_handle;
			he[ks].visibility_timeout = 0;
			sent[ks++] = idx[i];
			continue;
		}
		d->act = TF_DLQ_SEND_FAILED;
		f = tf_sqs_batch_failed(&res, ids[i]);
		snprintf(d->fail, sizeof(d->fail), "%s%s%s", f ? f->code :
		    "the reply did not confirm the body (MD5)", f ? ": " : "",
		    f ? f->message : "");
		out = TF_ERR_PARTIAL;
	}
	tf_sqs_batch_result_free(&res);
	if (out != TF_OK)
		run_failed(r, "sending to the queue", out);
	if (ks == 0)
		return out;
	rc = tf_sqs_delete_message_batch(r->aws, r->dlq_url, he, ks, &res);
	if (rc != TF_OK && rc != TF_ERR_PARTIAL)
		tf_aws_reason(rc, reason, sizeof(reason));
	for (i = 0; i < ks; i++) {
		d = &r->v[sent[i]];
		f = rc == TF_ERR_PARTIAL ? tf_sqs_batch_failed(&res, he[i].id) : NULL;
		if (rc == TF_OK || (rc == TF_ERR_PARTIAL && f == NULL)) {
			d->act = TF_DLQ_MOVED;
			d->held = false;
			tf_free(d->m.body);
			tf_free(d->m.receipt_handle);
			d->m.body = d->m.receipt_handle = NULL;
			continue;
		}
		d->act = TF_DLQ_DELETE_FAILED;
		if (f != NULL)
			snprintf(d->fail, sizeof(d->fail), "%s: %s", f->code, f->message);
		else
			snprintf(d->fail, sizeof(d->fail), "%s", reason);
	}
	tf_sqs_batch_result_free(&res);
	if (rc != TF_OK) {
		run_failed(r, "deleting from the dead-letter queue (the messages "
		    "sent are now in both queues: the consumer drops the duplicate)",
		    rc);
		out = rc;
	}
	return out;
}

/* Decides what a redrive does with the new message d; *moving counts the
 * messages to move so far. */
static void
choose(const struct tf_dlq_redrive_opts *o, struct tf_dlq_msg *d,
    long long *moving)
{
	if (o->visible != NULL && !o->visible(o->cls, d))
		d->act = TF_DLQ_HIDDEN;
	else if (o->message_id != NULL &&
	    strcmp(d->m.message_id, o->message_id) != 0)
		d->act = TF_DLQ_OTHER;
	else if (!d->ok && !o->include_malformed)
		d->act = o->task != NULL ? TF_DLQ_OTHER : TF_DLQ_SKIP;
	else if (o->task != NULL && strcmp(d->task.id, o->task) != 0)
		d->act = TF_DLQ_OTHER;
	else if (o->limit == 0 || *moving < o->limit) {
		d->act = TF_DLQ_MOVE;
		(*moving)++;
	}
}

void
tf_dlq_redrive(struct tf_dlq_run *r, const struct tf_dlq_redrive_opts *o,
    struct tf_dlq_redrive_result *res)
{
	long long moving = 0;
	size_t i, from, fresh;
	int want, p;
	enum tf_err rc;

	memset(res, 0, sizeof(*res));
	while (!stopped(r) && (o->limit == 0 || moving < o->limit)) {
		if (o->max_held > 0 && r->n >= o->max_held) {
			res->at_limit = true;
			break;
		}
		want = TF_SQS_MAX_BATCH;
		if (o->limit > 0 && o->limit - moving < want)
			want = (int)(o->limit - moving);
		if (o->max_held > 0 && o->max_held - r->n < (size_t)want)
			want = (int)(o->max_held - r->n);
		from = r->n;
		rc = receive_more(r, want, &fresh);
		if (rc != TF_OK) {
			run_failed(r, "receiving from the dead-letter queue", rc);
			break;
		}
		if (fresh == 0)
			break;
		for (i = from; i < r->n; i++)
			choose(o, &r->v[i], &moving);
		for (p = 0; p < TF_PRIORITY__N && !o->dry_run; p++)
			if (move_batch(r, from, r->n, (enum tf_priority)p) != TF_OK)
				break;
		if (p < TF_PRIORITY__N && !o->dry_run)
			break;
		/* One message asked for by id: once it is found, no more. */
		if (o->message_id != NULL && moving > 0)
			break;
	}
	res->at_limit = res->at_limit || (o->limit > 0 && moving >= o->limit);
	res->left = tf_dlq_release(r);
	for (i = 0; i < r->n; i++)
		res->count[r->v[i].act]++;
}

cJSON *
tf_dlq_redrive_json(const struct tf_dlq_run *r, bool dry_run,
    const struct tf_dlq_redrive_result *res)
{
	cJSON *o = cJSON_CreateObject(), *list = NULL, *m;
	const struct tf_dlq_msg *d;
	const size_t *count = res->count;
	char ex[TF_DLQ_EXCERPT_MAX + 8];
	size_t i;
	bool good;

	good = o != NULL &&
	    cJSON_AddStringToObject(o, "dlq_url", r->dlq_url) != NULL &&
	    cJSON_AddStringToObject(o, "queue_url", r->queue_url) != NULL &&
	    cJSON_AddBoolToObject(o, "dry_run", dry_run) != NULL &&
	    cJSON_AddNumberToObject(o, "moved", (double)count[TF_DLQ_MOVED]) != NULL &&
	    (!dry_run || cJSON_AddNumberToObject(o, "would_move",
	    (double)count[TF_DLQ_MOVE]) != NULL) &&
	    cJSON_AddNumberToObject(o, "skipped", (double)count[TF_DLQ_SKIP]) != NULL &&
	    cJSON_AddNumberToObject(o, "other_task",
	    (double)count[TF_DLQ_OTHER]) != NULL &&
	    cJSON_AddNumberToObject(o, "failed",
	    (double)(count[TF_DLQ_SEND_FAILED] + count[TF_DLQ_DELETE_FAILED])) != NULL &&
	    cJSON_AddBoolToObject(o, "limit_reached", res->at_limit) != NULL &&
	    (list = cJSON_AddArrayToObject(o, "messages")) != NULL;
	for (i = 0; good && i < r->n; i++) {
		d = &r->v[i];
		if (d->act == TF_DLQ_NONE || d->act == TF_DLQ_OTHER ||
		    d->act == TF_DLQ_HIDDEN)
			continue;
		m = cJSON_CreateObject();
		good = m != NULL && cJSON_AddItemToArray(list, m) &&
		    cJSON_AddStringToObject(m, "message_id", d->m.message_id) != NULL &&
		    (d->ok ? cJSON_AddStringToObject(m, "task_id", d->task.id) :
		    cJSON_AddNullToObject(m, "task_id")) != NULL &&
		    (d->ok && d->task.has_gen ? cJSON_AddNumberToObject(m, "gen",
		    (double)d->task.gen) : cJSON_AddNullToObject(m, "gen")) != NULL &&
		    cJSON_AddStringToObject(m, "action", action_names[d->act]) != NULL;
		if (good && !d->ok && d->m.body != NULL) {
			tf_dlq_excerpt(d->m.body, ex, sizeof(ex));
			good = cJSON_AddStringToObject(m, "excerpt", ex) != NULL;
		}
		if (good && d->fail[0] != '\0')
			good = cJSON_AddStringToObject(m, "error", d->fail) != NULL;
	}
	if (!good) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
