/* limiter.c - limits per key across the fleet, on the loop (limiter.h). */
#include "limiter.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "aws/ddb_async.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "loop/loop.h"
#include "task/due.h"
#include "task/task.h"

/* A run waiting for a rate slot takes a reserved one this late at most;
 * older ones are dropped (the rate stays under its limit). */
#define STALE_SLOT_US 50000
/* Reservations: at most this many seconds of a key's rate at once. */
#define RESERVE_SECONDS 2
/* A reservation is put off until this consumer's last reserved start slot
 * is this near: the runs that come meanwhile share one request. */
#define RESERVE_AHEAD_MS 250
/* A full key is tried again after this backoff, doubling to the maximum. */
#define FULL_BACKOFF_MIN_MS 250
#define FULL_BACKOFF_MAX_MS 2000

/* An in-flight slot this consumer holds. */
struct held {
	int idx;
	bool busy;                 /* a run has it; else it is being given back */
};

/* What this consumer knows of one key. */
struct tf_limiter_key {
	char key[TF_LIMIT_KEY_SIZE];
	int64_t hold_until;        /* epoch ms: no run starts before (a host's
	                              Retry-After, ours or the table's) */
	/* rate: the reserved start slots not taken yet */
	int64_t res_next_us;       /* epoch us of the next one */
	int64_t res_step_us;
	int64_t res_left;
	bool reserving;            /* a reservation is in flight */
	struct tf_loop_timer *reserve_later;  /* a reservation put off */
	int reserve_tries;
	struct tf_limiter_wait *rq, *rq_tail;  /* waiting for a start slot */
	/* in flight */
	struct held *held;         /* owned, held_n of them */
	int held_n;
	bool acquiring;            /* a slot write is in flight */
	int try_first, tries, try_of;
	int64_t backoff_ms;
	struct tf_loop_timer *retry;
	struct tf_limiter_wait *fq, *fq_tail;  /* waiting for a slot */
	struct tf_limiter_key *next;
};

struct tf_limiter {
	struct tf_aws *aws;        /* borrowed */
	struct tf_loop *loop;      /* borrowed */
	const char *table;         /* borrowed */
	const char *owner;         /* borrowed */
	struct tf_limits defaults; /* owned */
	struct tf_limiter_key *keys;  /* owned */
	struct tf_limiter_wait *waiting;  /* borrowed: every wait under way */
	struct tf_loop_timer *extend;     /* the slots' lease timer */
	bool stopping;
	long requests;             /* UpdateItem calls sent, for the log */
	long passed_runs;          /* runs that had a limit to pass */
};

/* An asynchronous write's context. */
struct op {
	struct tf_limiter *lim;
	struct tf_limiter_key *k;
	int idx;
	struct tf_limit l;
	int64_t count;             /* reservation: slots asked for */
	int64_t start_us;          /* reservation B: the first slot */
	const char *what;          /* a write nothing waits for: what it does */
};

static void advance(struct tf_limiter_wait *w);
static bool held(struct tf_limiter_wait *w);
static void kick_acquire(struct tf_limiter *lim, struct tf_limiter_key *k,
    const struct tf_limit *l);
static void kick_reserve(struct tf_limiter *lim, struct tf_limiter_key *k,
    const struct tf_limit *l);

struct tf_limiter *
tf_limiter_new(struct tf_aws *aws, struct tf_loop *loop, const char *table,
    const char *owner, const struct tf_limits *defaults)
{
	struct tf_limiter *lim = tf_calloc(1, sizeof(*lim));

	if (lim == NULL)
		return NULL;
	lim->aws = aws;
	lim->loop = loop;
	lim->table = table;
	lim->owner = owner;
	if (defaults != NULL && defaults->n > 0) {
		lim->defaults.v = tf_calloc(defaults->n, sizeof(*defaults->v));
		if (lim->defaults.v == NULL) {
			tf_free(lim);
			return NULL;
		}
		memcpy(lim->defaults.v, defaults->v, defaults->n *
		    sizeof(*defaults->v));
		lim->defaults.n = defaults->n;
	}
	return lim;
}

static int64_t
now_us(void)
{
	return tf_now_ms() * 1000;
}

/* The key's state, created on first use; NULL when out of memory. */
static struct tf_limiter_key *
key_state(struct tf_limiter *lim, const char *key)
{
	struct tf_limiter_key *k;

	for (k = lim->keys; k != NULL; k = k->next)
		if (strcmp(k->key, key) == 0)
			return k;
	if ((k = tf_calloc(1, sizeof(*k))) == NULL)
		return NULL;
	snprintf(k->key, sizeof(k->key), "%.*s", TF_LIMIT_KEY_SIZE - 1, key);
	k->backoff_ms = FULL_BACKOFF_MIN_MS;
	k->next = lim->keys;
	lim->keys = k;
	return k;
}

/* The table item of a key's rate, or of its in-flight slot idx. */
static cJSON *
item_key(const char *key, int idx)
{
	char id[TF_LIMIT_KEY_SIZE + 48];

	if (idx < 0)
		snprintf(id, sizeof(id), "taskfleet limit rate %s", key);
	else
		snprintf(id, sizeof(id), "taskfleet limit slot %d %s", idx, key);
	return tf_task_key(id);
}

