/* task_answer.c - a task read from a DynamoDB answer's text, no tree. */
#include "task/task_answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/marshal.h"
#include "base/alloc.h"
#include "base/json_scan.h"
#include "task/priority.h"

/* The attributes the task reads, in one table so that one pass over the
 * item records where each is. */
enum attr {
	A_ID, A_TYPE, A_NS, A_LEASE_OWNER, A_LEASE_TOKEN, A_LAST_ERROR, A_NAME,
	A_DESCRIPTION, A_CALLBACK, A_FAILURE_CALLBACK, A_FLOW_KEY, A_LIMITED_BY,
	A_PARAMS, A_RESULT, A_STATUS, A_COMPLETED, A_GEN, A_NEXT_RUN,
	A_ITERATION, A_ATTEMPTS, A_MAX_ATTEMPTS, A_LEASE_UNTIL, A_ENQUEUED_FOR,
	A_SLOT, A_LIMITED_MS, A_SUSPEND_REQUESTED, A_CREATED_AT, A_UPDATED_AT,
	A_FINISHED_AT, A_TTL, A_PRIORITY, A_SCHEDULE, A_ERRORS, A_HISTORY,
	A_CALLBACK_PENDING, A__COUNT
};

#define NAME(s) { s, sizeof(s) - 1 }
static const struct {
	const char *name;
	size_t len;
} attr_names[A__COUNT] = {
	NAME("id"), NAME("type"), NAME("ns"), NAME("lease_owner"),
	NAME("lease_token"), NAME("last_error"), NAME("name"),
	NAME("description"), NAME("callback"), NAME("failure_callback"),
	NAME("flow_key"), NAME("limited_by"), NAME("params"), NAME("result"),
	NAME("status"), NAME("completed"), NAME("gen"), NAME("next_run"),
	NAME("iteration"), NAME("attempts"), NAME("max_attempts"),
	NAME("lease_until"), NAME("enqueued_for"), NAME("slot"),
	NAME("limited_ms"), NAME("suspend_requested"), NAME("created_at"),
	NAME("updated_at"), NAME("finished_at"), NAME("ttl"), NAME("priority"),
	NAME("schedule"), NAME("errors"), NAME("history"),
	NAME("callback_pending"),
};
#undef NAME

/* The bytes of one value in the answer; at is NULL when it is absent. */
struct span {
	const char *at;   /* borrowed from the answer */
	size_t len;
};

/* One attribute's value, read once: its bytes, and the members of an
 * AttributeValue the task reads, each the first of its name (as
 * tf_ddb_attr() finds members in a tree). */
struct av {
	struct span all;          /* at NULL: the item has no such attribute */
	struct tf_json_str s, n;  /* the first "S" and "N" when they are strings
	                             (raw NULL otherwise) */
	bool seen_s, seen_n, seen_bool, seen_null;  /* a first one was read */
	bool bool_true, null_true;  /* the first "BOOL" / "NULL" is true */
	bool has_m, has_l;        /* it has an "M" / an "L" member */
	bool empty_map;           /* it is exactly {"M":{}} */
};

/* Reads the value at sc's position (checked) and returns its bytes. */
static struct span
take_value(struct tf_json_scan *sc)
{
	struct span v = { NULL, 0 };
	size_t start;

	(void)tf_json_peek(sc);  /* past the whitespace before it */
	start = sc->pos;
	if (tf_json_skip(sc)) {
		v.at = sc->s + start;
		v.len = sc->pos - start;
	}
	return v;
}

/* True when v is an empty object: '{', whitespace, '}'. */
static bool
is_empty_object(struct span v)
{
	size_t i, seen = 0;

	for (i = 0; i < v.len; i++) {
		if (v.at[i] == '{' || v.at[i] == '}')
			seen++;
		else if (v.at[i] != ' ' && v.at[i] != '\t' && v.at[i] != '\n' &&
		    v.at[i] != '\r')
			return false;
	}
	return seen == 2;
}

