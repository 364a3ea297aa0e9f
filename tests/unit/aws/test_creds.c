/*
 * test_creds.c - the AWS credential chain.
 *
 * The container and instance-metadata sources are tested against a fake
 * endpoint in this program: a thread serving HTTP on 127.0.0.1 (an
 * ephemeral port). Nothing here talks to any other address: main() turns
 * instance metadata off, points the relative container URI at a closed
 * loopback port, and clears every AWS_* variable and HOME before the tests;
 * each test sets what it needs and the RUN macro puts the environment back.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws/creds.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

/* ---- The fake endpoint ---------------------------------------------- */

#define FAKE_TOKEN "fake-imds-token-1"
#define FAKE_ROLE  "fake-role"

struct fake {
	pthread_mutex_t mu;
	int lfd;
	uint16_t port;
	pthread_t thr;
	atomic_int stop;
	bool running;
	/* Behaviour; set under mu. */
	int status;            /* non-zero: answer every request with this status */
	bool drop;             /* close each connection without answering */
	int delay_ms;          /* wait before answering */
	char auth[128];        /* Authorization a container request needs; "" any */
	char expiration[64];   /* Expiration to send; "" leaves it out */
	int token_status;      /* non-zero: the IMDS token PUT gets this status */
	bool wrong_token;      /* the token PUT hands out a token the GETs refuse */
	/* What happened; read under mu. */
	int requests;          /* connections accepted */
	int token_puts;
	int role_lists;
	int creds_served;      /* credential documents sent (container or IMDS) */
	int unauthorized;      /* 401s sent */
	char last_path[256];
};

static struct fake fake;
static char expiration_default[] = "2030-01-01T00:00:00Z";
static int64_t T;          /* expiration_default in epoch ms */

/* Writes all of s to fd; errors are the test's problem, not the fake's (a
 * client that gave up must not raise SIGPIPE). */
static void
write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void
respond(int fd, int status, const char *body)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d Fake\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    status, strlen(body));
	write_all(fd, head, (size_t)n);
	write_all(fd, body, strlen(body));
}

/* The value of header name in the request head req, copied into out. */
static bool
header(const char *req, const char *name, char *out, size_t outlen)
{
	const char *line = strstr(req, "\r\n");
	size_t nlen = strlen(name);

	while (line != NULL && line[2] != '\r') {
		const char *start = line + 2, *end = strstr(start, "\r\n");

		if (end == NULL)
			break;
		if ((size_t)(end - start) > nlen && strncasecmp(start, name, nlen) == 0 &&
		    start[nlen] == ':') {
			const char *v = start + nlen + 1;
			size_t vlen;

			while (*v == ' ')
				v++;
			vlen = (size_t)(end - v);
			if (vlen >= outlen)
				vlen = outlen - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return true;
		}
		line = end;
	}
	return false;
}

/* Answers one connection. */
static void
serve(int fd)
{
	char req[8192], method[16], path[256], value[256], body[1024];
	size_t len = 0;
	int status = 200, delay;
	bool drop;

	while (len < sizeof(req) - 1) {
		ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	req[len] = '\0';
	if (sscanf(req, "%15s %255s", method, path) != 2)
		return;

	pthread_mutex_lock(&fake.mu);
	fake.requests++;
	snprintf(fake.last_path, sizeof(fake.last_path), "%s", path);
	drop = fake.drop;
	delay = fake.delay_ms;
	body[0] = '\0';
	if (drop) {
		;
	} else if (fake.status != 0) {
		status = fake.status;
		snprintf(body, sizeof(body), "{\"message\":\"fake failure\"}");
	} else if (strcmp(path, "/latest/api/token") == 0) {
		if (strcmp(method, "PUT") != 0 ||
		    !header(req, "X-aws-ec2-metadata-token-ttl-seconds", value, sizeof(value))) {
			status = 400;
		} else if (fake.token_status != 0) {
			status = fake.token_status;
		} else {
			fake.token_puts++;
			snprintf(body, sizeof(body), "%s", fake.wrong_token ? "stale" : FAKE_TOKEN);
		}
	} else if (strncmp(path, "/latest/", 8) == 0) {
		/* IMDSv2: every GET needs the session token. */
		if (!header(req, "X-aws-ec2-metadata-token", value, sizeof(value)) ||
		    strcmp(value, FAKE_TOKEN) != 0 || strcmp(method, "GET") != 0) {
			status = 401;
			fake.unauthorized++;
		} else if (strcmp(path, "/latest/meta-data/iam/security-credentials/") == 0) {
			fake.role_lists++;
			snprintf(body, sizeof(body), FAKE_ROLE "\n");
		} else if (strcmp(path, "/latest/meta-data/iam/security-credentials/"
		    FAKE_ROLE) == 0) {
			fake.creds_served++;
			snprintf(body, sizeof(body), "{\"Code\":\"Success\",\"Type\":"
			    "\"AWS-HMAC\",\"AccessKeyId\":\"ASIAIMDS%d\",\"SecretAccessKey\":"
			    "\"imds-secret-%d\",\"Token\":\"imds-token-%d\",\"Expiration\":"
			    "\"%s\"}", fake.creds_served, fake.creds_served,
			    fake.creds_served, fake.expiration);
		} else {
			status = 404;
		}
	} else {
		/* The container endpoint: any other path. */
		bool has = header(req, "Authorization", value, sizeof(value));

		if (fake.auth[0] != '\0' && (!has || strcmp(value, fake.auth) != 0)) {
			status = 401;
			fake.unauthorized++;
			snprintf(body, sizeof(body), "{\"message\":\"bad token\"}");
		} else {
			fake.creds_served++;
			if (fake.expiration[0] != '\0')
				snprintf(body, sizeof(body), "{\"AccessKeyId\":\"ASIACONT%d\","
				    "\"SecretAccessKey\":\"cont-secret-%d\",\"Token\":"
				    "\"cont-token-%d\",\"Expiration\":\"%s\"}",
				    fake.creds_served, fake.creds_served,
				    fake.creds_served, fake.expiration);
			else
				snprintf(body, sizeof(body), "{\"AccessKeyId\":\"ASIACONT%d\","
				    "\"SecretAccessKey\":\"cont-secret-%d\",\"Token\":"
				    "\"cont-token-%d\"}", fake.creds_served,
				    fake.creds_served, fake.creds_served);
		}
	}
	pthread_mutex_unlock(&fake.mu);
	/* Sleeps in steps, and stops when a reset clears the delay. */
	for (; delay > 0; delay -= 10) {
		usleep(10000);
		pthread_mutex_lock(&fake.mu);
		if (fake.delay_ms == 0)
			delay = 0;
		pthread_mutex_unlock(&fake.mu);
	}
	if (!drop)
		respond(fd, status, body);
}

static void *
fake_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&fake.stop)) {
		struct pollfd pfd = { .fd = fake.lfd, .events = POLLIN };
		int fd;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		fd = accept(fake.lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(fd);
		close(fd);
	}
	return NULL;
}

