/* test_cron.c - cron expressions: parsing, matching, next fire times, DST. */
#include "harness.h"

#include <stdarg.h>
#include <time.h>

#include "time/cron.h"
#include "time/tz.h"

/* Bits for a list of values ending with -1. */
static uint64_t
bits(int first, ...)
{
	va_list ap;
	uint64_t b = 0;
	int v;

	va_start(ap, first);
	for (v = first; v >= 0; v = va_arg(ap, int))
		b |= (uint64_t)1 << v;
	va_end(ap);
	return b;
}

/* Bits lo..hi step s. */
static uint64_t
range_bits(int lo, int hi, int s)
{
	uint64_t b = 0;
	int v;

	for (v = lo; v <= hi; v += s)
		b |= (uint64_t)1 << v;
	return b;
}

#define PARSE(c, expr) do { \
		char eb_[256]; \
		enum tf_err rc_ = tf_cron_parse((expr), &(c), eb_, sizeof(eb_)); \
		CHECK_MSG(rc_ == TF_OK, "\"%s\": %s", (expr), eb_); \
	} while (0)

/* Checks that expr is refused with exactly the message want. */
#define CHECK_BAD(expr, want) do { \
		struct tf_cron c_; \
		char eb_[256]; \
		enum tf_err rc_ = tf_cron_parse((expr), &c_, eb_, sizeof(eb_)); \
		CHECK_MSG(rc_ == TF_ERR_INVALID, "\"%s\" accepted", (expr)); \
		CHECK_STR_EQ(eb_, (want)); \
	} while (0)

static void
test_parse_fields(void)
{
	struct tf_cron c;

	PARSE(c, "* * * * *");
	CHECK(c.minute == range_bits(0, 59, 1));
	CHECK(c.hour == range_bits(0, 23, 1));
	CHECK(c.dom == range_bits(1, 31, 1));
	CHECK(c.month == range_bits(1, 12, 1));
	CHECK(c.dow == range_bits(0, 6, 1));
	CHECK(c.dom_star && c.dow_star);

	PARSE(c, "0 9 * * 1-5");
	CHECK(c.minute == 1 && c.hour == 1u << 9);
	CHECK(c.dow == range_bits(1, 5, 1));

	PARSE(c, "*/15 */6 */10 */3 */2");
	CHECK(c.minute == bits(0, 15, 30, 45, -1));
	CHECK(c.hour == bits(0, 6, 12, 18, -1));
	CHECK(c.dom == bits(1, 11, 21, 31, -1));
	CHECK(c.month == bits(1, 4, 7, 10, -1));
	CHECK(c.dow == bits(0, 2, 4, 6, -1));  /* 0-7 step 2: Sun Tue Thu Sat */
	CHECK(c.dom_star && c.dow_star);

	PARSE(c, "1-30/5 1-23/11 2-9/3 2-12/5 1-5/2");
	CHECK(c.minute == bits(1, 6, 11, 16, 21, 26, -1));
	CHECK(c.hour == bits(1, 12, 23, -1));
	CHECK(c.dom == bits(2, 5, 8, -1));
	CHECK(c.month == bits(2, 7, 12, -1));
	CHECK(c.dow == bits(1, 3, 5, -1));
	CHECK(!c.dom_star && !c.dow_star);

	/* N/S: from N to the end of the field (Vixie cron). */
	PARSE(c, "5/15 20/2 25/3 11/1 5/1");
	CHECK(c.minute == bits(5, 20, 35, 50, -1));
	CHECK(c.hour == bits(20, 22, -1));
	CHECK(c.dom == bits(25, 28, 31, -1));
	CHECK(c.month == bits(11, 12, -1));
	CHECK(c.dow == bits(5, 6, 0, -1));  /* 5-7: 7 is Sunday */

	/* Lists mixing all forms; leading zeros; tabs and extra spaces. */
	PARSE(c, "  0,05,10-12,50/5\t1,2\t\t1,15,31  *  0,7 ");
	CHECK(c.minute == bits(0, 5, 10, 11, 12, 50, 55, -1));
	CHECK(c.hour == bits(1, 2, -1));
	CHECK(c.dom == bits(1, 15, 31, -1));
	CHECK(c.dow == bits(0, -1));
	CHECK(!c.dom_star && !c.dow_star);

	/* Steps as large as the range: the start only. */
	PARSE(c, "*/60 */24 */31 */12 */8");
	CHECK(c.minute == 1 && c.hour == 1 && c.dom == 2 && c.month == 2 &&
	    c.dow == 1);
	PARSE(c, "* * * * */7");  /* 0 and 7: Sunday */
	CHECK(c.dow == 1);
	PARSE(c, "* * * * 7");
	CHECK(c.dow == 1);
	PARSE(c, "* * * * 0-7");
	CHECK(c.dow == 0x7f);
}

