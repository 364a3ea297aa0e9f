#!/usr/bin/env bash
# engine_heartbeat.sh - a run longer than the visibility timeout: the
# consumer extends the task's lease and its message's visibility while the
# runner works, so the message is never delivered again (the second consumer
# never sees it) and the task runs once; a run whose task another consumer
# took over is stopped at the next extension.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
E2E_VISIBILITY=4
e2e_init heartbeat

export TASKFLEET_LOG=debug
start_consumer h1 --concurrency 2 --visibility-timeout 4
start_consumer h2 --concurrency 2 --visibility-timeout 4
unset TASKFLEET_LOG
# A 30 s run: time enough, even on a loaded machine (where one look at the
# item can take seconds), to see it running past the 4 s visibility.
tf_cli submit --type sleep --id long-1 --params '{"ms": 30000}' >/dev/null

item() { $TFCHECK scan "$E2E_NAME" | grep '"id": "long-1"'; }
field() { item | $PY -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }
running() { [ "$(field status)" = PROCESSING ]; }
check "heartbeat-task-running" wait_until 20 running
# The lease first seen (the claim's, or a later one): a heartbeat of the same
# claim (same owner, same gen) moves it on while the run goes on. One look
# reads them all.
claim() {
	item | $PY -c "import json,sys; d=json.load(sys.stdin); print(d.get('status'), d.get('lease_owner'), d.get('gen'), d.get('lease_until'))"
}
read -r _ owner0 gen0 lease0 <<<"$(claim)"
extended() {
	local st owner gen lease
	read -r st owner gen lease <<<"$(claim)"
	[[ $lease0 =~ ^[0-9]+$ && $lease =~ ^[0-9]+$ ]] && [ "$st" = PROCESSING ] &&
	    [ "$owner" = "$owner0" ] && [ "$gen" = "$gen0" ] && [ "$lease" -gt "$lease0" ]
}
check "heartbeat-lease-extended (first seen $lease0)" wait_until 20 extended
# Past that lease, so past the visibility the message was received with: it
# is still in flight (not visible again) while the run goes on.
past_lease0() { [[ $lease0 =~ ^[0-9]+$ ]] && [ "$(date +%s%3N)" -gt $((lease0 + 500)) ]; }
in_flight() {
	[ "$($TFCHECK queue-counts "$QUEUE_URL")" = '{"visible": 0, "inflight": 1, "delayed": 0}' ] && running
}
in_flight_past_lease0() { wait_until 15 past_lease0 && in_flight; }
check "heartbeat-message-still-in-flight" in_flight_past_lease0
done_() { [ "$(field status)" = COMPLETED ]; }
check "heartbeat-long-run-completed" wait_until 40 done_
check "heartbeat-ran-once" test "$(cat "$E2E_DIR"/h1.log "$E2E_DIR"/h2.log |
    grep -c '"msg":"run finished","task":"long-1"')" -eq 1
check "heartbeat-no-redelivery" test "$(cat "$E2E_DIR"/h1.log "$E2E_DIR"/h2.log |
    grep '"task":"long-1"' | grep -c '"outcome":"stale"')" -eq 0
check "heartbeat-lease-never-lost" test "$(grep -c 'lease lost' "$E2E_DIR"/h1.log "$E2E_DIR"/h2.log | awk -F: '{s+=$2} END {print s}')" -eq 0

# Another consumer takes the task over mid-run (here: its item says so, with
# a lease ten minutes long, so no sweeper takes it back during the test):
# the next extension is refused, and the consumer stops the run at once as
# lost, rather than taking the refusal for a passing failure and retrying.
tf_cli submit --type sleep --id steal-1 --params '{"ms": 30000}' >/dev/null
stolen() { [ "$($TFCHECK item "$E2E_NAME" steal-1 | $PY -c 'import json,sys; print(json.load(sys.stdin).get("status"))')" = PROCESSING ]; }
check "heartbeat-steal-task-running" wait_until 10 stolen
$TFCHECK put "$E2E_NAME" "$($TFCHECK item "$E2E_NAME" steal-1 | $PY -c '
import json, sys, time
t = json.load(sys.stdin)
t["lease_owner"] = "intruder"
t["lease_until"] = int(time.time() * 1000) + 600000
print(json.dumps(t))')"
steal_log() { cat "$E2E_DIR"/h1.log "$E2E_DIR"/h2.log | grep '"task":"steal-1"'; }
lost() { steal_log | grep -q '"outcome":"lease_lost"'; }
check "heartbeat-taken-over-run-stopped" wait_until 15 lost
said_so() { cat "$E2E_DIR"/h1.log "$E2E_DIR"/h2.log |
    grep -q '"msg":"lease lost while running: another consumer owns the task now","task":"steal-1"'; }
check "heartbeat-taken-over-said-so" said_so
# It knows the run is lost: it discards the result without trying to write it.
discarded() { steal_log | grep -q '"msg":"lease lost during the run; result discarded"'; }
check "heartbeat-taken-over-result-not-written" discarded
check "heartbeat-taken-over-not-retried" test "$(steal_log | grep -c 'extending the lease failed')" -eq 0
check "heartbeat-taken-over-item-untouched" test "$($TFCHECK item "$E2E_NAME" steal-1 |
    $PY -c 'import json,sys; t = json.load(sys.stdin); print(t["status"], t["lease_owner"], t["iteration"])')" = "PROCESSING intruder 0"
check "heartbeat-consumers-exit-0" stop_consumers
exit $e2e_failed
