/*
 * taskfleet/runner.h - the task-runner ABI: the only header a runner includes.
 *
 * A runner is a shared object that exports one function:
 *
 *     TF_RUNNER_EXPORT const struct tf_runner *taskfleet_runner(void);
 *
 * returning a pointer to a constant descriptor (struct tf_runner) that starts
 * with TF_RUNNER_MAGIC, the ABI major and minor version it was built against
 * and its own size. The consumer checks those before it reads anything else:
 * the major must equal the consumer's, the size must cover every field the
 * consumer reads. Fields are only ever added at the end, with a minor bump.
 *
 * Memory never crosses the boundary unowned. The host passes the runner a
 * read-only view of the task and a result to fill: error text goes into a
 * buffer the host provides; new parameters and a result document are handed
 * over through host functions that copy them. A runner never frees host
 * memory and the host never frees runner memory.
 *
 * Threads: run() may be called from several threads at once, each call with
 * its own task and result, unless the descriptor sets
 * TF_RUNNER_SINGLE_THREADED; then the host serialises the calls.
 *
 * Two styles (ABI 1.2): run() blocks a host thread for the whole run; a
 * runner that also has start() begins the run on the consumer's event loop,
 * returns TF_START_PENDING at once and ends it later with the host's
 * complete(), meanwhile asking the host for HTTP transfers (http()) and
 * timers (after()) on that loop: a run in flight costs the host a struct,
 * not a thread. See start() below and runners/README.md.
 *
 * Build a runner with:
 *     cc -shared -fPIC -fvisibility=hidden -I$PREFIX/include -o myrunner.so myrunner.c
 */
#ifndef TASKFLEET_RUNNER_H
#define TASKFLEET_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TF_RUNNER_MAGIC     0x54467231u  /* "TFr1" */
#define TF_RUNNER_ABI_MAJOR 1
#define TF_RUNNER_ABI_MINOR 3

/* The longest runner name, in bytes. */
#define TF_RUNNER_NAME_MAX 64

/* The times a result may name (new_target_timestamp, retry_after_ms), epoch
 * ms: 2000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z. 0 means "not set";
 * any other value outside the range is refused as runner output: the task
 * fails permanently with a message naming the field. */
#define TF_RUNNER_TIME_MIN_MS INT64_C(946684800000)
#define TF_RUNNER_TIME_MAX_MS INT64_C(253402300799999)

/* True when a struct the other side built (with a leading `size` member)
 * is large enough to hold `field`: use before touching a field added in a
 * later minor version. */
#define TF_RUNNER_HAS(ptr, type, field) \
	(offsetof(type, field) + sizeof(((type *)0)->field) <= (ptr)->size)

/* The name of the exported entry point, for dlsym(). */
#define TF_RUNNER_ENTRY_SYMBOL "taskfleet_runner"

#if defined(__GNUC__)
#define TF_RUNNER_EXPORT __attribute__((visibility("default")))
#define TF_RUNNER_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TF_RUNNER_EXPORT
#define TF_RUNNER_PRINTF(f, a)
#endif

/* How a run ended. */
enum tf_run_outcome {
	TF_RUN_SUCCESS,    /* the iteration finished; see completed */
	TF_RUN_RETRY,      /* a transient failure: try this iteration again later */
	TF_RUN_FAILED      /* a permanent failure: the task ends FAILED */
};

/* The outcome is stored in a 32-bit field; compilers that shrink enums
 * (-fshort-enums) would break the layout. */
#if defined(__cplusplus)
static_assert(sizeof(enum tf_run_outcome) == 4, "enum tf_run_outcome must be 32 bits");
#else
_Static_assert(sizeof(enum tf_run_outcome) == 4, "enum tf_run_outcome must be 32 bits");
#endif

/* Levels for tf_host_api.log. */
enum tf_runner_log_level {
	TF_RUNNER_LOG_DEBUG,
	TF_RUNNER_LOG_INFO,
	TF_RUNNER_LOG_WARN,
	TF_RUNNER_LOG_ERROR
};

