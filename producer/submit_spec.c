/*
 * submit_spec.c - checking the inputs of a new task (submit_spec.h): moved
 * here from cmd_submit.c so that the CLI and the REST API share every check
 * and every message.
 */
#include "submit_spec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aws/marshal.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "time/timefmt.h"
#include "webhook/callback.h"

static int fail(int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Writes the message into err and returns code. */
static int
fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

const char *
submit_name(enum submit_names names, const char *field)
{
	static const char *const map[][2] = {
		{ "type", "--type" }, { "params", "--params" }, { "at", "--at" },
		{ "every", "--every" }, { "cron", "--cron" }, { "tz", "--tz" },
		{ "max_runs", "--max-runs" }, { "until", "--until" },
		{ "ns", "--ns" }, { "id", "--id" },
		{ "max_attempts", "--max-attempts" },
		{ "name", "--name" }, { "description", "--description" },
		{ "callback", "--callback" },
		{ "failure_callback", "--failure-callback" },
		{ "flow_key", "--flow-key" },
		{ "priority", "--priority" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], field) == 0)
			return names == SUBMIT_FLAGS ? map[i][1] : map[i][0];
	return field;
}

#define N(f) submit_name(names, f)

int
submit_validate_params(const struct tf_runner_set *set, const char *type,
    const char *params_json, enum submit_names names, char *err,
    size_t errlen)
{
	const struct tf_loaded_runner *r;
	const char *p = params_json != NULL ? params_json : "{}";
	char why[TF_RUNNER_ERROR_SIZE];

	r = set != NULL ? tf_runner_set_find(set, type) : NULL;
	if (r == NULL ||
	    tf_runner_validate(r, p, strlen(p), why, sizeof(why)) == TF_OK)
		return 0;
	return fail(EXIT_USAGE, err, errlen, "%s: refused by runner \"%s\": %s",
	    N("params"), type, why);
}

/* Checks that a runner of this type is loaded: set, else the runners of
 * runners_path (TASKFLEET_RUNNERS, else the default place:
 * docs/configuration.md), as the consumers load them, and that it accepts
 * params_json (NULL: {}). EXIT_USAGE for a type that names no runner (the
 * message lists the known ones) or params it refuses, EXIT_FAILED when the
 * runners cannot be loaded to check it. */
static int
check_type(const struct tf_runner_set *set, const char *runners_path,
    enum submit_names names, const char *type, const char *params_json,
    char *err, size_t errlen)
{
	struct tf_runner_set *own = NULL;
	struct tf_buf known = TF_BUF_INIT;
	char lerr[512];
	size_t i, n;
	int code;

	if (set == NULL) {
		if (tf_runner_set_load(runners_path, &own, lerr, sizeof(lerr)) !=
		    TF_OK) {
			code = fail(EXIT_FAILED, err, errlen, "%s: cannot load the "
			    "runners to check \"%s\": %s (TASKFLEET_RUNNERS says where "
			    "they are)", N("type"), type, lerr);
			goto out;
		}
		set = own;
	}
	if (tf_runner_set_find(set, type) != NULL) {
		code = submit_validate_params(set, type, params_json, names, err,
		    errlen);
		goto out;
	}
	n = tf_runner_set_count(set);
	for (i = 0; i < n; i++) {
		if (tf_buf_appendf(&known, "%s%s", i ? ", " : "",
		    tf_loaded_runner_name(tf_runner_set_at(set, i))) != TF_OK) {
			code = fail(EXIT_FAILED, err, errlen, "out of memory");
			goto out;
		}
	}
	code = fail(EXIT_USAGE, err, errlen, "%s: no runner \"%s\" is installed "
	    "(known: %s)", N("type"), type, tf_buf_str(&known));
out:
	tf_buf_free(&known);
	tf_runner_set_free(own);
	return code;
}

