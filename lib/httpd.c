/* httpd.c - a libmicrohttpd server as taskfleet runs one (see httpd.h). */
#include "httpd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "listen_addr.h"
#include "log.h"

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's messages: while the server starts, the first is kept as the
 * reason a start failed; afterwards each is a warning prefixed with the
 * server's name. Trailing newlines are dropped. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct tf_httpd *h = cls;
	char text[512];
	size_t n;

	vsnprintf(text, sizeof(text), fmt, ap);
	n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	if (atomic_load(&h->starting)) {
		if (h->start_error[0] == '\0')
			snprintf(h->start_error, sizeof(h->start_error), "%s", text);
	} else {
		tf_log(TF_LOG_WARN, "%s: %s", h->name, text);
	}
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
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)c->idle_timeout_s, NULL },
		/* Last, so that without a callback it ends the list. */
		{ c->completed != NULL ? MHD_OPTION_NOTIFY_COMPLETED : MHD_OPTION_END,
		    (intptr_t)c->completed, c->completed_cls },
		{ MHD_OPTION_END, 0, NULL },
	};

	memset(h, 0, sizeof(*h));
	h->name = c->name;
	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	atomic_store(&h->starting, 1);
	h->d = MHD_start_daemon(flags, port, NULL, NULL, c->handler,
	    c->handler_cls, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	atomic_store(&h->starting, 0);
	if (h->d == NULL) {
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
}
