/*
 * callback.h - the consumer's side of completion callbacks
 * (lib/webhook/callback.h): after a run's outcome is written, the task's
 * `callback` (a run that succeeded) or `failure_callback` (the task failed
 * for good) is delivered on a thread of libuv's pool, so neither the
 * outcome write nor the loop waits for the receiver; the run goes on to its
 * next message and ends meanwhile.
 */
#ifndef TF_CONSUMER_CALLBACK_H
#define TF_CONSUMER_CALLBACK_H

#include <stdint.h>

#include "consumer.h"
#include "task/task.h"

/* Starts the callback of one finished run of t (borrowed: what is needed
 * is copied), if t names one for this outcome: state is what the outcome
 * wrote, o the outcome itself. Failures are logged, never returned: the
 * run's outcome stands whatever happens to its callback. */
void tf_consumer_callback(struct tf_consumer *c, const struct tf_task *t,
    const struct tf_task_outcome *o, enum tf_task_status state,
    int64_t finished_ms);

#endif /* TF_CONSUMER_CALLBACK_H */
