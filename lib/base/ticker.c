/*
 * ticker.c - a thread calling a function every so often (ticker.h).
 */
#include "base/ticker.h"

#include <string.h>
#include <time.h>

/* The thread: a call (at once with at_start), then every every_ms until
 * stopping. */
static void *
tick(void *arg)
{
	struct tf_ticker *t = arg;
	struct timespec until;
	bool stop, call = t->at_start;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(t->every_ms / 1000);
		until.tv_nsec += (long)(t->every_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (call)
			t->fn(t->cls);
		call = true;
		pthread_mutex_lock(&t->lock);
		while (!t->stopping && pthread_cond_timedwait(&t->wake, &t->lock,
		    &until) == 0)
			;
		stop = t->stopping;
		pthread_mutex_unlock(&t->lock);
		if (stop)
			break;
	}
	return NULL;
}

enum tf_err
tf_ticker_start(struct tf_ticker *t, int64_t every_ms, bool at_start,
    void (*fn)(void *cls), void *cls)
{
	pthread_condattr_t ca;

	memset(t, 0, sizeof(*t));
	t->every_ms = every_ms;
	t->at_start = at_start;
	t->fn = fn;
	t->cls = cls;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&t->thread, NULL, tick, t) != 0) {
		pthread_cond_destroy(&t->wake);
		pthread_mutex_destroy(&t->lock);
		return TF_ERR_NOMEM;
	}
	t->running = true;
	return TF_OK;
}

void
tf_ticker_stop(struct tf_ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	t->running = false;
}
