/* metrics.c - the consumer's counters, their exposition, and /metrics,
 * /healthz and /readyz over libmicrohttpd. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "aws/ready.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/version.h"
#include "consumer.h"
#include "server/httpd.h"
#include "server/prom.h"

/* Histogram bucket bounds, in milliseconds (exposed in seconds). */
static const int64_t duration_bounds_ms[] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
	300000, 900000, 3600000,
};
static const int64_t lateness_bounds_ms[] = {
	10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
	900000,
};
#define N_DURATION (sizeof(duration_bounds_ms) / sizeof(duration_bounds_ms[0]))
#define N_LATENESS (sizeof(lateness_bounds_ms) / sizeof(lateness_bounds_ms[0]))

/* The counters of one runner. */
struct runner_slot {
	char name[72];                         /* a runner name is at most 64 */
	atomic_long runs[TF_METRICS__OUTCOMES];
	struct tf_prom_histogram duration;
	struct tf_prom_histogram lateness;
};

struct tf_metrics {
	int64_t start_ms;                      /* epoch ms of tf_metrics_new() */
	atomic_long received;
	atomic_long released;
	atomic_long malformed;
	atomic_long claims_won;
	atomic_long chained;
	atomic_long limited;                   /* runs limits held back */
	atomic_llong limited_ms;               /* and how long, in total */
	atomic_long claims_lost[TF_METRICS__LOST];
	size_t n_runners;                      /* set once; the last slot is
	                                          TF_METRICS_UNKNOWN_RUNNER */
	struct runner_slot *runners;           /* owned array */
};

static const char *const outcome_names[TF_METRICS__OUTCOMES] = {
	[TF_METRICS_SUCCESS] = "success",
	[TF_METRICS_COMPLETED] = "completed",
	[TF_METRICS_RETRY] = "retry",
	[TF_METRICS_FAILED] = "failed",
	[TF_METRICS_LEASE_LOST] = "lease_lost",
	[TF_METRICS_WRITE_FAILED] = "write_failed",
	[TF_METRICS_PAUSED] = "paused",
};

static const char *const lost_names[TF_METRICS__LOST] = {
	[TF_METRICS_LOST_STALE] = "stale",
	[TF_METRICS_LOST_EARLY] = "early",
	[TF_METRICS_LOST_FINISHED] = "finished",
	[TF_METRICS_LOST_MISSING] = "missing",
	[TF_METRICS_LOST_INVALID] = "invalid",
	[TF_METRICS_LOST_CHANGED] = "changed",
	[TF_METRICS_LOST_ERROR] = "error",
};

/* The error label of taskfleet_aws_errors_total, by enum tf_err. */
static const char *const error_names[TF_ERR__COUNT] = {
	[TF_OK] = "none",
	[TF_ERR_NOMEM] = "nomem",
	[TF_ERR_INVALID] = "invalid",
	[TF_ERR_PARSE] = "parse",
	[TF_ERR_IO] = "io",
	[TF_ERR_TIMEOUT] = "timeout",
	[TF_ERR_THROTTLED] = "throttled",
	[TF_ERR_CONDITION] = "condition",
	[TF_ERR_NOT_FOUND] = "not_found",
	[TF_ERR_EXISTS] = "exists",
	[TF_ERR_VALIDATION] = "validation",
	[TF_ERR_ACCESS_DENIED] = "access_denied",
	[TF_ERR_CREDENTIALS] = "credentials",
	[TF_ERR_SERVER] = "server",
	[TF_ERR_AWS] = "aws",
	[TF_ERR_TOO_LARGE] = "too_large",
	[TF_ERR_PARTIAL] = "partial",
	[TF_ERR_CANCELLED] = "cancelled",
};

static const char *const service_names[TF_AWS__SERVICES] = {
	[TF_AWS_SQS] = "sqs",
	[TF_AWS_DYNAMODB] = "dynamodb",
	[TF_AWS_SECRETSMANAGER] = "secretsmanager",
	[TF_AWS_SSM] = "ssm",
	[TF_AWS_SNS] = "sns",
	[TF_AWS_LAMBDA] = "lambda",
	[TF_AWS_EVENTS] = "events",
	[TF_AWS_SFN] = "states",
};

