/* test_sweep_lease.c - which sweep leases a consumer takes, renews, hands
 * over or asks for (consumer/sweep_lease.h), without AWS. */
#include "harness.h"

#include <string.h>

#include "base/alloc.h"
#include "sweep_lease.h"

#define NOW 1800000000000LL
#define LEASE_MS 120000
#define N TF_SWEEP_LEASES

static struct tf_sweep_lease
held(int64_t holder)
{
	return (struct tf_sweep_lease){ .exists = true, .holder = holder,
	    .until = NOW + LEASE_MS / 2 };
}

static int
count(const enum tf_sweep_lease_action *act, enum tf_sweep_lease_action a)
{
	int i, c = 0;

	for (i = 0; i < N; i++)
		c += act[i] == a;
	return c;
}

/* How many of the leases l consumer me plans action a for, at NOW. */
static int
planned(const struct tf_sweep_lease *l, int64_t me,
    enum tf_sweep_lease_action a)
{
	enum tf_sweep_lease_action act[N];

	tf_sweep_lease_plan(l, N, me, NOW, LEASE_MS, act);
	return count(act, a);
}

static void
test_groups(void)
{
	CHECK_INT_EQ(TF_SWEEP_LEASES, 4);
	CHECK_INT_EQ(tf_sweep_lease_groups(16), 4);
	CHECK_INT_EQ(tf_sweep_lease_groups(64), 4);
	CHECK_INT_EQ(tf_sweep_lease_groups(2), 2);
	CHECK_INT_EQ(tf_sweep_lease_groups(0), 1);
}

/* Alone on a fresh table, a consumer takes one lease, comes back within
 * seconds and takes the rest. */
static void
test_alone_takes_all(void)
{
	struct tf_sweep_lease l[N] = { { 0 } };
	enum tf_sweep_lease_action act[N];
	bool have[N];
	int i;

	tf_sweep_lease_plan(l, N, 7, NOW, LEASE_MS, act);
	CHECK_INT_EQ(count(act, TF_LEASE_TAKE), 1);
	for (i = 0; i < N; i++)
		have[i] = act[i] == TF_LEASE_TAKE;
	CHECK_INT_EQ(tf_sweep_lease_pace(l, act, have, N, NOW),
	    TF_LEASE_PACE_SOON);
	for (i = 0; i < N; i++)
		if (have[i])
			l[i] = held(7);
	tf_sweep_lease_plan(l, N, 7, NOW + 5000, LEASE_MS, act);
	CHECK_INT_EQ(count(act, TF_LEASE_TAKE), N - 1);
	CHECK_INT_EQ(count(act, TF_LEASE_RENEW), 1);
	for (i = 0; i < N; i++)
		have[i] = true;
	CHECK_INT_EQ(tf_sweep_lease_pace(l, act, have, N, NOW + 5000),
	    TF_LEASE_PACE_HOLDER);
}

/* Consumers starting together on a fresh table write one lease each, not
 * every lease each, and their tokens spread those first takes. */
static void
test_starting_together_take_one_each(void)
{
	struct tf_sweep_lease l[N] = { { 0 } };
	enum tf_sweep_lease_action act[N];
	bool taken[N] = { false };
	int64_t me;
	int i;

	for (me = 100; me < 100 + N; me++) {
		tf_sweep_lease_plan(l, N, me, NOW, LEASE_MS, act);
		CHECK_INT_EQ(count(act, TF_LEASE_TAKE), 1);
		for (i = 0; i < N; i++)
			if (act[i] == TF_LEASE_TAKE) {
				CHECK_MSG(!taken[i], "lease %d taken twice", i);
				taken[i] = true;
			}
	}
}

/* How soon each consumer of an idle fleet reads the leases again: the
 * holders twice a lease time (a renewal must land before the lease ends,
 * jitter included), the others once, and one that is still taking or lost
 * a race within seconds. */
