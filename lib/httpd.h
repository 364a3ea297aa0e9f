/*
 * httpd.h - starting and stopping a libmicrohttpd server the way both of
 * taskfleet's servers run one (the consumer's --metrics-listen server and
 * `taskfleet serve`): bound to one address, a thread per connection, a cap
 * on connections and an idle timeout, and the library's own messages
 * logged as warnings, or, while it starts, kept as the reason it could not.
 */
#ifndef TF_HTTPD_H
#define TF_HTTPD_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "err.h"

/* What differs between the servers. Pointers are borrowed for the server's
 * life. */
struct tf_httpd_config {
	const char *name;                       /* "api server": log prefix */
	MHD_AccessHandlerCallback handler;
	void *handler_cls;
	MHD_RequestCompletedCallback completed; /* NULL: none */
	void *completed_cls;
	unsigned int max_connections;
	unsigned int idle_timeout_s;
};

/* A running server; embed it in the server's own struct. */
struct tf_httpd {
	struct MHD_Daemon *d;
	int port;                  /* the port bound (the one chosen for 0) */
	const char *name;
	atomic_int starting;       /* messages go to start_error meanwhile */
	char start_error[256];
};

/* Starts h on addr (AF_INET or AF_INET6, as tf_listen_addr_parse() gives;
 * borrowed). TF_OK, or TF_ERR_IO with "cannot listen: REASON" in err (a port
 * in use, an address the host does not have); h is then not running. */
enum tf_err tf_httpd_start(struct tf_httpd *h, const struct sockaddr *addr,
    const struct tf_httpd_config *c, char *err, size_t errlen);

/* Stops h after the requests in progress have been answered. A server that
 * never started (d NULL) is fine. */
void tf_httpd_stop(struct tf_httpd *h);

#endif /* TF_HTTPD_H */
