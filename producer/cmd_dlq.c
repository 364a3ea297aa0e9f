/*
 * cmd_dlq.c - the dead-letter queue (docs/design.md section 1): `dlq list`
 * shows its messages without consuming them, `dlq redrive` moves them back
 * to the queue.
 *
 * SQS cannot show a message without receiving it. Both commands receive the
 * dead-letter queue's messages with a visibility timeout long enough for the
 * run (HOLD_S), so that none comes back and is shown twice, and at the end
 * set the visibility of every message they still hold back to 0, so it is
 * visible again at once: also after an AWS error and after SIGINT or
 * SIGTERM. A message received twice anyway (SQS delivers at least once) is
 * recognised by its message id and shown once. Killed with SIGKILL, the
 * command leaves the messages it held hidden until HOLD_S runs out.
 *
 * Redrive sends each message's body unchanged to the queue, with no delay,
 * and deletes it from the dead-letter queue only after the send succeeded: a
 * failure between the two leaves a duplicate, which the consumer drops as
 * stale, and never loses a message. It does not read the table: the
 * consumer decides from the item whether a message is live, stale or early.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sqs.h"
#include "base/alloc.h"
#include "cli.h"
#include "task/task.h"
#include "time/timefmt.h"

static const char dlq_usage[] =
    "usage: taskfleet dlq list [--limit N] [--json]\n"
    "       taskfleet dlq redrive [--limit N] [--task ID] [--dry-run]\n"
    "                             [--include-malformed] [--json]\n";
static const char list_usage[] =
    "usage: taskfleet dlq list [--limit N] [--json]\n";
static const char redrive_usage[] =
    "usage: taskfleet dlq redrive [--limit N] [--task ID] [--dry-run]\n"
    "                             [--include-malformed] [--json]\n";

#define HOLD_S              300     /* how long a run holds a message hidden */
#define POLL_S              1       /* the long poll of each receive */
#define LIST_DEFAULT_LIMIT  100
#define LIST_MAX_LIMIT      10000
#define REDRIVE_MAX_LIMIT   1000000
#define EXCERPT_MAX         60      /* characters of a malformed body shown */

/* What a run did with a message. */
enum action {
	ACT_NONE,           /* received beyond --limit: only returned */
	ACT_MOVE,           /* to move (with --dry-run: would move) */
	ACT_MOVED,          /* sent to the queue and deleted from the DLQ */
	ACT_SKIP,           /* malformed body: stays (--include-malformed) */
	ACT_OTHER,          /* another task's (--task): stays */
	ACT_SEND_FAILED,    /* the send failed: stays in the DLQ */
	ACT_DELETE_FAILED   /* sent, but not deleted: now in both queues */
};

static const char *const action_names[] = {
	[ACT_NONE] = "none",
	[ACT_MOVE] = "would_move",
	[ACT_MOVED] = "moved",
	[ACT_SKIP] = "skipped",
	[ACT_OTHER] = "other_task",
	[ACT_SEND_FAILED] = "send_failed",
	[ACT_DELETE_FAILED] = "delete_failed",
};

/* One message received from the dead-letter queue. */
struct dlq_msg {
	struct tf_sqs_message m;     /* owned strings; body and receipt handle
	                                freed (NULL) once moved */
	struct tf_task_message task; /* the body, when ok */
	bool ok;                     /* the body is a task message
	                                (docs/design.md section 3) */
	char why[128];               /* why it is not */
	bool held;                   /* in flight under m.receipt_handle: made
	                                visible again at the end */
	enum action act;
	char fail[400];              /* why its send or delete failed */
};

