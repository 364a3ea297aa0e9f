/* test_ini.c - the AWS shared config/credentials file parser. */
#include "harness.h"

#include <errno.h>
#include <unistd.h>

#include "aws/ini.h"
#include "base/alloc.h"
#include "base/err.h"

/* Parses a C string; *out is the caller's. */
static enum tf_err
parse(const char *text, struct tf_ini **out, struct tf_ini_error *err)
{
	return tf_ini_parse(text, strlen(text), out, err);
}

static void
test_ini_basic(void)
{
	struct tf_ini *ini = NULL;
	const struct tf_ini_section *s;

	CHECK(parse("[default]\naws_access_key_id = AKID\n"
	    "aws_secret_access_key=SECRET\n\n[other]\nregion = eu-west-1\n",
	    &ini, NULL) == TF_OK);
	s = tf_ini_section(ini, "default");
	CHECK(s != NULL);
	CHECK_STR_EQ(tf_ini_get(s, "aws_access_key_id"), "AKID");
	CHECK_STR_EQ(tf_ini_get(s, "aws_secret_access_key"), "SECRET");
	CHECK(tf_ini_get(s, "region") == NULL);
	CHECK_STR_EQ(tf_ini_get(tf_ini_section(ini, "other"), "region"), "eu-west-1");
	CHECK(tf_ini_section(ini, "missing") == NULL);
	CHECK(tf_ini_get(NULL, "x") == NULL);
	tf_ini_free(ini);
}

static void
test_ini_comments_whitespace_case(void)
{
	struct tf_ini *ini = NULL;
	const struct tf_ini_section *s;

	CHECK(parse("\xEF\xBB\xBF# leading comment\r\n"
	    "; another\r\n"
	    "  [  spaced name  ]   # trailing comment\r\n"
	    "\tAWS_Access_Key_ID\t=\t  AKID   \r\n"
	    "   # indented comment\r\n"
	    "value_hash = a#b\r\n"
	    "value_comment = abc # not part\r\n"
	    "value_semi = abc\t; not part\r\n"
	    "value_empty =\r\n"
	    "value_only_comment = # nothing\r\n"
	    "value_eq = a=b=c\r\n"
	    "quoted = \"q\"\r\n",
	    &ini, NULL) == TF_OK);
	s = tf_ini_section(ini, "spaced name");
	CHECK(s != NULL);
	CHECK_STR_EQ(tf_ini_get(s, "aws_access_key_id"), "AKID");
	CHECK_STR_EQ(tf_ini_get(s, "AWS_ACCESS_KEY_ID"), "AKID");
	CHECK_STR_EQ(tf_ini_get(s, "value_hash"), "a#b");
	CHECK_STR_EQ(tf_ini_get(s, "value_comment"), "abc");
	CHECK_STR_EQ(tf_ini_get(s, "value_semi"), "abc");
	CHECK_STR_EQ(tf_ini_get(s, "value_empty"), "");
	CHECK_STR_EQ(tf_ini_get(s, "value_only_comment"), "");
	CHECK_STR_EQ(tf_ini_get(s, "value_eq"), "a=b=c");
	CHECK_STR_EQ(tf_ini_get(s, "quoted"), "\"q\"");
	/* Section names keep their case. */
	CHECK(tf_ini_section(ini, "Spaced Name") == NULL);
	tf_ini_free(ini);
}

static void
test_ini_continuation_and_merge(void)
{
	struct tf_ini *ini = NULL;
	const struct tf_ini_section *s;

	CHECK(parse("[a]\n"
	    "s3 =\n"
	    "  max_concurrent_requests = 10\n"
	    "  addressing_style = path\n"
	    "region = us-west-2\n"
	    "[b]\n"
	    "x = 1\n"
	    "[a]\n"
	    "region = eu-central-1\n"
	    "key = v\n",
	    &ini, NULL) == TF_OK);
	s = tf_ini_section(ini, "a");
	CHECK_STR_EQ(tf_ini_get(s, "s3"),
	    "\nmax_concurrent_requests = 10\naddressing_style = path");
	CHECK(tf_ini_get(s, "max_concurrent_requests") == NULL);
	/* Duplicate section merged; the last value wins. */
	CHECK_STR_EQ(tf_ini_get(s, "region"), "eu-central-1");
	CHECK_STR_EQ(tf_ini_get(s, "key"), "v");
	CHECK_STR_EQ(tf_ini_get(tf_ini_section(ini, "b"), "x"), "1");
	tf_ini_free(ini);

	/* An indented property right after a header is a property. */
	CHECK(parse("[a]\n  k = v\n", &ini, NULL) == TF_OK);
	CHECK_STR_EQ(tf_ini_get(tf_ini_section(ini, "a"), "k"), "v");
	tf_ini_free(ini);
}

