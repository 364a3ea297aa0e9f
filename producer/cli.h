/*
 * cli.h - what the producer's commands share: the program state, exit codes,
 * and the helpers that print errors and JSON the same way everywhere.
 *
 * Each command is a function `int cmd_x(struct cli *c, int argc, char **argv)`
 * with argv[0] the program and command name ("taskfleet submit"); it parses
 * its own options with getopt_long (reset with optind = 0), validates every
 * argument before it opens the AWS client with cli_open(), and returns the
 * exit code.
 */
#ifndef TF_PRODUCER_CLI_H
#define TF_PRODUCER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "base/config.h"
#include "base/err.h"
#include "task/task_manage.h"

/* Exit codes (docs/design.md section 11). */
#define EXIT_FAILED   1   /* the operation failed: AWS error, condition failed */
#define EXIT_USAGE    2   /* usage or bad input; nothing was written */
#define EXIT_NOTFOUND 3   /* not found: no such task, no dead-letter queue */

/* `taskfleet due`'s and GET /v1/due's limit when none is given. */
#define CLI_DUE_DEFAULT_LIMIT 100

/* The largest @FILE argument read (a task item holds at most 400 KB). */
#define CLI_FILE_MAX (1024 * 1024)

struct cli {
	struct tf_config cfg;     /* flags over environment over defaults */
	struct tf_context ctx;    /* opened by cli_open() */
	bool opened;              /* ctx is open */
	bool json;                /* --json: print JSON */
};

/* Opens the AWS client once. Returns 0, or prints why and returns
 * EXIT_FAILED. */
int cli_open(struct cli *c);

/* Prints "taskfleet CMD: <message>" on stderr and returns EXIT_USAGE.
 * cmd is argv[0] of the command ("taskfleet submit"). */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* For getopt_long's '?' and ':' (optstring begins with ':', opterr 0):
 * prints the bad or incomplete option in one line and returns EXIT_USAGE. */
int cli_bad_option(const char *cmd, int ch, char **argv);

/* Prints the failure of an AWS call in one line, "taskfleet CMD: WHAT:
 * reason (AWS type: message)", and returns EXIT_FAILED. */
int cli_aws_error(const char *cmd, const char *what, enum tf_err rc);

/* Writes the reason of a failed AWS call, with what AWS said, into buf. */
void cli_aws_reason(enum tf_err rc, char *buf, size_t len);

/* True when the last AWS call failed because the table or queue does not
 * exist (rather than the item). */
bool cli_resource_missing(void);

/* Prints a JSON value on one line of stdout. Returns 0, or EXIT_FAILED when
 * out of memory. o is borrowed. */
int cli_print_json(const cJSON *o);

/* The text of an argument that is either the value itself or "@FILE" ("@-":
 * standard input), as for --params. *text: NUL-terminated, *len bytes (the
 * text may hold NUL bytes itself); caller frees with tf_free(). On failure
 * returns TF_ERR_INVALID / TF_ERR_IO / TF_ERR_TOO_LARGE with a one-line
 * message naming the file in errbuf. */
enum tf_err cli_read_arg(const char *arg, char **text, size_t *len,
    char *errbuf, size_t errlen);

/* Parses a task status name in any case (`list --status`, GET /v1/tasks);
 * false for anything else. */
bool cli_parse_status(const char *s, enum tf_task_status *out);

/* Parses a whole decimal number in [min, max]; false for anything else. */
bool cli_parse_int(const char *s, long long min, long long max,
    long long *out);

/* Parses the options of a command that takes one task ID and nothing else
 * but --json and --help. Sets *id (borrowed from argv). Returns -1 to go on,
 * or the exit code (0 after --help, which prints usage and help). */
int cli_parse_id_command(struct cli *c, int argc, char **argv,
    const char *usage, const char *help, const char **id);
