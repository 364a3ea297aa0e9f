/*
 * sns - publishes to an SNS topic (Publish) when the task is due (docs/targets.md). The params, the call and
 * its outcomes are the AWS targets' own (lib/target/target_run.h), run by
 * the host's code (runners/common/aws_target.h); this file names the
 * runner and checks its params.
 */
#include <stddef.h>

#include <taskfleet/runner.h>

#include "../common/aws_target.h"
#include "base/version.h"

static int
sns_init(const struct tf_host_api *host, const char *config_json,
    void **state)
{
	return aws_target_init("sns", host, config_json, state);
}

static int
sns_validate(const char *params_json, size_t params_len, char *error,
    size_t error_size)
{
	return aws_target_validate(TF_TARGET_SNS, params_json, params_len, error,
	    error_size);
}

static const struct tf_runner sns_runner = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.flags = 0,
	.name = "sns",
	.version = TF_VERSION,
	.init = sns_init,
	.run = aws_target_run,
	.fini = aws_target_fini,
	.validate = sns_validate,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &sns_runner;
}
