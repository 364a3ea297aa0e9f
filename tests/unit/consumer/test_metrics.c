/* test_metrics.c - the consumer's metrics: counting, the text exposition,
 * --metrics-listen addresses, and the server before a consumer is attached.
 * (Against a running consumer: tests/scripts/engine_metrics.sh.) */
#include "harness.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "metrics.h"
#include "server/listen_addr.h"
#include "task/runners.h"

static struct tf_runner_set *runners;   /* noop and fail, from the build */

/* Renders m with s (or no sources) into a fresh string; caller frees with
 * tf_free(). */
static char *
render(const struct tf_metrics *m, const struct tf_metrics_sources *s)
{
	static const struct tf_metrics_sources none;
	struct tf_buf b = TF_BUF_INIT;

	if (tf_metrics_render(m, s != NULL ? s : &none, &b) != TF_OK) {
		tf_buf_free(&b);
		return NULL;
	}
	return tf_buf_steal(&b);
}

/* True when text has line (without its newline) as a whole line. */
static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static int
count_lines_starting(const char *text, const char *prefix)
{
	const char *p = text;
	int n = 0;

	while (*p != '\0') {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return n;
}

/* Every family has one # HELP and one # TYPE line, names are prefixed, and
 * counters end in _total. */
static void
test_families_are_declared_once(void)
{
	static const char *const families[][2] = {
		{ "taskfleet_build_info", "gauge" },
		{ "taskfleet_start_time_seconds", "gauge" },
		{ "taskfleet_messages_received_total", "counter" },
		{ "taskfleet_messages_malformed_total", "counter" },
		{ "taskfleet_messages_released_total", "counter" },
		{ "taskfleet_claims_won_total", "counter" },
		{ "taskfleet_runs_chained_total", "counter" },
		{ "taskfleet_claims_lost_total", "counter" },
		{ "taskfleet_runs_total", "counter" },
		{ "taskfleet_run_duration_seconds", "histogram" },
		{ "taskfleet_run_lateness_seconds", "histogram" },
		{ "taskfleet_runs_limited_total", "counter" },
		{ "taskfleet_runs_limited_seconds_total", "counter" },
		{ "taskfleet_sweeps_total", "counter" },
		{ "taskfleet_sweeper_enqueued_total", "counter" },
		{ "taskfleet_sweeper_recovered_total", "counter" },
		{ "taskfleet_aws_calls_total", "counter" },
		{ "taskfleet_aws_requests_total", "counter" },
		{ "taskfleet_aws_throttled_requests_total", "counter" },
		{ "taskfleet_aws_errors_total", "counter" },
		{ "taskfleet_aws_retries_total", "counter" },
		{ "taskfleet_aws_throttled_calls_total", "counter" },
		{ "taskfleet_tasks_in_flight", "gauge" },
		{ "taskfleet_messages_held", "gauge" },
		{ "taskfleet_receive_limit", "gauge" },
		{ "taskfleet_concurrency", "gauge" },
	};
	struct tf_metrics *m = tf_metrics_new(runners);
	char *text, line[200];
	size_t i;

	CHECK(m != NULL);
	text = render(m, NULL);
	CHECK(text != NULL);
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(line, sizeof(line), "# TYPE %s %s", families[i][0],
		    families[i][1]);
		CHECK_MSG(has_line(text, line), "no line \"%s\"", line);
		snprintf(line, sizeof(line), "# HELP %s ", families[i][0]);
		CHECK_INT_EQ(count_lines_starting(text, line), 1);
		snprintf(line, sizeof(line), "# TYPE %s ", families[i][0]);
		CHECK_INT_EQ(count_lines_starting(text, line), 1);
	}
	CHECK_INT_EQ(count_lines_starting(text, "# TYPE "), (int)i);
	CHECK_INT_EQ(count_lines_starting(text, "taskfleet_"),
	    count_lines_starting(text, "") - 2 * (int)i);
	CHECK(text[strlen(text) - 1] == '\n');
	/* Every runner and outcome is there from the start, at 0. */
	CHECK(has_line(text, "taskfleet_runs_total{runner=\"noop\",outcome=\"success\"} 0"));
	CHECK(has_line(text, "taskfleet_runs_total{runner=\"fail\",outcome=\"lease_lost\"} 0"));
	CHECK(has_line(text, "taskfleet_runs_total{runner=\"(unknown)\",outcome=\"write_failed\"} 0"));
	CHECK(has_line(text, "taskfleet_claims_lost_total{reason=\"stale\"} 0"));
	CHECK(has_line(text, "taskfleet_run_duration_seconds_count{runner=\"noop\"} 0"));
	tf_free(text);
	tf_metrics_free(m);
}

