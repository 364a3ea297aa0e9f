/*
 * test_runners.c - the runner loader, the ABI checks and the shipped runners.
 *
 * Loads the deliberately broken runners of tests/runners/ and checks that
 * each is refused with the right code and a message naming the file and,
 * where they matter, both versions and sizes; then the spec forms (directory,
 * colon list, default directory), configuration, init and fini, the
 * single-threaded mutex, the result clean-up in tf_runner_invoke(), the
 * refusal of files others could write, runners marked isolated (not
 * initialised in this process) and time limits, and the
 * shipped runners (noop, countdown, fail) and test runners (record, sleep)
 * through a fake host table.
 *
 * Runners come from $TF_BUILD/tests/runners and $TF_BUILD/runners (TF_BUILD
 * is set by tests/run; default "build"): `make check-tests` builds them.
 */
#include "harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/alloc.h"
#include "target/target_run.h"
#include "task/runners.h"

/* Fails the test unless string s contains sub. */
#define CHECK_HAS(s, sub) do { \
		const char *tf_s_ = (s), *tf_sub_ = (sub); \
		if (tf_s_ == NULL || strstr(tf_s_, tf_sub_) == NULL) { \
			TF_FAIL_AT("\"%s\" does not contain \"%s\"", \
			    tf_s_ ? tf_s_ : "(null)", tf_sub_); \
			return; \
		} \
	} while (0)

#define CHECK_LACKS(s, sub) do { \
		const char *tf_s_ = (s), *tf_sub_ = (sub); \
		if (strstr(tf_s_, tf_sub_) != NULL) { \
			TF_FAIL_AT("\"%s\" contains \"%s\"", tf_s_, tf_sub_); \
			return; \
		} \
	} while (0)

#define NOW_MS INT64_C(1767225600000)

static char build_dir[PATH_MAX];
static char tmp_root[PATH_MAX];

/* snprintf that reports truncation (test paths are never expected to be cut). */
static void fmt_buf(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
fmt_buf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		printf("# truncated: %s\n", out);
}

/* ---- the fake host ---------------------------------------------------- */

struct tf_run_ctx {
	char params[8192];    /* the last set_params() text */
	int params_set;
	char result[8192];    /* the last set_result() text */
	int result_set;
	int cancel;           /* what cancelled() answers */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[16384];

static void fake_log(struct tf_run_ctx *ctx, enum tf_runner_log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fake_log(struct tf_run_ctx *ctx, enum tf_runner_log_level level,
    const char *fmt, ...)
{
	va_list ap;
	size_t len;

	pthread_mutex_lock(&log_lock);
	len = strlen(log_text);
	va_start(ap, fmt);
	vsnprintf(log_text + len, sizeof(log_text) - len, fmt, ap);
	va_end(ap);
	len = strlen(log_text);
	if (len + 1 < sizeof(log_text)) {
		log_text[len] = '\n';
		log_text[len + 1] = '\0';
	}
	pthread_mutex_unlock(&log_lock);
}

static void
log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	log_text[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

static int
fake_heartbeat(struct tf_run_ctx *ctx)
{
	return 0;
}

static int
fake_cancelled(struct tf_run_ctx *ctx)
{
	return ctx != NULL && ctx->cancel;
}

static int64_t
fake_now_ms(void)
{
	return NOW_MS;
}

/* Keeps json in buf when it is a JSON object that fits, as the host does. */
static int
keep_object(char *buf, size_t buflen, int *set, const char *json, size_t len)
{
	cJSON *j;
	int ok;

	if (len >= buflen)
		return -1;
	j = cJSON_ParseWithLength(json, len);
	ok = cJSON_IsObject(j);
	cJSON_Delete(j);
	if (!ok)
		return -1;
	memcpy(buf, json, len);
	buf[len] = '\0';
	*set = 1;
	return 0;
}

static int
fake_set_params(struct tf_run_ctx *ctx, const char *json, size_t len)
{
	return keep_object(ctx->params, sizeof(ctx->params), &ctx->params_set,
	    json, len);
}

static int
fake_set_result(struct tf_run_ctx *ctx, const char *json, size_t len)
{
	return keep_object(ctx->result, sizeof(ctx->result), &ctx->result_set,
	    json, len);
}

static const struct tf_host_api fake_host = {
	.size = sizeof(struct tf_host_api),
	.log = fake_log,
	.heartbeat = fake_heartbeat,
	.cancelled = fake_cancelled,
	.now_ms = fake_now_ms,
	.set_params = fake_set_params,
	.set_result = fake_set_result,
	.target_init = tf_target_host_init,
	.target_run = tf_target_runner_run,
	.target_fini = tf_target_runner_fini,
};

/* ---- helpers ---------------------------------------------------------- */

/* The path of test runner `name` (tests/runners/<name>.so). */
static void
test_runner(char *out, size_t len, const char *name)
{
	fmt_buf(out, len, "%s/tests/runners/%s.so", build_dir, name);
}

/* The path of shipped runner `name` (runners/<name>.so). */
static void
shipped_runner(char *out, size_t len, const char *name)
{
	fmt_buf(out, len, "%s/runners/%s.so", build_dir, name);
}

/* Fills *v for a run of r on params (borrowed) as attempt `attempt` of
 * iteration `iteration`, and prepares res on errbuf; ctx is reset first
 * (its cancel flag kept). */
static void
view_once(const struct tf_loaded_runner *r, const char *params, int32_t attempt,
    int64_t iteration, struct tf_run_ctx *ctx, struct tf_task_view *v,
    struct tf_run_result *res, char *errbuf, size_t errlen)
{
	int cancel = ctx->cancel;

	memset(ctx, 0, sizeof(*ctx));
	ctx->cancel = cancel;
	memset(v, 0, sizeof(*v));
	v->size = sizeof(*v);
	v->id = "task-1";
	v->ns = "default";
	v->type = tf_loaded_runner_name(r);
	v->params_json = params;
	v->params_len = strlen(params);
	v->iteration = iteration;
	v->attempt = attempt;
	v->max_attempts = 3;
	v->target_ms = NOW_MS;
	v->host = &fake_host;
	v->ctx = ctx;
	tf_run_result_prepare(res, errbuf, errlen);
}

/* Runs r once with run(): view_once()'s arguments. */
static void
run_once(const struct tf_loaded_runner *r, const char *params, int32_t attempt,
    int64_t iteration, struct tf_run_ctx *ctx, struct tf_run_result *res,
    char *errbuf, size_t errlen)
{
	struct tf_task_view v;

	view_once(r, params, attempt, iteration, ctx, &v, res, errbuf, errlen);
	tf_runner_invoke(r, &v, res);
}

/* Loads spec and initialises the set with the fake host. */
static enum tf_err
load_init(const char *spec, struct tf_runner_set **set, char *err, size_t errlen)
{
	enum tf_err rc;

	rc = tf_runner_set_load(spec, set, err, errlen);
	if (rc == TF_OK)
		rc = tf_runner_set_init(*set, &fake_host, err, errlen);
	return rc;
}

/* "<major>.<minor>" of this host's ABI. */
static void
host_abi(char *out, size_t len)
{
	fmt_buf(out, len, "%d.%d", TF_RUNNER_ABI_MAJOR, TF_RUNNER_ABI_MINOR);
}

/* A fresh, empty directory under the test's temporary root. */
static void
make_tmp_dir(char *out, size_t len, const char *name)
{
	char cmd[PATH_MAX * 2];

	fmt_buf(out, len, "%s/%s", tmp_root, name);
	fmt_buf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", out, out);
	if (system(cmd) != 0)
		printf("# cannot create %s\n", out);
}

/* Reads integer params.<key> of the JSON text, or -1. */
static int64_t
param_int(const char *json, const char *key)
{
	cJSON *j = cJSON_Parse(json), *item;
	int64_t v = -1;

	item = cJSON_GetObjectItemCaseSensitive(j, key);
	if (cJSON_IsNumber(item))
		v = (int64_t)item->valuedouble;
	cJSON_Delete(j);
	return v;
}

/* ---- refusals --------------------------------------------------------- */

static void
test_runners_are_built(void)
{
	char path[PATH_MAX];
	struct stat st;

	test_runner(path, sizeof(path), "bad_magic");
	CHECK_MSG(stat(path, &st) == 0, "%s is missing: run make check-tests", path);
	shipped_runner(path, sizeof(path), "noop");
	CHECK_MSG(stat(path, &st) == 0, "%s is missing: run make", path);
}

static void
test_refuse_bad_magic(void)
{
	struct tf_runner_set *set = NULL;
	char path[PATH_MAX], err[512];

	test_runner(path, sizeof(path), "bad_magic");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, path);
	CHECK_HAS(err, "bad magic 0xdeadbeef");
	CHECK_HAS(err, "expected 0x54467231");
	CHECK(strchr(err, '\n') == NULL);
}

static void
test_refuse_bad_major(void)
{
	struct tf_runner_set *set = NULL;
	char path[PATH_MAX], err[512], ours[32], want[64];

	test_runner(path, sizeof(path), "bad_major");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, path);
	CHECK_HAS(err, "runner ABI 2.3");
	host_abi(ours, sizeof(ours));
	fmt_buf(want, sizeof(want), "runner ABI %s", ours);
	CHECK_HAS(err, want);
	CHECK_HAS(err, "major");
	/* Its size (8) is wrong too, but a major mismatch is reported alone. */
	CHECK_LACKS(err, "bytes");
}

static void
test_refuse_too_small(void)
{
	struct tf_runner_set *set = NULL;
	char path[PATH_MAX], err[512], ours[32], want[128];

	test_runner(path, sizeof(path), "too_small");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, path);
	host_abi(ours, sizeof(ours));
	fmt_buf(want, sizeof(want), "descriptor is %zu bytes (runner ABI %s)",
	    offsetof(struct tf_runner, init), ours);
	CHECK_HAS(err, want);
	/* The host requires the fields of ABI 1.0; later ones are optional. */
	fmt_buf(want, sizeof(want), "%zu bytes this taskfleet (runner ABI %s) reads",
	    offsetof(struct tf_runner, validate), ours);
	CHECK_HAS(err, want);
}

