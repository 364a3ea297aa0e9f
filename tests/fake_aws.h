/*
 * fake_aws.h - a lib/aws client aimed at a fake_http.h server, for the unit
 * tests of modules that call SQS and DynamoDB (dlq, task_manage).
 */
#ifndef TF_FAKE_AWS_H
#define TF_FAKE_AWS_H

#include <stdio.h>

#include "aws/aws.h"
#include "aws/creds.h"
#include "fake_http.h"

/* A client whose SQS and DynamoDB endpoints are server f, signing with
 * creds (borrowed: kept alive by the caller while the client lives), one
 * attempt per call; caller frees with tf_aws_free(). NULL on failure. */
static inline struct tf_aws *
fake_aws_client(const struct fake_http *f, struct tf_creds_provider *creds)
{
	char url[64];
	struct tf_aws_config cfg = { 0 };
	struct tf_aws *aws = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f->port);
	cfg.endpoint[TF_AWS_SQS] = url;
	cfg.endpoint[TF_AWS_DYNAMODB] = url;
	cfg.creds = creds;
	cfg.max_attempts = 1;
	if (tf_aws_new(&cfg, &aws) != TF_OK)
		return NULL;
	return aws;
}

#endif /* TF_FAKE_AWS_H */