/* ---- the wait's bookkeeping ---- */

static void
enqueue(struct tf_limiter_wait **head, struct tf_limiter_wait **tail,
    struct tf_limiter_wait *w)
{
	w->qnext = NULL;
	if (*tail != NULL)
		(*tail)->qnext = w;
	else
		*head = w;
	*tail = w;
}

static struct tf_limiter_wait *
dequeue(struct tf_limiter_wait **head, struct tf_limiter_wait **tail)
{
	struct tf_limiter_wait *w = *head;

	if (w != NULL) {
		*head = w->qnext;
		if (*head == NULL)
			*tail = NULL;
		w->qnext = NULL;
	}
	return w;
}

/* Takes w out of a queue it may be in. */
static void
unqueue(struct tf_limiter_wait **head, struct tf_limiter_wait **tail,
    struct tf_limiter_wait *w)
{
	struct tf_limiter_wait *p = NULL, *q;

	for (q = *head; q != NULL; p = q, q = q->qnext) {
		if (q != w)
			continue;
		if (p != NULL)
			p->qnext = q->qnext;
		else
			*head = q->qnext;
		if (*tail == q)
			*tail = p;
		q->qnext = NULL;
		return;
	}
}

/* w begins waiting (at key index i; -1: for its start time). */
static void
wait_begin(struct tf_limiter_wait *w)
{
	struct tf_limiter *lim = w->lim;

	if (w->waiting)
		return;
	w->waiting = true;
	w->wait_mono = tf_mono_ms();
	w->prev = NULL;
	w->next = lim->waiting;
	if (lim->waiting != NULL)
		lim->waiting->prev = w;
	lim->waiting = w;
}

/* w's wait (on key) is over: counted. */
static void
wait_end(struct tf_limiter_wait *w, const char *key)
{
	struct tf_limiter *lim = w->lim;
	int64_t took;

	if (!w->waiting)
		return;
	w->waiting = false;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		lim->waiting = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	took = tf_mono_ms() - w->wait_mono;
	w->waited_ms += took;
	if (took >= w->longest_ms && key != w->by) {
		w->longest_ms = took;
		snprintf(w->by, sizeof(w->by), "%s", key);
	}
}

/* A wait ended with its step passed: on to the next. */
static void
passed(struct tf_limiter_wait *w, const char *key)
{
	wait_end(w, key);
	w->step++;
	advance(w);
}

/* The limit of k the first waiter sees (each waiter copied it). */
static const struct tf_limit *
waiter_limit(const struct tf_limiter_wait *w, const struct tf_limiter_key *k)
{
	int i;

	for (i = 0; i < w->n; i++)
		if (w->keys[i] == k)
			return &w->lims[i];
	return &w->lims[0];
}

/* ---- in flight ---- */

/* Gives w a slot of k this consumer holds and no run uses; false when
 * there is none below the limit l. */
static bool
slot_take(struct tf_limiter_key *k, struct tf_limiter_wait *w, int i,
    const struct tf_limit *l)
{
	int j;

	for (j = 0; j < k->held_n; j++) {
		if (!k->held[j].busy && k->held[j].idx < l->in_flight) {
			k->held[j].busy = true;
			w->slot[i] = k->held[j].idx;
			return true;
		}
	}
	return false;
}

/* Forgets slot idx of k (given back, or found taken). */
static void
held_drop(struct tf_limiter_key *k, int idx)
{
	int j;

	for (j = 0; j < k->held_n; j++) {
		if (k->held[j].idx == idx) {
			k->held[j] = k->held[--k->held_n];
			return;
		}
	}
}

/* A write nothing waits for is over: a failure is logged with o->what. */
static void
on_written(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct op *o = ctx;

	cJSON_Delete(value);
	cJSON_Delete(next_key);
	if (rc != TF_OK && rc != TF_ERR_CONDITION && rc != TF_ERR_CANCELLED)
		tf_log(TF_LOG_WARN, "%s %s failed (%s)", o->what, o->k->key,
		    tf_strerror(rc));
	tf_free(o);
}

/* Sends the write e of item key (both borrowed) that nothing waits for;
 * a failure is logged with what (and k's key). */
static void
send_unwaited(struct tf_limiter *lim, struct tf_limiter_key *k,
    const char *what, const cJSON *key, const struct tf_ddb_expr *e)
{
	struct op *o = tf_calloc(1, sizeof(*o));

	if (o == NULL)
		return;
	o->lim = lim;
	o->k = k;
	o->what = what;
	lim->requests++;
	if (tf_ddb_update_item_async(lim->aws, lim->loop, lim->table, key, e,
	    NULL, on_written, o) != TF_OK)
		tf_free(o);
}

/* Gives slot idx of k back to the table (no run of this consumer wants
 * it). */
