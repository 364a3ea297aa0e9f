/*
 * bench/proxy.c - a loopback latency proxy for the AWS stand-ins, and the
 * two small programs that measure the proxy's own ceiling.
 *
 *   proxy serve [--delay-ms N] NAME=PORT ...
 *	Listens on a free port of 127.0.0.1 for each NAME (e.g. sqs, ddb) and
 *	forwards every request to 127.0.0.1:PORT after holding it N ms (from
 *	the moment the whole request has arrived, so a long poll's wait adds
 *	to the delay instead of hiding it). Prints "NAME PORT" per listener,
 *	then "ready". The bytes go through unchanged (request line, Host
 *	header, path, body), so a SigV4 signature stays valid. Each client
 *	connection gets its own upstream connection, opened when the client
 *	connects and kept as long as the client keeps its own: keep-alive in
 *	both directions, and answers come back in order without parsing them.
 *	Counts, per NAME: client connections accepted, upstream connections
 *	opened, requests, and requests per operation (X-Amz-Target after its
 *	last '.'; "other" without one). SIGUSR1 prints the counters as one
 *	JSON line on stdout; SIGTERM or SIGINT prints them and exits.
 *   proxy echo
 *	Answers every request with 200 and "{}" on a free port of 127.0.0.1
 *	(prints "echo PORT"): the upstream for the ceiling measurement.
 *   proxy load PORT CONNECTIONS SECONDS
 *	CONNECTIONS kept-alive connections to 127.0.0.1:PORT, each sending one
 *	small POST at a time for SECONDS; prints one JSON line: requests,
 *	seconds, requests per second, mean round trip in ms.
 *
 * One thread, epoll, edge-triggered; no library beyond libc. Requests with
 * a Content-Length (or none) are understood; "Transfer-Encoding: chunked"
 * and "Expect: 100-continue" bodies are not (the consumer and the AWS SDK
 * send neither for these calls): such a connection is closed and counted.
 * Upstreams must be on 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENDPOINTS 8
#define MAX_OPS 64
#define MAX_HEADER 65536            /* a request head longer than this is refused */

/* Tags in the top bits of an epoll event's data. */
enum tag { TAG_LISTEN, TAG_SIGNAL, TAG_CLIENT, TAG_UPSTREAM };

struct buf {
	char *p;
	size_t len;                 /* bytes held */
	size_t cap;
};

struct op_count {
	char name[48];
	uint64_t n;
};

struct endpoint {
	char name[16];
	int lfd;                    /* listening socket */
	int port;                   /* its port */
	struct sockaddr_in up;      /* the upstream */
	uint64_t accepted;          /* client connections accepted */
	uint64_t upstream;          /* upstream connections opened */
	uint64_t open, open_max;    /* client connections open now, most at once */
	uint64_t requests;
	uint64_t refused;           /* connections closed for a request we cannot forward */
	struct op_count ops[MAX_OPS];
	int n_ops;
};

/*
 * One client connection and its upstream connection. Offsets into the
 * client's byte stream are absolute (from its first byte), so the timer
 * queue can name a request's end whatever the buffer has shifted since.
 */
struct pair {
	uint32_t gen;               /* bumped when the slot is freed */
	bool used;
	int cfd, ufd;
	int ep;                     /* index into endpoints */
	bool connected;             /* the upstream connect finished */
	bool upstream_eof;
	struct buf in;              /* from the client, not yet sent upstream */
	uint64_t base;              /* absolute offset of in.p[0] */
	uint64_t parsed;            /* end of the last whole request seen */
	uint64_t released;          /* end of the last request whose delay is over */
	struct buf out;             /* from the upstream, not yet sent to the client */
};

/* A request waiting for its delay: released when due. */
struct pending {
	uint32_t slot, gen;
	uint64_t end;               /* absolute end of the request in its pair's stream */
	int64_t due_ns;             /* CLOCK_MONOTONIC */
};

