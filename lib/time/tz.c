/* tz.c - IANA time zones: TZif files, POSIX TZ rules, local <-> UTC. */
#include "time/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

#define SECS_PER_DAY 86400LL
#define DEFAULT_TZDIR "/usr/share/zoneinfo"

/* Offsets beyond these (RFC 8536 allows -24:59:59..25:59:59) are refused;
 * local_to_utc() searches this far on either side of a local time. */
#define MAX_UTOFF 93599
#define SEARCH_SPAN (MAX_UTOFF + 1)

/* RFC 8536 section 3.3.1: rule times run from -167 to 167 hours. */
#define MAX_RULE_HOURS 167

/* A TZif file larger than this is refused (real ones are a few KiB). */
#define MAX_TZIF_SIZE (1024 * 1024)

/* The longest footer TZ string accepted. */
#define MAX_FOOTER 256

/* The longest input quoted in a message; longer input is cut with "...". */
#define QUOTE_MAX 60

/* One local time type: an offset, a DST flag, an abbreviation. */
struct ttinfo {
	int32_t utoff;                /* seconds east of UTC */
	bool isdst;
	char abbr[TF_TZ_ABBR_SIZE];
};

/* One date of a POSIX TZ rule and the local time of day of the change. */
struct rule_date {
	char kind;     /* 'J' (Jn, 1-365, no Feb 29), 'n' (0-365), 'M' */
	int n;         /* J and n: the day */
	int m, w, d;   /* M: month 1-12, week 1-5 (5 = last), weekday 0-6 */
	int32_t time;  /* seconds after local midnight, +-167 h */
};

/* A POSIX TZ string: standard time, and DST with its yearly rule. */
struct tz_rule {
	struct ttinfo std;
	struct ttinfo dst;
	bool has_dst;
	struct rule_date start;  /* std -> dst, given in standard local time */
	struct rule_date end;    /* dst -> std, given in DST local time */
};

struct tf_tz {
	char *name;              /* owned; for static zones a literal */
	char *dir;               /* owned; the zoneinfo directory (cache key) */
	int64_t *trans;          /* owned; transition instants, ascending */
	uint8_t *idx;            /* owned; the type index of each transition */
	size_t ntrans;
	struct ttinfo *types;    /* owned; at least one */
	size_t ntypes;
	bool has_rule;           /* the footer's rule rules after the last transition */
	struct tz_rule rule;
	bool keep;               /* static or cached: tf_tz_free() ignores it */
	struct tf_tz *next;      /* the cache list */
};

static struct ttinfo utc_type = { 0, false, "UTC" };

static struct tf_tz utc_zone = {
	(char *)"UTC", NULL, NULL, NULL, 0, &utc_type, 1, false,
	{ { 0, false, "" }, { 0, false, "" }, false,
	  { 0, 0, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0 } },
	true, NULL
};

static struct tf_tz etc_utc_zone = {
	(char *)"Etc/UTC", NULL, NULL, NULL, 0, &utc_type, 1, false,
	{ { 0, false, "" }, { 0, false, "" }, false,
	  { 0, 0, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 0 } },
	true, NULL
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tf_tz *cache;  /* loaded zones, never freed */

/* ---- the civil calendar ---------------------------------------------- */

bool
tf_tz_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
tf_tz_days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	return m == 2 && tf_tz_is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 (H. Hinnant's days_from_civil). Linear in mday, so
 * an mday past the month's end counts on into the next month. */
int64_t
tf_tz_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
tf_tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t
clamp_t(int64_t t)
{
	if (t < TF_TZ_MIN_S)
		return TF_TZ_MIN_S;
	if (t > TF_TZ_MAX_S)
		return TF_TZ_MAX_S;
	return t;
}

/* Floor division and modulo for a positive divisor. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

static int64_t
floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;

	return r < 0 ? r + b : r;
}

void
tf_tz_gmtime(int64_t t, struct tf_tz_tm *out)
{
	int64_t days, secs, y;
	int m, d;

	t = clamp_t(t);
	days = floor_div(t, SECS_PER_DAY);
	secs = floor_mod(t, SECS_PER_DAY);
	tf_tz_civil_from_days(days, &y, &m, &d);
	out->year = (int)y;
	out->mon = m;
	out->mday = d;
	out->hour = (int)(secs / 3600);
	out->min = (int)(secs / 60 % 60);
	out->sec = (int)(secs % 60);
	out->wday = (int)floor_mod(days + 4, 7);  /* 1970-01-01 was a Thursday */
	out->yday = (int)(days - tf_tz_days_from_civil(y, 1, 1));
}

int64_t
tf_tz_timegm(const struct tf_tz_tm *tm)
{
	int64_t y = tm->year, mon = (int64_t)tm->mon - 1, days;

	y += floor_div(mon, 12);
	mon = floor_mod(mon, 12);
	/* mday is linear in days_from_civil, so out-of-range values just count on. */
	days = tf_tz_days_from_civil(y, (int)mon + 1, 1) + (int64_t)tm->mday - 1;
	return clamp_t(days * SECS_PER_DAY + (int64_t)tm->hour * 3600 +
	    (int64_t)tm->min * 60 + tm->sec);
}

/* ---- zone names -------------------------------------------------------- */

bool
tf_tz_name_is_valid(const char *name)
{
	size_t i, len;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len == 0 || len > TF_TZ_NAME_MAX)
		return false;
	if (name[0] == '/' || name[len - 1] == '/')
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (c == '/' && name[i + 1] == '/')
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '+' ||
		    c == '-'))
			return false;
	}
	return true;
}

