/* cron.c - five-field cron expressions and their next fire time in a zone. */
#include "time/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* How many local dates tf_cron_next() looks through: the Gregorian
 * calendar repeats every 400 years, so a possible expression fires within. */
#define SEARCH_YEARS 401

/* The latest start tf_cron_next() searches from: the search must stay
 * clear of the end of the range tz.h supports. */
#define LAST_START (TF_TZ_MAX_S - (int64_t)(SEARCH_YEARS + 2) * 31622400)

/* A bound on the matching minutes tf_cron_next() may pass over because they
 * map to the start or earlier (only a repeated stretch has such minutes, at
 * most 26 hours of them); a safeguard against looping on bad zone data. */
#define MAX_PASSED 100000

/* The longest input quoted in a message; longer input is cut with "...". */
#define QUOTE_MAX 40

/* Bits 1-12 of a month mask. */
#define MONTH_BITS 0x1ffeu

/* One of the five fields. */
struct field {
	const char *name;            /* for messages */
	int lo, hi;                  /* the range of values */
	const char *const *names;    /* three-letter names of lo..., or NULL */
};

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const dow_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const struct field fields[5] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	{ "day-of-week", 0, 7, dow_names },
};

/* The shorthands and what they stand for. */
static const struct {
	const char *name;
	const char *expr;
} shorthands[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Where the parser of one field reports to. */
struct ctx {
	int fno;              /* 0-4 */
	const struct field *f;
	char *errbuf;
	size_t errlen;
};

/* Reports a problem with field ctx->fno. */
static void __attribute__((format(printf, 2, 3)))
field_fail(const struct ctx *x, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	tf_errf(x->errbuf, x->errlen, "cron: field %d (%s): %s", x->fno + 1,
	    x->f->name, what);
}

/*
 * Reads a value at *p (a number or, in the month and weekday fields, a
 * name) within the field's range into *out and advances *p. `range_end`
 * says the value ends a range, where "sun" is 7.
 */
static bool
read_value(const struct ctx *x, const char **p, bool range_end, int *out)
{
	const char *s = *p, *e;
	char q[QUOTE_MAX + 8];
	long v = 0;
	int i;

	if (is_digit(*s)) {
		for (e = s; is_digit(*e); e++) {
			if (v < 100000)
				v = v * 10 + (*e - '0');
		}
		if (v < x->f->lo || v > x->f->hi) {
			tf_err_quote(q, sizeof(q), s, (size_t)(e - s), QUOTE_MAX);
			field_fail(x, "%s is out of range %d-%d", q, x->f->lo,
			    x->f->hi);
			return false;
		}
		*p = e;
		*out = (int)v;
		return true;
	}
	if (is_alpha(*s)) {
		for (e = s; is_alpha(*e); e++)
			;
		tf_err_quote(q, sizeof(q), s, (size_t)(e - s), QUOTE_MAX);
		if (x->f->names == NULL) {
			field_fail(x, "names such as \"%s\" are allowed only for months "
			    "and weekdays", q);
			return false;
		}
		for (i = 0; e - s == 3 && x->f->names[i] != NULL; i++) {
			if (lower(s[0]) == x->f->names[i][0] &&
			    lower(s[1]) == x->f->names[i][1] &&
			    lower(s[2]) == x->f->names[i][2]) {
				*out = x->f->lo + i;
				if (range_end && x->f->names == dow_names && i == 0)
					*out = 7;
				*p = e;
				return true;
			}
		}
		field_fail(x, "unknown name \"%s\" (want %s)", q,
		    x->f->names == month_names ? "jan..dec" : "sun..sat");
		return false;
	}
	if (*s == '\0' || *s == ',' || *s == '-' || *s == '/')
		field_fail(x, "a value is missing");
	else
		field_fail(x, "unexpected \"%c\"",
		    (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?');
	return false;
}

/* Parses one list element, elem[0..len), and sets its bits in *bits. */
static bool
parse_element(const struct ctx *x, const char *elem, size_t len,
    uint64_t *bits)
{
	char buf[64], q[QUOTE_MAX + 8];
	const char *p, *st;
	int a, b, step = 1, v, span = x->f->hi - x->f->lo + 1;
	bool single = false;
	long sv = 0;

	tf_err_quote(q, sizeof(q), elem, len, QUOTE_MAX);
	if (len == 0) {
		field_fail(x, "empty list element");
		return false;
	}
	if (len >= sizeof(buf)) {
		field_fail(x, "element \"%s\" is too long", q);
		return false;
	}
	memcpy(buf, elem, len);
	buf[len] = '\0';
	p = buf;
	if (*p == '*') {
		p++;
		a = x->f->lo;
		b = x->f->hi;
	} else {
		if (!read_value(x, &p, false, &a))
			return false;
		b = a;
		single = true;
		if (*p == '-') {
			p++;
			if (!read_value(x, &p, true, &b))
				return false;
			single = false;
			if (b < a) {
				field_fail(x, "range \"%s\" is backwards", q);
				return false;
			}
		}
	}
	if (*p == '/') {
		p++;
		st = p;
		while (is_digit(*p)) {
			if (sv < 100000)
				sv = sv * 10 + (*p - '0');
			p++;
		}
		if (p == st) {
			field_fail(x, "a step is missing in \"%s\"", q);
			return false;
		}
		if (sv < 1 || sv > span) {
			field_fail(x, "step %.*s is out of range 1-%d", (int)(p - st),
			    st, span);
			return false;
		}
		step = (int)sv;
		/* Vixie cron: N/S is N to the end of the range in steps of S. */
		if (single)
			b = x->f->hi;
	}
	if (*p != '\0') {
		field_fail(x, "unexpected \"%c\" in \"%s\"",
		    (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f ? *p : '?',
		    q);
		return false;
	}
	for (v = a; v <= b; v += step)
		*bits |= (uint64_t)1 << v;
	return true;
}

/* Parses field number fno, text[0..len), into *bits. */
static bool
parse_field(int fno, const char *text, size_t len, uint64_t *bits,
    char *errbuf, size_t errlen)
{
	struct ctx x = { fno, &fields[fno], errbuf, errlen };
	size_t i = 0, j;

	*bits = 0;
	for (;;) {
		for (j = i; j < len && text[j] != ','; j++)
			;
		if (!parse_element(&x, text + i, j - i, bits))
			return false;
		if (j == len)
			break;
		i = j + 1;
	}
	return true;
}

/* Splits s into whitespace-separated words: up to `max` starts and lengths;
 * returns how many words there are (possibly more than max). */
static int
split(const char *s, const char **start, size_t *len, int max)
{
	int n = 0;

	for (;;) {
		const char *w;

		while (is_space(*s))
			s++;
		if (*s == '\0')
			return n;
		w = s;
		while (*s != '\0' && !is_space(*s))
			s++;
		if (n < max) {
			start[n] = w;
			len[n] = (size_t)(s - w);
		}
		n++;
	}
}

static bool
word_is(const char *w, size_t len, const char *name)
{
	size_t i;

	if (strlen(name) != len)
		return false;
	for (i = 0; i < len; i++) {
		if (lower(w[i]) != name[i])
			return false;
	}
	return true;
}

enum tf_err
tf_cron_parse(const char *expr, struct tf_cron *out, char *errbuf,
    size_t errlen)
{
	const char *start[5];
	size_t len[5], i;
	uint64_t bits[5];
	char q[QUOTE_MAX + 8];
	int n, f;

	memset(out, 0, sizeof(*out));
	n = split(expr, start, len, 5);
	if (n == 0) {
		tf_errf(errbuf, errlen, "cron: empty expression");
		return TF_ERR_INVALID;
	}
	if (start[0][0] == '@') {
		tf_err_quote(q, sizeof(q), start[0], len[0], QUOTE_MAX);
		if (n > 1) {
			tf_errf(errbuf, errlen, "cron: nothing may follow \"%s\"", q);
			return TF_ERR_INVALID;
		}
		if (word_is(start[0], len[0], "@reboot")) {
			tf_errf(errbuf, errlen, "cron: @reboot is not supported (a "
			    "schedule needs times)");
			return TF_ERR_INVALID;
		}
		for (i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++) {
			if (word_is(start[0], len[0], shorthands[i].name))
				return tf_cron_parse(shorthands[i].expr, out, errbuf,
				    errlen);
		}
		tf_errf(errbuf, errlen, "cron: unknown shorthand \"%s\" (want @yearly, "
		    "@annually, @monthly, @weekly, @daily, @midnight or @hourly)", q);
		return TF_ERR_INVALID;
	}
	if (n != 5) {
		tf_errf(errbuf, errlen, "cron: expected 5 fields (minute hour "
		    "day-of-month month day-of-week), got %d", n);
		return TF_ERR_INVALID;
	}
	for (f = 0; f < 5; f++) {
		if (!parse_field(f, start[f], len[f], &bits[f], errbuf, errlen))
			return TF_ERR_INVALID;
	}
	out->minute = bits[0];
	out->hour = (uint32_t)bits[1];
	out->dom = (uint32_t)bits[2];
	out->month = (uint16_t)bits[3];
	/* Sunday is 0 and 7. */
	out->dow = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f);
	out->dom_star = start[2][0] == '*';
	out->dow_star = start[4][0] == '*';
	return TF_OK;
}

/* Bits 1..n (n at most 31). */
static uint32_t
days_upto(int n)
{
	return n >= 31 ? 0xfffffffeu : ((1u << (n + 1)) - 2);
}

/* The matching days of month m of year y: bit d for day d. */
static uint32_t
day_mask(const struct tf_cron *c, int64_t y, int m)
{
	int dim = tf_tz_days_in_month(y, m);
	int wd = (int)((tf_tz_days_from_civil(y, m, 1) % 7 + 11) % 7);
	uint32_t valid = days_upto(dim);
	uint32_t dows = 0;
	int d;

	for (d = 1; d <= dim; d++) {
		if (c->dow >> wd & 1)
			dows |= 1u << d;
		wd = wd == 6 ? 0 : wd + 1;
	}
	if (c->dom_star || c->dow_star)
		return c->dom & dows & valid;
	return (c->dom | dows) & valid;
}

bool
tf_cron_matches(const struct tf_cron *c, const struct tf_tz_tm *tm)
{
	if (tm->mon < 1 || tm->mon > 12 || tm->mday < 1 || tm->mday > 31 ||
	    tm->hour < 0 || tm->hour > 23 || tm->min < 0 || tm->min > 59)
		return false;
	return (c->minute >> tm->min & 1) && (c->hour >> tm->hour & 1) &&
	    (c->month >> tm->mon & 1) &&
	    (day_mask(c, tm->year, tm->mon) >> tm->mday & 1);
}

bool
tf_cron_is_possible(const struct tf_cron *c)
{
	int m;

	/* Both day fields restricted: any weekday matches in every month. */
	if (!c->dom_star && !c->dow_star)
		return c->dow != 0 || c->dom != 0;
	/*
	 * Both fields must match. Each date that exists falls on every weekday
	 * in some year (Feb 29 included, within 400 years), so the question is
	 * only whether a chosen day exists in a chosen month.
	 */
	if (c->dow == 0)
		return false;
	for (m = 1; m <= 12; m++) {
		/* 2000 is a leap year: February has its 29th. */
		if ((c->month >> m & 1) &&
		    (c->dom & days_upto(tf_tz_days_in_month(2000, m))) != 0)
			return true;
	}
	return false;
}

/* Moves t to the start of the next day, month or hour. */
static void
next_month(struct tf_tz_tm *t)
{
	if (++t->mon > 12) {
		t->mon = 1;
		t->year++;
	}
	t->mday = 1;
	t->hour = 0;
	t->min = 0;
}

static void
next_day(struct tf_tz_tm *t)
{
	if (++t->mday > tf_tz_days_in_month(t->year, t->mon)) {
		next_month(t);
		return;
	}
	t->hour = 0;
	t->min = 0;
}

static void
next_hour(struct tf_tz_tm *t)
{
	if (++t->hour > 23) {
		next_day(t);
		return;
	}
	t->min = 0;
}

static void
next_minute(struct tf_tz_tm *t)
{
	if (++t->min > 59)
		next_hour(t);
}

static int
lowest_bit(uint64_t v)
{
	return __builtin_ctzll(v);
}

/*
 * Moves the local wall-clock time t (a valid date, seconds 0) forward to
 * the first minute at or after it that c matches. False when that would be
 * after the year `last_year`. Skips whole months, days and hours.
 */
static bool
next_match(const struct tf_cron *c, struct tf_tz_tm *t, int last_year)
{
	uint32_t days, hours;
	uint64_t mins;

	for (;;) {
		if (t->year > last_year)
			return false;
		if (!(c->month >> t->mon & 1)) {
			uint32_t later = c->month & MONTH_BITS & ~((2u << t->mon) - 1);

			if (later != 0) {
				t->mon = lowest_bit(later);
			} else {
				t->year++;
				t->mon = lowest_bit(c->month & MONTH_BITS);
			}
			t->mday = 1;
			t->hour = 0;
			t->min = 0;
			continue;
		}
		days = day_mask(c, t->year, t->mon) & ~((1u << t->mday) - 1);
		if (days == 0) {
			next_month(t);
			continue;
		}
		if (lowest_bit(days) != t->mday) {
			t->mday = lowest_bit(days);
			t->hour = 0;
			t->min = 0;
		}
		hours = c->hour & 0xffffffu & ~((1u << t->hour) - 1);
		if (hours == 0) {
			next_day(t);
			continue;
		}
		if (lowest_bit(hours) != t->hour) {
			t->hour = lowest_bit(hours);
			t->min = 0;
		}
		mins = c->minute & 0x0fffffffffffffffull &
		    ~(((uint64_t)1 << t->min) - 1);
		if (mins == 0) {
			next_hour(t);
			continue;
		}
		t->min = lowest_bit(mins);
		return true;
	}
}

enum tf_err
tf_cron_next(const struct tf_cron *c, const struct tf_tz *z, int64_t after,
    int64_t *next_out)
{
	struct tf_tz_local loc;
	struct tf_tz_utc u;
	struct tf_tz_tm t;
	int last_year, passed;

	*next_out = 0;
	if (!tf_cron_is_possible(c) || (c->minute & 0x0fffffffffffffffull) == 0 ||
	    (c->hour & 0xffffffu) == 0 || (c->month & MONTH_BITS) == 0 ||
	    after > LAST_START)
		return TF_ERR_NOT_FOUND;
	if (after < TF_TZ_MIN_S)
		after = TF_TZ_MIN_S;
	tf_tz_to_local(z, after, &loc);
	t = loc.tm;
	t.sec = 0;
	last_year = t.year + SEARCH_YEARS;
	/*
	 * Local minutes map to instants in order (a gap's minutes all map to its
	 * end, a repeated minute to its first occurrence), and every minute up
	 * to the local time of `after` maps to `after` or earlier. So walk the
	 * matching minutes after that local time and take the first that maps
	 * past `after`; only minutes in a repeated stretch are passed over.
	 */
	next_minute(&t);
	for (passed = 0;; passed++) {
		if (passed > MAX_PASSED || !next_match(c, &t, last_year))
			return TF_ERR_NOT_FOUND;
		tf_tz_local_to_utc(z, &t, &u);
		if (u.t > after)
			break;
		next_minute(&t);
	}
	*next_out = u.t;
	return TF_OK;
}
