/* loop.c - libuv + curl multi-socket: transfers, timers, hand-offs. */
#include "loop/loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <uv.h>

#include "base/alloc.h"
#include "base/log.h"

/* Idle easy handles kept for reuse (connections live in the multi handle). */
#define IDLE_EASY_MAX 64

/* One transfer in flight, or waiting for its turn (easy NULL). */
struct xfer {
	struct xfer *prev, *next;       /* loop->xfers, or its origin's waiting */
	struct origin *origin;          /* borrowed: the loop's */
	const struct tf_http_request *req;  /* borrowed until cb */
	CURL *easy;                     /* owned; NULL while waiting */
	struct tf_http_xfer hx;         /* what curl's callbacks fill */
	struct tf_http_response resp;   /* owned until the callback */
	tf_loop_http_cb *cb;
	void *ctx;                      /* borrowed: the caller's */
};

/* A transfer whose easy handle the caller built (tf_loop_easy()). */
struct tf_loop_easy {
	struct tf_loop_easy *prev, *next;  /* loop->hooks.easies */
	CURL *easy;                     /* borrowed until cb (or cancel) */
	tf_loop_easy_cb *cb;
	void *ctx;                      /* borrowed: the caller's */
	struct tf_loop *loop;
};

/* One curl multi handle on the loop, with the sockets and the timer it asked
 * for: the AWS calls' (tf_loop_http()) and the handed-in transfers'
 * (tf_loop_easy()), each with its own connection cache and limits. */
struct multi {
	CURLM *multi;                   /* owned */
	uv_timer_t timer;               /* the timeout curl asked for */
	struct sock *socks;             /* watched sockets, owned */
	struct sock *spare;             /* allocated for sockets to come, owned
	                                   (next links): curl's socket callback
	                                   must not fail for want of memory,
	                                   which would break the multi handle */
	int n_spare;
	int n_socks;                    /* in socks */
	size_t n_xfers;                 /* transfers added to multi */
	struct tf_loop *loop;
	struct tf_loop_easy *easies;    /* hooks only: handed-in transfers */
	void (*collect)(struct multi *m);  /* reports finished transfers */
};

/*
 * Where the AWS transfers go ("scheme://host:port" of the URL), each with
 * its transfers on the wire and those waiting for their turn. The loop puts
 * at most max_host_connections of one origin on the wire: past curl's own
 * limit a transfer would wait inside curl, which goes through its
 * connection set-up (URL parsing, proxy lookup, connection search) again
 * each time a connection frees, only to wait again (callgrind: 1,783 such
 * set-ups of 29k instructions each for 1,330 requests, 400 webhook runs).
 * The last slot is shared by any origins past the others.
 */
#define ORIGINS_MAX 8
#define ORIGIN_KEY 128

struct origin {
	char key[ORIGIN_KEY];           /* "" for the shared slot */
	size_t n_wire;                  /* its transfers on the wire */
	struct xfer *waiting, *waiting_tail;  /* in order of submission;
	                                   owned (next links) */
};

/* A socket curl asked us to watch. */
struct sock {
	uv_poll_t poll;                 /* data: this struct */
	curl_socket_t fd;
	struct multi *m;
	struct sock *prev, *next;       /* m->socks */
};

struct tf_loop_timer {
	uv_timer_t uv;                  /* data: this struct */
	struct tf_loop *loop;
	tf_loop_fn *fn;
	void *ctx;                      /* borrowed: the caller's */
	struct tf_loop_timer *prev, *next;  /* loop->timers */
};

/* A function posted from another thread. */
struct post {
	struct post *next;
	tf_loop_fn *fn;
	void *ctx;                      /* borrowed: the poster's */
};

/* Blocking work on libuv's pool. */
struct work {
	uv_work_t req;                  /* data: this struct */
	struct tf_loop *loop;
	void (*fn)(void *ctx);
	tf_loop_fn *done;
	void *ctx;                      /* borrowed: the caller's */
	struct work *prev, *next;       /* loop->works */
};

