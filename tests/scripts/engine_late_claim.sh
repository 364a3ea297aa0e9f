#!/usr/bin/env bash
# engine_late_claim.sh - a claim answered after its lease ended is not run
# (docs/design.md section 5): DynamoDB applies the claim at once but its
# answer reaches the consumer 9 s later (tests/fault/faultproxy.py
# --late-reply, a slow or partitioned service), with a 4 s lease and 1 s of
# lease grace. Meanwhile the sweeper recovers the task (about 6 s after the
# claim) and the iteration runs; when the late answer
# arrives, the consumer must not start a second run of that iteration. The
# recording runner's file shows every run: exactly one.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
E2E_VISIBILITY=4 e2e_init lateclaim
RECORD=$E2E_DIR/record.txt
: >"$RECORD"
export TF_RECORD_FILE=$RECORD
export TASKFLEET_SWEEP_INTERVAL=1s TASKFLEET_SWEEP_GRACE=1s TASKFLEET_LEASE_GRACE=1s

# The first claim of task late-1 (an UpdateItem setting its lease owner)
# takes effect at once; its answer is held 9 s.
"$PY" "$TF_ROOT/tests/fault/faultproxy.py" \
    --upstream "$AWS_ENDPOINT_URL_DYNAMODB" --service ddb \
    --port-file "$E2E_DIR/proxy.port" --stats-file "$E2E_DIR/proxy.stats" \
    --late-reply '(?s)(?=.*UpdateItem)(?=.*lease_owner = :me)(?=.*"S":"late-1")' \
    --late-reply-ms 9000 2>"$E2E_DIR/proxy.log" &
receiver_pids+=($!)
wait_until 10 test -s "$E2E_DIR/proxy.port" ||
    { fail "lateclaim-proxy" "faultproxy did not start"; exit 1; }

tf_cli submit --type record --id late-1 >/dev/null
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(cat "$E2E_DIR/proxy.port") \
    start_consumer c1 --visibility-timeout 4

late_answered() { grep -q '"late_reply": 1' "$E2E_DIR/proxy.stats" 2>/dev/null; }
check "lateclaim-claim-answered-late" wait_until 30 late_answered
not_run() {
	grep -q 'the lease ran out before the run started' "$E2E_DIR/c1.log"
}
# The answer comes 9 s after the claim; the consumer logs what it did then.
check "lateclaim-late-claim-not-run" wait_until 30 not_run
recovered() { grep -q 'recovered a run whose lease expired' "$E2E_DIR/c1.log"; }
check "lateclaim-recovered-by-the-sweeper" wait_until 30 recovered
completed() {
	[ "$($TFCHECK item "$E2E_NAME" late-1 |
	    $PY -c 'import json,sys; print(json.load(sys.stdin).get("status"))')" = COMPLETED ]
}
check "lateclaim-task-completed" wait_until 30 completed
# The late answer was either run or logged as not run: by now it was not.
runs=$(grep -c '^late-1 0$' "$RECORD")
check "lateclaim-iteration-ran-once (runs: $runs)" test "$runs" -eq 1
check "lateclaim-consumer-exit-0" stop_consumers
exit $e2e_failed