/* Listens on 127.0.0.1:port (0: any free port) and serves in a thread. */
static int
fake_start(uint16_t port)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	fake.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fake.lfd < 0)
		return -1;
	setsockopt(fake.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (bind(fake.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(fake.lfd, 64) != 0 ||
	    getsockname(fake.lfd, (struct sockaddr *)&a, &alen) != 0) {
		close(fake.lfd);
		return -1;
	}
	fake.port = ntohs(a.sin_port);
	atomic_store(&fake.stop, 0);
	if (pthread_create(&fake.thr, NULL, fake_main, NULL) != 0) {
		close(fake.lfd);
		return -1;
	}
	fake.running = true;
	return 0;
}

/* Stops serving and closes the port: connections are refused until restarted. */
static void
fake_stop(void)
{
	if (!fake.running)
		return;
	atomic_store(&fake.stop, 1);
	pthread_join(fake.thr, NULL);
	close(fake.lfd);
	fake.running = false;
}

/* Back to normal behaviour with zeroed counts. */
static void
fake_reset(void)
{
	pthread_mutex_lock(&fake.mu);
	fake.status = 0;
	fake.drop = false;
	fake.delay_ms = 0;
	fake.auth[0] = '\0';
	snprintf(fake.expiration, sizeof(fake.expiration), "%s", expiration_default);
	fake.token_status = 0;
	fake.wrong_token = false;
	fake.requests = fake.token_puts = fake.role_lists = 0;
	fake.creds_served = fake.unauthorized = 0;
	fake.last_path[0] = '\0';
	pthread_mutex_unlock(&fake.mu);
}

/* Reads one counter under the lock. */
static int
fake_count(const int *counter)
{
	int v;

	pthread_mutex_lock(&fake.mu);
	v = *counter;
	pthread_mutex_unlock(&fake.mu);
	return v;
}

static void
fake_set_expiration(const char *exp)
{
	pthread_mutex_lock(&fake.mu);
	snprintf(fake.expiration, sizeof(fake.expiration), "%s", exp);
	pthread_mutex_unlock(&fake.mu);
}

static void
fake_set_status(int status)
{
	pthread_mutex_lock(&fake.mu);
	fake.status = status;
	pthread_mutex_unlock(&fake.mu);
}

/* The path of the last request, copied into out. */
static const char *
fake_last_path(char *out, size_t len)
{
	pthread_mutex_lock(&fake.mu);
	snprintf(out, len, "%s", fake.last_path);
	pthread_mutex_unlock(&fake.mu);
	return out;
}

/* "http://127.0.0.1:PORT" + path into out. */
static void
fake_url(char *out, size_t len, const char *path)
{
	snprintf(out, len, "http://127.0.0.1:%u%s", fake.port, path);
}

/* ---- Environment and files ------------------------------------------ */

static const char *const env_names[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_CONFIG_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_DISABLED",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSO",
	"AWS_REGION", "AWS_DEFAULT_REGION", "HOME",
};
#define N_ENV (sizeof(env_names) / sizeof(env_names[0]))
static char *env_saved[N_ENV];

static void
env_save(void)
{
	size_t i;

	for (i = 0; i < N_ENV; i++) {
		const char *v = getenv(env_names[i]);

		env_saved[i] = v != NULL ? strdup(v) : NULL;
	}
}

static void
env_restore(void)
{
	size_t i;

	for (i = 0; i < N_ENV; i++) {
		if (env_saved[i] != NULL)
			setenv(env_names[i], env_saved[i], 1);
		else
			unsetenv(env_names[i]);
		free(env_saved[i]);
		env_saved[i] = NULL;
	}
}

static uint16_t fake_port;

/* Each test runs with the baseline environment, restored afterwards, and a
 * running fake in its default behaviour. */
#define RUN(fn) do { \
		env_save(); \
		if (!fake.running && fake_start(fake_port) != 0) \
			printf("FAIL %s: cannot restart the fake\n", #fn); \
		fake_reset(); \
		TF_RUN(fn); \
		env_restore(); \
	} while (0)

static char tmpdir[64];

/* Writes text to tmpdir/name and puts the full path in path. */
static int
write_file(const char *name, const char *text, char *path, size_t pathlen)
{
	FILE *f;

	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Resolves once with a fresh provider made from the environment now. */
static enum tf_err
resolve(int64_t now_ms, struct tf_creds *out)
{
	struct tf_creds_provider *p = NULL;
	enum tf_err rc;

	memset(out, 0, sizeof(*out));
	rc = tf_creds_provider_new(&p);
	if (rc != TF_OK)
		return rc;
	rc = tf_creds_get(p, now_ms, out);
	tf_creds_provider_free(p);
	return rc;
}

/* Sends stderr to a file until capture_end(), which returns its contents
 * (caller frees with free()). */
static int saved_stderr = -1;
static char capture_path[128];

static void
capture_begin(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path), "%s/stderr.log", tmpdir);
	fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static char *
capture_end(void)
{
	FILE *f;
	char *text;
	long n;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	f = fopen(capture_path, "r");
	if (f == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)n + 1);
	if (text != NULL && fread(text, 1, (size_t)n, f) != (size_t)n)
		text[0] = '\0';
	fclose(f);
	/* Show it in the test log anyway. */
	if (text != NULL)
		fputs(text, stderr);
	return text;
}

/* ---- Expiration times and URL rules --------------------------------- */

