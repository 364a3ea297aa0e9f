/* watchdog.c - ending a consumer that stopped doing its job. */
#include "watchdog.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "consumer.h"

/* A shutdown that takes this much longer than --shutdown-timeout is stuck. */
#define SHUTDOWN_SLACK_MS 15000

/* The watchdog looks every second; a look this much later means the whole
 * process was held up (SIGSTOP, a frozen VM). */
#define PAUSE_MS 3000

struct tf_watchdog {
	struct tf_consumer *c;        /* borrowed */
	struct tf_watchdog_opts o;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping;
};

/* Starts the graceful shutdown, as SIGTERM would, with a failing exit. */
static void
fire(struct tf_watchdog *w, const char *why)
{
	if (atomic_exchange(&w->c->watchdog_fired, 1) != 0)
		return;  /* already stopping for it */
	tf_log(TF_LOG_ERROR, "watchdog: %s; stopping so that the supervisor "
	    "starts a fresh consumer", why);
	kill(getpid(), SIGTERM);
}

/* Ends the process now: what runs would otherwise do harm or never end. */
static void
fire_now(const char *why)
{
	tf_log(TF_LOG_ERROR, "watchdog: %s; exiting now (runs in progress are "
	    "recovered through their leases)", why);
	_exit(TF_WATCHDOG_EXIT);
}

/* One look at the consumer. */
static void
check(struct tf_watchdog *w)
{
	struct tf_consumer *c = w->c;
	int64_t mono = tf_mono_ms(), since, stop_at;
	char why[300];

	if (tf_heartbeat_find_stuck(c->hb, tf_now_ms(), w->o.overrun_ms,
	    w->o.lease_slack_ms, why, sizeof(why))) {
		/* Past a cancelled lease: another consumer may start the task. */
		if (strstr(why, "lease") != NULL)
			fire_now(why);
		fire(w, why);
	}
	since = mono - tf_heartbeat_alive_ms(c->hb);
	if (since > tf_heartbeat_stall_limit_ms(c->o.visibility_s)) {
		snprintf(why, sizeof(why), "the event loop's heartbeat has not "
		    "ticked for %lld ms, so leases are not being extended",
		    (long long)since);
		fire_now(why);
	}
	stop_at = atomic_load(&c->stopping_since_ms);
	if (stop_at > 0) {
		if (mono - stop_at > c->o.shutdown_timeout_s * 1000LL +
		    SHUTDOWN_SLACK_MS)
			fire_now("the shutdown is stuck");
		return;
	}
	since = mono - atomic_load(&c->receiver_beat_ms);
	if (w->o.receiver_stall_ms > 0 && since > w->o.receiver_stall_ms) {
		snprintf(why, sizeof(why), "the receive loop has made no progress "
		    "for %lld ms", (long long)since);
		fire(w, why);
	}
}

static void *
watchdog_main(void *arg)
{
	struct tf_watchdog *w = arg;
	struct timespec ts;
	int64_t last = tf_mono_ms(), now;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		pthread_mutex_unlock(&w->lock);
		/* After a pause of the whole process every thread is behind, not
		 * stuck: give them a second to catch up (a runner to see its
		 * lease ended in cancelled()) before judging them. */
		now = tf_mono_ms();
		if (now - last < PAUSE_MS)
			check(w);
		else
			tf_log(TF_LOG_WARN, "watchdog: the process was paused for "
			    "%lld ms; checking again in a second",
			    (long long)(now - last));
		last = now;
		pthread_mutex_lock(&w->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!w->stopping)
			pthread_cond_timedwait(&w->wake, &w->lock, &ts);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

enum tf_err
tf_watchdog_start(struct tf_consumer *c, const struct tf_watchdog_opts *o,
    struct tf_watchdog **out)
{
	struct tf_watchdog *w = tf_calloc(1, sizeof(*w));

	*out = NULL;
	if (w == NULL)
		return TF_ERR_NOMEM;
	w->c = c;
	w->o = *o;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, watchdog_main, w) != 0) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
		tf_free(w);
		return TF_ERR_NOMEM;
	}
	*out = w;
	return TF_OK;
}

void
tf_watchdog_stop(struct tf_watchdog *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	tf_free(w);
}
