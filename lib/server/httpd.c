/* httpd.c - a libmicrohttpd server as taskfleet runs one (see httpd.h). */
#include "server/httpd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/listen_addr.h"

/* How often the deadline watcher looks, and how often the library's
 * "connection limit" messages are logged at most (one address over its
 * limit could otherwise write a line per connection it tries). */
#define WATCH_PERIOD_MS 250
#define LIMIT_LOG_PERIOD_MS 10000

/* One open connection: its socket context, from its start to its close. */
struct tf_httpd_conn {
	struct tf_httpd_conn *prev, *next; /* in h->conns, under h->lock */
	int fd;
	int64_t deadline_ms;     /* monotonic, under h->lock; 0: not receiving */
	/* The request on it now; its own thread's alone. */
	const char *uri_end;     /* the end of the raw URI libmicrohttpd found
	                            (borrowed: compared, never read) */
	unsigned int calls;      /* handler calls for the request so far */
	bool nul;                /* decoding its URL gave a NUL byte */
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's messages: while the server starts, the first is kept as the
 * reason a start failed; afterwards each is a warning prefixed with the
 * server's name, but for connections refused at a limit: one line per
 * LIMIT_LOG_PERIOD_MS, counting the others. Trailing newlines are
 * dropped. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct tf_httpd *h = cls;
	char text[512];
	size_t n;
	int64_t now, last;
	long more;

	vsnprintf(text, sizeof(text), fmt, ap);
	n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	if (atomic_load(&h->starting)) {
		if (h->start_error[0] == '\0')
			snprintf(h->start_error, sizeof(h->start_error), "%s", text);
		return;
	}
	if (strstr(text, "connection limit") != NULL) {
		now = tf_mono_ms();
		last = atomic_load(&h->limit_logged_ms);
		if ((last != 0 && now - last < LIMIT_LOG_PERIOD_MS) ||
		    !atomic_compare_exchange_strong(&h->limit_logged_ms, &last,
		    now)) {
			atomic_fetch_add(&h->limit_unlogged, 1);
			return;
		}
		more = atomic_exchange(&h->limit_unlogged, 0);
		tf_log(TF_LOG_WARN, "%s: %s (%ld more since the last such line)",
		    h->name, text, more);
		return;
	}
	tf_log(TF_LOG_WARN, "%s: %s", h->name, text);
}

/* The connection's own struct; NULL if it could not be made. Borrowed. */
static struct tf_httpd_conn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

/* A connection starts (its struct is made, its deadline set) or closes (its
 * struct is freed; libmicrohttpd closes the socket only after this, so the
 * watcher never shuts down a socket number reused by another). */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct tf_httpd *h = cls;
	struct tf_httpd_conn *c = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		c = tf_calloc(1, sizeof(*c));
		if (c == NULL)
			return;
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->fd = ci != NULL ? ci->connect_fd : -1;
		pthread_mutex_lock(&h->lock);
		c->deadline_ms = tf_mono_ms() + h->request_timeout_ms;
		c->next = h->conns;
		if (h->conns != NULL)
			h->conns->prev = c;
		h->conns = c;
		pthread_mutex_unlock(&h->lock);
		*socket_context = c;
		return;
	}
	if (c == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&h->lock);
	tf_free(c);
	*socket_context = NULL;
}

/* A request line is in: notes where its raw URI ends (libmicrohttpd has
 * cut it at its end, or at a raw NUL byte inside) before the URL is
 * decoded. Returns NULL: the server's handler starts with *con_cls NULL. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct tf_httpd_conn *c = conn_of(conn);

	(void)cls;
	if (c != NULL) {
		c->uri_end = uri != NULL ? uri + strlen(uri) : NULL;
		c->calls = 0;
		c->nul = false;
	}
	return NULL;
}

/* Decodes %HH in s (the path, a query parameter's name or value) as
 * libmicrohttpd does, noting a NUL byte it gives. Returns the decoded
 * length. */
static size_t
unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	struct tf_httpd_conn *c;
	size_t n;

	(void)cls;
	n = MHD_http_unescape(s);
	if (memchr(s, '\0', n) != NULL) {
		c = conn_of(conn);
		if (c != NULL)
			c->nul = true;
	}
	return n;
}

/* The server's handler, after lifting the deadline once the request is all
 * in: the call after the first that brings no body. */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct tf_httpd *h = cls;
	struct tf_httpd_conn *c = conn_of(conn);

	if (c != NULL && c->calls++ > 0 && *upload_data_size == 0) {
		pthread_mutex_lock(&h->lock);
		c->deadline_ms = 0;
		pthread_mutex_unlock(&h->lock);
	}
	return h->handler(h->handler_cls, conn, url, method, version,
	    upload_data, upload_data_size, con_cls);
}