struct tf_metrics *
tf_metrics_new(const struct tf_runner_set *set)
{
	struct tf_metrics *m = tf_calloc(1, sizeof(*m));
	size_t n = set != NULL ? tf_runner_set_count(set) : 0, i;

	if (m == NULL)
		return NULL;
	m->runners = tf_calloc(n + 1, sizeof(*m->runners));
	if (m->runners == NULL) {
		tf_free(m);
		return NULL;
	}
	for (i = 0; i < n; i++)
		snprintf(m->runners[i].name, sizeof(m->runners[i].name), "%s",
		    tf_loaded_runner_name(tf_runner_set_at(set, i)));
	snprintf(m->runners[n].name, sizeof(m->runners[n].name), "%s",
	    TF_METRICS_UNKNOWN_RUNNER);
	m->n_runners = n + 1;
	m->start_ms = tf_now_ms();
	return m;
}

void
tf_metrics_free(struct tf_metrics *m)
{
	if (m == NULL)
		return;
	tf_free(m->runners);
	tf_free(m);
}

void
tf_metrics_received(struct tf_metrics *m, size_t n)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->received, (long)n, memory_order_relaxed);
}

void
tf_metrics_released(struct tf_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->released, 1, memory_order_relaxed);
}

void
tf_metrics_malformed(struct tf_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->malformed, 1, memory_order_relaxed);
}

void
tf_metrics_claim_won(struct tf_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->claims_won, 1, memory_order_relaxed);
}

void
tf_metrics_chained(struct tf_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->chained, 1, memory_order_relaxed);
}

void
tf_metrics_limited(struct tf_metrics *m, int64_t waited_ms)
{
	if (m == NULL)
		return;
	atomic_fetch_add_explicit(&m->limited, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->limited_ms, waited_ms,
	    memory_order_relaxed);
}

void
tf_metrics_claim_lost(struct tf_metrics *m, enum tf_metrics_lost why)
{
	if (m != NULL && (unsigned)why < TF_METRICS__LOST)
		atomic_fetch_add_explicit(&m->claims_lost[why], 1,
		    memory_order_relaxed);
}

void
tf_metrics_totals(const struct tf_metrics *m, struct tf_metrics_totals *out)
{
	size_t r;
	int i;

	memset(out, 0, sizeof(*out));
	for (r = 0; r < m->n_runners; r++)
		for (i = 0; i < TF_METRICS__OUTCOMES; i++)
			out->runs[i] += atomic_load(&m->runners[r].runs[i]);
	for (i = 0; i < TF_METRICS__LOST; i++)
		out->claims_lost[i] = atomic_load(&m->claims_lost[i]);
}

void
tf_metrics_run(struct tf_metrics *m, const char *runner,
    enum tf_metrics_outcome outcome, int64_t duration_ms, bool late_known,
    int64_t late_ms)
{
	struct runner_slot *r;
	size_t i;

	if (m == NULL || (unsigned)outcome >= TF_METRICS__OUTCOMES)
		return;
	/* The names never change after tf_metrics_new(): no lock to look. */
	r = &m->runners[m->n_runners - 1];
	for (i = 0; runner != NULL && i + 1 < m->n_runners; i++) {
		if (strcmp(m->runners[i].name, runner) == 0) {
			r = &m->runners[i];
			break;
		}
	}
	atomic_fetch_add_explicit(&r->runs[outcome], 1, memory_order_relaxed);
	tf_prom_observe(&r->duration, duration_bounds_ms, N_DURATION, duration_ms);
	if (late_known)
		tf_prom_observe(&r->lateness, lateness_bounds_ms, N_LATENESS, late_ms);
}

/* --- the text exposition ------------------------------------------------ */

void
tf_metrics_label_append(struct tf_buf *out, const char *s)
{
	tf_prom_escape(out, s);
}

/* The service label of an operation's counts. */
static const char *
service_label(const struct tf_aws_op_count *op)
{
	return (unsigned)op->service < TF_AWS__SERVICES ?
	    service_names[op->service] : "unknown";
}

/* One taskfleet_aws_* family by service and operation; field picks the
 * count of each operation. */
static void
aws_family(struct tf_prom *o, const struct tf_metrics_sources *s, const char *name,
    const char *help, long (*field)(const struct tf_aws_op_count *))
{
	size_t i;

	tf_prom_family(o, name, "counter", help);
	for (i = 0; i < s->n_ops; i++) {
		const struct tf_aws_op_count *op = &s->ops[i];

		tf_prom_put(o, "%s{", name);
		tf_prom_label(o, true, "service", service_label(op));
		tf_prom_label(o, false, "operation", op->operation);
		tf_prom_put(o, "} %ld\n", field(op));
	}
}