static void
give_back(struct tf_limiter *lim, struct tf_limiter_key *k, int idx)
{
	struct tf_ddb_expr e = { 0 };
	cJSON *key = item_key(k->key, idx);

	held_drop(k, idx);
	e.update = "REMOVE #o, #u";
	e.condition = "#o = :me";
	if (key != NULL &&
	    tf_ddb_expr_name(&e, "#o", "lease_owner") == TF_OK &&
	    tf_ddb_expr_name(&e, "#u", "lease_until") == TF_OK &&
	    tf_ddb_expr_value_s(&e, ":me", lim->owner) == TF_OK)
		send_unwaited(lim, k, "giving back an in-flight slot (its lease "
		    "runs out) of", key, &e);
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
}

static void on_extended(void *ctx, enum tf_err rc, cJSON *value,
    cJSON *next_key, const struct tf_aws_error *err);

/* Writes slot idx of k as ours until now + the lease: a new slot (take) or
 * one we hold (extend). */
static enum tf_err
write_slot(struct tf_limiter *lim, struct tf_limiter_key *k, int idx,
    bool take, const struct tf_limit *l, tf_ddb_async_cb *cb)
{
	struct tf_ddb_expr e = { 0 };
	struct op *o = tf_calloc(1, sizeof(*o));
	cJSON *key = item_key(k->key, idx);
	int64_t now = tf_now_ms();
	enum tf_err rc = TF_ERR_NOMEM;

	e.update = "SET #o = :me, #u = :until";
	e.condition = take ? "attribute_not_exists(#u) OR #u < :now OR #o = :me" :
	    "#o = :me";
	if (o != NULL && key != NULL &&
	    tf_ddb_expr_name(&e, "#o", "lease_owner") == TF_OK &&
	    tf_ddb_expr_name(&e, "#u", "lease_until") == TF_OK &&
	    tf_ddb_expr_value_s(&e, ":me", lim->owner) == TF_OK &&
	    tf_ddb_expr_value_n(&e, ":until", now + TF_LIMIT_SLOT_LEASE_MS) ==
	    TF_OK &&
	    (!take || tf_ddb_expr_value_n(&e, ":now", now) == TF_OK)) {
		o->lim = lim;
		o->k = k;
		o->idx = idx;
		if (l != NULL)
			o->l = *l;
		lim->requests++;
		rc = tf_ddb_update_item_async(lim->aws, lim->loop, lim->table, key,
		    &e, NULL, cb, o);
	}
	if (rc != TF_OK)
		tf_free(o);
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
	return rc;
}

static void
on_extend_tick(void *ctx, enum tf_err rc)
{
	struct tf_limiter *lim = ctx;
	struct tf_limiter_key *k;
	int j;
	bool any = false;

	lim->extend = NULL;
	if (rc == TF_ERR_CANCELLED)
		return;
	for (k = lim->keys; k != NULL; k = k->next) {
		for (j = 0; j < k->held_n; j++) {
			any = true;
			write_slot(lim, k, k->held[j].idx, false, NULL, on_extended);
		}
	}
	if (any && tf_loop_after(lim->loop, TF_LIMIT_SLOT_LEASE_MS / 3,
	    on_extend_tick, lim, &lim->extend) != TF_OK)
		lim->extend = NULL;
}

static void
on_extended(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct op *o = ctx;

	cJSON_Delete(value);
	cJSON_Delete(next_key);
	if (rc == TF_ERR_CONDITION) {
		/* Its lease ran out and another consumer took it: the run
		 * holding it finishes, the slot is no longer ours. */
		tf_log(TF_LOG_WARN, "in-flight slot %d of %s was lost (its lease "
		    "ran out)", o->idx, o->k->key);
		held_drop(o->k, o->idx);
	}
	tf_free(o);
}

static void
on_retry_full(void *ctx, enum tf_err rc)
{
	struct op *o = ctx;
	struct tf_limiter_key *k = o->k;

	k->retry = NULL;
	if (rc != TF_ERR_CANCELLED && k->fq != NULL)
		kick_acquire(o->lim, k, waiter_limit(k->fq, k));
	tf_free(o);
}

/* Every slot of k is taken (or a write failed): tried again after the
 * backoff. */
static void
retry_later(struct tf_limiter *lim, struct tf_limiter_key *k)
{
	struct op *o = tf_calloc(1, sizeof(*o));
	long delay = (long)(k->backoff_ms / 2 + tf_random_below(k->backoff_ms));

	k->acquiring = false;
	k->backoff_ms = k->backoff_ms * 2 > FULL_BACKOFF_MAX_MS ?
	    FULL_BACKOFF_MAX_MS : k->backoff_ms * 2;
	if (o == NULL || lim->stopping) {
		tf_free(o);
		return;
	}
	o->lim = lim;
	o->k = k;
	if (tf_loop_after(lim->loop, delay, on_retry_full, o, &k->retry) != TF_OK) {
		k->retry = NULL;
		tf_free(o);
	}
}

static void try_slot(struct tf_limiter *lim, struct tf_limiter_key *k,
    const struct tf_limit *l);

