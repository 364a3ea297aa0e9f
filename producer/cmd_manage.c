/*
 * cmd_manage.c - managing tasks: `suspend`, `resume`, `run-now` and `retry`
 * (one task each, conditional on its state and generation: lib/task/task_manage.h), `clear`
 * (a namespace), and the read-only views `due` and `stats`.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/ddb.h"
#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "cli.h"
#include "task/dlq.h"
#include "task/task.h"
#include "task/task_manage.h"
#include "time/timefmt.h"

static const char suspend_usage[] = "usage: taskfleet suspend [--json] ID\n";
static const char resume_usage[] =
    "usage: taskfleet resume [--json] ID\n"
    "       taskfleet resume --ns NS [--json]   (a paused namespace)\n";
static const char run_now_usage[] = "usage: taskfleet run-now [--json] ID\n";
static const char retry_usage[] =
    "usage: taskfleet retry [--at TIME] [--json] ID\n";
static const char clear_usage[] =
    "usage: taskfleet clear --ns NS [--yes] [--json]\n";
static const char due_usage[] =
    "usage: taskfleet due [--ns NS] [--limit N] [--json]\n";
static const char stats_usage[] = "usage: taskfleet stats [--ns NS] [--json]\n";

/* The effective enqueue horizon. */
static int64_t
horizon(const struct cli *c)
{
	return c->cfg.horizon_ms > 0 ? c->cfg.horizon_ms : TF_ENQUEUE_HORIZON_MS;
}

/* Prints a change as one JSON object. Returns 0 or EXIT_FAILED. */
static int
print_change_json(const char *id, const char *action,
    const struct tf_manage_result *r, bool sent, int delay_s)
{
	cJSON *o = cJSON_CreateObject();
	int code = EXIT_FAILED;

	if (o == NULL ||
	    cJSON_AddStringToObject(o, "id", id) == NULL ||
	    cJSON_AddStringToObject(o, "action", action) == NULL ||
	    cJSON_AddStringToObject(o, "result", tf_manage_verdict_name(r->verdict)) == NULL ||
	    cJSON_AddStringToObject(o, "status", tf_task_status_name(r->status)) == NULL ||
	    cJSON_AddBoolToObject(o, "suspend_requested",
	    r->verdict == TF_MANAGE_REQUEST ||
	    (r->verdict == TF_MANAGE_ALREADY && r->status == TF_TASK_PROCESSING)) == NULL ||
	    cJSON_AddNumberToObject(o, "gen", (double)r->gen) == NULL ||
	    (r->next_run > 0 &&
	    cJSON_AddNumberToObject(o, "next_run", (double)r->next_run) == NULL) ||
	    cJSON_AddBoolToObject(o, "enqueued", sent) == NULL ||
	    (sent && cJSON_AddNumberToObject(o, "delay_seconds", delay_s) == NULL))
		fprintf(stderr, "taskfleet: out of memory\n");
	else
		code = cli_print_json(o);
	cJSON_Delete(o);
	return code;
}

/* Prints a change for people, one line. */
static void
print_change_text(const struct cli *c, const char *id,
    enum tf_manage_action action, const struct tf_manage_result *r, bool sent,
    int delay_s)
{
	char buf[128], dur[TF_TIMEFMT_DUR_SIZE];
	int64_t now = tf_now_ms();

	switch (r->verdict) {
	case TF_MANAGE_REQUEST:
		printf("task %s is running now; it will be suspended when this run "
		    "ends (suspend requested)\n", id);
		return;
	case TF_MANAGE_WITHDRAW:
		printf("task %s is still running; its suspend request was withdrawn, "
		    "so it goes on as scheduled after this run\n", id);
		return;
	case TF_MANAGE_ALREADY:
		if (r->status == TF_TASK_PROCESSING)
			printf("task %s is running now and its suspend was requested "
			    "already; it will be suspended when this run ends\n", id);
		else
			printf("task %s is already %s\n", id,
			    tf_task_status_name(r->status));
		return;
	default:
		break;
	}
	switch (action) {
	case TF_MANAGE_SUSPEND:
		printf("suspended %s\n", id);
		break;
	case TF_MANAGE_RESUME:
		if (sent)
			printf("resumed %s: next run %s; message sent (delay %ds)\n", id,
			    cli_when(r->next_run, now, buf, sizeof(buf)), delay_s);
		else
			printf("resumed %s: next run %s; the sweeper enqueues it when it "
			    "is due within %s\n", id,
			    cli_when(r->next_run, now, buf, sizeof(buf)),
			    tf_timefmt_format_duration(horizon(c), dur, sizeof(dur)));
		break;
	case TF_MANAGE_RUN_NOW:
		printf("%s runs now: message sent (gen %" PRId64 ")\n", id, r->gen);
		break;
	case TF_MANAGE_RETRY:
		printf("retried %s: PENDING with no attempts used, next run %s; %s\n",
		    id, cli_when(r->next_run, now, buf, sizeof(buf)), sent ?
		    "message sent" : "the sweeper enqueues it when it is due");
		break;
	}
}

