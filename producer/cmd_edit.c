/*
 * cmd_edit.c - `taskfleet edit`: changes a task's name, description,
 * priority and schedule, the CLI's side of PATCH /v1/tasks/{id} for them
 * (tf_manage_patch(), so it is the same conditional write: PENDING or
 * SUSPENDED tasks only, gen + 1; the schedule is checked by
 * submit_patch_schedule(), as PATCH checks it).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "cli.h"
#include "submit_spec.h"
#include "task/task.h"
#include "task/task_manage.h"

static const char edit_usage[] =
    "usage: taskfleet edit [--name TEXT] [--description TEXT]\n"
    "                      [--priority high|normal|low]\n"
    "                      [--every DUR | --cron EXPR [--tz ZONE] | --once]\n"
    "                      [--max-runs N] [--until TIME] [--at TIME] [--json] ID\n";

static void
edit_help(void)
{
	printf("%s\n"
	    "Changes the name, description, priority or schedule of a PENDING or\n"
	    "SUSPENDED task.\n"
	    "\n"
	    "  --name TEXT         the new name: up to %d bytes of UTF-8, no control\n"
	    "                      characters; \"\" removes it\n"
	    "  --description TEXT  the new description: up to %d bytes of UTF-8\n"
	    "                      (tabs and line breaks allowed); \"\" removes it\n"
	    "  --priority P        high, normal or low: the queue its messages go to\n"
	    "                      from now on (the one out now is sent again)\n"
	    "  --every DUR         recurring at this interval from its next run\n"
	    "                      (a one-shot task becomes recurring)\n"
	    "  --cron EXPR         recurring on this cron schedule, in --tz (UTC);\n"
	    "                      the next run becomes its first slot from now\n"
	    "                      (a one-shot due later: from its next run)\n"
	    "  --max-runs N, --until TIME   end the new schedule (with --every or\n"
	    "                      --cron, which replace the schedule whole)\n"
	    "  --once              no schedule any more: the next run is the last\n"
	    "  --at TIME           the next run: ISO 8601 or +DURATION, as submit's\n"
	    "  --json              print the task as it is afterwards (as get --json)\n"
	    "\n"
	    "The change is written as PATCH /v1/tasks/{id} writes it: conditional\n"
	    "on the state read, with a new generation (a PENDING task's message is\n"
	    "sent again when it is due within the enqueue horizon).\n"
	    "Exit: 0 changed, 1 failed (or the task is in another state), 2 bad\n"
	    "input (nothing written), 3 no such task.\n",
	    edit_usage, TF_TASK_NAME_MAX, TF_TASK_DESCRIPTION_MAX);
}

/* The schedule options of task id (o: every, cron, tz, max_runs, until,
 * at) into p, checked on the task as it is now (its type, namespace and
 * params). ss: what p->schedule borrows; the caller frees it with
 * submit_spec_free(). Returns -1 to go on, or the exit code after a
 * message. */
static int
edit_schedule(struct cli *c, const char *cmd, const char *id,
    struct submit_opts *o, struct submit_spec *ss, struct tf_manage_patch *p)
{
	struct tf_task t;
	char errbuf[512];
	int64_t horizon = c->cfg.horizon_ms > 0 ? c->cfg.horizon_ms :
	    TF_ENQUEUE_HORIZON_MS;
	int code = -1;
	enum tf_err rc;

	rc = tf_task_get(c->ctx.aws, c->cfg.table, id, &t, errbuf, sizeof(errbuf));
	if (rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) {
		fprintf(stderr, "%s: no task \"%s\"\n", cmd, id);
		code = EXIT_NOTFOUND;
	} else if (rc != TF_OK) {
		code = cli_aws_error(cmd, "reading the task", rc);
	} else if (submit_patch_schedule(o, &t, NULL, SUBMIT_FLAGS, NULL,
	    tf_now_ms(), horizon, ss, p, errbuf, sizeof(errbuf)) != 0) {
		code = cli_usage_error(cmd, "%s", errbuf);
	}
	tf_task_free(&t);
	return code;
}

/* Reads task id and writes patch p to it, reading again when another writer
 * got in between (TF_MANAGE_TRIES times at most). *r: what was done. Returns
 * the exit code, after a message on stderr when it is not 0. */
static int
write_patch(struct cli *c, const char *cmd, const char *id,
    const struct tf_manage_patch *p, struct tf_manage_result *r)
{
	struct tf_task t;
	char errbuf[512];
	int64_t horizon = c->cfg.horizon_ms > 0 ? c->cfg.horizon_ms :
	    TF_ENQUEUE_HORIZON_MS;
	int tries, code = EXIT_FAILED;
	enum tf_err rc = TF_ERR_CONDITION;

	memset(&t, 0, sizeof(t));
	for (tries = 0; tries < TF_MANAGE_TRIES && rc == TF_ERR_CONDITION;
	    tries++) {
		tf_task_free(&t);
		rc = tf_task_get(c->ctx.aws, c->cfg.table, id, &t, errbuf,
		    sizeof(errbuf));
		if (rc == TF_OK)
			rc = tf_manage_patch(c->ctx.aws, c->cfg.table, &t, p,
			    tf_now_ms(), horizon, r, errbuf, sizeof(errbuf));
	}
	if (rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) {
		fprintf(stderr, "%s: no task \"%s\"\n", cmd, id);
		code = EXIT_NOTFOUND;
	} else if (rc == TF_ERR_PARSE) {
		fprintf(stderr, "%s: the item \"%s\" is not a task: %s\n", cmd, id,
		    errbuf);
	} else if (rc == TF_ERR_INVALID) {
		code = cli_usage_error(cmd, "--%s", errbuf);
	} else if (rc == TF_ERR_CONDITION) {
		fprintf(stderr, "%s: task %s kept changing while it was being "
		    "changed (%d tries); try again\n", cmd, id, TF_MANAGE_TRIES);
	} else if (rc != TF_OK) {
		code = cli_aws_error(cmd, "changing the task", rc);
	} else if (r->verdict == TF_MANAGE_REFUSE) {
		fprintf(stderr, "%s: %s\n", cmd, tf_manage_patch_refusal(id,
		    r->found, errbuf, sizeof(errbuf)));
	} else {
		code = 0;
	}
	tf_task_free(&t);
	return code;
}