static void
test_parse_names(void)
{
	struct tf_cron c;

	PARSE(c, "0 0 1 jan *");
	CHECK(c.month == bits(1, -1));
	PARSE(c, "0 0 1 JAN,Jun,dec *");
	CHECK(c.month == bits(1, 6, 12, -1));
	PARSE(c, "0 0 1 mar-may *");
	CHECK(c.month == bits(3, 4, 5, -1));
	PARSE(c, "0 0 1 feb-NOV/3 *");
	CHECK(c.month == bits(2, 5, 8, 11, -1));
	PARSE(c, "0 0 1 1-mar *");
	CHECK(c.month == bits(1, 2, 3, -1));
	PARSE(c, "0 0 * * mon-fri");
	CHECK(c.dow == range_bits(1, 5, 1));
	PARSE(c, "0 0 * * SUN,Sat");
	CHECK(c.dow == bits(0, 6, -1));
	/* "sun" ends a range as 7. */
	PARSE(c, "0 0 * * fri-sun");
	CHECK(c.dow == bits(0, 5, 6, -1));
	PARSE(c, "0 0 * * sun-tue");
	CHECK(c.dow == bits(0, 1, 2, -1));
	PARSE(c, "0 0 * * sun-sat/2");
	CHECK(c.dow == bits(0, 2, 4, 6, -1));
	PARSE(c, "0 0 * * wed/2");
	CHECK(c.dow == bits(3, 5, 0, -1));  /* 3, 5, 7 */
}

static void
test_parse_shorthands(void)
{
	static const char *const pairs[][2] = {
		{ "@yearly", "0 0 1 1 *" },
		{ "@annually", "0 0 1 1 *" },
		{ "@monthly", "0 0 1 * *" },
		{ "@weekly", "0 0 * * 0" },
		{ "@daily", "0 0 * * *" },
		{ "@midnight", "0 0 * * *" },
		{ "@hourly", "0 * * * *" },
		{ "  @DAILY ", "0 0 * * *" },
	};
	struct tf_cron a, b;
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		PARSE(a, pairs[i][0]);
		PARSE(b, pairs[i][1]);
		CHECK_MSG(memcmp(&a, &b, sizeof(a)) == 0, "%s", pairs[i][0]);
	}
}

