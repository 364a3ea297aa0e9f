/*
 * isolate.c - the worker processes of isolated runners (see isolate.h and,
 * for the worker's side and the frames, runner_worker.h).
 *
 * A run takes an idle worker of its runner (or starts one), sends the task,
 * and waits for the answer in slices of at most SLICE_MS, looking at the
 * time limit, the lease and the shutdown between slices. To stop a run the
 * worker gets SIGUSR1 (its runner sees cancelled()) and CANCEL_GRACE_MS to
 * answer, then SIGKILL. A worker that is killed, crashes, exits or answers
 * nonsense is reaped and never reused.
 */
#include "isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "invoke.h"
#include "runner_worker.h"

#define SLICE_MS         100    /* longest wait between looks at the run */
#define CANCEL_GRACE_MS  1000   /* a cancelled worker's time to answer */
#define READY_TIMEOUT_MS 60000  /* a new worker's time to run init() */
#define EXIT_WAIT_MS     1000   /* a worker that hung up: time to exit */
#define STOP_WAIT_MS     5000   /* at shutdown: time to run fini() and exit */

/* One worker process. */
struct worker {
	pid_t pid;
	int fd;                  /* owned: our end of its socket */
	struct worker *next;     /* the idle list */
};

/* The workers of one isolated runner. */
struct pool_runner {
	const struct tf_loaded_runner *lr;  /* borrowed from the set */
	struct worker *idle;     /* owned: idle workers, most recent first */
	int live;                /* started and not yet reaped */
};

/* A request to the spawner thread. Lives on the requester's stack. */
struct spawn_req {
	const struct tf_loaded_runner *lr;
	pid_t pid;               /* out */
	int fd;                  /* out: our end of the socket */
	int err;                 /* out: 0, or an errno value */
	bool done;
	struct spawn_req *next;
};

struct tf_isolate {
	pthread_mutex_t lock;           /* guards idle and live of runners */
	pthread_cond_t freed;           /* a worker became idle or was reaped */
	struct pool_runner *runners;    /* owned array */
	size_t n;
	int max;                        /* workers per runner */
	pid_t self;                     /* the consumer's pid */
	char exe[PATH_MAX];             /* this program's file, "" if unknown */
	dev_t exe_dev;                  /* ... and its identity at start */
	ino_t exe_ino;

	pthread_mutex_t slock;          /* guards the fields below */
	pthread_cond_t scond;           /* a request came, or stop */
	pthread_cond_t sdone;           /* a request was served */
	struct spawn_req *reqs;
	bool stop;
	pthread_t spawner;
	bool spawner_running;
};

/* A frame arriving in pieces on a non-blocking read. */
struct frame_reader {
	uint32_t hdr;            /* the payload's length */
	size_t hgot;             /* bytes of hdr read */
	char *buf;               /* owned: the payload */
	size_t got;              /* bytes of buf read */
};

/* Why a run was told to stop. */
enum stop_reason {
	STOP_NONE,
	STOP_TIMEOUT,
	STOP_LOST,
	STOP_SHUTDOWN,
};

/* ---- starting workers ------------------------------------------------- */

/*
 * Starts the worker program for lr: this program again, with the hidden
 * argument, the socket as fd TF_RUNNER_WORKER_FD and no other descriptor,
 * an empty signal mask, default dispositions and a process group of its
 * own (so a terminal's Ctrl-C reaches only the consumer, which stops the
 * workers itself). posix_spawn(), never fork(): this process has threads.
 * Returns 0 with *pid and *fd (ours), or an errno value.
 */
/*
 * The file to start workers from: this program's path as read at start, so
 * that a consumer run under valgrind starts the consumer and not valgrind
 * (which /proc/self/exe names there); "/proc/self/exe" when that path is
 * unknown or now holds another file (the program was replaced on disk, and
 * a worker must be the same build as its consumer).
 */
static const char *
worker_program(const struct tf_isolate *iso)
{
	struct stat st;

	if (iso->exe[0] != '\0' && stat(iso->exe, &st) == 0 &&
	    st.st_dev == iso->exe_dev && st.st_ino == iso->exe_ino)
		return iso->exe;
	return "/proc/self/exe";
}

