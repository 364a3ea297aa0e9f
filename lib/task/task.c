/* task.c - the task item, its message, and its conditional state changes. */
#include "task/task.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "aws/ddb.h"
#include "aws/marshal.h"
#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json_scan.h"
#include "base/log.h"
#include "base/rand.h"
#include "task/due.h"
#include "task/task_write.h"
#include "webhook/callback.h"

static const char *const status_names[TF_TASK__STATUSES] = {
	"PENDING", "PROCESSING", "COMPLETED", "FAILED", "SUSPENDED"
};

const char *
tf_task_status_name(enum tf_task_status s)
{
	return (unsigned)s < TF_TASK__STATUSES ? status_names[s] : "UNKNOWN";
}

bool
tf_task_status_parse(const char *name, enum tf_task_status *out)
{
	int i;

	for (i = 0; i < TF_TASK__STATUSES; i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*out = (enum tf_task_status)i;
			return true;
		}
	}
	return false;
}

bool
tf_task_id_valid(const char *id)
{
	size_t n = 0;

	for (; id[n] != '\0'; n++)
		if (n >= TF_TASK_ID_MAX || !isgraph((unsigned char)id[n]))
			return false;
	return n > 0;
}

bool
tf_task_ns_valid(const char *ns)
{
	size_t n = 0;

	for (; ns[n] != '\0'; n++)
		if (n >= TF_TASK_NS_MAX || !(isalnum((unsigned char)ns[n]) ||
		    strchr("_.-", ns[n]) != NULL))
			return false;
	return n > 0;
}

bool
tf_task_flow_key_valid(const char *key)
{
	size_t n = 0;

	for (; key[n] != '\0'; n++)
		if (n >= TF_TASK_FLOW_KEY_MAX || key[n] <= ' ' || key[n] > '~' ||
		    key[n] == ';')
			return false;
	return n > 0;
}

bool
tf_task_type_valid(const char *type)
{
	size_t n = 0;

	if (type == NULL)
		return false;
	/* ASCII only, whatever the locale: isalnum() could take more. */
	for (; type[n] != '\0'; n++)
		if (n >= TF_TASK_TYPE_MAX || !((type[n] >= 'a' && type[n] <= 'z') ||
		    (type[n] >= 'A' && type[n] <= 'Z') ||
		    (type[n] >= '0' && type[n] <= '9') || type[n] == '_' ||
		    type[n] == '-'))
			return false;
	return n > 0;
}

enum tf_err
tf_task_label_check(enum tf_task_label which, const char *text, char *why,
    size_t whylen)
{
	size_t n = text != NULL ? strlen(text) : 0, i;
	size_t max = which == TF_TASK_NAME ? TF_TASK_NAME_MAX :
	    TF_TASK_DESCRIPTION_MAX;
	const unsigned char *u = (const unsigned char *)text;

	if (n > max) {
		snprintf(why, whylen, "too long (%zu bytes; at most %zu)", n, max);
		return TF_ERR_INVALID;
	}
	if (n > 0 && !tf_marshal_utf8_valid(text, n)) {
		snprintf(why, whylen, "not valid UTF-8");
		return TF_ERR_INVALID;
	}
	for (i = 0; i < n; i++) {
		/* C0, DEL and C1 (U+0080..U+009F: 0xC2 0x80..0x9F). */
		bool ctl = u[i] < 0x20 || u[i] == 0x7F ||
		    (u[i] == 0xC2 && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F);

		if (ctl && !(which == TF_TASK_DESCRIPTION &&
		    (u[i] == '\t' || u[i] == '\n' || u[i] == '\r'))) {
			snprintf(why, whylen, "holds a control character (byte %zu)%s",
			    i, which == TF_TASK_NAME ? "" : "; only tab and line "
			    "breaks are allowed");
			return TF_ERR_INVALID;
		}
	}
	return TF_OK;
}

