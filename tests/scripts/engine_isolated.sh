#!/usr/bin/env bash
# engine_isolated.sh - the isolated runner mode and run time limits, with the
# real binaries and the crashy test runner (tests/runners/crashy.c):
#   - bad --isolate / --run-timeout values (and their variables) exit 2 with
#     one line naming the setting;
#   - isolated, runs that crash (SIGSEGV, abort, exit) fail their attempt and
#     end FAILED after max_attempts with the crash in last_error, while the
#     consumer keeps running and good tasks submitted alongside complete;
#     a hung run is killed at its limit; crashed workers are replaced (pids
#     change); on SIGTERM the consumer exits 0, its workers run fini() and
#     none is left, not even a zombie; after SIGKILL of the consumer its
#     workers are gone within two seconds;
#   - an isolated runner whose init() fails stops the consumer at startup;
#   - in-process, a run over its limit is cancelled and retried.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init isolated
export TASKFLEET_RUNNERS=$TF_BUILD/runners:$TF_BUILD/tests/runners/crashy.so:$TF_BUILD/tests/runners/sleep.so
# Retries come back quickly.
export TASKFLEET_RETRY_BASE=200ms TASKFLEET_RETRY_CAP=500ms
PIDS=$E2E_DIR/crashy.pids
export TASKFLEET_RUNNER_CONFIG_CRASHY="{\"pid_file\": \"$PIDS\"}"

# Sanitizer builds report a crash their own way (ASan turns SIGSEGV into
# exit 1 and checks for leaks at exit(3)): check the exact text only on a
# plain build.
sanitized=0
if ldd "$CONSUMER" 2>/dev/null | grep -Eq 'lib(asan|ubsan|tsan)'; then
	sanitized=1
fi
# crashy's SIGSEGV is on purpose: the sanitizers leave it to the consumer
# instead of printing a report, which tests/run would count as a failure.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:handle_segv=0" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:handle_segv=0"

# ---- bad settings -------------------------------------------------------

# bad_setting NAME SETTING-WORD [ENV=VALUE...] -- ARGS...: exits 2 with one
# line on stderr that names SETTING-WORD.
bad_setting() {
	local name=$1 word=$2 out status lines; shift 2
	local envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	out=$(timeout 20 env "${envs[@]}" "$CONSUMER" "$@" 2>&1 </dev/null)
	status=$?
	lines=$(printf '%s\n' "$out" | grep -c .)
	if [ "$status" -eq 2 ] && [ "$lines" -eq 1 ] && printf '%s' "$out" | grep -q -- "$word"; then
		pass "isolated-bad-$name"
	else
		fail "isolated-bad-$name" "status $status, $lines line(s): $out"
	fi
}
bad_setting isolate-unknown-runner --isolate -- --isolate crashy,nope
bad_setting isolate-empty-name --isolate -- --isolate 'crashy,,sleep'
bad_setting isolate-env TASKFLEET_ISOLATE TASKFLEET_ISOLATE=nope --
bad_setting run-timeout-unit --run-timeout -- --run-timeout 5x
bad_setting run-timeout-unknown-runner --run-timeout -- --run-timeout nope=1s
bad_setting run-timeout-empty --run-timeout -- --run-timeout 'crashy='
bad_setting run-timeout-twice --run-timeout -- --run-timeout 'crashy=1s,crashy=2s'
bad_setting run-timeout-env TASKFLEET_RUN_TIMEOUT TASKFLEET_RUN_TIMEOUT=soon --
# The flag wins over a bad variable.
out=$(TASKFLEET_RUN_TIMEOUT=soon timeout 20 "$CONSUMER" --run-timeout 1s --isolate nope 2>&1 </dev/null)
check "isolated-flag-overrides-env" test $? -eq 2 -a -n "$(printf '%s' "$out" | grep -- '--isolate')"

# ---- helpers ------------------------------------------------------------

item() { $TFCHECK scan "$E2E_NAME" | grep "\"id\": \"$1\""; }
# field ID EXPR: a Python expression over the item t.
field() { item "$1" | $PY -c "import json,sys; t=json.load(sys.stdin); print($2)"; }
status_is() { [ "$(field "$1" 't.get("status")')" = "$2" ]; }
# The worker processes of consumer $1 (its children).
workers_of() { pgrep -P "$1" | sort; }
# True while pid $1 runs (a zombie does not count).
alive() { [ -r "/proc/$1/stat" ] && ! awk '{ exit !($3 == "Z") }' "/proc/$1/stat" 2>/dev/null; }
# True while pid $1 exists at all (zombies count): a worker of ours.
exists() { [ -e "/proc/$1" ] && grep -q 'taskfleet-consu' "/proc/$1/stat" 2>/dev/null; }
zombies_of() { ps -o stat= --ppid "$1" 2>/dev/null | grep -c '^Z'; }
none_alive() { local p; for p in "$@"; do alive "$p" && return 1; done; return 0; }
none_exist() { local p; for p in "$@"; do exists "$p" && return 1; done; return 0; }
logged() { grep -q -- "$2" "$E2E_DIR/$1.log"; }