static struct endpoint endpoints[MAX_ENDPOINTS];
static int n_endpoints;
static int64_t delay_ns;
static int epfd = -1;
static struct pair **pairs;         /* slots; a freed slot keeps its struct */
static uint32_t n_pairs, cap_pairs;
static uint32_t *free_slots;
static uint32_t n_free;
static struct pending *queue;       /* a ring; due times only grow (one delay) */
static size_t q_head, q_len, q_cap;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
		die("realloc");
	return p;
}

/* Appends n bytes to b, growing it. */
static void
buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 < 4096 ? 4096 : (b->len + n) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Drops the first n bytes of b. */
static void
buf_drop(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

static uint64_t
ev_data(enum tag t, uint32_t gen, uint32_t idx)
{
	return (uint64_t)t << 62 | (uint64_t)(gen & 0x3fffffff) << 32 | idx;
}

static void
ep_add(int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl");
}

static void
nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A non-blocking socket listening on 127.0.0.1 with a free port; the port
 * goes to *port. */
static int
listen_loopback(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("listen");
	*port = ntohs(a.sin_port);
	return fd;
}

/*
 * The head of an HTTP request at p (len bytes): when it is whole, sets
 * *total to its length with the body and copies the X-Amz-Target value
 * (or "") into target. Returns 1 when whole, 0 when more bytes are needed,
 * -1 when the request cannot be forwarded (chunked, Expect, too long).
 */
static int
parse_request(const char *p, size_t len, size_t *total, char *target, size_t tcap)
{
	const char *end = NULL, *line, *next, *v;
	size_t head, body = 0, n, k, vn;

	for (size_t i = 3; i < len; i++) {
		if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r') {
			end = p + i + 1;
			break;
		}
	}
	if (end == NULL)
		return len > MAX_HEADER ? -1 : 0;
	head = (size_t)(end - p);
	target[0] = '\0';
	for (line = (const char *)memchr(p, '\n', head) + 1; line < end - 2; line = next + 1) {
		next = memchr(line, '\n', (size_t)(end - line));
		n = (size_t)(next - line);
		v = memchr(line, ':', n);
		if (v == NULL)
			continue;
		k = (size_t)(v - line);
		for (v++; *v == ' ' || *v == '\t'; v++)
			;
		vn = (size_t)(next - v);
		if (vn > 0 && v[vn - 1] == '\r')
			vn--;
		if (k == 14 && strncasecmp(line, "content-length", k) == 0)
			body = strtoull(v, NULL, 10);
		else if (k == 17 && strncasecmp(line, "transfer-encoding", k) == 0)
			return -1;
		else if (k == 6 && strncasecmp(line, "expect", k) == 0 && vn > 0)
			return -1;
		else if (k == 12 && strncasecmp(line, "x-amz-target", k) == 0) {
			if (vn >= tcap)
				vn = tcap - 1;
			memcpy(target, v, vn);
			target[vn] = '\0';
		}
	}
	if (len < head + body)
		return 0;
	*total = head + body;
	return 1;
}

/* Counts one request of endpoint e for operation target. */
static void
count_op(struct endpoint *e, const char *target)
{
	const char *op = strrchr(target, '.');
	int i;

	op = op ? op + 1 : target[0] ? target : "other";
	e->requests++;
	for (i = 0; i < e->n_ops; i++) {
		if (strcmp(e->ops[i].name, op) == 0) {
			e->ops[i].n++;
			return;
		}
	}
	if (i == MAX_OPS)
		i = MAX_OPS - 1;     /* the last row collects the overflow */
	else
		e->n_ops++;
	snprintf(e->ops[i].name, sizeof(e->ops[i].name), "%.47s", op);
	e->ops[i].n++;
}

