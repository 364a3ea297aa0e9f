/*
 * bench/loop_calls.c - SendMessage through the event loop against the
 * synchronous client, on loopback, in one run.
 *
 * A child process serves HTTP on 127.0.0.1 (one epoll thread, kept-alive
 * connections, a fixed SendMessage answer at once), so the parent's CPU time
 * is the client's alone. The parent then makes N signed SendMessage calls
 * twice: with 64 (IN_FLIGHT) calls in flight on one loop thread
 * (tf_sqs_send_message_async), and with 64 threads each calling
 * tf_sqs_send_message. It prints calls/s and CPU µs per call of each, and
 * the loop's figures as a ratio of the threads'.
 *
 *   loop_calls [N [IN_FLIGHT]]      (defaults 20000 and 64)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws/sqs_async.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "loop/loop.h"

#define ANSWER "{\"MessageId\":\"bench-1\"}"

/* One client connection of the server: bytes read and not yet answered. */
struct conn {
	char buf[65536];
	size_t len;
};

/* Answers every complete request in c; false when the connection is done. */
static int
serve_requests(int fd, struct conn *c)
{
	static char reply[256];
	static int reply_len;
	char *end, *cl;
	size_t need;
	long body;

	if (reply_len == 0)
		reply_len = snprintf(reply, sizeof(reply), "HTTP/1.1 200 OK\r\n"
		    "Content-Type: application/x-amz-json-1.0\r\nContent-Length: "
		    "%zu\r\n\r\n%s", strlen(ANSWER), ANSWER);
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) != NULL) {
		body = 0;
		cl = strcasestr(c->buf, "\r\ncontent-length:");
		if (cl != NULL && cl < end)
			body = strtol(cl + 17, NULL, 10);
		need = (size_t)(end + 4 - c->buf) + (size_t)body;
		if (c->len < need)
			return 1;
		if (send(fd, reply, (size_t)reply_len, MSG_NOSIGNAL) < 0)
			return 0;
		memmove(c->buf, c->buf + need, c->len - need);
		c->len -= need;
	}
	return c->len < sizeof(c->buf) - 1;
}

/* The server: runs until killed. */
static void
serve(int lfd)
{
	struct epoll_event ev, evs[64];
	int ep = epoll_create1(0), n, i, fd;
	struct conn *c;

	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
				if (fd < 0)
					continue;
				c = calloc(1, sizeof(*c) + sizeof(int));
				memcpy(c + 1, &fd, sizeof(int));
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			c = evs[i].data.ptr;
			memcpy(&fd, c + 1, sizeof(int));
			for (;;) {
				ssize_t r = read(fd, c->buf + c->len,
				    sizeof(c->buf) - 1 - c->len);

				if (r > 0) {
					c->len += (size_t)r;
					c->buf[c->len] = '\0';
					if (!serve_requests(fd, c)) {
						r = 0;
					} else {
						continue;
					}
				}
				if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
					close(fd);
					free(c);
				}
				break;
			}
		}
	}
}

static long n_calls;
static int in_flight;
static struct tf_aws *aws;
static const char *queue_url = "http://127.0.0.1/000000000000/bench";

/* The loop's side: keeps in_flight calls going until n_calls are done. */
struct loop_run {
	struct tf_loop *loop;
	long started, done, failed;
};

static void on_sent(void *ctx, enum tf_err rc, const char *message_id,
    const struct tf_aws_error *err);

static void
start_one(struct loop_run *r)
{
	if (r->started >= n_calls)
		return;
	r->started++;
	if (tf_sqs_send_message_async(aws, r->loop, queue_url, "bench body", 0,
	    on_sent, r) != TF_OK) {
		r->failed++;
		r->done++;
	}
}

static void
on_sent(void *ctx, enum tf_err rc, const char *message_id,
    const struct tf_aws_error *err)
{
	struct loop_run *r = ctx;

	r->done++;
	if (rc != TF_OK)
		r->failed++;
	if (r->done == n_calls)
		tf_loop_stop(r->loop);
	else
		start_one(r);
}

static atomic_long next_call, thread_failed;

