/* test_tz.c - time zones: TZif and POSIX rules, UTC <-> local, DST policy. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "time/tz.h"

/* Formats a local time as "2026-03-29T03:00:00". */
static const char *
fmt_tm(const struct tf_tz_tm *tm, char *buf, size_t len)
{
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d", tm->year, tm->mon,
	    tm->mday, tm->hour, tm->min, tm->sec);
	return buf;
}

/* Loads zone `name` or fails the test. */
#define LOAD(z, name) do { \
		char eb_[256]; \
		enum tf_err rc_ = tf_tz_load((name), &(z), eb_, sizeof(eb_)); \
		CHECK_MSG(rc_ == TF_OK, "load %s: %s", (name), eb_); \
	} while (0)

/* Checks the local time, offset, DST flag and abbreviation of zone z at t. */
#define CHECK_LOCAL(z, t, want_iso, want_off, want_dst, want_abbr) do { \
		struct tf_tz_local l_; \
		char b_[64]; \
		tf_tz_to_local((z), (t), &l_); \
		CHECK_MSG(strcmp(fmt_tm(&l_.tm, b_, sizeof(b_)), (want_iso)) == 0, \
		    "%s at %lld: got %s, want %s", tf_tz_name(z), (long long)(t), b_, \
		    (want_iso)); \
		CHECK_MSG(l_.utoff == (want_off) && l_.is_dst == (want_dst), \
		    "%s at %lld: offset %d dst %d, want %d %d", tf_tz_name(z), \
		    (long long)(t), (int)l_.utoff, (int)l_.is_dst, (int)(want_off), \
		    (int)(want_dst)); \
		CHECK_STR_EQ(l_.abbr, (want_abbr)); \
	} while (0)

/* Checks how local time y-m-d h:mi maps to UTC in zone z. */
#define CHECK_TO_UTC(z, y, m, d, h, mi, want_kind, want_t, want_later) do { \
		struct tf_tz_tm tm_ = { (y), (m), (d), (h), (mi), 0, 0, 0 }; \
		struct tf_tz_utc u_; \
		tf_tz_local_to_utc((z), &tm_, &u_); \
		CHECK_MSG(u_.kind == (want_kind) && u_.t == (want_t) && \
		    u_.later == (want_later), \
		    "%s %04d-%02d-%02d %02d:%02d: kind %d t %lld later %lld, want " \
		    "%d %lld %lld", tf_tz_name(z), (y), (m), (d), (h), (mi), \
		    (int)u_.kind, (long long)u_.t, (long long)u_.later, \
		    (int)(want_kind), (long long)(want_t), (long long)(want_later)); \
	} while (0)

static void
test_civil(void)
{
	struct tf_tz_tm tm;
	struct tf_tz_tm in = { 2026, 14, 1, 0, 0, 0, 0, 0 };
	char b[64];

	tf_tz_gmtime(0, &tm);
	CHECK_STR_EQ(fmt_tm(&tm, b, sizeof(b)), "1970-01-01T00:00:00");
	CHECK_INT_EQ(tm.wday, 4);
	tf_tz_gmtime(-1, &tm);
	CHECK_STR_EQ(fmt_tm(&tm, b, sizeof(b)), "1969-12-31T23:59:59");
	CHECK_INT_EQ(tm.wday, 3);
	CHECK_INT_EQ(tm.yday, 364);
	tf_tz_gmtime(951782400, &tm);
	CHECK_STR_EQ(fmt_tm(&tm, b, sizeof(b)), "2000-02-29T00:00:00");
	CHECK_INT_EQ(tm.wday, 2);
	tf_tz_gmtime(4102444800LL, &tm);
	CHECK_STR_EQ(fmt_tm(&tm, b, sizeof(b)), "2100-01-01T00:00:00");
	CHECK_INT_EQ(tm.wday, 5);
	/* Month 14 of 2026 is February 2027; normalisation goes through. */
	CHECK_INT_EQ(tf_tz_timegm(&in), 1801440000LL);
	in = (struct tf_tz_tm){ 2024, 2, 30, 24, 0, 0, 0, 0 };
	CHECK_INT_EQ(tf_tz_timegm(&in), 1709337600LL);  /* 2024-03-02 */
	CHECK(tf_tz_is_leap(2000) && tf_tz_is_leap(2024) && !tf_tz_is_leap(2100));
	CHECK_INT_EQ(tf_tz_days_in_month(2100, 2), 28);
	CHECK_INT_EQ(tf_tz_days_in_month(2400, 2), 29);
	/* Far out of range: clamped, no overflow. */
	tf_tz_gmtime(INT64_MAX, &tm);
	CHECK(tm.year > 900000);
	tf_tz_gmtime(INT64_MIN, &tm);
	CHECK(tm.year < -900000);
}

