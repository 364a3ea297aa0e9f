/* cmd_task.c - the commands on one task by id: `get` and `delete`. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "aws/ddb.h"
#include "base/clock.h"
#include "cli.h"
#include "task/task.h"
#include "task/task_manage.h"
#include "time/timefmt.h"

static const char get_usage[] = "usage: taskfleet get [--json] ID\n";
static const char delete_usage[] = "usage: taskfleet delete [--json] ID\n";

/* Prints a task for people: one "name  value" line per attribute. */
static void
print_task(const struct tf_task *t)
{
	int64_t now = tf_now_ms(), at, v;
	char buf[128], iso[TF_TIMEFMT_ISO_SIZE], sched[512];
	const cJSON *e, *m;
	cJSON *errors;          /* owned: t->errors_av parsed */
	const char *text;

	printf("id          %s\n", t->id);
	printf("status      %s%s\n", tf_task_status_name(t->status),
	    t->legacy ? " (an item of the original scheduler: no status, no gen)" : "");
	if (t->suspend_requested)
		printf("suspend     requested: it is suspended when the current run "
		    "ends\n");
	if (t->name != NULL)
		printf("name        %s\n", t->name);
	if (t->description != NULL) {
		/* Its further lines indented under the first. */
		printf("description ");
		for (text = t->description; *text != '\0'; text++) {
			if (*text == '\n')
				fputs("\n            ", stdout);
			else
				putchar(*text);
		}
		putchar('\n');
	}
	printf("type        %s\n", t->type);
	printf("ns          %s\n", t->ns);
	if (t->flow_key != NULL)
		printf("flow key    %s\n", t->flow_key);
	printf("priority    %s\n", tf_priority_name(t->priority));
	printf("iteration   %" PRId64 "\n", t->iteration);
	printf("attempts    %" PRId64 "/%" PRId64 "\n", t->attempts, t->max_attempts);
	if (t->next_run > 0)
		printf("next run    %s\n", cli_when(t->next_run, now, buf, sizeof(buf)));
	else
		printf("next run    -\n");
	printf("gen         %" PRId64 "\n", t->gen);
	if (t->lease_owner != NULL)
		printf("lease       %s until %s\n", t->lease_owner,
		    cli_when(t->lease_until, now, buf, sizeof(buf)));
	if (t->enqueued_for > 0)
		printf("enqueued    for %s\n",
		    tf_timefmt_format(t->enqueued_for, iso, sizeof(iso)));
	if (t->created_at > 0)
		printf("created     %s\n", tf_timefmt_format(t->created_at, iso, sizeof(iso)));
	if (t->updated_at > 0)
		printf("updated     %s\n", tf_timefmt_format(t->updated_at, iso, sizeof(iso)));
	if (t->finished_at > 0)
		printf("finished    %s\n", tf_timefmt_format(t->finished_at, iso, sizeof(iso)));
	if (t->schedule != NULL)
		printf("schedule    %s\n", tf_manage_schedule_describe(t->schedule,
		    sched, sizeof(sched)));
	printf("params      %s\n", t->params_json);
	if (t->result_json != NULL)
		printf("result      %s\n", t->result_json);
	if (t->last_error != NULL)
		printf("last error  %s\n", t->last_error);
	if (t->limited_by != NULL)
		printf("limited     %" PRId64 " ms before its last run, longest by "
		    "%s\n", t->limited_ms, t->limited_by);
	errors = t->errors_av != NULL ? cJSON_Parse(t->errors_av) : NULL;
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(errors, "L")) > 0) {
		printf("errors\n");
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(errors, "L")) {
			m = cJSON_GetObjectItemCaseSensitive(e, "M");
			text = tf_ddb_item_s(m, "error");
			printf("  %s", tf_ddb_item_n(m, "at", &at) ?
			    tf_timefmt_format(at, iso, sizeof(iso)) : "-");
			if (tf_ddb_item_n(m, "iteration", &v))
				printf("  iteration %" PRId64, v);
			if (tf_ddb_item_n(m, "attempt", &v))
				printf(", attempt %" PRId64, v);
			printf(": %s\n", text ? text : "(no text)");
		}
	}
	cJSON_Delete(errors);
}

