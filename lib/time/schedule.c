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
	int64_t every_ms;          /* > 0: a fixed "every" schedule */
	int months;                /* > 0: calendar steps of this many months */
	bool has_anchor;
	int64_t anchor_ms;         /* calendar steps: run 0 (when has_anchor) */
	struct tf_cron cron;       /* cron schedules (every_ms and months 0) */
	const struct tf_tz *tz;    /* cron and calendar schedules; borrowed from
	                              the zone cache */
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

/* Reads the time (epoch ms within the years 0000-9999) of key `key` into
 * *out; false with a message naming the key when v is not one. */
static bool
get_time(const cJSON *v, const char *key, int64_t *out, char *errbuf,
    size_t errlen)
{
	if (get_integer(v, (double)TF_TIMEFMT_MIN_MS, (double)TF_TIMEFMT_MAX_MS,
	    out))
		return true;
	tf_errf(errbuf, errlen, "schedule.%s: must be an integer (epoch "
	    "milliseconds) between years 0000 and 9999", key);
	return false;
}

/* True when the unit at p (letters up to the next digit or the end) is a
 * calendar unit, "y" or "mo"; *len is the unit's length. */
static bool
calendar_unit(const char *p, size_t *len)
{
	size_t n = 0;

	while (p[n] != '\0' && (p[n] < '0' || p[n] > '9'))
		n++;
	*len = n;
	return (n == 1 && p[0] == 'y') || (n == 2 && strncmp(p, "mo", 2) == 0);
}

/* True when the len bytes at p are a DURATION unit (w, d, h, m, s, ms). */
static bool
fixed_unit(const char *p, size_t len)
{
	return (len == 1 && strchr("wdhms", p[0]) != NULL) ||
	    (len == 2 && strncmp(p, "ms", 2) == 0);
}

