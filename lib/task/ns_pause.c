/* ns_pause.c - pausing a whole namespace: the paused set on the config item,
 * and resuming the tasks a pause suspended. */
#include "task/ns_pause.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/ddb.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "task/due.h"
#include "task/task.h"
#include "task/task_manage.h"

enum tf_err
tf_ns_pause_write(struct tf_aws *aws, const char *table, const char *ns,
    bool paused)
{
	struct tf_ddb_expr e = { 0 };
	cJSON *key = NULL, *set = cJSON_CreateObject();
	enum tf_err rc = TF_ERR_NOMEM;

	if (ns == NULL || !tf_task_ns_valid(ns)) {
		cJSON_Delete(set);
		return TF_ERR_INVALID;
	}
	if (set == NULL || cJSON_AddArrayToObject(set, "SS") == NULL ||
	    !cJSON_AddItemToArray(cJSON_GetObjectItem(set, "SS"),
	    cJSON_CreateString(ns)))
		goto out;
	/* ADD and DELETE of a set are idempotent, and DELETE of the last name
	 * removes the attribute (DynamoDB keeps no empty set). */
	e.update = paused ? "ADD paused_ns :ns" : "DELETE paused_ns :ns";
	rc = tf_ddb_expr_value(&e, ":ns", set);
	set = NULL;
	if (rc != TF_OK)
		goto out;
	rc = TF_ERR_NOMEM;
	if ((key = tf_task_key(TF_DUE_CONFIG_ID)) == NULL)
		goto out;
	rc = tf_ddb_update_item(aws, table, key, &e, NULL, NULL);
out:
	cJSON_Delete(set);
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
	return rc;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

enum tf_err
tf_ns_paused_from_item(const cJSON *item, struct tf_ns_paused *out)
{
	const cJSON *ss, *s;
	int n;

	memset(out, 0, sizeof(*out));
	ss = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    item, "paused_ns"), "SS");
	n = cJSON_GetArraySize(ss);
	if (n <= 0)
		return TF_OK;
	if ((out->names = tf_calloc((size_t)n, sizeof(char *))) == NULL)
		return TF_ERR_NOMEM;
	cJSON_ArrayForEach(s, ss) {
		if (!cJSON_IsString(s))
			continue;
		if ((out->names[out->n] = tf_strdup(s->valuestring)) == NULL) {
			tf_ns_paused_free(out);
			return TF_ERR_NOMEM;
		}
		out->n++;
	}
	qsort(out->names, out->n, sizeof(char *), by_name);
	return TF_OK;
}

enum tf_err
tf_ns_paused_read(struct tf_aws *aws, const char *table,
    struct tf_ns_paused *out)
{
	cJSON *item;
	enum tf_err rc = tf_due_config_read(aws, table, &item);

	memset(out, 0, sizeof(*out));
	if (rc == TF_OK && item != NULL)
		rc = tf_ns_paused_from_item(item, out);
	cJSON_Delete(item);
	return rc;
}

bool
tf_ns_paused_has(const struct tf_ns_paused *p, const char *ns)
{
	return ns != NULL && p->n > 0 && bsearch(&ns, p->names, p->n,
	    sizeof(char *), by_name) != NULL;
}

void
tf_ns_paused_free(struct tf_ns_paused *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		tf_free(p->names[i]);
	tf_free(p->names);
	memset(p, 0, sizeof(*p));
}

/* Resumes task id (suspended by a pause) and sends its message when due. */
static enum tf_err
resume_one(struct tf_aws *aws, const char *table, const char *queue_url,
    const char *id, int64_t now_ms, int64_t horizon_ms, char *errbuf,
    size_t errlen)
{
	struct tf_manage_result r;
	enum tf_err rc;
	int delay_s;

	rc = tf_manage_change(aws, table, id, TF_MANAGE_RESUME, now_ms,
	    horizon_ms, &r, errbuf, errlen);
	if (rc != TF_OK)
		return rc;
	if (r.verdict == TF_MANAGE_REFUSE) {
		snprintf(errbuf, errlen, "task %s is %s now", id,
		    tf_task_status_name(r.found));
		return TF_ERR_CONDITION;
	}
	if (r.enqueue_at > 0 && queue_url != NULL) {
		/* Unsent, the sweeper sends it within its grace. */
		rc = tf_manage_send(aws, queue_url, r.priority, id, r.gen, r.enqueue_at,
		    now_ms, &delay_s);
		if (rc != TF_OK)
			snprintf(errbuf, errlen, "task %s resumed, its message not "
			    "sent (the sweeper sends it): %s", id, tf_strerror(rc));
	}
	return TF_OK;
}

