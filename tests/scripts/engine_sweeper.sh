#!/usr/bin/env bash
# engine_sweeper.sh - any delay at no idle cost, lost messages and dead
# consumers recovered, with the horizon shrunk to 5 s and a 1 s sweep:
#   - a task at +20 minutes gets no message while it waits;
#   - a task at +12 s gets its message from the sweeper and starts on time;
#   - a task whose message was lost is found after the grace period and runs;
#   - a live message far ahead of its due time is released (no run, no
#     attempt charged) and sent again by the sweeper, and the task runs on
#     time;
#   - consumers killed with SIGKILL in the middle of runs lose no task: the
#     lease expires, the sweeper counts a failed attempt and the task runs.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
export TASKFLEET_HORIZON=5s TASKFLEET_SWEEP_INTERVAL=1s TASKFLEET_SWEEP_GRACE=3s
# A killed consumer's sweep leases pass to the rescuer within seconds.
export TASKFLEET_SWEEP_LEASE=2s
E2E_VISIBILITY=4
e2e_init sweeper
RECORD=$E2E_DIR/record.txt
: >"$RECORD"
item() { $TFCHECK scan "$E2E_NAME" | grep "\"id\": \"$1\""; }
field() { item "$1" | $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"; }
counts() { $TFCHECK queue-counts "$QUEUE_URL"; }

# A task far beyond the horizon: no message, nothing enqueued.
tf_cli submit --type noop --id far-1 --at +20m >/dev/null
# A task just beyond the horizon: the sweeper must send its message.
tf_cli submit --type record --id soon-1 --at +12s \
    --params "{\"file\": \"$RECORD\", \"stamp\": true}" >/dev/null
check "sweeper-no-message-at-submit" test "$(counts)" = '{"visible": 0, "inflight": 0, "delayed": 0}'

start_consumer s1 --concurrency 4 --visibility-timeout 4
sleep 4
check "sweeper-far-task-still-no-message" test "$(counts)" = '{"visible": 0, "inflight": 0, "delayed": 0}'
check "sweeper-far-task-not-enqueued" test "$(field far-1 enqueued_for)" = None

done_() { [ "$(field "$1" status)" = COMPLETED ]; }
check "sweeper-soon-task-ran" wait_until 25 done_ soon-1
late=$(awk '$1 == "soon-1" { print $3 - $4 }' "$RECORD")
check "sweeper-soon-task-started-on-time (late ${late:-?} ms)" test "${late:-99999}" -ge 0 -a "${late:-99999}" -lt 1500
check "sweeper-far-task-still-pending" test "$(field far-1 status) $(field far-1 enqueued_for)" = "PENDING None"

# A lost message: the task is written with enqueued_for but no message.
now=$(date +%s%3N)
$TFCHECK put "$E2E_NAME" "{\"id\": \"lost-1\", \"ns\": \"default\", \"type\": \"noop\", \"params\": {}, \"status\": \"PENDING\", \"completed\": false, \"gen\": 1, \"iteration\": 0, \"attempts\": 0, \"max_attempts\": 3, \"next_run\": $now, \"due_shard\": \"3\", \"due_at\": $now, \"enqueued_for\": $now}"
check "sweeper-lost-message-recovered" wait_until 20 done_ lost-1
check "sweeper-lost-message-logged" grep -q 'was lost; sent again' "$E2E_DIR/s1.log"

# A live message far ahead of its task's due time (the horizon shrank, or
# the task was moved later): the consumer releases it (asynchronously, on
# its loop), runs nothing and charges no attempt; the sweeper sends the
# message again once the task comes within the horizon, and it runs on time.
now=$(date +%s%3N); due=$((now + 20000))
$TFCHECK put "$E2E_NAME" "{\"id\": \"far-early-1\", \"ns\": \"default\", \"type\": \"record\", \"params\": {\"file\": \"$RECORD\", \"stamp\": true}, \"status\": \"PENDING\", \"completed\": false, \"gen\": 1, \"iteration\": 0, \"attempts\": 0, \"max_attempts\": 3, \"next_run\": $due, \"due_shard\": \"3\", \"due_at\": $due, \"enqueued_for\": $now}"
$TFCHECK send "$QUEUE_URL" "{\"taskId\": \"far-early-1\", \"targetTimestamp\": $due, \"priority\": null, \"gen\": 1}"
# Released (gen 1, no enqueued_for) until the sweeper sends it 5 s before.
released() { [ "$(item far-early-1 | $PY -c 'import json,sys; t = json.load(sys.stdin); print(t.get("enqueued_for"), t["status"], t["gen"])')" = "None PENDING 1" ]; }
check "far-early-message-released" wait_until 12 released
check "far-early-not-run-yet" test -z "$(awk '$1 == "far-early-1"' "$RECORD")"
check "far-early-task-ran" wait_until 30 done_ far-early-1
late=$(awk '$1 == "far-early-1" { print $3 - $4 }' "$RECORD")
check "far-early-ran-once-on-time (late ${late:-?} ms)" test "$(awk '$1 == "far-early-1"' "$RECORD" | wc -l)" = 1 -a "${late:-99999}" -ge 0 -a "${late:-99999}" -lt 1500
check "far-early-no-attempt-charged" test "$(field far-early-1 last_error)" = None
check "sweeper-s1-exit-0" stop_consumers

# SIGKILL in the middle of runs: five 8-second runs on one consumer, killed
# once at least three are running.
for i in 1 2 3 4 5; do
	tf_cli submit --type sleep --id kill-$i --params '{"ms": 8000}' >/dev/null
done
start_consumer victim --concurrency 8 --visibility-timeout 4
running() { [ "$($TFCHECK summary "$E2E_NAME" | $PY -c 'import json,sys; print(json.load(sys.stdin).get("PROCESSING", 0))')" -ge 3 ]; }
check "kill9-runs-in-progress" wait_until 20 running
kill -KILL "${consumer_pids[0]}"
wait "${consumer_pids[0]}" 2>/dev/null
consumer_pids=()
start_consumer rescuer --concurrency 8 --visibility-timeout 4
all_done() { for i in 1 2 3 4 5; do done_ kill-$i || return 1; done; }
check "kill9-no-task-lost" wait_until 90 all_done
# Every task the killed consumer held was recovered: its killed run counts
# as a failed attempt, and it ran once more to completion.
recovered=$($TFCHECK scan "$E2E_NAME" | $PY -c '
import json, sys
n = bad = 0
for line in sys.stdin:
    t = json.loads(line)
    if not t["id"].startswith("kill-"):
        continue
    errs = [e for e in t.get("errors", []) if "lease expired" in e["error"]]
    if errs:
        n += 1
        bad += t["iteration"] != 1 or t["status"] != "COMPLETED"
print(n if bad == 0 else -1)')
check "kill9-killed-runs-recovered-as-failed-attempts ($recovered)" test "$recovered" -ge 3
check "kill9-recovery-logged" grep -q 'recovered a run whose lease expired' "$E2E_DIR/rescuer.log"
check "sweeper-consumers-exit-0" stop_consumers
exit $e2e_failed