static void
test_parse_expiration(void)
{
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2026-11-23T20:15:30Z", 1795464930000LL },
		{ "2026-11-23T20:15:30.5Z", 1795464930500LL },
		{ "2026-11-23T20:15:30.123456Z", 1795464930123LL },
		{ "2026-11-23T20:15:30+00:00", 1795464930000LL },
		{ "2026-11-23T20:15:30.250+00:00", 1795464930250LL },
		{ "2026-11-23T22:15:30+02:00", 1795464930000LL },
		{ "2026-11-23T15:15:30-0500", 1795464930000LL },
		{ "2026-11-23t20:15:30z", 1795464930000LL },
		{ "2024-02-29T00:00:00Z", 1709164800000LL },
	};
	static const char *const bad[] = {
		"", "2026-11-23", "2026-11-23T20:15:30", "2026-11-23T20:15Z",
		"2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-23T24:00:00Z",
		"2026-11-23T20:60:00Z", "2026-11-23T20:15:30.Z", "2026-11-23T20:15:30Zjunk",
		"2026-11-23T20:15:30+0", "2026-11-23T20:15:30+25:00", "26-11-23T20:15:30Z",
		"2026/11/23T20:15:30Z", "1969-12-31T23:59:59Z", "2026-11-23X20:15:30Z",
	};
	int64_t ms;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK_MSG(tf_creds_parse_expiration(good[i].s, &ms) == TF_OK,
		    "%s did not parse", good[i].s);
		CHECK_MSG(ms == good[i].ms, "%s: %lld != %lld", good[i].s,
		    (long long)ms, (long long)good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 42;
		CHECK_MSG(tf_creds_parse_expiration(bad[i], &ms) == TF_ERR_PARSE,
		    "\"%s\" parsed", bad[i]);
		CHECK(ms == 42);
	}
	CHECK(tf_creds_parse_expiration(NULL, &ms) == TF_ERR_PARSE);
}

/* Only classification: none of these URLs is ever requested. */
static void
test_container_url_rules(void)
{
	static const char *const allowed[] = {
		"http://127.0.0.1/creds", "http://127.0.0.1:8080/v2/creds",
		"http://127.9.8.7/", "http://localhost:1234/x", "http://LOCALHOST/x",
		"http://[::1]:8080/", "http://169.254.170.2/v2/credentials/abc",
		"http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1",
		"https://example.com/creds", "HTTPS://creds.example.com:8443/x",
	};
	static const char *const refused[] = {
		"http://example.com/creds", "http://10.0.0.1/", "http://192.168.1.1/",
		"http://169.254.169.254/latest/", "http://169.254.170.3/",
		"http://[::2]/", "http://[fd00:ec2::254]/",
		"http://169.254.170.2@evil.example/", "http://127.0.0.1.evil.example/",
		"http://localhost.evil.example/", "ftp://127.0.0.1/", "file:///etc/passwd",
		"gopher://127.0.0.1/", "", "not a url", "//127.0.0.1/x", "http:///x",
	};
	size_t i;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		CHECK_MSG(tf_creds_container_url_allowed(allowed[i]), "refused %s", allowed[i]);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		CHECK_MSG(!tf_creds_container_url_allowed(refused[i]), "allowed %s", refused[i]);
	CHECK(!tf_creds_container_url_allowed(NULL));
}

/* ---- Static and environment credentials ----------------------------- */