/* Reads the attribute value at sc's position into *av, in one pass. */
static bool
read_av(struct tf_json_scan *sc, struct av *av)
{
	struct tf_json_str key;
	struct span v;
	size_t start, members = 0;
	bool is_bool;

	memset(av, 0, sizeof(*av));
	if (tf_json_peek(sc) != TF_JSON_OBJECT) {
		av->all = take_value(sc);
		return av->all.at != NULL;
	}
	start = sc->pos;
	tf_json_enter(sc, TF_JSON_OBJECT);
	while (tf_json_member(sc, &key)) {
		members++;
		if (key.len != 1 && key.len != 4 && !key.escaped) {
			if (!tf_json_skip(sc))
				return false;
			continue;
		}
		if (!av->seen_s && tf_json_str_eq(&key, "S")) {
			av->seen_s = true;
			if (tf_json_peek(sc) == TF_JSON_STRING) {
				if (!tf_json_string(sc, &av->s))
					return false;
				continue;
			}
		} else if (!av->seen_n && tf_json_str_eq(&key, "N")) {
			av->seen_n = true;
			if (tf_json_peek(sc) == TF_JSON_STRING) {
				if (!tf_json_string(sc, &av->n))
					return false;
				continue;
			}
		} else if ((is_bool = !av->seen_bool && tf_json_str_eq(&key,
		    "BOOL")) || (!av->seen_null && tf_json_str_eq(&key, "NULL"))) {
			v = take_value(sc);
			if (v.at == NULL)
				return false;
			*(is_bool ? &av->bool_true : &av->null_true) = v.len == 4 &&
			    memcmp(v.at, "true", 4) == 0;
			*(is_bool ? &av->seen_bool : &av->seen_null) = true;
			continue;
		} else if (tf_json_str_eq(&key, "M")) {
			v = take_value(sc);
			if (v.at == NULL)
				return false;
			if (!av->has_m)
				av->empty_map = members == 1 && is_empty_object(v);
			av->has_m = true;
			continue;
		} else if (tf_json_str_eq(&key, "L")) {
			av->has_l = true;
		}
		if (!tf_json_skip(sc))
			return false;
	}
	if (sc->error != NULL)
		return false;
	av->empty_map = av->empty_map && members == 1;
	av->all.at = sc->s + start;
	av->all.len = sc->pos - start;
	return true;
}

/* The attribute's N as a whole number, as tf_ddb_item_n() reads it (strtoll
 * of the whole text); plain digits are read without a copy. */
static bool
av_n(const struct av *av, int64_t *out)
{
	const struct tf_json_str *s = &av->n;
	char small[64], *text, *end;
	long long v;
	int64_t d = 0;
	size_t i = 0;
	bool ok;

	if (s->raw == NULL)
		return false;
	if (!s->escaped && s->len > 0 && s->len < 19) {
		i = s->raw[0] == '-';
		for (; i < s->len && s->raw[i] >= '0' && s->raw[i] <= '9'; i++)
			d = d * 10 + (s->raw[i] - '0');
		if (i == s->len && s->len > (size_t)(s->raw[0] == '-')) {
			*out = s->raw[0] == '-' ? -d : d;
			return true;
		}
	}
	text = s->len < sizeof(small) ? small : tf_malloc(s->len + 1);
	if (text == NULL)
		return false;
	tf_json_str_copy(s, text, s->len + 1);
	v = strtoll(text, &end, 10);
	ok = text[0] != '\0' && *end == '\0';
	if (text != small)
		tf_free(text);
	if (ok)
		*out = v;
	return ok;
}

/* The value v parsed into a tree (the rare nested attributes), for the
 * tree-based readers; caller frees with cJSON_Delete(). v was checked when
 * the answer was read, so NULL means out of memory. */
static cJSON *
tree_of(struct span v)
{
	return cJSON_ParseWithLength(v.at, v.len);
}

