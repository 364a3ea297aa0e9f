/*
 * cmd_targets.c - `taskfleet sqs|sns|lambda|events|sfn`: creates a task for
 * one of the AWS target runners (docs/targets.md), as `taskfleet http` does
 * for webhooks.
 *
 * Each command's options map one to one onto the target's params
 * (lib/target/target.h); the params are checked with tf_target_parse(), the
 * function the runner checks them with before each run, then pass the same
 * DynamoDB check as `submit --params`. A refusal names the option that set
 * the field ("params.queue: ..." is printed as "--queue: ...") and writes
 * nothing. Scheduling and the write are submit's (submit_option(),
 * submit_create()).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/marshal.h"
#include "base/alloc.h"
#include "cli.h"
#include "target/target.h"

/* How an option's value becomes its param. */
enum value_kind {
	V_STRING,     /* as given */
	V_TEXT,       /* a string, or @FILE (@- standard input) */
	V_JSON,       /* any JSON value, or @FILE */
	V_INT,        /* a whole number from 0 to 900 */
	V_ATTRIBUTE,  /* NAME=VALUE into the object param; repeatable */
	V_LIST,       /* appended to the array param; repeatable */
	V_FLAG        /* no argument: the param set to `flag` */
};

struct target_option {
	const char *name;     /* the long option */
	const char *param;    /* the params field it sets */
	enum value_kind kind;
	const char *flag;     /* V_FLAG: the value set */
	const char *help;     /* its help text (after the option) */
};

/* One command: its name, its runner kind and its options (NULL ends). */
struct target_command {
	const char *name;
	enum tf_target_kind kind;
	const char *summary;
	const struct target_option options[12];
};

#define REGION_OPTION { "region", "region", V_STRING, NULL, \
	"REGION: the AWS region to call; default the ARN's, else the consumer's" }, \
	{ "role-arn", "role_arn", V_STRING, NULL, \
	"ARN: an IAM role to assume for the call (cross-account)" }, \
	{ "external-id", "external_id", V_STRING, NULL, \
	"ID: the ExternalId of --role-arn's AssumeRole" }

static const struct target_command commands[] = {
	{ "sqs", TF_TARGET_SQS, "sends an SQS message", {
		{ "queue", "queue", V_STRING, NULL, "URL|NAME: the queue (required)" },
		{ "body", "body", V_TEXT, NULL, "TEXT|@FILE: the message body" },
		{ "json-body", "body", V_JSON, NULL, "JSON|@FILE: the body as JSON" },
		{ "delay", "delay_seconds", V_INT, NULL, "SECONDS: 0 to 900 (not FIFO)" },
		{ "attribute", "attributes", V_ATTRIBUTE, NULL,
		  "NAME=VALUE: a message attribute (repeat, at most 10)" },
		{ "group-id", "message_group_id", V_STRING, NULL,
		  "ID: MessageGroupId; FIFO default the task id" },
		{ "dedup-id", "message_deduplication_id", V_STRING, NULL,
		  "ID: FIFO MessageDeduplicationId; default TASKID-ITERATION" },
		REGION_OPTION,
		{ NULL, NULL, V_STRING, NULL, NULL } } },
	{ "sns", TF_TARGET_SNS, "publishes to an SNS topic", {
		{ "topic-arn", "topic_arn", V_STRING, NULL, "ARN: the topic (required)" },
		{ "message", "message", V_TEXT, NULL, "TEXT|@FILE: the message" },
		{ "json-message", "message", V_JSON, NULL, "JSON|@FILE: the message as JSON" },
		{ "subject", "subject", V_STRING, NULL, "TEXT: the subject (email)" },
		{ "attribute", "attributes", V_ATTRIBUTE, NULL,
		  "NAME=VALUE: a message attribute (repeat, at most 10)" },
		{ "group-id", "message_group_id", V_STRING, NULL,
		  "ID: FIFO MessageGroupId; default the task id" },
		{ "dedup-id", "message_deduplication_id", V_STRING, NULL,
		  "ID: FIFO MessageDeduplicationId; default TASKID-ITERATION" },
		REGION_OPTION,
		{ NULL, NULL, V_STRING, NULL, NULL } } },
	{ "lambda", TF_TARGET_LAMBDA, "invokes a Lambda function", {
		{ "function", "function", V_STRING, NULL,
		  "NAME|ARN: the function (required)" },
		{ "qualifier", "qualifier", V_STRING, NULL, "VERSION|ALIAS: the version or alias to invoke" },
		{ "payload", "payload", V_JSON, NULL, "JSON|@FILE: the event; default {}" },
		{ "async", "invocation_type", V_FLAG, "Event",
		  ": invoke asynchronously (Event); default RequestResponse" },
		{ "retry-handled", "handled_error", V_FLAG, "retry",
		  ": retry a run whose function reports an error; default fail" },
		REGION_OPTION,
		{ NULL, NULL, V_STRING, NULL, NULL } } },
	{ "events", TF_TARGET_EVENTBRIDGE, "puts an event on an EventBridge bus", {
		{ "bus", "event_bus", V_STRING, NULL, "NAME|ARN: default the default bus" },
		{ "source", "source", V_STRING, NULL, "TEXT: the event's source (required)" },
		{ "detail-type", "detail_type", V_STRING, NULL,
		  "TEXT: the event's detail-type (required)" },
		{ "detail", "detail", V_JSON, NULL, "JSON|@FILE: an object; default {}" },
		{ "resource", "resources", V_LIST, NULL, "ARN: a resource (repeat)" },
		REGION_OPTION,
		{ NULL, NULL, V_STRING, NULL, NULL } } },
	{ "sfn", TF_TARGET_SFN, "starts a Step Functions execution", {
		{ "state-machine-arn", "state_machine_arn", V_STRING, NULL,
		  "ARN: the state machine (required)" },
		{ "input", "input", V_JSON, NULL, "JSON|@FILE: the input; default {}" },
		REGION_OPTION,
		{ NULL, NULL, V_STRING, NULL, NULL } } },
};

