/* alloc.c - allocation wrappers with failure injection for tests. */
#include "base/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static atomic_long fail_countdown = -1;
static atomic_long failures_injected;

/* True when this allocation must fail on purpose. */
static int
should_fail(void)
{
	long left = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

	if (left < 0)
		return 0;
	left = atomic_fetch_sub(&fail_countdown, 1);
	if (left == 0) {
		atomic_fetch_add(&failures_injected, 1);
		return 1;
	}
	if (left < 0)
		atomic_store(&fail_countdown, -1);
	return 0;
}

void
tf_alloc_fail_after(long n)
{
	atomic_store(&fail_countdown, n < 0 ? -1 : n);
}

long
tf_alloc_failures(void)
{
	return atomic_load(&failures_injected);
}

void *
tf_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

void *
tf_calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
}

void *
tf_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n == 0 ? 1 : n);
}

char *
tf_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *copy = tf_malloc(len + 1);

	if (copy == NULL)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

char *
tf_strdup(const char *s)
{
	return tf_strndup(s, strlen(s));
}

void
tf_free(void *p)
{
	free(p);
}

void
tf_alloc_init(void)
{
	cJSON_Hooks hooks = { .malloc_fn = tf_malloc, .free_fn = tf_free };

	cJSON_InitHooks(&hooks);
}