static void
print_stats(void)
{
	printf("{\"delay_ms\":%.3f,\"endpoints\":{", (double)delay_ns / 1e6);
	for (int i = 0; i < n_endpoints; i++) {
		struct endpoint *e = &endpoints[i];

		printf("%s\"%s\":{\"connections\":%" PRIu64 ",\"upstream_connections\":%" PRIu64
		    ",\"open\":%" PRIu64 ",\"open_max\":%" PRIu64 ",\"requests\":%" PRIu64
		    ",\"refused\":%" PRIu64 ",\"ops\":{", i ? "," : "", e->name, e->accepted,
		    e->upstream, e->open, e->open_max, e->requests, e->refused);
		for (int k = 0; k < e->n_ops; k++)
			printf("%s\"%s\":%" PRIu64, k ? "," : "", e->ops[k].name, e->ops[k].n);
		printf("}}");
	}
	printf("}}\n");
	fflush(stdout);
}

/* Reads what fd has into b, until the socket has no more. Returns 1 when
 * it has no more for now, 0 at the end of the stream, -1 on an error. */
static int
read_into(int fd, struct buf *b)
{
	char tmp[65536];

	for (;;) {
		ssize_t k = recv(fd, tmp, sizeof(tmp), 0);

		if (k == 0)
			return 0;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 1 : -1;
		}
		buf_add(b, tmp, (size_t)k);
	}
}

static void
pair_close(uint32_t slot)
{
	struct pair *pr = pairs[slot];

	close(pr->cfd);
	if (pr->ufd >= 0)
		close(pr->ufd);
	endpoints[pr->ep].open--;
	pr->used = false;
	pr->gen++;
	pr->in.len = pr->out.len = 0;
	free_slots[n_free++] = slot;
}

/* Sends what the client may send upstream now; false when the pair broke. */
static bool
flush_upstream(struct pair *pr)
{
	while (pr->connected && pr->released > pr->base) {
		size_t n = (size_t)(pr->released - pr->base);
		ssize_t k = send(pr->ufd, pr->in.p, n, MSG_NOSIGNAL);

		if (k < 0)
			return errno == EAGAIN || errno == EINTR;
		buf_drop(&pr->in, (size_t)k);
		pr->base += (uint64_t)k;
	}
	return true;
}

/* Sends the upstream's answers to the client; false when the pair broke. */
static bool
flush_client(struct pair *pr)
{
	while (pr->out.len > 0) {
		ssize_t k = send(pr->cfd, pr->out.p, pr->out.len, MSG_NOSIGNAL);

		if (k < 0)
			return errno == EAGAIN || errno == EINTR;
		buf_drop(&pr->out, (size_t)k);
	}
	return !pr->upstream_eof;
}

static void
enqueue(uint32_t slot, uint32_t gen, uint64_t end)
{
	if (q_len == q_cap) {
		size_t ncap = q_cap ? q_cap * 2 : 1024;
		struct pending *nq = xrealloc(NULL, ncap * sizeof(*nq));

		for (size_t i = 0; i < q_len; i++)
			nq[i] = queue[(q_head + i) % q_cap];
		free(queue);
		queue = nq;
		q_cap = ncap;
		q_head = 0;
	}
	queue[(q_head + q_len) % q_cap] = (struct pending){ slot, gen, end, mono_ns() + delay_ns };
	q_len++;
}

/* Reads what the client sent and queues each whole request for its delay;
 * false when the pair should close. */
static bool
read_client(uint32_t slot)
{
	struct pair *pr = pairs[slot];
	struct endpoint *e = &endpoints[pr->ep];
	char target[128];

	if (read_into(pr->cfd, &pr->in) <= 0)
		return false;
	for (;;) {
		size_t off = (size_t)(pr->parsed - pr->base), total;
		int r = parse_request(pr->in.p + off, pr->in.len - off, &total, target,
		    sizeof(target));

		if (r < 0) {
			e->refused++;
			return false;
		}
		if (r == 0)
			break;
		pr->parsed += total;
		count_op(e, target);
		enqueue(slot, pr->gen, pr->parsed);
	}
	return true;
}

