/*
 * task.h - the task model: the DynamoDB item (docs/design.md section 2),
 * the SQS message (section 3) and the conditional writes that move a task
 * between states (section 5).
 *
 * Every state change increments `gen` and is conditional on the generation
 * the writer read, so two writers can never both win, and a message that
 * carries an older generation is recognisably stale.
 */
#ifndef TF_TASK_H
#define TF_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "base/err.h"
#include "task/priority.h"

#define TF_TASK_ID_MAX      128   /* bytes; longer ids are refused */
#define TF_TASK_NS_MAX      64
#define TF_TASK_TYPE_MAX    64
/* A runner name's syntax, for messages ("type: must be " TF_TASK_TYPE_SYNTAX). */
#define TF_TASK_TYPE_SYNTAX "1 to 64 of A-Z a-z 0-9 _ - (case-sensitive)"
#define TF_TASK_NAME_MAX    200   /* bytes of a task's optional name */
#define TF_TASK_DESCRIPTION_MAX 2000 /* bytes of its optional description */
#define TF_TASK_ERRORS_KEPT 10    /* the `errors` list keeps the latest ten */
#define TF_TASK_ERROR_MAX   1024  /* bytes of one error text kept */
/* The `history` list keeps the latest runs: five by default (about 70 bytes
 * each, so a small task stays under DynamoDB's 1 KB write unit), at most 50. */
#define TF_TASK_HISTORY_DEFAULT 5
#define TF_TASK_HISTORY_MAX     50
#define TF_DEFAULT_NS       "default"
#define TF_DEFAULT_MAX_ATTEMPTS 3
/* Tasks due within this horizon get an SQS message (with DelaySeconds);
 * later ones are enqueued by the sweeper when they come within it. */
#define TF_ENQUEUE_HORIZON_MS (15 * 60 * 1000)

enum tf_task_status {
	TF_TASK_PENDING,
	TF_TASK_PROCESSING,
	TF_TASK_COMPLETED,
	TF_TASK_FAILED,
	TF_TASK_SUSPENDED,
	TF_TASK__STATUSES
};

/* A task as read from its item. Strings and trees are owned by the struct
 * and freed by tf_task_free(). */
struct tf_task {
	char *id;
	char *ns;
	char *type;
	char *name;              /* the optional label people know it by; NULL
	                            when it has none */
	char *description;       /* optional free text; NULL when none */
	char *callback;          /* URL called after each run that succeeds
	                            (webhook/callback.h); NULL when none */
	char *failure_callback;  /* URL called when it fails for good; NULL */
	char *flow_key;          /* the flow key it carries (limits.h); NULL */
	char *limited_by;        /* the key whose limit last held its run back
	                            (docs/design.md section 14); NULL: none */
	int64_t limited_ms;      /* how long limits held that run back, ms */
	char *params_json;       /* params as JSON object text, numbers exact */
	char *result_json;       /* the last run's `result` as JSON object text,
	                            numbers exact; NULL when there is none */
	enum tf_task_status status;
	int64_t next_run;        /* epoch ms; 0 when the item has none (legacy) */
	int64_t iteration;
	int64_t attempts;
	int64_t max_attempts;
	int64_t gen;
	char *lease_owner;       /* NULL unless PROCESSING */
	int64_t lease_until;
	char *lease_token;       /* the claim's random token, NULL unless
	                            PROCESSING: tells a consumer whose claim
	                            reply was lost that the claim was its own */
	cJSON *schedule;         /* plain JSON, NULL when there is none */
	char *errors_av;         /* the `errors` list as AV JSON text
	                            ({"L":[...]}), or NULL: text, not a tree,
	                            because a run waiting on a timer keeps it
	                            (a tree costs ~15 times the bytes) */
	char *history_av;        /* the `history` list as AV JSON text, or NULL */
	char *callback_pending_av; /* the `callback_pending` map as AV JSON text
	                            (task/callback_pending.h), or NULL */
	char *last_error;
	int64_t enqueued_for;    /* 0 when absent */
	int64_t slot;            /* scheduled tasks: the schedule slot of the
	                            current occurrence (next_run may be later,
	                            after retries); 0 when absent */
	bool suspend_requested;  /* a suspend arrived while it was PROCESSING */
	int64_t created_at, updated_at, finished_at;
	int64_t ttl;             /* epoch seconds when DynamoDB may delete the
	                            item (TASKFLEET_RETENTION); 0 when absent */
	bool legacy;             /* written by the original serverless scheduler:
	                            no status, no gen */
	enum tf_priority priority; /* `priority` (tf_priority_from_av());
	                            normal when absent or none of its values */
};