static void
test_counters(void)
{
	struct tf_metrics *m = tf_metrics_new(runners);
	char *text;

	CHECK(m != NULL);
	tf_metrics_received(m, 10);
	tf_metrics_received(m, 2);
	tf_metrics_malformed(m);
	tf_metrics_released(m);
	tf_metrics_released(m);
	tf_metrics_claim_won(m);
	tf_metrics_chained(m);
	tf_metrics_chained(m);
	tf_metrics_claim_lost(m, TF_METRICS_LOST_STALE);
	tf_metrics_claim_lost(m, TF_METRICS_LOST_MISSING);
	tf_metrics_claim_lost(m, TF_METRICS_LOST_MISSING);
	tf_metrics_claim_lost(m, TF_METRICS__LOST);       /* ignored */
	text = render(m, NULL);
	CHECK(text != NULL);
	CHECK(has_line(text, "taskfleet_messages_received_total 12"));
	CHECK(has_line(text, "taskfleet_messages_malformed_total 1"));
	CHECK(has_line(text, "taskfleet_messages_released_total 2"));
	CHECK(has_line(text, "taskfleet_claims_won_total 1"));
	CHECK(has_line(text, "taskfleet_runs_chained_total 2"));
	CHECK(has_line(text, "taskfleet_claims_lost_total{reason=\"stale\"} 1"));
	CHECK(has_line(text, "taskfleet_claims_lost_total{reason=\"missing\"} 2"));
	CHECK(has_line(text, "taskfleet_claims_lost_total{reason=\"early\"} 0"));
	tf_free(text);
	tf_metrics_free(m);
}

/* Runs by runner and outcome; the histograms' buckets are cumulative, in
 * seconds, and their count is the +Inf bucket. */
static void
test_runs_and_histograms(void)
{
	struct tf_metrics *m = tf_metrics_new(runners);
	char *text;

	CHECK(m != NULL);
	tf_metrics_run(m, "noop", TF_METRICS_COMPLETED, 3, true, 40);
	tf_metrics_run(m, "noop", TF_METRICS_COMPLETED, 5, true, -200);
	tf_metrics_run(m, "noop", TF_METRICS_SUCCESS, 7000, false, 0);
	tf_metrics_run(m, "noop", TF_METRICS_RETRY, 99999999, true, 99999999);
	tf_metrics_run(m, "fail", TF_METRICS_FAILED, 20, true, 1000);
	tf_metrics_run(m, "nosuch", TF_METRICS_RETRY, 1, true, 1);
	tf_metrics_run(m, NULL, TF_METRICS_FAILED, 1, true, 1);
	tf_metrics_run(m, "noop", TF_METRICS__OUTCOMES, 1, true, 1);  /* ignored */
	text = render(m, NULL);
	CHECK(text != NULL);
	CHECK(has_line(text, "taskfleet_runs_total{runner=\"noop\",outcome=\"completed\"} 2"));
	CHECK(has_line(text, "taskfleet_runs_total{runner=\"noop\",outcome=\"success\"} 1"));
	CHECK(has_line(text, "taskfleet_runs_total{runner=\"noop\",outcome=\"retry\"} 1"));
	CHECK(has_line(text, "taskfleet_runs_total{runner=\"fail\",outcome=\"failed\"} 1"));
	CHECK(has_line(text, "taskfleet_runs_total{runner=\"(unknown)\",outcome=\"retry\"} 1"));
	CHECK(has_line(text, "taskfleet_runs_total{runner=\"(unknown)\",outcome=\"failed\"} 1"));
	/* Durations 3, 5, 7000 ms and one beyond the last bucket. */
	CHECK(has_line(text, "taskfleet_run_duration_seconds_bucket{runner=\"noop\",le=\"0.005\"} 2"));
	CHECK(has_line(text, "taskfleet_run_duration_seconds_bucket{runner=\"noop\",le=\"5\"} 2"));
	CHECK(has_line(text, "taskfleet_run_duration_seconds_bucket{runner=\"noop\",le=\"10\"} 3"));
	CHECK(has_line(text, "taskfleet_run_duration_seconds_bucket{runner=\"noop\",le=\"3600\"} 3"));
	CHECK(has_line(text, "taskfleet_run_duration_seconds_bucket{runner=\"noop\",le=\"+Inf\"} 4"));
	CHECK(has_line(text, "taskfleet_run_duration_seconds_count{runner=\"noop\"} 4"));
	CHECK(has_line(text, "taskfleet_run_duration_seconds_sum{runner=\"noop\"} 100007.007"));
	/* Lateness: 40 ms, early (0), unknown (not observed), beyond. */
	CHECK(has_line(text, "taskfleet_run_lateness_seconds_bucket{runner=\"noop\",le=\"0.01\"} 1"));
	CHECK(has_line(text, "taskfleet_run_lateness_seconds_bucket{runner=\"noop\",le=\"0.05\"} 2"));
	CHECK(has_line(text, "taskfleet_run_lateness_seconds_bucket{runner=\"noop\",le=\"900\"} 2"));
	CHECK(has_line(text, "taskfleet_run_lateness_seconds_count{runner=\"noop\"} 3"));
	CHECK(has_line(text, "taskfleet_run_lateness_seconds_sum{runner=\"noop\"} 100000.039"));
	CHECK(has_line(text, "taskfleet_run_lateness_seconds_bucket{runner=\"fail\",le=\"0.5\"} 0"));
	CHECK(has_line(text, "taskfleet_run_lateness_seconds_bucket{runner=\"fail\",le=\"1\"} 1"));
	CHECK(has_line(text, "taskfleet_run_duration_seconds_count{runner=\"(unknown)\"} 2"));
	tf_free(text);
	tf_metrics_free(m);
}

