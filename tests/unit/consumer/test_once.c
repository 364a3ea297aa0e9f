/* test_once.c - what `--once` runs, holds and counts (consumer/once.c). */
#include "harness.h"

#include "base/alloc.h"
#include "metrics.h"
#include "once.h"
#include "task/task.h"

#define CUTOFF 1700000000000LL
#define HOLD 1500

/* A received message for task id due at target_ms (strings owned by m). */
static struct tf_sqs_message
message(const char *msg_id, const char *handle, const char *id,
    int64_t target_ms)
{
	struct tf_sqs_message m;

	memset(&m, 0, sizeof(m));
	m.message_id = tf_strdup(msg_id);
	m.receipt_handle = tf_strdup(handle);
	if (tf_task_message_format(id, target_ms, 2, TF_PRIORITY_NORMAL, &m.body) != TF_OK)
		m.body = NULL;
	return m;
}

static void
test_due_runs_later_is_held(void)
{
	struct tf_once *o = NULL;
	struct tf_sqs_message due = message("m1", "h1", "a", CUTOFF + HOLD);
	struct tf_sqs_message later = message("m2", "h2", "b", CUTOFF + HOLD + 1);
	struct tf_sqs_message junk = message("m3", "h3", "c", 0);
	const struct tf_sqs_message *held;
	bool held_now = true;
	size_t n;

	tf_free(junk.body);
	junk.body = tf_strdup("not a task message");
	CHECK(tf_once_new(CUTOFF, HOLD, &o) == TF_OK);
	CHECK(tf_once_admit(o, &due, &held_now) && !held_now);
	CHECK(tf_once_admit(o, &junk, &held_now) && !held_now);
	CHECK(!tf_once_admit(o, &later, &held_now) && held_now);
	/* Held: its strings are o's now. */
	CHECK(later.message_id == NULL && later.receipt_handle == NULL);
	held = tf_once_held(o, &n);
	CHECK(n == 1 && strcmp(held[0].receipt_handle, "h2") == 0);
	tf_sqs_message_clear(&due);
	tf_sqs_message_clear(&junk);
	tf_once_free(o);
}

static void
test_claimed_task_is_held(void)
{
	struct tf_once *o = NULL;
	struct tf_sqs_message next = message("m1", "h1", "a", CUTOFF - 5000);
	struct tf_sqs_message other = message("m2", "h2", "b", CUTOFF - 5000);
	bool held_now;
	size_t n;

	tf_once_claimed(NULL, "a");  /* a daemon: nothing */
	CHECK(tf_once_new(CUTOFF, HOLD, &o) == TF_OK);
	tf_once_claimed(o, "a");
	tf_once_claimed(o, "a");
	CHECK(!tf_once_admit(o, &next, &held_now) && held_now);
	CHECK(tf_once_admit(o, &other, &held_now));
	tf_once_held(o, &n);
	CHECK(n == 1);
	tf_sqs_message_clear(&other);
	tf_once_free(o);
}

/* A held message whose visibility ran out comes again with a new receipt
 * handle: one copy is kept, with the handle that counts. */
static void
test_received_again_replaces(void)
{
	struct tf_once *o = NULL;
	struct tf_sqs_message first = message("m1", "old", "a", CUTOFF + 60000);
	struct tf_sqs_message again = message("m1", "new", "a", CUTOFF + 60000);
	const struct tf_sqs_message *held;
	bool held_now;
	size_t n;

	CHECK(tf_once_new(CUTOFF, HOLD, &o) == TF_OK);
	CHECK(!tf_once_admit(o, &first, &held_now) && held_now);
	CHECK(!tf_once_admit(o, &again, &held_now) && held_now);
	held = tf_once_held(o, &n);
	CHECK(n == 1 && strcmp(held[0].receipt_handle, "new") == 0);
	tf_once_free(o);
}

static void
test_summary_counts_errors(void)
{
	struct tf_once *o = NULL;
	struct tf_metrics *m = tf_metrics_new(NULL);
	char line[512] = "";
	FILE *f = tmpfile();

	CHECK(m != NULL && f != NULL);
	CHECK(tf_once_new(CUTOFF, HOLD, &o) == TF_OK);
	tf_metrics_run(m, NULL, TF_METRICS_COMPLETED, 1, false, 0);
	tf_metrics_run(m, NULL, TF_METRICS_COMPLETED, 1, false, 0);
	tf_metrics_run(m, NULL, TF_METRICS_SUCCESS, 1, false, 0);
	tf_metrics_run(m, NULL, TF_METRICS_RETRY, 1, false, 0);
	tf_metrics_run(m, NULL, TF_METRICS_FAILED, 1, false, 0);
	tf_metrics_run(m, NULL, TF_METRICS_WRITE_FAILED, 1, false, 0);
	tf_metrics_run(m, NULL, TF_METRICS_LEASE_LOST, 1, false, 0);
	tf_metrics_claim_lost(m, TF_METRICS_LOST_ERROR);
	tf_metrics_claim_lost(m, TF_METRICS_LOST_STALE);  /* not an error */
	tf_once_receive_failed(o);
	CHECK_INT_EQ(tf_once_summary(o, m, f), 4);
	rewind(f);
	CHECK(fgets(line, sizeof(line), f) != NULL);
	CHECK_STR_EQ(line, "taskfleet-consumer --once: runs=7 completed=2 "
	    "succeeded=1 retried=1 failed=1 errors=4 left=0\n");
	fclose(f);
	tf_once_free(o);
	tf_metrics_free(m);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_due_runs_later_is_held);
	TF_RUN(test_claimed_task_is_held);
	TF_RUN(test_received_again_replaces);
	TF_RUN(test_summary_counts_errors);
	return tf_test_summary();
}