static void
test_parse_errors(void)
{
	char eb[8];
	struct tf_cron c;

	CHECK_BAD("", "cron: empty expression");
	CHECK_BAD(" \t ", "cron: empty expression");
	CHECK_BAD("* * * *", "cron: expected 5 fields (minute hour day-of-month "
	    "month day-of-week), got 4");
	CHECK_BAD("* * * * * /bin/true", "cron: expected 5 fields (minute hour "
	    "day-of-month month day-of-week), got 6");
	CHECK_BAD("60 * * * *", "cron: field 1 (minute): 60 is out of range 0-59");
	CHECK_BAD("0 24 * * *", "cron: field 2 (hour): 24 is out of range 0-23");
	CHECK_BAD("0 0 0 * *",
	    "cron: field 3 (day-of-month): 0 is out of range 1-31");
	CHECK_BAD("0 0 32 * *",
	    "cron: field 3 (day-of-month): 32 is out of range 1-31");
	CHECK_BAD("0 0 * 13 *", "cron: field 4 (month): 13 is out of range 1-12");
	CHECK_BAD("0 0 * 0 *", "cron: field 4 (month): 0 is out of range 1-12");
	CHECK_BAD("0 0 * * 8",
	    "cron: field 5 (day-of-week): 8 is out of range 0-7");
	CHECK_BAD("99999999999999999999999 * * * *", "cron: field 1 (minute): "
	    "99999999999999999999999 is out of range 0-59");
	CHECK_BAD("1-60 * * * *", "cron: field 1 (minute): 60 is out of range 0-59");
	CHECK_BAD("*/0 * * * *", "cron: field 1 (minute): step 0 is out of range "
	    "1-60");
	CHECK_BAD("* */25 * * *", "cron: field 2 (hour): step 25 is out of range "
	    "1-24");
	CHECK_BAD("* * * * */9", "cron: field 5 (day-of-week): step 9 is out of "
	    "range 1-8");
	CHECK_BAD("*/ * * * *", "cron: field 1 (minute): a step is missing in "
	    "\"*/\"");
	CHECK_BAD("30-10 * * * *", "cron: field 1 (minute): range \"30-10\" is "
	    "backwards");
	CHECK_BAD("0 0 * dec-jan *", "cron: field 4 (month): range \"dec-jan\" is "
	    "backwards");
	CHECK_BAD("1,,2 * * * *", "cron: field 1 (minute): empty list element");
	CHECK_BAD("1, * * * *", "cron: field 1 (minute): empty list element");
	CHECK_BAD(",1 * * * *", "cron: field 1 (minute): empty list element");
	CHECK_BAD("1-2-3 * * * *", "cron: field 1 (minute): unexpected \"-\" in "
	    "\"1-2-3\"");
	CHECK_BAD("*/5/2 * * * *", "cron: field 1 (minute): unexpected \"/\" in "
	    "\"*/5/2\"");
	CHECK_BAD("-1 * * * *", "cron: field 1 (minute): a value is missing");
	CHECK_BAD("0 0 * * mon-", "cron: field 5 (day-of-week): a value is "
	    "missing");
	CHECK_BAD("0 0 ? * *", "cron: field 3 (day-of-month): unexpected \"?\"");
	CHECK_BAD("0 0 1W * *", "cron: field 3 (day-of-month): unexpected \"W\" "
	    "in \"1W\"");
	CHECK_BAD("0 0 L * *", "cron: field 3 (day-of-month): names such as "
	    "\"L\" are allowed only for months and weekdays");
	CHECK_BAD("0 0 * * 1#2", "cron: field 5 (day-of-week): unexpected \"#\" "
	    "in \"1#2\"");
	CHECK_BAD("0 0 * * 5L", "cron: field 5 (day-of-week): unexpected \"L\" in "
	    "\"5L\"");
	CHECK_BAD("0 0 * foo *", "cron: field 4 (month): unknown name \"foo\" "
	    "(want jan..dec)");
	CHECK_BAD("0 0 * january *", "cron: field 4 (month): unknown name "
	    "\"january\" (want jan..dec)");
	CHECK_BAD("0 0 * * monday", "cron: field 5 (day-of-week): unknown name "
	    "\"monday\" (want sun..sat)");
	CHECK_BAD("0 mon * * *", "cron: field 2 (hour): names such as \"mon\" "
	    "are allowed only for months and weekdays");
	CHECK_BAD("0 0 * jan/x *", "cron: field 4 (month): a step is missing in "
	    "\"jan/x\"");
	CHECK_BAD("@reboot", "cron: @reboot is not supported (a schedule needs "
	    "times)");
	CHECK_BAD("@every_day", "cron: unknown shorthand \"@every_day\" (want "
	    "@yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)");
	CHECK_BAD("@daily 0", "cron: nothing may follow \"@daily\"");
	CHECK_BAD("0 0 * * \x01", "cron: field 5 (day-of-week): unexpected \"?\"");
	CHECK_BAD("0\n0 * * *", "cron: expected 5 fields (minute hour "
	    "day-of-month month day-of-week), got 4");
	/* A short errbuf is cut, not overrun; NULL with 0 is fine. */
	CHECK_INT_EQ(tf_cron_parse("60 * * * *", &c, eb, sizeof(eb)),
	    TF_ERR_INVALID);
	CHECK_INT_EQ(strlen(eb), sizeof(eb) - 1);
	CHECK_INT_EQ(tf_cron_parse("60 * * * *", &c, NULL, 0), TF_ERR_INVALID);
}

