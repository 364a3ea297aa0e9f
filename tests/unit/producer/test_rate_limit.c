/* test_rate_limit.c - the REST API's token buckets (producer/rate_limit.h):
 * rate text, a burst then refusals, refill, Retry-After, "off", the bounded
 * table's eviction, and many threads on one bucket.
 *
 * The time is passed in (now_ns): nothing here reads a clock or sleeps. */
#include "harness.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/err.h"
#include "rate_limit.h"

#define S 1000000000LL    /* a second in ns */
#define MS 1000000LL      /* a millisecond in ns */
/* A monotonic time well after zero, as CLOCK_MONOTONIC is after boot. */
#define T0 (123456LL * S)

/* Parses text, which must be good. */
static struct rate
must_parse(const char *text)
{
	struct rate r = { -1, -1 };
	char err[200] = "";

	if (rate_parse(text, &r, err, sizeof(err)) != TF_OK)
		printf("# %s: %s\n", text, err);
	return r;
}

/* ---- Rate text -------------------------------------------------------- */

struct good_case {
	const char *text;
	int64_t interval_ns;
	int64_t burst;
};

static const struct good_case good_cases[] = {
	{ "50/s", 20 * MS, 100 },            /* the default: two seconds' worth */
	{ "50/s:7", 20 * MS, 7 },
	{ "1/s", S, 2 },
	{ "7/s", 142857142, 14 },            /* not a whole number of ns */
	{ "600/min", 100 * MS, 20 },
	{ "10/min", 6 * S, 1 },              /* less than one in two seconds */
	{ "1/min:3", 60 * S, 3 },
	{ "60/min:1", S, 1 },
	{ "3600/h", S, 2 },
	{ "1/h", 3600 * S, 1 },
	{ "1000000/s", 1000, 2000000 },
	{ "1/s:1000000", S, 1000000 },
	{ "off", 0, 0 },
	{ "0", 0, 0 },
};

static void
check_good(const void *arg)
{
	const struct good_case *c = arg;
	struct rate r;
	char err[200] = "";

	CHECK_MSG(rate_parse(c->text, &r, err, sizeof(err)) == TF_OK, "%s", err);
	CHECK_INT_EQ(r.interval_ns, c->interval_ns);
	CHECK_INT_EQ(r.burst, c->burst);
	CHECK(rate_is_off(&r) == (c->interval_ns == 0));
}

struct bad_case {
	const char *text;
	const char *want;   /* in the message */
};

static const struct bad_case bad_cases[] = {
	{ "", "\"\" is not a rate: expected N/s, N/min or N/h" },
	{ "fast", "\"fast\" is not a rate" },
	{ "5", "\"5\" is not a rate" },
	{ "5/", "is not a rate" },
	{ "5/sec", "is not a rate" },
	{ "5/m", "is not a rate" },
	{ "5/S", "is not a rate" },
	{ "/s", "is not a rate" },
	{ "-1/s", "is not a rate" },
	{ "+1/s", "is not a rate" },
	{ "1e3/s", "is not a rate" },
	{ " 5/s", "is not a rate" },
	{ "5/s ", "is not a rate" },
	{ "5 /s", "is not a rate" },
	{ "5/s:", "is not a rate" },
	{ "5/s:x", "is not a rate" },
	{ "5/s:3:4", "is not a rate" },
	{ "5/s:-1", "is not a rate" },
	{ "off:3", "is not a rate" },
	{ "0/s", "\"0/s\": the count must be 1 to 1000000 (off: no limit)" },
	{ "1000001/s", "the count must be 1 to 1000000" },
	{ "99999999999999999999/s", "the count must be 1 to 1000000" },
	{ "5/s:0", "\"5/s:0\": the burst must be 1 to 1000000" },
	{ "5/s:1000001", "the burst must be 1 to 1000000" },
	{ "5/s:\x01", "\"5/s:?\" is not a rate" },   /* quoted printable */
};

static void
check_bad(const void *arg)
{
	const struct bad_case *c = arg;
	struct rate r;
	char err[200] = "";

	CHECK_INT_EQ(rate_parse(c->text, &r, err, sizeof(err)), TF_ERR_INVALID);
	CHECK_MSG(strstr(err, c->want) != NULL, "message \"%s\", want \"%s\"",
	    err, c->want);
}

