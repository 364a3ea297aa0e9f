/* sweeper.c - enqueueing tasks as they come due, and recovering lost ones. */
#include "sweeper.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aws/ddb.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "sweep_lease.h"
#include "task/due.h"
#include "task/task.h"

#define PAGE_LIMIT 100
/* The first page of a shard is smaller: when the window is empty, the
 * items it returns from beyond the window (sweep_shard()) are read for
 * nothing. */
#define FIRST_PAGE_LIMIT 20

/* Queue waits are remembered in windows of this length; the longest wait of
 * the current and the previous window counts. */
#define WAIT_WINDOW_MS 60000

/* While sweeps keep failing, their error is logged again at most this often
 * (not once per shard per sweep). */
#define FAILURE_LOG_EVERY_MS (5 * 60000)

/* How often the table's shard count is read again (a raised count reaches
 * every consumer within this). */
#define CONFIG_REFRESH_MS (5 * 60000)

struct tf_sweeper {
	struct tf_sweeper_opts o;
	struct tf_sweeper_stats stats;
	pthread_t thread;
	pthread_mutex_t lock;         /* guards the fields below */
	pthread_cond_t wake;
	int stopping;
	int64_t wait_window_start;    /* monotonic ms */
	int64_t wait_max_cur, wait_max_prev;
	char failure[400];            /* why the last sweep's queries failed,
	                                 when the error is not transient; "" */
	/* The sweeper thread's own (tf_sweeper_start() sets them first): */
	int shards;                   /* the table's due shards */
	int64_t config_read_at;       /* monotonic ms; 0: read it again */
	int groups;                   /* lease groups (sweep_lease.h) */
	bool held[TF_SWEEP_LEASES];   /* the groups whose lease we hold */
	bool leaseless;               /* the leases could not be read: sweep
	                                 every shard until they can */
	int64_t token;                /* ours, in the lease items */
	int64_t lease_ms;
};

/* Where the error lines about failing queries stand; kept by the sweeper
 * thread, for itself only. */
struct failure_log {
	int64_t logged_at;            /* monotonic ms of the last error line; 0 */
	long sweeps_failed;           /* failed sweeps since that line */
	bool failing;
};

void
tf_sweeper_note_queue_wait(struct tf_sweeper *sw, int64_t wait_ms)
{
	int64_t now = tf_mono_ms();

	if (sw == NULL)
		return;
	pthread_mutex_lock(&sw->lock);
	if (now - sw->wait_window_start >= WAIT_WINDOW_MS) {
		/* A whole window with no report forgets both. */
		sw->wait_max_prev = now - sw->wait_window_start < 2 * WAIT_WINDOW_MS ?
		    sw->wait_max_cur : 0;
		sw->wait_max_cur = 0;
		sw->wait_window_start = now;
	}
	if (wait_ms > sw->wait_max_cur)
		sw->wait_max_cur = wait_ms;
	pthread_mutex_unlock(&sw->lock);
}

int64_t
tf_sweeper_message_grace_ms(struct tf_sweeper *sw)
{
	int64_t now = tf_mono_ms(), wait = 0;

	pthread_mutex_lock(&sw->lock);
	if (now - sw->wait_window_start < 2 * WAIT_WINDOW_MS)
		wait = sw->wait_max_cur > sw->wait_max_prev ? sw->wait_max_cur :
		    sw->wait_max_prev;
	pthread_mutex_unlock(&sw->lock);
	return sw->o.grace_ms + 2 * wait;
}