/* Descriptor flags. */
#define TF_RUNNER_SINGLE_THREADED 0x1u  /* run() must not be called concurrently */
/* run() returns at once: it never waits on the network, a disk, a lock held
 * for long or a sleep. The consumer then calls it on its event loop instead
 * of handing it to a runner thread (a hand-off that would cost more than the
 * run). A runner that sets it and blocks stalls every run of its consumer.
 * Hosts that predate it ignore it (ABI 1.1 and later read it). */
#define TF_RUNNER_RETURNS_AT_ONCE 0x2u

/* The host's side of one run; runners use it only through tf_host_api. */
struct tf_run_ctx;
struct tf_task_view;
struct tf_run_result;

/* What start() returns. */
enum tf_start_status {
	TF_START_DONE,     /* the run is over: result is filled, as after run() */
	TF_START_PENDING   /* the run goes on: the runner calls complete() */
};

/* An HTTP transfer's end (tf_host_api.http): curl_code is libcurl's
 * CURLcode for it, or TF_HOST_HTTP_CANCELLED when the host took it off the
 * loop first (the run was cancelled: see cancelled()). The easy handle is
 * the runner's again. Runs on the consumer's loop. */
typedef void tf_host_http_cb(void *user, int curl_code, void *curl_easy);

/* A timer's end (tf_host_api.after): cancelled is 0 when the delay passed,
 * non-zero when the host cancelled the run first. Runs on the loop. */
typedef void tf_host_timer_cb(void *user, int cancelled);

/* The curl_code of a transfer the host cancelled; no CURLcode has it. */
#define TF_HOST_HTTP_CANCELLED (-1)

/*
 * Services the host offers. The table is the host's and lives as long as the
 * runner is loaded; check `size` before using a function added in a later
 * minor version (offsetof(struct tf_host_api, fn) < size).
 */
struct tf_host_api {
	uint32_t size;  /* sizeof(struct tf_host_api) as the host built it */

	/* Writes a log line tagged with the task id and runner name. ctx may be
	 * NULL outside a run (in init and fini). */
	void (*log)(struct tf_run_ctx *ctx, enum tf_runner_log_level level,
	    const char *fmt, ...) TF_RUNNER_PRINTF(3, 4);

	/* Asks the host to extend the task's lease and its message's
	 * visibility now, without waiting for it. The host does this on its own
	 * while run() is busy; a runner calls it only to learn whether it still
	 * holds the task. Returns 0 while the lease is held, -1 once it is
	 * known lost (another consumer owns the task: stop and return, the
	 * result will be discarded). */
	int (*heartbeat)(struct tf_run_ctx *ctx);

	/* Non-zero once the run should stop early: the consumer is shutting down
	 * past its grace period, or the lease was lost. */
	int (*cancelled)(struct tf_run_ctx *ctx);

	/* The current time, epoch milliseconds. */
	int64_t (*now_ms)(void);

	/* Replaces the task's params with this JSON object text (copied; len
	 * bytes, need not be terminated). Returns 0, or -1 when it is not a
	 * JSON object or is too large; the params are then kept. */
	int (*set_params)(struct tf_run_ctx *ctx, const char *json, size_t len);

	/* Records a result document for the task item's `result` attribute
	 * (copied; a JSON object). Returns 0 or -1 as set_params. */
	int (*set_result)(struct tf_run_ctx *ctx, const char *json, size_t len);

	/* Since ABI 1.2, for runs begun with start() (TF_START_PENDING) and
	 * only for them: a host built before has a size that stops before
	 * these, and never calls start(). complete() may be called from any
	 * thread; http() and after() only on the loop thread, from start() or
	 * a callback of the same run. */

	/* Ends the run: the host reads the result start() was given (filled by
	 * now) on its loop soon after. Call it once, from any thread, when no
	 * http() transfer or after() timer of the run is left (each callback
	 * has run); the task view and result must not be touched afterwards. */
	void (*complete)(struct tf_run_ctx *ctx);