static void
test_parse_long_text_quoted_short(void)
{
	char text[300], err[400];
	struct rate r;

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	CHECK_INT_EQ(rate_parse(text, &r, err, sizeof(err)), TF_ERR_INVALID);
	/* At most 40 characters of it are quoted. */
	CHECK(strstr(err, "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\" is not "
	    "a rate") == err);
	/* No room for a message: still refused, nothing written past it. */
	CHECK_INT_EQ(rate_parse("nope", &r, NULL, 0), TF_ERR_INVALID);
}

/* ---- Buckets ---------------------------------------------------------- */

static void
test_burst_then_refused(void)
{
	struct rate r = must_parse("1/min:3");
	struct rate_table *t = rate_table_new(8);
	struct rate_verdict v;
	int i;

	CHECK(t != NULL);
	for (i = 0; i < 3; i++) {
		CHECK(rate_table_try_take(t, "k", 1, &r, T0, &v));
		CHECK_INT_EQ(v.limit, 3);
		CHECK_INT_EQ(v.remaining, 2 - i);
		CHECK_INT_EQ(v.retry_after_s, 0);
	}
	for (i = 0; i < 5; i++) {
		CHECK(!rate_table_try_take(t, "k", 1, &r, T0 + i * MS, &v));
		CHECK_INT_EQ(v.limit, 3);
		CHECK_INT_EQ(v.remaining, 0);
		CHECK_INT_EQ(v.retry_after_s, 60);
	}
	/* A refused request takes nothing: the first token is back after 60 s
	 * from the first take, not from the last refusal. */
	CHECK(!rate_table_try_take(t, "k", 1, &r, T0 + 60 * S - 1, &v));
	CHECK_INT_EQ(v.retry_after_s, 1);
	CHECK(rate_table_try_take(t, "k", 1, &r, T0 + 60 * S, &v));
	CHECK_INT_EQ(v.remaining, 0);
	CHECK(!rate_table_try_take(t, "k", 1, &r, T0 + 60 * S, &v));
	CHECK_INT_EQ(v.retry_after_s, 60);
	/* Other ids have buckets of their own. */
	CHECK(rate_table_try_take(t, "other", 5, &r, T0 + 60 * S, &v));
	CHECK_INT_EQ(v.remaining, 2);
	rate_table_free(t);
}

static void
test_refill(void)
{
	struct rate r = must_parse("10/s:2");
	struct rate_table *t = rate_table_new(8);
	struct rate_verdict v;
	int64_t now = T0;
	int i, n;

	CHECK(t != NULL);
	CHECK(rate_table_try_take(t, "k", 1, &r, now, &v));
	CHECK(rate_table_try_take(t, "k", 1, &r, now, &v));
	CHECK(!rate_table_try_take(t, "k", 1, &r, now, &v));
	/* One token every 100 ms. */
	CHECK(!rate_table_try_take(t, "k", 1, &r, now + 99 * MS, &v));
	CHECK(rate_table_try_take(t, "k", 1, &r, now + 100 * MS, &v));
	CHECK_INT_EQ(v.remaining, 0);
	CHECK(!rate_table_try_take(t, "k", 1, &r, now + 150 * MS, &v));
	CHECK(rate_table_try_take(t, "k", 1, &r, now + 200 * MS, &v));
	/* Idle for an hour: never more than the burst. */
	now += 3600 * S;
	for (n = 0, i = 0; i < 10; i++)
		n += rate_table_try_take(t, "k", 1, &r, now, &v);
	CHECK_INT_EQ(n, 2);
	/* Over a steady second: the burst plus one a tenth of a second. */
	now += 3600 * S;
	for (n = 0, i = 0; i <= 1000; i++)
		n += rate_table_try_take(t, "k", 1, &r, now + i * MS, &v);
	CHECK_INT_EQ(n, 2 + 10);
	rate_table_free(t);
}