/* Notes this program's path and identity for worker_program(). */
static void
remember_program(struct tf_isolate *iso)
{
	ssize_t n = readlink("/proc/self/exe", iso->exe, sizeof(iso->exe) - 1);
	struct stat st;

	iso->exe[n > 0 ? n : 0] = '\0';
	if (n <= 0 || stat(iso->exe, &st) != 0) {
		iso->exe[0] = '\0';
		return;
	}
	iso->exe_dev = st.st_dev;
	iso->exe_ino = st.st_ino;
}

static int
spawn_worker(const struct tf_isolate *iso, const struct tf_loaded_runner *lr,
    pid_t *pid, int *fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char arg0[] = "taskfleet-consumer", arg1[] = TF_RUNNER_WORKER_ARG;
	char ppid[24];
	char *argv[6];
	int sv[2] = { -1, -1 }, t, e;
	bool fa_ok = false, attr_ok = false;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return errno;
	/* dup2() onto itself would keep close-on-exec set. */
	if (sv[1] == TF_RUNNER_WORKER_FD) {
		t = fcntl(sv[1], F_DUPFD_CLOEXEC, TF_RUNNER_WORKER_FD + 1);
		if (t < 0) {
			e = errno;
			goto out;
		}
		close(sv[1]);
		sv[1] = t;
	}
	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto out;
	fa_ok = true;
	if ((e = posix_spawnattr_init(&attr)) != 0)
		goto out;
	attr_ok = true;
	sigemptyset(&none);
	sigfillset(&all);
	if ((e = posix_spawn_file_actions_adddup2(&fa, sv[1],
	    TF_RUNNER_WORKER_FD)) != 0 ||
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa,
	    TF_RUNNER_WORKER_FD + 1)) != 0 ||
	    (e = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (e = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)) != 0)
		goto out;
	snprintf(ppid, sizeof(ppid), "%ld", (long)iso->self);
	argv[0] = arg0;
	argv[1] = arg1;
	argv[2] = ppid;
	argv[3] = (char *)tf_loaded_runner_name(lr);  /* not written to */
	argv[4] = (char *)tf_loaded_runner_path(lr);
	argv[5] = NULL;
	e = posix_spawn(pid, worker_program(iso), &fa, &attr, argv, environ);
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (sv[1] >= 0)
		close(sv[1]);
	if (e != 0) {
		close(sv[0]);
		return e;
	}
	*fd = sv[0];
	return 0;
}

/*
 * The spawner thread: starts every worker, so that they all have this one
 * long-lived thread as their parent. PR_SET_PDEATHSIG fires when the thread
 * that started a process ends, not the process: a worker started by a
 * consumer thread would be killed when that thread exits.
 */
static void *
spawner_main(void *arg)
{
	struct tf_isolate *iso = arg;
	struct spawn_req *req;

	pthread_mutex_lock(&iso->slock);
	for (;;) {
		while (!iso->stop && iso->reqs == NULL)
			pthread_cond_wait(&iso->scond, &iso->slock);
		if (iso->reqs == NULL)
			break;
		req = iso->reqs;
		iso->reqs = req->next;
		pthread_mutex_unlock(&iso->slock);
		req->err = spawn_worker(iso, req->lr, &req->pid, &req->fd);
		pthread_mutex_lock(&iso->slock);
		req->done = true;
		pthread_cond_broadcast(&iso->sdone);
	}
	pthread_mutex_unlock(&iso->slock);
	return NULL;
}

/* Has the spawner thread start a worker for lr. As spawn_worker(). */
static int
request_spawn(struct tf_isolate *iso, const struct tf_loaded_runner *lr,
    pid_t *pid, int *fd)
{
	struct spawn_req req;

	memset(&req, 0, sizeof(req));
	req.lr = lr;
	req.fd = -1;
	pthread_mutex_lock(&iso->slock);
	if (iso->stop) {
		pthread_mutex_unlock(&iso->slock);
		return ECANCELED;
	}
	req.next = iso->reqs;
	iso->reqs = &req;
	pthread_cond_signal(&iso->scond);
	while (!req.done)
		pthread_cond_wait(&iso->sdone, &iso->slock);
	pthread_mutex_unlock(&iso->slock);
	if (req.err == 0) {
		*pid = req.pid;
		*fd = req.fd;
	}
	return req.err;
}

/* ---- reading frames --------------------------------------------------- */

static void
reader_clear(struct frame_reader *fr)
{
	tf_free(fr->buf);
	memset(fr, 0, sizeof(*fr));
}