/* Sends the message for a task whose enqueue this sweeper claimed. */
static void
send_claimed(struct tf_sweeper *sw, enum tf_priority p, const char *id,
    int64_t due, int64_t gen)
{
	enum tf_err rc = tf_task_send_message(sw->o.aws, sw->o.queue_url, p, id,
	    due, gen, tf_now_ms());

	if (rc == TF_OK) {
		atomic_fetch_add(&sw->stats.enqueued, 1);
	} else {
		/* Say no message is out, so the next sweep tries again; if that
		 * write fails too, enqueued_for stays and a sweep after the grace
		 * period retries. */
		struct tf_log_field f[] = { { "task", id } };
		bool released = tf_task_release_message(sw->o.aws, sw->o.table, id,
		    gen) == TF_OK;

		tf_log_fields(TF_LOG_WARN, f, 1, "sweeper: sending the message "
		    "failed (%s); will retry %s", tf_strerror(rc), released ?
		    "at the next sweep" : "after the grace period");
	}
}

/* A PENDING task in the due window: send its message unless one is out.
 * grace: how late a message may be before it is taken as lost. */
static void
sweep_pending(struct tf_sweeper *sw, const cJSON *item, int64_t now,
    int64_t grace)
{
	const char *id = tf_ddb_item_s(item, "id");
	int64_t gen = 0, next_run = 0, enqueued_for = 0;
	enum tf_priority prio;
	enum tf_err rc;

	tf_ddb_item_n(item, "gen", &gen);
	if (!tf_ddb_item_n(item, "next_run", &next_run))
		return;
	if (tf_ddb_item_n(item, "enqueued_for", &enqueued_for) &&
	    enqueued_for >= now - grace)
		return;  /* its message is out and not yet overdue */
	rc = tf_task_sweep_enqueue(sw->o.aws, sw->o.table, id, gen, next_run,
	    now - grace, now, &prio);
	if (rc == TF_ERR_CONDITION)
		return;  /* another consumer won, or the task moved on */
	if (rc != TF_OK) {
		tf_log(TF_LOG_WARN, "sweeper: claiming the enqueue of %s failed: %s",
		    id, tf_strerror(rc));
		return;
	}
	if (enqueued_for > 0) {
		struct tf_log_field f[] = { { "task", id } };

		tf_log_fields(TF_LOG_WARN, f, 1, "sweeper: message for the run due "
		    "%lld ms ago was lost; sent again", (long long)(now - next_run));
	}
	send_claimed(sw, prio, id, next_run, gen + 1);
}

/* Takes back the run of PROCESSING task t, whose consumer is gone, as a
 * retry now with error text `error` (borrowed), charged an attempt unless
 * `uncharged`; what: how the run ended, for the log. */
static void
recover_run(struct tf_sweeper *sw, const struct tf_task *t, const char *error,
    bool uncharged, int64_t lease_expired_before, int64_t now,
    const char *what)
{
	struct tf_task_outcome o = { 0 };
	struct tf_log_field f[] = { { "task", t->id } };
	enum tf_task_status state;
	int64_t next_gen, enqueue_at;
	char err[256];
	enum tf_err rc;

	o.kind = TF_OUTCOME_RETRY;
	o.error = error;
	o.uncharged = uncharged;
	o.retry_at = now;
	o.horizon_ms = sw->o.horizon_ms;
	/* A run that does not count is no run of the history either. */
	o.history_kept = uncharged ? 0 : sw->o.history_kept;
	o.retention_ms = sw->o.retention_ms;
	o.duration_ms = -1;               /* the run's length is unknown */
	o.lease_expired_before = lease_expired_before;
	rc = tf_task_finish(sw->o.aws, sw->o.table, t, &o, now, &state, &next_gen,
	    &enqueue_at, err, sizeof(err));
	if (rc == TF_OK) {
		atomic_fetch_add(&sw->stats.recovered, 1);
		tf_log_fields(TF_LOG_WARN, f, 1, "sweeper: recovered a run %s (%s)%s; "
		    "task is %s", what, t->lease_owner ? t->lease_owner : "?",
		    uncharged ? ", not counted as an attempt" : "",
		    tf_task_status_name(state));
		if (enqueue_at > 0)
			send_claimed(sw, t->priority, t->id, enqueue_at, next_gen);
	} else if (rc != TF_ERR_CONDITION) {
		tf_log(TF_LOG_WARN, "sweeper: recovering %s failed: %s", t->id,
		    tf_strerror(rc));
	}
}

