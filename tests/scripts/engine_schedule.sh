#!/usr/bin/env bash
# engine_schedule.sh - recurrence, suspend/resume and run-now with the real
# binaries:
#   - --every 2s --max-runs 3 runs exactly three times, iteration k on the
#     slot 2k s after the first and never before it, then COMPLETED;
#   - a recurring task whose occurrences fail for good keeps its schedule;
#   - a suspended task never runs until resumed, then runs at once;
#   - a suspend during a run takes effect when the run ends, result kept;
#   - run-now runs a task due in an hour at once.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
export TASKFLEET_SWEEP_INTERVAL=1s
e2e_init schedule
RECORD=$E2E_DIR/record.txt
: >"$RECORD"
item() { $TFCHECK scan "$E2E_NAME" | grep "\"id\": \"$1\""; }
field() { item "$1" | $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"; }
status_is() { [ "$(field "$1" status)" = "$2" ]; }

start_consumer r1 --concurrency 4
start_consumer r2 --concurrency 4

tf_cli submit --type record --id every-1 --every 2s --max-runs 3 \
    --params "{\"file\": \"$RECORD\", \"stamp\": true}" >/dev/null
tf_cli submit --type fail --id every-fail --every 1s --max-runs 3 \
    --params '{"mode": "permanent", "message": "bad input today"}' >/dev/null
tf_cli submit --type record --id susp-1 --at +3s \
    --params "{\"file\": \"$RECORD\"}" >/dev/null
tf_cli suspend susp-1 >/dev/null
tf_cli submit --type noop --id later-1 --at +1h >/dev/null
tf_cli run-now later-1 >/dev/null

check "every-completed-after-3-runs" wait_until 20 status_is every-1 COMPLETED
runs=$(grep -c '^every-1 ' "$RECORD")
check "every-ran-exactly-3-times ($runs)" test "$runs" -eq 3
check "every-iterations-0-1-2" test "$(awk '$1 == "every-1" { print $2 }' "$RECORD" | sort | tr '\n' ' ')" = "0 1 2 "
# Iteration k runs on slot k (the first slot plus k times 2 s), never before
# it. (Not "starts 2 s apart": a late run followed by one on time is closer.)
on_slots() {
	awk '$1 == "every-1" { n++; if ($2 == 0) s0 = $4; it[n] = $2; st[n] = $3; sl[n] = $4 }
	    END { if (n != 3 || s0 == "") exit 1
	          for (i = 1; i <= n; i++) if (sl[i] != s0 + 2000 * it[i] || st[i] < sl[i]) exit 1 }' "$RECORD"
}
check "every-iteration-k-on-slot-k" on_slots
slots=$(awk '$1 == "every-1" { print $4 }' "$RECORD" | sort -n | awk 'NR > 1 { print $1 - prev } { prev = $1 }' | tr '\n' ' ')
check "every-slots-exactly-2s-apart (slots: $slots)" test "$slots" = "2000 2000 "
lates=$(awk '$1 == "every-1" { print $3 - $4 }' "$RECORD" | tr '\n' ' ')
check "every-runs-start-on-their-slot (late ms: $lates)" sh -c "for l in $lates; do [ \$l -ge 0 -a \$l -lt 1500 ] || exit 1; done"

check "every-fail-keeps-schedule" wait_until 20 status_is every-fail COMPLETED
check "every-fail-3-runs-errors-recorded" test "$(item every-fail | $PY -c 'import json,sys; t=json.load(sys.stdin); print(t["iteration"], len(t["errors"]), t["last_error"])')" = "3 3 bad input today"

check "run-now-ran-at-once" wait_until 10 status_is later-1 COMPLETED

sleep 5
check "suspended-never-ran" test "$(field susp-1 status) $(grep -c '^susp-1 ' "$RECORD")" = "SUSPENDED 0"
tf_cli resume susp-1 >/dev/null
check "resumed-runs-at-once" wait_until 10 status_is susp-1 COMPLETED
check "resumed-ran-once" test "$(grep -c '^susp-1 ' "$RECORD")" -eq 1

# Suspend while running: the run finishes, its result is kept, then it waits.
# A 10 s run: time enough to see it PROCESSING on a loaded machine (one look
# at the item can take seconds there).
tf_cli submit --type sleep --id susp-run --every 1h --params '{"ms": 10000}' >/dev/null
check "suspend-run-started" wait_until 15 status_is susp-run PROCESSING
tf_cli suspend susp-run >/dev/null
check "suspend-during-run-takes-effect-after" wait_until 20 status_is susp-run SUSPENDED
check "suspend-during-run-kept-the-run" test "$(field susp-run iteration)" = 1
check "schedule-consumers-exit-0" stop_consumers
exit $e2e_failed