/* Reads what fd has of a frame without blocking. Returns 1 when the frame
 * is complete (payload in fr->buf, fr->hdr bytes), 0 when more is to come,
 * -1 on EOF, an error or a frame too large. */
static int
reader_step(struct frame_reader *fr, int fd)
{
	ssize_t n;

	for (;;) {
		if (fr->hgot < sizeof(fr->hdr)) {
			n = recv(fd, (char *)&fr->hdr + fr->hgot,
			    sizeof(fr->hdr) - fr->hgot, MSG_DONTWAIT);
		} else {
			if (fr->buf == NULL) {
				if (fr->hdr == 0 || fr->hdr > TF_WORKER_FRAME_MAX)
					return -1;
				if ((fr->buf = tf_malloc(fr->hdr)) == NULL)
					return -1;
			}
			if (fr->got == fr->hdr)
				return 1;
			n = recv(fd, fr->buf + fr->got, fr->hdr - fr->got,
			    MSG_DONTWAIT);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		if (n == 0)
			return -1;
		if (fr->hgot < sizeof(fr->hdr))
			fr->hgot += (size_t)n;
		else
			fr->got += (size_t)n;
	}
}

/* Waits up to ms for fd to become readable (or hung up). */
static void
wait_readable(int fd, int64_t ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (ms < 1)
		ms = 1;
	poll(&p, 1, (int)ms);
}

/* ---- ending workers --------------------------------------------------- */

/* Writes how a process ended (a waitpid() status) into out. */
static void
describe_end(int status, char *out, size_t len)
{
	const char *abbrev;
	int sig;

	if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		abbrev = sigabbrev_np(sig);
		snprintf(out, len, "signal %d, SIG%s", sig, abbrev ? abbrev : "?");
	} else if (WIFEXITED(status)) {
		snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
	} else {
		snprintf(out, len, "ended with wait status %d", status);
	}
}

/*
 * Waits up to wait_ms for pid to end, then SIGKILLs it and waits for good.
 * Returns its wait status, or -1 when it cannot be had.
 */
static int
reap(pid_t pid, int64_t wait_ms)
{
	int64_t until = tf_mono_ms() + wait_ms;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (r == 0 && tf_mono_ms() >= until)
			break;
		if (r == 0)
			tf_sleep_ms(5);
	}
	kill(pid, SIGKILL);
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	return r == pid ? status : -1;
}

/*
 * Ends worker w of pr for good: SIGKILL first when `kill_now`, closes its
 * socket, reaps it (within EXIT_WAIT_MS, then by force) and frees it.
 * Returns its wait status (-1: unknown).
 */
static int
retire(struct tf_isolate *iso, struct pool_runner *pr, struct worker *w,
    bool kill_now)
{
	int status;

	if (kill_now)
		kill(w->pid, SIGKILL);
	close(w->fd);
	status = reap(w->pid, EXIT_WAIT_MS);
	tf_free(w);
	pthread_mutex_lock(&iso->lock);
	pr->live--;
	pthread_cond_broadcast(&iso->freed);
	pthread_mutex_unlock(&iso->lock);
	return status;
}