/* A PROCESSING task whose lease has run out: its consumer is gone. The run
 * counts as a failed attempt and the task is retried now. */
static void
sweep_expired(struct tf_sweeper *sw, const char *id, int64_t now)
{
	struct tf_task t;
	char err[256], text[300];
	enum tf_err rc;

	rc = tf_task_get(sw->o.aws, sw->o.table, id, &t, err, sizeof(err));
	if (rc != TF_OK || t.status != TF_TASK_PROCESSING ||
	    t.lease_until >= now - sw->o.lease_grace_ms) {
		tf_task_free(&t);
		return;
	}
	snprintf(text, sizeof(text), "lease expired: consumer %s stopped without "
	    "finishing the run", t.lease_owner ? t.lease_owner : "?");
	recover_run(sw, &t, text, false, now - sw->o.lease_grace_ms, now,
	    "whose lease expired");
	tf_task_free(&t);
}

void
tf_sweeper_recover_crashed(struct tf_sweeper *sw, const char *id, int64_t gen,
    const char *owner, bool charged, const char *why)
{
	struct tf_task t;
	struct tf_log_field f[] = { { "task", id } };
	char err[256];

	/* Only that very run, still leased to the dead consumer: its claim
	 * may never have been applied, and another consumer may have
	 * recovered it already. */
	if (tf_task_get(sw->o.aws, sw->o.table, id, &t, err, sizeof(err)) ==
	    TF_OK && t.status == TF_TASK_PROCESSING && t.gen == gen &&
	    t.lease_owner != NULL && strcmp(t.lease_owner, owner) == 0)
		recover_run(sw, &t, why, !charged, 0, tf_now_ms(), charged ?
		    "that crashed its consumer" : "that another run's crash ended");
	else
		tf_log_fields(TF_LOG_DEBUG, f, 1, "sweeper: the crash journal's run "
		    "(generation %lld of %s) is not in flight: nothing to recover",
		    (long long)gen, owner);
	tf_task_free(&t);
}

/* Sweeps one shard of the due index: the items with due_at <= now +
 * horizon (due.h: those whose message must be sent or may be lost, or whose
 * lease may have ended), in due_at order. The query reaches `ahead` ms
 * further, and stops at the first item there: such an item keeps the
 * sweeper from backing off, since it needs a look within that time, without
 * reading the items behind it. Returns how many items it saw (the one
 * ahead included), or -1 when a query failed: *rc_out and err (errlen bytes)
 * then say why. */
static long
sweep_shard(struct tf_sweeper *sw, int shard, int64_t ahead,
    enum tf_err *rc_out, char *err, size_t errlen)
{
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	cJSON *start = NULL, *items = NULL;
	const cJSON *it;
	char shard_text[TF_DUE_SHARD_SIZE];
	int64_t now = tf_now_ms(), lease_until, due_at;
	int64_t grace = tf_sweeper_message_grace_ms(sw);
	const char *status, *id;
	int pages = 0;
	long seen = 0;
	bool complete = false, ahead_seen = false;
	enum tf_err rc;