	/* Performs an HTTP transfer on the consumer's loop with curl_easy, a
	 * libcurl easy handle (CURL *) the runner created and set up with the
	 * process's libcurl (libcurl.so.4, linked dynamically): every option
	 * is the runner's but CURLOPT_PRIVATE, which the host takes, and
	 * CURLOPT_SHARE must not share connections (the host's connection
	 * cache keeps them alive, per host up to --http-max-host-connections;
	 * a transfer waiting for one spends its CURLOPT_TIMEOUT waiting).
	 * The runner's own callbacks (CURLOPT_OPENSOCKETFUNCTION to vet each
	 * address connected to, header and body callbacks) run on the loop and
	 * must not block. The handle is borrowed until cb(user, ...) runs on
	 * the loop. Returns 0, or -1 (cb not called) when the host cannot take
	 * it (stopping, out of memory). */
	int (*http)(struct tf_run_ctx *ctx, void *curl_easy, tf_host_http_cb *cb,
	    void *user);

	/* Calls cb(user, 0) on the loop after delay_ms (>= 0). Returns 0, or
	 * -1 (cb not called). */
	int (*after)(struct tf_run_ctx *ctx, int64_t delay_ms,
	    tf_host_timer_cb *cb, void *user);

	/* Since ABI 1.3: the AWS targets (docs/targets.md) made with the
	 * host's own AWS code, so that the runners shipped for them (sqs, sns,
	 * lambda, eventbridge, stepfunctions) carry no copy of it. A host
	 * built before has a size that stops before these. target_init()
	 * sets up target (a runner name: "sqs", ...) with config_json as the
	 * runner's init() got it, host being the table the runner got; it
	 * returns 0 with *state set, or -1 after logging why. target_run()
	 * and target_fini() are the run() and fini() of such a state. */
	int (*target_init)(const struct tf_host_api *host, const char *target,
	    const char *config_json, void **state);
	void (*target_run)(void *state, const struct tf_task_view *task,
	    struct tf_run_result *result);
	void (*target_fini)(void *state);
};

/* What the runner is asked to run. Everything is the host's, read-only, and
 * valid only during the run() call. */
struct tf_task_view {
	uint32_t size;              /* sizeof(struct tf_task_view) as the host built it */
	const char *id;             /* task id */
	const char *ns;             /* namespace */
	const char *type;           /* runner name */
	const char *params_json;    /* params as a JSON object text, terminated */
	size_t params_len;
	int64_t iteration;          /* runs finished before this one */
	int32_t attempt;            /* 1 for the first attempt of this iteration */
	int32_t max_attempts;
	int64_t target_ms;          /* when this run was due, epoch ms */
	int64_t deadline_ms;        /* the run should be over by then (epoch ms),
	                               or 0 for no limit */
	const struct tf_host_api *host;
	struct tf_run_ctx *ctx;     /* pass to the host functions */
};

/* The result the runner fills. The host zeroes it, sets `size`, points
 * `error` at a buffer of `error_size` bytes holding "", and sets outcome to
 * TF_RUN_SUCCESS before calling run(). */
struct tf_run_result {
	uint32_t size;                  /* sizeof(struct tf_run_result) as the host built it */
	enum tf_run_outcome outcome;
	int32_t completed;              /* with TF_RUN_SUCCESS: non-zero when the
	                                   task is done */
	int64_t new_target_timestamp;   /* epoch ms of the next iteration; 0: the
	                                   task's schedule, or now if it has none;
	                                   else within TF_RUNNER_TIME_MIN_MS ..
	                                   TF_RUNNER_TIME_MAX_MS */
	int64_t retry_after_ms;         /* with TF_RUN_RETRY: the earliest time
	                                   (epoch ms) for the next attempt; 0: the
	                                   host's backoff; else within the same
	                                   range */
	char *error;                    /* host buffer: the error text, for
	                                   TF_RUN_RETRY and TF_RUN_FAILED */
	size_t error_size;
};

