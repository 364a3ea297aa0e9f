/*
 * cmd_serve.c - `taskfleet serve --listen ADDR:PORT`: the admin REST API
 * (api.h) in the foreground until SIGINT or SIGTERM.
 *
 * Everything a request needs is set up once, here: the AWS client (one for
 * all threads; it pools its connections), the queue URL, the runner set that
 * POST /v1/tasks checks types against, the API keys, the CORS origins and
 * the rate limits, the API keys (api_keyring.h: from the environment, a
 * Secrets Manager secret or an SSM parameter, reloaded on a thread), the
 * counters and the probes.
 * When it listens it prints one line on stderr,
 * "taskfleet serve: listening on http://ADDR:PORT", with the actual port
 * (the test starts it on port 0), and with --metrics-listen a second one,
 * "taskfleet serve: metrics on http://ADDR:PORT/metrics".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_auth.h"
#include "base/clock.h"
#include "base/log.h"
#include "cli.h"
#include "rate_limit.h"
#include "server/listen_addr.h"
#include "task/runners.h"
#include "time/timefmt.h"
#include "webhook/netaddr.h"

static const char serve_usage[] =
    "usage: taskfleet serve --listen ADDR:PORT [--metrics-listen ADDR:PORT]\n"
    "                       [--no-auth]\n";

static void
serve_help(void)
{
	printf("%s\n"
	    "Serves the admin REST API (JSON under /v1; the OpenAPI document at\n"
	    "/v1/openapi.json) and the web console (http://ADDR:PORT/: it asks\n"
	    "for an API key once per browser tab) until SIGINT or SIGTERM.\n"
	    "\n"
	    "  --listen ADDR:PORT  where to listen: a numeric IPv4 address or\n"
	    "                      [IPv6]:PORT; port 0 picks a free one (printed)\n"
	    "  --metrics-listen ADDR:PORT  serve /metrics (Prometheus), /healthz\n"
	    "                      and /readyz there, without a key (default\n"
	    "                      TASKFLEET_API_METRICS_LISTEN; none when\n"
	    "                      unset). /healthz and /readyz are on the API\n"
	    "                      port too, /metrics only here\n"
	    "  --no-auth           no API keys: anyone who can connect may do\n"
	    "                      anything. Only with a loopback ADDR\n"
	    "\n"
	    "TASKFLEET_API_KEYS        the keys, comma-separated\n"
	    "                          SHA256HEX:SCOPE:NS[:RATE]: the hex SHA-256\n"
	    "                          of the key, read or write (write implies\n"
	    "                          read), the namespaces ns1|ns2 or * for all,\n"
	    "                          and the key's own rate (as below). Clients\n"
	    "                          send Authorization: Bearer KEY\n"
	    "TASKFLEET_API_KEYS_SECRET the same text in an AWS Secrets Manager\n"
	    "                          secret (name or ARN; newlines may separate\n"
	    "                          the keys), read at start and reloaded\n"
	    "TASKFLEET_API_KEYS_PARAMETER  the same in an SSM parameter\n"
	    "                          (SecureString), read at start and reloaded\n"
	    "TASKFLEET_API_KEYS_REFRESH    how often the secret or parameter is\n"
	    "                          read again (default " API_KEYS_REFRESH_DEFAULT
	    "; at least 1s)\n"
	    "TASKFLEET_API_RATE        each key's request rate (per client address\n"
	    "                          with --no-auth): N/s, N/min or N/h, with\n"
	    "                          :BURST the requests allowed at once (default\n"
	    "                          two seconds' worth, at least 1), or off.\n"
	    "                          Default " API_RATE_DEFAULT ". Over it: 429\n"
	    "                          rate_limited, with Retry-After\n"
	    "TASKFLEET_API_AUTH_RATE   unknown keys a client address may send; while\n"
	    "                          over it, all its requests are 429. Default\n"
	    "                          " API_AUTH_RATE_DEFAULT "; off for none\n"
	    "TASKFLEET_API_CORS_ORIGINS  origins a browser may call from\n"
	    "                          (comma-separated; default none)\n"
	    "TASKFLEET_API_PER_ADDRESS connections one client address may hold\n"
	    "                          at once, 1 to %d (default %d; behind a\n"
	    "                          proxy every client has its address)\n"
	    "TASKFLEET_API_STATS_EVERY how often the task counts and queue depths\n"
	    "                          are sampled for GET /v1/stats?history=1\n"
	    "                          (the latest %d kept in memory; default\n"
	    "                          " API_HISTORY_EVERY_DEFAULT ", at least 1s; off for none)\n"
	    "TASKFLEET_API_DRAIN       after SIGTERM, how long /healthz and /readyz\n"
	    "                          answer 503 while the API still serves, for\n"
	    "                          a load balancer to stop sending (default 0,\n"
	    "                          at most 5m; a second signal ends it)\n"
	    "\n"
	    "Exit: 0 stopped by a signal, 1 failed, 2 bad input.\n", serve_usage,
	    API_MAX_CONNECTIONS, API_PER_ADDRESS_CONNECTIONS, API_HISTORY_SAMPLES);
}

/* The longest TASKFLEET_API_DRAIN: well within any stop timeout one sets. */
#define API_DRAIN_MAX_MS (5 * 60 * 1000)