enum tf_err
tf_ns_resume_tasks(struct tf_aws *aws, const char *table,
    const char *queue_url, const char *ns, int64_t now_ms, int64_t horizon_ms,
    int64_t *resumed, int64_t *failed, char *errbuf, size_t errlen)
{
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query q = { 0 };
	cJSON *start = NULL, *page = NULL;
	const cJSON *it;
	const char *id;
	char err[256];
	enum tf_err rc;

	*resumed = *failed = 0;
	if (errlen > 0)
		errbuf[0] = '\0';
	if (ns == NULL || !tf_task_ns_valid(ns))
		return TF_ERR_INVALID;
	e.key_condition = "#ns = :ns";
	e.filter = "#st = :susp AND paused_by_ns = :yes";
	e.projection = "id";
	if ((rc = tf_ddb_expr_name(&e, "#ns", "ns")) != TF_OK ||
	    (rc = tf_ddb_expr_name(&e, "#st", "status")) != TF_OK ||
	    (rc = tf_ddb_expr_value_s(&e, ":ns", ns)) != TF_OK ||
	    (rc = tf_ddb_expr_value_s(&e, ":susp",
	    tf_task_status_name(TF_TASK_SUSPENDED))) != TF_OK ||
	    (rc = tf_ddb_expr_value_bool(&e, ":yes", true)) != TF_OK)
		goto out;
	q.table = table;
	q.index = "by_ns";
	q.expr = &e;
	do {
		rc = tf_ddb_query_page(aws, &q, &start, &page);
		if (rc != TF_OK)
			goto out;
		cJSON_ArrayForEach(it, page) {
			if ((id = tf_ddb_item_s(it, "id")) == NULL)
				continue;
			/* by_ns is eventually consistent: resume reads the item. */
			if (resume_one(aws, table, queue_url, id, now_ms, horizon_ms,
			    err, sizeof(err)) == TF_OK) {
				(*resumed)++;
			} else {
				if (*failed == 0 && errlen > 0)
					snprintf(errbuf, errlen, "%s", err);
				(*failed)++;
			}
		}
		cJSON_Delete(page);
		page = NULL;
	} while (start != NULL);
	rc = TF_OK;
out:
	cJSON_Delete(page);
	cJSON_Delete(start);
	tf_ddb_expr_free(&e);
	return rc;
}

/* Waits until every consumer's copy of the paused set was read after a
 * write that returned before the call (ns_pause.h). */
static void
wait_for_consumers(void)
{
	struct timespec ts = { TF_NS_PAUSE_FRESH_MS / 1000,
	    (TF_NS_PAUSE_FRESH_MS % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

enum tf_err
tf_ns_pause(struct tf_aws *aws, const char *table, const char *ns)
{
	enum tf_err rc = tf_ns_pause_write(aws, table, ns, true);

	if (rc == TF_OK)
		wait_for_consumers();
	return rc;
}

enum tf_err
tf_ns_resume(struct tf_aws *aws, const char *table, const char *queue_url,
    const char *ns, int64_t horizon_ms, bool *unpaused, int64_t *resumed,
    int64_t *failed, char *errbuf, size_t errlen)
{
	enum tf_err rc;

	*unpaused = false;
	*resumed = *failed = 0;
	rc = tf_ns_pause_write(aws, table, ns, false);
	if (rc != TF_OK)
		return rc;
	*unpaused = true;
	/* A consumer deciding on an older copy may still suspend a run: its
	 * task is resumed below only once no copy from before is in force. */
	wait_for_consumers();
	return tf_ns_resume_tasks(aws, table, queue_url, ns, tf_now_ms(),
	    horizon_ms, resumed, failed, errbuf, errlen);
}
