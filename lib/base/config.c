/* config.c - settings from the environment, and the AWS context. */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/creds.h"
#include "aws/ini.h"
#include "aws/sqs.h"
#include "base/alloc.h"
#include "task/task.h"
#include "time/timefmt.h"


const char *
tf_env_first(const char *const *names)
{
	const char *v;

	for (; *names != NULL; names++) {
		v = getenv(*names);
		if (v != NULL && *v != '\0')
			return v;
	}
	return NULL;
}

enum tf_err
tf_config_set(char **field, const char *value)
{
	char *copy = NULL;

	if (value != NULL && (copy = tf_strdup(value)) == NULL)
		return TF_ERR_NOMEM;
	tf_free(*field);
	*field = copy;
	return TF_OK;
}

/* Sets *field from the first set variable of names, else from fallback. */
static enum tf_err
set_from_env(char **field, const char *const *names, const char *fallback)
{
	const char *v = tf_env_first(names);

	return tf_config_set(field, v != NULL ? v : fallback);
}

/* Reads the duration variable `name` into *out (unchanged when unset),
 * refusing values outside [lo, hi]. */
static enum tf_err
duration_env(const char *name, int64_t lo, int64_t hi, int64_t *out,
    char *errbuf, size_t errlen)
{
	const char *v = getenv(name);
	char why[128], lo_text[TF_TIMEFMT_DUR_SIZE], hi_text[TF_TIMEFMT_DUR_SIZE];
	int64_t ms;

	if (v == NULL || *v == '\0')
		return TF_OK;
	if (tf_timefmt_parse_duration(v, &ms, why, sizeof(why)) != TF_OK) {
		snprintf(errbuf, errlen, "%s: %s", name, why);
		return TF_ERR_INVALID;
	}
	if (ms < lo || ms > hi) {
		snprintf(errbuf, errlen, "%s: must be from %s to %s, got \"%s\"", name,
		    tf_timefmt_format_duration(lo, lo_text, sizeof(lo_text)),
		    tf_timefmt_format_duration(hi, hi_text, sizeof(hi_text)), v);
		return TF_ERR_INVALID;
	}
	*out = ms;
	return TF_OK;
}

/* Reads whole number variable `name` into *out when it is set and not empty;
 * TF_ERR_INVALID with a message naming it when it is not a number from min
 * to max. */
static enum tf_err
int_env(const char *name, long min, long max, int *out, char *errbuf,
    size_t errlen)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return TF_OK;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || !isdigit((unsigned char)v[0]) || *end != '\0' ||
	    n < min || n > max) {
		snprintf(errbuf, errlen, "%s: expected a number from %ld to %ld, "
		    "got \"%s\"", name, min, max, v);
		return TF_ERR_INVALID;
	}
	*out = (int)n;
	return TF_OK;
}

