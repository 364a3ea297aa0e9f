/*
 * entry_fault_proxy.h - an HTTP/1.1 proxy on 127.0.0.1 in front of the SQS
 * stand-in that fails single entries of SendMessageBatch calls, for tests.
 *
 * entry_proxy_start() listens on a free loopback port and forwards every
 * request on a connection (a thread per connection, kept alive, one
 * upstream connection each) to the stand-in at 127.0.0.1:upstream_port.
 * While entry_proxy_fail() has failures left, each SendMessageBatch loses
 * its first entry: that entry is not forwarded (the others are), and the
 * answer lists it under "Failed" (a server fault, as SQS reports an entry
 * it could not take), exactly as a real partial failure looks to the
 * client. Requests and answers need a Content-Length (the stand-in's do).
 */
#ifndef TF_ENTRY_FAULT_PROXY_H
#define TF_ENTRY_FAULT_PROXY_H

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

#include <cjson/cJSON.h>

#define ENTRY_PROXY_MAX_MSG (1 << 20)

struct entry_proxy {
	int listen_fd;
	int port;
	int upstream_port;
	pthread_t thread;
	atomic_int stop;
	atomic_int fail_left;        /* entries still to fail */
	atomic_int failed;           /* entries failed so far */
	atomic_int batches;          /* SendMessageBatch requests seen */
	atomic_int connections;      /* connection threads running */
};

/* One client connection and its upstream connection. */
struct entry_proxy_conn {
	struct entry_proxy *p;
	int fd;
};

/* Reads one HTTP message with a Content-Length body from fd into buf (cap
 * bytes); returns its length, 0 on EOF or error. *body_at: where the body
 * starts. */
static size_t
entry_proxy_read(struct entry_proxy *p, int fd, char *buf, size_t cap,
    size_t *body_at)
{
	size_t len = 0, need = 0;
	char *end = NULL, *cl;

	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t n;

		if (atomic_load(&p->stop))
			return 0;
		if (poll(&pf, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			*body_at = (size_t)(end + 4 - buf);
			cl = strcasestr(buf, "\r\ncontent-length:");
			need = *body_at + (cl != NULL && cl < end ?
			    (size_t)strtol(cl + 17, NULL, 10) : 0);
		}
		if (end != NULL && len >= need)
			return len;
		if (len >= cap - 1)
			return 0;
	}
}

/* Sends head (without its Content-Length line and the blank line that ends
 * it) with a Content-Length for body, then body. */
static int
entry_proxy_send(int fd, const char *head, size_t head_len, const char *body,
    size_t body_len)
{
	char line[64];
	const char *at = head, *eol, *end = head + head_len;

	while (at < end && (eol = strstr(at, "\r\n")) != NULL && eol < end) {
		if (strncasecmp(at, "content-length:", 15) != 0 &&
		    send(fd, at, (size_t)(eol + 2 - at), MSG_NOSIGNAL) < 0)
			return -1;
		at = eol + 2;
	}
	snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n", body_len);
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0 ||
	    (body_len > 0 && send(fd, body, body_len, MSG_NOSIGNAL) < 0))
		return -1;
	return 0;
}

/* The request in buf (body at body_at) with its first send entry removed
 * into *failed_id (the caller's, 81 bytes); NULL (a copy of nothing) when
 * the request is no SendMessageBatch or nothing is to fail. Returns the new
 * body (caller frees with free()), or NULL to forward the request as it
 * is; *none_left: the batch had only that entry. */
static char *
entry_proxy_cut(struct entry_proxy *p, const char *buf, size_t body_at,
    char *failed_id, int *none_left)
{
	cJSON *doc, *entries, *first;
	const cJSON *id;
	char *out = NULL;
	int left;

	*none_left = 0;
	if (strcasestr(buf, "AmazonSQS.SendMessageBatch\r\n") == NULL)
		return NULL;
	atomic_fetch_add(&p->batches, 1);
	left = atomic_load(&p->fail_left);
	while (left > 0 && !atomic_compare_exchange_weak(&p->fail_left, &left,
	    left - 1))
		;
	if (left <= 0)
		return NULL;
	doc = cJSON_Parse(buf + body_at);
	entries = cJSON_GetObjectItemCaseSensitive(doc, "Entries");
	first = cJSON_DetachItemFromArray(entries, 0);
	id = cJSON_GetObjectItemCaseSensitive(first, "Id");
	if (cJSON_IsString(id)) {
		snprintf(failed_id, 81, "%s", id->valuestring);
		atomic_fetch_add(&p->failed, 1);
		*none_left = cJSON_GetArraySize(entries) == 0;
		out = cJSON_PrintUnformatted(doc);
	}
	cJSON_Delete(first);
	cJSON_Delete(doc);
	return out;
}

/* The answer body with entry failed_id added to its "Failed" list
 * (caller frees with free()). */