static void
test_retry_after(void)
{
	struct rate hour = must_parse("1/h"), fast = must_parse("50/s:1");
	struct rate minute = must_parse("1/min:1");
	struct rate_table *t = rate_table_new(8);
	struct rate_verdict v;

	CHECK(t != NULL);
	CHECK(rate_table_try_take(t, "m", 1, &minute, T0, &v));
	/* Rounded up to whole seconds. */
	CHECK(!rate_table_try_take(t, "m", 1, &minute, T0 + 500 * MS, &v));
	CHECK_INT_EQ(v.retry_after_s, 60);
	CHECK(!rate_table_try_take(t, "m", 1, &minute, T0 + 1 * S, &v));
	CHECK_INT_EQ(v.retry_after_s, 59);
	CHECK(!rate_table_try_take(t, "m", 1, &minute, T0 + 58 * S + 1, &v));
	CHECK_INT_EQ(v.retry_after_s, 2);
	CHECK(!rate_table_try_take(t, "m", 1, &minute, T0 + 59 * S + 999 * MS, &v));
	CHECK_INT_EQ(v.retry_after_s, 1);
	/* At least 1, when the token is due in less than a second. */
	CHECK(rate_table_try_take(t, "f", 1, &fast, T0, &v));
	CHECK(!rate_table_try_take(t, "f", 1, &fast, T0 + 1, &v));
	CHECK_INT_EQ(v.retry_after_s, 1);
	CHECK(rate_table_try_take(t, "h", 1, &hour, T0, &v));
	CHECK(!rate_table_try_take(t, "h", 1, &hour, T0, &v));
	CHECK_INT_EQ(v.retry_after_s, 3600);
	rate_table_free(t);
}

static void
test_off(void)
{
	struct rate r = must_parse("off");
	struct rate_table *t = rate_table_new(2);
	struct rate_verdict v;
	int i;

	CHECK(t != NULL);
	for (i = 0; i < 1000; i++) {
		CHECK(rate_table_try_take(t, &i, sizeof(i), &r, T0, &v));
		CHECK_INT_EQ(v.limit, 0);
		CHECK_INT_EQ(v.retry_after_s, 0);
	}
	CHECK(rate_table_has_token(t, "k", 1, &r, T0, &v));
	CHECK_INT_EQ(rate_table_count(t), 0);
	/* A NULL verdict is fine. */
	CHECK(rate_table_try_take(t, "k", 1, &r, T0, NULL));
	rate_table_free(t);
	rate_table_free(NULL);
}

static void
test_has_token(void)
{
	struct rate r = must_parse("1/min:2");
	struct rate_table *t = rate_table_new(8);
	struct rate_verdict v;

	CHECK(t != NULL);
	/* Asking creates nothing and takes nothing. */
	CHECK(rate_table_has_token(t, "k", 1, &r, T0, &v));
	CHECK_INT_EQ(v.remaining, 2);
	CHECK_INT_EQ(rate_table_count(t), 0);
	CHECK(rate_table_try_take(t, "k", 1, &r, T0, &v));
	CHECK(rate_table_has_token(t, "k", 1, &r, T0, &v));
	CHECK_INT_EQ(v.remaining, 1);
	CHECK(rate_table_has_token(t, "k", 1, &r, T0, NULL));
	CHECK(rate_table_try_take(t, "k", 1, &r, T0, &v));
	CHECK(!rate_table_has_token(t, "k", 1, &r, T0 + S, &v));
	CHECK_INT_EQ(v.remaining, 0);
	CHECK_INT_EQ(v.retry_after_s, 59);
	CHECK(rate_table_has_token(t, "k", 1, &r, T0 + 60 * S, &v));
	CHECK_INT_EQ(v.remaining, 1);
	CHECK_INT_EQ(rate_table_count(t), 1);
	rate_table_free(t);
}

/* ---- The bounded table ------------------------------------------------ */

static void
test_eviction_least_recent(void)
{
	struct rate r = must_parse("1/h:1");
	struct rate_table *t = rate_table_new(4);
	const char *ids = "abcd";
	int i;

	CHECK(t != NULL);
	/* a, b, c, d each take their one token at T0 + 1..4 s. */
	for (i = 0; i < 4; i++)
		CHECK(rate_table_try_take(t, &ids[i], 1, &r, T0 + (i + 1) * S, NULL));
	CHECK_INT_EQ(rate_table_count(t), 4);
	/* a is asked again (refused): now b is the least recently used. */
	CHECK(!rate_table_try_take(t, "a", 1, &r, T0 + 5 * S, NULL));
	CHECK(rate_table_try_take(t, "e", 1, &r, T0 + 6 * S, NULL));
	CHECK_INT_EQ(rate_table_count(t), 4);
	/* b was forgotten (a new bucket would be full); the others were not. */
	CHECK(rate_table_has_token(t, "b", 1, &r, T0 + 7 * S, NULL));
	CHECK(!rate_table_has_token(t, "a", 1, &r, T0 + 7 * S, NULL));
	CHECK(!rate_table_has_token(t, "c", 1, &r, T0 + 7 * S, NULL));
	CHECK(!rate_table_has_token(t, "d", 1, &r, T0 + 7 * S, NULL));
	CHECK(!rate_table_has_token(t, "e", 1, &r, T0 + 7 * S, NULL));
	rate_table_free(t);
}

