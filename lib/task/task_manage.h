/*
 * task_manage.h - what an operator does to tasks (docs/design.md section
 * 9): suspend, resume and run-now as conditional writes on a task's status and
 * generation; clearing a namespace; and the read-only views behind `due` and
 * `stats`. The CLI uses it now, the admin API can later.
 *
 * A change reads the task (strongly consistent), decides from what it found
 * (tf_manage_decide), and writes conditional on the status and gen it read.
 * When another writer got in between (a consumer claiming or finishing the
 * task), the condition fails and the change starts again from a fresh read,
 * a few times at most. So an operator's change never overwrites a state it
 * did not see.
 *
 *   suspend  PENDING -> SUSPENDED, gen + 1, out of the due index (no
 *            due_shard, due_at, enqueued_for): the sweeper no longer sees it,
 *            and its message, if one is out, is stale by its gen.
 *            PROCESSING -> suspend_requested = true, gen and lease untouched:
 *            the running consumer's outcome write turns the task SUSPENDED
 *            (keeping the run's result) instead of PENDING.
 *            SUSPENDED, or a suspend already requested: nothing to do.
 *   resume   SUSPENDED -> PENDING, gen + 1, next_run = max(next_run, now),
 *            back in the due index; within the enqueue horizon the same write
 *            sets enqueued_for and the caller sends the message.
 *            PROCESSING with suspend_requested -> the request is withdrawn.
 *   run-now  PENDING -> next_run = due_at = enqueued_for = now, gen + 1; the
 *            caller sends the message for the new gen.
 *   retry    FAILED -> PENDING, gen + 1, attempts 0, due now (or at a later
 *            time: tf_manage_retry), back in the due index, no ttl or
 *            finished_at; errors, last_error, result and history are kept,
 *            and history gets a "retried" entry. Within the enqueue horizon
 *            the caller sends the message for the new gen. A message of the
 *            old gens (a dead letter redriven later) is stale by then.
 * Everything else is refused (tf_manage_refusal says why, in one line).
 *
 * A task of the original scheduler (no status, no gen) is PENDING with gen 0;
 * a change writes the attributes it lacks, as a consumer's claim does.
 */
#ifndef TF_TASK_MANAGE_H
#define TF_TASK_MANAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "base/err.h"
#include "task/task.h"

/* How often a change re-reads and tries again when the task changed between
 * its read and its write. */
#define TF_MANAGE_TRIES 5

enum tf_manage_action {
	TF_MANAGE_SUSPEND,
	TF_MANAGE_RESUME,
	TF_MANAGE_RUN_NOW,
	TF_MANAGE_RETRY
};

/* What a change does to a task in a given state. */
enum tf_manage_verdict {
	TF_MANAGE_CHANGE,     /* a new state and gen + 1 */
	TF_MANAGE_REQUEST,    /* suspend while PROCESSING: set suspend_requested */
	TF_MANAGE_WITHDRAW,   /* resume while a suspend is requested: remove it */
	TF_MANAGE_ALREADY,    /* nothing to do: it is as asked already */
	TF_MANAGE_REFUSE      /* the state does not allow it */
};

/* The verdict's name in the CLI's and the API's JSON ("result"): changed,
 * requested, withdrawn, already, refused. */
const char *tf_manage_verdict_name(enum tf_manage_verdict v);

/* The verdict for action on task t (borrowed): status and
 * suspend_requested decide. */
enum tf_manage_verdict tf_manage_decide(enum tf_manage_action action,
    const struct tf_task *t);

/* What a change found and did. */
struct tf_manage_result {
	enum tf_manage_verdict verdict;
	enum tf_task_status found;    /* the status it acted on */
	enum tf_task_status status;   /* the status afterwards */
	int64_t gen;                  /* the generation afterwards */
	int64_t next_run;             /* afterwards (epoch ms) */
	int64_t enqueue_at;           /* > 0: the caller sends the message for
	                                 gen, due at this time (tf_manage_send) */
	bool suspend_requested;       /* as found */
	bool legacy;                  /* it was an item of the original scheduler */
	enum tf_priority priority;    /* as found: the queue of its message */
};