int
cmd_get(struct cli *c, int argc, char **argv)
{
	const char *cmd = argv[0], *id = NULL;
	struct tf_task t;
	cJSON *o = NULL;
	char errbuf[256];
	enum tf_err rc;
	int code;

	memset(&t, 0, sizeof(t));
	code = cli_parse_id_command(c, argc, argv, get_usage,
	    "Prints one task: its status, name and description (when it has them),\n"
	    "type, namespace, iteration, attempts, next run, generation, params and\n"
	    "errors; with --json the whole task as one JSON object.\n"
	    "Exit: 0 found, 1 failed, 2 bad input, 3 no such task.\n",
	    &id);
	if (code >= 0)
		return code;
	if ((code = cli_open(c)) != 0)
		return code;
	rc = tf_task_get(c->ctx.aws, c->cfg.table, id, &t, errbuf, sizeof(errbuf));
	if (rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) {
		fprintf(stderr, "%s: no task \"%s\"\n", cmd, id);
		code = EXIT_NOTFOUND;
		goto out;
	}
	if (rc == TF_ERR_PARSE) {
		fprintf(stderr, "%s: the item \"%s\" is not a task: %s\n", cmd, id, errbuf);
		code = EXIT_FAILED;
		goto out;
	}
	if (rc != TF_OK) {
		code = cli_aws_error(cmd, "reading the task", rc);
		goto out;
	}
	if (c->json) {
		rc = tf_task_to_json(&t, &o);
		/* Only while it is set, as in the item. */
		if (rc == TF_OK && t.suspend_requested &&
		    cJSON_GetObjectItemCaseSensitive(o, "suspend_requested") == NULL &&
		    cJSON_AddTrueToObject(o, "suspend_requested") == NULL)
			rc = TF_ERR_NOMEM;
		if (rc != TF_OK) {
			fprintf(stderr, "%s: %s\n", cmd, tf_strerror(rc));
			code = EXIT_FAILED;
			goto out;
		}
		code = cli_print_json(o);
	} else {
		print_task(&t);
		code = 0;
	}
out:
	cJSON_Delete(o);
	tf_task_free(&t);
	return code;
}

int
cmd_delete(struct cli *c, int argc, char **argv)
{
	const char *cmd = argv[0], *id = NULL;
	cJSON *o = NULL;
	enum tf_err rc;
	int code;

	code = cli_parse_id_command(c, argc, argv, delete_usage,
	    "Deletes one task, whatever its state (a consumer running it loses its\n"
	    "lease and writes nothing back; a queued message for it is dropped when\n"
	    "it arrives). Prints \"deleted ID\".\n"
	    "Exit: 0 deleted, 1 failed, 2 bad input, 3 no such task.\n", &id);
	if (code >= 0)
		return code;
	if ((code = cli_open(c)) != 0)
		return code;
	rc = tf_task_delete(c->ctx.aws, c->cfg.table, id);
	if (rc == TF_ERR_NOT_FOUND && !cli_resource_missing()) {
		fprintf(stderr, "%s: no task \"%s\"\n", cmd, id);
		return EXIT_NOTFOUND;
	}
	if (rc != TF_OK)
		return cli_aws_error(cmd, "deleting the task", rc);
	if (!c->json) {
		printf("deleted %s\n", id);
		return 0;
	}
	o = cJSON_CreateObject();
	if (o == NULL || cJSON_AddStringToObject(o, "id", id) == NULL ||
	    cJSON_AddTrueToObject(o, "deleted") == NULL)
		code = EXIT_FAILED;
	else
		code = cli_print_json(o);
	cJSON_Delete(o);
	return code;
}