static void
on_slot_taken(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct op *o = ctx;
	struct tf_limiter *lim = o->lim;
	struct tf_limiter_key *k = o->k;
	struct tf_limiter_wait *w;
	struct held *h;
	struct tf_limit l = o->l;
	int idx = o->idx, i;

	cJSON_Delete(value);
	cJSON_Delete(next_key);
	tf_free(o);
	if (rc == TF_ERR_CANCELLED)
		return;
	if (rc == TF_ERR_CONDITION) {
		try_slot(lim, k, &l);
		return;
	}
	if (rc != TF_OK) {
		tf_log(TF_LOG_WARN, "taking an in-flight slot of %s failed (%s); "
		    "tried again", k->key, tf_strerror(rc));
		retry_later(lim, k);
		return;
	}
	k->acquiring = false;
	k->backoff_ms = FULL_BACKOFF_MIN_MS;
	h = tf_realloc(k->held, (size_t)(k->held_n + 1) * sizeof(*h));
	if (h == NULL) {
		give_back(lim, k, idx);
		retry_later(lim, k);
		return;
	}
	k->held = h;
	k->held[k->held_n].idx = idx;
	k->held[k->held_n].busy = false;
	k->held_n++;
	if (lim->extend == NULL && tf_loop_after(lim->loop,
	    TF_LIMIT_SLOT_LEASE_MS / 3, on_extend_tick, lim, &lim->extend) !=
	    TF_OK)
		lim->extend = NULL;
	if ((w = dequeue(&k->fq, &k->fq_tail)) == NULL) {
		give_back(lim, k, idx);
		return;
	}
	for (i = 0; i < w->n && w->keys[i] != k; i++)
		;
	slot_take(k, w, i < w->n ? i : 0, waiter_limit(w, k));
	if (k->fq != NULL)
		kick_acquire(lim, k, waiter_limit(k->fq, k));
	passed(w, k->key);
}

/* Tries the next slot index of k's round. */
static void
try_slot(struct tf_limiter *lim, struct tf_limiter_key *k,
    const struct tf_limit *l)
{
	int idx, j;
	bool mine;

	while (k->tries < k->try_of) {
		idx = (k->try_first + k->tries++) % k->try_of;
		mine = false;
		for (j = 0; j < k->held_n; j++)
			mine = mine || k->held[j].idx == idx;
		if (mine)
			continue;
		if (write_slot(lim, k, idx, true, l, on_slot_taken) == TF_OK)
			return;
		break;
	}
	retry_later(lim, k);
}

/* Starts a round over k's slot indexes, unless one is under way. */
static void
kick_acquire(struct tf_limiter *lim, struct tf_limiter_key *k,
    const struct tf_limit *l)
{
	if (k->acquiring || k->retry != NULL || lim->stopping)
		return;
	k->acquiring = true;
	k->try_of = (int)l->in_flight;
	k->try_first = (int)tf_random_below(l->in_flight);
	k->tries = 0;
	try_slot(lim, k, l);
}

/* ---- rate ---- */

/* Gives w the next reserved start slot of k; false when none is left. */
static bool
rate_take(struct tf_limiter_key *k, struct tf_limiter_wait *w)
{
	int64_t now = now_us(), at;

	while (k->res_left > 0 && k->res_next_us < now - STALE_SLOT_US) {
		k->res_next_us += k->res_step_us;
		k->res_left--;
	}
	if (k->res_left == 0)
		return false;
	at = (k->res_next_us + 999) / 1000;
	if (at > w->start_at) {
		w->start_at = at;
		w->start_key = k;
	}
	k->res_next_us += k->res_step_us;
	k->res_left--;
	return true;
}

static int64_t
queue_len(const struct tf_limiter_wait *w)
{
	int64_t n = 0;

	for (; w != NULL; w = w->qnext)
		n++;
	return n;
}

static void send_reserve(struct op *o, bool fresh);

/* A failed reservation's retry. */
static void
on_retry_reserve(void *ctx, enum tf_err rc)
{
	struct op *o = ctx;
	struct tf_limiter_key *k = o->k;
	struct tf_limiter *lim = o->lim;

	k->reserving = false;
	tf_free(o);
	if (rc != TF_ERR_CANCELLED && k->rq != NULL)
		kick_reserve(lim, k, waiter_limit(k->rq, k));
}

/* A reservation's answer: the slots from start_us on. */
static void
reserved(struct op *o, int64_t start_us)
{
	struct tf_limiter_key *k = o->k;
	struct tf_limiter_wait *w;

	k->res_next_us = start_us;
	k->res_step_us = (int64_t)(1e6 / o->l.rate);
	k->res_left = o->count;
	k->reserving = false;
	k->reserve_tries = 0;
	while (k->rq != NULL && rate_take(k, k->rq)) {
		w = dequeue(&k->rq, &k->rq_tail);
		passed(w, k->key);
	}
	if (k->rq != NULL)
		kick_reserve(o->lim, k, waiter_limit(k->rq, k));
}

