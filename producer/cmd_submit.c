/*
 * cmd_submit.c - `taskfleet submit`: creates a task (SPEC sections 4, 5, 8).
 *
 * The item is written first, conditional on its id being free; a task due
 * within the enqueue horizon (15 minutes) then gets its SQS message at once,
 * with DelaySeconds up to its due time. A later task gets no message: the
 * sweeper enqueues it when it comes within the horizon. If the send fails
 * after the write, the task is still safe (its enqueued_for marks a message
 * that never came, which the sweeper treats as lost after its grace period),
 * and the command says so and exits 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "cli.h"
#include "marshal.h"
#include "runners.h"
#include "sqs.h"
#include "task.h"
#include "timefmt.h"

static const char submit_usage[] =
    "usage: taskfleet submit --type T [--params JSON|@FILE] [--at TIME] [--ns NS]\n"
    "                        [--id ID] [--max-attempts N] [--json]\n";

static void
submit_help(void)
{
	printf("%s\n"
	    "Creates a task and prints its id.\n"
	    "\n"
	    "  --type T          the runner that runs it ([a-z0-9_-], 1 to 64)\n"
	    "  --params JSON     its parameters: a JSON object, or @FILE (@- reads\n"
	    "                    standard input); default {}\n"
	    "  --at TIME         when it is due: ISO 8601 (2026-11-23T09:00:00Z,\n"
	    "                    2026-11-23T10:00:00+01:00, 2026-11-23 = midnight UTC;\n"
	    "                    no zone means UTC) or +DURATION from now (+90s, +2h,\n"
	    "                    +1h30m, +1d); default now\n"
	    "  --ns NS           its namespace; default \"default\"\n"
	    "  --id ID           its id (up to %d printable characters); submitting\n"
	    "                    the same id again creates nothing and exits 0.\n"
	    "                    Default: a new UUID\n"
	    "  --max-attempts N  attempts before it fails, 1 to 1000; default %d\n"
	    "  --json            print {\"id\", \"created\", \"next_run\", ...}\n"
	    "\n"
	    "A task due within 15 minutes is put on the queue at once (with a delay up\n"
	    "to its time); a later one is enqueued by the consumers' sweeper.\n"
	    "Exit: 0 created or already there, 1 failed, 2 bad input (nothing written).\n",
	    submit_usage, TF_TASK_ID_MAX, TF_DEFAULT_MAX_ATTEMPTS);
}

/* Checks that a runner of this type is loaded: the runners of
 * TASKFLEET_RUNNERS, else the default place (SPEC section 3), as the
 * consumers load them. Returns 0, EXIT_USAGE for a type that names no
 * runner (the message lists the known ones), or EXIT_FAILED when the runners
 * cannot be loaded to check it. */
static int
check_type(const struct cli *c, const char *cmd, const char *type)
{
	struct tf_runner_set *set = NULL;
	struct tf_buf known = TF_BUF_INIT;
	char err[512];
	size_t i, n;
	int code = EXIT_USAGE;
	enum tf_err rc;

	rc = tf_runner_set_load(c->cfg.runners, &set, err, sizeof(err));
	if (rc != TF_OK) {
		fprintf(stderr, "%s: --type: cannot load the runners to check "
		    "\"%s\": %s (TASKFLEET_RUNNERS says where they are)\n", cmd,
		    type, err);
		code = EXIT_FAILED;
		goto out;
	}
	if (tf_runner_set_find(set, type) != NULL) {
		code = 0;
		goto out;
	}
	n = tf_runner_set_count(set);
	for (i = 0; i < n; i++) {
		if (tf_buf_appendf(&known, "%s%s", i ? ", " : "",
		    tf_loaded_runner_name(tf_runner_set_at(set, i))) != TF_OK) {
			fprintf(stderr, "%s: out of memory\n", cmd);
			code = EXIT_FAILED;
			goto out;
		}
	}
	cli_usage_error(cmd, "--type: no runner \"%s\" is installed (known: %s)",
	    type, tf_buf_str(&known));
out:
	tf_buf_free(&known);
	tf_runner_set_free(set);
	return code;
}

/* Reads --params (text or @FILE) into *out and checks that it is a JSON
 * object DynamoDB can hold. *out: caller frees with tf_free(). Returns 0 or
 * EXIT_USAGE after a message. */
