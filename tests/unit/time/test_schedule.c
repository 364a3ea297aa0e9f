/* test_schedule.c - the schedule attribute: parsing, first and next runs. */
#include "harness.h"

#include "base/alloc.h"
#include "time/schedule.h"

#define MIN_MS  60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)

/* 2026-03-06T10:00:00Z, a Friday. */
#define T0 1772791200000LL

/* Parses JSON text as a schedule into s, or fails the test. */
#define PARSE(s, text) do { \
		char eb_[256]; \
		cJSON *j_ = cJSON_Parse(text); \
		enum tf_err rc_; \
		CHECK_MSG(j_ != NULL, "bad JSON in test: %s", (text)); \
		rc_ = tf_schedule_parse(j_, &(s), eb_, sizeof(eb_)); \
		cJSON_Delete(j_); \
		CHECK_MSG(rc_ == TF_OK, "%s: %s", (text), eb_); \
	} while (0)

/* Checks that the JSON text is refused with exactly the message want. */
#define CHECK_BAD(text, want) do { \
		char eb_[256]; \
		struct tf_schedule *s_ = NULL; \
		cJSON *j_ = cJSON_Parse(text); \
		enum tf_err rc_; \
		CHECK_MSG(j_ != NULL, "bad JSON in test: %s", (text)); \
		rc_ = tf_schedule_parse(j_, &s_, eb_, sizeof(eb_)); \
		cJSON_Delete(j_); \
		tf_schedule_free(s_); \
		CHECK_MSG(rc_ == TF_ERR_INVALID, "%s: accepted", (text)); \
		CHECK(s_ == NULL); \
		CHECK_STR_EQ(eb_, (want)); \
	} while (0)

/* Like CHECK_BAD, for messages whose tail another module words: the
 * message must start with `want`. */
#define CHECK_BAD_START(text, want) do { \
		char eb_[256]; \
		struct tf_schedule *s_ = NULL; \
		cJSON *j_ = cJSON_Parse(text); \
		enum tf_err rc_; \
		CHECK_MSG(j_ != NULL, "bad JSON in test: %s", (text)); \
		rc_ = tf_schedule_parse(j_, &s_, eb_, sizeof(eb_)); \
		cJSON_Delete(j_); \
		tf_schedule_free(s_); \
		CHECK_MSG(rc_ == TF_ERR_INVALID, "%s: accepted", (text)); \
		CHECK_MSG(strncmp(eb_, (want), strlen(want)) == 0 && \
		    strchr(eb_, '\n') == NULL, "%s: got \"%s\"", (text), eb_); \
	} while (0)

static void
test_parse_ok(void)
{
	struct tf_schedule *s = NULL;

	PARSE(s, "{\"every\": \"30m\"}");
	tf_schedule_free(s);
	PARSE(s, "{\"every\": \"1s\", \"max_runs\": 3, \"until\": 1798761600000}");
	tf_schedule_free(s);
	PARSE(s, "{\"cron\": \"0 9 * * 1-5\", \"tz\": \"Europe/Berlin\"}");
	tf_schedule_free(s);
	PARSE(s, "{\"cron\": \"@daily\"}");
	tf_schedule_free(s);
	PARSE(s, "{\"cron\": \"*/5 * * * *\", \"tz\": \"Etc/UTC\", "
	    "\"max_runs\": 1, \"until\": 0}");
	tf_schedule_free(s);
	PARSE(s, "{\"until\": -1000, \"cron\": \"0 0 29 2 *\", \"tz\": \"UTC\"}");
	tf_schedule_free(s);
	tf_schedule_free(NULL);
}

