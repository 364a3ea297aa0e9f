/*
 * taskfleet - the producer CLI (docs/design.md section 11).
 *
 * taskfleet [global options] COMMAND [options]
 *
 * Exit codes: 0 success, 1 the operation failed (AWS error, condition failed),
 * 2 usage or bad input, 3 not found.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/schema.h"
#include "base/alloc.h"
#include "base/config.h"
#include "base/log.h"
#include "base/version.h"
#include "cli.h"
#include "task/due.h"
#include "task/priority.h"

static void
usage(FILE *to)
{
	fprintf(to,
	    "usage: taskfleet [--table NAME] [--queue NAME|URL] [--region REGION]\n"
	    "                 [--endpoint-url URL] [--json] COMMAND [options]\n"
	    "\n"
	    "commands:\n"
	    "  init      create the table, its indexes, the queue and its dead-letter queue\n"
	    "  submit    create a task\n"
	    "  http      create a task for the http runner (a webhook)\n"
	    "  sqs       create a task that sends an SQS message (docs/targets.md)\n"
	    "  sns       create a task that publishes to an SNS topic\n"
	    "  lambda    create a task that invokes a Lambda function\n"
	    "  events    create a task that puts an event on an EventBridge bus\n"
	    "  sfn       create a task that starts a Step Functions execution\n"
	    "  get       show one task\n"
	    "  list      list a namespace's tasks, latest schedule first\n"
	    "  suspend   stop a task from running until it is resumed\n"
	    "  resume    let a suspended task (or a paused namespace) run again\n"
	    "  pause     pause a whole namespace, or list the paused ones\n"
	    "  limit     limits per key (rate, in flight), fleet-wide: list, set, rm\n"
	    "  run-now   make a pending task due now\n"
	    "  retry     run a FAILED task again, with fresh attempts\n"
	    "  edit      change a task's name or description\n"
	    "  delete    delete a task\n"
	    "  clear     delete every task of a namespace\n"
	    "  due       list the tasks that are due now (a dry run)\n"
	    "  stats     count tasks by status; the queue's depth\n"
	    "  adopt     bring the original scheduler's items into the indexes\n"
	    "  dlq       the dead-letter queue: list its messages, redrive them\n"
	    "  serve     the admin REST API (JSON under /v1)\n"
	    "\n"
	    "  taskfleet COMMAND --help     the options of a command\n"
	    "  taskfleet --version | --help\n"
	    "\n"
	    "Exit: 0 success, 1 the operation failed, 2 usage or bad input, 3 not found.\n");
}

/* The text report of init: one line per thing, saying what changed. */
static void
print_init_changes(const char *table, const struct tf_schema_changes *ch,
    const char *queue_url, const char *dlq_url)
{
	int i;

	printf("table %s %s\n", table, ch->table_created ? "created" : "exists");
	for (i = 0; i < ch->n_indexes_added; i++)
		printf("table %s: index %s added\n", table, ch->indexes_added[i]);
	printf("table %s: TTL on the attribute %s %s\n", table,
	    TF_SCHEMA_TTL_ATTRIBUTE, ch->ttl_enabled ? "enabled" : "was on");
	printf("queue %s\ndead-letter queue %s\n", queue_url, dlq_url);
	printf("queue %s%s (priority high)\nqueue %s%s (priority low)\n",
	    queue_url, tf_priority_suffix(TF_PRIORITY_HIGH), queue_url,
	    tf_priority_suffix(TF_PRIORITY_LOW));
}