static int
read_params(const char *cmd, const char *arg, char **out)
{
	char errbuf[512], *text = NULL;
	cJSON *av = NULL;
	size_t len;
	enum tf_err rc;
	int code = EXIT_USAGE;

	*out = NULL;
	rc = cli_read_arg(arg, &text, &len, errbuf, sizeof(errbuf));
	if (rc != TF_OK) {
		cli_usage_error(cmd, "--params: %s", errbuf);
		goto out;
	}
	/* The full length: a NUL byte inside the text is an error, not an end. */
	rc = tf_marshal_value_json_text(text, len, &av, errbuf, sizeof(errbuf));
	if (rc != TF_OK) {
		cli_usage_error(cmd, "--params: %s", errbuf);
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(av, "M") == NULL) {
		cli_usage_error(cmd, "--params: must be a JSON object ({...})");
		goto out;
	}
	*out = text;
	text = NULL;
	code = 0;
out:
	cJSON_Delete(av);
	tf_free(text);
	return code;
}

/* What a submit did, for the output. All strings borrowed. */
struct submit_result {
	const char *id;
	bool created;          /* false: the id existed already */
	const char *ns;
	const char *type;
	const char *status;    /* NULL: unknown */
	int64_t next_run;
	bool enqueued;         /* created and its message sent */
	int delay_s;           /* the message's DelaySeconds */
};

/* Prints the result of a submit: the id, or a JSON object. */
static int
print_result(const struct cli *c, const struct submit_result *r)
{
	cJSON *o;
	int code;

	if (!c->json) {
		printf("%s\n", r->id);
		return 0;
	}
	o = cJSON_CreateObject();
	if (o == NULL ||
	    cJSON_AddStringToObject(o, "id", r->id) == NULL ||
	    cJSON_AddBoolToObject(o, "created", r->created) == NULL ||
	    cJSON_AddStringToObject(o, "ns", r->ns) == NULL ||
	    cJSON_AddStringToObject(o, "type", r->type) == NULL ||
	    (r->status != NULL &&
	    cJSON_AddStringToObject(o, "status", r->status) == NULL) ||
	    (r->next_run > 0 &&
	    cJSON_AddNumberToObject(o, "next_run", (double)r->next_run) == NULL) ||
	    cJSON_AddBoolToObject(o, "enqueued", r->enqueued) == NULL ||
	    (r->enqueued &&
	    cJSON_AddNumberToObject(o, "delay_seconds", r->delay_s) == NULL)) {
		cJSON_Delete(o);
		fprintf(stderr, "taskfleet: out of memory\n");
		return EXIT_FAILED;
	}
	code = cli_print_json(o);
	cJSON_Delete(o);
	return code;
}

/* Reports a task that exists already (submit --id again), read back for the
 * JSON output. Exit 0: nothing was created, as asked. */
static int
report_existing(struct cli *c, const char *cmd, const struct tf_task_spec *spec)
{
	struct submit_result r = { 0 };
	struct tf_task t;
	char errbuf[256];
	int code;

	fprintf(stderr, "%s: task \"%s\" exists already; not created again\n",
	    cmd, spec->id);
	r.id = spec->id;
	r.created = false;
	if (tf_task_get(c->ctx.aws, c->cfg.table, spec->id, &t, errbuf,
	    sizeof(errbuf)) == TF_OK) {
		r.ns = t.ns;
		r.type = t.type;
		r.status = tf_task_status_name(t.status);
		r.next_run = t.next_run;
	} else {
		/* Deleted since, or unreadable: say what we know. */
		r.ns = spec->ns;
		r.type = spec->type;
	}
	code = print_result(c, &r);
	tf_task_free(&t);
	return code;
}