struct tf_loop {
	uv_loop_t uv;
	uv_async_t wake;                /* posts and stop requests */
	struct multi aws;               /* tf_loop_http() */
	struct multi hooks;             /* tf_loop_easy() */
	struct xfer *xfers;             /* in flight, owned */
	struct origin origins[ORIGINS_MAX];
	int n_origins;                  /* in use, the shared slot apart */
	int next_origin;                /* where start_waiting() looks first */
	size_t n_waiting;               /* in every origin's waiting list */
	size_t max_xfers;               /* transfers on the wire at once */
	size_t max_per_origin;          /* of one origin */
	struct tf_loop_timer *timers;   /* pending, owned */
	struct work *works;             /* queued or running, owned */
	CURL *idle[IDLE_EASY_MAX];      /* owned */
	int n_idle;
	pthread_mutex_t lock;           /* guards posts, n_posts and closed */
	struct post *posts, *posts_tail;  /* owned */
	int closed;                     /* no more posts accepted */
	atomic_int stop_requested;
	int stopping;                   /* draining: no new submissions */
	int drained;
	int ran;
};

#define LIST_ADD(head, x) do { \
		(x)->prev = NULL; \
		(x)->next = (head); \
		if ((head) != NULL) \
			(head)->prev = (x); \
		(head) = (x); \
	} while (0)

#define LIST_DEL(head, x) do { \
		if ((x)->prev != NULL) \
			(x)->prev->next = (x)->next; \
		else \
			(head) = (x)->next; \
		if ((x)->next != NULL) \
			(x)->next->prev = (x)->prev; \
		(x)->prev = (x)->next = NULL; \
	} while (0)

static void
on_close_free(uv_handle_t *h)
{
	tf_free(h->data);
}

/* Keeps a socket struct ready for every socket curl may open before the
 * next transfer starts, so that its socket callback never allocates: one
 * per transfer on the wire (with this one) beyond the sockets watched, and
 * SPARE_SOCKS more (happy eyeballs tries two addresses at once). -1 when
 * memory is short (nothing is started then). */
#define SPARE_SOCKS 2

static int
keep_spares(struct multi *m)
{
	struct sock *s;
	long want = (long)m->n_xfers + 1 + SPARE_SOCKS - m->n_socks;

	while (m->n_spare < want) {
		s = tf_calloc(1, sizeof(*s));
		if (s == NULL)
			return -1;
		s->next = m->spare;
		m->spare = s;
		m->n_spare++;
	}
	return 0;
}

/* Puts x (its req, cb and ctx set) on the wire. On failure x is freed and
 * nothing is called back. */
static enum tf_err
start_xfer(struct tf_loop *loop, struct xfer *x)
{
	enum tf_err rc;

	if (keep_spares(&loop->aws) != 0) {
		tf_free(x);
		return TF_ERR_NOMEM;
	}
	x->easy = loop->n_idle > 0 ? loop->idle[--loop->n_idle] : curl_easy_init();
	if (x->easy == NULL) {
		tf_free(x);
		return TF_ERR_NOMEM;
	}
	rc = tf_http_xfer_prepare(x->easy, x->req, &x->hx, &x->resp);
	if (rc != TF_OK)
		goto fail;
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (char *)x);
	if (curl_multi_add_handle(loop->aws.multi, x->easy) != CURLM_OK) {
		rc = TF_ERR_NOMEM;
		tf_http_xfer_release(x->easy, &x->hx);
		tf_http_response_free(&x->resp);
		goto fail;
	}
	LIST_ADD(loop->xfers, x);
	loop->aws.n_xfers++;
	x->origin->n_wire++;
	return TF_OK;
fail:
	curl_easy_cleanup(x->easy);
	tf_free(x);
	return rc;
}

/* The origin of url (borrowed: the loop's), made on first use. */
static struct origin *
origin_of(struct tf_loop *loop, const char *url)
{
	const char *host = strstr(url, "://"), *end;
	size_t len;
	int i;

	host = host != NULL ? host + 3 : url;
	end = host + strcspn(host, "/?#");
	len = (size_t)(end - url);
	if (len >= ORIGIN_KEY)
		return &loop->origins[ORIGINS_MAX - 1];
	for (i = 0; i < loop->n_origins; i++)
		if (strncmp(loop->origins[i].key, url, len) == 0 &&
		    loop->origins[i].key[len] == '\0')
			return &loop->origins[i];
	if (loop->n_origins == ORIGINS_MAX - 1)
		return &loop->origins[ORIGINS_MAX - 1];
	memcpy(loop->origins[i].key, url, len);
	loop->origins[i].key[len] = '\0';
	loop->n_origins++;
	return &loop->origins[i];
}

