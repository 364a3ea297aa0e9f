/* sweep_lease.c - leases on groups of due shards, so a fleet sweeps once. */
#include "sweep_lease.h"

#include <stdio.h>
#include <string.h>

#include "aws/ddb.h"
#include "aws/ddb_async.h"
#include "base/alloc.h"
#include "task/task.h"

#define LEASE_ID_FMT "taskfleet sweep %d"

int
tf_sweep_lease_groups(int shards)
{
	if (shards < 1)
		return 1;
	return shards < TF_SWEEP_LEASES ? shards : TF_SWEEP_LEASES;
}

static bool
live(const struct tf_sweep_lease *l, int64_t now)
{
	return l->exists && l->holder != 0 && l->until > now;
}

/* How many of the n leases token holds at now. */
static int
held_by(const struct tf_sweep_lease *l, int n, int64_t token, int64_t now)
{
	int i, c = 0;

	for (i = 0; i < n; i++)
		c += live(&l[i], now) && l[i].holder == token;
	return c;
}

/* Adds token to the set seen[] of *k tokens unless it is there. */
static void
add_token(int64_t *seen, int *k, int64_t token)
{
	int i;

	for (i = 0; i < *k; i++)
		if (seen[i] == token)
			return;
	seen[(*k)++] = token;
}

void
tf_sweep_lease_plan(const struct tf_sweep_lease *l, int n, int64_t me,
    int64_t now, int64_t lease_ms, enum tf_sweep_lease_action *act)
{
	int64_t seen[2 * TF_SWEEP_LEASES + 1], most = 0;
	int i, j, k = 0, mine, fair, c, most_count = 0;
	bool handed = false, took = false, free_left = false;

	if (n > TF_SWEEP_LEASES)
		n = TF_SWEEP_LEASES;
	mine = held_by(l, n, me, now);
	/* The consumers that share the leases: us, the live holders, and
	 * those that asked lately (they may hold none yet). */
	add_token(seen, &k, me);
	for (i = 0; i < n; i++) {
		act[i] = TF_LEASE_NONE;
		if (live(&l[i], now))
			add_token(seen, &k, l[i].holder);
		if (l[i].asker != 0 && l[i].asked_at > now - lease_ms)
			add_token(seen, &k, l[i].asker);
	}
	fair = (n + k - 1) / k;
	/* Ours: renewed, but one goes to a recent asker that holds at least
	 * two fewer. */
	for (i = 0; i < n; i++) {
		if (!live(&l[i], now) || l[i].holder != me)
			continue;
		act[i] = TF_LEASE_RENEW;
		if (!handed && l[i].asker != 0 && l[i].asker != me &&
		    l[i].asked_at > now - lease_ms &&
		    mine >= held_by(l, n, l[i].asker, now) + 2) {
			act[i] = TF_LEASE_HAND_OVER;
			handed = true;
			mine--;
		}
	}
	/* Free or expired ones (their consumer stopped or died): ours up to
	 * our fair share, the rest left to the others. When nobody holds any
	 * (a fresh table, or the whole fleet starting again) only one, so
	 * that consumers starting together do not all write every lease: the
	 * round after (tf_sweep_lease_round_ms) sees who took what. Looking
	 * from a place our token picks spreads those first takes. */
	for (i = 0; i < n && !live(&l[i], now); i++)
		;
	if (i == n)
		fair = 1;
	for (j = 0; j < n; j++) {
		i = (int)((uint64_t)me % (uint64_t)n + (uint64_t)j) % n;
		if (live(&l[i], now))
			continue;
		if (mine < fair) {
			act[i] = TF_LEASE_TAKE;
			took = true;
			mine++;
		} else {
			free_left = true;
		}
	}
	if (took || free_left || handed)
		return;
	/* All held: ask the consumer that holds the most, when that is two
	 * more than we hold, for one lease nobody else is asking for. */
	for (i = 0; i < n; i++) {
		c = held_by(l, n, l[i].holder, now);
		if (live(&l[i], now) && l[i].holder != me && c > most_count) {
			most = l[i].holder;
			most_count = c;
		}
	}
	if (most_count < mine + 2)
		return;
	for (i = 0; i < n; i++) {
		if (live(&l[i], now) && l[i].holder == most &&
		    (l[i].asker == 0 || l[i].asker == me ||
		    l[i].asked_at <= now - lease_ms)) {
			act[i] = TF_LEASE_ASK;
			return;
		}
	}
}