/* The wake-up call SQS carries. */
struct tf_task_message {
	char id[TF_TASK_ID_MAX + 1];
	int64_t target_ms;       /* 0: now (targetTimestamp null) */
	int64_t gen;             /* 0 when absent (the original format) */
	bool has_gen;
	enum tf_priority priority; /* `priority` (tf_priority_from_json());
	                            normal when null or none of its values */
};

const char *tf_task_status_name(enum tf_task_status s);
/* Parses a status name; false when it is not one. */
bool tf_task_status_parse(const char *name, enum tf_task_status *out);

/* Reads a task from a DynamoDB item (borrowed). An item with only id,
 * completed, type and params is a legacy PENDING task with gen 0. Returns
 * TF_ERR_PARSE with a message naming the attribute when the item is not a
 * task. tf_task_free() the struct either way. */
enum tf_err tf_task_from_item(const cJSON *item, struct tf_task *t,
    char *errbuf, size_t errlen);
void tf_task_free(struct tf_task *t);

/* The task as plain JSON for `taskfleet get --json` and the API: every
 * attribute, params as an object. Caller frees with cJSON_Delete(). */
enum tf_err tf_task_to_json(const struct tf_task *t, cJSON **out);

/* Parses a message body (docs/design.md section 3). TF_ERR_PARSE with a
 * message when the body is not such JSON. */
enum tf_err tf_task_message_parse(const char *body, struct tf_task_message *m,
    char *errbuf, size_t errlen);
/* Writes the body for task id, due at target_ms, generation gen, priority p
 * (null for normal). Caller frees with tf_free(). */
enum tf_err tf_task_message_format(const char *id, int64_t target_ms,
    int64_t gen, enum tf_priority p, char **body);

/* True when id is usable as a task id: 1..128 bytes of printable ASCII
 * without spaces. */
bool tf_task_id_valid(const char *id);
/* True for a flow key: 1..TF_TASK_FLOW_KEY_MAX bytes of printable ASCII
 * without spaces or ';'. */
#define TF_TASK_FLOW_KEY_MAX 200
bool tf_task_flow_key_valid(const char *key);
/* True for a namespace: [A-Za-z0-9_.-]{1,64}. */
bool tf_task_ns_valid(const char *ns);

/* True for a runner name: [A-Za-z0-9_-]{1,64}, case-sensitive (the syntax
 * only; whether such a runner is loaded is the runner loader's question).
 * The one check of a name: the runner loader, submit, the API and task
 * creation all use it, so a name one accepts the others accept. */
bool tf_task_type_valid(const char *type);

/* A task's optional labels: `name` and `description`. */
enum tf_task_label {
	TF_TASK_NAME,         /* 1..TF_TASK_NAME_MAX bytes of UTF-8, no control
	                         characters */
	TF_TASK_DESCRIPTION   /* 1..TF_TASK_DESCRIPTION_MAX bytes of UTF-8, no
	                         control characters but tab and line breaks */
};

/* Checks text as label `which` ("" and NULL are fine: no label). On
 * TF_ERR_INVALID, why gets the reason without the field's name ("too long
 * (250 bytes; at most 200)"), for the caller to prefix with the name its
 * user knows. The one check: submit, the API, create and PATCH use it. */
enum tf_err tf_task_label_check(enum tf_task_label which, const char *text,
    char *why, size_t whylen);
/* Checks both labels (either may be NULL); on TF_ERR_INVALID errbuf names
 * the field: "name: too long (...)". */
enum tf_err tf_task_labels_check(const char *name, const char *description,
    char *errbuf, size_t errlen);

/* The due_shard for a task id: "0".."15", stable for the id. */
void tf_task_shard(const char *id, char out[4]);

