/* ns_gate.c - the table's config item as a consumer sees it: the paused
 * namespaces, the limits per key and the due shard count (ns_gate.h). */
#include "ns_gate.h"

#include <stdint.h>
#include <string.h>

#include "aws/ddb_async.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "task/due.h"
#include "task/limits.h"
#include "task/ns_pause.h"
#include "task/task.h"

/* A check, or a want of the shard count, waiting for the item to be read. */
struct waiter {
	const char *ns;            /* borrowed */
	tf_ns_gate_cb *cb;         /* a check's; NULL for a want of shards */
	tf_ns_gate_shards_cb *shards_cb;
	void *ctx;
	struct waiter *next;
};

struct tf_ns_gate {
	struct tf_aws *aws;        /* borrowed */
	struct tf_loop *loop;      /* borrowed */
	const char *table;         /* borrowed */
	struct tf_ns_paused paused;
	struct tf_limits limits;   /* the limits on the same item (limits.h) */
	int64_t read_mono;         /* when the copy's read began; 0: none yet */
	int shards;                /* the item's shard count; 0: none yet */
	int64_t shards_mono;       /* when its read began; 0: none yet */
	enum tf_err shards_rc;     /* how the last read of it went */
	int64_t asking_mono;       /* when the read in flight began */
	bool reading;
	struct waiter *waiting;    /* owned, newest first */
};

struct tf_ns_gate *
tf_ns_gate_new(struct tf_aws *aws, struct tf_loop *loop, const char *table)
{
	struct tf_ns_gate *g = tf_calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	g->aws = aws;
	g->loop = loop;
	g->table = table;
	return g;
}

/* Decides every waiting check on the copy in force. */
static void
decide_waiting(struct tf_ns_gate *g)
{
	struct waiter *w = g->waiting, *next;

	/* Detached first: a callback may check again. */
	g->waiting = NULL;
	for (; w != NULL; w = next) {
		next = w->next;
		if (w->cb != NULL)
			w->cb(w->ctx, tf_ns_paused_has(&g->paused, w->ns));
		else
			w->shards_cb(w->ctx, g->shards_rc, g->shards);
		tf_free(w);
	}
}

static void
on_read(void *ctx, enum tf_err rc, cJSON *value, cJSON *next_key,
    const struct tf_aws_error *err)
{
	struct tf_ns_gate *g = ctx;
	struct tf_ns_paused fresh;
	int shards;
	struct tf_limits limits;

	cJSON_Delete(next_key);
	g->reading = false;
	if (rc == TF_ERR_NOT_FOUND) {
		rc = TF_OK;         /* no config item: nothing is paused */
		cJSON_Delete(value);
		value = NULL;
	}
	/* One read for all: the shard count ... */
	g->shards_rc = rc == TF_OK ? tf_due_shards_from_item(value, &shards) : rc;
	if (g->shards_rc == TF_OK) {
		g->shards = shards;
		g->shards_mono = g->asking_mono;
	}
	/* ... the paused namespaces and the limits. */
	if (rc == TF_OK)
		rc = tf_ns_paused_from_item(value, &fresh);
	if (rc == TF_OK && (rc = tf_limits_from_item(value, tf_now_ms(),
	    &limits)) != TF_OK)
		tf_ns_paused_free(&fresh);
	cJSON_Delete(value);
	if (rc == TF_OK) {
		tf_ns_paused_free(&g->paused);
		g->paused = fresh;
		tf_limits_free(&g->limits);
		g->limits = limits;
		g->read_mono = g->asking_mono;
	} else if (rc != TF_ERR_CANCELLED) {
		tf_log(TF_LOG_WARN, "reading the paused namespaces failed (%s): "
		    "the last copy stays in force", tf_strerror(rc));
	}
	decide_waiting(g);
}

static void
start_read(struct tf_ns_gate *g)
{
	cJSON *key;
	enum tf_err rc = TF_ERR_NOMEM;

	if (g->reading)
		return;
	g->reading = true;
	g->asking_mono = tf_mono_ms();
	key = tf_task_key(TF_DUE_CONFIG_ID);
	if (key != NULL)
		rc = tf_ddb_get_item_async(g->aws, g->loop, g->table, key, true,
		    NULL, on_read, g);
	cJSON_Delete(key);
	if (rc != TF_OK)
		on_read(g, rc, NULL, NULL, NULL);
}

void
tf_ns_gate_check(struct tf_ns_gate *g, const char *ns, tf_ns_gate_cb *cb,
    void *ctx)
{
	tf_ns_gate_check_within(g, ns, TF_NS_PAUSE_FRESH_MS, cb, ctx);
}

void
tf_ns_gate_check_within(struct tf_ns_gate *g, const char *ns,
    int64_t fresh_ms, tf_ns_gate_cb *cb, void *ctx)
{
	int64_t age = tf_mono_ms() - g->read_mono;
	struct waiter *w;

	if (g->read_mono > 0 && age <= fresh_ms) {
		if (age > fresh_ms / 2)
			start_read(g);  /* for the runs to come */
		cb(ctx, tf_ns_paused_has(&g->paused, ns));
		return;
	}
	w = tf_calloc(1, sizeof(*w));
	if (w == NULL) {
		/* Decided on the copy in force rather than not at all. */
		cb(ctx, tf_ns_paused_has(&g->paused, ns));
		return;
	}
	w->ns = ns;
	w->cb = cb;
	w->ctx = ctx;
	w->next = g->waiting;
	g->waiting = w;
	start_read(g);
}

void
tf_ns_gate_shards(struct tf_ns_gate *g, int64_t max_age_ms,
    tf_ns_gate_shards_cb *cb, void *ctx)
{
	struct waiter *w;

	if (g->shards_mono > 0 && tf_mono_ms() - g->shards_mono <= max_age_ms) {
		cb(ctx, TF_OK, g->shards);
		return;
	}
	w = tf_calloc(1, sizeof(*w));
	if (w == NULL) {
		cb(ctx, TF_ERR_NOMEM, g->shards);
		return;
	}
	w->shards_cb = cb;
	w->ctx = ctx;
	w->next = g->waiting;
	g->waiting = w;
	start_read(g);
}

void
tf_ns_gate_free(struct tf_ns_gate *g)
{
	struct waiter *w, *next;

	if (g == NULL)
		return;
	for (w = g->waiting; w != NULL; w = next) {
		next = w->next;
		tf_free(w);
	}
	tf_ns_paused_free(&g->paused);
	tf_limits_free(&g->limits);
	tf_free(g);
}

const struct tf_limits *
tf_ns_gate_limits(const struct tf_ns_gate *g)
{
	return &g->limits;
}
