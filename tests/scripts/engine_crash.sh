#!/usr/bin/env bash
# engine_crash.sh - a crashing in-process runner is charged its own attempts,
# not its neighbours' (issue 18 item 7). One consumer, restarted after each
# exit as a supervisor would, runs three tasks at once: a healthy one (sleep,
# 4 s), one whose runner segfaults and one whose runner calls exit(). Each
# crash ends every run in the process; the crash journal tells the restarted
# consumer which run crashed it:
#   - the healthy task completes, its completing run still attempt 1, with
#     the interruptions recorded as errors but never counted;
#   - the segfaulting task ends FAILED after its 3 attempts, the exiting one
#     after its 2, each error naming the crash;
#   - a clean stop leaves no journal behind.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
E2E_VISIBILITY=4
e2e_init crash
export TASKFLEET_RUNNERS=$TASKFLEET_RUNNERS:$TF_BUILD/tests/runners/crashy.so
export TASKFLEET_JOURNAL_DIR=$E2E_DIR/journal
# A crash can also end a message send of the restarted consumer's recovery
# (the exiting runner's next run starts while the recovered runs' messages
# are still in flight); the sweeper sends such a lost message again after its
# grace, kept short here so the 90 s below hold under the sanitizers.
export TASKFLEET_SWEEP_INTERVAL=1s TASKFLEET_SWEEP_GRACE=3s
# crashy records every time the process's exit handlers run.
export TASKFLEET_RUNNER_CONFIG_CRASHY="{\"atexit_file\": \"$E2E_DIR/atexit.txt\"}"
item() { $TFCHECK item "$E2E_NAME" "$1"; }
field() { item "$1" | $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"; }

# The supervisor: runs consumer c1 again whenever it ends, until told to stop.
supervise() {
	while [ ! -e "$E2E_DIR/stop" ]; do
		"$CONSUMER" --id c1 --wait-time 1 --visibility-timeout 4 \
		    >>"$E2E_DIR/c1.log" 2>&1 &
		echo $! >"$E2E_DIR/c1.pid"
		wait $!
		echo "$?" >>"$E2E_DIR/exits.txt"
	done
}
supervise &
supervisor=$!

tf_cli submit --type sleep --id healthy --params '{"ms": 4000}' >/dev/null
running() { [ "$(field healthy status)" = PROCESSING ]; }
check "crash-healthy-task-running" wait_until 20 running
tf_cli submit --type crashy --id segv --params '{"mode": "segv"}' >/dev/null
tf_cli submit --type crashy --id exits --max-attempts 2 \
    --params '{"mode": "exit"}' >/dev/null

all_done() {
	[ "$(field healthy status)" = COMPLETED ] &&
	    [ "$(field segv status)" = FAILED ] && [ "$(field exits status)" = FAILED ]
}
check "crash-all-tasks-finished" wait_until 90 all_done

check "crash-consumer-was-crashed (exits: $(tr '\n' ' ' <"$E2E_DIR/exits.txt"))" \
    grep -qv '^0$' "$E2E_DIR/exits.txt"
# The healthy task: interrupted, never charged.
item healthy >"$E2E_DIR/healthy.json"
check "crash-healthy-completed-on-attempt-1" $PY -c "
import json, sys
t = json.load(open('$E2E_DIR/healthy.json'))
h = t.get('history') or []
sys.exit(not (t['status'] == 'COMPLETED' and h and h[-1]['outcome'] == 'completed'
              and h[-1]['attempt'] == 1 and all(e['outcome'] != 'retry' for e in h)))"
check "crash-healthy-was-interrupted-uncharged" $PY -c "
import json, sys
t = json.load(open('$E2E_DIR/healthy.json'))
errs = [e['error'] for e in t.get('errors') or []]
sys.exit(not (errs and all(e.startswith('interrupted: another task') for e in errs)))"
# The crashing tasks: bounded by their own attempts.
check "crash-segv-failed-after-3-attempts" test \
    "$(field segv attempts) $(field segv status)" = "3 FAILED"
check "crash-segv-error-names-the-crash" \
    grep -q 'runner crashed (signal 11, SIGSEGV) and took consumer c1 down' \
    <<<"$(field segv last_error)"
check "crash-exit-failed-after-2-attempts" test \
    "$(field exits attempts) $(field exits status)" = "2 FAILED"
check "crash-exit-error-names-the-crash" \
    grep -q 'runner called exit() and took consumer c1 down' \
    <<<"$(field exits last_error)"
check "crash-restart-read-the-journal" grep -q 'read 1 crash journal' \
    "$E2E_DIR/c1.log"
# A runner's exit() ends the consumer at once with the runner's status (3),
# without the exit handlers that would free what the other workers still use.
exit_pids=$(sed -n 's/.*crashy exit in pid \([0-9]*\).*/\1/p' "$E2E_DIR/c1.log" | sort -u)
ran_handlers=$(for p in $exit_pids; do grep -x "atexit $p" "$E2E_DIR/atexit.txt"; done)
check "crash-exit-skips-exit-handlers (exit in pids: $(echo $exit_pids); handlers ran in: $(echo $ran_handlers))" \
    test -n "$exit_pids" -a -z "$ran_handlers"
check "crash-exit-keeps-the-runners-status" grep -qx 3 "$E2E_DIR/exits.txt"

touch "$E2E_DIR/stop"
kill -TERM "$(cat "$E2E_DIR/c1.pid")"
wait "$supervisor"
check "crash-clean-stop-exits-0" test "$(tail -n 1 "$E2E_DIR/exits.txt")" = 0
check "crash-clean-stop-runs-exit-handlers" grep -qx "atexit $(cat "$E2E_DIR/c1.pid")" \
    "$E2E_DIR/atexit.txt"
check "crash-clean-stop-leaves-no-journal" \
    test -z "$(ls -A "$TASKFLEET_JOURNAL_DIR")"
exit $e2e_failed