static void
test_parse_refusals(void)
{
	CHECK_BAD("[]", "schedule: must be an object such as {\"every\": \"30m\"}");
	CHECK_BAD("\"30m\"", "schedule: must be an object such as "
	    "{\"every\": \"30m\"}");
	CHECK_BAD("{}", "schedule: needs \"every\" (an interval) or \"cron\" (an "
	    "expression)");
	CHECK_BAD("{\"max_runs\": 3}", "schedule: needs \"every\" (an interval) or "
	    "\"cron\" (an expression)");
	CHECK_BAD("{\"every\": \"30m\", \"cron\": \"* * * * *\"}",
	    "schedule: \"every\" and \"cron\" exclude each other");
	CHECK_BAD("{\"every\": \"30m\", \"at\": 5}", "schedule: unknown key \"at\" "
	    "(want every, cron, tz, max_runs, until, anchor)");
	CHECK_BAD("{\"Every\": \"30m\"}", "schedule: unknown key \"Every\" (want "
	    "every, cron, tz, max_runs, until, anchor)");
	CHECK_BAD("{\"every\": \"30m\", \"every\": \"1h\"}",
	    "schedule: duplicate key \"every\"");
	/* every */
	CHECK_BAD("{\"every\": 30}", "schedule.every: must be a string such as "
	    "\"30m\"");
	CHECK_BAD("{\"every\": null}", "schedule.every: must be a string such as "
	    "\"30m\"");
	CHECK_BAD("{\"every\": \"500ms\"}", "schedule.every: \"500ms\": must be at "
	    "least 1s");
	CHECK_BAD("{\"every\": \"0s\"}", "schedule.every: \"0s\": must be at least "
	    "1s");
	CHECK_BAD_START("{\"every\": \"1.5h\"}", "schedule.every: \"1.5h\": ");
	CHECK_BAD_START("{\"every\": \"30\"}", "schedule.every: \"30\": ");
	CHECK_BAD_START("{\"every\": \"\"}", "schedule.every: ");
	/* cron */
	CHECK_BAD("{\"cron\": 5}", "schedule.cron: must be a string such as "
	    "\"0 9 * * 1-5\"");
	CHECK_BAD("{\"cron\": \"0 24 * * *\"}", "schedule.cron: field 2 (hour): 24 "
	    "is out of range 0-23");
	CHECK_BAD("{\"cron\": \"@reboot\"}", "schedule.cron: @reboot is not "
	    "supported (a schedule needs times)");
	CHECK_BAD("{\"cron\": \"0 0 30 2 *\"}", "schedule.cron: \"0 0 30 2 *\" "
	    "never fires (no such day in the months it names)");
	/* tz */
	CHECK_BAD("{\"every\": \"30m\", \"tz\": \"Europe/Berlin\"}",
	    "schedule.tz: only goes with \"cron\" or calendar steps (\"every\": "
	    "\"1mo\", \"1y\")");
	CHECK_BAD("{\"cron\": \"@daily\", \"tz\": 1}", "schedule.tz: must be a "
	    "string such as \"Europe/Berlin\"");
	CHECK_BAD_START("{\"cron\": \"@daily\", \"tz\": \"Mars/Olympus_Mons\"}",
	    "schedule.tz: unknown time zone \"Mars/Olympus_Mons\" (not in ");
	CHECK_BAD("{\"cron\": \"@daily\", \"tz\": \"../../etc/passwd\"}",
	    "schedule.tz: invalid time zone name \"../../etc/passwd\" (want a name "
	    "such as Europe/Berlin: letters, digits, \"/\", \"_\", \"+\", \"-\")");
	/* max_runs */
	CHECK_BAD("{\"every\": \"1m\", \"max_runs\": 0}", "schedule.max_runs: must "
	    "be an integer >= 1");
	CHECK_BAD("{\"every\": \"1m\", \"max_runs\": -2}", "schedule.max_runs: "
	    "must be an integer >= 1");
	CHECK_BAD("{\"every\": \"1m\", \"max_runs\": 1.5}", "schedule.max_runs: "
	    "must be an integer >= 1");
	CHECK_BAD("{\"every\": \"1m\", \"max_runs\": \"3\"}", "schedule.max_runs: "
	    "must be an integer >= 1");
	CHECK_BAD("{\"every\": \"1m\", \"max_runs\": 1e300}", "schedule.max_runs: "
	    "must be an integer >= 1");
	/* until */
	CHECK_BAD("{\"every\": \"1m\", \"until\": \"2026-01-01\"}",
	    "schedule.until: must be an integer (epoch milliseconds) between "
	    "years 0000 and 9999");
	CHECK_BAD("{\"every\": \"1m\", \"until\": 1.5}", "schedule.until: must be "
	    "an integer (epoch milliseconds) between years 0000 and 9999");
	CHECK_BAD("{\"every\": \"1m\", \"until\": 1e300}", "schedule.until: must "
	    "be an integer (epoch milliseconds) between years 0000 and 9999");
	CHECK_BAD("{\"every\": \"1m\", \"until\": true}", "schedule.until: must be "
	    "an integer (epoch milliseconds) between years 0000 and 9999");
}