static void
test_eviction_many(void)
{
	struct rate r = must_parse("1/h:1");
	struct rate_table *t = rate_table_new(16);
	uint32_t id;

	CHECK(t != NULL);
	/* 1000 ids through 16 places: the chains stay whole, and exactly the
	 * last 16 are remembered. */
	for (id = 0; id < 1000; id++)
		CHECK(rate_table_try_take(t, &id, sizeof(id), &r, T0 + id * MS, NULL));
	CHECK_INT_EQ(rate_table_count(t), 16);
	for (id = 0; id < 1000; id++)
		CHECK_MSG(rate_table_has_token(t, &id, sizeof(id), &r, T0 + S, NULL) ==
		    (id < 1000 - 16), "id %u", (unsigned)id);
	rate_table_free(t);
}

static void
test_ids_by_length(void)
{
	struct rate r = must_parse("1/h:1");
	struct rate_table *t = rate_table_new(8);
	unsigned char a[RATE_ID_MAX] = { 0 };

	CHECK(t != NULL);
	/* The same bytes at another length are another id. */
	CHECK(rate_table_try_take(t, a, 4, &r, T0, NULL));
	CHECK(rate_table_try_take(t, a, 16, &r, T0, NULL));
	CHECK(rate_table_try_take(t, a, RATE_ID_MAX, &r, T0, NULL));
	CHECK(!rate_table_try_take(t, a, 4, &r, T0, NULL));
	CHECK_INT_EQ(rate_table_count(t), 3);
	rate_table_free(t);
}

static void
test_new_nomem(void)
{
	struct rate_table *t = NULL;
	long n;

	for (n = 0; n < 10; n++) {
		tf_alloc_fail_after(n);
		t = rate_table_new(4);
		tf_alloc_fail_after(-1);
		if (t != NULL)
			break;
	}
	CHECK(t != NULL);
	CHECK(n >= 3);
	rate_table_free(t);
}

/* ---- Threads ---------------------------------------------------------- */

struct taker {
	struct rate_table *t;
	const struct rate *r;
	int took;
};

static void *
take_many(void *arg)
{
	struct taker *k = arg;
	int i;

	for (i = 0; i < 2000; i++)
		k->took += rate_table_try_take(k->t, "shared", 6, k->r, T0, NULL);
	for (i = 0; i < 200; i++)
		rate_table_try_take(k->t, &i, sizeof(i), k->r, T0, NULL);
	return NULL;
}

static void
test_threads_share_a_bucket(void)
{
	struct rate r = must_parse("1/h:1000");
	struct taker k[4];
	pthread_t th[4];
	int i, total = 0;
	struct rate_table *t = rate_table_new(256);

	CHECK(t != NULL);
	for (i = 0; i < 4; i++) {
		k[i].t = t;
		k[i].r = &r;
		k[i].took = 0;
		CHECK(pthread_create(&th[i], NULL, take_many, &k[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += k[i].took;
	}
	/* 8000 asked at one instant: exactly the burst was given (the table
	 * has room for every id, so the shared bucket is never forgotten). */
	CHECK_INT_EQ(total, 1000);
	rate_table_free(t);
}

int
main(void)
{
	char name[200];
	size_t i, j;

	tf_alloc_init();
	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		snprintf(name, sizeof(name), "rate_parse %s", good_cases[i].text);
		TF_RUN_NAMED(name, check_good, &good_cases[i]);
	}
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		snprintf(name, sizeof(name), "rate_parse_error \"%s\"",
		    bad_cases[i].text);
		for (j = 0; name[j] != '\0'; j++)
			if ((unsigned char)name[j] < 0x20)
				name[j] = '?';
		TF_RUN_NAMED(name, check_bad, &bad_cases[i]);
	}
	TF_RUN(test_parse_long_text_quoted_short);
	TF_RUN(test_burst_then_refused);
	TF_RUN(test_refill);
	TF_RUN(test_retry_after);
	TF_RUN(test_off);
	TF_RUN(test_has_token);
	TF_RUN(test_eviction_least_recent);
	TF_RUN(test_eviction_many);
	TF_RUN(test_ids_by_length);
	TF_RUN(test_new_nomem);
	TF_RUN(test_threads_share_a_bucket);
	return tf_test_summary();
}