/* Checks whether expr matches the UTC minute y-m-d h:mi. */
#define CHECK_MATCH(expr, y, m, d, h, mi, want) do { \
		struct tf_cron c_; \
		struct tf_tz_tm tm_ = { (y), (m), (d), (h), (mi), 0, 0, 0 }; \
		PARSE(c_, (expr)); \
		CHECK_MSG(tf_cron_matches(&c_, &tm_) == (want), \
		    "\"%s\" at %04d-%02d-%02d %02d:%02d: want %d", (expr), (y), (m), \
		    (d), (h), (mi), (want)); \
	} while (0)

static void
test_vixie_day_rule(void)
{
	/* 2026-03-06 is a Friday, 2026-03-13 a Friday the 13th, 2026-04-13 a
	 * Monday. */
	/* Both restricted: either matches. */
	CHECK_MATCH("0 0 13 * 5", 2026, 3, 6, 0, 0, true);
	CHECK_MATCH("0 0 13 * 5", 2026, 4, 13, 0, 0, true);
	CHECK_MATCH("0 0 13 * 5", 2026, 4, 14, 0, 0, false);
	/* One starts with "*": both must match. */
	CHECK_MATCH("0 0 * * 5", 2026, 3, 6, 0, 0, true);
	CHECK_MATCH("0 0 * * 5", 2026, 4, 13, 0, 0, false);
	CHECK_MATCH("0 0 13 * *", 2026, 4, 13, 0, 0, true);
	CHECK_MATCH("0 0 13 * *", 2026, 3, 6, 0, 0, false);
	/* A star with a step still counts as "*" (Vixie looks at the first
	 * character): odd days AND Fridays. */
	CHECK_MATCH("0 0 */2 * 5", 2026, 3, 13, 0, 0, true);
	CHECK_MATCH("0 0 */2 * 5", 2026, 3, 6, 0, 0, false);
	CHECK_MATCH("0 0 */2 * 5", 2026, 3, 7, 0, 0, false);
	CHECK_MATCH("0 0 13 * */2", 2026, 4, 13, 0, 0, false);  /* a Monday */
	CHECK_MATCH("0 0 13 * */2", 2026, 8, 13, 0, 0, true);   /* a Thursday */
	/* Written out in full, the fields are restricted: either matches. So
	 * "1-31" and "*" differ here, as in Vixie cron. */
	CHECK_MATCH("0 0 1-31 * 5", 2026, 4, 13, 0, 0, true);
	CHECK_MATCH("0 0 * * 5", 2026, 4, 13, 0, 0, false);
	CHECK_MATCH("0 0 13 * 0-7", 2026, 4, 14, 0, 0, true);
	/* Minute, hour and month must match as well. */
	CHECK_MATCH("0 0 13 * 5", 2026, 3, 6, 0, 1, false);
	CHECK_MATCH("0 0 13 * 5", 2026, 3, 6, 1, 0, false);
	CHECK_MATCH("0 0 13 jan 5", 2026, 3, 6, 0, 0, false);
	/* Days that do not exist never match. */
	CHECK_MATCH("0 0 * * *", 2026, 2, 30, 0, 0, false);
}

static void
test_possible(void)
{
	static const struct {
		const char *expr;
		bool possible;
	} cases[] = {
		{ "0 0 30 2 *", false },
		{ "0 0 31 2 *", false },
		{ "0 0 30,31 2 *", false },
		{ "0 0 31 4,6,9,11 *", false },
		{ "0 0 31 apr-jun/2 *", false },
		{ "0 0 30 2 */7", false },     /* both must match; Feb 30 never does */
		{ "0 0 29 2 *", true },
		{ "0 0 31 4-5 *", true },
		{ "0 0 30 2 1", true },        /* either: any Monday in February */
		{ "0 0 */30 2 *", true },      /* the 1st */
		{ "0 0 29 2 */7", true },      /* Feb 29 on a Sunday: 2032, 2060 */
		{ "* * * * *", true },
	};
	size_t i;
	struct tf_cron c;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		PARSE(c, cases[i].expr);
		CHECK_MSG(tf_cron_is_possible(&c) == cases[i].possible, "%s",
		    cases[i].expr);
	}
}