/* suspend, resume, run-now and retry (due at at_ms; 0: now): one
 * conditional change on task id. */
static int
manage_apply(struct cli *c, const char *cmd, const char *id,
    enum tf_manage_action action, const char *name, int64_t at_ms)
{
	struct tf_manage_result r;
	char errbuf[512], reason[800];
	int64_t now;
	int code, delay_s = 0;
	bool sent = false;
	enum tf_err rc;

	if ((code = cli_open(c)) != 0)
		return code;
	/* A change that sends a message needs the queue: find it before
	 * writing, so that a missing queue leaves the task as it was. */
	if (action != TF_MANAGE_SUSPEND &&
	    (rc = tf_context_resolve_queue(&c->ctx, &c->cfg)) != TF_OK)
		return cli_aws_error(cmd, "finding the queue (nothing was changed)", rc);
	now = tf_now_ms();
	if (action == TF_MANAGE_RETRY)
		rc = tf_manage_retry(c->ctx.aws, c->cfg.table, id, at_ms, now,
		    horizon(c), c->cfg.history_kept, &r, errbuf, sizeof(errbuf));
	else
		rc = tf_manage_change(c->ctx.aws, c->cfg.table, id, action, now,
		    horizon(c), &r, errbuf, sizeof(errbuf));
	if (rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) {
		fprintf(stderr, "%s: no task \"%s\"\n", cmd, id);
		return EXIT_NOTFOUND;
	}
	if (rc == TF_ERR_PARSE) {
		fprintf(stderr, "%s: the item \"%s\" is not a task: %s\n", cmd, id,
		    errbuf);
		return EXIT_FAILED;
	}
	if (rc == TF_ERR_CONDITION) {
		fprintf(stderr, "%s: %s\n", cmd, errbuf);
		return EXIT_FAILED;
	}
	if (rc != TF_OK)
		return cli_aws_error(cmd, "changing the task", rc);
	if (r.verdict == TF_MANAGE_REFUSE) {
		fprintf(stderr, "%s: %s\n", cmd, tf_manage_refusal(action, id, r.found,
		    r.suspend_requested, reason, sizeof(reason)));
		return EXIT_FAILED;
	}
	code = 0;
	if (r.enqueue_at > 0) {
		rc = tf_manage_send(c->ctx.aws, c->ctx.queue_url, r.priority, id, r.gen,
		    r.enqueue_at, tf_now_ms(), &delay_s);
		if (rc == TF_OK) {
			sent = true;
		} else {
			/* The write stands: its enqueued_for marks a message that
			 * never came, which the sweeper takes as lost after its
			 * grace period and sends again. */
			cli_aws_reason(rc, reason, sizeof(reason));
			fprintf(stderr, "%s: task %s was changed (%s, gen %" PRId64 "), "
			    "but sending its queue message failed: %s; the sweeper will "
			    "enqueue it\n", cmd, id, tf_task_status_name(r.status), r.gen,
			    reason);
			code = EXIT_FAILED;
		}
	}
	if (c->json) {
		if (print_change_json(id, name, &r, sent, delay_s) != 0)
			code = EXIT_FAILED;
	} else if (code == 0) {
		print_change_text(c, id, action, &r, sent, delay_s);
	}
	return code;
}

