/* test_loop.c - the event loop: timers, hand-offs from other threads, work
 * off the loop, HTTP transfers with kept-alive connections, and a stop that
 * cancels whatever is in flight. Traffic goes to 127.0.0.1 only. */
#include "harness.h"

#include <pthread.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "fake_http.h"
#include "loop/loop.h"

static struct fake_http server;

/* --- timers --- */

struct timer_log {
	struct tf_loop *loop;
	int order[8];
	int64_t at[8];
	int n;
	int expected;
	enum tf_err rc[8];
};

struct timer_arg {
	struct timer_log *log;
	int id;
};

static void
on_timer(void *ctx, enum tf_err rc)
{
	struct timer_arg *a = ctx;
	struct timer_log *l = a->log;

	l->order[l->n] = a->id;
	l->at[l->n] = tf_mono_ms();
	l->rc[l->n] = rc;
	if (++l->n == l->expected)
		tf_loop_stop(l->loop);
}

static void
test_timers_fire_in_order_and_cancel(void)
{
	struct timer_log log = { 0 };
	struct timer_arg a[4] = { { &log, 100 }, { &log, 20 }, { &log, 60 },
	    { &log, 40 } };
	struct tf_loop_timer *cancelled = NULL;
	struct tf_loop *loop = NULL;
	int64_t start;
	int i;

	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	log.loop = loop;
	log.expected = 3;
	start = tf_mono_ms();
	for (i = 0; i < 3; i++)
		CHECK_INT_EQ(tf_loop_after(loop, a[i].id, on_timer, &a[i], NULL), TF_OK);
	CHECK_INT_EQ(tf_loop_after(loop, a[3].id, on_timer, &a[3], &cancelled), TF_OK);
	CHECK(cancelled != NULL);
	tf_loop_timer_cancel(cancelled);
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	tf_loop_free(loop);
	CHECK_INT_EQ(log.n, 3);
	CHECK_INT_EQ(log.order[0], 20);
	CHECK_INT_EQ(log.order[1], 60);
	CHECK_INT_EQ(log.order[2], 100);
	for (i = 0; i < 3; i++) {
		CHECK_INT_EQ(log.rc[i], TF_OK);
		CHECK_MSG(log.at[i] - start >= log.order[i] - 1,
		    "timer %d fired after %lld ms", log.order[i],
		    (long long)(log.at[i] - start));
	}
}

/* --- posts from other threads --- */

#define POSTERS 4
#define POSTS_EACH 2000

struct post_state {
	struct tf_loop *loop;
	pthread_t loop_thread;
	int last[POSTERS];        /* the last sequence number seen per poster */
	int count;
	int out_of_order;
	int off_thread;
};

struct post_item {
	struct post_state *st;
	int poster;
	int seq;
};

static struct post_item items[POSTERS][POSTS_EACH];

static void
on_post(void *ctx, enum tf_err rc)
{
	struct post_item *it = ctx;
	struct post_state *st = it->st;

	if (!pthread_equal(pthread_self(), st->loop_thread))
		st->off_thread++;
	if (rc != TF_OK || it->seq != st->last[it->poster] + 1)
		st->out_of_order++;
	st->last[it->poster] = it->seq;
	if (++st->count == POSTERS * POSTS_EACH)
		tf_loop_stop(st->loop);
}

struct poster_arg {
	struct tf_loop *loop;
	int poster;
	int failed;
};

static void *
poster_main(void *arg)
{
	struct poster_arg *p = arg;
	int i;

	for (i = 0; i < POSTS_EACH; i++)
		if (tf_loop_post(p->loop, on_post, &items[p->poster][i]) != TF_OK)
			p->failed++;
	return NULL;
}

