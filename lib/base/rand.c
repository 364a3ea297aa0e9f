/* rand.c - per-thread xorshift64* for backoff jitter. */
#include "base/rand.h"

#include <time.h>

static _Thread_local uint64_t state;

int64_t
tf_random_below(int64_t bound)
{
	uint64_t x = state;

	if (bound <= 0)
		return 0;
	if (x == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
		    (uint64_t)(uintptr_t)&state ^ 0x9E3779B97F4A7C15ULL;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	state = x;
	return (int64_t)((x * 0x2545F4914F6CDD1DULL) % (uint64_t)bound);
}
