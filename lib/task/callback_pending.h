/*
 * callback_pending.h - a completion callback kept on its task's item until it
 * is delivered (docs/design.md section 13, "Callbacks that survive a
 * crash"): the attribute `callback_pending`, a map
 *
 *     {"url": S, "id": S, "body": S, "since": N, "attempts": N}
 *
 * written by the run's outcome write (what to send, the Taskfleet-Callback-Id,
 * when a consumer last took it on, how many consumers did), cleared by the
 * consumer that delivered it with a conditional update, and taken on again
 * by another consumer once it is a lease old. One attribute: a run's
 * callback replaces an older one still pending on the item.
 */
#ifndef TF_CALLBACK_PENDING_H
#define TF_CALLBACK_PENDING_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "aws/ddb.h"
#include "base/err.h"

/* A body longer than this is not kept on the item (it would count twice
 * against the 400 KB item limit with the result it carries). None is:
 * tf_callback_body() leaves out a result that would make the body longer
 * than TF_CALLBACK_BODY_MAX (webhook/callback.h), no more than this. */
#define TF_CALLBACK_PENDING_BODY_MAX 65536

/* After this many consumers took a callback on (each making all its
 * attempts), it is dropped. */
#define TF_CALLBACK_PENDING_TAKES 3

/* A pending callback as read from the item; strings owned, freed by
 * tf_callback_pending_free(). */
struct tf_callback_pending {
	char *url;
	char *id;
	char *body;
	int64_t since;      /* epoch ms: written, or last taken on */
	int64_t attempts;   /* consumers that took it on */
};

/* The attribute's AV map for the strings given (borrowed); caller frees
 * with cJSON_Delete(). NULL when out of memory. */
cJSON *tf_callback_pending_av(const char *url, const char *id,
    const char *body, int64_t since, int64_t attempts);

/* Reads av_text (the AV map as JSON text, struct tf_task's
 * callback_pending_av) into *p (zeroed first). TF_ERR_PARSE when a field is
 * missing; TF_ERR_NOMEM. */
enum tf_err tf_callback_pending_parse(const char *av_text,
    struct tf_callback_pending *p);

void tf_callback_pending_free(struct tf_callback_pending *p);

/* Builds into *e (zeroed first; caller frees it with tf_ddb_expr_free()
 * whatever the result) the update that clears the callback whose id is id:
 * conditional on that id still being the one pending. finished: the task
 * is COMPLETED or FAILED (status, its name), whose item then also leaves the
 * due index; NULL: any other status, the due index is left alone. */
enum tf_err tf_callback_pending_clear_build(struct tf_ddb_expr *e,
    const char *id, const char *finished);

/* Builds into *e (as above) the update by which a consumer takes on
 * pending callback p at now_ms: since = now_ms, attempts + 1, conditional on
 * p's id and since being unchanged (one consumer wins). due_at > 0 (a
 * finished task) also moves the item's due_at there. */
enum tf_err tf_callback_pending_take_build(struct tf_ddb_expr *e,
    const struct tf_callback_pending *p, int64_t now_ms, int64_t due_at);

#endif /* TF_CALLBACK_PENDING_H */
