/* rate_limit.c - token buckets for the REST API (rate_limit.h). */
#include "rate_limit.h"

#include <pthread.h>
#include <string.h>

#include "base/alloc.h"

#define NS_PER_S 1000000000LL

/* One bucket. */
struct entry {
	unsigned char id[RATE_ID_MAX];
	size_t id_len;
	int64_t tat_ns;    /* when the bucket is full again (GCRA's theoretical
	                      arrival time); at or before now: full */
	int64_t used_ns;   /* when it was last taken from: the least recently
	                      used one makes room for a new id */
	long next;         /* the next entry of the same hash chain, or -1 */
};

struct rate_table {
	pthread_mutex_t mu;  /* guards everything below */
	struct entry *e;     /* owned; cap entries, n of them in use */
	long *heads;         /* owned; nheads chains of entry indexes, -1 ends */
	size_t cap, n, nheads;
};

/* Parses len digits at s as a number from 1 to RATE_MAX. */
static bool
parse_count(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (len == 0 || len > 7)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > RATE_MAX)
		return false;
	*out = v;
	return true;
}

enum tf_err
rate_parse(const char *text, struct rate *out, char *err, size_t errlen)
{
	const char *slash, *unit, *colon;
	int64_t n, burst = 0, period_ns;
	size_t unit_len;
	char q[48];

	memset(out, 0, sizeof(*out));
	if (strcmp(text, "off") == 0 || strcmp(text, "0") == 0)
		return TF_OK;
	tf_err_quote(q, sizeof(q), text, strlen(text), 40);
	slash = strchr(text, '/');
	if (slash == NULL)
		goto bad;
	unit = slash + 1;
	colon = strchr(unit, ':');
	unit_len = colon != NULL ? (size_t)(colon - unit) : strlen(unit);
	if (unit_len == 1 && unit[0] == 's')
		period_ns = NS_PER_S;
	else if (unit_len == 3 && strncmp(unit, "min", 3) == 0)
		period_ns = 60 * NS_PER_S;
	else if (unit_len == 1 && unit[0] == 'h')
		period_ns = 3600 * NS_PER_S;
	else
		goto bad;
	if (!parse_count(text, (size_t)(slash - text), &n)) {
		if (slash == text || strspn(text, "0123456789") != (size_t)(slash - text))
			goto bad;
		tf_errf(err, errlen, "\"%s\": the count must be 1 to %d (off: no "
		    "limit)", q, RATE_MAX);
		return TF_ERR_INVALID;
	}
	if (colon != NULL && !parse_count(colon + 1, strlen(colon + 1), &burst)) {
		if (colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
		    strlen(colon + 1))
			goto bad;
		tf_errf(err, errlen, "\"%s\": the burst must be 1 to %d", q,
		    RATE_MAX);
		return TF_ERR_INVALID;
	}
	if (burst == 0) {
		/* Two seconds' worth, rounded up, at least 1. */
		burst = (2 * n * NS_PER_S + period_ns - 1) / period_ns;
		if (burst < 1)
			burst = 1;
	}
	out->interval_ns = period_ns / n;
	out->burst = burst;
	return TF_OK;
bad:
	tf_errf(err, errlen, "\"%s\" is not a rate: expected N/s, N/min or N/h, "
	    "optionally :BURST (50/s:100), or off", q);
	return TF_ERR_INVALID;
}

bool
rate_is_off(const struct rate *r)
{
	return r->interval_ns <= 0;
}

struct rate_table *
rate_table_new(size_t capacity)
{
	struct rate_table *t;
	size_t i;

	if (capacity == 0)
		capacity = 1;
	t = tf_calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->cap = capacity;
	/* A power of two at least the capacity: chains of about one. */
	for (t->nheads = 1; t->nheads < capacity; t->nheads <<= 1)
		;
	t->e = tf_calloc(t->cap, sizeof(*t->e));
	t->heads = tf_calloc(t->nheads, sizeof(*t->heads));
	if (t->e == NULL || t->heads == NULL ||
	    pthread_mutex_init(&t->mu, NULL) != 0) {
		tf_free(t->e);
		tf_free(t->heads);
		tf_free(t);
		return NULL;
	}
	for (i = 0; i < t->nheads; i++)
		t->heads[i] = -1;
	return t;
}

void
rate_table_free(struct rate_table *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	tf_free(t->e);
	tf_free(t->heads);
	tf_free(t);
}

