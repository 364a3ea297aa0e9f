/* api_metrics.c - `taskfleet serve`'s counters, their exposition and the
 * --metrics-listen server (api_metrics.h). */
#include "api_metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api_health.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/version.h"
#include "server/httpd.h"
#include "server/prom.h"

/* Latency bucket bounds, in milliseconds (exposed in seconds). */
static const int64_t latency_bounds_ms[] = {
	1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
};
#define N_LATENCY (sizeof(latency_bounds_ms) / sizeof(latency_bounds_ms[0]))

/* The routes and the (route, method, status) triples counted; past these,
 * a request counts under the last slot's "other". The server has about a
 * dozen route templates and a dozen statuses. */
#define MAX_ROUTES 32
#define MAX_SLOTS 256

static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

struct route_slot {
	const char *route;                   /* borrowed: a literal */
	struct tf_prom_histogram latency;
};

struct request_slot {
	const char *route;                   /* borrowed: a literal */
	const char *method;                  /* one of methods[], or "other" */
	unsigned int status;
	long n;
};

static const char *const refusal_names[API__REFUSALS] = {
	[API_AUTH_MISSING] = "missing",
	[API_AUTH_UNKNOWN] = "unknown",
	[API_LIMIT_KEY] = "key",
	[API_LIMIT_ADDRESS] = "address",
	[API_LIMIT_UNKNOWN_KEYS] = "unknown_keys",
};

static const char *const load_names[API__KEY_LOADS] = {
	[API_KEYS_LOADED] = "loaded",
	[API_KEYS_FAILED] = "failed",
};

struct api_metrics {
	int64_t start_ms;                    /* epoch ms of api_metrics_new() */
	atomic_long in_flight;
	atomic_long refused[API__REFUSALS];
	atomic_long key_loads[API__KEY_LOADS];
	atomic_long n_keys;
	atomic_llong keys_loaded_ms;         /* epoch ms of the last load; 0:
	                                        none */
	pthread_mutex_t lock;                /* guards the arrays below */
	struct route_slot routes[MAX_ROUTES];
	size_t n_routes;
	struct request_slot slots[MAX_SLOTS];
	size_t n_slots;
};

struct api_metrics *
api_metrics_new(void)
{
	struct api_metrics *m = tf_calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->start_ms = tf_now_ms();
	return m;
}

void
api_metrics_free(struct api_metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	tf_free(m);
}

void
api_metrics_begin(struct api_metrics *m)
{
	if (m != NULL)
		atomic_fetch_add(&m->in_flight, 1);
}

/* The method's label: one of methods[], or "other" (no label of the
 * client's choosing). */
static const char *
method_label(const char *method)
{
	size_t i;

	for (i = 0; method != NULL && i < N_METHODS; i++)
		if (strcmp(methods[i], method) == 0)
			return methods[i];
	return "other";
}

void
api_metrics_end(struct api_metrics *m, const char *route, const char *method,
    unsigned int status, int64_t ms)
{
	const char *meth = method_label(method);
	struct route_slot *r = NULL;
	struct request_slot *s = NULL;
	size_t i;

	if (m == NULL)
		return;
	atomic_fetch_sub(&m->in_flight, 1);
	if (status == 0)
		return;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n_routes && r == NULL; i++)
		if (strcmp(m->routes[i].route, route) == 0)
			r = &m->routes[i];
	if (r == NULL && m->n_routes < MAX_ROUTES) {
		r = &m->routes[m->n_routes++];
		r->route = route;
	}
	for (i = 0; i < m->n_slots && s == NULL; i++)
		if (m->slots[i].status == status && m->slots[i].method == meth &&
		    strcmp(m->slots[i].route, route) == 0)
			s = &m->slots[i];
	if (s == NULL && m->n_slots < MAX_SLOTS - 1) {
		s = &m->slots[m->n_slots++];
		*s = (struct request_slot){ route, meth, status, 0 };
	} else if (s == NULL) {
		s = &m->slots[MAX_SLOTS - 1];
		*s = (struct request_slot){ "other", "other", 0, s->n };
		m->n_slots = MAX_SLOTS;
	}
	s->n++;
	pthread_mutex_unlock(&m->lock);
	if (r != NULL)
		tf_prom_observe(&r->latency, latency_bounds_ms, N_LATENCY, ms);
}