static void
on_reserved(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct op *o = ctx;
	struct tf_limiter_key *k = o->k;
	int64_t tat;
	bool fresh = o->start_us != 0;

	cJSON_Delete(next_key);
	if (rc == TF_OK && !fresh && !tf_ddb_item_n(value, "tat", &tat))
		rc = TF_ERR_PARSE;
	cJSON_Delete(value);
	if (rc == TF_ERR_CANCELLED) {
		tf_free(o);
		return;
	}
	if (rc == TF_OK) {
		reserved(o, fresh ? o->start_us : tat - o->count *
		    (int64_t)(1e6 / o->l.rate));
		tf_free(o);
		return;
	}
	if (rc == TF_ERR_CONDITION && ++k->reserve_tries < 20 &&
	    !o->lim->stopping) {
		/* The key was idle (A), or another consumer moved it (B). */
		send_reserve(o, !fresh);
		return;
	}
	tf_log(TF_LOG_WARN, "reserving start slots of %s failed (%s); tried "
	    "again", k->key, tf_strerror(rc));
	k->reserve_tries = 0;
	/* k stays reserving until the timer: no other reservation starts. */
	if (o->lim->stopping || tf_loop_after(o->lim->loop, 500,
	    on_retry_reserve, o, NULL) != TF_OK) {
		k->reserving = false;
		tf_free(o);
	}
}

/*
 * Reserves o->count start slots of k's rate: A (busy key) moves the
 * theoretical arrival time on by count intervals when it is no further
 * back than the burst allows, the slots starting at the old one; B (idle
 * key, fresh) sets it to the earliest the burst allows plus count
 * intervals when it is further back, the slots starting there. Each is one
 * conditional UpdateItem; a failed condition sends the other.
 */
static void
send_reserve(struct op *o, bool fresh)
{
	struct tf_limiter *lim = o->lim;
	struct tf_ddb_expr e = { 0 };
	cJSON *key = item_key(o->k->key, -1);
	int64_t step = (int64_t)(1e6 / o->l.rate);
	int64_t floor = now_us() - (o->l.burst - 1) * step;
	enum tf_err rc = TF_ERR_NOMEM;

	o->start_us = fresh ? floor : 0;
	if (fresh) {
		e.update = "SET tat = :tat";
		e.condition = "attribute_not_exists(tat) OR tat < :floor";
	} else {
		e.update = "SET tat = tat + :inc";
		e.condition = "tat >= :floor";
	}
	if (key != NULL && tf_ddb_expr_value_n(&e, ":floor", floor) == TF_OK &&
	    (fresh ? tf_ddb_expr_value_n(&e, ":tat", floor + o->count * step) :
	    tf_ddb_expr_value_n(&e, ":inc", o->count * step)) == TF_OK) {
		lim->requests++;
		rc = tf_ddb_update_item_async(lim->aws, lim->loop, lim->table, key,
		    &e, fresh ? NULL : "UPDATED_NEW", on_reserved, o);
	}
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
	if (rc != TF_OK)
		on_reserved(o, rc, NULL, NULL, NULL);
}

/* The timer of a reservation put off: reserves for every run waiting by
 * now. */
static void
on_reserve_due(void *ctx, enum tf_err rc)
{
	struct op *o = ctx;
	struct tf_limiter_key *k = o->k;

	k->reserve_later = NULL;
	if (rc != TF_ERR_CANCELLED && k->rq != NULL)
		kick_reserve(o->lim, k, waiter_limit(k->rq, k));
	tf_free(o);
}

/* True when k's next reservation is put off on a timer: this consumer's
 * last reserved start slot is more than RESERVE_AHEAD_MS away, and the
 * slots of a reservation never start before it (the key's tat only moves
 * on), so the runs waiting now lose nothing by waiting for the timer, and
 * those that come meanwhile are reserved for with them in one request
 * instead of one each. */
static bool
reserve_later(struct tf_limiter *lim, struct tf_limiter_key *k)
{
	struct op *o;
	int64_t last_ms = (k->res_next_us - k->res_step_us) / 1000;
	long delay = (long)(last_ms - RESERVE_AHEAD_MS - tf_now_ms());

	if (k->res_step_us == 0 || delay <= 0)
		return false;
	if ((o = tf_calloc(1, sizeof(*o))) == NULL)
		return false;
	o->lim = lim;
	o->k = k;
	if (tf_loop_after(lim->loop, delay, on_reserve_due, o,
	    &k->reserve_later) != TF_OK) {
		k->reserve_later = NULL;
		tf_free(o);
		return false;
	}
	return true;
}

/* Reserves start slots for the runs waiting for k, unless a reservation
 * is under way or put off (reserve_later()). */
static void
kick_reserve(struct tf_limiter *lim, struct tf_limiter_key *k,
    const struct tf_limit *l)
{
	struct op *o;
	int64_t most = (int64_t)(l->rate * RESERVE_SECONDS);

	if (k->reserving || k->reserve_later != NULL || lim->stopping ||
	    reserve_later(lim, k))
		return;
	if ((o = tf_calloc(1, sizeof(*o))) == NULL)
		return;
	k->reserving = true;
	o->lim = lim;
	o->k = k;
	o->l = *l;
	o->count = queue_len(k->rq);
	if (most < 1)
		most = 1;
	if (o->count > most)
		o->count = most;
	if (o->count < 1)
		o->count = 1;
	send_reserve(o, false);
}

