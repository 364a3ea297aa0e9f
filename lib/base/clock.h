/* clock.h - wall-clock and monotonic time in milliseconds. */
#ifndef TF_CLOCK_H
#define TF_CLOCK_H

#include <stdint.h>

/* Epoch milliseconds (CLOCK_REALTIME): for due times and AWS signing. */
int64_t tf_now_ms(void);
/* Milliseconds on CLOCK_MONOTONIC: for timeouts and durations. */
int64_t tf_mono_ms(void);
/* Sleeps for ms milliseconds (restarting after signals). */
void tf_sleep_ms(int64_t ms);

#endif /* TF_CLOCK_H */
