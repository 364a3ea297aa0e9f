/*
 * cron.h - five-field cron expressions (Vixie cron's syntax) and their next
 * fire time in a time zone.
 *
 *   minute hour day-of-month month day-of-week
 *   0-59   0-23 1-31         1-12  0-7 (0 and 7 are Sunday)
 *
 * Each field is a comma-separated list of elements: "*" (every value), N,
 * or N-M, each optionally followed by "/S" for every S-th value from the
 * start (N/S runs from N to the field's end, as Vixie cron reads it); S runs
 * from 1 to the size of the field's range. Months and weekdays may be
 * named, case-insensitively, also in ranges: jan..dec, sun..sat ("sun" ends
 * a range as 7, so fri-sun works). Shorthands: @yearly and @annually
 * (0 0 1 1 *), @monthly (0 0 1 * *), @weekly (0 0 * * 0), @daily and
 * @midnight (0 0 * * *), @hourly (0 * * * *); @reboot is refused.
 *
 * Day matching, Vixie cron's rule: if the day-of-month or the day-of-week
 * field starts with "*", a day must match both fields; if neither does
 * (both are restricted), a day matches when either field matches. So
 * "0 0 13 * 5" fires on every 13th and every Friday, "0 0 * * 5" on
 * Fridays only, and a day-of-month of "*" with step 2 and weekday 5 only on
 * odd-numbered Fridays.
 *
 * Next fire time, in a zone (see tz.h): cron times are wall-clock times.
 * A slot whose local time does not exist (spring-forward gap) fires at the
 * first instant after the gap; several slots in one gap fire once there. A
 * local time that occurs twice (fall back) fires once, at its first
 * occurrence; slots in the repeated stretch do not fire again in the second
 * pass. Fire times are strictly after the given instant.
 *
 * Expressions that can never fire ("0 0 30 2 *", "0 0 31 4,6 *") parse (as
 * in Vixie cron); tf_cron_is_possible() detects them statically, and
 * tf_cron_next() reports TF_ERR_NOT_FOUND for them at once. The search for
 * any other expression skips whole months, days and hours and is bounded by
 * 400 years of local dates (the Gregorian calendar repeats every 400 years,
 * so any possible expression fires within that span; February 29 on a
 * Sunday, with both day fields required to match, comes every 28 years or
 * more).
 */
#ifndef TF_CRON_H
#define TF_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "time/tz.h"

/* A parsed expression: the set of values of each field as a bit mask. A
 * plain value: it owns nothing and may be copied. */
struct tf_cron {
	uint64_t minute;  /* bit i: minute i (0-59) */
	uint32_t hour;    /* bit i: hour i (0-23) */
	uint32_t dom;     /* bit i: day of month i (1-31) */
	uint16_t month;   /* bit i: month i (1-12) */
	uint8_t dow;      /* bit i: weekday i (0-6, 0 = Sunday; 7 counts as 0) */
	bool dom_star;    /* the day-of-month field starts with "*" */
	bool dow_star;    /* the day-of-week field starts with "*" */
};

/* Parses expr into *out. TF_ERR_INVALID with a one-line message in errbuf
 * (NULL when errlen is 0) that names the field:
 * "cron: field 2 (hour): 24 is out of range 0-23". */
enum tf_err tf_cron_parse(const char *expr, struct tf_cron *out,
    char *errbuf, size_t errlen);

/* True when the local wall-clock time tm (its seconds ignored; wday and yday
 * recomputed from the date) matches c. */
bool tf_cron_matches(const struct tf_cron *c, const struct tf_tz_tm *tm);

/* True when c matches some day of some year; false for "0 0 30 2 *". */
bool tf_cron_is_possible(const struct tf_cron *c);

/* The first fire time of c in zone z (borrowed) strictly after instant
 * `after` (epoch seconds), following the DST rules above, in *next_out.
 * TF_ERR_NOT_FOUND (and *next_out 0) when c never fires
 * (tf_cron_is_possible() is false), when no fire time lies within 400
 * years of local dates, or when `after` is within about 400 years of
 * TF_TZ_MAX_S (any time before year 100000 is fine). */
enum tf_err tf_cron_next(const struct tf_cron *c, const struct tf_tz *z,
    int64_t after, int64_t *next_out);

#endif /* TF_CRON_H */
