/* no_entry - a shared object without the taskfleet_runner symbol: the loader
 * must refuse it with dlerror()'s text. */
#include <taskfleet/runner.h>

TF_RUNNER_EXPORT int tf_test_not_a_runner(void);

TF_RUNNER_EXPORT int
tf_test_not_a_runner(void)
{
	return 42;
}