/* Checks the fire times of expr in zone z after `after`: a list of epoch
 * seconds ending with 0 (each one after the previous). */
static int
check_next_list(const char *expr, const struct tf_tz *z, int64_t after,
    const int64_t *want, char *why, size_t whylen)
{
	struct tf_cron c;
	int64_t got;
	int i;

	if (tf_cron_parse(expr, &c, why, whylen) != TF_OK)
		return 0;
	for (i = 0; want[i] != 0; i++) {
		if (tf_cron_next(&c, z, after, &got) != TF_OK) {
			snprintf(why, whylen, "\"%s\" after %lld: no fire time, want %lld",
			    expr, (long long)after, (long long)want[i]);
			return 0;
		}
		if (got != want[i]) {
			snprintf(why, whylen, "\"%s\" in %s after %lld: got %lld, want %lld",
			    expr, tf_tz_name(z), (long long)after, (long long)got,
			    (long long)want[i]);
			return 0;
		}
		after = got;
	}
	return 1;
}

#define CHECK_NEXT(expr, z, after, ...) do { \
		static const int64_t want_[] = { __VA_ARGS__, 0 }; \
		char why_[300]; \
		CHECK_MSG(check_next_list((expr), (z), (after), want_, why_, \
		    sizeof(why_)), "%s", why_); \
	} while (0)

#define LOAD(z, name) do { \
		char eb_[256]; \
		enum tf_err rc_ = tf_tz_load((name), &(z), eb_, sizeof(eb_)); \
		CHECK_MSG(rc_ == TF_OK, "load %s: %s", (name), eb_); \
	} while (0)

