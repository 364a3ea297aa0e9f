/* sweep_lease.c - leases on groups of due shards, so a fleet sweeps once. */
#include "sweep_lease.h"

#include <stdio.h>
#include <string.h>

#include "aws/ddb.h"
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
	int i, k = 0, mine, fair, c, most_count = 0;
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
	 * our fair share, the rest left to the others. */
	for (i = 0; i < n; i++) {
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

enum tf_err
tf_sweep_lease_read(struct tf_aws *aws, const char *table,
    struct tf_sweep_lease *l, int n)
{
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	cJSON *start = NULL, *items = NULL;
	const cJSON *it;
	const char *id;
	int g;
	enum tf_err rc;

	memset(l, 0, (size_t)n * sizeof(*l));
	e.key_condition = "due_shard = :s";
	rc = tf_ddb_expr_value_s(&e, ":s", TF_SWEEP_LEASE_SHARD);
	if (rc != TF_OK)
		goto out;
	q.table = table;
	q.index = "by_due";
	q.expr = &e;
	do {
		rc = tf_ddb_query_page(aws, &q, &start, &items);
		if (rc != TF_OK)
			goto out;
		cJSON_ArrayForEach(it, items) {
			id = tf_ddb_item_s(it, "id");
			if (id == NULL || sscanf(id, LEASE_ID_FMT, &g) != 1 ||
			    g < 0 || g >= n)
				continue;
			l[g].exists = true;
			tf_ddb_item_n(it, "gen", &l[g].holder);
			tf_ddb_item_n(it, "lease_until", &l[g].until);
			tf_ddb_item_n(it, "next_run", &l[g].asker);
			tf_ddb_item_n(it, "enqueued_for", &l[g].asked_at);
		}
		cJSON_Delete(items);
		items = NULL;
	} while (start != NULL);
out:
	cJSON_Delete(start);
	cJSON_Delete(items);
	tf_ddb_expr_free(&e);
	return rc;
}

/* A new lease item for group g, held by me (owner) until until. */
static enum tf_err
put_new(struct tf_aws *aws, const char *table, int g, int64_t me,
    const char *owner, int64_t until)
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
	rc = tf_ddb_put_item(aws, table, item, &e);
out:
	cJSON_Delete(item);
	return rc;
}

enum tf_err
tf_sweep_lease_apply(struct tf_aws *aws, const char *table, int g,
    const struct tf_sweep_lease *l, enum tf_sweep_lease_action act,
    int64_t me, const char *owner, int64_t now, int64_t lease_ms)
{
	struct tf_ddb_expr e = { 0 };
	cJSON *key = NULL;
	char id[32];
	int64_t until = now + lease_ms;
	enum tf_err rc = TF_ERR_NOMEM;

	switch (act) {
	case TF_LEASE_NONE:
		return TF_OK;
	case TF_LEASE_TAKE:
		if (!l->exists)
			return put_new(aws, table, g, me, owner, until);
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
	lease_id(g, id);
	key = tf_task_key(id);
	if (key == NULL ||
	    tf_ddb_expr_value_n(&e, ":me", me) != TF_OK ||
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
	rc = tf_ddb_update_item(aws, table, key, &e, NULL, NULL);
out:
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
	return rc;
}

enum tf_err
tf_sweep_lease_release(struct tf_aws *aws, const char *table, int g,
    int64_t me)
{
	struct tf_ddb_expr e = { 0 };
	cJSON *key = NULL;
	char id[32];
	enum tf_err rc = TF_ERR_NOMEM;

	lease_id(g, id);
	key = tf_task_key(id);
	e.update = "SET lease_until = :zero, due_at = :zero";
	e.condition = "gen = :me";
	if (key != NULL && tf_ddb_expr_value_n(&e, ":zero", 0) == TF_OK &&
	    tf_ddb_expr_value_n(&e, ":me", me) == TF_OK)
		rc = tf_ddb_update_item(aws, table, key, &e, NULL, NULL);
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
	return rc;
}
