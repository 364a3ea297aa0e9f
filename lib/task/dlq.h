/*
 * dlq.h - the dead-letter queue (docs/design.md section 1): listing its
 * messages without consuming them and moving them back to the queue. Shared
 * by `taskfleet dlq` (producer/cmd_dlq.c) and the REST API's /v1/dlq
 * (producer/api_dlq.c), which print and answer what a run found.
 *
 * SQS cannot show a message without receiving it. A run receives the
 * dead-letter queue's messages with a visibility timeout long enough for the
 * run (TF_DLQ_HOLD_S), so that none comes back and is seen twice, and at the
 * end (tf_dlq_release()) sets the visibility of every message it still holds
 * back to 0, so it is visible again at once, also after an AWS error or a
 * stop. A message received twice anyway (SQS delivers at least once) is
 * recognised by its message id and kept once. A process killed outright
 * leaves the messages it held hidden until TF_DLQ_HOLD_S runs out; two runs
 * at once each see only the messages the other does not hold.
 *
 * Redrive sends each message's body unchanged to the queue, with no delay,
 * and deletes it from the dead-letter queue only after the send succeeded: a
 * failure between the two leaves a duplicate, which the consumer drops as
 * stale, and never loses a message. It does not need the table: the
 * consumer decides from the item whether a message is live, stale or early.
 * A message carries no namespace (section 3): its task's item in the table
 * says which namespace it belongs to (tf_dlq_view_task()).
 *
 * A run is used by one thread.
 */
#ifndef TF_DLQ_H
#define TF_DLQ_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "aws/sqs.h"
#include "base/err.h"
#include "task/task.h"

struct tf_aws;

#define TF_DLQ_HOLD_S       300   /* how long a run holds a message hidden */
#define TF_DLQ_EXCERPT_MAX  60    /* characters of a malformed body shown */

/* What a run did with a message. */
enum tf_dlq_action {
	TF_DLQ_NONE,           /* received beyond the limit: only returned */
	TF_DLQ_MOVE,           /* to move (in a dry run: would move) */
	TF_DLQ_MOVED,          /* sent to the queue and deleted from the DLQ */
	TF_DLQ_SKIP,           /* malformed body: stays (include_malformed) */
	TF_DLQ_OTHER,          /* another task's or message's: stays */
	TF_DLQ_SEND_FAILED,    /* the send failed: stays in the DLQ */
	TF_DLQ_DELETE_FAILED,  /* sent, but not deleted: now in both queues */
	TF_DLQ_HIDDEN,         /* not the caller's to see (the visible
	                          callback): stays, never shown nor counted */
	TF_DLQ__ACTIONS
};

/* The action's name in JSON ("would_move", "moved", ...). */
const char *tf_dlq_action_name(enum tf_dlq_action a);

/* What the table says about a message's task (tf_dlq_view_task()). */
struct tf_dlq_view {
	const char *verdict;   /* live, stale, finished, suspended, missing,
	                          not_a_task, malformed, unknown */
	bool found;
	enum tf_task_status status;
	int64_t gen;
	char ns[TF_TASK_NS_MAX + 1]; /* the task's namespace when found */
	char note[256];        /* not_a_task, unknown: why */
};

/* One message received from the dead-letter queue. */
struct tf_dlq_msg {
	struct tf_sqs_message m;     /* owned strings; body and receipt handle
	                                freed (NULL) once moved */
	struct tf_task_message task; /* the body, when ok */
	bool ok;                     /* the body is a task message
	                                (docs/design.md section 3) */
	char why[128];               /* why it is not */
	bool held;                   /* in flight under m.receipt_handle: made
	                                visible again at the end */
	bool viewed;                 /* view is filled */
	struct tf_dlq_view view;
	enum tf_dlq_action act;
	char fail[400];              /* why its send or delete failed */
};

/* Decides whether the caller may see message d (a key's namespaces): the
 * callback may fill d->view with tf_dlq_view_task(). */
typedef bool tf_dlq_visible_fn(void *cls, struct tf_dlq_msg *d);

/* One run of a listing or a redrive. Zero it, then set aws, queue_url and
 * table (borrowed; they must outlive the run) and optionally stop. */
struct tf_dlq_run {
	struct tf_aws *aws;
	const char *queue_url;
	const char *table;           /* for tf_dlq_view_task() */
	const volatile sig_atomic_t *stop; /* non-zero: stop receiving (a
	                                signal handler's flag); NULL: never */
	char *dlq_url;               /* owned (tf_dlq_find() fills it) */
	struct tf_dlq_msg *v;        /* owned array: n used of cap */
	size_t n, cap;
	char reason[1024];           /* the first AWS failure */
	char release_reason[800];    /* why messages could not be made visible */
	bool failed;                 /* an AWS call failed */
};