/* ---- the passage ---- */

static void
on_start_time(void *ctx, enum tf_err rc)
{
	struct tf_limiter_wait *w = ctx;

	w->timer = NULL;
	if (rc == TF_ERR_CANCELLED)
		return;
	wait_end(w, w->start_key->key);
	w->step++;
	advance(w);
}

static void
on_hold_over(void *ctx, enum tf_err rc)
{
	struct tf_limiter_wait *w = ctx;

	w->timer = NULL;
	if (rc == TF_ERR_CANCELLED)
		return;
	wait_end(w, w->hold_key->key);
	advance(w);
}

/* True when a key of w is held (a Retry-After): w waits on a timer until
 * the latest hold, then goes on. */
static bool
held(struct tf_limiter_wait *w)
{
	int64_t until = 0, now = tf_now_ms();
	int i;

	for (i = 0; i < w->n; i++) {
		if (w->keys[i]->hold_until > until) {
			until = w->keys[i]->hold_until;
			w->hold_key = w->keys[i];
		}
	}
	if (until <= now)
		return false;
	wait_begin(w);
	if (tf_loop_after(w->lim->loop, (long)(until - now), on_hold_over, w,
	    &w->timer) != TF_OK) {
		w->timer = NULL;
		wait_end(w, w->hold_key->key);
		return false;
	}
	return true;
}

static void ask_turn(struct tf_limiter_wait *w, int i, cJSON *start);

static void
on_turn_timer(void *ctx, enum tf_err rc)
{
	struct tf_limiter_wait *w = ctx;

	w->timer = NULL;
	if (rc == TF_ERR_CANCELLED)
		return;
	ask_turn(w, w->step, NULL);
}

/* The answer to "is a task of w's flow due before it still to run?" */
static void
on_turn(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct tf_limiter_wait *w = ctx;
	const cJSON *it;
	const char *id;
	tf_limiter_cb *cb;
	int64_t nr;
	bool earlier = false;

	/* Due before w's task: an earlier next_run, or the same and a lower
	 * id (w's own item, PROCESSING, is neither). */
	cJSON_ArrayForEach(it, value) {
		id = tf_ddb_item_s(it, "id");
		if (id != NULL && tf_ddb_item_n(it, "next_run", &nr) &&
		    (nr < w->t->next_run || (nr == w->t->next_run &&
		    strcmp(id, w->t->id) < 0)))
			earlier = true;
	}
	cJSON_Delete(value);
	w->asking = false;
	if (w->cancelled || rc == TF_ERR_CANCELLED) {
		cJSON_Delete(next_key);
		cb = w->cb;
		w->cb = NULL;
		if (w->cancelled && cb != NULL)
			cb(w->ctx, false);
		return;
	}
	if (rc == TF_OK && !earlier && next_key != NULL) {
		ask_turn(w, w->step, next_key);   /* the next page */
		return;
	}
	cJSON_Delete(next_key);
	if (rc == TF_OK && !earlier) {
		w->turn_ok[w->step] = true;
		wait_end(w, w->lims[w->step].key);
		advance(w);
		return;
	}
	if (rc != TF_OK)
		tf_log(TF_LOG_WARN, "asking whether %s's turn came failed (%s); "
		    "asked again", w->lims[w->step].key, tf_strerror(rc));
	/* An earlier task still to run: asked again soon. */
	if (tf_loop_after(w->lim->loop, 300 + (long)tf_random_below(200),
	    on_turn_timer, w, &w->timer) != TF_OK) {
		w->timer = NULL;
		ask_turn(w, w->step, NULL);
	}
}

/* Asks (by_ns, from page start, owned) whether a task of w's ordered flow
 * key i, in its namespace, due before it (next_run, then id) is still
 * PENDING or PROCESSING. */
static void
ask_turn(struct tf_limiter_wait *w, int i, cJSON *start)
{
	struct tf_limiter *lim = w->lim;
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	const struct tf_task *t = w->t;
	enum tf_err rc = TF_ERR_NOMEM;

	e.key_condition = "#ns = :ns AND #nr <= :nr";
	/* Keys cannot be filtered on: on_turn() compares next_run and id. */
	e.filter = "flow_key = :fk AND #st IN (:pe, :pr)";
	e.projection = "id, #nr";
	if (tf_ddb_expr_name(&e, "#ns", "ns") == TF_OK &&
	    tf_ddb_expr_name(&e, "#nr", "next_run") == TF_OK &&
	    tf_ddb_expr_name(&e, "#st", "status") == TF_OK &&
	    tf_ddb_expr_value_s(&e, ":ns", t->ns) == TF_OK &&
	    tf_ddb_expr_value_n(&e, ":nr", t->next_run) == TF_OK &&
	    tf_ddb_expr_value_s(&e, ":fk", t->flow_key) == TF_OK &&
	    tf_ddb_expr_value_s(&e, ":pe",
	    tf_task_status_name(TF_TASK_PENDING)) == TF_OK &&
	    tf_ddb_expr_value_s(&e, ":pr",
	    tf_task_status_name(TF_TASK_PROCESSING)) == TF_OK) {
		q.table = lim->table;
		q.index = "by_ns";
		q.expr = &e;
		lim->requests++;
		rc = tf_ddb_query_page_async(lim->aws, lim->loop, &q, start,
		    on_turn, w);
	}
	cJSON_Delete(start);
	tf_ddb_expr_free(&e);
	w->asking = rc == TF_OK;
	(void)i;
	if (rc != TF_OK)
		on_turn(w, rc, NULL, NULL, NULL);
}