/* The fields aws_family() shows. */
static long
op_calls(const struct tf_aws_op_count *op)
{
	return op->calls;
}

static long
op_requests(const struct tf_aws_op_count *op)
{
	return op->requests;
}

static long
op_throttled(const struct tf_aws_op_count *op)
{
	return op->throttled;
}

enum tf_err
tf_metrics_render(const struct tf_metrics *m,
    const struct tf_metrics_sources *s, struct tf_buf *b)
{
	struct tf_prom o = { b, TF_OK };
	size_t i, k;

	tf_prom_family(&o, "taskfleet_build_info", "gauge",
	    "The consumer's version (always 1).");
	tf_prom_put(&o, "taskfleet_build_info{");
	tf_prom_label(&o, true, "version", TF_VERSION);
	tf_prom_put(&o, "} 1\n");
	tf_prom_family(&o, "taskfleet_start_time_seconds", "gauge",
	    "When the consumer started, in seconds since the epoch.");
	tf_prom_put(&o, "taskfleet_start_time_seconds %.3f\n", (double)m->start_ms / 1000.0);

	tf_prom_family(&o, "taskfleet_messages_received_total", "counter",
	    "SQS messages received.");
	tf_prom_sample(&o, "taskfleet_messages_received_total", atomic_load(&m->received));
	tf_prom_family(&o, "taskfleet_messages_malformed_total", "counter",
	    "Messages whose body is not a task message (deleted).");
	tf_prom_sample(&o, "taskfleet_messages_malformed_total", atomic_load(&m->malformed));
	tf_prom_family(&o, "taskfleet_messages_released_total", "counter",
	    "Received messages handed back unstarted at shutdown.");
	tf_prom_sample(&o, "taskfleet_messages_released_total", atomic_load(&m->released));

	tf_prom_family(&o, "taskfleet_claims_won_total", "counter",
	    "Claims of a task that won and led to a run.");
	tf_prom_sample(&o, "taskfleet_claims_won_total", atomic_load(&m->claims_won));
	tf_prom_family(&o, "taskfleet_runs_chained_total", "counter",
	    "Iterations claimed by the previous iteration's outcome write, with "
	    "no message.");
	tf_prom_sample(&o, "taskfleet_runs_chained_total", atomic_load(&m->chained));
	tf_prom_family(&o, "taskfleet_runs_limited_total", "counter",
	    "Runs that waited for a limit of their keys before starting.");
	tf_prom_sample(&o, "taskfleet_runs_limited_total", atomic_load(&m->limited));
	tf_prom_family(&o, "taskfleet_runs_limited_seconds_total", "counter",
	    "How long runs waited for their keys' limits, in total.");
	tf_prom_put(&o, "taskfleet_runs_limited_seconds_total %.3f\n",
	    (double)atomic_load(&m->limited_ms) / 1000.0);
	tf_prom_family(&o, "taskfleet_claims_lost_total", "counter",
	    "Messages that did not lead to a run, by reason.");
	for (i = 0; i < TF_METRICS__LOST; i++)
		tf_prom_put(&o, "taskfleet_claims_lost_total{reason=\"%s\"} %ld\n",
		    lost_names[i], atomic_load(&m->claims_lost[i]));

	tf_prom_family(&o, "taskfleet_runs_total", "counter",
	    "Runs, by runner and outcome.");
	for (i = 0; i < m->n_runners; i++) {
		for (k = 0; k < TF_METRICS__OUTCOMES; k++) {
			tf_prom_put(&o, "taskfleet_runs_total{");
			tf_prom_label(&o, true, "runner", m->runners[i].name);
			tf_prom_put(&o, ",outcome=\"%s\"} %ld\n", outcome_names[k],
			    atomic_load(&m->runners[i].runs[k]));
		}
	}
	tf_prom_family(&o, "taskfleet_run_duration_seconds", "histogram",
	    "How long runs took, by runner.");
	for (i = 0; i < m->n_runners; i++)
		tf_prom_histogram_series(&o, "taskfleet_run_duration_seconds",
		    "runner", m->runners[i].name, &m->runners[i].duration, duration_bounds_ms,
		    N_DURATION);
	tf_prom_family(&o, "taskfleet_run_lateness_seconds", "histogram",
	    "How long after its due time a run started, by runner.");
	for (i = 0; i < m->n_runners; i++)
		tf_prom_histogram_series(&o, "taskfleet_run_lateness_seconds",
		    "runner", m->runners[i].name, &m->runners[i].lateness, lateness_bounds_ms,
		    N_LATENESS);

	tf_prom_family(&o, "taskfleet_sweeps_total", "counter",
	    "Sweeps of the due index by this consumer's sweeper.");
	tf_prom_sample(&o, "taskfleet_sweeps_total", s->sweeps);
	tf_prom_family(&o, "taskfleet_sweeper_enqueued_total", "counter",
	    "Messages the sweeper sent for tasks without a live one.");
	tf_prom_sample(&o, "taskfleet_sweeper_enqueued_total", s->sweeper_enqueued);
	tf_prom_family(&o, "taskfleet_sweeper_recovered_total", "counter",
	    "Runs whose lease expired that the sweeper took back.");
	tf_prom_sample(&o, "taskfleet_sweeper_recovered_total", s->sweeper_recovered);

	aws_family(&o, s, "taskfleet_aws_calls_total",
	    "AWS API calls, by service and operation.", op_calls);
	aws_family(&o, s, "taskfleet_aws_requests_total",
	    "HTTP requests to AWS, retries included, by service and operation.",
	    op_requests);
	aws_family(&o, s, "taskfleet_aws_throttled_requests_total",
	    "AWS requests answered with throttling, by service and operation.",
	    op_throttled);
	tf_prom_family(&o, "taskfleet_aws_errors_total", "counter",
	    "AWS API calls that failed after their retries, by service, "
	    "operation and error.");
	for (i = 0; i < s->n_ops; i++) {
		for (k = 1; k < TF_ERR__COUNT; k++) {
			if (s->ops[i].errors[k] == 0)
				continue;
			tf_prom_put(&o, "taskfleet_aws_errors_total{");
			tf_prom_label(&o, true, "service", service_label(&s->ops[i]));
			tf_prom_label(&o, false, "operation", s->ops[i].operation);
			tf_prom_put(&o, ",error=\"%s\"} %ld\n", error_names[k] ? error_names[k] :
			    "other", s->ops[i].errors[k]);
		}
	}
	tf_prom_family(&o, "taskfleet_aws_retries_total", "counter",
	    "AWS requests that were retries.");
	tf_prom_sample(&o, "taskfleet_aws_retries_total", s->aws_retries);
	tf_prom_family(&o, "taskfleet_aws_throttled_calls_total", "counter",
	    "AWS calls still throttled after their retries (these lower the "
	    "receive limit).");
	tf_prom_sample(&o, "taskfleet_aws_throttled_calls_total", s->aws_throttled_calls);

	tf_prom_family(&o, "taskfleet_tasks_in_flight", "gauge",
	    "Received messages not yet done (held until due, waiting for a slot, "
	    "or being processed).");
	tf_prom_sample(&o, "taskfleet_tasks_in_flight", s->in_flight);
	tf_prom_family(&o, "taskfleet_messages_held", "gauge",
	    "Of those, messages that came early, held on a timer until due (they "
	    "take no run's slot).");
	tf_prom_sample(&o, "taskfleet_messages_held", s->held);
	tf_prom_family(&o, "taskfleet_receive_limit", "gauge",
	    "Messages taken at once, lowered while AWS throttles.");
	tf_prom_sample(&o, "taskfleet_receive_limit", s->receive_limit);
	tf_prom_family(&o, "taskfleet_concurrency", "gauge",
	    "Worker threads: tasks run at once at most.");
	tf_prom_sample(&o, "taskfleet_concurrency", s->concurrency);
	return o.rc;
}

