/*
 * ns_gate.h - the table's config item (TF_DUE_CONFIG_ID) as the consumer's
 * event loop sees it, read with one GetItem for all of its uses:
 *   - whether a claimed run's namespace is paused, decided from a copy of
 *     the paused set (lib/task/ns_pause.h) that is at most
 *     TF_NS_PAUSE_FRESH_MS old: the copy is read again when a run needs it
 *     and it is older, so an idle consumer reads nothing for it;
 *   - the limits per key and the hosts held by a Retry-After
 *     (lib/task/limits.h), brought by the same read;
 *   - the due shard count (lib/task/due.h) the sweeper wants, which any
 *     read refreshes, so a busy consumer's sweeper reads nothing for it.
 */
#ifndef TF_NS_GATE_H
#define TF_NS_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

struct tf_aws;
struct tf_loop;
struct tf_ns_gate;
struct tf_limits;

/* The decision: paused or not. Called on the loop thread, at once or after
 * the set was read. */
typedef void tf_ns_gate_cb(void *ctx, bool paused);

/* A gate reading table (borrowed, like aws and loop: they outlive it). NULL
 * when out of memory. */
struct tf_ns_gate *tf_ns_gate_new(struct tf_aws *aws, struct tf_loop *loop,
    const char *table);

/* Decides on namespace ns (borrowed until cb is called) and calls cb. A set
 * that cannot be read leaves the last copy in force (none: not paused), with
 * a warning. On the loop thread. */
void tf_ns_gate_check(struct tf_ns_gate *g, const char *ns, tf_ns_gate_cb *cb,
    void *ctx);

/* tf_ns_gate_check(), deciding on a copy at most fresh_ms old (refreshed
 * in the background past half of it): a run whose keys may be held by
 * another consumer's Retry-After asks for a fresher copy (limiter.h). */
void tf_ns_gate_check_within(struct tf_ns_gate *g, const char *ns,
    int64_t fresh_ms, tf_ns_gate_cb *cb, void *ctx);

/* The limits of the copy in force (as fresh as the decision just made).
 * Borrowed until the next check. */
const struct tf_limits *tf_ns_gate_limits(const struct tf_ns_gate *g);

/* The shard count: rc TF_OK and the count of a read begun at most
 * max_age_ms ago; else the error of the read just made, and the last count
 * read (0: none; TF_ERR_CANCELLED when the loop stopped). */
typedef void tf_ns_gate_shards_cb(void *ctx, enum tf_err rc, int shards);

/* Calls cb with the shard count, at once when the copy is fresh enough,
 * else after reading the item again. On the loop thread. */
void tf_ns_gate_shards(struct tf_ns_gate *g, int64_t max_age_ms,
    tf_ns_gate_shards_cb *cb, void *ctx);

/* Frees g after the loop stopped (no check waits then). NULL is fine. */
void tf_ns_gate_free(struct tf_ns_gate *g);

#endif /* TF_NS_GATE_H */