/* The first option value after the submit options' and 'h', 't', 'p'. */
#define OPT_BASE 1000

static void
target_help(const struct target_command *tc)
{
	const struct target_option *o;
	const char *colon;
	char left[64];

	printf("usage: taskfleet %s [options] [--at TIME] [--every DUR | --cron EXPR] ...\n\n"
	    "Creates a task for the %s runner, which %s when the task is due\n"
	    "(docs/targets.md), and prints its id. Text and JSON values may hold\n"
	    "<taskfleet.task-id>, <taskfleet.namespace>, <taskfleet.iteration>,\n"
	    "<taskfleet.attempt>, <taskfleet.scheduled-time> and\n"
	    "<taskfleet.scheduled-time-ms>, filled in at each run.\n\n",
	    tc->name, tf_target_name(tc->kind), tc->summary);
	/* A help text is "ARG: what it does"; a flag's starts with ": ". */
	for (o = tc->options; o->name != NULL; o++) {
		if ((colon = strstr(o->help, ": ")) == NULL)
			colon = o->help + strlen(o->help) - 2;
		snprintf(left, sizeof(left), "--%s%s%.*s", o->name,
		    colon != o->help ? " " : "", (int)(colon - o->help), o->help);
		printf("  %-28s%s\n", left, colon + 2);
	}
	submit_options_help();
	printf("\nThe params are checked as the runner checks them before each run;\n"
	    "`taskfleet get ID` shows them.\n"
	    "Exit: 0 created or already there, 1 failed, 2 bad input (nothing written).\n");
}

/* A message of tf_target_parse() as a usage error naming the option that
 * set the field, control characters as '?'. Returns EXIT_USAGE. */
static int
params_error(const char *cmd, const struct target_command *tc,
    const bool *given, const char *msg)
{
	const struct target_option *o;
	char line[1024], *p;
	const char *rest;
	size_t n;

	snprintf(line, sizeof(line), "%s", msg);
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (strncmp(line, "params.", 7) != 0)
		return cli_usage_error(cmd, "%s", line);
	rest = line + 7;
	for (o = tc->options; o->name != NULL; o++) {
		n = strlen(o->param);
		if (strncmp(rest, o->param, n) != 0 || (rest[n] != ':' &&
		    rest[n] != '.' && rest[n] != ' ') || !given[o - tc->options])
			continue;
		return cli_usage_error(cmd, "--%s%s", o->name, rest + n);
	}
	/* A required field nobody gave: name its option too. */
	for (o = tc->options; o->name != NULL; o++) {
		n = strlen(o->param);
		if (strncmp(rest, o->param, n) == 0 && rest[n] == ' ')
			return cli_usage_error(cmd, "--%s%s", o->name, rest + n);
	}
	return cli_usage_error(cmd, "%s", line);
}