static void
test_names(void)
{
	char long_name[300];

	CHECK(tf_tz_name_is_valid("Europe/Berlin"));
	CHECK(tf_tz_name_is_valid("America/Argentina/Buenos_Aires"));
	CHECK(tf_tz_name_is_valid("Etc/GMT+5"));
	CHECK(tf_tz_name_is_valid("Etc/GMT-14"));
	CHECK(tf_tz_name_is_valid("UTC"));
	CHECK(!tf_tz_name_is_valid(NULL));
	CHECK(!tf_tz_name_is_valid(""));
	CHECK(!tf_tz_name_is_valid("/etc/passwd"));
	CHECK(!tf_tz_name_is_valid("../../etc/passwd"));
	CHECK(!tf_tz_name_is_valid("Europe/../../etc/passwd"));
	CHECK(!tf_tz_name_is_valid("Europe/.."));
	CHECK(!tf_tz_name_is_valid("Europe//Berlin"));
	CHECK(!tf_tz_name_is_valid("Europe/"));
	CHECK(!tf_tz_name_is_valid("Europe/Berlin "));
	CHECK(!tf_tz_name_is_valid("Europe\\Berlin"));
	CHECK(!tf_tz_name_is_valid("zone.tab"));
	CHECK(!tf_tz_name_is_valid("Europe/Berlin\n"));
	memset(long_name, 'A', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CHECK(!tf_tz_name_is_valid(long_name));
	long_name[TF_TZ_NAME_MAX] = '\0';
	CHECK(tf_tz_name_is_valid(long_name));
}

static void
test_load_errors(void)
{
	const struct tf_tz *z = NULL;
	char eb[256];

	CHECK_INT_EQ(tf_tz_load("../etc/passwd", &z, eb, sizeof(eb)),
	    TF_ERR_INVALID);
	CHECK(strstr(eb, "invalid time zone name") != NULL);
	CHECK(z == NULL);
	CHECK_INT_EQ(tf_tz_load("Mars/Olympus_Mons", &z, eb, sizeof(eb)),
	    TF_ERR_NOT_FOUND);
	CHECK_MSG(strstr(eb, "unknown time zone \"Mars/Olympus_Mons\"") != NULL,
	    "%s", eb);
	CHECK(strchr(eb, '\n') == NULL);
	/* A directory is not a zone. */
	CHECK_INT_EQ(tf_tz_load("Europe", &z, eb, sizeof(eb)), TF_ERR_NOT_FOUND);
	/* Nor is a file that is not TZif. */
	if (access("/usr/share/zoneinfo/leapseconds", R_OK) == 0) {
		CHECK_INT_EQ(tf_tz_load("leapseconds", &z, eb, sizeof(eb)),
		    TF_ERR_PARSE);
		CHECK_MSG(strstr(eb, "not a TZif file") != NULL, "%s", eb);
	}
	/* Leap-second zones are refused, not silently off by 27 seconds. */
	if (access("/usr/share/zoneinfo/right/UTC", R_OK) == 0) {
		CHECK_INT_EQ(tf_tz_load("right/UTC", &z, eb, sizeof(eb)),
		    TF_ERR_PARSE);
		CHECK_MSG(strstr(eb, "leap-second") != NULL, "%s", eb);
	}
	/* errbuf may be NULL. */
	CHECK_INT_EQ(tf_tz_load("Mars/Base", &z, NULL, 0), TF_ERR_NOT_FOUND);
}

static void
test_utc_builtin(void)
{
	const struct tf_tz *z, *z2;
	char eb[256];
	const char *old = getenv("TZDIR");
	char *saved = old != NULL ? strdup(old) : NULL;

	/* UTC works without any zoneinfo at all. */
	setenv("TZDIR", "/nonexistent/zoneinfo", 1);
	CHECK_INT_EQ(tf_tz_load("UTC", &z, eb, sizeof(eb)), TF_OK);
	CHECK_STR_EQ(tf_tz_name(z), "UTC");
	CHECK_LOCAL(z, 1774746000, "2026-03-29T01:00:00", 0, false, "UTC");
	CHECK_INT_EQ(tf_tz_load("Etc/UTC", &z2, eb, sizeof(eb)), TF_OK);
	CHECK_STR_EQ(tf_tz_name(z2), "Etc/UTC");
	CHECK_LOCAL(z2, 0, "1970-01-01T00:00:00", 0, false, "UTC");
	CHECK_INT_EQ(tf_tz_load("Europe/Berlin", &z, eb, sizeof(eb)),
	    TF_ERR_NOT_FOUND);
	CHECK(strstr(eb, "/nonexistent/zoneinfo") != NULL);
	if (saved != NULL)
		setenv("TZDIR", saved, 1);
	else
		unsetenv("TZDIR");
	free(saved);
	CHECK(tf_tz_utc() != NULL);
	CHECK_INT_EQ(tf_tz_next_transition(tf_tz_utc(), 0), INT64_MAX);
	CHECK_TO_UTC(tf_tz_utc(), 2026, 3, 29, 2, 30, TF_TZ_UNIQUE, 1774751400LL,
	    1774751400LL);
}

static void
test_tzdir_override(void)
{
	char dir[] = "/tmp/tf_test_tz.XXXXXX", path[256], eb[256];
	const struct tf_tz *z, *z2;
	const char *old = getenv("TZDIR");
	char *saved = old != NULL ? strdup(old) : NULL;
	FILE *in, *out;
	char buf[4096];
	size_t n;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/Test", dir);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/Test/Kolkata", dir);
	in = fopen("/usr/share/zoneinfo/Asia/Kolkata", "rb");
	CHECK(in != NULL);
	out = fopen(path, "wb");
	CHECK(out != NULL);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
	setenv("TZDIR", dir, 1);
	CHECK_INT_EQ(tf_tz_load("Test/Kolkata", &z, eb, sizeof(eb)), TF_OK);
	CHECK_LOCAL(z, 1774746000, "2026-03-29T06:30:00", 19800, false, "IST");
	/* The cache hands out the same zone again. */
	CHECK_INT_EQ(tf_tz_load("Test/Kolkata", &z2, eb, sizeof(eb)), TF_OK);
	CHECK(z == z2);
	if (saved != NULL)
		setenv("TZDIR", saved, 1);
	else
		unsetenv("TZDIR");
	free(saved);
	CHECK_INT_EQ(tf_tz_load("Test/Kolkata", &z2, eb, sizeof(eb)),
	    TF_ERR_NOT_FOUND);
	unlink(path);
	snprintf(path, sizeof(path), "%s/Test", dir);
	rmdir(path);
	rmdir(dir);
}

