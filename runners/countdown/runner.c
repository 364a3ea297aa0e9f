/*
 * countdown - a task that runs a given number of times.
 *
 * Params: {"n": N, "every_ms": M}. Each run decrements n and stores the new
 * params through the host: the same text with only n's value rewritten, so
 * other keys (and their numbers, which cJSON would round to doubles) stay as
 * they were. While n is above 0 it asks to run again M milliseconds from now
 * (M defaults to 0: at once); the run that brings n to 0 completes the task.
 * A task submitted with n = 0 completes on its first run without changing
 * its params.
 *
 * n and every_ms must be integers from 0 to 2^53 (3.0 counts as 3); anything
 * else, and params that are not a JSON object, fail the task permanently
 * with a message naming the field. Params come from users: every value is
 * checked before it is used.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <taskfleet/runner.h>

#include "../common/params.h"

/* The largest integer a double (and so a cJSON number) holds exactly. */

/*
 * A minimal scanner over a text cJSON has already accepted. It never reads
 * past the terminating NUL, whatever the text. Whitespace is what cJSON
 * skips: every byte from 1 to 32.
 */
static int
is_space(char c)
{
	return c != '\0' && (unsigned char)c <= 32;
}

static size_t
skip_ws(const char *s, size_t i)
{
	while (is_space(s[i]))
		i++;
	return i;
}

/* The index just past the JSON string starting at s[i] ('"'). */
static size_t
skip_string(const char *s, size_t i)
{
	for (i++; s[i] != '"' && s[i] != '\0'; i++) {
		if (s[i] == '\\' && s[i + 1] != '\0')
			i++;
	}
	return s[i] == '"' ? i + 1 : i;
}

/* The index just past the JSON value starting at s[i]. */
static size_t
skip_value(const char *s, size_t i)
{
	int depth = 0;

	if (s[i] == '"')
		return skip_string(s, i);
	if (s[i] != '{' && s[i] != '[') {
		while (s[i] != '\0' && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
		    !is_space(s[i]))
			i++;
		return i;
	}
	do {
		if (s[i] == '"') {
			i = skip_string(s, i);
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if (s[i] == '}' || s[i] == ']')
			depth--;
		i++;
	} while (depth > 0 && s[i] != '\0');
	return i;
}

/*
 * Finds the first top-level member named key (written without escapes) in
 * s, a text cJSON has accepted as one JSON object, and sets [*start, *end)
 * to its value's text. Returns 1 when found, 0 when not.
 */
static int
find_member(const char *s, const char *key, size_t *start, size_t *end)
{
	size_t klen = strlen(key), i = 0, kstart, kend;

	if (strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		i = 3;  /* a UTF-8 byte order mark, which cJSON skips */
	i = skip_ws(s, i);
	if (s[i] != '{')
		return 0;
	i = skip_ws(s, i + 1);
	while (s[i] == '"') {
		kstart = i + 1;
		kend = skip_string(s, i) - 1;   /* the closing quote */
		i = skip_ws(s, kend + 1);
		if (s[i] != ':')
			return 0;
		i = skip_ws(s, i + 1);
		*start = i;
		*end = skip_value(s, i);
		if (kend - kstart == klen && memcmp(s + kstart, key, klen) == 0)
			return 1;
		i = skip_ws(s, *end);
		if (s[i] == ',')
			i = skip_ws(s, i + 1);
	}
	return 0;
}

/*
 * The params text with the value of member "n" replaced by n, everything
 * else byte for byte as it was: re-printing the whole object through cJSON
 * would round other numbers to doubles. Caller frees with free(); NULL when
 * out of memory or when "n" is not written plainly (*plain is then 0).
 */
static char *
replace_n(const char *text, int64_t n, int *plain)
{
	char num[24];
	size_t start, end, len, nlen;
	char *out;

	*plain = find_member(text, "n", &start, &end);
	if (!*plain)
		return NULL;
	snprintf(num, sizeof(num), "%" PRId64, n);
	len = strlen(text);
	nlen = strlen(num);
	if ((out = malloc(len - (end - start) + nlen + 1)) == NULL)
		return NULL;
	memcpy(out, text, start);
	memcpy(out + start, num, nlen);
	memcpy(out + start + nlen, text + end, len - end + 1);
	return out;
}

static void
countdown_run(void *state, const struct tf_task_view *task,
    struct tf_run_result *result)
{
	const struct tf_host_api *host = task->host;
	const char *text = task->params_json != NULL ? task->params_json : "{}";
	cJSON *params = NULL;
	char *updated = NULL;
	int64_t n = 0, every_ms = 0;
	int found, plain;

	params = cJSON_ParseWithOpts(text, NULL, 1);
	if (params == NULL) {
		runner_set_error(result, TF_RUN_FAILED, "params are not valid JSON");
		goto out;
	}
	if (!cJSON_IsObject(params)) {
		runner_set_error(result, TF_RUN_FAILED, "params must be a JSON object "
		    "{\"n\": N, \"every_ms\": M}");
		goto out;
	}
	found = runner_get_count(params, "n", &n, result);
	if (found == 0)
		runner_set_error(result, TF_RUN_FAILED, "params.n is missing: countdown "
		    "needs {\"n\": N, \"every_ms\": M}");
	if (found <= 0)
		goto out;
	if (runner_get_count(params, "every_ms", &every_ms, result) < 0)
		goto out;

	if (n == 0) {
		result->outcome = TF_RUN_SUCCESS;
		result->completed = 1;
		goto out;
	}
	n--;
	if ((updated = replace_n(text, n, &plain)) == NULL) {
		if (plain)
			runner_set_error(result, TF_RUN_RETRY, "out of memory");
		else
			runner_set_error(result, TF_RUN_FAILED, "params.n: write the key "
			    "as plain \"n\", without escapes");
		goto out;
	}
	if (host->set_params(task->ctx, updated, strlen(updated)) != 0) {
		runner_set_error(result, TF_RUN_FAILED, "the host refused the new params");
		goto out;
	}
	result->outcome = TF_RUN_SUCCESS;
	if (n == 0)
		result->completed = 1;
	else
		result->new_target_timestamp = host->now_ms() + every_ms;
out:
	free(updated);
	cJSON_Delete(params);
}

static const struct tf_runner countdown_runner = {
	.magic = TF_RUNNER_MAGIC,
	.abi_major = TF_RUNNER_ABI_MAJOR,
	.abi_minor = TF_RUNNER_ABI_MINOR,
	.size = sizeof(struct tf_runner),
	.flags = TF_RUNNER_RETURNS_AT_ONCE,
	.name = "countdown",
	.version = "1.0.0",
	.init = NULL,
	.run = countdown_run,
	.fini = NULL,
};

TF_RUNNER_EXPORT const struct tf_runner *
taskfleet_runner(void)
{
	return &countdown_runner;
}
