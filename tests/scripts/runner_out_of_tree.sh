#!/usr/bin/env bash
# tests/scripts/runner_out_of_tree.sh - a runner built outside the tree.
#
# Installs taskfleet into a temporary DESTDIR (make install, which assumes the
# build exists and only copies), then checks what a runner author relies on:
#   - the installed header and runners are where runners/README.md says;
#   - the README's code block is runners/example/hello.c, byte for byte, and
#     its build line is the one this script runs;
#   - that line builds hello.c against the installed header alone, and the
#     result exports only taskfleet_runner (as do the shipped runners);
#   - the header also passes -std=c99 -pedantic -Wall -Wextra -Werror, and
#     compiles as C++;
#   - the loader (lib/task/runners.c, through a small program linked with
#     $TF_BUILD/lib/libtaskfleet.a) loads hello.so and the installed runner
#     directory, and hello runs: it logs, sets a result and completes.
# Prints "PASS name" or "FAIL name: why" per check; exits 1 on any failure.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD_DIR=${TF_BUILD:-$ROOT/${BUILD:-build}}
LIB=$BUILD_DIR/lib/libtaskfleet.a
CC=${CC:-cc}
INSTALL_PREFIX=${PREFIX:-/usr/local}
CC_LINE='cc -shared -fPIC -fvisibility=hidden -I$PREFIX/include -o hello.so hello.c'

# Every check, in order: a step that the rest depend on and that fails ends
# the script with fail_rest, so each check still prints its one line.
CHECKS=(
	"make install DESTDIR PREFIX=$INSTALL_PREFIX"
	"installed header"
	"installed runners"
	"readme example is runners/example/hello.c"
	"readme build line"
	"hello.so builds with the README's line"
	"runners export only taskfleet_runner"
	"header and example are clean C99 (-pedantic -Wall -Wextra -Werror)"
	"header compiles as C++"
	"hello.so loads and runs through the loader"
	"installed runner directory and hello.so load together"
)
declare -A done_checks=()
failed=0
fail() {
	echo "FAIL $1: $2"
	failed=1
	done_checks[$1]=1
}
pass() {
	echo "PASS $1"
	done_checks[$1]=1
}
# fail_rest WHY: FAIL for each check not yet ended; exits 1.
fail_rest() {
	local c
	for c in "${CHECKS[@]}"; do
		[ -n "${done_checks[$c]:-}" ] || fail "$c" "not run: $1"
	done
	exit 1
}
# ok=1; ...; cond || miss WHY; ...; verdict NAME: one check over several
# conditions, one PASS NAME or one FAIL NAME with every reason.
. "$(dirname "$0")/../tools/verdict.sh"

TMP=$(mktemp -d /tmp/taskfleet-oot.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
DEST=$TMP/dest
INST=$DEST$INSTALL_PREFIX

case $(basename "$BUILD_DIR") in
asan) SANITIZER=address; SAN="-fsanitize=address -fno-omit-frame-pointer" ;;
ubsan) SANITIZER=undefined; SAN="-fsanitize=undefined -fno-sanitize-recover=all" ;;
tsan) SANITIZER=thread; SAN="-fsanitize=thread" ;;
*) SANITIZER=; SAN="" ;;
esac

# --- install ---------------------------------------------------------------
if make -s install DESTDIR="$DEST" PREFIX="$INSTALL_PREFIX" SANITIZER="$SANITIZER" \
    >"$TMP/install.log" 2>&1; then
	pass "make install DESTDIR PREFIX=$INSTALL_PREFIX"
else
	fail "make install DESTDIR PREFIX=$INSTALL_PREFIX" "$(tail -n 5 "$TMP/install.log" | tr '\n' ' ')"
	fail_rest "make install failed"
fi

if cmp -s include/taskfleet/runner.h "$INST/include/taskfleet/runner.h"; then
	pass "installed header"
else
	fail "installed header" "$INST/include/taskfleet/runner.h missing or different"