void
api_metrics_refused(struct api_metrics *m, enum api_refusal why)
{
	if (m != NULL && (unsigned)why < API__REFUSALS)
		atomic_fetch_add(&m->refused[why], 1);
}

void
api_metrics_keys(struct api_metrics *m, enum api_key_load result,
    size_t n_keys)
{
	if (m == NULL || (unsigned)result >= API__KEY_LOADS)
		return;
	atomic_fetch_add(&m->key_loads[result], 1);
	if (result == API_KEYS_LOADED) {
		atomic_store(&m->n_keys, (long)n_keys);
		atomic_store(&m->keys_loaded_ms, tf_now_ms());
	}
}

/* The process's CPU time, resident memory and open files (cheap: one
 * getrusage, one small /proc read and one directory listing). */
static void
process_metrics(struct tf_prom *o)
{
	struct rusage ru;
	struct dirent *de;
	DIR *d;
	FILE *f;
	long pages = 0, rss = 0, fds = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		tf_prom_family(o, "process_cpu_seconds_total", "counter",
		    "User and system CPU time spent, in seconds.");
		tf_prom_put(o, "process_cpu_seconds_total %.3f\n",
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	f = fopen("/proc/self/statm", "r");
	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss) == 2) {
			tf_prom_family(o, "process_resident_memory_bytes", "gauge",
			    "Resident memory size in bytes.");
			tf_prom_put(o, "process_resident_memory_bytes %ld\n",
			    rss * sysconf(_SC_PAGESIZE));
		}
		fclose(f);
	}
	d = opendir("/proc/self/fd");
	if (d != NULL) {
		while ((de = readdir(d)) != NULL)
			fds += de->d_name[0] != '.';
		closedir(d);
		tf_prom_family(o, "process_open_fds", "gauge",
		    "Open file descriptors.");
		tf_prom_sample(o, "process_open_fds", fds - 1); /* the listing's */
	}
}

enum tf_err
api_metrics_render(struct api_metrics *m, struct tf_buf *b)
{
	struct tf_prom o = { b, TF_OK };
	struct request_slot slots[MAX_SLOTS];
	const char *routes[MAX_ROUTES];
	size_t n_slots, n_routes, i;
	int k;

	pthread_mutex_lock(&m->lock);
	n_slots = m->n_slots;
	memcpy(slots, m->slots, n_slots * sizeof(slots[0]));
	n_routes = m->n_routes;
	for (i = 0; i < n_routes; i++)
		routes[i] = m->routes[i].route;
	pthread_mutex_unlock(&m->lock);

	tf_prom_family(&o, "taskfleet_build_info", "gauge",
	    "taskfleet serve's version (always 1).");
	tf_prom_put(&o, "taskfleet_build_info{");
	tf_prom_label(&o, true, "version", TF_VERSION);
	tf_prom_put(&o, "} 1\n");
	tf_prom_family(&o, "taskfleet_start_time_seconds", "gauge",
	    "When taskfleet serve started, in seconds since the epoch.");
	tf_prom_put(&o, "taskfleet_start_time_seconds %.3f\n",
	    (double)m->start_ms / 1000.0);

	tf_prom_family(&o, "taskfleet_api_requests_total", "counter",
	    "API requests answered, by route template, method and status.");
	for (i = 0; i < n_slots; i++) {
		tf_prom_put(&o, "taskfleet_api_requests_total{");
		tf_prom_label(&o, true, "route", slots[i].route);
		tf_prom_label(&o, false, "method", slots[i].method);
		tf_prom_put(&o, ",status=\"%u\"} %ld\n", slots[i].status,
		    slots[i].n);
	}
	tf_prom_family(&o, "taskfleet_api_request_duration_seconds", "histogram",
	    "How long API requests took, from their headers to their answer, "
	    "by route template.");
	/* A route slot is never removed or moved: read without the lock. */
	for (i = 0; i < n_routes; i++)
		tf_prom_histogram_series(&o, "taskfleet_api_request_duration_seconds",
		    "route", routes[i], &m->routes[i].latency, latency_bounds_ms,
		    N_LATENCY);
	tf_prom_family(&o, "taskfleet_api_requests_in_flight", "gauge",
	    "API requests being received or answered.");
	tf_prom_sample(&o, "taskfleet_api_requests_in_flight",
	    atomic_load(&m->in_flight));
	tf_prom_family(&o, "taskfleet_api_auth_failures_total", "counter",
	    "Requests refused 401, by reason (missing: no bearer token; unknown: "
	    "a key not configured).");
	for (k = API_AUTH_MISSING; k <= API_AUTH_UNKNOWN; k++)
		tf_prom_put(&o, "taskfleet_api_auth_failures_total{reason=\"%s\"} "
		    "%ld\n", refusal_names[k], atomic_load(&m->refused[k]));
	tf_prom_family(&o, "taskfleet_api_rate_limited_total", "counter",
	    "Requests refused 429 rate_limited, by the limit they were over.");
	for (k = API_LIMIT_KEY; k < API__REFUSALS; k++)
		tf_prom_put(&o, "taskfleet_api_rate_limited_total{limit=\"%s\"} "
		    "%ld\n", refusal_names[k], atomic_load(&m->refused[k]));
	tf_prom_family(&o, "taskfleet_api_keys", "gauge",
	    "API keys configured now.");
	tf_prom_sample(&o, "taskfleet_api_keys", atomic_load(&m->n_keys));
	tf_prom_family(&o, "taskfleet_api_key_loads_total", "counter",
	    "Loads of the API keys from their source, by result.");
	for (k = 0; k < API__KEY_LOADS; k++)
		tf_prom_put(&o, "taskfleet_api_key_loads_total{result=\"%s\"} %ld\n",
		    load_names[k], atomic_load(&m->key_loads[k]));
	tf_prom_family(&o, "taskfleet_api_keys_loaded_time_seconds", "gauge",
	    "When the API keys were last loaded, in seconds since the epoch.");
	tf_prom_put(&o, "taskfleet_api_keys_loaded_time_seconds %.3f\n",
	    (double)atomic_load(&m->keys_loaded_ms) / 1000.0);
	process_metrics(&o);
	return o.rc;
}

