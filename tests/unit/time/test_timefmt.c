/* test_timefmt.c - ISO 8601 times and durations: parsing and formatting. */
#include "harness.h"

#include <time.h>

#include "time/timefmt.h"

/* Checks that s parses as an ISO time to want. */
#define CHECK_ISO(s, want) do { \
		int64_t got_ = -1; \
		char eb_[256]; \
		enum tf_err rc_ = tf_timefmt_parse_iso((s), &got_, eb_, sizeof(eb_)); \
		CHECK_MSG(rc_ == TF_OK, "%s: %s", (s), eb_); \
		CHECK_MSG(got_ == (int64_t)(want), "%s: got %" PRId64 ", want %" PRId64, \
		    (s), got_, (int64_t)(want)); \
	} while (0)

/* Checks that s is refused with a message containing `part`. */
#define CHECK_ISO_BAD(s, part) do { \
		int64_t got_ = 0; \
		char eb_[256]; \
		enum tf_err rc_ = tf_timefmt_parse_iso((s), &got_, eb_, sizeof(eb_)); \
		CHECK_MSG(rc_ == TF_ERR_INVALID, "%s: accepted as %" PRId64, (s), got_); \
		CHECK_MSG(strstr(eb_, (part)) != NULL, "%s: message \"%s\" lacks \"%s\"", \
		    (s), eb_, (part)); \
		CHECK_MSG(strchr(eb_, '\n') == NULL, "%s: message has a newline", (s)); \
	} while (0)

#define CHECK_DUR(s, want) do { \
		int64_t got_ = -1; \
		char eb_[256]; \
		enum tf_err rc_ = tf_timefmt_parse_duration((s), &got_, eb_, sizeof(eb_)); \
		CHECK_MSG(rc_ == TF_OK, "%s: %s", (s), eb_); \
		CHECK_MSG(got_ == (int64_t)(want), "%s: got %" PRId64 ", want %" PRId64, \
		    (s), got_, (int64_t)(want)); \
	} while (0)

#define CHECK_DUR_BAD(s, part) do { \
		int64_t got_ = 0; \
		char eb_[256]; \
		enum tf_err rc_ = tf_timefmt_parse_duration((s), &got_, eb_, sizeof(eb_)); \
		CHECK_MSG(rc_ == TF_ERR_INVALID, "%s: accepted as %" PRId64, (s), got_); \
		CHECK_MSG(strstr(eb_, (part)) != NULL, "%s: message \"%s\" lacks \"%s\"", \
		    (s), eb_, (part)); \
	} while (0)

#define NOW 1795424400000LL  /* 2026-11-23T09:00:00Z */

static void
test_iso_known_dates(void)
{
	CHECK_ISO("1970-01-01T00:00:00Z", 0);
	CHECK_ISO("1970-01-01", 0);
	CHECK_ISO("2026-11-23T09:00:00Z", NOW);
	CHECK_ISO("2026-11-23T09:00:00.000Z", NOW);
	CHECK_ISO("2000-02-29T00:00:00Z", 951782400000LL);
	CHECK_ISO("2024-02-29T12:34:56Z", 1709210096000LL);
	CHECK_ISO("1969-07-20T20:17:40Z", -14182940000LL);
	CHECK_ISO("1969-12-31T23:59:59.999Z", -1);
	CHECK_ISO("2038-01-19T03:14:08Z", 2147483648000LL);
	CHECK_ISO("1600-03-01", -11670912000000LL);
	CHECK_ISO("0001-01-01", -62135596800000LL);
	CHECK_ISO("0000-01-01T00:00:00Z", TF_TIMEFMT_MIN_MS);
	CHECK_ISO("9999-12-31T23:59:59.999Z", TF_TIMEFMT_MAX_MS);
}

static void
test_iso_forms(void)
{
	/* No zone is UTC; the date alone is midnight UTC. */
	CHECK_ISO("2026-11-23T09:00:00", NOW);
	CHECK_ISO("2026-11-23T09:00", NOW);
	CHECK_ISO("2026-11-23", NOW - 9 * 3600000LL);
	CHECK_ISO("2026-11-23t09:00:00z", NOW);
	CHECK_ISO("2026-11-23 09:00:00Z", NOW);
	CHECK_ISO("2026-11-23T09:00Z", NOW);
}