static void
test_refuse_no_entry(void)
{
	struct tf_runner_set *set = NULL;
	char path[PATH_MAX], err[1024];

	test_runner(path, sizeof(path), "no_entry");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, path);
	CHECK_HAS(err, "no taskfleet_runner() entry point");
	/* dlerror()'s own words follow. */
	CHECK_HAS(err, "undefined symbol: taskfleet_runner");
}

static void
test_refuse_undefined_symbol(void)
{
	struct tf_runner_set *set = NULL;
	char path[PATH_MAX], err[1024];

	test_runner(path, sizeof(path), "undefined_sym");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, path);
	CHECK_HAS(err, "cannot load");
	CHECK_HAS(err, "tf_test_nowhere_defined");
}

static void
test_refuse_not_elf(void)
{
	struct tf_runner_set *set = NULL;
	char dir[PATH_MAX], path[PATH_MAX + 16], err[1024];
	FILE *f;

	make_tmp_dir(dir, sizeof(dir), "notelf");
	fmt_buf(path, sizeof(path), "%s/text.so", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("not a shared object\n", f);
	fclose(f);
	CHECK_INT_EQ(tf_runner_set_load(dir, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, path);
	CHECK_HAS(err, "cannot load");
}

static void
test_refuse_null_run(void)
{
	struct tf_runner_set *set = NULL;
	char path[PATH_MAX], err[512];

	test_runner(path, sizeof(path), "null_run");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, path);
	CHECK_HAS(err, "run() is NULL");
}

static void
test_refuse_bad_name(void)
{
	struct tf_runner_set *set = NULL;
	char path[PATH_MAX], err[512];

	test_runner(path, sizeof(path), "bad_name");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, path);
	CHECK_HAS(err, "invalid name \"Bad Name?\"");
	CHECK(strchr(err, '\n') == NULL);
}

static void
test_refuse_duplicate_names(void)
{
	struct tf_runner_set *set = NULL;
	char a[PATH_MAX], b[PATH_MAX], spec[PATH_MAX * 2 + 2], err[1024];
	char dir[PATH_MAX], link[PATH_MAX + 16];

	test_runner(a, sizeof(a), "dup_a");
	test_runner(b, sizeof(b), "dup_b");
	fmt_buf(spec, sizeof(spec), "%s:%s", a, b);
	CHECK_INT_EQ(tf_runner_set_load(spec, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, "two runners are named \"dup\"");
	CHECK_HAS(err, a);
	CHECK_HAS(err, b);

	/* The same through a directory holding both. */
	make_tmp_dir(dir, sizeof(dir), "dupdir");
	fmt_buf(link, sizeof(link), "%s/one.so", dir);
	CHECK(symlink(a, link) == 0);
	fmt_buf(link, sizeof(link), "%s/two.so", dir);
	CHECK(symlink(b, link) == 0);
	CHECK_INT_EQ(tf_runner_set_load(dir, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK_HAS(err, "one.so");
	CHECK_HAS(err, "two.so");
}

/* One bad file in a list refuses the whole set. */
static void
test_one_bad_refuses_all(void)
{
	struct tf_runner_set *set = NULL;
	char noop[PATH_MAX], bad[PATH_MAX], spec[PATH_MAX * 2 + 2], err[512];

	shipped_runner(noop, sizeof(noop), "noop");
	test_runner(bad, sizeof(bad), "bad_magic");
	fmt_buf(spec, sizeof(spec), "%s:%s", noop, bad);
	CHECK_INT_EQ(tf_runner_set_load(spec, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, bad);
}

static void
test_missing_paths(void)
{
	struct tf_runner_set *set = NULL;
	char dir[PATH_MAX], err[512];

	CHECK_INT_EQ(tf_runner_set_load("/nonexistent/taskfleet/x.so", &set, err,
	    sizeof(err)), TF_ERR_NOT_FOUND);
	CHECK(set == NULL);
	CHECK_HAS(err, "/nonexistent/taskfleet/x.so");
	CHECK_HAS(err, "No such file");

	make_tmp_dir(dir, sizeof(dir), "empty");
	CHECK_INT_EQ(tf_runner_set_load(dir, &set, err, sizeof(err)), TF_ERR_NOT_FOUND);
	CHECK(set == NULL);
	CHECK_HAS(err, dir);
	CHECK_INT_EQ(tf_runner_set_load(":::", &set, err, sizeof(err)),
	    TF_ERR_NOT_FOUND);
	CHECK_INT_EQ(tf_runner_set_load("/dev/null", &set, err, sizeof(err)),
	    TF_ERR_INVALID);
	CHECK_HAS(err, "/dev/null");
}

/* ---- the forms of the spec -------------------------------------------- */

static void
test_newer_minor_accepted(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char path[PATH_MAX], err[512], ebuf[64];

	test_runner(path, sizeof(path), "newer_minor");
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(err, "");
	CHECK_INT_EQ(tf_runner_set_count(set), 1);
	r = tf_runner_set_find(set, "newer_minor");
	CHECK(r != NULL && r == tf_runner_set_at(set, 0));
	CHECK_STR_EQ(tf_loaded_runner_version(r), "9.9");
	CHECK_STR_EQ(tf_loaded_runner_path(r), path);
	CHECK_INT_EQ(tf_loaded_runner_abi_minor(r), TF_RUNNER_ABI_MINOR + 1);
	CHECK(tf_loaded_runner_size(r) > sizeof(struct tf_runner));
	run_once(r, "{}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	tf_runner_set_free(set);
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 1);
}

/* A runner built against ABI 1.0 (tests/runners/runner_abi_1_0.h): its
 * descriptor stops before validate(), with a trap after it. It loads, runs,
 * and its params are accepted unchecked. */
static void
test_old_minor_accepted(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char path[PATH_MAX], err[512], ebuf[64];

	test_runner(path, sizeof(path), "old_minor");
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	r = tf_runner_set_find(set, "old_minor");
	CHECK(r != NULL);
	CHECK_INT_EQ(tf_loaded_runner_abi_minor(r), 0);
	CHECK(tf_loaded_runner_size(r) < sizeof(struct tf_runner));
	CHECK(!tf_loaded_runner_validates(r));
	CHECK_INT_EQ(tf_runner_validate(r, "{\"anything\": 1}", 16, err,
	    sizeof(err)), TF_OK);
	CHECK_STR_EQ(err, "");
	run_once(r, "{}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	tf_runner_set_free(set);
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 1);
}

/* A runner with start() (ABI 1.2) runs in the asynchronous style here:
 * start() saying done settles the result at once (its own error text copied
 * in), a pending run's result is settled after it completes (an outcome
 * out of range made a failure naming the runner). Isolated, it does not:
 * the worker process calls run(). */
static void
test_start_entry(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_task_view v;
	struct tf_run_result res;
	char path[PATH_MAX], err[512], ebuf[64];

	test_runner(path, sizeof(path), "starting");
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	r = tf_runner_set_find(set, "starting");
	CHECK(r != NULL);
	CHECK(tf_loaded_runner_starts(r));
	view_once(r, "{\"done\": 1}", 1, 0, &ctx, &v, &res, ebuf, sizeof(ebuf));
	CHECK(!tf_runner_start(r, &v, &res));
	CHECK_INT_EQ(res.outcome, TF_RUN_RETRY);
	CHECK(res.error == ebuf);
	CHECK_STR_EQ(ebuf, "started and done: try later");
	view_once(r, "{}", 1, 0, &ctx, &v, &res, ebuf, sizeof(ebuf));
	CHECK(tf_runner_start(r, &v, &res));
	tf_run_result_settle(r, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_FAILED);
	CHECK_HAS(ebuf, "starting");
	tf_runner_set_free(set);

	set = NULL;
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_runner_set_isolate(set, "starting"), TF_OK);
	CHECK(!tf_loaded_runner_starts(tf_runner_set_find(set, "starting")));
	tf_runner_set_free(set);
}

/* A runner built against ABI 1.1 (tests/runners/minor_1_1.c): its size
 * stops before start(), with a trap where start() would be. It is not
 * started: tf_runner_start() calls its run(). */
static void
test_minor_1_1_runs_blocking(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_task_view v;
	struct tf_run_result res;
	char path[PATH_MAX], err[512], ebuf[64];

	test_runner(path, sizeof(path), "minor_1_1");
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	r = tf_runner_set_find(set, "minor_1_1");
	CHECK(r != NULL);
	CHECK_INT_EQ(tf_loaded_runner_abi_minor(r), 1);
	CHECK(!tf_loaded_runner_starts(r));
	view_once(r, "{}", 1, 0, &ctx, &v, &res, ebuf, sizeof(ebuf));
	CHECK(!tf_runner_start(r, &v, &res));
	tf_runner_set_free(set);
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 1);
}

/* A runner with validate() (ABI 1.1): called without init(), its message
 * passed on as one line; a refusal without text gets one naming it. */
static void
test_validate_entry_called(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char path[PATH_MAX], err[512], ebuf[64];

	test_runner(path, sizeof(path), "validating");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_OK);
	r = tf_runner_set_find(set, "validating");
	CHECK(r != NULL);
	CHECK_INT_EQ(tf_loaded_runner_abi_minor(r), TF_RUNNER_ABI_MINOR);
	CHECK(tf_loaded_runner_validates(r));
	/* No init: validate() is what a producer calls. */
	CHECK_INT_EQ(tf_runner_validate(r, "{\"bad\": 1}", 10, err, sizeof(err)),
	    TF_ERR_INVALID);
	CHECK_STR_EQ(err, "params.bad: not allowed (10 bytes checked)");
	CHECK_INT_EQ(tf_runner_validate(r, "{\"silent\": 1}", 13, err,
	    sizeof(err)), TF_ERR_INVALID);
	CHECK_STR_EQ(err, "runner \"validating\" refused the params without a "
	    "message");
	CHECK_INT_EQ(tf_runner_validate(r, "{\"fine\": 1}", 11, err, sizeof(err)),
	    TF_OK);
	CHECK_STR_EQ(err, "");
	/* Cut to the caller's buffer. */
	CHECK_INT_EQ(tf_runner_validate(r, "{\"bad\": 1}", 10, ebuf, 8),
	    TF_ERR_INVALID);
	CHECK_STR_EQ(ebuf, "params.");
	CHECK_INT_EQ(tf_runner_set_init(set, &fake_host, err, sizeof(err)), TF_OK);
	run_once(r, "{}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	tf_runner_set_free(set);
	CHECK_INT_EQ(res.completed, 1);
	CHECK_STR_EQ(ctx.result, "{\"validated\": 4}");
}

/* The shipped http runner's validate(): the parse each delivery makes first,
 * without init() (no configuration, no libcurl). */
static void
test_http_validate(void)
{
	static const struct {
		const char *params;
		const char *want;  /* NULL: accepted */
	} cases[] = {
		{ "{\"url\": \"http://127.0.0.1:9/\"}", NULL },
		{ "{\"url\": \"file:///etc/passwd\"}", "params.url: scheme \"file\"" },
		{ "{\"url\": \"http://127.0.0.1:9/\", \"headers\": {\"X-A\": "
		    "\"a\\r\\nB: c\"}}", "params.headers.X-A: the value holds a CR or LF" },
		{ "{\"url\": \"http://127.0.0.1:9/\", \"method\": \"GET\\nX\"}",
		    "params.method: \"GET?X\" is not one of" },
		{ "{}", "params.url: required" },
		{ "{\"url\": \"http://127.0.0.1:9/\", \"mehtod\": \"GET\"}",
		    "params.mehtod: unknown field" },
	};
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	char path[PATH_MAX], err[512];
	size_t i;

	shipped_runner(path, sizeof(path), "http");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_OK);
	r = tf_runner_set_find(set, "http");
	CHECK(r != NULL && tf_loaded_runner_validates(r));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum tf_err rc = tf_runner_validate(r, cases[i].params,
		    strlen(cases[i].params), err, sizeof(err));

		if (cases[i].want == NULL) {
			CHECK_MSG(rc == TF_OK, "%s: %s", cases[i].params, err);
			continue;
		}
		CHECK_MSG(rc == TF_ERR_INVALID, "%s accepted", cases[i].params);
		CHECK_HAS(err, cases[i].want);
	}
	tf_runner_set_free(set);
}

