/* test_sweeper.c - the sweeper on the event loop (consumer/sweeper.c)
 * against the local stand-ins: a sweep of many due tasks sends every
 * message in batches of ten while keeping few calls in flight (a loop busy
 * sweeping leaves its connections to receives and runs), a message whose
 * batch entry failed is sent by the next sweep, once; it recovers a run
 * whose lease expired, and the run a crash journal names, before its done
 * callback. */
#include "harness.h"
#include "itest.h"
#include "entry_fault_proxy.h"

#include <stdbool.h>
#include <string.h>

#include "aws/sqs.h"
#include "base/log.h"
#include "loop/loop.h"
#include "ns_gate.h"
#include "sweeper.h"
#include "task/task.h"

#define AWS (itest_ctx.aws)
#define DUE_TASKS 120
#define HORIZON_MS (60 * 60000)
/* What the sweeper keeps in flight at most: its item calls (OPS_MAX in
 * sweeper.c) and its query page. */
#define CALLS_MAX (8 + 1)
/* SendMessage and SendMessageBatch calls for DUE_TASKS messages at most:
 * batches of ten, and a few not full (a page's end). */
#define SENDS_MAX (DUE_TASKS / 10 + 3)
/* Tasks of the failed-entry test. */
#define RETRY_TASKS 15

static char *table, *queue;

/* A manual sweep on its own loop, and what was seen while it ran. */
struct sweep_run {
	struct tf_loop *loop;
	int done;                   /* done callbacks */
	size_t most_transfers;      /* the loop's transfers in flight, sampled */
	int samples;
};

static void
on_done(void *ctx)
{
	struct sweep_run *r = ctx;

	r->done++;
	tf_loop_stop(r->loop);
}

/* Samples the loop's transfers every millisecond while the sweep runs. */
static void
on_sample(void *ctx, enum tf_err rc)
{
	struct sweep_run *r = ctx;
	size_t n;

	if (rc != TF_OK)
		return;
	n = tf_loop_transfers(r->loop);
	if (n > r->most_transfers)
		r->most_transfers = n;
	r->samples++;
	tf_loop_after(r->loop, 1, on_sample, r, NULL);
}

static void
on_give_up(void *ctx, enum tf_err rc)
{
	if (rc == TF_OK)
		tf_loop_stop(ctx);
}

/* A sweeper on loop with the test's settings, sending to queue_url
 * (borrowed) through aws. */
static struct tf_sweeper *
sweeper_on(struct tf_aws *aws, struct tf_loop *loop, struct tf_ns_gate *gate,
    const char *queue_url)
{
	struct tf_sweeper_opts o = {
		.aws = aws, .loop = loop, .gate = gate, .table = table,
		.queue_url = queue_url, .interval_ms = 1000, .horizon_ms = HORIZON_MS,
		.grace_ms = 60000, .lease_grace_ms = 0, .history_kept = 10,
		.manual = true, .owner = "sweep-test",
	};
	struct tf_sweeper *sw = NULL;

	if (tf_sweeper_start(&o, &sw) != TF_OK)
		return NULL;
	return sw;
}

static struct tf_sweeper *
sweeper(struct tf_loop *loop, struct tf_ns_gate *gate)
{
	return sweeper_on(AWS, loop, gate, queue);
}

/* The SendMessage and SendMessageBatch calls aws made so far. */
static long
send_calls(struct tf_aws *aws)
{
	struct tf_aws_op_count ops[TF_AWS_MAX_OPS];
	size_t i, n = tf_aws_op_counts(aws, ops, TF_AWS_MAX_OPS);
	long calls = 0;

	for (i = 0; i < n; i++)
		if (strcmp(ops[i].operation, "SendMessage") == 0 ||
		    strcmp(ops[i].operation, "SendMessageBatch") == 0)
			calls += ops[i].calls;
	return calls;
}

/* Creates PENDING task id due at next_run, with no message out. */
static bool
create(const char *id, int64_t next_run)
{
	struct tf_task_spec spec = { 0 };
	char *out = NULL, err[200];
	bool enqueue;
	enum tf_err rc;

	spec.id = id;
	spec.type = "noop";
	spec.next_run = next_run;
	spec.horizon_ms = 1;  /* beyond it: no enqueued_for */
	rc = tf_task_create(AWS, table, &spec, tf_now_ms(), &out, &enqueue, err,
	    sizeof(err));
	tf_free(out);
	return rc == TF_OK;
}

