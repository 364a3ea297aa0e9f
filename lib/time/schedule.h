/*
 * schedule.h - recurrence: the `schedule` attribute of a task
 * (docs/design.md section 2).
 *
 *   {"every": "30m"}                                  a fixed interval
 *   {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin"}    five-field cron in a zone
 * with optional "max_runs" (runs in all) and "until" (epoch ms; no run after).
 *
 * Next runs are computed from the scheduled time of the run that just ended,
 * not from when it ended, so a schedule never drifts; runs missed while no
 * consumer was up are run once, not once per missed slot: the next run is the
 * first slot after both the scheduled time and now.
 *
 * Daylight saving time (cron in a zone): a local time that does not exist
 * (the spring-forward gap) fires at the first instant after the gap; a local
 * time that occurs twice (fall back) fires once, at its first occurrence.
 */
#ifndef TF_SCHEDULE_H
#define TF_SCHEDULE_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"

struct tf_schedule;

/* Parses and checks a schedule given as plain JSON (borrowed): exactly one of
 * "every" (a duration, at least 1 s) or "cron" (with an optional "tz", an
 * IANA zone name from the system's zoneinfo, default "UTC"); optional
 * "max_runs" (an integer >= 1) and "until" (epoch ms). Unknown keys are
 * refused. TF_ERR_INVALID with a one-line message naming the field. On TF_OK
 * *out is new; caller frees with tf_schedule_free(). */
enum tf_err tf_schedule_parse(const cJSON *json, struct tf_schedule **out,
    char *errbuf, size_t errlen);
void tf_schedule_free(struct tf_schedule *s);

/* The first run of a new task when no explicit time is given: now for
 * "every", the first cron slot at or after now for "cron". 0 when the
 * schedule allows no run at all (until already passed). */
int64_t tf_schedule_first(const struct tf_schedule *s, int64_t now_ms);

/* The run after the one scheduled at scheduled_ms, given that it is now
 * now_ms and `runs_done` runs have finished (this one included): the first
 * slot strictly after max(scheduled_ms, now_ms) ("every" slots are
 * scheduled_ms + k * interval). 0 when the schedule is over: max_runs reached
 * or the next slot is after "until". */
int64_t tf_schedule_next(const struct tf_schedule *s, int64_t scheduled_ms,
    int64_t now_ms, int64_t runs_done);

#endif /* TF_SCHEDULE_H */