static void
test_next_utc(void)
{
	const struct tf_tz *u = tf_tz_utc();
	struct tf_cron c;
	int64_t got;

	/* 2026-03-06T10:00:00Z, a Friday. */
	CHECK_NEXT("0 9 * * 1-5", u, 1772791200, 1773046800, 1773133200);
	/* Strictly after: a fire time is not returned again. */
	CHECK_NEXT("*/15 * * * *", u, 1772791200, 1772792100, 1772793000);
	CHECK_NEXT("*/15 * * * *", u, 1772791200 + 450, 1772792100);
	CHECK_NEXT("*/15 * * * *", u, 1772792099, 1772792100);
	CHECK_NEXT("5/15 * * * *", u, 1772791200 + 51 * 60, 1772791200 + 65 * 60);
	/* Year ends. */
	CHECK_NEXT("0 0 1 1 *", u, 1798761599, 1798761600);
	CHECK_NEXT("@yearly", u, 1798761600, 1830297600);
	CHECK_NEXT("59 23 31 12 *", u, 1767225600, 1798761540);
	/* Months with a 31st. */
	CHECK_NEXT("0 0 31 * *", u, 1775001600, 1780185600);
	/* Leap days: 2028, 2032; not 2100 (a century), but 2104. */
	CHECK_NEXT("0 0 29 2 *", u, 1767225600, 1835395200, 1961625600);
	CHECK_NEXT("0 0 29 2 *", u, 3981398400LL, 4233686400LL);
	/* Feb 29 on a Sunday (both must match): 2032, then 2060. */
	CHECK_NEXT("0 0 29 2 */7", u, 1767225600, 1961625600, 2845238400LL);
	/* Feb 29 or a Monday in February (either): after 2026-02-24, the next
	 * is Monday 2027-02-01. */
	CHECK_NEXT("0 0 29 2 1", u, 1771891200, 1801440000);
	/* After Monday 2029-02-26 comes Monday 2030-02-04 (Perl's
	 * DateTime::Event::Cron 0.09 skips to 02-11: see tests/cron). */
	CHECK_NEXT("0 0 29 2 1", u, 1866758400, 1896393600);
	/* The Vixie rule: the 13th and Fridays. */
	CHECK_NEXT("0 0 13 * 5", u, 1772323200, 1772755200, 1773360000,
	    1773964800, 1774569600, 1775174400, 1775779200, 1776038400);
	/* @weekly is Sunday midnight; @monthly the 1st; @hourly. */
	CHECK_NEXT("@weekly", u, 1772791200, 1772928000);
	CHECK_NEXT("0 0 * * sun", u, 1772791200, 1772928000);
	CHECK_NEXT("0 0 * * 7", u, 1772791200, 1772928000);
	CHECK_NEXT("@monthly", u, 1772791200, 1775001600);
	CHECK_NEXT("@hourly", u, 1772791200, 1772794800);
	/* Before 1970 works too. */
	CHECK_NEXT("0 12 * * *", u, -86400 * 3, -86400 * 3 + 43200);

	/* Never: refused at once, whatever the start. */
	PARSE(c, "0 0 30 2 *");
	CHECK_INT_EQ(tf_cron_next(&c, u, 0, &got), TF_ERR_NOT_FOUND);
	CHECK_INT_EQ(got, 0);
	PARSE(c, "0 0 31 4,6,9,11 *");
	CHECK_INT_EQ(tf_cron_next(&c, u, 0, &got), TF_ERR_NOT_FOUND);
	/* At the end of the supported range. */
	PARSE(c, "* * * * *");
	CHECK_INT_EQ(tf_cron_next(&c, u, TF_TZ_MAX_S, &got), TF_ERR_NOT_FOUND);
	CHECK_INT_EQ(tf_cron_next(&c, u, INT64_MAX, &got), TF_ERR_NOT_FOUND);
	CHECK_INT_EQ(tf_cron_next(&c, u, INT64_MIN, &got), TF_OK);
	/* Near the end of the range, in a zone east of UTC: refused at once,
	 * not a walk through centuries of minutes. */
	{
		const struct tf_tz *z;
		clock_t t0 = clock();

		LOAD(z, "Asia/Kolkata");
		CHECK_INT_EQ(tf_cron_next(&c, z, TF_TZ_MAX_S - 1000, &got),
		    TF_ERR_NOT_FOUND);
		CHECK_INT_EQ(tf_cron_next(&c, z, TF_TZ_MAX_S - 400LL * 31622400,
		    &got), TF_ERR_NOT_FOUND);
		/* Year 99000 still works. */
		CHECK_INT_EQ(tf_cron_next(&c, z, 3062000000000LL, &got), TF_OK);
		CHECK_INT_EQ(got, 3062000000000LL + 60 - (3062000000000LL + 19800) % 60);
		CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
	}
}

static void
test_next_dst_berlin(void)
{
	const struct tf_tz *z;

	LOAD(z, "Europe/Berlin");
	/* 2026-03-29: 02:00-02:59 does not exist. All four slots map to the
	 * end of the gap, 03:00 CEST (01:00 UTC), and fire there once. */
	CHECK_NEXT("*/15 2 * * *", z, 1774738800, 1774746000, 1774828800,
	    1774829700);
	CHECK_NEXT("30 2 * * *", z, 1774738800, 1774746000, 1774830600);
	/* 02:00 (in the gap) and 03:00 (its end) are one fire time. */
	CHECK_NEXT("0 2,3 * * *", z, 1774738800, 1774746000, 1774828800,
	    1774832400);
	/* Every minute: 01:59 CET, then 03:00 CEST. */
	CHECK_NEXT("* * * * *", z, 1774745880, 1774745940, 1774746000,
	    1774746060);
	/* 2026-10-25: 02:00-02:59 occurs twice; 02:30 fires at 02:30 CEST only. */
	CHECK_NEXT("30 2 * * *", z, 1792850000, 1792888200, 1792978200);
	/* Every 30 minutes through the repeated hour: 02:00 and 02:30 CEST,
	 * then 03:00 CET (no second 02:00 and 02:30). */
	CHECK_NEXT("*/30 * * * *", z, 1792884600, 1792886400, 1792888200,
	    1792893600, 1792895400);
	/* 2100, from the footer rule. */
	CHECK_NEXT("30 2 * * *", z, 4109810000LL, 4109878800LL, 4109963400LL);
	CHECK_NEXT("30 2 * * *", z, 4128560000LL, 4128625800LL, 4128715800LL);
}

