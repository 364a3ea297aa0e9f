/* limits.c - limits per key: checks, the config item's attributes, the
 * environment's defaults, a task's keys (limits.h). */
#include "task/limits.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ddb.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "task/due.h"
#include "task/task.h"

/* The kinds of key, as their prefix. */
static const char *const kinds[] = { "ns:", "type:", "host:", "flow:", NULL };

enum tf_err
tf_limit_check_key(const char *key, char *err, size_t errlen)
{
	const char *name = NULL, *p;
	size_t i;

	for (i = 0; key != NULL && kinds[i] != NULL; i++)
		if (strncmp(key, kinds[i], strlen(kinds[i])) == 0)
			name = key + strlen(kinds[i]);
	if (name == NULL) {
		snprintf(err, errlen, "key \"%s\": must be ns:NAME, type:NAME, "
		    "host:NAME or flow:NAME", key != NULL ? key : "");
		return TF_ERR_INVALID;
	}
	if (*name == '\0' || strlen(name) > TF_LIMIT_NAME_MAX) {
		snprintf(err, errlen, "key \"%s\": the name must be 1 to %d "
		    "characters", key, TF_LIMIT_NAME_MAX);
		return TF_ERR_INVALID;
	}
	for (p = name; *p != '\0'; p++) {
		if (*p <= ' ' || *p > '~' || *p == ';') {
			snprintf(err, errlen, "key \"%s\": the name must be printable "
			    "ASCII without spaces or ';'", key);
			return TF_ERR_INVALID;
		}
	}
	if (strncmp(key, "ns:", 3) == 0 && !tf_task_ns_valid(name)) {
		snprintf(err, errlen, "key \"%s\": a namespace is 1 to %d of "
		    "A-Z a-z 0-9 _ . -", key, TF_TASK_NS_MAX);
		return TF_ERR_INVALID;
	}
	if (strncmp(key, "type:", 5) == 0 && !tf_task_type_valid(name)) {
		snprintf(err, errlen, "key \"%s\": a runner type is %s", key,
		    TF_TASK_TYPE_SYNTAX);
		return TF_ERR_INVALID;
	}
	if (strncmp(key, "host:", 5) == 0) {
		for (p = name; *p != '\0'; p++) {
			if (isupper((unsigned char)*p)) {
				snprintf(err, errlen, "key \"%s\": a host is written in "
				    "lower case", key);
				return TF_ERR_INVALID;
			}
		}
	}
	return TF_OK;
}

