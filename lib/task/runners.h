/*
 * runners.h - finding, checking, initialising and calling task runners.
 *
 * A runner set is every runner one program uses, loaded from one spec
 * (TASKFLEET_RUNNERS, docs/configuration.md):
 *   - NULL or "": the default directory: "build/runners" next to the binary
 *     (<dir of /proc/self/exe>/../runners) if it exists, else
 *     tf_runner_install_dir() ($PREFIX/lib/taskfleet/runners);
 *   - otherwise a colon-separated list of files and directories. A directory
 *     contributes its "*.so" files (not starting with '.'), in strcmp order;
 *     a file is taken whatever its name. Empty elements are ignored, and a
 *     file reached twice (same device and inode) is loaded once.
 *
 * A file is refused before it is opened when anyone could have written it:
 * the file (after symlinks) is world-writable, or the directory it is named
 * in or really lives in is world-writable without the sticky bit.
 *
 * Every file is opened with dlopen(RTLD_NOW | RTLD_LOCAL) and its descriptor
 * checked before anything else is read: magic, then the ABI major (reported
 * on its own), then the size, then name ([A-Za-z0-9_-]{1,64}, case-sensitive:
 * tf_task_type_valid()) and run(). Names must be unique across the set. One bad file fails the whole set: the
 * consumer refuses to start rather than run without a runner it was given.
 * The loader copies name, version, flags and callbacks out of the
 * descriptor; nothing points into it afterwards.
 *
 * Errors: every function that takes (err, errlen) writes a one-line message
 * into err on failure (truncated to errlen; err may be NULL when errlen is 0)
 * and "" on success. The message names the file, and for a descriptor that
 * does not fit, both versions and sizes. Codes:
 *   TF_ERR_NOT_FOUND  a listed path does not exist; no default directory
 *                     exists; the spec names no runner at all
 *   TF_ERR_IO         a directory that cannot be read
 *   TF_ERR_INVALID    a runner is refused (world-writable file or directory,
 *                     dlopen failed, no entry symbol, magic, major, size,
 *                     name, run, duplicate name), a
 *                     configuration variable is not a JSON object, or a
 *                     runner's init() failed
 *   TF_ERR_NOMEM      out of memory
 *
 * Threads: load, init and free are for one thread at program start and end.
 * Between init and free, find/count/at/accessors and tf_runner_invoke() may be
 * called from any number of threads at once; so may tf_runner_validate(),
 * from load on (it needs no init).
 */
#ifndef TF_RUNNERS_H
#define TF_RUNNERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <taskfleet/runner.h>

#include "base/err.h"

/* A runner's configuration comes from TF_RUNNER_CONFIG_ENV_PREFIX followed by
 * its name upper-cased with '-' turned into '_'. */
#define TF_RUNNER_CONFIG_ENV_PREFIX "TASKFLEET_RUNNER_CONFIG_"
/* Room for the longest such variable name and its terminator. */
#define TF_RUNNER_CONFIG_VAR_MAX (sizeof(TF_RUNNER_CONFIG_ENV_PREFIX) + 64)

/* The error buffer size hosts should give tf_run_result_prepare(). */
#define TF_RUNNER_ERROR_SIZE 1024

struct tf_runner_set;
struct tf_loaded_runner;

/*
 * Loads every runner the spec names (see above; borrowed) and checks each.
 * On TF_OK *out is a new set the caller frees with tf_runner_set_free(); on
 * failure *out is NULL and nothing stays loaded. No runner code runs except
 * the library's constructors and its taskfleet_runner() entry point.
 */
enum tf_err tf_runner_set_load(const char *spec, struct tf_runner_set **out,
    char *err, size_t errlen);

/*
 * Calls each runner's init() once, in load order, with its configuration
 * (the variable named by tf_runner_config_var(), "{}" when unset or empty).
 * Every variable is checked to hold a JSON object before any init() runs;
 * the message names the variable and never repeats its value, which may
 * hold secrets. The first init() to return non-zero stops the rest and gives
 * TF_ERR_INVALID naming the runner and its file. Either way the caller
 * still frees the set, which calls fini() of the runners whose init() ran
 * and succeeded (or that have no init()).
 *
 * host is borrowed and must outlive the set: runners may keep it and use it
 * until their fini() returns. Call once per set.
 */