/* Its last step, for a command with options of its own: takes the one
 * argument left after getopt (argv[optind]) as a task id into *id
 * (borrowed from argv) and checks it. Returns -1 when it is one, else
 * EXIT_USAGE after the message. */
int cli_take_id(const char *cmd, int argc, char **argv, const char **id);

/* Writes "2026-11-23T09:00:00.000Z (in 1h2m)" (or "(5s ago)", "(now)") for
 * epoch ms at, relative to now_ms, into buf. Returns buf. */
const char *cli_when(int64_t at, int64_t now_ms, char *buf, size_t len);

/*
 * The options of every command that creates a task (submit, http), as
 * given: strings borrowed from argv. Fill with submit_opts_init() and
 * submit_option(); submit_create() checks them all and creates the task.
 */
struct submit_opts {
	const char *at;           /* --at TIME, or NULL: now (or the first slot) */
	const char *every;        /* --every DUR */
	const char *cron;         /* --cron EXPR */
	const char *tz;           /* --tz ZONE, for --cron */
	const char *max_runs;     /* --max-runs N, unparsed */
	const char *until;        /* --until TIME, unparsed */
	const char *ns;           /* --ns NS; TF_DEFAULT_NS unless given */
	const char *id;           /* --id ID, or NULL: a new UUID */
	long long max_attempts;   /* --max-attempts N, checked; 0: the default */
	const char *name;         /* --name TEXT, or NULL: none */
	const char *description;  /* --description TEXT, or NULL: none */
	const char *callback;     /* --callback URL, or NULL: none */
	const char *failure_callback;  /* --failure-callback URL, or NULL */
	const char *flow_key;     /* --flow-key KEY, or NULL: none */
	const char *priority;     /* --priority P, unparsed, or NULL: normal */
};

/* The values of --callback, --failure-callback, --flow-key and --priority
 * (outside any command's letters and below cmd_targets.c's OPT_BASE). */
#define CLI_OPT_CALLBACK 900
#define CLI_OPT_FAILURE_CALLBACK 901
#define CLI_OPT_FLOW_KEY 902
#define CLI_OPT_PRIORITY 903

/* The getopt_long entries of those options, for a command's longopts array
 * (submit_option() knows their values: a n i m E C Z R U L D j and the
 * CLI_OPT_*CALLBACK ones). */
#define CLI_SUBMIT_LONGOPTS \
	{ "at", required_argument, NULL, 'a' }, \
	{ "ns", required_argument, NULL, 'n' }, \
	{ "id", required_argument, NULL, 'i' }, \
	{ "max-attempts", required_argument, NULL, 'm' }, \
	{ "every", required_argument, NULL, 'E' }, \
	{ "cron", required_argument, NULL, 'C' }, \
	{ "tz", required_argument, NULL, 'Z' }, \
	{ "max-runs", required_argument, NULL, 'R' }, \
	{ "until", required_argument, NULL, 'U' }, \
	{ "name", required_argument, NULL, 'L' }, \
	{ "description", required_argument, NULL, 'D' }, \
	{ "callback", required_argument, NULL, CLI_OPT_CALLBACK }, \
	{ "failure-callback", required_argument, NULL, CLI_OPT_FAILURE_CALLBACK }, \
	{ "flow-key", required_argument, NULL, CLI_OPT_FLOW_KEY }, \
	{ "priority", required_argument, NULL, CLI_OPT_PRIORITY }, \
	{ "json", no_argument, NULL, 'j' }

/* Prints the help lines of those options, --at to --json, on stdout. */
void submit_options_help(void);

/* Empties *o and sets the defaults. */
void submit_opts_init(struct submit_opts *o);

/* Takes one option getopt_long returned (ch, with optarg arg) into *o if it
 * is one of CLI_SUBMIT_LONGOPTS (--json sets c->json). Returns 0 when taken,
 * -1 when ch is not such an option, or EXIT_USAGE after a message. */