/* True when an idle worker hung up or died (an idle worker never writes). */
static bool
idle_worker_gone(const struct worker *w)
{
	struct pollfd p = { .fd = w->fd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

/*
 * Starts a worker for pr's runner (counted in pr->live already) and waits
 * for its READY frame. Returns the worker, or NULL with why (a one-line
 * reason) after reaping whatever was started.
 */
static struct worker *
start_worker(struct tf_isolate *iso, struct pool_runner *pr, char *why,
    size_t whylen)
{
	struct frame_reader fr;
	struct tf_worker_reader r;
	struct worker *w;
	const char *msg;
	char how[64], pidtext[24];
	int64_t until;
	size_t len;
	int got = 0, e, status;
	int64_t ready;

	memset(&fr, 0, sizeof(fr));
	if ((w = tf_calloc(1, sizeof(*w))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	e = request_spawn(iso, pr->lr, &w->pid, &w->fd);
	if (e != 0) {
		snprintf(why, whylen, "cannot start a worker process: %s",
		    strerror(e));
		tf_free(w);
		return NULL;
	}
	until = tf_mono_ms() + READY_TIMEOUT_MS;
	while (got == 0 && tf_mono_ms() < until) {
		wait_readable(w->fd, SLICE_MS);
		got = reader_step(&fr, w->fd);
	}
	if (got == 1) {
		tf_worker_reader_init(&r, fr.buf, fr.hdr);
		if (tf_worker_get_type(&r) == TF_WORKER_READY) {
			ready = tf_worker_get_int(&r);
			msg = tf_worker_get_str(&r, &len);
			if (!r.bad && ready == 0)
				goto started;
			if (!r.bad && msg != NULL) {
				snprintf(why, whylen, "%s", msg);
				goto failed;
			}
		}
		snprintf(why, whylen, "the worker process sent a malformed "
		    "greeting");
		goto failed;
	}
	if (got == 0) {
		snprintf(why, whylen, "the worker process was not ready within "
		    "%d s", READY_TIMEOUT_MS / 1000);
		goto failed;
	}
	close(w->fd);
	w->fd = -1;
	status = reap(w->pid, EXIT_WAIT_MS);
	if (status == -1)
		snprintf(how, sizeof(how), "ended");
	else
		describe_end(status, how, sizeof(how));
	snprintf(why, whylen, "the worker process %s before it was ready", how);
	tf_free(w);
	reader_clear(&fr);
	return NULL;
failed:
	kill(w->pid, SIGKILL);
	close(w->fd);
	reap(w->pid, EXIT_WAIT_MS);
	tf_free(w);
	reader_clear(&fr);
	return NULL;
started:
	reader_clear(&fr);
	snprintf(pidtext, sizeof(pidtext), "%ld", (long)w->pid);
	{
		struct tf_log_field f[2] = {
			{ "runner", tf_loaded_runner_name(pr->lr) },
			{ "pid", pidtext },
		};

		tf_log_fields(TF_LOG_INFO, f, 2, "runner worker started");
	}
	return w;
}

/* ---- the pool --------------------------------------------------------- */

static struct pool_runner *
find_runner(struct tf_isolate *iso, const struct tf_loaded_runner *lr)
{
	size_t i;

	for (i = 0; i < iso->n; i++) {
		if (iso->runners[i].lr == lr)
			return &iso->runners[i];
	}
	return NULL;
}

/*
 * Takes an idle worker of pr, or starts one when fewer than iso->max live,
 * or waits for one to come free. Returns NULL with why when a new worker
 * does not start.
 */
static struct worker *
acquire(struct tf_isolate *iso, struct pool_runner *pr, char *why,
    size_t whylen)
{
	struct worker *w;
	char how[64];
	int status;

	pthread_mutex_lock(&iso->lock);
	for (;;) {
		while ((w = pr->idle) != NULL) {
			pr->idle = w->next;
			pthread_mutex_unlock(&iso->lock);
			if (!idle_worker_gone(w))
				return w;
			/* Its runner ended it between runs (a thread of its own
			 * crashing, say). */
			status = retire(iso, pr, w, true);
			if (status != -1) {
				describe_end(status, how, sizeof(how));
				tf_log(TF_LOG_WARN, "an idle worker of runner %s ended "
				    "(%s); replacing it", tf_loaded_runner_name(pr->lr),
				    how);
			}
			pthread_mutex_lock(&iso->lock);
		}
		if (pr->live < iso->max) {
			pr->live++;
			pthread_mutex_unlock(&iso->lock);
			w = start_worker(iso, pr, why, whylen);
			if (w == NULL) {
				pthread_mutex_lock(&iso->lock);
				pr->live--;
				pthread_cond_broadcast(&iso->freed);
				pthread_mutex_unlock(&iso->lock);
			}
			return w;
		}
		pthread_cond_wait(&iso->freed, &iso->lock);
	}
}

/* Puts a healthy worker back on pr's idle list. */
static void
release(struct tf_isolate *iso, struct pool_runner *pr, struct worker *w)
{
	pthread_mutex_lock(&iso->lock);
	w->next = pr->idle;
	pr->idle = w;
	pthread_cond_broadcast(&iso->freed);
	pthread_mutex_unlock(&iso->lock);
}

/* Frees the pool: its workers must be gone, the spawner stopped. */
static void
pool_free(struct tf_isolate *iso)
{
	pthread_mutex_destroy(&iso->lock);
	pthread_cond_destroy(&iso->freed);
	pthread_mutex_destroy(&iso->slock);
	pthread_cond_destroy(&iso->scond);
	pthread_cond_destroy(&iso->sdone);
	tf_free(iso->runners);
	tf_free(iso);
}

enum tf_err
tf_isolate_start(struct tf_consumer *c)
{
	struct tf_isolate *iso = NULL;
	const struct tf_loaded_runner *lr;
	struct worker *w;
	char why[1024];
	size_t count = 0, i;

	c->iso = NULL;
	for (i = 0; i < tf_runner_set_count(c->runners); i++) {
		if (tf_loaded_runner_isolated(tf_runner_set_at(c->runners, i)))
			count++;
	}
	if (count == 0)
		return TF_OK;
	if ((iso = tf_calloc(1, sizeof(*iso))) == NULL)
		return TF_ERR_NOMEM;
	if ((iso->runners = tf_calloc(count, sizeof(*iso->runners))) == NULL) {
		tf_free(iso);
		return TF_ERR_NOMEM;
	}
	pthread_mutex_init(&iso->lock, NULL);
	pthread_cond_init(&iso->freed, NULL);
	pthread_mutex_init(&iso->slock, NULL);
	pthread_cond_init(&iso->scond, NULL);
	pthread_cond_init(&iso->sdone, NULL);
	iso->max = c->o.concurrency > 0 ? c->o.concurrency : 1;
	iso->self = getpid();
	remember_program(iso);
	for (i = 0; i < tf_runner_set_count(c->runners); i++) {
		lr = tf_runner_set_at(c->runners, i);
		if (tf_loaded_runner_isolated(lr))
			iso->runners[iso->n++].lr = lr;
	}
	if (pthread_create(&iso->spawner, NULL, spawner_main, iso) != 0) {
		pool_free(iso);
		return TF_ERR_NOMEM;
	}
	iso->spawner_running = true;
	c->iso = iso;

	/* One worker each now: a runner whose init() fails stops the start. */
	for (i = 0; i < iso->n; i++) {
		iso->runners[i].live = 1;
		w = start_worker(iso, &iso->runners[i], why, sizeof(why));
		if (w == NULL) {
			iso->runners[i].live = 0;
			lr = iso->runners[i].lr;
			/* The loader's messages name the file already. */
			if (strstr(why, tf_loaded_runner_path(lr)) != NULL)
				tf_log(TF_LOG_ERROR, "isolated runner \"%s\" did not start: "
				    "%s", tf_loaded_runner_name(lr), why);
			else
				tf_log(TF_LOG_ERROR, "isolated runner \"%s\" (%s) did not "
				    "start: %s", tf_loaded_runner_name(lr),
				    tf_loaded_runner_path(lr), why);
			tf_isolate_stop(c);
			return TF_ERR_INVALID;
		}
		release(iso, &iso->runners[i], w);
	}
	return TF_OK;
}

void
tf_isolate_stop(struct tf_consumer *c)
{
	struct tf_isolate *iso = c->iso;
	struct worker *w, *next, *all = NULL;
	int64_t until;
	int status, n = 0, busy = 0;
	pid_t r;
	size_t i;
	char how[64];

	if (iso == NULL)
		return;
	c->iso = NULL;
	/* EOF on its socket: each worker calls fini() and exits. */
	pthread_mutex_lock(&iso->lock);
	for (i = 0; i < iso->n; i++) {
		for (w = iso->runners[i].idle; w != NULL; w = next) {
			next = w->next;
			close(w->fd);
			w->fd = -1;
			w->next = all;
			all = w;
			n++;
			iso->runners[i].live--;
		}
		iso->runners[i].idle = NULL;
		busy += iso->runners[i].live;
	}
	pthread_mutex_unlock(&iso->lock);
	until = tf_mono_ms() + STOP_WAIT_MS;
	for (w = all; w != NULL; w = w->next) {
		for (;;) {
			r = waitpid(w->pid, &status, WNOHANG);
			if (r == w->pid || (r < 0 && errno != EINTR))
				break;
			if (r == 0 && tf_mono_ms() >= until) {
				tf_log(TF_LOG_WARN, "runner worker %ld did not exit within "
				    "%d s; killing it", (long)w->pid, STOP_WAIT_MS / 1000);
				status = reap(w->pid, 0);
				r = w->pid;
				break;
			}
			if (r == 0)
				tf_sleep_ms(5);
		}
		if (r == w->pid && status != -1 &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			describe_end(status, how, sizeof(how));
			tf_log(TF_LOG_WARN, "runner worker %ld %s at shutdown",
			    (long)w->pid, how);
		}
	}
	for (w = all; w != NULL; w = next) {
		next = w->next;
		tf_free(w);
	}
	if (busy > 0)
		tf_log(TF_LOG_WARN, "%d runner worker(s) still busy at shutdown: "
		    "they are killed with the consumer", busy);
	/* Last: workers still running die with this thread. */
	pthread_mutex_lock(&iso->slock);
	iso->stop = true;
	pthread_cond_broadcast(&iso->scond);
	pthread_mutex_unlock(&iso->slock);
	if (iso->spawner_running)
		pthread_join(iso->spawner, NULL);
	tf_log(TF_LOG_DEBUG, "stopped %d runner worker(s)", n);
	if (busy == 0)
		pool_free(iso);
	/* else: busy runs still point at the pool; it goes with the process. */
}

/* ---- one run ---------------------------------------------------------- */

static void set_retry(struct tf_run_result *result, struct tf_run_ctx *ctx,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Makes the run a failed attempt (TF_RUN_RETRY) with the text, dropping
 * whatever the runner handed over. */
static void
set_retry(struct tf_run_result *result, struct tf_run_ctx *ctx,
    const char *fmt, ...)
{
	va_list ap;

	result->outcome = TF_RUN_RETRY;
	result->completed = 0;
	result->new_target_timestamp = 0;
	result->retry_after_ms = 0;
	if (result->error != NULL && result->error_size > 0) {
		va_start(ap, fmt);
		vsnprintf(result->error, result->error_size, fmt, ap);
		va_end(ap);
	}
	tf_run_ctx_clear(ctx);
}

/* Builds the RUN frame for view. */
static enum tf_err
encode_run(struct tf_buf *b, const struct tf_task_view *view)
{
	const char *params = view->params_json != NULL ? view->params_json : "{}";
	size_t plen = view->params_json != NULL ? view->params_len : 2;

	if (tf_worker_put_type(b, TF_WORKER_RUN) != TF_OK ||
	    tf_worker_put_int(b, view->iteration) != TF_OK ||
	    tf_worker_put_int(b, view->attempt) != TF_OK ||
	    tf_worker_put_int(b, view->max_attempts) != TF_OK ||
	    tf_worker_put_int(b, view->target_ms) != TF_OK ||
	    tf_worker_put_int(b, view->deadline_ms) != TF_OK ||
	    tf_worker_put_str(b, view->id, strlen(view->id)) != TF_OK ||
	    tf_worker_put_str(b, view->ns, strlen(view->ns)) != TF_OK ||
	    tf_worker_put_str(b, view->type, strlen(view->type)) != TF_OK ||
	    tf_worker_put_str(b, params, plen) != TF_OK)
		return TF_ERR_NOMEM;
	return TF_OK;
}

/*
 * Fills result and ctx from a DONE frame (borrowed), checking it as the
 * worker did: a known outcome, documents that are JSON objects of at most
 * TF_HOST_MAX_DOCUMENT. Returns 0, or -1 when the frame is malformed (result
 * and ctx are then to be reset by the caller).
 */
static int
decode_done(const char *payload, size_t len, struct tf_run_result *result,
    struct tf_run_ctx *ctx)
{
	struct tf_worker_reader r;
	const char *error, *params, *doc;
	size_t elen, plen, dlen;
	int64_t outcome, completed, target, retry_after;

	tf_worker_reader_init(&r, payload, len);
	if (tf_worker_get_type(&r) != TF_WORKER_DONE)
		return -1;
	outcome = tf_worker_get_int(&r);
	completed = tf_worker_get_int(&r);
	target = tf_worker_get_int(&r);
	retry_after = tf_worker_get_int(&r);
	error = tf_worker_get_str(&r, &elen);
	params = tf_worker_get_str(&r, &plen);
	doc = tf_worker_get_str(&r, &dlen);
	if (r.bad || r.left != 0 || error == NULL)
		return -1;
	if (outcome != TF_RUN_SUCCESS && outcome != TF_RUN_RETRY &&
	    outcome != TF_RUN_FAILED)
		return -1;
	if (params != NULL &&
	    tf_host_take_document(&ctx->new_params, params, plen) != 0)
		return -1;
	if (doc != NULL && tf_host_take_document(&ctx->result_json, doc, dlen) != 0)
		return -1;
	result->outcome = (enum tf_run_outcome)outcome;
	result->completed = completed != 0;
	result->new_target_timestamp = target;
	result->retry_after_ms = retry_after;
	if (result->error != NULL && result->error_size > 0)
		snprintf(result->error, result->error_size, "%s", error);
	return 0;
}

void
tf_isolate_run(struct tf_consumer *c, const struct tf_loaded_runner *lr,
    const struct tf_task_view *view, struct tf_run_result *result,
    struct tf_run_ctx *ctx)
{
	struct tf_isolate *iso = c->iso;
	struct pool_runner *pr = iso != NULL ? find_runner(iso, lr) : NULL;
	struct frame_reader fr;
	struct tf_buf req = TF_BUF_INIT;
	struct worker *w = NULL;
	enum stop_reason reason = STOP_NONE;
	int64_t deadline = view->deadline_ms, limit, now, grace_until = 0, slice;
	char why[512], how[64], pidtext[24];
	int got = 0, status;

	memset(&fr, 0, sizeof(fr));
	limit = tf_loaded_runner_time_limit_ms(lr);
	if (pr == NULL) {
		set_retry(result, ctx, "runner \"%s\" is isolated but has no "
		    "worker pool", tf_loaded_runner_name(lr));
		return;
	}
	w = acquire(iso, pr, why, sizeof(why));
	if (w == NULL) {
		set_retry(result, ctx, "cannot start a worker for runner \"%s\": %s",
		    tf_loaded_runner_name(lr), why);
		return;
	}
	if (encode_run(&req, view) != TF_OK) {
		release(iso, pr, w);
		set_retry(result, ctx, "out of memory sending the task to its "
		    "worker");
		goto out;
	}
	if (tf_worker_send(w->fd, &req) != 0)
		got = -1;  /* it died since: below as a crash */

	while (got == 0) {
		now = tf_now_ms();
		if (reason == STOP_NONE) {
			if (deadline > 0 && now >= deadline)
				reason = STOP_TIMEOUT;
			else if (ctx->f != NULL && (atomic_load(&ctx->f->lost) ||
			    tf_inflight_lease_ending(ctx->f, tf_mono_ms(),
			    tf_heartbeat_margin_ms(c->o.visibility_s))))
				reason = STOP_LOST;
			else if (atomic_load(&c->abandon))
				reason = STOP_SHUTDOWN;
			if (reason != STOP_NONE) {
				kill(w->pid, SIGUSR1);
				grace_until = tf_mono_ms() + CANCEL_GRACE_MS;
			}
		} else if (tf_mono_ms() >= grace_until) {
			break;
		}
		slice = SLICE_MS;
		if (reason == STOP_NONE && deadline > 0 && deadline - now < slice)
			slice = deadline - now;
		wait_readable(w->fd, slice);
		got = reader_step(&fr, w->fd);
	}

	if (got == 1 && decode_done(fr.buf, fr.hdr, result, ctx) == 0) {
		release(iso, pr, w);
		/* Answered, but late: the same rule as in this process. */
		if (deadline > 0 && (reason == STOP_TIMEOUT || tf_now_ms() >= deadline))
			tf_run_overrun(result, ctx, limit);
		goto out;
	}
	snprintf(pidtext, sizeof(pidtext), "%ld", (long)w->pid);
	if (got == 1) {
		retire(iso, pr, w, true);
		set_retry(result, ctx, "runner worker sent a malformed answer; "
		    "worker replaced");
	} else if (got == 0) {
		/* Stopped and did not answer within the grace: killed. */
		retire(iso, pr, w, true);
		if (reason == STOP_TIMEOUT)
			set_retry(result, ctx, "run timed out after %lld ms; worker "
			    "killed", (long long)limit);
		else if (reason == STOP_LOST)
			set_retry(result, ctx, "lease lost; worker killed");
		else
			set_retry(result, ctx, "the consumer is shutting down; worker "
			    "killed");
	} else {
		status = retire(iso, pr, w, false);
		if (status == -1)
			snprintf(how, sizeof(how), "ended");
		else
			describe_end(status, how, sizeof(how));
		set_retry(result, ctx, "runner crashed (%s); worker replaced", how);
	}
	{
		struct tf_log_field f[3] = {
			{ "task", view->id },
			{ "runner", tf_loaded_runner_name(lr) },
			{ "pid", pidtext },
		};

		tf_log_fields(TF_LOG_WARN, f, 3, "runner worker ended: %s",
		    result->error != NULL ? result->error : "");
	}
out:
	reader_clear(&fr);
	tf_buf_free(&req);
}
