/*
 * cmd_edit.c - `taskfleet edit`: changes a task's name and description, the
 * CLI's side of PATCH /v1/tasks/{id} for them (tf_manage_patch(), so it is
 * the same conditional write: PENDING or SUSPENDED tasks only, gen + 1).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "cli.h"
#include "task.h"
#include "task_manage.h"

static const char edit_usage[] =
    "usage: taskfleet edit [--name TEXT] [--description TEXT] [--json] ID\n";

static void
edit_help(void)
{
	printf("%s\n"
	    "Changes the name or description of a PENDING or SUSPENDED task.\n"
	    "\n"
	    "  --name TEXT         the new name: up to %d bytes of UTF-8, no control\n"
	    "                      characters; \"\" removes it\n"
	    "  --description TEXT  the new description: up to %d bytes of UTF-8\n"
	    "                      (tabs and line breaks allowed); \"\" removes it\n"
	    "  --json              print the task as it is afterwards (as get --json)\n"
	    "\n"
	    "The change is written as PATCH /v1/tasks/{id} writes it: conditional\n"
	    "on the state read, with a new generation (a PENDING task's message is\n"
	    "sent again when it is due within the enqueue horizon).\n"
	    "Exit: 0 changed, 1 failed (or the task is in another state), 2 bad\n"
	    "input (nothing written), 3 no such task.\n",
	    edit_usage, TF_TASK_NAME_MAX, TF_TASK_DESCRIPTION_MAX);
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
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *id;
	struct tf_manage_patch p = { 0 };
	struct tf_manage_result r;
	struct tf_task t;
	cJSON *o = NULL;
	char errbuf[512];
	int ch, code;
	enum tf_err rc;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'L':
			p.name = optarg;
			break;
		case 'D':
			p.description = optarg;
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
	if (argc - optind != 1)
		return cli_usage_error(cmd, "%s (see %s --help)", argc == optind ?
		    "the task ID is missing" : "one task ID only", cmd);
	id = argv[optind];
	if (!tf_task_id_valid(id))
		return cli_usage_error(cmd, "ID: must be 1 to %d printable "
		    "characters without spaces", TF_TASK_ID_MAX);
	if (p.name == NULL && p.description == NULL)
		return cli_usage_error(cmd, "nothing to change: give --name or "
		    "--description");
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
	if ((code = write_patch(c, cmd, id, &p, &r)) != 0)
		return code;
	if (r.enqueue_at > 0 &&
	    tf_manage_send(c->ctx.aws, c->ctx.queue_url, id, r.gen, r.enqueue_at,
	    tf_now_ms(), NULL) != TF_OK)
		/* The write stands; the sweeper sends the message. */
		fprintf(stderr, "%s: task %s was changed, but sending its queue "
		    "message failed; the sweeper will enqueue it\n", cmd, id);
	if (!c->json) {
		printf("changed %s (gen %" PRId64 ")\n", id, r.gen);
		return 0;
	}
	rc = tf_task_get(c->ctx.aws, c->cfg.table, id, &t, errbuf, sizeof(errbuf));
	if (rc == TF_OK && (rc = tf_task_to_json(&t, &o)) == TF_OK)
		code = cli_print_json(o);
	else
		code = cli_aws_error(cmd, "reading the task back", rc);
	cJSON_Delete(o);
	tf_task_free(&t);
	return code;
}
