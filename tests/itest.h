/*
 * itest.h - shared set-up for integration tests against the local stand-ins.
 *
 * tests/run starts the stand-ins and exports AWS_ENDPOINT_URL_SQS and
 * AWS_ENDPOINT_URL_DYNAMODB; itest_open() builds a client from them. Each
 * test names its own tables and queues with itest_name(), so tests never
 * share state and can run in any order.
 */
#ifndef TF_ITEST_H
#define TF_ITEST_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "aws/schema.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/config.h"

static struct tf_config itest_cfg;
static struct tf_context itest_ctx;

/* Opens the client; prints a FAIL line and returns -1 without stand-ins. */
static inline int
itest_open(void)
{
	char err[256];

	tf_alloc_init();
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	if (getenv("AWS_ENDPOINT_URL_SQS") == NULL ||
	    getenv("AWS_ENDPOINT_URL_DYNAMODB") == NULL) {
		printf("FAIL setup: AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_DYNAMODB "
		    "must point at the stand-ins (run through tests/run)\n");
		return -1;
	}
	if (tf_config_load(&itest_cfg, err, sizeof(err)) != TF_OK ||
	    tf_context_open(&itest_ctx, &itest_cfg) != TF_OK) {
		printf("FAIL setup: cannot build the AWS client: %s\n", err);
		return -1;
	}
	return 0;
}

static inline void
itest_close(void)
{
	tf_context_free(&itest_ctx);
	tf_config_free(&itest_cfg);
}

/* A name no other test or run uses: prefix-pid-ms-counter. Caller frees
 * with tf_free(). */
static inline char *
itest_name(const char *prefix)
{
	static atomic_int counter;
	char buf[128];

	snprintf(buf, sizeof(buf), "%s-%d-%lld-%d", prefix, (int)getpid(),
	    (long long)tf_now_ms(), atomic_fetch_add(&counter, 1));
	return tf_strdup(buf);
}

/* Creates a table with taskfleet's schema under a fresh name (prefix as for
 * itest_name()); returns the name (caller frees with tf_free()), or NULL
 * after printing a FAIL setup line. */
static inline char *
itest_create_table(const char *prefix)
{
	struct tf_schema_opts o = { 0 };
	struct tf_schema_changes ch;
	char step[200], *table = itest_name(prefix);

	o.table = table;
	if (table == NULL || tf_schema_create_table(itest_ctx.aws, &o, &ch, step,
	    sizeof(step)) != TF_OK) {
		printf("FAIL setup: cannot create table %s: %s\n",
		    table ? table : prefix, tf_aws_last_error()->message);
		tf_free(table);
		return NULL;
	}
	return table;
}

#endif /* TF_ITEST_H */