/* Whether a transfer to o may go on the wire now. */
static bool
has_room(const struct tf_loop *loop, const struct origin *o)
{
	return loop->aws.n_xfers < loop->max_xfers &&
	    o->n_wire < loop->max_per_origin && !loop->stopping;
}

/* The next waiting transfer of any origin with room (taken off its list;
 * the origins take turns), or NULL. */
static struct xfer *
next_waiting(struct tf_loop *loop)
{
	struct origin *o;
	struct xfer *x;
	int i, k;

	for (i = 0; i < ORIGINS_MAX && loop->n_waiting > 0; i++) {
		k = (loop->next_origin + i) % ORIGINS_MAX;
		o = &loop->origins[k];
		if (o->waiting == NULL || !has_room(loop, o))
			continue;
		x = o->waiting;
		o->waiting = x->next;
		if (o->waiting == NULL)
			o->waiting_tail = NULL;
		x->next = NULL;
		loop->n_waiting--;
		loop->next_origin = (k + 1) % ORIGINS_MAX;
		return x;
	}
	return NULL;
}

/* Starts waiting transfers while there is room; one that cannot start is
 * called back with its error. */
static void
start_waiting(struct tf_loop *loop)
{
	struct xfer *x;
	tf_loop_http_cb *cb;
	void *ctx;
	struct tf_http_response none;
	enum tf_err rc;

	while (loop->aws.n_xfers < loop->max_xfers &&
	    (x = next_waiting(loop)) != NULL) {
		cb = x->cb;
		ctx = x->ctx;
		rc = start_xfer(loop, x);
		if (rc != TF_OK) {
			memset(&none, 0, sizeof(none));
			cb(ctx, rc, &none, "the transfer could not start");
			tf_http_response_free(&none);
		}
	}
}

