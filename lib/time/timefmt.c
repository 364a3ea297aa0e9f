/* timefmt.c - ISO 8601 times and durations: parsing and formatting. */
#include "time/timefmt.h"
#include "time/tz.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MS_PER_S   1000LL
#define MS_PER_MIN (60 * MS_PER_S)
#define MS_PER_H   (60 * MS_PER_MIN)
#define MS_PER_DAY (24 * MS_PER_H)

/* What the TIME parser accepts, for the message after a syntax error. */
#define ISO_FORMS "2026-11-23, 2026-11-23T09:00:00Z, 2026-11-23T10:00:00+01:00"
#define DUR_FORMS "90s, 30m, 1h30m, 1d, 1w, 500ms"

/* The longest input quoted in a message; longer input is cut with "...". */
#define QUOTE_MAX 40

/* Writes a message: "\"<input>\": <what>". */
static void __attribute__((format(printf, 4, 5)))
fail(char *errbuf, size_t errlen, const char *input, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (errbuf == NULL || errlen == 0)
		return;
	n = snprintf(errbuf, errlen, "\"%.*s%s\": ", QUOTE_MAX, input,
	    strlen(input) > QUOTE_MAX ? "..." : "");
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads exactly n digits at *p into *out and advances *p. */
static bool
read_digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads the zone at *p: "", "Z", "+HH:MM", "+HHMM", "+HH" (or "-"). Sets
 * *offset_ms to the offset east of UTC. */
static enum tf_err
read_zone(const char *s, const char *p, int64_t *offset_ms, char *errbuf,
    size_t errlen)
{
	int sign, hh, mm = 0;

	*offset_ms = 0;
	if (*p == '\0')
		return TF_OK;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return TF_OK;
	if (*p != '+' && *p != '-') {
		fail(errbuf, errlen, s, "unexpected \"%.8s\" where the zone (Z or "
		    "+HH:MM) or the end belongs", p);
		return TF_ERR_INVALID;
	}
	sign = *p++ == '-' ? -1 : 1;
	if (!read_digits(&p, 2, &hh))
		goto bad;
	if (*p == ':') {
		p++;
		if (!read_digits(&p, 2, &mm))
			goto bad;
	} else if (is_digit(*p) && !read_digits(&p, 2, &mm)) {
		goto bad;
	}
	if (*p != '\0')
		goto bad;
	if (hh > 23 || mm > 59) {
		fail(errbuf, errlen, s, "offset out of range (-23:59 to +23:59)");
		return TF_ERR_INVALID;
	}
	*offset_ms = sign * (hh * MS_PER_H + mm * MS_PER_MIN);
	return TF_OK;
bad:
	fail(errbuf, errlen, s, "bad zone offset; expected Z, +HH:MM, +HHMM or +HH");
	return TF_ERR_INVALID;
}

enum tf_err
tf_timefmt_parse_iso(const char *s, int64_t *ms_out, char *errbuf, size_t errlen)
{
	const char *p = s;
	int year, month, day, hour = 0, minute = 0, second = 0, frac = 0, scale;
	int64_t offset = 0, ms;
	enum tf_err rc;

	*ms_out = 0;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (!read_digits(&p, 4, &year) || *p++ != '-' ||
	    !read_digits(&p, 2, &month) || *p++ != '-' ||
	    !read_digits(&p, 2, &day))
		goto syntax;
	if (month < 1 || month > 12) {
		fail(errbuf, errlen, s, "month %02d out of range (01-12)", month);
		return TF_ERR_INVALID;
	}
	if (day < 1 || day > days_in_month(year, month)) {
		fail(errbuf, errlen, s, "day %02d out of range (%04d-%02d has %d days)",
		    day, year, month, days_in_month(year, month));
		return TF_ERR_INVALID;
	}
	if (*p != '\0') {
		if (*p != 'T' && *p != 't' && *p != ' ')
			goto syntax;
		p++;
		if (!read_digits(&p, 2, &hour) || *p++ != ':' ||
		    !read_digits(&p, 2, &minute))
			goto syntax;
		if (*p == ':') {
			p++;
			if (!read_digits(&p, 2, &second))
				goto syntax;
			if (*p == '.' || *p == ',') {
				p++;
				if (!is_digit(*p))
					goto syntax;
				/* Milliseconds from the first three digits; the rest
				 * only has to be digits. */
				for (scale = 100; is_digit(*p); p++, scale /= 10)
					frac += (*p - '0') * scale;
			}
		}
		if (hour > 23) {
			fail(errbuf, errlen, s, "hour %02d out of range (00-23)", hour);
			return TF_ERR_INVALID;
		}
		if (minute > 59) {
			fail(errbuf, errlen, s, "minute %02d out of range (00-59)", minute);
			return TF_ERR_INVALID;
		}
		if (second > 59) {
			fail(errbuf, errlen, s, "second %02d out of range (00-59; leap "
			    "seconds are not supported)", second);
			return TF_ERR_INVALID;
		}
		rc = read_zone(s, p, &offset, errbuf, errlen);
		if (rc != TF_OK)
			return rc;
	}
	ms = tf_tz_days_from_civil(year, month, day) * MS_PER_DAY + hour * MS_PER_H +
	    minute * MS_PER_MIN + second * MS_PER_S + frac - offset;
	if (ms < TF_TIMEFMT_MIN_MS || ms > TF_TIMEFMT_MAX_MS) {
		fail(errbuf, errlen, s, "outside the years 0000 to 9999 in UTC");
		return TF_ERR_INVALID;
	}
	*ms_out = ms;
	return TF_OK;
syntax:
	fail(errbuf, errlen, s, "not an ISO 8601 time (%s)", ISO_FORMS);
	return TF_ERR_INVALID;
}

/* The units of a duration, largest first. */
static const struct unit {
	const char *name;
	int64_t ms;
} units[] = {
	{ "w", 7 * MS_PER_DAY },
	{ "d", MS_PER_DAY },
	{ "h", MS_PER_H },
	{ "ms", 1 },     /* before "m", so that "ms" is not read as "m" + "s" */
	{ "m", MS_PER_MIN },
	{ "s", MS_PER_S },
};

/* The rank of a unit by size (0 = weeks); larger units have smaller ranks. */
static int
unit_rank(int64_t unit_ms)
{
	static const int64_t order[] = { 7 * MS_PER_DAY, MS_PER_DAY, MS_PER_H,
	    MS_PER_MIN, MS_PER_S, 1 };
	int i;

	for (i = 0; order[i] != unit_ms; i++)
		;
	return i;
}

/* Parses the duration at p; messages quote s (p itself, or p with the "+"
 * of a TIME in front). */
static enum tf_err
parse_duration(const char *s, const char *p, int64_t *ms_out, char *errbuf,
    size_t errlen)
{
	const char *unit_start = NULL;
	int64_t total = 0, n, part;
	int last_rank = -1, rank;
	size_t i, len;
	const struct unit *u;

	*ms_out = 0;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (*p == '\0') {
		fail(errbuf, errlen, s, "empty duration (e.g. %s)", DUR_FORMS);
		return TF_ERR_INVALID;
	}
	while (*p != '\0') {
		if (!is_digit(*p)) {
			if (unit_start != NULL && ((*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z')))
				/* "5sec": the unit read was the start of a longer word. */
				fail(errbuf, errlen, s, "unknown unit \"%.4s\" (w, d, h, "
				    "m, s or ms)", unit_start);
			else
				fail(errbuf, errlen, s, "not a duration (e.g. %s)", DUR_FORMS);
			return TF_ERR_INVALID;
		}
		for (n = 0; is_digit(*p); p++) {
			if (n > (INT64_MAX - (*p - '0')) / 10)
				goto overflow;
			n = n * 10 + (*p - '0');
		}
		u = NULL;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			len = strlen(units[i].name);
			if (strncmp(p, units[i].name, len) == 0) {
				u = &units[i];
				break;
			}
		}
		if (u == NULL) {
			if (*p == '\0')
				fail(errbuf, errlen, s, "a number needs a unit (w, d, h, "
				    "m, s or ms)");
			else if (*p == '.' || *p == ',')
				fail(errbuf, errlen, s, "no fractions; use a smaller unit "
				    "(1h30m, not 1.5h)");
			else
				fail(errbuf, errlen, s, "unknown unit \"%.4s\" (w, d, h, "
				    "m, s or ms)", p);
			return TF_ERR_INVALID;
		}
		unit_start = p;
		p += strlen(u->name);
		rank = unit_rank(u->ms);
		if (rank <= last_rank) {
			fail(errbuf, errlen, s, "units must go from largest to "
			    "smallest, each once (e.g. 1h30m)");
			return TF_ERR_INVALID;
		}
		last_rank = rank;
		if (n > INT64_MAX / u->ms)
			goto overflow;
		part = n * u->ms;
		if (total > INT64_MAX - part)
			goto overflow;
		total += part;
	}
	*ms_out = total;
	return TF_OK;
overflow:
	fail(errbuf, errlen, s, "duration too long");
	return TF_ERR_INVALID;
}

enum tf_err
tf_timefmt_parse_duration(const char *s, int64_t *ms_out, char *errbuf,
    size_t errlen)
{
	return parse_duration(s, s, ms_out, errbuf, errlen);
}

enum tf_err
tf_timefmt_parse(const char *s, int64_t now_ms, int64_t *ms_out, char *errbuf,
    size_t errlen)
{
	int64_t d;
	enum tf_err rc;

	*ms_out = 0;
	if (s[0] == '+' || s[0] == '-') {
		rc = parse_duration(s, s + 1, &d, errbuf, errlen);
		if (rc != TF_OK)
			return rc;
		if (now_ms < TF_TIMEFMT_MIN_MS || now_ms > TF_TIMEFMT_MAX_MS ||
		    (s[0] == '+' && d > TF_TIMEFMT_MAX_MS - now_ms) ||
		    (s[0] == '-' && d > now_ms - TF_TIMEFMT_MIN_MS)) {
			fail(errbuf, errlen, s, "outside the years 0000 to 9999");
			return TF_ERR_INVALID;
		}
		*ms_out = s[0] == '+' ? now_ms + d : now_ms - d;
		return TF_OK;
	}
	if (!is_digit(s[0])) {
		fail(errbuf, errlen, s, "expected an ISO 8601 time (%s) or "
		    "+DURATION (+90s, +2h, +1h30m)", ISO_FORMS);
		return TF_ERR_INVALID;
	}
	return tf_timefmt_parse_iso(s, ms_out, errbuf, errlen);
}

char *
tf_timefmt_format(int64_t ms, char *buf, size_t len)
{
	int64_t days, rem, y;
	int m, d;

	/* Floor division, so times before 1970 count down from midnight. */
	days = ms / MS_PER_DAY;
	rem = ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	tf_tz_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, y >= 0 && y <= 9999 ?
	    "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ" :
	    "%+" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
	    (int)(rem / MS_PER_H), (int)(rem / MS_PER_MIN % 60),
	    (int)(rem / MS_PER_S % 60), (int)(rem % MS_PER_S));
	return buf;
}

char *
tf_timefmt_format_duration(int64_t ms, char *buf, size_t len)
{
	static const struct unit shown[] = {
		{ "d", MS_PER_DAY }, { "h", MS_PER_H }, { "m", MS_PER_MIN },
		{ "s", MS_PER_S }, { "ms", 1 },
	};
	uint64_t v;
	size_t i, used = 0;
	int n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	/* The magnitude, INT64_MIN included. */
	v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	if (ms < 0) {
		snprintf(buf, len, "-");
		used = 1;
	}
	for (i = 0; i < sizeof(shown) / sizeof(shown[0]) && used < len; i++) {
		uint64_t q = v / (uint64_t)shown[i].ms;

		if (q == 0)
			continue;
		v -= q * (uint64_t)shown[i].ms;
		n = snprintf(buf + used, len - used, "%" PRIu64 "%s", q, shown[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}