/* --- --metrics-listen ----------------------------------------------------- */

struct tf_metrics_server {
	struct tf_httpd http;
	_Atomic(struct tf_consumer *) c;   /* NULL until attached */
	pthread_mutex_t ready_lock;        /* one readiness check at a time;
	                                      guards the fields below */
	int64_t ready_at_ms;               /* monotonic; 0: never checked */
	bool ready_ok;
	char ready_why[600];
};

/* Queues a reply with a copy of body. */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int status, const char *type,
    const char *body, size_t len, bool allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *conn, unsigned int status, const char *text)
{
	return reply(conn, status, "text/plain; charset=utf-8", text,
	    strlen(text), status == MHD_HTTP_METHOD_NOT_ALLOWED);
}

/* Adds the counts of add to those of ops[*n] with the same operation. */
static void
merge_ops(struct tf_aws_op_count *ops, size_t *n, size_t max,
    const struct tf_aws_op_count *add, size_t n_add)
{
	size_t i, k, e;

	for (i = 0; i < n_add; i++) {
		for (k = 0; k < *n && strcmp(ops[k].operation, add[i].operation) != 0;
		    k++)
			;
		if (k == *n) {
			if (*n < max)
				ops[(*n)++] = add[i];
			continue;
		}
		ops[k].calls += add[i].calls;
		ops[k].requests += add[i].requests;
		ops[k].throttled += add[i].throttled;
		ops[k].failed += add[i].failed;
		for (e = 0; e < TF_ERR__COUNT; e++)
			ops[k].errors[e] += add[i].errors[e];
	}
}

