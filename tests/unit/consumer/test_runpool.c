/* test_runpool.c - the pool of threads that call blocking runners
 * (consumer/runpool.c): every job runs once, at most (and, when they block,
 * exactly) as many at once as there are threads, in submission order on one
 * thread, and tf_runpool_stop() finishes what is queued while refusing new
 * jobs. The proofs are counters and gates, never a timed sleep: a wait polls
 * its condition until a generous deadline. */
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "runpool.h"

#define DEADLINE_MS 20000

/* What the jobs of one test share; every field under lock. */
struct shared {
	pthread_mutex_t lock;
	pthread_cond_t changed;     /* a field below changed */
	bool open;                  /* the gate: blocking jobs may return */
	int tickets;                /* blocking jobs that may return while the
	                               gate is shut, one each */
	int started, finished;      /* jobs that began / returned */
	int running, max_running;   /* jobs between the two, and the most seen */
	int order[256];             /* job numbers in the order they began */
	int runs[2048];             /* times each job number ran */
	enum tf_err inner_rc;       /* what a submit from inside a job returned */
	bool inner_ran;             /* the job that submit queued ran */
};

static void
shared_init(struct shared *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	s->inner_rc = TF_ERR__COUNT;
}

static void
shared_destroy(struct shared *s)
{
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->changed);
}

/* Waits (s->lock held) until *field >= want or the deadline passes; true
 * when it got there. */
static bool
wait_for(struct shared *s, const int *field, int want)
{
	int64_t deadline = tf_mono_ms() + DEADLINE_MS;
	struct timespec ts;

	while (*field < want && tf_mono_ms() < deadline) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->changed, &s->lock, &ts);
	}
	return *field >= want;
}

/* Opens the gate, so every blocking job (those running and those to come)
 * returns. */
static void
open_gate(struct shared *s)
{
	pthread_mutex_lock(&s->lock);
	s->open = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
}

/* A job: number n of the test sharing s. */
struct job {
	struct shared *s;
	int n;
	bool blocks;               /* waits for the gate before it returns */
	struct tf_runpool *pool;   /* borrowed: submit into it after the gate */
};

static void job_run(void *ctx);

/* The job that a job submits from inside the pool. */
static void
inner_run(void *ctx)
{
	struct shared *s = ctx;

	pthread_mutex_lock(&s->lock);
	s->inner_ran = true;
	pthread_mutex_unlock(&s->lock);
}

/* Counts its start and end, records its place in the order and, for a
 * blocking job, waits for the gate in between. */