static void
test_pace(void)
{
	struct tf_sweep_lease l[N] = { held(1), held(2), held(3), held(4) };
	enum tf_sweep_lease_action act[N];
	bool none[N] = { false }, first[N] = { true, false, false, false };

	/* A fifth consumer: nothing to take or ask for. */
	tf_sweep_lease_plan(l, N, 5, NOW, LEASE_MS, act);
	CHECK_INT_EQ(tf_sweep_lease_pace(l, act, none, N, NOW),
	    TF_LEASE_PACE_STANDBY);
	/* A holder. */
	tf_sweep_lease_plan(l, N, 1, NOW, LEASE_MS, act);
	CHECK_INT_EQ(tf_sweep_lease_pace(l, act, first, N, NOW),
	    TF_LEASE_PACE_HOLDER);
	/* One that asked: it learns of the hand-over only by reading. */
	l[1] = l[2] = l[3] = held(1);
	tf_sweep_lease_plan(l, N, 5, NOW, LEASE_MS, act);
	CHECK_INT_EQ(count(act, TF_LEASE_ASK), 1);
	CHECK_INT_EQ(tf_sweep_lease_pace(l, act, none, N, NOW),
	    TF_LEASE_PACE_HOLDER);
	/* One whose take lost the race. */
	memset(l, 0, sizeof(l));
	tf_sweep_lease_plan(l, N, 5, NOW, LEASE_MS, act);
	CHECK_INT_EQ(tf_sweep_lease_pace(l, act, none, N, NOW),
	    TF_LEASE_PACE_SOON);

	CHECK(tf_sweep_lease_round_ms(TF_LEASE_PACE_HOLDER, LEASE_MS,
	    LEASE_MS / 10) < LEASE_MS * 6 / 10);
	CHECK(tf_sweep_lease_round_ms(TF_LEASE_PACE_HOLDER, LEASE_MS, 0) >=
	    LEASE_MS * 4 / 10);
	CHECK(tf_sweep_lease_round_ms(TF_LEASE_PACE_STANDBY, LEASE_MS, 0) >=
	    LEASE_MS * 9 / 10);
	CHECK(tf_sweep_lease_round_ms(TF_LEASE_PACE_STANDBY, LEASE_MS,
	    LEASE_MS / 10) <= LEASE_MS * 11 / 10);
	CHECK(tf_sweep_lease_round_ms(TF_LEASE_PACE_SOON, LEASE_MS,
	    LEASE_MS / 10) <= LEASE_MS / 20);
}

/* Holding them all with nobody asking: renewed. */
static void
test_holder_renews(void)
{
	struct tf_sweep_lease l[N] = { held(7), held(7), held(7), held(7) };

	CHECK_INT_EQ(planned(l, 7, TF_LEASE_RENEW), N);
}

/* A second consumer finds all four held by one: it asks for one; the holder
 * hands that one over at its next round, and keeps the rest. */
static void
test_newcomer_asks_and_gets_one(void)
{
	struct tf_sweep_lease l[N] = { held(7), held(7), held(7), held(7) };
	enum tf_sweep_lease_action act[N];
	int i, asked = -1;

	tf_sweep_lease_plan(l, N, 9, NOW, LEASE_MS, act);
	CHECK_INT_EQ(count(act, TF_LEASE_ASK), 1);
	CHECK_INT_EQ(count(act, TF_LEASE_TAKE), 0);
	for (i = 0; i < N; i++)
		if (act[i] == TF_LEASE_ASK)
			asked = i;
	CHECK(asked >= 0);
	l[asked].asker = 9;
	l[asked].asked_at = NOW;
	tf_sweep_lease_plan(l, N, 7, NOW + 1000, LEASE_MS, act);
	CHECK_INT_EQ(act[asked], TF_LEASE_HAND_OVER);
	CHECK_INT_EQ(count(act, TF_LEASE_RENEW), N - 1);
	/* An ask older than a lease time is stale: its consumer may be gone. */
	l[asked].asked_at = NOW - LEASE_MS;
	tf_sweep_lease_plan(l, N, 7, NOW + 1000, LEASE_MS, act);
	CHECK_INT_EQ(count(act, TF_LEASE_RENEW), N);
}

/* Leases of a consumer that died expire, and a live one takes them. */
static void
test_expired_leases_taken(void)
{
	struct tf_sweep_lease l[N] = { held(7), held(7), held(9), held(9) };
	enum tf_sweep_lease_action act[N];

	l[0].until = l[1].until = NOW - 1;  /* 7 died */
	tf_sweep_lease_plan(l, N, 9, NOW, LEASE_MS, act);
	CHECK_INT_EQ(act[0], TF_LEASE_TAKE);
	CHECK_INT_EQ(act[1], TF_LEASE_TAKE);
	CHECK_INT_EQ(act[2], TF_LEASE_RENEW);
	CHECK_INT_EQ(act[3], TF_LEASE_RENEW);
	/* With another live consumer holding one, each takes up to its fair
	 * share (two of four), leaving the rest to the other. */
	l[3] = held(5);
	CHECK_INT_EQ(planned(l, 9, TF_LEASE_TAKE), 1);
}