/* Calls back and frees every AWS transfer curl reports finished. */
static void
collect_aws(struct multi *m)
{
	struct tf_loop *loop = m->loop;
	struct xfer *x;
	char errtext[CURL_ERROR_SIZE];
	CURLMsg *msg;
	CURLcode cc;
	enum tf_err rc;
	int pending;

	while ((msg = curl_multi_info_read(m->multi, &pending)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		cc = msg->data.result;
		x = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		/* msg is invalid once the handle is removed. */
		curl_multi_remove_handle(m->multi, x->easy);
		rc = tf_http_xfer_finish(x->easy, cc, &x->hx, &x->resp, errtext,
		    sizeof(errtext));
		LIST_DEL(loop->xfers, x);
		m->n_xfers--;
		x->origin->n_wire--;
		tf_http_xfer_release(x->easy, &x->hx);
		x->cb(x->ctx, rc, &x->resp, errtext);
		tf_http_response_free(&x->resp);
		if (loop->n_idle < IDLE_EASY_MAX && !loop->stopping)
			loop->idle[loop->n_idle++] = x->easy;
		else
			curl_easy_cleanup(x->easy);
		tf_free(x);
		start_waiting(loop);
	}
}

/* Calls back every handed-in transfer curl reports finished; the easy
 * handle goes back to its owner in the callback. */
static void
collect_hooks(struct multi *m)
{
	struct tf_loop_easy *e;
	CURLMsg *msg;
	CURLcode cc;
	int pending;

	while ((msg = curl_multi_info_read(m->multi, &pending)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		cc = msg->data.result;
		e = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&e);
		curl_multi_remove_handle(m->multi, e->easy);
		LIST_DEL(m->easies, e);
		m->n_xfers--;
		e->cb(e->ctx, cc, e->easy);
		tf_free(e);
	}
}

static void
on_socket_event(uv_poll_t *p, int status, int events)
{
	struct sock *s = p->data;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(s->m->multi, s->fd, flags, &running);
	s->m->collect(s->m);
}

static void
on_curl_timer(uv_timer_t *t)
{
	struct multi *m = t->data;
	int running;

	curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	m->collect(m);
}

/* CURLMOPT_TIMERFUNCTION: curl wants to be called after timeout_ms (never
 * from inside this callback: a 0 ms timer runs on the next loop pass). */
static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct multi *m = userp;

	if (timeout_ms < 0)
		uv_timer_stop(&m->timer);
	else
		uv_timer_start(&m->timer, on_curl_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

static void
sock_close(struct multi *m, struct sock *s)
{
	LIST_DEL(m->socks, s);
	m->n_socks--;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, on_close_free);
}

/* The watched socket of fd in either of loop's multi handles; NULL: none. */
static struct sock *
sock_of_fd(struct tf_loop *loop, curl_socket_t fd)
{
	struct sock *s;

	for (s = loop->aws.socks; s != NULL; s = s->next)
		if (s->fd == fd)
			return s;
	for (s = loop->hooks.socks; s != NULL; s = s->next)
		if (s->fd == fd)
			return s;
	return NULL;
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching socket fd. */
static int
curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct multi *m = userp;
	struct sock *s = socketp, *old;
	int events = 0, rc;

	if (what == CURL_POLL_REMOVE) {
		/* curl forgets socketp itself after this call. */
		if (s != NULL)
			sock_close(m, s);
		return 0;
	}
	/* Never -1: curl marks the multi handle dead on a failed socket
	 * callback and refuses every transfer added while any is alive (a long
	 * poll always is), so one failure here would fail every later call. A
	 * socket that cannot be watched leaves its transfer to its timeout. */
	if (s == NULL) {
		s = m->spare;
		if (s != NULL) {
			m->spare = s->next;
			m->n_spare--;
			memset(s, 0, sizeof(*s));
		} else if ((s = tf_calloc(1, sizeof(*s))) == NULL) {
			tf_log(TF_LOG_ERROR, "loop: no memory to watch socket %d; "
			    "its transfer ends at its timeout", (int)fd);
			return 0;
		}
		rc = uv_poll_init_socket(&m->loop->uv, &s->poll, fd);
		if (rc == UV_EEXIST && (old = sock_of_fd(m->loop, fd)) != NULL) {
			/* A socket curl closed before it told us: its fd is
			 * reused, and its old watch goes. */
			sock_close(old->m, old);
			rc = uv_poll_init_socket(&m->loop->uv, &s->poll, fd);
		}
		if (rc != 0) {
			tf_log(TF_LOG_ERROR, "loop: cannot watch socket %d (%s); "
			    "its transfer ends at its timeout", (int)fd,
			    uv_strerror(rc));
			tf_free(s);
			return 0;
		}
		s->poll.data = s;
		s->fd = fd;
		s->m = m;
		LIST_ADD(m->socks, s);
		m->n_socks++;
		curl_multi_assign(m->multi, fd, s);
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_socket_event);
	return 0;
}

/* Takes every posted function off the queue and runs it with rc. */
static void
run_posts(struct tf_loop *loop, enum tf_err rc)
{
	struct post *list, *p;

	pthread_mutex_lock(&loop->lock);
	list = loop->posts;
	loop->posts = loop->posts_tail = NULL;
	pthread_mutex_unlock(&loop->lock);
	while ((p = list) != NULL) {
		list = p->next;
		p->fn(p->ctx, rc);
		tf_free(p);
	}
}

static void
on_wake(uv_async_t *a)
{
	struct tf_loop *loop = a->data;

	run_posts(loop, TF_OK);
	if (atomic_load(&loop->stop_requested))
		uv_stop(&loop->uv);
}

/* Sets up m on loop (its timer initialised whatever happens, so that
 * multi_close() can close it): -1 when curl has no memory. */
static int
multi_init(struct tf_loop *loop, struct multi *m, long per_host, long total,
    void (*collect)(struct multi *))
{
	m->loop = loop;
	m->collect = collect;
	uv_timer_init(&loop->uv, &m->timer);
	m->timer.data = m;
	m->multi = curl_multi_init();
	if (m->multi == NULL)
		return -1;
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per_host);
	curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, total);
	return 0;
}

