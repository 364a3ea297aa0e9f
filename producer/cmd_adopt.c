/*
 * cmd_adopt.c - `taskfleet adopt`: brings the items of the original
 * serverless scheduler (id, completed, type, params; no status) into the
 * indexes, so that list, due, stats and the sweeper see them. A paged Scan
 * that reads only such items (no `status`), one conditional write each
 * (tf_manage_adopt), a progress line per page on stderr. Running it again
 * finds nothing left to do.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "aws/ddb.h"
#include "base/clock.h"
#include "cli.h"
#include "task/due.h"
#include "task/task.h"
#include "task/task_manage.h"

/* Items the Scan evaluates per page (and so between progress lines). */
#define ADOPT_PAGE 100

static const char adopt_usage[] =
    "usage: taskfleet adopt [--ns NS] [--dry-run] [--json]\n";

static void
adopt_help(void)
{
	printf("%s\n"
	    "Brings the items of the original serverless scheduler (only id,\n"
	    "completed, type and params) into taskfleet's indexes, so that list,\n"
	    "due, stats and the sweeper see them like any task: a pending one\n"
	    "becomes PENDING and due now (the original items carry no due time;\n"
	    "the next sweep sends its message, so a lost one is recovered), a\n"
	    "completed one COMPLETED. Each write is conditional on the item as\n"
	    "read: one a consumer claimed meanwhile is left alone. Reads the whole\n"
	    "table (a Scan), with a progress line per page on stderr; running it\n"
	    "again changes nothing.\n"
	    "\n"
	    "  --ns NS     the namespace of the adopted tasks; default \"default\"\n"
	    "  --dry-run   count what would be adopted; write nothing\n"
	    "  --json      the counts as one JSON object\n"
	    "\n"
	    "Exit: 0 done, 1 failed, 2 bad input.\n", adopt_usage);
}

/* Counts by outcome (enum tf_adopt_outcome) and items read. */
struct adopt_counts {
	long by_outcome[TF_ADOPT_CHANGED + 1];
	long scanned;
};

static void
print_counts(const struct cli *c, const struct adopt_counts *n, bool dry_run)
{
	if (c->json) {
		printf("{\"dry_run\":%s,\"scanned\":%ld,\"pending\":%ld,"
		    "\"completed\":%ld,\"changed_meanwhile\":%ld,\"unreadable\":%ld}\n",
		    dry_run ? "true" : "false", n->scanned,
		    n->by_outcome[TF_ADOPT_PENDING], n->by_outcome[TF_ADOPT_COMPLETED],
		    n->by_outcome[TF_ADOPT_CHANGED], n->by_outcome[TF_ADOPT_UNREADABLE]);
		return;
	}
	printf("%s %ld item(s) of the original scheduler: %ld pending (due now), "
	    "%ld completed; %ld changed meanwhile and left as they were, %ld not "
	    "readable as tasks\n", dry_run ? "would adopt" : "adopted",
	    n->by_outcome[TF_ADOPT_PENDING] + n->by_outcome[TF_ADOPT_COMPLETED],
	    n->by_outcome[TF_ADOPT_PENDING], n->by_outcome[TF_ADOPT_COMPLETED],
	    n->by_outcome[TF_ADOPT_CHANGED], n->by_outcome[TF_ADOPT_UNREADABLE]);
}

int
cmd_adopt(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ns", required_argument, NULL, 'n' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *ns = TF_DEFAULT_NS;
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	struct adopt_counts n;
	enum tf_adopt_outcome outcome;
	cJSON *start = NULL, *page = NULL;
	const cJSON *item;
	bool dry_run = false;
	int ch, code;
	enum tf_err rc;

	memset(&n, 0, sizeof(n));
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			ns = optarg;
			break;
		case 'd':
			dry_run = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			adopt_help();
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (!tf_task_ns_valid(ns))
		return cli_usage_error(cmd, "--ns: must be 1 to %d of A-Z a-z 0-9 _ . -",
		    TF_TASK_NS_MAX);
	if ((code = cli_open(c)) != 0)
		return code;
	code = EXIT_FAILED;
	/* Only the original scheduler's items have no status. */
	e.filter = "attribute_not_exists(#st)";
	if ((rc = tf_ddb_expr_name(&e, "#st", "status")) != TF_OK)
		goto aws_error;
	q.table = c->cfg.table;
	q.expr = &e;
	q.limit = ADOPT_PAGE;
	do {
		rc = tf_ddb_scan_page(c->ctx.aws, &q, &start, &page);
		if (rc != TF_OK)
			goto aws_error;
		cJSON_ArrayForEach(item, page) {
			/* The table's own items (config, sweep leases) are
			 * no tasks of any scheduler. */
			if (tf_due_internal_id(tf_ddb_item_s(item, "id")))
				continue;
			rc = tf_manage_adopt(c->ctx.aws, c->cfg.table, item, ns,
			    tf_now_ms(), dry_run, &outcome);
			if (rc != TF_OK)
				goto aws_error;
			n.by_outcome[outcome]++;
			n.scanned++;
		}
		cJSON_Delete(page);
		page = NULL;
		fprintf(stderr, "%s: %ld item(s) without a status read, %ld %s so far\n",
		    cmd, n.scanned, n.by_outcome[TF_ADOPT_PENDING] +
		    n.by_outcome[TF_ADOPT_COMPLETED], dry_run ? "adoptable" : "adopted");
	} while (start != NULL);
	print_counts(c, &n, dry_run);
	code = 0;
	goto out;
aws_error:
	code = cli_aws_error(cmd, "adopting the original scheduler's items", rc);
out:
	cJSON_Delete(start);
	cJSON_Delete(page);
	tf_ddb_expr_free(&e);
	return code;
}
