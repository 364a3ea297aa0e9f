/*
 * watchdog.h - ends the consumer when it has stopped doing its job, so that
 * its supervisor (ECS, systemd) starts a fresh one instead of leaving a
 * process that looks alive and does nothing.
 *
 * Once a second it checks:
 *   - the receive loop made progress within `receiver_stall_ms`: a receive
 *     call returned, or the loop is waiting for a free worker, or backing
 *     off after an error. Every AWS call has a timeout, so only a bug stops
 *     it; then the consumer shuts down gracefully and exits non-zero;
 *   - the event loop is alive (the heartbeat's timer ticks on it): without
 *     it leases run out under running tasks, so the process exits at once
 *     (exit status 70); the runs it leaves are recovered through their
 *     leases;
 *   - no runner ignores being told to stop (tf_heartbeat_find_stuck): one
 *     past its time limit is ended by a graceful shutdown; one running past
 *     its cancelled lease, which another consumer may now take, by exiting at
 *     once: ending the process is the only way to stop an in-process run,
 *     and it must stop before the task can run twice at once.
 */
#ifndef TF_WATCHDOG_H
#define TF_WATCHDOG_H

#include <stdint.h>

#include "base/err.h"

/* The exit status of a consumer the watchdog ended (EX_SOFTWARE). */
#define TF_WATCHDOG_EXIT 70

struct tf_consumer;
struct tf_watchdog;

struct tf_watchdog_opts {
	int64_t receiver_stall_ms;   /* 0: do not watch the receive loop */
	int64_t overrun_ms;          /* past a run's time limit */
	int64_t lease_slack_ms;      /* past a cancelled run's lease end */
};

/* Starts watching c (borrowed; it must outlive the watchdog). Stop it with
 * tf_watchdog_stop() before c is freed. */
enum tf_err tf_watchdog_start(struct tf_consumer *c,
    const struct tf_watchdog_opts *o, struct tf_watchdog **out);

/* Stops the thread and frees w; NULL is fine. */
void tf_watchdog_stop(struct tf_watchdog *w);

#endif /* TF_WATCHDOG_H */
