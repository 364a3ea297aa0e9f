/* parallel - single.c without TF_RUNNER_SINGLE_THREADED: the control that
 * shows the overlap detection works and that ordinary runners are called
 * concurrently. A run waits up to 5 s for a second run to come in. */
#define RUNNER_NAME  "parallel"
#define RUNNER_FLAGS 0
#define WAIT_MS      5000
#include "single.c"