int submit_option(struct cli *c, const char *cmd, struct submit_opts *o,
    int ch, const char *arg);

/* The options every shorthand that builds a runner's params (`http`, `sqs`,
 * `sns`, ...) answers alike, after its own: --type and --params refused
 * (runner: the shorthand's), getopt_long's '?' and ':', and the submit
 * options. Returns 0 when ch was a submit option taken into *o, else the
 * exit code after a message. */
int submit_shorthand_option(struct cli *c, const char *cmd,
    struct submit_opts *o, const char *runner, int ch, const char *arg,
    char **argv);

/* Checks every option of o and type (a runner name that must be installed)
 * before anything is written, then creates the task with params_json (JSON
 * object text the caller has checked, or NULL for {}), sends its message
 * when it is due soon, and prints the id or, with --json, the result.
 * Every string is borrowed. Returns the exit code. */
int submit_create(struct cli *c, const char *cmd, const struct submit_opts *o,
    const char *type, const char *params_json);

/* The JSON of one due task: item as tf_manage_due() gives it (borrowed),
 * at now: {"id", "ns", "next_run", "overdue_ms", "gen", "enqueued_for",
 * "message"}, a line of `taskfleet due --json` and an entry of GET
 * /v1/due. NULL when the item has no id or out of memory; caller frees with
 * cJSON_Delete(). (In cmd_manage.c.) */
cJSON *cli_due_json(const struct cli *c, const cJSON *item, int64_t now);

/* {"ns", "deleted"}: what `taskfleet clear --json` prints and DELETE
 * /v1/namespaces/{ns} answers. NULL when out of memory; caller frees with
 * cJSON_Delete(). (In cmd_manage.c.) */
cJSON *cli_clear_json(const char *ns, int64_t deleted);

/* `pause --ns` / `resume --ns`'s JSON (cmd_pause.c), also the API's:
 * {"ns", "paused"}, with "resumed" and "failed" when not paused. Caller
 * frees with cJSON_Delete(); NULL when out of memory. */
cJSON *cli_ns_pause_json(const char *ns, bool paused, int64_t resumed,
    int64_t failed);

/* Adds the counts of `taskfleet stats` and GET /v1/stats to o: "ns" (ns or
 * null), "tasks" (by status, "other" when any, "total") and "legacy". False
 * when out of memory. */
bool cli_add_counts(cJSON *o, const char *ns,
    const struct tf_manage_counts *counts);

/* The commands. */
int cmd_submit(struct cli *c, int argc, char **argv);
int cmd_http(struct cli *c, int argc, char **argv);
/* `taskfleet sqs|sns|lambda|events|sfn`, by argv[0] (cmd_targets.c). */
int cmd_target(struct cli *c, int argc, char **argv);
int cmd_get(struct cli *c, int argc, char **argv);
int cmd_delete(struct cli *c, int argc, char **argv);
int cmd_list(struct cli *c, int argc, char **argv);
int cmd_suspend(struct cli *c, int argc, char **argv);
int cmd_resume(struct cli *c, int argc, char **argv);
/* cmd_pause.c: a whole namespace. `resume --ns NS` is cmd_resume_ns(). */
int cmd_pause(struct cli *c, int argc, char **argv);
int cmd_resume_ns(struct cli *c, int argc, char **argv);
/* cmd_limit.c: limits per key (list, set, rm). */
int cmd_limit(struct cli *c, int argc, char **argv);
int cmd_run_now(struct cli *c, int argc, char **argv);
int cmd_retry(struct cli *c, int argc, char **argv);
int cmd_edit(struct cli *c, int argc, char **argv);
int cmd_clear(struct cli *c, int argc, char **argv);
int cmd_due(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_adopt(struct cli *c, int argc, char **argv);
int cmd_dlq(struct cli *c, int argc, char **argv);
int cmd_serve(struct cli *c, int argc, char **argv);

#endif /* TF_PRODUCER_CLI_H */