/* Reads the upstream's answers into the client's buffer and sends them on;
 * false when the pair should close. */
static bool
read_upstream(struct pair *pr)
{
	int r = read_into(pr->ufd, &pr->out);

	if (r < 0)
		return false;
	if (r == 0)
		pr->upstream_eof = true;
	return flush_client(pr);
}

static void
accept_on(int ep)
{
	struct endpoint *e = &endpoints[ep];

	for (;;) {
		int cfd = accept4(e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), ufd;
		uint32_t slot;
		struct pair *pr;

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;      /* EAGAIN, or out of descriptors: try at the next event */
		}
		ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (ufd < 0) {
			close(cfd);
			continue;
		}
		nodelay(cfd);
		nodelay(ufd);
		if (connect(ufd, (struct sockaddr *)&e->up, sizeof(e->up)) < 0 &&
		    errno != EINPROGRESS) {
			close(ufd);
			close(cfd);
			continue;
		}
		if (n_free > 0) {
			slot = free_slots[--n_free];
		} else {
			if (n_pairs == cap_pairs) {
				cap_pairs = cap_pairs ? cap_pairs * 2 : 256;
				pairs = xrealloc(pairs, cap_pairs * sizeof(*pairs));
				free_slots = xrealloc(free_slots, cap_pairs * sizeof(*free_slots));
			}
			slot = n_pairs++;
			pairs[slot] = xrealloc(NULL, sizeof(**pairs));
			memset(pairs[slot], 0, sizeof(**pairs));
		}
		pr = pairs[slot];
		pr->used = true;
		pr->cfd = cfd;
		pr->ufd = ufd;
		pr->ep = ep;
		pr->connected = pr->upstream_eof = false;
		pr->base = pr->parsed = pr->released = 0;
		e->accepted++;
		e->upstream++;
		if (++e->open > e->open_max)
			e->open_max = e->open;
		ep_add(cfd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, ev_data(TAG_CLIENT, pr->gen, slot));
		ep_add(ufd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, ev_data(TAG_UPSTREAM, pr->gen, slot));
	}
}

/* Releases every request whose delay is over; returns the nanoseconds until
 * the next one is due, or -1 when none waits. */
static int64_t
release_due(void)
{
	int64_t now = mono_ns();

	while (q_len > 0) {
		struct pending *q = &queue[q_head];
		struct pair *pr;

		if (q->due_ns > now)
			return q->due_ns - now;
		pr = pairs[q->slot];
		if (pr->used && (pr->gen & 0x3fffffff) == (q->gen & 0x3fffffff) && q->end > pr->released) {
			pr->released = q->end;
			if (!flush_upstream(pr))
				pair_close(q->slot);
		}
		q_head = (q_head + 1) % q_cap;
		q_len--;
	}
	return -1;
}

static void
on_pair_event(enum tag t, uint32_t gen, uint32_t slot, uint32_t events)
{
	struct pair *pr;
	bool ok = true;

	if (slot >= n_pairs)
		return;
	pr = pairs[slot];
	if (!pr->used || (pr->gen & 0x3fffffff) != gen)
		return;      /* an event of a pair closed earlier in this batch */
	if (t == TAG_UPSTREAM) {
		if (!pr->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
			int err = 0;
			socklen_t len = sizeof(err);

			getsockopt(pr->ufd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err != 0) {
				pair_close(slot);
				return;
			}
			pr->connected = true;
		}
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			ok = read_upstream(pr);
		if (ok && (events & EPOLLOUT))
			ok = flush_upstream(pr);
	} else {
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			ok = read_client(slot);
		if (ok && (events & EPOLLOUT))
			ok = flush_client(pr);
	}
	if (!ok)
		pair_close(slot);
}