static void
test_next_dst_new_york(void)
{
	const struct tf_tz *z;

	LOAD(z, "America/New_York");
	/* 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC). */
	CHECK_NEXT("0 2 * * *", z, 1772900000, 1772953200, 1773036000);
	CHECK_NEXT("30 2 * * *", z, 1772900000, 1772953200, 1773037800);
	/* 2026-11-01: 01:00-01:59 occurs twice (EDT, then EST). 01:30 fires at
	 * 01:30 EDT (05:30 UTC) only; the next day at 01:30 EST. */
	CHECK_NEXT("30 1 * * *", z, 1793440000, 1793511000, 1793601000);
	/* Every 30 minutes: 01:00 EDT, 01:30 EDT, then 02:00 EST; the second
	 * pass through 01:00-01:59 (EST) does not fire again. */
	CHECK_NEXT("*/30 * * * *", z, 1793507400, 1793509200, 1793511000,
	    1793516400, 1793518200);
	/* Every minute: 01:59 EDT is followed by 02:00 EST, an hour later. */
	CHECK_NEXT("* * * * *", z, 1793512680, 1793512740, 1793516400);
	/* Starting inside the second pass (01:10 EST): 01:45 has had its first
	 * occurrence already, so the next 01:45 is tomorrow's. */
	CHECK_NEXT("45 1 * * *", z, 1793513400, 1793601900);
	CHECK_NEXT("*/30 * * * *", z, 1793513400, 1793516400);
	/* Hours that are not affected keep their local time across the change. */
	CHECK_NEXT("0 9 * * *", z, 1793440000, 1793451600, 1793541600);
}

static void
test_next_dst_south(void)
{
	const struct tf_tz *z;

	LOAD(z, "Australia/Sydney");
	/* 2026-10-04: 02:00 AEST jumps to 03:00 AEDT (2026-10-03 16:00 UTC). */
	CHECK_NEXT("30 2 * * *", z, 1790900000, 1790958600, 1791043200,
	    1791127800);
	/* 2026-04-05: 02:00-02:59 twice; 02:30 AEDT (15:30 UTC) fires. */
	CHECK_NEXT("30 2 * * *", z, 1775250000, 1775316600, 1775406600);

	/* Sao Paulo 2018-11-04: midnight did not exist (00:00 -03 became
	 * 01:00 -02): midnight fires at 01:00 -02 (03:00 UTC). */
	LOAD(z, "America/Sao_Paulo");
	CHECK_NEXT("0 0 * * *", z, 1541257200, 1541300400, 1541383200);

	LOAD(z, "Asia/Kolkata");
	CHECK_NEXT("0 9 * * *", z, 1774746000, 1774755000, 1774841400);
	LOAD(z, "Pacific/Auckland");
	/* 2026-09-27: 02:00 NZST jumps to 03:00 NZDT (2026-09-26 14:00 UTC). */
	CHECK_NEXT("15 2 * * *", z, 1790380000, 1790431200);
}

/*
 * The DST policy by brute force: walk every UTC minute after `after` and
 * fire at the first one that is (a) the first occurrence of a matching
 * local minute, or (b) the end of a gap that swallowed a matching local
 * minute. Independent of tf_cron_next()'s skipping.
 */
static int64_t
brute_next(const struct tf_cron *c, const struct tf_tz *z, int64_t after,
    int64_t limit)
{
	int64_t t;

	for (t = (after / 60 + 1) * 60; t < limit; t += 60) {
		struct tf_tz_local l, prev;
		struct tf_tz_utc u;

		tf_tz_to_local(z, t, &l);
		if (tf_cron_matches(c, &l.tm)) {
			tf_tz_local_to_utc(z, &l.tm, &u);
			if (u.t == t)
				return t;
		}
		/* A gap ends at t: local time jumped forward over minutes. */
		tf_tz_to_local(z, t - 60, &prev);
		if (l.utoff > prev.utoff) {
			struct tf_tz_tm m = prev.tm;
			int64_t k, lo = tf_tz_timegm(&prev.tm) + 60;
			int64_t hi = tf_tz_timegm(&l.tm);

			for (k = lo; k < hi; k += 60) {
				tf_tz_gmtime(k, &m);
				if (tf_cron_matches(c, &m))
					return t;
			}
		}
	}
	return 0;
}

