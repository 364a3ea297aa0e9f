/*
 * test_creds_process.c - credential_process: splitting the command line as
 * the SDKs do (shlex), running it without a shell, reading its output.
 * The commands run are /bin/sh and printf from this machine; nothing is
 * sent anywhere.
 */
#include "harness.h"

#include <time.h>

#include "aws/creds_process.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

#define GOOD_JSON "{\"Version\": 1, \"AccessKeyId\": \"ASIAPROC\", " \
	"\"SecretAccessKey\": \"proc-secret\", \"SessionToken\": \"proc-token\", " \
	"\"Expiration\": \"2030-01-01T00:00:00Z\"}"

/* Splits command and joins the words with '|' into out. */
static enum tf_err
split_join(const char *command, char *out, size_t outlen, int *argc)
{
	char **argv = NULL;
	enum tf_err rc;
	int i;

	out[0] = '\0';
	rc = tf_creds_process_split(command, &argv, argc);
	if (rc != TF_OK)
		return rc;
	for (i = 0; i < *argc; i++)
		snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? "|" : "", argv[i]);
	if (argv[*argc] != NULL)
		rc = TF_ERR_INVALID;
	tf_creds_process_argv_free(argv);
	return rc;
}

static void
test_split(void)
{
	char out[256];
	int argc;

	CHECK(split_join("aws-vault export --format=json-creds  prod", out, sizeof(out),
	    &argc) == TF_OK);
	CHECK_STR_EQ(out, "aws-vault|export|--format=json-creds|prod");
	CHECK_INT_EQ(argc, 4);
	/* Quotes as shlex.split (POSIX mode) reads them. */
	CHECK(split_join("'/opt/my tools/get creds' \"a \\\"b\\\" \\$c \\d\" e\\ f ''",
	    out, sizeof(out), &argc) == TF_OK);
	CHECK_STR_EQ(out, "/opt/my tools/get creds|a \"b\" $c \\d|e f|");
	CHECK_INT_EQ(argc, 4);
	CHECK(split_join("a'b'\"c\"d", out, sizeof(out), &argc) == TF_OK);
	CHECK_STR_EQ(out, "abcd");
	/* No shell: pipes and variables are plain words. */
	CHECK(split_join("get | tee $HOME", out, sizeof(out), &argc) == TF_OK);
	CHECK_STR_EQ(out, "get|||tee|$HOME");
	CHECK(split_join("'unclosed", out, sizeof(out), &argc) == TF_ERR_INVALID);
	CHECK(split_join("\"unclosed", out, sizeof(out), &argc) == TF_ERR_INVALID);
	CHECK(split_join("trailing\\", out, sizeof(out), &argc) == TF_ERR_INVALID);
	CHECK(split_join("   ", out, sizeof(out), &argc) == TF_ERR_INVALID);
	CHECK(split_join("", out, sizeof(out), &argc) == TF_ERR_INVALID);
}

static void
test_parse(void)
{
	struct tf_creds c;
	char why[256];
	const char *s;

	memset(&c, 0, sizeof(c));
	CHECK(tf_creds_process_parse(GOOD_JSON, strlen(GOOD_JSON), &c, why,
	    sizeof(why)) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIAPROC");
	CHECK_STR_EQ(c.session_token, "proc-token");
	CHECK_STR_EQ(c.source, "process");
	CHECK(c.expires_at_ms == 1893456000000LL);
	/* No Expiration, no token: long-term keys that never expire. */
	s = "{\"Version\":1,\"AccessKeyId\":\"AKIA\",\"SecretAccessKey\":\"k\"}";
	CHECK(tf_creds_process_parse(s, strlen(s), &c, why, sizeof(why)) == TF_OK);
	CHECK_INT_EQ(c.expires_at_ms, 0);
	CHECK_STR_EQ(c.session_token, "");
	s = "{\"Version\":2,\"AccessKeyId\":\"AKIA\",\"SecretAccessKey\":\"k\"}";
	CHECK(tf_creds_process_parse(s, strlen(s), &c, why, sizeof(why)) == TF_ERR_CREDENTIALS);
	CHECK(strstr(why, "Version") != NULL);
	s = "{\"Version\":1,\"AccessKeyId\":\"AKIA\"}";
	CHECK(tf_creds_process_parse(s, strlen(s), &c, why, sizeof(why)) == TF_ERR_CREDENTIALS);
	s = "{\"Version\":1,\"AccessKeyId\":\"AKIA\",\"SecretAccessKey\":\"k\","
	    "\"Expiration\":\"soon\"}";
	CHECK(tf_creds_process_parse(s, strlen(s), &c, why, sizeof(why)) == TF_ERR_CREDENTIALS);
	CHECK(strstr(why, "soon") != NULL);
	s = "Enter MFA code:";
	CHECK(tf_creds_process_parse(s, strlen(s), &c, why, sizeof(why)) == TF_ERR_CREDENTIALS);
}

static void
test_run_ok(void)
{
	struct tf_creds c;

	memset(&c, 0, sizeof(c));
	/* printf is found in PATH; the JSON is one quoted argument. */
	CHECK(tf_creds_process_run("printf '%s' '" GOOD_JSON "'", "p", 0, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIAPROC");
	CHECK_STR_EQ(c.secret_access_key, "proc-secret");
}

static void
test_run_failures(void)
{
	struct tf_creds c;
	struct timespec t0, t1;
	long ms;

	memset(&c, 0, sizeof(c));
	CHECK(tf_creds_process_run("/bin/sh -c 'echo nope >&2; exit 4'", "p", 0, &c) ==
	    TF_ERR_CREDENTIALS);
	CHECK(tf_creds_process_run("/nonexistent/credential-helper", "p", 0, &c) ==
	    TF_ERR_CREDENTIALS);
	CHECK(tf_creds_process_run("/bin/sh -c 'kill -9 $$'", "p", 0, &c) ==
	    TF_ERR_CREDENTIALS);
	CHECK(tf_creds_process_run("'unclosed", "p", 0, &c) == TF_ERR_CREDENTIALS);
	/* Output over the limit. */
	CHECK(tf_creds_process_run("/bin/sh -c 'head -c 200000 /dev/zero'", "p", 0, &c) ==
	    TF_ERR_CREDENTIALS);
	/* A command that hangs is killed at the deadline, not waited for. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(tf_creds_process_run("/bin/sh -c 'exec sleep 30'", "p", 300, &c) ==
	    TF_ERR_CREDENTIALS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK_MSG(ms >= 250 && ms < 10000, "took %ld ms", ms);
	/* One that closes its output and keeps running: the same deadline. */
	CHECK(tf_creds_process_run("/bin/sh -c 'exec >&- 2>&-; sleep 30'", "p", 300, &c) ==
	    TF_ERR_CREDENTIALS);
	CHECK(c.access_key_id[0] == '\0');
}

int
main(void)
{
	tf_alloc_init();
	tf_log_init();
	TF_RUN(test_split);
	TF_RUN(test_parse);
	TF_RUN(test_run_ok);
	TF_RUN(test_run_failures);
	return tf_test_summary();
}
