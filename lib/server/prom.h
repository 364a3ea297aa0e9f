/*
 * prom.h - writing the Prometheus text exposition format (0.0.4), as both
 * of taskfleet's /metrics endpoints do (consumer/metrics.c and `taskfleet
 * serve`'s producer/api_metrics.c): families with their HELP and TYPE
 * lines, samples, escaped label values, and histograms counted lock-free.
 *
 * A struct tf_prom keeps the first failure of its buffer, so a writer can
 * put many lines and check once at the end.
 */
#ifndef TF_PROM_H
#define TF_PROM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* The most bucket bounds a histogram may have. */
#define TF_PROM_MAX_BUCKETS 16

/* One exposition being written. */
struct tf_prom {
	struct tf_buf *b;    /* borrowed: where the text goes */
	enum tf_err rc;      /* the first failure; TF_OK so far */
};

/* One histogram: the count of each bucket (not cumulative; the one after
 * the last bound is the +Inf overflow) and the sum of the observations, in
 * milliseconds. Zero-initialised memory is an empty histogram. */
struct tf_prom_histogram {
	atomic_long bucket[TF_PROM_MAX_BUCKETS + 1];
	atomic_llong sum_ms;
};

/* Appends printf-style text to o->b, unless a write already failed. */
void tf_prom_put(struct tf_prom *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends s as a label value's escaped text (\\, \" and \n). */
void tf_prom_escape(struct tf_buf *out, const char *s);

/* Appends `name="value"` (value escaped; borrowed), preceded by a comma
 * unless first. */
void tf_prom_label(struct tf_prom *o, bool first, const char *name,
    const char *value);

/* The # HELP and # TYPE lines of a family. */
void tf_prom_family(struct tf_prom *o, const char *name, const char *type,
    const char *help);

/* A sample without labels. */
void tf_prom_sample(struct tf_prom *o, const char *name, long value);

/* Adds one observation of ms (negative counts as 0) to h, whose bucket
 * bounds are bounds[n] (n <= TF_PROM_MAX_BUCKETS, ascending). Any thread. */
void tf_prom_observe(struct tf_prom_histogram *h, const int64_t *bounds,
    size_t n, int64_t ms);

/* The _bucket (bounds in seconds), _sum and _count series of h, with the
 * label lname="lvalue" (both borrowed; lname NULL: no label). */
void tf_prom_histogram_series(struct tf_prom *o, const char *name,
    const char *lname, const char *lvalue, const struct tf_prom_histogram *h,
    const int64_t *bounds, size_t n);

#endif /* TF_PROM_H */
