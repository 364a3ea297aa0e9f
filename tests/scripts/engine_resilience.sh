#!/usr/bin/env bash
# engine_resilience.sh - the consumer under AWS trouble and its own failures:
#   - DynamoDB stops answering mid-run: the lease cannot be extended, so the
#     run is cancelled before its lease ends, and only after the lease (plus
#     the grace) does the task run again: never twice at once;
#   - DynamoDB throttles: the consumer takes fewer messages at once, then
#     recovers, and every task still completes;
#   - a task whose runner this consumer does not have is retried (a rolling
#     deploy), and runs once a consumer that has it comes up;
#   - the receive loop stalls: the watchdog stops the consumer, exit 70.
# DynamoDB is reached through tests/tools/ctl_proxy.py, switched by a file.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
E2E_VISIBILITY=6
e2e_init resilience

# The proxy in front of the DynamoDB stand-in.
PROXY_CTL=$E2E_DIR/proxy.mode
echo pass >"$PROXY_CTL"
$PY "$TF_ROOT/tests/tools/ctl_proxy.py" "$TASKFLEET_LOCAL_DDB_PORT" "$PROXY_CTL" \
    "$E2E_DIR/proxy.port" 2>"$E2E_DIR/proxy.log" &
proxy_pid=$!
proxy_up() { [ -s "$E2E_DIR/proxy.port" ]; }
wait_until 10 proxy_up || { echo "FAIL resilience-proxy: did not start"; exit 1; }
PROXIED_DDB=http://127.0.0.1:$(cat "$E2E_DIR/proxy.port")
cleanup() { kill_consumers; kill "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null; }
trap cleanup EXIT

item() { $TFCHECK scan "$E2E_NAME" | grep "\"id\": \"$1\""; }
field() { item "$1" | $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"; }
status_is() { [ "$(field "$1" status)" = "$2" ]; }
# field_has ID FIELD TEXT: the field (as JSON text) contains TEXT.
field_has() { item "$1" | $PY -c "import json,sys; sys.exit(sys.argv[2] not in json.dumps(json.load(sys.stdin).get(sys.argv[1]), ensure_ascii=False).replace('\\\\\"', '\"'))" "$2" "$3"; }
# ms TIME: a log line's ISO time as epoch ms.
log_ms() { $PY -c "import sys,datetime; print(int(datetime.datetime.strptime(sys.argv[1], '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc).timestamp()*1000))" "$1"; }
line_time() { grep -m1 "$1" "$2" | $PY -c "import json,sys; print(json.loads(sys.stdin.readline())['time'])"; }

# --- DynamoDB stops answering while a task runs ---------------------------
export TASKFLEET_LEASE_GRACE=2s TASKFLEET_SWEEP_INTERVAL=500ms TASKFLEET_SWEEP_GRACE=3s
# r1's sweep leases (its sweeper may hang in a held call) pass to r1b soon.
export TASKFLEET_SWEEP_LEASE=2s
AWS_ENDPOINT_URL_DYNAMODB=$PROXIED_DDB start_consumer r1 --concurrency 2 \
    --visibility-timeout 6
tf_cli submit --type sleep --id slow-1 --params '{"ms": 16000}' \
    --max-attempts 3 >/dev/null
check "resilience-task-running" wait_until 15 status_is slow-1 PROCESSING
echo hold >"$PROXY_CTL"
# The lease as the last extension left it: one forwarded just before the
# hold may still land, so read until two reads a second apart agree.
settled() { local a; a=$(field slow-1 lease_until); sleep 1; [ "$a" = "$(field slow-1 lease_until)" ] && lease=$a; }
lease=0
wait_until 10 settled
cancelled() { grep '"task":"slow-1"' "$E2E_DIR/r1.log" | grep -q 'could not be extended'; }
check "resilience-run-cancelled-when-lease-unextendable" wait_until 15 cancelled
# DynamoDB answers again before the lease is over: the cancelled run's result
# is still not written, and the sweeper waits for the lease and its grace (r1's
# sweeper may still hang in a call the proxy held: r1b's sweeps on time).
echo pass >"$PROXY_CTL"
start_consumer r1b --concurrency 2 --visibility-timeout 6
cancel_ms=$(log_ms "$(grep 'could not be extended' "$E2E_DIR/r1.log" | head -1 |
    $PY -c "import json,sys; print(json.loads(sys.stdin.readline())['time'])")")
check "resilience-cancelled-before-lease-end (lease_until - cancel = $((lease - cancel_ms)) ms)" \
    test "$cancel_ms" -lt "$lease"
check "resilience-task-recovered-and-completed" wait_until 60 status_is slow-1 COMPLETED
# The second run started only once the first was cancelled and its lease
# (plus the grace) was over.
second_ms=$(log_ms "$(cat "$E2E_DIR/r1.log" "$E2E_DIR/r1b.log" | grep '"task":"slow-1"' |
    grep 'recovered a run' | sort | head -1 |
    $PY -c "import json,sys; print(json.loads(sys.stdin.readline())['time'])")")
check "resilience-recovered-after-lease-and-grace (recovery - lease_until = $((second_ms - lease)) ms)" \
    test "$second_ms" -ge $((lease + 2000))
check "resilience-result-of-cancelled-run-discarded" \
    grep -q '"task":"slow-1".*"outcome":"lease_lost"' "$E2E_DIR/r1.log"
check "resilience-lost-run-recorded-as-failed-attempt" field_has slow-1 errors 'lease expired'
check "resilience-completed-once" test "$(field slow-1 iteration)" = 1
check "resilience-consumer-r1-exits-0" stop_consumers

# --- DynamoDB throttles ----------------------------------------------------
AWS_ENDPOINT_URL_DYNAMODB=$PROXIED_DDB start_consumer r2 --concurrency 8 \
    --visibility-timeout 6
echo throttle >"$PROXY_CTL"
for i in $(seq 1 12); do
	tf_cli submit --type noop --id thr-$i >/dev/null
done
throttled() { grep -q 'AWS is throttling: taking at most' "$E2E_DIR/r2.log"; }
check "resilience-throttling-lowers-intake" wait_until 20 throttled
check "resilience-intake-halved-to-1" wait_until 20 \
    grep -q 'taking at most 1 message' "$E2E_DIR/r2.log"
echo pass >"$PROXY_CTL"
all_done() {
	[ "$($TFCHECK scan "$E2E_NAME" | grep '"id": "thr-' | grep -c '"status": "COMPLETED"')" -eq 12 ]
}
check "resilience-throttled-tasks-all-complete" wait_until 60 all_done
check "resilience-intake-recovers" wait_until 20 \
    grep -q 'throttling over: back to 8 at once' "$E2E_DIR/r2.log"
check "resilience-consumer-r2-exits-0" stop_consumers
echo pass >"$PROXY_CTL"

# --- a runner this consumer does not have (a rolling deploy) ---------------
unset TASKFLEET_LEASE_GRACE
# The old consumer retries it about once a second; once the new one runs too,
# each retry has an even chance of reaching it: 30 attempts leave ample room.
TASKFLEET_RUNNERS=$TF_BUILD/runners/fail.so TASKFLEET_RETRY_BASE=500ms \
    TASKFLEET_RETRY_CAP=1s start_consumer old1 --concurrency 2
tf_cli submit --type noop --id rolling-1 --max-attempts 30 >/dev/null
retried() { [ "$(field rolling-1 attempts)" -ge 1 ] 2>/dev/null; }
check "resilience-unknown-runner-is-retried" wait_until 20 retried
check "resilience-unknown-runner-error-says-which" field_has rolling-1 last_error \
    'no runner "noop" is loaded in consumer old1'
check "resilience-unknown-runner-not-failed" test "$(field rolling-1 status)" != FAILED
start_consumer new1 --concurrency 2
check "resilience-runs-once-a-consumer-has-the-runner" wait_until 40 \
    status_is rolling-1 COMPLETED
check "resilience-rolling-consumers-exit-0" stop_consumers
tf_cli submit --type noop --id rolling-2 --max-attempts 2 >/dev/null
TASKFLEET_RUNNERS=$TF_BUILD/runners/fail.so TASKFLEET_RETRY_BASE=100ms \
    start_consumer old2 --concurrency 2
check "resilience-unknown-runner-fails-at-max-attempts" wait_until 30 \
    status_is rolling-2 FAILED
check "resilience-old2-exits-0" stop_consumers

# --- the receive loop stalls -----------------------------------------------
TASKFLEET_TEST_STALL_RECEIVER=1 TASKFLEET_WATCHDOG=2s \
    "$CONSUMER" --id stall1 --wait-time 1 --shutdown-timeout 1 \
    >"$E2E_DIR/stall1.log" 2>&1 &
stall_pid=$!
started=$SECONDS
wait "$stall_pid"
stall_status=$?
check "resilience-watchdog-exit-70 (got $stall_status after $((SECONDS - started)) s)" \
    test "$stall_status" -eq 70
check "resilience-watchdog-says-why" \
    grep -q 'watchdog: the receive loop has made no progress' "$E2E_DIR/stall1.log"
check "resilience-watchdog-acts-within-35s" test $((SECONDS - started)) -le 35
check "resilience-watchdog-setting-validated" sh -c \
    "TASKFLEET_WATCHDOG=soon '$CONSUMER' --id bad >/dev/null 2>'$E2E_DIR/bad.err'; [ \$? -eq 2 ] && grep -q TASKFLEET_WATCHDOG '$E2E_DIR/bad.err'"

# --- an in-process runner that ignores its time limit ----------------------
# It cannot be killed inside the consumer: 10 s past the limit the watchdog
# stops the consumer (exit 70) so that its supervisor starts a fresh one; the
# task is recovered through its lease.
TASKFLEET_RUNNERS=$TF_BUILD/tests/runners/crashy.so \
    tf_cli submit --type crashy --id hang-1 --params '{"mode": "hang"}' \
    --max-attempts 2 >/dev/null
TASKFLEET_RUNNERS=$TF_BUILD/tests/runners/crashy.so \
    "$CONSUMER" --id hang1 --wait-time 1 --shutdown-timeout 1 --run-timeout 1s \
    >"$E2E_DIR/hang1.log" 2>&1 &
hang_pid=$!
started=$SECONDS
wait "$hang_pid"
hang_status=$?
check "resilience-overrun-watchdog-exit-70 (got $hang_status after $((SECONDS - started)) s)" \
    test "$hang_status" -eq 70
check "resilience-overrun-watchdog-names-the-task" \
    grep -q 'watchdog: the run of task hang-1 is [0-9]* ms past its time limit' \
    "$E2E_DIR/hang1.log"
check "resilience-overrun-acts-after-10s-within-40s" \
    test $((SECONDS - started)) -ge 10 -a $((SECONDS - started)) -le 40
exit $e2e_failed