# ---- isolated: crashes, a hang, good tasks alongside ---------------------

start_consumer iso --concurrency 4 --isolate crashy --run-timeout 2s
ISO=${consumer_pids[-1]}
check "isolated-worker-started-at-startup" wait_until 20 logged iso '"msg":"runner worker started"'
first_workers=$(workers_of "$ISO")
check "isolated-one-worker-at-startup ($first_workers)" test "$(echo "$first_workers" | grep -c .)" -eq 1
check "isolated-init-not-in-consumer" test "$(grep -cx "$ISO" "$PIDS")" -eq 0

for m in segv abort exit; do
	tf_cli submit --type crashy --id "iso-$m" --max-attempts 2 \
	    --params "{\"mode\": \"$m\"}" >/dev/null
done
hang_submitted=$(date +%s%3N)
tf_cli submit --type crashy --id iso-hang --max-attempts 1 \
    --params '{"mode": "hang"}' >/dev/null
for i in 1 2 3 4 5; do
	tf_cli submit --type crashy --id "iso-ok-$i" --params '{"mode": "ok"}' >/dev/null
done
tf_cli submit --type crashy --id iso-big --params '{"mode": "big_result"}' >/dev/null
tf_cli submit --type crashy --id iso-fat --max-attempts 3 --params '{"mode": "fat_output"}' >/dev/null
tf_cli submit --type noop --id iso-noop >/dev/null

settled() {
	[ "$($TFCHECK summary "$E2E_NAME")" = '{"COMPLETED": 7, "FAILED": 5}' ]
}
if wait_until 60 settled; then
	pass "isolated-all-settled"
else
	fail "isolated-all-settled" "summary: $($TFCHECK summary "$E2E_NAME")"
fi
check "isolated-consumer-survived" kill -0 "$ISO"

crash_text() {
	if [ $sanitized -eq 1 ]; then echo "runner crashed ("; else echo "$1"; fi
}
for m in segv abort exit; do
	case $m in
	segv) want=$(crash_text "runner crashed (signal 11, SIGSEGV); worker replaced") ;;
	abort) want=$(crash_text "runner crashed (signal 6, SIGABRT); worker replaced") ;;
	exit) want=$(crash_text "runner crashed (exited with status 3); worker replaced") ;;
	esac
	got=$(field "iso-$m" 't.get("status"), t.get("attempts"), len(t.get("errors", [])), t.get("last_error")')
	case "$got" in
	"FAILED "*" 2 "*"$want"*) pass "isolated-$m-failed-after-2-attempts" ;;
	*) fail "isolated-$m-failed-after-2-attempts" "$got (want \"$want\")" ;;
	esac
done
ok=1
for i in 1 2 3 4 5; do
	status_is "iso-ok-$i" COMPLETED || miss "iso-ok-$i: $(item "iso-ok-$i")"
done
verdict "isolated-ok-tasks-completed"
check "isolated-ok-result-from-worker" test "$(field iso-ok-1 't.get("result")')" = "{'ok': True}"
check "isolated-big-result-refused-in-worker" test "$(field iso-big 't.get("result")')" = "{'big': 'refused'}"
check "isolated-noop-in-process" status_is iso-noop COMPLETED
# Params and a result each within the host's limit, too big for one item
# together: the runner's permanent failure, at the first attempt, with the
# run in the history.
fat=$(field iso-fat 't.get("status"), t.get("attempts"), t["last_error"].startswith("runner output refused: "), [(h["outcome"], "ms" in h) for h in t.get("history", [])]')
check "isolated-fat-output-refused ($fat)" test "$fat" = "FAILED 1 True [('failed', True)]"

# The hang: killed 2 s after its start (plus the 1 s grace), not earlier.
hang_error=$(field iso-hang 't.get("last_error")')
check "isolated-hang-failed ($hang_error)" test "$hang_error" = \
    "run timed out after 2000 ms; worker killed"
hang_ms=$(grep '"task":"iso-hang"' "$E2E_DIR/iso.log" | grep '"msg":"run finished' |
    sed -n 's/.*"duration_ms":"\([0-9]*\)".*/\1/p' | head -1)
check "isolated-hang-killed-at-its-limit (${hang_ms:-?} ms)" test "${hang_ms:-0}" -ge 2000 -a "${hang_ms:-0}" -le 5000
hang_finished=$(field iso-hang 't.get("finished_at") or 0')
check "isolated-hang-over-within-10s-of-submit" test $((hang_finished - hang_submitted)) -lt 10000

# Crashed and killed workers were replaced: the first worker is gone, each
# crash started a new one, and none is left a zombie.
check "isolated-first-worker-replaced" none_exist $first_workers
n_inits=$(sort -u "$PIDS" | grep -c .)
# Six crashes and one kill: seven workers died, each a process of its own.
check "isolated-workers-replaced ($n_inits workers started)" test "$n_inits" -ge 7
check "isolated-no-zombie-while-running" test "$(zombies_of "$ISO")" -eq 0
check "isolated-runs-logged-with-task" logged iso '"msg":"crashy ok in pid [0-9]*","task":"iso-ok-1","runner":"crashy"'