/* Renders the metrics of c into b. */
static enum tf_err
render_consumer(struct tf_consumer *c, struct tf_buf *b)
{
	struct tf_aws_op_count *ops = NULL, *hb = NULL;
	struct tf_metrics_sources s;
	struct tf_aws_stats *st;
	struct tf_sweeper_stats *sw;
	size_t n_hb;
	enum tf_err rc = TF_ERR_NOMEM;

	memset(&s, 0, sizeof(s));
	ops = tf_calloc(TF_AWS_MAX_OPS * 2, sizeof(*ops));
	hb = tf_calloc(TF_AWS_MAX_OPS, sizeof(*hb));
	if (ops == NULL || hb == NULL)
		goto out;
	s.n_ops = tf_aws_op_counts(c->ctx->aws, ops, TF_AWS_MAX_OPS);
	st = tf_aws_stats(c->ctx->aws);
	s.aws_retries = atomic_load(&st->retries);
	s.aws_throttled_calls = atomic_load(&st->throttled_calls);
	if (c->hb_aws != NULL) {
		/* The heartbeat's client counts with the main one. */
		n_hb = tf_aws_op_counts(c->hb_aws, hb, TF_AWS_MAX_OPS);
		merge_ops(ops, &s.n_ops, TF_AWS_MAX_OPS * 2, hb, n_hb);
		st = tf_aws_stats(c->hb_aws);
		s.aws_retries += atomic_load(&st->retries);
		s.aws_throttled_calls += atomic_load(&st->throttled_calls);
	}
	s.ops = ops;
	if (c->sweeper != NULL) {
		sw = tf_sweeper_stats(c->sweeper);
		s.sweeps = atomic_load(&sw->sweeps);
		s.sweeper_enqueued = atomic_load(&sw->enqueued);
		s.sweeper_recovered = atomic_load(&sw->recovered);
	}
	pthread_mutex_lock(&c->lock);
	s.in_flight = c->busy;
	s.held = atomic_load(&c->held_n);
	pthread_mutex_unlock(&c->lock);
	s.receive_limit = atomic_load(&c->receive_limit);
	s.concurrency = c->o.concurrency;
	rc = tf_metrics_render(c->metrics, &s, b);
out:
	tf_free(ops);
	tf_free(hb);
	return rc;
}

/* True while c does its job; otherwise why says what is wrong. */
static bool
healthy(struct tf_consumer *c, char *why, size_t n)
{
	int64_t now = tf_mono_ms(), since, limit;

	if (atomic_load(&c->stopping)) {
		snprintf(why, n, "stopping%s\n", atomic_load(&c->watchdog_fired) ?
		    " (the watchdog found the consumer stuck)" : "");
		return false;
	}
	/* The watchdog's limit: above the longest a receive with its retries
	 * can take. */
	limit = c->o.watchdog_ms > 0 ? c->o.watchdog_ms : 5 * 60 * 1000;
	since = now - atomic_load(&c->receiver_beat_ms);
	if (since > limit) {
		snprintf(why, n, "the receive loop has made no progress for %lld ms\n",
		    (long long)since);
		return false;
	}
	since = c->hb != NULL ? now - tf_heartbeat_alive_ms(c->hb) : 0;
	if (since > tf_heartbeat_stall_limit_ms(c->o.visibility_s)) {
		snprintf(why, n, "the event loop's heartbeat has not ticked for %lld ms\n",
		    (long long)since);
		return false;
	}
	snprintf(why, n, "ok\n");
	return true;
}

