/*
 * taskfleet-consumer - the worker daemon (docs/design.md section 5).
 *
 * Loads the runners, resolves the queue, then receives and processes
 * messages until SIGTERM or SIGINT: it stops receiving at once, lets running
 * tasks finish within --shutdown-timeout, hands unstarted messages back, and
 * exits 0. A second signal exits at once. With --once it also stops, the
 * same way, when nothing more is due (once.h), and prints a summary.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/log.h"
#include "base/version.h"
#include "consumer.h"
#include "host.h"
#include "invoke.h"
#include "metrics.h"
#include "runner_worker.h"
#include "server/listen_addr.h"
#include "task/limits.h"
#include "task/runners.h"
#include "time/timefmt.h"

#define EXIT_USAGE 2

static atomic_int shutdown_done;
static bool shutdown_clean;

/* Runs the graceful shutdown; main() meanwhile watches for a second signal. */
static void *
shutdown_main(void *arg)
{
	shutdown_clean = tf_consumer_shutdown(arg);
	atomic_store(&shutdown_done, 1);
	return NULL;
}

/* Reads a count from min to max from environment variable `name` into *out
 * when it is set and not empty. Returns 0, or -1 after saying why. */
static int
env_count(const char *name, long min, long max, int *out)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return 0;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < min || n > max) {
		fprintf(stderr, "taskfleet-consumer: %s: expected a number from %ld "
		    "to %ld, got \"%s\"\n", name, min, max, v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static void
usage(FILE *to)
{
	fprintf(to,
	    "usage: taskfleet-consumer [--concurrency N] [--visibility-timeout S]\n"
	    "                          [--wait-time S] [--shutdown-timeout S] [--id NAME]\n"
	    "                          [--table NAME] [--queue NAME|URL] [--region REGION]\n"
	    "                          [--isolate NAME,...|*] [--run-timeout DUR|NAME=DUR,...]\n"
	    "                          [--metrics-listen ADDR:PORT] [--once]\n"
	    "                          [--runner-threads N] [--http-max-host-connections N]\n"
	    "       taskfleet-consumer --version | --help\n"
	    "\n"
	    "--once: one sweep (lost messages re-sent, expired leases recovered),\n"
	    "then run what is due at that moment, each task at most once, until a\n"
	    "receive with nothing running comes back empty; messages that came due\n"
	    "later (retries, next iterations) are handed back for the next run.\n"
	    "Prints one summary line on stdout (runs=N completed= succeeded=\n"
	    "retried= failed= errors= left=) and exits 0, or 1 when errors > 0\n"
	    "(an outcome not written, a claim or receive that failed). For cron,\n"
	    "CI and batch jobs.\n"
	    "\n"
	    "--runner-threads N: threads that call blocking runners (default: the\n"
	    "concurrency, at most 16); runs waiting on AWS need no thread.\n"
	    "--http-max-host-connections N: connections open to one webhook host at\n"
	    "once for runners on the event loop, such as the http runner (default: the\n"
	    "concurrency; a webhook waiting for one spends its timeout waiting).\n"
	    "\n"
	    "Settings also come from the environment (TASKFLEET_*, AWS_*): every one is\n"
	    "in docs/configuration.md.\n"
	    "Webhooks (the http runner): TASKFLEET_HTTP_ALLOW opens private and loopback\n"
	    "addresses; TASKFLEET_HTTP_TARGETS=host[:port],*.domain[:port],IP[:port],\n"
	    "CIDR[:port],[IPv6]:port,... allows only the targets it lists.\n"
	    "TASKFLEET_HTTP_TIMEOUT: the time limit of webhooks (the http runner)\n"
	    "whose params set no timeout_ms; default 10s.\n");
}

/* TASKFLEET_WATCHDOG: how long the receive loop may make no progress before
 * the watchdog stops the consumer (a duration; 0 turns it off; default 5m,
 * above the longest a receive with its retries can take). Returns 0, or -1
 * after printing the error. */
static int
watchdog_setting(int64_t *ms)
{
	const char *v = getenv("TASKFLEET_WATCHDOG");
	char why[128];

	*ms = 5 * 60 * 1000;
	if (v == NULL || *v == '\0')
		return 0;
	if (strcmp(v, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (tf_timefmt_parse_duration(v, ms, why, sizeof(why)) != TF_OK ||
	    *ms < 1000) {
		fprintf(stderr, "taskfleet-consumer: TASKFLEET_WATCHDOG: expected 0 "
		    "or a duration of at least 1s, got \"%s\"\n", v);
		return -1;
	}
	return 0;
}

/* Parses a whole number in [lo, hi] for option `name`; exits 2 otherwise. */
static int
int_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "taskfleet-consumer: --%s: expected a number from "
		    "%ld to %ld, got \"%s\"\n", name, lo, hi, v);
		exit(EXIT_USAGE);
	}
	return (int)n;
}

/* Raises the soft limit of open files to the hard one: every run in flight
 * may hold a connection (a webhook waiting on its server), and the default
 * soft limit (often 1024) would refuse sockets long before --concurrency.
 * Warns when even the hard limit is below what concurrency needs. */
static void
raise_open_files(int concurrency)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)concurrency + 256;  /* AWS, the journal, logs */

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		tf_log(TF_LOG_WARN, "open files are limited to %llu (ulimit -Hn) "
		    "for --concurrency %d: runs that need a connection beyond it "
		    "fail and are retried", (unsigned long long)rl.rlim_max,
		    concurrency);
}