enum tf_err
tf_limit_check(const struct tf_limit *l, char *err, size_t errlen)
{
	if (tf_limit_check_key(l->key, err, errlen) != TF_OK)
		return TF_ERR_INVALID;
	if (!(l->rate >= 0) || l->rate > TF_LIMIT_RATE_MAX) {
		snprintf(err, errlen, "rate: must be a number of runs a second "
		    "above 0, at most %g", TF_LIMIT_RATE_MAX);
		return TF_ERR_INVALID;
	}
	if (l->burst < 1 || l->burst > TF_LIMIT_COUNT_MAX) {
		snprintf(err, errlen, "burst: must be from 1 to %d",
		    TF_LIMIT_COUNT_MAX);
		return TF_ERR_INVALID;
	}
	if (l->in_flight < 0 || l->in_flight > TF_LIMIT_COUNT_MAX) {
		snprintf(err, errlen, "in_flight: must be from 1 to %d",
		    TF_LIMIT_COUNT_MAX);
		return TF_ERR_INVALID;
	}
	if (l->ordered && (strncmp(l->key, "flow:", 5) != 0 || l->in_flight != 1)) {
		snprintf(err, errlen, "ordered: only a flow key's limit with "
		    "in_flight 1 may be ordered");
		return TF_ERR_INVALID;
	}
	if (l->rate == 0 && l->in_flight == 0) {
		snprintf(err, errlen, "a limit needs a rate, an in_flight or both");
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

/* The config item's attribute name of key, in buf. */
static void
attr_name(const char *key, char buf[TF_LIMIT_KEY_SIZE + 8])
{
	snprintf(buf, TF_LIMIT_KEY_SIZE + 8, "%s%s", TF_LIMIT_ATTR, key);
}

/* The AV map of l. Caller frees with cJSON_Delete(); NULL when out of
 * memory. */
static cJSON *
limit_av(const struct tf_limit *l)
{
	cJSON *av = cJSON_CreateObject(), *m;
	char num[64];

	m = av != NULL ? cJSON_AddObjectToObject(av, "M") : NULL;
	if (m == NULL)
		goto fail;
	if (l->rate > 0) {
		snprintf(num, sizeof(num), "%.17g", l->rate);
		if (!cJSON_AddItemToObject(m, "rate", cJSON_CreateObject()) ||
		    cJSON_AddStringToObject(cJSON_GetObjectItem(m, "rate"), "N",
		    num) == NULL)
			goto fail;
	}
	if ((l->ordered && !cJSON_AddItemToObject(m, "ordered",
	    tf_ddb_av_bool(true))) ||
	    !cJSON_AddItemToObject(m, "burst", tf_ddb_av_n(l->burst)) ||
	    (l->in_flight > 0 && !cJSON_AddItemToObject(m, "in_flight",
	    tf_ddb_av_n(l->in_flight))))
		goto fail;
	return av;
fail:
	cJSON_Delete(av);
	return NULL;
}

enum tf_err
tf_limit_write(struct tf_aws *aws, const char *table, const struct tf_limit *l)
{
	struct tf_ddb_expr e = { 0 };
	cJSON *key = NULL;
	char err[256], name[TF_LIMIT_KEY_SIZE + 8];
	enum tf_err rc;

	if (tf_limit_check(l, err, sizeof(err)) != TF_OK)
		return TF_ERR_INVALID;
	/* #l names limit:KEY, the attribute of the key's limit. */
	attr_name(l->key, name);
	e.update = "SET #l = :l";
	if ((rc = tf_ddb_expr_name(&e, "#l", name)) != TF_OK ||
	    (rc = tf_ddb_expr_value(&e, ":l", limit_av(l))) != TF_OK)
		goto out;
	rc = TF_ERR_NOMEM;
	if ((key = tf_task_key(TF_DUE_CONFIG_ID)) == NULL)
		goto out;
	rc = tf_ddb_update_item(aws, table, key, &e, NULL, NULL);
out:
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
	return rc;
}

enum tf_err
tf_limit_remove(struct tf_aws *aws, const char *table, const char *key)
{
	struct tf_ddb_expr e = { 0 };
	cJSON *k = NULL;
	char err[256], name[TF_LIMIT_KEY_SIZE + 8];
	enum tf_err rc;

	if (tf_limit_check_key(key, err, sizeof(err)) != TF_OK)
		return TF_ERR_INVALID;
	attr_name(key, name);
	e.update = "REMOVE #l";
	e.condition = "attribute_exists(#l)";
	if ((rc = tf_ddb_expr_name(&e, "#l", name)) != TF_OK)
		goto out;
	rc = TF_ERR_NOMEM;
	if ((k = tf_task_key(TF_DUE_CONFIG_ID)) == NULL)
		goto out;
	rc = tf_ddb_update_item(aws, table, k, &e, NULL, NULL);
	if (rc == TF_ERR_CONDITION)
		rc = TF_ERR_NOT_FOUND;
out:
	cJSON_Delete(k);
	tf_ddb_expr_free(&e);
	return rc;
}

static int
by_key(const void *a, const void *b)
{
	return strcmp(((const struct tf_limit *)a)->key,
	    ((const struct tf_limit *)b)->key);
}

/* A number attribute of AV map m as a double; def when absent. */
static double
map_number(const cJSON *m, const char *name, double def)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(m, name), "N");

	return cJSON_IsString(n) ? strtod(n->valuestring, NULL) : def;
}

/* Adds hold attribute a (TF_LIMIT_HOLD_ATTR and a key) to out unless it
 * is over at now_ms. */
static enum tf_err
add_hold(const cJSON *a, int64_t now_ms, struct tf_limits *out)
{
	struct tf_limit_hold *h;
	const char *key = a->string + strlen(TF_LIMIT_HOLD_ATTR);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(a, "N");
	char err[256];
	int64_t until;

	if (!cJSON_IsString(n))
		return TF_OK;
	until = strtoll(n->valuestring, NULL, 10);
	if (until <= now_ms ||
	    strlen(key) >= sizeof(h->key) ||
	    tf_limit_check_key(key, err, sizeof(err)) != TF_OK)
		return TF_OK;
	h = tf_realloc(out->holds, (out->n_holds + 1) * sizeof(*h));
	if (h == NULL)
		return TF_ERR_NOMEM;
	out->holds = h;
	snprintf(h[out->n_holds].key, sizeof(h->key), "%s", key);
	h[out->n_holds].until = until;
	out->n_holds++;
	return TF_OK;
}