/* suspend, resume and run-now: the ID and --json, then the change. */
static int
manage_one(struct cli *c, int argc, char **argv, enum tf_manage_action action,
    const char *name, const char *usage, const char *help)
{
	const char *id = NULL;
	int code;

	code = cli_parse_id_command(c, argc, argv, usage, help, &id);
	if (code >= 0)
		return code;
	return manage_apply(c, argv[0], id, action, name, 0);
}

int
cmd_suspend(struct cli *c, int argc, char **argv)
{
	return manage_one(c, argc, argv, TF_MANAGE_SUSPEND, "suspend",
	    suspend_usage,
	    "Suspends a task: it keeps its state but does not run until it is\n"
	    "resumed. A PENDING task is suspended at once (a message already on the\n"
	    "queue for it is dropped when it arrives). A task running now finishes\n"
	    "its run and is suspended when the run ends, keeping the run's result.\n"
	    "A SUSPENDED task stays as it is (exit 0).\n"
	    "With --json: {\"id\", \"action\", \"result\": changed|requested|already,\n"
	    "\"status\", \"suspend_requested\", \"gen\", ...}.\n"
	    "Exit: 0 suspended or requested, 1 refused (COMPLETED, FAILED) or\n"
	    "failed, 2 bad input, 3 no such task.\n");
}

int
cmd_resume(struct cli *c, int argc, char **argv)
{
	int i;

	/* `resume --ns NS`: a paused namespace (cmd_pause.c). */
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--ns") == 0 || strncmp(argv[i], "--ns=", 5) == 0)
			return cmd_resume_ns(c, argc, argv);
	return manage_one(c, argc, argv, TF_MANAGE_RESUME, "resume", resume_usage,
	    "Resumes a SUSPENDED task: it is PENDING again at its next run, or now\n"
	    "if that time passed while it was suspended (missed runs of a schedule\n"
	    "run once, not once each). A task due within the enqueue horizon\n"
	    "(TASKFLEET_HORIZON, 15m) gets its queue message at once. For a task\n"
	    "still running whose suspend was requested, the request is withdrawn.\n"
	    "With --json: {\"id\", \"action\", \"result\": changed|withdrawn,\n"
	    "\"status\", \"gen\", \"next_run\", \"enqueued\", \"delay_seconds\"}.\n"
	    "Exit: 0 resumed, 1 refused (not suspended) or failed, 2 bad input,\n"
	    "3 no such task.\n");
}

int
cmd_run_now(struct cli *c, int argc, char **argv)
{
	return manage_one(c, argc, argv, TF_MANAGE_RUN_NOW, "run-now",
	    run_now_usage,
	    "Makes a PENDING task due now and puts its message on the queue; the\n"
	    "message it had is dropped when it arrives. For a recurring task this\n"
	    "is its next occurrence run early: the schedule goes on after that\n"
	    "occurrence's time. A SUSPENDED task is resumed with `taskfleet\n"
	    "resume` instead; a task running now (PROCESSING) is refused.\n"
	    "With --json: {\"id\", \"action\", \"result\": changed, \"status\",\n"
	    "\"gen\", \"next_run\", \"enqueued\", \"delay_seconds\"}.\n"
	    "Exit: 0 queued, 1 refused or failed, 2 bad input, 3 no such task.\n");
}

