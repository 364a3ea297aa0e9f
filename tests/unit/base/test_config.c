/* test_config.c - settings from the environment, defaults and overrides. */
#include "harness.h"

#include <unistd.h>

#include "base/alloc.h"
#include "base/config.h"

static const char *const vars[] = {
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS",
	"AWS_ENDPOINT_URL_DYNAMODB", "TASKFLEET_TABLE", "TASKFLEET_QUEUE_URL",
	"TASKFLEET_QUEUE", "TASKFLEET_RUNNERS", "TASKFLEET_CONCURRENCY",
	"TASKFLEET_HTTP_ALLOW", "TASKFLEET_HISTORY", "TASKFLEET_RETENTION", "AWS_PROFILE", "AWS_CONFIG_FILE",
	NULL
};

static void
clear_env(void)
{
	const char *const *v;

	for (v = vars; *v != NULL; v++)
		unsetenv(*v);
	/* No profile file of the machine's user may leak into the defaults. */
	setenv("AWS_CONFIG_FILE", "/nonexistent/taskfleet-test-config", 1);
}

static void
test_defaults(void)
{
	struct tf_config c;
	char err[256];

	clear_env();
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(c.region, "us-east-1");
	CHECK(c.endpoint[TF_AWS_SQS] == NULL && c.endpoint[TF_AWS_DYNAMODB] == NULL);
	CHECK_STR_EQ(c.table, "taskfleet-tasks");
	CHECK_STR_EQ(c.queue_name, "taskfleet-tasks");
	CHECK(c.queue_url == NULL && c.runners == NULL && c.http_allow == NULL);
	CHECK_INT_EQ(c.concurrency, 16);
	tf_config_free(&c);
}

static void
test_environment_and_precedence(void)
{
	struct tf_config c;
	char err[256];

	clear_env();
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	setenv("AWS_REGION", "eu-central-1", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1111", 1);
	setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:2222", 1);
	setenv("TASKFLEET_TABLE", "t1", 1);
	setenv("TASKFLEET_QUEUE_URL", "http://127.0.0.1:2222/1/q", 1);
	setenv("TASKFLEET_CONCURRENCY", "64", 1);
	setenv("TASKFLEET_HTTP_ALLOW", "127.0.0.1/32", 1);
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(c.region, "eu-central-1");
	/* The service variable wins over the general one, per service. */
	CHECK_STR_EQ(c.endpoint[TF_AWS_SQS], "http://127.0.0.1:2222");
	CHECK_STR_EQ(c.endpoint[TF_AWS_DYNAMODB], "http://127.0.0.1:1111");
	CHECK_STR_EQ(c.table, "t1");
	CHECK_STR_EQ(c.queue_url, "http://127.0.0.1:2222/1/q");
	CHECK_INT_EQ(c.concurrency, 64);
	CHECK_STR_EQ(c.http_allow, "127.0.0.1/32");
	/* A flag replaces the value. */
	CHECK_INT_EQ(tf_config_set(&c.table, "from-flag"), TF_OK);
	CHECK_STR_EQ(c.table, "from-flag");
	CHECK_INT_EQ(tf_config_set(&c.queue_url, NULL), TF_OK);
	CHECK(c.queue_url == NULL);
	tf_config_free(&c);
	clear_env();
}

static void
test_region_from_profile(void)
{
	char path[] = "/tmp/tf-config-XXXXXX";
	struct tf_config c;
	char err[256];
	int fd;

	clear_env();
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, "[default]\nregion = ap-south-1\n[profile x]\nregion = sa-east-1\n", 61) == 61);
	close(fd);
	setenv("AWS_CONFIG_FILE", path, 1);
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(c.region, "ap-south-1");
	tf_config_free(&c);
	setenv("AWS_PROFILE", "x", 1);
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(c.region, "sa-east-1");
	tf_config_free(&c);
	/* The environment still wins over the profile. */
	setenv("AWS_REGION", "us-west-2", 1);
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(c.region, "us-west-2");
	tf_config_free(&c);
	unlink(path);
	clear_env();
}

static void
test_bad_concurrency(void)
{
	static const char *const bad[] = { "0", "-1", "abc", "12x", "100000", " 4" };
	struct tf_config c;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		clear_env();
		setenv("TASKFLEET_CONCURRENCY", bad[i], 1);
		CHECK_MSG(tf_config_load(&c, err, sizeof(err)) == TF_ERR_INVALID,
		    "accepted \"%s\"", bad[i]);
		CHECK(strstr(err, "TASKFLEET_CONCURRENCY") != NULL);
		tf_config_free(&c);
	}
	clear_env();
}

static void
test_history_and_retention_settings(void)
{
	static const char *const bad[] = { "-1", "51", "five", "3 " };
	struct tf_config c;
	char err[256];
	size_t i;

	clear_env();
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(c.history_kept, 5);
	tf_config_free(&c);
	setenv("TASKFLEET_HISTORY", "0", 1);
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(c.history_kept, 0);
	tf_config_free(&c);
	setenv("TASKFLEET_HISTORY", "50", 1);
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(c.history_kept, 50);
	tf_config_free(&c);
	clear_env();
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(c.retention_ms, 0);
	tf_config_free(&c);
	setenv("TASKFLEET_RETENTION", "30d", 1);
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(c.retention_ms, 30LL * 24 * 3600 * 1000);
	tf_config_free(&c);
	setenv("TASKFLEET_RETENTION", "forever", 1);
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(strstr(err, "TASKFLEET_RETENTION") != NULL);
	tf_config_free(&c);
	setenv("TASKFLEET_RETENTION", "3651d", 1);
	CHECK_INT_EQ(tf_config_load(&c, err, sizeof(err)), TF_ERR_INVALID);
	tf_config_free(&c);
	unsetenv("TASKFLEET_RETENTION");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("TASKFLEET_HISTORY", bad[i], 1);
		CHECK_MSG(tf_config_load(&c, err, sizeof(err)) == TF_ERR_INVALID,
		    "accepted \"%s\"", bad[i]);
		CHECK(strstr(err, "TASKFLEET_HISTORY") != NULL);
		tf_config_free(&c);
	}
	clear_env();
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_defaults);
	TF_RUN(test_environment_and_precedence);
	TF_RUN(test_region_from_profile);
	TF_RUN(test_bad_concurrency);
	TF_RUN(test_history_and_retention_settings);
	return tf_test_summary();
}