static void
test_parse_out_of_memory(void)
{
	cJSON *j = cJSON_Parse("{\"cron\": \"0 9 * * *\", \"tz\": \"Asia/Kolkata\"}");
	struct tf_schedule *s = NULL;
	char eb[256];
	enum tf_err rc;
	long i;

	CHECK(j != NULL);
	for (i = 0; i < 10; i++) {
		tf_alloc_fail_after(i);
		rc = tf_schedule_parse(j, &s, eb, sizeof(eb));
		tf_alloc_fail_after(-1);
		if (rc != TF_OK) {
			CHECK_MSG(rc == TF_ERR_NOMEM, "%d: %s", (int)rc, eb);
			CHECK(s == NULL);
		}
		tf_schedule_free(s);
		s = NULL;
	}
	cJSON_Delete(j);
}

static void
test_every_first(void)
{
	struct tf_schedule *s = NULL;

	PARSE(s, "{\"every\": \"30m\"}");
	CHECK_INT_EQ(tf_schedule_first(s, T0), T0);
	tf_schedule_free(s);
	/* until already passed: no run at all. */
	PARSE(s, "{\"every\": \"30m\", \"until\": 1772791199999}");
	CHECK_INT_EQ(tf_schedule_first(s, T0), 0);
	CHECK_INT_EQ(tf_schedule_first(s, T0 - 1), T0 - 1);
	tf_schedule_free(s);
}

static void
test_every_anchoring(void)
{
	struct tf_schedule *s = NULL;
	int64_t slot = T0, next;
	int i;

	PARSE(s, "{\"every\": \"30m\"}");
	/* A run that ended a little late: the next slot is 30m after the
	 * scheduled time, not after the end. */
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + 5000, 1), T0 + 30 * MIN_MS);
	/* Ended before it was due (a clock a little behind): still the slot. */
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 - 5000, 1), T0 + 30 * MIN_MS);
	/* Exactly on the next slot: strictly after, so the one after it. */
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + 30 * MIN_MS, 1),
	    T0 + 60 * MIN_MS);
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + 30 * MIN_MS - 1, 1),
	    T0 + 30 * MIN_MS);
	/* No drift over many runs that each end late by a varying amount. */
	for (i = 1; i <= 10000; i++) {
		int64_t lag = (int64_t)(i * 7919 % 1799) * 1000;

		next = tf_schedule_next(s, slot, slot + lag, i);
		CHECK_INT_EQ(next, T0 + (int64_t)i * 30 * MIN_MS);
		slot = next;
	}
	tf_schedule_free(s);

	/* Intervals that do not divide anything nicely. */
	PARSE(s, "{\"every\": \"1h1m1s\"}");
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + DAY_MS, 5),
	    T0 + 24 * 3661000LL);
	tf_schedule_free(s);
}

static void
test_every_missed_runs(void)
{
	struct tf_schedule *s = NULL;

	PARSE(s, "{\"every\": \"30m\"}");
	/* No consumer ran for 5h10m: the missed slots are not run one by one;
	 * the next run is the first slot after now, on the original grid. */
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + 5 * HOUR_MS + 10 * MIN_MS, 1),
	    T0 + 5 * HOUR_MS + 30 * MIN_MS);
	/* A week behind. */
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + 7 * DAY_MS + 1, 1),
	    T0 + 7 * DAY_MS + 30 * MIN_MS);
	tf_schedule_free(s);
}