/* Creates task id due now and claims it for owner with a lease of
 * lease_ms; *gen: the claimed generation. */
static bool
create_claimed(const char *id, const char *owner, int64_t lease_ms,
    int64_t *gen)
{
	struct tf_task t;
	char err[200];
	bool ok;

	if (!create(id, tf_now_ms()))
		return false;
	ok = tf_task_claim(AWS, table, id, 1, owner, tf_now_ms(), 0, lease_ms, &t,
	    err, sizeof(err)) == TF_OK;
	*gen = t.gen;
	tf_task_free(&t);
	return ok;
}

/* Runs one manual sweep of sw on loop (within 60 s), sampling the loop's
 * transfers meanwhile. */
static void
sweep(struct tf_sweeper *sw, struct sweep_run *r)
{
	tf_sweeper_sweep(sw, on_done, r);
	tf_loop_after(r->loop, 1, on_sample, r, NULL);
	tf_loop_after(r->loop, 60000, on_give_up, r->loop, NULL);
	tf_loop_run(r->loop);
}

/* Many due tasks: each gets its message, with the sweep's calls in flight
 * bounded all along. */
static void
test_many_due_bounded(void)
{
	struct sweep_run r = { 0 };
	struct tf_ns_gate *gate = NULL;
	struct tf_sweeper *sw = NULL;
	struct tf_sqs_depth depth = { 0 };
	struct tf_task t;
	char id[64], err[200];
	int i, enqueued = 0;
	long sent = -1, calls = send_calls(AWS);
	int64_t due = tf_now_ms() + 10 * 60000;

	for (i = 0; i < DUE_TASKS; i++) {
		snprintf(id, sizeof(id), "due-%d", i);
		CHECK(create(id, due));
	}
	CHECK(tf_loop_new(NULL, &r.loop) == TF_OK);
	gate = tf_ns_gate_new(AWS, r.loop, table);
	sw = gate != NULL ? sweeper(r.loop, gate) : NULL;
	if (sw != NULL) {
		sweep(sw, &r);
		sent = atomic_load(&tf_sweeper_stats(sw)->enqueued);
	}
	calls = send_calls(AWS) - calls;
	tf_loop_free(r.loop);
	tf_sweeper_stop(sw);
	tf_ns_gate_free(gate);
	CHECK(sw != NULL);
	CHECK_INT_EQ(r.done, 1);
	CHECK_INT_EQ(sent, DUE_TASKS);
	CHECK_MSG(calls <= SENDS_MAX, "%ld SendMessage* calls for %d messages "
	    "(at most %d)", calls, DUE_TASKS, SENDS_MAX);
	for (i = 0; i < DUE_TASKS; i++) {
		snprintf(id, sizeof(id), "due-%d", i);
		if (tf_task_get(AWS, table, id, &t, err, sizeof(err)) == TF_OK &&
		    t.gen == 2 && t.enqueued_for == due)
			enqueued++;
		tf_task_free(&t);
	}
	CHECK_INT_EQ(enqueued, DUE_TASKS);
	CHECK(tf_sqs_queue_depth(AWS, queue, &depth) == TF_OK);
	CHECK_INT_EQ(depth.visible + depth.delayed + depth.in_flight, DUE_TASKS);
	CHECK(r.samples > 0);
	CHECK_MSG(r.most_transfers <= CALLS_MAX, "%zu calls in flight at once "
	    "(at most %d)", r.most_transfers, CALLS_MAX);
}

/* One manual sweep of the table through aws, sending to queue_url; the
 * messages it sent, or -1. */
static long
sweep_once(struct tf_aws *aws, const char *queue_url)
{
	struct sweep_run r = { 0 };
	struct tf_ns_gate *gate = NULL;
	struct tf_sweeper *sw = NULL;
	long sent = -1;

	if (tf_loop_new(NULL, &r.loop) != TF_OK)
		return -1;
	gate = tf_ns_gate_new(AWS, r.loop, table);
	sw = gate != NULL ? sweeper_on(aws, r.loop, gate, queue_url) : NULL;
	if (sw != NULL) {
		sweep(sw, &r);
		if (r.done == 1)
			sent = atomic_load(&tf_sweeper_stats(sw)->enqueued);
	}
	tf_loop_free(r.loop);
	tf_sweeper_stop(sw);
	tf_ns_gate_free(gate);
	return sent;
}

