/*
 * log.h - JSON-lines logging on stderr.
 *
 * Each call writes one line: {"time":"2026-01-02T03:04:05.678Z","level":"info",
 * "msg":"...", ...fields}. Lines are written with one write(2) so lines from
 * several threads never interleave. The threshold comes from TASKFLEET_LOG
 * (debug, info, warn, error; default info) at tf_log_init().
 */
#ifndef TF_LOG_H
#define TF_LOG_H

enum tf_log_level {
	TF_LOG_DEBUG,
	TF_LOG_INFO,
	TF_LOG_WARN,
	TF_LOG_ERROR,
};

/* One extra key/value pair of a log line; value NULL leaves the pair out.
 * Both strings are borrowed for the duration of the call. */
struct tf_log_field {
	const char *key;
	const char *value;
};

/* Reads TASKFLEET_LOG; returns 0, or -1 if it holds an unknown level (the
 * threshold then stays at info). */
int tf_log_init(void);
void tf_log_set_level(enum tf_log_level level);
/* True when a line at `level` would be written. */
int tf_log_enabled(enum tf_log_level level);

/*
 * Makes every line written from now on carry "consumer":id (copied; NULL
 * stops it), after the line's own fields. It also sets TASKFLEET_LOG_CONSUMER
 * in the environment, which tf_log_init() reads, so the processes the
 * consumer starts (isolated runners' workers) log it too. Call it before
 * other threads start: it is not synchronised with them.
 */
void tf_log_set_consumer(const char *id);

void tf_log(enum tf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* As tf_log, with `nfields` extra fields (for task id, runner, outcome...). */
void tf_log_fields(enum tf_log_level level, const struct tf_log_field *fields,
    int nfields, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define tf_debug(...) tf_log(TF_LOG_DEBUG, __VA_ARGS__)
#define tf_info(...)  tf_log(TF_LOG_INFO, __VA_ARGS__)
#define tf_warn(...)  tf_log(TF_LOG_WARN, __VA_ARGS__)
#define tf_error(...) tf_log(TF_LOG_ERROR, __VA_ARGS__)

#endif /* TF_LOG_H */