enum tf_err tf_runner_set_init(struct tf_runner_set *set,
    const struct tf_host_api *host, char *err, size_t errlen);

/* The number of runners, and the i-th one (0 <= i < count) in load order.
 * Borrowed: valid until tf_runner_set_free(). */
size_t tf_runner_set_count(const struct tf_runner_set *set);
const struct tf_loaded_runner *tf_runner_set_at(const struct tf_runner_set *set,
    size_t i);

/* The runner named `name` (borrowed), or NULL. Borrowed: valid until
 * tf_runner_set_free(). */
const struct tf_loaded_runner *tf_runner_set_find(const struct tf_runner_set *set,
    const char *name);

/*
 * Marks runner `name` as run in another process (the consumer's isolated
 * mode): tf_runner_set_init() still checks its configuration variable but
 * does not call its init(), so neither tf_runner_set_free() its fini(), and
 * tf_runner_invoke() fails its runs. Call between load and init.
 * TF_ERR_NOT_FOUND when the set has no such runner, TF_ERR_INVALID after
 * init.
 */
enum tf_err tf_runner_set_isolate(struct tf_runner_set *set, const char *name);

/* Records the host's time limit for one run of runner `name`, in ms (0: no
 * limit; the default). The loader only stores it. TF_ERR_NOT_FOUND when the
 * set has no such runner, TF_ERR_INVALID for a negative limit. */
enum tf_err tf_runner_set_time_limit(struct tf_runner_set *set,
    const char *name, int64_t ms);

/* Calls fini() of every initialised runner (in reverse load order, after the
 * caller has made sure no tf_runner_invoke() is still running), closes the
 * libraries and frees the set. NULL is fine. */
void tf_runner_set_free(struct tf_runner_set *set);

/* A loaded runner's name, version ("" when it gave none) and file, and its
 * descriptor's flags, ABI minor and size. Strings are owned by the set. */
const char *tf_loaded_runner_name(const struct tf_loaded_runner *r);
const char *tf_loaded_runner_version(const struct tf_loaded_runner *r);
const char *tf_loaded_runner_path(const struct tf_loaded_runner *r);
uint32_t tf_loaded_runner_flags(const struct tf_loaded_runner *r);
unsigned tf_loaded_runner_abi_minor(const struct tf_loaded_runner *r);
uint32_t tf_loaded_runner_size(const struct tf_loaded_runner *r);
/* Whether the runner was marked with tf_runner_set_isolate(), and its time
 * limit from tf_runner_set_time_limit() (0: none). */
bool tf_loaded_runner_isolated(const struct tf_loaded_runner *r);
int64_t tf_loaded_runner_time_limit_ms(const struct tf_loaded_runner *r);

/*
 * Asks runner r whether a task's params are acceptable, with its validate()
 * entry (runner ABI 1.1; see taskfleet/runner.h). params: JSON object text,
 * terminated, len bytes; borrowed. TF_OK when the runner accepts them or
 * has no such entry (built against ABI 1.0, or left it NULL: the params are
 * then checked only when the task runs); TF_ERR_INVALID with the runner's
 * message in err, made one line (a refusal without text gets one naming
 * the runner). Needs no tf_runner_set_init(): validate() runs without
 * init(), as in the producer. Any thread (single-threaded runners under
 * their mutex).
 */
enum tf_err tf_runner_validate(const struct tf_loaded_runner *r,
    const char *params, size_t len, char *err, size_t errlen);
/* Whether r has a validate() entry. */
bool tf_loaded_runner_validates(const struct tf_loaded_runner *r);

/*
 * Prepares a result the way the ABI promises runners: zeroed, size set,
 * error pointing at errbuf (errlen bytes, at least 1) holding "", outcome
 * TF_RUN_SUCCESS. errbuf is borrowed and must outlive the result.
 */