/* One malloc arena for the whole process, unless the environment chose
 * (MALLOC_ARENA_MAX, or glibc.malloc.arena_max in GLIBC_TUNABLES). glibc
 * gives each thread that allocates its own arena, 64 MiB reserved and as
 * much touched as that thread's peak: the loop thread, which makes almost
 * every allocation, would then grow a heap of its own beside the main one
 * that start-up left with free space. The other threads (the runner pool,
 * the stopper) allocate little, so sharing one arena costs no waiting to
 * speak of, and the peak RSS is lower by the start-up heap's free space
 * (docs/design.md, "Memory"). */
static void
one_malloc_arena(void)
{
	const char *tunables = getenv("GLIBC_TUNABLES");

	if (getenv("MALLOC_ARENA_MAX") != NULL ||
	    (tunables != NULL && strstr(tunables, "arena_max") != NULL))
		return;
	mallopt(M_ARENA_MAX, 1);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "concurrency", required_argument, NULL, 'c' },
		{ "visibility-timeout", required_argument, NULL, 'v' },
		{ "wait-time", required_argument, NULL, 'w' },
		{ "shutdown-timeout", required_argument, NULL, 's' },
		{ "id", required_argument, NULL, 'i' },
		{ "table", required_argument, NULL, 't' },
		{ "queue", required_argument, NULL, 'q' },
		{ "region", required_argument, NULL, 'r' },
		{ "isolate", required_argument, NULL, 'I' },
		{ "run-timeout", required_argument, NULL, 'T' },
		{ "metrics-listen", required_argument, NULL, 'm' },
		{ "once", no_argument, NULL, 'o' },
		{ "runner-threads", required_argument, NULL, 'R' },
		{ "http-max-host-connections", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct tf_config cfg;
	struct tf_context ctx;
	struct tf_consumer c;
	struct tf_runner_set *runners = NULL;
	char err[1024], host[128], owner[256], listen_at[128];
	struct tf_limits limits = { 0 };  /* TASKFLEET_LIMITS: the defaults */
	const char *id = NULL, *metrics_listen = NULL;
	struct sockaddr_storage metrics_addr;
	socklen_t metrics_addr_len = 0;
	sigset_t sigs;
	siginfo_t info;
	struct timespec poll_ts = { 0, 100 * 1000000L };
	pthread_t stopper;
	enum tf_err rc;
	int ch, sig, code = 1, concurrency = 0;

	/* An isolated runner's worker process (runner_worker.c). */
	if (argc > 1 && strcmp(argv[1], TF_RUNNER_WORKER_ARG) == 0)
		return tf_runner_worker_main(argc, argv);

	memset(&cfg, 0, sizeof(cfg));
	memset(&ctx, 0, sizeof(ctx));
	memset(&c, 0, sizeof(c));
	/* Signals go to sigwait below, never to another thread; blocked from
	 * the start, so a SIGTERM during startup is a clean stop too. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	one_malloc_arena();
	tf_alloc_init();
	if (tf_log_init() != 0)
		fprintf(stderr, "taskfleet-consumer: TASKFLEET_LOG: unknown level; "
		    "using info\n");
	rc = tf_config_load(&cfg, err, sizeof(err));
	if (rc != TF_OK) {
		fprintf(stderr, "taskfleet-consumer: %s\n", rc == TF_ERR_INVALID ?
		    err : tf_strerror(rc));
		return EXIT_USAGE;
	}
	c.o.visibility_s = 60;
	c.o.wait_s = 20;
	c.o.shutdown_timeout_s = 25;
	c.o.skew_ms = 250;
	c.o.hold_max_ms = 1500;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		rc = TF_OK;
		switch (ch) {
		case 'c': concurrency = int_arg("concurrency", optarg, 1, TF_CONCURRENCY_MAX); break;
		case 'v': c.o.visibility_s = int_arg("visibility-timeout", optarg, 2, 43200); break;
		case 'w': c.o.wait_s = int_arg("wait-time", optarg, 0, 20); break;
		case 's': c.o.shutdown_timeout_s = int_arg("shutdown-timeout", optarg, 0, 3600); break;
		case 'i': id = optarg; break;
		case 't': rc = tf_config_set(&cfg.table, optarg); break;
		case 'q':
			rc = strstr(optarg, "://") ? tf_config_set(&cfg.queue_url, optarg) :
			    tf_config_set(&cfg.queue_name, optarg);
			break;
		case 'r': rc = tf_config_set(&cfg.region, optarg); break;
		case 'I': c.o.isolate = optarg; break;      /* checked by tf_consumer_policy() */
		case 'T': c.o.run_timeout = optarg; break;
		case 'm': metrics_listen = optarg; break;
		case 'o': c.o.once = true; break;
		case 'R': c.o.runner_threads = int_arg("runner-threads", optarg, 1, 1024); break;
		case 'H': c.o.http_host_connections = int_arg("http-max-host-connections", optarg, 1, 65536); break;
		case 'h': usage(stdout); code = 0; goto out;
		case 'V': printf("taskfleet-consumer %s\n", TF_VERSION); code = 0; goto out;
		default: usage(stderr); code = EXIT_USAGE; goto out;
		}
		if (rc != TF_OK)
			goto out;
	}
	if (optind != argc) {
		fprintf(stderr, "taskfleet-consumer: unexpected argument \"%s\"\n",
		    argv[optind]);
		code = EXIT_USAGE;
		goto out;
	}
	c.o.concurrency = concurrency ? concurrency : cfg.concurrency;
	if ((c.o.runner_threads == 0 && env_count("TASKFLEET_RUNNER_THREADS", 1,
	    1024, &c.o.runner_threads) != 0) || (c.o.http_host_connections == 0 &&
	    env_count("TASKFLEET_HTTP_MAX_HOST_CONNECTIONS", 1, 65536,
	    &c.o.http_host_connections) != 0)) {
		code = EXIT_USAGE;
		goto out;
	}
	if (id == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "consumer");
		host[sizeof(host) - 1] = '\0';
		snprintf(owner, sizeof(owner), "%s-%d", host, (int)getpid());
	} else {
		snprintf(owner, sizeof(owner), "%s", id);
	}
	c.o.owner = owner;
	/* Every log line names the consumer, from here on. */
	tf_log_set_consumer(owner);
	/* --metrics-listen, else TASKFLEET_METRICS_LISTEN: checked now, bound
	 * once the queue is known, served once the consumer runs. */
	if (metrics_listen == NULL && getenv("TASKFLEET_METRICS_LISTEN") != NULL &&
	    *getenv("TASKFLEET_METRICS_LISTEN") != '\0')
		metrics_listen = getenv("TASKFLEET_METRICS_LISTEN");
	if (metrics_listen != NULL && tf_listen_addr_parse(metrics_listen,
	    &metrics_addr, &metrics_addr_len, err, sizeof(err)) != TF_OK) {
		fprintf(stderr, "taskfleet-consumer: --metrics-listen \"%s\": %s\n",
		    metrics_listen, err);
		code = EXIT_USAGE;
		goto out;
	}
	c.o.duplicate_sends = getenv("TASKFLEET_TEST_DUPLICATE_SENDS") != NULL &&
	    strcmp(getenv("TASKFLEET_TEST_DUPLICATE_SENDS"), "1") == 0;
	if (c.o.duplicate_sends)
		tf_log(TF_LOG_WARN, "TASKFLEET_TEST_DUPLICATE_SENDS=1: sending every "
		    "message twice (a test setting)");
	c.o.stall_receiver = getenv("TASKFLEET_TEST_STALL_RECEIVER") != NULL &&
	    strcmp(getenv("TASKFLEET_TEST_STALL_RECEIVER"), "1") == 0;
	if (watchdog_setting(&c.o.watchdog_ms) != 0) {
		code = EXIT_USAGE;
		goto out;
	}
	if (tf_limits_parse(getenv("TASKFLEET_LIMITS"), &limits, err,
	    sizeof(err)) != TF_OK) {
		fprintf(stderr, "taskfleet-consumer: TASKFLEET_LIMITS: %s\n", err);
		code = EXIT_USAGE;
		goto out;
	}
	c.o.limits = &limits;

	signal(SIGPIPE, SIG_IGN);

	rc = tf_runner_set_load(cfg.runners, &runners, err, sizeof(err));
	/* --isolate, --run-timeout (invoke.c): before init, which skips the
	 * isolated runners; a bad value is a usage error. */
	if (rc == TF_OK && tf_consumer_policy(&c.o, runners, err,
	    sizeof(err)) != TF_OK) {
		fprintf(stderr, "taskfleet-consumer: %s\n", err);
		code = EXIT_USAGE;
		goto out;
	}
	if (rc == TF_OK)
		rc = tf_runner_set_init(runners, tf_host_api(), err, sizeof(err));
	if (rc != TF_OK) {
		fprintf(stderr, "taskfleet-consumer: %s\n", err);
		goto out;
	}
	rc = tf_context_open(&ctx, &cfg);
	if (rc == TF_OK)
		rc = tf_context_resolve_queue(&ctx, &cfg);
	if (rc != TF_OK) {
		fprintf(stderr, "taskfleet-consumer: cannot reach the queue %s: %s "
		    "(%s)\n", cfg.queue_url ? cfg.queue_url : cfg.queue_name,
		    tf_strerror(rc), tf_aws_last_error()->message);
		goto out;
	}
	if (metrics_listen != NULL) {
		rc = tf_metrics_server_start((struct sockaddr *)&metrics_addr,
		    metrics_addr_len, &c.metrics_srv, err, sizeof(err));
		if (rc != TF_OK) {
			fprintf(stderr, "taskfleet-consumer: --metrics-listen %s: %s\n",
			    metrics_listen, err);
			goto out;
		}
		/* The address as bound: a port of 0 was replaced by a free one. */
		snprintf(listen_at, sizeof(listen_at), "%.*s%d",
		    (int)(strrchr(metrics_listen, ':') - metrics_listen + 1),
		    metrics_listen, tf_metrics_server_port(c.metrics_srv));
	}
	c.cfg = &cfg;
	c.ctx = &ctx;
	c.runners = runners;
	raise_open_files(c.o.concurrency);
	rc = tf_consumer_start(&c);
	if (rc != TF_OK) {
		fprintf(stderr, "taskfleet-consumer: cannot start: %s\n", tf_strerror(rc));
		tf_metrics_server_stop(c.metrics_srv);
		c.metrics_srv = NULL;
		goto out;
	}
	if (c.metrics_srv != NULL) {
		struct tf_log_field f[] = { { "metrics", listen_at } };

		tf_metrics_server_attach(c.metrics_srv, &c);
		tf_log_fields(TF_LOG_INFO, f, 1, "consumer %s started: queue %s, "
		    "table %s, %d workers, %zu runners, metrics on http://%s/metrics",
		    owner, ctx.queue_url, cfg.table, c.o.concurrency,
		    tf_runner_set_count(runners), listen_at);
	} else {
		tf_log(TF_LOG_INFO, "consumer %s started: queue %s, table %s, %d "
		    "workers, %zu runners", owner, ctx.queue_url, cfg.table,
		    c.o.concurrency, tf_runner_set_count(runners));
	}

	/* --once stops when the drain is over too (consumer.h: drained). */
	do
		sig = c.o.once ? sigtimedwait(&sigs, &info, &poll_ts) :
		    sigwaitinfo(&sigs, &info);
	while (sig < 0 && !atomic_load(&c.drained));
	if (sig > 0)
		tf_log(TF_LOG_INFO, "signal %d: stopping (shutdown timeout %d s)",
		    sig, c.o.shutdown_timeout_s);
	else
		tf_log(TF_LOG_INFO, "--once: drained; stopping");
	/* Shut down in a thread while this one watches for a second signal,
	 * which exits at once: leases recover whatever was running. */
	if (pthread_create(&stopper, NULL, shutdown_main, &c) != 0) {
		tf_log(TF_LOG_ERROR, "cannot start shutdown; exiting now");
		_exit(1);
	}
	while (!atomic_load(&shutdown_done)) {
		if (sigtimedwait(&sigs, &info, &poll_ts) > 0) {
			tf_log(TF_LOG_WARN, "second signal: exiting now");
			_exit(1);
		}
	}
	pthread_join(stopper, NULL);
	/* Stopped by the watchdog: exit non-zero so the supervisor restarts. */
	code = atomic_load(&c.watchdog_fired) ? TF_WATCHDOG_EXIT : 0;
	if (c.o.once && tf_once_summary(c.once, c.metrics, stdout) > 0 &&
	    code == 0)
		code = 1;
	tf_consumer_log_requests(&c);
	if (!shutdown_clean) {
		tf_log(TF_LOG_WARN, "exiting with runs unfinished");
		_exit(code);
	}
	tf_log(TF_LOG_INFO, "consumer %s stopped", owner);
	tf_consumer_free(&c);
out:
	tf_limits_free(&limits);
	tf_runner_set_free(runners);
	tf_context_free(&ctx);
	tf_config_free(&cfg);
	return code;
}