/* *out: av as cJSON_PrintUnformatted() writes it (caller frees with
 * tf_free()). Without escapes and JSON numbers that is av's bytes without
 * the whitespace between tokens; otherwise it is printed from a tree. */
static enum tf_err
compact_text(struct span av, char **out)
{
	const char *p = av.at, *end = av.at + av.len;
	bool in_string = false;
	cJSON *tree;
	char *o, *text;

	for (; p < end; p++) {
		if (in_string) {
			if (*p == '\\')
				break;
			in_string = *p != '"';
		} else if (*p == '"') {
			in_string = true;
		} else if (*p == '-' || (*p >= '0' && *p <= '9')) {
			break;
		}
	}
	if (p < end) {
		tree = tree_of(av);
		text = tree != NULL ? cJSON_PrintUnformatted(tree) : NULL;
		cJSON_Delete(tree);
		/* cJSON's allocator is the project's (tf_alloc_init()). */
		*out = text;
		return text != NULL ? TF_OK : TF_ERR_NOMEM;
	}
	o = *out = tf_malloc(av.len + 1);
	if (o == NULL)
		return TF_ERR_NOMEM;
	for (p = av.at; p < end; p++) {
		if (in_string)
			in_string = *p != '"';
		else if (*p == '"')
			in_string = true;
		else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			continue;
		*o++ = *p;
	}
	*o = '\0';
	return TF_OK;
}

/* Copies the S of attribute av into *out (NULL when it has none). False
 * only when out of memory. */
static bool
copy_s(const struct av *av, char **out)
{
	*out = NULL;
	if (av->s.raw == NULL)
		return true;
	*out = tf_json_str_dup(&av->s);
	return *out != NULL;
}

static int64_t
get_n(const struct av *av, int64_t dflt)
{
	int64_t v;

	return av_n(av, &v) ? v : dflt;
}

/* read_params() of task.c on the attribute's bytes. */
static enum tf_err
read_params(const struct av *av, char **out, char *errbuf, size_t errlen)
{
	cJSON *tree, *check;
	char *text;
	enum tf_err rc;

	*out = NULL;
	if (av->all.at == NULL || av->null_true || av->empty_map) {
		*out = tf_strdup("{}");
		return *out ? TF_OK : TF_ERR_NOMEM;
	}
	if (av->has_m) {
		if ((tree = tree_of(av->all)) == NULL)
			return TF_ERR_NOMEM;
		rc = tf_unmarshal_value_to_json_text(tree, out, errbuf, errlen);
		cJSON_Delete(tree);
		return rc;
	}
	if (av->s.raw != NULL) {
		if ((text = tf_json_str_dup(&av->s)) == NULL)
			return TF_ERR_NOMEM;
		check = cJSON_Parse(text);
		if (cJSON_IsObject(check)) {
			cJSON_Delete(check);
			*out = text;
			return TF_OK;
		}
		cJSON_Delete(check);
		tf_free(text);
	}
	snprintf(errbuf, errlen, "params: not a map");
	return TF_ERR_PARSE;
}

/* Reads the item object at sc's position: where each attribute of the
 * table is (the first of duplicates); the rest are skipped. */
static bool
read_item(struct tf_json_scan *sc, struct av a[A__COUNT])
{
	struct tf_json_str key;
	size_t i;

	if (!tf_json_enter(sc, TF_JSON_OBJECT))
		return false;
	while (tf_json_member(sc, &key)) {
		for (i = 0; i < A__COUNT; i++) {
			if (key.escaped ? tf_json_str_eq(&key, attr_names[i].name) :
			    key.len == attr_names[i].len &&
			    key.raw[0] == attr_names[i].name[0] &&
			    memcmp(key.raw, attr_names[i].name, key.len) == 0)
				break;
		}
		if (i < A__COUNT && a[i].all.at == NULL) {
			if (!read_av(sc, &a[i]))
				return false;
		} else if (!tf_json_skip(sc)) {
			return false;
		}
	}
	return sc->error == NULL;
}