/* Applies action to task id at now_ms; horizon_ms (0: the default) decides
 * whether a resumed task gets its message now. TF_MANAGE_RETRY is
 * tf_manage_retry() due now, with TF_TASK_HISTORY_DEFAULT history entries. On TF_OK, *r says what
 * happened, a refusal included (verdict TF_MANAGE_REFUSE: nothing was
 * written). TF_ERR_NOT_FOUND when there is no such task (or no table: see
 * tf_aws_last_error()); TF_ERR_PARSE (message in errbuf) when the item is not
 * a task; TF_ERR_CONDITION when the task kept changing for TF_MANAGE_TRIES
 * tries; any AWS error. */
enum tf_err tf_manage_change(struct tf_aws *aws, const char *table,
    const char *id, enum tf_manage_action action, int64_t now_ms,
    int64_t horizon_ms, struct tf_manage_result *r, char *errbuf,
    size_t errlen);

/* Retries task id, which must be FAILED (else verdict TF_MANAGE_REFUSE,
 * nothing written): PENDING, due at at_ms (now_ms when 0 or past), attempts
 * 0, with a "retried" entry in its history keeping history_kept entries (0:
 * history left alone). Otherwise as tf_manage_change(). */
enum tf_err tf_manage_retry(struct tf_aws *aws, const char *table,
    const char *id, int64_t at_ms, int64_t now_ms, int64_t horizon_ms,
    int history_kept, struct tf_manage_result *r, char *errbuf, size_t errlen);

/* A PATCH of a task (the REST API's PATCH /v1/tasks/{id}): what to change.
 * Every field is optional; at least one should be set. */
struct tf_manage_patch {
	const char *params_json;   /* JSON object text (numbers exact), or NULL:
	                              kept */
	const cJSON *schedule;     /* plain JSON, checked (tf_schedule_parse), or
	                              NULL: kept; it replaces the schedule whole */
	bool clear_schedule;       /* with schedule NULL: the task is a one-shot
	                              from now on (no schedule, no slot): its
	                              next run is its last */
	int64_t next_run;          /* > 0: the new next run (epoch ms); 0: kept */
	int64_t max_attempts;      /* > 0: the new value; 0: kept */
	const char *name;          /* NULL: kept; "": removed; else the new
	                              name (checked: tf_task_label_check) */
	const char *description;   /* likewise */
	bool set_priority;         /* priority is the new priority; false: kept */
	enum tf_priority priority;
};

/* True when a task in status s may be patched: PENDING or SUSPENDED. */
bool tf_manage_patchable(enum tf_task_status s);

/*
 * Writes patch p to task t as read (borrowed), conditional on the status and
 * gen that were read, with gen + 1 so that any message out for the task is
 * stale. A PENDING task gets its due index written again (due_at = next_run)
 * and, within horizon_ms of now_ms (0: the default), enqueued_for and
 * r->enqueue_at: the caller sends the message for the new gen
 * (tf_manage_send). A SUSPENDED task stays out of the due index.
 * A task that may not be patched (tf_manage_patchable) is refused: verdict
 * TF_MANAGE_REFUSE, nothing written. TF_ERR_CONDITION when the task changed
 * since t was read (the caller reads it again); TF_ERR_INVALID (message
 * in errbuf) for params that are not a JSON object, or a name or
 * description tf_task_label_check() refuses; any AWS error.
 */
enum tf_err tf_manage_patch(struct tf_aws *aws, const char *table,
    const struct tf_task *t, const struct tf_manage_patch *p, int64_t now_ms,
    int64_t horizon_ms, struct tf_manage_result *r, char *errbuf,
    size_t errlen);

/* The one-line reason why task id in status found may not be patched.
 * Returns buf. */
char *tf_manage_patch_refusal(const char *id, enum tf_task_status found,
    char *buf, size_t len);

/* Writes the one-line reason why action is refused for task id in status
 * found, with suspend_requested as read, e.g. "task X is COMPLETED; only
 * PENDING or PROCESSING tasks can be suspended". Returns buf. */
char *tf_manage_refusal(enum tf_manage_action action, const char *id,
    enum tf_task_status found, bool suspend_requested, char *buf, size_t len);

/* The DelaySeconds of a message due at due_ms sent at now_ms: whole seconds
 * rounded down (the consumer holds a message that is less than a second
 * early), from 0 to 900. */
int tf_manage_delay_s(int64_t due_ms, int64_t now_ms);

