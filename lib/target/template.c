/* template.c - filling <taskfleet.*> placeholders into a target's payload. */
#include "target/template.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "time/timefmt.h"

#define PREFIX "<taskfleet."

enum field {
	F_TASK_ID,
	F_NAMESPACE,
	F_ITERATION,
	F_ATTEMPT,
	F_SCHEDULED_TIME,
	F_SCHEDULED_MS,
	F__COUNT
};

static const char *const names[F__COUNT] = {
	"<taskfleet.task-id>", "<taskfleet.namespace>", "<taskfleet.iteration>",
	"<taskfleet.attempt>", "<taskfleet.scheduled-time>",
	"<taskfleet.scheduled-time-ms>",
};

/* The placeholder s starts with, or F__COUNT. */
static enum field
field_at(const char *s)
{
	int f;

	for (f = 0; f < F__COUNT; f++)
		if (strncmp(s, names[f], strlen(names[f])) == 0)
			return (enum field)f;
	return F__COUNT;
}

/* Checks one string; TF_ERR_INVALID with err set on an unknown
 * placeholder. */
static enum tf_err
check_string(const char *s, const char *what, bool no_attempt, char *err,
    size_t errlen)
{
	const char *p = s;
	enum field f;
	size_t n;

	while ((p = strstr(p, PREFIX)) != NULL) {
		f = field_at(p);
		if (f == F__COUNT || (no_attempt && f == F_ATTEMPT)) {
			n = strcspn(p, ">");
			tf_errf(err, errlen, "%s: %s \"%.*s%s\"%s", what,
			    f == F__COUNT ? "unknown placeholder" : "cannot use",
			    n > 40 ? 40 : (int)n + (p[n] == '>'), p,
			    n > 40 ? "..." : "", f == F__COUNT ?
			    " (known: <taskfleet.task-id>, namespace, iteration, "
			    "attempt, scheduled-time, scheduled-time-ms)" :
			    ": every attempt must send the same payload");
			return TF_ERR_INVALID;
		}
		p += strlen(names[f]);
	}
	return TF_OK;
}

enum tf_err
tf_template_check(const cJSON *v, const char *what, bool no_attempt,
    char *err, size_t errlen)
{
	const cJSON *c;
	enum tf_err rc;

	if (cJSON_IsString(v))
		return check_string(v->valuestring, what, no_attempt, err, errlen);
	cJSON_ArrayForEach(c, v) {
		if ((rc = tf_template_check(c, what, no_attempt, err, errlen)) != TF_OK)
			return rc;
	}
	return TF_OK;
}

enum tf_err
tf_template_string(const char *s, const struct tf_template_ctx *ctx,
    char **out)
{
	struct tf_buf b = TF_BUF_INIT;
	char iso[40];
	const char *p;
	enum field f;
	enum tf_err rc = TF_OK;

	*out = NULL;
	while (rc == TF_OK && (p = strstr(s, PREFIX)) != NULL) {
		rc = tf_buf_append(&b, s, (size_t)(p - s));
		f = field_at(p);
		if (rc != TF_OK)
			break;
		switch (f) {
		case F_TASK_ID:
			rc = tf_buf_append_str(&b, ctx->task_id);
			break;
		case F_NAMESPACE:
			rc = tf_buf_append_str(&b, ctx->ns != NULL ? ctx->ns : "");
			break;
		case F_ITERATION:
			rc = tf_buf_appendf(&b, "%" PRId64, ctx->iteration);
			break;
		case F_ATTEMPT:
			rc = tf_buf_appendf(&b, "%" PRId32, ctx->attempt);
			break;
		case F_SCHEDULED_TIME:
			rc = tf_buf_append_str(&b, tf_timefmt_format(ctx->scheduled_ms,
			    iso, sizeof(iso)));
			break;
		case F_SCHEDULED_MS:
			rc = tf_buf_appendf(&b, "%" PRId64, ctx->scheduled_ms);
			break;
		case F__COUNT:
			/* Not ours (checked before the run): kept as it is. */
			rc = tf_buf_append(&b, p, strlen(PREFIX));
			s = p + strlen(PREFIX);
			continue;
		}
		s = p + strlen(names[f]);
	}
	if (rc == TF_OK)
		rc = tf_buf_append_str(&b, s);
	if (rc != TF_OK) {
		tf_buf_free(&b);
		return rc;
	}
	*out = tf_buf_steal(&b);
	return *out != NULL ? TF_OK : TF_ERR_NOMEM;
}

enum tf_err
tf_template_apply(cJSON *v, const struct tf_template_ctx *ctx)
{
	cJSON *c;
	char *filled;
	enum tf_err rc;

	if (cJSON_IsString(v)) {
		if (strstr(v->valuestring, PREFIX) == NULL)
			return TF_OK;
		if ((rc = tf_template_string(v->valuestring, ctx, &filled)) != TF_OK)
			return rc;
		/* cJSON_SetValuestring copies; the copy is ours to free. */
		rc = cJSON_SetValuestring(v, filled) != NULL ? TF_OK : TF_ERR_NOMEM;
		tf_free(filled);
		return rc;
	}
	cJSON_ArrayForEach(c, v) {
		if ((rc = tf_template_apply(c, ctx)) != TF_OK)
			return rc;
	}
	return TF_OK;
}
