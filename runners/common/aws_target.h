/*
 * aws_target.h - what the runners of the AWS targets (sqs, sns, lambda,
 * eventbridge, stepfunctions) share: their run is the host's (runner ABI
 * 1.3, the host table's target_init/target_run/target_fini), so each .so
 * holds only its name and the params check that `taskfleet submit` calls
 * without a host (validate()). Header-only (static functions), like
 * params.h: each runner gets its own copy at build time.
 */
#ifndef TF_RUNNERS_COMMON_AWS_TARGET_H
#define TF_RUNNERS_COMMON_AWS_TARGET_H

#include <stddef.h>
#include <stdio.h>

#include <taskfleet/runner.h>

#include "base/err.h"
#include "target/target.h"

/* The host table init() got, for fini() (which gets none); one host per
 * process. Borrowed: the host's, valid until fini() returns. */
static const struct tf_host_api *aws_target_host;

/* init() of the runner named target: the host's AWS target of that name.
 * A host older than runner ABI 1.3 has none: the runner refuses to start
 * and says why. */
static int
aws_target_init(const char *target, const struct tf_host_api *host,
    const char *config_json, void **state)
{
	if (!TF_RUNNER_HAS(host, struct tf_host_api, target_fini) ||
	    host->target_init == NULL || host->target_run == NULL ||
	    host->target_fini == NULL) {
		host->log(NULL, TF_RUNNER_LOG_ERROR, "%s runner: this taskfleet's "
		    "runner ABI is older than 1.3 (its host table has no AWS "
		    "targets)", target);
		return -1;
	}
	aws_target_host = host;
	return host->target_init(host, target, config_json, state);
}

static void
aws_target_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	aws_target_host->target_run(state, task, result);
}

static void
aws_target_fini(void *state)
{
	if (aws_target_host != NULL)
		aws_target_host->target_fini(state);
}

/* validate(): tf_target_parse() of the params, the check a run makes
 * first. Returns 0, or -1 with the reason in error. */
static int
aws_target_validate(enum tf_target_kind kind, const char *params, size_t len,
    char *error, size_t error_size)
{
	struct tf_target t;
	enum tf_err rc;

	rc = tf_target_parse(kind, params, len, &t, error, error_size);
	tf_target_free(&t);
	if (rc == TF_ERR_NOMEM)
		snprintf(error, error_size, "out of memory checking the params");
	return rc == TF_OK ? 0 : -1;
}

#endif /* TF_RUNNERS_COMMON_AWS_TARGET_H */
