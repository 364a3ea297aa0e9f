/* cmd_task.c - the commands on one task by id: `get` and `delete`. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "cli.h"
#include "ddb.h"
#include "task.h"
#include "timefmt.h"

static const char get_usage[] = "usage: taskfleet get [--json] ID\n";
static const char delete_usage[] = "usage: taskfleet delete [--json] ID\n";

/* Parses the options of a command that takes one ID and nothing else. Sets
 * *id (borrowed from argv). Returns -1 to go on, or the exit code (0 after
 * --help). */
static int
parse_id_command(struct cli *c, int argc, char **argv, const char *usage,
    const char *help, const char **id)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0];
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			c->json = true;
			break;
		case 'h':
			printf("%s\n%s", usage, help);
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(cmd, "%s (see %s --help)", argc == optind ?
		    "the task ID is missing" : "one task ID only", cmd);
	*id = argv[optind];
	if (!tf_task_id_valid(*id)) {
		if (strlen(*id) > TF_TASK_ID_MAX)
			return cli_usage_error(cmd, "ID: too long (%zu bytes; at most %d)",
			    strlen(*id), TF_TASK_ID_MAX);
		return cli_usage_error(cmd, "ID: must be 1 to %d printable characters "
		    "without spaces", TF_TASK_ID_MAX);
	}
	return -1;
}

/* Writes "2026-11-23T09:00:00.000Z (in 1h2m)" for epoch ms at, relative to
 * now_ms, into buf. */
static const char *
when(int64_t at, int64_t now_ms, char *buf, size_t len)
{
	char iso[TF_TIMEFMT_ISO_SIZE], dur[TF_TIMEFMT_DUR_SIZE];
	int64_t d = at - now_ms;

	tf_timefmt_format(at, iso, sizeof(iso));
	/* Whole seconds are enough to read at a glance. */
	tf_timefmt_format_duration((d < 0 ? -d : d) / 1000 * 1000, dur, sizeof(dur));
	if (d > -1000 && d < 1000)
		snprintf(buf, len, "%s (now)", iso);
	else
		snprintf(buf, len, "%s (%s%s%s)", iso, d > 0 ? "in " : "", dur,
		    d > 0 ? "" : " ago");
	return buf;
}

/* Prints a task for people: one "name  value" line per attribute. */
static void
print_task(const struct tf_task *t)
{
	int64_t now = tf_now_ms(), at, v;
	char buf[128], iso[TF_TIMEFMT_ISO_SIZE];
	const cJSON *e, *m;
	const char *text;
	char *sched;

	printf("id          %s\n", t->id);
	printf("status      %s%s\n", tf_task_status_name(t->status),
	    t->legacy ? " (an item of the original scheduler: no status, no gen)" : "");
	printf("type        %s\n", t->type);
	printf("ns          %s\n", t->ns);
	printf("iteration   %" PRId64 "\n", t->iteration);
	printf("attempts    %" PRId64 "/%" PRId64 "\n", t->attempts, t->max_attempts);
	if (t->next_run > 0)
		printf("next run    %s\n", when(t->next_run, now, buf, sizeof(buf)));
	else
		printf("next run    -\n");
	printf("gen         %" PRId64 "\n", t->gen);
	if (t->lease_owner != NULL)
		printf("lease       %s until %s\n", t->lease_owner,
		    when(t->lease_until, now, buf, sizeof(buf)));
	if (t->enqueued_for > 0)
		printf("enqueued    for %s\n",
		    tf_timefmt_format(t->enqueued_for, iso, sizeof(iso)));
	if (t->created_at > 0)
		printf("created     %s\n", tf_timefmt_format(t->created_at, iso, sizeof(iso)));
	if (t->updated_at > 0)
		printf("updated     %s\n", tf_timefmt_format(t->updated_at, iso, sizeof(iso)));
	if (t->finished_at > 0)
		printf("finished    %s\n", tf_timefmt_format(t->finished_at, iso, sizeof(iso)));
	if (t->schedule != NULL && (sched = cJSON_PrintUnformatted(t->schedule)) != NULL) {
		printf("schedule    %s\n", sched);
		cJSON_free(sched);
	}
	printf("params      %s\n", t->params_json);
	if (t->last_error != NULL)
		printf("last error  %s\n", t->last_error);
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t->errors, "L")) > 0) {
		printf("errors\n");
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t->errors, "L")) {
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
	code = parse_id_command(c, argc, argv, get_usage,
	    "Prints one task: its status, type, namespace, iteration, attempts,\n"
	    "next run, generation, params and errors; with --json the whole task as\n"
	    "one JSON object. Exit: 0 found, 1 failed, 2 bad input, 3 no such task.\n",
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

	code = parse_id_command(c, argc, argv, delete_usage,
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