static int
cmd_init(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "visibility-timeout", required_argument, NULL, 'v' },
		{ "max-receive-count", required_argument, NULL, 'm' },
		{ "shards", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tf_schema_opts o = { 0 };
	struct tf_schema_changes ch;
	char *queue_url = NULL, *dlq_url = NULL, *end, step[400];
	int opt, code = EXIT_FAILED, shards = 0;
	enum tf_err rc;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			o.visibility_timeout_s = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o.visibility_timeout_s < 1 ||
			    o.visibility_timeout_s > 43200) {
				fprintf(stderr, "taskfleet: --visibility-timeout: "
				    "expected seconds from 1 to 43200\n");
				return EXIT_USAGE;
			}
			break;
		case 'm':
			o.max_receive_count = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o.max_receive_count < 1 ||
			    o.max_receive_count > 1000) {
				fprintf(stderr, "taskfleet: --max-receive-count: "
				    "expected a number from 1 to 1000\n");
				return EXIT_USAGE;
			}
			break;
		case 's':
			shards = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || shards < 1 ||
			    shards > TF_DUE_SHARDS_MAX) {
				fprintf(stderr, "taskfleet: --shards: expected a "
				    "number from 1 to %d\n", TF_DUE_SHARDS_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf("usage: taskfleet init [--visibility-timeout S] "
			    "[--max-receive-count N] [--shards N]\n\n"
			    "Creates the table with its indexes, the queue and its "
			    "dead-letter queue\nwith a redrive policy, or brings existing "
			    "ones to these settings: a table\nwithout the indexes (as the "
			    "original scheduler's Terraform makes it) gets\nthem, one at a "
			    "time, and init waits until DynamoDB has built each; TTL is\n"
			    "turned on for the attribute ttl. Says what it changed.\n\n"
			    "  --shards N   partitions of the due index (default 16, "
			    "at most %d):\n"
			    "               written into the table, read by every "
			    "consumer and writer;\n"
			    "               it can be raised on a live table, never "
			    "lowered\n", TF_DUE_SHARDS_MAX);
			return 0;
		default:
			return cli_bad_option("taskfleet init", opt, argv);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "taskfleet: init: unexpected argument \"%s\"\n",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if ((code = cli_open(c)) != 0)
		return code;
	code = EXIT_FAILED;
	o.table = c->cfg.table;
	o.queue_name = c->cfg.queue_name;
	o.progress = c->json ? NULL : stderr;
	rc = tf_schema_create_table(c->ctx.aws, &o, &ch, step, sizeof(step));
	if (rc == TF_ERR_INVALID) {
		fprintf(stderr, "%s: %s\n", argv[0], step);
		return EXIT_FAILED;
	}
	if (rc != TF_OK)
		return cli_aws_error(argv[0], step, rc);
	rc = tf_due_write_shards(c->ctx.aws, o.table, shards, &shards);
	if (rc == TF_ERR_INVALID) {
		int have = 0;

		(void)tf_due_read_shards(c->ctx.aws, o.table, &have);
		fprintf(stderr, "%s: --shards: the table has %d due shards; the "
		    "count can only be raised (tasks in the shards above a lower "
		    "count would no longer be swept)\n", argv[0], have);
		return EXIT_FAILED;
	}
	if (rc != TF_OK)
		return cli_aws_error(argv[0], "writing the table's config item", rc);
	rc = tf_schema_create_queues(c->ctx.aws, &o, &queue_url, &dlq_url);
	if (rc != TF_OK && tf_schema_queue_deleted_recently()) {
		fprintf(stderr, "%s: creating the queues: SQS refuses to create a "
		    "queue for 60 s after a queue of the same name was deleted "
		    "(QueueDeletedRecently); run taskfleet init again after that\n",
		    argv[0]);
		goto out;
	}
	if (rc != TF_OK) {
		code = cli_aws_error(argv[0], "creating the queues", rc);
		goto out;
	}
	if (c->json) {
		cJSON *out = cJSON_CreateObject(), *added;
		char *text;
		int i;

		cJSON_AddStringToObject(out, "table", o.table);
		cJSON_AddBoolToObject(out, "table_created", ch.table_created);
		added = cJSON_AddArrayToObject(out, "indexes_added");
		for (i = 0; i < ch.n_indexes_added; i++)
			cJSON_AddItemToArray(added, cJSON_CreateString(ch.indexes_added[i]));
		cJSON_AddBoolToObject(out, "ttl_enabled", ch.ttl_enabled);
		cJSON_AddNumberToObject(out, "shards", shards);
		cJSON_AddStringToObject(out, "queue_url", queue_url);
		cJSON_AddStringToObject(out, "dlq_url", dlq_url);
		for (i = 0; i < TF_PRIORITY__N; i++) {
			char *u = tf_priority_queue_url(queue_url, (enum tf_priority)i);

			if (i != TF_PRIORITY_NORMAL && u != NULL) {
				snprintf(step, sizeof(step), "%s_queue_url",
				    tf_priority_name((enum tf_priority)i));
				cJSON_AddStringToObject(out, step, u);
			}
			tf_free(u);
		}
		text = cJSON_PrintUnformatted(out);
		if (text != NULL)
			printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(out);
	} else {
		print_init_changes(o.table, &ch, queue_url, dlq_url);
		printf("table %s: %d due shards\n", o.table, shards);
	}
	code = 0;
out:
	tf_free(queue_url);
	tf_free(dlq_url);
	return code;
}

struct command {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
};

static const struct command commands[] = {
	{ "init", cmd_init },
	{ "submit", cmd_submit },
	{ "http", cmd_http },
	{ "sqs", cmd_target },
	{ "sns", cmd_target },
	{ "lambda", cmd_target },
	{ "events", cmd_target },
	{ "sfn", cmd_target },
	{ "get", cmd_get },
	{ "list", cmd_list },
	{ "suspend", cmd_suspend },
	{ "resume", cmd_resume },
	{ "pause", cmd_pause },
	{ "limit", cmd_limit },
	{ "run-now", cmd_run_now },
	{ "retry", cmd_retry },
	{ "edit", cmd_edit },
	{ "delete", cmd_delete },
	{ "clear", cmd_clear },
	{ "due", cmd_due },
	{ "stats", cmd_stats },
	{ "adopt", cmd_adopt },
	{ "dlq", cmd_dlq },
	{ "serve", cmd_serve },
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "table", required_argument, NULL, 't' },
		{ "queue", required_argument, NULL, 'q' },
		{ "region", required_argument, NULL, 'r' },
		{ "endpoint-url", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static char progname[64];  /* argv[0] of the command: "taskfleet submit" */
	struct cli c;
	const struct command *cmd = NULL;
	char errbuf[256];
	enum tf_err rc;
	size_t i;
	int ch, code = EXIT_USAGE;

	memset(&c, 0, sizeof(c));
	tf_alloc_init();
	tf_log_init();
	/* A command line tool reports in its own words; the library's info
	 * lines (which credentials it found) only with TASKFLEET_LOG=info. */
	if (getenv("TASKFLEET_LOG") == NULL)
		tf_log_set_level(TF_LOG_WARN);
	rc = tf_config_load(&c.cfg, errbuf, sizeof(errbuf));
	if (rc != TF_OK) {
		fprintf(stderr, "taskfleet: %s\n", rc == TF_ERR_INVALID ? errbuf :
		    tf_strerror(rc));
		goto out;
	}
	/* Global options stop at the command name. */
	/* Bad options get one line of our own (docs/design.md section 11). */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			rc = tf_config_set(&c.cfg.table, optarg);
			break;
		case 'q':
			/* A URL is used as it is; a name is resolved with GetQueueUrl. */
			if (strstr(optarg, "://") != NULL)
				rc = tf_config_set(&c.cfg.queue_url, optarg);
			else
				rc = tf_config_set(&c.cfg.queue_name, optarg);
			break;
		case 'r':
			rc = tf_config_set(&c.cfg.region, optarg);
			break;
		case 'e':
			rc = tf_config_set(&c.cfg.endpoint[TF_AWS_SQS], optarg);
			if (rc == TF_OK)
				rc = tf_config_set(&c.cfg.endpoint[TF_AWS_DYNAMODB], optarg);
			break;
		case 'j':
			c.json = true;
			break;
		case 'h':
			usage(stdout);
			code = 0;
			goto out;
		case 'V':
			printf("taskfleet %s\n", TF_VERSION);
			code = 0;
			goto out;
		default:
			code = cli_bad_option("taskfleet", ch, argv);
			goto out;
		}
		if (rc != TF_OK) {
			fprintf(stderr, "taskfleet: %s\n", tf_strerror(rc));
			code = EXIT_FAILED;
			goto out;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		goto out;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		fprintf(stderr, "taskfleet: unknown command \"%s\" (see taskfleet "
		    "--help)\n", argv[optind]);
		goto out;
	}
	/* The command opens the AWS client (cli_open) once its arguments are
	 * good: --help and bad input never reach AWS. */
	snprintf(progname, sizeof(progname), "taskfleet %s", cmd->name);
	argv[optind] = progname;
	code = cmd->run(&c, argc - optind, argv + optind);
out:
	if (c.opened)
		tf_context_free(&c.ctx);
	tf_config_free(&c.cfg);
	return code;
}