	*rc_out = TF_ERR_NOMEM;
	snprintf(err, errlen, "%s", tf_strerror(TF_ERR_NOMEM));
	tf_due_shard_name(shard, shard_text);
	e.key_condition = "due_shard = :s AND due_at <= :until";
	if (tf_ddb_expr_value_s(&e, ":s", shard_text) != TF_OK ||
	    tf_ddb_expr_value_n(&e, ":until", now + sw->o.horizon_ms +
	    ahead) != TF_OK)
		goto out;
	q.table = sw->o.table;
	q.index = "by_due";
	q.expr = &e;
	q.limit = FIRST_PAGE_LIMIT;
	do {
		rc = tf_ddb_query_page(sw->o.aws, &q, &start, &items);
		if (rc != TF_OK) {
			const struct tf_aws_error *ae = tf_aws_last_error();

			*rc_out = rc;
			if (ae->code == rc && (ae->type[0] || ae->message[0]))
				snprintf(err, errlen, "%s (%.100s%s%.240s)",
				    tf_strerror(rc), ae->type, ae->type[0] &&
				    ae->message[0] ? ": " : "", ae->message);
			else
				snprintf(err, errlen, "%s", tf_strerror(rc));
			goto out;
		}
		atomic_fetch_add(&sw->stats.queries, 1);
		atomic_fetch_add(&sw->stats.items_read, cJSON_GetArraySize(items));
		cJSON_ArrayForEach(it, items) {
			seen++;
			if (tf_ddb_item_n(it, "due_at", &due_at) &&
			    due_at > now + sw->o.horizon_ms) {
				ahead_seen = true;
				break;
			}
			atomic_fetch_add(&sw->stats.items, 1);
			status = tf_ddb_item_s(it, "status");
			id = tf_ddb_item_s(it, "id");
			if (status == NULL || id == NULL)
				continue;
			if (strcmp(status, "PENDING") == 0)
				sweep_pending(sw, it, now, grace);
			else if (strcmp(status, "PROCESSING") == 0 &&
			    tf_ddb_item_n(it, "lease_until", &lease_until) &&
			    lease_until < now - sw->o.lease_grace_ms)
				sweep_expired(sw, id, now);
		}
		cJSON_Delete(items);
		items = NULL;
		pages++;
		q.limit = PAGE_LIMIT;
	} while (start != NULL && pages < 1000 && !ahead_seen);
	complete = true;
out:
	cJSON_Delete(start);
	cJSON_Delete(items);
	tf_ddb_expr_free(&e);
	return complete ? seen : -1;
}

/* Logs the failures of one sweep: one error line when they start, then at
 * most one every FAILURE_LOG_EVERY_MS while they go on, and one line when
 * they end. failed: how many shards' queries failed (0: the sweep worked). */
static void
log_failure(struct tf_sweeper *sw, struct failure_log *fl, int failed,
    int swept, enum tf_err rc, const char *err)
{
	int64_t now = tf_mono_ms();
	char again[64] = "";

	if (failed == 0) {
		if (fl->failing)
			tf_log(TF_LOG_INFO, "sweeper: querying the index by_due of "
			    "table %s works again; due and lost tasks are sent "
			    "again", sw->o.table);
		fl->failing = false;
		fl->logged_at = 0;
		fl->sweeps_failed = 0;
		return;
	}
	fl->failing = true;
	fl->sweeps_failed++;
	if (fl->logged_at != 0 && now - fl->logged_at < FAILURE_LOG_EVERY_MS)
		return;
	if (fl->logged_at != 0)
		snprintf(again, sizeof(again), "; still, after %ld more failed "
		    "sweep(s)", fl->sweeps_failed);
	tf_log(TF_LOG_ERROR, "sweeper: querying the index by_due of table %s "
	    "failed (%d of %d shards%s): %s. Until it works, tasks are not "
	    "enqueued when they come due, lost messages are not sent again and "
	    "runs of crashed consumers are not recovered%s", sw->o.table, failed,
	    swept, again, err, rc == TF_ERR_VALIDATION ||
	    rc == TF_ERR_NOT_FOUND ?
	    "; a table without the index is fixed by `taskfleet init`" : "");
	fl->logged_at = now;
	fl->sweeps_failed = 0;
}

/* One sweep of the shards whose lease this sweeper holds (of every shard
 * when `all`), logging its failures through fl; ahead: how far past the
 * window to look for items that will need a look (sweep_shard()). */