/* FNV-1a of the id, reduced to a chain. */
static size_t
chain_of(const struct rate_table *t, const unsigned char *id, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= id[i];
		h *= 1099511628211ULL;
	}
	return (size_t)(h & (t->nheads - 1));
}

/* The entry of id, or -1. Called with t->mu held. */
static long
find(const struct rate_table *t, const unsigned char *id, size_t len)
{
	long i;

	for (i = t->heads[chain_of(t, id, len)]; i >= 0; i = t->e[i].next)
		if (t->e[i].id_len == len && memcmp(t->e[i].id, id, len) == 0)
			return i;
	return -1;
}

/* A new entry for id, full: a free one, or the least recently used one
 * taken out of its chain. Called with t->mu held. */
static long
insert(struct rate_table *t, const unsigned char *id, size_t len)
{
	long i, *p;
	size_t k, h;

	if (t->n < t->cap) {
		i = (long)t->n++;
	} else {
		i = 0;
		for (k = 1; k < t->cap; k++)
			if (t->e[k].used_ns < t->e[i].used_ns)
				i = (long)k;
		h = chain_of(t, t->e[i].id, t->e[i].id_len);
		for (p = &t->heads[h]; *p != i; p = &t->e[*p].next)
			;
		*p = t->e[i].next;
	}
	memset(&t->e[i], 0, sizeof(t->e[i]));
	memcpy(t->e[i].id, id, len);
	t->e[i].id_len = len;
	h = chain_of(t, id, len);
	t->e[i].next = t->heads[h];
	t->heads[h] = i;
	return i;
}

/* GCRA for a bucket that is full again at *tat: takes a token when take and
 * one is there. True when one is (was) there; fills *v. */
static bool
decide(int64_t *tat, const struct rate *r, int64_t now_ns, bool take,
    struct rate_verdict *v)
{
	int64_t base, after, tolerance;

	tolerance = r->burst * r->interval_ns;
	base = *tat > now_ns ? *tat : now_ns;
	after = base + r->interval_ns;
	v->limit = r->burst;
	if (after - now_ns > tolerance) {
		/* Empty: a token is there once after - tolerance has passed. */
		v->remaining = 0;
		v->retry_after_s = (after - tolerance - now_ns + NS_PER_S - 1) /
		    NS_PER_S;
		if (v->retry_after_s < 1)
			v->retry_after_s = 1;
		return false;
	}
	v->retry_after_s = 0;
	if (take) {
		*tat = after;
		v->remaining = (tolerance - (after - now_ns)) / r->interval_ns;
	} else {
		v->remaining = (tolerance - (base - now_ns)) / r->interval_ns;
	}
	return true;
}

/* rate_table_try_take() (take) and rate_table_has_token() (!take): only a
 * take creates a bucket or marks it used. */
static bool
consult(struct rate_table *t, const void *id, size_t id_len,
    const struct rate *r, int64_t now_ns, bool take, struct rate_verdict *v)
{
	struct rate_verdict dummy;
	int64_t no_bucket = 0;      /* an id without a bucket counts as full */
	bool ok;
	long i;

	if (v == NULL)
		v = &dummy;
	memset(v, 0, sizeof(*v));
	if (rate_is_off(r))
		return true;
	if (id_len > RATE_ID_MAX)
		id_len = RATE_ID_MAX;
	pthread_mutex_lock(&t->mu);
	i = find(t, id, id_len);
	if (i < 0 && take)
		i = insert(t, id, id_len);
	if (i >= 0 && take)
		t->e[i].used_ns = now_ns;
	ok = decide(i >= 0 ? &t->e[i].tat_ns : &no_bucket, r, now_ns, take, v);
	pthread_mutex_unlock(&t->mu);
	return ok;
}

bool
rate_table_try_take(struct rate_table *t, const void *id, size_t id_len,
    const struct rate *r, int64_t now_ns, struct rate_verdict *v)
{
	return consult(t, id, id_len, r, now_ns, true, v);
}

bool
rate_table_has_token(struct rate_table *t, const void *id, size_t id_len,
    const struct rate *r, int64_t now_ns, struct rate_verdict *v)
{
	return consult(t, id, id_len, r, now_ns, false, v);
}

size_t
rate_table_count(struct rate_table *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->n;
	pthread_mutex_unlock(&t->mu);
	return n;
}