/* Walks w through its steps while it can; when it must wait, it is queued
 * (or on a timer) and a later event calls this again. At the end, cb. */
static void
advance(struct tf_limiter_wait *w)
{
	struct tf_limiter *lim = w->lim;
	struct tf_limiter_key *k;
	const struct tf_limit *l;
	int64_t left;
	int i;

	if (held(w))
		return;
	while (w->step < 2 * w->n) {
		i = w->step < w->n ? w->step : w->step - w->n;
		l = &w->lims[i];
		k = w->keys[i];
		if (w->step < w->n) {
			if (l->ordered && !w->turn_ok[i] && w->t != NULL &&
			    w->t->flow_key != NULL && w->t->id != NULL) {
				wait_begin(w);
				ask_turn(w, i, NULL);
				return;
			}
			if (l->in_flight == 0 || slot_take(k, w, i, l)) {
				w->step++;
				continue;
			}
			wait_begin(w);
			enqueue(&k->fq, &k->fq_tail, w);
			kick_acquire(lim, k, l);
			return;
		}
		if (l->rate == 0 || (k->rq == NULL && rate_take(k, w))) {
			w->step++;
			continue;
		}
		wait_begin(w);
		enqueue(&k->rq, &k->rq_tail, w);
		kick_reserve(lim, k, l);
		return;
	}
	if (w->step == 2 * w->n) {
		left = w->start_at - tf_now_ms();
		if (left > 0) {
			wait_begin(w);
			if (tf_loop_after(lim->loop, (long)left, on_start_time, w,
			    &w->timer) == TF_OK)
				return;
			w->timer = NULL;
		}
		if (w->start_key != NULL)
			wait_end(w, w->start_key->key);
		w->step++;
	}
	if (w->in_acquire) {
		w->passed_at_once = true;   /* tf_limiter_acquire() says so */
		return;
	}
	if (w->cb != NULL) {
		tf_limiter_cb *cb = w->cb;

		w->cb = NULL;
		cb(w->ctx, true);
	}
}

bool
tf_limiter_acquire(struct tf_limiter *lim, const struct tf_limits *ls,
    const struct tf_task *t, struct tf_limiter_wait **wp, tf_limiter_cb *cb,
    void *ctx)
{
	char keys[TF_LIMIT_TASK_KEYS][TF_LIMIT_KEY_SIZE];
	const struct tf_limit *l;
	struct tf_limit none;
	struct tf_limiter_key *k;
	struct tf_limiter_wait found, *w = &found;
	size_t n, i, j;

	/* Gathered on the stack; on the heap only when a limit applies. */
	*wp = NULL;
	memset(w, 0, sizeof(*w));
	for (i = 0; i < TF_LIMIT_TASK_KEYS; i++)
		w->slot[i] = -1;
	if (lim == NULL || lim->stopping)
		return true;
	n = tf_limit_task_keys(t, keys);
	for (i = 0; i < n; i++) {
		k = NULL;
		for (j = 0; ls != NULL && j < ls->n_holds; j++) {
			if (strcmp(ls->holds[j].key, keys[i]) == 0 &&
			    (k = key_state(lim, keys[i])) != NULL &&
			    ls->holds[j].until > k->hold_until)
				k->hold_until = ls->holds[j].until;
		}
		l = tf_limits_find(ls, keys[i]);
		if (l == NULL)
			l = tf_limits_find(&lim->defaults, keys[i]);
		if (l == NULL) {
			/* Not limited, but perhaps held. */
			for (k = lim->keys; k != NULL; k = k->next)
				if (strcmp(k->key, keys[i]) == 0)
					break;
			if (k == NULL || k->hold_until <= tf_now_ms())
				continue;
			memset(&none, 0, sizeof(none));
			l = &none;
		}
		w->lims[w->n] = *l;
		/* flow:* limits each flow key on its own. */
		snprintf(w->lims[w->n].key, sizeof(w->lims[w->n].key), "%.*s",
		    TF_LIMIT_KEY_SIZE - 1, keys[i]);
		if ((w->keys[w->n] = key_state(lim, keys[i])) == NULL)
			continue;   /* out of memory: not limited */
		w->n++;
	}
	if (w->n == 0)
		return true;
	if ((w = tf_malloc(sizeof(*w))) == NULL)
		return true;   /* out of memory: not limited */
	*w = found;
	*wp = w;
	w->lim = lim;
	w->t = t;
	w->cb = cb;
	w->ctx = ctx;
	w->in_acquire = true;
	lim->passed_runs++;
	advance(w);
	w->in_acquire = false;
	if (w->passed_at_once)
		w->cb = NULL;
	return w->passed_at_once;
}