/* The lease item's id for group g (sizeof 32). */
static void
lease_id(int g, char id[32])
{
	snprintf(id, 32, LEASE_ID_FMT, g % TF_SWEEP_LEASES);
}

/* A read of the lease items in flight. */
struct lease_read {
	struct tf_aws *aws;          /* borrowed */
	struct tf_loop *loop;        /* borrowed */
	struct tf_ddb_expr e;        /* owned */
	struct tf_ddb_query q;       /* points into e; q.table borrowed */
	struct tf_sweep_lease l[TF_SWEEP_LEASES];
	int n;
	tf_sweep_lease_read_cb *cb;
	void *ctx;
};

static void
read_end(struct lease_read *r, enum tf_err rc)
{
	r->cb(r->ctx, rc, r->l);
	tf_ddb_expr_free(&r->e);
	tf_free(r);
}

static void
on_lease_page(void *ctx, enum tf_err rc, cJSON *items, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct lease_read *r = ctx;
	const cJSON *it;
	const char *id;
	int g;

	(void)err;
	if (rc == TF_OK) {
		cJSON_ArrayForEach(it, items) {
			id = tf_ddb_item_s(it, "id");
			if (id == NULL || sscanf(id, LEASE_ID_FMT, &g) != 1 ||
			    g < 0 || g >= r->n)
				continue;
			r->l[g].exists = true;
			tf_ddb_item_n(it, "gen", &r->l[g].holder);
			tf_ddb_item_n(it, "lease_until", &r->l[g].until);
			tf_ddb_item_n(it, "next_run", &r->l[g].asker);
			tf_ddb_item_n(it, "enqueued_for", &r->l[g].asked_at);
		}
	}
	cJSON_Delete(items);
	if (rc == TF_OK && next_key != NULL) {
		rc = tf_ddb_query_page_async(r->aws, r->loop, &r->q, next_key,
		    on_lease_page, r);
		cJSON_Delete(next_key);
		if (rc == TF_OK)
			return;  /* the next page */
	}
	cJSON_Delete(next_key);
	read_end(r, rc);
}

enum tf_err
tf_sweep_lease_read(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, int n, tf_sweep_lease_read_cb *cb, void *ctx)
{
	struct lease_read *r = tf_calloc(1, sizeof(*r));
	enum tf_err rc = TF_ERR_NOMEM;

	if (r == NULL)
		return TF_ERR_NOMEM;
	r->aws = aws;
	r->loop = loop;
	r->n = n < TF_SWEEP_LEASES ? n : TF_SWEEP_LEASES;
	r->cb = cb;
	r->ctx = ctx;
	r->e.key_condition = "due_shard = :s";
	r->q.table = table;
	r->q.index = "by_due";
	r->q.expr = &r->e;
	if (tf_ddb_expr_value_s(&r->e, ":s", TF_SWEEP_LEASE_SHARD) == TF_OK)
		rc = tf_ddb_query_page_async(aws, loop, &r->q, NULL, on_lease_page,
		    r);
	if (rc != TF_OK) {
		tf_ddb_expr_free(&r->e);
		tf_free(r);
	}
	return rc;
}

/* A lease write in flight. */
struct lease_write {
	tf_sweep_lease_cb *cb;
	void *ctx;
};

static void
on_lease_written(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct lease_write *w = ctx;

	(void)err;
	cJSON_Delete(value);
	cJSON_Delete(next_key);
	w->cb(w->ctx, rc);
	tf_free(w);
}