static void
test_next_against_brute_force(void)
{
	static const char *const zones[] = {
		"Europe/Berlin", "America/New_York", "Australia/Sydney",
		"Asia/Kolkata", "UTC", "America/Sao_Paulo", "Pacific/Auckland",
		"Australia/Lord_Howe", "Europe/Dublin", "America/St_Johns",
	};
	static const char *const exprs[] = {
		"* * * * *", "*/7 * * * *", "0,30 * * * *", "*/15 1-3 * * *",
		"30 2 * * *", "0 2,3 * * *", "59 1 * * *", "0 0 * * *",
		"15,45 */2 * * 0,3", "0 1-3/2 * * *", "1-5 0-5 * * *", "*/30 2 * * 0,3",
	};
	/* Starts: a little before each 2026 change of the zones above. */
	static const int64_t starts[] = {
		1774738800, 1792800000, 1772900000, 1793440000, 1790900000,
		1775250000, 1790380000, 1775250000, 1774600000, 1792500000,
	};
	size_t zi, ei, si;
	int compared = 0, k;

	for (zi = 0; zi < sizeof(zones) / sizeof(zones[0]); zi++) {
		const struct tf_tz *z;

		LOAD(z, zones[zi]);
		for (ei = 0; ei < sizeof(exprs) / sizeof(exprs[0]); ei++) {
			struct tf_cron c;

			PARSE(c, exprs[ei]);
			for (si = 0; si < sizeof(starts) / sizeof(starts[0]); si++) {
				int64_t after = starts[si] + (int64_t)(zi * 7 + ei) * 600;

				for (k = 0; k < 12; k++) {
					int64_t got = 0, want;

					CHECK(tf_cron_next(&c, z, after, &got) == TF_OK);
					want = brute_next(&c, z, after, got + 120);
					CHECK_MSG(got == want, "\"%s\" in %s after %lld: got %lld, "
					    "brute force %lld", exprs[ei], zones[zi],
					    (long long)after, (long long)got, (long long)want);
					after = got;
					compared++;
				}
			}
		}
	}
	printf("# %d fire times agree with the brute-force search\n", compared);
}

/* Long searches stay fast: no minute-by-minute scanning. */
static void
test_speed(void)
{
	struct tf_cron c;
	const struct tf_tz *z;
	int64_t t = 0, got;
	clock_t t0 = clock();
	int i;

	LOAD(z, "Europe/Berlin");
	PARSE(c, "0 0 29 2 */7");
	for (i = 0; i < 200; i++) {
		CHECK(tf_cron_next(&c, z, t, &got) == TF_OK);
		CHECK(got > t);
		t = got;
	}
	/* 200 Sundays that are Feb 29: more than 5000 years on. */
	CHECK(t > 5000LL * 86400 * 365);
	PARSE(c, "0 0 30 2 *");
	for (i = 0; i < 1000; i++)
		CHECK(tf_cron_next(&c, z, 0, &got) == TF_ERR_NOT_FOUND);
	PARSE(c, "*/5 * * * *");
	t = 1767225600;
	for (i = 0; i < 100000; i++) {
		CHECK(tf_cron_next(&c, z, t, &got) == TF_OK);
		t = got;
	}
	CHECK_MSG((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0, "too slow: %.2fs",
	    (double)(clock() - t0) / CLOCKS_PER_SEC);
}

int
main(void)
{
	TF_RUN(test_parse_fields);
	TF_RUN(test_parse_names);
	TF_RUN(test_parse_shorthands);
	TF_RUN(test_parse_errors);
	TF_RUN(test_vixie_day_rule);
	TF_RUN(test_possible);
	TF_RUN(test_next_utc);
	TF_RUN(test_next_dst_berlin);
	TF_RUN(test_next_dst_new_york);
	TF_RUN(test_next_dst_south);
	TF_RUN(test_next_against_brute_force);
	TF_RUN(test_speed);
	return tf_test_summary();
}