static void *
sync_main(void *arg)
{
	while (atomic_fetch_add(&next_call, 1) < n_calls)
		if (tf_sqs_send_message(aws, queue_url, "bench body", 0, NULL) != TF_OK)
			atomic_fetch_add(&thread_failed, 1);
	return NULL;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct figures {
	double calls_per_s, cpu_us_per_call;
	long failed;
};

static void
run_loop(struct figures *f)
{
	struct tf_loop_config cfg = { in_flight, in_flight };
	struct loop_run r = { 0 };
	double c0 = cpu_s();
	int64_t t0 = tf_mono_ms();
	int i;

	if (tf_loop_new(&cfg, &r.loop) != TF_OK) {
		fprintf(stderr, "loop_calls: no loop\n");
		exit(1);
	}
	for (i = 0; i < in_flight; i++)
		start_one(&r);
	tf_loop_run(r.loop);
	tf_loop_free(r.loop);
	f->calls_per_s = n_calls * 1000.0 / (double)(tf_mono_ms() - t0 + 1);
	f->cpu_us_per_call = (cpu_s() - c0) * 1e6 / (double)n_calls;
	f->failed = r.failed;
}

static void
run_threads(struct figures *f)
{
	pthread_t *t = calloc((size_t)in_flight, sizeof(*t));
	double c0 = cpu_s();
	int64_t t0 = tf_mono_ms();
	int i;

	atomic_store(&next_call, 0);
	for (i = 0; i < in_flight; i++)
		pthread_create(&t[i], NULL, sync_main, NULL);
	for (i = 0; i < in_flight; i++)
		pthread_join(t[i], NULL);
	f->calls_per_s = n_calls * 1000.0 / (double)(tf_mono_ms() - t0 + 1);
	f->cpu_us_per_call = (cpu_s() - c0) * 1e6 / (double)n_calls;
	f->failed = atomic_load(&thread_failed);
	free(t);
}

int
main(int argc, char **argv)
{
	struct tf_creds_provider *creds = NULL;
	struct tf_aws_config cfg = { 0 };
	struct figures lp, th, warm;
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	char url[64];
	int lfd;
	pid_t child;

	n_calls = argc > 1 ? atol(argv[1]) : 20000;
	in_flight = argc > 2 ? atoi(argv[2]) : 64;
	if (n_calls < 1 || in_flight < 1) {
		fprintf(stderr, "usage: loop_calls [N [IN_FLIGHT]]\n");
		return 2;
	}
	tf_alloc_init();
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(lfd, 512) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
		perror("loop_calls: listen");
		return 1;
	}
	child = fork();
	if (child == 0) {
		serve(lfd);
		_exit(0);
	}
	close(lfd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
	cfg.region = "us-east-1";
	cfg.endpoint[TF_AWS_SQS] = url;
	cfg.endpoint[TF_AWS_DYNAMODB] = url;
	if (tf_creds_provider_new_static("AKIDBENCH", "bench-secret", NULL,
	    &creds) != TF_OK)
		return 1;
	cfg.creds = creds;
	if (tf_aws_new(&cfg, &aws) != TF_OK)
		return 1;
	/* Warm both paths (connections, the credential cache) off the clock. */
	{
		long n = n_calls;

		n_calls = in_flight * 4L;
		run_loop(&warm);
		run_threads(&warm);
		n_calls = n;
	}
	run_loop(&lp);
	run_threads(&th);
	printf("| client (%ld SendMessage, %d in flight) | calls/s | CPU µs per call | failed |\n",
	    n_calls, in_flight);
	printf("| --- | --- | --- | --- |\n");
	printf("| event loop, one thread | %.0f | %.1f | %ld |\n", lp.calls_per_s,
	    lp.cpu_us_per_call, lp.failed);
	printf("| synchronous, %d threads | %.0f | %.1f | %ld |\n", in_flight,
	    th.calls_per_s, th.cpu_us_per_call, th.failed);
	printf("| loop ÷ threads | %.2f | %.2f | |\n",
	    lp.calls_per_s / th.calls_per_s, lp.cpu_us_per_call / th.cpu_us_per_call);
	tf_aws_free(aws);
	tf_creds_provider_free(creds);
	kill(child, SIGTERM);
	waitpid(child, NULL, 0);
	return lp.failed || th.failed ? 1 : 0;
}
