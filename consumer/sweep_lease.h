/*
 * sweep_lease.h - the sweep shared by a fleet: leases on groups of due
 * shards, kept as items of the table (docs/design.md section 6).
 *
 * The due shards fall into n = min(shards, TF_SWEEP_LEASES) groups (shard s
 * in group s % n), each with one lease item, id "taskfleet sweep G" (a space:
 * never a task id). A consumer sweeps only the shards of the groups it
 * holds. Every lease_ms / 2 (once a lease_ms when it holds none and has
 * nothing to take or ask for; within seconds while it is still taking,
 * tf_sweep_lease_pace()) it reads all lease items with one Query (they
 * sit in the by_due index under due_shard "sweep", which no sweep reads),
 * renews the ones it holds, takes ones that expired (their consumer died or
 * stopped) up to its fair share, and, holding two fewer than another
 * consumer, asks that one for one of its leases, which it hands over at
 * its next round. So the fleet sweeps each shard once however many
 * consumers it has, a dead consumer's shards are swept again within about
 * 1.5 lease times (2.1 when no holder is left), and the leases spread
 * over up to n consumers.
 *
 * Each consumer has a random numeric token. The lease items use attributes
 * the by_due index projects: lease_until (= due_at) the lease's end, gen the
 * holder's token, next_run the token of a consumer asking for it and
 * enqueued_for when it asked; lease_owner names the holder for people.
 */
#ifndef TF_SWEEP_LEASE_H
#define TF_SWEEP_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/aws.h"
#include "loop/loop.h"
#include "base/err.h"

/* The most lease groups: the most consumers that share the sweep. */
#define TF_SWEEP_LEASES 4

/* The due_shard under which the lease items sit in the by_due index. */
#define TF_SWEEP_LEASE_SHARD "sweep"

/* One lease item as read. */
struct tf_sweep_lease {
	bool exists;
	int64_t holder;              /* its holder's token; 0: none */
	int64_t until;               /* epoch ms its lease ends */
	int64_t asker;               /* a consumer asking for it; 0: none */
	int64_t asked_at;            /* epoch ms it asked */
};

enum tf_sweep_lease_action {
	TF_LEASE_NONE,               /* another consumer's, or left free */
	TF_LEASE_RENEW,              /* ours: extend it */
	TF_LEASE_TAKE,               /* free or expired: take it */
	TF_LEASE_HAND_OVER,          /* ours, asked for by one that holds two
	                                fewer: give it to the asker */
	TF_LEASE_ASK                 /* another's, who holds two more than us:
	                                ask for it */
};

/* Decides what consumer `me` does with each of the n leases l[] it read at
 * now (act[i] for l[i]); pure. An ask is recent for lease_ms. */
void tf_sweep_lease_plan(const struct tf_sweep_lease *l, int n, int64_t me,
    int64_t now, int64_t lease_ms, enum tf_sweep_lease_action *act);

/* How soon a consumer reads the leases again after a round. */
enum tf_sweep_lease_pace {
	TF_LEASE_PACE_SOON,          /* it took one and wants more, or lost a
	                                take to another: a few seconds */
	TF_LEASE_PACE_HOLDER,        /* it holds one, or asked for one: twice
	                                a lease time, to renew in time */
	TF_LEASE_PACE_STANDBY        /* it holds none and all are held: once
	                                a lease time (the holders take a dead
	                                holder's leases; a standby only matters
	                                when every holder is gone) */
};

/* The pace after a round that read l[0..n) at now, planned act[] and ended
 * holding held[] (a TAKE that lost its race shows as not held); pure. */
enum tf_sweep_lease_pace tf_sweep_lease_pace(const struct tf_sweep_lease *l,
    const enum tf_sweep_lease_action *act, const bool *held, int n,
    int64_t now);

/* The wait until the next round at pace, with jitter (0 to lease_ms / 10,
 * so a fleet's rounds do not line up); pure. */
int64_t tf_sweep_lease_round_ms(enum tf_sweep_lease_pace pace,
    int64_t lease_ms, int64_t jitter);

/* The number of lease groups for a table of `shards` due shards. */
int tf_sweep_lease_groups(int shards);

/*
 * The lease items are read and written on the consumer's event loop (call
 * these on its thread). Each returns TF_OK when the call started (cb then
 * runs exactly once, later, on the loop; TF_ERR_CANCELLED when the loop
 * stopped first), or an error without calling back.
 */

/* The lease items as read: l[0..n) borrowed for the callback. */
typedef void tf_sweep_lease_read_cb(void *ctx, enum tf_err rc,
    const struct tf_sweep_lease *l);

/* A lease write's end: TF_ERR_CONDITION when another consumer changed the
 * lease first. */
typedef void tf_sweep_lease_cb(void *ctx, enum tf_err rc);

/* Reads the n lease items (one Query; table borrowed until cb runs). */
enum tf_err tf_sweep_lease_read(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, int n, tf_sweep_lease_read_cb *cb, void *ctx);

/* Carries out act (not TF_LEASE_NONE: TF_ERR_INVALID) for lease group g as
 * read (l, borrowed for the call), for consumer me, named owner (copied),
 * until now + lease_ms. */
enum tf_err tf_sweep_lease_apply(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, int g, const struct tf_sweep_lease *l,
    enum tf_sweep_lease_action act, int64_t me, const char *owner,
    int64_t now, int64_t lease_ms, tf_sweep_lease_cb *cb, void *ctx);

/* Ends lease g of consumer me now (a clean stop), so that another consumer
 * takes it at its next round. */
enum tf_err tf_sweep_lease_release(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, int g, int64_t me, tf_sweep_lease_cb *cb, void *ctx);

#endif /* TF_SWEEP_LEASE_H */
