/*
 * cmd_dlq.c - the dead-letter queue (docs/design.md section 1): `dlq list`
 * shows its messages without consuming them, `dlq redrive` moves them back
 * to the queue.
 *
 * The receiving, holding, judging and moving is lib/task/dlq.h's (the REST
 * API's /v1/dlq shares it); this file reads the options, catches SIGINT and
 * SIGTERM (the run stops at the next receive and makes what it holds
 * visible again) and prints.
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
#include "task/dlq.h"
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

#define LIST_DEFAULT_LIMIT  100
#define LIST_MAX_LIMIT      10000
#define REDRIVE_MAX_LIMIT   1000000

/* One run of `dlq list` or `dlq redrive`. */
struct dlq_run {
	struct cli *c;
	const char *cmd;             /* "taskfleet dlq list" */
	struct tf_dlq_run run;       /* the messages */
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
	r->run.aws = c->ctx.aws;
	r->run.queue_url = c->ctx.queue_url;
	r->run.table = c->cfg.table;
	r->run.stop = &interrupted;
	rc = tf_dlq_find(c->ctx.aws, c->ctx.queue_url, &r->run.dlq_url);
	if (rc != TF_OK)
		return cli_aws_error(r->cmd, "finding the dead-letter queue", rc);
	if (r->run.dlq_url != NULL &&
	    strcmp(r->run.dlq_url, c->ctx.queue_url) == 0) {
		fprintf(stderr, "%s: the queue %s is its own dead-letter queue (its "
		    "redrive policy names it): nothing to list or move\n", r->cmd,
		    c->ctx.queue_url);
		return EXIT_FAILED;
	}
	if (r->run.dlq_url == NULL) {
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
		    left, left == 1 ? "" : "s", TF_DLQ_HOLD_S,
		    r->run.release_reason);
}

/* ------------------------------------------------------------------ list */

/* Writes the TASK STATUS column of a listed message into buf. */
static const char *
status_text(const struct tf_dlq_msg *d, char *buf, size_t len)
{
	const struct tf_dlq_view *tv = &d->view;
	char ex[TF_DLQ_EXCERPT_MAX + 8];

	if (!d->ok) {
		tf_dlq_excerpt(d->m.body, ex, sizeof(ex));
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
	struct tf_dlq_msg *d;
	cJSON *o;
	cJSON *attrs = NULL;
	const cJSON *v;
	char target[TF_TIMEFMT_ISO_SIZE], sent[TF_TIMEFMT_ISO_SIZE];
	char st[400], gen[24], recv[24], reason[800];
	long long limit = LIST_DEFAULT_LIMIT, reported = -1;
	size_t i, left, unknown = 0, n;
	int ch, code, idw = 10, taskw = 4, w;
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
			    "              \"first_receive\", \"status\", \"task_gen\", \"ns\",\n"
			    "              \"verdict\"}\n"
			    "              (\"error\" and \"excerpt\" for a malformed body)\n"
			    "\n"
			    "Exit: 0 listed (also when empty), 1 failed, 2 bad input, 3 the\n"
			    "queue has no dead-letter queue.\n",
			    list_usage, TF_DLQ_HOLD_S, LIST_MAX_LIMIT, LIST_DEFAULT_LIMIT);
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
	if (tf_sqs_get_queue_attributes(c->ctx.aws, r.run.dlq_url, depth_names,
	    &attrs) == TF_OK) {
		v = cJSON_GetObjectItemCaseSensitive(attrs, depth_names[0]);
		if (cJSON_IsString(v))
			reported = strtoll(v->valuestring, NULL, 10);
	}
	cJSON_Delete(attrs);

	catch_signals(&sigs);
	tf_dlq_collect(&r.run, (size_t)limit, (size_t)limit, NULL, NULL);
	n = r.run.n;
	at_limit = (long long)n >= limit;
	left = tf_dlq_release(&r.run);
	release_signals(&sigs);

	for (i = 0; i < n; i++) {
		d = &r.run.v[i];
		if ((w = (int)strlen(d->m.message_id)) > idw)
			idw = w;
		if (d->ok && (w = (int)strlen(d->task.id)) > taskw)
			taskw = w;
	}
	for (i = 0; i < n; i++) {
		d = &r.run.v[i];
		rc = tf_dlq_view_task(&r.run, d);
		if (rc != TF_OK && unknown++ == 0) {
			cli_aws_reason(rc, reason, sizeof(reason));
			fprintf(stderr, "%s: reading the tasks from %s: %s%s\n", r.cmd,
			    c->cfg.table, reason, cli_resource_missing() ?
			    " (no such table: --table or TASKFLEET_TABLE)" : "");
		}
		if (c->json) {
			o = tf_dlq_msg_json(d);
			if (o == NULL)
				fprintf(stderr, "taskfleet: out of memory\n");
			if (o == NULL || cli_print_json(o) != 0)
				code = EXIT_FAILED;
			cJSON_Delete(o);
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
		    status_text(d, st, sizeof(st)));
	}
	if (unknown > 0)
		code = EXIT_FAILED;
	if (r.run.failed) {
		fprintf(stderr, "%s: %s\n", r.cmd, r.run.reason);
		code = EXIT_FAILED;
	}
	if (left > 0) {
		report_left(&r, left);
		code = EXIT_FAILED;
	}
	if (interrupted) {
		fprintf(stderr, "%s: interrupted after %zu message%s; every message "
		    "listed is visible again\n", r.cmd, n, n == 1 ? "" : "s");
		code = EXIT_FAILED;
	} else if (at_limit && reported >= 0) {
		fprintf(stderr, "%s: listed the first %zu message%s (--limit); the "
		    "dead-letter queue reports %lld (ApproximateNumberOfMessages)\n",
		    r.cmd, n, n == 1 ? "" : "s", reported);
	} else if (at_limit) {
		fprintf(stderr, "%s: listed the first %zu message%s (--limit); there "
		    "may be more\n", r.cmd, n, n == 1 ? "" : "s");
	} else if (n == 0 && !r.run.failed && !c->json) {
		fprintf(stderr, "%s: the dead-letter queue %s is empty\n", r.cmd,
		    r.run.dlq_url);
	}
out:
	tf_dlq_run_free(&r.run);
	return code;
}

