/* test_inflight.c - the clock rule of a run's cancelled(): a run is
 * cancelled once the monotonic clock reaches its lease end minus the margin,
 * whatever the heartbeat thread did (issue 18 item 6). End to end, with a
 * paused consumer: tests/scripts/engine_pause.sh. */
#include "harness.h"

#include "base/clock.h"
#include "base/log.h"
#include "consumer.h"
#include "host.h"
#include "inflight.h"

/* A run whose lease ends in_ms from now (monotonic); 0: unknown. */
static void
run_with_lease(struct tf_inflight *f, int64_t in_ms)
{
	memset(f, 0, sizeof(*f));
	f->task_id = "t1";
	atomic_store(&f->lease_end_mono, in_ms != 0 ? tf_mono_ms() + in_ms : 0);
}

static void
test_lease_far_away(void)
{
	struct tf_inflight f;

	run_with_lease(&f, 60000);
	CHECK(!tf_inflight_lease_ending(&f, tf_mono_ms(), 15000));
	CHECK_INT_EQ(atomic_load(&f.lost), 0);
}

static void
test_within_margin_cancels(void)
{
	struct tf_inflight f;

	/* The heartbeat never set `lost`: the clock alone decides. */
	run_with_lease(&f, 1000);
	CHECK(tf_inflight_lease_ending(&f, tf_mono_ms(), 2000));
	CHECK_INT_EQ(atomic_load(&f.lost), 1);
	/* It stays cancelled, even should an extension move the end later. */
	atomic_store(&f.lease_end_mono, tf_mono_ms() + 60000);
	CHECK_INT_EQ(atomic_load(&f.lost), 1);
}

static void
test_past_the_end_cancels(void)
{
	struct tf_inflight f;

	/* A consumer paused (SIGSTOP) for 12 s past its lease. */
	run_with_lease(&f, -12000);
	CHECK(tf_inflight_lease_ending(&f, tf_mono_ms(), 0));
}

static void
test_unknown_end_is_not_cancelled(void)
{
	struct tf_inflight f;

	run_with_lease(&f, 0);
	CHECK(!tf_inflight_lease_ending(&f, tf_mono_ms(), 15000));
}

/* A runner's context for task t1 of consumer c (callers keep c static: it
 * is big) with run f, both borrowed; visibility 8 s: a margin of 2 s. */
static struct tf_run_ctx
host_ctx(struct tf_consumer *c, struct tf_inflight *f)
{
	struct tf_run_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	c->o.visibility_s = 8;
	ctx.c = c;
	ctx.f = f;
	ctx.task_id = "t1";
	return ctx;
}

/* The host table's cancelled(), as a runner calls it. */
static void
test_host_cancelled_by_clock(void)
{
	static struct tf_consumer c;
	struct tf_inflight f;
	struct tf_run_ctx ctx = host_ctx(&c, &f);
	const struct tf_host_api *host = tf_host_api();

	run_with_lease(&f, 30000);
	CHECK_INT_EQ(host->cancelled(&ctx), 0);
	run_with_lease(&f, 1500);       /* within the margin */
	CHECK_INT_EQ(host->cancelled(&ctx), 1);
	CHECK_INT_EQ(atomic_load(&f.lost), 1);
	run_with_lease(&f, -12000);     /* paused past the lease */
	CHECK_INT_EQ(host->cancelled(&ctx), 1);
}

/* A run another consumer took over (an extension refused: lost) is
 * cancelled at once, long before its lease would end by the clock; so is
 * every run of a consumer that abandons its work. */
static void
test_host_cancelled_when_lost(void)
{
	static struct tf_consumer c;
	struct tf_inflight f;
	struct tf_run_ctx ctx = host_ctx(&c, &f);
	const struct tf_host_api *host = tf_host_api();

	run_with_lease(&f, 30000);
	CHECK_INT_EQ(host->cancelled(&ctx), 0);
	atomic_store(&f.lost, 1);
	CHECK_INT_EQ(host->cancelled(&ctx), 1);
	run_with_lease(&f, 30000);
	atomic_store(&c.abandon, 1);
	CHECK_INT_EQ(host->cancelled(&ctx), 1);
	atomic_store(&c.abandon, 0);
}

int
main(void)
{
	tf_log_init();
	TF_RUN(test_lease_far_away);
	TF_RUN(test_within_margin_cancels);
	TF_RUN(test_past_the_end_cancels);
	TF_RUN(test_unknown_end_is_not_cancelled);
	TF_RUN(test_host_cancelled_by_clock);
	TF_RUN(test_host_cancelled_when_lost);
	return tf_test_summary();
}