static void
usage(void)
{
	fprintf(stderr, "usage: proxy serve [--delay-ms N] NAME=PORT ...\n"
	    "       proxy echo\n"
	    "       proxy load PORT CONNECTIONS SECONDS\n");
	exit(64);
}

static int
serve(int argc, char **argv)
{
	struct epoll_event evs[256];
	sigset_t mask;
	int sfd, i = 0;

	if (i < argc && strcmp(argv[i], "--delay-ms") == 0) {
		if (i + 1 >= argc)
			usage();
		delay_ns = (int64_t)(strtod(argv[i + 1], NULL) * 1e6);
		i += 2;
	}
	if (i >= argc)
		usage();
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	for (; i < argc; i++) {
		struct endpoint *e = &endpoints[n_endpoints];
		char *eq = strchr(argv[i], '=');
		long port;

		if (eq == NULL || n_endpoints == MAX_ENDPOINTS || (size_t)(eq - argv[i]) >= sizeof(e->name))
			usage();
		port = strtol(eq + 1, NULL, 10);
		if (port <= 0 || port > 65535)
			usage();
		memcpy(e->name, argv[i], (size_t)(eq - argv[i]));
		e->up.sin_family = AF_INET;
		e->up.sin_port = htons((uint16_t)port);
		e->up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		e->lfd = listen_loopback(&e->port);
		ep_add(e->lfd, EPOLLIN, ev_data(TAG_LISTEN, 0, (uint32_t)n_endpoints));
		printf("%s %d\n", e->name, e->port);
		n_endpoints++;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd");
	ep_add(sfd, EPOLLIN, ev_data(TAG_SIGNAL, 0, 0));
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int64_t wait_ns = release_due();
		struct timespec ts = { wait_ns / 1000000000, wait_ns % 1000000000 };
		int n = epoll_pwait2(epfd, evs, 256, wait_ns < 0 ? NULL : &ts, NULL);

		if (n < 0 && errno == ENOSYS) {
			/* Before Linux 5.11: milliseconds, rounded up. */
			n = epoll_wait(epfd, evs, 256, wait_ns < 0 ? -1 :
			    (int)((wait_ns + 999999) / 1000000));
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int k = 0; k < n; k++) {
			uint64_t d = evs[k].data.u64;
			enum tag t = (enum tag)(d >> 62);
			uint32_t idx = (uint32_t)d, gen = (uint32_t)(d >> 32) & 0x3fffffff;

			if (t == TAG_LISTEN) {
				accept_on((int)idx);
			} else if (t == TAG_SIGNAL) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					print_stats();
					if (si.ssi_signo != SIGUSR1)
						return 0;
				}
			} else {
				on_pair_event(t, gen, idx, evs[k].events);
			}
		}
	}
}

/* A connection of echo or load: its socket and what it has read. */
struct conn {
	int fd;
	struct buf in;
	int64_t sent_ns;            /* load: when the request went out */
};

static const char echo_answer[] = "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n{}";
static const char load_request[] = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/x-amz-json-1.0\r\n"
    "X-Amz-Target: AmazonSQS.ReceiveMessage\r\nContent-Length: 2\r\n\r\n{}";

/* Sends all of p, waiting while the socket is full (echo and load only). */
static bool
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return false;
		}
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static int
echo(void)
{
	struct epoll_event evs[256];
	int lfd, port;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	lfd = listen_loopback(&port);
	ep_add(lfd, EPOLLIN, 0);
	printf("echo %d\n", port);
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(epfd, evs, 256, -1);

		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			char target[128];
			size_t total;
			bool ok;

			if (c == NULL) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct epoll_event ev = { .events = EPOLLIN | EPOLLET };

					nodelay(fd);
					c = xrealloc(NULL, sizeof(*c));
					memset(c, 0, sizeof(*c));
					c->fd = fd;
					ev.data.ptr = c;
					if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
						die("epoll_ctl");
				}
				continue;
			}
			ok = read_into(c->fd, &c->in) > 0;
			while (ok && parse_request(c->in.p, c->in.len, &total, target,
			    sizeof(target)) == 1) {
				buf_drop(&c->in, total);
				ok = send_all(c->fd, echo_answer, sizeof(echo_answer) - 1);
			}
			if (!ok) {
				close(c->fd);
				free(c->in.p);
				free(c);
			}
		}
	}
	return 0;
}