void
tf_limiter_hold(struct tf_limiter *lim, const struct tf_task *t,
    int64_t until)
{
	char keys[TF_LIMIT_TASK_KEYS][TF_LIMIT_KEY_SIZE];
	char name[TF_LIMIT_KEY_SIZE + 8];
	struct tf_ddb_expr e = { 0 };
	struct tf_limiter_key *k = NULL;
	cJSON *key = NULL;
	size_t n, i;

	if (lim == NULL)
		return;
	n = tf_limit_task_keys(t, keys);
	for (i = 0; i < n && strncmp(keys[i], "host:", 5) != 0; i++)
		;
	if (i == n || (k = key_state(lim, keys[i])) == NULL ||
	    until <= k->hold_until)
		return;
	/* Here at once; in the table for the others, who read it with the
	 * limits (at most TF_LIMIT_HOLD_FRESH_MS old for a run of a host). */
	k->hold_until = until;
	tf_log(TF_LOG_INFO, "%s answered with Retry-After: no run of it starts "
	    "for %" PRId64 " ms, fleet-wide", k->key, until - tf_now_ms());
	/* #h names hold:KEY, the attribute of the key's hold. */
	snprintf(name, sizeof(name), "%s%s", TF_LIMIT_HOLD_ATTR, k->key);
	e.update = "SET #h = :t";
	e.condition = "attribute_not_exists(#h) OR #h < :t";
	if ((key = tf_task_key(TF_DUE_CONFIG_ID)) != NULL &&
	    tf_ddb_expr_name(&e, "#h", name) == TF_OK &&
	    tf_ddb_expr_value_n(&e, ":t", until) == TF_OK)
		send_unwaited(lim, k, "writing the hold (only this consumer "
		    "holds it) on", key, &e);
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
}

int64_t
tf_limiter_waited(const struct tf_limiter_wait *w, const char **by)
{
	if (w == NULL) {
		*by = NULL;
		return 0;
	}
	*by = w->waited_ms > 0 ? w->by : NULL;
	return w->waited_ms;
}

void
tf_limiter_release(struct tf_limiter_wait *w)
{
	struct tf_limiter *lim = w != NULL ? w->lim : NULL;
	struct tf_limiter_key *k;
	struct tf_limiter_wait *next;
	int i, j;

	if (lim == NULL)
		return;
	for (i = 0; i < w->n; i++) {
		if (w->slot[i] < 0)
			continue;
		k = w->keys[i];
		for (j = 0; j < k->held_n && k->held[j].idx != w->slot[i]; j++)
			;
		if (j < k->held_n) {
			k->held[j].busy = false;
			/* Straight to this consumer's next run waiting for it. */
			next = k->fq;
			if (next != NULL && !lim->stopping &&
			    k->held[j].idx < waiter_limit(next, k)->in_flight) {
				dequeue(&k->fq, &k->fq_tail);
				slot_take(k, next, (int)(waiter_limit(next, k) -
				    next->lims), waiter_limit(next, k));
				passed(next, k->key);
			} else {
				give_back(lim, k, w->slot[i]);
			}
		}
		w->slot[i] = -1;
	}
	w->lim = NULL;
}

void
tf_limiter_wait_free(struct tf_limiter_wait *w)
{
	tf_limiter_release(w);
	tf_free(w);
}

void
tf_limiter_stop(struct tf_limiter *lim)
{
	struct tf_limiter_wait *w;
	struct tf_limiter_key *k;
	tf_limiter_cb *cb;
	int i;

	if (lim == NULL)
		return;
	lim->stopping = true;
	while ((w = lim->waiting) != NULL) {
		for (i = 0; i < w->n; i++) {
			k = w->keys[i];
			unqueue(&k->fq, &k->fq_tail, w);
			unqueue(&k->rq, &k->rq_tail, w);
		}
		if (w->timer != NULL) {
			tf_loop_timer_cancel(w->timer);
			w->timer = NULL;
		}
		wait_end(w, w->lims[0].key);
		if (w->asking) {
			/* Its query's answer ends it (cb with false). */
			w->cancelled = true;
			continue;
		}
		cb = w->cb;
		w->cb = NULL;
		if (cb != NULL)
			cb(w->ctx, false);
	}
}

void
tf_limiter_free(struct tf_limiter *lim)
{
	struct tf_limiter_key *k, *next;

	if (lim == NULL)
		return;
	if (lim->passed_runs > 0)
		tf_log(TF_LOG_INFO, "limits: %ld runs passed their keys' limits "
		    "with %ld requests (%.3f a run)", lim->passed_runs, lim->requests,
		    (double)lim->requests / (double)lim->passed_runs);
	for (k = lim->keys; k != NULL; k = next) {
		next = k->next;
		tf_free(k->held);
		tf_free(k);
	}
	tf_free(lim->defaults.v);
	tf_free(lim);
}