/* Adds option o's value arg to params. Returns 0, EXIT_USAGE after a
 * message, or EXIT_FAILED when out of memory. */
static int
add_value(const char *cmd, const struct target_option *o, const char *arg,
    cJSON *params)
{
	char errbuf[512], *text = NULL, *json = NULL;
	cJSON *av = NULL, *v = NULL, *holder;
	const char *eq;
	long long n;
	size_t len;
	enum tf_err rc;
	int code = EXIT_USAGE;

	if (o->kind != V_ATTRIBUTE && o->kind != V_LIST &&
	    cJSON_GetObjectItemCaseSensitive(params, o->param) != NULL) {
		cli_usage_error(cmd, "--%s: given twice (or with another option "
		    "that sets params.%s)", o->name, o->param);
		goto out;
	}
	switch (o->kind) {
	case V_STRING:
		v = cJSON_CreateString(arg);
		break;
	case V_FLAG:
		v = cJSON_CreateString(o->flag);
		break;
	case V_INT:
		if (!cli_parse_int(arg, 0, 900, &n)) {
			cli_usage_error(cmd, "--%s: expected a number from 0 to 900, "
			    "got \"%.40s\"", o->name, arg);
			goto out;
		}
		v = cJSON_CreateNumber((double)n);
		break;
	case V_TEXT:
	case V_JSON:
		rc = cli_read_arg(arg, &text, &len, errbuf, sizeof(errbuf));
		if (rc == TF_OK && o->kind == V_TEXT && strlen(text) != len) {
			rc = TF_ERR_INVALID;
			snprintf(errbuf, sizeof(errbuf), "holds a NUL byte");
		}
		/* The strict parser of `submit --params`, numbers kept as
		 * written. */
		if (rc == TF_OK && o->kind == V_JSON &&
		    (rc = tf_marshal_value_json_text(text, len, &av, errbuf,
		    sizeof(errbuf))) == TF_OK)
			rc = tf_unmarshal_value_to_json_text(av, &json, errbuf,
			    sizeof(errbuf));
		if (rc != TF_OK) {
			code = rc == TF_ERR_NOMEM ? EXIT_FAILED : EXIT_USAGE;
			cli_usage_error(cmd, "--%s: %s", o->name, rc == TF_ERR_NOMEM ?
			    "out of memory" : errbuf);
			goto out;
		}
		v = o->kind == V_TEXT ? cJSON_CreateString(text) : cJSON_Parse(json);
		break;
	case V_ATTRIBUTE:
	case V_LIST:
		holder = cJSON_GetObjectItemCaseSensitive(params, o->param);
		if (holder == NULL && (holder = o->kind == V_LIST ?
		    cJSON_AddArrayToObject(params, o->param) :
		    cJSON_AddObjectToObject(params, o->param)) == NULL)
			break;
		if (o->kind == V_LIST) {
			code = cJSON_AddItemToArray(holder, cJSON_CreateString(arg)) ?
			    0 : EXIT_FAILED;
			goto out;
		}
		if ((eq = strchr(arg, '=')) == NULL || eq == arg) {
			cli_usage_error(cmd, "--%s: expected NAME=VALUE, got \"%.60s\"",
			    o->name, arg);
			goto out;
		}
		if ((text = tf_strndup(arg, (size_t)(eq - arg))) == NULL)
			break;
		if (cJSON_GetObjectItemCaseSensitive(holder, text) != NULL) {
			cli_usage_error(cmd, "--%s: %s given twice", o->name, text);
			goto out;
		}
		code = cJSON_AddStringToObject(holder, text, eq + 1) != NULL ? 0 :
		    EXIT_FAILED;
		goto out;
	}
	code = v != NULL && cJSON_AddItemToObject(params, o->param, v) ? 0 :
	    EXIT_FAILED;
	if (code != 0)
		cJSON_Delete(v);
out:
	if (code == EXIT_FAILED)
		fprintf(stderr, "%s: out of memory\n", cmd);
	cJSON_Delete(av);
	tf_free(json);
	tf_free(text);
	return code;
}