static void
test_iso_fractions(void)
{
	CHECK_ISO("2026-11-23T09:00:00.5Z", NOW + 500);
	CHECK_ISO("2026-11-23T09:00:00.05Z", NOW + 50);
	CHECK_ISO("2026-11-23T09:00:00.123Z", NOW + 123);
	/* Cut, not rounded, to milliseconds. */
	CHECK_ISO("2026-11-23T09:00:00.123999999Z", NOW + 123);
	CHECK_ISO("2026-11-23T09:00:00.99999999999999999999Z", NOW + 999);
	CHECK_ISO("2026-11-23T09:00:00,25Z", NOW + 250);
	CHECK_ISO("2026-11-23T09:00:00.250+01:00", NOW - 3600000 + 250);
	CHECK_ISO_BAD("2026-11-23T09:00:00.Z", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-11-23T09:00:00.", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-11-23T09:00.5Z", "where the zone");
}

static void
test_iso_offsets(void)
{
	CHECK_ISO("2026-11-23T10:00:00+01:00", NOW);
	CHECK_ISO("2026-11-23T10:00:00+0100", NOW);
	CHECK_ISO("2026-11-23T10:00:00+01", NOW);
	CHECK_ISO("2026-11-23T03:30:00-05:30", NOW);
	CHECK_ISO("2026-11-23T09:00:00-00:00", NOW);
	CHECK_ISO("2026-11-23T09:00:00+00:00", NOW);
	/* Across a date line and a leap day. */
	CHECK_ISO("2026-11-24T08:59:00+23:59", NOW);
	CHECK_ISO("2024-02-29T23:30:00-01:00", 1709253000000LL);
	CHECK_ISO("2024-03-01T00:30:00+01:00", 1709249400000LL);
	CHECK_ISO_BAD("2026-11-23T09:00:00+24:00", "offset out of range");
	CHECK_ISO_BAD("2026-11-23T09:00:00+01:60", "offset out of range");
	CHECK_ISO_BAD("2026-11-23T09:00:00+1", "bad zone offset");
	CHECK_ISO_BAD("2026-11-23T09:00:00+01:0", "bad zone offset");
	CHECK_ISO_BAD("2026-11-23T09:00:00+01:00:00", "bad zone offset");
	CHECK_ISO_BAD("2026-11-23T09:00:00+", "bad zone offset");
	CHECK_ISO_BAD("2026-11-23T09:00:00 +01:00", "where the zone");
	CHECK_ISO_BAD("2026-11-23T09:00:00CET", "where the zone");
}

static void
test_iso_leap_years(void)
{
	CHECK_ISO("2000-02-29", 951782400000LL);
	CHECK_ISO("2024-02-29", 1709164800000LL);
	CHECK_ISO("1600-02-29", -11670912000000LL - 86400000LL);
	CHECK_ISO("0000-02-29", TF_TIMEFMT_MIN_MS + 59 * 86400000LL);
	CHECK_ISO_BAD("1900-02-29", "1900-02 has 28 days");
	CHECK_ISO_BAD("2100-02-29", "day 29 out of range");
	CHECK_ISO_BAD("2023-02-29", "2023-02 has 28 days");
	CHECK_ISO_BAD("2024-02-30", "2024-02 has 29 days");
	CHECK_ISO_BAD("2026-04-31", "2026-04 has 30 days");
	CHECK_ISO_BAD("2026-01-00", "day 00 out of range");
	CHECK_ISO_BAD("2026-01-32", "day 32 out of range");
}

/* Every date from 1970 to 2400 against libc's timegm(). */
static void
test_iso_against_timegm(void)
{
	struct tm tm;
	char s[32];
	int64_t got;
	int y, m, d;

	for (y = 1970; y <= 2400; y++) {
		for (m = 1; m <= 12; m++) {
			for (d = 1; d <= 31; d++) {
				memset(&tm, 0, sizeof(tm));
				tm.tm_year = y - 1900;
				tm.tm_mon = m - 1;
				tm.tm_mday = d;
				tm.tm_hour = 13;
				tm.tm_min = 7;
				tm.tm_sec = 42;
				snprintf(s, sizeof(s), "%04d-%02d-%02dT13:07:42Z", y, m, d);
				if (tf_timefmt_parse_iso(s, &got, NULL, 0) != TF_OK) {
					/* Refused: must be a day the month lacks. */
					time_t t = timegm(&tm);
					struct tm back;

					gmtime_r(&t, &back);
					CHECK_MSG(back.tm_mday != d, "%s refused", s);
					continue;
				}
				CHECK_MSG(got == (int64_t)timegm(&tm) * 1000, "%s: %" PRId64
				    " != %lld", s, got, (long long)timegm(&tm) * 1000);
			}
		}
	}
}

