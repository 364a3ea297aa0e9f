/*
 * limits.h - limits per key (docs/design.md section 14): what they are,
 * where they are stored, and which keys a task has.
 *
 * A key is `ns:NAME` (a namespace), `type:NAME` (a runner type),
 * `host:NAME` (the host of an http task's url) or `flow:NAME` (the flow key
 * a task carries; `flow:*` limits each flow key on its own). A limit sets
 * runs started per second with a burst, runs in flight at once, or both.
 * Limits are attributes `limit:KEY` of the table's config item
 * (TF_DUE_CONFIG_ID), so every consumer reads them with the paused
 * namespaces (consumer/ns_gate.c); the environment (TASKFLEET_LIMITS) gives
 * defaults for keys the table has no limit for.
 */
#ifndef TF_LIMITS_H
#define TF_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"

struct tf_aws;
struct tf_task;

/* A key's text: kind, ':' and a name of 1 to TF_LIMIT_NAME_MAX bytes. */
#define TF_LIMIT_NAME_MAX 200
#define TF_LIMIT_KEY_SIZE (TF_LIMIT_NAME_MAX + 8)
/* The config item's attribute of a limit: this prefix and the key. */
#define TF_LIMIT_ATTR "limit:"
/* Bounds of the numbers a limit takes. */
#define TF_LIMIT_RATE_MAX   100000.0
#define TF_LIMIT_COUNT_MAX  100000
/* The keys a task has: ns, type, host, flow. */
#define TF_LIMIT_TASK_KEYS  4

struct tf_limit {
	char key[TF_LIMIT_KEY_SIZE];
	double rate;          /* runs started per second; 0: no rate limit */
	int64_t burst;        /* runs that may start at once under the rate;
	                         1 when not given */
	int64_t in_flight;    /* runs at once, fleet-wide; 0: no limit */
	bool ordered;         /* flow keys with in_flight 1 only: the runs of
	                         the key start in due order (next_run, then id)
	                         within the task's namespace */
};

/* A hold on a key: no run of it starts before `until` (a host's
 * Retry-After, held for the whole fleet). The config item's attribute of a
 * hold: TF_LIMIT_HOLD_ATTR and the key. */
#define TF_LIMIT_HOLD_ATTR "hold:"
struct tf_limit_hold {
	char key[TF_LIMIT_KEY_SIZE];
	int64_t until;        /* epoch ms */
};

/* A set of limits, sorted by key, and the holds. v[0..n) and
 * holds[0..n_holds) owned. */
struct tf_limits {
	struct tf_limit *v;
	size_t n;
	struct tf_limit_hold *holds;
	size_t n_holds;
};

/* OK when key is a valid limit key; else TF_ERR_INVALID with why in err. */
enum tf_err tf_limit_check_key(const char *key, char *err, size_t errlen);

/* OK when l is a limit that can be stored (valid key, rate 0 or in
 * (0, TF_LIMIT_RATE_MAX], burst and in_flight in range, at least one of rate
 * and in_flight set); else TF_ERR_INVALID with why in err. */
enum tf_err tf_limit_check(const struct tf_limit *l, char *err, size_t errlen);

/* Stores l (checked first: TF_ERR_INVALID) on the config item, replacing
 * the key's limit. */
enum tf_err tf_limit_write(struct tf_aws *aws, const char *table,
    const struct tf_limit *l);

/* Removes the limit of key; TF_ERR_NOT_FOUND when there was none. */
enum tf_err tf_limit_remove(struct tf_aws *aws, const char *table,
    const char *key);

/* The limits and holds on the config item (borrowed AV JSON; NULL: none)
 * into *out (holds already over at now_ms are left out).
 * Attributes that do not parse are skipped. Caller frees with
 * tf_limits_free(). */
enum tf_err tf_limits_from_item(const cJSON *item, int64_t now_ms,
    struct tf_limits *out);

/* Reads the table's limits (consistent read). Caller frees *out. */
enum tf_err tf_limits_read(struct tf_aws *aws, const char *table,
    struct tf_limits *out);

/* Parses TASKFLEET_LIMITS' text: limits separated by ';', each a key then
 * `rate=R`, `burst=B`, `in_flight=N`, `ordered` separated by spaces. TF_ERR_INVALID
 * with why in err. Caller frees *out. */
enum tf_err tf_limits_parse(const char *spec, struct tf_limits *out,
    char *err, size_t errlen);

/* The limit of key in ls (borrowed), or NULL. A flow key without a limit of
 * its own takes `flow:*`'s. */
const struct tf_limit *tf_limits_find(const struct tf_limits *ls,
    const char *key);

/* {"key", "rate", "burst", "in_flight", "ordered"} (each only when set).
 * Caller frees with cJSON_Delete(); NULL when out of memory. */
cJSON *tf_limit_json(const struct tf_limit *l);

/* {"limits": [tf_limit_json()...], "holds": [{"key", "until"}...]} of ls
 * (until: epoch ms, a host's Retry-After held for the fleet). Caller frees
 * with cJSON_Delete(); NULL when out of memory. */
cJSON *tf_limits_json(const struct tf_limits *ls);

/* Fills l from {"rate", "burst", "in_flight", "ordered"} (body, borrowed)
 * for key.
 * TF_ERR_INVALID with why in err (an unknown field, a wrong type, a bad
 * value). */
enum tf_err tf_limit_from_json(const char *key, const cJSON *body,
    struct tf_limit *l, char *err, size_t errlen);

void tf_limits_free(struct tf_limits *ls);

/* The keys of task t: keys[0..n) (n returned). Its namespace, its runner
 * type, the host of its url when it is an http task (lower case), its flow
 * key when it has one. */
size_t tf_limit_task_keys(const struct tf_task *t,
    char keys[TF_LIMIT_TASK_KEYS][TF_LIMIT_KEY_SIZE]);

#endif /* TF_LIMITS_H */