/* The params' check: the runner's (tf_target_parse()), then what DynamoDB
 * can hold. Returns 0, EXIT_USAGE after a message, or EXIT_FAILED. */
static int
check_params(const char *cmd, const struct target_command *tc,
    const bool *given, const char *text)
{
	struct tf_target t;
	char errbuf[512], *p;
	cJSON *av = NULL;
	enum tf_err rc;

	rc = tf_target_parse(tc->kind, text, strlen(text), &t, errbuf,
	    sizeof(errbuf));
	tf_target_free(&t);
	if (rc == TF_OK) {
		rc = tf_marshal_value_json_text(text, strlen(text), &av, errbuf,
		    sizeof(errbuf));
		if (rc != TF_OK && (p = strstr(errbuf, " (byte ")) != NULL)
			*p = '\0';
	}
	cJSON_Delete(av);
	if (rc == TF_ERR_NOMEM) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		return EXIT_FAILED;
	}
	return rc == TF_OK ? 0 : params_error(cmd, tc, given, errbuf);
}

/* One target command; tc is the table's entry for argv[0]. */
static int
target_command(struct cli *c, const struct target_command *tc, int argc,
    char **argv)
{
	static const struct option submit_longopts[] = {
		CLI_SUBMIT_LONGOPTS,
		{ "type", required_argument, NULL, 't' },
		{ "params", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
	};
	const size_t n_submit = sizeof(submit_longopts) / sizeof(submit_longopts[0]);
	struct option longopts[sizeof(submit_longopts) / sizeof(submit_longopts[0]) +
	    sizeof(tc->options) / sizeof(tc->options[0]) + 1];
	bool given[sizeof(tc->options) / sizeof(tc->options[0])] = { false };
	const char *cmd = argv[0];
	struct submit_opts so;
	cJSON *params = NULL;
	char *text = NULL;
	size_t i, n = 0;
	int ch, code = EXIT_FAILED;

	memset(longopts, 0, sizeof(longopts));
	for (i = 0; i < n_submit; i++)
		longopts[n++] = submit_longopts[i];
	for (i = 0; tc->options[i].name != NULL; i++)
		longopts[n++] = (struct option){ tc->options[i].name,
		    tc->options[i].kind == V_FLAG ? no_argument : required_argument,
		    NULL, OPT_BASE + (int)i };
	submit_opts_init(&so);
	if ((params = cJSON_CreateObject()) == NULL) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		goto out;
	}
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch >= OPT_BASE) {
			given[ch - OPT_BASE] = true;
			if ((code = add_value(cmd, &tc->options[ch - OPT_BASE],
			    optarg, params)) != 0)
				goto out;
			continue;
		}
		switch (ch) {
		case 'h':
			target_help(tc);
			code = 0;
			goto out;
		default:
			if ((code = submit_shorthand_option(c, cmd, &so, tf_target_name(tc->kind),
			    ch, optarg, argv)) != 0)
				goto out;
			break;
		}
	}
	code = EXIT_USAGE;
	if (optind != argc) {
		cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
		goto out;
	}
	if ((text = cJSON_PrintUnformatted(params)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		code = EXIT_FAILED;
		goto out;
	}
	if ((code = check_params(cmd, tc, given, text)) != 0)
		goto out;
	code = submit_create(c, cmd, &so, tf_target_name(tc->kind), text);
out:
	cJSON_free(text);
	cJSON_Delete(params);
	return code;
}

int
cmd_target(struct cli *c, int argc, char **argv)
{
	/* argv[0] is "taskfleet NAME". */
	const char *name = strrchr(argv[0], ' ') != NULL ?
	    strrchr(argv[0], ' ') + 1 : argv[0];
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i].name) == 0)
			return target_command(c, &commands[i], argc, argv);
	return cli_usage_error(argv[0], "not an AWS target command");
}