static void
test_posts_from_threads_run_on_the_loop_in_order(void)
{
	struct post_state st = { 0 };
	struct poster_arg args[POSTERS];
	pthread_t threads[POSTERS];
	struct tf_loop *loop = NULL;
	int i, j, failed = 0;

	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	st.loop = loop;
	st.loop_thread = pthread_self();
	for (i = 0; i < POSTERS; i++) {
		st.last[i] = -1;
		for (j = 0; j < POSTS_EACH; j++)
			items[i][j] = (struct post_item){ &st, i, j };
		args[i] = (struct poster_arg){ loop, i, 0 };
		CHECK(pthread_create(&threads[i], NULL, poster_main, &args[i]) == 0);
	}
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	for (i = 0; i < POSTERS; i++) {
		pthread_join(threads[i], NULL);
		failed += args[i].failed;
	}
	/* After the run, posts are refused rather than lost. */
	CHECK_INT_EQ(tf_loop_post(loop, on_post, &items[0][0]), TF_ERR_CANCELLED);
	tf_loop_free(loop);
	CHECK_INT_EQ(failed, 0);
	CHECK_INT_EQ(st.count, POSTERS * POSTS_EACH);
	CHECK_INT_EQ(st.out_of_order, 0);
	CHECK_INT_EQ(st.off_thread, 0);
}

/* --- blocking work off the loop --- */

struct work_state {
	struct tf_loop *loop;
	int64_t timer_at, work_start, work_end, done_at;
	pthread_t loop_thread, work_thread;
	enum tf_err done_rc;
};

static void
slow_work(void *ctx)
{
	struct work_state *w = ctx;

	w->work_thread = pthread_self();
	w->work_start = tf_mono_ms();
	tf_sleep_ms(300);
	w->work_end = tf_mono_ms();
}

static void
on_work_done(void *ctx, enum tf_err rc)
{
	struct work_state *w = ctx;

	w->done_at = tf_mono_ms();
	w->done_rc = rc;
	tf_loop_stop(w->loop);
}

static void
on_work_timer(void *ctx, enum tf_err rc)
{
	struct work_state *w = ctx;

	w->timer_at = tf_mono_ms();
}

static void
test_work_runs_off_the_loop(void)
{
	struct work_state w = { 0 };
	struct tf_loop *loop = NULL;

	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	w.loop = loop;
	w.loop_thread = pthread_self();
	w.done_rc = TF_ERR_IO;
	CHECK_INT_EQ(tf_loop_work(loop, slow_work, on_work_done, &w), TF_OK);
	CHECK_INT_EQ(tf_loop_after(loop, 20, on_work_timer, &w, NULL), TF_OK);
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	tf_loop_free(loop);
	CHECK_INT_EQ(w.done_rc, TF_OK);
	CHECK(!pthread_equal(w.work_thread, w.loop_thread));
	/* The loop ran a timer while the work slept. */
	CHECK(w.timer_at != 0);
	CHECK_MSG(w.timer_at < w.work_end, "timer at %lld, work ended at %lld",
	    (long long)w.timer_at, (long long)w.work_end);
	CHECK(w.done_at >= w.work_end);
}

/* --- HTTP transfers --- */

struct http_state {
	struct tf_loop *loop;
	struct tf_http_request req;
	char url[64];
	int left;        /* requests still to send, one after the other */
	int ok, failed;
	long last_status;
	char last_body[64];
};

static void
on_sequential(void *ctx, enum tf_err rc, struct tf_http_response *resp,
    const char *errtext)
{
	struct http_state *s = ctx;

	if (rc == TF_OK && resp->status == 200) {
		s->ok++;
		snprintf(s->last_body, sizeof(s->last_body), "%s",
		    tf_buf_str(&resp->body));
	} else {
		s->failed++;
	}
	s->last_status = rc == TF_OK ? resp->status : 0;
	if (--s->left > 0 && tf_loop_http(s->loop, &s->req, on_sequential, s) == TF_OK)
		return;
	tf_loop_stop(s->loop);
}

static void
test_transfers_reuse_connections(void)
{
	struct fake_reply ok[] = { { 200, "{\"n\":1}", 0, 0 } };
	struct tf_http_header h[] = { { "content-type", "application/json" } };
	struct http_state s = { 0 };
	struct tf_loop *loop = NULL;

	fake_http_script(&server, ok, 1);
	server.connections = 0;
	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	s.loop = loop;
	snprintf(s.url, sizeof(s.url), "http://127.0.0.1:%d/", server.port);
	s.req = (struct tf_http_request){ .method = "POST", .url = s.url,
	    .headers = h, .n_headers = 1, .body = "{}", .body_len = 2,
	    .timeout_ms = 5000 };
	s.left = 20;
	CHECK_INT_EQ(tf_loop_http(loop, &s.req, on_sequential, &s), TF_OK);
	CHECK_INT_EQ(tf_loop_transfers(loop), 1);
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	tf_loop_free(loop);
	CHECK_INT_EQ(s.failed, 0);
	CHECK_INT_EQ(s.ok, 20);
	CHECK_STR_EQ(s.last_body, "{\"n\":1}");
	CHECK_INT_EQ(fake_http_requests(&server), 20);
	pthread_mutex_lock(&server.lock);
	CHECK_INT_EQ(server.connections, 1);
	pthread_mutex_unlock(&server.lock);
}

