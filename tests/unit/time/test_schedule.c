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
	    "(want every, cron, tz, max_runs, until)");
	CHECK_BAD("{\"Every\": \"30m\"}", "schedule: unknown key \"Every\" (want "
	    "every, cron, tz, max_runs, until)");
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
	    "schedule.tz: only goes with \"cron\"");
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
	TF_RUN(test_overflow);
	return tf_test_summary();
}
