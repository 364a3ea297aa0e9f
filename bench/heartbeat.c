/*
 * bench/heartbeat.c - the consumer's heartbeat (consumer/inflight.c) keeping
 * many slow runs at once, on one event loop, against the local stand-ins.
 *
 * Creates RUNS tasks claimed by one owner, each with a received message,
 * sets every lease and visibility to end VISIBILITY_S from then, registers
 * them all with one heartbeat and runs its loop for SECONDS. Then prints
 * the extension requests per run (lease writes, visibility calls) and
 * checks that nothing lapsed: no run marked lost, every item still
 * PROCESSING under its lease past the end, no message visible again.
 *
 *   heartbeat RUNS VISIBILITY_S SECONDS     (defaults 2000 20 60)
 *
 * Needs AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_DYNAMODB pointing at the
 * stand-ins (eval "$(infra/local/up)"). Exits 1 when something lapsed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "aws/schema.h"
#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/log.h"
#include "heartbeat_runs.h"
#include "inflight.h"
#include "loop/loop.h"
#include "task/task.h"

#define OWNER "hb-bench"

static struct tf_config cfg;
static struct tf_context ctx;
static char table[128], queue_name[128], *queue;

static void
on_stop(void *loop, enum tf_err rc)
{
	tf_loop_stop(loop);
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	int vis = argc > 2 ? atoi(argv[2]) : 20;
	int secs = argc > 3 ? atoi(argv[3]) : 60;
	struct tf_schema_opts so = { 0 };
	struct tf_schema_changes ch;
	struct tf_heartbeat_opts ho;
	struct tf_heartbeat_counts c;
	struct tf_sqs_receive_opts ro = { 10, 0, -1, NULL };
	struct tf_sqs_message *msgs = NULL;
	struct tf_heartbeat *hb = NULL;
	struct tf_loop *loop = NULL;
	struct hb_run *runs;
	struct tf_task t;
	char err[256];
	int64_t end;
	double cpu0, cpu1;
	int i, lost = 0, lapsed = 0;
	size_t seen = 0;

	tf_alloc_init();
	tf_log_init();
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	if (n < 1 || vis < 2 || secs < 1 || getenv("AWS_ENDPOINT_URL_SQS") == NULL) {
		fprintf(stderr, "usage: heartbeat RUNS VISIBILITY_S SECONDS, with "
		    "the stand-ins' AWS_ENDPOINT_URL_SQS and _DYNAMODB set\n");
		return 2;
	}
	if (tf_config_load(&cfg, err, sizeof(err)) != TF_OK ||
	    tf_context_open(&ctx, &cfg) != TF_OK)
		return 2;
	snprintf(table, sizeof(table), "tf-hb-bench-%d-%lld", (int)getpid(),
	    (long long)tf_now_ms());
	snprintf(queue_name, sizeof(queue_name), "%s", table);
	so.table = table;
	runs = tf_calloc((size_t)n, sizeof(*runs));
	if (runs == NULL || tf_schema_create_table(ctx.aws, &so, &ch, err,
	    sizeof(err)) != TF_OK || tf_sqs_create_queue(ctx.aws, queue_name, NULL,
	    &queue) != TF_OK || !hb_runs_make(ctx.aws, table, queue, OWNER, runs,
	    n, vis)) {
		fprintf(stderr, "heartbeat: set-up failed\n");
		return 2;
	}
	if (tf_loop_new(NULL, &loop) != TF_OK)
		return 2;
	ho = (struct tf_heartbeat_opts){ .loop = loop, .aws = ctx.aws,
	    .table = table, .queue_url = queue, .owner = OWNER,
	    .visibility_s = vis };
	if (tf_heartbeat_new(&ho, &hb) != TF_OK)
		return 2;
	for (i = 0; i < n; i++)
		tf_heartbeat_add(hb, &runs[i].f);
	cpu0 = cpu_s();
	tf_loop_after(loop, secs * 1000L, on_stop, loop, NULL);
	tf_loop_run(loop);
	cpu1 = cpu_s();
	end = tf_now_ms();
	tf_heartbeat_counts(hb, &c);
	for (i = 0; i < n; i++) {
		lost += atomic_load(&runs[i].f.lost);
		if (tf_task_get(ctx.aws, table, runs[i].id, &t, err, sizeof(err)) !=
		    TF_OK || t.status != TF_TASK_PROCESSING || t.lease_until <= end)
			lapsed++;
		tf_task_free(&t);
	}
	/* Messages visible again: their visibility lapsed. */
	for (;;) {
		size_t nm = 0;

		if (tf_sqs_receive_message(ctx.aws, queue, &ro, &msgs, &nm) !=
		    TF_OK || nm == 0)
			break;
		seen += nm;
		tf_sqs_messages_free(msgs, nm);
	}
	printf("runs %d, visibility %d s, %d s: %ld lease writes (%.2f per run), "
	    "%ld visibility calls (%.3f per run) for %ld messages (%.1f a call); "
	    "loop CPU %.3f s; lost %d, leases lapsed %d, messages seen again "
	    "%zu\n", n, vis, secs, c.lease_calls, (double)c.lease_calls / n,
	    c.visibility_calls, (double)c.visibility_calls / n,
	    c.visibility_entries, c.visibility_calls > 0 ?
	    (double)c.visibility_entries / c.visibility_calls : 0.0,
	    cpu1 - cpu0, lost, lapsed, seen);
	tf_loop_free(loop);
	tf_heartbeat_free(hb);
	hb_runs_free(runs, n);
	tf_free(runs);
	return lost == 0 && lapsed == 0 && seen == 0 ? 0 : 1;
}
