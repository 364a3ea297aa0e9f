/*
 * api_preview.c - GET /v1/schedule/preview (api_handlers.h): the next run
 * times of a schedule, for the console's form.
 */
#include "api_handlers.h"

#include <stdint.h>
#include <string.h>

#include "base/clock.h"
#include "time/schedule.h"
#include "time/timefmt.h"

/* --- GET /v1/schedule/preview ------------------------------------------- */

#define PREVIEW_DEFAULT 5
#define PREVIEW_MAX 50

static enum MHD_Result preview_invalid(struct rq *rq, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Replies 200 {"runs": [], "times": [], "error": {"code": "invalid_field",
 * "message": ...}}: the preview's answer for a schedule that does not parse.
 * The console previews what the user is typing, so "this is not a schedule,
 * because ..." is the answer it asked for, not a malformed request (and a
 * 400 would be logged as a failed load by the browser at each keystroke). */
static enum MHD_Result
preview_invalid(struct rq *rq, const char *fmt, ...)
{
	enum MHD_Result ret;
	va_list ap;

	va_start(ap, fmt);
	ret = api_reply_error_v(rq, MHD_HTTP_OK, "invalid_field", true, fmt, ap);
	va_end(ap);
	return ret;
}

/* The next run times of a schedule, for the console's form: every or cron
 * (with tz), optional max_runs and until, from at (default: the schedule's
 * first run from now); or a one-shot at alone. The schedule is checked by
 * tf_schedule_parse(), as submit's is; a value that does not parse is
 * answered by preview_invalid(), a malformed query (unknown parameter, bad
 * count, nothing or too much to preview) by 400. */
enum MHD_Result
api_schedule_preview(struct rq *rq)
{
	static const char *const allowed[] = { "every", "cron", "tz", "at",
	    "count", "max_runs", "until", NULL };
	const char *every = api_query(rq, "every"), *cron = api_query(rq, "cron");
	const char *tz = api_query(rq, "tz"), *at = api_query(rq, "at");
	const char *mr = api_query(rq, "max_runs"), *until = api_query(rq, "until");
	const char *v;
	struct tf_schedule *sched = NULL;
	char err[512], iso[TF_TIMEFMT_ISO_SIZE];
	long long count = PREVIEW_DEFAULT, max_runs = 0;
	int64_t now = tf_now_ms(), when = now, until_ms = 0, first;
	cJSON *out = NULL, *sj = NULL, *runs, *times;
	enum MHD_Result ret;
	int i;

	if (!api_check_query(rq, allowed, &ret))
		return ret;
	if ((v = api_query(rq, "count")) != NULL &&
	    !cli_parse_int(v, 1, PREVIEW_MAX, &count))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "count: expected a number from 1 to %d, got \"%.32s\"",
		    PREVIEW_MAX, v);
	if (every != NULL && cron != NULL)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "every and cron exclude each other");
	if (tz != NULL && cron == NULL && every == NULL)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "tz is the time zone of cron; there is no cron");
	if (every == NULL && cron == NULL && (mr != NULL || until != NULL))
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "%s applies to a recurring task: give every or cron",
		    mr != NULL ? "max_runs" : "until");
	if (every == NULL && cron == NULL && at == NULL)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field",
		    "give every, cron (with tz) or at");
	if (at != NULL && (tf_timefmt_parse(at, now, &when, err,
	    sizeof(err)) != TF_OK || when <= 0))
		return preview_invalid(rq, "at: %s",
		    when <= 0 ? "not after 1970-01-01T00:00:00Z" : err);
	if (mr != NULL && !cli_parse_int(mr, 1, 9007199254740991LL, &max_runs))
		return preview_invalid(rq,
		    "max_runs: expected a whole number of at least 1, got \"%.32s\"",
		    mr);
	if (until != NULL && tf_timefmt_parse(until, now, &until_ms, err,
	    sizeof(err)) != TF_OK)
		return preview_invalid(rq, "until: %s", err);
	out = cJSON_CreateObject();
	runs = cJSON_AddArrayToObject(out, "runs");
	times = cJSON_AddArrayToObject(out, "times");
	if (runs == NULL || times == NULL)
		goto oom;
	if (every != NULL || cron != NULL) {
		sj = cJSON_CreateObject();
		if (sj == NULL ||
		    (every != NULL && cJSON_AddStringToObject(sj, "every", every) == NULL) ||
		    (cron != NULL && cJSON_AddStringToObject(sj, "cron", cron) == NULL) ||
		    (tz != NULL && cJSON_AddStringToObject(sj, "tz", tz) == NULL) ||
		    (mr != NULL && cJSON_AddNumberToObject(sj, "max_runs",
		    (double)max_runs) == NULL) ||
		    (until != NULL && cJSON_AddNumberToObject(sj, "until",
		    (double)until_ms) == NULL))
			goto oom;
		if (tf_schedule_parse(sj, &sched, err, sizeof(err)) != TF_OK) {
			ret = preview_invalid(rq, "%s",
			    strncmp(err, "schedule.", 9) == 0 ? err + 9 : err);
			goto out;
		}
		if (at == NULL)
			when = tf_schedule_first(sched, now);
		else if (until != NULL && when > until_ms)
			when = 0;
		if (!cJSON_AddItemToObject(out, "schedule", sj))
			goto oom;
		sj = NULL;
	}
	/* Slots count from the first run: calendar steps keep its day. */
	first = when;
	for (i = 0; i < count && when > 0; i++) {
		if (!cJSON_AddItemToArray(runs, cJSON_CreateNumber((double)when)) ||
		    !cJSON_AddItemToArray(times, cJSON_CreateString(
		    tf_timefmt_format(when, iso, sizeof(iso)))))
			goto oom;
		if (sched == NULL)
			break;
		when = tf_schedule_next(sched, first, when, i + 1);
	}
	ret = api_reply_json(rq, MHD_HTTP_OK, out);
	goto out;
oom:
	ret = api_oom(rq);
out:
	tf_schedule_free(sched);
	cJSON_Delete(sj);
	cJSON_Delete(out);
	return ret;
}