# A good task after all that still runs, in a worker.
tf_cli submit --type crashy --id iso-after --params '{"mode": "ok"}' >/dev/null
check "isolated-ok-after-crashes" wait_until 20 status_is iso-after COMPLETED
live_workers=$(workers_of "$ISO")
check "isolated-worker-alive-before-stop ($live_workers)" test -n "$live_workers"

# SIGTERM: exit 0; the workers see EOF, run fini() and are reaped.
check "isolated-sigterm-exit-0" stop_consumers
check "isolated-no-worker-left-after-sigterm" none_exist $live_workers
# One check for all of them: how many workers are alive varies.
fini_missing=
for p in $live_workers; do
	logged iso "\"msg\":\"crashy fini in pid $p\"" || fini_missing="$fini_missing $p"
done
check "isolated-fini-ran-in-every-worker ($live_workers; missing:${fini_missing:- none})" \
    test -z "$fini_missing"

# ---- SIGKILL of the consumer: its workers die with it --------------------

start_consumer kill9 --concurrency 2 --isolate crashy
K9=${consumer_pids[-1]}
check "isolated-kill9-worker-started" wait_until 20 logged kill9 '"msg":"runner worker started"'
tf_cli submit --type crashy --id k9-hang --params '{"mode": "hang"}' >/dev/null
check "isolated-kill9-hang-running" wait_until 20 logged kill9 '"msg":"crashy hang in pid'
# A second run needs a second worker while the first hangs.
tf_cli submit --type crashy --id k9-ok --params '{"mode": "ok"}' >/dev/null
busy() { [ "$(workers_of "$K9" | grep -c .)" -ge 2 ]; }
check "isolated-kill9-two-workers" wait_until 20 busy
k9_workers=$(workers_of "$K9")
kill -KILL "$K9"
wait "$K9" 2>/dev/null
consumer_pids=()
check "isolated-kill9-workers-gone-within-2s" wait_until 2 none_alive $k9_workers

# ---- an isolated runner whose init() fails --------------------------------

TASKFLEET_RUNNERS=$TF_BUILD/tests/runners/crashy.so:$TF_BUILD/tests/runners/init_fails.so \
    "$CONSUMER" --id initfail --wait-time 1 --isolate init_fails \
    >"$E2E_DIR/initfail.log" 2>&1 </dev/null &
IF=$!
if_exited() { ! kill -0 "$IF" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$IF/stat" 2>/dev/null)" = Z ]; }
check "isolated-init-fails-stops-consumer" wait_until 20 if_exited
wait "$IF"
status=$?
check "isolated-init-fails-exit-nonzero (status $status)" test "$status" -ne 0
check "isolated-init-fails-message" logged initfail \
    'isolated runner \\"init_fails\\".*init() returned 7'
check "isolated-init-fails-ran-in-worker" logged initfail \
    '"msg":"init_fails: init refuses ({})","runner":"init_fails"'

# ---- in-process with a limit ----------------------------------------------

: >"$PIDS"
start_consumer inproc --concurrency 2 --run-timeout 'crashy=1s,*=1m'
INP=${consumer_pids[-1]}
check "isolated-inproc-started" wait_until 20 logged inproc '"msg":"consumer inproc started'
check "isolated-inproc-init-in-consumer" test "$(cat "$PIDS")" = "$INP"
check "isolated-inproc-no-workers" test -z "$(workers_of "$INP")"
tf_cli submit --type crashy --id in-slow --max-attempts 2 \
    --params '{"mode": "slow", "ms": 5000}' >/dev/null
tf_cli submit --type crashy --id in-quick --params '{"mode": "slow", "ms": 100}' >/dev/null
check "isolated-inproc-slow-failed" wait_until 30 status_is in-slow FAILED
got=$(field in-slow 't.get("attempts"), len(t.get("errors", [])), t.get("last_error"), t.get("params")')
check "isolated-inproc-slow-cancelled-and-retried ($got)" test \
    "$got" = "2 2 run exceeded its time limit of 1000 ms {'mode': 'slow', 'ms': 5000}"
slow_ms=$(grep '"task":"in-slow"' "$E2E_DIR/inproc.log" | grep '"msg":"run finished' |
    sed -n 's/.*"duration_ms":"\([0-9]*\)".*/\1/p' | head -1)
check "isolated-inproc-cancelled-at-its-limit (${slow_ms:-?} ms)" test "${slow_ms:-0}" -ge 1000 -a "${slow_ms:-0}" -le 2000
check "isolated-inproc-quick-completed" wait_until 20 status_is in-quick COMPLETED
check "isolated-inproc-quick-params-kept" test \
    "$(field in-quick 't.get("params") == {"mode": "slow", "done": True}')" = True
check "isolated-inproc-sigterm-exit-0" stop_consumers
exit $e2e_failed