/* A request ends: the next one on the connection has the whole deadline
 * from now. Then the server's own callback. */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct tf_httpd *h = cls;
	struct tf_httpd_conn *c = conn_of(conn);

	if (c != NULL) {
		pthread_mutex_lock(&h->lock);
		c->deadline_ms = tf_mono_ms() + h->request_timeout_ms;
		pthread_mutex_unlock(&h->lock);
	}
	if (h->completed != NULL)
		h->completed(h->completed_cls, conn, con_cls, toe);
}

/* The deadline watcher: every WATCH_PERIOD_MS, shuts down the socket of
 * each connection past its deadline (its thread then reads the end of the
 * stream and closes it), until the server stops. */
static void *
watch_main(void *arg)
{
	struct tf_httpd *h = arg;
	struct tf_httpd_conn *c;
	struct timespec ts;
	int64_t now;

	pthread_mutex_lock(&h->lock);
	while (!h->stopping) {
		now = tf_mono_ms();
		for (c = h->conns; c != NULL; c = c->next) {
			if (c->deadline_ms == 0 || now < c->deadline_ms || c->fd < 0)
				continue;
			shutdown(c->fd, SHUT_RDWR);
			c->deadline_ms = 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WATCH_PERIOD_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&h->wake, &h->lock, &ts);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Starts the deadline watcher; false (nothing to undo) when it cannot. */
static bool
watch_start(struct tf_httpd *h)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&h->lock, NULL);
	if (pthread_create(&h->watcher, NULL, watch_main, h) != 0) {
		pthread_cond_destroy(&h->wake);
		pthread_mutex_destroy(&h->lock);
		return false;
	}
	h->watching = true;
	return true;
}

/* Stops the deadline watcher (after the server: no connection is left). */
static void
watch_stop(struct tf_httpd *h)
{
	if (!h->watching)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->watcher, NULL);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	h->watching = false;
}

enum tf_err
tf_httpd_start(struct tf_httpd *h, const struct sockaddr *addr,
    const struct tf_httpd_config *c, char *err, size_t errlen)
{
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	uint16_t port = tf_listen_addr_port(addr);
	const union MHD_DaemonInfo *info;
	/* The logger first, as libmicrohttpd wants, so that it sees the
	 * messages of the start itself. */
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, h },
		{ MHD_OPTION_SOCK_ADDR, 0, (void *)(uintptr_t)addr },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)c->max_connections, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    (intptr_t)c->per_address_limit, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)c->idle_timeout_s, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h },
		{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h },
		{ MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, h },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
		{ MHD_OPTION_END, 0, NULL },
	};

	memset(h, 0, sizeof(*h));
	h->name = c->name;
	h->handler = c->handler;
	h->handler_cls = c->handler_cls;
	h->completed = c->completed;
	h->completed_cls = c->completed_cls;
	h->request_timeout_ms = (int64_t)c->request_timeout_s * 1000;
	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!watch_start(h)) {
		tf_errf(err, errlen, "cannot listen: cannot start a thread");
		return TF_ERR_IO;
	}
	atomic_store(&h->starting, 1);
	h->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, h,
	    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	atomic_store(&h->starting, 0);
	if (h->d == NULL) {
		watch_stop(h);
		tf_errf(err, errlen, "cannot listen: %s", h->start_error[0] ?
		    h->start_error : "libmicrohttpd could not start");
		return TF_ERR_IO;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info != NULL ? info->port : port;
	return TF_OK;
}

void
tf_httpd_stop(struct tf_httpd *h)
{
	if (h->d != NULL)
		MHD_stop_daemon(h->d);
	h->d = NULL;
	watch_stop(h);
}

bool
tf_httpd_url_intact(struct MHD_Connection *conn, const char *version)
{
	struct tf_httpd_conn *c = conn_of(conn);

	if (c == NULL || c->nul)
		return false;
#if MHD_VERSION < 0x01000000
	/* Before 1.0, libmicrohttpd ends the URI it found by writing a NUL over
	 * the space before the version, which follows: a URI whose string ends
	 * earlier held a raw NUL. (1.0 refuses such a request line itself.) */
	if (c->uri_end == NULL || c->uri_end + 1 != version)
		return false;
#else
	(void)version;
#endif
	return true;
}
