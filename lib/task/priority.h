/*
 * priority.h - a task's priority (docs/design.md section "Priorities"):
 * `high`, `normal` (the default) or `low`, stored in the item's `priority`
 * attribute (absent: normal) and carried in its message's `priority` field
 * (null: normal).
 *
 * SQS has no priorities, so each priority has a queue: normal tasks use the
 * configured queue, high and low ones the queues beside it whose names (and
 * so URLs) end in "-high" and "-low" (`taskfleet init` makes them).
 */
#ifndef TF_PRIORITY_H
#define TF_PRIORITY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* Zero is normal: a zeroed struct, an item or a message without the field. */
enum tf_priority {
	TF_PRIORITY_NORMAL = 0,
	TF_PRIORITY_HIGH,
	TF_PRIORITY_LOW,
	TF_PRIORITY__N
};

/* The accepted values, for messages ("priority: must be " ...). */
#define TF_PRIORITY_SYNTAX "high, normal or low"

/* The most bytes the suffix adds to a queue name or URL ("-high"). */
#define TF_PRIORITY_SUFFIX_MAX 5

/* "high", "normal" or "low". */
const char *tf_priority_name(enum tf_priority p);

/* Parses "high", "normal" or "low" (exactly); false when it is none. */
bool tf_priority_parse(const char *name, enum tf_priority *out);

/*
 * Reads the original format's `priority` (plain JSON, borrowed; NULL or
 * null: normal): a name in any case, or a number, positive meaning more
 * urgent: above 0 is high, 0 normal, below 0 low. False (and *out normal)
 * for anything else.
 */
bool tf_priority_from_json(const cJSON *v, enum tf_priority *out);

/* The same from a DynamoDB attribute value (borrowed; NULL: normal): S as
 * a name, N as a number. */
bool tf_priority_from_av(const cJSON *av, enum tf_priority *out);

/* The suffix of p's queue name and URL: "-high", "" or "-low". */
const char *tf_priority_suffix(enum tf_priority p);

/* The URL of p's queue beside the normal queue at base (borrowed): base
 * with tf_priority_suffix(p) appended. Caller frees with tf_free(); NULL
 * when out of memory. */
char *tf_priority_queue_url(const char *base, enum tf_priority p);

#endif /* TF_PRIORITY_H */
