/*
 * cmd_submit.c - `taskfleet submit`: creates a task (SPEC sections 4, 5, 8).
 *
 * The item is written first, conditional on its id being free; a task due
 * within the enqueue horizon (TASKFLEET_HORIZON, 15 minutes) then gets its
 * SQS message at once, with DelaySeconds up to its due time. A later task
 * gets no message: the sweeper enqueues it when it comes within the horizon.
 * If the send fails after the write, the task is still safe (its
 * enqueued_for marks a message that never came, which the sweeper treats as
 * lost after its grace period), and the command says so and exits 1.
 *
 * --every/--cron (with --tz, --max-runs, --until) make the task recurring:
 * the schedule object is checked with tf_schedule_parse() before anything is
 * written, and the first run is --at, else tf_schedule_first().
 *
 * The options other than --type and --params, and everything from the checks
 * to the output, are shared with the commands that build the params of one
 * runner themselves (`taskfleet http`): submit_option() and submit_create().
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
#include "schedule.h"
#include "task.h"
#include "task_manage.h"
#include "timefmt.h"

static const char submit_usage[] =
    "usage: taskfleet submit --type T [--params JSON|@FILE] [--at TIME]\n"
    "                        [--every DUR | --cron EXPR [--tz ZONE]] [--max-runs N]\n"
    "                        [--until TIME] [--ns NS] [--id ID] [--max-attempts N]\n"
    "                        [--json]\n";

void
submit_options_help(void)
{
	printf("  --at TIME         when it is due: ISO 8601 (2026-11-23T09:00:00Z,\n"
	    "                    2026-11-23T10:00:00+01:00, 2026-11-23 = midnight UTC;\n"
	    "                    no zone means UTC) or +DURATION from now (+90s, +2h,\n"
	    "                    +1h30m, +1d); default now, or a recurring task's\n"
	    "                    first slot\n"
	    "  --every DUR       recurring: every DURATION (30m, 1h30m, 1d; at least\n"
	    "                    1s), the first run now (or at --at)\n"
	    "  --cron EXPR       recurring: a five-field cron expression (minute hour\n"
	    "                    day-of-month month day-of-week), e.g. \"0 9 * * 1-5\";\n"
	    "                    the first run at its next slot (or at --at)\n"
	    "  --tz ZONE         the time zone of --cron, an IANA name such as\n"
	    "                    Europe/Berlin; default UTC\n"
	    "  --max-runs N      a recurring task ends after N runs\n"
	    "  --until TIME      a recurring task runs no more after TIME\n"
	    "  --ns NS           its namespace; default \"default\"\n"
	    "  --id ID           its id (up to %d printable characters); submitting\n"
	    "                    the same id again creates nothing and exits 0.\n"
	    "                    Default: a new UUID\n"
	    "  --max-attempts N  attempts before it fails, 1 to 1000; default %d\n"
	    "  --json            print {\"id\", \"created\", \"next_run\", ...}\n",
	    TF_TASK_ID_MAX, TF_DEFAULT_MAX_ATTEMPTS);
}

static void
submit_help(void)
{
	printf("%s\n"
	    "Creates a task and prints its id.\n"
	    "\n"
	    "  --type T          the runner that runs it ([a-z0-9_-], 1 to 64)\n"
	    "  --params JSON     its parameters: a JSON object, or @FILE (@- reads\n"
	    "                    standard input); default {}\n",
	    submit_usage);
	submit_options_help();
	printf("\n"
	    "A recurring task's next run follows its schedule after each run; runs\n"
	    "missed while no consumer was up are run once, not once each.\n"
	    "A task due within the enqueue horizon (TASKFLEET_HORIZON, 15m) is put\n"
	    "on the queue at once (with a delay up to its time); a later one is\n"
	    "enqueued by the consumers' sweeper.\n"
	    "Exit: 0 created or already there, 1 failed, 2 bad input (nothing written).\n");
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

/* Prints a message of tf_schedule_parse(), naming the option rather than the
 * attribute ("schedule.cron: ..." or "cron: ..." becomes "--cron: ..."). */
static void
schedule_error(const char *cmd, const char *msg)
{
	static const char *const fields[][2] = {
		{ "every", "--every" }, { "cron", "--cron" }, { "tz", "--tz" },
		{ "max_runs", "--max-runs" }, { "until", "--until" },
	};
	size_t i, n;

	if (strncmp(msg, "schedule.", 9) == 0)
		msg += 9;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		n = strlen(fields[i][0]);
		if (strncmp(msg, fields[i][0], n) == 0 && msg[n] == ':') {
			cli_usage_error(cmd, "%s%s", fields[i][1], msg + n);
			return;
		}
	}
	cli_usage_error(cmd, "schedule: %s", msg);
}

