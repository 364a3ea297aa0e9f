/* clock.c - time in milliseconds. */
#include "base/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* Tests only: TASKFLEET_TEST_CLOCK_OFFSET_MS (a signed whole number, at most
 * an hour either way) shifts this process's wall clock, so a test can run two
 * consumers whose clocks disagree as two machines' may. */
#define CLOCK_OFFSET_MAX_MS (3600 * 1000LL)

static pthread_once_t offset_once = PTHREAD_ONCE_INIT;
static int64_t offset_ms;

static void
offset_load(void)
{
	const char *v = getenv("TASKFLEET_TEST_CLOCK_OFFSET_MS");
	char *end;
	long long n;

	if (v == NULL || *v == '\0')
		return;
	n = strtoll(v, &end, 10);
	if (*end == '\0' && n >= -CLOCK_OFFSET_MAX_MS && n <= CLOCK_OFFSET_MAX_MS)
		offset_ms = n;
}

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
tf_now_ms(void)
{
	pthread_once(&offset_once, offset_load);
	return clock_ms(CLOCK_REALTIME) + offset_ms;
}

int64_t
tf_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

void
tf_sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