static void
test_max_runs(void)
{
	struct tf_schedule *s = NULL;

	PARSE(s, "{\"every\": \"1h\", \"max_runs\": 3}");
	CHECK_INT_EQ(tf_schedule_first(s, T0), T0);
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0, 1), T0 + HOUR_MS);
	CHECK_INT_EQ(tf_schedule_next(s, T0 + HOUR_MS, T0 + HOUR_MS, 2),
	    T0 + 2 * HOUR_MS);
	CHECK_INT_EQ(tf_schedule_next(s, T0 + 2 * HOUR_MS, T0 + 2 * HOUR_MS, 3), 0);
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0, 4), 0);
	tf_schedule_free(s);

	PARSE(s, "{\"every\": \"1h\", \"max_runs\": 1}");
	CHECK_INT_EQ(tf_schedule_first(s, T0), T0);
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0, 1), 0);
	tf_schedule_free(s);

	PARSE(s, "{\"cron\": \"0 * * * *\", \"max_runs\": 2}");
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0, 1), T0 + HOUR_MS);
	CHECK_INT_EQ(tf_schedule_next(s, T0 + HOUR_MS, T0 + HOUR_MS, 2), 0);
	tf_schedule_free(s);
}

static void
test_until(void)
{
	struct tf_schedule *s = NULL;

	/* A run exactly at "until" is still allowed; none after it. */
	PARSE(s, "{\"every\": \"30m\", \"until\": 1772794800000}");
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0, 1), T0 + 30 * MIN_MS);
	CHECK_INT_EQ(tf_schedule_next(s, T0 + 30 * MIN_MS, T0 + 30 * MIN_MS, 2),
	    T0 + HOUR_MS);
	CHECK_INT_EQ(tf_schedule_next(s, T0 + HOUR_MS, T0 + HOUR_MS, 3), 0);
	/* Missed runs past until: over. */
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + 2 * HOUR_MS, 1), 0);
	tf_schedule_free(s);

	PARSE(s, "{\"cron\": \"0 9 * * *\", \"until\": 1772874000000}");
	/* 2026-03-07T09:00Z is until itself. */
	CHECK_INT_EQ(tf_schedule_first(s, T0), 1772874000000LL);
	CHECK_INT_EQ(tf_schedule_next(s, 1772874000000LL, 1772874000000LL, 1), 0);
	tf_schedule_free(s);
}

static void
test_cron_first_and_next(void)
{
	struct tf_schedule *s = NULL;

	PARSE(s, "{\"cron\": \"0 * * * *\"}");
	/* At or after now: a slot exactly now is the first run. */
	CHECK_INT_EQ(tf_schedule_first(s, T0), T0);
	CHECK_INT_EQ(tf_schedule_first(s, T0 + 1), T0 + HOUR_MS);
	CHECK_INT_EQ(tf_schedule_first(s, T0 - 1), T0);
	/* Next: strictly after max(scheduled, now), to the millisecond. */
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + 500, 1), T0 + HOUR_MS);
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 - 500, 1), T0 + HOUR_MS);
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + HOUR_MS, 1), T0 + 2 * HOUR_MS);
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + HOUR_MS - 1, 1), T0 + HOUR_MS);
	/* Missed runs: once, then the next slot after now. */
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0 + 5 * HOUR_MS + 1, 1),
	    T0 + 6 * HOUR_MS);
	/* Before 1970 (negative ms) rounds correctly. */
	CHECK_INT_EQ(tf_schedule_next(s, -HOUR_MS - 1, -HOUR_MS - 1, 1), -HOUR_MS);
	tf_schedule_free(s);

	/* Weekdays at 9 in Berlin across the spring change: Friday 2026-03-27
	 * 09:00 CET (08:00Z), then Monday 03-30 09:00 CEST (07:00Z). */
	PARSE(s, "{\"cron\": \"0 9 * * 1-5\", \"tz\": \"Europe/Berlin\"}");
	CHECK_INT_EQ(tf_schedule_first(s, 1774598400000LL), 1774598400000LL);
	CHECK_INT_EQ(tf_schedule_next(s, 1774598400000LL, 1774598460000LL, 1),
	    1774854000000LL);
	tf_schedule_free(s);

	/* In the gap: 02:30 Berlin on 2026-03-29 runs at 03:00 CEST. */
	PARSE(s, "{\"cron\": \"30 2 * * *\", \"tz\": \"Europe/Berlin\"}");
	CHECK_INT_EQ(tf_schedule_next(s, 1774661400000LL, 1774661400000LL, 1),
	    1774746000000LL);
	CHECK_INT_EQ(tf_schedule_next(s, 1774746000000LL, 1774746000000LL, 2),
	    1774830600000LL);
	tf_schedule_free(s);

	/* Overlap: 01:30 New York on 2026-11-01 runs once, at 01:30 EDT. */
	PARSE(s, "{\"cron\": \"30 1 * * *\", \"tz\": \"America/New_York\"}");
	CHECK_INT_EQ(tf_schedule_next(s, 1793424600000LL, 1793424600000LL, 1),
	    1793511000000LL);
	CHECK_INT_EQ(tf_schedule_next(s, 1793511000000LL, 1793511000000LL, 2),
	    1793601000000LL);
	tf_schedule_free(s);
}