static void
test_berlin(void)
{
	const struct tf_tz *z;

	LOAD(z, "Europe/Berlin");
	CHECK_STR_EQ(tf_tz_name(z), "Europe/Berlin");
	CHECK_LOCAL(z, 1767225600, "2026-01-01T01:00:00", 3600, false, "CET");
	/* Spring forward 2026-03-29 01:00 UTC: 02:00 CET becomes 03:00 CEST. */
	CHECK_LOCAL(z, 1774745999, "2026-03-29T01:59:59", 3600, false, "CET");
	CHECK_LOCAL(z, 1774746000, "2026-03-29T03:00:00", 7200, true, "CEST");
	CHECK_INT_EQ(tf_tz_next_transition(z, 1767225600), 1774746000);
	/* Fall back 2026-10-25 01:00 UTC: 03:00 CEST becomes 02:00 CET. */
	CHECK_LOCAL(z, 1792889999, "2026-10-25T02:59:59", 7200, true, "CEST");
	CHECK_LOCAL(z, 1792890000, "2026-10-25T02:00:00", 3600, false, "CET");
	CHECK_INT_EQ(tf_tz_next_transition(z, 1774746000), 1792890000);
	/* 2100, long after the file's last transition: the footer's rule. */
	CHECK_LOCAL(z, 4109878799, "2100-03-28T01:59:59", 3600, false, "CET");
	CHECK_LOCAL(z, 4109878800, "2100-03-28T03:00:00", 7200, true, "CEST");
	CHECK_LOCAL(z, 4128627599, "2100-10-31T02:59:59", 7200, true, "CEST");
	CHECK_LOCAL(z, 4128627600, "2100-10-31T02:00:00", 3600, false, "CET");
	CHECK_INT_EQ(tf_tz_next_transition(z, 4109878800), 4128627600);
	/* History: Berlin kept CET without DST in 1970. */
	CHECK_LOCAL(z, 0, "1970-01-01T01:00:00", 3600, false, "CET");
}

static void
test_new_york(void)
{
	const struct tf_tz *z;

	LOAD(z, "America/New_York");
	/* 2026-03-08 07:00 UTC: 02:00 EST becomes 03:00 EDT. */
	CHECK_LOCAL(z, 1772953199, "2026-03-08T01:59:59", -18000, false, "EST");
	CHECK_LOCAL(z, 1772953200, "2026-03-08T03:00:00", -14400, true, "EDT");
	/* 2026-11-01 06:00 UTC: 02:00 EDT becomes 01:00 EST. */
	CHECK_LOCAL(z, 1793512799, "2026-11-01T01:59:59", -14400, true, "EDT");
	CHECK_LOCAL(z, 1793512800, "2026-11-01T01:00:00", -18000, false, "EST");
	/* 2100: second Sunday of March, first Sunday of November. */
	CHECK_LOCAL(z, 4108690800, "2100-03-14T03:00:00", -14400, true, "EDT");
	CHECK_LOCAL(z, 4129250400, "2100-11-07T01:00:00", -18000, false, "EST");
	/* Before 2007 the US changed on other Sundays (from the table). */
	CHECK_LOCAL(z, 1143961200, "2006-04-02T03:00:00", -14400, true, "EDT");
}