/* ---- POSIX TZ rules ----------------------------------------------------- */

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

/* Reads a zone abbreviation at *p: three or more letters, or <...> with
 * letters, digits, '+' and '-'. */
static bool
read_abbr(const char **p, char abbr[TF_TZ_ABBR_SIZE])
{
	const char *s = *p, *e;
	size_t n;

	if (*s == '<') {
		s++;
		for (e = s; is_alpha(*e) || is_digit(*e) || *e == '+' || *e == '-'; e++)
			;
		if (*e != '>')
			return false;
		*p = e + 1;
	} else {
		for (e = s; is_alpha(*e); e++)
			;
		*p = e;
	}
	n = (size_t)(e - s);
	if (n < 3)
		return false;
	if (n >= TF_TZ_ABBR_SIZE)
		n = TF_TZ_ABBR_SIZE - 1;
	memcpy(abbr, s, n);
	abbr[n] = '\0';
	return true;
}

/* Reads up to `maxdig` digits at *p into *out; at least one. */
static bool
read_num(const char **p, int maxdig, int *out)
{
	int v = 0, i;

	for (i = 0; i < maxdig && is_digit((*p)[i]); i++)
		v = v * 10 + ((*p)[i] - '0');
	if (i == 0 || is_digit((*p)[i]))
		return false;
	*p += i;
	*out = v;
	return true;
}