/* --------------------------------------------------------------- redrive */

/* Prints one message of a redrive for people. */
static void
redrive_line(const struct tf_dlq_msg *d, bool dry_run)
{
	char ex[TF_DLQ_EXCERPT_MAX + 8], gen[24];

	if (d->ok && d->task.has_gen)
		snprintf(gen, sizeof(gen), "%" PRId64, d->task.gen);
	else
		snprintf(gen, sizeof(gen), "-");
	switch (d->act) {
	case TF_DLQ_MOVE:
	case TF_DLQ_MOVED:
		if (d->ok)
			printf("%-10s  %s  task %s gen %s\n", dry_run ? "would move" :
			    "moved", d->m.message_id, d->task.id, gen);
		else
			printf("%-10s  %s  malformed body\n", dry_run ? "would move" :
			    "moved", d->m.message_id);
		break;
	case TF_DLQ_SKIP:
		tf_dlq_excerpt(d->m.body, ex, sizeof(ex));
		printf("%-10s  %s  malformed body: %s\n", "skipped", d->m.message_id,
		    ex);
		break;
	case TF_DLQ_SEND_FAILED:
		printf("%-10s  %s  task %s: sending failed: %s\n", "not moved",
		    d->m.message_id, d->ok ? d->task.id : "-", d->fail);
		break;
	case TF_DLQ_DELETE_FAILED:
		printf("%-10s  %s  task %s: sent, but still in the dead-letter queue: "
		    "%s\n", "copied", d->m.message_id, d->ok ? d->task.id : "-", d->fail);
		break;
	default:
		break;
	}
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
	struct tf_dlq_redrive_opts o = { 0 };
	struct tf_dlq_redrive_result res;
	const size_t *count = res.count;
	cJSON *j;
	size_t i;
	int ch, code;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.cmd = argv[0];
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (!cli_parse_int(optarg, 1, REDRIVE_MAX_LIMIT, &o.limit))
				return cli_usage_error(r.cmd, "--limit: expected a number from "
				    "1 to %d, got \"%.32s\"", REDRIVE_MAX_LIMIT, optarg);
			break;
		case 't':
			o.task = optarg;
			if (!tf_task_id_valid(o.task))
				return cli_usage_error(r.cmd, "--task: must be 1 to %d printable "
				    "characters without spaces", TF_TASK_ID_MAX);
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'm':
			o.include_malformed = true;
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
	if (o.task != NULL && o.include_malformed)
		return cli_usage_error(r.cmd, "--include-malformed: cannot go with "
		    "--task (a malformed body names no task)");
	if ((code = open_queues(&r)) >= 0)
		goto out;
	code = 0;

	catch_signals(&sigs);
	tf_dlq_redrive(&r.run, &o, &res);
	release_signals(&sigs);

	if (c->json) {
		j = tf_dlq_redrive_json(&r.run, o.dry_run, &res);
		if (j == NULL)
			fprintf(stderr, "taskfleet: out of memory\n");
		if (j == NULL || cli_print_json(j) != 0)
			code = EXIT_FAILED;
		cJSON_Delete(j);
	} else {
		for (i = 0; i < r.run.n; i++)
			redrive_line(&r.run.v[i], o.dry_run);
		if (o.dry_run)
			printf("dry run: would move %zu message%s", count[TF_DLQ_MOVE],
			    count[TF_DLQ_MOVE] == 1 ? "" : "s");
		else
			printf("moved %zu message%s", count[TF_DLQ_MOVED],
			    count[TF_DLQ_MOVED] == 1 ? "" : "s");
		printf(" from %s to %s", r.run.dlq_url, c->ctx.queue_url);
		if (count[TF_DLQ_SKIP] > 0)
			printf("; skipped %zu with a malformed body "
			    "(--include-malformed moves them)", count[TF_DLQ_SKIP]);
		if (count[TF_DLQ_OTHER] > 0)
			printf("; left %zu of other tasks", count[TF_DLQ_OTHER]);
		if (count[TF_DLQ_SEND_FAILED] + count[TF_DLQ_DELETE_FAILED] > 0)
			printf("; %zu failed", count[TF_DLQ_SEND_FAILED] +
			    count[TF_DLQ_DELETE_FAILED]);
		if (res.at_limit)
			printf("; stopped at --limit %lld", o.limit);
		printf("%s\n", o.dry_run ? "; nothing was changed" : "");
	}
	if (r.run.failed) {
		fprintf(stderr, "%s: %s\n", r.cmd, r.run.reason);
		code = EXIT_FAILED;
	}
	if (res.left > 0) {
		report_left(&r, res.left);
		code = EXIT_FAILED;
	}
	if (interrupted) {
		fprintf(stderr, "%s: interrupted; the messages not moved are visible "
		    "again\n", r.cmd);
		code = EXIT_FAILED;
	}
out:
	tf_dlq_run_free(&r.run);
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