static void
test_iso_ranges_and_junk(void)
{
	CHECK_ISO_BAD("2026-13-01", "month 13 out of range");
	CHECK_ISO_BAD("2026-00-01", "month 00 out of range");
	CHECK_ISO_BAD("2026-11-23T24:00:00Z", "hour 24 out of range");
	CHECK_ISO_BAD("2026-11-23T09:60:00Z", "minute 60 out of range");
	CHECK_ISO_BAD("2026-11-23T23:59:60Z", "leap seconds");
	CHECK_ISO_BAD("0000-01-01T00:00:00+00:01", "outside the years 0000 to 9999");
	CHECK_ISO_BAD("9999-12-31T23:59:59-00:01", "outside the years 0000 to 9999");
	CHECK_ISO_BAD("", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-11", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-1-23", "not an ISO 8601 time");
	CHECK_ISO_BAD("26-11-23", "not an ISO 8601 time");
	CHECK_ISO_BAD("20261123", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026/11/23", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-11-23T", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-11-23T9:00", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-11-23T09", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-11-23T09:0", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-11-23X09:00", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-11-23 ", "not an ISO 8601 time");
	CHECK_ISO_BAD(" 2026-11-23", "not an ISO 8601 time");
	CHECK_ISO_BAD("2026-11-23T09:00:00ZZ", "where the zone");
	CHECK_ISO_BAD("2026-11-23T09:00:00Z ", "where the zone");
	CHECK_ISO_BAD("12026-11-23", "not an ISO 8601 time");
	CHECK_ISO_BAD("tomorrow", "not an ISO 8601 time");
	/* The message quotes the input, cut when long. */
	CHECK_ISO_BAD("2026-11-23Txxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    "xxx...\": not an ISO 8601 time");
}

static void
test_duration(void)
{
	CHECK_DUR("0s", 0);
	CHECK_DUR("0ms", 0);
	CHECK_DUR("500ms", 500);
	CHECK_DUR("90s", 90000);
	CHECK_DUR("30m", 1800000);
	CHECK_DUR("2h", 7200000);
	CHECK_DUR("1d", 86400000);
	CHECK_DUR("1w", 604800000);
	CHECK_DUR("1h30m", 5400000);
	CHECK_DUR("1m30s", 90000);
	CHECK_DUR("1s500ms", 1500);
	CHECK_DUR("1w2d3h4m5s6ms", 604800000LL + 2 * 86400000LL + 3 * 3600000LL +
	    4 * 60000LL + 5000 + 6);
	CHECK_DUR("0090s", 90000);
	CHECK_DUR("36h", 36 * 3600000LL);
	CHECK_DUR("9223372036854775807ms", INT64_MAX);
	CHECK_DUR("9223372036854775s807ms", INT64_MAX);
}

static void
test_duration_bad(void)
{
	CHECK_DUR_BAD("", "empty duration");
	CHECK_DUR_BAD("5", "needs a unit");
	CHECK_DUR_BAD("1h30", "needs a unit");
	CHECK_DUR_BAD("1.5h", "no fractions");
	CHECK_DUR_BAD("1,5h", "no fractions");
	CHECK_DUR_BAD("30m1h", "largest to smallest");
	CHECK_DUR_BAD("1h1h", "largest to smallest");
	CHECK_DUR_BAD("1ms1s", "largest to smallest");
	CHECK_DUR_BAD("1x", "unknown unit \"x\"");
	CHECK_DUR_BAD("5S", "unknown unit");
	CHECK_DUR_BAD("5 s", "unknown unit");
	CHECK_DUR_BAD("5sec", "unknown unit");
	CHECK_DUR_BAD("1y", "unknown unit");
	CHECK_DUR_BAD("s", "not a duration");
	CHECK_DUR_BAD("-5s", "not a duration");
	CHECK_DUR_BAD("+5s", "not a duration");
	CHECK_DUR_BAD(" 5s", "not a duration");
	CHECK_DUR_BAD("5s ", "not a duration");
	CHECK_DUR_BAD("9223372036854775808ms", "too long");
	CHECK_DUR_BAD("99999999999999999999999s", "too long");
	CHECK_DUR_BAD("9223372036854776s", "too long");
	CHECK_DUR_BAD("15250284452472w", "too long");
	CHECK_DUR_BAD("9223372036854775s808ms", "too long");
}

static void
test_time_relative(void)
{
	char eb[256];
	int64_t t;

	CHECK(tf_timefmt_parse("+90s", NOW, &t, eb, sizeof(eb)) == TF_OK);
	CHECK_INT_EQ(t, NOW + 90000);
	CHECK(tf_timefmt_parse("+0s", NOW, &t, eb, sizeof(eb)) == TF_OK);
	CHECK_INT_EQ(t, NOW);
	CHECK(tf_timefmt_parse("+1h30m", NOW, &t, eb, sizeof(eb)) == TF_OK);
	CHECK_INT_EQ(t, NOW + 5400000);
	CHECK(tf_timefmt_parse("+500ms", NOW, &t, eb, sizeof(eb)) == TF_OK);
	CHECK_INT_EQ(t, NOW + 500);
	CHECK(tf_timefmt_parse("+1d", NOW, &t, eb, sizeof(eb)) == TF_OK);
	CHECK_INT_EQ(t, NOW + 86400000);
	CHECK(tf_timefmt_parse("-1h", NOW, &t, eb, sizeof(eb)) == TF_OK);
	CHECK_INT_EQ(t, NOW - 3600000);
	CHECK(tf_timefmt_parse("2026-11-23T10:00:00+01:00", 0, &t, eb,
	    sizeof(eb)) == TF_OK);
	CHECK_INT_EQ(t, NOW);

	/* Messages quote the whole input, sign included. */
	CHECK(tf_timefmt_parse("+1.5h", NOW, &t, eb, sizeof(eb)) == TF_ERR_INVALID);
	CHECK_MSG(strstr(eb, "\"+1.5h\": no fractions") != NULL, "%s", eb);
	CHECK(tf_timefmt_parse("+", NOW, &t, eb, sizeof(eb)) == TF_ERR_INVALID);
	CHECK_MSG(strstr(eb, "\"+\": empty duration") != NULL, "%s", eb);
	CHECK(tf_timefmt_parse("+-1s", NOW, &t, eb, sizeof(eb)) == TF_ERR_INVALID);
	CHECK(tf_timefmt_parse("++1s", NOW, &t, eb, sizeof(eb)) == TF_ERR_INVALID);
	CHECK(tf_timefmt_parse("tomorrow", NOW, &t, eb, sizeof(eb)) == TF_ERR_INVALID);
	CHECK_MSG(strstr(eb, "+DURATION") != NULL, "%s", eb);
	CHECK(tf_timefmt_parse("", NOW, &t, eb, sizeof(eb)) == TF_ERR_INVALID);
	CHECK(tf_timefmt_parse("90s", NOW, &t, eb, sizeof(eb)) == TF_ERR_INVALID);
	CHECK(tf_timefmt_parse("2026-02-30", NOW, &t, eb, sizeof(eb)) == TF_ERR_INVALID);
	CHECK_MSG(strstr(eb, "2026-02 has 28 days") != NULL, "%s", eb);

	/* Past the ends of the range, and overflow. */
	CHECK(tf_timefmt_parse("+1d", TF_TIMEFMT_MAX_MS - 1000, &t, eb,
	    sizeof(eb)) == TF_ERR_INVALID);
	CHECK_MSG(strstr(eb, "outside the years") != NULL, "%s", eb);
	CHECK(tf_timefmt_parse("+1s", TF_TIMEFMT_MAX_MS - 1000, &t, eb,
	    sizeof(eb)) == TF_OK);
	CHECK_INT_EQ(t, TF_TIMEFMT_MAX_MS);
	CHECK(tf_timefmt_parse("+9223372036854775807ms", NOW, &t, eb,
	    sizeof(eb)) == TF_ERR_INVALID);
	CHECK(tf_timefmt_parse("-9223372036854775807ms", NOW, &t, eb,
	    sizeof(eb)) == TF_ERR_INVALID);
	CHECK(tf_timefmt_parse("+1s", INT64_MAX, &t, eb, sizeof(eb)) == TF_ERR_INVALID);
	CHECK(tf_timefmt_parse("-1s", INT64_MIN, &t, eb, sizeof(eb)) == TF_ERR_INVALID);
	/* errbuf may be left out. */
	CHECK(tf_timefmt_parse("junk", NOW, &t, NULL, 0) == TF_ERR_INVALID);
}

static void
test_format(void)
{
	char b[TF_TIMEFMT_ISO_SIZE];

	CHECK_STR_EQ(tf_timefmt_format(0, b, sizeof(b)), "1970-01-01T00:00:00.000Z");
	CHECK_STR_EQ(tf_timefmt_format(NOW + 7, b, sizeof(b)), "2026-11-23T09:00:00.007Z");
	CHECK_STR_EQ(tf_timefmt_format(-1, b, sizeof(b)), "1969-12-31T23:59:59.999Z");
	CHECK_STR_EQ(tf_timefmt_format(951782400000LL, b, sizeof(b)),
	    "2000-02-29T00:00:00.000Z");
	CHECK_STR_EQ(tf_timefmt_format(TF_TIMEFMT_MIN_MS, b, sizeof(b)),
	    "0000-01-01T00:00:00.000Z");
	CHECK_STR_EQ(tf_timefmt_format(TF_TIMEFMT_MAX_MS, b, sizeof(b)),
	    "9999-12-31T23:59:59.999Z");
	CHECK_STR_EQ(tf_timefmt_format(TF_TIMEFMT_MAX_MS + 1, b, sizeof(b)),
	    "+10000-01-01T00:00:00.000Z");
	/* The extremes format without overflow. */
	tf_timefmt_format(INT64_MAX, b, sizeof(b));
	CHECK(strlen(b) > 20 && b[strlen(b) - 1] == 'Z');
	tf_timefmt_format(INT64_MIN, b, sizeof(b));
	CHECK(strlen(b) > 20 && b[0] == '-');
	/* A short buffer is cut, never overrun. */
	CHECK_STR_EQ(tf_timefmt_format(0, b, 5), "1970");
}

/* format then parse gives the same time, across centuries and leap days. */
static void
test_format_parse_roundtrip(void)
{
	char b[TF_TIMEFMT_ISO_SIZE];
	int64_t ms, got;

	for (ms = TF_TIMEFMT_MIN_MS; ms <= TF_TIMEFMT_MAX_MS - 7777777777LL;
	    ms += 7777777777LL) {  /* about 90 days and some ms each step */
		tf_timefmt_format(ms, b, sizeof(b));
		CHECK_MSG(tf_timefmt_parse_iso(b, &got, NULL, 0) == TF_OK, "%s", b);
		CHECK_MSG(got == ms, "%s: %" PRId64 " != %" PRId64, b, got, ms);
	}
}

static void
test_format_duration(void)
{
	char b[TF_TIMEFMT_DUR_SIZE];
	static const int64_t samples[] = { 0, 1, 999, 1000, 90000, 5400000,
	    86400000, 604800000, 90061001, 123456789012345LL, INT64_MAX };
	int64_t got;
	size_t i;

	CHECK_STR_EQ(tf_timefmt_format_duration(0, b, sizeof(b)), "0s");
	CHECK_STR_EQ(tf_timefmt_format_duration(500, b, sizeof(b)), "500ms");
	CHECK_STR_EQ(tf_timefmt_format_duration(90000, b, sizeof(b)), "1m30s");
	CHECK_STR_EQ(tf_timefmt_format_duration(5400000, b, sizeof(b)), "1h30m");
	CHECK_STR_EQ(tf_timefmt_format_duration(604800000, b, sizeof(b)), "7d");
	CHECK_STR_EQ(tf_timefmt_format_duration(90061001, b, sizeof(b)), "1d1h1m1s1ms");
	CHECK_STR_EQ(tf_timefmt_format_duration(-5000, b, sizeof(b)), "-5s");
	tf_timefmt_format_duration(INT64_MIN, b, sizeof(b));
	CHECK(b[0] == '-' && strlen(b) > 10);
	CHECK_STR_EQ(tf_timefmt_format_duration(90061001, b, 4), "1d1");
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		tf_timefmt_format_duration(samples[i], b, sizeof(b));
		CHECK_MSG(tf_timefmt_parse_duration(b, &got, NULL, 0) == TF_OK, "%s", b);
		CHECK_MSG(got == samples[i], "%s: %" PRId64, b, got);
	}
}

int
main(void)
{
	TF_RUN(test_iso_known_dates);
	TF_RUN(test_iso_forms);
	TF_RUN(test_iso_fractions);
	TF_RUN(test_iso_offsets);
	TF_RUN(test_iso_leap_years);
	TF_RUN(test_iso_against_timegm);
	TF_RUN(test_iso_ranges_and_junk);
	TF_RUN(test_duration);
	TF_RUN(test_duration_bad);
	TF_RUN(test_time_relative);
	TF_RUN(test_format);
	TF_RUN(test_format_parse_roundtrip);
	TF_RUN(test_format_duration);
	return tf_test_summary();
}