enum tf_err
tf_config_load(struct tf_config *cfg, char *errbuf, size_t errlen)
{
	static const char *const region_vars[] = { "AWS_REGION", "AWS_DEFAULT_REGION", NULL };
	static const char *const sqs_vars[] = { "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL", NULL };
	static const char *const ddb_vars[] = { "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL", NULL };
	static const char *const sm_vars[] = { "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL", NULL };
	static const char *const ssm_vars[] = { "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL", NULL };
	/* The services of the AWS target runners (docs/targets.md). */
	static const char *const sns_vars[] = { "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL", NULL };
	static const char *const lambda_vars[] = { "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL", NULL };
	static const char *const events_vars[] = { "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL", NULL };
	static const char *const sfn_vars[] = { "AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL", NULL };
	static const char *const table_vars[] = { "TASKFLEET_TABLE", NULL };
	static const char *const url_vars[] = { "TASKFLEET_QUEUE_URL", NULL };
	static const char *const queue_vars[] = { "TASKFLEET_QUEUE", NULL };
	static const char *const runner_vars[] = { "TASKFLEET_RUNNERS", NULL };
	static const char *const allow_vars[] = { "TASKFLEET_HTTP_ALLOW", NULL };
	char profile_region[64];
	const char *v;
	enum tf_err rc;

	memset(cfg, 0, sizeof(*cfg));
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	v = tf_env_first(region_vars);
	if (v == NULL && tf_aws_profile_region(profile_region,
	    sizeof(profile_region)) == TF_OK && profile_region[0] != '\0')
		v = profile_region;
	if ((rc = tf_config_set(&cfg->region, v ? v : TF_DEFAULT_REGION)) != TF_OK ||
	    (rc = set_from_env(&cfg->endpoint[TF_AWS_SQS], sqs_vars, NULL)) != TF_OK ||
	    (rc = set_from_env(&cfg->endpoint[TF_AWS_DYNAMODB], ddb_vars, NULL)) != TF_OK ||
	    (rc = set_from_env(&cfg->endpoint[TF_AWS_SECRETSMANAGER], sm_vars, NULL)) != TF_OK ||
	    (rc = set_from_env(&cfg->endpoint[TF_AWS_SSM], ssm_vars, NULL)) != TF_OK ||
	    (rc = set_from_env(&cfg->endpoint[TF_AWS_SNS], sns_vars, NULL)) != TF_OK ||
	    (rc = set_from_env(&cfg->endpoint[TF_AWS_LAMBDA], lambda_vars, NULL)) != TF_OK ||
	    (rc = set_from_env(&cfg->endpoint[TF_AWS_EVENTS], events_vars, NULL)) != TF_OK ||
	    (rc = set_from_env(&cfg->endpoint[TF_AWS_SFN], sfn_vars, NULL)) != TF_OK ||
	    (rc = set_from_env(&cfg->table, table_vars, TF_DEFAULT_TABLE)) != TF_OK ||
	    (rc = set_from_env(&cfg->queue_url, url_vars, NULL)) != TF_OK ||
	    (rc = set_from_env(&cfg->queue_name, queue_vars, TF_DEFAULT_QUEUE)) != TF_OK ||
	    (rc = set_from_env(&cfg->runners, runner_vars, NULL)) != TF_OK ||
	    (rc = set_from_env(&cfg->http_allow, allow_vars, NULL)) != TF_OK)
		return rc;

	cfg->horizon_ms = 15 * 60 * 1000;
	cfg->sweep_interval_ms = 5000;
	cfg->sweep_grace_ms = 60000;
	cfg->lease_grace_ms = 5000;
	cfg->sweep_lease_ms = 2 * 60 * 1000;
	cfg->retry_base_ms = 1000;
	cfg->retry_cap_ms = 15 * 60 * 1000;
	if ((rc = duration_env("TASKFLEET_HORIZON", 1000, 15 * 60 * 1000,
	    &cfg->horizon_ms, errbuf, errlen)) != TF_OK ||
	    (rc = duration_env("TASKFLEET_SWEEP_INTERVAL", 100, 3600 * 1000,
	    &cfg->sweep_interval_ms, errbuf, errlen)) != TF_OK ||
	    (rc = duration_env("TASKFLEET_SWEEP_GRACE", 1000, 24 * 3600 * 1000,
	    &cfg->sweep_grace_ms, errbuf, errlen)) != TF_OK ||
	    (rc = duration_env("TASKFLEET_LEASE_GRACE", 0, 3600 * 1000,
	    &cfg->lease_grace_ms, errbuf, errlen)) != TF_OK ||
	    (rc = duration_env("TASKFLEET_SWEEP_LEASE", 1000, 3600 * 1000,
	    &cfg->sweep_lease_ms, errbuf, errlen)) != TF_OK ||
	    (rc = duration_env("TASKFLEET_RETRY_BASE", 1, 24 * 3600 * 1000,
	    &cfg->retry_base_ms, errbuf, errlen)) != TF_OK ||
	    (rc = duration_env("TASKFLEET_RETRY_CAP", 1, 7LL * 24 * 3600 * 1000,
	    &cfg->retry_cap_ms, errbuf, errlen)) != TF_OK ||
	    (rc = duration_env("TASKFLEET_RETENTION", 0, 3650LL * 24 * 3600 * 1000,
	    &cfg->retention_ms, errbuf, errlen)) != TF_OK)
		return rc;
	if (cfg->retry_cap_ms < cfg->retry_base_ms) {
		snprintf(errbuf, errlen, "TASKFLEET_RETRY_CAP: must not be below "
		    "TASKFLEET_RETRY_BASE");
		return TF_ERR_INVALID;
	}
	cfg->concurrency = 16;
	cfg->history_kept = TF_TASK_HISTORY_DEFAULT;
	cfg->default_max_attempts = TF_DEFAULT_MAX_ATTEMPTS;
	if ((rc = int_env("TASKFLEET_CONCURRENCY", 1, TF_CONCURRENCY_MAX,
	    &cfg->concurrency, errbuf, errlen)) != TF_OK ||
	    (rc = int_env("TASKFLEET_HISTORY", 0, TF_TASK_HISTORY_MAX,
	    &cfg->history_kept, errbuf, errlen)) != TF_OK ||
	    (rc = int_env("TASKFLEET_DEFAULT_MAX_ATTEMPTS", 1, 1000,
	    &cfg->default_max_attempts, errbuf, errlen)) != TF_OK)
		return rc;
	return TF_OK;
}

