/* test_heartbeat.c - the heartbeat on the event loop (consumer/inflight.c)
 * against the local stand-ins: leases and visibilities of many runs kept
 * with one UpdateItem per run and ChangeMessageVisibilityBatch ten messages
 * a call; a lease taken over mid-run marks the run lost; a run's removal
 * waits for its extension in flight and no extension follows it. */
#include "harness.h"
#include "heartbeat_runs.h"
#include "itest.h"

#include <stdbool.h>

#include "aws/ddb.h"
#include "aws/sqs.h"
#include "base/log.h"
#include "inflight.h"
#include "loop/loop.h"
#include "task/task.h"

#define AWS (itest_ctx.aws)
#define OWNER "hb-test"
#define VISIBILITY_S 4         /* half of it: 2 s; a tick: 400 ms; the
                                  margin of a cancel: 1 s */
#define RUNS 25

static char *table, *queue;

static struct tf_heartbeat *
heartbeat(struct tf_loop *loop)
{
	struct tf_heartbeat_opts o = {
		.loop = loop, .aws = AWS, .table = table, .queue_url = queue,
		.owner = OWNER, .visibility_s = VISIBILITY_S,
	};
	struct tf_heartbeat *hb = NULL;

	if (tf_heartbeat_new(&o, &hb) != TF_OK)
		return NULL;
	return hb;
}

static void
on_stop(void *ctx, enum tf_err rc)
{
	tf_loop_stop(ctx);
}

/* Runs loop for ms. */
static void
run_for(struct tf_loop *loop, long ms)
{
	tf_loop_after(loop, ms, on_stop, loop, NULL);
	tf_loop_run(loop);
}

/* Many runs whose leases and messages would run out within 4 s are kept
 * for 9 s: every lease extended by its own write, every message by batch
 * calls of up to ten, none seen again, no lease lapsed. */
static void
test_many_runs_batched(void)
{
	static struct hb_run runs[RUNS];
	struct tf_heartbeat_counts n;
	struct tf_sqs_receive_opts ro = { 10, 0, -1, NULL };
	struct tf_sqs_message *msgs = NULL;
	struct tf_heartbeat *hb = NULL;
	struct tf_loop *loop = NULL;
	struct tf_task t;
	char err[256];
	size_t nm = 99;
	int i, lost = 0, lapsed = 0;
	int64_t end;

	CHECK(hb_runs_make(AWS, table, queue, OWNER, runs, RUNS, VISIBILITY_S));
	CHECK(tf_loop_new(NULL, &loop) == TF_OK);
	hb = heartbeat(loop);
	CHECK(hb != NULL);
	for (i = 0; i < RUNS; i++)
		tf_heartbeat_add(hb, &runs[i].f);
	run_for(loop, 9000);
	end = tf_now_ms();
	tf_heartbeat_counts(hb, &n);
	printf("# %d runs for 9 s: %ld lease writes, %ld visibility calls for "
	    "%ld messages\n", RUNS, n.lease_calls, n.visibility_calls,
	    n.visibility_entries);
	for (i = 0; i < RUNS; i++) {
		lost += atomic_load(&runs[i].f.lost);
		if (tf_task_get(AWS, table, runs[i].id, &t, err, sizeof(err)) !=
		    TF_OK || t.status != TF_TASK_PROCESSING || t.lease_until <= end)
			lapsed++;
		tf_task_free(&t);
	}
	/* Still hidden: the visibility was extended past the 4 s it had. */
	CHECK(tf_sqs_receive_message(AWS, queue, &ro, &msgs, &nm) == TF_OK);
	tf_sqs_messages_free(msgs, nm);
	tf_loop_free(loop);
	tf_heartbeat_free(hb);
	hb_runs_free(runs, RUNS);
	CHECK_INT_EQ(lost, 0);
	CHECK_INT_EQ(lapsed, 0);
	CHECK_INT_EQ(nm, 0);
	/* Every run extended at least twice in 9 s (half of 4 s left each time);
	 * each extension one lease write and one message in a batch. */
	CHECK(n.lease_calls >= 2 * RUNS);
	CHECK_INT_EQ(n.visibility_entries, n.lease_calls);
	/* Batched: 25 runs that came due together make 3 calls a round (10, 10,
	 * 5); at least 5 messages a call on average. */
	CHECK_MSG(n.visibility_calls * 5 <= n.visibility_entries,
	    "%ld calls for %ld messages", n.visibility_calls, n.visibility_entries);
}

