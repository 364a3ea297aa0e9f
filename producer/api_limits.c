/*
 * api_limits.c - limits per key in the API (api_handlers.h): GET
 * /v1/limits, PUT and DELETE /v1/limits/{key}, as `taskfleet limit` does
 * (lib/task/limits.h, docs/design.md section 14).
 */
#include "api_handlers.h"

#include <string.h>

#include "base/log.h"
#include "task/limits.h"

/* True when the request may change the limit on key: one on ns:NAME needs
 * a key that may write NAME; any other, a key that may write every
 * namespace. Else false after replying 403 (its result in *ret). */
static bool
may_change(struct rq *rq, const char *key, enum MHD_Result *ret)
{
	if (strncmp(key, "ns:", 3) == 0)
		return api_write_ns(rq, key + 3, ret);
	if (rq->key != NULL && !rq->key->all_ns) {
		*ret = api_error(rq, MHD_HTTP_FORBIDDEN, "forbidden", "this API key "
		    "may write only some namespaces: it may change only their "
		    "ns: limits");
		return false;
	}
	return true;
}

enum MHD_Result
api_list_limits(struct rq *rq)
{
	static const char *const allowed[] = { NULL };
	struct cli *c = rq->srv->cfg.cli;
	struct tf_limits ls;
	cJSON *o;
	enum MHD_Result ret;
	enum tf_err rc;

	if (!api_check_query(rq, allowed, &ret))
		return ret;
	rc = tf_limits_read(c->ctx.aws, c->cfg.table, &ls);
	if (rc != TF_OK)
		return api_aws_fail(rq, "reading the limits", rc);
	o = tf_limits_json(&ls);
	tf_limits_free(&ls);
	ret = o != NULL ? api_reply_json(rq, MHD_HTTP_OK, o) : api_oom(rq);
	cJSON_Delete(o);
	return ret;
}

enum MHD_Result
api_change_limit(struct rq *rq, const char *key, bool put)
{
	static const char *const allowed[] = { NULL };
	struct cli *c = rq->srv->cfg.cli;
	struct tf_limit l;
	cJSON *doc = NULL, *o;
	char err[512];
	enum MHD_Result ret;
	enum tf_err rc;

	if (!api_check_query(rq, allowed, &ret))
		return ret;
	if (tf_limit_check_key(key, err, sizeof(err)) != TF_OK)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s", err);
	if (!may_change(rq, key, &ret))
		return ret;
	if (!put) {
		rc = tf_limit_remove(c->ctx.aws, c->cfg.table, key);
		if (rc == TF_ERR_NOT_FOUND)
			return api_error(rq, MHD_HTTP_NOT_FOUND, "not_found",
			    "no limit is set on %s", key);
		if (rc != TF_OK)
			return api_aws_fail(rq, "removing the limit", rc);
		tf_log(TF_LOG_INFO, "api: removed the limit on %s", key);
		o = cJSON_CreateObject();
		if (o == NULL || cJSON_AddStringToObject(o, "key", key) == NULL ||
		    cJSON_AddBoolToObject(o, "removed", true) == NULL) {
			cJSON_Delete(o);
			return api_oom(rq);
		}
		ret = api_reply_json(rq, MHD_HTTP_OK, o);
		cJSON_Delete(o);
		return ret;
	}
	if (!api_is_json(rq))
		return api_error(rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported_media_type", "the body must be application/json");
	doc = cJSON_ParseWithLength(rq->body.data, rq->body.len);
	if (doc == NULL)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_json",
		    "the body is not JSON");
	rc = tf_limit_from_json(key, doc, &l, err, sizeof(err));
	cJSON_Delete(doc);
	if (rc != TF_OK)
		return api_error(rq, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s", err);
	rc = tf_limit_write(c->ctx.aws, c->cfg.table, &l);
	if (rc != TF_OK)
		return api_aws_fail(rq, "setting the limit", rc);
	tf_log(TF_LOG_INFO, "api: set the limit on %s", key);
	if ((o = tf_limit_json(&l)) == NULL)
		return api_oom(rq);
	ret = api_reply_json(rq, MHD_HTTP_OK, o);
	cJSON_Delete(o);
	return ret;
}