/* Transfers past max_transfers wait for their turn, in order. */
struct capped_state {
	struct tf_loop *loop;
	int order[8], n, ok;
	int stop_at;                    /* callbacks before the stop; 0: 6 */
	size_t most_on_loop;
};

struct capped_arg {
	struct capped_state *s;
	int id;
};

static void
on_capped(void *ctx, enum tf_err rc, struct tf_http_response *resp,
    const char *errtext)
{
	struct capped_arg *a = ctx;
	struct capped_state *s = a->s;

	s->order[s->n++] = a->id;
	if (rc == TF_OK && resp->status == 200)
		s->ok++;
	if (s->n == (s->stop_at > 0 ? s->stop_at : 6))
		tf_loop_stop(s->loop);
}

static void
test_transfers_past_the_cap_wait_in_order(void)
{
	struct fake_reply ok[] = { { 200, "{}", 0, 5 } };
	struct tf_loop_config cfg = { .max_transfers = 1 };
	struct capped_state s = { 0 };
	struct capped_arg args[6];
	struct tf_http_request req;
	struct tf_loop *loop = NULL;
	char url[64];
	int i;

	fake_http_script(&server, ok, 1);
	server.connections = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", server.port);
	req = (struct tf_http_request){ .method = "POST", .url = url,
	    .body = "{}", .body_len = 2, .timeout_ms = 3000 };
	CHECK_INT_EQ(tf_loop_new(&cfg, &loop), TF_OK);
	s.loop = loop;
	for (i = 0; i < 6; i++) {
		args[i] = (struct capped_arg){ &s, i };
		CHECK_INT_EQ(tf_loop_http(loop, &req, on_capped, &args[i]), TF_OK);
	}
	/* All six are the loop's, one on the wire. */
	CHECK_INT_EQ(tf_loop_transfers(loop), 6);
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	tf_loop_free(loop);
	/* The server answers one connection at a time: six transfers at once
	 * would have opened six and waited out their timeouts. */
	CHECK_INT_EQ(s.ok, 6);
	for (i = 0; i < 6; i++)
		CHECK_INT_EQ(s.order[i], i);
	pthread_mutex_lock(&server.lock);
	CHECK_INT_EQ(server.connections, 1);
	pthread_mutex_unlock(&server.lock);
}

/* Past the per-host limit a transfer waits in the loop, for its own host
 * only: with one connection per host and two transfers on the wire at once,
 * two to a slow host leave room for one to another, which is answered first
 * (inside curl it would wait for a connection, holding the second place on
 * the wire, and be answered after the first slow one). */
static void
test_a_busy_host_leaves_room_for_another(void)
{
	struct fake_reply slow[] = { { 200, "{}", 0, 500 } };
	struct fake_reply fast[] = { { 200, "{}", 0, 0 } };
	struct tf_loop_config cfg = { .max_host_connections = 1 };
	struct fake_http other;
	struct capped_state s = { 0 };
	struct capped_arg args[3];
	struct tf_http_request req[2];
	struct tf_loop *loop = NULL;
	char url[2][64];
	int i;

	CHECK_INT_EQ(fake_http_start(&other), 0);
	if (tf_test_current_failed)
		return;
	fake_http_script(&server, slow, 1);
	fake_http_script(&other, fast, 1);
	snprintf(url[0], sizeof(url[0]), "http://127.0.0.1:%d/", server.port);
	snprintf(url[1], sizeof(url[1]), "http://127.0.0.1:%d/", other.port);
	for (i = 0; i < 2; i++)
		req[i] = (struct tf_http_request){ .method = "POST",
		    .url = url[i], .body = "{}", .body_len = 2,
		    .timeout_ms = 5000 };
	CHECK_INT_EQ(tf_loop_new(&cfg, &loop), TF_OK);
	s.loop = loop;
	s.stop_at = 3;
	for (i = 0; i < 3; i++) {
		args[i] = (struct capped_arg){ &s, i };
		CHECK_INT_EQ(tf_loop_http(loop, &req[i == 2], on_capped,
		    &args[i]), TF_OK);
	}
	CHECK_INT_EQ(tf_loop_transfers(loop), 3);
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	tf_loop_free(loop);
	fake_http_stop(&other);
	CHECK_INT_EQ(s.ok, 3);
	CHECK_INT_EQ(s.order[0], 2);
	CHECK_INT_EQ(s.order[1], 0);
	CHECK_INT_EQ(s.order[2], 1);
}