int
cmd_edit(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'L' },
		{ "description", required_argument, NULL, 'D' },
		{ "every", required_argument, NULL, 'E' },
		{ "cron", required_argument, NULL, 'C' },
		{ "tz", required_argument, NULL, 'Z' },
		{ "max-runs", required_argument, NULL, 'R' },
		{ "until", required_argument, NULL, 'U' },
		{ "at", required_argument, NULL, 'a' },
		{ "once", no_argument, NULL, 'o' },
		{ "priority", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *id;
	struct tf_manage_patch p = { 0 };
	struct tf_manage_result r;
	struct submit_opts o;
	struct submit_spec ss;
	struct tf_task t;
	cJSON *out = NULL;
	char errbuf[512];
	int ch, code;
	enum tf_err rc;

	submit_opts_init(&o);
	memset(&ss, 0, sizeof(ss));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'E':
			o.every = optarg;
			break;
		case 'C':
			o.cron = optarg;
			break;
		case 'Z':
			o.tz = optarg;
			break;
		case 'R':
			o.max_runs = optarg;
			break;
		case 'U':
			o.until = optarg;
			break;
		case 'a':
			o.at = optarg;
			break;
		case 'o':
			p.clear_schedule = true;
			break;
		case 'L':
			p.name = optarg;
			break;
		case 'D':
			p.description = optarg;
			break;
		case 'P':
			if (!tf_priority_parse(optarg, &p.priority))
				return cli_usage_error(cmd, "--priority: must be %s, got "
				    "\"%.32s\"", TF_PRIORITY_SYNTAX, optarg);
			p.set_priority = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			edit_help();
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((code = cli_take_id(cmd, argc, argv, &id)) >= 0)
		return code;
	if (p.name == NULL && p.description == NULL && !p.clear_schedule &&
	    !p.set_priority && o.every == NULL && o.cron == NULL &&
	    o.tz == NULL && o.max_runs == NULL && o.until == NULL && o.at == NULL)
		return cli_usage_error(cmd, "nothing to change: give --name, "
		    "--description, --priority, --every, --cron, --once or --at");
	if (p.clear_schedule && (o.every != NULL || o.cron != NULL ||
	    o.tz != NULL || o.max_runs != NULL || o.until != NULL))
		return cli_usage_error(cmd, "--once leaves no schedule: it takes no "
		    "--every, --cron, --tz, --max-runs or --until");
	if (o.every == NULL && o.cron == NULL && (o.tz != NULL ||
	    o.max_runs != NULL || o.until != NULL))
		return cli_usage_error(cmd, "%s: the schedule is replaced whole: give "
		    "--every or --cron with it", o.tz != NULL ? "--tz" :
		    o.max_runs != NULL ? "--max-runs" : "--until");
	/* Checked before anything is read or written ("--name: ..."). */
	if (tf_task_labels_check(p.name, p.description, errbuf,
	    sizeof(errbuf)) != TF_OK)
		return cli_usage_error(cmd, "--%s", errbuf);

	if ((code = cli_open(c)) != 0)
		return code;
	/* A PENDING task gets its message again: find the queue first. */
	if ((rc = tf_context_resolve_queue(&c->ctx, &c->cfg)) != TF_OK)
		return cli_aws_error(cmd, "finding the queue (nothing was changed)",
		    rc);
	if ((o.every != NULL || o.cron != NULL || o.at != NULL) &&
	    (code = edit_schedule(c, cmd, id, &o, &ss, &p)) >= 0)
		goto out;
	if ((code = write_patch(c, cmd, id, &p, &r)) != 0)
		goto out;
	if (r.enqueue_at > 0 &&
	    tf_manage_send(c->ctx.aws, c->ctx.queue_url, r.priority, id, r.gen,
	    r.enqueue_at, tf_now_ms(), NULL) != TF_OK)
		/* The write stands; the sweeper sends the message. */
		fprintf(stderr, "%s: task %s was changed, but sending its queue "
		    "message failed; the sweeper will enqueue it\n", cmd, id);
	if (!c->json) {
		printf("changed %s (gen %" PRId64 ")\n", id, r.gen);
		code = 0;
		goto out;
	}
	rc = tf_task_get(c->ctx.aws, c->cfg.table, id, &t, errbuf, sizeof(errbuf));
	if (rc == TF_OK && (rc = tf_task_to_json(&t, &out)) == TF_OK)
		code = cli_print_json(out);
	else
		code = cli_aws_error(cmd, "reading the task back", rc);
	cJSON_Delete(out);
	tf_task_free(&t);
out:
	submit_spec_free(&ss);
	return code;
}