/* Closes m's cached connections (curl_socket_cb then stops watching their
 * sockets), its sockets, spares and timer. Its transfers are gone. */
static void
multi_close(struct multi *m)
{
	struct sock *s;

	if (m->loop == NULL)
		return;  /* never set up */
	if (m->multi != NULL)
		curl_multi_cleanup(m->multi);
	m->multi = NULL;
	while (m->socks != NULL)
		sock_close(m, m->socks);
	while ((s = m->spare) != NULL) {
		m->spare = s->next;
		tf_free(s);
	}
	m->n_spare = 0;
	uv_close((uv_handle_t *)&m->timer, NULL);
	m->loop = NULL;
}

enum tf_err
tf_loop_new(const struct tf_loop_config *cfg, struct tf_loop **out)
{
	static const struct tf_loop_config defaults;
	struct tf_loop *loop = NULL;
	long per_host, total, hook_host;
	enum tf_err rc;

	*out = NULL;
	if (cfg == NULL)
		cfg = &defaults;
	rc = tf_http_global_init();
	if (rc != TF_OK)
		return rc;
	loop = tf_calloc(1, sizeof(*loop));
	if (loop == NULL)
		return TF_ERR_NOMEM;
	if (uv_loop_init(&loop->uv) != 0) {
		tf_free(loop);
		return TF_ERR_NOMEM;
	}
	pthread_mutex_init(&loop->lock, NULL);
	uv_async_init(&loop->uv, &loop->wake, on_wake);
	loop->wake.data = loop;
	per_host = cfg->max_host_connections > 0 ? cfg->max_host_connections : 64;
	total = cfg->max_connections > 0 ? cfg->max_connections : per_host * 2;
	hook_host = cfg->hook_host_connections > 0 ? cfg->hook_host_connections :
	    64;
	if (multi_init(loop, &loop->aws, per_host, total, collect_aws) != 0 ||
	    multi_init(loop, &loop->hooks, hook_host, hook_host * 4,
	    collect_hooks) != 0) {
		loop->ran = 1;
		tf_loop_free(loop);
		return TF_ERR_NOMEM;
	}
	loop->max_xfers = cfg->max_transfers > 0 ? (size_t)cfg->max_transfers :
	    (size_t)total;
	loop->max_per_origin = (size_t)per_host;
	*out = loop;
	return TF_OK;
}

/* Cancels everything pending, closes every handle and lets libuv finish the
 * closes and any work still running. Runs once. */
static void
drain(struct tf_loop *loop)
{
	struct tf_loop_timer *t;
	struct tf_loop_easy *e;
	struct origin *o;
	struct work *w;
	struct xfer *x;
	int i;

	if (loop->drained)
		return;
	loop->drained = 1;
	loop->stopping = 1;
	pthread_mutex_lock(&loop->lock);
	loop->closed = 1;
	pthread_mutex_unlock(&loop->lock);
	while ((e = loop->hooks.easies) != NULL) {
		curl_multi_remove_handle(loop->hooks.multi, e->easy);
		LIST_DEL(loop->hooks.easies, e);
		loop->hooks.n_xfers--;
		e->cb(e->ctx, CURLE_ABORTED_BY_CALLBACK, e->easy);
		tf_free(e);
	}
	while ((x = loop->xfers) != NULL) {
		curl_multi_remove_handle(loop->aws.multi, x->easy);
		LIST_DEL(loop->xfers, x);
		loop->aws.n_xfers--;
		tf_http_xfer_release(x->easy, &x->hx);
		tf_http_response_free(&x->resp);
		x->cb(x->ctx, TF_ERR_CANCELLED, &x->resp, "cancelled: the loop stopped");
		tf_http_response_free(&x->resp);
		curl_easy_cleanup(x->easy);
		tf_free(x);
	}
	for (i = 0; i < ORIGINS_MAX; i++) {
		o = &loop->origins[i];
		while ((x = o->waiting) != NULL) {
			o->waiting = x->next;
			loop->n_waiting--;
			x->cb(x->ctx, TF_ERR_CANCELLED, &x->resp,
			    "cancelled: the loop stopped");
			tf_http_response_free(&x->resp);
			tf_free(x);
		}
		o->waiting_tail = NULL;
	}
	while ((t = loop->timers) != NULL) {
		LIST_DEL(loop->timers, t);
		uv_timer_stop(&t->uv);
		uv_close((uv_handle_t *)&t->uv, on_close_free);
		t->fn(t->ctx, TF_ERR_CANCELLED);
	}
	/* Work not yet on a thread is cancelled (done gets TF_ERR_CANCELLED);
	 * running work finishes and reports during the uv_run below. */
	for (w = loop->works; w != NULL; w = w->next)
		uv_cancel((uv_req_t *)&w->req);
	run_posts(loop, TF_ERR_CANCELLED);
	multi_close(&loop->aws);
	multi_close(&loop->hooks);
	while (loop->n_idle > 0)
		curl_easy_cleanup(loop->idle[--loop->n_idle]);
	uv_close((uv_handle_t *)&loop->wake, NULL);
	uv_run(&loop->uv, UV_RUN_DEFAULT);
}