int
submit_check_params(const char *text, size_t len, enum submit_names names,
    char *err, size_t errlen)
{
	char errbuf[512];
	cJSON *av = NULL;
	int code = EXIT_USAGE;

	/* The full length: a NUL byte inside the text is an error, not an end. */
	if (tf_marshal_value_json_text(text, len, &av, errbuf, sizeof(errbuf)) !=
	    TF_OK) {
		fail(code, err, errlen, "%s: %s", N("params"), errbuf);
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(av, "M") == NULL) {
		fail(code, err, errlen, "%s: must be a JSON object ({...})",
		    N("params"));
		goto out;
	}
	code = 0;
out:
	cJSON_Delete(av);
	return code;
}

int
submit_parse_max_attempts(const char *arg, enum submit_names names,
    long long *out, char *err, size_t errlen)
{
	if (!cli_parse_int(arg, 1, 1000, out))
		return fail(EXIT_USAGE, err, errlen, "%s: expected a number from 1 "
		    "to 1000, got \"%.32s\"", N("max_attempts"), arg);
	return 0;
}

/* The message of tf_schedule_parse(), naming the input rather than the
 * attribute ("schedule.cron: ..." or "cron: ..." becomes "--cron: ..."). */
static int
schedule_error(enum submit_names names, const char *msg, char *err,
    size_t errlen)
{
	static const char *const fields[] = {
		"every", "cron", "tz", "max_runs", "until",
	};
	size_t i, n;

	if (strncmp(msg, "schedule.", 9) == 0)
		msg += 9;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		n = strlen(fields[i]);
		if (strncmp(msg, fields[i], n) == 0 && msg[n] == ':')
			return fail(EXIT_USAGE, err, errlen, "%s%s", N(fields[i]),
			    msg + n);
	}
	return fail(EXIT_USAGE, err, errlen, "schedule: %s", msg);
}

/*
 * Builds the `schedule` attribute from the inputs ({"every": "30m"} or
 * {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin"}, with "max_runs" and
 * "until" in epoch ms) and checks it with tf_schedule_parse(). out->
 * schedule_json and out->sched stay NULL when no recurrence is asked for.
 * *until_ms: the until input, 0 when not given.
 */
static int
build_schedule(const struct submit_opts *o, enum submit_names names,
    int64_t now, struct submit_spec *out, int64_t *until_ms, char *err,
    size_t errlen)
{
	char errbuf[512];
	long long max_runs = 0;
	int64_t every_ms;
	int months;
	cJSON *j = NULL;

	*until_ms = 0;
	if (o->every != NULL && o->cron != NULL)
		return fail(EXIT_USAGE, err, errlen, "%s and %s exclude each other",
		    N("every"), N("cron"));
	if (o->tz != NULL && o->cron == NULL && o->every == NULL)
		return fail(EXIT_USAGE, err, errlen, "%s is the time zone of %s; "
		    "there is no %s", N("tz"), N("cron"), N("cron"));
	if (o->every == NULL && o->cron == NULL) {
		if (o->max_runs != NULL || o->until != NULL)
			return fail(EXIT_USAGE, err, errlen, "%s applies to a "
			    "recurring task: give %s or %s", o->max_runs ?
			    N("max_runs") : N("until"), N("every"), N("cron"));
		return 0;
	}
	if (o->every != NULL &&
	    tf_schedule_parse_every(o->every, &every_ms, &months, errbuf,
	    sizeof(errbuf)) != TF_OK)
		return fail(EXIT_USAGE, err, errlen, "%s: %s", N("every"), errbuf);
	if (o->tz != NULL && o->every != NULL && months == 0)
		return fail(EXIT_USAGE, err, errlen, "%s is the time zone of %s or "
		    "of calendar steps (%s 1mo, 1y); \"%s\" is a fixed interval",
		    N("tz"), N("cron"), N("every"), o->every);
	/* Up to 2^53: the number must survive a JSON double. */
	if (o->max_runs != NULL &&
	    !cli_parse_int(o->max_runs, 1, 9007199254740991LL, &max_runs))
		return fail(EXIT_USAGE, err, errlen, "%s: expected a whole number "
		    "of at least 1, got \"%.32s\"", N("max_runs"), o->max_runs);
	if (o->until != NULL) {
		if (tf_timefmt_parse(o->until, now, until_ms, errbuf,
		    sizeof(errbuf)) != TF_OK)
			return fail(EXIT_USAGE, err, errlen, "%s: %s", N("until"),
			    errbuf);
		if (*until_ms <= now)
			return fail(EXIT_USAGE, err, errlen, "%s: \"%s\" is already "
			    "past", N("until"), o->until);
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
		cJSON_Delete(j);
		return fail(EXIT_FAILED, err, errlen, "out of memory");
	}
	if (tf_schedule_parse(j, &out->sched, errbuf, sizeof(errbuf)) != TF_OK) {
		cJSON_Delete(j);
		return schedule_error(names, errbuf, err, errlen);
	}
	out->schedule_json = j;
	return 0;
}