/* What other modules count, and the gauges. */
static void
test_sources(void)
{
	struct tf_aws_op_count ops[2];
	struct tf_metrics_sources s;
	struct tf_metrics *m = tf_metrics_new(NULL);
	char *text;

	CHECK(m != NULL);
	memset(ops, 0, sizeof(ops));
	memset(&s, 0, sizeof(s));
	snprintf(ops[0].operation, sizeof(ops[0].operation), "UpdateItem");
	ops[0].service = TF_AWS_DYNAMODB;
	ops[0].calls = 5;
	ops[0].requests = 7;
	ops[0].throttled = 2;
	ops[0].failed = 3;
	ops[0].errors[TF_ERR_CONDITION] = 2;
	ops[0].errors[TF_ERR_THROTTLED] = 1;
	snprintf(ops[1].operation, sizeof(ops[1].operation), "ReceiveMessage");
	ops[1].service = TF_AWS_SQS;
	ops[1].calls = 9;
	ops[1].requests = 9;
	s.ops = ops;
	s.n_ops = 2;
	s.aws_retries = 2;
	s.aws_throttled_calls = 1;
	s.sweeps = 4;
	s.sweeper_enqueued = 3;
	s.sweeper_recovered = 1;
	s.in_flight = 6;
	s.receive_limit = 8;
	s.concurrency = 16;
	text = render(m, &s);
	CHECK(text != NULL);
	CHECK(has_line(text, "taskfleet_aws_calls_total{service=\"dynamodb\",operation=\"UpdateItem\"} 5"));
	CHECK(has_line(text, "taskfleet_aws_requests_total{service=\"dynamodb\",operation=\"UpdateItem\"} 7"));
	CHECK(has_line(text, "taskfleet_aws_requests_total{service=\"sqs\",operation=\"ReceiveMessage\"} 9"));
	CHECK(has_line(text, "taskfleet_aws_throttled_requests_total{service=\"dynamodb\",operation=\"UpdateItem\"} 2"));
	CHECK(has_line(text, "taskfleet_aws_errors_total{service=\"dynamodb\",operation=\"UpdateItem\",error=\"condition\"} 2"));
	CHECK(has_line(text, "taskfleet_aws_errors_total{service=\"dynamodb\",operation=\"UpdateItem\",error=\"throttled\"} 1"));
	/* Only errors that happened have a series. */
	CHECK_INT_EQ(count_lines_starting(text, "taskfleet_aws_errors_total{"), 2);
	CHECK(has_line(text, "taskfleet_aws_retries_total 2"));
	CHECK(has_line(text, "taskfleet_aws_throttled_calls_total 1"));
	CHECK(has_line(text, "taskfleet_sweeps_total 4"));
	CHECK(has_line(text, "taskfleet_sweeper_enqueued_total 3"));
	CHECK(has_line(text, "taskfleet_sweeper_recovered_total 1"));
	CHECK(has_line(text, "taskfleet_tasks_in_flight 6"));
	CHECK(has_line(text, "taskfleet_receive_limit 8"));
	CHECK(has_line(text, "taskfleet_concurrency 16"));
	tf_free(text);
	tf_metrics_free(m);
}

