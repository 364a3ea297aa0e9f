/* clock.c - time in milliseconds. */
#include "clock.h"

#include <errno.h>
#include <time.h>

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
	return clock_ms(CLOCK_REALTIME);
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
