/*
 * alloc.h - the allocator every taskfleet module uses.
 *
 * Out-of-memory policy: library code never aborts. Each allocation failure is
 * returned to the caller as TF_ERR_NOMEM; the consumer treats it as a transient
 * failure of the one message it was handling (the message reappears after its
 * visibility timeout), the CLI reports it and exits 1.
 *
 * Tests can make the Nth allocation from now fail (curl's torture mode), to
 * walk every exit path. tf_alloc_init() also routes cJSON's allocations
 * through here, so cJSON trees take part in the same tests.
 */
#ifndef TF_ALLOC_H
#define TF_ALLOC_H

#include <stddef.h>

/* Installs the cJSON hooks. Call once at program start, before any thread. */
void tf_alloc_init(void);

void *tf_malloc(size_t n);
void *tf_calloc(size_t count, size_t size);
void *tf_realloc(void *p, size_t n);
/* Copies of s (or its first n bytes, always terminated); caller frees with tf_free(). */
char *tf_strdup(const char *s);
char *tf_strndup(const char *s, size_t n);
/* Frees p; NULL is fine. */
void tf_free(void *p);

/* Test hook: the allocation after `n` more succeed fails (n = 0: the next one);
 * a negative n switches failure injection off. */
void tf_alloc_fail_after(long n);
/* Test hook: how many allocations were failed on purpose since start. */
long tf_alloc_failures(void);

#endif /* TF_ALLOC_H */