static long
sweep_all(struct tf_sweeper *sw, struct failure_log *fl, int64_t ahead,
    bool all)
{
	int first = (int)tf_random_below(sw->shards), i, shard, failed = 0;
	int swept = 0;
	long seen = 0, n;
	enum tf_err rc = TF_OK, shard_rc = TF_OK;
	char err[sizeof(sw->failure)] = "", shard_err[sizeof(sw->failure)];

	/* Sweepers start at different shards, so they rarely race. */
	for (i = 0; i < sw->shards; i++) {
		shard = (first + i) % sw->shards;
		if (!all && !sw->held[shard % sw->groups])
			continue;
		swept++;
		n = sweep_shard(sw, shard, ahead, &shard_rc, shard_err,
		    sizeof(shard_err));
		if (n >= 0) {
			seen += n;
			continue;
		}
		seen++;  /* a failed query: do not back off */
		if (failed++ == 0 || (!tf_err_is_transient(shard_rc) &&
		    tf_err_is_transient(rc))) {
			rc = shard_rc;
			snprintf(err, sizeof(err), "%s", shard_err);
		}
	}
	log_failure(sw, fl, failed, swept, rc, err);
	/* Readiness tells of failures a retry will not cure (a missing index,
	 * no permission), not of a throttled query. */
	pthread_mutex_lock(&sw->lock);
	snprintf(sw->failure, sizeof(sw->failure), "%s",
	    failed > 0 && !tf_err_is_transient(rc) ? err : "");
	pthread_mutex_unlock(&sw->lock);
	atomic_fetch_add(&sw->stats.sweeps, 1);
	return seen;
}

long
tf_sweeper_sweep(struct tf_sweeper *sw)
{
	struct failure_log fl = { 0 };

	return sweep_all(sw, &fl, 0, true);
}

bool
tf_sweeper_failing(struct tf_sweeper *sw, char *why, size_t n)
{
	bool failing;

	pthread_mutex_lock(&sw->lock);
	failing = sw->failure[0] != '\0';
	if (failing)
		snprintf(why, n, "sweeper: querying the index by_due of table %s "
		    "fails: %s\n", sw->o.table, sw->failure);
	pthread_mutex_unlock(&sw->lock);
	return failing;
}

/* Reads the table's shard count (on failure keeps the one it has, 16 at
 * first, and tries again at the next lease round), and makes it the
 * process's (due.h). */
static void
read_config(struct tf_sweeper *sw)
{
	struct tf_due_timing timing;
	int shards = 0;
	enum tf_err rc;

	rc = tf_due_read_shards(sw->o.aws, sw->o.table, &shards);
	if (rc != TF_OK) {
		tf_log(TF_LOG_WARN, "sweeper: reading the shard count of table %s "
		    "failed (%s); sweeping %d shards until it works", sw->o.table,
		    tf_strerror(rc), sw->shards);
		sw->config_read_at = 0;
		return;
	}
	sw->config_read_at = tf_mono_ms();
	if (shards == sw->shards)
		return;
	if (sw->shards != 0)
		tf_log(TF_LOG_INFO, "sweeper: table %s now has %d due shards (was "
		    "%d)", sw->o.table, shards, sw->shards);
	sw->shards = shards;
	if (tf_sweep_lease_groups(shards) != sw->groups) {
		sw->groups = tf_sweep_lease_groups(shards);
		memset(sw->held, 0, sizeof(sw->held));
	}
	tf_due_get(&timing);
	timing.shards = shards;
	tf_due_set(&timing);
}

/* Reads the sweep leases and renews, takes, hands over or asks for them
 * (sweep_lease.h). Returns true when it took a lease it did not hold, or
 * could not read them (it then sweeps every shard). */