enum tf_err
tf_limits_from_item(const cJSON *item, int64_t now_ms, struct tf_limits *out)
{
	const cJSON *a, *m;
	struct tf_limit l;
	size_t cap = 0;
	char err[256];

	memset(out, 0, sizeof(*out));
	cJSON_ArrayForEach(a, item) {
		if (a->string != NULL && strncmp(a->string, TF_LIMIT_HOLD_ATTR,
		    strlen(TF_LIMIT_HOLD_ATTR)) == 0) {
			if (add_hold(a, now_ms, out) != TF_OK) {
				tf_limits_free(out);
				return TF_ERR_NOMEM;
			}
			continue;
		}
		if (a->string == NULL || strncmp(a->string, TF_LIMIT_ATTR,
		    strlen(TF_LIMIT_ATTR)) != 0)
			continue;
		memset(&l, 0, sizeof(l));
		if (strlen(a->string) - strlen(TF_LIMIT_ATTR) >= sizeof(l.key))
			continue;
		snprintf(l.key, sizeof(l.key), "%s", a->string +
		    strlen(TF_LIMIT_ATTR));
		m = cJSON_GetObjectItemCaseSensitive(a, "M");
		l.rate = map_number(m, "rate", 0);
		l.burst = (int64_t)map_number(m, "burst", 1);
		l.in_flight = (int64_t)map_number(m, "in_flight", 0);
		l.ordered = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(m, "ordered"), "BOOL"));
		if (tf_limit_check(&l, err, sizeof(err)) != TF_OK)
			continue;  /* written by hand, or by a newer version */
		if (out->n == cap) {
			struct tf_limit *v;

			cap = cap ? cap * 2 : 8;
			v = tf_realloc(out->v, cap * sizeof(*v));
			if (v == NULL) {
				tf_limits_free(out);
				return TF_ERR_NOMEM;
			}
			out->v = v;
		}
		out->v[out->n++] = l;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), by_key);
	return TF_OK;
}

enum tf_err
tf_limits_read(struct tf_aws *aws, const char *table, struct tf_limits *out)
{
	cJSON *item;
	enum tf_err rc = tf_due_config_read(aws, table, &item);

	memset(out, 0, sizeof(*out));
	if (rc == TF_OK && item != NULL)
		rc = tf_limits_from_item(item, tf_now_ms(), out);
	cJSON_Delete(item);
	return rc;
}

/* Parses a whole number from 0 to TF_LIMIT_COUNT_MAX (-1: not one). */
static int64_t
parse_count(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 ||
	    v > TF_LIMIT_COUNT_MAX)
		return -1;
	return v;
}

/* Parses one limit of TASKFLEET_LIMITS: "KEY rate=R burst=B in_flight=N". */
static enum tf_err
parse_one(char *text, struct tf_limit *l, char *err, size_t errlen)
{
	char *tok, *save = NULL, *eq, *end;

	memset(l, 0, sizeof(*l));
	l->burst = 1;
	tok = strtok_r(text, " \t\n", &save);
	if (tok == NULL || strlen(tok) >= sizeof(l->key)) {
		snprintf(err, errlen, "a limit needs a key");
		return TF_ERR_INVALID;
	}
	snprintf(l->key, sizeof(l->key), "%s", tok);
	while ((tok = strtok_r(NULL, " \t\n", &save)) != NULL) {
		if (strcmp(tok, "ordered") == 0) {
			l->ordered = true;
			continue;
		}
		if ((eq = strchr(tok, '=')) == NULL) {
			snprintf(err, errlen, "%s: \"%s\" is not NAME=VALUE", l->key,
			    tok);
			return TF_ERR_INVALID;
		}
		*eq++ = '\0';
		if (strcmp(tok, "rate") == 0) {
			l->rate = strtod(eq, &end);
			if (end == eq || *end != '\0' || !(l->rate > 0)) {
				snprintf(err, errlen, "%s: rate must be a number above "
				    "0", l->key);
				return TF_ERR_INVALID;
			}
		} else if (strcmp(tok, "burst") == 0) {
			l->burst = parse_count(eq);
		} else if (strcmp(tok, "in_flight") == 0) {
			if ((l->in_flight = parse_count(eq)) == 0)
				l->in_flight = -1;
		} else {
			snprintf(err, errlen, "%s: unknown setting \"%s\" (rate, "
			    "burst, in_flight, ordered)", l->key, tok);
			return TF_ERR_INVALID;
		}
	}
	return tf_limit_check(l, err, errlen);
}

