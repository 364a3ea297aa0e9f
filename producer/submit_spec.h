/*
 * submit_spec.h - the checks that turn the inputs of a new task (submit's
 * flags, or the fields of a POST /v1/tasks body) into a struct tf_task_spec.
 *
 * `taskfleet submit`, `taskfleet http` and the REST API (api_create.c) all go
 * through these functions, so a task is validated the same way whichever
 * door it comes in by. The functions print nothing: a message goes into the
 * caller's buffer, naming the input the way the caller's user knows it
 * (SUBMIT_FLAGS: "--max-runs: ...", SUBMIT_FIELDS: "max_runs: ...").
 *
 * Return values: 0, EXIT_USAGE (bad input; nothing was written) or
 * EXIT_FAILED (the check itself could not be made: out of memory, the
 * runners cannot be loaded), with a one-line message in err.
 */
#ifndef TF_PRODUCER_SUBMIT_SPEC_H
#define TF_PRODUCER_SUBMIT_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "task/runners.h"
#include "task/task.h"
#include "task/task_manage.h"
#include "time/schedule.h"

/* How messages name an input. */
enum submit_names {
	SUBMIT_FLAGS,     /* the CLI's flags: --type, --max-runs */
	SUBMIT_FIELDS     /* JSON fields: type, max_runs */
};

/* A checked task: spec is ready for tf_task_create(). Its strings are
 * borrowed from the inputs given to submit_spec_build(); schedule_json and
 * sched are owned (submit_spec_free()). */
struct submit_spec {
	struct tf_task_spec spec;
	cJSON *schedule_json;        /* plain JSON, NULL when not recurring */
	struct tf_schedule *sched;   /* parsed schedule, NULL when not recurring */
};

/* The name of input field ("max_runs") as names says: "--max-runs" or
 * "max_runs". Returns a static string. */
const char *submit_name(enum submit_names names, const char *field);

/* Checks the syntax of type (whether a runner has it is
 * submit_spec_build()'s question), o->ns and o->id. */
int submit_check_names(const struct submit_opts *o, const char *type,
    enum submit_names names, char *err, size_t errlen);

/* Checks params text (len bytes, which may hold a NUL: that is an error)
 * is a JSON object DynamoDB can hold. */
int submit_check_params(const char *text, size_t len, enum submit_names names,
    char *err, size_t errlen);

/*
 * Asks the runner of type in set (borrowed; NULL or a set without it: 0,
 * nothing to ask) whether it accepts params_json (NULL: {}), with its own
 * validate() entry (tf_runner_validate()). EXIT_USAGE with "params: refused
 * by runner \"T\": <the runner's message>" when it does not.
 */
int submit_validate_params(const struct tf_runner_set *set, const char *type,
    const char *params_json, enum submit_names names, char *err,
    size_t errlen);

/* Parses a max-attempts value, 1 to 1000, into *out. */
int submit_parse_max_attempts(const char *arg, enum submit_names names,
    long long *out, char *err, size_t errlen);

/*
 * Checks every input of a new task at now (epoch ms), the cheap checks
 * first and the runner type last (it must be installed, and accept the
 * params: submit_validate_params()), and fills *out (emptied first; free it
 * with submit_spec_free() whatever this returns). params_json: checked
 * already (submit_check_params()), or NULL for {}. runners: the loaded
 * runner set to check type against (borrowed), or NULL to load
 * runners_path (TASKFLEET_RUNNERS; NULL: the default place) just for the
 * check. horizon_ms: the enqueue horizon put into the spec.
 */
int submit_spec_build(const struct submit_opts *o, const char *type,
    const char *params_json, enum submit_names names,
    const struct tf_runner_set *runners, const char *runners_path,
    int64_t now, int64_t horizon_ms, struct submit_spec *out,
    char *err, size_t errlen);

/* Makes at (epoch ms) the anchor of a calendar schedule ("every": "1mo"):
 * the day of month and wall-clock time its runs keep (schedule.h). Sets or
 * replaces "anchor" in s->schedule_json; nothing for other schedules or
 * none. submit_spec_build() anchors at the first run; a PATCH that keeps
 * the task's time anchors at that. 0, or EXIT_FAILED (out of memory) with
 * the message in err. */
int submit_spec_anchor(struct submit_spec *s, int64_t at, char *err,
    size_t errlen);

/*
 * The schedule of a PATCH of task t (borrowed), for the API's PATCH and
 * `taskfleet edit`: o's every, cron, tz, max_runs and until replace the
 * schedule whole, and o->at is the new next run; all are checked as
 * submit_spec_build() checks them, on the task's own type and namespace (it
 * sets o->ns to t's) and with params_json (NULL: the task's own). Fills
 * *out (free it with submit_spec_free() whatever this returns) and sets
 * p->schedule (borrowed from *out) and p->next_run: o->at, or a new cron
 * schedule's first slot from now (for a one-shot task due later, its first
 * slot at or after that time); an interval keeps the task's time, so a
 * one-shot task becomes recurring from its next run (calendar steps are
 * anchored at it: submit_spec_anchor()).
 */
int submit_patch_schedule(struct submit_opts *o, const struct tf_task *t,
    const char *params_json, enum submit_names names,
    const struct tf_runner_set *runners, int64_t now, int64_t horizon_ms,
    struct submit_spec *out, struct tf_manage_patch *p, char *err,
    size_t errlen);

/* A task given as a JSON object: a POST /v1/tasks body (or one of its
 * batch) or a line of `submit --file`. */
struct submit_json_task {
	struct submit_opts o;      /* strings borrowed from the object's tree,
	                              or from max_runs below */
	const char *type;          /* borrowed likewise */
	char *params;              /* owned: the exact JSON text, or NULL */
	char max_runs[40];
};

/*
 * Reads the fields of task object item (borrowed; av: the same object
 * marshalled with exact numbers, tf_marshal_value_json_text()) into *jt
 * (free it with submit_json_task_free() whatever this returns): type,
 * params, at, every, cron, tz, max_runs, until, ns, id, max_attempts, name
 * description and priority; null is the same as absent, any other field is refused.
 * Returns 0, or EXIT_USAGE / EXIT_FAILED with a message naming the field.
 */
int submit_parse_task(const cJSON *item, const cJSON *av,
    struct submit_json_task *jt, char *err, size_t errlen);

void submit_json_task_free(struct submit_json_task *jt);

/* Reads a JSON body's "params" field f (borrowed; an object) as its exact
 * text from av (borrowed: the same body marshalled) into *out (caller frees
 * with tf_free()), and checks it as submit does. Returns 0 or EXIT_USAGE
 * with the reason in err. */
int submit_read_params_field(const cJSON *f, const cJSON *av, char **out,
    char *err, size_t errlen);

/* Frees what submit_spec_build() put into s; s may be NULL. */
void submit_spec_free(struct submit_spec *s);

#endif /* TF_PRODUCER_SUBMIT_SPEC_H */