void
tf_config_free(struct tf_config *cfg)
{
	int i;

	tf_free(cfg->region);
	for (i = 0; i < TF_AWS__SERVICES; i++)
		tf_free(cfg->endpoint[i]);
	tf_free(cfg->table);
	tf_free(cfg->queue_url);
	tf_free(cfg->queue_name);
	tf_free(cfg->runners);
	tf_free(cfg->http_allow);
	memset(cfg, 0, sizeof(*cfg));
}

enum tf_err
tf_context_open(struct tf_context *ctx, const struct tf_config *cfg)
{
	struct tf_aws_config ac = { 0 };
	enum tf_err rc;
	int i;

	memset(ctx, 0, sizeof(*ctx));
	rc = tf_creds_provider_new(&ctx->creds);
	if (rc != TF_OK)
		return rc;
	ac.region = cfg->region;
	for (i = 0; i < TF_AWS__SERVICES; i++)
		ac.endpoint[i] = cfg->endpoint[i];
	ac.creds = ctx->creds;
	return tf_aws_new(&ac, &ctx->aws);
}

enum tf_err
tf_context_new_client(const struct tf_context *ctx, const struct tf_config *cfg,
    long timeout_ms, int max_attempts, struct tf_aws **out)
{
	struct tf_aws_config ac = { 0 };
	int i;

	ac.region = cfg->region;
	for (i = 0; i < TF_AWS__SERVICES; i++)
		ac.endpoint[i] = cfg->endpoint[i];
	ac.creds = ctx->creds;
	ac.timeout_ms = timeout_ms;
	ac.connect_timeout_ms = timeout_ms < 3000 ? timeout_ms : 3000;
	ac.max_attempts = max_attempts;
	return tf_aws_new(&ac, out);
}

enum tf_err
tf_context_resolve_queue(struct tf_context *ctx, const struct tf_config *cfg)
{
	tf_free(ctx->queue_url);
	ctx->queue_url = NULL;
	if (cfg->queue_url != NULL)
		return tf_config_set(&ctx->queue_url, cfg->queue_url);
	return tf_sqs_get_queue_url(ctx->aws, cfg->queue_name, &ctx->queue_url);
}

void
tf_context_free(struct tf_context *ctx)
{
	tf_aws_free(ctx->aws);
	tf_creds_provider_free(ctx->creds);
	tf_free(ctx->queue_url);
	memset(ctx, 0, sizeof(*ctx));
}
