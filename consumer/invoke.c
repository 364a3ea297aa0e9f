/* invoke.c - calling a runner for one run, and the settings that decide how
 * (see invoke.h). */
#include "invoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "isolate.h"
#include "time/timefmt.h"

/* ---- settings --------------------------------------------------------- */

/* Cuts the next comma-separated element off *rest (a writable copy) and
 * trims spaces around it; NULL when none is left. */
static char *
next_element(char **rest)
{
	char *e = *rest, *comma, *end;

	if (e == NULL)
		return NULL;
	comma = strchr(e, ',');
	if (comma != NULL) {
		*comma = '\0';
		*rest = comma + 1;
	} else {
		*rest = NULL;
	}
	while (*e == ' ' || *e == '\t')
		e++;
	end = e + strlen(e);
	while (end > e && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return e;
}

/* Writes "a, b, c" (the loaded runners' names) into out for a message. */
static void
loaded_names(const struct tf_runner_set *set, char *out, size_t len)
{
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < tf_runner_set_count(set) && used < len; i++) {
		n = snprintf(out + used, len - used, "%s%s", i > 0 ? ", " : "",
		    tf_loaded_runner_name(tf_runner_set_at(set, i)));
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Writes the message for a runner name the set does not have. */
static void
not_loaded(const char *setting, const char *name,
    const struct tf_runner_set *set, char *err, size_t errlen)
{
	char names[512];

	loaded_names(set, names, sizeof(names));
	snprintf(err, errlen, "%s: runner \"%s\" is not loaded (loaded: %s)",
	    setting, name, names);
}

/* Marks the runners value v (from `setting`) names as isolated. */
static enum tf_err
apply_isolate(const char *setting, const char *v, struct tf_runner_set *set,
    char *err, size_t errlen)
{
	enum tf_err rc = TF_OK;
	char *copy, *rest, *name;
	size_t i;

	if (v == NULL || *v == '\0')
		return TF_OK;
	if ((copy = tf_strdup(v)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", setting);
		return TF_ERR_NOMEM;
	}
	rest = copy;
	while ((name = next_element(&rest)) != NULL) {
		if (*name == '\0') {
			rc = TF_ERR_INVALID;
			snprintf(err, errlen, "%s: an empty runner name in \"%s\" "
			    "(expected names separated by commas, or *)", setting, v);
			break;
		}
		if (strcmp(name, "*") == 0) {
			for (i = 0; i < tf_runner_set_count(set); i++)
				tf_runner_set_isolate(set, tf_loaded_runner_name(
				    tf_runner_set_at(set, i)));
		} else if (tf_runner_set_isolate(set, name) != TF_OK) {
			rc = TF_ERR_INVALID;
			not_loaded(setting, name, set, err, errlen);
			break;
		}
	}
	tf_free(copy);
	return rc;
}

/* Parses one time limit: a DURATION, "0s" for none. */
static enum tf_err
parse_limit(const char *setting, const char *dur, int64_t *ms, char *err,
    size_t errlen)
{
	char why[256];

	if (tf_timefmt_parse_duration(dur, ms, why, sizeof(why)) != TF_OK) {
		snprintf(err, errlen, "%s: %s (expected a duration such as 30s, "
		    "500ms or 5m, or name=duration,...)", setting, why);
		return TF_ERR_INVALID;
	}
	if (*ms > TF_RUN_TIMEOUT_MAX_MS) {
		snprintf(err, errlen, "%s: \"%s\" is longer than a year", setting,
		    dur);
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

/* Sets the time limits value v (from `setting`) gives. */
static enum tf_err
apply_timeouts(const char *setting, const char *v, struct tf_runner_set *set,
    char *err, size_t errlen)
{
	enum tf_err rc = TF_ERR_NOMEM;
	const struct tf_loaded_runner *lr;
	char *copy = NULL, *rest, *elem, *eq, *name, *dur;
	int64_t *limits = NULL, star = -1, ms;
	size_t count = tf_runner_set_count(set), i;

	if (v == NULL || *v == '\0')
		return TF_OK;
	if ((copy = tf_strdup(v)) == NULL ||
	    (limits = tf_malloc((count > 0 ? count : 1) * sizeof(*limits))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", setting);
		goto out;
	}
	for (i = 0; i < count; i++)
		limits[i] = -1;
	rc = TF_ERR_INVALID;
	rest = copy;
	while ((elem = next_element(&rest)) != NULL) {
		eq = strchr(elem, '=');
		if (eq != NULL) {
			*eq = '\0';
			name = elem;
			dur = eq + 1;
			while (*dur == ' ')
				dur++;
			for (eq = name + strlen(name); eq > name && eq[-1] == ' '; )
				*--eq = '\0';
		} else {
			name = NULL;
			dur = elem;
		}
		if (*dur == '\0' || (name != NULL && *name == '\0')) {
			snprintf(err, errlen, "%s: an empty element in \"%s\" (expected "
			    "a duration, or name=duration,...)", setting, v);
			goto out;
		}
		if (parse_limit(setting, dur, &ms, err, errlen) != TF_OK)
			goto out;
		if (name == NULL || strcmp(name, "*") == 0) {
			if (star >= 0) {
				snprintf(err, errlen, "%s: the limit for all runners is "
				    "given twice in \"%s\"", setting, v);
				goto out;
			}
			star = ms;
			continue;
		}
		for (i = 0; i < count; i++) {
			lr = tf_runner_set_at(set, i);
			if (strcmp(tf_loaded_runner_name(lr), name) == 0)
				break;
		}
		if (i == count) {
			not_loaded(setting, name, set, err, errlen);
			goto out;
		}
		if (limits[i] >= 0) {
			snprintf(err, errlen, "%s: runner \"%s\" is given twice",
			    setting, name);
			goto out;
		}
		limits[i] = ms;
	}
	for (i = 0; i < count; i++) {
		ms = limits[i] >= 0 ? limits[i] : star >= 0 ? star : 0;
		tf_runner_set_time_limit(set,
		    tf_loaded_runner_name(tf_runner_set_at(set, i)), ms);
	}
	rc = TF_OK;
out:
	tf_free(limits);
	tf_free(copy);
	return rc;
}

enum tf_err
tf_consumer_policy(const struct tf_consumer_opts *o, struct tf_runner_set *set,
    char *err, size_t errlen)
{
	const char *iso = o->isolate, *tmo = o->run_timeout;
	const char *iso_name = "--isolate", *tmo_name = "--run-timeout";
	enum tf_err rc;
	size_t i;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (iso == NULL) {
		iso = getenv("TASKFLEET_ISOLATE");
		iso_name = "TASKFLEET_ISOLATE";
	}
	if (tmo == NULL) {
		tmo = getenv("TASKFLEET_RUN_TIMEOUT");
		tmo_name = "TASKFLEET_RUN_TIMEOUT";
	}
	rc = apply_isolate(iso_name, iso, set, err, errlen);
	if (rc == TF_OK)
		rc = apply_timeouts(tmo_name, tmo, set, err, errlen);
	if (rc != TF_OK)
		return rc;
	for (i = 0; i < tf_runner_set_count(set); i++) {
		const struct tf_loaded_runner *lr = tf_runner_set_at(set, i);
		char limit[TF_TIMEFMT_DUR_SIZE];

		if (!tf_loaded_runner_isolated(lr) &&
		    tf_loaded_runner_time_limit_ms(lr) == 0)
			continue;
		if (tf_loaded_runner_time_limit_ms(lr) > 0)
			tf_timefmt_format_duration(tf_loaded_runner_time_limit_ms(lr),
			    limit, sizeof(limit));
		else
			snprintf(limit, sizeof(limit), "none");
		tf_log(TF_LOG_INFO, "runner %s: %s, time limit %s",
		    tf_loaded_runner_name(lr), tf_loaded_runner_isolated(lr) ?
		    "isolated" : "in process", limit);
	}
	return TF_OK;
}

/* ---- running ---------------------------------------------------------- */

void
tf_run_overrun(struct tf_run_result *result, struct tf_run_ctx *ctx,
    int64_t limit_ms)
{
	result->outcome = TF_RUN_RETRY;
	result->completed = 0;
	result->new_target_timestamp = 0;
	result->retry_after_ms = 0;
	if (result->error != NULL && result->error_size > 0)
		snprintf(result->error, result->error_size, "run exceeded its time "
		    "limit of %lld ms", (long long)limit_ms);
	tf_run_ctx_clear(ctx);
}

/* Sets the run's deadline (in ctx->f and view) from lr's time limit, now;
 * returns it (0: none). */
static int64_t
set_deadline(const struct tf_loaded_runner *lr, struct tf_task_view *view,
    struct tf_run_ctx *ctx)
{
	int64_t limit = tf_loaded_runner_time_limit_ms(lr), deadline = 0;

	if (limit > 0)
		deadline = tf_now_ms() + limit;
	if (ctx->f != NULL)
		ctx->f->deadline_ms = deadline;
	view->deadline_ms = deadline;
	return deadline;
}

/* A run that ends after its deadline did not keep to its limit: whatever
 * it reports is not taken. */
static void
check_overrun(const struct tf_loaded_runner *lr, int64_t deadline,
    struct tf_run_result *result, struct tf_run_ctx *ctx)
{
	if (deadline > 0 && tf_now_ms() >= deadline)
		tf_run_overrun(result, ctx, tf_loaded_runner_time_limit_ms(lr));
}

bool
tf_consumer_begin(struct tf_consumer *c, const struct tf_loaded_runner *lr,
    struct tf_task_view *view, struct tf_run_result *result,
    struct tf_run_ctx *ctx, int slot, tf_async_done_fn *done, void *arg)
{
	int64_t deadline = set_deadline(lr, view, ctx);
	bool pending;

	if (tf_async_run_begin(c, ctx, slot, done, arg) != TF_OK) {
		result->outcome = TF_RUN_RETRY;
		snprintf(result->error, result->error_size, "consumer %s could not "
		    "begin the run on its event loop", c->o.owner);
		return false;
	}
	tf_journal_enter(c->journal, slot);
	pending = tf_runner_start(lr, view, result);
	tf_journal_leave(c->journal);
	if (!pending) {
		tf_async_run_drop(ctx);
		check_overrun(lr, deadline, result, ctx);
	}
	return pending;
}

void
tf_consumer_begun_end(const struct tf_loaded_runner *lr,
    const struct tf_task_view *view, struct tf_run_result *result,
    char *errbuf, size_t errsize, struct tf_run_ctx *ctx)
{
	tf_run_result_settle(lr, result, errbuf, errsize);
	check_overrun(lr, view->deadline_ms, result, ctx);
}

void
tf_consumer_invoke(struct tf_consumer *c, const struct tf_loaded_runner *lr,
    struct tf_task_view *view, struct tf_run_result *result,
    struct tf_run_ctx *ctx)
{
	int64_t deadline = set_deadline(lr, view, ctx);

	if (tf_loaded_runner_isolated(lr)) {
		tf_isolate_run(c, lr, view, result, ctx);
		return;
	}
	tf_runner_invoke(lr, view, result);
	check_overrun(lr, deadline, result, ctx);
}
