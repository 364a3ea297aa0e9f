/*
 * rate_limit.h - token buckets for the REST API (api.c): a rate parsed from
 * text such as "50/s:100", and a bounded, thread-safe table of buckets keyed
 * by short byte strings (an API key's position, a client's address).
 *
 * A bucket holds at most `burst` tokens and gains one every `interval_ns`; a
 * request takes one or is refused. Each bucket is kept as the one time at
 * which it would be full again (the generic cell rate algorithm, GCRA: the
 * same answers as a token bucket, in integers, with nothing to refill).
 *
 * Rate text: N/s, N/min or N/h (N from 1 to RATE_MAX), optionally :BURST
 * (1 to RATE_MAX); without it the burst is two seconds' worth, at least 1
 * (50/s: 100; 600/min: 20; 10/min: 1). "off" or "0": no limit.
 *
 * Time is passed in as now_ns (the server reads CLOCK_MONOTONIC), so the
 * tests need no clock and never sleep.
 */
#ifndef TF_PRODUCER_RATE_LIMIT_H
#define TF_PRODUCER_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* The largest N and BURST of a rate. */
#define RATE_MAX 1000000
/* The longest id a table keys its buckets by. */
#define RATE_ID_MAX 32

/* A configured rate. */
struct rate {
	int64_t interval_ns;   /* one token every interval_ns; 0: no limit */
	int64_t burst;         /* the most tokens a bucket holds */
};

/* What a table answered for one request. */
struct rate_verdict {
	int64_t limit;         /* the rate's burst; 0 when there is no limit */
	int64_t remaining;     /* whole tokens left after this request */
	int64_t retry_after_s; /* refused: whole seconds until a token is
	                          there (rounded up, at least 1); else 0 */
};

/* Parses rate text (borrowed) into *out. TF_ERR_INVALID with a one-line
 * message about the text (quoting it) in err; the caller prefixes what it
 * was (the variable, the entry). */
enum tf_err rate_parse(const char *text, struct rate *out, char *err,
    size_t errlen);

/* True when r limits nothing ("off"). */
bool rate_is_off(const struct rate *r);

/* A table of at most capacity buckets (at least 1); when it is full, a new
 * id takes the place of the one used least recently. Caller frees with
 * rate_table_free(). NULL when out of memory. */
struct rate_table *rate_table_new(size_t capacity);
void rate_table_free(struct rate_table *t);

/* Takes a token from the bucket of id (id_len bytes, at most RATE_ID_MAX;
 * borrowed) under rate r at now_ns, creating the bucket full when there is
 * none. True when it took one; false when the bucket is empty (nothing is
 * taken then). *v (may be NULL) says how it stands. With r off: true, and
 * the table is not touched. */
bool rate_table_try_take(struct rate_table *t, const void *id, size_t id_len,
    const struct rate *r, int64_t now_ns, struct rate_verdict *v);

/* True when the bucket of id has a token at now_ns, without taking it and
 * without creating or touching a bucket (an id without a bucket counts as
 * full). *v (may be NULL) as for rate_table_try_take(), remaining counting
 * the tokens there now. */
bool rate_table_has_token(struct rate_table *t, const void *id,
    size_t id_len, const struct rate *r, int64_t now_ns,
    struct rate_verdict *v);

/* The number of buckets in t (for tests). */
size_t rate_table_count(struct rate_table *t);

#endif /* TF_PRODUCER_RATE_LIMIT_H */
