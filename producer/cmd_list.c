/*
 * cmd_list.c - `taskfleet list`: one namespace's tasks by schedule, newest
 * first, a page at a time (the by_ns index).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "aws/ddb.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "cli.h"
#include "task/task.h"
#include "time/timefmt.h"

#define LIST_DEFAULT_LIMIT 50

static const char list_usage[] =
    "usage: taskfleet list [--ns NS] [--status S] [--from TIME] [--to TIME]\n"
    "                      [--limit N] [--next TOKEN] [--json]\n";

static void
list_help(void)
{
	printf("%s\n"
	    "Lists a namespace's tasks by their next run, the latest first.\n"
	    "\n"
	    "  --ns NS        the namespace; default \"default\"\n"
	    "  --status S     only tasks in this state: PENDING, PROCESSING,\n"
	    "                 COMPLETED, FAILED or SUSPENDED\n"
	    "  --from TIME    only tasks whose next run is at or after TIME\n"
	    "  --to TIME      only tasks whose next run is at or before TIME\n"
	    "                 TIME: ISO 8601 (2026-11-23T09:00:00Z, 2026-11-23 =\n"
	    "                 midnight UTC; no zone means UTC), or a duration from now:\n"
	    "                 +2h (ahead), -1d (ago)\n"
	    "  --limit N      tasks per page, 1 to %d; default %d\n"
	    "  --next TOKEN   the page after the one that printed TOKEN; give the same\n"
	    "                 --ns, --status, --from and --to again\n"
	    "  --json         one JSON object per task and line\n"
	    "\n"
	    "Prints one line per task: id, status, type, next run, iteration, and\n"
    "the name when a task of the page has one (--json: every field). When\n"
	    "there may be more, the last line is \"next: TOKEN\" ({\"next\": \"TOKEN\"}\n"
	    "with --json).\n"
	    "Exit: 0 listed, 1 failed, 2 bad input.\n",
	    list_usage, TF_TASK_LIST_MAX, LIST_DEFAULT_LIMIT);
}

/* Prints the page for people: a header and one aligned line per task, with
 * a PRIORITY column when a task of the page is not of normal priority and a
 * NAME column last when one has a name. tasks: n parsed tasks (borrowed). */
static void
print_table(const struct tf_task *tasks, size_t n)
{
	char iso[TF_TIMEFMT_ISO_SIZE];
	int idw = 2, typew = 4, w;
	size_t i;
	bool names = false, prios = false;

	for (i = 0; i < n; i++) {
		if ((w = (int)strlen(tasks[i].id)) > idw)
			idw = w;
		if ((w = (int)strlen(tasks[i].type)) > typew)
			typew = w;
		names = names || tasks[i].name != NULL;
		prios = prios || tasks[i].priority != TF_PRIORITY_NORMAL;
	}
	printf("%-*s  %-10s  %-*s  %-24s  %s%s%s\n", idw, "ID", "STATUS", typew,
	    "TYPE", "NEXT RUN", "ITERATION", prios ? "  PRIORITY" : "",
	    names ? "  NAME" : "");
	for (i = 0; i < n; i++) {
		printf("%-*s  %-10s  %-*s  %-24s  %" PRId64, idw, tasks[i].id,
		    tf_task_status_name(tasks[i].status), typew, tasks[i].type,
		    tasks[i].next_run > 0 ?
		    tf_timefmt_format(tasks[i].next_run, iso, sizeof(iso)) : "-",
		    tasks[i].iteration);
		w = 11 - snprintf(NULL, 0, "%" PRId64, tasks[i].iteration);
		if (prios) {
			printf("%*s%s", w, "", tf_priority_name(tasks[i].priority));
			w = 10 - (int)strlen(tf_priority_name(tasks[i].priority));
		}
		if (names)
			printf("%*s%s", w, "", tasks[i].name != NULL ?
			    tasks[i].name : "-");
		printf("\n");
	}
}

