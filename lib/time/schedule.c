/* schedule.c - recurrence: the `schedule` attribute of a task
 * (docs/design.md section 2). */
#include "time/schedule.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "time/cron.h"
#include "time/timefmt.h"
#include "time/tz.h"

/* The largest integer a JSON number (a double) holds exactly. */
#define MAX_EXACT 9007199254740992.0

struct tf_schedule {
	int64_t every_ms;          /* > 0: an "every" schedule; 0: cron */
	struct tf_cron cron;       /* cron schedules */
	const struct tf_tz *tz;    /* cron schedules; borrowed from the zone cache */
	int64_t max_runs;          /* 0: no limit */
	bool has_until;
	int64_t until_ms;          /* no run after this (when has_until) */
};

/* Reads an integral JSON number within lo..hi into *out. */
static bool
get_integer(const cJSON *v, double lo, double hi, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < lo || d > hi)
		return false;
	*out = (int64_t)d;
	return true;
}

static enum tf_err
parse_every(struct tf_schedule *s, const cJSON *v, char *errbuf, size_t errlen)
{
	char msg[200];

	if (!cJSON_IsString(v)) {
		tf_errf(errbuf, errlen, "schedule.every: must be a string such as "
		    "\"30m\"");
		return TF_ERR_INVALID;
	}
	if (tf_timefmt_parse_duration(v->valuestring, &s->every_ms, msg,
	    sizeof(msg)) != TF_OK) {
		tf_errf(errbuf, errlen, "schedule.every: %s", msg);
		return TF_ERR_INVALID;
	}
	if (s->every_ms < 1000) {
		tf_errf(errbuf, errlen, "schedule.every: \"%.40s\": must be at least 1s",
		    v->valuestring);
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

static enum tf_err
parse_cron(struct tf_schedule *s, const cJSON *v, char *errbuf, size_t errlen)
{
	char msg[200];
	const char *m = msg;

	if (!cJSON_IsString(v)) {
		tf_errf(errbuf, errlen, "schedule.cron: must be a string such as "
		    "\"0 9 * * 1-5\"");
		return TF_ERR_INVALID;
	}
	if (tf_cron_parse(v->valuestring, &s->cron, msg, sizeof(msg)) != TF_OK) {
		if (strncmp(m, "cron: ", 6) == 0)
			m += 6;
		tf_errf(errbuf, errlen, "schedule.cron: %s", m);
		return TF_ERR_INVALID;
	}
	if (!tf_cron_is_possible(&s->cron)) {
		tf_errf(errbuf, errlen, "schedule.cron: \"%.60s\" never fires (no such "
		    "day in the months it names)", v->valuestring);
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

enum tf_err
tf_schedule_parse(const cJSON *json, struct tf_schedule **out, char *errbuf,
    size_t errlen)
{
	static const char *const keys[] = {
		"every", "cron", "tz", "max_runs", "until", NULL
	};
	enum tf_err rc = TF_ERR_INVALID;
	const cJSON *item, *found[5] = { NULL, NULL, NULL, NULL, NULL };
	struct tf_schedule *s = NULL;
	char msg[200];
	int k;

	*out = NULL;
	if (!cJSON_IsObject(json)) {
		tf_errf(errbuf, errlen, "schedule: must be an object such as "
		    "{\"every\": \"30m\"}");
		goto out;
	}
	cJSON_ArrayForEach(item, json) {
		for (k = 0; keys[k] != NULL; k++) {
			if (item->string != NULL && strcmp(item->string, keys[k]) == 0)
				break;
		}
		if (keys[k] == NULL) {
			tf_errf(errbuf, errlen, "schedule: unknown key \"%.40s\" (want every, "
			    "cron, tz, max_runs, until)",
			    item->string != NULL ? item->string : "");
			goto out;
		}
		if (found[k] != NULL) {
			tf_errf(errbuf, errlen, "schedule: duplicate key \"%s\"", keys[k]);
			goto out;
		}
		found[k] = item;
	}
	if (found[0] == NULL && found[1] == NULL) {
		tf_errf(errbuf, errlen, "schedule: needs \"every\" (an interval) or "
		    "\"cron\" (an expression)");
		goto out;
	}
	if (found[0] != NULL && found[1] != NULL) {
		tf_errf(errbuf, errlen, "schedule: \"every\" and \"cron\" exclude each "
		    "other");
		goto out;
	}
	if (found[2] != NULL && found[1] == NULL) {
		tf_errf(errbuf, errlen, "schedule.tz: only goes with \"cron\"");
		goto out;
	}

	rc = TF_ERR_NOMEM;
	s = tf_calloc(1, sizeof(*s));
	if (s == NULL) {
		tf_errf(errbuf, errlen, "schedule: out of memory");
		goto out;
	}
	rc = TF_ERR_INVALID;
	if (found[0] != NULL && parse_every(s, found[0], errbuf, errlen) != TF_OK)
		goto out;
	if (found[1] != NULL) {
		if (parse_cron(s, found[1], errbuf, errlen) != TF_OK)
			goto out;
		s->tz = tf_tz_utc();
		if (found[2] != NULL) {
			if (!cJSON_IsString(found[2])) {
				tf_errf(errbuf, errlen, "schedule.tz: must be a string such as "
				    "\"Europe/Berlin\"");
				goto out;
			}
			rc = tf_tz_load(found[2]->valuestring, &s->tz, msg, sizeof(msg));
			if (rc != TF_OK) {
				tf_errf(errbuf, errlen, "schedule.tz: %s", msg);
				/* A zone that is not there is bad input; keep the rest. */
				if (rc != TF_ERR_NOMEM && rc != TF_ERR_IO)
					rc = TF_ERR_INVALID;
				goto out;
			}
		}
	}
	if (found[3] != NULL && !get_integer(found[3], 1, MAX_EXACT, &s->max_runs)) {
		tf_errf(errbuf, errlen, "schedule.max_runs: must be an integer >= 1");
		goto out;
	}
	if (found[4] != NULL) {
		if (!get_integer(found[4], (double)TF_TIMEFMT_MIN_MS,
		    (double)TF_TIMEFMT_MAX_MS, &s->until_ms)) {
			tf_errf(errbuf, errlen, "schedule.until: must be an integer (epoch "
			    "milliseconds) between years 0000 and 9999");
			goto out;
		}
		s->has_until = true;
	}
	*out = s;
	s = NULL;
	rc = TF_OK;
out:
	tf_schedule_free(s);
	return rc;
}

void
tf_schedule_free(struct tf_schedule *s)
{
	tf_free(s);
}

/* The first cron slot strictly after after_ms; 0 when there is none. */
static int64_t
cron_after(const struct tf_schedule *s, int64_t after_ms)
{
	int64_t secs, next;

	/* Slots are whole seconds: after floor(ms / 1000) s is after ms. */
	secs = after_ms / 1000 - (after_ms % 1000 < 0);
	if (tf_cron_next(&s->cron, s->tz, secs, &next) != TF_OK)
		return 0;
	return next * 1000;
}

/* t, or 0 when t is after the schedule's "until". */
static int64_t
within_until(const struct tf_schedule *s, int64_t t)
{
	if (s->has_until && t > s->until_ms)
		return 0;
	return t;
}

int64_t
tf_schedule_first(const struct tf_schedule *s, int64_t now_ms)
{
	if (s->every_ms > 0)
		return within_until(s, now_ms);
	if (now_ms == INT64_MIN)
		return 0;
	return within_until(s, cron_after(s, now_ms - 1));
}

int64_t
tf_schedule_next(const struct tf_schedule *s, int64_t scheduled_ms,
    int64_t now_ms, int64_t runs_done)
{
	int64_t base = scheduled_ms > now_ms ? scheduled_ms : now_ms;
	int64_t since, k, step, next;

	if (s->max_runs > 0 && runs_done >= s->max_runs)
		return 0;
	if (s->every_ms == 0)
		return within_until(s, cron_after(s, base));
	/* Slots are scheduled_ms + k * every: the first one after base. */
	if (__builtin_sub_overflow(base, scheduled_ms, &since))
		return 0;
	k = since / s->every_ms + 1;
	if (__builtin_mul_overflow(k, s->every_ms, &step) ||
	    __builtin_add_overflow(scheduled_ms, step, &next))
		return 0;
	return within_until(s, next);
}
