#!/usr/bin/env bash
# engine_chain.sh - chains continued locally (docs/design.md section 12.1),
# with the real binaries: a task whose next iteration is due within the hold
# window is written and claimed again in one write, with no SQS message; one
# due later goes through the queue as before. Every iteration runs exactly
# once, and a consumer killed mid-chain leaves the task to lease expiry,
# after which another consumer finishes it.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
export TASKFLEET_LEASE_GRACE=1s TASKFLEET_SWEEP_INTERVAL=500ms TASKFLEET_SWEEP_LEASE=2s
e2e_init chain

field() { $TFCHECK item "$E2E_NAME" "$1" | $PY -c "import json,sys; t=json.load(sys.stdin); print($2)"; }

start_consumer c1 --concurrency 4
"$TASKFLEET" submit --type countdown --params '{"n": 40, "every_ms": 0}' \
    --id chain-now >"$E2E_DIR/submit.log" 2>&1
"$TASKFLEET" submit --type countdown --params '{"n": 4, "every_ms": 300}' \
    --id chain-soon >>"$E2E_DIR/submit.log" 2>&1
"$TASKFLEET" submit --type countdown --params '{"n": 2, "every_ms": 2500}' \
    --id chain-later >>"$E2E_DIR/submit.log" 2>&1
done3() { [ "$($TFCHECK summary "$E2E_NAME")" = '{"COMPLETED": 3}' ]; }
check "chain-all-three-completed" wait_until 60 done3
check "chain-now-every-iteration-once" test \
    "$(field chain-now 't["iteration"], t["params"]["n"], t["attempts"]')" = "40 0 0"
check "chain-soon-every-iteration-once" test \
    "$(field chain-soon 't["iteration"], t["params"]["n"], t["attempts"]')" = "4 0 0"
check "chain-later-every-iteration-once" test \
    "$(field chain-later 't["iteration"], t["params"]["n"], t["attempts"]')" = "2 0 0"
# Each iteration logged once; 39 + 3 of them chained, none of chain-later's.
runs_of() { grep -c "\"task\":\"$1\".*\"outcome\":\"\\(success\\|completed\\)\"" "$E2E_DIR/c1.log"; }
check "chain-now-40-runs-logged" test "$(runs_of chain-now)" = 40
check "chain-soon-4-runs-logged" test "$(runs_of chain-soon)" = 4
check "chain-later-2-runs-logged" test "$(runs_of chain-later)" = 2
chained_of() { grep "\"task\":\"$1\"" "$E2E_DIR/c1.log" | grep -c '"chained":"true"'; }
check "chain-now-39-chained" test "$(chained_of chain-now)" = 39
check "chain-soon-3-chained-each-at-its-time" test "$(chained_of chain-soon)" = 3
check "chain-later-not-chained" test "$(chained_of chain-later)" = 0
# chain-soon's iterations kept their 300 ms (they waited on a timer).
gaps_ok=$($PY - "$E2E_DIR/c1.log" <<'PYEOF'
import json, sys
ts = []
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if (d.get("task") == "chain-soon" and d.get("outcome") in ("success", "completed")
            and d.get("iteration") != "0"):
        ts.append(d.get("late_ms"))
# Each chained run started at its time: lateness stays under the 300 ms
# step (through the queue it would wait a whole second: DelaySeconds).
# Iteration 0 came through the queue, so its lateness is the receive's.
print(len(ts) == 3 and all(t is not None and int(t) < 300 for t in ts))
PYEOF
)
check "chain-soon-runs-on-time" test "$gaps_ok" = True
check "chain-queue-empty" wait_until 30 sh -c \
    "[ \"\$($TFCHECK queue-counts $QUEUE_URL)\" = '{\"visible\": 0, \"inflight\": 0, \"delayed\": 0}' ]"
check "chain-c1-exit-0" stop_consumers
# The consumer sent only chain-later's next message: no SQS round trip for
# the chained iterations.
sends=$(grep '"AWS requests by operation' "$E2E_DIR/c1.log" | tail -1 |
    $PY -c "import json,sys; print(json.loads(sys.stdin.read()).get('SendMessage', '0'))")
check "chain-consumer-sent-1-message (sent $sends)" test "$sends" = 1

# Killed mid-chain: the lease expires and another consumer finishes.
"$TASKFLEET" submit --type countdown --params '{"n": 300, "every_ms": 20}' \
    --id chain-kill >>"$E2E_DIR/submit.log" 2>&1
start_consumer c2 --concurrency 2 --visibility-timeout 3
started() { [ "$(field chain-kill 't["iteration"] > 20')" = True ]; }
check "chain-kill-chain-running" wait_until 60 started
kill_consumers
it_before=$(field chain-kill 't["iteration"]')
check "chain-kill-left-processing" test \
    "$(field chain-kill 't["status"], t["lease_owner"]')" = "PROCESSING c2"
start_consumer c3 --concurrency 2
done_kill() { [ "$(field chain-kill 't["status"]')" = COMPLETED ]; }
check "chain-kill-recovered-and-completed" wait_until 90 done_kill
check "chain-kill-every-iteration-once (killed at $it_before)" test \
    "$(field chain-kill 't["iteration"], t["params"]["n"]')" = "300 0"
check "chain-kill-lease-expiry-charged-one-attempt" \
    grep -q "lease expired" "$E2E_DIR/c3.log"
check "chain-c3-exit-0" stop_consumers

# A chained iteration waiting for its time takes no slot: with one slot, two
# chains every 400 ms both keep their times (holding the slot, the second
# would start only after the first's 1.6 s of waits).
start_consumer c4 --concurrency 1
for t in chain-wait-a chain-wait-b; do
	"$TASKFLEET" submit --type countdown --params '{"n": 5, "every_ms": 400}' \
	    --id "$t" >>"$E2E_DIR/submit.log" 2>&1
done
waits_done() { [ "$(field chain-wait-a 't["status"]')" = COMPLETED ] &&
    [ "$(field chain-wait-b 't["status"]')" = COMPLETED ]; }
check "chain-wait-both-completed" wait_until 60 waits_done
most_late=$($PY - "$E2E_DIR/c4.log" <<'PYEOF'
import json, sys
late = []
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if str(d.get("task", "")).startswith("chain-wait-") and d.get("msg") == "run finished":
        late.append(int(d.get("late_ms", 99999)))
print(len(late), max(late) if late else -1)
PYEOF
)
set -- $most_late
check "chain-wait-10-runs" test "$1" = 10
check "chain-wait-each-on-time-with-one-slot (max late_ms $2)" test "$2" -lt 1000
check "chain-c4-exit-0" stop_consumers
exit $e2e_failed