int
cmd_list(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ns", required_argument, NULL, 'n' },
		{ "status", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'l' },
		{ "next", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *next = NULL;
	struct tf_task_list_query q = { 0 };
	struct tf_task *tasks = NULL;
	cJSON *cursor = NULL, *items = NULL, *o = NULL;
	const cJSON *it;
	char errbuf[512], *token = NULL;
	size_t n = 0, i;
	long long limit = LIST_DEFAULT_LIMIT;
	int64_t now = tf_now_ms();
	int ch, code = EXIT_USAGE;
	enum tf_err rc;

	q.ns = TF_DEFAULT_NS;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			q.ns = optarg;
			break;
		case 's':
			if (!cli_parse_status(optarg, &q.status))
				return cli_usage_error(cmd, "--status: \"%.32s\" is not one "
				    "of PENDING, PROCESSING, COMPLETED, FAILED, SUSPENDED",
				    optarg);
			q.has_status = true;
			break;
		case 'f':
		case 't':
			if (tf_timefmt_parse(optarg, now, ch == 'f' ? &q.from_ms : &q.to_ms,
			    errbuf, sizeof(errbuf)) != TF_OK)
				return cli_usage_error(cmd, "--%s: %s", ch == 'f' ? "from" :
				    "to", errbuf);
			if (ch == 'f')
				q.has_from = true;
			else
				q.has_to = true;
			break;
		case 'l':
			if (!cli_parse_int(optarg, 1, TF_TASK_LIST_MAX, &limit))
				return cli_usage_error(cmd, "--limit: expected a number from 1 "
				    "to %d, got \"%.32s\"", TF_TASK_LIST_MAX, optarg);
			break;
		case 'N':
			next = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			list_help();
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (!tf_task_ns_valid(q.ns))
		return cli_usage_error(cmd, "--ns: must be 1 to %d of A-Z a-z 0-9 _ . -",
		    TF_TASK_NS_MAX);
	if (q.has_from && q.has_to && q.from_ms > q.to_ms)
		return cli_usage_error(cmd, "--from is after --to");
	q.limit = (int)limit;
	if (next != NULL && tf_task_list_token_decode(next, q.ns, &cursor, errbuf,
	    sizeof(errbuf)) != TF_OK)
		return cli_usage_error(cmd, "--next: %s", errbuf);

	if ((code = cli_open(c)) != 0)
		goto out;
	rc = tf_task_list_page(c->ctx.aws, c->cfg.table, &q, &cursor, &items);
	if (rc != TF_OK) {
		code = cli_aws_error(cmd, "listing the tasks", rc);
		goto out;
	}
	code = EXIT_FAILED;
	tasks = tf_calloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(*tasks));
	if (tasks == NULL) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		goto out;
	}
	cJSON_ArrayForEach(it, items) {
		rc = tf_task_from_item(it, &tasks[n], errbuf, sizeof(errbuf));
		if (rc != TF_OK) {
			/* One odd item does not hide the others. */
			fprintf(stderr, "%s: skipping item \"%s\", not a task: %s\n", cmd,
			    tf_ddb_item_s(it, "id") ? tf_ddb_item_s(it, "id") : "?",
			    errbuf);
			tf_task_free(&tasks[n]);
			continue;
		}
		n++;
	}
	if (cursor != NULL &&
	    tf_task_list_token_encode(cursor, &token) != TF_OK) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		goto out;
	}
	if (c->json) {
		for (i = 0; i < n; i++) {
			if (tf_task_to_json(&tasks[i], &o) != TF_OK ||
			    cli_print_json(o) != 0) {
				fprintf(stderr, "%s: out of memory\n", cmd);
				goto out;
			}
			cJSON_Delete(o);
			o = NULL;
		}
		if (token != NULL)
			printf("{\"next\":\"%s\"}\n", token);
	} else {
		if (n > 0)
			print_table(tasks, n);
		else if (token == NULL)
			fprintf(stderr, "%s: no tasks\n", cmd);
		if (token != NULL)
			printf("next: %s\n", token);
	}
	code = 0;
out:
	for (i = 0; i < n; i++)
		tf_task_free(&tasks[i]);
	tf_free(tasks);
	tf_free(token);
	cJSON_Delete(o);
	cJSON_Delete(items);
	cJSON_Delete(cursor);
	return code;
}
