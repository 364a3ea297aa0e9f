/* prom.c - the Prometheus text exposition writer (prom.h). */
#include "server/prom.h"

#include <stdarg.h>
#include <string.h>

void
tf_prom_put(struct tf_prom *o, const char *fmt, ...)
{
	va_list ap;

	if (o->rc != TF_OK)
		return;
	va_start(ap, fmt);
	o->rc = tf_buf_vappendf(o->b, fmt, ap);
	va_end(ap);
}

void
tf_prom_escape(struct tf_buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			tf_buf_append_str(out, "\\\\");
		else if (*s == '"')
			tf_buf_append_str(out, "\\\"");
		else if (*s == '\n')
			tf_buf_append_str(out, "\\n");
		else
			tf_buf_append_char(out, *s);
	}
}

void
tf_prom_label(struct tf_prom *o, bool first, const char *name,
    const char *value)
{
	size_t before;

	tf_prom_put(o, "%s%s=\"", first ? "" : ",", name);
	if (o->rc != TF_OK)
		return;
	before = o->b->len;
	tf_prom_escape(o->b, value);
	/* The escaped text is never shorter: shorter means an append failed. */
	if (o->b->len < before + strlen(value))
		o->rc = TF_ERR_NOMEM;
	tf_prom_put(o, "\"");
}

void
tf_prom_family(struct tf_prom *o, const char *name, const char *type,
    const char *help)
{
	tf_prom_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
tf_prom_sample(struct tf_prom *o, const char *name, long value)
{
	tf_prom_put(o, "%s %ld\n", name, value);
}

void
tf_prom_observe(struct tf_prom_histogram *h, const int64_t *bounds, size_t n,
    int64_t ms)
{
	size_t i;

	if (ms < 0)
		ms = 0;
	for (i = 0; i < n && ms > bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ms, ms, memory_order_relaxed);
}

/* Opens a series of name+suffix with the label lname="lvalue" if any, and
 * leaves it open for more labels: "name_sfx{l="v"" or "name_sfx{". */
static void
series_open(struct tf_prom *o, const char *name, const char *suffix,
    const char *lname, const char *lvalue)
{
	tf_prom_put(o, "%s%s{", name, suffix);
	if (lname != NULL)
		tf_prom_label(o, true, lname, lvalue);
}

void
tf_prom_histogram_series(struct tf_prom *o, const char *name,
    const char *lname, const char *lvalue, const struct tf_prom_histogram *h,
    const int64_t *bounds, size_t n)
{
	const char *sep = lname != NULL ? "," : "";
	long cumulative = 0;
	size_t i;

	for (i = 0; i <= n; i++) {
		cumulative += atomic_load_explicit(&h->bucket[i],
		    memory_order_relaxed);
		series_open(o, name, "_bucket", lname, lvalue);
		if (i < n)
			tf_prom_put(o, "%sle=\"%g\"} %ld\n", sep,
			    (double)bounds[i] / 1000.0, cumulative);
		else
			tf_prom_put(o, "%sle=\"+Inf\"} %ld\n", sep, cumulative);
	}
	/* The count is the +Inf bucket, so the two always agree. */
	series_open(o, name, "_sum", lname, lvalue);
	tf_prom_put(o, "} %.3f\n", (double)atomic_load_explicit(&h->sum_ms,
	    memory_order_relaxed) / 1000.0);
	series_open(o, name, "_count", lname, lvalue);
	tf_prom_put(o, "} %ld\n", cumulative);
}