int
submit_check_names(const struct submit_opts *o, const char *type,
    enum submit_names names, char *err, size_t errlen)
{
	if (!tf_task_type_valid(type))
		return fail(EXIT_USAGE, err, errlen, "%s: \"%.64s%s\" is not a "
		    "runner name (%s)", N("type"), type,
		    strlen(type) > 64 ? "..." : "", TF_TASK_TYPE_SYNTAX);
	if (!tf_task_ns_valid(o->ns))
		return fail(EXIT_USAGE, err, errlen, "%s: must be 1 to %d of A-Z "
		    "a-z 0-9 _ . -", N("ns"), TF_TASK_NS_MAX);
	if (o->id != NULL && !tf_task_id_valid(o->id)) {
		if (strlen(o->id) > TF_TASK_ID_MAX)
			return fail(EXIT_USAGE, err, errlen, "%s: too long (%zu "
			    "bytes; at most %d)", N("id"), strlen(o->id),
			    TF_TASK_ID_MAX);
		return fail(EXIT_USAGE, err, errlen, "%s: must be 1 to %d "
		    "printable characters without spaces", N("id"), TF_TASK_ID_MAX);
	}
	return 0;
}

/* Checks the optional name, description and callback URLs of o. */
static int
check_labels(const struct submit_opts *o, enum submit_names names, char *err,
    size_t errlen)
{
	char why[128];

	if (tf_task_label_check(TF_TASK_NAME, o->name, why, sizeof(why)) != TF_OK)
		return fail(EXIT_USAGE, err, errlen, "%s: %s", N("name"), why);
	if (tf_task_label_check(TF_TASK_DESCRIPTION, o->description, why,
	    sizeof(why)) != TF_OK)
		return fail(EXIT_USAGE, err, errlen, "%s: %s", N("description"),
		    why);
	if (tf_callback_url_check(o->callback, why, sizeof(why)) != TF_OK)
		return fail(EXIT_USAGE, err, errlen, "%s: %s", N("callback"), why);
	if (tf_callback_url_check(o->failure_callback, why, sizeof(why)) != TF_OK)
		return fail(EXIT_USAGE, err, errlen, "%s: %s",
		    N("failure_callback"), why);
	if (o->flow_key != NULL && !tf_task_flow_key_valid(o->flow_key))
		return fail(EXIT_USAGE, err, errlen, "%s: must be 1 to %d printable "
		    "characters without spaces or ';'", N("flow_key"),
		    TF_TASK_FLOW_KEY_MAX);
	return 0;
}

