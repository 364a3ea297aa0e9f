/*
 * test_creds_sts.c - the STS client's offline parts: the endpoint it picks
 * and how it reads STS's XML answers; and a role's provider
 * (tf_creds_provider_new_role()) against a scripted loopback server, the
 * clock moved: assumed once, kept, assumed again 5 minutes before expiry.
 * The calls themselves, and their signatures checked with botocore, are
 * tested end to end by tests/scripts/cli_creds.py and aws_targets.py
 * against tests/tools/sts_fake.py.
 */
#include "harness.h"
#include "fake_http.h"

#include "aws/creds_sso.h"
#include "aws/creds_sts.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

#define OK_XML(creds) \
	"<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">" \
	"<AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn>" \
	"<AccessKeyId>NOT-THIS-ONE</AccessKeyId></AssumedRoleUser>" \
	"<Credentials>" creds "</Credentials></AssumeRoleResult></AssumeRoleResponse>"

static enum tf_err
parse(long status, const char *xml, struct tf_creds *c, char *why, size_t whylen)
{
	memset(c, 0, sizeof(*c));
	why[0] = '\0';
	return tf_sts_parse_response(status, xml, strlen(xml), "assume-role", c,
	    why, whylen);
}

static void
test_sts_parse_ok(void)
{
	struct tf_creds c;
	char why[256];
	int64_t exp;

	CHECK(parse(200, OK_XML("<AccessKeyId>ASIAEXAMPLE</AccessKeyId>"
	    "<SecretAccessKey>s3cr&amp;t/&#43;&#x2F;&lt;&gt;&quot;&apos;</SecretAccessKey>"
	    "<SessionToken>FQoGtoken</SessionToken>"
	    "<Expiration>2026-11-23T20:15:30.123Z</Expiration>"), &c, why, sizeof(why)) == TF_OK);
	/* The key inside <Credentials>, not the element of the same name before it. */
	CHECK_STR_EQ(c.access_key_id, "ASIAEXAMPLE");
	CHECK_STR_EQ(c.secret_access_key, "s3cr&t/+/<>\"'");
	CHECK_STR_EQ(c.session_token, "FQoGtoken");
	CHECK(tf_creds_parse_expiration("2026-11-23T20:15:30.123Z", &exp) == TF_OK);
	CHECK_INT_EQ(c.expires_at_ms, exp);
	CHECK_STR_EQ(c.source, "assume-role");
}

static void
test_sts_parse_errors(void)
{
	struct tf_creds c;
	char why[256];

	CHECK(parse(403, "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied"
	    "</Code><Message>User: x is not authorized to perform: sts:AssumeRole &amp; "
	    "more</Message></Error></ErrorResponse>", &c, why, sizeof(why)) ==
	    TF_ERR_CREDENTIALS);
	CHECK_STR_EQ(why, "HTTP 403, AccessDenied: User: x is not authorized to "
	    "perform: sts:AssumeRole & more");
	CHECK(parse(500, "not xml", &c, why, sizeof(why)) == TF_ERR_CREDENTIALS);
	CHECK_STR_EQ(why, "HTTP 500, no error code");
	/* 200 without credentials, or with parts missing or malformed. */
	CHECK(parse(200, "<AssumeRoleResponse/>", &c, why, sizeof(why)) == TF_ERR_CREDENTIALS);
	CHECK(strstr(why, "no Credentials") != NULL);
	CHECK(parse(200, OK_XML("<AccessKeyId>A</AccessKeyId><SessionToken>t</SessionToken>"
	    "<Expiration>2026-11-23T20:15:30Z</Expiration>"), &c, why, sizeof(why)) ==
	    TF_ERR_CREDENTIALS);
	CHECK(parse(200, OK_XML("<AccessKeyId>A</AccessKeyId><SecretAccessKey>s"
	    "</SecretAccessKey><Expiration>2026-11-23T20:15:30Z</Expiration>"),
	    &c, why, sizeof(why)) == TF_ERR_CREDENTIALS);
	CHECK(strstr(why, "SessionToken") != NULL);
	CHECK(parse(200, OK_XML("<AccessKeyId>A</AccessKeyId><SecretAccessKey>s"
	    "</SecretAccessKey><SessionToken>t</SessionToken><Expiration>tomorrow"
	    "</Expiration>"), &c, why, sizeof(why)) == TF_ERR_CREDENTIALS);
	CHECK(strstr(why, "Expiration") != NULL);
	/* Markup, unknown entities and unclosed elements are refused. */
	CHECK(parse(200, OK_XML("<AccessKeyId>A<b/></AccessKeyId><SecretAccessKey>s"
	    "</SecretAccessKey><SessionToken>t</SessionToken><Expiration>"
	    "2026-11-23T20:15:30Z</Expiration>"), &c, why, sizeof(why)) == TF_ERR_CREDENTIALS);
	CHECK(parse(200, OK_XML("<AccessKeyId>A&nbsp;</AccessKeyId><SecretAccessKey>s"
	    "</SecretAccessKey><SessionToken>t</SessionToken><Expiration>"
	    "2026-11-23T20:15:30Z</Expiration>"), &c, why, sizeof(why)) == TF_ERR_CREDENTIALS);
	CHECK(parse(200, "<Credentials><AccessKeyId>A</Credentials>", &c, why,
	    sizeof(why)) == TF_ERR_CREDENTIALS);
	CHECK(c.access_key_id[0] == '\0');
}