static void
test_ini_errors(void)
{
	static const struct {
		const char *text;
		int line;
	} bad[] = {
		{ "k = v\n", 1 },
		{ "[a]\nno equals sign\n", 2 },
		{ "[a]\n[unclosed\n", 2 },
		{ "# c\n[]\n", 2 },
		{ "[a]\n = v\n", 2 },
		{ "[a] junk\n", 1 },
		{ "[a]x\n", 1 },
	};
	struct tf_ini *ini = (struct tf_ini *)1;
	struct tf_ini_error err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_MSG(parse(bad[i].text, &ini, &err) == TF_ERR_PARSE,
		    "case %zu parsed", i);
		CHECK(ini == NULL);
		CHECK_INT_EQ(err.line, bad[i].line);
		CHECK(err.what != NULL);
	}
	CHECK(tf_ini_parse("[a]\nk = v\0x\n", 11, &ini, &err) == TF_ERR_PARSE);
	CHECK_INT_EQ(err.line, 2);
	/* Empty input is an empty file. */
	CHECK(tf_ini_parse("", 0, &ini, NULL) == TF_OK);
	CHECK(tf_ini_section(ini, "default") == NULL);
	tf_ini_free(ini);
}

static void
test_ini_nomem(void)
{
	const char *text = "[a]\nk = v\n  more\n[b]\nx = 1\ny = 2\n[a]\nk = w\n";
	struct tf_ini *ini = NULL;
	enum tf_err rc;
	long n;

	/* Every allocation in turn fails; each run must fail cleanly or pass. */
	for (n = 0; n < 100; n++) {
		tf_alloc_fail_after(n);
		rc = parse(text, &ini, NULL);
		tf_alloc_fail_after(-1);
		if (rc == TF_OK)
			break;
		CHECK_INT_EQ(rc, TF_ERR_NOMEM);
		CHECK(ini == NULL);
	}
	CHECK(rc == TF_OK);
	CHECK_STR_EQ(tf_ini_get(tf_ini_section(ini, "a"), "k"), "w");
	tf_ini_free(ini);
}