static void
test_sydney(void)
{
	const struct tf_tz *z;

	LOAD(z, "Australia/Sydney");
	/* Southern hemisphere: DST over New Year. */
	CHECK_LOCAL(z, 1767225600, "2026-01-01T11:00:00", 39600, true, "AEDT");
	CHECK_LOCAL(z, 1782864000, "2026-07-01T10:00:00", 36000, false, "AEST");
	/* 2026-04-05 16:00 UTC: 03:00 AEDT becomes 02:00 AEST. */
	CHECK_LOCAL(z, 1775318399, "2026-04-05T02:59:59", 39600, true, "AEDT");
	CHECK_LOCAL(z, 1775318400, "2026-04-05T02:00:00", 36000, false, "AEST");
	/* 2026-10-03 16:00 UTC: 02:00 AEST becomes 03:00 AEDT. */
	CHECK_LOCAL(z, 1791043199, "2026-10-04T01:59:59", 36000, false, "AEST");
	CHECK_LOCAL(z, 1791043200, "2026-10-04T03:00:00", 39600, true, "AEDT");
	CHECK_LOCAL(z, 4102444800, "2100-01-01T11:00:00", 39600, true, "AEDT");
	CHECK_LOCAL(z, 4110451200, "2100-04-04T02:00:00", 36000, false, "AEST");
	CHECK_LOCAL(z, 4126176000, "2100-10-03T03:00:00", 39600, true, "AEDT");
}

static void
test_kolkata_and_others(void)
{
	const struct tf_tz *z;

	LOAD(z, "Asia/Kolkata");
	CHECK_LOCAL(z, 1774746000, "2026-03-29T06:30:00", 19800, false, "IST");
	CHECK_LOCAL(z, 4102444800, "2100-01-01T05:30:00", 19800, false, "IST");
	CHECK_INT_EQ(tf_tz_next_transition(z, 1774746000), INT64_MAX);
	CHECK_TO_UTC(z, 2026, 3, 29, 6, 30, TF_TZ_UNIQUE, 1774746000LL,
	    1774746000LL);

	LOAD(z, "America/Sao_Paulo");
	/* No DST since 2019; the footer is "<-03>3". */
	CHECK_LOCAL(z, 1767225600, "2025-12-31T21:00:00", -10800, false, "-03");
	CHECK_LOCAL(z, 4102444800, "2099-12-31T21:00:00", -10800, false, "-03");
	/* ... but it had DST in 2018/19: until 2019-02-17 02:00 UTC. */
	CHECK_LOCAL(z, 1550368799, "2019-02-16T23:59:59", -7200, true, "-02");
	CHECK_LOCAL(z, 1550368800, "2019-02-16T23:00:00", -10800, false, "-03");

	LOAD(z, "Pacific/Auckland");
	CHECK_LOCAL(z, 1775311199, "2026-04-05T02:59:59", 46800, true, "NZDT");
	CHECK_LOCAL(z, 1775311200, "2026-04-05T02:00:00", 43200, false, "NZST");
	CHECK_LOCAL(z, 4125564000, "2100-09-26T03:00:00", 46800, true, "NZDT");

	LOAD(z, "Etc/GMT+5");
	CHECK_LOCAL(z, 0, "1969-12-31T19:00:00", -18000, false, "-05");
}

static void
test_gap_and_overlap(void)
{
	const struct tf_tz *z;

	LOAD(z, "Europe/Berlin");
	/* 02:30 on spring-forward day does not exist: the gap's end, 03:00 CEST. */
	CHECK_TO_UTC(z, 2026, 3, 29, 2, 0, TF_TZ_SKIPPED, 1774746000LL,
	    1774746000LL);
	CHECK_TO_UTC(z, 2026, 3, 29, 2, 30, TF_TZ_SKIPPED, 1774746000LL,
	    1774746000LL);
	CHECK_TO_UTC(z, 2026, 3, 29, 2, 59, TF_TZ_SKIPPED, 1774746000LL,
	    1774746000LL);
	CHECK_TO_UTC(z, 2026, 3, 29, 1, 59, TF_TZ_UNIQUE, 1774745940LL,
	    1774745940LL);
	CHECK_TO_UTC(z, 2026, 3, 29, 3, 0, TF_TZ_UNIQUE, 1774746000LL,
	    1774746000LL);
	/* 02:30 on fall-back day occurs twice: first CEST, then CET. */
	CHECK_TO_UTC(z, 2026, 10, 25, 2, 30, TF_TZ_REPEATED, 1792888200LL,
	    1792891800LL);
	CHECK_TO_UTC(z, 2026, 10, 25, 2, 0, TF_TZ_REPEATED, 1792886400LL,
	    1792890000LL);
	CHECK_TO_UTC(z, 2026, 10, 25, 3, 0, TF_TZ_UNIQUE, 1792893600LL,
	    1792893600LL);
	CHECK_TO_UTC(z, 2026, 10, 25, 1, 59, TF_TZ_UNIQUE, 1792886340LL,
	    1792886340LL);
	/* Far future, from the footer rule. */
	CHECK_TO_UTC(z, 2100, 3, 28, 2, 30, TF_TZ_SKIPPED, 4109878800LL,
	    4109878800LL);
	CHECK_TO_UTC(z, 2100, 10, 31, 2, 30, TF_TZ_REPEATED, 4128625800LL,
	    4128629400LL);

	LOAD(z, "America/New_York");
	CHECK_TO_UTC(z, 2026, 3, 8, 2, 30, TF_TZ_SKIPPED, 1772953200LL,
	    1772953200LL);
	CHECK_TO_UTC(z, 2026, 11, 1, 1, 30, TF_TZ_REPEATED, 1793511000LL,
	    1793514600LL);

	LOAD(z, "Australia/Sydney");
	CHECK_TO_UTC(z, 2026, 10, 4, 2, 30, TF_TZ_SKIPPED, 1791043200LL,
	    1791043200LL);
	CHECK_TO_UTC(z, 2026, 4, 5, 2, 30, TF_TZ_REPEATED, 1775316600LL,
	    1775320200LL);
}

