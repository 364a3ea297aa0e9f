/*
 * due.h - when the sweeper must next look at a task: the by_due index's sort
 * key `due_at` and its partition `due_shard` (docs/design.md sections 2 and
 * 6).
 *
 * The sweeper reads a shard with `due_at <= now + horizon`. A task only needs
 * it when its message must be sent or may be lost, or its lease may have
 * ended, so every write that sets next_run, enqueued_for or a lease sets
 * due_at to the time that makes it surface just then:
 *   - PENDING without a message: next_run (it surfaces a horizon ahead);
 *   - PENDING with a live message: enqueued_for + grace + horizon (it
 *     surfaces when its message, visible since enqueued_for, may be lost);
 *   - PROCESSING: lease_until + horizon (when the lease ends; the sweeper
 *     then waits its lease grace, a few seconds, reading it again at each
 *     sweep: so no writer's TASKFLEET_LEASE_GRACE can delay a recovery).
 * The writer's settings (TASKFLEET_HORIZON, TASKFLEET_SWEEP_GRACE) go into
 * the value; the sweeper still decides with its own, so a process with other
 * settings only moves the moment an item is read. Items of older versions
 * (due_at = next_run or lease_until) are read earlier than needed, and
 * handled the same.
 */
#ifndef TF_DUE_H
#define TF_DUE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "base/err.h"

/* The number of due shards of a table without a config item, and the most
 * `taskfleet init --shards` takes (a shard's name fits in char[4]). */
#define TF_DUE_SHARDS_DEFAULT 16
#define TF_DUE_SHARDS_MAX     512

/* A due_shard's name: "0" to "511". */
#define TF_DUE_SHARD_SIZE 4

struct tf_due_timing {
	int64_t horizon_ms;          /* TASKFLEET_HORIZON */
	int64_t grace_ms;            /* TASKFLEET_SWEEP_GRACE */
	int shards;                  /* due_shard values "0".."shards-1" */
};

/* The process's timing: the configuration defaults (15 min, 60 s, 16
 * shards) until tf_due_set() replaces them. Each program calls it once at
 * start, before its first write, with its settings; t->shards 0 keeps the
 * count, and a count (1..TF_DUE_SHARDS_MAX) also counts as the table's
 * (tf_due_load() then reads nothing). Any thread may call either. */
void tf_due_set(const struct tf_due_timing *t);
void tf_due_get(struct tf_due_timing *out);

/* The due_at of a PENDING task whose message becomes visible at
 * enqueued_for, and of a PROCESSING task leased until lease_until; t NULL:
 * the process's timing. A PENDING task without a message has due_at =
 * next_run. */
int64_t tf_due_at_message(const struct tf_due_timing *t, int64_t enqueued_for);
int64_t tf_due_at_lease(const struct tf_due_timing *t, int64_t lease_until);

/* The due_shard of task id among `shards` (0: the process's count), stable
 * for the id and count: FNV-1a of the id, modulo the count. */
void tf_due_shard(const char *id, int shards, char out[TF_DUE_SHARD_SIZE]);

/* The table's config item (docs/design.md section 2): its id, never a
 * task's. */
#define TF_DUE_CONFIG_ID "taskfleet config"

/* Reads the table's shard count (the config item's `shards`; 16 when there
 * is no config item, as in every table made before the setting). */
enum tf_err tf_due_read_shards(struct tf_aws *aws, const char *table,
    int *shards);

/* Reads the table's config item (TF_DUE_CONFIG_ID, a consistent read) into
 * *item, AV JSON the caller frees; NULL (and TF_OK) when there is none.
 * The shards, the paused namespaces (ns_pause.h) and the limits (limits.h)
 * are its attributes. */
enum tf_err tf_due_config_read(struct tf_aws *aws, const char *table,
    cJSON **item);

/* The shard count of the config item (borrowed, AV JSON; NULL: there is
 * none, 16; an item without `shards`, made by `pause --ns` or `limit set`:
 * 16); TF_ERR_PARSE for a count out of range (*shards is 16 then). The
 * consumer reads the item once, on its loop, for this, the paused
 * namespaces (ns_pause.h) and the limits. */
enum tf_err tf_due_shards_from_item(const cJSON *item, int *shards);

/* Reads the table's shard count into the process's timing, once: later
 * calls (and calls after tf_due_set() gave a count) do nothing. Writers
 * call it before they compute a due_shard. On failure the count stays 16,
 * which is safe (the count only ever grows, so shards 0-15 are always
 * swept) and the next call tries again. */
enum tf_err tf_due_load(struct tf_aws *aws, const char *table);

/* `taskfleet init --shards`: makes the table's shard count `want` (1 to
 * TF_DUE_SHARDS_MAX), writing the config item; 0 writes nothing (a table
 * without the item has 16). The count only grows: a lower `want` is
 * TF_ERR_INVALID and changes nothing (items in the shards above it would no
 * longer be swept). *now: the count after. */
enum tf_err tf_due_write_shards(struct tf_aws *aws, const char *table,
    int want, int *now);

/* The name of shard number shard (0..TF_DUE_SHARDS_MAX-1): "0".."511". */
void tf_due_shard_name(int shard, char out[TF_DUE_SHARD_SIZE]);

/* Items of the table that are not tasks (the config item, the sweep leases)
 * have ids with a space, which no task id may contain: true for such an id.
 * Listing, counting, adopting and `get` pass them by. */
bool tf_due_internal_id(const char *id);

#endif /* TF_DUE_H */