/* The original scheduler's task type "exampleTask": upper case is allowed
 * and names are case-sensitive. */
static void
test_upper_case_name(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char path[PATH_MAX], err[512], ebuf[64];

	test_runner(path, sizeof(path), "exampleTask");
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(err, "");
	r = tf_runner_set_find(set, "exampleTask");
	CHECK(r != NULL);
	CHECK(tf_runner_set_find(set, "exampletask") == NULL);
	CHECK_INT_EQ(tf_runner_config_var("exampleTask", ebuf, sizeof(ebuf)),
	    TF_OK);
	CHECK_STR_EQ(ebuf, "TASKFLEET_RUNNER_CONFIG_EXAMPLETASK");
	run_once(r, "{}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	tf_runner_set_free(set);
	CHECK_INT_EQ(res.completed, 1);
	CHECK_STR_EQ(ctx.result, "{\"type\": \"exampleTask\"}");
}

static void
test_directory_spec(void)
{
	struct tf_runner_set *set = NULL;
	char dir[PATH_MAX], target[PATH_MAX], link[PATH_MAX + 32], err[512];
	FILE *f;

	make_tmp_dir(dir, sizeof(dir), "dirspec");
	shipped_runner(target, sizeof(target), "noop");
	fmt_buf(link, sizeof(link), "%s/b-noop.so", dir);
	CHECK(symlink(target, link) == 0);
	shipped_runner(target, sizeof(target), "countdown");
	fmt_buf(link, sizeof(link), "%s/a-countdown.so", dir);
	CHECK(symlink(target, link) == 0);
	/* None of these is a runner file: */
	test_runner(target, sizeof(target), "bad_magic");
	fmt_buf(link, sizeof(link), "%s/.hidden.so", dir);
	CHECK(symlink(target, link) == 0);
	fmt_buf(link, sizeof(link), "%s/bad_magic.so.disabled", dir);
	CHECK(symlink(target, link) == 0);
	fmt_buf(link, sizeof(link), "%s/subdir.so", dir);
	CHECK(mkdir(link, 0755) == 0);
	fmt_buf(link, sizeof(link), "%s/README", dir);
	f = fopen(link, "w");
	CHECK(f != NULL);
	fclose(f);

	CHECK_INT_EQ(tf_runner_set_load(dir, &set, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_runner_set_count(set), 2);
	/* File name order: a-countdown.so, then b-noop.so. */
	CHECK_STR_EQ(tf_loaded_runner_name(tf_runner_set_at(set, 0)), "countdown");
	CHECK_STR_EQ(tf_loaded_runner_name(tf_runner_set_at(set, 1)), "noop");
	CHECK(tf_runner_set_at(set, 2) == NULL);
	CHECK(tf_runner_set_find(set, "fail") == NULL);
	CHECK(tf_runner_set_find(set, NULL) == NULL);
	fmt_buf(link, sizeof(link), "%s/a-countdown.so", dir);
	CHECK_STR_EQ(tf_loaded_runner_path(tf_runner_set_at(set, 0)), link);
	tf_runner_set_free(set);

	/* A trailing slash gives the same paths, without "//". */
	fmt_buf(link, sizeof(link), "%s/", dir);
	CHECK_INT_EQ(tf_runner_set_load(link, &set, err, sizeof(err)), TF_OK);
	CHECK(strstr(tf_loaded_runner_path(tf_runner_set_at(set, 0)), "//") == NULL);
	tf_runner_set_free(set);

	/* A dangling "*.so" symlink refuses the directory. */
	fmt_buf(link, sizeof(link), "%s/c-gone.so", dir);
	CHECK(symlink("/nonexistent/gone.so", link) == 0);
	CHECK_INT_EQ(tf_runner_set_load(dir, &set, err, sizeof(err)),
	    TF_ERR_NOT_FOUND);
	CHECK_HAS(err, "c-gone.so");
}

static void
test_colon_list(void)
{
	struct tf_runner_set *set = NULL;
	char noop[PATH_MAX], fail[PATH_MAX], dir[PATH_MAX], link[PATH_MAX + 16];
	char spec[PATH_MAX * 4], err[512];

	shipped_runner(noop, sizeof(noop), "noop");
	shipped_runner(fail, sizeof(fail), "fail");
	/* Empty elements are skipped; a file named twice is loaded once. */
	fmt_buf(spec, sizeof(spec), ":%s::%s:%s:", fail, noop, fail);
	CHECK_INT_EQ(tf_runner_set_load(spec, &set, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_runner_set_count(set), 2);
	CHECK_STR_EQ(tf_loaded_runner_name(tf_runner_set_at(set, 0)), "fail");
	CHECK_STR_EQ(tf_loaded_runner_name(tf_runner_set_at(set, 1)), "noop");
	tf_runner_set_free(set);

	/* Files and directories mixed; the same file reached both ways once. */
	make_tmp_dir(dir, sizeof(dir), "colon");
	fmt_buf(link, sizeof(link), "%s/noop.so", dir);
	CHECK(symlink(noop, link) == 0);
	fmt_buf(spec, sizeof(spec), "%s:%s:%s", dir, fail, noop);
	CHECK_INT_EQ(tf_runner_set_load(spec, &set, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_runner_set_count(set), 2);
	CHECK_STR_EQ(tf_loaded_runner_path(tf_runner_set_at(set, 0)), link);
	tf_runner_set_free(set);
}

/* A bare file name is opened in the current directory, never searched for
 * on the library path. */
static void
test_bare_file_name(void)
{
	struct tf_runner_set *set = NULL;
	char cwd[PATH_MAX], dir[PATH_MAX], err[512];
	enum tf_err rc;

	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	fmt_buf(dir, sizeof(dir), "%s/runners", build_dir);
	CHECK(chdir(dir) == 0);
	rc = tf_runner_set_load("noop.so", &set, err, sizeof(err));
	CHECK(chdir(cwd) == 0);
	CHECK_INT_EQ(rc, TF_OK);
	CHECK_STR_EQ(tf_loaded_runner_path(tf_runner_set_at(set, 0)), "./noop.so");
	tf_runner_set_free(set);
}

static void
test_default_dir(void)
{
	char root[PATH_MAX], exe[PATH_MAX + 32], want[PATH_MAX + 32];
	char inst[PATH_MAX + 32], cwd[PATH_MAX], err[PATH_MAX * 3];
	char cmd[PATH_MAX + 64];
	char *dir = NULL;

	make_tmp_dir(root, sizeof(root), "default");
	fmt_buf(exe, sizeof(exe), "%s/bin", root);
	CHECK(mkdir(exe, 0755) == 0);
	fmt_buf(exe, sizeof(exe), "%s/bin/taskfleet-consumer", root);
	fmt_buf(want, sizeof(want), "%s/runners", root);
	fmt_buf(inst, sizeof(inst), "%s/lib/taskfleet/runners", root);

	/* Neither exists: both are named. */
	CHECK_INT_EQ(tf_runner_default_dir(exe, inst, &dir, err, sizeof(err)),
	    TF_ERR_NOT_FOUND);
	CHECK(dir == NULL);
	CHECK_HAS(err, want);
	CHECK_HAS(err, inst);
	CHECK_HAS(err, "TASKFLEET_RUNNERS");

	/* Only the installed directory. */
	fmt_buf(cmd, sizeof(cmd), "mkdir -p '%s'", inst);
	CHECK(system(cmd) == 0);
	CHECK_INT_EQ(tf_runner_default_dir(exe, inst, &dir, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(dir, inst);
	tf_free(dir);
	dir = NULL;

	/* The one next to the binary comes first. */
	CHECK(mkdir(want, 0755) == 0);
	CHECK_INT_EQ(tf_runner_default_dir(exe, inst, &dir, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(dir, want);
	tf_free(dir);
	dir = NULL;

	/* A relative program path, and one whose directory ends in ".". */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK(chdir(root) == 0);
	CHECK_INT_EQ(tf_runner_default_dir("bin/prog", "/nonexistent", &dir, err,
	    sizeof(err)), TF_OK);
	CHECK(chdir(cwd) == 0);
	CHECK_STR_EQ(dir, "runners");
	tf_free(dir);
	dir = NULL;
	fmt_buf(exe, sizeof(exe), "%s/bin/./prog", root);
	fmt_buf(want, sizeof(want), "%s/bin/./../runners", root);
	CHECK_INT_EQ(tf_runner_default_dir(exe, "/nonexistent", &dir, err,
	    sizeof(err)), TF_OK);
	CHECK_STR_EQ(dir, want);
	tf_free(dir);
	dir = NULL;

	/* The compiled-in installed directory. */
	CHECK(tf_runner_install_dir()[0] == '/');
	CHECK(strlen(tf_runner_install_dir()) > strlen("/lib/taskfleet/runners"));
	CHECK_STR_EQ(tf_runner_install_dir() + strlen(tf_runner_install_dir()) -
	    strlen("/lib/taskfleet/runners"), "/lib/taskfleet/runners");
}

/* NULL and "" load the directory next to this program:
 * $TF_BUILD/tests/test_runners -> $TF_BUILD/runners. */
static void
test_default_spec_loads_build_runners(void)
{
	struct tf_runner_set *set = NULL;
	char self[PATH_MAX], want[PATH_MAX + 32], err[PATH_MAX * 3];
	char *dir = NULL;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CHECK(n > 0);
	self[n] = '\0';
	CHECK(tf_runner_default_dir(NULL, "/nonexistent", &dir, err, sizeof(err)) ==
	    TF_OK);
	*strrchr(self, '/') = '\0';
	*strrchr(self, '/') = '\0';
	fmt_buf(want, sizeof(want), "%s/runners", self);
	CHECK_STR_EQ(dir, want);
	tf_free(dir);

	CHECK_INT_EQ(tf_runner_set_load(NULL, &set, err, sizeof(err)), TF_OK);
	CHECK(tf_runner_set_find(set, "noop") != NULL);
	CHECK(tf_runner_set_find(set, "countdown") != NULL);
	CHECK(tf_runner_set_find(set, "fail") != NULL);
	CHECK_HAS(tf_loaded_runner_path(tf_runner_set_find(set, "noop")), want);
	tf_runner_set_free(set);
	CHECK_INT_EQ(tf_runner_set_load("", &set, err, sizeof(err)), TF_OK);
	CHECK(tf_runner_set_find(set, "noop") != NULL);
	tf_runner_set_free(set);
}

/* ---- configuration, init, fini ---------------------------------------- */

static void
test_config_var_name(void)
{
	char var[TF_RUNNER_CONFIG_VAR_MAX], small[8];
	char longest[65];

	CHECK_INT_EQ(tf_runner_config_var("conf-echo", var, sizeof(var)), TF_OK);
	CHECK_STR_EQ(var, "TASKFLEET_RUNNER_CONFIG_CONF_ECHO");
	CHECK_INT_EQ(tf_runner_config_var("http_2", var, sizeof(var)), TF_OK);
	CHECK_STR_EQ(var, "TASKFLEET_RUNNER_CONFIG_HTTP_2");
	memset(longest, 'a', 64);
	longest[64] = '\0';
	CHECK_INT_EQ(tf_runner_config_var(longest, var, sizeof(var)), TF_OK);
	CHECK_INT_EQ(strlen(var), strlen(TF_RUNNER_CONFIG_ENV_PREFIX) + 64);
	CHECK_INT_EQ(tf_runner_config_var("noop", small, sizeof(small)),
	    TF_ERR_INVALID);
}

/* Loads conf.so, runs it once and returns what it got as configuration in
 * got (the set is freed, so fini has run). */
static enum tf_err
conf_roundtrip(char *got, size_t gotlen, char *err, size_t errlen)
{
	struct tf_runner_set *set = NULL;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char path[PATH_MAX], ebuf[64];
	enum tf_err rc;

	got[0] = '\0';
	test_runner(path, sizeof(path), "conf");
	rc = load_init(path, &set, err, errlen);
	if (rc == TF_OK) {
		run_once(tf_runner_set_find(set, "conf-echo"), "{}", 1, 0, &ctx, &res,
		    ebuf, sizeof(ebuf));
		if (ctx.result_set)
			fmt_buf(got, gotlen, "%s", ctx.result);
	}
	tf_runner_set_free(set);
	return rc;
}

static void
test_config_default_and_fini(void)
{
	char got[256], err[512];

	unsetenv("TASKFLEET_RUNNER_CONFIG_CONF_ECHO");
	log_reset();
	CHECK_INT_EQ(conf_roundtrip(got, sizeof(got), err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(got, "{}");
	CHECK_HAS(log_text, "conf-echo init\n");
	CHECK_HAS(log_text, "conf-echo fini\n");

	setenv("TASKFLEET_RUNNER_CONFIG_CONF_ECHO", "", 1);
	CHECK_INT_EQ(conf_roundtrip(got, sizeof(got), err, sizeof(err)), TF_OK);
	unsetenv("TASKFLEET_RUNNER_CONFIG_CONF_ECHO");
	CHECK_STR_EQ(got, "{}");
}

static void
test_config_from_env(void)
{
	const char *text = " {\"url\": \"http://x\", \"n\": [1, 2]} ";
	char got[256], err[512];
	enum tf_err rc;

	setenv("TASKFLEET_RUNNER_CONFIG_CONF_ECHO", text, 1);
	rc = conf_roundtrip(got, sizeof(got), err, sizeof(err));
	unsetenv("TASKFLEET_RUNNER_CONFIG_CONF_ECHO");
	CHECK_INT_EQ(rc, TF_OK);
	/* Passed on as written. */
	CHECK_STR_EQ(got, text);
}

static void
test_config_invalid(void)
{
	static const struct {
		const char *value;
		const char *why;
	} cases[] = {
		{ "{\"password\": \"s3cret\"", "not valid JSON" },
		{ "{\"password\": \"s3cret\"} trailing", "not valid JSON" },
		{ "[\"s3cret\"]", "not a JSON object" },
		{ "\"s3cret\"", "not a JSON object" },
	};
	char got[256], err[512];
	enum tf_err rc;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("TASKFLEET_RUNNER_CONFIG_CONF_ECHO", cases[i].value, 1);
		log_reset();
		rc = conf_roundtrip(got, sizeof(got), err, sizeof(err));
		unsetenv("TASKFLEET_RUNNER_CONFIG_CONF_ECHO");
		CHECK_INT_EQ(rc, TF_ERR_INVALID);
		CHECK_HAS(err, "TASKFLEET_RUNNER_CONFIG_CONF_ECHO");
		CHECK_HAS(err, "\"conf-echo\"");
		CHECK_HAS(err, cases[i].why);
		/* The value may hold secrets: never repeated. */
		CHECK_LACKS(err, "s3cret");
		/* Checked before any init() ran. */
		CHECK_LACKS(log_text, "conf-echo init");
	}
}

static void
test_init_failure(void)
{
	struct tf_runner_set *set = NULL;
	char conf[PATH_MAX], bad[PATH_MAX], spec[PATH_MAX * 2 + 2], err[1024];

	test_runner(conf, sizeof(conf), "conf");
	test_runner(bad, sizeof(bad), "init_fails");
	fmt_buf(spec, sizeof(spec), "%s:%s", conf, bad);
	log_reset();
	CHECK_INT_EQ(tf_runner_set_load(spec, &set, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_runner_set_init(set, &fake_host, err, sizeof(err)),
	    TF_ERR_INVALID);
	CHECK_HAS(err, "runner \"init_fails\"");
	CHECK_HAS(err, bad);
	CHECK_HAS(err, "returned 7");
	CHECK_HAS(log_text, "init_fails: init refuses ({})");
	/* conf-echo was initialised first: freeing calls its fini(), and not
	 * the failed runner's (which would abort). */
	tf_runner_set_free(set);
	CHECK_HAS(log_text, "conf-echo fini");
}

static void
test_init_twice_and_uninitialised(void)
{
	struct tf_runner_set *set = NULL;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char path[PATH_MAX], err[512], ebuf[128];

	shipped_runner(path, sizeof(path), "noop");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_OK);
	/* Loaded but not initialised (as the producer uses it): no run. */
	run_once(tf_runner_set_at(set, 0), "{}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_FAILED);
	CHECK_HAS(ebuf, "not initialised");
	CHECK_INT_EQ(tf_runner_set_init(set, &fake_host, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_runner_set_init(set, &fake_host, err, sizeof(err)),
	    TF_ERR_INVALID);
	tf_runner_set_free(set);
	tf_runner_set_free(NULL);
}

/* ---- file safety ------------------------------------------------------ */

/* Copies shipped runner noop into dir (made fresh, mode 0755) as noop.so,
 * mode 0755; writes the copy's path into out. */
static void
noop_copy(char *dir, size_t dirlen, const char *name, char *out, size_t len)
{
	char src[PATH_MAX], cmd[PATH_MAX * 3];

	make_tmp_dir(dir, dirlen, name);
	shipped_runner(src, sizeof(src), "noop");
	fmt_buf(out, len, "%s/noop.so", dir);
	fmt_buf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 0755 '%s' '%s'", src, out,
	    dir, out);
	if (system(cmd) != 0)
		printf("# cannot copy %s\n", src);
}

static void
test_refuse_world_writable_file(void)
{
	struct tf_runner_set *set = NULL;
	char dir[PATH_MAX], path[PATH_MAX + 16], err[1024];

	noop_copy(dir, sizeof(dir), "ww-file", path, sizeof(path));
	/* The copy as it is loads: the refusal below is for the mode alone. */
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_OK);
	tf_runner_set_free(set);
	set = NULL;
	CHECK(chmod(path, 0757) == 0);
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, path);
	CHECK_HAS(err, "the file is world-writable (mode 0757)");
	CHECK(strchr(err, '\n') == NULL);
	/* The same through a directory spec. */
	CHECK_INT_EQ(tf_runner_set_load(dir, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK_HAS(err, "world-writable");
}

static void
test_refuse_world_writable_dir(void)
{
	struct tf_runner_set *set = NULL;
	char dir[PATH_MAX], path[PATH_MAX + 16], err[1024];

	noop_copy(dir, sizeof(dir), "ww-dir", path, sizeof(path));
	CHECK(chmod(dir, 0777) == 0);
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(set == NULL);
	CHECK_HAS(err, path);
	CHECK_HAS(err, "is world-writable (mode 0777)");
	CHECK_INT_EQ(tf_runner_set_load(dir, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK_HAS(err, "world-writable");
	/* With the sticky bit (as /tmp) others cannot replace the file. */
	CHECK(chmod(dir, 01777) == 0);
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_OK);
	CHECK_STR_EQ(tf_loaded_runner_name(tf_runner_set_at(set, 0)), "noop");
	tf_runner_set_free(set);
	chmod(dir, 0755);
}

static void
test_refuse_symlink_into_writable_dir(void)
{
	struct tf_runner_set *set = NULL;
	char dir[PATH_MAX], path[PATH_MAX + 16], safe[PATH_MAX], link[PATH_MAX + 16];
	char err[1024];

	noop_copy(dir, sizeof(dir), "ww-target", path, sizeof(path));
	make_tmp_dir(safe, sizeof(safe), "ww-link");
	fmt_buf(link, sizeof(link), "%s/noop.so", safe);
	CHECK(symlink(path, link) == 0);
	CHECK_INT_EQ(tf_runner_set_load(link, &set, err, sizeof(err)), TF_OK);
	tf_runner_set_free(set);
	set = NULL;
	/* The link's directory is safe, the file's real directory is not. */
	CHECK(chmod(dir, 0777) == 0);
	CHECK_INT_EQ(tf_runner_set_load(link, &set, err, sizeof(err)), TF_ERR_INVALID);
	CHECK_HAS(err, link);
	CHECK_HAS(err, "world-writable");
	CHECK_HAS(err, dir);
	chmod(dir, 0755);
}

/* ---- isolated runners ------------------------------------------------- */

static void
test_isolated_not_initialised_here(void)
{
	struct tf_runner_set *set = NULL;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	const struct tf_loaded_runner *r;
	char conf[PATH_MAX], bad[PATH_MAX], spec[PATH_MAX * 2 + 2], err[1024];
	char ebuf[256];

	test_runner(conf, sizeof(conf), "conf");
	test_runner(bad, sizeof(bad), "init_fails");
	fmt_buf(spec, sizeof(spec), "%s:%s", conf, bad);
	log_reset();
	CHECK_INT_EQ(tf_runner_set_load(spec, &set, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_runner_set_isolate(set, "nope"), TF_ERR_NOT_FOUND);
	CHECK_INT_EQ(tf_runner_set_isolate(set, "init_fails"), TF_OK);
	r = tf_runner_set_find(set, "init_fails");
	CHECK(r != NULL && tf_loaded_runner_isolated(r));
	CHECK(!tf_loaded_runner_isolated(tf_runner_set_find(set, "conf-echo")));
	/* init_fails' init() returns 7 and its fini() aborts: isolated, this
	 * process calls neither. */
	CHECK_INT_EQ(tf_runner_set_init(set, &fake_host, err, sizeof(err)), TF_OK);
	CHECK_LACKS(log_text, "init_fails: init refuses");
	CHECK_INT_EQ(tf_runner_set_isolate(set, "conf-echo"), TF_ERR_INVALID);
	run_once(r, "{}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_FAILED);
	CHECK_HAS(ebuf, "it runs isolated");
	tf_runner_set_free(set);
	CHECK_HAS(log_text, "conf-echo fini");
}

static void
test_isolated_config_still_checked(void)
{
	struct tf_runner_set *set = NULL;
	char bad[PATH_MAX], err[1024];

	test_runner(bad, sizeof(bad), "init_fails");
	CHECK_INT_EQ(tf_runner_set_load(bad, &set, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_runner_set_isolate(set, "init_fails"), TF_OK);
	setenv("TASKFLEET_RUNNER_CONFIG_INIT_FAILS", "[1]", 1);
	CHECK_INT_EQ(tf_runner_set_init(set, &fake_host, err, sizeof(err)),
	    TF_ERR_INVALID);
	unsetenv("TASKFLEET_RUNNER_CONFIG_INIT_FAILS");
	CHECK_HAS(err, "TASKFLEET_RUNNER_CONFIG_INIT_FAILS");
	tf_runner_set_free(set);
}

static void
test_time_limit(void)
{
	struct tf_runner_set *set = NULL;
	char path[PATH_MAX], err[512];

	shipped_runner(path, sizeof(path), "noop");
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_loaded_runner_time_limit_ms(tf_runner_set_at(set, 0)), 0);
	CHECK_INT_EQ(tf_runner_set_time_limit(set, "noop", 2500), TF_OK);
	CHECK_INT_EQ(tf_loaded_runner_time_limit_ms(tf_runner_set_at(set, 0)), 2500);
	CHECK_INT_EQ(tf_runner_set_time_limit(set, "noop", -1), TF_ERR_INVALID);
	CHECK_INT_EQ(tf_runner_set_time_limit(set, "other", 1), TF_ERR_NOT_FOUND);
	CHECK_INT_EQ(tf_loaded_runner_time_limit_ms(tf_runner_set_at(set, 0)), 2500);
	tf_runner_set_free(set);
}

/* ---- threads ---------------------------------------------------------- */

struct invoker {
	const struct tf_loaded_runner *r;
	pthread_barrier_t *start;
	int runs;
	int overlaps;     /* runs that reported an overlap */
	int failures;     /* runs that did not succeed */
};

static void *
invoker_main(void *arg)
{
	struct invoker *inv = arg;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char ebuf[128];
	int i;

	pthread_barrier_wait(inv->start);
	for (i = 0; i < inv->runs; i++) {
		run_once(inv->r, "{}", 1, i, &ctx, &res, ebuf, sizeof(ebuf));
		if (res.outcome != TF_RUN_SUCCESS)
			inv->failures++;
		else if (res.completed)
			inv->overlaps++;
	}
	return NULL;
}

/* Calls r from two threads at once, `runs` times each. */
static int
invoke_in_two_threads(const struct tf_loaded_runner *r, int runs,
    struct invoker inv[2])
{
	pthread_barrier_t start;
	pthread_t t[2];
	int i, started = 0;

	pthread_barrier_init(&start, NULL, 2);
	for (i = 0; i < 2; i++) {
		memset(&inv[i], 0, sizeof(inv[i]));
		inv[i].r = r;
		inv[i].start = &start;
		inv[i].runs = runs;
		if (pthread_create(&t[i], NULL, invoker_main, &inv[i]) == 0)
			started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	return started == 2 ? 0 : -1;
}

static void
test_single_threaded_serialised(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct invoker inv[2];
	char path[PATH_MAX], err[512];

	test_runner(path, sizeof(path), "single");
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	r = tf_runner_set_find(set, "single");
	CHECK(r != NULL);
	CHECK(tf_loaded_runner_flags(r) & TF_RUNNER_SINGLE_THREADED);
	CHECK(invoke_in_two_threads(r, 10, inv) == 0);
	tf_runner_set_free(set);
	CHECK_INT_EQ(inv[0].failures + inv[1].failures, 0);
	CHECK_INT_EQ(inv[0].overlaps + inv[1].overlaps, 0);
}

/* The control: the same runner without the flag does overlap, so the test
 * above can see an overlap, and ordinary runners are not serialised. */
static void
test_multi_threaded_concurrent(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct invoker inv[2];
	char path[PATH_MAX], err[512];

	test_runner(path, sizeof(path), "parallel");
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	r = tf_runner_set_find(set, "parallel");
	CHECK(r != NULL);
	CHECK_INT_EQ(tf_loaded_runner_flags(r), 0);
	CHECK(invoke_in_two_threads(r, 1, inv) == 0);
	tf_runner_set_free(set);
	CHECK_INT_EQ(inv[0].failures + inv[1].failures, 0);
	CHECK_INT_EQ(inv[0].overlaps + inv[1].overlaps, 2);
}

/* ---- tf_runner_invoke's clean-up --------------------------------------- */

static void
test_invoke_sanitises_result(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char path[PATH_MAX], err[512], ebuf[128];

	test_runner(path, sizeof(path), "misbehave");
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	r = tf_runner_set_at(set, 0);

	run_once(r, "\"bad_outcome\"", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_FAILED);
	CHECK_HAS(ebuf, "unknown outcome 42");

	run_once(r, "\"own_error\"", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_RETRY);
	CHECK(res.error == ebuf);
	CHECK_INT_EQ(res.error_size, sizeof(ebuf));
	CHECK_INT_EQ(res.size, sizeof(res));
	CHECK_STR_EQ(ebuf, "text of the runner's own");

	run_once(r, "\"silent_failure\"", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_FAILED);
	CHECK_HAS(ebuf, "runner \"misbehave\" re");

	run_once(r, "\"unterminated\"", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_RETRY);
	CHECK_INT_EQ(strlen(ebuf), sizeof(ebuf) - 1);
	tf_runner_set_free(set);
}

/* The times of a result: 0 or 2000-01-01 .. 9999-12-31 (epoch ms), both
 * fields, whatever the outcome; the message names the field and value. */
static void
test_result_times(void)
{
	static const int64_t ok[] = {
		0, TF_RUNNER_TIME_MIN_MS, NOW_MS, TF_RUNNER_TIME_MAX_MS,
	};
	static const int64_t bad[] = {
		INT64_MAX, INT64_MIN, -1, 1, TF_RUNNER_TIME_MIN_MS - 1,
		TF_RUNNER_TIME_MAX_MS + 1,
	};
	struct tf_run_result res;
	char ebuf[64], err[256], want[128];
	size_t i;

	/* The range is 2000-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z. */
	CHECK_INT_EQ(TF_RUNNER_TIME_MIN_MS, INT64_C(946684800) * 1000);
	CHECK_INT_EQ(TF_RUNNER_TIME_MAX_MS, INT64_C(253402300800) * 1000 - 1);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		tf_run_result_prepare(&res, ebuf, sizeof(ebuf));
		res.new_target_timestamp = ok[i];
		res.retry_after_ms = ok[sizeof(ok) / sizeof(ok[0]) - 1 - i];
		CHECK_MSG(tf_run_result_check_times(&res, err, sizeof(err)) == TF_OK,
		    "%" PRId64 ": %s", ok[i], err);
		CHECK_STR_EQ(err, "");
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tf_run_result_prepare(&res, ebuf, sizeof(ebuf));
		res.new_target_timestamp = bad[i];
		CHECK_INT_EQ(tf_run_result_check_times(&res, err, sizeof(err)),
		    TF_ERR_INVALID);
		fmt_buf(want, sizeof(want), "new_target_timestamp %" PRId64 " is not "
		    "a time from 2000", bad[i]);
		CHECK_HAS(err, want);
		tf_run_result_prepare(&res, ebuf, sizeof(ebuf));
		res.outcome = TF_RUN_RETRY;
		res.retry_after_ms = bad[i];
		CHECK_INT_EQ(tf_run_result_check_times(&res, err, sizeof(err)),
		    TF_ERR_INVALID);
		fmt_buf(want, sizeof(want), "retry_after_ms %" PRId64 " ", bad[i]);
		CHECK_HAS(err, want);
	}
}

static void
test_result_prepare(void)
{
	struct tf_run_result res;
	char ebuf[16];

	memset(&res, 0x5a, sizeof(res));
	memset(ebuf, 'x', sizeof(ebuf));
	tf_run_result_prepare(&res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.size, sizeof(res));
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 0);
	CHECK_INT_EQ(res.new_target_timestamp, 0);
	CHECK_INT_EQ(res.retry_after_ms, 0);
	CHECK(res.error == ebuf);
	CHECK_INT_EQ(res.error_size, sizeof(ebuf));
	CHECK_STR_EQ(ebuf, "");
}

/* ---- the shipped runners ---------------------------------------------- */

static struct tf_runner_set *shipped;

static const struct tf_loaded_runner *
shipped_find(const char *name)
{
	return shipped != NULL ? tf_runner_set_find(shipped, name) : NULL;
}

static void
test_shipped_load(void)
{
	char dir[PATH_MAX], err[512];
	size_t i;

	static const char *const names[] = { "noop", "countdown", "fail" };
	const struct tf_loaded_runner *r;

	/* The whole directory: other runners may join these three later. */
	fmt_buf(dir, sizeof(dir), "%s/runners", build_dir);
	CHECK_INT_EQ(load_init(dir, &shipped, err, sizeof(err)), TF_OK);
	CHECK(tf_runner_set_count(shipped) >= 3);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		r = tf_runner_set_find(shipped, names[i]);
		CHECK_MSG(r != NULL, "no runner %s", names[i]);
		/* Each returns at once: the consumer calls it on its loop. */
		CHECK_INT_EQ(tf_loaded_runner_flags(r), TF_RUNNER_RETURNS_AT_ONCE);
		CHECK_INT_EQ(tf_loaded_runner_abi_minor(r), TF_RUNNER_ABI_MINOR);
		CHECK_INT_EQ(tf_loaded_runner_size(r), sizeof(struct tf_runner));
		CHECK(tf_loaded_runner_version(r)[0] != '\0');
	}
}

/* The AWS targets' runners run with the host's AWS code (runner ABI 1.3):
 * with a host table that has it they start; given the table of a host
 * before 1.3 (a size that stops before target_init) they refuse to start
 * and say why, instead of reading past the table's end. */
static void
test_aws_target_needs_host_1_3(void)
{
	struct tf_host_api old = fake_host;
	struct tf_runner_set *set = NULL;
	char path[PATH_MAX], err[512];

	shipped_runner(path, sizeof(path), "sqs");
	log_reset();
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	CHECK_HAS(log_text, "sqs runner: region");
	tf_runner_set_free(set);
	set = NULL;

	old.size = offsetof(struct tf_host_api, target_init);
	log_reset();
	CHECK_INT_EQ(tf_runner_set_load(path, &set, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_runner_set_init(set, &old, err, sizeof(err)),
	    TF_ERR_INVALID);
	CHECK_HAS(err, "refused to start");
	CHECK_HAS(log_text, "sqs runner: this taskfleet's runner ABI is older "
	    "than 1.3");
	tf_runner_set_free(set);
}

static void
test_noop(void)
{
	const struct tf_loaded_runner *r = shipped_find("noop");
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char ebuf[128];

	CHECK(r != NULL);
	run_once(r, "{\"anything\": [1, 2, 3]}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 1);
	CHECK_INT_EQ(ctx.params_set, 0);
	CHECK_STR_EQ(ebuf, "");
}

static void
test_countdown_three_runs(void)
{
	const struct tf_loaded_runner *r = shipped_find("countdown");
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char params[256], ebuf[128];
	int i;

	CHECK(r != NULL);
	fmt_buf(params, sizeof(params), "{\"n\": 3, \"every_ms\": 250}");
	for (i = 0; i < 3; i++) {
		run_once(r, params, 1, i, &ctx, &res, ebuf, sizeof(ebuf));
		CHECK_MSG(res.outcome == TF_RUN_SUCCESS, "run %d: %s", i, ebuf);
		CHECK(ctx.params_set);
		CHECK_INT_EQ(param_int(ctx.params, "n"), 2 - i);
		CHECK_INT_EQ(param_int(ctx.params, "every_ms"), 250);
		if (i < 2) {
			CHECK_INT_EQ(res.completed, 0);
			CHECK_INT_EQ(res.new_target_timestamp, NOW_MS + 250);
		} else {
			CHECK_INT_EQ(res.completed, 1);
		}
		fmt_buf(params, sizeof(params), "%s", ctx.params);
	}
}

static void
test_countdown_defaults_and_keeps_text(void)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		/* Only n's value changes; every_ms (default 0) is not added. */
		{ "{\"tag\": \"x\", \"n\": 2.0}", "{\"tag\": \"x\", \"n\": 1}" },
		/* Numbers cJSON would round survive, byte for byte. */
		{ "{\"n\":5,\"id\":12345678901234567890,\"f\":0.10000000000000001}",
		  "{\"n\":4,\"id\":12345678901234567890,\"f\":0.10000000000000001}" },
		/* The first n wins, as in cJSON; nested "n"s are not touched. */
		{ "{\"a\": {\"n\": 9}, \"s\": \"\\\"n\\\": 9\", \"n\": 3e0, \"n\": 7}",
		  "{\"a\": {\"n\": 9}, \"s\": \"\\\"n\\\": 9\", \"n\": 2, \"n\": 7}" },
		/* Whatever cJSON takes as whitespace, and a byte order mark. */
		{ "\xEF\xBB\xBF{\v\"n\"\f:\x01" "4\x1f}", "\xEF\xBB\xBF{\v\"n\"\f:\x01" "3\x1f}" },
		/* The largest n it takes. */
		{ "{\"n\": 9007199254740992}", "{\"n\": 9007199254740991}" },
	};
	const struct tf_loaded_runner *r = shipped_find("countdown");
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char ebuf[128];
	size_t i;

	CHECK(r != NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_once(r, cases[i].in, 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
		CHECK_MSG(res.outcome == TF_RUN_SUCCESS, "%s: %s", cases[i].in, ebuf);
		CHECK_INT_EQ(res.completed, 0);
		/* every_ms defaults to 0: due again now. */
		CHECK_INT_EQ(res.new_target_timestamp, NOW_MS);
		CHECK(ctx.params_set);
		CHECK_STR_EQ(ctx.params, cases[i].out);
	}

	/* n = 0: done at once, params untouched. */
	run_once(r, "{\"n\": 0}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 1);
	CHECK_INT_EQ(ctx.params_set, 0);

	/* A key written with escapes cannot be rewritten in place. */
	run_once(r, "{\"\\u006e\": 2}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_FAILED);
	CHECK_HAS(ebuf, "plain");
}

static void
test_countdown_bad_params(void)
{
	static const struct {
		const char *params;
		const char *why;
	} cases[] = {
		{ "{}", "params.n is missing" },
		{ "{\"every_ms\": 5}", "params.n is missing" },
		{ "{\"n\": -1}", "params.n must be an integer from 0 to 2^53, got -1" },
		{ "{\"n\": 1.5}", "got 1.5" },
		{ "{\"n\": \"3\"}", "got a string" },
		{ "{\"n\": true}", "got true" },
		{ "{\"n\": null}", "got null" },
		{ "{\"n\": [3]}", "got an array" },
		{ "{\"n\": 1e300}", "params.n must be" },
		{ "{\"n\": 9007199254740994}", "params.n must be" },
		{ "{\"N\": 3}", "params.n is missing" },
		{ "{\"n\": 3, \"every_ms\": -5}", "params.every_ms must be" },
		{ "{\"n\": 3, \"every_ms\": \"5\"}", "params.every_ms must be" },
		{ "[3]", "must be a JSON object" },
		{ "3", "must be a JSON object" },
		{ "not json", "not valid JSON" },
		{ "{\"n\": 3} {", "not valid JSON" },
		{ "", "not valid JSON" },
	};
	const struct tf_loaded_runner *r = shipped_find("countdown");
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char ebuf[256];
	size_t i;

	CHECK(r != NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_once(r, cases[i].params, 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
		CHECK_MSG(res.outcome == TF_RUN_FAILED, "params %s: outcome %d",
		    cases[i].params, (int)res.outcome);
		CHECK_INT_EQ(res.completed, 0);
		CHECK_INT_EQ(ctx.params_set, 0);
		CHECK_HAS(ebuf, cases[i].why);
	}
}

static void
test_fail_modes(void)
{
	const struct tf_loaded_runner *r = shipped_find("fail");
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char ebuf[256];

	CHECK(r != NULL);
	run_once(r, "{}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_RETRY);
	CHECK_STR_EQ(ebuf, "requested failure");
	CHECK_INT_EQ(res.retry_after_ms, 0);

	run_once(r, "{\"mode\": \"retry\", \"message\": \"try later\"}", 1, 0, &ctx,
	    &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_RETRY);
	CHECK_STR_EQ(ebuf, "try later");

	run_once(r, "{\"mode\": \"permanent\", \"message\": \"boom\"}", 1, 0, &ctx,
	    &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_FAILED);
	CHECK_INT_EQ(res.completed, 0);
	CHECK_STR_EQ(ebuf, "boom");

	run_once(r, "{\"mode\": \"permanent\"}", 1, 0, &ctx, &res, ebuf,
	    sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_FAILED);
	CHECK_STR_EQ(ebuf, "requested failure");

	run_once(r, "{\"retry_after_ms\": 5000}", 1, 0, &ctx, &res, ebuf,
	    sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_RETRY);
	CHECK_INT_EQ(res.retry_after_ms, NOW_MS + 5000);
}

static void
test_fail_succeed_after(void)
{
	const struct tf_loaded_runner *r = shipped_find("fail");
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	const char *params = "{\"succeed_after\": 2, \"message\": \"not yet\"}";
	char ebuf[256];

	CHECK(r != NULL);
	run_once(r, params, 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_RETRY);
	CHECK_STR_EQ(ebuf, "not yet");
	run_once(r, params, 2, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_RETRY);
	run_once(r, params, 3, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 1);
	CHECK_STR_EQ(ebuf, "");

	/* succeed_after 0: the first attempt succeeds, even in permanent mode. */
	run_once(r, "{\"mode\": \"permanent\", \"succeed_after\": 0}", 1, 0, &ctx,
	    &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 1);
}

static void
test_fail_bad_params(void)
{
	static const struct {
		const char *params;
		const char *why;
	} cases[] = {
		{ "{\"mode\": \"sometimes\"}", "params.mode must be" },
		{ "{\"mode\": 1}", "params.mode must be a string" },
		{ "{\"message\": 5}", "params.message must be a string" },
		{ "{\"succeed_after\": -1}", "params.succeed_after must be" },
		{ "{\"succeed_after\": \"2\"}", "params.succeed_after must be" },
		{ "{\"retry_after_ms\": 0.5}", "params.retry_after_ms must be" },
		{ "[]", "must be a JSON object" },
		{ "{", "not valid JSON" },
	};
	const struct tf_loaded_runner *r = shipped_find("fail");
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char ebuf[256];
	size_t i;

	CHECK(r != NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_once(r, cases[i].params, 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
		CHECK_MSG(res.outcome == TF_RUN_FAILED, "params %s: outcome %d",
		    cases[i].params, (int)res.outcome);
		CHECK_HAS(ebuf, cases[i].why);
	}
}

/* Params come from users: hostile ones must fail cleanly, and any error
 * buffer size must be respected (ASan checks the writes). */
static void
test_shipped_hostile_params(void)
{
	static const char *const names[] = { "noop", "countdown", "fail" };
	static const size_t sizes[] = { 1, 2, 5, 256 };
	char *deep = NULL, *longstr = NULL;
	const char *inputs[8];
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char ebuf[256];
	size_t i, j, k, n = 0;

	deep = malloc(200001);
	longstr = malloc(100020);
	CHECK(deep != NULL && longstr != NULL);
	memset(deep, '[', 200000);
	deep[200000] = '\0';
	memcpy(longstr, "{\"message\": \"", 13);
	memset(longstr + 13, 'm', 100000);
	memcpy(longstr + 100013, "\"}", 3);
	inputs[n++] = deep;
	inputs[n++] = longstr;
	inputs[n++] = "{\"n\": 1e999999, \"mode\": \"\\ud800\"}";
	inputs[n++] = "{\"mode\": \"permanent\", \"message\": \"%s%n%s\"}";
	inputs[n++] = "{\"n\":";
	inputs[n++] = "\xff\xfe{";
	inputs[n++] = "{\"n\": 2, \"n\": -1}";
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct tf_loaded_runner *r = shipped_find(names[i]);

		CHECK(r != NULL);
		for (j = 0; j < n; j++) {
			for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
				memset(ebuf, 'z', sizeof(ebuf));
				run_once(r, inputs[j], 1, 0, &ctx, &res, ebuf, sizes[k]);
				CHECK(res.outcome == TF_RUN_SUCCESS ||
				    res.outcome == TF_RUN_RETRY ||
				    res.outcome == TF_RUN_FAILED);
				CHECK(strlen(ebuf) < sizes[k]);
				CHECK(sizes[k] == sizeof(ebuf) || ebuf[sizes[k]] == 'z');
			}
		}
	}
	/* The long message is truncated to the buffer, not overflowed. */
	run_once(shipped_find("fail"), longstr, 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_RETRY);
	CHECK_INT_EQ(strlen(ebuf), sizeof(ebuf) - 1);
	free(deep);
	free(longstr);
}

/* Whether shipped runner `name` is mapped in this process (dlopen with
 * RTLD_NOLOAD finds it only while some handle holds it). */
static bool
shipped_mapped(const char *name)
{
	char path[PATH_MAX];
	void *h;

	shipped_runner(path, sizeof(path), name);
	h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (h != NULL)
		dlclose(h);
	return h != NULL;
}

/* Freeing the set unloads the shipped runners: none of their shared
 * objects is still mapped afterwards. */
static void
test_shipped_free(void)
{
	static const char *const names[] = { "noop", "countdown", "fail" };
	size_t i;

	CHECK(shipped != NULL);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECK_MSG(shipped_mapped(names[i]), "%s is not loaded before the free",
		    names[i]);
	tf_runner_set_free(shipped);
	shipped = NULL;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECK_MSG(!shipped_mapped(names[i]), "%s is still loaded after the free",
		    names[i]);
}

/* ---- record and sleep ------------------------------------------------- */

static void
test_record_runner(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char path[PATH_MAX], dir[PATH_MAX], file[PATH_MAX + 16], err[512];
	char params[PATH_MAX + 64], ebuf[256], got[256];
	FILE *f;
	size_t len;

	test_runner(path, sizeof(path), "record");
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	r = tf_runner_set_find(set, "record");
	CHECK(r != NULL);
	make_tmp_dir(dir, sizeof(dir), "record");
	fmt_buf(file, sizeof(file), "%s/runs.txt", dir);

	fmt_buf(params, sizeof(params), "{\"file\": \"%s\", \"n\": 2, "
	    "\"every_ms\": 10}", file);
	run_once(r, params, 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_MSG(res.outcome == TF_RUN_SUCCESS, "%s", ebuf);
	CHECK_INT_EQ(res.completed, 0);
	CHECK_INT_EQ(res.new_target_timestamp, NOW_MS + 10);
	CHECK_HAS(ctx.params, file);
	CHECK_INT_EQ(param_int(ctx.params, "n"), 1);
	fmt_buf(params, sizeof(params), "%s", ctx.params);
	run_once(r, params, 1, 1, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 1);

	/* Without "file": TF_RECORD_FILE; without "n": completes. */
	setenv("TF_RECORD_FILE", file, 1);
	run_once(r, "{}", 2, 7, &ctx, &res, ebuf, sizeof(ebuf));
	unsetenv("TF_RECORD_FILE");
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 1);
	CHECK_INT_EQ(ctx.params_set, 0);

	/* Neither: a permanent failure. */
	run_once(r, "{}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_FAILED);
	CHECK_HAS(ebuf, "TF_RECORD_FILE");
	tf_runner_set_free(set);

	f = fopen(file, "r");
	CHECK(f != NULL);
	len = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[len] = '\0';
	CHECK_STR_EQ(got, "task-1 0\ntask-1 1\ntask-1 7\n");
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_sleep_runner(void)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct tf_run_ctx ctx = { .cancel = 0 };
	struct tf_run_result res;
	char path[PATH_MAX], err[512], ebuf[256];
	int64_t t0, took;

	test_runner(path, sizeof(path), "sleep");
	CHECK_INT_EQ(load_init(path, &set, err, sizeof(err)), TF_OK);
	r = tf_runner_set_find(set, "sleep");
	CHECK(r != NULL);
	t0 = mono_ms();
	run_once(r, "{\"ms\": 120}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	took = mono_ms() - t0;
	CHECK_INT_EQ(res.outcome, TF_RUN_SUCCESS);
	CHECK_INT_EQ(res.completed, 1);
	CHECK_MSG(took >= 120, "slept %lld ms", (long long)took);

	ctx.cancel = 1;
	t0 = mono_ms();
	run_once(r, "{\"ms\": 60000}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	took = mono_ms() - t0;
	CHECK_INT_EQ(res.outcome, TF_RUN_RETRY);
	CHECK_STR_EQ(ebuf, "cancelled");
	CHECK_MSG(took < 1000, "took %lld ms to notice", (long long)took);

	ctx.cancel = 0;
	run_once(r, "{\"ms\": -1}", 1, 0, &ctx, &res, ebuf, sizeof(ebuf));
	CHECK_INT_EQ(res.outcome, TF_RUN_FAILED);
	tf_runner_set_free(set);
}

/* ---- allocation failures ---------------------------------------------- */

/* Fails each allocation of load + init in turn: every one must give
 * TF_ERR_NOMEM (or succeed) and leak nothing (ASan checks at exit). */
static void
test_alloc_failures(void)
{
	struct tf_runner_set *set;
	char noop[PATH_MAX], fail[PATH_MAX], conf[PATH_MAX], err[512];
	char spec[PATH_MAX * 3 + 3];
	enum tf_err rc;
	long n, before;

	/* Runners whose init() allocates nothing through cJSON (which shares
	 * our hooks, so its allocations would fail too). */
	shipped_runner(noop, sizeof(noop), "noop");
	shipped_runner(fail, sizeof(fail), "fail");
	test_runner(conf, sizeof(conf), "conf");
	fmt_buf(spec, sizeof(spec), "%s:%s:%s", noop, fail, conf);
	unsetenv("TASKFLEET_RUNNER_CONFIG_CONF_ECHO");
	for (n = 0; n < 1000; n++) {
		set = NULL;
		before = tf_alloc_failures();
		tf_alloc_fail_after(n);
		rc = load_init(spec, &set, err, sizeof(err));
		tf_alloc_fail_after(-1);
		tf_runner_set_free(set);
		if (tf_alloc_failures() == before) {
			CHECK_INT_EQ(rc, TF_OK);
			break;
		}
		/* conf-echo's own malloc is not ours; only the loader's fail. */
		CHECK_MSG(rc == TF_ERR_NOMEM, "allocation %ld: %s (%s)", n,
		    tf_strerror(rc), err);
	}
	CHECK(n > 5 && n < 1000);
}

int
main(void)
{
	const char *b = getenv("TF_BUILD");
	char cmd[PATH_MAX + 32];

	tf_alloc_init();
	fmt_buf(build_dir, sizeof(build_dir), "%s", b != NULL && *b != '\0' ?
	    b : "build");
	fmt_buf(tmp_root, sizeof(tmp_root), "/tmp/taskfleet-test-runners.XXXXXX");
	if (mkdtemp(tmp_root) == NULL) {
		printf("FAIL setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}

	TF_RUN(test_runners_are_built);
	TF_RUN(test_refuse_bad_magic);
	TF_RUN(test_refuse_bad_major);
	TF_RUN(test_refuse_too_small);
	TF_RUN(test_refuse_no_entry);
	TF_RUN(test_refuse_undefined_symbol);
	TF_RUN(test_refuse_not_elf);
	TF_RUN(test_refuse_null_run);
	TF_RUN(test_refuse_bad_name);
	TF_RUN(test_refuse_duplicate_names);
	TF_RUN(test_one_bad_refuses_all);
	TF_RUN(test_missing_paths);
	TF_RUN(test_newer_minor_accepted);
	TF_RUN(test_old_minor_accepted);
	TF_RUN(test_validate_entry_called);
	TF_RUN(test_start_entry);
	TF_RUN(test_minor_1_1_runs_blocking);
	TF_RUN(test_http_validate);
	TF_RUN(test_upper_case_name);
	TF_RUN(test_directory_spec);
	TF_RUN(test_colon_list);
	TF_RUN(test_bare_file_name);
	TF_RUN(test_default_dir);
	TF_RUN(test_default_spec_loads_build_runners);
	TF_RUN(test_config_var_name);
	TF_RUN(test_config_default_and_fini);
	TF_RUN(test_config_from_env);
	TF_RUN(test_config_invalid);
	TF_RUN(test_init_failure);
	TF_RUN(test_init_twice_and_uninitialised);
	TF_RUN(test_refuse_world_writable_file);
	TF_RUN(test_refuse_world_writable_dir);
	TF_RUN(test_refuse_symlink_into_writable_dir);
	TF_RUN(test_isolated_not_initialised_here);
	TF_RUN(test_isolated_config_still_checked);
	TF_RUN(test_time_limit);
	TF_RUN(test_single_threaded_serialised);
	TF_RUN(test_multi_threaded_concurrent);
	TF_RUN(test_invoke_sanitises_result);
	TF_RUN(test_result_prepare);
	TF_RUN(test_result_times);
	TF_RUN(test_shipped_load);
	TF_RUN(test_aws_target_needs_host_1_3);
	TF_RUN(test_noop);
	TF_RUN(test_countdown_three_runs);
	TF_RUN(test_countdown_defaults_and_keeps_text);
	TF_RUN(test_countdown_bad_params);
	TF_RUN(test_fail_modes);
	TF_RUN(test_fail_succeed_after);
	TF_RUN(test_fail_bad_params);
	TF_RUN(test_shipped_hostile_params);
	TF_RUN(test_shipped_free);
	TF_RUN(test_record_runner);
	TF_RUN(test_sleep_runner);
	TF_RUN(test_alloc_failures);

	fmt_buf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", tmp_root);
	return tf_test_summary();
}
