/*
 * host.h - the services the consumer offers runners (struct tf_host_api).
 */
#ifndef TF_HOST_H
#define TF_HOST_H

#include <stdarg.h>
#include <stddef.h>

#include <taskfleet/runner.h>

#include "consumer.h"

struct tf_async_run;

/* The largest params or result document a runner may hand back. */
#define TF_HOST_MAX_DOCUMENT (350 * 1024)

/* The host side of one run. Owned by the worker running it. */
struct tf_run_ctx {
	struct tf_consumer *c;        /* borrowed */
	struct tf_inflight *f;        /* borrowed */
	const char *task_id;          /* borrowed */
	const char *runner;           /* borrowed */
	char *new_params;             /* owned; set by set_params */
	char *result_json;            /* owned; set by set_result */
	struct tf_async_run *async;   /* owned by async_run.c while a run begun
	                                 with start() is pending; else NULL */
};

/* The host table passed to every runner; static, valid for the process. */
const struct tf_host_api *tf_host_api(void);

/*
 * Checks that json (len bytes, need not be terminated; borrowed) is one JSON
 * object of at most TF_HOST_MAX_DOCUMENT bytes and stores a terminated copy
 * in *slot (owned by the caller, freed with tf_free(); the old value is
 * freed). Returns 0, or -1 with *slot unchanged. The rule for set_params()
 * and set_result(), in this process and in an isolated runner's worker.
 */
int tf_host_take_document(char **slot, const char *json, size_t len);

/* Writes a runner's log() line as one of the consumer's JSON log lines,
 * tagged with the task id and runner name (either may be NULL). */
void tf_host_vlog(const char *task_id, const char *runner,
    enum tf_runner_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Frees what a run's runner handed over; ctx itself is the caller's. */
void tf_run_ctx_clear(struct tf_run_ctx *ctx);

#endif /* TF_HOST_H */