fi
missing=
for r in runners/*/runner.c; do
	name=$(basename "$(dirname "$r")")
	[ -x "$INST/lib/taskfleet/runners/$name.so" ] || missing="$missing $name"
done
if [ -z "$missing" ]; then
	pass "installed runners"
else
	fail "installed runners" "not in $INST/lib/taskfleet/runners:$missing"
fi

# --- the README and the example --------------------------------------------
# The first ```c block after the marker comment is the example, byte for byte.
awk '
	/^<!-- The code block below is runners\/example\/hello.c/ { marked = 1; next }
	marked && !inside && /^```c$/ { inside = 1; next }
	inside && /^```$/ { exit }
	inside { print }
' runners/README.md >"$TMP/readme-hello.c"
if [ ! -s "$TMP/readme-hello.c" ]; then
	fail "readme example is runners/example/hello.c" "no marked \`\`\`c block in runners/README.md"
elif cmp -s "$TMP/readme-hello.c" runners/example/hello.c; then
	pass "readme example is runners/example/hello.c"
else
	fail "readme example is runners/example/hello.c" "differs from runners/example/hello.c:"
	diff -u runners/example/hello.c "$TMP/readme-hello.c" | sed 's/^/    /'
fi

readme_line=$(sed -n 's/^ *\(cc -shared .*hello\.c\)$/\1/p' runners/README.md | sort -u)
if [ "$readme_line" = "$CC_LINE" ]; then
	pass "readme build line"
else
	fail "readme build line" "README says '$readme_line', expected '$CC_LINE'"
fi

# --- build it out of tree ----------------------------------------------------
mkdir -p "$TMP/work"
cp runners/example/hello.c "$TMP/work/"
# Exactly the documented line, with PREFIX pointing at the installed tree; CC
# and CFLAGS from the environment play no part.
if (cd "$TMP/work" && env -i PATH="$PATH" PREFIX="$INST" sh -c "$CC_LINE") \
    >"$TMP/cc.log" 2>&1 && [ -f "$TMP/work/hello.so" ]; then
	pass "hello.so builds with the README's line"
else
	fail "hello.so builds with the README's line" "$(head -n 5 "$TMP/cc.log" | tr '\n' ' ')"
	fail_rest "hello.so did not build"
fi

ok=1
for so in "$TMP/work/hello.so" "$INST"/lib/taskfleet/runners/*.so; do
	syms=$(nm -D --defined-only "$so" 2>/dev/null | awk '{ print $NF }' |
	    grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' | tr '\n' ' ')
	[ "$syms" = "taskfleet_runner " ] || miss "$(basename "$so") exports: $syms"
done
verdict "runners export only taskfleet_runner"

if $CC -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$INST/include" \
    runners/example/hello.c 2>"$TMP/c99.log"; then
	pass "header and example are clean C99 (-pedantic -Wall -Wextra -Werror)"
else
	fail "header and example are clean C99 (-pedantic -Wall -Wextra -Werror)" "$(head -n 5 "$TMP/c99.log" | tr '\n' ' ')"
fi
if command -v c++ >/dev/null 2>&1; then
	printf '#include <taskfleet/runner.h>\nextern "C" const struct tf_runner *f(void);\n' \
	    >"$TMP/cxx.cc"
	if c++ -Wall -Wextra -Werror -fsyntax-only -I"$INST/include" "$TMP/cxx.cc" \
	    2>"$TMP/cxx.log"; then
		pass "header compiles as C++"
	else
		fail "header compiles as C++" "$(head -n 5 "$TMP/cxx.log" | tr '\n' ' ')"
	fi
else
	echo "SKIP header compiles as C++: no c++ compiler"
	done_checks["header compiles as C++"]=1
fi

# --- load and run it through the loader --------------------------------------
if [ ! -f "$LIB" ]; then
	fail_rest "$LIB is missing: run make first"
fi
cat >"$TMP/check.c" <<'EOF'
/* check.c - loads a runner spec with lib/task/runners.c and runs one runner once:
 * check SPEC NAME. Prints the loaded names, the log lines, the result
 * document and the outcome; exits 0 when the run succeeded and completed. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "target/target_run.h"
#include "task/runners.h"

struct tf_run_ctx {
	char result[1024];
};

static void host_log(struct tf_run_ctx *ctx, enum tf_runner_log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
host_log(struct tf_run_ctx *ctx, enum tf_runner_log_level level,
    const char *fmt, ...)
{
	va_list ap;

	printf("log: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int
host_heartbeat(struct tf_run_ctx *ctx)
{
	return 0;
}

static int
host_cancelled(struct tf_run_ctx *ctx)
{
	return 0;
}

static int64_t
host_now_ms(void)
{
	return 1767225600000;
}

static int
host_set_params(struct tf_run_ctx *ctx, const char *json, size_t len)
{
	return -1;
}

static int
host_set_result(struct tf_run_ctx *ctx, const char *json, size_t len)
{
	if (len >= sizeof(ctx->result))
		return -1;
	memcpy(ctx->result, json, len);
	ctx->result[len] = '\0';
	return 0;
}

static const struct tf_host_api host = {
	.size = sizeof(struct tf_host_api),
	.log = host_log,
	.heartbeat = host_heartbeat,
	.cancelled = host_cancelled,
	.now_ms = host_now_ms,
	.set_params = host_set_params,
	.set_result = host_set_result,
	/* The AWS targets (runner ABI 1.3): the installed sqs, sns, ...
	 * runners start only with them, as in the consumer. */
	.target_init = tf_target_host_init,
	.target_run = tf_target_runner_run,
	.target_fini = tf_target_runner_fini,
};