static void
test_static_provider(void)
{
	struct tf_creds_provider *p = NULL;
	struct tf_creds c;
	char big[TF_CREDS_KEY_MAX + 1];

	CHECK(tf_creds_provider_new_static("AKIDSTATIC", "s3cret", NULL, &p) == TF_OK);
	CHECK(tf_creds_get(p, 0, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDSTATIC");
	CHECK_STR_EQ(c.secret_access_key, "s3cret");
	CHECK_STR_EQ(c.session_token, "");
	CHECK_STR_EQ(c.source, "static");
	CHECK_INT_EQ(c.expires_at_ms, 0);
	CHECK(tf_creds_get(p, INT64_MAX / 2, &c) == TF_OK);
	tf_creds_provider_free(p);
	tf_creds_provider_free(NULL);

	CHECK(tf_creds_provider_new_static("A", "B", "TOK", &p) == TF_OK);
	CHECK(tf_creds_get(p, 0, &c) == TF_OK);
	CHECK_STR_EQ(c.session_token, "TOK");
	tf_creds_provider_free(p);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(tf_creds_provider_new_static("", "B", NULL, &p) == TF_ERR_INVALID);
	CHECK(p == NULL);
	CHECK(tf_creds_provider_new_static("A", NULL, NULL, &p) == TF_ERR_INVALID);
	CHECK(tf_creds_provider_new_static(big, "B", NULL, &p) == TF_ERR_INVALID);
	CHECK(p == NULL);
}

static void
test_env_creds(void)
{
	struct tf_creds c;
	char *log;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret-value", 1);
	capture_begin();
	CHECK(resolve(T, &c) == TF_OK);
	log = capture_end();
	CHECK_STR_EQ(c.access_key_id, "AKIDENV");
	CHECK_STR_EQ(c.secret_access_key, "env-secret-value");
	CHECK_STR_EQ(c.session_token, "");
	CHECK_STR_EQ(c.source, "environment");
	CHECK_INT_EQ(c.expires_at_ms, 0);
	/* The source is logged, the secret never. */
	CHECK(log != NULL && strstr(log, "environment") != NULL);
	CHECK(strstr(log, "env-secret-value") == NULL);
	free(log);

	setenv("AWS_SESSION_TOKEN", "env-session-token", 1);
	CHECK(resolve(T, &c) == TF_OK);
	CHECK_STR_EQ(c.session_token, "env-session-token");

	/* An empty variable counts as unset. */
	setenv("AWS_SESSION_TOKEN", "", 1);
	CHECK(resolve(T, &c) == TF_OK);
	CHECK_STR_EQ(c.session_token, "");
}

static void
test_env_incomplete_skipped(void)
{
	struct tf_creds c;
	char url[128];

	/* Only one of the pair: skipped, and nothing else configured. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SECRET_ACCESS_KEY", "only-secret", 1);
	setenv("AWS_SESSION_TOKEN", "tok", 1);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);

	/* Skipped means the chain goes on, here to the container endpoint. */
	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	CHECK(resolve(T - 3600000, &c) == TF_OK);
	CHECK_STR_EQ(c.source, "container");
	CHECK_STR_EQ(c.access_key_id, "ASIACONT1");
}

static void
test_env_wins(void)
{
	struct tf_creds c;
	char url[128], path[256];

	CHECK(write_file("credentials-envwins", "[default]\naws_access_key_id = AKIDFILE\n"
	    "aws_secret_access_key = file-secret\n", path, sizeof(path)) == 0);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
	/* Even an AWS_PROFILE that does not exist: the environment comes first. */
	setenv("AWS_PROFILE", "nosuchprofile", 1);
	CHECK(resolve(T, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDENV");
	CHECK_INT_EQ(fake_count(&fake.requests), 0);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_ACCESS_KEY_ID");
	CHECK(resolve(T, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDFILE");
	CHECK_STR_EQ(c.source, "profile");
	CHECK_INT_EQ(fake_count(&fake.requests), 0);
}

/* ---- Shared files --------------------------------------------------- */

static void
test_profile_default_and_named(void)
{
	struct tf_creds c;
	char cpath[256], kpath[256];

	CHECK(write_file("credentials", "# my keys\n"
	    "[default]\n"
	    "aws_access_key_id = AKIDDEFAULT\n"
	    "aws_secret_access_key = default-secret\n"
	    "\n"
	    "[dev]\n"
	    "  AWS_ACCESS_KEY_ID=AKIDDEV   ; trailing comment\n"
	    "aws_secret_access_key\t=\tdev-secret\n"
	    "aws_session_token = dev-token\n"
	    "[both]\n"
	    "aws_access_key_id = AKIDBOTH_CREDS\n"
	    "aws_secret_access_key = both-creds-secret\n"
	    "[keyless]\n"
	    "region = us-east-2\n",
	    cpath, sizeof(cpath)) == 0);
	CHECK(write_file("config", "[default]\nregion = eu-west-1\n"
	    "[profile cfgonly]\n"
	    "aws_access_key_id = AKIDCFG\n"
	    "aws_secret_access_key = cfg-secret # comment\n"
	    "[profile both]\n"
	    "aws_access_key_id = AKIDBOTH_CONFIG\n"
	    "aws_secret_access_key = both-config-secret\n"
	    "[profile keyless]\n"
	    "aws_access_key_id = AKIDKEYLESS_CONFIG\n"
	    "aws_secret_access_key = keyless-config-secret\n"
	    "[cfgbare]\n"
	    "aws_access_key_id = AKIDBARE\n"
	    "aws_secret_access_key = bare-secret\n",
	    kpath, sizeof(kpath)) == 0);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cpath, 1);
	setenv("AWS_CONFIG_FILE", kpath, 1);

	CHECK(resolve(T, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDDEFAULT");
	CHECK_STR_EQ(c.secret_access_key, "default-secret");
	CHECK_STR_EQ(c.session_token, "");
	CHECK_STR_EQ(c.source, "profile");
	CHECK_INT_EQ(c.expires_at_ms, 0);

	setenv("AWS_PROFILE", "dev", 1);
	CHECK(resolve(T, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDDEV");
	CHECK_STR_EQ(c.secret_access_key, "dev-secret");
	CHECK_STR_EQ(c.session_token, "dev-token");

	/* "[profile cfgonly]" in the config file. */
	setenv("AWS_PROFILE", "cfgonly", 1);
	CHECK(resolve(T, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDCFG");
	CHECK_STR_EQ(c.secret_access_key, "cfg-secret");

	/* The credentials file wins over the config file. */
	setenv("AWS_PROFILE", "both", 1);
	CHECK(resolve(T, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDBOTH_CREDS");
	CHECK_STR_EQ(c.secret_access_key, "both-creds-secret");

	/* A credentials-file section without keys leaves the config's. */
	setenv("AWS_PROFILE", "keyless", 1);
	CHECK(resolve(T, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDKEYLESS_CONFIG");

	/* "[cfgbare]" in the config file is not a profile. */
	setenv("AWS_PROFILE", "cfgbare", 1);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
}

static void
test_profile_missing_named_is_error(void)
{
	struct tf_creds c;
	char cpath[256], url[128];

	CHECK(write_file("credentials-missing", "[default]\naws_access_key_id = A\n"
	    "aws_secret_access_key = B\n", cpath, sizeof(cpath)) == 0);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cpath, 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/tf-test/config", 1);
	/* A source after it is configured, and must not be asked. */
	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_PROFILE", "nosuch", 1);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 0);
	/* Even with no files at all. */
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/tf-test/credentials", 1);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 0);
	/* An explicit "default" must exist too (as botocore has it). */
	setenv("AWS_PROFILE", "default", 1);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 0);
	/* Without AWS_PROFILE, a missing default profile is skipped. */
	unsetenv("AWS_PROFILE");
	CHECK(resolve(T - 3600000, &c) == TF_OK);
	CHECK_STR_EQ(c.source, "container");
}

static void
test_profile_errors(void)
{
	struct tf_creds c;
	char cpath[256], kpath[256], url[128];

	CHECK(write_file("credentials-bad", "[half]\naws_access_key_id = AKIDHALF\n"
	    "[role]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = half\n"
	    "[default]\ncredential_process = /bin/false\n"
	    "[regiononly]\nregion = us-east-1\n",
	    cpath, sizeof(cpath)) == 0);
	CHECK(write_file("config-bad", "[profile ssoprof]\nsso_session = s\n"
	    "aws_access_key_id = AKIDSSO\naws_secret_access_key = x\n",
	    kpath, sizeof(kpath)) == 0);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cpath, 1);
	setenv("AWS_CONFIG_FILE", kpath, 1);
	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);

	/* Half a key pair is an error, not a fall-through. */
	setenv("AWS_PROFILE", "half", 1);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
	/* A role whose source has half a key pair; an sso_session with no
	 * [sso-session] section: errors. */
	setenv("AWS_PROFILE", "role", 1);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
	setenv("AWS_PROFILE", "ssoprof", 1);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 0);
	/* A named profile without keys: the chain goes on. */
	setenv("AWS_PROFILE", "regiononly", 1);
	CHECK(resolve(T - 3600000, &c) == TF_OK);
	CHECK_STR_EQ(c.source, "container");
	/* The implicit default profile's credential_process fails: an error,
	 * as in the SDKs, not a fall-through to the container. */
	unsetenv("AWS_PROFILE");
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 1);

	/* A file that does not parse stops the chain. */
	CHECK(write_file("credentials-bad", "aws_access_key_id = outside\n",
	    cpath, sizeof(cpath)) == 0);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 1);
}

static void
test_profile_home_default_paths(void)
{
	struct tf_creds c;
	char path[256], home[128];

	snprintf(home, sizeof(home), "%s/home", tmpdir);
	CHECK(mkdir(home, 0700) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/home/.aws", tmpdir);
	CHECK(mkdir(path, 0700) == 0 || errno == EEXIST);
	CHECK(write_file("home/.aws/config", "[profile work]\n"
	    "aws_access_key_id = AKIDHOME\naws_secret_access_key = home-secret\n",
	    path, sizeof(path)) == 0);
	setenv("HOME", home, 1);
	setenv("AWS_PROFILE", "work", 1);
	CHECK(resolve(T, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDHOME");
	unlink(path);
}

static void
test_profile_cached_once(void)
{
	struct tf_creds_provider *p = NULL;
	struct tf_creds c;
	char cpath[256];

	CHECK(write_file("credentials-cache", "[default]\naws_access_key_id = AKIDONE\n"
	    "aws_secret_access_key = one\n", cpath, sizeof(cpath)) == 0);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cpath, 1);
	CHECK(tf_creds_provider_new(&p) == TF_OK);
	/* The environment is read when the provider is made. */
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	CHECK(tf_creds_get(p, T, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDONE");
	/* Static credentials are resolved once: a changed file is not reread. */
	CHECK(write_file("credentials-cache", "[default]\naws_access_key_id = AKIDTWO\n"
	    "aws_secret_access_key = two\n", cpath, sizeof(cpath)) == 0);
	CHECK(tf_creds_get(p, T + 365LL * 86400000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDONE");
	tf_creds_provider_free(p);
}

/* ---- Roles, web identity, SSO, credential_process -------------------- */

/* Resolves profile with AWS_PROFILE and returns what the log said. */
static enum tf_err
resolve_profile(const char *profile, struct tf_creds *c, char **log)
{
	enum tf_err rc;

	setenv("AWS_PROFILE", profile, 1);
	capture_begin();
	rc = resolve(T - 3600000, c);
	*log = capture_end();
	return rc;
}

static void
test_profile_role_config_errors(void)
{
	struct tf_creds c;
	char kpath[256], cpath[256];
	char *log = NULL;
	static const struct { const char *profile, *says; } cases[] = {
		{ "mfa", "cannot ask for an MFA code" },
		{ "loop-a", "makes a loop" },
		{ "self-no-keys", "makes a loop" },
		{ "both", "it has both" },
		{ "neither", "it has neither" },
		{ "missing-source", "does not exist" },
		{ "bad-duration", "from 900 to 43200" },
		{ "bad-source", "is not one of Environment" },
		{ "empty-source", "has no credentials" },
		{ "env-source", "credential_source Environment has no credentials" },
		{ "wi-no-role", "no role" },
		{ "sso-no-session", "no [sso-session corp] section" },
		{ "sso-incomplete", "incomplete for IAM Identity Center" },
		{ "sso-no-token", "run aws sso login --profile sso-no-token" },
	};
	size_t i;

	CHECK(write_file("config-roles",
	    "[profile mfa]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = keys\n"
	    "mfa_serial = arn:aws:iam::1:mfa/me\n"
	    "[profile loop-a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = loop-b\n"
	    "[profile loop-b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = loop-a\n"
	    "[profile self-no-keys]\nrole_arn = arn:aws:iam::1:role/s\n"
	    "source_profile = self-no-keys\n"
	    "[profile both]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = keys\n"
	    "credential_source = Environment\n"
	    "[profile neither]\nrole_arn = arn:aws:iam::1:role/r\n"
	    "[profile missing-source]\nrole_arn = arn:aws:iam::1:role/r\n"
	    "source_profile = nowhere\n"
	    "[profile bad-duration]\nrole_arn = arn:aws:iam::1:role/r\n"
	    "source_profile = keys\nduration_seconds = 60\n"
	    "[profile bad-source]\nrole_arn = arn:aws:iam::1:role/r\n"
	    "credential_source = Ec2Metadata\n"
	    "[profile empty-source]\nrole_arn = arn:aws:iam::1:role/r\n"
	    "source_profile = regiononly\n"
	    "[profile env-source]\nrole_arn = arn:aws:iam::1:role/r\n"
	    "credential_source = Environment\n"
	    "[profile regiononly]\nregion = us-east-1\n"
	    "[profile wi-no-role]\nweb_identity_token_file = /nonexistent\n"
	    "[profile sso-no-session]\nsso_session = corp\nsso_account_id = 1\n"
	    "sso_role_name = r\n"
	    "[profile sso-incomplete]\nsso_start_url = https://x.example/start\n"
	    "sso_account_id = 1\n"
	    "[profile sso-no-token]\nsso_start_url = https://x.example/start\n"
	    "sso_region = us-east-1\nsso_account_id = 1\nsso_role_name = r\n",
	    kpath, sizeof(kpath)) == 0);
	CHECK(write_file("credentials-roles", "[keys]\naws_access_key_id = AKIDKEYS\n"
	    "aws_secret_access_key = keys\n", cpath, sizeof(cpath)) == 0);
	setenv("AWS_CONFIG_FILE", kpath, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cpath, 1);
	/* Nothing may fall through to the next source, and nothing is sent. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds", 1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_MSG(resolve_profile(cases[i].profile, &c, &log) == TF_ERR_CREDENTIALS,
		    "profile %s resolved", cases[i].profile);
		CHECK_MSG(strstr(log, cases[i].says) != NULL, "profile %s: log lacks "
		    "\"%s\":\n%s", cases[i].profile, cases[i].says, log);
		free(log);
		log = NULL;
	}
	CHECK_INT_EQ(fake_count(&fake.requests), 0);
}

static void
test_profile_process_and_order(void)
{
	struct tf_creds c;
	char kpath[256], cpath[256], counter[256], text[1024];
	struct tf_creds_provider *p = NULL;
	char *log = NULL;

	snprintf(counter, sizeof(counter), "%s/process-runs", tmpdir);
	unlink(counter);
	/* Each run prints a new key that expires at T. */
	snprintf(text, sizeof(text),
	    "[profile proc]\ncredential_process = /bin/sh -c 'n=$(cat %s 2>/dev/null || "
	    "echo 0); n=$((n+1)); echo $n >%s; printf \"{\\\"Version\\\": 1, "
	    "\\\"AccessKeyId\\\": \\\"AKIDPROC$n\\\", \\\"SecretAccessKey\\\": \\\"s\\\", "
	    "\\\"Expiration\\\": \\\"%s\\\"}\"'\n"
	    "[profile keys-and-process]\ncredential_process = /bin/false\n"
	    "[profile config-keys-and-process]\naws_access_key_id = AKIDCONFIG\n"
	    "aws_secret_access_key = static\ncredential_process = /bin/sh -c 'echo "
	    "\"{\\\"Version\\\": 1, \\\"AccessKeyId\\\": \\\"AKIDRAN\\\", "
	    "\\\"SecretAccessKey\\\": \\\"s\\\"}\"'\n",
	    counter, counter, expiration_default);
	CHECK(write_file("config-proc", text, kpath, sizeof(kpath)) == 0);
	CHECK(write_file("credentials-proc", "[keys-and-process]\n"
	    "aws_access_key_id = AKIDSTATIC\naws_secret_access_key = static\n",
	    cpath, sizeof(cpath)) == 0);
	setenv("AWS_CONFIG_FILE", kpath, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cpath, 1);

	/* As in the SDKs: the credentials file's keys come before
	 * credential_process, and credential_process before the config
	 * file's keys. */
	CHECK(resolve_profile("keys-and-process", &c, &log) == TF_OK);
	free(log);
	CHECK_STR_EQ(c.access_key_id, "AKIDSTATIC");
	CHECK(resolve_profile("config-keys-and-process", &c, &log) == TF_OK);
	free(log);
	CHECK_STR_EQ(c.access_key_id, "AKIDRAN");
	CHECK_STR_EQ(c.source, "process");

	/* The process's credentials expire; they are fetched again 5 minutes
	 * ahead, by running the process again. */
	setenv("AWS_PROFILE", "proc", 1);
	CHECK(tf_creds_provider_new(&p) == TF_OK);
	CHECK(tf_creds_get(p, T - 3600000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDPROC1");
	CHECK_STR_EQ(c.source, "process");
	CHECK_INT_EQ(c.expires_at_ms, T);
	CHECK(tf_creds_get(p, T - TF_CREDS_REFRESH_AHEAD_MS - 1000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDPROC1");
	CHECK(tf_creds_get(p, T - TF_CREDS_REFRESH_AHEAD_MS + 1000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDPROC2");
	tf_creds_provider_free(p);
}

/* ---- Container credentials ------------------------------------------ */

static void
test_container_full_uri(void)
{
	struct tf_creds c;
	char lp[256];
	char url[128];
	char *log;

	fake_url(url, sizeof(url), "/v2/credentials/abc");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer good-token", 1);
	pthread_mutex_lock(&fake.mu);
	snprintf(fake.auth, sizeof(fake.auth), "Bearer good-token");
	pthread_mutex_unlock(&fake.mu);
	capture_begin();
	CHECK(resolve(T - 3600000, &c) == TF_OK);
	log = capture_end();
	CHECK_STR_EQ(c.access_key_id, "ASIACONT1");
	CHECK_STR_EQ(c.secret_access_key, "cont-secret-1");
	CHECK_STR_EQ(c.session_token, "cont-token-1");
	CHECK_STR_EQ(c.source, "container");
	CHECK_INT_EQ(c.expires_at_ms, T);
	CHECK_STR_EQ(fake_last_path(lp, sizeof(lp)), "/v2/credentials/abc");
	CHECK(log != NULL && strstr(log, "container") != NULL);
	CHECK(strstr(log, "cont-secret-1") == NULL && strstr(log, "cont-token-1") == NULL &&
	    strstr(log, "good-token") == NULL);
	free(log);

	/* A wrong token: 401, and an error. */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer bad-token", 1);
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.unauthorized), 1);
	/* No token at all. */
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.unauthorized), 2);
	/* A token with a line break is refused before any request. */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer x\r\nX-Evil: 1", 1);
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 3);
}

static void
test_container_failure_does_not_fall_through(void)
{
	struct tf_creds c;
	char url[128];

	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	fake_url(url, sizeof(url), "");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	fake_set_status(500);
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	/* One retry of the 500, and no instance metadata request. */
	CHECK_INT_EQ(fake_count(&fake.requests), 2);
	CHECK_INT_EQ(fake_count(&fake.token_puts), 0);
}

/* Milliseconds on the monotonic clock. */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A hung endpoint: 2 s per try, one retry, then an error. */
static void
test_container_timeout(void)
{
	struct tf_creds c;
	char url[128];
	int64_t start, took;

	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	pthread_mutex_lock(&fake.mu);
	fake.delay_ms = 10000;
	pthread_mutex_unlock(&fake.mu);
	start = mono_ms();
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	took = mono_ms() - start;
	CHECK_MSG(took >= 3900 && took < 6000, "took %lld ms", (long long)took);
	/* Let the fake give up on the sleeping request before counting. */
	pthread_mutex_lock(&fake.mu);
	fake.delay_ms = 0;
	pthread_mutex_unlock(&fake.mu);
	usleep(100000);
	CHECK_INT_EQ(fake_count(&fake.requests), 2);
}

static void
test_container_token_file(void)
{
	struct tf_creds c;
	char url[128], path[256];

	CHECK(write_file("token", "Bearer from-file\n", path, sizeof(path)) == 0);
	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
	/* The file wins over the variable. */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer from-env", 1);
	pthread_mutex_lock(&fake.mu);
	snprintf(fake.auth, sizeof(fake.auth), "Bearer from-file");
	pthread_mutex_unlock(&fake.mu);
	CHECK(resolve(T - 3600000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIACONT1");
	/* A missing token file is an error. */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/tf-test/token", 1);
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 1);
}

static void
test_container_relative_uri(void)
{
	struct tf_creds c;
	char lp[256];
	char host[64], url[128];

	snprintf(host, sizeof(host), "127.0.0.1:%u", fake.port);
	tf_creds_test_set_ecs_host(host);
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/task-1", 1);
	/* The relative URI wins over the full one. */
	fake_url(url, sizeof(url), "/full");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	CHECK(resolve(T - 3600000, &c) == TF_OK);
	CHECK_STR_EQ(c.source, "container");
	CHECK_STR_EQ(fake_last_path(lp, sizeof(lp)), "/v2/credentials/task-1");
	/* A relative URI must start with '/'. */
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/x", 1);
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 1);
	/* Back to the closed loopback port main() set. */
	tf_creds_test_set_ecs_host("127.0.0.1:1");
}

static void
test_container_refused_url(void)
{
	struct tf_creds c;
	char url[128];

	/* Refused by scheme, although it names the fake: no request made. */
	snprintf(url, sizeof(url), "ftp://127.0.0.1:%u/creds", fake.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 0);
}

static void
test_container_bad_documents(void)
{
	struct tf_creds c;
	char url[128];

	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	/* No Expiration. */
	fake_set_expiration("");
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	/* An Expiration that does not parse. */
	fake_set_expiration("tomorrow");
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	/* Already expired: never handed out. */
	fake_set_expiration(expiration_default);
	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
	CHECK(resolve(T + 1, &c) == TF_ERR_CREDENTIALS);
	/* Expiring within the refresh window, but valid: handed out. */
	CHECK(resolve(T - 60000, &c) == TF_OK);
	CHECK_INT_EQ(fake_count(&fake.creds_served), 5);
}

/* ---- Instance metadata ---------------------------------------------- */

static void
use_imds_fake(void)
{
	char url[128];

	fake_url(url, sizeof(url), "/");  /* a trailing '/' is fine */
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	unsetenv("AWS_EC2_METADATA_DISABLED");
}

static void
test_imds(void)
{
	struct tf_creds c;
	char *log;

	use_imds_fake();
	capture_begin();
	CHECK(resolve(T - 3600000, &c) == TF_OK);
	log = capture_end();
	CHECK_STR_EQ(c.access_key_id, "ASIAIMDS1");
	CHECK_STR_EQ(c.secret_access_key, "imds-secret-1");
	CHECK_STR_EQ(c.session_token, "imds-token-1");
	CHECK_STR_EQ(c.source, "imds");
	CHECK_INT_EQ(c.expires_at_ms, T);
	CHECK_INT_EQ(fake_count(&fake.token_puts), 1);
	CHECK_INT_EQ(fake_count(&fake.role_lists), 1);
	CHECK_INT_EQ(fake_count(&fake.creds_served), 1);
	CHECK_INT_EQ(fake_count(&fake.unauthorized), 0);
	CHECK(log != NULL && strstr(log, FAKE_ROLE) != NULL);
	CHECK(strstr(log, "imds-secret-1") == NULL && strstr(log, FAKE_TOKEN) == NULL);
	free(log);
}

static void
test_imds_token_required(void)
{
	struct tf_creds c;

	use_imds_fake();
	/* A token the metadata GETs refuse: 401, an error. */
	pthread_mutex_lock(&fake.mu);
	fake.wrong_token = true;
	pthread_mutex_unlock(&fake.mu);
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.unauthorized), 1);
	CHECK_INT_EQ(fake_count(&fake.creds_served), 0);
	/* The token PUT refused (an IMDSv1-only endpoint): no GET follows. */
	fake_reset();
	pthread_mutex_lock(&fake.mu);
	fake.token_status = 403;
	pthread_mutex_unlock(&fake.mu);
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 1);
}

static void
test_imds_disabled(void)
{
	struct tf_creds c;

	use_imds_fake();
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
	CHECK(resolve(T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 0);
	/* Any other value leaves it on. */
	setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
	CHECK(resolve(T - 3600000, &c) == TF_OK);
	CHECK_STR_EQ(c.source, "imds");
}

static void
test_imds_refresh(void)
{
	struct tf_creds_provider *p = NULL;
	struct tf_creds c;

	use_imds_fake();
	CHECK(tf_creds_provider_new(&p) == TF_OK);
	CHECK(tf_creds_get(p, T - 3600000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIAIMDS1");
	fake_set_expiration("2030-01-01T01:00:00Z");
	CHECK(tf_creds_get(p, T - 240000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIAIMDS2");
	CHECK_INT_EQ(c.expires_at_ms, T + 3600000);
	/* A fresh session token for each refresh. */
	CHECK_INT_EQ(fake_count(&fake.token_puts), 2);
	tf_creds_provider_free(p);
}

/* ---- Refresh rules -------------------------------------------------- */

static void
test_refresh_window(void)
{
	struct tf_creds_provider *p = NULL;
	struct tf_creds c;
	char url[128];
	const int64_t T2 = T + 3600000;
	uint16_t port = fake.port;

	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	CHECK(tf_creds_provider_new(&p) == TF_OK);
	CHECK(tf_creds_get(p, T - 3600000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIACONT1");
	CHECK_INT_EQ(fake_count(&fake.requests), 1);

	/* Before the window: cached, no request. */
	CHECK(tf_creds_get(p, T - 1800000, &c) == TF_OK);
	CHECK(tf_creds_get(p, T - TF_CREDS_REFRESH_AHEAD_MS - 1, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIACONT1");
	CHECK_INT_EQ(fake_count(&fake.requests), 1);

	/* Four minutes before expiry: refreshed. */
	fake_set_expiration("2030-01-01T01:00:00Z");
	CHECK(tf_creds_get(p, T - 240000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIACONT2");
	CHECK_INT_EQ(c.expires_at_ms, T2);
	CHECK_INT_EQ(fake_count(&fake.requests), 2);

	/* Endpoint failing in the window, old ones still valid: old ones. */
	fake_set_status(503);
	CHECK(tf_creds_get(p, T2 - 240000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIACONT2");
	CHECK_INT_EQ(fake_count(&fake.requests), 4);  /* one try and one retry */
	/* Not tried again before TF_CREDS_RETRY_MS, even when it would work. */
	fake_set_status(0);
	CHECK(tf_creds_get(p, T2 - 240000 + TF_CREDS_RETRY_MS - 1, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIACONT2");
	CHECK_INT_EQ(fake_count(&fake.requests), 4);
	/* Endpoint down (connection refused), retry interval over: old ones. */
	fake_stop();
	CHECK(tf_creds_get(p, T2 - 240000 + TF_CREDS_RETRY_MS, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIACONT2");
	/* Expired and still down: an error, never the expired ones. */
	memset(&c, 0, sizeof(c));
	CHECK(tf_creds_get(p, T2, &c) == TF_ERR_CREDENTIALS);
	CHECK(tf_creds_get(p, T2 + 1, &c) == TF_ERR_CREDENTIALS);
	CHECK_STR_EQ(c.access_key_id, "");
	/* Back up: recovered with new credentials. */
	CHECK(fake_start(port) == 0);
	fake_set_expiration("2030-01-01T02:00:00Z");
	CHECK(tf_creds_get(p, T2 + 2, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIACONT3");
	tf_creds_provider_free(p);
}

/* A failing first resolution is tried again on the next call. */
static void
test_first_failure_retried(void)
{
	struct tf_creds_provider *p = NULL;
	struct tf_creds c;
	char url[128];

	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	fake_set_status(404);
	CHECK(tf_creds_provider_new(&p) == TF_OK);
	CHECK(tf_creds_get(p, T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK(tf_creds_get(p, T - 3600000, &c) == TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 2);  /* 404 is not retried */
	fake_set_status(0);
	CHECK(tf_creds_get(p, T - 3600000, &c) == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "ASIACONT1");
	tf_creds_provider_free(p);
}

struct getter {
	struct tf_creds_provider *p;
	pthread_barrier_t *start;
	int64_t now_ms;
	enum tf_err rc;
	struct tf_creds c;
};

static void *
getter_main(void *arg)
{
	struct getter *g = arg;

	pthread_barrier_wait(g->start);
	g->rc = tf_creds_get(g->p, g->now_ms, &g->c);
	return NULL;
}

/* Runs 8 concurrent tf_creds_get() at now_ms; 0 when all succeeded. */
static int
run_getters(struct tf_creds_provider *p, int64_t now_ms, struct getter g[8])
{
	pthread_barrier_t start;
	pthread_t t[8];
	int i, bad = 0;

	pthread_barrier_init(&start, NULL, 8);
	for (i = 0; i < 8; i++) {
		g[i].p = p;
		g[i].start = &start;
		g[i].now_ms = now_ms;
		pthread_create(&t[i], NULL, getter_main, &g[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		if (g[i].rc != TF_OK)
			bad++;
	}
	pthread_barrier_destroy(&start);
	return bad;
}

static void
test_concurrent_one_fetch(void)
{
	static struct getter g[8];
	struct tf_creds_provider *p = NULL;
	char url[128];
	int i;

	fake_url(url, sizeof(url), "/creds");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	pthread_mutex_lock(&fake.mu);
	fake.delay_ms = 300;
	pthread_mutex_unlock(&fake.mu);
	CHECK(tf_creds_provider_new(&p) == TF_OK);
	CHECK_INT_EQ(run_getters(p, T - 3600000, g), 0);
	CHECK_INT_EQ(fake_count(&fake.requests), 1);
	for (i = 0; i < 8; i++)
		CHECK_STR_EQ(g[i].c.access_key_id, "ASIACONT1");

	/* In the refresh window: one refresh; the others get the old or the new. */
	fake_set_expiration("2030-01-01T01:00:00Z");
	CHECK_INT_EQ(run_getters(p, T - 240000, g), 0);
	CHECK_INT_EQ(fake_count(&fake.requests), 2);
	for (i = 0; i < 8; i++)
		CHECK(strcmp(g[i].c.access_key_id, "ASIACONT1") == 0 ||
		    strcmp(g[i].c.access_key_id, "ASIACONT2") == 0);

	/* All callers waiting on a failing first fetch share its failure. */
	tf_creds_provider_free(p);
	fake_set_status(403);
	CHECK(tf_creds_provider_new(&p) == TF_OK);
	CHECK_INT_EQ(run_getters(p, T - 3600000, g), 8);
	for (i = 0; i < 8; i++)
		CHECK_INT_EQ(g[i].rc, TF_ERR_CREDENTIALS);
	CHECK_INT_EQ(fake_count(&fake.requests), 3);
	tf_creds_provider_free(p);
}

static void
test_nothing_configured(void)
{
	struct tf_creds c;

	CHECK(resolve(T, &c) == TF_ERR_CREDENTIALS);
}

static void
test_provider_nomem(void)
{
	struct tf_creds_provider *p = NULL;
	struct tf_creds c;
	char cpath[256];
	enum tf_err rc;
	long n;

	CHECK(write_file("credentials-nomem", "[default]\naws_access_key_id = AKIDNOMEM\n"
	    "aws_secret_access_key = nomem\n", cpath, sizeof(cpath)) == 0);
	setenv("AWS_SHARED_CREDENTIALS_FILE", cpath, 1);
	setenv("AWS_ACCESS_KEY_ID", "only-half", 1);
	for (n = 0; n < 200; n++) {
		tf_alloc_fail_after(n);
		rc = tf_creds_provider_new(&p);
		if (rc == TF_OK)
			rc = tf_creds_get(p, T, &c);
		tf_alloc_fail_after(-1);
		tf_creds_provider_free(p);
		p = NULL;
		if (rc == TF_OK)
			break;
		CHECK_MSG(rc == TF_ERR_NOMEM, "allocation %ld: %s", n, tf_strerror(rc));
	}
	CHECK(rc == TF_OK);
	CHECK_STR_EQ(c.access_key_id, "AKIDNOMEM");
}

int
main(void)
{
	size_t i;
	int rc;

	tf_alloc_init();
	tf_log_init();
	/* Never let anything reach for a real metadata address. */
	for (i = 0; i < N_ENV; i++)
		unsetenv(env_names[i]);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	/* STS and the SSO portal: a closed loopback port unless a test says. */
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
	tf_creds_test_set_ecs_host("127.0.0.1:1");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tf-test-creds.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	setenv("HOME", tmpdir, 1);  /* no ~/.aws of the person running this */
	if (tf_creds_parse_expiration(expiration_default, &T) != TF_OK) {
		printf("FAIL setup: cannot parse %s\n", expiration_default);
		return 1;
	}
	pthread_mutex_init(&fake.mu, NULL);
	if (fake_start(0) != 0) {
		printf("FAIL setup: the fake endpoint did not start: %s\n", strerror(errno));
		return 1;
	}
	fake_port = fake.port;

	RUN(test_parse_expiration);
	RUN(test_container_url_rules);
	RUN(test_static_provider);
	RUN(test_env_creds);
	RUN(test_env_incomplete_skipped);
	RUN(test_env_wins);
	RUN(test_profile_default_and_named);
	RUN(test_profile_missing_named_is_error);
	RUN(test_profile_errors);
	RUN(test_profile_home_default_paths);
	RUN(test_profile_cached_once);
	RUN(test_profile_role_config_errors);
	RUN(test_profile_process_and_order);
	RUN(test_container_full_uri);
	RUN(test_container_failure_does_not_fall_through);
	RUN(test_container_timeout);
	RUN(test_container_token_file);
	RUN(test_container_relative_uri);
	RUN(test_container_refused_url);
	RUN(test_container_bad_documents);
	RUN(test_imds);
	RUN(test_imds_token_required);
	RUN(test_imds_disabled);
	RUN(test_imds_refresh);
	RUN(test_refresh_window);
	RUN(test_first_failure_retried);
	RUN(test_concurrent_one_fetch);
	RUN(test_nothing_configured);
	RUN(test_provider_nomem);

	fake_stop();
	pthread_mutex_destroy(&fake.mu);
	rc = tf_test_summary();
	{
		char cmd[128];

		/* Only our own mkdtemp directory. */
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (strncmp(tmpdir, "/tmp/tf-test-creds.", 19) == 0 && system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return rc;
}