/* Reads [+-]hh[:mm[:ss]] at *p, hh at most max_h, into seconds. */
static bool
read_hms(const char **p, int max_h, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;

	if (**p == '+' || **p == '-') {
		sign = **p == '-' ? -1 : 1;
		(*p)++;
	}
	if (!read_num(p, 3, &h) || h > max_h)
		return false;
	if (**p == ':') {
		(*p)++;
		if (!read_num(p, 2, &m) || m > 59)
			return false;
		if (**p == ':') {
			(*p)++;
			if (!read_num(p, 2, &s) || s > 59)
				return false;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return true;
}

/* Reads a rule date with its optional "/time" at *p. */
static bool
read_rule_date(const char **p, struct rule_date *rd)
{
	memset(rd, 0, sizeof(*rd));
	if (**p == 'J') {
		(*p)++;
		rd->kind = 'J';
		if (!read_num(p, 3, &rd->n) || rd->n < 1 || rd->n > 365)
			return false;
	} else if (**p == 'M') {
		(*p)++;
		rd->kind = 'M';
		if (!read_num(p, 2, &rd->m) || rd->m < 1 || rd->m > 12 || **p != '.')
			return false;
		(*p)++;
		if (!read_num(p, 1, &rd->w) || rd->w < 1 || rd->w > 5 || **p != '.')
			return false;
		(*p)++;
		if (!read_num(p, 1, &rd->d) || rd->d > 6)
			return false;
	} else if (is_digit(**p)) {
		rd->kind = 'n';
		if (!read_num(p, 3, &rd->n) || rd->n > 365)
			return false;
	} else {
		return false;
	}
	rd->time = 7200;
	if (**p == '/') {
		(*p)++;
		if (!read_hms(p, MAX_RULE_HOURS, &rd->time))
			return false;
	}
	return true;
}

/* Parses a POSIX TZ string (s, len bytes) into r. */
static enum tf_err
parse_posix(const char *s, size_t len, struct tz_rule *r, char *errbuf,
    size_t errlen)
{
	char text[MAX_FOOTER + 1], q[QUOTE_MAX + 8];
	const char *p = text, *why = NULL;
	int32_t off;

	memset(r, 0, sizeof(*r));
	if (len > MAX_FOOTER || memchr(s, '\0', len) != NULL) {
		why = "too long or not text";
		goto out;
	}
	memcpy(text, s, len);
	text[len] = '\0';
	if (!read_abbr(&p, r->std.abbr)) {
		why = "bad standard time name";
		goto out;
	}
	if (!read_hms(&p, 24, &off)) {
		why = "bad standard time offset";
		goto out;
	}
	r->std.utoff = -off;
	if (*p == '\0')
		goto out;
	if (!read_abbr(&p, r->dst.abbr)) {
		why = "bad daylight saving time name";
		goto out;
	}
	r->has_dst = true;
	r->dst.isdst = true;
	r->dst.utoff = r->std.utoff + 3600;
	if (*p != ',' && *p != '\0') {
		if (!read_hms(&p, 24, &off)) {
			why = "bad daylight saving time offset";
			goto out;
		}
		r->dst.utoff = -off;
	}
	if (*p == '\0') {
		/* No rule: the United States' since 2007, as glibc does. */
		r->start = (struct rule_date){ 'M', 0, 3, 2, 0, 7200 };
		r->end = (struct rule_date){ 'M', 0, 11, 1, 0, 7200 };
		goto out;
	}
	if (*p != ',') {
		why = "expected \",\" before the rule";
		goto out;
	}
	p++;
	if (!read_rule_date(&p, &r->start) || *p != ',') {
		why = "bad rule start";
		goto out;
	}
	p++;
	if (!read_rule_date(&p, &r->end) || *p != '\0') {
		why = "bad rule end";
		goto out;
	}
out:
	if (why == NULL && (r->std.utoff < -MAX_UTOFF || r->std.utoff > MAX_UTOFF ||
	    r->dst.utoff < -MAX_UTOFF || r->dst.utoff > MAX_UTOFF))
		why = "offset out of range";
	if (why != NULL) {
		tf_err_quote(q, sizeof(q), s, len, QUOTE_MAX);
		tf_errf(errbuf, errlen, "TZ string \"%s\": %s", q, why);
		return TF_ERR_PARSE;
	}
	return TF_OK;
}

/* The day number (days since 1970-01-01) of rule date rd in year y. */
static int64_t
rule_day(const struct rule_date *rd, int64_t y)
{
	int64_t jan1 = tf_tz_days_from_civil(y, 1, 1), first;
	int wd1, day, dim;

	switch (rd->kind) {
	case 'J':
		/* Feb 29 is never counted: day 60 is always March 1. */
		return jan1 + rd->n - 1 + (tf_tz_is_leap(y) && rd->n >= 60);
	case 'n':
		return jan1 + rd->n;
	default:
		first = tf_tz_days_from_civil(y, rd->m, 1);
		wd1 = (int)floor_mod(first + 4, 7);
		day = 1 + (rd->d - wd1 + 7) % 7 + 7 * (rd->w - 1);
		dim = tf_tz_days_in_month(y, rd->m);
		while (day > dim)
			day -= 7;
		return first + day - 1;
	}
}

/* One change of a rule: when, and whether DST starts (true) or ends. */
struct rule_change {
	int64_t at;
	bool to_dst;
};

/* The rule's changes in years y-2 .. y+2, ascending; at equal instants an
 * end comes before a start, so a zone on DST all year stays on DST. */
static size_t
rule_changes(const struct tz_rule *r, int64_t y, struct rule_change out[10])
{
	size_t n = 0, i, j;
	int64_t yy;

	for (yy = y - 2; yy <= y + 2; yy++) {
		out[n].at = rule_day(&r->start, yy) * SECS_PER_DAY + r->start.time -
		    r->std.utoff;
		out[n++].to_dst = true;
		out[n].at = rule_day(&r->end, yy) * SECS_PER_DAY + r->end.time -
		    r->dst.utoff;
		out[n++].to_dst = false;
	}
	for (i = 1; i < n; i++) {
		struct rule_change c = out[i];

		for (j = i; j > 0 && (out[j - 1].at > c.at ||
		    (out[j - 1].at == c.at && out[j - 1].to_dst && !c.to_dst)); j--)
			out[j] = out[j - 1];
		out[j] = c;
	}
	return n;
}

static int64_t
year_of(int64_t t)
{
	int64_t y;
	int m, d;

	tf_tz_civil_from_days(floor_div(t, SECS_PER_DAY), &y, &m, &d);
	return y;
}

/* The local time type the rule gives at t. Borrowed from r. */
static const struct ttinfo *
rule_info(const struct tz_rule *r, int64_t t)
{
	struct rule_change ch[10];
	size_t n, i;
	bool dst = false;

	if (!r->has_dst)
		return &r->std;
	n = rule_changes(r, year_of(t), ch);
	for (i = 0; i < n && ch[i].at <= t; i++)
		dst = ch[i].to_dst;
	return dst ? &r->dst : &r->std;
}

/* The rule's first change after t; INT64_MAX when it has none. */
static int64_t
rule_next(const struct tz_rule *r, int64_t t)
{
	struct rule_change ch[10];
	size_t n, i;

	if (!r->has_dst)
		return INT64_MAX;
	n = rule_changes(r, year_of(t), ch);
	for (i = 0; i < n; i++) {
		if (ch[i].at > t)
			return ch[i].at;
	}
	return INT64_MAX;
}

/* ---- lookups ------------------------------------------------------------ */

/* The local time type of zone z at instant t. Borrowed from z. */
static const struct ttinfo *
info_at(const struct tf_tz *z, int64_t t)
{
	size_t lo, hi;

	if (z->ntrans == 0)
		return z->has_rule ? rule_info(&z->rule, t) : &z->types[0];
	if (t < z->trans[0])
		return &z->types[0];
	if (t >= z->trans[z->ntrans - 1] && z->has_rule)
		return rule_info(&z->rule, t);
	/* The last transition at or before t. */
	lo = 0;
	hi = z->ntrans;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return &z->types[z->idx[lo]];
}

int64_t
tf_tz_next_transition(const struct tf_tz *z, int64_t t)
{
	size_t lo, hi;

	if (z->ntrans > 0 && t < z->trans[z->ntrans - 1]) {
		/* The first transition after t. */
		lo = 0;
		hi = z->ntrans - 1;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (z->trans[mid] > t)
				hi = mid;
			else
				lo = mid + 1;
		}
		return z->trans[lo];
	}
	if (!z->has_rule || t >= TF_TZ_MAX_S)
		return INT64_MAX;
	return rule_next(&z->rule, clamp_t(t));
}

const char *
tf_tz_name(const struct tf_tz *z)
{
	return z->name;
}

const struct tf_tz *
tf_tz_utc(void)
{
	return &utc_zone;
}

void
tf_tz_to_local(const struct tf_tz *z, int64_t t, struct tf_tz_local *out)
{
	const struct ttinfo *ti;

	t = clamp_t(t);
	ti = info_at(z, t);
	tf_tz_gmtime(t + ti->utoff, &out->tm);
	out->utoff = ti->utoff;
	out->is_dst = ti->isdst;
	memcpy(out->abbr, ti->abbr, sizeof(out->abbr));
}

void
tf_tz_local_to_utc(const struct tf_tz *z, const struct tf_tz_tm *lt,
    struct tf_tz_utc *out)
{
	int64_t local = tf_tz_timegm(lt);
	int64_t start = local - SEARCH_SPAN, stop = local + SEARCH_SPAN;
	int64_t sol[2] = { 0, 0 }, gap = INT64_MIN;
	int nsol = 0;

	/*
	 * Every instant whose local time is `local` lies within SEARCH_SPAN of
	 * it. Walk the stretches of constant offset that cover that window; in
	 * the stretch [start, end) with offset o the instant local - o is a
	 * solution if it falls inside. With no solution the local time is in a
	 * gap, and the first stretch whose local times all lie after it begins
	 * at the end of the gap.
	 */
	for (;;) {
		int64_t o = info_at(z, start)->utoff;
		int64_t end = tf_tz_next_transition(z, start);
		int64_t cand = local - o;

		if (cand >= start && cand < end) {
			if (nsol < 2)
				sol[nsol] = cand;
			nsol++;
		} else if (gap == INT64_MIN && start + o > local) {
			gap = start;
		}
		if (end > stop)
			break;
		start = end;
	}
	if (nsol > 0) {
		out->t = sol[0];
		out->later = nsol > 1 ? sol[1] : sol[0];
		out->kind = nsol > 1 ? TF_TZ_REPEATED : TF_TZ_UNIQUE;
	} else {
		/* Unreachable with sane data: a window of 52 hours always holds
		 * the local time or the gap that swallowed it. */
		out->t = gap != INT64_MIN ? gap : local - info_at(z, local)->utoff;
		out->later = out->t;
		out->kind = TF_TZ_SKIPPED;
	}
}

/* ---- TZif files ---------------------------------------------------------- */

/* A bounds-checked reader over the file's bytes. */
struct reader {
	const uint8_t *p;
	size_t len;
	size_t pos;
};

static bool
take(struct reader *r, size_t n, const uint8_t **out)
{
	if (n > r->len - r->pos)
		return false;
	*out = r->p + r->pos;
	r->pos += n;
	return true;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	    p[3];
}

static int64_t
be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* The counts of a TZif header. */
struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static bool
read_header(struct reader *r, char *version, struct tzif_counts *c)
{
	const uint8_t *h;

	if (!take(r, 44, &h) || memcmp(h, "TZif", 4) != 0)
		return false;
	*version = (char)h[4];
	c->isut = be32(h + 20);
	c->isstd = be32(h + 24);
	c->leap = be32(h + 28);
	c->time = be32(h + 32);
	c->type = be32(h + 36);
	c->chars = be32(h + 40);
	return true;
}

/* The size of a data block with `tsize`-byte times. */
static uint64_t
block_size(const struct tzif_counts *c, unsigned tsize)
{
	return (uint64_t)c->time * (tsize + 1) + (uint64_t)c->type * 6 +
	    c->chars + (uint64_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

/* Reads one data block into z (times of `tsize` bytes). */
static enum tf_err
read_block(struct reader *r, const struct tzif_counts *c, unsigned tsize,
    struct tf_tz *z, char *errbuf, size_t errlen)
{
	const uint8_t *times = NULL, *idx = NULL, *types = NULL, *chars = NULL;
	const uint8_t *skip = NULL;
	size_t i;

	if (c->type == 0 || c->type > 256 ||
	    (c->isstd != 0 && c->isstd != c->type) ||
	    (c->isut != 0 && c->isut != c->type)) {
		tf_errf(errbuf, errlen, "bad TZif counts");
		return TF_ERR_PARSE;
	}
	if (c->leap != 0) {
		tf_errf(errbuf, errlen, "leap-second zones are not supported");
		return TF_ERR_PARSE;
	}
	if (block_size(c, tsize) > r->len - r->pos ||
	    !take(r, (size_t)c->time * tsize, &times) ||
	    !take(r, c->time, &idx) ||
	    !take(r, (size_t)c->type * 6, &types) ||
	    !take(r, c->chars, &chars) ||
	    !take(r, (size_t)c->isstd + c->isut, &skip)) {
		tf_errf(errbuf, errlen, "TZif data is truncated");
		return TF_ERR_PARSE;
	}

	z->ntrans = c->time;
	z->ntypes = c->type;
	z->trans = tf_calloc(c->time, sizeof(*z->trans));
	z->idx = tf_calloc(c->time, 1);
	z->types = tf_calloc(c->type, sizeof(*z->types));
	if (z->trans == NULL || z->idx == NULL || z->types == NULL)
		return TF_ERR_NOMEM;
	for (i = 0; i < c->time; i++) {
		z->trans[i] = tsize == 8 ? be64(times + 8 * i) :
		    (int64_t)(int32_t)be32(times + 4 * i);
		z->idx[i] = idx[i];
		if (idx[i] >= c->type || (i > 0 && z->trans[i] <= z->trans[i - 1])) {
			tf_errf(errbuf, errlen, "bad TZif transition %zu", i);
			return TF_ERR_PARSE;
		}
	}
	for (i = 0; i < c->type; i++) {
		const uint8_t *tt = types + 6 * i;
		int32_t utoff = (int32_t)be32(tt);
		size_t ai = tt[5], n = 0;

		if (utoff < -MAX_UTOFF || utoff > MAX_UTOFF || tt[4] > 1 ||
		    (c->chars > 0 && ai >= c->chars) || (c->chars == 0 && ai != 0)) {
			tf_errf(errbuf, errlen, "bad TZif local time type %zu", i);
			return TF_ERR_PARSE;
		}
		z->types[i].utoff = utoff;
		z->types[i].isdst = tt[4] == 1;
		while (ai + n < c->chars && chars[ai + n] != '\0' &&
		    n < TF_TZ_ABBR_SIZE - 1)
			n++;
		if (n > 0)
			memcpy(z->types[i].abbr, chars + ai, n);
		z->types[i].abbr[n] = '\0';
	}
	return TF_OK;
}

/* Parses the TZif bytes into z (whose name is set). */
static enum tf_err
parse_tzif(const void *data, size_t len, struct tf_tz *z, char *errbuf,
    size_t errlen)
{
	struct reader r = { data, len, 0 };
	struct tzif_counts c;
	const uint8_t *nl, *foot;
	char version;
	uint64_t v1size;
	enum tf_err rc;

	if (!read_header(&r, &version, &c)) {
		tf_errf(errbuf, errlen, "not a TZif file");
		return TF_ERR_PARSE;
	}
	if (version == '\0')
		return read_block(&r, &c, 4, z, errbuf, errlen);
	/* Version 2 and later: skip the 32-bit block, read the 64-bit one. */
	v1size = block_size(&c, 4);
	if (v1size > r.len - r.pos) {
		tf_errf(errbuf, errlen, "TZif data is truncated");
		return TF_ERR_PARSE;
	}
	r.pos += (size_t)v1size;
	if (!read_header(&r, &version, &c)) {
		tf_errf(errbuf, errlen, "TZif version 2+ header missing");
		return TF_ERR_PARSE;
	}
	rc = read_block(&r, &c, 8, z, errbuf, errlen);
	if (rc != TF_OK)
		return rc;
	/* The footer: "\n<TZ string>\n", the string possibly empty. */
	if (r.pos == r.len || r.p[r.pos] != '\n' ||
	    (nl = memchr(r.p + r.pos + 1, '\n', r.len - r.pos - 1)) == NULL) {
		tf_errf(errbuf, errlen, "bad TZif footer");
		return TF_ERR_PARSE;
	}
	foot = r.p + r.pos + 1;
	if (nl == foot)
		return TF_OK;
	rc = parse_posix((const char *)foot, (size_t)(nl - foot), &z->rule,
	    errbuf, errlen);
	if (rc != TF_OK)
		return rc;
	z->has_rule = true;
	return TF_OK;
}

void
tf_tz_free(struct tf_tz *z)
{
	if (z == NULL || z->keep)
		return;
	tf_free(z->name);
	tf_free(z->dir);
	tf_free(z->trans);
	tf_free(z->idx);
	tf_free(z->types);
	tf_free(z);
}

enum tf_err
tf_tz_from_tzif(const char *name, const void *data, size_t len,
    struct tf_tz **out, char *errbuf, size_t errlen)
{
	enum tf_err rc = TF_ERR_NOMEM;
	struct tf_tz *z = NULL;

	*out = NULL;
	z = tf_calloc(1, sizeof(*z));
	if (z == NULL)
		goto out;
	z->name = tf_strdup(name);
	if (z->name == NULL)
		goto out;
	rc = parse_tzif(data, len, z, errbuf, errlen);
	if (rc == TF_ERR_NOMEM)
		tf_errf(errbuf, errlen, "out of memory");
	if (rc != TF_OK)
		goto out;
	*out = z;
	z = NULL;
out:
	tf_tz_free(z);
	return rc;
}

enum tf_err
tf_tz_from_posix(const char *tzstr, struct tf_tz **out, char *errbuf,
    size_t errlen)
{
	enum tf_err rc = TF_ERR_NOMEM;
	struct tf_tz *z = NULL;

	*out = NULL;
	z = tf_calloc(1, sizeof(*z));
	if (z == NULL)
		goto out;
	z->name = tf_strdup(tzstr);
	z->types = tf_calloc(1, sizeof(*z->types));
	if (z->name == NULL || z->types == NULL)
		goto out;
	rc = parse_posix(tzstr, strlen(tzstr), &z->rule, errbuf, errlen);
	if (rc != TF_OK)
		goto out;
	z->ntypes = 1;
	z->types[0] = z->rule.std;
	z->has_rule = true;
	*out = z;
	z = NULL;
out:
	if (rc == TF_ERR_NOMEM)
		tf_errf(errbuf, errlen, "out of memory");
	tf_tz_free(z);
	return rc;
}

/* Reads the whole regular file at path (at most MAX_TZIF_SIZE bytes) into
 * *data (caller frees with tf_free()). */
static enum tf_err
read_file(const char *path, uint8_t **data, size_t *len, char *why,
    size_t whylen)
{
	enum tf_err rc = TF_ERR_IO;
	uint8_t *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd, e;

	*data = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		rc = e == ENOENT || e == ENOTDIR ? TF_ERR_NOT_FOUND : TF_ERR_IO;
		snprintf(why, whylen, "%s", strerror(e));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		e = errno;
		snprintf(why, whylen, "%s", strerror(e));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = TF_ERR_NOT_FOUND;
		snprintf(why, whylen, "not a zone file");
		goto out;
	}
	if (st.st_size > MAX_TZIF_SIZE) {
		rc = TF_ERR_PARSE;
		snprintf(why, whylen, "file too large");
		goto out;
	}
	buf = tf_malloc((size_t)st.st_size);
	if (buf == NULL) {
		rc = TF_ERR_NOMEM;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			snprintf(why, whylen, "%s", strerror(e));
			goto out;
		}
		got += (size_t)n;
	}
	*data = buf;
	*len = got;
	buf = NULL;
	rc = TF_OK;
out:
	tf_free(buf);
	close(fd);
	return rc;
}

enum tf_err
tf_tz_load(const char *name, const struct tf_tz **out, char *errbuf,
    size_t errlen)
{
	enum tf_err rc = TF_ERR_NOMEM;
	const char *dir;
	struct tf_tz *z = NULL;
	uint8_t *data = NULL;
	char *path = NULL, why[128], q[QUOTE_MAX + 8];
	size_t len = 0, n;
	bool locked = false;

	*out = NULL;
	if (!tf_tz_name_is_valid(name)) {
		tf_err_quote(q, sizeof(q), name != NULL ? name : "", name != NULL ?
		    strlen(name) : 0, QUOTE_MAX);
		tf_errf(errbuf, errlen, "invalid time zone name \"%s\" (want a name "
		    "such as Europe/Berlin: letters, digits, \"/\", \"_\", \"+\", "
		    "\"-\")", q);
		return TF_ERR_INVALID;
	}
	if (strcmp(name, "UTC") == 0) {
		*out = &utc_zone;
		return TF_OK;
	}
	if (strcmp(name, "Etc/UTC") == 0) {
		*out = &etc_utc_zone;
		return TF_OK;
	}
	dir = getenv("TZDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = DEFAULT_TZDIR;

	pthread_mutex_lock(&cache_lock);
	locked = true;
	for (z = cache; z != NULL; z = z->next) {
		if (strcmp(z->name, name) == 0 && strcmp(z->dir, dir) == 0) {
			*out = z;
			z = NULL;
			rc = TF_OK;
			goto out;
		}
	}
	n = strlen(dir) + strlen(name) + 2;
	path = tf_malloc(n);
	if (path == NULL) {
		tf_errf(errbuf, errlen, "out of memory");
		goto out;
	}
	snprintf(path, n, "%s/%s", dir, name);
	rc = read_file(path, &data, &len, why, sizeof(why));
	if (rc != TF_OK) {
		if (rc == TF_ERR_NOT_FOUND)
			tf_errf(errbuf, errlen, "unknown time zone \"%s\" (not in %s)",
			    name, dir);
		else
			tf_errf(errbuf, errlen, "time zone \"%s\": %s: %s", name, path, why);
		goto out;
	}
	rc = tf_tz_from_tzif(name, data, len, &z, why, sizeof(why));
	if (rc != TF_OK) {
		tf_errf(errbuf, errlen, "time zone \"%s\": %s: %s", name, path, why);
		goto out;
	}
	z->dir = tf_strdup(dir);
	if (z->dir == NULL) {
		rc = TF_ERR_NOMEM;
		tf_errf(errbuf, errlen, "out of memory");
		goto out;
	}
	z->keep = true;
	z->next = cache;
	cache = z;
	*out = z;
	z = NULL;
out:
	if (locked)
		pthread_mutex_unlock(&cache_lock);
	tf_tz_free(z);
	tf_free(data);
	tf_free(path);
	return rc;
}