enum tf_err
tf_task_labels_check(const char *name, const char *description, char *errbuf,
    size_t errlen)
{
	char why[128];

	if (tf_task_label_check(TF_TASK_NAME, name, why, sizeof(why)) != TF_OK) {
		snprintf(errbuf, errlen, "name: %s", why);
		return TF_ERR_INVALID;
	}
	if (tf_task_label_check(TF_TASK_DESCRIPTION, description, why,
	    sizeof(why)) != TF_OK) {
		snprintf(errbuf, errlen, "description: %s", why);
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

void
tf_task_shard(const char *id, char out[4])
{
	tf_due_shard(id, 0, out);
}

int64_t
tf_task_backoff_ms(int64_t attempts, int64_t base_ms, int64_t cap_ms)
{
	int64_t d = base_ms;
	int64_t i;

	for (i = 1; i < attempts && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	return tf_random_below(d + 1);
}

void
tf_task_free(struct tf_task *t)
{
	tf_free(t->id);
	tf_free(t->ns);
	tf_free(t->type);
	tf_free(t->name);
	tf_free(t->description);
	tf_free(t->callback);
	tf_free(t->failure_callback);
	tf_free(t->flow_key);
	tf_free(t->limited_by);
	tf_free(t->params_json);
	tf_free(t->result_json);
	tf_free(t->lease_owner);
	tf_free(t->lease_token);
	tf_free(t->last_error);
	cJSON_Delete(t->schedule);
	tf_free(t->errors_av);
	tf_free(t->history_av);
	tf_free(t->callback_pending_av);
	memset(t, 0, sizeof(*t));
}

/* Copies the S attribute `name` into *out (NULL when absent). False only when
 * out of memory. */
static bool
copy_s(const cJSON *item, const char *name, char **out)
{
	const char *s = tf_ddb_item_s(item, name);

	*out = NULL;
	if (s == NULL)
		return true;
	*out = tf_strdup(s);
	return *out != NULL;
}

static int64_t
get_n(const cJSON *item, const char *name, int64_t dflt)
{
	int64_t v;

	return tf_ddb_item_n(item, name, &v) ? v : dflt;
}

/* The numeric attributes the consumer acts on. One that is present must be a
 * whole number: read as 0, a `gen` or `next_run` of the wrong type would
 * make the consumer drop the task's live message as stale, or retry it
 * forever. Returns false with the reason in errbuf. */
static bool
numbers_valid(const cJSON *item, char *errbuf, size_t errlen)
{
	static const char *const names[] = {
		"gen", "next_run", "iteration", "attempts", "max_attempts",
		"lease_until", "enqueued_for", "slot", NULL,
	};
	const char *const *n;
	int64_t v;

	for (n = names; *n != NULL; n++) {
		if (tf_ddb_attr(item, *n) != NULL &&
		    !tf_ddb_item_n(item, *n, &v)) {
			snprintf(errbuf, errlen, "%s: not a whole number", *n);
			return false;
		}
	}
	return true;
}

/* True when the attribute is {"BOOL": true}. */
static bool
get_true(const cJSON *item, const char *name)
{
	const cJSON *av = tf_ddb_attr(item, name);

	return cJSON_IsTrue(tf_ddb_attr(av, "BOOL"));
}

/* Reads params: a native map (the contract), or JSON text in an S written by
 * an older producer. *out: JSON object text, caller frees with tf_free(). */
static enum tf_err
read_params(const cJSON *item, char **out, char *errbuf, size_t errlen)
{
	const cJSON *av = tf_ddb_attr(item, "params");
	const char *s;
	cJSON *check;

	*out = NULL;
	if (av == NULL || cJSON_IsTrue(tf_ddb_attr(av, "NULL"))) {
		*out = tf_strdup("{}");
		return *out ? TF_OK : TF_ERR_NOMEM;
	}
	if (tf_ddb_attr(av, "M") != NULL)
		return tf_unmarshal_value_to_json_text(av, out, errbuf, errlen);
	s = tf_ddb_item_s(item, "params");
	if (s != NULL) {
		check = cJSON_Parse(s);
		if (cJSON_IsObject(check)) {
			cJSON_Delete(check);
			*out = tf_strdup(s);
			return *out ? TF_OK : TF_ERR_NOMEM;
		}
		cJSON_Delete(check);
	}
	snprintf(errbuf, errlen, "params: not a map");
	return TF_ERR_PARSE;
}

enum tf_err
tf_task_from_item(const cJSON *item, struct tf_task *t, char *errbuf,
    size_t errlen)
{
	const char *status;
	const cJSON *av, *result;
	enum tf_err rc = TF_ERR_NOMEM;

	memset(t, 0, sizeof(*t));
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (tf_ddb_item_s(item, "id") == NULL) {
		snprintf(errbuf, errlen, "id: missing or not a string");
		return TF_ERR_PARSE;
	}
	if (tf_ddb_item_s(item, "type") == NULL) {
		snprintf(errbuf, errlen, "type: missing or not a string");
		return TF_ERR_PARSE;
	}
	if (!copy_s(item, "id", &t->id) || !copy_s(item, "type", &t->type) ||
	    !copy_s(item, "ns", &t->ns) || !copy_s(item, "lease_owner", &t->lease_owner) ||
	    !copy_s(item, "lease_token", &t->lease_token) ||
	    !copy_s(item, "last_error", &t->last_error) ||
	    !copy_s(item, "name", &t->name) ||
	    !copy_s(item, "description", &t->description) ||
	    !copy_s(item, "callback", &t->callback) ||
	    !copy_s(item, "failure_callback", &t->failure_callback) ||
	    !copy_s(item, "flow_key", &t->flow_key) ||
	    !copy_s(item, "limited_by", &t->limited_by))
		goto out;
	if (t->ns == NULL && (t->ns = tf_strdup(TF_DEFAULT_NS)) == NULL)
		goto out;
	rc = read_params(item, &t->params_json, errbuf, errlen);
	if (rc != TF_OK)
		goto out;
	/* The result is only shown, never acted on: one that is not a map, or
	 * that does not unmarshal, is left out rather than making the task
	 * unreadable (the consumer would then fail it). */
	result = tf_ddb_attr(item, "result");
	if (tf_ddb_attr(result, "M") != NULL) {
		rc = tf_unmarshal_value_to_json_text(result, &t->result_json, NULL, 0);
		if (rc == TF_ERR_NOMEM)
			goto out;
		if (rc != TF_OK) {
			tf_free(t->result_json);
			t->result_json = NULL;
		}
	}
	status = tf_ddb_item_s(item, "status");
	if (status == NULL) {
		/* The original scheduler's format: only `completed` says anything. */
		t->legacy = true;
		t->status = get_true(item, "completed") ? TF_TASK_COMPLETED :
		    TF_TASK_PENDING;
	} else if (!tf_task_status_parse(status, &t->status)) {
		snprintf(errbuf, errlen, "status: unknown value \"%.32s\"", status);
		rc = TF_ERR_PARSE;
		goto out;
	}
	if (!numbers_valid(item, errbuf, errlen)) {
		rc = TF_ERR_PARSE;
		goto out;
	}
	/* Only the original scheduler's items may have no due time. */
	if (!t->legacy && (t->status == TF_TASK_PENDING ||
	    t->status == TF_TASK_PROCESSING) &&
	    tf_ddb_attr(item, "next_run") == NULL) {
		snprintf(errbuf, errlen, "next_run: missing");
		rc = TF_ERR_PARSE;
		goto out;
	}
	t->gen = get_n(item, "gen", 0);
	t->next_run = get_n(item, "next_run", 0);
	t->iteration = get_n(item, "iteration", 0);
	t->attempts = get_n(item, "attempts", 0);
	t->max_attempts = get_n(item, "max_attempts", TF_DEFAULT_MAX_ATTEMPTS);
	t->lease_until = get_n(item, "lease_until", 0);
	t->enqueued_for = get_n(item, "enqueued_for", 0);
	t->slot = get_n(item, "slot", 0);
	t->limited_ms = get_n(item, "limited_ms", 0);
	t->suspend_requested = get_true(item, "suspend_requested");
	t->created_at = get_n(item, "created_at", 0);
	t->updated_at = get_n(item, "updated_at", 0);
	t->finished_at = get_n(item, "finished_at", 0);
	t->ttl = get_n(item, "ttl", 0);
	/* Only a hint where to queue it: a value that is none of the
	 * original format's (a name or a number) is normal. */
	(void)tf_priority_from_av(tf_ddb_attr(item,
	    "priority"), &t->priority);
	av = tf_ddb_attr(item, "schedule");
	if (av != NULL) {
		rc = tf_unmarshal_value(av, &t->schedule, errbuf, errlen);
		if (rc != TF_OK)
			goto out;
	}
	rc = TF_ERR_NOMEM;
	av = tf_ddb_attr(item, "errors");
	if (tf_ddb_attr(av, "L") != NULL &&
	    (t->errors_av = cJSON_PrintUnformatted(av)) == NULL)
		goto out;
	av = tf_ddb_attr(item, "history");
	if (tf_ddb_attr(av, "L") != NULL &&
	    (t->history_av = cJSON_PrintUnformatted(av)) == NULL)
		goto out;
	av = tf_ddb_attr(item, "callback_pending");
	if (tf_ddb_attr(av, "M") != NULL &&
	    (t->callback_pending_av = cJSON_PrintUnformatted(av)) == NULL)
		goto out;
	rc = TF_OK;
out:
	if (rc == TF_ERR_NOMEM)
		snprintf(errbuf, errlen, "out of memory");
	return rc;
}

/* Adds a number member. */
static bool
add_n(cJSON *o, const char *k, int64_t v)
{
	return cJSON_AddNumberToObject(o, k, (double)v) != NULL;
}

/* Adds list av (AV JSON, may be NULL: nothing added) to o as plain JSON
 * under key. A list that does not unmarshal is left out. False only when out
 * of memory. */
static bool
add_list(cJSON *o, const char *key, const char *av_text)
{
	cJSON *av, *plain = NULL;
	char eb[64];
	bool ok;

	if (av_text == NULL)
		return true;
	av = cJSON_Parse(av_text);
	if (av == NULL)
		return false;  /* it was printed by cJSON: only memory fails */
	ok = tf_unmarshal_value(av, &plain, eb, sizeof(eb)) != TF_OK ||
	    cJSON_AddItemToObject(o, key, plain);
	if (!ok)
		cJSON_Delete(plain);
	cJSON_Delete(av);
	return ok;
}

enum tf_err
tf_task_to_json(const struct tf_task *t, cJSON **out)
{
	cJSON *o = cJSON_CreateObject(), *copy = NULL;

	*out = NULL;
	if (o == NULL)
		return TF_ERR_NOMEM;
	/* params stay as their exact text: a raw item prints verbatim. */
	if (cJSON_AddStringToObject(o, "id", t->id) == NULL ||
	    cJSON_AddStringToObject(o, "ns", t->ns) == NULL ||
	    cJSON_AddStringToObject(o, "type", t->type) == NULL ||
	    (t->name != NULL &&
	    cJSON_AddStringToObject(o, "name", t->name) == NULL) ||
	    (t->description != NULL &&
	    cJSON_AddStringToObject(o, "description", t->description) == NULL) ||
	    (t->callback != NULL &&
	    cJSON_AddStringToObject(o, "callback", t->callback) == NULL) ||
	    (t->failure_callback != NULL &&
	    cJSON_AddStringToObject(o, "failure_callback", t->failure_callback) == NULL) ||
	    (t->flow_key != NULL &&
	    cJSON_AddStringToObject(o, "flow_key", t->flow_key) == NULL) ||
	    cJSON_AddRawToObject(o, "params", t->params_json) == NULL ||
	    cJSON_AddStringToObject(o, "status", tf_task_status_name(t->status)) == NULL ||
	    cJSON_AddStringToObject(o, "priority", tf_priority_name(t->priority)) == NULL ||
	    !add_n(o, "next_run", t->next_run) || !add_n(o, "iteration", t->iteration) ||
	    !add_n(o, "attempts", t->attempts) || !add_n(o, "max_attempts", t->max_attempts) ||
	    !add_n(o, "gen", t->gen) || !add_n(o, "created_at", t->created_at) ||
	    !add_n(o, "updated_at", t->updated_at))
		goto fail;
	if ((t->finished_at && !add_n(o, "finished_at", t->finished_at)) ||
	    (t->ttl && !add_n(o, "ttl", t->ttl)) ||
	    (t->lease_owner && (cJSON_AddStringToObject(o, "lease_owner", t->lease_owner) == NULL ||
	    !add_n(o, "lease_until", t->lease_until))) ||
	    (t->last_error && cJSON_AddStringToObject(o, "last_error", t->last_error) == NULL) ||
	    (t->enqueued_for && !add_n(o, "enqueued_for", t->enqueued_for)) ||
	    (t->limited_by && (cJSON_AddStringToObject(o, "limited_by", t->limited_by) == NULL ||
	    !add_n(o, "limited_ms", t->limited_ms))) ||
	    (t->result_json && cJSON_AddRawToObject(o, "result", t->result_json) == NULL))
		goto fail;
	if (t->schedule != NULL) {
		copy = cJSON_Duplicate(t->schedule, 1);
		if (copy == NULL || !cJSON_AddItemToObject(o, "schedule", copy))
			goto fail_copy;
		copy = NULL;
	}
	if (!add_list(o, "errors", t->errors_av) ||
	    !add_list(o, "history", t->history_av))
		goto fail;
	*out = o;
	return TF_OK;
fail_copy:
	cJSON_Delete(copy);
fail:
	cJSON_Delete(o);
	return TF_ERR_NOMEM;
}

/* A message number's value as cJSON reads it (strtod of at most its first
 * 63 bytes): plain digits at once, the rest through strtod. */
static double
message_number(const struct tf_json_str *n)
{
	char text[64];
	size_t i, len = n->len < sizeof(text) ? n->len : sizeof(text) - 1;
	int64_t v = 0;

	for (i = 0; i < len && len <= 15 && n->raw[i] >= '0' && n->raw[i] <= '9';
	    i++)
		v = v * 10 + (n->raw[i] - '0');
	if (i == len && len > 0)
		return (double)v;
	memcpy(text, n->raw, len);
	text[len] = '\0';
	return strtod(text, NULL);
}

/* Reads the number or null at sc's position into *v; *present is false for
 * null. False when it is neither. */
static bool
message_member_number(struct tf_json_scan *sc, double *v, bool *present)
{
	struct tf_json_str n;

	*present = false;
	if (tf_json_peek(sc) == TF_JSON_NULL)
		return tf_json_skip(sc);
	if (tf_json_peek(sc) != TF_JSON_NUMBER || !tf_json_number(sc, &n))
		return false;
	*v = message_number(&n);
	*present = true;
	return true;
}

enum tf_err
tf_task_message_parse(const char *body, struct tf_task_message *m,
    char *errbuf, size_t errlen)
{
	struct tf_json_scan sc;
	struct tf_json_str key, id = { NULL, 0, false };
	struct tf_json_str prio = { NULL, 0, false };  /* its bytes, when set */
	char text[TF_TASK_ID_MAX + 8];  /* longer ids are cut here: still too
	                                   long to be valid */
	bool seen_id = false, seen_ts = false, seen_gen = false, bad_ts = false;
	bool bad_gen = false, present, is_ts;
	cJSON *pv;
	double v;
	size_t start;

	memset(m, 0, sizeof(*m));
	/* Read without a tree (json_scan.h): only four members count. As
	 * cJSON_Parse() did, the first of duplicates counts and anything after
	 * the object is not looked at. */
	tf_json_scan_init(&sc, body, strlen(body));
	if (tf_json_enter(&sc, TF_JSON_OBJECT)) {
		while (tf_json_member(&sc, &key)) {
			if (!seen_id && tf_json_str_eq(&key, "taskId")) {
				seen_id = true;
				if (tf_json_peek(&sc) == TF_JSON_STRING) {
					tf_json_string(&sc, &id);
					continue;
				}
			} else if ((is_ts = !seen_ts && tf_json_str_eq(&key,
			    "targetTimestamp")) || (!seen_gen &&
			    tf_json_str_eq(&key, "gen"))) {
				*(is_ts ? &seen_ts : &seen_gen) = true;
				if (!message_member_number(&sc, &v, &present)) {
					*(is_ts ? &bad_ts : &bad_gen) = true;
					if (!tf_json_skip(&sc))
						break;
				} else if (present && is_ts) {
					bad_ts = v < 0 || v > 9.0e15;
					m->target_ms = bad_ts ? 0 : (int64_t)v;
				} else if (present) {
					bad_gen = v < 0 || v > 9.0e15 ||
					    v != (double)(int64_t)v;
					m->gen = bad_gen ? 0 : (int64_t)v;
					m->has_gen = !bad_gen;
				}
				continue;
			} else if (prio.raw == NULL && tf_json_str_eq(&key,
			    "priority")) {
				(void)tf_json_peek(&sc);
				start = sc.pos;
				if (tf_json_skip(&sc)) {
					prio.raw = body + start;
					prio.len = sc.pos - start;
				}
				continue;
			}
			if (!tf_json_skip(&sc))
				break;
		}
	}
	if (sc.error != NULL || sc.depth != 0) {
		snprintf(errbuf, errlen, "message body is not a JSON object");
		return TF_ERR_PARSE;
	}
	if (id.raw == NULL || (tf_json_str_copy(&id, text, sizeof(text)),
	    !tf_task_id_valid(text))) {
		snprintf(errbuf, errlen, "taskId: missing or not a valid id");
		return TF_ERR_PARSE;
	}
	memcpy(m->id, text, strlen(text) + 1);  /* valid: at most the id's size */
	if (bad_ts) {
		snprintf(errbuf, errlen, "targetTimestamp: not epoch milliseconds");
		return TF_ERR_PARSE;
	}
	if (bad_gen) {
		snprintf(errbuf, errlen, "gen: not a generation number");
		return TF_ERR_PARSE;
	}
	/* A hint, as in the item: any other value is normal; null (the usual)
	 * needs no tree. */
	m->priority = TF_PRIORITY_NORMAL;
	if (prio.raw != NULL && !(prio.len == 4 && memcmp(prio.raw, "null",
	    4) == 0)) {
		pv = cJSON_ParseWithLength(prio.raw, prio.len);
		if (pv == NULL)
			return TF_ERR_NOMEM;
		(void)tf_priority_from_json(pv, &m->priority);
		cJSON_Delete(pv);
	}
	return TF_OK;
}

enum tf_err
tf_task_message_format(const char *id, int64_t target_ms, int64_t gen,
    enum tf_priority p, char **body)
{
	cJSON *doc = cJSON_CreateObject();

	*body = NULL;
	if (doc != NULL && cJSON_AddStringToObject(doc, "taskId", id) != NULL &&
	    cJSON_AddNumberToObject(doc, "targetTimestamp", (double)target_ms) != NULL &&
	    (p == TF_PRIORITY_NORMAL ?
	    cJSON_AddNullToObject(doc, "priority") != NULL :
	    cJSON_AddStringToObject(doc, "priority", tf_priority_name(p)) != NULL) &&
	    cJSON_AddNumberToObject(doc, "gen", (double)gen) != NULL)
		*body = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return *body != NULL ? TF_OK : TF_ERR_NOMEM;
}

cJSON *
tf_task_key(const char *id)
{
	cJSON *k = cJSON_CreateObject(), *av = tf_ddb_av_s(id);

	if (k == NULL || av == NULL || !cJSON_AddItemToObject(k, "id", av)) {
		cJSON_Delete(av);
		cJSON_Delete(k);
		return NULL;
	}
	return k;
}

/* Adds attribute name = av to item; takes av (also on failure). */
static bool
put_attr(cJSON *item, const char *name, cJSON *av)
{
	if (av == NULL || !cJSON_AddItemToObject(item, name, av)) {
		cJSON_Delete(av);
		return false;
	}
	return true;
}

enum tf_err
tf_task_create_item(const struct tf_task_spec *spec, int64_t now_ms,
    cJSON **item_out, const char **id_out, bool *enqueue, char *errbuf,
    size_t errlen)
{
	enum tf_err rc = TF_ERR_INVALID;
	cJSON *item = NULL, *params = NULL, *sched = NULL;
	const char *ns = spec->ns ? spec->ns : TF_DEFAULT_NS;
	const char *ptext = spec->params_json ? spec->params_json : "{}";
	char idbuf[37], shard[4], why[128];
	const char *id = spec->id;
	int64_t max_attempts = spec->max_attempts ? spec->max_attempts :
	    TF_DEFAULT_MAX_ATTEMPTS;
	bool soon, ok;

	*item_out = NULL;
	*id_out = NULL;
	*enqueue = false;
	if (id == NULL) {
		uuid_t u;

		uuid_generate_random(u);
		uuid_unparse_lower(u, idbuf);
		id = idbuf;
	}
	if (!tf_task_id_valid(id)) {
		snprintf(errbuf, errlen, "id: must be 1 to %d printable characters "
		    "without spaces", TF_TASK_ID_MAX);
		goto out;
	}
	if (!tf_task_ns_valid(ns)) {
		snprintf(errbuf, errlen, "ns: must be 1 to %d of A-Z a-z 0-9 _ . -",
		    TF_TASK_NS_MAX);
		goto out;
	}
	if (!tf_task_type_valid(spec->type)) {
		snprintf(errbuf, errlen, "type: must be %s", TF_TASK_TYPE_SYNTAX);
		goto out;
	}
	if (max_attempts < 1 || max_attempts > 1000) {
		snprintf(errbuf, errlen, "max_attempts: must be from 1 to 1000");
		goto out;
	}
	if (tf_task_labels_check(spec->name, spec->description, errbuf,
	    errlen) != TF_OK)
		goto out;
	if (tf_callback_url_check(spec->callback, why, sizeof(why)) != TF_OK) {
		snprintf(errbuf, errlen, "callback: %s", why);
		goto out;
	}
	if (tf_callback_url_check(spec->failure_callback, why,
	    sizeof(why)) != TF_OK) {
		snprintf(errbuf, errlen, "failure_callback: %s", why);
		goto out;
	}
	if (spec->flow_key != NULL && spec->flow_key[0] != '\0' &&
	    !tf_task_flow_key_valid(spec->flow_key)) {
		snprintf(errbuf, errlen, "flow_key: must be 1 to %d printable "
		    "characters without spaces or ';'", TF_TASK_FLOW_KEY_MAX);
		goto out;
	}
	if (spec->next_run <= 0) {
		snprintf(errbuf, errlen, "next_run: must be a time after 1970");
		goto out;
	}
	rc = tf_marshal_value_json_text(ptext, strlen(ptext), &params, errbuf, errlen);
	if (rc != TF_OK)
		goto out;
	if (cJSON_GetObjectItemCaseSensitive(params, "M") == NULL) {
		snprintf(errbuf, errlen, "params: must be a JSON object");
		rc = TF_ERR_INVALID;
		goto out;
	}
	if (spec->schedule != NULL) {
		rc = tf_marshal_value(spec->schedule, &sched, errbuf, errlen);
		if (rc != TF_OK)
			goto out;
	}
	rc = TF_ERR_NOMEM;
	soon = spec->next_run <= now_ms + (spec->horizon_ms > 0 ? spec->horizon_ms :
	    TF_ENQUEUE_HORIZON_MS);
	tf_task_shard(id, shard);
	item = cJSON_CreateObject();
	if (item == NULL)
		goto out;
	/* params and sched go in first: put_attr takes them either way. */
	ok = put_attr(item, "params", params);
	params = NULL;
	if (ok && sched != NULL) {
		ok = put_attr(item, "schedule", sched) &&
		    put_attr(item, "slot", tf_ddb_av_n(spec->next_run));
	}
	sched = NULL;
	if (!ok ||
	    !put_attr(item, "id", tf_ddb_av_s(id)) ||
	    !put_attr(item, "ns", tf_ddb_av_s(ns)) ||
	    !put_attr(item, "type", tf_ddb_av_s(spec->type)) ||
	    (spec->name != NULL && spec->name[0] != '\0' &&
	    !put_attr(item, "name", tf_ddb_av_s(spec->name))) ||
	    (spec->description != NULL && spec->description[0] != '\0' &&
	    !put_attr(item, "description", tf_ddb_av_s(spec->description))) ||
	    (spec->callback != NULL && spec->callback[0] != '\0' &&
	    !put_attr(item, "callback", tf_ddb_av_s(spec->callback))) ||
	    (spec->failure_callback != NULL && spec->failure_callback[0] != '\0' &&
	    !put_attr(item, "failure_callback", tf_ddb_av_s(spec->failure_callback))) ||
	    (spec->flow_key != NULL && spec->flow_key[0] != '\0' &&
	    !put_attr(item, "flow_key", tf_ddb_av_s(spec->flow_key))) ||
	    (spec->priority != TF_PRIORITY_NORMAL &&
	    !put_attr(item, "priority", tf_ddb_av_s(tf_priority_name(spec->priority)))) ||
	    !put_attr(item, "status", tf_ddb_av_s("PENDING")) ||
	    !put_attr(item, "completed", tf_ddb_av_bool(false)) ||
	    !put_attr(item, "next_run", tf_ddb_av_n(spec->next_run)) ||
	    !put_attr(item, "iteration", tf_ddb_av_n(0)) ||
	    !put_attr(item, "attempts", tf_ddb_av_n(0)) ||
	    !put_attr(item, "max_attempts", tf_ddb_av_n(max_attempts)) ||
	    !put_attr(item, "gen", tf_ddb_av_n(1)) ||
	    !put_attr(item, "created_at", tf_ddb_av_n(now_ms)) ||
	    !put_attr(item, "updated_at", tf_ddb_av_n(now_ms)) ||
	    !put_attr(item, "due_shard", tf_ddb_av_s(shard)) ||
	    !put_attr(item, "due_at", tf_ddb_av_n(soon ? tf_due_at_message(NULL,
	    spec->next_run > now_ms ? spec->next_run : now_ms) : spec->next_run)) ||
	    (soon && !put_attr(item, "enqueued_for", tf_ddb_av_n(
	    spec->next_run > now_ms ? spec->next_run : now_ms))))
		goto out;
	if (tf_marshal_item_size(item) > TF_MARSHAL_MAX_ITEM_SIZE) {
		snprintf(errbuf, errlen, "params: the task is larger than DynamoDB's "
		    "400 KB item limit");
		rc = TF_ERR_TOO_LARGE;
		goto out;
	}
	*id_out = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(item, "id"), "S")->valuestring;
	*enqueue = soon;
	*item_out = item;
	item = NULL;
	rc = TF_OK;
out:
	cJSON_Delete(params);
	cJSON_Delete(sched);
	cJSON_Delete(item);
	return rc;
}

bool
tf_task_create_was_ours(const struct tf_task *t,
    const struct tf_task_spec *spec, int64_t now_ms)
{
	const char *ns = spec->ns ? spec->ns : TF_DEFAULT_NS;

	return t->created_at == now_ms && t->ns != NULL && t->type != NULL &&
	    strcmp(t->ns, ns) == 0 && strcmp(t->type, spec->type) == 0;
}

/* tf_task_create()'s put of item (id) failed its condition after more than
 * one send: TF_OK when the item is ours, TF_ERR_CONDITION when it is
 * another's (or gone since), or why it could not be read. */
static enum tf_err
create_read_back(struct tf_aws *aws, const char *table,
    const struct tf_task_spec *spec, const char *id, int64_t now_ms,
    char *errbuf, size_t errlen)
{
	struct tf_task t;
	enum tf_err rc;

	rc = tf_task_get(aws, table, id, &t, errbuf, errlen);
	if (rc == TF_OK)
		rc = tf_task_create_was_ours(&t, spec, now_ms) ? TF_OK :
		    TF_ERR_CONDITION;
	else if (rc == TF_ERR_NOT_FOUND)
		rc = TF_ERR_CONDITION;
	tf_task_free(&t);
	return rc;
}

enum tf_err
tf_task_create(struct tf_aws *aws, const char *table,
    const struct tf_task_spec *spec, int64_t now_ms, char **id_out,
    bool *enqueue, char *errbuf, size_t errlen)
{
	struct tf_ddb_expr e = { 0 };
	cJSON *item = NULL;
	const char *id;
	bool soon;
	enum tf_err rc;

	*id_out = NULL;
	*enqueue = false;
	/* The table's shard count (read once; 16 if that fails, always safe). */
	(void)tf_due_load(aws, table);
	rc = tf_task_create_item(spec, now_ms, &item, &id, &soon, errbuf, errlen);
	if (rc != TF_OK)
		goto out;
	e.condition = TF_TASK_CREATE_CONDITION;
	rc = tf_ddb_put_item(aws, table, item, &e);
	if (rc == TF_ERR_CONDITION && tf_aws_last_error()->attempts > 1)
		rc = create_read_back(aws, table, spec, id, now_ms, errbuf, errlen);
	if (rc != TF_OK)
		goto out;
	*id_out = tf_strdup(id);
	if (*id_out == NULL) {
		rc = TF_ERR_NOMEM;
		goto out;
	}
	*enqueue = soon;
out:
	cJSON_Delete(item);
	return rc;
}

enum tf_err
tf_task_get(struct tf_aws *aws, const char *table, const char *id,
    struct tf_task *t, char *errbuf, size_t errlen)
{
	cJSON *key = tf_task_key(id), *item = NULL;
	enum tf_err rc;

	memset(t, 0, sizeof(*t));
	if (key == NULL)
		return TF_ERR_NOMEM;
	rc = tf_ddb_get_item(aws, table, key, true, NULL, &item);
	if (rc == TF_OK)
		rc = tf_task_from_item(item, t, errbuf, errlen);
	cJSON_Delete(item);
	cJSON_Delete(key);
	return rc;
}

/* Runs an UpdateItem on task id with e, returning ALL_NEW into *t when t is
 * not NULL. */
static enum tf_err
update_task(struct tf_aws *aws, const char *table, const char *id,
    const struct tf_ddb_expr *e, struct tf_task *t, char *errbuf, size_t errlen)
{
	cJSON *key = tf_task_key(id), *attrs = NULL;
	enum tf_err rc;

	if (key == NULL)
		return TF_ERR_NOMEM;
	rc = tf_ddb_update_item(aws, table, key, e, t ? "ALL_NEW" : NULL,
	    t ? &attrs : NULL);
	if (rc == TF_OK && t != NULL)
		rc = attrs ? tf_task_from_item(attrs, t, errbuf, errlen) : TF_ERR_PARSE;
	cJSON_Delete(attrs);
	cJSON_Delete(key);
	return rc;
}

/* The claim was retried and failed its condition: true when the item shows
 * that an earlier attempt of this same claim was applied (its token, the
 * generation it wrote, PROCESSING); *t then holds the item. */
static bool
claim_was_ours(struct tf_aws *aws, const char *table, const char *id,
    int64_t msg_gen, const char *token, struct tf_task *t)
{
	char err[64];

	if (tf_task_get(aws, table, id, t, err, sizeof(err)) != TF_OK)
		return false;
	if (tf_task_claim_is(t, msg_gen, token))
		return true;
	tf_task_free(t);
	memset(t, 0, sizeof(*t));
	return false;
}

void
tf_task_new_token(char token[TF_TASK_TOKEN_SIZE])
{
	snprintf(token, TF_TASK_TOKEN_SIZE, "%016llx%016llx",
	    (unsigned long long)tf_random_below(INT64_MAX),
	    (unsigned long long)tf_random_below(INT64_MAX));
}

enum tf_err
tf_task_claim_build(struct tf_ddb_expr *e, const char *id, int64_t msg_gen,
    const char *owner, int64_t now_ms, int64_t skew_ms, int64_t lease_ms,
    char token[TF_TASK_TOKEN_SIZE])
{
	char shard[4];

	memset(e, 0, sizeof(*e));
	tf_task_shard(id, shard);
	tf_task_new_token(token);
	e->update = "SET #st = :processing, gen = :ng, lease_owner = :me, "
	    "lease_until = :lu, lease_token = :tok, due_at = :lda, "
	    "due_shard = if_not_exists(due_shard, :shard), "
	    "updated_at = :now, completed = :f, ns = if_not_exists(ns, :dns), "
	    "iteration = if_not_exists(iteration, :zero), "
	    "attempts = if_not_exists(attempts, :zero), "
	    "max_attempts = if_not_exists(max_attempts, :dmax), "
	    "created_at = if_not_exists(created_at, :now), "
	    "next_run = if_not_exists(next_run, :now) REMOVE enqueued_for";
	/* Items of the original scheduler have no status, gen or next_run; the
	 * item must exist, or the update would create one. */
	e->condition = msg_gen == 0 ?
	    "attribute_exists(id) AND "
	    "(#st = :pending OR (attribute_not_exists(#st) AND "
	    "(attribute_not_exists(completed) OR completed = :f))) AND "
	    "(attribute_not_exists(next_run) OR next_run <= :due) AND "
	    "(attribute_not_exists(gen) OR gen = :g)" :
	    "#st = :pending AND next_run <= :due AND gen = :g";
	if (tf_ddb_expr_name(e, "#st", "status") != TF_OK ||
	    tf_ddb_expr_value_s(e, ":processing", "PROCESSING") != TF_OK ||
	    tf_ddb_expr_value_s(e, ":pending", "PENDING") != TF_OK ||
	    tf_ddb_expr_value_n(e, ":ng", msg_gen + 1) != TF_OK ||
	    tf_ddb_expr_value_n(e, ":g", msg_gen) != TF_OK ||
	    tf_ddb_expr_value_s(e, ":me", owner) != TF_OK ||
	    tf_ddb_expr_value_n(e, ":lu", now_ms + lease_ms) != TF_OK ||
	    tf_ddb_expr_value_n(e, ":lda", tf_due_at_lease(NULL,
	    now_ms + lease_ms)) != TF_OK ||
	    tf_ddb_expr_value_s(e, ":tok", token) != TF_OK ||
	    tf_ddb_expr_value_s(e, ":shard", shard) != TF_OK ||
	    tf_ddb_expr_value_n(e, ":now", now_ms) != TF_OK ||
	    tf_ddb_expr_value_n(e, ":due", now_ms + skew_ms) != TF_OK ||
	    tf_ddb_expr_value_bool(e, ":f", false) != TF_OK ||
	    tf_ddb_expr_value_s(e, ":dns", TF_DEFAULT_NS) != TF_OK ||
	    tf_ddb_expr_value_n(e, ":zero", 0) != TF_OK ||
	    tf_ddb_expr_value_n(e, ":dmax", TF_DEFAULT_MAX_ATTEMPTS) != TF_OK) {
		tf_ddb_expr_free(e);
		return TF_ERR_NOMEM;
	}
	return TF_OK;
}

bool
tf_task_claim_is(const struct tf_task *t, int64_t msg_gen, const char *token)
{
	return t->status == TF_TASK_PROCESSING && t->gen == msg_gen + 1 &&
	    t->lease_token != NULL && strcmp(t->lease_token, token) == 0;
}

void
tf_task_log_claim_recovered(const char *id)
{
	struct tf_log_field f[] = { { "task", id } };

	tf_log_fields(TF_LOG_INFO, f, 1, "claim reply was lost and its retry "
	    "found the claim already made by this consumer; running it");
}

enum tf_err
tf_task_claim(struct tf_aws *aws, const char *table, const char *id,
    int64_t msg_gen, const char *owner, int64_t now_ms, int64_t skew_ms,
    int64_t lease_ms, struct tf_task *t, char *errbuf, size_t errlen)
{
	struct tf_ddb_expr e;
	char token[TF_TASK_TOKEN_SIZE];
	enum tf_err rc;

	memset(t, 0, sizeof(*t));
	rc = tf_task_claim_build(&e, id, msg_gen, owner, now_ms, skew_ms,
	    lease_ms, token);
	if (rc != TF_OK)
		return rc;
	rc = update_task(aws, table, id, &e, t, errbuf, errlen);
	if (rc == TF_ERR_CONDITION && tf_aws_last_error()->attempts > 1 &&
	    claim_was_ours(aws, table, id, msg_gen, token, t)) {
		tf_task_log_claim_recovered(id);
		rc = TF_OK;
	}
	tf_ddb_expr_free(&e);
	return rc;
}

/* Binds the condition "the lease is still ours": gen, owner, PROCESSING. */
static enum tf_err
bind_lease(struct tf_ddb_expr *e, int64_t gen, const char *owner)
{
	enum tf_err rc;

	if ((rc = tf_ddb_expr_name(e, "#st", "status")) != TF_OK ||
	    (rc = tf_ddb_expr_value_n(e, ":g", gen)) != TF_OK ||
	    (rc = tf_ddb_expr_value_s(e, ":me", owner)) != TF_OK ||
	    (rc = tf_ddb_expr_value_s(e, ":processing", "PROCESSING")) != TF_OK)
		return rc;
	return TF_OK;
}

#define LEASE_CONDITION "gen = :g AND lease_owner = :me AND #st = :processing"

enum tf_err
tf_task_extend_lease_build(struct tf_ddb_expr *e, int64_t gen,
    const char *owner, int64_t until_ms)
{
	enum tf_err rc;

	memset(e, 0, sizeof(*e));
	e->update = "SET lease_until = :lu, due_at = :lda";
	e->condition = LEASE_CONDITION;
	rc = bind_lease(e, gen, owner);
	if (rc == TF_OK)
		rc = tf_ddb_expr_value_n(e, ":lu", until_ms);
	if (rc == TF_OK)
		rc = tf_ddb_expr_value_n(e, ":lda", tf_due_at_lease(NULL, until_ms));
	if (rc != TF_OK)
		tf_ddb_expr_free(e);
	return rc;
}

enum tf_err
tf_task_extend_lease(struct tf_aws *aws, const char *table, const char *id,
    int64_t gen, const char *owner, int64_t until_ms)
{
	struct tf_ddb_expr e;
	enum tf_err rc;

	rc = tf_task_extend_lease_build(&e, gen, owner, until_ms);
	if (rc != TF_OK)
		return rc;
	rc = update_task(aws, table, id, &e, NULL, NULL, 0);
	tf_ddb_expr_free(&e);
	return rc;
}

/* The list old_text (AV JSON text {"L":[...]}, may be NULL) with entry (an
 * AV, taken) at its end, keeping the latest `keep`, as an AV. Caller frees with
 * cJSON_Delete(); NULL when out of memory. */
static cJSON *
list_with(const char *old_text, int keep, cJSON *entry)
{
	cJSON *av = cJSON_CreateObject(), *list, *copy, *old = NULL;
	const cJSON *items, *e;
	int skip, i = 0;

	if (old_text != NULL && (old = cJSON_Parse(old_text)) == NULL)
		goto fail;  /* printed by cJSON: only memory fails */
	items = cJSON_GetObjectItemCaseSensitive(old, "L");
	skip = cJSON_GetArraySize(items) - (keep - 1);
	list = av ? cJSON_AddArrayToObject(av, "L") : NULL;
	if (list == NULL)
		goto fail;
	cJSON_ArrayForEach(e, items) {
		if (i++ < skip)
			continue;
		copy = cJSON_Duplicate(e, 1);
		if (copy == NULL || !cJSON_AddItemToArray(list, copy)) {
			cJSON_Delete(copy);
			goto fail;
		}
	}
	if (!cJSON_AddItemToArray(list, entry)) {
		entry = NULL;
		goto fail;
	}
	cJSON_Delete(old);
	return av;
fail:
	cJSON_Delete(old);
	cJSON_Delete(entry);
	cJSON_Delete(av);
	return NULL;
}

/* The `errors` list with one more entry, keeping the latest ten, as an AV.
 * Caller frees with cJSON_Delete(); NULL when out of memory. */
static cJSON *
errors_with(const struct tf_task *t, const char *text, int64_t now_ms)
{
	cJSON *entry = cJSON_CreateObject(), *m;
	char cut[TF_TASK_ERROR_MAX + 1];

	snprintf(cut, sizeof(cut), "%s", text);
	m = entry ? cJSON_AddObjectToObject(entry, "M") : NULL;
	if (m == NULL || !put_attr(m, "at", tf_ddb_av_n(now_ms)) ||
	    !put_attr(m, "error", tf_ddb_av_s(cut)) ||
	    !put_attr(m, "iteration", tf_ddb_av_n(t->iteration)) ||
	    !put_attr(m, "attempt", tf_ddb_av_n(t->attempts + 1))) {
		cJSON_Delete(entry);
		return NULL;
	}
	return list_with(t->errors_av, TF_TASK_ERRORS_KEPT, entry);
}

/* What a run came to, for `history`: completed (the task is over), success
 * (another iteration follows), retry, failed (the task is over), or error (a
 * recurring task's occurrence failed for good; its schedule goes on). */
static const char *
history_outcome(const struct tf_task_outcome *o, enum tf_task_status state)
{
	if (o->paused_ns)
		return "paused";      /* not run: its namespace is paused */
	if (state == TF_TASK_FAILED || o->kind == TF_OUTCOME_FAILED)
		return "failed";      /* also a retry that used the last attempt */
	if (o->kind == TF_OUTCOME_RETRY)
		return "retry";
	if (o->error != NULL)
		return "error";
	return state == TF_TASK_COMPLETED ? "completed" : "success";
}

/* The `history` list with this run added, keeping o->history_kept entries,
 * as an AV. Caller frees with cJSON_Delete(); NULL when out of memory. */
static cJSON *
history_with(const struct tf_task *t, const struct tf_task_outcome *o,
    enum tf_task_status state, int64_t now_ms)
{
	cJSON *entry = cJSON_CreateObject(), *m;
	int keep = o->history_kept > TF_TASK_HISTORY_MAX ? TF_TASK_HISTORY_MAX :
	    o->history_kept;

	m = entry ? cJSON_AddObjectToObject(entry, "M") : NULL;
	if (m == NULL || !put_attr(m, "at", tf_ddb_av_n(now_ms)) ||
	    !put_attr(m, "iteration", tf_ddb_av_n(t->iteration)) ||
	    !put_attr(m, "attempt", tf_ddb_av_n(t->attempts + 1)) ||
	    !put_attr(m, "outcome", tf_ddb_av_s(history_outcome(o, state))) ||
	    (o->duration_ms >= 0 && !put_attr(m, "ms", tf_ddb_av_n(o->duration_ms))) ||
	    (o->late_ms > 0 && !put_attr(m, "late_ms", tf_ddb_av_n(o->late_ms))) ||
	    (o->limited_ms > 0 && !put_attr(m, "limited_ms",
	    tf_ddb_av_n(o->limited_ms)))) {
		cJSON_Delete(entry);
		return NULL;
	}
	return list_with(t->history_av, keep, entry);
}

cJSON *
tf_task_history_note(const struct tf_task *t, const char *outcome,
    int64_t at_ms, int keep)
{
	cJSON *entry = cJSON_CreateObject(), *m;

	if (keep > TF_TASK_HISTORY_MAX)
		keep = TF_TASK_HISTORY_MAX;
	m = entry ? cJSON_AddObjectToObject(entry, "M") : NULL;
	if (keep < 1 || m == NULL || !put_attr(m, "at", tf_ddb_av_n(at_ms)) ||
	    !put_attr(m, "iteration", tf_ddb_av_n(t->iteration)) ||
	    !put_attr(m, "attempt", tf_ddb_av_n(t->attempts)) ||
	    !put_attr(m, "outcome", tf_ddb_av_s(outcome))) {
		cJSON_Delete(entry);
		return NULL;
	}
	return list_with(t->history_av, keep, entry);
}

/* Binds :name to the marshalled JSON object text (a map). */
static enum tf_err
bind_object(struct tf_ddb_expr *e, const char *placeholder, const char *text,
    const char *what, char *errbuf, size_t errlen)
{
	cJSON *av = NULL;
	enum tf_err rc = tf_marshal_value_json_text(text, strlen(text), &av,
	    errbuf, errlen);

	if (rc != TF_OK)
		return rc;
	if (cJSON_GetObjectItemCaseSensitive(av, "M") == NULL) {
		cJSON_Delete(av);
		snprintf(errbuf, errlen, "%s: not a JSON object", what);
		return TF_ERR_INVALID;
	}
	return tf_ddb_expr_value(e, placeholder, av);
}

void
tf_task_write_free(struct tf_task_write *w)
{
	tf_ddb_expr_free(&w->e);
	tf_buf_free(&w->set);
	tf_buf_free(&w->remove);
	tf_buf_free(&w->update);
	tf_buf_free(&w->cond);
}

enum tf_err
tf_task_outcome_build(struct tf_task_write *w, const struct tf_task *t,
    const struct tf_task_outcome *o, int64_t now_ms, enum tf_task_status state,
    bool guard_suspend, int64_t *enqueue_at, char *errbuf, size_t errlen)
{
	struct tf_ddb_expr *e = &w->e;
	struct tf_buf *set = &w->set, *remove = &w->remove, *update = &w->update;
	struct tf_buf *cond = &w->cond;
	bool done = o->kind == TF_OUTCOME_DONE;
	bool chain = o->chain_owner != NULL && done && state == TF_TASK_PENDING;
	int64_t next = 0;
	enum tf_err rc;
	char cut[TF_TASK_ERROR_MAX + 1];

	*enqueue_at = 0;
	rc = bind_lease(e, t->gen, t->lease_owner);
	if (rc != TF_OK)
		goto out;
	rc = TF_ERR_NOMEM;
	if (tf_buf_append_str(cond, LEASE_CONDITION) != TF_OK ||
	    (guard_suspend && tf_buf_append_str(cond,
	    " AND attribute_not_exists(suspend_requested)") != TF_OK) ||
	    (o->lease_expired_before > 0 && (tf_buf_append_str(cond,
	    " AND lease_until < :expired") != TF_OK ||
	    tf_ddb_expr_value_n(e, ":expired", o->lease_expired_before) != TF_OK)))
		goto out;
	e->condition = cond->data;
	if (tf_ddb_expr_value_n(e, ":ng", t->gen + (chain ? 2 : 1)) != TF_OK ||
	    tf_ddb_expr_value_n(e, ":now", now_ms) != TF_OK ||
	    tf_ddb_expr_value_s(e, ":state", tf_task_status_name(chain ?
	    TF_TASK_PROCESSING : state)) != TF_OK ||
	    tf_ddb_expr_value_bool(e, ":done", state == TF_TASK_COMPLETED) != TF_OK)
		goto out;
	if (tf_buf_append_str(set, "SET #st = :state, completed = :done, gen = :ng, "
	    "updated_at = :now") != TF_OK ||
	    tf_buf_append_str(remove, chain ? " REMOVE suspend_requested" :
	    " REMOVE lease_owner, lease_until, lease_token, suspend_requested") !=
	    TF_OK)
		goto out;

	if (done) {
		/* A finished run: the next iteration starts with fresh attempts. */
		if (tf_ddb_expr_value_n(e, ":one", 1) != TF_OK ||
		    tf_ddb_expr_value_n(e, ":zero", 0) != TF_OK ||
		    tf_buf_append_str(set, ", iteration = iteration + :one, "
		    "attempts = :zero") != TF_OK)
			goto out;
		if (o->new_params != NULL) {
			rc = bind_object(e, ":params", o->new_params, "new params",
			    errbuf, errlen);
			if (rc != TF_OK)
				goto out;
			rc = TF_ERR_NOMEM;
			if (tf_buf_append_str(set, ", params = :params") != TF_OK)
				goto out;
		}
		next = o->next_run > 0 ? o->next_run : now_ms;
		if (o->slot > 0 && (tf_ddb_expr_value_n(e, ":slot", o->slot) != TF_OK ||
		    tf_buf_append_str(set, ", slot = :slot") != TF_OK))
			goto out;
	} else {
		if (tf_ddb_expr_value_n(e, ":att", t->attempts +
		    (o->uncharged ? 0 : 1)) != TF_OK ||
		    tf_buf_append_str(set, ", attempts = :att") != TF_OK)
			goto out;
		next = o->retry_at > 0 ? o->retry_at : now_ms;
	}
	if (o->error != NULL) {
		snprintf(cut, sizeof(cut), "%s", o->error);
		if (tf_ddb_expr_value_s(e, ":err", cut) != TF_OK ||
		    tf_ddb_expr_value(e, ":errs", errors_with(t, cut, now_ms)) != TF_OK ||
		    tf_buf_append_str(set, ", last_error = :err, errors = :errs") != TF_OK)
			goto out;
	}
	if (o->limited_ms > 0 && o->limited_by != NULL &&
	    (tf_ddb_expr_value_n(e, ":lms", o->limited_ms) != TF_OK ||
	    tf_ddb_expr_value_s(e, ":lby", o->limited_by) != TF_OK ||
	    tf_buf_append_str(set, ", limited_ms = :lms, limited_by = :lby") !=
	    TF_OK))
		goto out;
	if (o->paused_ns && (tf_ddb_expr_value_bool(e, ":pns", true) != TF_OK ||
	    tf_buf_append_str(set, ", paused_by_ns = :pns") != TF_OK))
		goto out;
	if (o->history_kept > 0 &&
	    (tf_ddb_expr_value(e, ":hist", history_with(t, o, state, now_ms)) != TF_OK ||
	    tf_buf_append_str(set, ", history = :hist") != TF_OK))
		goto out;
	if (o->result_json != NULL) {
		rc = bind_object(e, ":result", o->result_json, "result", errbuf, errlen);
		if (rc != TF_OK)
			goto out;
		rc = TF_ERR_NOMEM;
		if (tf_buf_append_str(set, ", #res = :result") != TF_OK ||
		    tf_ddb_expr_name(e, "#res", "result") != TF_OK)
			goto out;
	}
	if (state == TF_TASK_PENDING || state == TF_TASK_SUSPENDED) {
		if (tf_ddb_expr_value_n(e, ":next", next) != TF_OK ||
		    tf_buf_append_str(set, ", next_run = :next") != TF_OK)
			goto out;
	}
	if (chain) {
		/* The next iteration, claimed by the same write: leased, no
		 * message (docs/design.md section 12.1). */
		if (tf_ddb_expr_value_s(e, ":cme", o->chain_owner) != TF_OK ||
		    tf_ddb_expr_value_n(e, ":clu", o->chain_lease_until) != TF_OK ||
		    tf_ddb_expr_value_n(e, ":cda", tf_due_at_lease(NULL,
		    o->chain_lease_until)) != TF_OK ||
		    tf_ddb_expr_value_s(e, ":ctok", o->chain_token) != TF_OK ||
		    tf_buf_append_str(set, ", lease_owner = :cme, lease_until = :clu, "
		    "lease_token = :ctok, due_at = :cda") != TF_OK ||
		    tf_buf_append_str(remove, ", enqueued_for") != TF_OK)
			goto out;
	} else if (state == TF_TASK_PENDING) {
		/* The next iteration or attempt: due again, in the due index
		 * (due.h: surfacing when its message may be lost, or a horizon
		 * before it is due when it gets none now). */
		if (next <= now_ms + (o->horizon_ms > 0 ? o->horizon_ms :
		    TF_ENQUEUE_HORIZON_MS)) {
			/* When the message becomes visible: the sweeper counts
			 * its grace from then, not from a due time long past. */
			int64_t enq = next > now_ms ? next : now_ms;

			if (tf_buf_append_str(set, ", enqueued_for = :enq, "
			    "due_at = :da") != TF_OK ||
			    tf_ddb_expr_value_n(e, ":enq", enq) != TF_OK ||
			    tf_ddb_expr_value_n(e, ":da", tf_due_at_message(NULL,
			    enq)) != TF_OK)
				goto out;
			*enqueue_at = next;
		} else if (tf_buf_append_str(set, ", due_at = :next") != TF_OK ||
		    tf_buf_append_str(remove, ", enqueued_for") != TF_OK) {
			goto out;
		}
	} else {
		/* Finished or suspended: out of the due index. A finished
		 * task with a retention gets its expiry (`ttl`, seconds). */
		if (state != TF_TASK_SUSPENDED && o->retention_ms > 0 &&
		    (tf_ddb_expr_value_n(e, ":ttl", (now_ms + o->retention_ms) /
		    1000) != TF_OK || tf_buf_append_str(set, ", #ttl = :ttl") != TF_OK ||
		    tf_ddb_expr_name(e, "#ttl", "ttl") != TF_OK))
			goto out;
		if ((state != TF_TASK_SUSPENDED &&
		    tf_buf_append_str(set, ", finished_at = :now") != TF_OK))
			goto out;
		if (state != TF_TASK_SUSPENDED && o->callback_pending != NULL) {
			/* Finished with its callback still to deliver: in the due
			 * index until a lease after now, when the sweeper takes
			 * over a callback its consumer did not clear
			 * (docs/design.md section 13). */
			char shard[TF_DUE_SHARD_SIZE];

			tf_due_shard(t->id, 0, shard);
			if (tf_ddb_expr_value_s(e, ":cbsh", shard) != TF_OK ||
			    tf_ddb_expr_value_n(e, ":cbda", o->callback_due_at) != TF_OK ||
			    tf_buf_append_str(set, ", due_shard = :cbsh, "
			    "due_at = :cbda") != TF_OK ||
			    tf_buf_append_str(remove, ", enqueued_for") != TF_OK)
				goto out;
		} else if (tf_buf_append_str(remove, ", due_shard, due_at, "
		    "enqueued_for") != TF_OK) {
			goto out;
		}
	}
	if (o->callback_pending != NULL &&
	    (tf_ddb_expr_value(e, ":cbp", cJSON_Duplicate(o->callback_pending,
	    true)) != TF_OK ||
	    tf_buf_append_str(set, ", callback_pending = :cbp") != TF_OK))
		goto out;
	if (tf_buf_append(update, set->data, set->len) != TF_OK ||
	    tf_buf_append_str(update, tf_buf_str(remove)) != TF_OK)
		goto out;
	e->update = update->data;
	rc = TF_OK;
out:
	if (rc != TF_OK)
		*enqueue_at = 0;
	return rc;
}

/*
 * Builds and sends the outcome write for state `state`. `guard_suspend` adds
 * "no suspend was requested" to the condition, so a PENDING outcome cannot
 * overwrite a suspend that arrived during the run.
 */
static enum tf_err
write_outcome(struct tf_aws *aws, const char *table, const struct tf_task *t,
    const struct tf_task_outcome *o, int64_t now_ms, enum tf_task_status state,
    bool guard_suspend, int64_t *enqueue_at, char *errbuf, size_t errlen)
{
	struct tf_task_write w = TF_TASK_WRITE_INIT;
	enum tf_err rc;

	rc = tf_task_outcome_build(&w, t, o, now_ms, state, guard_suspend,
	    enqueue_at, errbuf, errlen);
	if (rc == TF_OK)
		rc = update_task(aws, table, t->id, &w.e, NULL, errbuf, errlen);
	if (rc != TF_OK)
		*enqueue_at = 0;
	tf_task_write_free(&w);
	return rc;
}

enum tf_task_status
tf_task_outcome_state(const struct tf_task *t, const struct tf_task_outcome *o)
{
	if (o->kind == TF_OUTCOME_DONE)
		return o->completed ? TF_TASK_COMPLETED : TF_TASK_PENDING;
	if (o->paused_ns)
		return TF_TASK_SUSPENDED;
	if (o->kind == TF_OUTCOME_RETRY &&
	    (o->uncharged || t->attempts + 1 < t->max_attempts))
		return TF_TASK_PENDING;
	return TF_TASK_FAILED;
}

enum tf_task_finish_check
tf_task_finish_check(const struct tf_task *t, int64_t now_ms,
    enum tf_task_status state, const struct tf_task *item,
    enum tf_task_status *state_out, int64_t *enqueue_at)
{
	if (item->gen == t->gen + 1 && item->updated_at == now_ms &&
	    item->lease_owner == NULL) {
		*state_out = item->status;
		*enqueue_at = item->status == TF_TASK_PENDING &&
		    item->enqueued_for > 0 ? item->next_run : 0;
		return TF_FINISH_APPLIED;
	}
	if (state == TF_TASK_PENDING && item->gen == t->gen &&
	    item->suspend_requested && item->status == TF_TASK_PROCESSING &&
	    item->lease_owner != NULL && t->lease_owner != NULL &&
	    strcmp(item->lease_owner, t->lease_owner) == 0) {
		*state_out = TF_TASK_SUSPENDED;
		return TF_FINISH_SUSPEND;
	}
	return TF_FINISH_LOST;
}

enum tf_err
tf_task_finish(struct tf_aws *aws, const char *table, const struct tf_task *t,
    const struct tf_task_outcome *o, int64_t now_ms,
    enum tf_task_status *state_out, int64_t *next_gen, int64_t *enqueue_at,
    char *errbuf, size_t errlen)
{
	struct tf_task now_item;
	enum tf_task_status state;
	enum tf_err rc;
	char err[64];

	*next_gen = t->gen + 1;
	state = tf_task_outcome_state(t, o);
	*state_out = state;
	rc = write_outcome(aws, table, t, o, now_ms, state, state == TF_TASK_PENDING,
	    enqueue_at, errbuf, errlen);
	if (rc != TF_ERR_CONDITION)
		return rc;
	/* The condition failed. Three reasons, told apart by the item
	 * (tf_task_finish_check()): our own write applied with its reply lost,
	 * a suspend requested during the run, or the lease gone. */
	rc = tf_task_get(aws, table, t->id, &now_item, err, sizeof(err));
	if (rc == TF_OK) {
		switch (tf_task_finish_check(t, now_ms, state, &now_item, state_out,
		    enqueue_at)) {
		case TF_FINISH_APPLIED:
			break;
		case TF_FINISH_SUSPEND:
			rc = write_outcome(aws, table, t, o, now_ms, TF_TASK_SUSPENDED,
			    false, enqueue_at, errbuf, errlen);
			break;
		default:
			rc = TF_ERR_CONDITION;
			break;
		}
	} else if (rc == TF_ERR_NOT_FOUND || rc == TF_ERR_PARSE) {
		rc = TF_ERR_CONDITION;
	}
	tf_task_free(&now_item);
	return rc;
}

enum tf_err
tf_task_sweep_enqueue_build(struct tf_ddb_expr *e, int64_t gen, int64_t due_ms,
    int64_t stale_before_ms, int64_t now_ms, int64_t *visible)
{
	memset(e, 0, sizeof(*e));
	*visible = due_ms > now_ms ? due_ms : now_ms;
	/* The new generation makes any message still out for this task stale;
	 * only one of several sweeping consumers wins the condition.
	 * enqueued_for is when the new message becomes visible: for an
	 * overdue task, now, so that the grace runs from the send and a task
	 * waiting in a long queue is not sent again at every sweep. */
	e->update = "SET gen = :ng, enqueued_for = :v, due_at = :da";
	e->condition = "gen = :g AND #st = :pending AND next_run = :d AND "
	    "(attribute_not_exists(enqueued_for) OR enqueued_for < :stale)";
	if (tf_ddb_expr_name(e, "#st", "status") == TF_OK &&
	    tf_ddb_expr_value_s(e, ":pending", "PENDING") == TF_OK &&
	    tf_ddb_expr_value_n(e, ":ng", gen + 1) == TF_OK &&
	    tf_ddb_expr_value_n(e, ":g", gen) == TF_OK &&
	    tf_ddb_expr_value_n(e, ":d", due_ms) == TF_OK &&
	    tf_ddb_expr_value_n(e, ":v", *visible) == TF_OK &&
	    tf_ddb_expr_value_n(e, ":da", tf_due_at_message(NULL,
	    *visible)) == TF_OK &&
	    tf_ddb_expr_value_n(e, ":stale", stale_before_ms) == TF_OK)
		return TF_OK;
	tf_ddb_expr_free(e);
	return TF_ERR_NOMEM;
}

bool
tf_task_sweep_enqueue_is(const struct tf_task *t, int64_t gen, int64_t visible)
{
	return t->status == TF_TASK_PENDING && t->gen == gen + 1 &&
	    t->enqueued_for == visible;
}

enum tf_err
tf_task_sweep_enqueue(struct tf_aws *aws, const char *table, const char *id,
    int64_t gen, int64_t due_ms, int64_t stale_before_ms, int64_t now_ms,
    enum tf_priority *prio)
{
	struct tf_ddb_expr e;
	struct tf_task t = { 0 };
	int64_t visible;
	char err[64];
	enum tf_err rc;

	rc = tf_task_sweep_enqueue_build(&e, gen, due_ms, stale_before_ms, now_ms,
	    &visible);
	if (rc != TF_OK)
		return rc;
	rc = update_task(aws, table, id, &e, &t, err, sizeof(err));
	if (rc == TF_ERR_PARSE) {
		/* Written, but the item is not a task: its message goes to the
		 * normal queue, and the consumer fails the task. */
		tf_task_free(&t);
		memset(&t, 0, sizeof(t));
		rc = TF_OK;
	}
	if (rc == TF_ERR_CONDITION && tf_aws_last_error()->attempts > 1) {
		/* A retried call: an earlier attempt may have been applied with
		 * its reply lost. If the item shows this very enqueue, send the
		 * message (should another sweeper have made it, both send the
		 * same generation, and the consumer drops the copy). */
		if (tf_task_get(aws, table, id, &t, err, sizeof(err)) == TF_OK &&
		    tf_task_sweep_enqueue_is(&t, gen, visible))
			rc = TF_OK;
	}
	if (prio != NULL)
		*prio = t.priority;
	tf_task_free(&t);
	tf_ddb_expr_free(&e);
	return rc;
}

enum tf_err
tf_task_release_message_build(struct tf_ddb_expr *e, int64_t gen)
{
	memset(e, 0, sizeof(*e));
	/* Back to surfacing a horizon before it is due. */
	e->update = "SET due_at = next_run REMOVE enqueued_for";
	e->condition = "gen = :g AND attribute_exists(next_run)";
	if (tf_ddb_expr_value_n(e, ":g", gen) == TF_OK)
		return TF_OK;
	tf_ddb_expr_free(e);
	return TF_ERR_NOMEM;
}

enum tf_err
tf_task_release_message(struct tf_aws *aws, const char *table, const char *id,
    int64_t gen)
{
	struct tf_ddb_expr e;
	enum tf_err rc;

	rc = tf_task_release_message_build(&e, gen);
	if (rc == TF_OK)
		rc = update_task(aws, table, id, &e, NULL, NULL, 0);
	tf_ddb_expr_free(&e);
	return rc;
}

int
tf_task_delay_s(int64_t due_ms, int64_t now_ms)
{
	int64_t d = due_ms - now_ms;

	if (d <= 0)
		return 0;
	d /= 1000;
	return d > TF_SQS_MAX_DELAY_S ? TF_SQS_MAX_DELAY_S : (int)d;
}

enum tf_err
tf_task_send_message(struct tf_aws *aws, const char *queue_url,
    enum tf_priority p, const char *id, int64_t due_ms, int64_t gen,
    int64_t now_ms)
{
	char *body = NULL, *url = NULL;
	enum tf_err rc;

	rc = tf_task_message_format(id, due_ms, gen, p, &body);
	if (rc == TF_OK && p != TF_PRIORITY_NORMAL &&
	    (url = tf_priority_queue_url(queue_url, p)) == NULL)
		rc = TF_ERR_NOMEM;
	if (rc == TF_OK)
		rc = tf_sqs_send_message(aws, url != NULL ? url : queue_url, body,
		    tf_task_delay_s(due_ms, now_ms), NULL);
	/* No such queue: a deployment made before priorities. */
	if (rc == TF_ERR_NOT_FOUND && url != NULL)
		rc = tf_sqs_send_message(aws, queue_url, body,
		    tf_task_delay_s(due_ms, now_ms), NULL);
	tf_free(url);
	tf_free(body);
	return rc;
}

enum tf_err
tf_task_mark_enqueued(struct tf_aws *aws, const char *table, const char *id,
    int64_t gen, int64_t due_ms)
{
	struct tf_ddb_expr e = { 0 };
	enum tf_err rc;

	int64_t visible = due_ms > tf_now_ms() ? due_ms : tf_now_ms();

	e.update = "SET enqueued_for = :d, due_at = :da";
	e.condition = "gen = :g";
	rc = tf_ddb_expr_value_n(&e, ":d", visible);
	if (rc == TF_OK)
		rc = tf_ddb_expr_value_n(&e, ":da", tf_due_at_message(NULL, visible));
	if (rc == TF_OK)
		rc = tf_ddb_expr_value_n(&e, ":g", gen);
	if (rc == TF_OK)
		rc = update_task(aws, table, id, &e, NULL, NULL, 0);
	tf_ddb_expr_free(&e);
	return rc;
}

enum tf_err
tf_task_delete(struct tf_aws *aws, const char *table, const char *id)
{
	struct tf_ddb_expr e = { 0 };
	cJSON *key = tf_task_key(id);
	enum tf_err rc;

	if (key == NULL)
		return TF_ERR_NOMEM;
	e.condition = "attribute_exists(id)";
	rc = tf_ddb_delete_item(aws, table, key, &e, NULL);
	if (rc == TF_ERR_CONDITION)
		rc = TF_ERR_NOT_FOUND;
	cJSON_Delete(key);
	return rc;
}

/* The by_ns key of an item ({"id","ns","next_run"}), the position after it
 * in a listing. NULL when out of memory. Caller frees with cJSON_Delete(). */
static cJSON *
list_key_of(const cJSON *item)
{
	static const char *const names[] = { "id", "ns", "next_run" };
	cJSON *k = cJSON_CreateObject(), *copy;
	const cJSON *av;
	size_t i;

	if (k == NULL)
		return NULL;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		av = cJSON_GetObjectItemCaseSensitive(item, names[i]);
		if (av == NULL)
			continue;
		copy = cJSON_Duplicate(av, 1);
		if (copy == NULL || !cJSON_AddItemToObject(k, names[i], copy)) {
			cJSON_Delete(copy);
			cJSON_Delete(k);
			return NULL;
		}
	}
	return k;
}

enum tf_err
tf_task_list_page(struct tf_aws *aws, const char *table,
    const struct tf_task_list_query *q, cJSON **cursor, cJSON **items)
{
	struct tf_ddb_expr e = { 0 };
	struct tf_ddb_query dq = { 0 };
	const char *ns = q->ns ? q->ns : TF_DEFAULT_NS;
	cJSON *out = NULL, *page = NULL, *it, *last = NULL, *key;
	char filter[96];
	enum tf_err rc = TF_ERR_INVALID;
	int have = 0;

	*items = NULL;
	if (q->limit < 1 || q->limit > TF_TASK_LIST_MAX ||
	    (!q->all_ns && !tf_task_ns_valid(ns)) ||
	    (q->has_from && q->has_to && q->from_ms > q->to_ms))
		goto out;
	if (q->all_ns) {
		/* A Scan: the window and the status are both filters. */
		snprintf(filter, sizeof(filter), "%s%s%s",
		    q->has_from && q->has_to ? "#nr BETWEEN :from AND :to" :
		    q->has_from ? "#nr >= :from" : q->has_to ? "#nr <= :to" : "",
		    (q->has_from || q->has_to) && q->has_status ? " AND " : "",
		    q->has_status ? "#st = :st" : "");
		e.filter = filter[0] != '\0' ? filter : NULL;
	} else {
		if (q->has_from && q->has_to)
			e.key_condition = "#ns = :ns AND #nr BETWEEN :from AND :to";
		else if (q->has_from)
			e.key_condition = "#ns = :ns AND #nr >= :from";
		else if (q->has_to)
			e.key_condition = "#ns = :ns AND #nr <= :to";
		else
			e.key_condition = "#ns = :ns";
		e.filter = q->has_status ? "#st = :st" : NULL;
		if ((rc = tf_ddb_expr_name(&e, "#ns", "ns")) != TF_OK ||
		    (rc = tf_ddb_expr_value_s(&e, ":ns", ns)) != TF_OK)
			goto out;
	}
	/* DynamoDB refuses placeholders an expression does not use. */
	if (((q->has_from || q->has_to) &&
	    (rc = tf_ddb_expr_name(&e, "#nr", "next_run")) != TF_OK) ||
	    (q->has_from && (rc = tf_ddb_expr_value_n(&e, ":from", q->from_ms)) != TF_OK) ||
	    (q->has_to && (rc = tf_ddb_expr_value_n(&e, ":to", q->to_ms)) != TF_OK) ||
	    (q->has_status && ((rc = tf_ddb_expr_name(&e, "#st", "status")) != TF_OK ||
	    (rc = tf_ddb_expr_value_s(&e, ":st",
	    tf_task_status_name(q->status))) != TF_OK)))
		goto out;
	dq.table = table;
	dq.index = "by_ns";
	dq.expr = &e;
	dq.limit = q->limit;
	dq.descending = !q->ascending;
	rc = TF_ERR_NOMEM;
	out = cJSON_CreateArray();
	if (out == NULL)
		goto out;
	do {
		rc = q->all_ns ? tf_ddb_scan_page(aws, &dq, cursor, &page) :
		    tf_ddb_query_page(aws, &dq, cursor, &page);
		if (rc != TF_OK)
			goto out;
		while (have < q->limit && (it = page->child) != NULL) {
			cJSON_DetachItemViaPointer(page, it);
			cJSON_AddItemToArray(out, it);
			last = it;
			have++;
		}
		if (page->child != NULL) {
			/* Full in the middle of a page: go on after the last one kept,
			 * not after the page. */
			rc = TF_ERR_NOMEM;
			key = list_key_of(last);
			if (key == NULL)
				goto out;
			cJSON_Delete(*cursor);
			*cursor = key;
		}
		cJSON_Delete(page);
		page = NULL;
	} while (have < q->limit && *cursor != NULL);
	*items = out;
	out = NULL;
	rc = TF_OK;
out:
	cJSON_Delete(page);
	cJSON_Delete(out);
	tf_ddb_expr_free(&e);
	return rc;
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The longest token tf_task_list_token_decode() reads. */
#define TOKEN_MAX 2048

enum tf_err
tf_task_list_token_encode(const cJSON *cursor, char **token)
{
	char *json = NULL, *t = NULL;
	const unsigned char *p;
	size_t n, i, o = 0;
	uint32_t v;

	*token = NULL;
	json = cJSON_PrintUnformatted(cursor);
	if (json == NULL)
		return TF_ERR_NOMEM;
	n = strlen(json);
	t = tf_malloc((n + 2) / 3 * 4 + 1);
	if (t == NULL) {
		cJSON_free(json);
		return TF_ERR_NOMEM;
	}
	p = (const unsigned char *)json;
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		t[o++] = b64url[v >> 18 & 63];
		t[o++] = b64url[v >> 12 & 63];
		if (i + 1 < n)
			t[o++] = b64url[v >> 6 & 63];
		if (i + 2 < n)
			t[o++] = b64url[v & 63];
	}
	t[o] = '\0';
	cJSON_free(json);
	*token = t;
	return TF_OK;
}

/* True when av is {"<type>": "<string>"} and nothing else. */
static bool
av_is(const cJSON *av, const char *type)
{
	return cJSON_IsObject(av) && cJSON_GetArraySize(av) == 1 &&
	    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(av, type));
}

