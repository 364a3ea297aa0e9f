/*
 * timefmt.h - times and durations as the CLI and the API write them.
 *
 * TIME is either an ISO 8601 time or a DURATION relative to now:
 *
 *   2026-11-23                      midnight UTC of that date
 *   2026-11-23T09:00:00Z            UTC ("z" too)
 *   2026-11-23T09:00:00.250Z        fractional seconds, "." or ","; any
 *                                   number of digits, cut (not rounded)
 *                                   to milliseconds
 *   2026-11-23T10:00:00+01:00       an offset: +HH:MM, +HHMM or +HH (or -)
 *   2026-11-23T09:00                seconds may be left out
 *   2026-11-23T09:00:00             no zone: UTC (not the local zone, so a
 *                                   command means the same on every host)
 *   2026-11-23 09:00:00Z            a space instead of the "T" (RFC 3339)
 *   +90s, +2h, +1h30m, +500ms, +0s  now plus a DURATION
 *   -1h, -7d                        now minus a DURATION (for windows
 *                                   such as `list --from -1d`)
 *
 * Years run from 0000 to 9999 (proleptic Gregorian calendar); hours 00-23,
 * minutes and seconds 00-59 (no leap seconds, no 24:00). Nothing may follow
 * the time, not even spaces.
 *
 * DURATION is one or more <digits><unit> with the units, largest first and
 * each at most once: w (7 days), d (24 hours), h, m, s, ms. "90s", "30m",
 * "1h30m", "1d12h", "1w", "1500ms", "0s". A day is always 24 hours here: a
 * duration is an amount of time, not a calendar step. No sign, no fractions
 * ("1.5h": write "1h30m"), no spaces, no unit-less numbers.
 *
 * Every parser returns TF_OK or TF_ERR_INVALID with a one-line message in
 * errbuf that quotes the input and says what is wrong; the caller prefixes
 * the name of the field ("--at: ..."). errbuf may be NULL when errlen is 0.
 */
#ifndef TF_TIMEFMT_H
#define TF_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* The range of times the parsers return: 0000-01-01T00:00:00.000Z to
 * 9999-12-31T23:59:59.999Z, in epoch milliseconds. */
#define TF_TIMEFMT_MIN_MS (-62167219200000LL)
#define TF_TIMEFMT_MAX_MS 253402300799999LL

/* Bytes a formatted time needs, terminator included (enough for any int64). */
#define TF_TIMEFMT_ISO_SIZE 40
/* Bytes a formatted duration needs, terminator included. */
#define TF_TIMEFMT_DUR_SIZE 48

/* Parses an ISO 8601 time (the forms above) into epoch ms. */
enum tf_err tf_timefmt_parse_iso(const char *s, int64_t *ms_out,
    char *errbuf, size_t errlen);

/* Parses a DURATION into milliseconds (>= 0). Refuses one that does not fit
 * in an int64 of milliseconds. */
enum tf_err tf_timefmt_parse_duration(const char *s, int64_t *ms_out,
    char *errbuf, size_t errlen);

/* Parses a TIME: ISO 8601, or "+DURATION" / "-DURATION" added to / taken
 * from now_ms. The result lies within TF_TIMEFMT_MIN_MS..TF_TIMEFMT_MAX_MS. */
enum tf_err tf_timefmt_parse(const char *s, int64_t now_ms, int64_t *ms_out,
    char *errbuf, size_t errlen);

/* Writes epoch ms as "2026-11-23T09:00:00.000Z" (UTC, milliseconds) into buf
 * (TF_TIMEFMT_ISO_SIZE bytes suffice for any value; years outside 0000-9999
 * get a sign, "+12345-..."). Returns buf. */
char *tf_timefmt_format(int64_t ms, char *buf, size_t len);

/* Writes ms as a DURATION the parser reads back: "1d2h3m4s5ms", "90s" is
 * written "1m30s", 0 as "0s"; a negative value gets a leading "-" (which the
 * parser refuses: for display only). Weeks are written as days. Returns buf
 * (TF_TIMEFMT_DUR_SIZE bytes suffice). */
char *tf_timefmt_format_duration(int64_t ms, char *buf, size_t len);

#endif /* TF_TIMEFMT_H */