/* Receives what queue_url holds (each message once: they stay in flight)
 * until `want` came or 20 s passed, then for one more second: counts the
 * messages per task retry-<i> in got, and those not of their task's
 * generation (or of no such task) in *bad. Returns how many came. */
static int
receive_all(const char *queue_url, int want, int *got, int *bad)
{
	struct tf_sqs_receive_opts ro = { 10, 1, 60, NULL };
	struct tf_sqs_message *m = NULL;
	struct tf_task_message msg;
	struct tf_task t;
	char err[200];
	int64_t deadline = tf_mono_ms() + 20000;
	size_t i, n = 0;
	int received = 0, idx, extra = 0;

	while (extra < 1 && tf_mono_ms() < deadline) {
		if (received >= want)
			extra++;  /* one more poll: nothing more may come */
		if (tf_sqs_receive_message(AWS, queue_url, &ro, &m, &n) != TF_OK)
			continue;
		for (i = 0; i < n; i++) {
			received++;
			if (tf_task_message_parse(m[i].body, &msg, err,
			    sizeof(err)) != TF_OK ||
			    sscanf(msg.id, "retry-%d", &idx) != 1 || idx < 0 ||
			    idx >= RETRY_TASKS) {
				(*bad)++;
				continue;
			}
			got[idx]++;
			if (tf_task_get(AWS, table, msg.id, &t, err,
			    sizeof(err)) != TF_OK || t.gen != msg.gen)
				(*bad)++;
			tf_task_free(&t);
		}
		tf_sqs_messages_free(m, n);
		m = NULL;
	}
	return received;
}

/* A message whose batch entry failed (tests/entry_fault_proxy.h in front
 * of SQS fails it): its enqueue is released, and the next sweep sends it.
 * In the end every task has exactly one message, of its generation:
 * nothing lost, nothing doubled. */