/* The length of a whole answer at the start of c->in (with its
 * Content-Length body), or 0 while it is incomplete. */
static size_t
answer_length(const struct conn *c)
{
	const char *p = c->in.p, *h;
	size_t len = c->in.len, head, body;

	for (size_t i = 3; i < len; i++) {
		if (p[i] == '\n' && p[i - 3] == '\r' && p[i - 2] == '\n' && p[i - 1] == '\r') {
			head = i + 1;
			h = memmem(p, head, "\nContent-Length:", 16);
			if (h == NULL)
				h = memmem(p, head, "\ncontent-length:", 16);
			body = h ? strtoull(h + 16, NULL, 10) : 0;
			return len >= head + body ? head + body : 0;
		}
	}
	return 0;
}

static int
load(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct epoll_event evs[256];
	struct conn *conns;
	int nconn, done = 0;
	double seconds, rtt_sum = 0;
	uint64_t requests = 0;
	int64_t start, stop;

	if (argc != 3)
		usage();
	a.sin_port = htons((uint16_t)atoi(argv[0]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	nconn = atoi(argv[1]);
	seconds = strtod(argv[2], NULL);
	if (nconn <= 0)
		usage();
	epfd = epoll_create1(EPOLL_CLOEXEC);
	conns = xrealloc(NULL, (size_t)nconn * sizeof(*conns));
	memset(conns, 0, (size_t)nconn * sizeof(*conns));
	start = mono_ns();
	stop = start + (int64_t)(seconds * 1e9);
	for (int i = 0; i < nconn; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = &conns[i] };

		conns[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (conns[i].fd < 0 || connect(conns[i].fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			die("connect");
		nodelay(conns[i].fd);
		if (fcntl(conns[i].fd, F_SETFL, O_NONBLOCK) < 0)
			die("fcntl");
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0)
			die("epoll_ctl");
		conns[i].sent_ns = mono_ns();
		if (!send_all(conns[i].fd, load_request, sizeof(load_request) - 1))
			die("send");
	}
	while (done < nconn) {
		int n = epoll_wait(epfd, evs, 256, 1000);

		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			size_t m;

			if (c->fd < 0)
				continue;
			if (read_into(c->fd, &c->in) <= 0) {
				fprintf(stderr, "proxy load: a connection closed\n");
				return 1;
			}
			while ((m = answer_length(c)) > 0) {
				int64_t now = mono_ns();

				buf_drop(&c->in, m);
				requests++;
				rtt_sum += (double)(now - c->sent_ns) / 1e6;
				if (now >= stop) {
					close(c->fd);
					c->fd = -1;
					done++;
					break;
				}
				c->sent_ns = now;
				if (!send_all(c->fd, load_request, sizeof(load_request) - 1))
					die("send");
			}
		}
	}
	seconds = (double)(mono_ns() - start) / 1e9;
	for (int i = 0; i < nconn; i++)
		free(conns[i].in.p);
	free(conns);
	printf("{\"connections\":%d,\"requests\":%" PRIu64 ",\"seconds\":%.3f,"
	    "\"per_second\":%.1f,\"mean_ms\":%.3f}\n", nconn, requests, seconds,
	    (double)requests / seconds, requests ? rtt_sum / (double)requests : 0.0);
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "serve") == 0)
		return serve(argc - 2, argv + 2);
	if (strcmp(argv[1], "echo") == 0 && argc == 2)
		return echo();
	if (strcmp(argv[1], "load") == 0)
		return load(argc - 2, argv + 2);
	usage();
	return 64;
}