int
submit_spec_build(const struct submit_opts *o, const char *type,
    const char *params_json, enum submit_names names,
    const struct tf_runner_set *runners, const char *runners_path,
    int64_t now, int64_t horizon_ms, struct submit_spec *out,
    char *err, size_t errlen)
{
	char errbuf[512];
	int64_t next_run = now, until_ms = 0;
	int code;

	memset(out, 0, sizeof(*out));
	if ((code = submit_check_names(o, type, names, err, errlen)) != 0 ||
	    (code = check_labels(o, names, err, errlen)) != 0)
		return code;
	if (o->priority != NULL && !tf_priority_parse(o->priority,
	    &out->spec.priority))
		return fail(EXIT_USAGE, err, errlen, "%s: must be %s, got \"%.32s\"",
		    N("priority"), TF_PRIORITY_SYNTAX, o->priority);
	if (o->at != NULL) {
		if (tf_timefmt_parse(o->at, now, &next_run, errbuf,
		    sizeof(errbuf)) != TF_OK)
			return fail(EXIT_USAGE, err, errlen, "%s: %s", N("at"), errbuf);
		if (next_run <= 0)
			return fail(EXIT_USAGE, err, errlen, "%s: \"%s\" is not after "
			    "1970-01-01T00:00:00Z", N("at"), o->at);
	}
	if ((code = build_schedule(o, names, now, out, &until_ms, err,
	    errlen)) != 0)
		return code;
	if (out->sched != NULL && o->at != NULL && until_ms > 0 &&
	    next_run > until_ms)
		return fail(EXIT_USAGE, err, errlen, "%s: \"%s\" is after %s",
		    N("at"), o->at, N("until"));
	if (out->sched != NULL && o->at == NULL) {
		/* now for every, the next slot for cron. */
		next_run = tf_schedule_first(out->sched, now);
		if (next_run <= 0) {
			if (o->until != NULL)
				return fail(EXIT_USAGE, err, errlen, "%s: the schedule "
				    "has no run before \"%s\"", N("until"), o->until);
			return fail(EXIT_USAGE, err, errlen, "%s: \"%s\" has no time "
			    "to run at", N("cron"), o->cron ? o->cron : "");
		}
	}
	if ((code = submit_spec_anchor(out, next_run, err, errlen)) != 0)
		return code;
	/* Last, as it may load the runners: the cheap checks come first. */
	if ((code = check_type(runners, runners_path, names, type, params_json,
	    err, errlen)) != 0)
		return code;
	out->spec.id = o->id;
	out->spec.ns = o->ns;
	out->spec.type = type;
	out->spec.params_json = params_json;
	out->spec.next_run = next_run;
	out->spec.max_attempts = o->max_attempts;
	out->spec.name = o->name;
	out->spec.description = o->description;
	out->spec.callback = o->callback;
	out->spec.failure_callback = o->failure_callback;
	out->spec.flow_key = o->flow_key;
	out->spec.schedule = out->schedule_json;
	out->spec.horizon_ms = horizon_ms;
	return 0;
}

int
submit_spec_anchor(struct submit_spec *s, int64_t at, char *err,
    size_t errlen)
{
	cJSON *n;

	if (s->sched == NULL || !tf_schedule_wants_anchor(s->sched))
		return 0;
	n = cJSON_CreateNumber((double)at);
	if (n == NULL)
		return fail(EXIT_FAILED, err, errlen, "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(s->schedule_json, "anchor");
	if (!cJSON_AddItemToObject(s->schedule_json, "anchor", n)) {
		cJSON_Delete(n);
		return fail(EXIT_FAILED, err, errlen, "out of memory");
	}
	return 0;
}

int
submit_patch_schedule(struct submit_opts *o, const struct tf_task *t,
    const char *params_json, enum submit_names names,
    const struct tf_runner_set *runners, int64_t now, int64_t horizon_ms,
    struct submit_spec *out, struct tf_manage_patch *p, char *err,
    size_t errlen)
{
	int code;

	o->ns = t->ns;
	code = submit_spec_build(o, t->type, params_json != NULL ? params_json :
	    t->params_json, names, runners, NULL, now, horizon_ms, out, err,
	    errlen);
	if (code != 0)
		return code;
	p->schedule = out->schedule_json;
	if (o->at != NULL)
		p->next_run = out->spec.next_run;
	else if (o->cron != NULL && t->schedule == NULL && t->next_run > now) {
		/* A one-shot task becomes recurring from its time: the first
		 * slot at or after it. */
		p->next_run = tf_schedule_first(out->sched, t->next_run);
		if (p->next_run <= 0)
			return fail(EXIT_USAGE, err, errlen, "%s: the schedule has no "
			    "run after the task's next run", N("cron"));
	} else if (o->cron != NULL) {
		p->next_run = out->spec.next_run;
	} else {
		/* An interval keeps the task's time (and calendar steps its
		 * day and time). */
		return submit_spec_anchor(out, t->next_run, err, errlen);
	}
	return 0;
}

void
submit_spec_free(struct submit_spec *s)
{
	if (s == NULL)
		return;
	tf_schedule_free(s->sched);
	cJSON_Delete(s->schedule_json);
	s->sched = NULL;
	s->schedule_json = NULL;
}

int
submit_read_params_field(const cJSON *f, const cJSON *av, char **out,
    char *err, size_t errlen)
{
	char errbuf[256];

	if (!cJSON_IsObject(f)) {
		snprintf(err, errlen, "params: must be a JSON object ({...})");
		return EXIT_USAGE;
	}
	if (tf_unmarshal_value_to_json_text(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(av, "M"), "params"), out, errbuf,
	    sizeof(errbuf)) != TF_OK) {
		snprintf(err, errlen, "params: %s", errbuf);
		return EXIT_USAGE;
	}
	return submit_check_params(*out, strlen(*out), SUBMIT_FIELDS, err, errlen);
}