static char *
entry_proxy_add_failed(const char *body, const char *failed_id)
{
	cJSON *doc = body != NULL ? cJSON_Parse(body) : cJSON_CreateObject();
	cJSON *failed, *e = cJSON_CreateObject();
	char *out;

	if (doc == NULL)
		doc = cJSON_CreateObject();
	if (cJSON_GetObjectItemCaseSensitive(doc, "Successful") == NULL)
		cJSON_AddItemToObject(doc, "Successful", cJSON_CreateArray());
	failed = cJSON_GetObjectItemCaseSensitive(doc, "Failed");
	if (failed == NULL)
		failed = cJSON_AddArrayToObject(doc, "Failed");
	cJSON_AddStringToObject(e, "Id", failed_id);
	cJSON_AddStringToObject(e, "Code", "InternalError");
	cJSON_AddStringToObject(e, "Message", "injected by entry_fault_proxy");
	cJSON_AddBoolToObject(e, "SenderFault", 0);
	cJSON_AddItemToArray(failed, e);
	out = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return out;
}

static void *
entry_proxy_conn_main(void *arg)
{
	struct entry_proxy_conn *c = arg;
	struct entry_proxy *p = c->p;
	char *buf = malloc(ENTRY_PROXY_MAX_MSG), *cut, *answer;
	const char *ok_head = "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/x-amz-json-1.0\r\n";
	char failed_id[81];
	size_t n, body_at = 0;
	int up = socket(AF_INET, SOCK_STREAM, 0), none_left;
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)p->upstream_port);
	if (buf == NULL || up < 0 || connect(up, (struct sockaddr *)&a,
	    sizeof(a)) != 0)
		goto out;
	while ((n = entry_proxy_read(p, c->fd, buf, ENTRY_PROXY_MAX_MSG,
	    &body_at)) > 0) {
		cut = entry_proxy_cut(p, buf, body_at, failed_id, &none_left);
		if (cut != NULL && none_left) {
			/* Nothing left to forward: the answer is ours alone. */
			answer = entry_proxy_add_failed(NULL, failed_id);
			n = answer != NULL && entry_proxy_send(c->fd, ok_head,
			    strlen(ok_head), answer, strlen(answer)) == 0;
			free(answer);
			free(cut);
			if (n == 0)
				break;
			continue;
		}
		if ((cut != NULL ? entry_proxy_send(up, buf, body_at - 2, cut,
		    strlen(cut)) : (send(up, buf, n, MSG_NOSIGNAL) < 0 ? -1 :
		    0)) != 0) {
			free(cut);
			break;
		}
		n = entry_proxy_read(p, up, buf, ENTRY_PROXY_MAX_MSG, &body_at);
		if (n == 0) {
			free(cut);
			break;
		}
		if (cut == NULL) {
			if (send(c->fd, buf, n, MSG_NOSIGNAL) < 0)
				break;
			continue;
		}
		free(cut);
		answer = entry_proxy_add_failed(buf + body_at, failed_id);
		n = answer != NULL && entry_proxy_send(c->fd, buf, body_at - 2,
		    answer, strlen(answer)) == 0;
		free(answer);
		if (n == 0)
			break;
	}
out:
	if (up >= 0)
		close(up);
	close(c->fd);
	free(buf);
	free(c);
	atomic_fetch_sub(&p->connections, 1);
	return NULL;
}

static void *
entry_proxy_main(void *arg)
{
	struct entry_proxy *p = arg;

	while (!atomic_load(&p->stop)) {
		struct pollfd pf = { p->listen_fd, POLLIN, 0 };
		struct entry_proxy_conn *c;
		pthread_t t;
		int fd;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		fd = accept(p->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		c = malloc(sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->p = p;
		c->fd = fd;
		atomic_fetch_add(&p->connections, 1);
		if (pthread_create(&t, NULL, entry_proxy_conn_main, c) != 0) {
			atomic_fetch_sub(&p->connections, 1);
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

/* Starts the proxy in front of 127.0.0.1:upstream_port; 0, or -1 when no
 * socket could be opened. */
static inline int
entry_proxy_start(struct entry_proxy *p, int upstream_port)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(p, 0, sizeof(*p));
	p->upstream_port = upstream_port;
	p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (p->listen_fd < 0)
		return -1;
	setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(p->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(p->listen_fd, 64) != 0 ||
	    getsockname(p->listen_fd, (struct sockaddr *)&a, &alen) != 0) {
		close(p->listen_fd);
		return -1;
	}
	p->port = ntohs(a.sin_port);
	return pthread_create(&p->thread, NULL, entry_proxy_main, p) == 0 ? 0 :
	    -1;
}

/* The next n SendMessageBatch calls each lose their first entry. */
static inline void
entry_proxy_fail(struct entry_proxy *p, int n)
{
	atomic_store(&p->fail_left, n);
}

/* Stops the proxy once its connection threads ended (their clients freed
 * first: a kept-alive connection ends when its client closes it). */
static inline void
entry_proxy_stop(struct entry_proxy *p)
{
	int i;

	atomic_store(&p->stop, 1);
	pthread_join(p->thread, NULL);
	for (i = 0; i < 200 && atomic_load(&p->connections) > 0; i++)
		usleep(10000);
	close(p->listen_fd);
}

#endif /* TF_ENTRY_FAULT_PROXY_H */