/* True when c can do its job; the AWS answer is reused for a few seconds. */
static bool
ready(struct tf_metrics_server *srv, struct tf_consumer *c, char *why,
    size_t n)
{
	bool ok;

	if (atomic_load(&c->stopping)) {
		snprintf(why, n, "stopping\n");
		return false;
	}
	pthread_mutex_lock(&srv->ready_lock);
	if (srv->ready_at_ms == 0 ||
	    tf_mono_ms() - srv->ready_at_ms >= TF_METRICS_READY_TTL_MS) {
		srv->ready_ok = tf_aws_table_queue_ready(c->ctx->aws, c->cfg->table,
		    c->ctx->queue_url, srv->ready_why, sizeof(srv->ready_why));
		srv->ready_at_ms = tf_mono_ms();
	}
	ok = srv->ready_ok;
	snprintf(why, n, "%s", srv->ready_why);
	pthread_mutex_unlock(&srv->ready_lock);
	/* A consumer whose sweeper cannot query recovers nothing (a missing
	 * table is reported above, as the more basic reason). */
	if (ok && c->sweeper != NULL && tf_sweeper_failing(c->sweeper, why, n))
		ok = false;
	return ok;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct tf_metrics_server *srv = cls;
	struct tf_consumer *c;
	struct tf_buf b = TF_BUF_INIT;
	char why[700];
	enum MHD_Result ret;
	bool ok;

	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/healthz") != 0 &&
	    strcmp(url, "/readyz") != 0)
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n");
	c = atomic_load(&srv->c);
	if (c == NULL)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
	if (strcmp(url, "/healthz") == 0) {
		ok = healthy(c, why, sizeof(why));
		return reply_text(conn, ok ? MHD_HTTP_OK :
		    MHD_HTTP_SERVICE_UNAVAILABLE, why);
	}
	if (strcmp(url, "/readyz") == 0) {
		ok = ready(srv, c, why, sizeof(why));
		return reply_text(conn, ok ? MHD_HTTP_OK :
		    MHD_HTTP_SERVICE_UNAVAILABLE, why);
	}
	if (render_consumer(c, &b) != TF_OK) {
		tf_buf_free(&b);
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory\n");
	}
	ret = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
	    tf_buf_str(&b), b.len, false);
	tf_buf_free(&b);
	return ret;
}

enum tf_err
tf_metrics_server_start(const struct sockaddr *addr, socklen_t addrlen,
    struct tf_metrics_server **out, char *err, size_t errlen)
{
	struct tf_metrics_server *srv;
	struct tf_httpd_config hc;
	enum tf_err rc;

	*out = NULL;
	srv = tf_calloc(1, sizeof(*srv));
	if (srv == NULL) {
		tf_errf(err, errlen, "out of memory");
		return TF_ERR_NOMEM;
	}
	pthread_mutex_init(&srv->ready_lock, NULL);
	(void)addrlen;
	/* Probes and scrapes need few connections; each has its own thread, so
	 * a readiness check waiting for AWS holds up no other request. One
	 * client address may hold a few of them only, and has a few seconds to
	 * send a request, so that the health check still gets through while
	 * one address holds connections open. */
	hc = (struct tf_httpd_config){
		.name = "metrics server", .handler = handle, .handler_cls = srv,
		.max_connections = 64, .per_address_limit = 8,
		.idle_timeout_s = 10, .request_timeout_s = 5,
	};
	rc = tf_httpd_start(&srv->http, addr, &hc, err, errlen);
	if (rc != TF_OK) {
		pthread_mutex_destroy(&srv->ready_lock);
		tf_free(srv);
		return rc;
	}
	*out = srv;
	return TF_OK;
}

int
tf_metrics_server_port(const struct tf_metrics_server *srv)
{
	return srv->http.port;
}

void
tf_metrics_server_attach(struct tf_metrics_server *srv, struct tf_consumer *c)
{
	atomic_store(&srv->c, c);
}

void
tf_metrics_server_stop(struct tf_metrics_server *srv)
{
	if (srv == NULL)
		return;
	tf_httpd_stop(&srv->http);
	pthread_mutex_destroy(&srv->ready_lock);
	tf_free(srv);
}