/* Handed-in transfers (tf_loop_easy()): the caller's easy handles, on the
 * loop's second multi with its own per-host limit. */
struct easy_state {
	struct tf_loop *loop;
	int done, ok, left;
	size_t most;
};

static size_t
discard_body(char *data, size_t size, size_t n, void *arg)
{
	return size * n;
}

static void
on_easy(void *ctx, CURLcode cc, CURL *easy)
{
	struct easy_state *s = ctx;
	long status = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OK && status == 200)
		s->ok++;
	if (++s->done == 5)
		tf_loop_stop(s->loop);
}

static void
test_handed_in_transfers_share_one_connection_per_host(void)
{
	struct fake_reply ok[] = { { 200, "{}", 0, 5 } };
	struct tf_loop_config cfg = { .hook_host_connections = 1 };
	struct easy_state s = { 0 };
	struct tf_loop *loop = NULL;
	CURL *easy[5] = { 0 };
	char url[64];
	int i;

	fake_http_script(&server, ok, 1);
	server.connections = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", server.port);
	CHECK_INT_EQ(tf_loop_new(&cfg, &loop), TF_OK);
	s.loop = loop;
	for (i = 0; i < 5; i++) {
		easy[i] = curl_easy_init();
		CHECK(easy[i] != NULL);
		curl_easy_setopt(easy[i], CURLOPT_URL, url);
		curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, 3000L);
		curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard_body);
		CHECK_INT_EQ(tf_loop_easy(loop, easy[i], on_easy, &s, NULL), TF_OK);
	}
	CHECK_INT_EQ(tf_loop_easy_transfers(loop), 5);
	CHECK_INT_EQ(tf_loop_transfers(loop), 0);
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	tf_loop_free(loop);
	for (i = 0; i < 5; i++)
		curl_easy_cleanup(easy[i]);
	/* The server answers one connection at a time: five connections at
	 * once would have waited out their timeouts. */
	CHECK_INT_EQ(s.ok, 5);
	pthread_mutex_lock(&server.lock);
	CHECK_INT_EQ(server.connections, 1);
	pthread_mutex_unlock(&server.lock);
}

/* A stop calls every handed-in transfer back, aborted. */
static void
test_stop_hands_easy_handles_back(void)
{
	struct easy_state s = { 0 };
	struct tf_loop *loop = NULL;
	CURL *easy = NULL;
	char url[64];
	int fd, port = 0;

	fd = fake_http_silent(&port);
	CHECK(fd >= 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	s.loop = loop;
	easy = curl_easy_init();
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 60000L);
	CHECK_INT_EQ(tf_loop_easy(loop, easy, on_easy, &s, NULL), TF_OK);
	tf_loop_stop(loop);
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	CHECK_INT_EQ(s.done, 1);
	CHECK_INT_EQ(s.ok, 0);
	CHECK_INT_EQ(tf_loop_easy_transfers(loop), 0);
	tf_loop_free(loop);
	curl_easy_cleanup(easy);
	close(fd);
}

#define IN_FLIGHT 16

/* How callbacks of one kind ended. */
struct tally {
	int cancelled, other;
};

struct stop_state {
	struct tf_loop *loop;
	struct tally http, timers, works;
	int in_flight_at_stop;
};

static void
count_end(struct tally *t, enum tf_err rc)
{
	if (rc == TF_ERR_CANCELLED)
		t->cancelled++;
	else
		t->other++;
}

static void
on_stopped_http(void *ctx, enum tf_err rc, struct tf_http_response *resp,
    const char *errtext)
{
	count_end(&((struct stop_state *)ctx)->http, rc);
}

