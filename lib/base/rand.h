/* rand.h - fast per-thread pseudo-random numbers for jitter (not for secrets). */
#ifndef TF_RAND_H
#define TF_RAND_H

#include <stdint.h>

/* A uniform number in [0, bound); 0 when bound <= 0. Thread-safe: each thread
 * has its own generator, seeded from the clock and the thread. */
int64_t tf_random_below(int64_t bound);

#endif /* TF_RAND_H */
