/*
 * template.h - the placeholders an AWS target's payload may hold, filled
 * in when the task runs (docs/targets.md, "Templating"), as EventBridge
 * Scheduler's <aws.scheduler.*> context attributes are:
 *
 *   <taskfleet.task-id>            the task's id
 *   <taskfleet.namespace>          its namespace
 *   <taskfleet.iteration>          runs finished before this one (0, 1, ...)
 *   <taskfleet.attempt>            1 for an iteration's first attempt
 *   <taskfleet.scheduled-time>     when the run was due, UTC,
 *                                  "2026-12-07T09:00:00.000Z"
 *   <taskfleet.scheduled-time-ms>  the same as epoch milliseconds
 *
 * Placeholders are replaced inside JSON string values only (never keys),
 * after the payload is parsed and before it is written again, so whatever
 * a value brings (a quote in a task id) is escaped by the JSON writer and
 * cannot change the document's structure. Any other "<taskfleet." text is
 * refused when the task is checked, so a typo does not go out literally.
 */
#ifndef TF_TARGET_TEMPLATE_H
#define TF_TARGET_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/err.h"

/* What the placeholders stand for in one run; strings borrowed. */
struct tf_template_ctx {
	const char *task_id;
	const char *ns;
	int64_t iteration;
	int32_t attempt;
	int64_t scheduled_ms;
};

/* Checks every string in v (borrowed; recursively) for placeholders:
 * TF_ERR_INVALID with err naming the first unknown one (as "<what>: ...",
 * what being the caller's name for v). With no_attempt, <taskfleet.attempt>
 * is refused too (payloads that must be the same on every attempt). */
enum tf_err tf_template_check(const cJSON *v, const char *what,
    bool no_attempt, char *err, size_t errlen);

/* Replaces the placeholders in every string of v (owned by the caller,
 * changed in place). TF_ERR_NOMEM leaves v partly filled. */
enum tf_err tf_template_apply(cJSON *v, const struct tf_template_ctx *ctx);

/* One string s filled in: *out is a fresh copy (caller frees with
 * tf_free()). */
enum tf_err tf_template_string(const char *s, const struct tf_template_ctx *ctx,
    char **out);

#endif /* TF_TARGET_TEMPLATE_H */
