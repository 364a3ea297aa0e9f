/*
 * cmd_submit.c - `taskfleet submit`: creates a task (docs/design.md
 * sections 2, 3, 11).
 *
 * The item is written first, conditional on its id being free; a task due
 * within the enqueue horizon (TASKFLEET_HORIZON, 15 minutes) then gets its
 * SQS message at once, with DelaySeconds up to its due time. A later task
 * gets no message: the sweeper enqueues it when it comes within the horizon.
 * If the send fails after the write, the task is still safe (its
 * enqueued_for marks a message that never came, which the sweeper treats as
 * lost after its grace period), and the command says so and exits 1.
 *
 * --file loads many tasks, one a line (submit_file.h).
 *
 * --every/--cron (with --tz, --max-runs, --until) make the task recurring:
 * the schedule object is checked with tf_schedule_parse() before anything is
 * written, and the first run is --at, else tf_schedule_first().
 *
 * The options other than --type and --params, and everything from the checks
 * to the output, are shared with the commands that build the params of one
 * runner themselves (`taskfleet http`): submit_option() and submit_create().
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "cli.h"
#include "submit_file.h"
#include "submit_spec.h"
#include "task/task.h"
#include "task/task_manage.h"
#include "time/timefmt.h"

static const char submit_usage[] =
    "usage: taskfleet submit --type T [--params JSON|@FILE] [--at TIME]\n"
    "                        [--every DUR | --cron EXPR] [--tz ZONE] [--max-runs N]\n"
    "                        [--until TIME] [--ns NS] [--id ID] [--max-attempts N]\n"
    "                        [--name TEXT] [--description TEXT] [--json]\n"
    "                        [--callback URL] [--failure-callback URL]\n"
    "                        [--flow-key KEY]\n"
    "                        [--priority high|normal|low]\n"
    "       taskfleet submit --file FILE|- [--in-flight N] [--json]\n";

void
submit_options_help(void)
{
	printf("  --at TIME         when it is due: ISO 8601 (2026-11-23T09:00:00Z,\n"
	    "                    2026-11-23T10:00:00+01:00, 2026-11-23 = midnight UTC;\n"
	    "                    no zone means UTC) or +DURATION from now (+90s, +2h,\n"
	    "                    +1h30m, +1d); default now, or a recurring task's\n"
	    "                    first slot\n"
	    "  --every DUR       recurring: every DURATION (30m, 1h30m, 1d; at least\n"
	    "                    1s), or calendar steps (1mo, 3mo, 1y) on the first\n"
	    "                    run's day of month and time in --tz (Jan 31: Feb 28,\n"
	    "                    then Mar 31); the first run now (or at --at)\n"
	    "  --cron EXPR       recurring: a five-field cron expression (minute hour\n"
	    "                    day-of-month month day-of-week), e.g. \"0 9 * * 1-5\";\n"
	    "                    the first run at its next slot (or at --at)\n"
	    "  --tz ZONE         the time zone of --cron or of calendar steps, an IANA\n"
	    "                    name such as Europe/Berlin; default UTC\n"
	    "  --max-runs N      a recurring task ends after N runs\n"
	    "  --until TIME      a recurring task runs no more after TIME\n"
	    "  --ns NS           its namespace; default \"default\"\n"
	    "  --id ID           its id (up to %d printable characters); submitting\n"
	    "                    the same id again creates nothing and exits 0.\n"
	    "                    Default: a new UUID\n"
	    "  --max-attempts N  attempts before it fails, 1 to 1000; default\n"
	    "                    TASKFLEET_DEFAULT_MAX_ATTEMPTS, else %d\n"
	    "  --name TEXT       a name to know it by (shown by get, list and the\n"
	    "                    console): up to %d bytes of UTF-8, no control\n"
	    "                    characters; default none\n"
	    "  --description TEXT\n"
	    "                    a description: up to %d bytes of UTF-8 (tabs and\n"
	    "                    line breaks allowed); default none\n"
	    "  --callback URL    POSTed the outcome after each run that succeeds\n"
	    "                    (signed like webhooks; docs/webhooks.md)\n"
	    "  --failure-callback URL\n"
	    "                    POSTed the outcome when the task fails for good\n"
	    "  --flow-key KEY    the flow key it carries, for limits on flow:KEY\n"
	    "                    (taskfleet limit); up to %d printable characters\n"
	    "  --priority P      high, normal (default) or low: under a backlog,\n"
	    "                    higher ones start first; low ones still get a share\n"
	    "  --json            print {\"id\", \"created\", \"next_run\", ...}\n",
	    TF_TASK_ID_MAX, TF_DEFAULT_MAX_ATTEMPTS, TF_TASK_NAME_MAX,
	    TF_TASK_DESCRIPTION_MAX, TF_TASK_FLOW_KEY_MAX);
}

static void
submit_help(void)
{
	printf("%s\n"
	    "Creates a task and prints its id.\n"
	    "\n"
	    "  --type T          the runner that runs it ([A-Za-z0-9_-], 1 to 64)\n"
	    "  --params JSON     its parameters: a JSON object, or @FILE (@- reads\n"
	    "                    standard input); default {}\n",
	    submit_usage);
	submit_options_help();
	printf("\n"
	    "  --file FILE       bulk loading: one task a line, each a JSON object as\n"
	    "                    POST /v1/tasks takes one ({\"type\": \"noop\", \"id\":\n"
	    "                    \"t-1\", \"params\": {...}, \"at\": \"+1h\", ...}); - reads\n"
	    "                    standard input. Written %d at once, each only if its\n"
	    "                    id is free (run again, it creates nothing twice); bad\n"
	    "                    lines are reported by number and skipped; a summary\n"
	    "                    at the end (--json: also as JSON on stdout); exit 1\n"
	    "                    when any line failed\n"
	    "  --in-flight N     --file: writes at once, 1 to %d\n",
	    SUBMIT_FILE_IN_FLIGHT, SUBMIT_FILE_IN_FLIGHT_MAX);
	printf("\n"
	    "A recurring task's next run follows its schedule after each run; runs\n"
	    "missed while no consumer was up are run once, not once each.\n"
	    "A task due within the enqueue horizon (TASKFLEET_HORIZON, 15m) is put\n"
	    "on the queue at once (with a delay up to its time); a later one is\n"
	    "enqueued by the consumers' sweeper.\n"
	    "Exit: 0 created or already there, 1 failed, 2 bad input (nothing written).\n");
}

/* Reads --params (text or @FILE) into *out and checks that it is a JSON
 * object DynamoDB can hold. *out: caller frees with tf_free(). Returns 0 or
 * EXIT_USAGE after a message. */
