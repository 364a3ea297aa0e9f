/*
 * callback.h - the consumer's side of completion callbacks
 * (lib/webhook/callback.h), delivered on the consumer's event loop.
 *
 * A run's callback is prepared before its outcome is written, and the
 * outcome write keeps it on the item (`callback_pending`,
 * task/callback_pending.h); once the write succeeded it is sent, and when
 * it is over (delivered, or failed after its attempts) the consumer clears
 * it with a conditional update. A consumer that dies (or stops) first leaves
 * it there: a lease later another consumer takes it on, its sweeper finding
 * the finished task in the due index, or its claim of the task's next
 * iteration seeing it. So a callback is delivered once per completed or
 * failed run, at least once after a crash (docs/design.md section 13).
 */
#ifndef TF_CONSUMER_CALLBACK_H
#define TF_CONSUMER_CALLBACK_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "consumer.h"
#include "task/task.h"

struct tf_consumer_callback;

/* The callback of run outcome o of t, which writes status `state`, or NULL
 * when t names none for it (or out of memory: logged). t and o borrowed:
 * what is needed is copied. Caller passes it to tf_consumer_callback_send()
 * or frees it with tf_consumer_callback_drop(). */
struct tf_consumer_callback *tf_consumer_callback_prepare(
    struct tf_consumer *c, const struct tf_task *t,
    const struct tf_task_outcome *o, enum tf_task_status state,
    int64_t finished_ms);

/* Fills o's callback_pending (borrowed from cb, valid until it is sent or
 * dropped) and callback_due_at, written with the outcome; leaves them NULL
 * and 0 when cb is NULL or its body too long to keep. */
void tf_consumer_callback_record(struct tf_consumer_callback *cb,
    int64_t now_ms, struct tf_task_outcome *o);

/* Sends cb (takes ownership; NULL: nothing) now that its outcome, status
 * `state`, is written. Failures are logged, never returned: the run's
 * outcome stands whatever happens to its callback. */
void tf_consumer_callback_send(struct tf_consumer_callback *cb,
    enum tf_task_status state);

/* Frees a callback not sent; NULL is fine. */
void tf_consumer_callback_drop(struct tf_consumer_callback *cb);

/* On the loop: t (borrowed), just claimed, may hold the callback of an
 * earlier run its consumer never cleared: taken on and sent when it is a
 * lease old, before this run's outcome replaces it. */
void tf_consumer_callback_rescue_task(struct tf_consumer *c,
    const struct tf_task *t);

/* From any thread (the sweeper calls it on the loop, for a COMPLETED or
 * FAILED task in the due index; arg is the consumer): reads task id
 * (copied) on the loop and takes on its pending callback when it is a lease
 * old. */
void tf_consumer_callback_rescue(void *arg, const char *id);

#endif /* TF_CONSUMER_CALLBACK_H */