int
cmd_submit(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "params", required_argument, NULL, 'p' },
		{ "at", required_argument, NULL, 'a' },
		{ "ns", required_argument, NULL, 'n' },
		{ "id", required_argument, NULL, 'i' },
		{ "max-attempts", required_argument, NULL, 'm' },
		/* Recurring tasks (--every DUR | --cron EXPR [--tz ZONE],
		 * --max-runs N, --until TIME) come with the scheduler: their
		 * options go here, and they fill spec.schedule below. */
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *at = NULL, *params_arg = NULL;
	struct tf_task_spec spec = { 0 };
	struct submit_result r = { 0 };
	char errbuf[512], reason[800];
	char *params = NULL, *id = NULL, *body = NULL;
	long long max_attempts = 0;
	int64_t now, next_run, delay_ms;
	int ch, code = EXIT_USAGE, delay_s = 0;
	bool enqueue = false;
	enum tf_err rc;

	spec.ns = TF_DEFAULT_NS;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			spec.type = optarg;
			break;
		case 'p':
			params_arg = optarg;
			break;
		case 'a':
			at = optarg;
			break;
		case 'n':
			spec.ns = optarg;
			break;
		case 'i':
			spec.id = optarg;
			break;
		case 'm':
			if (!cli_parse_int(optarg, 1, 1000, &max_attempts))
				return cli_usage_error(cmd, "--max-attempts: expected a "
				    "number from 1 to 1000, got \"%.32s\"", optarg);
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			submit_help();
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (spec.type == NULL)
		return cli_usage_error(cmd, "--type is required (see %s --help)", cmd);

	/* Every argument is checked before anything is written. */
	if (!tf_task_type_valid(spec.type)) {
		cli_usage_error(cmd, "--type: \"%.64s%s\" is not a runner name (1 to "
		    "%d of a-z 0-9 _ -)", spec.type, strlen(spec.type) > 64 ? "..." : "",
		    TF_TASK_TYPE_MAX);
		goto out;
	}
	if (!tf_task_ns_valid(spec.ns)) {
		cli_usage_error(cmd, "--ns: must be 1 to %d of A-Z a-z 0-9 _ . -",
		    TF_TASK_NS_MAX);
		goto out;
	}
	if (spec.id != NULL && !tf_task_id_valid(spec.id)) {
		if (strlen(spec.id) > TF_TASK_ID_MAX)
			cli_usage_error(cmd, "--id: too long (%zu bytes; at most %d)",
			    strlen(spec.id), TF_TASK_ID_MAX);
		else
			cli_usage_error(cmd, "--id: must be 1 to %d printable "
			    "characters without spaces", TF_TASK_ID_MAX);
		goto out;
	}
	if (params_arg != NULL && (code = read_params(cmd, params_arg, &params)) != 0)
		goto out;
	code = EXIT_USAGE;
	now = tf_now_ms();
	next_run = now;
	if (at != NULL) {
		if (tf_timefmt_parse(at, now, &next_run, errbuf, sizeof(errbuf)) != TF_OK) {
			cli_usage_error(cmd, "--at: %s", errbuf);
			goto out;
		}
		if (next_run <= 0) {
			cli_usage_error(cmd, "--at: \"%s\" is before 1970", at);
			goto out;
		}
	}
	/* Last, as it loads the runners: the cheap checks come first. */
	if ((code = check_type(c, cmd, spec.type)) != 0)
		goto out;
	spec.params_json = params;
	spec.next_run = next_run;
	spec.max_attempts = max_attempts;
	spec.schedule = NULL;

	if ((code = cli_open(c)) != 0)
		goto out;
	/* A task due soon needs the queue: find it before writing, so that a
	 * missing queue leaves nothing behind. */
	if (next_run <= now + TF_ENQUEUE_HORIZON_MS) {
		rc = tf_context_resolve_queue(&c->ctx, &c->cfg);
		if (rc != TF_OK) {
			code = cli_aws_error(cmd, "finding the queue (nothing was written)",
			    rc);
			goto out;
		}
	}
	rc = tf_task_create(c->ctx.aws, c->cfg.table, &spec, now, &id, &enqueue,
	    errbuf, sizeof(errbuf));
	if (rc == TF_ERR_CONDITION && spec.id != NULL) {
		code = report_existing(c, cmd, &spec);
		goto out;
	}
	if (rc == TF_ERR_INVALID || rc == TF_ERR_TOO_LARGE) {
		code = cli_usage_error(cmd, "%s", errbuf);
		goto out;
	}
	if (rc != TF_OK) {
		code = cli_aws_error(cmd, "writing the task", rc);
		goto out;
	}
	r.id = id;
	r.created = true;
	r.ns = spec.ns;
	r.type = spec.type;
	r.status = "PENDING";
	r.next_run = next_run;
	if (enqueue) {
		rc = tf_task_message_format(id, next_run, 1, &body);
		if (rc == TF_OK) {
			/* SQS counts whole seconds; the consumer holds a message that
			 * arrives less than a second early until its exact time. */
			delay_ms = next_run - tf_now_ms();
			delay_s = delay_ms <= 0 ? 0 : delay_ms / 1000 > TF_SQS_MAX_DELAY_S ?
			    TF_SQS_MAX_DELAY_S : (int)(delay_ms / 1000);
			rc = tf_sqs_send_message(c->ctx.aws, c->ctx.queue_url, body,
			    delay_s, NULL);
		}
		if (rc != TF_OK) {
			cli_aws_reason(rc, reason, sizeof(reason));
			print_result(c, &r);
			fprintf(stderr, "%s: task %s was created, but sending its queue "
			    "message failed: %s; the sweeper will enqueue it\n", cmd, id,
			    reason);
			code = EXIT_FAILED;
			goto out;
		}
		r.enqueued = true;
		r.delay_s = delay_s;
	}
	code = print_result(c, &r);
out:
	tf_free(body);
	tf_free(id);
	tf_free(params);
	return code;
}