/*
 * Builds the `schedule` attribute from the options ({"every": "30m"} or
 * {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin"}, with "max_runs" and
 * "until" in epoch ms) and checks it with tf_schedule_parse(). *json and *s
 * stay NULL when no recurrence is asked for; otherwise the caller frees them
 * with cJSON_Delete() and tf_schedule_free(). *until_ms: --until, 0 when not
 * given. Returns 0, or EXIT_USAGE after a message.
 */
static int
build_schedule(const char *cmd, const struct submit_opts *o, int64_t now,
    cJSON **json, struct tf_schedule **s, int64_t *until_ms)
{
	char errbuf[512];
	long long max_runs = 0;
	int64_t every_ms;
	cJSON *j = NULL;
	int code = EXIT_USAGE;

	*json = NULL;
	*s = NULL;
	*until_ms = 0;
	if (o->every != NULL && o->cron != NULL)
		return cli_usage_error(cmd, "--every and --cron exclude each other");
	if (o->tz != NULL && o->cron == NULL)
		return cli_usage_error(cmd, "--tz is the time zone of --cron; there "
		    "is no --cron");
	if (o->every == NULL && o->cron == NULL) {
		if (o->max_runs != NULL || o->until != NULL)
			return cli_usage_error(cmd, "%s applies to a recurring task: "
			    "give --every or --cron", o->max_runs ? "--max-runs" :
			    "--until");
		return 0;
	}
	if (o->every != NULL &&
	    tf_timefmt_parse_duration(o->every, &every_ms, errbuf,
	    sizeof(errbuf)) != TF_OK)
		return cli_usage_error(cmd, "--every: %s", errbuf);
	/* Up to 2^53: the number must survive a JSON double. */
	if (o->max_runs != NULL &&
	    !cli_parse_int(o->max_runs, 1, 9007199254740991LL, &max_runs))
		return cli_usage_error(cmd, "--max-runs: expected a whole number of "
		    "at least 1, got \"%.32s\"", o->max_runs);
	if (o->until != NULL) {
		if (tf_timefmt_parse(o->until, now, until_ms, errbuf,
		    sizeof(errbuf)) != TF_OK)
			return cli_usage_error(cmd, "--until: %s", errbuf);
		if (*until_ms <= now)
			return cli_usage_error(cmd, "--until: \"%s\" is already past",
			    o->until);
	}
	j = cJSON_CreateObject();
	if (j == NULL ||
	    (o->every != NULL &&
	    cJSON_AddStringToObject(j, "every", o->every) == NULL) ||
	    (o->cron != NULL &&
	    cJSON_AddStringToObject(j, "cron", o->cron) == NULL) ||
	    (o->tz != NULL && cJSON_AddStringToObject(j, "tz", o->tz) == NULL) ||
	    (o->max_runs != NULL &&
	    cJSON_AddNumberToObject(j, "max_runs", (double)max_runs) == NULL) ||
	    (o->until != NULL &&
	    cJSON_AddNumberToObject(j, "until", (double)*until_ms) == NULL)) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		code = EXIT_FAILED;
		goto out;
	}
	if (tf_schedule_parse(j, s, errbuf, sizeof(errbuf)) != TF_OK) {
		schedule_error(cmd, errbuf);
		goto out;
	}
	*json = j;
	j = NULL;
	code = 0;
out:
	cJSON_Delete(j);
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
		if (!cli_parse_int(arg, 1, 1000, &o->max_attempts))
			return cli_usage_error(cmd, "--max-attempts: expected a "
			    "number from 1 to 1000, got \"%.32s\"", arg);
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
	case 'j':
		c->json = true;
		break;
	default:
		return -1;
	}
	return 0;
}

/* Checks the names of a new task: its type's syntax (not whether a runner
 * has it: check_type() does that), --ns and --id. Returns 0 or EXIT_USAGE
 * after a message. */