/* The descriptor a runner exports. Constant; the host copies what it needs. */
struct tf_runner {
	uint32_t magic;                 /* TF_RUNNER_MAGIC */
	uint16_t abi_major;             /* TF_RUNNER_ABI_MAJOR */
	uint16_t abi_minor;             /* TF_RUNNER_ABI_MINOR */
	uint32_t size;                  /* sizeof(struct tf_runner) */
	uint32_t flags;                 /* TF_RUNNER_* flags */
	const char *name;               /* the task type it runs:
	                                   [A-Za-z0-9_-]{1,TF_RUNNER_NAME_MAX},
	                                   case-sensitive */
	const char *version;            /* the runner's own version, free text */

	/* Called once after loading, before any run(). config_json is the
	 * runner's configuration as a JSON object text ("{}" when there is
	 * none); *state may be set to anything the runner wants passed back.
	 * Returns 0, or non-zero to refuse to start (the consumer then exits
	 * with a message naming the runner). May be NULL. */
	int (*init)(const struct tf_host_api *host, const char *config_json,
	    void **state);

	/* Runs one iteration of one task and fills result. Required. */
	void (*run)(void *state, const struct tf_task_view *task,
	    struct tf_run_result *result);

	/* Called once before unloading, after the last run() has returned.
	 * May be NULL. */
	void (*fini)(void *state);

	/* Since ABI 1.1 (a runner built against 1.0 has no such field: its
	 * size stops before it, and the host does not read it). */

	/* Checks a task's params before the task is written: `taskfleet
	 * submit`, POST /v1/tasks and PATCH call it when this runner is
	 * installed where they run, and refuse the task with the message on
	 * non-zero. params_json is JSON object text (terminated; params_len
	 * bytes), valid only during the call. Write why into error (error_size
	 * bytes, a host buffer holding "") as one line naming the field, and
	 * return non-zero to refuse; return 0 to accept. Called without init()
	 * and without a run: use no state, configuration or network, change
	 * nothing; may be called from several threads at once (serialised with
	 * TF_RUNNER_SINGLE_THREADED). Do the checks run() makes before its side
	 * effect, with the same code, so a task that passes here does not fail
	 * later for the same reason. May be NULL: the params are then checked
	 * only when the task runs. */
	int (*validate)(const char *params_json, size_t params_len, char *error,
	    size_t error_size);

	/* Since ABI 1.2 (read only when size covers it). */

	/* Begins one iteration on the consumer's event loop: the asynchronous
	 * style. task and result as for run(), but valid until complete()
	 * when it returns TF_START_PENDING. It must return at once: no
	 * blocking call, here or in any callback of http() or after(); wait by
	 * asking the host for a transfer or a timer instead. Returning
	 * TF_START_DONE ends the run at once (result filled; complete() is not
	 * called then). cancelled(), heartbeat() (the host extends the lease on
	 * its own meanwhile) and the run time limit keep their meaning: once
	 * the run is cancelled (lease lost, stop past its grace period, limit
	 * passed) the host calls back every pending transfer with
	 * TF_HOST_HTTP_CANCELLED and every timer with cancelled set, and the
	 * runner then completes; a run completed after its limit is a failed
	 * attempt (TF_RUN_RETRY), as with run(). start() and every callback
	 * are called on the one loop thread, never at once.
	 * run() stays required: hosts before 1.2, and isolated mode (the
	 * runner in a worker process, --isolate), call run() instead. May be
	 * NULL: run() only. */
	enum tf_start_status (*start)(void *state, const struct tf_task_view *task,
	    struct tf_run_result *result);
};

/* The entry point every runner defines. */
TF_RUNNER_EXPORT const struct tf_runner *taskfleet_runner(void);

#ifdef __cplusplus
}
#endif

#endif /* TASKFLEET_RUNNER_H */