int
main(int argc, char **argv)
{
	struct tf_runner_set *set = NULL;
	const struct tf_loaded_runner *r;
	struct tf_run_ctx ctx = { "" };
	struct tf_task_view v;
	struct tf_run_result res;
	char err[1024], ebuf[TF_RUNNER_ERROR_SIZE];
	size_t i;
	int ok = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: check SPEC NAME\n");
		return 2;
	}
	tf_alloc_init();
	if (tf_runner_set_load(argv[1], &set, err, sizeof(err)) != TF_OK ||
	    tf_runner_set_init(set, &host, err, sizeof(err)) != TF_OK) {
		printf("error: %s\n", err);
		goto out;
	}
	printf("loaded:");
	for (i = 0; i < tf_runner_set_count(set); i++)
		printf(" %s", tf_loaded_runner_name(tf_runner_set_at(set, i)));
	printf("\n");
	if ((r = tf_runner_set_find(set, argv[2])) == NULL) {
		printf("error: no runner %s\n", argv[2]);
		goto out;
	}
	memset(&v, 0, sizeof(v));
	v.size = sizeof(v);
	v.id = "oot-1";
	v.ns = "default";
	v.type = argv[2];
	v.params_json = "{}";
	v.params_len = 2;
	v.attempt = 1;
	v.max_attempts = 3;
	v.target_ms = host_now_ms();
	v.host = &host;
	v.ctx = &ctx;
	tf_run_result_prepare(&res, ebuf, sizeof(ebuf));
	tf_runner_invoke(r, &v, &res);
	printf("result: %s\n", ctx.result);
	printf("outcome: %d completed: %d error: %s\n", (int)res.outcome,
	    (int)res.completed, ebuf);
	ok = res.outcome == TF_RUN_SUCCESS && res.completed;
out:
	tf_runner_set_free(set);
	return ok ? 0 : 1;
}
EOF
# shellcheck disable=SC2086
if ! $CC -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Wno-unused-parameter -Werror \
    $SAN -Iinclude -Ilib -o "$TMP/check" "$TMP/check.c" "$LIB" \
    -lcurl -lcjson -lcrypto -luuid -luv -ldl -lpthread -lm 2>"$TMP/check-cc.log"; then
	fail_rest "the loader check did not build: $(head -n 5 "$TMP/check-cc.log" | tr '\n' ' ')"
fi
# hello.so is built without a sanitizer; an instrumented host loads it fine.
if "$TMP/check" "$TMP/work/hello.so" hello >"$TMP/hello.out" 2>&1 &&
    grep -qx 'log: hello, task oot-1 (attempt 1)' "$TMP/hello.out" &&
    grep -qx 'result: {"greeting": "hello", "at": 1767225600000}' "$TMP/hello.out"; then
	pass "hello.so loads and runs through the loader"
else
	fail "hello.so loads and runs through the loader" "$(tr '\n' ' ' <"$TMP/hello.out")"
fi
if "$TMP/check" "$INST/lib/taskfleet/runners:$TMP/work/hello.so" noop \
    >"$TMP/inst.out" 2>&1 &&
    grep -q '^loaded: .*countdown .*fail http .*noop .*sqs .*hello$' "$TMP/inst.out"; then
	pass "installed runner directory and hello.so load together"
else
	fail "installed runner directory and hello.so load together" "$(tr '\n' ' ' <"$TMP/inst.out")"
fi

exit $failed
