/* test_due.c - when the sweeper looks at a task (task/due.h), without AWS. */
#include "harness.h"

#include <string.h>

#include "base/alloc.h"
#include "task/due.h"
#include "task/task.h"

static void
test_defaults_are_the_settings_defaults(void)
{
	struct tf_due_timing t;

	tf_due_get(&t);
	CHECK_INT_EQ(t.horizon_ms, 15 * 60 * 1000);
	CHECK_INT_EQ(t.grace_ms, 60000);
	CHECK_INT_EQ(t.shards, TF_DUE_SHARDS_DEFAULT);
	CHECK_INT_EQ(TF_DUE_SHARDS_DEFAULT, 16);
}

/* A message out surfaces once it may be lost, a lease once it ends: in a
 * query with due_at <= now + horizon, exactly when now passes enqueued_for
 * + grace or lease_until (the lease grace is the sweeper's own, a few
 * seconds of re-reads, so no writer's setting can delay a recovery). */
static void
test_due_at_surfaces_when_a_look_is_needed(void)
{
	struct tf_due_timing t = { .horizon_ms = 5000, .grace_ms = 3000,
	    .shards = 16 };
	int64_t enq = 1000000, lease = 2000000, now;

	CHECK_INT_EQ(tf_due_at_message(&t, enq), enq + 3000 + 5000);
	CHECK_INT_EQ(tf_due_at_lease(&t, lease), lease + 5000);
	now = enq + 3000;
	CHECK(tf_due_at_message(&t, enq) <= now + t.horizon_ms);
	CHECK(tf_due_at_message(&t, enq) > now - 1 + t.horizon_ms);
	now = lease;
	CHECK(tf_due_at_lease(&t, lease) <= now + t.horizon_ms);
	CHECK(tf_due_at_lease(&t, lease) > now - 1 + t.horizon_ms);
	/* NULL: the process's timing, set once at start. */
	tf_due_set(&t);
	CHECK_INT_EQ(tf_due_at_message(NULL, enq), enq + 8000);
	CHECK_INT_EQ(tf_due_at_lease(NULL, lease), lease + 5000);
}

static void
test_shards(void)
{
	struct tf_due_timing t = { .horizon_ms = 1, .grace_ms = 1, .shards = 64 };
	char a[TF_DUE_SHARD_SIZE], b[TF_DUE_SHARD_SIZE];
	bool high = false;
	char id[32];
	int i;

	/* 16 shards: the value every version before the setting wrote. */
	tf_due_shard("task-1", 16, a);
	tf_task_shard("task-1", b);
	CHECK_STR_EQ(a, b);
	/* FNV-1a("task-1") % 16, as the original code computed it. */
	CHECK_STR_EQ(a, "6");
	/* With 64 shards, ids spread over all of them, stable per id. */
	tf_due_set(&t);
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "t-%d", i);
		tf_task_shard(id, a);
		tf_due_shard(id, 64, b);
		CHECK_STR_EQ(a, b);
		CHECK(atoi(a) >= 0 && atoi(a) < 64);
		high = high || atoi(a) >= 16;
	}
	CHECK(high);
	/* A count out of range (0 among them) keeps the count. */
	t.shards = TF_DUE_SHARDS_MAX + 1;
	tf_due_set(&t);
	tf_due_get(&t);
	CHECK_INT_EQ(t.shards, 64);
	tf_due_shard_name(TF_DUE_SHARDS_MAX - 1, a);
	CHECK_STR_EQ(a, "511");
}

static void
test_internal_ids_are_no_task_ids(void)
{
	CHECK(tf_due_internal_id("taskfleet config"));
	CHECK(tf_due_internal_id("taskfleet sweep 3"));
	CHECK(!tf_task_id_valid("taskfleet config"));
	CHECK(!tf_due_internal_id("task-1"));
	CHECK(!tf_due_internal_id(NULL));
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_defaults_are_the_settings_defaults);
	TF_RUN(test_due_at_surfaces_when_a_look_is_needed);
	TF_RUN(test_shards);
	TF_RUN(test_internal_ids_are_no_task_ids);
	return tf_test_summary();
}