/* One run of `dlq list` or `dlq redrive`. */
struct dlq_run {
	struct cli *c;
	const char *cmd;             /* "taskfleet dlq list" */
	char *dlq_url;               /* owned */
	struct dlq_msg *v;           /* owned array: n used of cap */
	size_t n, cap;
	char reason[1024];           /* the first AWS failure, for the report */
	char release_reason[800];    /* why messages could not be made visible */
	bool failed;                 /* an AWS call failed */
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

struct saved_signals {
	struct sigaction intr, term;
};

/* Catches SIGINT and SIGTERM in `interrupted` until release_signals(): the
 * run stops at the next receive and returns what it holds. */
static void
catch_signals(struct saved_signals *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	sigaction(SIGINT, &sa, &s->intr);
	sigaction(SIGTERM, &sa, &s->term);
}

static void
release_signals(const struct saved_signals *s)
{
	sigaction(SIGINT, &s->intr, NULL);
	sigaction(SIGTERM, &s->term, NULL);
}

/* Records the first AWS failure of the run. */
static void
run_failed(struct dlq_run *r, const char *what, enum tf_err rc)
{
	char reason[700];

	if (r->failed)
		return;
	r->failed = true;
	cli_aws_reason(rc, reason, sizeof(reason));
	snprintf(r->reason, sizeof(r->reason), "%s: %s", what, reason);
}

/* Writes a short excerpt of a body for people into out: at most EXCERPT_MAX
 * characters, control characters and non-ASCII bytes as '?', "..." when
 * cut. */
static void
excerpt(const char *body, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; body[i] != '\0' && i < EXCERPT_MAX && o + 1 < len; i++) {
		unsigned char ch = (unsigned char)body[i];

		out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (body[i] != '\0' && o + 4 <= len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Returns the messages of got (n; taken over, array freed) that cannot be
 * kept for want of memory to the queue at once. */
static void
return_now(struct dlq_run *r, struct tf_sqs_message *got, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		tf_sqs_change_message_visibility(r->c->ctx.aws, r->dlq_url,
		    got[i].receipt_handle, 0);
	tf_sqs_messages_free(got, n);
}

/* Receives up to want (1 to 10) more messages and holds them. *fresh: how
 * many were new; a message held already (received again) takes its new
 * receipt handle instead. */
static enum tf_err
receive_more(struct dlq_run *r, int want, size_t *fresh)
{
	struct tf_sqs_receive_opts o = {
		.max_messages = want,
		.wait_seconds = POLL_S,
		.visibility_timeout = HOLD_S,
		/* No cancel: a receive cut short could hide messages whose
		 * receipt handles never arrive. A signal waits for POLL_S. */
		.cancel = NULL,
	};
	struct tf_sqs_message *got = NULL;
	struct dlq_msg *d, *v;
	size_t n = 0, i, j, cap;
	enum tf_err rc;

	*fresh = 0;
	rc = tf_sqs_receive_message(r->c->ctx.aws, r->dlq_url, &o, &got, &n);
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

/* Makes every message still held visible again (visibility 0), ten at a
 * time. Returns how many stay hidden (a failed call or entry): they come
 * back when HOLD_S runs out. */
static size_t
release_all(struct dlq_run *r)
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
		rc = tf_sqs_change_message_visibility_batch(r->c->ctx.aws,
		    r->dlq_url, e, k, &res);
		if (rc != TF_OK && r->release_reason[0] == '\0')
			cli_aws_reason(rc, r->release_reason, sizeof(r->release_reason));
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

/* Frees what a run holds (not the cli). */
static void
run_free(struct dlq_run *r)
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

/* Finds the queue and its dead-letter queue. Returns -1 to go on, or the
 * exit code after a message (EXIT_NOTFOUND when there is no dead-letter
 * queue). */
static int
open_queues(struct dlq_run *r)
{
	struct cli *c = r->c;
	int code;
	enum tf_err rc;

	if ((code = cli_open(c)) != 0)
		return code;
	rc = tf_context_resolve_queue(&c->ctx, &c->cfg);
	if (rc != TF_OK)
		return cli_aws_error(r->cmd, "finding the queue", rc);
	rc = cli_find_dlq(c->ctx.aws, c->ctx.queue_url, &r->dlq_url);
	if (rc != TF_OK)
		return cli_aws_error(r->cmd, "finding the dead-letter queue", rc);
	if (r->dlq_url != NULL && strcmp(r->dlq_url, c->ctx.queue_url) == 0) {
		fprintf(stderr, "%s: the queue %s is its own dead-letter queue (its "
		    "redrive policy names it): nothing to list or move\n", r->cmd,
		    c->ctx.queue_url);
		return EXIT_FAILED;
	}
	if (r->dlq_url == NULL) {
		fprintf(stderr, "%s: the queue %s has no dead-letter queue (no redrive "
		    "policy, no queue named after it with -dlq); `taskfleet init` "
		    "creates one\n", r->cmd, c->ctx.queue_url);
		return EXIT_NOTFOUND;
	}
	return -1;
}

/* Says on stderr what could not be made visible again and why. */
static void
report_left(const struct dlq_run *r, size_t left)
{
	if (left > 0)
		fprintf(stderr, "%s: %zu message%s stay hidden in the dead-letter queue "
		    "for up to %d s: making them visible again failed: %s\n", r->cmd,
		    left, left == 1 ? "" : "s", HOLD_S, r->release_reason);
}

/* ------------------------------------------------------------------ list */

/* What the table says about a message's task. */
struct task_view {
	const char *verdict;   /* live, stale, finished, suspended, missing,
	                          not_a_task, malformed, unknown */
	bool found;
	enum tf_task_status status;
	int64_t gen;
	char note[256];        /* not_a_task, unknown: why */
};

/* Reads the task of message d and judges the message as the consumer
 * would. Returns TF_OK, or the AWS failure (the view says "unknown"). */
static enum tf_err
view_task(struct cli *c, const struct dlq_msg *d, struct task_view *tv)
{
	struct tf_task t;
	enum tf_err rc;

	memset(tv, 0, sizeof(*tv));
	if (!d->ok) {
		tv->verdict = "malformed";
		return TF_OK;
	}
	rc = tf_task_get(c->ctx.aws, c->cfg.table, d->task.id, &t, tv->note,
	    sizeof(tv->note));
	if (rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) {
		tv->verdict = "missing";
		rc = TF_OK;
	} else if (rc == TF_ERR_PARSE) {
		tv->verdict = "not_a_task";
		rc = TF_OK;
	} else if (rc != TF_OK) {
		tv->verdict = "unknown";
		cli_aws_reason(rc, tv->note, sizeof(tv->note));
	} else {
		tv->found = true;
		tv->status = t.status;
		tv->gen = t.gen;
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

/* Prints one listed message as a JSON line. Returns 0 or EXIT_FAILED. */
static int
list_json(const struct dlq_msg *d, const struct task_view *tv)
{
	char ex[EXCERPT_MAX + 8];
	cJSON *o = cJSON_CreateObject();
	int code = EXIT_FAILED;
	bool good;

	if (o == NULL)
		goto out;
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
		excerpt(d->m.body, ex, sizeof(ex));
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
	    cJSON_AddStringToObject(o, "verdict", tv->verdict) != NULL &&
	    (tv->note[0] == '\0' || tv->found ||
	    cJSON_AddStringToObject(o, "note", tv->note) != NULL);
	if (good)
		code = cli_print_json(o);
	else
		fprintf(stderr, "taskfleet: out of memory\n");
out:
	cJSON_Delete(o);
	return code;
}

/* Writes the TASK STATUS column of a listed message into buf. */
static const char *
status_text(const struct dlq_msg *d, const struct task_view *tv, char *buf,
    size_t len)
{
	char ex[EXCERPT_MAX + 8];

	if (!d->ok) {
		excerpt(d->m.body, ex, sizeof(ex));
		snprintf(buf, len, "malformed body: %s", ex);
	} else if (tv->found) {
		snprintf(buf, len, "%s gen %" PRId64 "%s%s",
		    tf_task_status_name(tv->status), tv->gen,
		    tv->status == TF_TASK_PENDING || tv->status == TF_TASK_PROCESSING ?
		    ", " : "", tv->status == TF_TASK_PENDING ||
		    tv->status == TF_TASK_PROCESSING ? tv->verdict : "");
	} else if (strcmp(tv->verdict, "missing") == 0) {
		snprintf(buf, len, "no such task");
	} else if (strcmp(tv->verdict, "not_a_task") == 0) {
		snprintf(buf, len, "not a task: %s", tv->note);
	} else {
		snprintf(buf, len, "unknown: %s", tv->note);
	}
	return buf;
}

static int
dlq_list(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const depth_names[] = { "ApproximateNumberOfMessages",
	    NULL };
	struct dlq_run r;
	struct saved_signals sigs;
	struct task_view tv;
	struct dlq_msg *d;
	cJSON *attrs = NULL;
	const cJSON *v;
	char target[TF_TIMEFMT_ISO_SIZE], sent[TF_TIMEFMT_ISO_SIZE];
	char st[400], gen[24], recv[24], reason[800];
	long long limit = LIST_DEFAULT_LIMIT, reported = -1;
	size_t i, fresh, left, unknown = 0;
	int ch, code, idw = 10, taskw = 4, w, want;
	bool at_limit;
	enum tf_err rc;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.cmd = argv[0];
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (!cli_parse_int(optarg, 1, LIST_MAX_LIMIT, &limit))
				return cli_usage_error(r.cmd, "--limit: expected a number from "
				    "1 to %d, got \"%.32s\"", LIST_MAX_LIMIT, optarg);
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			printf("%s\n"
			    "Lists the dead-letter queue's messages without consuming them:\n"
			    "each is received, held hidden while the listing runs (at most\n"
			    "%d s) and made visible again at the end, also after an error or\n"
			    "Ctrl-C. Per message: the message id, the task id, gen and target\n"
			    "time of its body (or \"malformed body\" and an excerpt), how often\n"
			    "it was received before this listing, when it was first sent, and\n"
			    "the task's status in the table: \"live\" (PENDING at the message's\n"
			    "gen: redrive it), \"stale\" (the task moved on: the consumer would\n"
			    "drop it), or no such task.\n"
			    "Each listing counts as one receive of every message listed.\n"
			    "\n"
			    "  --limit N   at most N messages, 1 to %d; default %d\n"
			    "  --json      one JSON object per message and line:\n"
			    "              {\"message_id\", \"malformed\", \"task_id\", \"gen\",\n"
			    "              \"target\", \"receive_count\", \"sent\",\n"
			    "              \"first_receive\", \"status\", \"task_gen\", \"verdict\"}\n"
			    "              (\"error\" and \"excerpt\" for a malformed body)\n"
			    "\n"
			    "Exit: 0 listed (also when empty), 1 failed, 2 bad input, 3 the\n"
			    "queue has no dead-letter queue.\n",
			    list_usage, HOLD_S, LIST_MAX_LIMIT, LIST_DEFAULT_LIMIT);
			return 0;
		default:
			return cli_bad_option(r.cmd, ch, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(r.cmd, "unexpected argument \"%s\"",
		    argv[optind]);
	if ((code = open_queues(&r)) >= 0)
		goto out;
	code = 0;

	/* The depth before the listing hides the messages it receives. */
	if (tf_sqs_get_queue_attributes(c->ctx.aws, r.dlq_url, depth_names,
	    &attrs) == TF_OK) {
		v = cJSON_GetObjectItemCaseSensitive(attrs, depth_names[0]);
		if (cJSON_IsString(v))
			reported = strtoll(v->valuestring, NULL, 10);
	}
	cJSON_Delete(attrs);

	catch_signals(&sigs);
	while ((long long)r.n < limit && !interrupted) {
		want = limit - (long long)r.n < TF_SQS_MAX_BATCH ?
		    (int)(limit - (long long)r.n) : TF_SQS_MAX_BATCH;
		rc = receive_more(&r, want, &fresh);
		if (rc != TF_OK) {
			run_failed(&r, "receiving from the dead-letter queue", rc);
			break;
		}
		if (fresh == 0)
			break;
	}
	at_limit = (long long)r.n >= limit;
	left = release_all(&r);
	release_signals(&sigs);

	for (i = 0; i < r.n; i++) {
		d = &r.v[i];
		if ((w = (int)strlen(d->m.message_id)) > idw)
			idw = w;
		if (d->ok && (w = (int)strlen(d->task.id)) > taskw)
			taskw = w;
	}
	for (i = 0; i < r.n; i++) {
		d = &r.v[i];
		rc = view_task(c, d, &tv);
		if (rc != TF_OK && unknown++ == 0) {
			cli_aws_reason(rc, reason, sizeof(reason));
			fprintf(stderr, "%s: reading the tasks from %s: %s%s\n", r.cmd,
			    c->cfg.table, reason, cli_resource_missing() ?
			    " (no such table: --table or TASKFLEET_TABLE)" : "");
		}
		if (c->json) {
			if (list_json(d, &tv) != 0)
				code = EXIT_FAILED;
			continue;
		}
		if (i == 0)
			printf("%-*s  %-*s  %-5s  %-24s  %-8s  %-24s  %s\n", idw,
			    "MESSAGE ID", taskw, "TASK", "GEN", "TARGET", "RECEIVES", "SENT",
			    "TASK STATUS");
		if (d->ok && d->task.has_gen)
			snprintf(gen, sizeof(gen), "%" PRId64, d->task.gen);
		else
			snprintf(gen, sizeof(gen), "-");
		if (d->m.receive_count > 0)
			snprintf(recv, sizeof(recv), "%d", d->m.receive_count - 1);
		else
			snprintf(recv, sizeof(recv), "?");
		printf("%-*s  %-*s  %-5s  %-24s  %-8s  %-24s  %s\n", idw,
		    d->m.message_id, taskw, d->ok ? d->task.id : "-", gen,
		    !d->ok ? "-" : d->task.target_ms > 0 ?
		    tf_timefmt_format(d->task.target_ms, target, sizeof(target)) : "now",
		    recv, d->m.sent_ms > 0 ?
		    tf_timefmt_format(d->m.sent_ms, sent, sizeof(sent)) : "?",
		    status_text(d, &tv, st, sizeof(st)));
	}
	if (unknown > 0)
		code = EXIT_FAILED;
	if (r.failed) {
		fprintf(stderr, "%s: %s\n", r.cmd, r.reason);
		code = EXIT_FAILED;
	}
	if (left > 0) {
		report_left(&r, left);
		code = EXIT_FAILED;
	}
	if (interrupted) {
		fprintf(stderr, "%s: interrupted after %zu message%s; every message "
		    "listed is visible again\n", r.cmd, r.n, r.n == 1 ? "" : "s");
		code = EXIT_FAILED;
	} else if (at_limit && reported >= 0) {
		fprintf(stderr, "%s: listed the first %zu message%s (--limit); the "
		    "dead-letter queue reports %lld (ApproximateNumberOfMessages)\n",
		    r.cmd, r.n, r.n == 1 ? "" : "s", reported);
	} else if (at_limit) {
		fprintf(stderr, "%s: listed the first %zu message%s (--limit); there "
		    "may be more\n", r.cmd, r.n, r.n == 1 ? "" : "s");
	} else if (r.n == 0 && !r.failed && !c->json) {
		fprintf(stderr, "%s: the dead-letter queue %s is empty\n", r.cmd,
		    r.dlq_url);
	}
out:
	run_free(&r);
	return code;
}

/* --------------------------------------------------------------- redrive */

/* The priority of d's task, by its message (normal when malformed). */
static enum tf_priority
msg_priority(const struct dlq_msg *d)
{
	return d->ok ? d->task.priority : TF_PRIORITY_NORMAL;
}

/* Sends the messages of r->v[from..to) of priority p marked ACT_MOVE to
 * p's queue (the normal queue when it does not exist, task/priority.h), and
 * deletes from the dead-letter queue each one whose send succeeded. At most
 * TF_SQS_MAX_BATCH of them. */
static enum tf_err
move_batch(struct dlq_run *r, size_t from, size_t to, enum tf_priority p)
{
	char *url = NULL;
	struct tf_sqs_send_entry se[TF_SQS_MAX_BATCH];
	struct tf_sqs_handle_entry he[TF_SQS_MAX_BATCH];
	struct tf_sqs_batch_result res;
	const struct tf_sqs_failed_entry *f;
	char ids[TF_SQS_MAX_BATCH][24], reason[700] = "";
	size_t idx[TF_SQS_MAX_BATCH], sent[TF_SQS_MAX_BATCH], i, k = 0, ks = 0;
	struct dlq_msg *d;
	enum tf_err rc, out = TF_OK;

	for (i = from; i < to && k < TF_SQS_MAX_BATCH; i++) {
		if (r->v[i].act != ACT_MOVE || msg_priority(&r->v[i]) != p)
			continue;
		snprintf(ids[k], sizeof(ids[k]), "e%zu", k);
		se[k].id = ids[k];
		se[k].body = r->v[i].m.body;
		se[k].delay_seconds = 0;
		idx[k++] = i;
	}
	if (k == 0)
		return TF_OK;
	url = tf_priority_queue_url(r->c->ctx.queue_url, p);
	rc = url == NULL ? TF_ERR_NOMEM : tf_sqs_send_message_batch(r->c->ctx.aws,
	    url, se, k, &res);
	if (rc == TF_ERR_NOT_FOUND && p != TF_PRIORITY_NORMAL)
		rc = tf_sqs_send_message_batch(r->c->ctx.aws, r->c->ctx.queue_url,
		    se, k, &res);
	tf_free(url);
	if (rc != TF_OK && rc != TF_ERR_PARTIAL) {
		cli_aws_reason(rc, reason, sizeof(reason));
		for (i = 0; i < k; i++) {
			r->v[idx[i]].act = ACT_SEND_FAILED;
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
		d->act = ACT_SEND_FAILED;
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
	rc = tf_sqs_delete_message_batch(r->c->ctx.aws, r->dlq_url, he, ks, &res);
	if (rc != TF_OK && rc != TF_ERR_PARTIAL)
		cli_aws_reason(rc, reason, sizeof(reason));
	for (i = 0; i < ks; i++) {
		d = &r->v[sent[i]];
		f = rc == TF_ERR_PARTIAL ? tf_sqs_batch_failed(&res, he[i].id) : NULL;
		if (rc == TF_OK || (rc == TF_ERR_PARTIAL && f == NULL)) {
			d->act = ACT_MOVED;
			d->held = false;
			tf_free(d->m.body);
			tf_free(d->m.receipt_handle);
			d->m.body = d->m.receipt_handle = NULL;
			continue;
		}
		d->act = ACT_DELETE_FAILED;
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

/* Prints one message of a redrive for people. */
static void
redrive_line(const struct dlq_msg *d, bool dry_run)
{
	char ex[EXCERPT_MAX + 8], gen[24];

	if (d->ok && d->task.has_gen)
		snprintf(gen, sizeof(gen), "%" PRId64, d->task.gen);
	else
		snprintf(gen, sizeof(gen), "-");
	switch (d->act) {
	case ACT_MOVE:
	case ACT_MOVED:
		if (d->ok)
			printf("%-10s  %s  task %s gen %s\n", dry_run ? "would move" :
			    "moved", d->m.message_id, d->task.id, gen);
		else
			printf("%-10s  %s  malformed body\n", dry_run ? "would move" :
			    "moved", d->m.message_id);
		break;
	case ACT_SKIP:
		excerpt(d->m.body, ex, sizeof(ex));
		printf("%-10s  %s  malformed body: %s\n", "skipped", d->m.message_id,
		    ex);
		break;
	case ACT_SEND_FAILED:
		printf("%-10s  %s  task %s: sending failed: %s\n", "not moved",
		    d->m.message_id, d->ok ? d->task.id : "-", d->fail);
		break;
	case ACT_DELETE_FAILED:
		printf("%-10s  %s  task %s: sent, but still in the dead-letter queue: "
		    "%s\n", "copied", d->m.message_id, d->ok ? d->task.id : "-", d->fail);
		break;
	default:
		break;
	}
}

/* Prints the whole redrive as one JSON object. Returns 0 or EXIT_FAILED. */
static int
redrive_json(const struct dlq_run *r, bool dry_run, const size_t *count,
    bool at_limit)
{
	cJSON *o = cJSON_CreateObject(), *list, *m;
	const struct dlq_msg *d;
	int code = EXIT_FAILED;
	char ex[EXCERPT_MAX + 8];
	size_t i;
	bool good;

	good = o != NULL &&
	    cJSON_AddStringToObject(o, "dlq_url", r->dlq_url) != NULL &&
	    cJSON_AddStringToObject(o, "queue_url", r->c->ctx.queue_url) != NULL &&
	    cJSON_AddBoolToObject(o, "dry_run", dry_run) != NULL &&
	    cJSON_AddNumberToObject(o, "moved", (double)count[ACT_MOVED]) != NULL &&
	    (!dry_run || cJSON_AddNumberToObject(o, "would_move",
	    (double)count[ACT_MOVE]) != NULL) &&
	    cJSON_AddNumberToObject(o, "skipped", (double)count[ACT_SKIP]) != NULL &&
	    cJSON_AddNumberToObject(o, "other_task", (double)count[ACT_OTHER]) != NULL &&
	    cJSON_AddNumberToObject(o, "failed", (double)(count[ACT_SEND_FAILED] +
	    count[ACT_DELETE_FAILED])) != NULL &&
	    cJSON_AddBoolToObject(o, "limit_reached", at_limit) != NULL &&
	    (list = cJSON_AddArrayToObject(o, "messages")) != NULL;
	for (i = 0; good && i < r->n; i++) {
		d = &r->v[i];
		if (d->act == ACT_NONE || d->act == ACT_OTHER)
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
			excerpt(d->m.body, ex, sizeof(ex));
			good = cJSON_AddStringToObject(m, "excerpt", ex) != NULL;
		}
		if (good && d->fail[0] != '\0')
			good = cJSON_AddStringToObject(m, "error", d->fail) != NULL;
	}
	if (good)
		code = cli_print_json(o);
	else
		fprintf(stderr, "taskfleet: out of memory\n");
	cJSON_Delete(o);
	return code;
}

static int
dlq_redrive(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "task", required_argument, NULL, 't' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "include-malformed", no_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dlq_run r;
	struct saved_signals sigs;
	struct dlq_msg *d;
	const char *task = NULL;
	size_t count[ACT_DELETE_FAILED + 1] = { 0 }, i, from, fresh, left, moving = 0;
	long long limit = 0;
	bool dry_run = false, malformed = false, at_limit = false;
	int ch, code, want, p;
	enum tf_err rc;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.cmd = argv[0];
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (!cli_parse_int(optarg, 1, REDRIVE_MAX_LIMIT, &limit))
				return cli_usage_error(r.cmd, "--limit: expected a number from "
				    "1 to %d, got \"%.32s\"", REDRIVE_MAX_LIMIT, optarg);
			break;
		case 't':
			task = optarg;
			if (!tf_task_id_valid(task))
				return cli_usage_error(r.cmd, "--task: must be 1 to %d printable "
				    "characters without spaces", TF_TASK_ID_MAX);
			break;
		case 'n':
			dry_run = true;
			break;
		case 'm':
			malformed = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			printf("%s\n"
			    "Moves the dead-letter queue's messages back to the queue: each body\n"
			    "is sent unchanged, with no delay, and deleted from the dead-letter\n"
			    "queue once the send succeeded (a failure in between leaves a\n"
			    "duplicate, which the consumer drops; nothing is lost). The consumer\n"
			    "then decides from the task's item: a live message runs the task, a\n"
			    "stale one (the task moved on, finished or is gone) is dropped.\n"
			    "Messages not moved are made visible again at the end.\n"
			    "\n"
			    "  --limit N            move at most N messages (1 to %d); default all\n"
			    "  --task ID            move only the messages of this task\n"
			    "  --dry-run            show what would move; send and delete nothing\n"
			    "  --include-malformed  move malformed bodies too (the consumer logs\n"
			    "                       and deletes them); by default they stay in\n"
			    "                       the dead-letter queue, listed as skipped\n"
			    "  --json               one object: {\"dlq_url\", \"queue_url\",\n"
			    "                       \"dry_run\", \"moved\", \"would_move\",\n"
			    "                       \"skipped\", \"other_task\", \"failed\",\n"
			    "                       \"limit_reached\", \"messages\": [{\"message_id\",\n"
			    "                       \"task_id\", \"gen\", \"action\"}]}\n"
			    "\n"
			    "Exit: 0 done (also when nothing moved), 1 failed, 2 bad input,\n"
			    "3 the queue has no dead-letter queue.\n",
			    redrive_usage, REDRIVE_MAX_LIMIT);
			return 0;
		default:
			return cli_bad_option(r.cmd, ch, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(r.cmd, "unexpected argument \"%s\"",
		    argv[optind]);
	if (task != NULL && malformed)
		return cli_usage_error(r.cmd, "--include-malformed: cannot go with "
		    "--task (a malformed body names no task)");
	if ((code = open_queues(&r)) >= 0)
		goto out;
	code = 0;

	catch_signals(&sigs);
	while (!interrupted && (limit == 0 || (long long)moving < limit)) {
		want = TF_SQS_MAX_BATCH;
		if (limit > 0 && limit - (long long)moving < want)
			want = (int)(limit - (long long)moving);
		from = r.n;
		rc = receive_more(&r, want, &fresh);
		if (rc != TF_OK) {
			run_failed(&r, "receiving from the dead-letter queue", rc);
			break;
		}
		if (fresh == 0)
			break;
		for (i = from; i < r.n; i++) {
			d = &r.v[i];
			if (!d->ok && !malformed)
				d->act = task != NULL ? ACT_OTHER : ACT_SKIP;
			else if (task != NULL && strcmp(d->task.id, task) != 0)
				d->act = ACT_OTHER;
			else if (limit == 0 || (long long)moving < limit) {
				d->act = ACT_MOVE;
				moving++;
			}
		}
		for (p = 0; p < TF_PRIORITY__N && !dry_run; p++)
			if (move_batch(&r, from, r.n, (enum tf_priority)p) != TF_OK)
				break;
		if (p < TF_PRIORITY__N && !dry_run)
			break;
	}
	at_limit = limit > 0 && (long long)moving >= limit;
	left = release_all(&r);
	release_signals(&sigs);

	for (i = 0; i < r.n; i++)
		count[r.v[i].act]++;
	if (c->json) {
		if (redrive_json(&r, dry_run, count, at_limit) != 0)
			code = EXIT_FAILED;
	} else {
		for (i = 0; i < r.n; i++)
			redrive_line(&r.v[i], dry_run);
		if (dry_run)
			printf("dry run: would move %zu message%s", count[ACT_MOVE],
			    count[ACT_MOVE] == 1 ? "" : "s");
		else
			printf("moved %zu message%s", count[ACT_MOVED],
			    count[ACT_MOVED] == 1 ? "" : "s");
		printf(" from %s to %s", r.dlq_url, c->ctx.queue_url);
		if (count[ACT_SKIP] > 0)
			printf("; skipped %zu with a malformed body "
			    "(--include-malformed moves them)", count[ACT_SKIP]);
		if (count[ACT_OTHER] > 0)
			printf("; left %zu of other tasks", count[ACT_OTHER]);
		if (count[ACT_SEND_FAILED] + count[ACT_DELETE_FAILED] > 0)
			printf("; %zu failed", count[ACT_SEND_FAILED] +
			    count[ACT_DELETE_FAILED]);
		if (at_limit)
			printf("; stopped at --limit %lld", limit);
		printf("%s\n", dry_run ? "; nothing was changed" : "");
	}
	if (r.failed) {
		fprintf(stderr, "%s: %s\n", r.cmd, r.reason);
		code = EXIT_FAILED;
	}
	if (left > 0) {
		report_left(&r, left);
		code = EXIT_FAILED;
	}
	if (interrupted) {
		fprintf(stderr, "%s: interrupted; the messages not moved are visible "
		    "again\n", r.cmd);
		code = EXIT_FAILED;
	}
out:
	run_free(&r);
	return code;
}

int
cmd_dlq(struct cli *c, int argc, char **argv)
{
	static char name[64];   /* argv[0] of the subcommand */
	const char *cmd = argv[0];
	int (*run)(struct cli *, int, char **);

	if (argc < 2)
		return cli_usage_error(cmd, "the subcommand is missing: list or "
		    "redrive (see %s --help)", cmd);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf("%s\n"
		    "  list      show the dead-letter queue's messages (taking none)\n"
		    "  redrive   move them back to the queue\n"
		    "\n"
		    "  %s list --help, %s redrive --help: their options\n",
		    dlq_usage, cmd, cmd);
		return 0;
	}
	if (strcmp(argv[1], "list") == 0)
		run = dlq_list;
	else if (strcmp(argv[1], "redrive") == 0)
		run = dlq_redrive;
	else
		return cli_usage_error(cmd, "unknown subcommand \"%.64s\": list or "
		    "redrive (see %s --help)", argv[1], cmd);
	snprintf(name, sizeof(name), "%s %s", cmd, argv[1]);
	argv[1] = name;
	return run(c, argc - 1, argv + 1);
}