/* After the first signal: waits drain_ms, or until another signal of set
 * arrives, while the servers go on answering. */
static void
drain(const sigset_t *set, int64_t drain_ms)
{
	int64_t end = tf_mono_ms() + drain_ms, left;
	struct timespec ts;

	while ((left = end - tf_mono_ms()) > 0) {
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		if (sigtimedwait(set, NULL, &ts) >= 0 || errno != EINTR)
			return;
	}
}

/* Writes ss's address into out: "127.0.0.1" or "[::1]". */
static void
addr_text(const struct sockaddr_storage *ss, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    host, sizeof(host));
		snprintf(out, n, "[%s]", host);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, host,
		    sizeof(host));
		snprintf(out, n, "%s", host);
	}
}

/* Parses the rate in environment variable var (unset or empty: dflt) into
 * *r. False after a message naming var. */
static bool
parse_rate_env(const char *var, const char *dflt, struct rate *r,
    const char *cmd)
{
	const char *text = getenv(var);
	char why[160];

	if (text == NULL || text[0] == '\0')
		text = dflt;
	if (rate_parse(text, r, why, sizeof(why)) == TF_OK)
		return true;
	cli_usage_error(cmd, "%s: %s", var, why);
	return false;
}

int
cmd_serve(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "metrics-listen", required_argument, NULL, 'm' },
		{ "no-auth", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *listen = NULL, *text, *mlisten;
	struct sockaddr_storage ss, mss;
	socklen_t ss_len, mss_len;
	struct api_keyring *keys = NULL;
	struct api_metrics *metrics = NULL;
	struct api_health *health = NULL;
	struct api_history *history = NULL;
	struct api_metrics_server *msrv = NULL;
	struct api_origins origins = { 0 };
	struct tf_runner_set *runners = NULL;
	struct api_server *srv = NULL;
	struct api_config cfg;
	struct rate rate, auth_rate;
	char err[512], why[160], host[INET6_ADDRSTRLEN + 2];
	sigset_t set;
	bool no_auth = false;
	long long per_address;
	int64_t drain_ms = 0, stats_every_ms = 0;
	int ch, sig, code = EXIT_USAGE;
	enum tf_err rc;

	mlisten = getenv("TASKFLEET_API_METRICS_LISTEN");
	if (mlisten != NULL && mlisten[0] == '\0')
		mlisten = NULL;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 'm':
			mlisten = optarg;
			break;
		case 'A':
			no_auth = true;
			break;
		case 'h':
			serve_help();
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (listen == NULL)
		return cli_usage_error(cmd, "--listen is required (see %s --help)", cmd);
	if (tf_listen_addr_parse(listen, &ss, &ss_len, why, sizeof(why)) != TF_OK)
		return cli_usage_error(cmd, "--listen: %s", why);
	if (mlisten != NULL && tf_listen_addr_parse(mlisten, &mss, &mss_len, why,
	    sizeof(why)) != TF_OK)
		return cli_usage_error(cmd, "--metrics-listen "
		    "(TASKFLEET_API_METRICS_LISTEN): %s", why);
	if (no_auth) {
		if (tf_addr_classify((const struct sockaddr *)&ss) != TF_ADDR_LOOPBACK)
			return cli_usage_error(cmd, "--no-auth: only on a loopback "
			    "address (127.0.0.1, [::1]); elsewhere set TASKFLEET_API_KEYS");
	} else if (getenv("TASKFLEET_API_KEYS") == NULL &&
	    getenv("TASKFLEET_API_KEYS_SECRET") == NULL &&
	    getenv("TASKFLEET_API_KEYS_PARAMETER") == NULL) {
		return cli_usage_error(cmd, "no API keys: set TASKFLEET_API_KEYS, "
		    "TASKFLEET_API_KEYS_SECRET or TASKFLEET_API_KEYS_PARAMETER (see "
		    "%s --help), or give --no-auth on a loopback address", cmd);
	}
	if (api_origins_parse(getenv("TASKFLEET_API_CORS_ORIGINS"), &origins, err,
	    sizeof(err)) != TF_OK) {
		cli_usage_error(cmd, "%s", err);
		goto out;
	}
	if (!parse_rate_env("TASKFLEET_API_RATE", API_RATE_DEFAULT, &rate, cmd) ||
	    !parse_rate_env("TASKFLEET_API_AUTH_RATE", API_AUTH_RATE_DEFAULT,
	    &auth_rate, cmd))
		goto out;
	per_address = API_PER_ADDRESS_CONNECTIONS;
	text = getenv("TASKFLEET_API_PER_ADDRESS");
	if (text != NULL && text[0] != '\0' && !cli_parse_int(text, 1,
	    API_MAX_CONNECTIONS, &per_address)) {
		cli_usage_error(cmd, "TASKFLEET_API_PER_ADDRESS: expected a number "
		    "from 1 to %d, got \"%.32s\"", API_MAX_CONNECTIONS, text);
		goto out;
	}
	text = getenv("TASKFLEET_API_DRAIN");
	if (text != NULL && text[0] != '\0' && (tf_timefmt_parse_duration(text,
	    &drain_ms, why, sizeof(why)) != TF_OK || drain_ms > API_DRAIN_MAX_MS)) {
		cli_usage_error(cmd, "TASKFLEET_API_DRAIN: expected a duration up to "
		    "5m, got \"%.32s\"", text);
		goto out;
	}
	text = getenv("TASKFLEET_API_STATS_EVERY");
	if (text == NULL || text[0] == '\0')
		text = API_HISTORY_EVERY_DEFAULT;
	if (strcmp(text, "off") != 0 && (tf_timefmt_parse_duration(text,
	    &stats_every_ms, why, sizeof(why)) != TF_OK || stats_every_ms < 1000)) {
		cli_usage_error(cmd, "TASKFLEET_API_STATS_EVERY: expected a duration "
		    "of at least 1s, or off, got \"%.32s\"", text);
		goto out;
	}

	code = EXIT_FAILED;
	rc = tf_runner_set_load(c->cfg.runners, &runners, err, sizeof(err));
	if (rc != TF_OK) {
		fprintf(stderr, "%s: cannot load the runners that task types are "
		    "checked against: %s (TASKFLEET_RUNNERS says where they are)\n",
		    cmd, err);
		goto out;
	}
	if ((code = cli_open(c)) != 0)
		goto out;
	code = EXIT_FAILED;
	metrics = api_metrics_new();
	health = api_health_new(c);
	if (metrics == NULL || health == NULL) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		goto out;
	}
	if (!no_auth) {
		rc = api_keyring_open(c->ctx.aws, metrics, &keys, err, sizeof(err));
		if (rc == TF_ERR_INVALID) {
			code = cli_usage_error(cmd, "%s", err);
			goto out;
		}
		if (rc != TF_OK) {
			fprintf(stderr, "%s: reading the API keys: %s\n", cmd, err);
			goto out;
		}
	}
	rc = tf_context_resolve_queue(&c->ctx, &c->cfg);
	if (rc != TF_OK) {
		code = cli_aws_error(cmd, "finding the queue", rc);
		goto out;
	}

	/* The signals are taken by sigwait() below: blocked before the
	 * server's threads start, so they inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	cfg.cli = c;
	cfg.runners = runners;
	cfg.keys = keys;
	cfg.metrics = metrics;
	cfg.health = health;
	cfg.history = NULL;
	if (stats_every_ms > 0) {
		history = api_history_new(c, stats_every_ms);
		if (history == NULL || api_history_start(history) != TF_OK) {
			fprintf(stderr, "%s: cannot start the thread that samples the "
			    "stats\n", cmd);
			goto out;
		}
		cfg.history = history;
	}
	cfg.origins = &origins;
	cfg.rate = &rate;
	cfg.auth_rate = &auth_rate;
	cfg.per_address = (unsigned int)per_address;
	code = EXIT_FAILED;
	if (api_server_start((const struct sockaddr *)&ss, &cfg, &srv, err,
	    sizeof(err)) != TF_OK) {
		fprintf(stderr, "%s: --listen %s: %s\n", cmd, listen, err);
		goto out;
	}
	addr_text(&ss, host, sizeof(host));
	fprintf(stderr, "%s: listening on http://%s:%d%s\n", cmd, host,
	    api_server_port(srv), keys == NULL ? " (no authentication)" : "");
	if (mlisten != NULL) {
		if (api_metrics_server_start((const struct sockaddr *)&mss, metrics,
		    health, &msrv, err, sizeof(err)) != TF_OK) {
			fprintf(stderr, "%s: --metrics-listen %s: %s\n", cmd, mlisten,
			    err);
			api_server_stop(srv);
			goto out;
		}
		addr_text(&mss, host, sizeof(host));
		fprintf(stderr, "%s: metrics on http://%s:%d/metrics\n", cmd, host,
		    api_metrics_server_port(msrv));
	}
	fflush(stderr);
	if (api_keyring_start(keys) != TF_OK) {
		fprintf(stderr, "%s: cannot start the thread that reloads the API "
		    "keys\n", cmd);
		api_metrics_server_stop(msrv);
		api_server_stop(srv);
		goto out;
	}
	do {
		ch = sigwait(&set, &sig);
	} while (ch != 0);
	/* The probes say so first: a load balancer stops sending (within
	 * TASKFLEET_API_DRAIN, while the API still answers), then the
	 * requests in progress end. */
	api_health_stopping(health);
	if (drain_ms > 0) {
		fprintf(stderr, "%s: draining for %lld ms (signal %d)\n", cmd,
		    (long long)drain_ms, sig);
		fflush(stderr);
		drain(&set, drain_ms);
	}
	fprintf(stderr, "%s: stopping (signal %d)\n", cmd, sig);
	api_metrics_server_stop(msrv);
	api_server_stop(srv);
	code = 0;
out:
	api_history_free(history);
	api_origins_free(&origins);
	api_keyring_free(keys);
	api_health_free(health);
	api_metrics_free(metrics);
	tf_runner_set_free(runners);
	return code;
}