/* Another consumer takes the task over mid-run: the next extension fails
 * its condition and the run is marked lost (its runner sees cancelled()). */
static void
test_lease_taken_over(void)
{
	static struct hb_run runs[2];
	struct tf_ddb_expr e = { 0 };
	struct tf_heartbeat *hb = NULL;
	struct tf_loop *loop = NULL;
	cJSON *key;
	enum tf_err rc;

	CHECK(hb_runs_make(AWS, table, queue, OWNER, runs, 2, VISIBILITY_S));
	key = tf_task_key(runs[0].id);
	e.update = "SET lease_owner = :o";
	rc = key != NULL ? tf_ddb_expr_value_s(&e, ":o", "intruder") : TF_ERR_NOMEM;
	if (rc == TF_OK)
		rc = tf_ddb_update_item(AWS, table, key, &e, NULL, NULL);
	tf_ddb_expr_free(&e);
	cJSON_Delete(key);
	CHECK_INT_EQ(rc, TF_OK);
	CHECK(tf_loop_new(NULL, &loop) == TF_OK);
	hb = heartbeat(loop);
	CHECK(hb != NULL);
	tf_heartbeat_add(hb, &runs[0].f);
	tf_heartbeat_add(hb, &runs[1].f);
	/* Both asked (host->heartbeat()): extended at the first tick. */
	CHECK_INT_EQ(tf_heartbeat_extend_now(hb, &runs[0].f), 0);
	CHECK_INT_EQ(tf_heartbeat_extend_now(hb, &runs[1].f), 0);
	run_for(loop, 1500);
	tf_loop_free(loop);
	CHECK_INT_EQ(atomic_load(&runs[0].f.lost), 1);
	CHECK_INT_EQ(atomic_load(&runs[1].f.lost), 0);
	/* The runner's host->heartbeat() answers from that state. */
	CHECK_INT_EQ(tf_heartbeat_extend_now(hb, &runs[0].f), -1);
	CHECK_INT_EQ(tf_heartbeat_extend_now(hb, &runs[1].f), 0);
	tf_heartbeat_free(hb);
	hb_runs_free(runs, 2);
}

/* Removal while an extension is in flight. */
struct removal {
	struct tf_loop *loop;
	struct tf_heartbeat *hb;
	struct hb_run *run;
	bool removing;              /* inside tf_heartbeat_remove() */
	int done_calls;             /* done() so far */
	int done_inside;            /* of those, inside tf_heartbeat_remove() */
	int pending_at_done;        /* the run's calls in flight at done() */
	int pending_at_remove;
	int retries;                /* of on_remove(), before the tick */
	struct tf_heartbeat_counts at_done;
};

static void
on_removed(void *ctx)
{
	struct removal *x = ctx;

	x->done_calls++;
	x->done_inside += x->removing;
	x->pending_at_done = atomic_load(&x->run->f.pending);
	tf_heartbeat_counts(x->hb, &x->at_done);
}

/* Right after the heartbeat's first tick (a timer due at the same time,
 * started after it, runs next in the same pass, before any answer is
 * read): the run's extension is in flight; it is removed, as the consumer
 * does when its runner returns. */
static void
on_remove(void *ctx, enum tf_err rc)
{
	struct removal *x = ctx;

	if (rc != TF_OK)
		return;
	if (atomic_load(&x->run->f.pending) == 0 && x->retries++ < 100) {
		/* Started a millisecond before the tick's timer: once more. */
		tf_loop_after(x->loop, 0, on_remove, x, NULL);
		return;
	}
	x->pending_at_remove = atomic_load(&x->run->f.pending);
	x->removing = true;
	tf_heartbeat_remove(x->hb, &x->run->f, on_removed, x);
	x->removing = false;
}

/* A run removed while its extension (lease write and visibility call) is in
 * flight is let go only once both ended (its message may be deleted then),
 * and nothing is sent for it afterwards; a run with nothing in flight is let
 * go at once. */
