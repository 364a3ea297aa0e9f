/*
 * target_run.h - the AWS targets' runs, which the host table offers (runner
 * ABI 1.3: target_init, target_run, target_fini) to runners/sqs,
 * runners/sns, runners/lambda, runners/eventbridge and
 * runners/stepfunctions, each for its own kind (docs/targets.md).
 *
 * A run parses the task's params (target.h), fills the payload's
 * placeholders, makes one AWS call (with lib/aws's retries: throttling, 5xx
 * and dropped connections are retried within the call under the retry
 * budget) and judges the answer:
 *
 *   accepted                                success; the result records the
 *                                           message id, event id, execution
 *                                           ARN or the function's answer
 *   throttled, 5xx, timeout, no credentials retry (TF_RUN_RETRY)
 *   any other error (validation, not found, permanent failure
 *   access denied), bad params              (TF_RUN_FAILED)
 *
 * Configuration (TASKFLEET_RUNNER_CONFIG_<NAME>, a JSON object):
 *   max_attempts   attempts of one AWS call, 1 to 10; default 3
 *   timeout_ms     per attempt, 100 to 60000; default 10000
 * Region and endpoints come from the consumer's settings (AWS_REGION,
 * AWS_ENDPOINT_URL_SQS / _SNS / _LAMBDA / _EVENTBRIDGE / _SFN); a task's
 * own region, and its own role (params.role_arn: assumed through STS with
 * the consumer's credentials, AWS_ENDPOINT_URL_STS), get their own client,
 * kept for the runner's lifetime with the role's credentials.
 */
#ifndef TF_TARGET_RUN_H
#define TF_TARGET_RUN_H

#include <stddef.h>

#include <taskfleet/runner.h>

#include "target/target.h"

/* init(): *state is the runner's; free with tf_target_runner_fini(). */
int tf_target_runner_init(enum tf_target_kind kind,
    const struct tf_host_api *host, const char *config_json, void **state);

/* run(): one run of task (see above). */
void tf_target_runner_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result);

void tf_target_runner_fini(void *state);

/* The host table's target_init() (runner ABI 1.3): tf_target_runner_init()
 * for the kind named target; -1 (logged) for a name that is none. */
int tf_target_host_init(const struct tf_host_api *host, const char *target,
    const char *config_json, void **state);

#endif /* TF_TARGET_RUN_H */