int
cmd_retry(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "at", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *at = NULL, *id = NULL;
	char errbuf[256];
	int64_t at_ms = 0;
	int ch, code;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			at = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			printf("%s\n"
			    "Runs a FAILED task again: it is PENDING, due now (or at --at), with\n"
			    "no attempts used and its message on the queue; its errors, last\n"
			    "result and history are kept, and the history says it was retried.\n"
			    "A recurring task goes on with its schedule after the run. Other\n"
			    "states are refused: run-now a PENDING task, resume a SUSPENDED one.\n"
			    "\n"
			    "  --at TIME   when: ISO 8601 (UTC if no zone) or +DURATION; default\n"
			    "              now (a time already past is now)\n"
			    "\n"
			    "With --json: {\"id\", \"action\": \"retry\", \"result\": changed,\n"
			    "\"status\", \"gen\", \"next_run\", \"enqueued\", \"delay_seconds\"}.\n"
			    "Exit: 0 retried, 1 refused (not FAILED) or failed, 2 bad input,\n"
			    "3 no such task.\n", retry_usage);
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (at != NULL && tf_timefmt_parse(at, tf_now_ms(), &at_ms, errbuf,
	    sizeof(errbuf)) != TF_OK)
		return cli_usage_error(cmd, "--at: %s", errbuf);
	if ((code = cli_take_id(cmd, argc, argv, &id)) >= 0)
		return code;
	return manage_apply(c, cmd, id, TF_MANAGE_RETRY, "retry", at_ms);
}