void tf_run_result_prepare(struct tf_run_result *result, char *errbuf,
    size_t errlen);

/*
 * Checks the times a runner put into result (after tf_runner_invoke()):
 * new_target_timestamp and retry_after_ms must each be 0 (not set) or within
 * TF_RUNNER_TIME_MIN_MS .. TF_RUNNER_TIME_MAX_MS (2000-01-01 to 9999-12-31),
 * whatever the outcome. TF_ERR_INVALID with a message naming the field and
 * its value otherwise: the caller refuses the output as it refuses params
 * too large to store, instead of parking the task in the year 292 million
 * or in 1970.
 */
enum tf_err tf_run_result_check_times(const struct tf_run_result *result,
    char *err, size_t errlen);

/*
 * Runs one iteration: calls r's run() with its state, task and result (both
 * borrowed; result prepared with tf_run_result_prepare()). Runners flagged
 * TF_RUNNER_SINGLE_THREADED are called under a mutex of their own; others
 * concurrently. Afterwards the result is made safe to read whatever the
 * runner did: error, error_size and size are restored to the host's values
 * (text a runner pointed error at instead of writing it is copied in),
 * the text is terminated, an outcome outside enum tf_run_outcome becomes
 * TF_RUN_FAILED, and a failure without text gets one naming the runner.
 * Calling a runner the set has not initialised fails the run (TF_RUN_FAILED).
 */
void tf_runner_invoke(const struct tf_loaded_runner *r,
    const struct tf_task_view *task, struct tf_run_result *result);

/*
 * Makes a result a runner filled safe to read (tf_runner_invoke() does this
 * after run()): error, error_size and size restored to the host's values
 * (errbuf and errsize, as prepared; text a runner pointed error at instead
 * of writing it is copied in), the text terminated, an outcome outside enum
 * tf_run_outcome made TF_RUN_FAILED, a failure without text given one
 * naming the runner. For a run begun with tf_runner_start(), after its
 * complete().
 */
void tf_run_result_settle(const struct tf_loaded_runner *r,
    struct tf_run_result *result, char *errbuf, size_t errsize);

/* Whether r runs in the asynchronous style here: it has start() (runner
 * ABI 1.2) and is not isolated (a worker process calls run()). */
bool tf_loaded_runner_starts(const struct tf_loaded_runner *r);

/*
 * Begins one iteration with r's start() (on the caller's event loop; task
 * and result as for tf_runner_invoke(), borrowed until the run completes).
 * Returns true when the run is pending: the runner calls the host's
 * complete() later, after which the caller settles the result with
 * tf_run_result_settle(). false when it is over (result settled): start()
 * said TF_START_DONE, or r has no start() (run() was called instead), or is
 * not initialised here (the run failed).
 */
bool tf_runner_start(const struct tf_loaded_runner *r,
    const struct tf_task_view *task, struct tf_run_result *result);

/* Writes the configuration variable's name for runner `name` into out
 * (outlen bytes, TF_RUNNER_CONFIG_VAR_MAX is enough for any valid name).
 * Returns TF_ERR_INVALID when it does not fit. */
enum tf_err tf_runner_config_var(const char *name, char *out, size_t outlen);

/* Where `make install` put the shipped runners: "$PREFIX/lib/taskfleet/runners"
 * with the PREFIX this library was built with. Constant. */
const char *tf_runner_install_dir(void);

/*
 * The default runner directory for a program at `exe` (borrowed; NULL: this
 * program, from /proc/self/exe): "<dir of exe>/../runners" (written without
 * "..") if it is a directory, else `install_dir` (borrowed; NULL:
 * tf_runner_install_dir()) if that is. On TF_OK *out is a new string the caller
 * frees with tf_free(); TF_ERR_NOT_FOUND when neither exists, with a message
 * naming both.
 */
enum tf_err tf_runner_default_dir(const char *exe, const char *install_dir,
    char **out, char *err, size_t errlen);

#endif /* TF_RUNNERS_H */
