/*
 * httpd.h - starting and stopping a libmicrohttpd server the way both of
 * taskfleet's servers run one (the consumer's --metrics-listen server and
 * `taskfleet serve`): bound to one address, a thread per connection, a cap
 * on connections and an idle timeout, and the library's own messages
 * logged as warnings, or, while it starts, kept as the reason it could not.
 *
 * Against slow clients: a cap on the connections of one client address,
 * and a deadline for receiving a whole request (from the connection's start,
 * or the end of its previous request, until its body is all in) that bytes
 * trickled in one at a time do not extend, unlike the idle timeout; a
 * connection past it is shut down. So one address holding connections open
 * can neither take every connection nor keep one for long.
 *
 * Against a NUL in the URL: libmicrohttpd decodes %00 to a NUL byte, and
 * before 1.0 passes a raw NUL in the request line through; either cuts the
 * URL (and any query parameter) the handler sees short.
 * tf_httpd_url_intact() tells whether the request's URL held one.
 */
#ifndef TF_HTTPD_H
#define TF_HTTPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "base/err.h"

/* What differs between the servers. Pointers are borrowed for the server's
 * life. */
struct tf_httpd_config {
	const char *name;                       /* "api server": log prefix */
	MHD_AccessHandlerCallback handler;
	void *handler_cls;
	MHD_RequestCompletedCallback completed; /* NULL: none */
	void *completed_cls;
	unsigned int max_connections;
	unsigned int per_address_limit;         /* connections from one client
	                                           address at once */
	unsigned int idle_timeout_s;
	unsigned int request_timeout_s;         /* receiving a whole request */
};

struct tf_httpd_conn;

/* A running server; embed it in the server's own struct. */
struct tf_httpd {
	struct MHD_Daemon *d;
	int port;                  /* the port bound (the one chosen for 0) */
	const char *name;
	atomic_int starting;       /* messages go to start_error meanwhile */
	char start_error[256];
	MHD_AccessHandlerCallback handler;      /* the server's own */
	void *handler_cls;
	MHD_RequestCompletedCallback completed; /* the server's own; NULL: none */
	void *completed_cls;
	int64_t request_timeout_ms;
	atomic_llong limit_logged_ms;      /* "connection limit" last logged */
	atomic_long limit_unlogged;        /* such messages not logged since */
	/* The deadline watcher: a thread that shuts down the connections in
	 * conns past their deadline. */
	pthread_t watcher;
	bool watching;             /* the thread runs */
	pthread_mutex_t lock;      /* guards conns and stopping */
	pthread_cond_t wake;       /* signalled to stop the watcher */
	bool stopping;
	struct tf_httpd_conn *conns; /* every open connection */
};

/* Starts h on addr (AF_INET or AF_INET6, as tf_listen_addr_parse() gives;
 * borrowed). TF_OK, or TF_ERR_IO with "cannot listen: REASON" in err (a port
 * in use, an address the host does not have); h is then not running. */
enum tf_err tf_httpd_start(struct tf_httpd *h, const struct sockaddr *addr,
    const struct tf_httpd_config *c, char *err, size_t errlen);

/* Stops h after the requests in progress have been answered. A server that
 * never started (d NULL) is fine. */
void tf_httpd_stop(struct tf_httpd *h);

/* False when the URL of the request on conn held a NUL: a %00 anywhere in
 * its path or query, or a raw NUL byte in the request line (so what the
 * handler got as url and query parameters is not all the client sent);
 * also false when that cannot be told (out of memory at its connection's
 * start). version: the handler's version argument (borrowed). Call from
 * the server's handler. */
bool tf_httpd_url_intact(struct MHD_Connection *conn, const char *version);

#endif /* TF_HTTPD_H */