enum tf_err
tf_schedule_parse_every(const char *s, int64_t *every_ms, int *months,
    char *errbuf, size_t errlen)
{
	const char *p;
	bool calendar = false, fixed = false;
	int64_t n, total = 0;
	int last = 0;   /* 0: nothing yet, 1: y read, 2: mo read */
	size_t len;

	*every_ms = 0;
	*months = 0;
	/* Calendar units anywhere make it a calendar step; else a DURATION,
	 * parsed (and refused) exactly as before. */
	for (p = s; *p != '\0'; p += len) {
		while (*p >= '0' && *p <= '9')
			p++;
		if (calendar_unit(p, &len))
			calendar = true;
		else if (fixed_unit(p, len))
			fixed = true;
	}
	if (!calendar)
		return tf_timefmt_parse_duration(s, every_ms, errbuf, errlen);
	if (fixed) {
		tf_errf(errbuf, errlen, "\"%.40s\": calendar units (y, mo) do not "
		    "mix with fixed ones (w, d, h, m, s, ms): use one kind, or a "
		    "cron expression", s);
		return TF_ERR_INVALID;
	}
	for (p = s; *p != '\0'; p += len) {
		if (*p < '0' || *p > '9') {
			tf_errf(errbuf, errlen, "\"%.40s\": a unit needs a number "
			    "before it (e.g. 1mo, 3mo, 1y, 1y6mo)", s);
			return TF_ERR_INVALID;
		}
		for (n = 0; *p >= '0' && *p <= '9'; p++) {
			n = n * 10 + (*p - '0');
			if (n > TF_SCHEDULE_MAX_MONTHS)
				goto too_long;
		}
		if (!calendar_unit(p, &len)) {
			tf_errf(errbuf, errlen, "\"%.40s\": a number needs a unit "
			    "(y or mo)", s);
			return TF_ERR_INVALID;
		}
		if ((len == 1 && last != 0) || (len == 2 && last == 2)) {
			tf_errf(errbuf, errlen, "\"%.40s\": years first, then months, "
			    "each once (e.g. 1y6mo)", s);
			return TF_ERR_INVALID;
		}
		last = (int)len;
		total += len == 1 ? n * 12 : n;
		if (total > TF_SCHEDULE_MAX_MONTHS)
			goto too_long;
	}
	if (total == 0) {
		tf_errf(errbuf, errlen, "\"%.40s\": must be at least 1mo", s);
		return TF_ERR_INVALID;
	}
	*months = (int)total;
	return TF_OK;
too_long:
	tf_errf(errbuf, errlen, "\"%.40s\": at most %dy (%d months)", s,
	    TF_SCHEDULE_MAX_MONTHS / 12, TF_SCHEDULE_MAX_MONTHS);
	return TF_ERR_INVALID;
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
	if (tf_schedule_parse_every(v->valuestring, &s->every_ms, &s->months,
	    msg, sizeof(msg)) != TF_OK) {
		tf_errf(errbuf, errlen, "schedule.every: %s", msg);
		return TF_ERR_INVALID;
	}
	if (s->months == 0 && s->every_ms < 1000) {
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
		"every", "cron", "tz", "max_runs", "until", "anchor", NULL
	};
	enum tf_err rc = TF_ERR_INVALID;
	const cJSON *item, *found[6] = { NULL, NULL, NULL, NULL, NULL, NULL };
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
			    "cron, tz, max_runs, until, anchor)",
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

	rc = TF_ERR_NOMEM;
	s = tf_calloc(1, sizeof(*s));
	if (s == NULL) {
		tf_errf(errbuf, errlen, "schedule: out of memory");
		goto out;
	}
	rc = TF_ERR_INVALID;
	if (found[0] != NULL && parse_every(s, found[0], errbuf, errlen) != TF_OK)
		goto out;
	if (found[2] != NULL && found[1] == NULL && s->months == 0) {
		tf_errf(errbuf, errlen, "schedule.tz: only goes with \"cron\" or "
		    "calendar steps (\"every\": \"1mo\", \"1y\")");
		goto out;
	}
	if (found[5] != NULL && s->months == 0) {
		tf_errf(errbuf, errlen, "schedule.anchor: only goes with calendar "
		    "steps (\"every\": \"1mo\", \"1y\")");
		goto out;
	}
	if (found[1] != NULL && parse_cron(s, found[1], errbuf, errlen) != TF_OK)
		goto out;
	if (found[1] != NULL || s->months > 0) {
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
		if (!get_time(found[4], "until", &s->until_ms, errbuf, errlen))
			goto out;
		s->has_until = true;
	}
	if (found[5] != NULL) {
		if (!get_time(found[5], "anchor", &s->anchor_ms, errbuf, errlen))
			goto out;
		s->has_anchor = true;
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

/* Floor division for a possibly negative a (b > 0). */
static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* The first cron slot strictly after after_ms; 0 when there is none. */
static int64_t
cron_after(const struct tf_schedule *s, int64_t after_ms)
{
	int64_t next;

	/* Slots are whole seconds: after floor(ms / 1000) s is after ms. */
	if (tf_cron_next(&s->cron, s->tz, floor_div(after_ms, 1000), &next) != TF_OK)
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

bool
tf_schedule_wants_anchor(const struct tf_schedule *s)
{
	return s->months > 0 && !s->has_anchor;
}

/* Calendar slot k (>= 0) of the anchor whose local time is `a` (ms: the
 * anchor's milliseconds): a's day of month (or the month's last day) and
 * wall-clock time, k steps of s->months after a's month, in s->tz. 0 when
 * it is after the year 9999. */
static int64_t
calendar_slot(const struct tf_schedule *s, const struct tf_tz_tm *a, int ms,
    int64_t k)
{
	struct tf_tz_tm lt = *a;
	struct tf_tz_utc u;
	int64_t m;

	/* Months since year 0 (a->year >= 0: anchors are within 0000-9999). */
	m = (int64_t)a->year * 12 + (a->mon - 1) + k * s->months;
	if (m / 12 > 9999)
		return 0;
	lt.year = (int)(m / 12);
	lt.mon = (int)(m % 12) + 1;
	/* Jan 31 + 1mo is Feb 28 (29); the anchor keeps 31 for March. */
	if (lt.mday > tf_tz_days_in_month(lt.year, lt.mon))
		lt.mday = tf_tz_days_in_month(lt.year, lt.mon);
	tf_tz_local_to_utc(s->tz, &lt, &u);
	if (u.t > TF_TIMEFMT_MAX_MS / 1000)
		return 0;
	return u.t * 1000 + ms;
}

/* The first calendar slot strictly after base; 0 when there is none before
 * the year 10000. */
static int64_t
calendar_after(const struct tf_schedule *s, int64_t anchor_ms, int64_t base)
{
	struct tf_tz_local a, b;
	int64_t k, t;
	int ms;

	/* Anchors of the item are checked by parse; scheduled_ms is not. */
	if (anchor_ms < TF_TIMEFMT_MIN_MS || anchor_ms > TF_TIMEFMT_MAX_MS)
		return 0;
	ms = (int)(anchor_ms - floor_div(anchor_ms, 1000) * 1000);
	tf_tz_to_local(s->tz, floor_div(anchor_ms, 1000), &a);
	tf_tz_to_local(s->tz, floor_div(base, 1000), &b);
	/* A step or two before base's month; the loop walks up from there. */
	k = floor_div(((int64_t)b.tm.year - a.tm.year) * 12 +
	    (b.tm.mon - a.tm.mon), s->months) - 1;
	if (k < 0)
		k = 0;
	for (;; k++) {
		t = calendar_slot(s, &a.tm, ms, k);
		if (t == 0 || t > base)
			return t;
	}
}

int64_t
tf_schedule_first(const struct tf_schedule *s, int64_t now_ms)
{
	if (s->every_ms > 0 || s->months > 0)
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
	if (s->months > 0)
		return within_until(s, calendar_after(s, s->has_anchor ?
		    s->anchor_ms : scheduled_ms, base));
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