/* Holders of one each: a fifth consumer asks nobody (one is not two more
 * than none). */
static void
test_no_ask_when_balanced(void)
{
	struct tf_sweep_lease l[N] = { held(1), held(2), held(3), held(4) };

	CHECK_INT_EQ(planned(l, 5, TF_LEASE_NONE), N);
}

/* Applies act of consumer me to the leases in memory, with the conditions
 * of sweep_lease.c's writes. */
static void
apply(struct tf_sweep_lease *l, const struct tf_sweep_lease *read,
    const enum tf_sweep_lease_action *act, int64_t me, int64_t now)
{
	int i;

	for (i = 0; i < N; i++) {
		switch (act[i]) {
		case TF_LEASE_TAKE:
			if (!l[i].exists || l[i].until == read[i].until)
				l[i] = (struct tf_sweep_lease){ .exists = true,
				    .holder = me, .until = now + LEASE_MS };
			break;
		case TF_LEASE_RENEW:
			if (l[i].holder == me)
				l[i].until = now + LEASE_MS;
			break;
		case TF_LEASE_HAND_OVER:
			if (l[i].holder == me && l[i].asker == read[i].asker) {
				l[i].holder = l[i].asker;
				l[i].asker = 0;
				l[i].until = now + LEASE_MS;
			}
			break;
		case TF_LEASE_ASK:
			if (l[i].holder == read[i].holder) {
				l[i].asker = me;
				l[i].asked_at = now;
			}
			break;
		case TF_LEASE_NONE:
			break;
		}
	}
}

/* have[c]: how many of the leases l consumer token[c] holds at now. */
static void
count_held(const struct tf_sweep_lease *l, const int64_t *token, int64_t now,
    int *have)
{
	int i, c;

	for (c = 0; c < 3; c++) {
		have[c] = 0;
		for (i = 0; i < N; i++)
			have[c] += l[i].holder == token[c] && l[i].until > now;
	}
}

/* Three consumers starting together on a fresh table, each reading before
 * any writes: after a few rounds every lease has one holder and each
 * consumer holds one or two; then one dies, and within two lease times
 * the other two hold all four. */
static void
test_fleet_converges_and_takes_over(void)
{
	struct tf_sweep_lease l[N] = { { 0 } }, read[3][N];
	enum tf_sweep_lease_action act[N];
	int64_t now = NOW, token[3] = { 11, 22, 33 };
	int round, c, have[3];

	for (round = 0; round < 8; round++, now += LEASE_MS / 2) {
		for (c = 0; c < 3; c++)
			memcpy(read[c], l, sizeof(l));
		for (c = 0; c < 3; c++) {
			tf_sweep_lease_plan(read[c], N, token[c], now, LEASE_MS, act);
			apply(l, read[c], act, token[c], now);
		}
	}
	count_held(l, token, now, have);
	CHECK_MSG(have[0] + have[1] + have[2] == N, "held %d %d %d", have[0],
	    have[1], have[2]);
	for (c = 0; c < 3; c++)
		CHECK_MSG(have[c] >= 1 && have[c] <= 2, "consumer %d holds %d",
		    c, have[c]);
	/* Consumer 0 dies: it renews no more. */
	for (round = 0; round < 5; round++, now += LEASE_MS / 2) {
		for (c = 1; c < 3; c++) {
			memcpy(read[c], l, sizeof(l));
			tf_sweep_lease_plan(read[c], N, token[c], now, LEASE_MS, act);
			apply(l, read[c], act, token[c], now);
		}
	}
	count_held(l, token, now, have);
	CHECK_MSG(have[0] == 0 && have[1] + have[2] == N && have[1] == 2,
	    "held %d %d %d", have[0], have[1], have[2]);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_groups);
	TF_RUN(test_alone_takes_all);
	TF_RUN(test_starting_together_take_one_each);
	TF_RUN(test_pace);
	TF_RUN(test_holder_renews);
	TF_RUN(test_newcomer_asks_and_gets_one);
	TF_RUN(test_expired_leases_taken);
	TF_RUN(test_no_ask_when_balanced);
	TF_RUN(test_fleet_converges_and_takes_over);
	return tf_test_summary();
}
