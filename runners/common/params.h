/*
 * params.h - helpers the shipped runners share for reading their params and
 * reporting errors. Header-only (static functions): every runner is one
 * self-contained .so, so each gets its own copy at build time.
 */
#ifndef TF_RUNNERS_COMMON_PARAMS_H
#define TF_RUNNERS_COMMON_PARAMS_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include <taskfleet/runner.h>

/* The largest integer a double (and so a cJSON number) holds exactly. */
#define RUNNER_MAX_COUNT 9007199254740992.0

static inline void runner_set_error(struct tf_run_result *result,
    enum tf_run_outcome outcome, const char *fmt, ...) TF_RUNNER_PRINTF(3, 4);

/* Sets the outcome and writes the error text into the host's buffer. */
static inline void
runner_set_error(struct tf_run_result *result, enum tf_run_outcome outcome,
    const char *fmt, ...)
{
	va_list ap;

	result->outcome = outcome;
	result->completed = 0;
	if (result->error == NULL || result->error_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(result->error, result->error_size, fmt, ap);
	va_end(ap);
}

/* A short description of a JSON value for an error message. */
static inline void
runner_describe(const cJSON *item, char *buf, size_t len)
{
	if (cJSON_IsNumber(item))
		snprintf(buf, len, "%.17g", item->valuedouble);
	else if (cJSON_IsString(item))
		snprintf(buf, len, "a string");
	else if (cJSON_IsBool(item))
		snprintf(buf, len, "%s", cJSON_IsTrue(item) ? "true" : "false");
	else if (cJSON_IsNull(item))
		snprintf(buf, len, "null");
	else if (cJSON_IsArray(item))
		snprintf(buf, len, "an array");
	else
		snprintf(buf, len, "an object");
}

/*
 * Reads params.<key> as an integer from 0 to 2^53 into *out. Returns 1 when
 * it is there, 0 when it is absent (*out untouched), -1 when it is not such
 * an integer (the result is then a permanent failure saying so).
 */
static inline int
runner_get_count(const cJSON *params, const char *key, int64_t *out,
    struct tf_run_result *result)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(params, key);
	char got[48];
	double d;

	if (item == NULL)
		return 0;
	d = item->valuedouble;
	if (!cJSON_IsNumber(item) || !(d >= 0 && d <= RUNNER_MAX_COUNT) ||
	    (double)(int64_t)d != d) {
		runner_describe(item, got, sizeof(got));
		runner_set_error(result, TF_RUN_FAILED, "params.%s must be an integer "
		    "from 0 to 2^53, got %s", key, got);
		return -1;
	}
	*out = (int64_t)d;
	return 1;
}

/* Reads params.<key> as a string (borrowed from params) into *out, or leaves
 * *out when absent. Returns 0, or -1 when it is not a string (the result is
 * then a permanent failure saying so). */
static inline int
runner_get_string(const cJSON *params, const char *key, const char **out,
    struct tf_run_result *result)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(params, key);

	if (item == NULL)
		return 0;
	if (!cJSON_IsString(item) || item->valuestring == NULL) {
		runner_set_error(result, TF_RUN_FAILED, "params.%s must be a string",
		    key);
		return -1;
	}
	*out = item->valuestring;
	return 0;
}

#endif /* TF_RUNNERS_COMMON_PARAMS_H */
