/*
 * once.h - `taskfleet-consumer --once`: run what is due, then exit.
 *
 * The consumer runs one sweep, takes the cutoff (the time the drain starts)
 * and receives as the daemon does, with every guarantee it has (claims,
 * leases, heartbeats, one run per iteration). What it receives is run only
 * when it was due at the cutoff (its target time at most the cutoff plus the
 * hold a daemon gives an early message) and its task has not been claimed by
 * this invocation yet. Anything else (a retry, the next iteration of a task
 * it ran, a task that came due meanwhile) is held, invisible, and handed back
 * visible when the drain ends, so --once always ends and never waits for
 * later work. The drain ends after a receive begun with no run in flight
 * comes back empty: nothing was visible, and nothing in flight could have
 * sent a message meanwhile.
 *
 * The receiver asks tf_once_admit() about each message and hands back
 * tf_once_held() when it stops; workers report claims with
 * tf_once_claimed(). Counts for the summary come from the metrics
 * (metrics.h) and from here.
 */
#ifndef TF_ONCE_H
#define TF_ONCE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "aws/sqs.h"
#include "base/err.h"

struct tf_metrics;
struct tf_once;

/* A receive that fails this many times in a row ends the drain (counted as
 * an error): a cron job must end. */
#define TF_ONCE_RECEIVE_FAILURES_MAX 3

/* Starts the drain's state with cutoff_ms (epoch ms) and the hold a daemon
 * gives an early message (hold_ms). Caller frees *out with tf_once_free(). */
enum tf_err tf_once_new(int64_t cutoff_ms, int64_t hold_ms,
    struct tf_once **out);

/* Frees o and the messages it still holds; NULL is fine. */
void tf_once_free(struct tf_once *o);

/*
 * True when message m (received now) is to be run: due at the cutoff and its
 * task not claimed by this invocation (a message that is not a task message
 * is run too: the worker drops it). False when it is held: o then owns m's
 * strings (m is emptied), or, when o cannot grow, m is left as it was and
 * handed back at once by the caller. *held_now says which (true: o has it).
 * Receiver thread only.
 */
bool tf_once_admit(struct tf_once *o, struct tf_sqs_message *m,
    bool *held_now);

/* Records that this invocation claimed task id (borrowed): its later
 * messages are held. Any thread; o may be NULL. */
void tf_once_claimed(struct tf_once *o, const char *id);

/* Records a receive failure that ended the drain; an error of the summary. */
void tf_once_receive_failed(struct tf_once *o);

/* The held messages (borrowed: o keeps them until tf_once_free()) and
 * their number in *n; the receiver hands them back when it stops. */
const struct tf_sqs_message *tf_once_held(const struct tf_once *o, size_t *n);

/*
 * Prints the summary line to out: runs and how they ended, errors, and the
 * messages left for later. Returns the number of errors: runs whose outcome
 * was not written (a failed write, a lost lease), claims that failed with
 * an AWS error, and a receive that kept failing. m (borrowed) holds the
 * counts of runs.
 */
long tf_once_summary(struct tf_once *o, const struct tf_metrics *m,
    FILE *out);

#endif /* TF_ONCE_H */