static void
job_run(void *ctx)
{
	struct job *j = ctx;
	struct shared *s = j->s;
	enum tf_err rc;

	pthread_mutex_lock(&s->lock);
	if (s->started < (int)(sizeof(s->order) / sizeof(s->order[0])))
		s->order[s->started] = j->n;
	s->started++;
	s->runs[j->n]++;
	if (++s->running > s->max_running)
		s->max_running = s->running;
	pthread_cond_broadcast(&s->changed);
	while (j->blocks && !s->open && s->tickets == 0)
		pthread_cond_wait(&s->changed, &s->lock);
	if (j->blocks && !s->open)
		s->tickets--;
	pthread_mutex_unlock(&s->lock);
	if (j->pool != NULL) {
		/* The pool is stopping by now (the test made sure of it). */
		rc = tf_runpool_submit(j->pool, inner_run, s);
		pthread_mutex_lock(&s->lock);
		s->inner_rc = rc;
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_lock(&s->lock);
	s->running--;
	s->finished++;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
}

static void
test_every_job_runs_exactly_once(void)
{
	static struct job jobs[2000];
	struct shared s;
	struct tf_runpool *p = NULL;
	int i, twice = -1, never = -1;

	shared_init(&s);
	CHECK_INT_EQ(tf_runpool_start(4, &p), TF_OK);
	CHECK(p != NULL);
	for (i = 0; i < 2000; i++) {
		jobs[i] = (struct job){ &s, i, false, NULL };
		if (tf_runpool_submit(p, job_run, &jobs[i]) != TF_OK)
			break;
	}
	tf_runpool_stop(p);
	CHECK_INT_EQ(i, 2000);
	for (i = 0; i < 2000; i++) {
		if (s.runs[i] > 1 && twice < 0)
			twice = i;
		if (s.runs[i] == 0 && never < 0)
			never = i;
	}
	CHECK_MSG(twice < 0, "job %d ran %d times", twice, twice < 0 ? 0 : s.runs[twice]);
	CHECK_MSG(never < 0, "job %d never ran", never);
	CHECK_INT_EQ(s.finished, 2000);
	CHECK(s.max_running <= 4);
	shared_destroy(&s);
}

/* With `threads` threads and 3 x threads blocking jobs: `threads` of them
 * run at once, no more, and each one the test lets return makes room for
 * exactly one more. */
static void
bounded_by_threads(int threads)
{
	struct job jobs[3 * 16];
	struct shared s;
	struct tf_runpool *p = NULL;
	int total = 3 * threads, i, released = 0, started = 0;
	bool all_at_once, one_each = true;

	shared_init(&s);
	CHECK_INT_EQ(tf_runpool_start(threads, &p), TF_OK);
	for (i = 0; i < total; i++) {
		jobs[i] = (struct job){ &s, i, true, NULL };
		if (tf_runpool_submit(p, job_run, &jobs[i]) != TF_OK)
			break;
	}
	pthread_mutex_lock(&s.lock);
	all_at_once = wait_for(&s, &s.started, threads);
	/* Let them return one at a time: after the k-th returned, exactly
	 * threads + k have started. */
	for (; all_at_once && released < total - threads; released++) {
		if (s.started != threads + released) {
			one_each = false;
			break;
		}
		s.tickets++;
		pthread_cond_broadcast(&s.changed);
		if (!wait_for(&s, &s.started, threads + released + 1))
			break;
	}
	started = s.started;
	pthread_mutex_unlock(&s.lock);
	open_gate(&s);
	tf_runpool_stop(p);
	CHECK_INT_EQ(i, total);
	CHECK_MSG(all_at_once, "only %d of %d blocking jobs ran at once",
	    s.max_running, threads);
	CHECK_MSG(one_each, "%d jobs had started after %d returned (%d threads)",
	    started, released, threads);
	CHECK_MSG(released == total - threads, "%d jobs started after %d returned "
	    "(%d threads)", started, released + 1, threads);
	CHECK_MSG(s.max_running == threads, "%d jobs ran at once on %d threads",
	    s.max_running, threads);
	CHECK_INT_EQ(s.finished, total);
	shared_destroy(&s);
}

static void
test_one_thread_runs_one_at_a_time(void)
{
	bounded_by_threads(1);
}

static void
test_four_threads_run_four_at_a_time(void)
{
	bounded_by_threads(4);
}

static void
test_sixteen_threads_run_sixteen_at_a_time(void)
{
	bounded_by_threads(16);
}

/* A thread that an earlier job left idle is one thread, not `threads`:
 * a burst of `threads` blocking jobs queued while it waits still runs all
 * at once (a pool that counts the idle thread for the whole burst wakes it
 * for the first job and leaves the rest queued behind it). Repeated on
 * fresh pools, as the thread must be found waiting when the burst comes. */
static void
idle_threads_take_a_burst(int threads)
{
	struct job first, jobs[16];
	struct shared s;
	struct tf_runpool *p = NULL;
	int round, i, started = 0;
	bool all_at_once = true;

	for (round = 0; round < 100 && all_at_once; round++) {
		shared_init(&s);
		CHECK_INT_EQ(tf_runpool_start(threads, &p), TF_OK);
		first = (struct job){ &s, 0, false, NULL };
		CHECK_INT_EQ(tf_runpool_submit(p, job_run, &first), TF_OK);
		pthread_mutex_lock(&s.lock);
		wait_for(&s, &s.finished, 1);
		pthread_mutex_unlock(&s.lock);
		for (i = 0; i < threads; i++) {
			jobs[i] = (struct job){ &s, 1 + i, true, NULL };
			if (tf_runpool_submit(p, job_run, &jobs[i]) != TF_OK)
				break;
		}
		pthread_mutex_lock(&s.lock);
		all_at_once = i == threads && wait_for(&s, &s.started, 1 + threads);
		started = s.started - 1;
		pthread_mutex_unlock(&s.lock);
		open_gate(&s);
		tf_runpool_stop(p);
		shared_destroy(&s);
	}
	CHECK_MSG(all_at_once, "round %d: %d of %d blocking jobs ran at once on "
	    "%d threads", round, started, threads, threads);
}

static void
test_idle_threads_take_a_burst_of_four(void)
{
	idle_threads_take_a_burst(4);
}

static void
test_idle_threads_take_a_burst_of_sixteen(void)
{
	idle_threads_take_a_burst(16);
}

static void
test_one_thread_keeps_submission_order(void)
{
	struct job jobs[200];
	struct shared s;
	struct tf_runpool *p = NULL;
	int i, first_wrong = -1;

	shared_init(&s);
	CHECK_INT_EQ(tf_runpool_start(1, &p), TF_OK);
	/* The first job holds the only thread until every other is queued,
	 * so the order is the queue's, not the submitter's pace. */
	for (i = 0; i < 200; i++) {
		jobs[i] = (struct job){ &s, i, i == 0, NULL };
		if (tf_runpool_submit(p, job_run, &jobs[i]) != TF_OK)
			break;
	}
	open_gate(&s);
	tf_runpool_stop(p);
	CHECK_INT_EQ(i, 200);
	CHECK_INT_EQ(s.started, 200);
	for (i = 0; i < 200 && first_wrong < 0; i++) {
		if (s.order[i] != i)
			first_wrong = i;
	}
	CHECK_MSG(first_wrong < 0, "job %d began in place %d",
	    first_wrong < 0 ? 0 : s.order[first_wrong], first_wrong);
	shared_destroy(&s);
}

/* What the thread that stops the pool shares with the test. */
struct stopper {
	struct tf_runpool *p;
	struct shared *s;
	bool returned;             /* under s->lock */
};

static void *
stopper_main(void *arg)
{
	struct stopper *st = arg;

	tf_runpool_stop(st->p);
	pthread_mutex_lock(&st->s->lock);
	st->returned = true;
	pthread_cond_broadcast(&st->s->changed);
	pthread_mutex_unlock(&st->s->lock);
	return NULL;
}

static void
test_stop_finishes_the_queue_and_refuses_new_jobs(void)
{
	static struct job jobs[2000];
	struct shared s;
	struct stopper st;
	struct tf_runpool *p = NULL;
	pthread_t stopper_thread;
	int64_t deadline;
	enum tf_err rc = TF_OK;
	int i, queued, accepted, never = -1;
	bool returned_early;

	shared_init(&s);
	CHECK_INT_EQ(tf_runpool_start(1, &p), TF_OK);
	/* Job 0 holds the only thread (and submits from inside once let go);
	 * jobs 1..19 wait in the queue behind it. */
	jobs[0] = (struct job){ &s, 0, true, p };
	for (i = 0; i < 20; i++) {
		if (i > 0)
			jobs[i] = (struct job){ &s, i, false, NULL };
		CHECK_INT_EQ(tf_runpool_submit(p, job_run, &jobs[i]), TF_OK);
	}
	st = (struct stopper){ p, &s, false };
	if (pthread_create(&stopper_thread, NULL, stopper_main, &st) != 0) {
		open_gate(&s);
		tf_runpool_stop(p);
		CHECK_MSG(0, "cannot start the stopping thread");
	}
	/* Until the stop takes hold, submits are still accepted (and must
	 * run); then they are refused. p stays valid: the stop cannot return
	 * while job 0 holds its thread. */
	deadline = tf_mono_ms() + DEADLINE_MS;
	for (queued = 20; queued < 2000 && tf_mono_ms() < deadline; queued++) {
		jobs[queued] = (struct job){ &s, queued, false, NULL };
		rc = tf_runpool_submit(p, job_run, &jobs[queued]);
		if (rc != TF_OK)
			break;
		sched_yield();
		tf_sleep_ms(1);
	}
	accepted = queued;
	pthread_mutex_lock(&s.lock);
	returned_early = st.returned;
	pthread_mutex_unlock(&s.lock);
	open_gate(&s);
	pthread_join(stopper_thread, NULL);
	CHECK_MSG(rc == TF_ERR_CANCELLED, "a submit during the stop gave %s",
	    tf_strerror(rc));
	CHECK_MSG(!returned_early, "the stop returned while a job was running");
	/* Everything accepted ran, once, before the stop returned; the refused
	 * job did not. */
	CHECK_INT_EQ(s.finished, accepted);
	for (i = 0; i < accepted && never < 0; i++) {
		if (s.runs[i] != 1)
			never = i;
	}
	CHECK_MSG(never < 0, "accepted job %d ran %d times", never,
	    never < 0 ? 0 : s.runs[never]);
	CHECK_INT_EQ(s.runs[accepted], 0);
	/* The submit from inside the running job, during the stop. */
	CHECK_MSG(s.inner_rc == TF_ERR_CANCELLED, "a submit from a job during "
	    "the stop gave %s", tf_strerror(s.inner_rc));
	CHECK(!s.inner_ran);
	shared_destroy(&s);
}

static void
test_zero_threads_means_one_and_stop_null_is_fine(void)
{
	struct job j;
	struct shared s;
	struct tf_runpool *p = NULL;

	shared_init(&s);
	tf_runpool_stop(NULL);
	CHECK_INT_EQ(tf_runpool_start(0, &p), TF_OK);
	j = (struct job){ &s, 0, false, NULL };
	CHECK_INT_EQ(tf_runpool_submit(p, job_run, &j), TF_OK);
	tf_runpool_stop(p);
	CHECK_INT_EQ(s.runs[0], 1);
	shared_destroy(&s);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_every_job_runs_exactly_once);
	TF_RUN(test_one_thread_runs_one_at_a_time);
	TF_RUN(test_four_threads_run_four_at_a_time);
	TF_RUN(test_sixteen_threads_run_sixteen_at_a_time);
	TF_RUN(test_idle_threads_take_a_burst_of_four);
	TF_RUN(test_idle_threads_take_a_burst_of_sixteen);
	TF_RUN(test_one_thread_keeps_submission_order);
	TF_RUN(test_stop_finishes_the_queue_and_refuses_new_jobs);
	TF_RUN(test_zero_threads_means_one_and_stop_null_is_fine);
	return tf_test_summary();
}