static void
test_label_escaping(void)
{
	struct tf_buf b = TF_BUF_INIT;

	tf_metrics_label_append(&b, "a\"b\\c\nd");
	CHECK_STR_EQ(tf_buf_str(&b), "a\\\"b\\\\c\\nd");
	tf_buf_free(&b);
}

/* Out of memory anywhere in a render is TF_ERR_NOMEM, never a crash or a
 * half-written success. */
static void
test_render_out_of_memory(void)
{
	struct tf_metrics *m = tf_metrics_new(runners);
	static const struct tf_metrics_sources none;
	struct tf_buf b = TF_BUF_INIT;
	enum tf_err rc = TF_ERR_NOMEM;
	long n;

	CHECK(m != NULL);
	for (n = 0; n < 200 && rc != TF_OK; n++) {
		tf_buf_free(&b);
		tf_alloc_fail_after(n);
		rc = tf_metrics_render(m, &none, &b);
		tf_alloc_fail_after(-1);
		CHECK_MSG(rc == TF_OK || rc == TF_ERR_NOMEM, "allocation %ld: %s", n,
		    tf_strerror(rc));
	}
	CHECK(rc == TF_OK);
	CHECK(strstr(tf_buf_str(&b), "taskfleet_concurrency 0\n") != NULL);
	tf_buf_free(&b);
	tf_alloc_fail_after(0);
	CHECK(tf_metrics_new(runners) == NULL);
	tf_alloc_fail_after(1);
	CHECK(tf_metrics_new(runners) == NULL);
	tf_alloc_fail_after(-1);
	tf_metrics_free(m);
}

/* Counting on no metrics is a no-op (a consumer that failed to start). */
static void
test_null_is_fine(void)
{
	tf_metrics_received(NULL, 1);
	tf_metrics_released(NULL);
	tf_metrics_malformed(NULL);
	tf_metrics_claim_won(NULL);
	tf_metrics_claim_lost(NULL, TF_METRICS_LOST_STALE);
	tf_metrics_run(NULL, "noop", TF_METRICS_SUCCESS, 1, true, 1);
	tf_metrics_free(NULL);
	tf_metrics_server_stop(NULL);
}

static const struct {
	const char *text;
	int family;      /* 0: refused */
	const char *addr;
	int port;
} listen_cases[] = {
	{ "127.0.0.1:9100", AF_INET, "127.0.0.1", 9100 },
	{ "0.0.0.0:0", AF_INET, "0.0.0.0", 0 },
	{ "10.1.2.3:65535", AF_INET, "10.1.2.3", 65535 },
	{ "[::1]:9100", AF_INET6, "::1", 9100 },
	{ "[::]:0", AF_INET6, "::", 0 },
	{ "[fe80::1:2]:80", AF_INET6, "fe80::1:2", 80 },
	{ "localhost:9100", 0, NULL, 0 },
	{ "127.0.0.1", 0, NULL, 0 },
	{ "127.0.0.1:", 0, NULL, 0 },
	{ "127.0.0.1:65536", 0, NULL, 0 },
	{ "127.0.0.1:-1", 0, NULL, 0 },
	{ "127.0.0.1:+80", 0, NULL, 0 },
	{ "127.0.0.1:80x", 0, NULL, 0 },
	{ "127.0.0.1:99999999999999999999", 0, NULL, 0 },
	{ ":9100", 0, NULL, 0 },
	{ "::1:9100", 0, NULL, 0 },
	{ "[::1]9100", 0, NULL, 0 },
	{ "[::1]:", 0, NULL, 0 },
	{ "[127.0.0.1]:80", 0, NULL, 0 },
	{ "[]:80", 0, NULL, 0 },
	{ "[::1:80", 0, NULL, 0 },
	{ "", 0, NULL, 0 },
};