static int
check_names(const char *cmd, const struct submit_opts *o, const char *type)
{
	if (!tf_task_type_valid(type))
		return cli_usage_error(cmd, "--type: \"%.64s%s\" is not a runner "
		    "name (1 to %d of a-z 0-9 _ -)", type,
		    strlen(type) > 64 ? "..." : "", TF_TASK_TYPE_MAX);
	if (!tf_task_ns_valid(o->ns))
		return cli_usage_error(cmd, "--ns: must be 1 to %d of A-Z a-z 0-9 "
		    "_ . -", TF_TASK_NS_MAX);
	if (o->id != NULL && !tf_task_id_valid(o->id)) {
		if (strlen(o->id) > TF_TASK_ID_MAX)
			return cli_usage_error(cmd, "--id: too long (%zu bytes; at "
			    "most %d)", strlen(o->id), TF_TASK_ID_MAX);
		return cli_usage_error(cmd, "--id: must be 1 to %d printable "
		    "characters without spaces", TF_TASK_ID_MAX);
	}
	return 0;
}

int
submit_create(struct cli *c, const char *cmd, const struct submit_opts *o,
    const char *type, const char *params_json)
{
	struct tf_task_spec spec = { 0 };
	struct submit_result r = { 0 };
	struct tf_schedule *sched = NULL;
	cJSON *sched_json = NULL;
	char errbuf[512], reason[800];
	char *id = NULL;
	int64_t now, next_run, until_ms = 0, horizon_ms;
	int code, delay_s = 0;
	bool enqueue = false;
	enum tf_err rc;

	/* Every argument is checked before anything is written. */
	if ((code = check_names(cmd, o, type)) != 0)
		goto out;
	code = EXIT_USAGE;
	now = tf_now_ms();
	next_run = now;
	if (o->at != NULL) {
		if (tf_timefmt_parse(o->at, now, &next_run, errbuf,
		    sizeof(errbuf)) != TF_OK) {
			cli_usage_error(cmd, "--at: %s", errbuf);
			goto out;
		}
		if (next_run <= 0) {
			cli_usage_error(cmd, "--at: \"%s\" is not after "
			    "1970-01-01T00:00:00Z", o->at);
			goto out;
		}
	}
	if ((code = build_schedule(cmd, o, now, &sched_json, &sched,
	    &until_ms)) != 0)
		goto out;
	code = EXIT_USAGE;
	if (sched != NULL && o->at != NULL && until_ms > 0 && next_run > until_ms) {
		cli_usage_error(cmd, "--at: \"%s\" is after --until", o->at);
		goto out;
	}
	if (sched != NULL && o->at == NULL) {
		/* now for --every, the next slot for --cron. */
		next_run = tf_schedule_first(sched, now);
		if (next_run <= 0) {
			if (o->until != NULL)
				cli_usage_error(cmd, "--until: the schedule has no run "
				    "before \"%s\"", o->until);
			else
				cli_usage_error(cmd, "--cron: \"%s\" has no time to run at",
				    o->cron ? o->cron : "");
			goto out;
		}
	}
	/* Last, as it loads the runners: the cheap checks come first. */
	if ((code = check_type(c, cmd, type)) != 0)
		goto out;
	spec.id = o->id;
	spec.ns = o->ns;
	spec.type = type;
	spec.params_json = params_json;
	spec.next_run = next_run;
	spec.max_attempts = o->max_attempts;
	spec.schedule = sched_json;
	horizon_ms = c->cfg.horizon_ms > 0 ? c->cfg.horizon_ms : TF_ENQUEUE_HORIZON_MS;
	spec.horizon_ms = horizon_ms;

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
		rc = tf_manage_send(c->ctx.aws, c->ctx.queue_url, id, 1, next_run,
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
	tf_schedule_free(sched);
	cJSON_Delete(sched_json);
	tf_free(id);
	return code;
}

int
cmd_submit(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "params", required_argument, NULL, 'p' },
		CLI_SUBMIT_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *type = NULL, *params_arg = NULL;
	struct submit_opts o;
	char *params = NULL;
	int ch, code;

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
		case 'h':
			submit_help();
			return 0;
		case '?':
		case ':':
			return cli_bad_option(cmd, ch, argv);
		default:
			if ((code = submit_option(c, cmd, &o, ch, optarg)) != 0)
				return code < 0 ? cli_bad_option(cmd, ch, argv) : code;
			break;
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (type == NULL)
		return cli_usage_error(cmd, "--type is required (see %s --help)", cmd);

	/* The names before the params, the rest after them: a bad --type is
	 * reported first. submit_create() checks the names again, cheaply. */
	if ((code = check_names(cmd, &o, type)) != 0)
		return code;
	if (params_arg != NULL && (code = read_params(cmd, params_arg, &params)) != 0)
		goto out;
	code = submit_create(c, cmd, &o, type, params);
out:
	tf_free(params);
	return code;
}