/* A POSIX TZ string zone, or fails the test. */
#define POSIX(z, s) do { \
		char eb_[256]; \
		enum tf_err rc_ = tf_tz_from_posix((s), &(z), eb_, sizeof(eb_)); \
		CHECK_MSG(rc_ == TF_OK, "%s: %s", (s), eb_); \
	} while (0)

static void
test_posix_rules(void)
{
	struct tf_tz *z = NULL;
	char eb[256];

	POSIX(z, "CET-1CEST,M3.5.0,M10.5.0/3");
	CHECK_LOCAL(z, 1774746000, "2026-03-29T03:00:00", 7200, true, "CEST");
	CHECK_LOCAL(z, 1792890000, "2026-10-25T02:00:00", 3600, false, "CET");
	tf_tz_free(z);

	POSIX(z, "EST5EDT,M3.2.0,M11.1.0");
	CHECK_LOCAL(z, 1772953200, "2026-03-08T03:00:00", -14400, true, "EDT");
	CHECK_LOCAL(z, 1793512800, "2026-11-01T01:00:00", -18000, false, "EST");
	tf_tz_free(z);

	/* No rule: the US rule. */
	POSIX(z, "EST5EDT");
	CHECK_LOCAL(z, 1772953200, "2026-03-08T03:00:00", -14400, true, "EDT");
	tf_tz_free(z);

	POSIX(z, "AEST-10AEDT,M10.1.0,M4.1.0/3");
	CHECK_LOCAL(z, 1775318400, "2026-04-05T02:00:00", 36000, false, "AEST");
	CHECK_LOCAL(z, 1791043200, "2026-10-04T03:00:00", 39600, true, "AEDT");
	tf_tz_free(z);

	POSIX(z, "IST-5:30");
	CHECK_LOCAL(z, 0, "1970-01-01T05:30:00", 19800, false, "IST");
	tf_tz_free(z);
	POSIX(z, "<+0530>-5:30");
	CHECK_LOCAL(z, 0, "1970-01-01T05:30:00", 19800, false, "+0530");
	tf_tz_free(z);
	POSIX(z, "<-03>3");
	CHECK_LOCAL(z, 0, "1969-12-31T21:00:00", -10800, false, "-03");
	tf_tz_free(z);

	/* Jn: day n of 365, February 29 never counted: J60 is always March 1. */
	POSIX(z, "AAA0BBB,J60/0,J300/0");
	CHECK_LOCAL(z, 1709251199, "2024-02-29T23:59:59", 0, false, "AAA");
	CHECK_LOCAL(z, 1709251200, "2024-03-01T01:00:00", 3600, true, "BBB");
	CHECK_LOCAL(z, 1740787200, "2025-03-01T01:00:00", 3600, true, "BBB");
	tf_tz_free(z);
	/* n: zero-based and counting February 29: 59 is March 1 in 2025 but
	 * February 29 in 2024. */
	POSIX(z, "AAA0BBB,59/0,299/0");
	CHECK_LOCAL(z, 1709164800, "2024-02-29T01:00:00", 3600, true, "BBB");
	CHECK_LOCAL(z, 1740787199, "2025-02-28T23:59:59", 0, false, "AAA");
	CHECK_LOCAL(z, 1740787200, "2025-03-01T01:00:00", 3600, true, "BBB");
	tf_tz_free(z);

	/* Dublin: "negative DST", winter is the DST period. */
	POSIX(z, "IST-1GMT0,M10.5.0,M3.5.0/1");
	CHECK_LOCAL(z, 1767225600, "2026-01-01T00:00:00", 0, true, "GMT");
	CHECK_LOCAL(z, 1782864000, "2026-07-01T01:00:00", 3600, false, "IST");
	tf_tz_free(z);

	/* RFC 8536: DST all year. */
	POSIX(z, "EST5EDT,0/0,J365/25");
	CHECK_LOCAL(z, 1767225600, "2025-12-31T20:00:00", -14400, true, "EDT");
	CHECK_LOCAL(z, 1782864000, "2026-06-30T20:00:00", -14400, true, "EDT");
	tf_tz_free(z);

	/* RFC 8536 version 3: negative and large hours (Greenland). */
	POSIX(z, "<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
	/* 2026-03-28 23:00 local (-02) = 2026-03-29 01:00 UTC. */
	CHECK_LOCAL(z, 1774745999, "2026-03-28T22:59:59", -7200, false, "-02");
	CHECK_LOCAL(z, 1774746000, "2026-03-29T00:00:00", -3600, true, "-01");
	tf_tz_free(z);
	POSIX(z, "XXX3YYY,M3.2.0/-167,M11.1.0/167");
	tf_tz_free(z);
	z = NULL;

	CHECK_INT_EQ(tf_tz_from_posix("", &z, eb, sizeof(eb)), TF_ERR_PARSE);
	CHECK(z == NULL);
	CHECK_INT_EQ(tf_tz_from_posix("EST", &z, eb, sizeof(eb)), TF_ERR_PARSE);
	CHECK_INT_EQ(tf_tz_from_posix("E5", &z, eb, sizeof(eb)), TF_ERR_PARSE);
	CHECK_INT_EQ(tf_tz_from_posix("EST25", &z, eb, sizeof(eb)), TF_ERR_PARSE);
	CHECK_INT_EQ(tf_tz_from_posix("EST5EDT,M13.1.0,M11.1.0", &z, eb,
	    sizeof(eb)), TF_ERR_PARSE);
	CHECK_INT_EQ(tf_tz_from_posix("EST5EDT,M3.6.0,M11.1.0", &z, eb,
	    sizeof(eb)), TF_ERR_PARSE);
	CHECK_INT_EQ(tf_tz_from_posix("EST5EDT,M3.2.0", &z, eb, sizeof(eb)),
	    TF_ERR_PARSE);
	CHECK_INT_EQ(tf_tz_from_posix("EST5EDT,J0,J365", &z, eb, sizeof(eb)),
	    TF_ERR_PARSE);
	CHECK_INT_EQ(tf_tz_from_posix("EST5EDT,M3.2.0/168,M11.1.0", &z, eb,
	    sizeof(eb)), TF_ERR_PARSE);
	CHECK_INT_EQ(tf_tz_from_posix("EST5EDT,M3.2.0,M11.1.0x", &z, eb,
	    sizeof(eb)), TF_ERR_PARSE);
	CHECK_INT_EQ(tf_tz_from_posix("<EST5", &z, eb, sizeof(eb)), TF_ERR_PARSE);
	CHECK_MSG(strstr(eb, "TZ string \"<EST5\"") != NULL, "%s", eb);
	CHECK(z == NULL);
}

/* Appends a big-endian 32-bit or 64-bit number. */
static size_t
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

static size_t
put64(uint8_t *p, int64_t v)
{
	put32(p, (uint32_t)((uint64_t)v >> 32));
	put32(p + 4, (uint32_t)v);
	return 8;
}

/* Writes a TZif header with the given version and counts. */
static size_t
put_header(uint8_t *p, char version, uint32_t timecnt, uint32_t typecnt,
    uint32_t charcnt, uint32_t leapcnt)
{
	memset(p, 0, 44);
	memcpy(p, "TZif", 4);
	p[4] = (uint8_t)version;
	put32(p + 28, leapcnt);
	put32(p + 32, timecnt);
	put32(p + 36, typecnt);
	put32(p + 40, charcnt);
	return 44;
}

/*
 * A hand-made zone "Test/Zone": +01 until 2000-01-01, then +02 "BB", with
 * the footer rule given (or none). version '\0' writes a v1 file.
 */
static size_t
make_tzif(uint8_t *buf, char version, const char *footer)
{
	size_t n = 0;
	static const char chars[] = "AA\0BB\0";
	int pass;

	for (pass = 0; pass < (version == '\0' ? 1 : 2); pass++) {
		unsigned tsize = pass == 0 ? 4 : 8;

		n += put_header(buf + n, version, 1, 2, sizeof(chars), 0);
		if (tsize == 4)
			n += put32(buf + n, 946684800u);
		else
			n += put64(buf + n, 946684800);
		buf[n++] = 1;
		n += put32(buf + n, 3600);
		buf[n++] = 0;
		buf[n++] = 0;
		n += put32(buf + n, 7200);
		buf[n++] = 0;
		buf[n++] = 3;
		memcpy(buf + n, chars, sizeof(chars));
		n += sizeof(chars);
	}
	if (version != '\0' && footer != NULL) {
		buf[n++] = '\n';
		memcpy(buf + n, footer, strlen(footer));
		n += strlen(footer);
		buf[n++] = '\n';
	}
	return n;
}

static void
test_tzif_synthetic(void)
{
	uint8_t buf[512];
	struct tf_tz *z = NULL;
	char eb[256];
	size_t n, cut;

	/* Version 1: 32-bit data only; after the last transition, its type. */
	n = make_tzif(buf, '\0', NULL);
	CHECK_INT_EQ(tf_tz_from_tzif("Test/Zone", buf, n, &z, eb, sizeof(eb)),
	    TF_OK);
	CHECK_STR_EQ(tf_tz_name(z), "Test/Zone");
	CHECK_LOCAL(z, 946684799, "2000-01-01T00:59:59", 3600, false, "AA");
	CHECK_LOCAL(z, 946684800, "2000-01-01T02:00:00", 7200, false, "BB");
	CHECK_LOCAL(z, 4102444800, "2100-01-01T02:00:00", 7200, false, "BB");
	/* The jump forward at the transition is a gap for local times. */
	CHECK_TO_UTC(z, 2000, 1, 1, 1, 30, TF_TZ_SKIPPED, 946684800LL,
	    946684800LL);
	tf_tz_free(z);

	/* Version 2 with a footer that takes over after the last transition. */
	n = make_tzif(buf, '2', "CCC-3");
	CHECK_INT_EQ(tf_tz_from_tzif("Test/Zone", buf, n, &z, eb, sizeof(eb)),
	    TF_OK);
	CHECK_LOCAL(z, 946684800, "2000-01-01T03:00:00", 10800, false, "CCC");
	CHECK_LOCAL(z, 0, "1970-01-01T01:00:00", 3600, false, "AA");
	tf_tz_free(z);

	/* Versions 3 and 4 read like 2; an empty footer means no rule. */
	n = make_tzif(buf, '3', "");
	CHECK_INT_EQ(tf_tz_from_tzif("Test/Zone", buf, n, &z, eb, sizeof(eb)),
	    TF_OK);
	CHECK_LOCAL(z, 4102444800, "2100-01-01T02:00:00", 7200, false, "BB");
	tf_tz_free(z);
	n = make_tzif(buf, '4', "CET-1CEST,M3.5.0,M10.5.0/3");
	CHECK_INT_EQ(tf_tz_from_tzif("Test/Zone", buf, n, &z, eb, sizeof(eb)),
	    TF_OK);
	CHECK_LOCAL(z, 4109878800, "2100-03-28T03:00:00", 7200, true, "CEST");
	tf_tz_free(z);
	z = NULL;

	/* Every truncation of a valid file is refused, never read past. */
	n = make_tzif(buf, '2', "CCC-3");
	for (cut = 0; cut < n; cut++) {
		CHECK_MSG(tf_tz_from_tzif("Test/Zone", buf, cut, &z, eb,
		    sizeof(eb)) == TF_ERR_PARSE, "cut at %zu accepted", cut);
		CHECK(z == NULL);
	}

	/* Bad footers, bad magic, leap seconds, bad type index. */
	n = make_tzif(buf, '2', "CCC-3,garbage");
	CHECK_INT_EQ(tf_tz_from_tzif("T", buf, n, &z, eb, sizeof(eb)),
	    TF_ERR_PARSE);
	n = make_tzif(buf, '2', "CCC-3");
	buf[0] = 'X';
	CHECK_INT_EQ(tf_tz_from_tzif("T", buf, n, &z, eb, sizeof(eb)),
	    TF_ERR_PARSE);
	CHECK(strstr(eb, "not a TZif file") != NULL);
	n = make_tzif(buf, '\0', NULL);
	put32(buf + 28, 1);
	CHECK_INT_EQ(tf_tz_from_tzif("T", buf, n, &z, eb, sizeof(eb)),
	    TF_ERR_PARSE);
	n = make_tzif(buf, '\0', NULL);
	buf[48] = 7;  /* the transition's type index */
	CHECK_INT_EQ(tf_tz_from_tzif("T", buf, n, &z, eb, sizeof(eb)),
	    TF_ERR_PARSE);
	CHECK(z == NULL);
}

/* Fails the Nth allocation for growing N: every exit path frees. */
static void
test_alloc_failures(void)
{
	uint8_t buf[512];
	struct tf_tz *z;
	char eb[256];
	size_t n = make_tzif(buf, '2', "CET-1CEST,M3.5.0,M10.5.0/3");
	long i;
	enum tf_err rc;

	for (i = 0; i < 20; i++) {
		z = NULL;
		tf_alloc_fail_after(i);
		rc = tf_tz_from_tzif("Test/Zone", buf, n, &z, eb, sizeof(eb));
		tf_alloc_fail_after(-1);
		CHECK(rc == TF_OK || rc == TF_ERR_NOMEM);
		CHECK((rc == TF_OK) == (z != NULL));
		tf_tz_free(z);
		z = NULL;
		tf_alloc_fail_after(i);
		rc = tf_tz_from_posix("EST5EDT", &z, eb, sizeof(eb));
		tf_alloc_fail_after(-1);
		CHECK(rc == TF_OK || rc == TF_ERR_NOMEM);
		tf_tz_free(z);
	}
}

/*
 * Every zone in the system's zoneinfo against the C library's own reading of
 * it (glibc's localtime_r under TZ, single-threaded here): offsets, DST flags
 * and local times agree at each transition from 1970 to 2100 and on either
 * side of it, and every local time maps back to an instant that shows it.
 */
static int zones_checked, instants_checked;

static void
check_one_zone(const char *name)
{
	const struct tf_tz *z;
	char eb[256], tzenv[300];
	int64_t t, probe, end = 4133980800LL;  /* 2101-01-01 */
	int k, steps = 0;

	if (tf_tz_load(name, &z, eb, sizeof(eb)) != TF_OK) {
		/* Only files that are not TZif (or leap-second ones) may fail. */
		CHECK_MSG(strstr(eb, "not a TZif") != NULL ||
		    strstr(eb, "leap-second") != NULL, "%s: %s", name, eb);
		return;
	}
	snprintf(tzenv, sizeof(tzenv), ":%s", name);
	setenv("TZ", tzenv, 1);
	tzset();
	zones_checked++;
	for (t = 0; t < end && steps < 2000; steps++) {
		int64_t next = tf_tz_next_transition(z, t);

		for (k = 0; k < 4; k++) {
			struct tf_tz_local l;
			struct tf_tz_utc u;
			struct tm g;
			time_t tt;

			probe = k == 0 ? t : k == 1 ? t - 1 : k == 2 ? t + 86400 * 13 :
			    t + 3600;
			if (probe < 0 || probe > end)
				continue;
			tt = (time_t)probe;
			CHECK(localtime_r(&tt, &g) != NULL);
			tf_tz_to_local(z, probe, &l);
			CHECK_MSG(l.utoff == g.tm_gmtoff && l.is_dst == (g.tm_isdst > 0) &&
			    l.tm.year == g.tm_year + 1900 && l.tm.mon == g.tm_mon + 1 &&
			    l.tm.mday == g.tm_mday && l.tm.hour == g.tm_hour &&
			    l.tm.min == g.tm_min && l.tm.sec == g.tm_sec &&
			    l.tm.wday == g.tm_wday && l.tm.yday == g.tm_yday &&
			    strcmp(l.abbr, g.tm_zone) == 0,
			    "%s at %lld: ours %d %d %s, glibc %ld %d %s", name,
			    (long long)probe, (int)l.utoff, (int)l.is_dst, l.abbr,
			    (long)g.tm_gmtoff, g.tm_isdst, g.tm_zone);
			tf_tz_local_to_utc(z, &l.tm, &u);
			CHECK_MSG(u.kind != TF_TZ_SKIPPED &&
			    (u.t == probe || u.later == probe),
			    "%s at %lld: back to %lld/%lld kind %d", name,
			    (long long)probe, (long long)u.t, (long long)u.later,
			    (int)u.kind);
			instants_checked++;
		}
		if (next == INT64_MAX)
			break;
		CHECK_MSG(next > t, "%s: next transition after %lld is %lld", name,
		    (long long)t, (long long)next);
		t = next;
	}
}

static void
test_all_system_zones(void)
{
	FILE *f = fopen("/usr/share/zoneinfo/tzdata.zi", "r");
	char line[512], name[300];
	const char *old = getenv("TZ");
	char *saved = old != NULL ? strdup(old) : NULL;

	CHECK_MSG(f != NULL, "/usr/share/zoneinfo/tzdata.zi: %s (is tzdata "
	    "installed?)", strerror(errno));
	/* "Z Europe/Berlin ..." names a zone; "L Europe/Berlin Arctic/..." a link. */
	while (fgets(line, sizeof(line), f) != NULL && !tf_test_current_failed) {
		if (line[0] == 'Z' && sscanf(line, "Z %299s", name) == 1)
			check_one_zone(name);
		else if (line[0] == 'L' && sscanf(line, "L %*s %299s", name) == 1)
			check_one_zone(name);
	}
	fclose(f);
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	free(saved);
	tzset();
	CHECK_MSG(zones_checked > 300, "only %d zones", zones_checked);
	printf("# %d zones, %d instants agree with glibc\n", zones_checked,
	    instants_checked);
}

/* Many threads load and use zones at once (run under TSan too). */
static void *
thread_main(void *arg)
{
	static const char *const names[] = {
		"Europe/Berlin", "America/New_York", "Australia/Sydney",
		"Asia/Kolkata", "Pacific/Auckland", "UTC"
	};
	long id = (long)(intptr_t)arg;
	int i, bad = 0;

	for (i = 0; i < 300; i++) {
		const struct tf_tz *z;
		struct tf_tz_local l;
		struct tf_tz_utc u;

		if (tf_tz_load(names[(i + id) % 6], &z, NULL, 0) != TF_OK) {
			bad++;
			continue;
		}
		tf_tz_to_local(z, 1774746000LL + i * 86400LL * 7, &l);
		tf_tz_local_to_utc(z, &l.tm, &u);
		if (u.t != 1774746000LL + i * 86400LL * 7 &&
		    u.later != 1774746000LL + i * 86400LL * 7)
			bad++;
	}
	return (void *)(intptr_t)bad;
}

static void
test_threads(void)
{
	pthread_t th[8];
	void *ret;
	long i;
	int bad = 0;

	for (i = 0; i < 8; i++)
		CHECK(pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i) == 0);
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], &ret);
		bad += (int)(intptr_t)ret;
	}
	CHECK_INT_EQ(bad, 0);
}

int
main(void)
{
	TF_RUN(test_civil);
	TF_RUN(test_names);
	TF_RUN(test_load_errors);
	TF_RUN(test_utc_builtin);
	TF_RUN(test_tzdir_override);
	TF_RUN(test_berlin);
	TF_RUN(test_new_york);
	TF_RUN(test_sydney);
	TF_RUN(test_kolkata_and_others);
	TF_RUN(test_gap_and_overlap);
	TF_RUN(test_posix_rules);
	TF_RUN(test_tzif_synthetic);
	TF_RUN(test_alloc_failures);
	TF_RUN(test_all_system_zones);
	TF_RUN(test_threads);
	return tf_test_summary();
}
