/*
 * secrets.h - reading one secret string from AWS Secrets Manager
 * (GetSecretValue) or from SSM Parameter Store (GetParameter, decrypted):
 * how `taskfleet serve` gets its API keys without them in its environment.
 * Both are JSON-protocol calls through aws.h, signed with our SigV4.
 */
#ifndef TF_AWS_SECRETS_H
#define TF_AWS_SECRETS_H

#include "aws/aws.h"

/* The SecretString of secret_id (a name or an ARN; borrowed), current
 * version. *out: caller frees with tf_free() (wipe it first: it is a
 * secret). TF_ERR_NOT_FOUND for no such secret; TF_ERR_PARSE when the
 * answer has no SecretString (a binary secret); other AWS errors as
 * tf_aws_call() returns them. */
enum tf_err tf_secrets_get_string(struct tf_aws *aws, const char *secret_id,
    char **out);

/* The value of the SSM parameter name (borrowed), decrypted when it is a
 * SecureString. *out and errors as tf_secrets_get_string(). */
enum tf_err tf_ssm_get_parameter(struct tf_aws *aws, const char *name,
    char **out);

#endif /* TF_AWS_SECRETS_H */