static void
test_sts_parse_too_long(void)
{
	struct tf_creds c;
	char why[256];
	char *xml = malloc(TF_CREDS_TOKEN_MAX + 512);
	size_t n;

	CHECK(xml != NULL);
	n = (size_t)sprintf(xml, "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s"
	    "</SecretAccessKey><Expiration>2026-11-23T20:15:30Z</Expiration><SessionToken>");
	memset(xml + n, 'x', TF_CREDS_TOKEN_MAX);
	strcpy(xml + n + TF_CREDS_TOKEN_MAX, "</SessionToken></Credentials>");
	memset(&c, 0, sizeof(c));
	CHECK(tf_sts_parse_response(200, xml, strlen(xml), "x", &c, why, sizeof(why)) ==
	    TF_ERR_CREDENTIALS);
	free(xml);
}

static void
test_sts_endpoint(void)
{
	struct tf_sts_endpoint ep;

	unsetenv("AWS_ENDPOINT_URL_STS");
	unsetenv("AWS_ENDPOINT_URL");
	CHECK(tf_sts_endpoint_resolve("eu-central-1", &ep) == TF_OK);
	CHECK_STR_EQ(ep.url, "https://sts.eu-central-1.amazonaws.com");
	CHECK_STR_EQ(ep.region, "eu-central-1");
	CHECK(tf_sts_endpoint_resolve(NULL, &ep) == TF_OK);
	CHECK_STR_EQ(ep.url, "https://sts.amazonaws.com");
	CHECK_STR_EQ(ep.region, "us-east-1");
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
	CHECK(tf_sts_endpoint_resolve("eu-west-1", &ep) == TF_OK);
	CHECK_STR_EQ(ep.url, "http://127.0.0.1:9");
	CHECK_STR_EQ(ep.region, "eu-west-1");
	setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:8/sts", 1);
	CHECK(tf_sts_endpoint_resolve("eu-west-1", &ep) == TF_OK);
	CHECK_STR_EQ(ep.url, "http://127.0.0.1:8/sts");
	unsetenv("AWS_ENDPOINT_URL_STS");
	unsetenv("AWS_ENDPOINT_URL");
}

static void
test_sso_cache_name(void)
{
	char name[46];

	/* sha1("abc"), FIPS 180 test vector. */
	CHECK(tf_sso_cache_name("abc", name) == TF_OK);
	CHECK_STR_EQ(name, "a9993e364706816aba3e25717850c26c9cd0d89d.json");
}

#define ROLE_XML(akid) OK_XML("<AccessKeyId>" akid "</AccessKeyId>" \
	"<SecretAccessKey>role-secret</SecretAccessKey>" \
	"<SessionToken>FQoGrole</SessionToken>" \
	"<Expiration>2030-01-01T00:00:00Z</Expiration>")

static void
test_role_provider_kept_and_refreshed(void)
{
	static const struct fake_reply replies[] = {
		{ 200, ROLE_XML("ASIAROLEONE"), 0, 0 },
		{ 200, ROLE_XML("ASIAROLETWO"), 0, 0 },
	};
	struct fake_http server;
	struct tf_creds_provider *source = NULL, *role = NULL;
	struct tf_creds c;
	char url[64];
	int64_t exp = 0;

	CHECK(tf_creds_parse_expiration("2030-01-01T00:00:00Z", &exp) == TF_OK);
	CHECK(fake_http_start(&server) == 0);
	fake_http_script(&server, replies, 2);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", server.port);
	setenv("AWS_ENDPOINT_URL_STS", url, 1);
	CHECK(tf_creds_provider_new_static("AKIDSOURCE", "source-secret", NULL,
	    &source) == TF_OK);
	CHECK(tf_creds_provider_new_role(source, NULL, NULL, "us-east-1",
	    &role) == TF_ERR_INVALID && role == NULL);
	CHECK(tf_creds_provider_new_role(source,
	    "arn:aws:iam::210987654321:role/cross", "ext-1", "us-east-1",
	    &role) == TF_OK);
	unsetenv("AWS_ENDPOINT_URL_STS");
	/* Nothing is assumed before the first use. */
	CHECK_INT_EQ(server.requests, 0);

	/* An hour before expiry: assumed, signed with the source's key. */
	CHECK(tf_creds_get(role, exp - 3600 * 1000LL, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIAROLEONE");
	CHECK_STR_EQ(c.session_token, "FQoGrole");
	CHECK(c.expires_at_ms == exp);
	CHECK_INT_EQ(server.requests, 1);
	CHECK(strstr(server.last_request, "Action=AssumeRole&") != NULL);
	CHECK(strstr(server.last_request, "RoleArn=arn%3Aaws%3Aiam%3A%3A"
	    "210987654321%3Arole%2Fcross") != NULL);
	CHECK(strstr(server.last_request, "ExternalId=ext-1") != NULL);
	CHECK(strstr(server.last_request, "Credential=AKIDSOURCE/") != NULL);

	/* Kept while more than 5 minutes are left. */
	CHECK(tf_creds_get(role, exp - 301 * 1000LL, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIAROLEONE");
	CHECK_INT_EQ(server.requests, 1);

	/* Within 5 minutes of expiry: assumed again. */
	CHECK(tf_creds_get(role, exp - 299 * 1000LL, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIAROLETWO");
	CHECK_INT_EQ(server.requests, 2);

	tf_creds_provider_free(role);
	tf_creds_provider_free(source);
	fake_http_stop(&server);
}

int
main(void)
{
	tf_alloc_init();
	tf_log_init();
	TF_RUN(test_sts_parse_ok);
	TF_RUN(test_sts_parse_errors);
	TF_RUN(test_sts_parse_too_long);
	TF_RUN(test_sts_endpoint);
	TF_RUN(test_sso_cache_name);
	TF_RUN(test_role_provider_kept_and_refreshed);
	return tf_test_summary();
}
