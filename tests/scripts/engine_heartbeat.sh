#!/usr/bin/env bash
# engine_heartbeat.sh - a run longer than the visibility timeout: the
# consumer extends the task's lease and its message's visibility while the
# runner works, so the message is never delivered again (the second consumer
# never sees it) and the task runs once.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
E2E_VISIBILITY=4
e2e_init heartbeat

export TASKFLEET_LOG=debug
start_consumer h1 --concurrency 2 --visibility-timeout 4
start_consumer h2 --concurrency 2 --visibility-timeout 4
unset TASKFLEET_LOG
claimed_at=$(date +%s%3N)
tf_cli submit --type sleep --id long-1 --params '{"ms": 10000}' >/dev/null

item() { $TFCHECK scan "$E2E_NAME" | grep '"id": "long-1"'; }
field() { item | $PY -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }
running() { [ "$(field status)" = PROCESSING ]; }
check "heartbeat-task-running" wait_until 10 running
sleep 6
# Six seconds in, past the 4 s visibility: the lease was extended beyond the
# time the claim gave it, and the message is still in flight.
lease=$(field lease_until)
now=$(date +%s%3N)
check "heartbeat-lease-extended (lease_until - now = $((lease - now)) ms)" \
    test "$lease" -gt "$now" -a "$lease" -gt $((claimed_at + 4000))
check "heartbeat-message-still-in-flight" test \
    "$($TFCHECK queue-counts "$QUEUE_URL")" = '{"visible": 0, "inflight": 1, "delayed": 0}'
done_() { [ "$(field status)" = COMPLETED ]; }
check "heartbeat-long-run-completed" wait_until 20 done_
check "heartbeat-ran-once" test "$(cat "$E2E_DIR"/h1.log "$E2E_DIR"/h2.log |
    grep -c '"msg":"run finished","task":"long-1"')" -eq 1
check "heartbeat-no-redelivery" test "$(cat "$E2E_DIR"/h1.log "$E2E_DIR"/h2.log |
    grep '"task":"long-1"' | grep -c '"outcome":"stale"')" -eq 0
check "heartbeat-lease-never-lost" test "$(grep -c 'lease lost' "$E2E_DIR"/h1.log "$E2E_DIR"/h2.log | awk -F: '{s+=$2} END {print s}')" -eq 0
check "heartbeat-consumers-exit-0" stop_consumers
exit $e2e_failed