enum tf_err
tf_loop_run(struct tf_loop *loop)
{
	if (loop->ran)
		return TF_ERR_INVALID;
	loop->ran = 1;
	/* A stop asked for before the run still wakes the loop once. */
	uv_run(&loop->uv, UV_RUN_DEFAULT);
	drain(loop);
	return TF_OK;
}

void
tf_loop_stop(struct tf_loop *loop)
{
	atomic_store(&loop->stop_requested, 1);
	pthread_mutex_lock(&loop->lock);
	/* After drain the async handle is closed: nothing to wake. */
	if (!loop->closed)
		uv_async_send(&loop->wake);
	pthread_mutex_unlock(&loop->lock);
}

void
tf_loop_free(struct tf_loop *loop)
{
	if (loop == NULL)
		return;
	if (!loop->drained)
		drain(loop);
	uv_loop_close(&loop->uv);
	pthread_mutex_destroy(&loop->lock);
	tf_free(loop);
}

enum tf_err
tf_loop_http(struct tf_loop *loop, const struct tf_http_request *req,
    tf_loop_http_cb *cb, void *ctx)
{
	struct xfer *x;

	if (loop->stopping)
		return TF_ERR_CANCELLED;
	x = tf_calloc(1, sizeof(*x));
	if (x == NULL)
		return TF_ERR_NOMEM;
	x->req = req;
	x->cb = cb;
	x->ctx = ctx;
	x->origin = origin_of(loop, req->url);
	if (x->origin->waiting != NULL || !has_room(loop, x->origin)) {
		/* Its turn comes when one on the wire ends: a bounded number of
		 * easy handles and buffers, whatever the caller submits. */
		if (x->origin->waiting_tail != NULL)
			x->origin->waiting_tail->next = x;
		else
			x->origin->waiting = x;
		x->origin->waiting_tail = x;
		loop->n_waiting++;
		return TF_OK;
	}
	return start_xfer(loop, x);
}

static void
on_timer(uv_timer_t *h)
{
	struct tf_loop_timer *t = h->data;

	LIST_DEL(t->loop->timers, t);
	uv_close((uv_handle_t *)&t->uv, on_close_free);
	t->fn(t->ctx, TF_OK);
}

enum tf_err
tf_loop_after(struct tf_loop *loop, long delay_ms, tf_loop_fn *fn, void *ctx,
    struct tf_loop_timer **out)
{
	struct tf_loop_timer *t;

	if (out != NULL)
		*out = NULL;
	if (loop->stopping)
		return TF_ERR_CANCELLED;
	t = tf_calloc(1, sizeof(*t));
	if (t == NULL)
		return TF_ERR_NOMEM;
	uv_timer_init(&loop->uv, &t->uv);
	t->uv.data = t;
	t->loop = loop;
	t->fn = fn;
	t->ctx = ctx;
	LIST_ADD(loop->timers, t);
	/* libuv counts from the time it cached at the start of this loop pass;
	 * the delay is from now. */
	uv_update_time(&loop->uv);
	uv_timer_start(&t->uv, on_timer, delay_ms > 0 ? (uint64_t)delay_ms : 0, 0);
	if (out != NULL)
		*out = t;
	return TF_OK;
}

