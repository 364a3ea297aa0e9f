/*
 * runner_worker.c - the worker process of an isolated runner (see
 * runner_worker.h), and the frames both sides exchange.
 *
 * The worker serves one run at a time on its main thread. Whatever the
 * runner does to this process (a crash, exit(), a hang) ends or stalls only
 * this worker; the consumer sees EOF or its time limit and replaces it.
 */
#include "runner_worker.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "host.h"
#include "task/runners.h"
#include "target/target_run.h"

/* ---- frames ----------------------------------------------------------- */

enum tf_err
tf_worker_put_type(struct tf_buf *b, enum tf_worker_frame type)
{
	return tf_buf_append_char(b, (char)type);
}

enum tf_err
tf_worker_put_int(struct tf_buf *b, int64_t v)
{
	return tf_buf_append(b, &v, sizeof(v));
}

enum tf_err
tf_worker_put_str(struct tf_buf *b, const char *s, size_t len)
{
	uint32_t n = s == NULL ? TF_WORKER_NO_STRING : (uint32_t)len;
	enum tf_err rc;

	if (s != NULL && len >= TF_WORKER_FRAME_MAX)
		return TF_ERR_NOMEM;
	rc = tf_buf_append(b, &n, sizeof(n));
	if (rc == TF_OK && s != NULL) {
		rc = tf_buf_append(b, s, len);
		if (rc == TF_OK)
			rc = tf_buf_append_char(b, '\0');
	}
	return rc;
}

void
tf_worker_reader_init(struct tf_worker_reader *r, const char *payload,
    size_t len)
{
	r->p = payload;
	r->left = len;
	r->bad = false;
}