/* A fresh temp directory for files; path is the caller's buffer. */
static int
make_dir(char *path, size_t len)
{
	snprintf(path, len, "/tmp/tf-test-ini.XXXXXX");
	return mkdtemp(path) != NULL ? 0 : -1;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void
test_ini_load(void)
{
	char dir[64], path[128];
	struct tf_ini *ini = NULL;
	struct tf_ini_error err;

	CHECK(make_dir(dir, sizeof(dir)) == 0);
	snprintf(path, sizeof(path), "%s/config", dir);
	CHECK(tf_ini_load(path, &ini, &err) == TF_ERR_NOT_FOUND);
	CHECK_INT_EQ(err.errnum, ENOENT);
	CHECK(tf_ini_load(dir, &ini, &err) == TF_ERR_IO);
	CHECK(write_file(path, "[default]\nregion = ap-south-1\n") == 0);
	CHECK(tf_ini_load(path, &ini, &err) == TF_OK);
	CHECK_STR_EQ(tf_ini_get(tf_ini_section(ini, "default"), "region"), "ap-south-1");
	tf_ini_free(ini);
	CHECK(write_file(path, "[default]\nregion\n") == 0);
	CHECK(tf_ini_load(path, &ini, &err) == TF_ERR_PARSE);
	CHECK_INT_EQ(err.line, 2);
	unlink(path);
	rmdir(dir);
}

static void
test_aws_profile_sections(void)
{
	struct tf_ini *cfg = NULL, *creds = NULL;

	CHECK(parse("[default]\nregion = a\n"
	    "[profile dev]\nregion = b\n"
	    "[profile\t  spaced ]\nregion = c\n"
	    "[prod]\nregion = not-a-profile\n"
	    "[profileX]\nregion = no\n"
	    "[sso-session s]\nsso_region = x\n", &cfg, NULL) == TF_OK);
	CHECK_STR_EQ(tf_ini_get(tf_aws_profile_section(cfg, TF_AWS_CONFIG_FILE,
	    "default"), "region"), "a");
	CHECK_STR_EQ(tf_ini_get(tf_aws_profile_section(cfg, TF_AWS_CONFIG_FILE,
	    "dev"), "region"), "b");
	CHECK_STR_EQ(tf_ini_get(tf_aws_profile_section(cfg, TF_AWS_CONFIG_FILE,
	    "spaced"), "region"), "c");
	/* In the config file, only "[profile NAME]" names a profile. */
	CHECK(tf_aws_profile_section(cfg, TF_AWS_CONFIG_FILE, "prod") == NULL);
	CHECK(tf_aws_profile_section(cfg, TF_AWS_CONFIG_FILE, "X") == NULL);
	tf_ini_free(cfg);

	/* "[profile default]" wins over "[default]". */
	CHECK(parse("[default]\nregion = plain\n[profile default]\nregion = prefixed\n",
	    &cfg, NULL) == TF_OK);
	CHECK_STR_EQ(tf_ini_get(tf_aws_profile_section(cfg, TF_AWS_CONFIG_FILE,
	    "default"), "region"), "prefixed");
	tf_ini_free(cfg);

	CHECK(parse("[default]\nk = 1\n[dev]\nk = 2\n[profile dev]\nk = 3\n",
	    &creds, NULL) == TF_OK);
	CHECK_STR_EQ(tf_ini_get(tf_aws_profile_section(creds, TF_AWS_CREDENTIALS_FILE,
	    "default"), "k"), "1");
	CHECK_STR_EQ(tf_ini_get(tf_aws_profile_section(creds, TF_AWS_CREDENTIALS_FILE,
	    "dev"), "k"), "2");
	CHECK(tf_aws_profile_section(NULL, TF_AWS_CREDENTIALS_FILE, "dev") == NULL);
	tf_ini_free(creds);
}

/* Saves, sets (value NULL: unsets) and later restores one variable. */
struct saved_env {
	const char *name;
	char *old;
};

static void
env_set(struct saved_env *s, const char *name, const char *value)
{
	const char *old = getenv(name);

	s->name = name;
	s->old = old != NULL ? strdup(old) : NULL;
	if (value != NULL)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

static void
env_restore(struct saved_env *s)
{
	if (s->old != NULL)
		setenv(s->name, s->old, 1);
	else
		unsetenv(s->name);
	free(s->old);
	s->old = NULL;
}

static void
test_aws_file_path(void)
{
	struct saved_env e[3];
	char *p = NULL;

	env_set(&e[0], "HOME", "/home/tester");
	env_set(&e[1], "AWS_CONFIG_FILE", NULL);
	env_set(&e[2], "AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/creds");
	CHECK(tf_aws_file_path(TF_AWS_CONFIG_FILE, &p) == TF_OK);
	CHECK_STR_EQ(p, "/home/tester/.aws/config");
	tf_free(p);
	CHECK(tf_aws_file_path(TF_AWS_CREDENTIALS_FILE, &p) == TF_OK);
	CHECK_STR_EQ(p, "/home/tester/elsewhere/creds");
	tf_free(p);
	setenv("AWS_CONFIG_FILE", "/etc/aws/cfg", 1);
	CHECK(tf_aws_file_path(TF_AWS_CONFIG_FILE, &p) == TF_OK);
	CHECK_STR_EQ(p, "/etc/aws/cfg");
	tf_free(p);
	/* "~user" is not expanded. */
	setenv("AWS_CONFIG_FILE", "~other/cfg", 1);
	CHECK(tf_aws_file_path(TF_AWS_CONFIG_FILE, &p) == TF_OK);
	CHECK_STR_EQ(p, "~other/cfg");
	tf_free(p);
	env_restore(&e[2]);
	env_restore(&e[1]);
	env_restore(&e[0]);
}

static void
test_aws_profile_region(void)
{
	struct saved_env e[2];
	char dir[64], path[128], region[32], tiny[4];
	bool expl;

	CHECK(make_dir(dir, sizeof(dir)) == 0);
	snprintf(path, sizeof(path), "%s/config", dir);
	env_set(&e[0], "AWS_CONFIG_FILE", path);
	env_set(&e[1], "AWS_PROFILE", NULL);
	CHECK_STR_EQ(tf_aws_profile_name(&expl), "default");
	CHECK(!expl);
	CHECK(tf_aws_profile_region(region, sizeof(region)) == TF_ERR_NOT_FOUND);
	CHECK_STR_EQ(region, "");
	CHECK(write_file(path, "[default]\nregion = eu-north-1 ; comment\n"
	    "[profile dev]\nregion=us-west-1\n[profile noregion]\nx = y\n") == 0);
	CHECK(tf_aws_profile_region(region, sizeof(region)) == TF_OK);
	CHECK_STR_EQ(region, "eu-north-1");
	CHECK(tf_aws_profile_region(tiny, sizeof(tiny)) == TF_ERR_TOO_LARGE);
	CHECK_STR_EQ(tiny, "");
	setenv("AWS_PROFILE", "dev", 1);
	CHECK_STR_EQ(tf_aws_profile_name(&expl), "dev");
	CHECK(expl);
	CHECK(tf_aws_profile_region(region, sizeof(region)) == TF_OK);
	CHECK_STR_EQ(region, "us-west-1");
	setenv("AWS_PROFILE", "noregion", 1);
	CHECK(tf_aws_profile_region(region, sizeof(region)) == TF_ERR_NOT_FOUND);
	setenv("AWS_PROFILE", "absent", 1);
	CHECK(tf_aws_profile_region(region, sizeof(region)) == TF_ERR_NOT_FOUND);
	CHECK(write_file(path, "region = x\n") == 0);
	CHECK(tf_aws_profile_region(region, sizeof(region)) == TF_ERR_PARSE);
	env_restore(&e[1]);
	env_restore(&e[0]);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_ini_basic);
	TF_RUN(test_ini_comments_whitespace_case);
	TF_RUN(test_ini_continuation_and_merge);
	TF_RUN(test_ini_errors);
	TF_RUN(test_ini_nomem);
	TF_RUN(test_ini_load);
	TF_RUN(test_aws_profile_sections);
	TF_RUN(test_aws_file_path);
	TF_RUN(test_aws_profile_region);
	return tf_test_summary();
}