static bool
lease_round(struct tf_sweeper *sw)
{
	struct tf_sweep_lease l[TF_SWEEP_LEASES];
	enum tf_sweep_lease_action act[TF_SWEEP_LEASES];
	int64_t now;
	bool took = false, had;
	int g;
	enum tf_err rc;

	if (sw->config_read_at == 0 ||
	    tf_mono_ms() - sw->config_read_at >= CONFIG_REFRESH_MS)
		read_config(sw);
	rc = tf_sweep_lease_read(sw->o.aws, sw->o.table, l, sw->groups);
	if (rc != TF_OK) {
		/* Sweep every shard until the leases can be read again: two
		 * sweepers on a shard are safe, none is not. A table without
		 * the by_due index lands here too, and its sweep then says so
		 * (readiness, the error line). */
		if (!sw->leaseless)
			tf_log(TF_LOG_WARN, "sweeper: reading the sweep leases failed "
			    "(%s); sweeping every shard until it works",
			    tf_strerror(rc));
		sw->leaseless = true;
		return true;
	}
	if (sw->leaseless)
		tf_log(TF_LOG_INFO, "sweeper: the sweep leases can be read again");
	sw->leaseless = false;
	now = tf_now_ms();
	tf_sweep_lease_plan(l, sw->groups, sw->token, now, sw->lease_ms, act);
	for (g = 0; g < sw->groups; g++) {
		had = sw->held[g];
		rc = tf_sweep_lease_apply(sw->o.aws, sw->o.table, g, &l[g], act[g],
		    sw->token, sw->o.owner, now, sw->lease_ms);
		if (act[g] == TF_LEASE_RENEW || act[g] == TF_LEASE_TAKE)
			sw->held[g] = rc == TF_OK;
		else if (act[g] != TF_LEASE_ASK || rc == TF_OK)
			sw->held[g] = false;
		if (rc != TF_OK && rc != TF_ERR_CONDITION)
			tf_log(TF_LOG_WARN, "sweeper: writing the sweep lease of shard "
			    "group %d failed: %s", g, tf_strerror(rc));
		if (sw->held[g] && !had) {
			took = true;
			tf_log(TF_LOG_INFO, "sweeper: took the sweep lease of shard "
			    "group %d of %d%s", g, sw->groups, act[g] == TF_LEASE_TAKE &&
			    l[g].exists && l[g].holder != 0 && l[g].until > 0 ?
			    " (its holder stopped renewing it)" : "");
		} else if (had && !sw->held[g]) {
			tf_log(TF_LOG_INFO, "sweeper: %s the sweep lease of shard "
			    "group %d of %d", act[g] == TF_LEASE_HAND_OVER ?
			    "handed over" : "lost", g, sw->groups);
		}
	}
	return took;
}

/* True when the sweeper holds the lease of at least one shard group. */
static bool
holds_any(const struct tf_sweeper *sw)
{
	int g;

	for (g = 0; g < sw->groups; g++)
		if (sw->held[g])
			return true;
	return false;
}

static void *
sweeper_main(void *arg)
{
	struct tf_sweeper *sw = arg;
	struct failure_log fl = { 0 };
	struct timespec ts;
	int64_t wait_ms, interval = sw->o.interval_ms, idle_max, now;
	int64_t next_sweep = 0, next_round = 0;

	/* A task entering the window while the sweeper idles is still sent
	 * at least half a horizon before it is due. */
	idle_max = sw->o.horizon_ms / 2 < TF_SWEEPER_IDLE_MAX_MS ?
	    sw->o.horizon_ms / 2 : TF_SWEEPER_IDLE_MAX_MS;
	if (idle_max < sw->o.interval_ms)
		idle_max = sw->o.interval_ms;

	pthread_mutex_lock(&sw->lock);
	while (!sw->stopping) {
		pthread_mutex_unlock(&sw->lock);
		now = tf_mono_ms();
		/* Twice a lease time the leases are renewed and the ones of
		 * stopped consumers taken; a new one is swept at once. Jitter
		 * keeps a fleet's rounds from lining up. */
		if (now >= next_round) {
			if (lease_round(sw))
				next_sweep = now;
			next_round = now + sw->lease_ms * 9 / 20 +
			    tf_random_below(sw->lease_ms / 10 + 1);
		}
		if (now >= next_sweep) {
			/* An empty due window means nothing can be lost or late:
			 * every task in it would show. Sweep less often until one
			 * appears; the query looks two idle intervals (with their
			 * jitter) past the window, so that a message that may be
			 * lost, or a lease that may end, before the next sweep
			 * keeps the interval short. */
			if ((!holds_any(sw) && !sw->leaseless) ||
			    sweep_all(sw, &fl, 2 * idle_max, sw->leaseless) == 0)
				interval = interval * 2 > idle_max ? idle_max :
				    interval * 2;
			else
				interval = sw->o.interval_ms;
			next_sweep = now + interval * 9 / 10 +
			    tf_random_below(interval / 5 + 1);
		}
		pthread_mutex_lock(&sw->lock);
		wait_ms = (next_sweep < next_round ? next_sweep : next_round) -
		    tf_mono_ms();
		if (wait_ms < 1)
			wait_ms = 1;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (wait_ms % 1000) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if (!sw->stopping)
			pthread_cond_timedwait(&sw->wake, &sw->lock, &ts);
	}
	pthread_mutex_unlock(&sw->lock);
	return NULL;
}