/* The attributes the consumer acts on that must be whole numbers when
 * present (numbers_valid() of task.c, in its order). */
static const enum attr whole_numbers[] = {
	A_GEN, A_NEXT_RUN, A_ITERATION, A_ATTEMPTS, A_MAX_ATTEMPTS,
	A_LEASE_UNTIL, A_ENQUEUED_FOR, A_SLOT,
};

/* tf_task_from_item() on the attributes found in the answer. */
static enum tf_err
task_from_spans(const struct av a[A__COUNT], struct tf_task *t,
    char *errbuf, size_t errlen)
{
	static const enum attr strings[] = {
		A_ID, A_TYPE, A_NS, A_LEASE_OWNER, A_LEASE_TOKEN, A_LAST_ERROR,
		A_NAME, A_DESCRIPTION, A_CALLBACK, A_FAILURE_CALLBACK, A_FLOW_KEY,
		A_LIMITED_BY,
	};
	char **const string_out[] = {
		&t->id, &t->type, &t->ns, &t->lease_owner, &t->lease_token,
		&t->last_error, &t->name, &t->description, &t->callback,
		&t->failure_callback, &t->flow_key, &t->limited_by,
	};
	cJSON *tree = NULL;
	char *status = NULL;
	enum tf_err rc = TF_ERR_NOMEM;
	size_t i;
	int64_t v;

	if (a[A_ID].s.raw == NULL) {
		snprintf(errbuf, errlen, "id: missing or not a string");
		return TF_ERR_PARSE;
	}
	if (a[A_TYPE].s.raw == NULL) {
		snprintf(errbuf, errlen, "type: missing or not a string");
		return TF_ERR_PARSE;
	}
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (!copy_s(&a[strings[i]], string_out[i]))
			goto out;
	if (t->ns == NULL && (t->ns = tf_strdup(TF_DEFAULT_NS)) == NULL)
		goto out;
	rc = read_params(&a[A_PARAMS], &t->params_json, errbuf, errlen);
	if (rc != TF_OK)
		goto out;
	/* The result is only shown: one that does not unmarshal is left out
	 * (as task.c does). */
	if (a[A_RESULT].has_m) {
		rc = (tree = tree_of(a[A_RESULT].all)) == NULL ? TF_ERR_NOMEM :
		    tf_unmarshal_value_to_json_text(tree, &t->result_json, NULL, 0);
		cJSON_Delete(tree);
		tree = NULL;
		if (rc == TF_ERR_NOMEM)
			goto out;
		if (rc != TF_OK) {
			tf_free(t->result_json);
			t->result_json = NULL;
		}
	}
	rc = TF_ERR_NOMEM;
	if (a[A_STATUS].s.raw == NULL) {
		t->legacy = true;
		t->status = a[A_COMPLETED].bool_true ? TF_TASK_COMPLETED :
		    TF_TASK_PENDING;
	} else {
		if ((status = tf_json_str_dup(&a[A_STATUS].s)) == NULL)
			goto out;
		if (!tf_task_status_parse(status, &t->status)) {
			snprintf(errbuf, errlen, "status: unknown value \"%.32s\"",
			    status);
			rc = TF_ERR_PARSE;
			goto out;
		}
	}
	for (i = 0; i < sizeof(whole_numbers) / sizeof(whole_numbers[0]); i++) {
		if (a[whole_numbers[i]].all.at != NULL &&
		    !av_n(&a[whole_numbers[i]], &v)) {
			snprintf(errbuf, errlen, "%s: not a whole number",
			    attr_names[whole_numbers[i]].name);
			rc = TF_ERR_PARSE;
			goto out;
		}
	}
	if (!t->legacy && (t->status == TF_TASK_PENDING ||
	    t->status == TF_TASK_PROCESSING) && a[A_NEXT_RUN].all.at == NULL) {
		snprintf(errbuf, errlen, "next_run: missing");
		rc = TF_ERR_PARSE;
		goto out;
	}
	t->gen = get_n(&a[A_GEN], 0);
	t->next_run = get_n(&a[A_NEXT_RUN], 0);
	t->iteration = get_n(&a[A_ITERATION], 0);
	t->attempts = get_n(&a[A_ATTEMPTS], 0);
	t->max_attempts = get_n(&a[A_MAX_ATTEMPTS], TF_DEFAULT_MAX_ATTEMPTS);
	t->lease_until = get_n(&a[A_LEASE_UNTIL], 0);
	t->enqueued_for = get_n(&a[A_ENQUEUED_FOR], 0);
	t->slot = get_n(&a[A_SLOT], 0);
	t->limited_ms = get_n(&a[A_LIMITED_MS], 0);
	t->suspend_requested = a[A_SUSPEND_REQUESTED].bool_true;
	t->created_at = get_n(&a[A_CREATED_AT], 0);
	t->updated_at = get_n(&a[A_UPDATED_AT], 0);
	t->finished_at = get_n(&a[A_FINISHED_AT], 0);
	t->ttl = get_n(&a[A_TTL], 0);
	if (a[A_PRIORITY].all.at != NULL) {
		if ((tree = tree_of(a[A_PRIORITY].all)) == NULL)
			goto out;
		(void)tf_priority_from_av(tree, &t->priority);
		cJSON_Delete(tree);
		tree = NULL;
	} else {
		(void)tf_priority_from_av(NULL, &t->priority);
	}
	if (a[A_SCHEDULE].all.at != NULL) {
		if ((tree = tree_of(a[A_SCHEDULE].all)) == NULL)
			goto out;
		rc = tf_unmarshal_value(tree, &t->schedule, errbuf, errlen);
		cJSON_Delete(tree);
		tree = NULL;
		if (rc != TF_OK)
			goto out;
		rc = TF_ERR_NOMEM;
	}
	if ((a[A_ERRORS].has_l &&
	    compact_text(a[A_ERRORS].all, &t->errors_av) != TF_OK) ||
	    (a[A_HISTORY].has_l &&
	    compact_text(a[A_HISTORY].all, &t->history_av) != TF_OK) ||
	    (a[A_CALLBACK_PENDING].has_m &&
	    compact_text(a[A_CALLBACK_PENDING].all, &t->callback_pending_av) !=
	    TF_OK))
		goto out;
	rc = TF_OK;
out:
	tf_free(status);
	if (rc == TF_ERR_NOMEM)
		snprintf(errbuf, errlen, "out of memory");
	return rc;
}

enum tf_err
tf_task_from_answer(const char *text, size_t len, const char *member,
    struct tf_task *t, char *errbuf, size_t errlen)
{
	struct av a[A__COUNT];
	struct tf_json_scan sc;
	struct tf_json_str key;
	bool found = false;

	memset(t, 0, sizeof(*t));
	memset(a, 0, sizeof(a));
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	tf_json_scan_init(&sc, text, len);
	if (tf_json_enter(&sc, TF_JSON_OBJECT)) {
		while (tf_json_member(&sc, &key)) {
			if (!found && tf_json_str_eq(&key, member)) {
				/* One that is no object has no attributes. */
				found = true;
				if (tf_json_peek(&sc) == TF_JSON_OBJECT ?
				    !read_item(&sc, a) : !tf_json_skip(&sc))
					break;
			} else if (!tf_json_skip(&sc)) {
				break;
			}
		}
	}
	if (!tf_json_finish(&sc)) {
		snprintf(errbuf, errlen, "the answer: %s at byte %zu", sc.error,
		    sc.error_pos);
		return TF_ERR_PARSE;
	}
	if (!found)
		return TF_ERR_NOT_FOUND;
	return task_from_spans(a, t, errbuf, errlen);
}
