/*
 * config.h - taskfleet's settings (docs/configuration.md).
 *
 * Flags override environment variables, which override built-in defaults:
 * tf_config_load() reads the environment; the programs then overwrite fields
 * from their flags with tf_config_set().
 */
#ifndef TF_CONFIG_H
#define TF_CONFIG_H

#include <stddef.h>

#include "aws/aws.h"
#include "base/err.h"

#define TF_DEFAULT_TABLE "taskfleet-tasks"
#define TF_DEFAULT_QUEUE "taskfleet-tasks"
#define TF_DEFAULT_REGION "us-east-1"

/* The most runs in flight one consumer takes (--concurrency): a run waiting
 * on AWS or on a webhook costs a struct and a transfer, not a thread. */
#define TF_CONCURRENCY_MAX 65536

/* The value of the first of names (NULL-terminated) that is set and not
 * empty, or NULL. Borrowed from the environment. */
const char *tf_env_first(const char *const *names);

/* Every string is owned by the struct and freed by tf_config_free(). */
struct tf_config {
	char *region;           /* AWS_REGION, AWS_DEFAULT_REGION, the profile's
	                           region, then us-east-1 */
	char *endpoint[TF_AWS__SERVICES];  /* AWS_ENDPOINT_URL_SQS / _DYNAMODB /
	                           _SECRETS_MANAGER / _SSM / _SNS / _LAMBDA /
	                           _EVENTBRIDGE / _SFN, then
	                           AWS_ENDPOINT_URL; NULL: public endpoint */
	char *table;            /* TASKFLEET_TABLE */
	char *queue_url;        /* TASKFLEET_QUEUE_URL; NULL: resolve queue_name */
	char *queue_name;       /* TASKFLEET_QUEUE */
	char *runners;          /* TASKFLEET_RUNNERS; NULL: the default places */
	int concurrency;        /* TASKFLEET_CONCURRENCY */
	int history_kept;       /* TASKFLEET_HISTORY: runs kept in a task's
	                           `history` (0 to 50, default 5; 0: none) */
	int default_max_attempts; /* TASKFLEET_DEFAULT_MAX_ATTEMPTS: a new
	                           task's max_attempts when it sets none (1 to
	                           1000, default TF_DEFAULT_MAX_ATTEMPTS) */
	char *http_allow;       /* TASKFLEET_HTTP_ALLOW; NULL: none */
	/* Scheduling settings, durations in ms (tests shrink them): */
	int64_t horizon_ms;     /* TASKFLEET_HORIZON: tasks due within it get an
	                           SQS message; later ones wait for the sweeper.
	                           Default and maximum 15m (SQS's longest delay) */
	int64_t sweep_interval_ms; /* TASKFLEET_SWEEP_INTERVAL: how often each
	                           consumer sweeps; default 5s */
	int64_t sweep_grace_ms; /* TASKFLEET_SWEEP_GRACE: how long past its due
	                           time a task may wait for its message before
	                           the sweeper takes it as lost; default 60s */
	int64_t lease_grace_ms; /* TASKFLEET_LEASE_GRACE: how long past its end a
	                           lease is still respected before the sweeper
	                           takes the run as dead; covers clock differences
	                           between consumers; default 5s */
	int64_t sweep_lease_ms; /* TASKFLEET_SWEEP_LEASE: how long a consumer's
	                           lease on a group of due shards lasts without
	                           renewal (a stopped consumer's shards are swept
	                           again within about 1.5 times it); default 2m */
	int64_t retry_base_ms;  /* TASKFLEET_RETRY_BASE: first retry delay; 1s */
	int64_t retry_cap_ms;   /* TASKFLEET_RETRY_CAP: longest retry delay; 15m */
	int64_t retention_ms;   /* TASKFLEET_RETENTION: how long a COMPLETED or
	                           FAILED task is kept (its `ttl`); 0: for ever */
};

/* Fills cfg from the environment and defaults. On a bad value (say a
 * concurrency that is not a number) returns TF_ERR_INVALID with a one-line
 * message naming the variable in errbuf. Free with tf_config_free() either way. */
enum tf_err tf_config_load(struct tf_config *cfg, char *errbuf, size_t errlen);

/* Replaces the string at *field with a copy of value (NULL clears it). */
enum tf_err tf_config_set(char **field, const char *value);

void tf_config_free(struct tf_config *cfg);

/* Everything a program needs to talk to AWS, built from a config. */
struct tf_context {
	struct tf_creds_provider *creds;  /* owned */
	struct tf_aws *aws;               /* owned */
	char *queue_url;                  /* owned; NULL until resolved */
};

/* Builds the credential chain and the AWS client from cfg (borrowed).
 * Free with tf_context_free() either way. */
enum tf_err tf_context_open(struct tf_context *ctx, const struct tf_config *cfg);

/* Fills ctx->queue_url: cfg->queue_url when set, otherwise GetQueueUrl of
 * cfg->queue_name. */
enum tf_err tf_context_resolve_queue(struct tf_context *ctx,
    const struct tf_config *cfg);

/* A second AWS client on ctx's credentials (borrowed: free it before ctx),
 * with its own per-attempt timeout and attempt count: for calls that must
 * give up quickly, such as lease extensions. Caller frees *out with
 * tf_aws_free(). */
enum tf_err tf_context_new_client(const struct tf_context *ctx,
    const struct tf_config *cfg, long timeout_ms, int max_attempts,
    struct tf_aws **out);

void tf_context_free(struct tf_context *ctx);

#endif /* TF_CONFIG_H */
