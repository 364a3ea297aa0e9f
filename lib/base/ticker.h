/*
 * ticker.h - a thread that calls a function every so often until it is
 * stopped: `serve`'s reload of the API keys and its samples of the stats.
 * The waits are on the monotonic clock (a step of the wall clock moves no
 * call), and stopping wakes a wait at once.
 */
#ifndef TF_TICKER_H
#define TF_TICKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

/* Zero it before tf_ticker_start(); its fields are the module's. */
struct tf_ticker {
	pthread_mutex_t lock;          /* guards stopping */
	pthread_cond_t wake;           /* signalled to stop */
	bool stopping, running;
	pthread_t thread;
	int64_t every_ms;
	bool at_start;
	void (*fn)(void *cls);
	void *cls;
};

/* Starts a thread that calls fn(cls) every every_ms (at_start: once at
 * once too), each wait counted from the start of the call before, until
 * tf_ticker_stop(). cls is borrowed and must outlive the ticker.
 * TF_ERR_NOMEM when the thread cannot start (nothing to stop then). */
enum tf_err tf_ticker_start(struct tf_ticker *t, int64_t every_ms,
    bool at_start, void (*fn)(void *cls), void *cls);

/* Stops the thread, after the call in progress if any, and frees what
 * tf_ticker_start() made. Nothing for a ticker never started. */
void tf_ticker_stop(struct tf_ticker *t);

#endif /* TF_TICKER_H */
