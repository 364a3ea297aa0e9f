/*
 * heartbeat_runs.h - claimed runs with received messages, as the consumer's
 * heartbeat (consumer/inflight.c) keeps them, set up against the stand-ins
 * for tests/integration/test_heartbeat.c and bench/heartbeat.c. Static
 * functions: include it in one file of a program (with -Itests -Iconsumer).
 */
#ifndef TF_TEST_HEARTBEAT_RUNS_H
#define TF_TEST_HEARTBEAT_RUNS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "inflight.h"
#include "task/task.h"

/* A claimed run with its received message. */
struct hb_run {
	char *id;                   /* owned */
	struct tf_sqs_message m;    /* owned */
	struct tf_inflight f;
};

/* Creates n tasks claimed by owner (generation 2), each with a message
 * received and hidden for ten minutes, then sets every lease and
 * visibility to end visibility_s from the return (last, so that a slow
 * set-up does not eat into them) and fills each run's registry entry as a
 * claim would; registered nowhere yet. False when the set-up failed
 * (printed as a "# " line). Free with hb_runs_free(), also on failure. */
static bool
hb_runs_make(struct tf_aws *aws, const char *table, const char *queue,
    const char *owner, struct hb_run *runs, int n, int visibility_s)
{
	struct tf_sqs_receive_opts ro = { 10, 0, 600, NULL };
	struct tf_sqs_send_entry se[TF_SQS_MAX_BATCH];
	struct tf_sqs_handle_entry e[TF_SQS_MAX_BATCH];
	struct tf_sqs_batch_result res;
	struct tf_sqs_message *msgs = NULL;
	struct tf_task_spec s = { 0 };
	struct tf_task t;
	int64_t now = tf_now_ms(), until, mono;
	int i, k, got = 0, tries;
	size_t x, nm;
	char err[256] = "";
	bool enqueue;

	memset(runs, 0, (size_t)n * sizeof(*runs));
	s.type = "sleep";
	s.params_json = "{}";
	s.next_run = now;
	for (i = 0; i < n; i++) {
		if (tf_task_create(aws, table, &s, now, &runs[i].id, &enqueue, err,
		    sizeof(err)) != TF_OK || tf_task_claim(aws, table, runs[i].id, 1,
		    owner, now, 250, 600000, &t, err, sizeof(err)) != TF_OK) {
			printf("# set-up failed: %s\n", err);
			return false;
		}
		tf_task_free(&t);
	}
	for (i = 0; i < n; i += k) {
		for (k = 0; k < TF_SQS_MAX_BATCH && i + k < n; k++)
			se[k] = (struct tf_sqs_send_entry){ tf_sqs_batch_ids[k],
			    runs[i + k].id, 0 };
		memset(&res, 0, sizeof(res));
		if (tf_sqs_send_message_batch(aws, queue, se, (size_t)k, &res) !=
		    TF_OK)
			return false;
		tf_sqs_batch_result_free(&res);
	}
	for (tries = 0; got < n && tries < n / 10 + 50; tries++) {
		if (tf_sqs_receive_message(aws, queue, &ro, &msgs, &nm) != TF_OK)
			return false;
		for (x = 0; x < nm && got < n; x++) {
			runs[got].m = msgs[x];
			memset(&msgs[x], 0, sizeof(msgs[x]));
			got++;
		}
		tf_sqs_messages_free(msgs, nm);
		msgs = NULL;
	}
	if (got != n) {
		printf("# set-up failed: %d of %d messages received\n", got, n);
		return false;
	}
	/* Now the short lease and visibility, as the consumer's claim and
	 * receive would have left them. */
	now = tf_now_ms();
	mono = tf_mono_ms();
	until = now + visibility_s * 1000LL;
	for (i = 0; i < n; i += k) {
		for (k = 0; k < TF_SQS_MAX_BATCH && i + k < n; k++) {
			e[k] = (struct tf_sqs_handle_entry){ tf_sqs_batch_ids[k],
			    runs[i + k].m.receipt_handle, visibility_s };
			if (tf_task_extend_lease(aws, table, runs[i + k].id, 2, owner,
			    until) != TF_OK)
				return false;
		}
		memset(&res, 0, sizeof(res));
		if (tf_sqs_change_message_visibility_batch(aws, queue, e, (size_t)k,
		    &res) != TF_OK)
			return false;
		tf_sqs_batch_result_free(&res);
	}
	for (i = 0; i < n; i++) {
		runs[i].f.task_id = runs[i].id;
		runs[i].f.receipt_handle = runs[i].m.receipt_handle;
		runs[i].f.gen = 2;
		atomic_store(&runs[i].f.lease_until, until);
		atomic_store(&runs[i].f.lease_end_mono, mono +
		    visibility_s * 1000LL);
		runs[i].f.visible_until = until;
	}
	return true;
}

static void
hb_runs_free(struct hb_run *runs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		tf_free(runs[i].id);
		tf_sqs_message_clear(&runs[i].m);
	}
}

#endif /* TF_TEST_HEARTBEAT_RUNS_H */
