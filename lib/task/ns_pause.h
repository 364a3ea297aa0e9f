/*
 * ns_pause.h - pausing a whole namespace (docs/design.md section 13).
 *
 * The paused namespaces are a string set, `paused_ns`, on the table's config
 * item (TF_DUE_CONFIG_ID). A consumer reads it when a claimed run's
 * namespace must be decided and its copy is older than
 * TF_NS_PAUSE_FRESH_MS; a run of a paused namespace is not started: its task
 * is suspended with the mark `paused_by_ns` and no attempt charged. Resuming
 * the namespace removes it from the set and resumes every task so marked
 * (each runs its missed occurrence once, as `taskfleet resume` does).
 */
#ifndef TF_NS_PAUSE_H
#define TF_NS_PAUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"

struct tf_aws;

/* A consumer decides on a copy of the set at most this old (it reads the
 * set again before it decides on an older one), and reads it again in the
 * background once it is older than TF_NS_PAUSE_REFRESH_MS. `taskfleet pause`
 * waits TF_NS_PAUSE_FRESH_MS after its write: when it returns, no consumer
 * starts a run of the namespace any more. */
#define TF_NS_PAUSE_FRESH_MS   2000
#define TF_NS_PAUSE_REFRESH_MS 1000

/* The paused namespaces: names[0..n) owned, sorted. */
struct tf_ns_paused {
	char **names;
	size_t n;
};

/* Adds ns to the paused set (paused true) or removes it. Idempotent. */
enum tf_err tf_ns_pause_write(struct tf_aws *aws, const char *table,
    const char *ns, bool paused);

/* Reads the paused set (consistent read) into *out (empty when there is no
 * config item). Caller frees with tf_ns_paused_free(). */
enum tf_err tf_ns_paused_read(struct tf_aws *aws, const char *table,
    struct tf_ns_paused *out);

/* Fills *out from the config item (borrowed, AV JSON; NULL: none). */
enum tf_err tf_ns_paused_from_item(const cJSON *item, struct tf_ns_paused *out);

/* True when ns is in p. */
bool tf_ns_paused_has(const struct tf_ns_paused *p, const char *ns);

void tf_ns_paused_free(struct tf_ns_paused *p);

/* Resumes every task of namespace ns that a pause suspended (status
 * SUSPENDED with `paused_by_ns`), sending the message of each that is due
 * within horizon_ms (0: the default) to queue_url. *resumed: how many;
 * *failed: how many could not be resumed (changed meanwhile, or a failed
 * write: the first error's text in errbuf). */
enum tf_err tf_ns_resume_tasks(struct tf_aws *aws, const char *table,
    const char *queue_url, const char *ns, int64_t now_ms, int64_t horizon_ms,
    int64_t *resumed, int64_t *failed, char *errbuf, size_t errlen);

/* `pause --ns` (the CLI and the API): adds ns to the paused set, then waits
 * TF_NS_PAUSE_FRESH_MS, after which no consumer starts a run of it. */
enum tf_err tf_ns_pause(struct tf_aws *aws, const char *table, const char *ns);

/* `resume --ns`: removes ns from the paused set (*unpaused: true once that is
 * written), waits TF_NS_PAUSE_FRESH_MS (no consumer decides on a copy that
 * still says paused after that), then resumes the tasks the pause suspended
 * as tf_ns_resume_tasks() does. */
enum tf_err tf_ns_resume(struct tf_aws *aws, const char *table,
    const char *queue_url, const char *ns, int64_t horizon_ms, bool *unpaused,
    int64_t *resumed, int64_t *failed, char *errbuf, size_t errlen);

#endif /* TF_NS_PAUSE_H */