/* Checks that "every" text parses to months m (0: a DURATION of ms). */
#define CHECK_EVERY(text, m, ms) do { \
		int64_t ms_; \
		int m_; \
		char eb_[256]; \
		CHECK_MSG(tf_schedule_parse_every((text), &ms_, &m_, eb_, \
		    sizeof(eb_)) == TF_OK, "%s: %s", (text), eb_); \
		CHECK_INT_EQ(m_, (m)); \
		CHECK_INT_EQ(ms_, (ms)); \
	} while (0)

static void
test_calendar_parse(void)
{
	struct tf_schedule *s = NULL;

	CHECK_EVERY("1mo", 1, 0);
	CHECK_EVERY("3mo", 3, 0);
	CHECK_EVERY("1y", 12, 0);
	CHECK_EVERY("1y6mo", 18, 0);
	CHECK_EVERY("100y", 1200, 0);
	/* Fixed durations are what they were. */
	CHECK_EVERY("30m", 0, 30 * MIN_MS);
	CHECK_EVERY("1d12h", 0, 36 * HOUR_MS);
	CHECK_EVERY("500ms", 0, 500);
	PARSE(s, "{\"every\": \"1mo\"}");
	CHECK(tf_schedule_wants_anchor(s));
	tf_schedule_free(s);
	PARSE(s, "{\"every\": \"1y\", \"tz\": \"Europe/Berlin\", "
	    "\"anchor\": 1769650200000, \"max_runs\": 5}");
	CHECK(!tf_schedule_wants_anchor(s));
	tf_schedule_free(s);
	PARSE(s, "{\"every\": \"1h\"}");
	CHECK(!tf_schedule_wants_anchor(s));
	tf_schedule_free(s);

	CHECK_BAD("{\"every\": \"1mo2d\"}", "schedule.every: \"1mo2d\": "
	    "calendar units (y, mo) do not mix with fixed ones (w, d, h, m, s, "
	    "ms): use one kind, or a cron expression");
	CHECK_BAD("{\"every\": \"1d1y\"}", "schedule.every: \"1d1y\": "
	    "calendar units (y, mo) do not mix with fixed ones (w, d, h, m, s, "
	    "ms): use one kind, or a cron expression");
	CHECK_BAD("{\"every\": \"0mo\"}", "schedule.every: \"0mo\": must be "
	    "at least 1mo");
	CHECK_BAD("{\"every\": \"101y\"}", "schedule.every: \"101y\": at most "
	    "100y (1200 months)");
	CHECK_BAD("{\"every\": \"99999999999999999999mo\"}", "schedule.every: "
	    "\"99999999999999999999mo\": at most 100y (1200 months)");
	CHECK_BAD("{\"every\": \"6mo1y\"}", "schedule.every: \"6mo1y\": years "
	    "first, then months, each once (e.g. 1y6mo)");
	CHECK_BAD("{\"every\": \"1mo1mo\"}", "schedule.every: \"1mo1mo\": years "
	    "first, then months, each once (e.g. 1y6mo)");
	CHECK_BAD("{\"every\": \"mo\"}", "schedule.every: \"mo\": a unit needs "
	    "a number before it (e.g. 1mo, 3mo, 1y, 1y6mo)");
	CHECK_BAD("{\"every\": \"1mo3\"}", "schedule.every: \"1mo3\": a number "
	    "needs a unit (y or mo)");
	CHECK_BAD("{\"every\": \"1h\", \"anchor\": 0}", "schedule.anchor: only "
	    "goes with calendar steps (\"every\": \"1mo\", \"1y\")");
	CHECK_BAD("{\"every\": \"1mo\", \"anchor\": \"x\"}", "schedule.anchor: "
	    "must be an integer (epoch milliseconds) between years 0000 and 9999");
	CHECK_BAD_START("{\"every\": \"1mo\", \"tz\": \"Mars/Olympus_Mons\"}",
	    "schedule.tz: unknown time zone \"Mars/Olympus_Mons\" (not in ");
}

