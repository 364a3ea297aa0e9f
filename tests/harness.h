/*
 * harness.h - the unit-test harness: small enough to read in a minute.
 *
 * A test is a function `static void test_x(void)` that uses CHECK* macros.
 * main() calls TF_RUN(test_x) for each and returns tf_test_summary().
 * Each test prints "PASS name" or "FAIL name: file:line: what"; tests/run
 * counts those lines across every test program. A failed CHECK stops only
 * its own test (it returns from the test function).
 */
#ifndef TF_TEST_HARNESS_H
#define TF_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tf_test_passed, tf_test_failed, tf_test_current_failed;
static const char *tf_test_current;

#define TF_FAIL_AT(...) do { \
		if (!tf_test_current_failed) { \
			printf("FAIL %s: %s:%d: ", tf_test_current, __FILE__, __LINE__); \
			printf(__VA_ARGS__); \
			printf("\n"); \
			fflush(stdout); \
		} \
		tf_test_current_failed = 1; \
	} while (0)

/* The CHECK macros return from the test function on failure. */
#define CHECK(cond) do { \
		if (!(cond)) { TF_FAIL_AT("%s", #cond); return; } \
	} while (0)

#define CHECK_MSG(cond, ...) do { \
		if (!(cond)) { TF_FAIL_AT(__VA_ARGS__); return; } \
	} while (0)

#define CHECK_INT_EQ(a, b) do { \
		long long tf_a_ = (long long)(a), tf_b_ = (long long)(b); \
		if (tf_a_ != tf_b_) { \
			TF_FAIL_AT("%s == %s: %lld != %lld", #a, #b, tf_a_, tf_b_); \
			return; \
		} \
	} while (0)

#define CHECK_STR_EQ(a, b) do { \
		const char *tf_a_ = (a), *tf_b_ = (b); \
		if (tf_a_ == NULL || tf_b_ == NULL || strcmp(tf_a_, tf_b_) != 0) { \
			TF_FAIL_AT("%s == %s:\n  got:      %s\n  expected: %s", #a, #b, \
			    tf_a_ ? tf_a_ : "(null)", tf_b_ ? tf_b_ : "(null)"); \
			return; \
		} \
	} while (0)

#define TF_RUN(fn) do { \
		tf_test_current = #fn; \
		tf_test_current_failed = 0; \
		fn(); \
		if (tf_test_current_failed) { \
			tf_test_failed++; \
		} else { \
			tf_test_passed++; \
			printf("PASS %s\n", #fn); \
		} \
		fflush(stdout); \
	} while (0)

/* Runs a test under a name built at run time (for table-driven suites). */
#define TF_RUN_NAMED(name, fn, arg) do { \
		tf_test_current = (name); \
		tf_test_current_failed = 0; \
		fn(arg); \
		if (tf_test_current_failed) { \
			tf_test_failed++; \
		} else { \
			tf_test_passed++; \
			printf("PASS %s\n", (name)); \
		} \
		fflush(stdout); \
	} while (0)

static inline int
tf_test_summary(void)
{
	printf("# %d passed, %d failed\n", tf_test_passed, tf_test_failed);
	return tf_test_failed == 0 ? 0 : 1;
}

#endif /* TF_TEST_HARNESS_H */