static void
test_remove_waits_for_extension(void)
{
	static struct hb_run runs[1];
	static struct removal x;
	struct tf_heartbeat_counts end;

	CHECK(hb_runs_make(AWS, table, queue, OWNER, runs, 1, VISIBILITY_S));
	memset(&x, 0, sizeof(x));
	x.run = &runs[0];
	CHECK(tf_loop_new(NULL, &x.loop) == TF_OK);
	x.hb = heartbeat(x.loop);
	CHECK(x.hb != NULL);
	/* The first tick is a tenth of the visibility away. */
	tf_loop_after(x.loop, VISIBILITY_S * 100L, on_remove, &x, NULL);
	tf_heartbeat_add(x.hb, &runs[0].f);
	/* Due at the first tick: its runner asked for one. */
	tf_heartbeat_extend_now(x.hb, &runs[0].f);
	/* Long enough for several more rounds, had it stayed registered. */
	run_for(x.loop, 3000);
	tf_heartbeat_counts(x.hb, &end);
	CHECK(x.pending_at_remove >= 1);
	CHECK_INT_EQ(x.done_calls, 1);
	CHECK_INT_EQ(x.done_inside, 0);
	CHECK_INT_EQ(x.pending_at_done, 0);
	CHECK_INT_EQ(end.lease_calls, 1);
	CHECK_INT_EQ(end.visibility_calls, 1);
	CHECK_INT_EQ(end.lease_calls, x.at_done.lease_calls);
	CHECK_INT_EQ(end.visibility_calls, x.at_done.visibility_calls);
	/* Nothing in flight: let go at once. */
	tf_heartbeat_add(x.hb, &runs[0].f);
	x.done_calls = 0;
	x.removing = true;
	tf_heartbeat_remove(x.hb, &runs[0].f, on_removed, &x);
	x.removing = false;
	CHECK_INT_EQ(x.done_inside, 1);
	tf_loop_free(x.loop);
	tf_heartbeat_free(x.hb);
	hb_runs_free(runs, 1);
}

/* The watchdog's look for runners that ignore their cancelled lease: a run
 * still waiting for a runner thread is leased (and may be cancelled) but
 * runs nothing, so it is never taken for stuck. No AWS call is made. */
static void
test_waiting_run_never_stuck(void)
{
	struct tf_heartbeat *hb = NULL;
	struct tf_loop *loop = NULL;
	struct tf_inflight f;
	char why[300] = "";

	CHECK(tf_loop_new(NULL, &loop) == TF_OK);
	hb = heartbeat(loop);
	CHECK(hb != NULL);
	memset(&f, 0, sizeof(f));
	f.task_id = "t-waiting";
	atomic_store(&f.lease_until, tf_now_ms() - 60000);
	atomic_store(&f.lost, 1);
	tf_heartbeat_add(hb, &f);
	CHECK_INT_EQ(tf_heartbeat_find_stuck(hb, tf_now_ms(), 10000, 2500, why,
	    sizeof(why)), 0);
	atomic_store(&f.started, 1);
	CHECK_INT_EQ(tf_heartbeat_find_stuck(hb, tf_now_ms(), 10000, 2500, why,
	    sizeof(why)), 1);
	CHECK(strstr(why, "t-waiting") != NULL);
	tf_loop_free(loop);
	tf_heartbeat_free(hb);
}

int
main(void)
{
	tf_log_init();
	if (itest_open() != 0)
		return 1;
	table = itest_create_table("tf-hb");
	queue = NULL;
	if (table != NULL) {
		char *name = itest_name("tf-hb");

		if (tf_sqs_create_queue(AWS, name, NULL, &queue) != TF_OK)
			printf("FAIL setup: cannot create queue %s\n", name);
		tf_free(name);
	}
	if (table == NULL || queue == NULL)
		return 1;
	TF_RUN(test_many_runs_batched);
	TF_RUN(test_lease_taken_over);
	TF_RUN(test_remove_waits_for_extension);
	TF_RUN(test_waiting_run_never_stuck);
	tf_free(queue);
	tf_free(table);
	itest_close();
	return tf_test_summary();
}