static void
test_failed_entry_sent_again(void)
{
	struct entry_proxy proxy;
	struct tf_config cfg = itest_cfg;
	struct tf_aws *aws = NULL;
	const char *sqs = getenv("AWS_ENDPOINT_URL_SQS");
	const char *colon = sqs != NULL ? strrchr(sqs, ':') : NULL;
	char *q = NULL, *name = itest_name("tf-sweep-retry"), url[64], id[64];
	int i, got[RETRY_TASKS] = { 0 }, bad = 0, received = 0, failed = -1;
	int once = 0;
	long sent[2] = { -1, -1 };
	bool created = true;

	CHECK(colon != NULL && entry_proxy_start(&proxy, atoi(colon + 1)) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", proxy.port);
	cfg.endpoint[TF_AWS_SQS] = url;
	if (tf_context_new_client(&itest_ctx, &cfg, 0, 0, &aws) == TF_OK &&
	    name != NULL && tf_sqs_create_queue(AWS, name, NULL, &q) == TF_OK) {
		for (i = 0; i < RETRY_TASKS; i++) {
			snprintf(id, sizeof(id), "retry-%d", i);
			/* Due in a second: its message is the sweeper's. */
			created = created && create(id, tf_now_ms() + 1000);
		}
		entry_proxy_fail(&proxy, 1);
		if (created) {
			sent[0] = sweep_once(aws, q);
			sent[1] = sweep_once(aws, q);
		}
		received = receive_all(q, RETRY_TASKS, got, &bad);
	}
	failed = atomic_load(&proxy.failed);
	tf_aws_free(aws);
	entry_proxy_stop(&proxy);
	if (q != NULL)
		tf_sqs_delete_queue(AWS, q);
	tf_free(q);
	tf_free(name);
	CHECK(aws != NULL && created);
	CHECK_INT_EQ(failed, 1);
	CHECK_INT_EQ(sent[0], RETRY_TASKS - 1);
	CHECK_INT_EQ(sent[1], 1);
	for (i = 0; i < RETRY_TASKS; i++)
		once += got[i] == 1;
	CHECK_MSG(received == RETRY_TASKS && once == RETRY_TASKS && bad == 0,
	    "%d messages received, %d tasks with exactly one, %d not of their "
	    "task's generation", received, once, bad);
}

/* A run whose lease expired is recovered by the sweep (a failed attempt,
 * due now, its message sent); a crash journal's run is recovered before
 * the sweep's done, charged when it crashed; one the journal names that
 * moved on is left alone. */
static void
test_recoveries(void)
{
	struct sweep_run r = { 0 };
	struct tf_ns_gate *gate = NULL;
	struct tf_sweeper *sw = NULL;
	struct tf_task t;
	char err[200];
	int64_t gen_dead = 0, gen_crash = 0, gen_other = 0;
	long recovered = -1;

	CHECK(create_claimed("expired-1", "dead", 1, &gen_dead));
	CHECK(create_claimed("crashed-1", "crasher", 600000, &gen_crash));
	CHECK(create_claimed("other-1", "alive", 600000, &gen_other));
	/* Its lease (1 ms) has ended before the sweep reads it. */
	CHECK(tf_task_get(AWS, table, "expired-1", &t, err, sizeof(err)) == TF_OK);
	while (t.lease_until >= tf_now_ms())
		tf_sleep_ms(5);
	tf_task_free(&t);
	CHECK(tf_loop_new(NULL, &r.loop) == TF_OK);
	gate = tf_ns_gate_new(AWS, r.loop, table);
	sw = gate != NULL ? sweeper(r.loop, gate) : NULL;
	if (sw != NULL) {
		tf_sweeper_recover_crashed(sw, "crashed-1", gen_crash, "crasher",
		    true, "runner crashed (test)");
		/* Leased to another consumer than the journal says: not its. */
		tf_sweeper_recover_crashed(sw, "other-1", gen_other, "crasher",
		    true, "runner crashed (test)");
		sweep(sw, &r);
		recovered = atomic_load(&tf_sweeper_stats(sw)->recovered);
	}
	tf_loop_free(r.loop);
	tf_sweeper_stop(sw);
	tf_ns_gate_free(gate);
	CHECK(sw != NULL);
	CHECK_INT_EQ(r.done, 1);
	CHECK_INT_EQ(recovered, 2);

	CHECK(tf_task_get(AWS, table, "expired-1", &t, err, sizeof(err)) == TF_OK);
	CHECK_MSG(t.status == TF_TASK_PENDING && t.attempts == 1 &&
	    t.gen > gen_dead && t.enqueued_for > 0 && t.last_error != NULL &&
	    strstr(t.last_error, "lease expired: consumer dead") != NULL,
	    "expired-1: %s, attempts %lld, error %s",
	    tf_task_status_name(t.status), (long long)t.attempts,
	    t.last_error ? t.last_error : "none");
	tf_task_free(&t);

	CHECK(tf_task_get(AWS, table, "crashed-1", &t, err, sizeof(err)) == TF_OK);
	CHECK_MSG(t.status == TF_TASK_PENDING && t.attempts == 1 &&
	    t.last_error != NULL && strcmp(t.last_error,
	    "runner crashed (test)") == 0, "crashed-1: %s, attempts %lld",
	    tf_task_status_name(t.status), (long long)t.attempts);
	tf_task_free(&t);

	CHECK(tf_task_get(AWS, table, "other-1", &t, err, sizeof(err)) == TF_OK);
	CHECK_MSG(t.status == TF_TASK_PROCESSING && t.gen == gen_other,
	    "other-1: %s", tf_task_status_name(t.status));
	tf_task_free(&t);
}

int
main(void)
{
	tf_log_init();
	if (itest_open() != 0)
		return 1;
	table = itest_create_table("tf-sweep");
	queue = NULL;
	if (table != NULL) {
		char *name = itest_name("tf-sweep");

		if (tf_sqs_create_queue(AWS, name, NULL, &queue) != TF_OK)
			printf("FAIL setup: cannot create queue %s\n", name);
		tf_free(name);
	}
	if (table == NULL || queue == NULL)
		return 1;
	TF_RUN(test_many_due_bounded);
	TF_RUN(test_failed_entry_sent_again);
	TF_RUN(test_recoveries);
	tf_free(queue);
	tf_free(table);
	itest_close();
	return tf_test_summary();
}