/* A new task to create. Borrowed strings; params_json NULL means {}. */
struct tf_task_spec {
	const char *id;           /* NULL: a new UUID */
	const char *ns;           /* NULL: "default" */
	const char *type;
	const char *params_json;
	const char *name;         /* NULL or "": none (tf_task_label_check) */
	const char *description;  /* NULL or "": none */
	const char *callback;     /* NULL or "": none (tf_callback_url_check) */
	const char *failure_callback;  /* NULL or "": none */
	const char *flow_key;     /* NULL or "": none (tf_task_flow_key_valid) */
	int64_t next_run;         /* epoch ms */
	int64_t max_attempts;     /* 0: 3 */
	const cJSON *schedule;    /* plain JSON or NULL; borrowed */
	int64_t horizon_ms;       /* the enqueue horizon; 0: TF_ENQUEUE_HORIZON_MS */
	enum tf_priority priority; /* stored only when not normal */
};

/* Writes a new PENDING task with gen 1, conditional on the id being free.
 * When the task is due within the enqueue horizon it records enqueued_for
 * (the due time, or now for a task already overdue)
 * and the caller sends its message (*enqueue set true). *id_out: the id
 * (caller frees with tf_free()). TF_ERR_CONDITION when the id exists;
 * TF_ERR_INVALID (message in errbuf) for a bad spec. A write sent more
 * than once (an answer lost) that then fails its condition is read back:
 * TF_OK when the item is this write's (tf_task_create_was_ours()). */
enum tf_err tf_task_create(struct tf_aws *aws, const char *table,
    const struct tf_task_spec *spec, int64_t now_ms, char **id_out,
    bool *enqueue, char *errbuf, size_t errlen);

/* A create sent more than once failed its condition: true when t, the item
 * read back, is the one this create of spec wrote at now_ms (an earlier send
 * was applied and its answer lost), false when someone else's write holds
 * the id. */
bool tf_task_create_was_ours(const struct tf_task *t,
    const struct tf_task_spec *spec, int64_t now_ms);

/* The condition of a task's first write: its id is free. */
#define TF_TASK_CREATE_CONDITION "attribute_not_exists(id)"

/* Checks spec and builds the item tf_task_create() writes, without writing
 * it (task_bulk.h writes many at once). *item: caller frees with
 * cJSON_Delete(); *id: borrowed from *item (a new UUID when spec->id is
 * NULL); *enqueue: the task is due within the horizon. The due shard uses
 * the table's shard count as tf_due_load() left it. TF_ERR_INVALID or
 * TF_ERR_TOO_LARGE (message in errbuf), TF_ERR_NOMEM. */
enum tf_err tf_task_create_item(const struct tf_task_spec *spec,
    int64_t now_ms, cJSON **item, const char **id, bool *enqueue,
    char *errbuf, size_t errlen);

/* Reads a task (strongly consistent). TF_ERR_NOT_FOUND when absent. */
enum tf_err tf_task_get(struct tf_aws *aws, const char *table, const char *id,
    struct tf_task *t, char *errbuf, size_t errlen);

/* Claims a task for a run (docs/design.md section 5, step 3): conditional on
 * PENDING, due by now_ms + skew_ms and generation msg_gen; sets PROCESSING,
 * the lease, a random lease token and gen + 1. On TF_OK *t is the claimed
 * task. TF_ERR_CONDITION when the condition fails. When the AWS layer had to
 * retry the call (an earlier attempt's reply was lost, so it may have been
 * applied) and the retry fails its condition, the item is read: if it holds
 * this claim's token, the claim was ours and TF_OK is returned with that
 * item. */
enum tf_err tf_task_claim(struct tf_aws *aws, const char *table,
    const char *id, int64_t msg_gen, const char *owner, int64_t now_ms,
    int64_t skew_ms, int64_t lease_ms, struct tf_task *t,
    char *errbuf, size_t errlen);

/* Extends the lease to until_ms while it is still ours. TF_ERR_CONDITION
 * when the lease was lost. */
enum tf_err tf_task_extend_lease(struct tf_aws *aws, const char *table,
    const char *id, int64_t gen, const char *owner, int64_t until_ms);