/* ctx: the struct tally to count in. */
static void
on_stopped(void *ctx, enum tf_err rc)
{
	count_end(ctx, rc);
}

static void
blocking_work(void *ctx)
{
	tf_sleep_ms(200);
}

/* Stops the loop once every transfer is on the wire. */
static void
on_check_stop(void *ctx, enum tf_err rc)
{
	struct stop_state *s = ctx;

	if (rc != TF_OK)
		return;
	s->in_flight_at_stop = (int)tf_loop_transfers(s->loop);
	tf_loop_stop(s->loop);
}

static void
test_stop_cancels_everything_in_flight(void)
{
	struct stop_state s = { 0 };
	struct tf_http_request req;
	struct tf_loop *loop = NULL;
	char url[64];
	int fd, port = 0, i, works = 8;

	fd = fake_http_silent(&port);
	CHECK(fd >= 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	req = (struct tf_http_request){ .method = "POST", .url = url,
	    .body = "{}", .body_len = 2, .timeout_ms = 60000 };
	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	s.loop = loop;
	for (i = 0; i < IN_FLIGHT; i++)
		CHECK_INT_EQ(tf_loop_http(loop, &req, on_stopped_http, &s), TF_OK);
	for (i = 0; i < 5; i++)
		CHECK_INT_EQ(tf_loop_after(loop, 60000, on_stopped, &s.timers, NULL),
		    TF_OK);
	/* More work than libuv's pool has threads: some waits in its queue. */
	for (i = 0; i < works; i++)
		CHECK_INT_EQ(tf_loop_work(loop, blocking_work, on_stopped, &s.works),
		    TF_OK);
	CHECK_INT_EQ(tf_loop_after(loop, 100, on_check_stop, &s, NULL), TF_OK);
	CHECK_INT_EQ(tf_loop_run(loop), TF_OK);
	/* Nothing new is taken once the loop has stopped. */
	CHECK_INT_EQ(tf_loop_http(loop, &req, on_stopped_http, &s), TF_ERR_CANCELLED);
	CHECK_INT_EQ(tf_loop_after(loop, 1, on_stopped, &s.timers, NULL),
	    TF_ERR_CANCELLED);
	tf_loop_free(loop);
	close(fd);
	CHECK_INT_EQ(s.in_flight_at_stop, IN_FLIGHT);
	CHECK_INT_EQ(s.http.cancelled, IN_FLIGHT);
	CHECK_INT_EQ(s.http.other, 0);
	CHECK_INT_EQ(s.timers.cancelled, 5);
	CHECK_INT_EQ(s.timers.other, 0);
	/* Every work item reported once: finished, or cancelled in the queue. */
	CHECK_INT_EQ(s.works.cancelled + s.works.other, works);
}

static void
test_free_without_run_cancels(void)
{
	struct stop_state s = { 0 };
	struct tf_loop *loop = NULL;

	CHECK_INT_EQ(tf_loop_new(NULL, &loop), TF_OK);
	s.loop = loop;
	CHECK_INT_EQ(tf_loop_after(loop, 10, on_stopped, &s.timers, NULL), TF_OK);
	tf_loop_free(loop);
	CHECK_INT_EQ(s.timers.cancelled, 1);
	CHECK_INT_EQ(s.timers.other, 0);
}

int
main(void)
{
	tf_alloc_init();
	if (fake_http_start(&server) != 0) {
		printf("FAIL setup: cannot start the fake server\n");
		return 1;
	}
	TF_RUN(test_timers_fire_in_order_and_cancel);
	TF_RUN(test_posts_from_threads_run_on_the_loop_in_order);
	TF_RUN(test_work_runs_off_the_loop);
	TF_RUN(test_transfers_reuse_connections);
	TF_RUN(test_transfers_past_the_cap_wait_in_order);
	TF_RUN(test_a_busy_host_leaves_room_for_another);
	TF_RUN(test_handed_in_transfers_share_one_connection_per_host);
	TF_RUN(test_stop_hands_easy_handles_back);
	TF_RUN(test_stop_cancels_everything_in_flight);
	TF_RUN(test_free_without_run_cancels);
	fake_http_stop(&server);
	return tf_test_summary();
}