/* Asks on the terminal whether to delete every task of ns. */
static bool
confirm_clear(const struct cli *c, const char *ns)
{
	char line[16];

	fprintf(stderr, "delete every task in namespace \"%s\" of table %s? "
	    "[y/N] ", ns, c->cfg.table);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

int
cmd_clear(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ns", required_argument, NULL, 'n' },
		{ "yes", no_argument, NULL, 'y' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *ns = NULL;
	char reason[800];
	int64_t deleted = 0;
	bool yes = false;
	cJSON *o;
	int ch, code;
	enum tf_err rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			ns = optarg;
			break;
		case 'y':
			yes = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			printf("%s\n"
			    "Deletes every task of a namespace, whatever its state, and prints\n"
			    "\"deleted N tasks in NS\" ({\"ns\", \"deleted\"} with --json).\n"
			    "Running tasks lose their lease and write nothing back; messages\n"
			    "still queued for them are dropped when they arrive.\n"
			    "\n"
			    "  --ns NS   the namespace (required: there is no default here)\n"
			    "  --yes     do not ask; without it, a terminal is asked to confirm\n"
			    "\n"
			    "Exit: 0 cleared, 1 failed or not confirmed, 2 bad input.\n",
			    clear_usage);
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (ns == NULL)
		return cli_usage_error(cmd, "--ns is required (see %s --help)", cmd);
	if (!tf_task_ns_valid(ns))
		return cli_usage_error(cmd, "--ns: must be 1 to %d of A-Z a-z 0-9 _ . -",
		    TF_TASK_NS_MAX);
	if (!yes && isatty(STDIN_FILENO) && !confirm_clear(c, ns)) {
		fprintf(stderr, "%s: nothing deleted\n", cmd);
		return EXIT_FAILED;
	}
	if ((code = cli_open(c)) != 0)
		return code;
	rc = tf_manage_clear_ns(c->ctx.aws, c->cfg.table, ns, &deleted);
	if (rc != TF_OK) {
		cli_aws_reason(rc, reason, sizeof(reason));
		fprintf(stderr, "%s: deleted %" PRId64 " task%s in %s, then failed: "
		    "%s%s\n", cmd, deleted, deleted == 1 ? "" : "s", ns, reason,
		    cli_resource_missing() ?
		    "; `taskfleet init` creates the table and the queue" : "");
		return EXIT_FAILED;
	}
	if (!c->json) {
		printf("deleted %" PRId64 " task%s in %s\n", deleted,
		    deleted == 1 ? "" : "s", ns);
		return 0;
	}
	o = cli_clear_json(ns, deleted);
	code = o != NULL ? cli_print_json(o) : EXIT_FAILED;
	cJSON_Delete(o);
	return code;
}

cJSON *
cli_clear_json(const char *ns, int64_t deleted)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "ns", ns) == NULL ||
	    cJSON_AddNumberToObject(o, "deleted", (double)deleted) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Whether a due task's message is out: "sent", "none", or "lost" (sent for a
 * time longer ago than the sweeper's grace period). */
static const char *
message_state(const struct cli *c, int64_t enqueued_for, int64_t now)
{
	if (enqueued_for <= 0)
		return "none";
	return enqueued_for + c->cfg.sweep_grace_ms < now ? "lost" : "sent";
}

cJSON *
cli_due_json(const struct cli *c, const cJSON *item, int64_t now)
{
	const char *id = tf_ddb_item_s(item, "id"), *ns = tf_ddb_item_s(item, "ns");
	int64_t next_run, enq, gen;
	cJSON *o;

	if (!tf_ddb_item_n(item, "next_run", &next_run))
		next_run = 0;
	if (!tf_ddb_item_n(item, "enqueued_for", &enq))
		enq = 0;
	if (!tf_ddb_item_n(item, "gen", &gen))
		gen = 0;
	o = cJSON_CreateObject();
	if (o == NULL || id == NULL || cJSON_AddStringToObject(o, "id", id) == NULL ||
	    (ns != NULL && cJSON_AddStringToObject(o, "ns", ns) == NULL) ||
	    cJSON_AddNumberToObject(o, "next_run", (double)next_run) == NULL ||
	    cJSON_AddNumberToObject(o, "overdue_ms", (double)(now - next_run)) == NULL ||
	    cJSON_AddNumberToObject(o, "gen", (double)gen) == NULL ||
	    (enq > 0 ? cJSON_AddNumberToObject(o, "enqueued_for", (double)enq) :
	    cJSON_AddNullToObject(o, "enqueued_for")) == NULL ||
	    cJSON_AddStringToObject(o, "message", message_state(c, enq, now)) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int
cmd_due(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ns", required_argument, NULL, 'n' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *ns = NULL, *id;
	cJSON *items = NULL, *o = NULL;
	const cJSON *it;
	char iso[TF_TIMEFMT_ISO_SIZE], dur[TF_TIMEFMT_DUR_SIZE];
	long long limit = CLI_DUE_DEFAULT_LIMIT;
	int64_t now, next_run, enq;
	int ch, code, n = 0, idw = 2, w;
	enum tf_err rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			ns = optarg;
			break;
		case 'l':
			if (!cli_parse_int(optarg, 1, TF_TASK_LIST_MAX - 1, &limit))
				return cli_usage_error(cmd, "--limit: expected a number from 1 "
				    "to %d, got \"%.32s\"", TF_TASK_LIST_MAX - 1, optarg);
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			printf("%s\n"
			    "A dry run: lists the PENDING tasks that are due now (next run at or\n"
			    "before now), the most overdue first, without changing anything.\n"
			    "\n"
			    "  --ns NS      only this namespace; default all namespaces\n"
			    "  --limit N    at most N tasks, 1 to %d; default %d\n"
			    "  --json       one JSON object per task and line: {\"id\",\n"
			    "               \"next_run\", \"overdue_ms\", \"gen\", \"enqueued_for\",\n"
			    "               \"message\"}\n"
			    "\n"
			    "One line per task: id, next run, how overdue, and whether its queue\n"
			    "message is out: \"sent\" (for the time shown), \"none\" (the sweeper\n"
			    "sends one), or \"lost\" (sent longer ago than the sweeper's grace\n"
			    "period, TASKFLEET_SWEEP_GRACE: the sweeper sends it again).\n"
			    "Items of the original scheduler (no status) are not listed.\n"
			    "Exit: 0 listed (also when none are due), 1 failed, 2 bad input.\n",
			    due_usage, TF_TASK_LIST_MAX - 1, CLI_DUE_DEFAULT_LIMIT);
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (ns != NULL && !tf_task_ns_valid(ns))
		return cli_usage_error(cmd, "--ns: must be 1 to %d of A-Z a-z 0-9 _ . -",
		    TF_TASK_NS_MAX);
	if ((code = cli_open(c)) != 0)
		return code;
	now = tf_now_ms();
	/* One more than asked says whether there are more. */
	rc = tf_manage_due(c->ctx.aws, c->cfg.table, ns, now, (int)limit + 1, &items);
	if (rc != TF_OK)
		return cli_aws_error(cmd, "reading the due tasks", rc);
	code = EXIT_FAILED;
	cJSON_ArrayForEach(it, items) {
		if (n++ == limit)
			break;
		if ((id = tf_ddb_item_s(it, "id")) != NULL && (w = (int)strlen(id)) > idw)
			idw = w;
	}
	n = 0;
	cJSON_ArrayForEach(it, items) {
		if (n == limit)
			break;
		id = tf_ddb_item_s(it, "id");
		if (id == NULL)
			continue;
		if (!tf_ddb_item_n(it, "next_run", &next_run))
			next_run = 0;
		if (!tf_ddb_item_n(it, "enqueued_for", &enq))
			enq = 0;
		if (c->json) {
			o = cli_due_json(c, it, now);
			if (o == NULL || cli_print_json(o) != 0) {
				fprintf(stderr, "%s: out of memory\n", cmd);
				goto out;
			}
			cJSON_Delete(o);
			o = NULL;
		} else {
			if (n == 0)
				printf("%-*s  %-24s  %-12s  %s\n", idw, "ID", "NEXT RUN",
				    "OVERDUE", "MESSAGE");
			printf("%-*s  %-24s  %-12s  %s", idw, id,
			    tf_timefmt_format(next_run, iso, sizeof(iso)),
			    tf_timefmt_format_duration((now - next_run) / 1000 * 1000, dur,
			    sizeof(dur)), message_state(c, enq, now));
			if (enq > 0)
				printf(" (for %s)", tf_timefmt_format(enq, iso, sizeof(iso)));
			printf("\n");
		}
		n++;
	}
	if (cJSON_GetArraySize(items) > limit)
		fprintf(stderr, "%s: more tasks are due than the %lld shown (--limit)\n",
		    cmd, limit);
	else if (n == 0 && !c->json)
		fprintf(stderr, "%s: no tasks are due\n", cmd);
	code = 0;
out:
	cJSON_Delete(o);
	cJSON_Delete(items);
	return code;
}

/* A queue's depth. */
struct depth {
	bool known;
	char *url;            /* owned */
	struct tf_sqs_depth n;
};

/* Reads the depth of the queue at d->url. */
static enum tf_err
read_depth(struct tf_aws *aws, struct depth *d)
{
	enum tf_err rc = tf_sqs_queue_depth(aws, d->url, &d->n);

	d->known = rc == TF_OK;
	return rc;
}

bool
cli_add_counts(cJSON *o, const char *ns, const struct tf_manage_counts *counts)
{
	cJSON *by;
	int i;

	if ((ns != NULL ? cJSON_AddStringToObject(o, "ns", ns) :
	    cJSON_AddNullToObject(o, "ns")) == NULL ||
	    (by = cJSON_AddObjectToObject(o, "tasks")) == NULL)
		return false;
	for (i = 0; i < TF_TASK__STATUSES; i++)
		if (cJSON_AddNumberToObject(by, tf_task_status_name(
		    (enum tf_task_status)i), (double)counts->by_status[i]) == NULL)
			return false;
	return (counts->other == 0 ||
	    cJSON_AddNumberToObject(by, "other", (double)counts->other) != NULL) &&
	    cJSON_AddNumberToObject(by, "total", (double)counts->total) != NULL &&
	    cJSON_AddNumberToObject(o, "legacy", (double)counts->legacy) != NULL;
}

/* Adds {"url", "visible", "in_flight", "delayed"} (or null) under key. */
static bool
add_depth(cJSON *o, const char *key, const struct depth *d)
{
	cJSON *q;

	if (!d->known)
		return cJSON_AddNullToObject(o, key) != NULL;
	q = cJSON_AddObjectToObject(o, key);
	return q != NULL && cJSON_AddStringToObject(q, "url", d->url) != NULL &&
	    cJSON_AddNumberToObject(q, "visible", (double)d->n.visible) != NULL &&
	    cJSON_AddNumberToObject(q, "in_flight", (double)d->n.in_flight) != NULL &&
	    cJSON_AddNumberToObject(q, "delayed", (double)d->n.delayed) != NULL;
}

int
cmd_stats(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ns", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *ns = NULL;
	struct tf_manage_counts counts;
	struct depth q = { 0 }, dlq = { 0 };
	char reason[800];
	cJSON *o = NULL;
	int ch, code, i;
	enum tf_err rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			ns = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			printf("%s\n"
			    "Counts the tasks by status (all of the table, or one namespace with\n"
			    "--ns) and shows the queue's depth: messages visible, in flight (being\n"
			    "processed) and delayed, and the dead-letter queue's.\n"
			    "Counting reads the whole table (or namespace): mind the read\n"
			    "capacity on a large one.\n"
			    "With --json: {\"table\", \"ns\", \"tasks\": {\"PENDING\": n, ...,\n"
			    "\"total\": n}, \"queue\": {\"url\", \"visible\", \"in_flight\",\n"
			    "\"delayed\"}, \"dlq\": {...}}.\n"
			    "Exit: 0 done, 1 failed (the counts print even when the queues\n"
			    "cannot be read), 2 bad input.\n", stats_usage);
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (ns != NULL && !tf_task_ns_valid(ns))
		return cli_usage_error(cmd, "--ns: must be 1 to %d of A-Z a-z 0-9 _ . -",
		    TF_TASK_NS_MAX);
	if ((code = cli_open(c)) != 0)
		return code;
	rc = tf_manage_count(c->ctx.aws, c->cfg.table, ns, &counts);
	if (rc != TF_OK)
		return cli_aws_error(cmd, "counting the tasks", rc);

	/* The queues: a failure here still prints the counts. */
	code = 0;
	rc = tf_context_resolve_queue(&c->ctx, &c->cfg);
	if (rc == TF_OK && (q.url = tf_strdup(c->ctx.queue_url)) == NULL)
		rc = TF_ERR_NOMEM;
	if (rc == TF_OK)
		rc = read_depth(c->ctx.aws, &q);
	if (rc == TF_OK)
		rc = tf_dlq_find(c->ctx.aws, q.url, &dlq.url);
	if (rc == TF_OK && dlq.url != NULL)
		rc = read_depth(c->ctx.aws, &dlq);
	if (rc != TF_OK) {
		cli_aws_reason(rc, reason, sizeof(reason));
		fprintf(stderr, "%s: reading the queue: %s\n", cmd, reason);
		code = EXIT_FAILED;
	}

	if (c->json) {
		o = cJSON_CreateObject();
		if (o == NULL || cJSON_AddStringToObject(o, "table", c->cfg.table) == NULL ||
		    !cli_add_counts(o, ns, &counts) ||
		    !add_depth(o, "queue", &q) || !add_depth(o, "dlq", &dlq))
			goto oom;
		if (cli_print_json(o) != 0)
			code = EXIT_FAILED;
	} else {
		printf("tasks in %s%s%s\n", c->cfg.table, ns ? ", namespace " : "",
		    ns ? ns : "");
		for (i = 0; i < TF_TASK__STATUSES; i++)
			printf("  %-11s %" PRId64 "\n",
			    tf_task_status_name((enum tf_task_status)i), counts.by_status[i]);
		if (counts.other > 0)
			printf("  %-11s %" PRId64 "\n", "other", counts.other);
		printf("  %-11s %" PRId64 "\n", "total", counts.total);
		if (counts.legacy > 0)
			printf("  (%" PRId64 " of them items of the original scheduler)\n",
			    counts.legacy);
		if (q.known)
			printf("queue %s\n  visible %" PRId64 ", in flight %" PRId64
			    ", delayed %" PRId64 "\n", q.url, q.n.visible, q.n.in_flight,
			    q.n.delayed);
		if (dlq.known)
			printf("dead-letter queue %s\n  visible %" PRId64 ", in flight %"
			    PRId64 ", delayed %" PRId64 "\n", dlq.url, dlq.n.visible,
			    dlq.n.in_flight, dlq.n.delayed);
		else if (q.known)
			printf("dead-letter queue: none found\n");
	}
	goto out;
oom:
	fprintf(stderr, "%s: out of memory\n", cmd);
	code = EXIT_FAILED;
out:
	cJSON_Delete(o);
	tf_free(q.url);
	tf_free(dlq.url);
	return code;
}
