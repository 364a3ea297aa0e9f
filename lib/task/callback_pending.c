/* callback_pending.c - the `callback_pending` attribute
 * (callback_pending.h). */
#include "task/callback_pending.h"

#include <string.h>

#include "base/alloc.h"

/* Adds AV av (owned, also on failure) to map m as name. */
static bool
add(cJSON *m, const char *name, cJSON *av)
{
	if (av == NULL)
		return false;
	if (!cJSON_AddItemToObject(m, name, av)) {
		cJSON_Delete(av);
		return false;
	}
	return true;
}

cJSON *
tf_callback_pending_av(const char *url, const char *id, const char *body,
    int64_t since, int64_t attempts)
{
	cJSON *av = cJSON_CreateObject(), *m = cJSON_CreateObject();

	if (av == NULL || m == NULL || !add(m, "url", tf_ddb_av_s(url)) ||
	    !add(m, "id", tf_ddb_av_s(id)) || !add(m, "body", tf_ddb_av_s(body)) ||
	    !add(m, "since", tf_ddb_av_n(since)) ||
	    !add(m, "attempts", tf_ddb_av_n(attempts)))
		goto fail;
	if (!cJSON_AddItemToObject(av, "M", m))
		goto fail;
	return av;
fail:
	cJSON_Delete(m);
	cJSON_Delete(av);
	return NULL;
}

/* Copies the S field name of map m into *out. */
static enum tf_err
copy_field(const cJSON *m, const char *name, char **out)
{
	const char *s = tf_ddb_item_s(m, name);

	if (s == NULL)
		return TF_ERR_PARSE;
	*out = tf_strdup(s);
	return *out != NULL ? TF_OK : TF_ERR_NOMEM;
}

enum tf_err
tf_callback_pending_parse(const char *av_text, struct tf_callback_pending *p)
{
	cJSON *av = NULL;
	const cJSON *m;
	enum tf_err rc = TF_ERR_PARSE;

	memset(p, 0, sizeof(*p));
	if (av_text == NULL || (av = cJSON_Parse(av_text)) == NULL)
		goto out;
	m = cJSON_GetObjectItemCaseSensitive(av, "M");
	if (!cJSON_IsObject(m) || !tf_ddb_item_n(m, "since", &p->since) ||
	    !tf_ddb_item_n(m, "attempts", &p->attempts))
		goto out;
	if ((rc = copy_field(m, "url", &p->url)) != TF_OK ||
	    (rc = copy_field(m, "id", &p->id)) != TF_OK ||
	    (rc = copy_field(m, "body", &p->body)) != TF_OK)
		goto out;
out:
	cJSON_Delete(av);
	if (rc != TF_OK)
		tf_callback_pending_free(p);
	return rc;
}

void
tf_callback_pending_free(struct tf_callback_pending *p)
{
	tf_free(p->url);
	tf_free(p->id);
	tf_free(p->body);
	memset(p, 0, sizeof(*p));
}

enum tf_err
tf_callback_pending_clear_build(struct tf_ddb_expr *e, const char *id,
    const char *finished)
{
	memset(e, 0, sizeof(*e));
	if (finished != NULL) {
		e->update = "REMOVE callback_pending, due_shard, due_at";
		e->condition = "callback_pending.id = :cbid AND #st = :st";
		if (tf_ddb_expr_name(e, "#st", "status") != TF_OK ||
		    tf_ddb_expr_value_s(e, ":st", finished) != TF_OK)
			return TF_ERR_NOMEM;
	} else {
		e->update = "REMOVE callback_pending";
		e->condition = "callback_pending.id = :cbid";
	}
	return tf_ddb_expr_value_s(e, ":cbid", id);
}

enum tf_err
tf_callback_pending_take_build(struct tf_ddb_expr *e,
    const struct tf_callback_pending *p, int64_t now_ms, int64_t due_at)
{
	memset(e, 0, sizeof(*e));
	e->update = due_at > 0 ? "SET callback_pending.since = :now, "
	    "callback_pending.attempts = :att, due_at = :da" :
	    "SET callback_pending.since = :now, callback_pending.attempts = :att";
	e->condition = "callback_pending.id = :cbid AND "
	    "callback_pending.since = :since";
	if (tf_ddb_expr_value_n(e, ":now", now_ms) != TF_OK ||
	    tf_ddb_expr_value_n(e, ":att", p->attempts + 1) != TF_OK ||
	    tf_ddb_expr_value_s(e, ":cbid", p->id) != TF_OK ||
	    tf_ddb_expr_value_n(e, ":since", p->since) != TF_OK ||
	    (due_at > 0 && tf_ddb_expr_value_n(e, ":da", due_at) != TF_OK))
		return TF_ERR_NOMEM;
	return TF_OK;
}