void
tf_loop_timer_cancel(struct tf_loop_timer *t)
{
	if (t == NULL)
		return;
	LIST_DEL(t->loop->timers, t);
	uv_timer_stop(&t->uv);
	uv_close((uv_handle_t *)&t->uv, on_close_free);
}

enum tf_err
tf_loop_post(struct tf_loop *loop, tf_loop_fn *fn, void *ctx)
{
	struct post *p;
	enum tf_err rc = TF_OK;

	p = tf_malloc(sizeof(*p));
	if (p == NULL)
		return TF_ERR_NOMEM;
	p->next = NULL;
	p->fn = fn;
	p->ctx = ctx;
	pthread_mutex_lock(&loop->lock);
	if (loop->closed) {
		rc = TF_ERR_CANCELLED;
	} else {
		if (loop->posts_tail != NULL)
			loop->posts_tail->next = p;
		else
			loop->posts = p;
		loop->posts_tail = p;
		p = NULL;
		/* Several sends before the loop wakes make one wake-up. */
		uv_async_send(&loop->wake);
	}
	pthread_mutex_unlock(&loop->lock);
	tf_free(p);
	return rc;
}

static void
on_work(uv_work_t *req)
{
	struct work *w = req->data;

	w->fn(w->ctx);
}

static void
on_work_done(uv_work_t *req, int status)
{
	struct work *w = req->data;

	LIST_DEL(w->loop->works, w);
	w->done(w->ctx, status == UV_ECANCELED ? TF_ERR_CANCELLED : TF_OK);
	tf_free(w);
}

enum tf_err
tf_loop_work(struct tf_loop *loop, void (*work)(void *ctx), tf_loop_fn *done,
    void *ctx)
{
	struct work *w;

	if (loop->stopping)
		return TF_ERR_CANCELLED;
	w = tf_calloc(1, sizeof(*w));
	if (w == NULL)
		return TF_ERR_NOMEM;
	w->req.data = w;
	w->loop = loop;
	w->fn = work;
	w->done = done;
	w->ctx = ctx;
	if (uv_queue_work(&loop->uv, &w->req, on_work, on_work_done) != 0) {
		tf_free(w);
		return TF_ERR_NOMEM;
	}
	LIST_ADD(loop->works, w);
	return TF_OK;
}

size_t
tf_loop_transfers(const struct tf_loop *loop)
{
	return loop->aws.n_xfers + loop->n_waiting;
}

enum tf_err
tf_loop_easy(struct tf_loop *loop, CURL *easy, tf_loop_easy_cb *cb, void *ctx,
    struct tf_loop_easy **out)
{
	struct tf_loop_easy *e;

	if (out != NULL)
		*out = NULL;
	if (loop->stopping)
		return TF_ERR_CANCELLED;
	if (keep_spares(&loop->hooks) != 0)
		return TF_ERR_NOMEM;
	e = tf_calloc(1, sizeof(*e));
	if (e == NULL)
		return TF_ERR_NOMEM;
	e->easy = easy;
	e->cb = cb;
	e->ctx = ctx;
	e->loop = loop;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)e);
	if (curl_multi_add_handle(loop->hooks.multi, easy) != CURLM_OK) {
		tf_free(e);
		return TF_ERR_NOMEM;
	}
	LIST_ADD(loop->hooks.easies, e);
	loop->hooks.n_xfers++;
	if (out != NULL)
		*out = e;
	return TF_OK;
}

void
tf_loop_easy_cancel(struct tf_loop_easy *e)
{
	struct multi *m;

	if (e == NULL)
		return;
	m = &e->loop->hooks;
	curl_multi_remove_handle(m->multi, e->easy);
	LIST_DEL(m->easies, e);
	m->n_xfers--;
	tf_free(e);
}

size_t
tf_loop_easy_transfers(const struct tf_loop *loop)
{
	return loop->hooks.n_xfers;
}