enum tf_err
tf_task_list_token_decode(const char *token, const char *ns, cJSON **cursor,
    char *errbuf, size_t errlen)
{
	enum tf_err rc = TF_ERR_INVALID;
	size_t n = strlen(token), i, o = 0;
	unsigned char *raw = NULL;
	const char *c;
	uint32_t v = 0;
	int bits = 0;
	cJSON *doc = NULL;
	const cJSON *id, *kns, *nr;
	int64_t num;

	*cursor = NULL;
	if (ns == NULL)
		ns = TF_DEFAULT_NS;
	if (n == 0 || n > TOKEN_MAX || n % 4 == 1) {
		snprintf(errbuf, errlen, "not a paging token of this listing");
		goto out;
	}
	raw = tf_malloc(n * 3 / 4 + 1);
	if (raw == NULL) {
		rc = TF_ERR_NOMEM;
		snprintf(errbuf, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		c = strchr(b64url, token[i]);
		if (token[i] == '\0' || c == NULL) {
			snprintf(errbuf, errlen, "not a paging token of this listing");
			goto out;
		}
		v = v << 6 | (uint32_t)(c - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			raw[o++] = (unsigned char)(v >> bits & 0xff);
		}
	}
	raw[o] = '\0';
	doc = cJSON_ParseWithLength((const char *)raw, o);
	id = cJSON_GetObjectItemCaseSensitive(doc, "id");
	kns = cJSON_GetObjectItemCaseSensitive(doc, "ns");
	nr = cJSON_GetObjectItemCaseSensitive(doc, "next_run");
	if (!cJSON_IsObject(doc) || cJSON_GetArraySize(doc) != 3 ||
	    !av_is(id, "S") || !av_is(kns, "S") || !av_is(nr, "N") ||
	    !tf_task_id_valid(id->child->valuestring) ||
	    !tf_ddb_item_n(doc, "next_run", &num)) {
		snprintf(errbuf, errlen, "not a paging token of this listing");
		goto out;
	}
	if (strcmp(ns, "*") != 0 && strcmp(kns->child->valuestring, ns) != 0) {
		snprintf(errbuf, errlen, "the token belongs to a listing of "
		    "namespace \"%.64s\", not \"%.64s\"", kns->child->valuestring, ns);
		goto out;
	}
	*cursor = doc;
	doc = NULL;
	rc = TF_OK;
out:
	cJSON_Delete(doc);
	tf_free(raw);
	return rc;
}