enum tf_sweep_lease_pace
tf_sweep_lease_pace(const struct tf_sweep_lease *l,
    const enum tf_sweep_lease_action *act, const bool *held, int n,
    int64_t now)
{
	bool took = false, lost = false, free_left = false, holds = false,
	    asked = false;
	int i;

	if (n > TF_SWEEP_LEASES)
		n = TF_SWEEP_LEASES;
	for (i = 0; i < n; i++) {
		holds |= held[i];
		asked |= act[i] == TF_LEASE_ASK;
		if (act[i] == TF_LEASE_TAKE) {
			took |= held[i];
			lost |= !held[i];
		} else if (!live(&l[i], now)) {
			free_left = true;
		}
	}
	if (lost || (took && free_left))
		return TF_LEASE_PACE_SOON;
	return holds || asked ? TF_LEASE_PACE_HOLDER : TF_LEASE_PACE_STANDBY;
}

int64_t
tf_sweep_lease_round_ms(enum tf_sweep_lease_pace pace, int64_t lease_ms,
    int64_t jitter)
{
	switch (pace) {
	case TF_LEASE_PACE_SOON:
		return lease_ms / 40 + jitter / 4;
	case TF_LEASE_PACE_STANDBY:
		return lease_ms * 9 / 10 + 2 * jitter;
	case TF_LEASE_PACE_HOLDER:
		break;
	}
	return lease_ms * 9 / 20 + jitter;
}

/* Sends the update e (borrowed) of lease group g, or (item not NULL) puts
 * item (borrowed) with e's condition; cb as for tf_sweep_lease_apply(). */
static enum tf_err
write_lease(struct tf_aws *aws, struct tf_loop *loop, const char *table, int g,
    const cJSON *item, const struct tf_ddb_expr *e, tf_sweep_lease_cb *cb,
    void *ctx)
{
	struct lease_write *w = tf_malloc(sizeof(*w));
	cJSON *key = NULL;
	char id[32];
	enum tf_err rc = TF_ERR_NOMEM;

	if (w == NULL)
		return TF_ERR_NOMEM;
	*w = (struct lease_write){ cb, ctx };
	lease_id(g, id);
	if (item != NULL)
		rc = tf_ddb_put_item_async(aws, loop, table, item, e,
		    on_lease_written, w);
	else if ((key = tf_task_key(id)) != NULL)
		rc = tf_ddb_update_item_async(aws, loop, table, key, e, NULL,
		    on_lease_written, w);
	cJSON_Delete(key);
	if (rc != TF_OK)
		tf_free(w);
	return rc;
}

/* A new lease item for group g, held by me (owner) until until. */
static enum tf_err
put_new(struct tf_aws *aws, struct tf_loop *loop, const char *table, int g,
    int64_t me, const char *owner, int64_t until, tf_sweep_lease_cb *cb,
    void *ctx)
{
	struct tf_ddb_expr e = { 0 };
	cJSON *item = cJSON_CreateObject();
	char id[32];
	enum tf_err rc = TF_ERR_NOMEM;

	lease_id(g, id);
	if (item == NULL ||
	    !cJSON_AddItemToObject(item, "id", tf_ddb_av_s(id)) ||
	    !cJSON_AddItemToObject(item, "due_shard",
	    tf_ddb_av_s(TF_SWEEP_LEASE_SHARD)) ||
	    !cJSON_AddItemToObject(item, "due_at", tf_ddb_av_n(until)) ||
	    !cJSON_AddItemToObject(item, "lease_until", tf_ddb_av_n(until)) ||
	    !cJSON_AddItemToObject(item, "gen", tf_ddb_av_n(me)) ||
	    !cJSON_AddItemToObject(item, "lease_owner", tf_ddb_av_s(owner)) ||
	    !cJSON_AddItemToObject(item, "next_run", tf_ddb_av_n(0)) ||
	    !cJSON_AddItemToObject(item, "enqueued_for", tf_ddb_av_n(0)))
		goto out;
	e.condition = "attribute_not_exists(id)";
	rc = write_lease(aws, loop, table, g, item, &e, cb, ctx);
out:
	cJSON_Delete(item);
	return rc;
}