enum tf_err
tf_sweeper_start(const struct tf_sweeper_opts *o, struct tf_sweeper **out)
{
	struct tf_sweeper *sw = tf_calloc(1, sizeof(*sw));
	struct tf_due_timing timing;

	*out = NULL;
	if (sw == NULL)
		return TF_ERR_NOMEM;
	sw->o = *o;
	sw->wait_window_start = tf_mono_ms();
	sw->lease_ms = o->lease_ms > 0 ? o->lease_ms : TF_SWEEPER_LEASE_DEFAULT_MS;
	sw->token = 1 + tf_random_below((1LL << 52) - 1);
	if (sw->o.owner == NULL)
		sw->o.owner = "?";
	/* This process's writes set due_at with the sweeper's settings, and
	 * due_shard with the table's count (16 until it is read). */
	tf_due_get(&timing);
	timing.horizon_ms = o->horizon_ms;
	timing.grace_ms = o->grace_ms;
	timing.shards = 0;  /* read_config() sets the table's */
	tf_due_set(&timing);
	sw->shards = TF_DUE_SHARDS_DEFAULT;
	sw->groups = tf_sweep_lease_groups(sw->shards);
	read_config(sw);
	pthread_mutex_init(&sw->lock, NULL);
	pthread_cond_init(&sw->wake, NULL);
	if (!o->manual && pthread_create(&sw->thread, NULL, sweeper_main,
	    sw) != 0) {
		pthread_mutex_destroy(&sw->lock);
		pthread_cond_destroy(&sw->wake);
		tf_free(sw);
		return TF_ERR_NOMEM;
	}
	*out = sw;
	return TF_OK;
}

void
tf_sweeper_stop(struct tf_sweeper *sw)
{
	int g;

	if (sw == NULL)
		return;
	pthread_mutex_lock(&sw->lock);
	sw->stopping = 1;
	pthread_cond_signal(&sw->wake);
	pthread_mutex_unlock(&sw->lock);
	if (!sw->o.manual)
		pthread_join(sw->thread, NULL);
	/* Handed back, so another consumer sweeps these shards at its next
	 * round instead of a lease time from now. */
	for (g = 0; g < sw->groups; g++)
		if (sw->held[g])
			(void)tf_sweep_lease_release(sw->o.aws, sw->o.table, g,
			    sw->token);
	tf_log(TF_LOG_INFO, "sweeper: %ld sweep(s), %ld query page(s) read %ld "
	    "item(s) of the due index, %ld of them due for a look",
	    atomic_load(&sw->stats.sweeps), atomic_load(&sw->stats.queries),
	    atomic_load(&sw->stats.items_read), atomic_load(&sw->stats.items));
	pthread_mutex_destroy(&sw->lock);
	pthread_cond_destroy(&sw->wake);
	tf_free(sw);
}

struct tf_sweeper_stats *
tf_sweeper_stats(struct tf_sweeper *sw)
{
	return &sw->stats;
}
