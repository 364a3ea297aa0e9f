/*
 * lambda - invokes a Lambda function (Invoke) when the task is due (docs/targets.md). The params, the call and
 * its outcomes are the AWS targets' own (lib/target/target_run.h); this
 * file names the runner.
 */
#include <stddef.h>

#include <taskfleet/runner.h>

#include "base/version.h"
#include "target/target_run.h"

static int
lambda_init(const struct tf_host_api *host, const char *config_json,
    void **state)
{
	return tf_target_runner_init(TF_TARGET_LAMBDA, host, config_json, state);
}

static int
lambda_validate(const char *params_json, size_t params_len, char *error,
    size_t error_size)
{
	return tf_target_runner_validate(TF_TARGET_LAMBDA, params_json, params_len, error,
	    error_size);
}

static const struct tf_runner lambda_runner = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.flags = 0,
	.name = "lambda",
	.version = TF_VERSION,
	.init = lambda_init,
	.run = tf_target_runner_run,
	.fini = tf_target_runner_fini,
	.validate = lambda_validate,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &lambda_runner;
}