int
submit_parse_task(const cJSON *item, const cJSON *av, struct submit_json_task *jt,
    char *err, size_t errlen)
{
	static const char *const strings[] = { "at", "every", "cron", "tz",
	    "until", "ns", "id", "name", "description", "callback",
	    "failure_callback", "flow_key", "priority" };
	const char **dest[] = { &jt->o.at, &jt->o.every, &jt->o.cron,
	    &jt->o.tz, &jt->o.until, &jt->o.ns, &jt->o.id, &jt->o.name,
	    &jt->o.description, &jt->o.callback, &jt->o.failure_callback,
	    &jt->o.flow_key, &jt->o.priority };
	const cJSON *f;
	char num[40];
	size_t i;
	int code;

	submit_opts_init(&jt->o);
	jt->type = NULL;
	jt->params = NULL;
	if (!cJSON_IsObject(item)) {
		snprintf(err, errlen, "expected a task object ({\"type\": ...})");
		return EXIT_USAGE;
	}
	cJSON_ArrayForEach(f, item) {
		for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
			if (strcmp(f->string, strings[i]) == 0)
				break;
		if (i < sizeof(strings) / sizeof(strings[0])) {
			if (cJSON_IsNull(f))
				continue;
			if (!cJSON_IsString(f)) {
				snprintf(err, errlen, "%s: expected a string", f->string);
				return EXIT_USAGE;
			}
			*dest[i] = f->valuestring;
		} else if (strcmp(f->string, "type") == 0) {
			if (!cJSON_IsString(f)) {
				snprintf(err, errlen, "type: expected a string, a runner name");
				return EXIT_USAGE;
			}
			jt->type = f->valuestring;
		} else if (strcmp(f->string, "max_runs") == 0 ||
		    strcmp(f->string, "max_attempts") == 0) {
			if (cJSON_IsNull(f))
				continue;
			if (!cJSON_IsNumber(f)) {
				snprintf(err, errlen, "%s: expected a number", f->string);
				return EXIT_USAGE;
			}
			snprintf(num, sizeof(num), "%.17g", f->valuedouble);
			if (f->string[4] == 'r') {
				memcpy(jt->max_runs, num, sizeof(num));
				jt->o.max_runs = jt->max_runs;
			} else if ((code = submit_parse_max_attempts(num, SUBMIT_FIELDS,
			    &jt->o.max_attempts, err, errlen)) != 0) {
				return code;
			}
		} else if (strcmp(f->string, "params") == 0) {
			if (cJSON_IsNull(f))
				continue;
			if ((code = submit_read_params_field(f, av, &jt->params, err,
			    errlen)) != 0)
				return code;
		} else {
			snprintf(err, errlen, "unknown field \"%.40s\"", f->string);
			return EXIT_USAGE;
		}
	}
	if (jt->type == NULL) {
		snprintf(err, errlen, "type: required (the runner that runs it)");
		return EXIT_USAGE;
	}
	return 0;
}

void
submit_json_task_free(struct submit_json_task *jt)
{
	if (jt == NULL)
		return;
	tf_free(jt->params);
	jt->params = NULL;
}