/* --- --metrics-listen ---------------------------------------------------- */

struct api_metrics_server {
	struct tf_httpd http;
	struct api_metrics *m;       /* borrowed */
	struct api_health *health;   /* borrowed */
};

/* Queues a reply with a copy of body. */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int status, const char *type,
    const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

#define TEXT "text/plain; charset=utf-8"

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct api_metrics_server *srv = cls;
	struct tf_buf b = TF_BUF_INIT;
	char why[700];
	enum MHD_Result ret;
	bool ok;

	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/healthz") != 0 &&
	    strcmp(url, "/readyz") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, TEXT, "not found\n", 10);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, TEXT,
		    "method not allowed\n", 19);
	if (strcmp(url, "/metrics") != 0) {
		ok = url[1] == 'h' ? api_health_live(srv->health, why, sizeof(why)) :
		    api_health_ready(srv->health, why, sizeof(why));
		return reply(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
		    TEXT, why, strlen(why));
	}
	if (api_metrics_render(srv->m, &b) != TF_OK) {
		tf_buf_free(&b);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, TEXT,
		    "out of memory\n", 14);
	}
	ret = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
	    tf_buf_str(&b), b.len);
	tf_buf_free(&b);
	return ret;
}

enum tf_err
api_metrics_server_start(const struct sockaddr *addr, struct api_metrics *m,
    struct api_health *health, struct api_metrics_server **out, char *err,
    size_t errlen)
{
	struct api_metrics_server *srv;
	struct tf_httpd_config hc;
	enum tf_err rc;

	*out = NULL;
	srv = tf_calloc(1, sizeof(*srv));
	if (srv == NULL) {
		tf_errf(err, errlen, "out of memory");
		return TF_ERR_NOMEM;
	}
	srv->m = m;
	srv->health = health;
	/* As the consumer's: few connections, a few per client address, a
	 * short deadline for a request. */
	hc = (struct tf_httpd_config){
		.name = "metrics server", .handler = handle, .handler_cls = srv,
		.max_connections = 64, .per_address_limit = 8,
		.idle_timeout_s = 10, .request_timeout_s = 5,
	};
	rc = tf_httpd_start(&srv->http, addr, &hc, err, errlen);
	if (rc != TF_OK) {
		tf_free(srv);
		return rc;
	}
	*out = srv;
	return TF_OK;
}

int
api_metrics_server_port(const struct api_metrics_server *s)
{
	return s->http.port;
}

void
api_metrics_server_stop(struct api_metrics_server *s)
{
	if (s == NULL)
		return;
	tf_httpd_stop(&s->http);
	tf_free(s);
}