/* How a run ended, to be written back. */
struct tf_task_outcome {
	enum {
		TF_OUTCOME_DONE,      /* success; completed says whether finished */
		TF_OUTCOME_RETRY,     /* transient failure */
		TF_OUTCOME_FAILED     /* permanent failure */
	} kind;
	bool completed;
	int64_t next_run;         /* DONE and not completed: the next iteration */
	int64_t retry_at;         /* RETRY: the earliest next attempt */
	bool uncharged;           /* RETRY: the run does not count as an attempt
	                             (another run's crash ended it): attempts
	                             stay, and the task is never FAILED by it */
	bool paused_ns;           /* RETRY, uncharged: not run, because its
	                             namespace is paused (ns_pause.h): the task
	                             becomes SUSPENDED with the mark
	                             `paused_by_ns` */
	const char *new_params;   /* JSON object text, or NULL to keep; borrowed */
	const char *result_json;  /* JSON object text for `result`, or NULL */
	const char *error;        /* the error text: RETRY and FAILED always; DONE
	                             when a recurring task's occurrence failed
	                             permanently and its schedule goes on */
	int64_t slot;             /* DONE of a scheduled task: the slot of the
	                             next occurrence (written as `slot`); 0: none */
	int64_t lease_expired_before; /* > 0: also require lease_until below this
	                             (the sweeper recovering a dead consumer's
	                             run, never a live one's) */
	int64_t horizon_ms;       /* the enqueue horizon; 0: TF_ENQUEUE_HORIZON_MS */
	int history_kept;         /* > 0: add this run to `history`, keeping this
	                             many entries; 0: leave `history` alone */
	int64_t duration_ms;      /* for `history`: how long the run took; < 0:
	                             unknown (not written) */
	int64_t late_ms;          /* for `history`: how late the run started */
	int64_t limited_ms;       /* > 0: limits held the run back this long
	                             (written as `limited_ms`, and in `history`) */
	const char *limited_by;   /* with limited_ms: the key that held it
	                             longest (written as `limited_by`); borrowed */
	int64_t retention_ms;     /* > 0: a COMPLETED or FAILED task gets `ttl`
	                             (epoch seconds) this long after now_ms, for
	                             DynamoDB's TTL to delete it */
	const char *chain_owner;  /* DONE and not completed: non-NULL chains
	                             the next iteration (docs/design.md section
	                             12.1): the same write claims it for this
	                             lease owner (PROCESSING, gen + 2, lease
	                             until chain_lease_until with chain_token),
	                             with no message; borrowed */
	int64_t chain_lease_until;
	const char *chain_token;  /* borrowed */
	const cJSON *callback_pending; /* the run's completion callback to keep
	                             on the item until it is delivered (an AV
	                             map, task/callback_pending.h), or NULL;
	                             borrowed. A finished task keeps it in the
	                             due index at callback_due_at */
	int64_t callback_due_at;
};

/* Writes the outcome of the run of claimed task t (its gen and lease owner
 * are the condition). A PENDING outcome for a task whose suspend was requested
 * during the run becomes SUSPENDED, keeping the run's result. *state_out: the status written; *next_gen the new
 * generation; *enqueue_at the due time of the message the caller must send
 * (0: none, the task is finished or beyond the enqueue horizon).
 * TF_ERR_CONDITION when the lease was lost. */
enum tf_err tf_task_finish(struct tf_aws *aws, const char *table,
    const struct tf_task *t, const struct tf_task_outcome *o, int64_t now_ms,
    enum tf_task_status *state_out, int64_t *next_gen, int64_t *enqueue_at,
    char *errbuf, size_t errlen);

/* The sweeper's claim on sending a task's message: bumps gen (so any older
 * message is stale) and sets enqueued_for to when the message becomes visible
 * (due_ms, or now_ms if that is later), conditional on gen, status PENDING,
 * next_run = due_ms and enqueued_for absent or older than stale_before_ms.
 * TF_ERR_CONDITION when another consumer won or the task changed. The caller
 * then sends the message for gen + 1 to the queue of *prio (may be NULL),
 * the task's priority as written (the due index does not hold it). */
enum tf_err tf_task_sweep_enqueue(struct tf_aws *aws, const char *table,
    const char *id, int64_t gen, int64_t due_ms, int64_t stale_before_ms,
    int64_t now_ms, enum tf_priority *prio);

/* Says no message is out for generation gen (removes enqueued_for), so the
 * sweeper sends one when the task comes within the horizon. */
enum tf_err tf_task_release_message(struct tf_aws *aws, const char *table,
    const char *id, int64_t gen);

/* The DelaySeconds for a message due at due_ms sent at now_ms: whole
 * seconds rounded down, 0 to 900. */
int tf_task_delay_s(int64_t due_ms, int64_t now_ms);

/* The DynamoDB key {"id": {"S": id}}; NULL when out of memory. Caller frees
 * with cJSON_Delete(). */
cJSON *tf_task_key(const char *id);