static int
read_params(const char *cmd, const char *arg, char **out)
{
	char errbuf[512], *text = NULL;
	size_t len;
	enum tf_err rc;
	int code = EXIT_USAGE;

	*out = NULL;
	rc = cli_read_arg(arg, &text, &len, errbuf, sizeof(errbuf));
	if (rc != TF_OK) {
		cli_usage_error(cmd, "--params: %s", errbuf);
		goto out;
	}
	if (submit_check_params(text, len, SUBMIT_FLAGS, errbuf,
	    sizeof(errbuf)) != 0) {
		cli_usage_error(cmd, "%s", errbuf);
		goto out;
	}
	*out = text;
	text = NULL;
	code = 0;
out:
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
	const cJSON *schedule; /* plain JSON, or NULL */
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
	    (r->schedule != NULL && !cJSON_AddItemToObject(o, "schedule",
	    cJSON_Duplicate(r->schedule, 1))) ||
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

void
submit_opts_init(struct submit_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ns = TF_DEFAULT_NS;
}

int
submit_option(struct cli *c, const char *cmd, struct submit_opts *o, int ch,
    const char *arg)
{
	char errbuf[128];

	switch (ch) {
	case 'a':
		o->at = arg;
		break;
	case 'n':
		o->ns = arg;
		break;
	case 'i':
		o->id = arg;
		break;
	case 'm':
		if (submit_parse_max_attempts(arg, SUBMIT_FLAGS, &o->max_attempts,
		    errbuf, sizeof(errbuf)) != 0)
			return cli_usage_error(cmd, "%s", errbuf);
		break;
	case 'E':
		o->every = arg;
		break;
	case 'C':
		o->cron = arg;
		break;
	case 'Z':
		o->tz = arg;
		break;
	case 'R':
		o->max_runs = arg;
		break;
	case 'U':
		o->until = arg;
		break;
	case 'L':
		o->name = arg;
		break;
	case 'D':
		o->description = arg;
		break;
	case CLI_OPT_CALLBACK:
		o->callback = arg;
		break;
	case CLI_OPT_FAILURE_CALLBACK:
		o->failure_callback = arg;
		break;
	case CLI_OPT_FLOW_KEY:
		o->flow_key = arg;
		break;
	case CLI_OPT_PRIORITY:
		o->priority = arg;
		break;
	case 'j':
		c->json = true;
		break;
	default:
		return -1;
	}
	return 0;
}

int
submit_shorthand_option(struct cli *c, const char *cmd, struct submit_opts *o,
    const char *runner, int ch, const char *arg, char **argv)
{
	int code;

	switch (ch) {
	case 't':
		return cli_usage_error(cmd, "--type is %s for this command; use "
		    "submit for other runners", runner);
	case 'p':
		return cli_usage_error(cmd, "--params: this command builds the "
		    "params from its options; use submit to give them as JSON");
	case '?':
	case ':':
		return cli_bad_option(cmd, ch, argv);
	default:
		code = submit_option(c, cmd, o, ch, arg);
		return code < 0 ? cli_bad_option(cmd, ch, argv) : code;
	}
}

int
submit_create(struct cli *c, const char *cmd, const struct submit_opts *o,
    const char *type, const char *params_json)
{
	struct submit_spec ss = { 0 };
	struct tf_task_spec spec;
	struct submit_result r = { 0 };
	const cJSON *sched_json;
	char errbuf[800], reason[800];
	char *id = NULL;
	int64_t now, next_run, horizon_ms;
	int code, delay_s = 0;
	bool enqueue = false;
	enum tf_err rc;

	/* Every argument is checked before anything is written
	 * (submit_spec.c, shared with the REST API). */
	now = tf_now_ms();
	horizon_ms = c->cfg.horizon_ms > 0 ? c->cfg.horizon_ms : TF_ENQUEUE_HORIZON_MS;
	code = submit_spec_build(o, type, params_json, SUBMIT_FLAGS, NULL,
	    c->cfg.runners, now, horizon_ms, &ss, errbuf, sizeof(errbuf));
	if (code != 0) {
		fprintf(stderr, "%s: %s\n", cmd, errbuf);
		goto out;
	}
	spec = ss.spec;
	/* No --max-attempts: the fleet's default (TASKFLEET_DEFAULT_MAX_ATTEMPTS),
	 * written into the task so that `get` shows it. */
	if (spec.max_attempts == 0)
		spec.max_attempts = c->cfg.default_max_attempts;
	next_run = spec.next_run;
	sched_json = ss.schedule_json;

	if ((code = cli_open(c)) != 0)
		goto out;
	/* A task due soon needs the queue: find it before writing, so that a
	 * missing queue leaves nothing behind. */
	if (next_run <= now + horizon_ms) {
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
	r.schedule = sched_json;
	if (enqueue) {
		/* SQS counts whole seconds; the consumer holds a message that
		 * arrives less than a second early until its exact time. */
		rc = tf_manage_send(c->ctx.aws, c->ctx.queue_url, spec.priority, id, 1,
		    next_run,
		    tf_now_ms(), &delay_s);
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
	submit_spec_free(&ss);
	tf_free(id);
	return code;
}

int
cmd_submit(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "params", required_argument, NULL, 'p' },
		{ "file", required_argument, NULL, 'F' },
		{ "in-flight", required_argument, NULL, 'I' },
		CLI_SUBMIT_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *type = NULL, *params_arg = NULL;
	const char *file = NULL, *in_flight_arg = NULL;
	struct submit_opts o;
	char *params = NULL, errbuf[512], *end;
	long in_flight = SUBMIT_FILE_IN_FLIGHT;
	int ch, code, others = 0;

	submit_opts_init(&o);
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			type = optarg;
			break;
		case 'p':
			params_arg = optarg;
			break;
		case 'F':
			file = optarg;
			break;
		case 'I':
			in_flight_arg = optarg;
			break;
		case 'h':
			submit_help();
			return 0;
		case '?':
		case ':':
			return cli_bad_option(cmd, ch, argv);
		default:
			if ((code = submit_option(c, cmd, &o, ch, optarg)) != 0)
				return code < 0 ? cli_bad_option(cmd, ch, argv) : code;
			others += ch != 'j';
			break;
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (file != NULL) {
		/* Each line says all of its task. */
		if (type != NULL || params_arg != NULL || others > 0)
			return cli_usage_error(cmd, "--file takes no other task options: "
			    "each line gives its task's fields");
		if (in_flight_arg != NULL) {
			errno = 0;
			in_flight = strtol(in_flight_arg, &end, 10);
			if (errno != 0 || end == in_flight_arg || *end != '\0' ||
			    in_flight < 1 || in_flight > SUBMIT_FILE_IN_FLIGHT_MAX)
				return cli_usage_error(cmd, "--in-flight: expected a number "
				    "from 1 to %d", SUBMIT_FILE_IN_FLIGHT_MAX);
		}
		return submit_file(c, cmd, file, (int)in_flight);
	}
	if (in_flight_arg != NULL)
		return cli_usage_error(cmd, "--in-flight goes with --file");
	if (type == NULL)
		return cli_usage_error(cmd, "--type is required (see %s --help)", cmd);

	/* The names before the params, the rest after them: a bad --type is
	 * reported first. submit_create() checks the names again, cheaply. */
	if (submit_check_names(&o, type, SUBMIT_FLAGS, errbuf, sizeof(errbuf)) != 0)
		return cli_usage_error(cmd, "%s", errbuf);
	if (params_arg != NULL && (code = read_params(cmd, params_arg, &params)) != 0)
		goto out;
	code = submit_create(c, cmd, &o, type, params);
out:
	tf_free(params);
	return code;
}