enum tf_err
tf_sweep_lease_apply(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, int g, const struct tf_sweep_lease *l,
    enum tf_sweep_lease_action act, int64_t me, const char *owner,
    int64_t now, int64_t lease_ms, tf_sweep_lease_cb *cb, void *ctx)
{
	struct tf_ddb_expr e = { 0 };
	int64_t until = now + lease_ms;
	enum tf_err rc = TF_ERR_NOMEM;

	switch (act) {
	case TF_LEASE_NONE:
		return TF_ERR_INVALID;
	case TF_LEASE_TAKE:
		if (!l->exists)
			return put_new(aws, loop, table, g, me, owner, until, cb, ctx);
		/* Whoever else saw it expire takes it only if we did not. */
		e.update = "SET gen = :me, lease_until = :u, due_at = :u, "
		    "lease_owner = :name, next_run = :zero, enqueued_for = :zero";
		e.condition = "lease_until = :seen";
		break;
	case TF_LEASE_RENEW:
		e.update = "SET lease_until = :u, due_at = :u, lease_owner = :name";
		e.condition = "gen = :me";
		break;
	case TF_LEASE_HAND_OVER:
		e.update = "SET gen = :asker, lease_until = :u, due_at = :u, "
		    "next_run = :zero REMOVE lease_owner";
		e.condition = "gen = :me AND next_run = :asker";
		break;
	case TF_LEASE_ASK:
		e.update = "SET next_run = :me, enqueued_for = :now";
		e.condition = "gen = :holder";
		break;
	}
	if (tf_ddb_expr_value_n(&e, ":me", me) != TF_OK ||
	    (act != TF_LEASE_ASK &&
	    tf_ddb_expr_value_n(&e, ":u", until) != TF_OK) ||
	    ((act == TF_LEASE_TAKE || act == TF_LEASE_RENEW) &&
	    tf_ddb_expr_value_s(&e, ":name", owner) != TF_OK) ||
	    (act == TF_LEASE_TAKE &&
	    (tf_ddb_expr_value_n(&e, ":zero", 0) != TF_OK ||
	    tf_ddb_expr_value_n(&e, ":seen", l->until) != TF_OK)) ||
	    (act == TF_LEASE_HAND_OVER &&
	    (tf_ddb_expr_value_n(&e, ":zero", 0) != TF_OK ||
	    tf_ddb_expr_value_n(&e, ":asker", l->asker) != TF_OK)) ||
	    (act == TF_LEASE_ASK &&
	    (tf_ddb_expr_value_n(&e, ":now", now) != TF_OK ||
	    tf_ddb_expr_value_n(&e, ":holder", l->holder) != TF_OK)))
		goto out;
	rc = write_lease(aws, loop, table, g, NULL, &e, cb, ctx);
out:
	tf_ddb_expr_free(&e);
	return rc;
}

enum tf_err
tf_sweep_lease_release(struct tf_aws *aws, struct tf_loop *loop,
    const char *table, int g, int64_t me, tf_sweep_lease_cb *cb, void *ctx)
{
	struct tf_ddb_expr e = { 0 };
	enum tf_err rc = TF_ERR_NOMEM;

	e.update = "SET lease_until = :zero, due_at = :zero";
	e.condition = "gen = :me";
	if (tf_ddb_expr_value_n(&e, ":zero", 0) == TF_OK &&
	    tf_ddb_expr_value_n(&e, ":me", me) == TF_OK)
		rc = write_lease(aws, loop, table, g, NULL, &e, cb, ctx);
	tf_ddb_expr_free(&e);
	return rc;
}
