/*
 * tz.h - IANA time zones from the system's zoneinfo, without the C library's
 * global time zone state.
 *
 * Zones are read from TZif files (RFC 8536, versions 1 to 4) under $TZDIR,
 * or /usr/share/zoneinfo when TZDIR is unset or empty. The footer's POSIX TZ
 * string ("CET-1CEST,M3.5.0,M10.5.0/3") gives local time after the last
 * transition in the file, so "slim" files, whose transitions stop early, work
 * for any year. "UTC" and "Etc/UTC" are built in and work without zoneinfo.
 * Files with leap-second records (the "right/" zones) are refused.
 *
 * Thread safety: nothing here touches TZ, tzset() or localtime(). A loaded
 * zone is immutable and may be used from any number of threads at once.
 * tf_tz_load() keeps every zone it loads in a process-wide cache, keyed by
 * directory and name and guarded by a mutex; cached zones are never freed
 * (there are only as many as the zoneinfo has files).
 *
 * Times are epoch seconds (int64). Offsets are seconds east of UTC. Inputs
 * are clamped to TF_TZ_MIN_S..TF_TZ_MAX_S (about a million years either
 * way), which keeps every year in an int.
 *
 * Local to UTC, the DST policy: a local time that does not exist (it falls
 * in a spring-forward gap) maps to the first instant after the gap, i.e. the
 * transition itself (02:30 on the day Berlin springs forward is 03:00 CEST);
 * a local time that occurs twice (fall back) maps to its first occurrence
 * (01:30 on the day New York falls back is 01:30 EDT). The caller learns
 * which case applied from struct tf_tz_utc: `kind` is TF_TZ_SKIPPED or
 * TF_TZ_REPEATED, and for a repeated time `later` holds the second
 * occurrence.
 */
#ifndef TF_TZ_H
#define TF_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* The range of instants the functions below work with (epoch seconds). */
#define TF_TZ_MIN_S (-31556952000000LL)
#define TF_TZ_MAX_S 31556952000000LL

/* The longest zone name tf_tz_load() accepts. */
#define TF_TZ_NAME_MAX 255

/* Bytes for a time zone abbreviation ("CEST", "+0530"), terminator included;
 * longer ones are cut. */
#define TF_TZ_ABBR_SIZE 16

struct tf_tz;

/* A broken-down civil time (proleptic Gregorian calendar). */
struct tf_tz_tm {
	int year;  /* e.g. 2026 */
	int mon;   /* 1-12 */
	int mday;  /* 1-31 */
	int hour;  /* 0-23 */
	int min;   /* 0-59 */
	int sec;   /* 0-59 */
	int wday;  /* 0-6, 0 = Sunday; set by the functions below, ignored on input */
	int yday;  /* 0-365; set by the functions below, ignored on input */
};

/* An instant in a zone. */
struct tf_tz_local {
	struct tf_tz_tm tm;            /* local wall-clock time */
	int32_t utoff;                 /* seconds east of UTC */
	bool is_dst;                   /* daylight saving time is in effect */
	char abbr[TF_TZ_ABBR_SIZE];    /* "CEST", "+0530"; "" when unknown */
};

/* How a local time maps to UTC. */
enum tf_tz_kind {
	TF_TZ_UNIQUE,    /* the local time occurs exactly once */
	TF_TZ_SKIPPED,   /* it does not exist (gap): mapped to the gap's end */
	TF_TZ_REPEATED   /* it occurs twice (overlap): mapped to the first */
};

/* The result of tf_tz_local_to_utc(). */
struct tf_tz_utc {
	int64_t t;             /* the instant the DST policy picks */
	int64_t later;         /* TF_TZ_REPEATED: the second occurrence; else t */
	enum tf_tz_kind kind;
};

/* True when name is a zone name tf_tz_load() may look up: 1 to
 * TF_TZ_NAME_MAX characters from [A-Za-z0-9/_+-], no leading, trailing or
 * doubled "/" (so no ".." and no absolute path). */
bool tf_tz_name_is_valid(const char *name);

