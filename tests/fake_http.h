/*
 * fake_http.h - a scripted HTTP server on 127.0.0.1 for tests.
 *
 * fake_http_start() listens on a free loopback port and answers requests from
 * a thread, one connection at a time, with keep-alive. Each request takes the
 * next entry of the script (the last entry repeats): a status and body, or a
 * dropped connection, after an optional delay. The server records how many
 * requests it saw and the text of the last one.
 */
#ifndef TF_FAKE_HTTP_H
#define TF_FAKE_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAKE_HTTP_MAX_SCRIPT 32

struct fake_reply {
	int status;         /* 0 with drop set */
	const char *body;   /* borrowed; static strings in tests */
	int drop;           /* close the connection instead of answering */
	int delay_ms;       /* wait before answering */
};

struct fake_http {
	int listen_fd;
	int port;
	pthread_t thread;
	atomic_int stop;
	pthread_mutex_t lock;
	struct fake_reply script[FAKE_HTTP_MAX_SCRIPT];
	int n_script;
	int next;
	int requests;              /* requests seen */
	int connections;           /* connections accepted */
	char last_request[65536];  /* headers and body of the latest request */
};

/* Reads one request into buf; returns its length, 0 on EOF, -1 on error. */
static int
fake_http_read_request(struct fake_http *f, int fd, char *buf, size_t cap)
{
	size_t len = 0;
	char *end = NULL, *cl;
	long body = 0;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (atomic_load(&f->stop))
			return -1;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return len == 0 ? 0 : -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			cl = strcasestr(buf, "\r\ncontent-length:");
			if (cl != NULL && cl < end)
				body = strtol(cl + 17, NULL, 10);
		}
		if (end != NULL && len >= (size_t)(end + 4 - buf) + (size_t)body)
			return (int)len;
		if (len >= cap - 1)
			return -1;
	}
}

static void *
fake_http_main(void *arg)
{
	struct fake_http *f = arg;
	static char buf[65536];

	while (!atomic_load(&f->stop)) {
		struct pollfd p = { f->listen_fd, POLLIN, 0 };
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept(f->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&f->lock);
		f->connections++;
		pthread_mutex_unlock(&f->lock);
		for (;;) {
			struct fake_reply r;
			char head[256];
			int n = fake_http_read_request(f, fd, buf, sizeof(buf));

			if (n <= 0)
				break;
			pthread_mutex_lock(&f->lock);
			f->requests++;
			memcpy(f->last_request, buf, (size_t)n + 1);
			r = f->script[f->next];
			if (f->next < f->n_script - 1)
				f->next++;
			pthread_mutex_unlock(&f->lock);
			if (r.delay_ms > 0)
				usleep((useconds_t)r.delay_ms * 1000);
			if (r.drop)
				break;
			snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: "
			    "application/x-amz-json-1.0\r\nContent-Length: %zu\r\n\r\n",
			    r.status, strlen(r.body ? r.body : ""));
			/* MSG_NOSIGNAL: a client that gave up must not kill the test. */
			if (send(fd, head, strlen(head), MSG_NOSIGNAL) < 0 ||
			    send(fd, r.body ? r.body : "", strlen(r.body ? r.body : ""),
			    MSG_NOSIGNAL) < 0)
				break;
		}
		close(fd);
	}
	return NULL;
}

/* Sets the replies for the next requests (copied; bodies borrowed). */
static inline void
fake_http_script(struct fake_http *f, const struct fake_reply *replies, int n)
{
	pthread_mutex_lock(&f->lock);
	memcpy(f->script, replies, sizeof(*replies) * (size_t)n);
	f->n_script = n;
	f->next = 0;
	f->requests = 0;
	pthread_mutex_unlock(&f->lock);
}

static inline int
fake_http_requests(struct fake_http *f)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->requests;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* Starts the server; returns 0, or -1 when no socket could be opened. */
static inline int
fake_http_start(struct fake_http *f)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->script[0] = (struct fake_reply){ 200, "{}", 0, 0 };
	f->n_script = 1;
	f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (f->listen_fd < 0)
		return -1;
	setsockopt(f->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = 0;
	if (bind(f->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(f->listen_fd, 16) != 0 ||
	    getsockname(f->listen_fd, (struct sockaddr *)&a, &alen) != 0) {
		close(f->listen_fd);
		return -1;
	}
	f->port = ntohs(a.sin_port);
	return pthread_create(&f->thread, NULL, fake_http_main, f) == 0 ? 0 : -1;
}

static inline void
fake_http_stop(struct fake_http *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	pthread_mutex_destroy(&f->lock);
}

/* A loopback socket that takes connections (into the kernel's backlog) and
 * never answers: requests to it stay in flight until the client gives up.
 * Returns the fd (the caller closes it) and the port in *port; -1 on error. */
static inline int
fake_http_silent(int *port)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

#endif /* TF_FAKE_HTTP_H */