enum tf_err
tf_limits_parse(const char *spec, struct tf_limits *out, char *err,
    size_t errlen)
{
	char *copy, *part, *save = NULL, *p;
	struct tf_limit l, *v;
	enum tf_err rc = TF_OK;

	memset(out, 0, sizeof(*out));
	if (spec == NULL)
		return TF_OK;
	if ((copy = tf_strdup(spec)) == NULL)
		return TF_ERR_NOMEM;
	for (part = strtok_r(copy, ";", &save); part != NULL;
	    part = strtok_r(NULL, ";", &save)) {
		for (p = part; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0')
			continue;
		if ((rc = parse_one(p, &l, err, errlen)) != TF_OK)
			break;
		if (tf_limits_find(out, l.key) != NULL &&
		    strcmp(tf_limits_find(out, l.key)->key, l.key) == 0) {
			snprintf(err, errlen, "%s: given twice", l.key);
			rc = TF_ERR_INVALID;
			break;
		}
		if ((v = tf_realloc(out->v, (out->n + 1) * sizeof(*v))) == NULL) {
			rc = TF_ERR_NOMEM;
			break;
		}
		out->v = v;
		out->v[out->n++] = l;
		qsort(out->v, out->n, sizeof(*out->v), by_key);
	}
	tf_free(copy);
	if (rc != TF_OK)
		tf_limits_free(out);
	return rc;
}

const struct tf_limit *
tf_limits_find(const struct tf_limits *ls, const char *key)
{
	struct tf_limit probe;
	const struct tf_limit *l;

	if (ls == NULL || ls->n == 0 || strlen(key) >= sizeof(probe.key))
		return NULL;
	snprintf(probe.key, sizeof(probe.key), "%s", key);
	l = bsearch(&probe, ls->v, ls->n, sizeof(*ls->v), by_key);
	if (l == NULL && strncmp(key, "flow:", 5) == 0) {
		snprintf(probe.key, sizeof(probe.key), "flow:*");
		l = bsearch(&probe, ls->v, ls->n, sizeof(*ls->v), by_key);
	}
	return l;
}

cJSON *
tf_limit_json(const struct tf_limit *l)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "key", l->key) == NULL ||
	    (l->rate > 0 && (cJSON_AddNumberToObject(o, "rate", l->rate) == NULL ||
	    cJSON_AddNumberToObject(o, "burst", (double)l->burst) == NULL)) ||
	    (l->in_flight > 0 && cJSON_AddNumberToObject(o, "in_flight",
	    (double)l->in_flight) == NULL) ||
	    (l->ordered && cJSON_AddBoolToObject(o, "ordered", true) == NULL)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* {"key", "until"} of hold h. Caller frees with cJSON_Delete(); NULL when
 * out of memory. */
static cJSON *
hold_json(const struct tf_limit_hold *h)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "key", h->key) == NULL ||
	    cJSON_AddNumberToObject(o, "until", (double)h->until) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *
tf_limits_json(const struct tf_limits *ls)
{
	cJSON *o = cJSON_CreateObject(), *a, *holds, *one;
	size_t i;

	a = o != NULL ? cJSON_AddArrayToObject(o, "limits") : NULL;
	for (i = 0; a != NULL && i < ls->n; i++) {
		one = tf_limit_json(&ls->v[i]);
		if (one == NULL || !cJSON_AddItemToArray(a, one)) {
			cJSON_Delete(one);
			a = NULL;
		}
	}
	holds = a != NULL ? cJSON_AddArrayToObject(o, "holds") : NULL;
	for (i = 0; holds != NULL && i < ls->n_holds; i++) {
		one = hold_json(&ls->holds[i]);
		if (one == NULL || !cJSON_AddItemToArray(holds, one)) {
			cJSON_Delete(one);
			holds = NULL;
		}
	}
	if (holds == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A whole number field of a JSON body: 0 when absent, -1 when it is not a
 * whole number in range. */
static int64_t
body_count(const cJSON *v)
{
	if (v == NULL)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < 1 || v->valuedouble > TF_LIMIT_COUNT_MAX)
		return -1;
	return (int64_t)v->valuedouble;
}

enum tf_err
tf_limit_from_json(const char *key, const cJSON *body, struct tf_limit *l,
    char *err, size_t errlen)
{
	const cJSON *f;

	memset(l, 0, sizeof(*l));
	if (key == NULL || strlen(key) >= sizeof(l->key)) {
		snprintf(err, errlen, "key: must be ns:NAME, type:NAME, host:NAME "
		    "or flow:NAME");
		return TF_ERR_INVALID;
	}
	snprintf(l->key, sizeof(l->key), "%s", key);
	if (!cJSON_IsObject(body)) {
		snprintf(err, errlen, "the body must be a JSON object");
		return TF_ERR_INVALID;
	}
	cJSON_ArrayForEach(f, body) {
		if (strcmp(f->string, "rate") != 0 && strcmp(f->string, "burst") != 0 &&
		    strcmp(f->string, "in_flight") != 0 &&
		    strcmp(f->string, "ordered") != 0 &&
		    strcmp(f->string, "key") != 0) {
			snprintf(err, errlen, "unknown field \"%s\" (rate, burst, "
			    "in_flight, ordered)", f->string);
			return TF_ERR_INVALID;
		}
	}
	f = cJSON_GetObjectItemCaseSensitive(body, "rate");
	if (f != NULL && (!cJSON_IsNumber(f) || !(f->valuedouble > 0))) {
		snprintf(err, errlen, "rate: must be a number of runs a second "
		    "above 0");
		return TF_ERR_INVALID;
	}
	l->rate = f != NULL ? f->valuedouble : 0;
	l->burst = body_count(cJSON_GetObjectItemCaseSensitive(body, "burst"));
	if (l->burst == 0)
		l->burst = 1;
	l->in_flight = body_count(cJSON_GetObjectItemCaseSensitive(body,
	    "in_flight"));
	f = cJSON_GetObjectItemCaseSensitive(body, "ordered");
	if (f != NULL && !cJSON_IsBool(f)) {
		snprintf(err, errlen, "ordered: must be true or false");
		return TF_ERR_INVALID;
	}
	l->ordered = cJSON_IsTrue(f);
	return tf_limit_check(l, err, errlen);
}

void
tf_limits_free(struct tf_limits *ls)
{
	tf_free(ls->v);
	tf_free(ls->holds);
	memset(ls, 0, sizeof(*ls));
}

/* The host of url (lower case) into out; false when it has none. */
static bool
url_host(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://"), *end, *at;
	size_t n, i;

	if (p == NULL)
		return false;
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at != NULL)
		p = at + 1;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (close == NULL)
			return false;
		end = close + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		if (colon != NULL)
			end = colon;
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= outlen)
		return false;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)p[i]);
	out[n] = '\0';
	return true;
}

size_t
tf_limit_task_keys(const struct tf_task *t,
    char keys[TF_LIMIT_TASK_KEYS][TF_LIMIT_KEY_SIZE])
{
	size_t n = 0;
	cJSON *params;
	const cJSON *url;
	char host[TF_LIMIT_NAME_MAX + 1];

	snprintf(keys[n++], TF_LIMIT_KEY_SIZE, "ns:%s", t->ns != NULL ? t->ns :
	    TF_DEFAULT_NS);
	if (t->type != NULL)
		snprintf(keys[n++], TF_LIMIT_KEY_SIZE, "type:%s", t->type);
	if (t->type != NULL && strcmp(t->type, "http") == 0 &&
	    t->params_json != NULL &&
	    (params = cJSON_Parse(t->params_json)) != NULL) {
		url = cJSON_GetObjectItemCaseSensitive(params, "url");
		if (cJSON_IsString(url) && url_host(url->valuestring, host,
		    sizeof(host)))
			snprintf(keys[n++], TF_LIMIT_KEY_SIZE, "host:%s", host);
		cJSON_Delete(params);
	}
	if (t->flow_key != NULL)
		snprintf(keys[n++], TF_LIMIT_KEY_SIZE, "flow:%s", t->flow_key);
	return n;
}