/* Finds the zone `name` ("Europe/Berlin"). On TF_OK *out is a zone from the
 * process-wide cache: borrowed, valid until the process exits, never to be
 * freed (tf_tz_free() ignores it). Errors, with a one-line message in errbuf
 * (NULL when errlen is 0) that quotes the name:
 *   TF_ERR_INVALID    the name is not valid (tf_tz_name_is_valid)
 *   TF_ERR_NOT_FOUND  no such zone in the zoneinfo
 *   TF_ERR_PARSE      the file is not a usable TZif file
 *   TF_ERR_IO         it could not be read
 *   TF_ERR_NOMEM */
enum tf_err tf_tz_load(const char *name, const struct tf_tz **out,
    char *errbuf, size_t errlen);

/* The built-in UTC zone. Borrowed, static. */
const struct tf_tz *tf_tz_utc(void);

/* Builds a zone from the bytes of a TZif file (borrowed), named `name`
 * (copied), without the cache: for tests and fuzzing. TF_ERR_PARSE with a
 * message when the data is not usable. On TF_OK *out is new; caller frees
 * with tf_tz_free(). */
enum tf_err tf_tz_from_tzif(const char *name, const void *data, size_t len,
    struct tf_tz **out, char *errbuf, size_t errlen);

/* Builds a zone from a POSIX TZ string alone ("EST5EDT,M3.2.0,M11.1.0",
 * "<+0530>-5:30", "AEST-10AEDT,M10.1.0,M4.1.0/3", with the Jn, n and
 * Mm.w.d rule forms and RFC 8536's hours up to 167). A DST name without a
 * rule gets the US rule M3.2.0,M11.1.0. TF_ERR_PARSE with a message when it
 * does not parse. On TF_OK *out is new; caller frees with tf_tz_free(). */
enum tf_err tf_tz_from_posix(const char *tzstr, struct tf_tz **out,
    char *errbuf, size_t errlen);

/* Frees a zone from tf_tz_from_tzif() or tf_tz_from_posix(). NULL, the
 * built-in UTC zone and zones from the cache are ignored. */
void tf_tz_free(struct tf_tz *z);

/* The zone's name as it was loaded ("Europe/Berlin"). Borrowed; lives as
 * long as the zone. */
const char *tf_tz_name(const struct tf_tz *z);

/* Local time, offset, DST flag and abbreviation in zone z at instant t. */
void tf_tz_to_local(const struct tf_tz *z, int64_t t, struct tf_tz_local *out);

/* The instant of local wall-clock time lt (year, mon, mday, hour, min, sec;
 * wday and yday ignored; out-of-range fields are normalised, so mday 32 is
 * the first of the next month) in zone z, following the DST policy above. */
void tf_tz_local_to_utc(const struct tf_tz *z, const struct tf_tz_tm *lt,
    struct tf_tz_utc *out);

/* The first instant after t at which the zone's offset, DST flag or
 * abbreviation may change; INT64_MAX when there is none. Zones may list
 * transitions that change nothing visible. */
int64_t tf_tz_next_transition(const struct tf_tz *z, int64_t t);

/* Civil-calendar helpers (proleptic Gregorian, UTC). */
/* Days since 1970-01-01 of year-mon-mday (mon 1-12, mday 1-31). */
/* The date of day number z (days since 1970-01-01), the inverse of
 * tf_tz_days_from_civil(). */
void tf_tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

int64_t tf_tz_days_from_civil(int64_t year, int mon, int mday);
/* The broken-down UTC time of epoch seconds t (clamped as above). */
void tf_tz_gmtime(int64_t t, struct tf_tz_tm *out);
/* Epoch seconds of a UTC broken-down time (wday, yday ignored; fields
 * normalised as in tf_tz_local_to_utc). */
int64_t tf_tz_timegm(const struct tf_tz_tm *tm);
/* True in a Gregorian leap year. */
bool tf_tz_is_leap(int64_t year);
/* Days in month mon (1-12) of year. */
int tf_tz_days_in_month(int64_t year, int mon);

#endif /* TF_TZ_H */