/* Finds the dead-letter queue of the queue at url: the target of its
 * RedrivePolicy, else the queue named NAME-dlq (as `init` names it).
 * *dlq_url: caller frees with tf_free(); NULL (and TF_OK) when there is
 * none. */
enum tf_err tf_dlq_find(struct tf_aws *aws, const char *url, char **dlq_url);

/* Receives and holds messages until limit of them are visible (every
 * message without a visible callback; limit 0: no limit), the queue gives no
 * new one, max_held are held, or *r->stop. A failed receive is recorded in
 * r (failed, reason) and ends it. Each new message is tf_dlq_msg with act
 * TF_DLQ_NONE, or TF_DLQ_HIDDEN when visible (with cls) says no. Returns
 * how many visible messages it holds. */
size_t tf_dlq_collect(struct tf_dlq_run *r, size_t limit, size_t max_held,
    tf_dlq_visible_fn *visible, void *cls);

/* Reads the task of message d from r->table and judges the message as the
 * consumer would, into d->view (d->viewed). Returns TF_OK, or the AWS
 * failure (the verdict says "unknown" and the note why). Does nothing when
 * d is viewed already. */
enum tf_err tf_dlq_view_task(struct tf_dlq_run *r, struct tf_dlq_msg *d);

/* A listed message as JSON: {"message_id", "malformed", "task_id", "gen",
 * "target", "receive_count", "sent", "first_receive", "status", "task_gen",
 * "ns", "verdict"} ("error" and "excerpt" for a malformed body, "note" for
 * an unknown verdict). d must be viewed. Caller frees with cJSON_Delete();
 * NULL when out of memory. */
cJSON *tf_dlq_msg_json(const struct tf_dlq_msg *d);

/* What to redrive. */
struct tf_dlq_redrive_opts {
	long long limit;             /* move at most this many; 0: all */
	size_t max_held;             /* receive at most this many (the rest
	                                unseen, at_limit set); 0: no bound */
	const char *task;            /* only this task's messages; NULL: any */
	const char *message_id;      /* only this message; NULL: any */
	bool dry_run;                /* decide, send and delete nothing */
	bool include_malformed;      /* move malformed bodies too */
	tf_dlq_visible_fn *visible;  /* NULL: every message may be moved */
	void *cls;                   /* visible's */
};

/* What a redrive did: how many messages ended in each action. */
struct tf_dlq_redrive_result {
	size_t count[TF_DLQ__ACTIONS];
	bool at_limit;               /* stopped at o->limit or o->max_held */
	size_t left;                 /* messages still hidden at the end (their
	                                release failed: r->release_reason) */
};

/* Moves the dead-letter queue's messages chosen by o back to the queue
 * (r->dlq_url found), ten at a time, then makes every message not moved
 * visible again. Failures are recorded in r and in each message (act,
 * fail). */
void tf_dlq_redrive(struct tf_dlq_run *r, const struct tf_dlq_redrive_opts *o,
    struct tf_dlq_redrive_result *res);

/* A redrive as JSON: {"dlq_url", "queue_url", "dry_run", "moved",
 * "would_move" (dry run only), "skipped", "other_task", "failed",
 * "limit_reached", "messages": [{"message_id", "task_id", "gen", "action"}
 * ("excerpt" of a malformed body, "error" of a failure)]}. Caller frees
 * with cJSON_Delete(); NULL when out of memory. */
cJSON *tf_dlq_redrive_json(const struct tf_dlq_run *r, bool dry_run,
    const struct tf_dlq_redrive_result *res);

/* Makes every message still held visible again (visibility 0), ten at a
 * time. Returns how many stay hidden (a failed call or entry): they come
 * back when TF_DLQ_HOLD_S runs out; r->release_reason says why. */
size_t tf_dlq_release(struct tf_dlq_run *r);

/* Frees what a run holds and empties it (aws, queue_url, table and stop
 * stay). */
void tf_dlq_run_free(struct tf_dlq_run *r);

/* Writes a short excerpt of a body for people into out: at most
 * TF_DLQ_EXCERPT_MAX characters, control characters and non-ASCII bytes as
 * '?', "..." when cut. */
void tf_dlq_excerpt(const char *body, char *out, size_t len);

#endif /* TF_DLQ_H */