/* Walks a calendar schedule (JSON text) from want[0], each run ending a
 * little late, and checks every next run against want[1..n-1]. */
static void
check_calendar_walk(const char *text, const int64_t *want, int n)
{
	struct tf_schedule *s = NULL;
	int i;

	PARSE(s, text);
	CHECK_INT_EQ(tf_schedule_first(s, want[0]), want[0]);
	for (i = 1; i < n; i++)
		CHECK_MSG(tf_schedule_next(s, want[i - 1], want[i - 1] + 7000, i) ==
		    want[i], "%s: run %d: got %lld, want %lld", text, i,
		    (long long)tf_schedule_next(s, want[i - 1], want[i - 1] + 7000, i),
		    (long long)want[i]);
	tf_schedule_free(s);
}

static void
test_calendar_next(void)
{
	/* Jan 31 10:00Z monthly through 2027 (not leap) and 2028 (leap): the
	 * anchor's 31st comes back after each short month. */
	static const int64_t jan31[] = {
		1801389600000LL,   /* 2027-01-31 */
		1803808800000LL,   /* 2027-02-28 */
		1806487200000LL,   /* 2027-03-31 */
		1809079200000LL,   /* 2027-04-30 */
	};
	static const int64_t jan31_leap[] = {
		1830247200000LL,   /* 2027-12-31 */
		1832925600000LL,   /* 2028-01-31 */
		1835431200000LL,   /* 2028-02-29 */
		1838109600000LL,   /* 2028-03-31 */
	};
	/* Feb 29 12:00Z yearly: the 28th, then the 29th again in 2032. */
	static const int64_t feb29[] = {
		1835438400000LL, 1866974400000LL, 1898510400000LL, 1930046400000LL,
		1961668800000LL,
	};
	/* Nov 30 08:00Z every 3 months. */
	static const int64_t q[] = {
		1796025600000LL,   /* 2026-11-30 */
		1803801600000LL,   /* 2027-02-28 */
		1811664000000LL,   /* 2027-05-30 */
		1819612800000LL,   /* 2027-08-30 */
	};
	/* 02:30 Berlin on the 29th: Feb 28 (CET), then Mar 29 is the spring
	 * change, whose 02:30 does not exist: 03:00 CEST, as cron does; then
	 * 02:30 CEST. */
	static const int64_t berlin[] = {
		1769650200000LL,   /* 2026-01-29T02:30+01:00 */
		1772242200000LL,   /* 2026-02-28T02:30+01:00 */
		1774746000000LL,   /* 2026-03-29T03:00+02:00 */
		1777422600000LL,   /* 2026-04-29T02:30+02:00 */
	};
	/* 01:30 New York on the 1st: Nov 1 is the fall-back day, 01:30 comes
	 * twice: the first (EDT), then 01:30 EST in December. */
	static const int64_t ny[] = {
		1790832600000LL,   /* 2026-10-01T01:30-04:00 */
		1793511000000LL,   /* 2026-11-01T01:30-04:00 */
		1796106600000LL,   /* 2026-12-01T01:30-05:00 */
	};
	struct tf_schedule *s = NULL;
	char text[200];

	snprintf(text, sizeof(text), "{\"every\": \"1mo\", \"anchor\": %lld}",
	    (long long)jan31[0]);
	check_calendar_walk(text, jan31, 4);
	/* The same anchor, eleven months on. */
	check_calendar_walk(text, jan31_leap, 4);
	snprintf(text, sizeof(text), "{\"every\": \"1y\", \"tz\": \"UTC\", "
	    "\"anchor\": %lld}", (long long)feb29[0]);
	check_calendar_walk(text, feb29, 5);
	snprintf(text, sizeof(text), "{\"every\": \"3mo\", \"anchor\": %lld}",
	    (long long)q[0]);
	check_calendar_walk(text, q, 4);
	snprintf(text, sizeof(text), "{\"every\": \"1mo\", \"tz\": "
	    "\"Europe/Berlin\", \"anchor\": %lld}", (long long)berlin[0]);
	check_calendar_walk(text, berlin, 4);
	snprintf(text, sizeof(text), "{\"every\": \"1mo\", \"tz\": "
	    "\"America/New_York\", \"anchor\": %lld}", (long long)ny[0]);
	check_calendar_walk(text, ny, 3);

	/* UTC yearly, missed runs: once, then the first slot after now. */
	PARSE(s, "{\"every\": \"1y\"}");
	CHECK_INT_EQ(tf_schedule_next(s, T0, T0, 1), 1804327200000LL);
	CHECK_INT_EQ(tf_schedule_next(s, T0, 1804327200000LL, 1),
	    1835949600000LL);
	CHECK_INT_EQ(tf_schedule_next(s, T0, 1930557600000LL - 1, 1),
	    1930557600000LL);
	/* Without an anchor the scheduled time is one: Feb 28 goes to Mar 28. */
	CHECK_INT_EQ(tf_schedule_next(s, jan31[1], jan31[1], 1),
	    jan31[1] + 365 * DAY_MS);
	tf_schedule_free(s);
	PARSE(s, "{\"every\": \"1mo\"}");
	CHECK_INT_EQ(tf_schedule_next(s, jan31[1], jan31[1], 1),
	    jan31[1] + 28 * DAY_MS);
	/* The anchor's milliseconds are kept. */
	CHECK_INT_EQ(tf_schedule_next(s, jan31[0] + 250, jan31[0] + 250, 1),
	    jan31[1] + 250);
	tf_schedule_free(s);
	/* max_runs and until as for the other kinds. */
	PARSE(s, "{\"every\": \"1mo\", \"max_runs\": 2, \"until\": "
	    "1806487200000}");
	CHECK_INT_EQ(tf_schedule_next(s, jan31[0], jan31[0], 1), jan31[1]);
	CHECK_INT_EQ(tf_schedule_next(s, jan31[1], jan31[1], 2), 0);
	CHECK_INT_EQ(tf_schedule_next(s, jan31[0], jan31[2], 1), 0);
	tf_schedule_free(s);
	/* Nothing after the year 9999. */
	PARSE(s, "{\"every\": \"100y\", \"anchor\": 253402214400000}");
	CHECK_INT_EQ(tf_schedule_next(s, 253402214400000LL, 253402214400000LL, 1),
	    0);
	CHECK_INT_EQ(tf_schedule_next(s, INT64_MIN, INT64_MAX, 1), 0);
	CHECK_INT_EQ(tf_schedule_next(s, INT64_MIN, INT64_MIN, 1),
	    253402214400000LL);
	tf_schedule_free(s);
}

static void
test_overflow(void)
{
	struct tf_schedule *s = NULL;

	PARSE(s, "{\"every\": \"1w\"}");
	CHECK_INT_EQ(tf_schedule_next(s, INT64_MAX - 1000, INT64_MAX - 1000, 1), 0);
	CHECK_INT_EQ(tf_schedule_next(s, INT64_MIN, INT64_MAX, 1), 0);
	tf_schedule_free(s);
	PARSE(s, "{\"cron\": \"* * * * *\"}");
	CHECK_INT_EQ(tf_schedule_next(s, INT64_MAX, INT64_MAX, 1), 0);
	CHECK_INT_EQ(tf_schedule_first(s, INT64_MIN), 0);
	tf_schedule_free(s);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_parse_ok);
	TF_RUN(test_parse_refusals);
	TF_RUN(test_parse_out_of_memory);
	TF_RUN(test_every_first);
	TF_RUN(test_every_anchoring);
	TF_RUN(test_every_missed_runs);
	TF_RUN(test_max_runs);
	TF_RUN(test_until);
	TF_RUN(test_cron_first_and_next);
	TF_RUN(test_calendar_parse);
	TF_RUN(test_calendar_next);
	TF_RUN(test_overflow);
	return tf_test_summary();
}