/* Sends the wake-up message of task id, generation gen, due at due_ms, with
 * tf_manage_delay_s(due_ms, now_ms), to the queue of priority p beside the
 * normal queue at queue_url (tf_task_send_message()). *delay_s (may be
 * NULL): the delay used. */
enum tf_err tf_manage_send(struct tf_aws *aws, const char *queue_url,
    enum tf_priority p, const char *id, int64_t gen, int64_t due_ms,
    int64_t now_ms, int *delay_s);

/* Deletes every task of namespace ns (the by_ns index, page by page, in
 * BatchWriteItem batches). *deleted: how many were deleted, also when an
 * error stops it half-way. Items the index does not hold yet (it is
 * eventually consistent on AWS) and items without ns (the original
 * scheduler's) are not found. */
enum tf_err tf_manage_clear_ns(struct tf_aws *aws, const char *table,
    const char *ns, int64_t *deleted);

/* The PENDING tasks due at now_ms (next_run <= now_ms), earliest first, at
 * most limit (1..TF_TASK_LIST_MAX). Without ns, from the by_due index (all
 * namespaces; the items carry id, status, gen, next_run, due_at,
 * enqueued_for); with ns, from by_ns (whole items). *items: a JSON array of
 * items (AV JSON); caller frees with cJSON_Delete(). TF_ERR_INVALID for a
 * bad limit or namespace. */
enum tf_err tf_manage_due(struct tf_aws *aws, const char *table,
    const char *ns, int64_t now_ms, int limit, cJSON **items);

/* Tasks by status. */
struct tf_manage_counts {
	int64_t by_status[TF_TASK__STATUSES];
	int64_t legacy;       /* of those, items of the original scheduler */
	int64_t other;        /* items whose status is none of the five */
	int64_t total;        /* every item counted */
};

/* Counts the tasks of the table (a Scan that reads only status and
 * completed), or of namespace ns (the by_ns index) when ns is not NULL. */
enum tf_err tf_manage_count(struct tf_aws *aws, const char *table,
    const char *ns, struct tf_manage_counts *c);

/* The namespaces of the table and their tasks (a Scan that reads only id
 * and ns). *by_ns: {"ns": count, ...} in the order first met; caller frees
 * with cJSON_Delete() (NULL on an error). *without_ns: the items without a
 * namespace (the original scheduler's). */
enum tf_err tf_manage_namespaces(struct tf_aws *aws, const char *table,
    cJSON **by_ns, int64_t *without_ns);

/* What tf_manage_adopt() did with one item. */
enum tf_adopt_outcome {
	TF_ADOPT_PENDING,      /* a pending item of the original scheduler: now
	                          PENDING in both indexes, due now */
	TF_ADOPT_COMPLETED,    /* a completed one: now COMPLETED in by_ns */
	TF_ADOPT_NOT_LEGACY,   /* already a taskfleet task: left as it is */
	TF_ADOPT_UNREADABLE,   /* not a task (no type, bad params): left as it is */
	TF_ADOPT_CHANGED,      /* changed since it was read (a consumer claimed
	                          it): left to whoever changed it */
};

/* Brings an item of the original scheduler (item: as read by a Scan, AV
 * JSON, borrowed) into the indexes, so that list, due, stats --ns and the
 * sweeper see it: status PENDING or COMPLETED (from `completed`), namespace
 * ns (NULL: "default") unless it has one, next_run now (the original items
 * carry no due time), and for a pending one due_shard and due_at. The write
 * is conditional on the item as read, so a task a consumer changed meanwhile
 * is never overwritten. With dry_run, only *out is set. An item that is
 * not one of the original scheduler's is not written. */
enum tf_err tf_manage_adopt(struct tf_aws *aws, const char *table,
    const cJSON *item, const char *ns, int64_t now_ms, bool dry_run,
    enum tf_adopt_outcome *out);

/* Writes a schedule (plain JSON, borrowed) for people:
 * "every 30m", "every 1mo Europe/Berlin", "cron 0 9 * * 1-5 Europe/Berlin,
 * max 10 runs, until 2026-12-31T00:00:00.000Z". A schedule that is not an object is printed as
 * JSON. Returns buf. */
char *tf_manage_schedule_describe(const cJSON *schedule, char *buf, size_t len);

#endif /* TF_TASK_MANAGE_H */
