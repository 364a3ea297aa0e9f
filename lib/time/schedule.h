/*
 * schedule.h - recurrence: the `schedule` attribute of a task
 * (docs/design.md section 2).
 *
 *   {"every": "30m"}                                  a fixed interval
 *   {"every": "1mo", "tz": "Europe/Berlin",           calendar months (mo) or
 *    "anchor": 1769853600000}                         years (y) in a zone
 *   {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin"}    five-field cron in a zone
 * with optional "max_runs" (runs in all) and "until" (epoch ms; no run after).
 *
 * Calendar steps ("1mo", "3mo", "1y", "1y6mo"): the runs fall on the day of
 * month and wall-clock time of the anchor (the first run, epoch ms, written
 * by submit) in the zone, N months apart, counted from the anchor: run k is
 * anchor + k * N months. A day the month lacks becomes its last day
 * (Jan 31: Feb 28 or 29, then Mar 31, as the anchor's day is kept), and the
 * DST rules below apply to the wall-clock time. Without an anchor (written
 * by hand) the scheduled time of the run that ended is the anchor.
 *
 * Next runs are computed from the scheduled time of the run that just ended,
 * not from when it ended, so a schedule never drifts; runs missed while no
 * consumer was up are run once, not once per missed slot: the next run is the
 * first slot after both the scheduled time and now.
 *
 * Daylight saving time (cron or calendar steps in a zone): a local time that does not exist
 * (the spring-forward gap) fires at the first instant after the gap; a local
 * time that occurs twice (fall back) fires once, at its first occurrence.
 */
#ifndef TF_SCHEDULE_H
#define TF_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"

struct tf_schedule;

/* Parses and checks a schedule given as plain JSON (borrowed): exactly one of
 * "every" (a duration, at least 1 s, or calendar steps, see
 * tf_schedule_parse_every()) or "cron"; an optional "tz" with "cron" or
 * calendar steps (an IANA zone name from the system's zoneinfo, default
 * "UTC"); "anchor" (epoch ms) only with calendar steps; optional
 * "max_runs" (an integer >= 1) and "until" (epoch ms). Unknown keys are
 * refused. TF_ERR_INVALID with a one-line message naming the field. On TF_OK
 * *out is new; caller frees with tf_schedule_free(). */
enum tf_err tf_schedule_parse(const cJSON *json, struct tf_schedule **out,
    char *errbuf, size_t errlen);
void tf_schedule_free(struct tf_schedule *s);

/* The most calendar months one step may span ("100y"). */
#define TF_SCHEDULE_MAX_MONTHS 1200

/* Parses an "every" value: a DURATION (timefmt.h) into *every_ms, with
 * *months 0; or calendar steps, <digits>y and/or <digits>mo, years first
 * ("1mo", "3mo", "1y", "1y6mo"), 1 to TF_SCHEDULE_MAX_MONTHS months in
 * all, into *months, with *every_ms 0. A value that mixes calendar and
 * fixed units ("1mo2d") is refused. TF_ERR_INVALID with a one-line message
 * quoting the input (without a field name). */
enum tf_err tf_schedule_parse_every(const char *s, int64_t *every_ms,
    int *months, char *errbuf, size_t errlen);

/* True when s steps by calendar months and has no "anchor" yet: submit then
 * adds the first run's time as "anchor" to the schedule's JSON. */
bool tf_schedule_wants_anchor(const struct tf_schedule *s);

/* The first run of a new task when no explicit time is given: now for
 * "every", the first cron slot at or after now for "cron". 0 when the
 * schedule allows no run at all (until already passed). */
int64_t tf_schedule_first(const struct tf_schedule *s, int64_t now_ms);

/* The run after the one scheduled at scheduled_ms, given that it is now
 * now_ms and `runs_done` runs have finished (this one included): the first
 * slot strictly after max(scheduled_ms, now_ms) ("every" slots are
 * scheduled_ms + k * interval; calendar slots are anchor + k steps, the
 * anchor being scheduled_ms when the schedule has none). 0 when the schedule
 * is over: max_runs reached, the next slot is after "until" or after the
 * year 9999. */
int64_t tf_schedule_next(const struct tf_schedule *s, int64_t scheduled_ms,
    int64_t now_ms, int64_t runs_done);

#endif /* TF_SCHEDULE_H */