static void
test_parse_listen(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256], text[INET6_ADDRSTRLEN];
	size_t i;
	enum tf_err rc;

	for (i = 0; i < sizeof(listen_cases) / sizeof(listen_cases[0]); i++) {
		err[0] = '\0';
		rc = tf_listen_addr_parse(listen_cases[i].text, &ss, &len, err,
		    sizeof(err));
		if (listen_cases[i].family == 0) {
			CHECK_MSG(rc == TF_ERR_INVALID, "\"%s\" accepted",
			    listen_cases[i].text);
			CHECK(strstr(err, "expected ADDR:PORT") != NULL);
			CHECK(strchr(err, '\n') == NULL);
			continue;
		}
		CHECK_MSG(rc == TF_OK, "\"%s\": %s", listen_cases[i].text, err);
		CHECK_INT_EQ(ss.ss_family, listen_cases[i].family);
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			CHECK_INT_EQ(len, sizeof(*in));
			inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
			CHECK_INT_EQ(ntohs(in->sin_port), listen_cases[i].port);
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			CHECK_INT_EQ(len, sizeof(*in6));
			inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
			CHECK_INT_EQ(ntohs(in6->sin6_port), listen_cases[i].port);
		}
		CHECK_STR_EQ(text, listen_cases[i].addr);
		CHECK_INT_EQ(tf_listen_addr_port((struct sockaddr *)&ss),
		    listen_cases[i].port);
	}
}

/* Sends one raw request to 127.0.0.1:port; returns the answer (static). */
static const char *
ask(int port, const char *request)
{
	static char answer[4096];
	struct sockaddr_in sin;
	size_t got = 0;
	ssize_t n;
	int fd;

	answer[0] = '\0';
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return answer;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    write(fd, request, strlen(request)) == (ssize_t)strlen(request)) {
		while (got < sizeof(answer) - 1 &&
		    (n = read(fd, answer + got, sizeof(answer) - 1 - got)) > 0)
			got += (size_t)n;
	}
	answer[got] = '\0';
	close(fd);
	return answer;
}

/* Before a consumer is attached every path says 503 "starting"; unknown
 * paths are 404, other methods 405; a port in use is refused. */
static void
test_server_before_attach(void)
{
	struct tf_metrics_server *srv = NULL, *again = NULL;
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256], where[64];
	const char *a;
	int port;

	CHECK(tf_listen_addr_parse("127.0.0.1:0", &ss, &len, err,
	    sizeof(err)) == TF_OK);
	CHECK_MSG(tf_metrics_server_start((struct sockaddr *)&ss, len, &srv, err,
	    sizeof(err)) == TF_OK, "%s", err);
	port = tf_metrics_server_port(srv);
	CHECK(port > 0 && port < 65536);
	a = ask(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK_MSG(strncmp(a, "HTTP/1.1 503", 12) == 0, "%s", a);
	CHECK(strstr(a, "\r\n\r\nstarting\n") != NULL);
	a = ask(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK_MSG(strncmp(a, "HTTP/1.1 503", 12) == 0, "%s", a);
	a = ask(port, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	CHECK_MSG(strncmp(a, "HTTP/1.1 404", 12) == 0, "%s", a);
	a = ask(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	    "Content-Length: 3\r\n\r\nabc");
	CHECK_MSG(strncmp(a, "HTTP/1.1 405", 12) == 0, "%s", a);
	CHECK(strstr(a, "\r\nAllow: GET, HEAD\r\n") != NULL);
	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	CHECK(tf_listen_addr_parse(where, &ss, &len, err, sizeof(err)) == TF_OK);
	CHECK(tf_metrics_server_start((struct sockaddr *)&ss, len, &again, err,
	    sizeof(err)) == TF_ERR_IO);
	CHECK(again == NULL);
	CHECK_MSG(strstr(err, "cannot listen: ") == err && strstr(err, "in use"),
	    "%s", err);
	tf_metrics_server_stop(srv);
	/* Stopped: nothing answers any more. */
	CHECK_STR_EQ(ask(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), "");
}

int
main(void)
{
	char self[PATH_MAX], spec[2 * PATH_MAX + 64], err[PATH_MAX * 3];
	ssize_t n;

	tf_alloc_init();
	/* The build's runners: $BUILD/tests/test_metrics -> $BUILD/runners. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		printf("FAIL setup: readlink /proc/self/exe\n");
		return 1;
	}
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(spec, sizeof(spec), "%s/runners/noop.so:%s/runners/fail.so", self,
	    self);
	if (tf_runner_set_load(spec, &runners, err, sizeof(err)) != TF_OK) {
		printf("FAIL setup: %s\n", err);
		return 1;
	}
	TF_RUN(test_families_are_declared_once);
	TF_RUN(test_counters);
	TF_RUN(test_runs_and_histograms);
	TF_RUN(test_sources);
	TF_RUN(test_label_escaping);
	TF_RUN(test_render_out_of_memory);
	TF_RUN(test_null_is_fine);
	TF_RUN(test_parse_listen);
	TF_RUN(test_server_before_attach);
	tf_runner_set_free(runners);
	return tf_test_summary();
}