/* Takes n bytes from r into out; false (and bad) when fewer are left. */
static bool
take(struct tf_worker_reader *r, void *out, size_t n)
{
	if (r->bad || r->left < n) {
		r->bad = true;
		return false;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return true;
}

int
tf_worker_get_type(struct tf_worker_reader *r)
{
	unsigned char t = 0;

	take(r, &t, 1);
	return t;
}

int64_t
tf_worker_get_int(struct tf_worker_reader *r)
{
	int64_t v = 0;

	take(r, &v, sizeof(v));
	return v;
}

const char *
tf_worker_get_str(struct tf_worker_reader *r, size_t *len)
{
	const char *s;
	uint32_t n = 0;

	*len = 0;
	if (!take(r, &n, sizeof(n)) || n == TF_WORKER_NO_STRING)
		return NULL;
	if (r->left < (size_t)n + 1 || r->p[n] != '\0') {
		r->bad = true;
		return NULL;
	}
	s = r->p;
	r->p += (size_t)n + 1;
	r->left -= (size_t)n + 1;
	*len = n;
	return s;
}

/* Writes all of len bytes of p to fd. */
static int
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		n = send(fd, c, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int
tf_worker_send(int fd, const struct tf_buf *b)
{
	uint32_t n = (uint32_t)b->len;

	if (b->len > TF_WORKER_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (write_all(fd, &n, sizeof(n)) != 0)
		return -1;
	return write_all(fd, b->data, b->len);
}

/* Reads exactly len bytes: 1, 0 on EOF before the first byte, -1 else. */
static int
read_all(int fd, void *p, size_t len)
{
	char *c = p;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, c + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return got == 0 ? 0 : -1;
		got += (size_t)n;
	}
	return 1;
}

int
tf_worker_recv(int fd, char **out, size_t *len)
{
	uint32_t n;
	char *buf;
	int rc;

	*out = NULL;
	*len = 0;
	rc = read_all(fd, &n, sizeof(n));
	if (rc <= 0)
		return rc;
	if (n == 0 || n > TF_WORKER_FRAME_MAX)
		return -1;
	if ((buf = tf_malloc(n)) == NULL)
		return -1;
	if (read_all(fd, buf, n) != 1) {
		tf_free(buf);
		return -1;
	}
	*out = buf;
	*len = n;
	return 1;
}

/* ---- the worker's host table ------------------------------------------ */

/* Set by SIGUSR1: the consumer asks the current run to stop. Cleared when a
 * run starts (the consumer signals only while a run is under way). */
static volatile sig_atomic_t cancel_requested;
/* The current run's deadline, epoch ms; 0: none. */
static atomic_llong run_deadline_ms;
/* The runner this worker serves (borrowed from the set), for log lines. */
static const char *runner_name;

static void
on_sigusr1(int sig)
{
	(void)sig;
	cancel_requested = 1;
}

static void worker_log(struct tf_run_ctx *ctx, enum tf_runner_log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes the runner's line as one of the consumer's JSON log lines on
 * stderr, which this process shares with the consumer. */
static void
worker_log(struct tf_run_ctx *ctx, enum tf_runner_log_level level,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tf_host_vlog(ctx ? ctx->task_id : NULL, runner_name, level, fmt, ap);
	va_end(ap);
}

static int
worker_cancelled(struct tf_run_ctx *ctx)
{
	int64_t deadline = atomic_load(&run_deadline_ms);

	(void)ctx;
	if (cancel_requested)
		return 1;
	return deadline > 0 && tf_now_ms() >= deadline;
}

/* The consumer's heartbeat keeps the lease; a runner asking learns
 * only whether it should go on. */
static int
worker_heartbeat(struct tf_run_ctx *ctx)
{
	return worker_cancelled(ctx) ? -1 : 0;
}

static int64_t
worker_now_ms(void)
{
	return tf_now_ms();
}

static int
worker_set_params(struct tf_run_ctx *ctx, const char *json, size_t len)
{
	return ctx ? tf_host_take_document(&ctx->new_params, json, len) : -1;
}

static int
worker_set_result(struct tf_run_ctx *ctx, const char *json, size_t len)
{
	return ctx ? tf_host_take_document(&ctx->result_json, json, len) : -1;
}

static const struct tf_host_api worker_host = {
	.size = sizeof(struct tf_host_api),
	.log = worker_log,
	.heartbeat = worker_heartbeat,
	.cancelled = worker_cancelled,
	.now_ms = worker_now_ms,
	.set_params = worker_set_params,
	.set_result = worker_set_result,
	.target_init = tf_target_host_init,
	.target_run = tf_target_runner_run,
	.target_fini = tf_target_runner_fini,
};

/* ---- the worker ------------------------------------------------------- */

/* Sends the READY frame: status 0 and "" when the runner started. */
static int
send_ready(int fd, int status, const char *message)
{
	struct tf_buf b = TF_BUF_INIT;
	int rc = -1;

	if (tf_worker_put_type(&b, TF_WORKER_READY) == TF_OK &&
	    tf_worker_put_int(&b, status) == TF_OK &&
	    tf_worker_put_str(&b, message, strlen(message)) == TF_OK)
		rc = tf_worker_send(fd, &b);
	tf_buf_free(&b);
	return rc;
}

/*
 * Runs the RUN frame in payload (borrowed) with runner lr and sends the DONE
 * frame. Returns 0, or -1 when the frame is malformed or the answer cannot
 * be sent (the worker then exits: the consumer replaces it).
 */
static int
serve_one(int fd, const struct tf_loaded_runner *lr, const char *payload,
    size_t len)
{
	struct tf_worker_reader r;
	struct tf_task_view view;
	struct tf_run_result result;
	struct tf_run_ctx ctx;
	struct tf_buf b = TF_BUF_INIT;
	char errbuf[TF_RUNNER_ERROR_SIZE];
	size_t n;
	int rc = -1;

	memset(&view, 0, sizeof(view));
	memset(&ctx, 0, sizeof(ctx));
	tf_worker_reader_init(&r, payload, len);
	if (tf_worker_get_type(&r) != TF_WORKER_RUN)
		goto out;
	view.size = sizeof(view);
	view.iteration = tf_worker_get_int(&r);
	view.attempt = (int32_t)tf_worker_get_int(&r);
	view.max_attempts = (int32_t)tf_worker_get_int(&r);
	view.target_ms = tf_worker_get_int(&r);
	view.deadline_ms = tf_worker_get_int(&r);
	view.id = tf_worker_get_str(&r, &n);
	view.ns = tf_worker_get_str(&r, &n);
	view.type = tf_worker_get_str(&r, &n);
	view.params_json = tf_worker_get_str(&r, &view.params_len);
	if (r.bad || view.id == NULL || view.ns == NULL || view.type == NULL ||
	    view.params_json == NULL) {
		tf_log(TF_LOG_ERROR, "runner worker: malformed run request");
		goto out;
	}
	ctx.task_id = view.id;
	ctx.runner = runner_name;
	view.host = &worker_host;
	view.ctx = &ctx;
	atomic_store(&run_deadline_ms, view.deadline_ms);
	cancel_requested = 0;

	tf_run_result_prepare(&result, errbuf, sizeof(errbuf));
	tf_runner_invoke(lr, &view, &result);
	atomic_store(&run_deadline_ms, 0);

	if (tf_worker_put_type(&b, TF_WORKER_DONE) != TF_OK ||
	    tf_worker_put_int(&b, (int64_t)result.outcome) != TF_OK ||
	    tf_worker_put_int(&b, result.completed) != TF_OK ||
	    tf_worker_put_int(&b, result.new_target_timestamp) != TF_OK ||
	    tf_worker_put_int(&b, result.retry_after_ms) != TF_OK ||
	    tf_worker_put_str(&b, errbuf, strlen(errbuf)) != TF_OK ||
	    tf_worker_put_str(&b, ctx.new_params, ctx.new_params ?
	    strlen(ctx.new_params) : 0) != TF_OK ||
	    tf_worker_put_str(&b, ctx.result_json, ctx.result_json ?
	    strlen(ctx.result_json) : 0) != TF_OK) {
		tf_log(TF_LOG_ERROR, "runner worker: out of memory answering");
		goto out;
	}
	rc = tf_worker_send(fd, &b);
out:
	tf_buf_free(&b);
	tf_run_ctx_clear(&ctx);
	return rc;
}

/* Makes this process a proper child of the consumer: it dies with it, keeps
 * no descriptor but 0-2 and the socket, and handles the signals it needs.
 * Returns 0, or -1 when the consumer is already gone. */
static int
worker_setup(pid_t parent)
{
	struct sigaction sa;

	/* Killed when the consumer's spawning thread (which lives as long as
	 * the consumer) ends; a consumer that died before this line is seen
	 * by getppid(). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		return -1;
	close_range(TF_RUNNER_WORKER_FD + 1, ~0u, 0);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_sigusr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	/* As in the consumer: a closed connection is an error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
tf_runner_worker_main(int argc, char **argv)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *lr;
	char err[1024], *frame = NULL, *end;
	size_t len;
	long parent;
	int fd = TF_RUNNER_WORKER_FD, code = 1, got;
	enum tf_err rc;

	if (argc != 5) {
		fprintf(stderr, "taskfleet-consumer: %s is for the consumer's own "
		    "use\n", TF_RUNNER_WORKER_ARG);
		return 2;
	}
	parent = strtol(argv[2], &end, 10);
	if (*end != '\0' || parent <= 1 || worker_setup((pid_t)parent) != 0)
		return 1;
	tf_alloc_init();
	tf_log_init();
	runner_name = argv[3];

	rc = tf_runner_set_load(argv[4], &set, err, sizeof(err));
	if (rc == TF_OK && (tf_runner_set_count(set) != 1 ||
	    tf_runner_set_find(set, argv[3]) == NULL)) {
		rc = TF_ERR_INVALID;
		snprintf(err, sizeof(err), "runner file %s is not the runner \"%s\"",
		    argv[4], argv[3]);
	}
	if (rc == TF_OK)
		rc = tf_runner_set_init(set, &worker_host, err, sizeof(err));
	if (rc != TF_OK) {
		send_ready(fd, 1, err);
		goto out;
	}
	lr = tf_runner_set_find(set, argv[3]);
	runner_name = tf_loaded_runner_name(lr);
	if (send_ready(fd, 0, "") != 0)
		goto out;
	tf_debug("runner worker for %s ready", runner_name);
	for (;;) {
		got = tf_worker_recv(fd, &frame, &len);
		if (got == 0)
			break;  /* the consumer closed the socket: stop */
		if (got < 0 || serve_one(fd, lr, frame, len) != 0)
			goto out;
		tf_free(frame);
		frame = NULL;
	}
	code = 0;
out:
	tf_free(frame);
	tf_runner_set_free(set);  /* fini() */
	close(fd);
	return code;
}