/* Task t's `history` (AV JSON) with an entry that is not a run added at its
 * end: {"at": at_ms, "iteration", "attempt": the attempts used so far,
 * "outcome": outcome} (e.g. "retried"), keeping the latest keep (at most
 * TF_TASK_HISTORY_MAX). Caller frees with cJSON_Delete(); NULL when out of
 * memory or keep < 1. */
cJSON *tf_task_history_note(const struct tf_task *t, const char *outcome,
    int64_t at_ms, int keep);

/* Sends the wake-up message for task id, generation gen, due at due_ms, with
 * DelaySeconds rounded down (at most 900): it arrives up to a second early and
 * the consumer holds it until its exact time. It goes to the queue of
 * priority p beside the normal queue at queue_url (priority.h); when that
 * queue does not exist (a deployment made before priorities), to the
 * normal queue. */
enum tf_err tf_task_send_message(struct tf_aws *aws, const char *queue_url,
    enum tf_priority p, const char *id, int64_t due_ms, int64_t gen,
    int64_t now_ms);

/* Records that the live message for generation gen was sent for due_ms
 * (enqueued_for: when it becomes visible, due_ms or now if that is later),
 * conditional on the generation. */
enum tf_err tf_task_mark_enqueued(struct tf_aws *aws, const char *table,
    const char *id, int64_t gen, int64_t due_ms);

/* Deletes a task. TF_ERR_NOT_FOUND when there is none. */
enum tf_err tf_task_delete(struct tf_aws *aws, const char *table,
    const char *id);

/* The most tasks one listing page returns. */
#define TF_TASK_LIST_MAX 1000

/* A listing of one namespace by schedule, on the by_ns index; or of every
 * namespace (all_ns), a Scan of that index in no particular order. */
struct tf_task_list_query {
	const char *ns;           /* NULL: "default"; borrowed */
	bool all_ns;              /* every namespace (ns and ascending unused) */
	bool has_status;          /* filter on status */
	enum tf_task_status status;
	bool has_from, has_to;    /* a window on next_run ... */
	int64_t from_ms, to_ms;   /* ... both ends included (epoch ms) */
	int limit;                /* matching tasks wanted: 1..TF_TASK_LIST_MAX */
	bool ascending;           /* false: newest schedule (latest next_run) first */
};

/* Reads the next q->limit tasks of a listing. A status filter makes
 * DynamoDB's Limit count evaluated items, not matches, so this queries page
 * after page until it has q->limit matching items or the index has no more.
 * *cursor (in/out; may point to NULL for the start): where to continue, as a
 * by_ns key ({"id","ns","next_run"} AVs); replaced by the position after the
 * last task returned, or NULL when there is nothing after it. Ownership of the
 * cursor passes both ways (the old one is freed). A non-NULL cursor may still
 * lead to an empty last page, as with DynamoDB's own LastEvaluatedKey.
 * *items: a JSON array of the items (AV JSON, in listing order; each one for
 * tf_task_from_item()); caller frees with cJSON_Delete(). TF_ERR_INVALID for
 * a limit out of range, a bad namespace or from_ms > to_ms. */
enum tf_err tf_task_list_page(struct tf_aws *aws, const char *table,
    const struct tf_task_list_query *q, cJSON **cursor, cJSON **items);

/* A listing cursor as an opaque, URL- and shell-safe token (base64url of its
 * JSON, no padding). *token: caller frees with tf_free(). */
enum tf_err tf_task_list_token_encode(const cJSON *cursor, char **token);

/* Reads a token made by tf_task_list_token_encode() back into a cursor for a
 * listing of namespace ns (NULL: "default"; "*": a listing of every
 * namespace, whose tokens may stop in any). TF_ERR_INVALID, with a one-line
 * message in errbuf, for anything else, including a token from another
 * namespace's listing. *cursor: caller frees with cJSON_Delete(). */
enum tf_err tf_task_list_token_decode(const char *token, const char *ns,
    cJSON **cursor, char *errbuf, size_t errlen);

/* The retry delay after `attempts` failed attempts (1 for the first):
 * full jitter, a uniform random delay in [0, min(cap, base * 2^(attempts-1))],
 * so a crowd of failing tasks spreads out instead of coming back at once. */
int64_t tf_task_backoff_ms(int64_t attempts, int64_t base_ms, int64_t cap_ms);

#endif /* TF_TASK_H */
