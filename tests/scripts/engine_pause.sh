#!/usr/bin/env bash
# engine_pause.sh - cancelled() follows the clock, not the heartbeat thread
# (issue 18 item 6). A consumer is paused (SIGSTOP) in the middle of a run,
# past its 4 s lease; another consumer's sweeper recovers the task and runs
# the same iteration; then the first one resumes (SIGCONT). Its runner,
# which works 5 s and asks cancelled() right before its side effect, must
# see cancelled, so the side effect happens once (by the second consumer).
set -u
. "$(dirname "$0")/../tools/e2e.sh"
export TASKFLEET_SWEEP_INTERVAL=1s TASKFLEET_LEASE_GRACE=1s
# p1 holds the sweep leases when it is stopped: they pass to p2 within
# seconds (by default a stopped consumer's shards wait up to 1.5 x 2 min).
export TASKFLEET_SWEEP_LEASE=2s
E2E_VISIBILITY=4
e2e_init pause
RECORD=$E2E_DIR/record.txt
: >"$RECORD"
field() {
	$TFCHECK item "$E2E_NAME" "$1" |
	    $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"
}
owned_by() {
	[ "$($TFCHECK item "$E2E_NAME" paused-1 | $PY -c "import json,sys
d = json.load(sys.stdin); print(d.get('status'), d.get('lease_owner'))")" = \
	    "PROCESSING $1" ]
}

start_consumer p1 --visibility-timeout 4
p1=${consumer_pids[0]}
tf_cli submit --type record --id paused-1 \
    --params "{\"file\": \"$RECORD\", \"work_ms\": 5000}" >/dev/null
check "pause-first-consumer-runs-it" wait_until 20 owned_by p1
p1_claimed=$(field paused-1 updated_at)
kill -STOP "$p1"
start_consumer p2 --visibility-timeout 4
# The lease (4 s) and its grace (1 s) run out while p1 is stopped: p2's
# sweeper recovers the task and p2 runs the same iteration.
check "pause-second-consumer-runs-it-while-first-is-stopped" \
    wait_until 30 owned_by p2
# Resume p1 once its runner's work is over by the clock (5 s after its
# claim, the item's updated_at then): it asks cancelled() at once.
work_over() { [ "$(date +%s%3N)" -gt $((p1_claimed + 5500)) ]; }
wait_until 20 work_over
kill -CONT "$p1"
completed() { [ "$(field paused-1 status)" = COMPLETED ]; }
check "pause-task-completed" wait_until 30 completed
saw_cancelled() { grep -q '^paused-1 0 cancelled$' "$RECORD"; }
check "pause-resumed-runner-saw-cancelled" wait_until 10 saw_cancelled
check "pause-side-effect-once (record: $(tr '\n' '|' <"$RECORD"))" \
    test "$(grep -c '^paused-1 0$' "$RECORD")" -eq 1
check "pause-result-discarded" \
    grep -q '"outcome":"lease_lost".*"task":"paused-1"\|"task":"paused-1".*"outcome":"lease_lost"' \
    "$E2E_DIR/p1.log"
stop_consumers
exit $e2e_failed
