#!/usr/bin/env bash
# engine_legacy_retries.sh - items and messages in the original serverless
# scheduler's format run and complete; retries end FAILED after max_attempts
# with every error recorded; a permanent error fails at once; malformed
# messages and unknown runners never stop the consumer; finished tasks get
# their `ttl` (TASKFLEET_RETENTION) and every run its `history` entry.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
E2E_VISIBILITY=10
e2e_init legacy

# Finished tasks are kept two days (their `ttl`).
TASKFLEET_RETENTION=2d start_consumer l1 --concurrency 4 --visibility-timeout 10

# The original format: only id, completed, type and params; a message with
# taskId, targetTimestamp and priority, no gen.
for i in 1 2 3; do
	$TFCHECK put-legacy "$E2E_NAME" "legacy-$i" countdown '{"n": 2, "every_ms": 0}'
	$TFCHECK send "$QUEUE_URL" "{\"taskId\": \"legacy-$i\", \"targetTimestamp\": $(($(date +%s) * 1000)), \"priority\": null}"
done
tf_cli submit --type fail --id retry-1 --max-attempts 3 \
    --params '{"mode": "retry", "message": "try again"}' >/dev/null
tf_cli submit --type fail --id perm-1 --max-attempts 3 \
    --params '{"mode": "permanent", "message": "no way"}' >/dev/null
tf_cli submit --type fail --id flaky-1 --max-attempts 3 \
    --params '{"mode": "retry", "succeed_after": 1}' >/dev/null
$TFCHECK send "$QUEUE_URL" 'this is not json'
# A pending item with no type: claimed, unreadable, so it ends FAILED.
$TFCHECK put "$E2E_NAME" '{"id": "typeless", "status": "PENDING", "gen": 1, "next_run": 0, "params": {}}'
$TFCHECK send "$QUEUE_URL" '{"taskId": "typeless", "gen": 1}'
$TFCHECK send "$QUEUE_URL" '{"taskId": "no-such-task", "gen": 3}'

item() { $TFCHECK scan "$E2E_NAME" | grep "\"id\": \"$1\""; }
field() { item "$1" | $PY -c "import json,sys; t=json.load(sys.stdin); print(json.dumps(t.get('$2')))"; }
settled() {
	[ "$(field retry-1 status)" = '"FAILED"' ] && [ "$(field perm-1 status)" = '"FAILED"' ] &&
	[ "$(field flaky-1 status)" = '"COMPLETED"' ] &&
	[ "$(field legacy-1 status)" = '"COMPLETED"' ] && [ "$(field legacy-3 status)" = '"COMPLETED"' ]
}
wait_until 60 settled

for i in 1 2 3; do
	check "legacy-$i-completed-after-2-iterations" test \
	    "$(field legacy-$i status) $(field legacy-$i iteration) $(field legacy-$i completed)" = '"COMPLETED" 2 true'
done
check "legacy-params-counted-down" test "$(field legacy-1 params)" = '{"every_ms": 0, "n": 0}'
check "retry-failed-after-3-attempts" test "$(field retry-1 status) $(field retry-1 attempts)" = '"FAILED" 3'
check "retry-3-errors-recorded" test "$(item retry-1 | $PY -c 'import json,sys; t=json.load(sys.stdin); print(len(t["errors"]), t["errors"][-1]["error"], t["last_error"])')" = "3 try again try again"
check "permanent-failed-at-once" test "$(field perm-1 status) $(field perm-1 attempts)" = '"FAILED" 1'
check "permanent-error-recorded" test "$(field perm-1 last_error)" = '"no way"'
check "retry-then-success" test "$(field flaky-1 status) $(field flaky-1 iteration)" = '"COMPLETED" 1'
check "typeless-item-failed" test "$(field typeless status)" = '"FAILED"'
check "typeless-item-says-why" sh -c "$TFCHECK scan $E2E_NAME | grep '\"id\": \"typeless\"' | grep -q 'item is not a valid task: type'"
# ttl: finished_at plus the two days' retention, in seconds, on every
# finished task (the unreadable one too); the history of each run.
ttl_ok() {
	item "$1" | $PY -c 'import json,sys; t=json.load(sys.stdin); sys.exit(0 if abs(t["ttl"] - (t["finished_at"] // 1000 + 172800)) <= 1 else 1)'
}
for id in legacy-1 retry-1 perm-1 typeless; do
	check "retention-ttl-$id" ttl_ok "$id"
done
outcomes() { item "$1" | $PY -c 'import json,sys; print(" ".join(h["outcome"] for h in json.load(sys.stdin).get("history", [])))'; }
check "history-legacy" test "$(outcomes legacy-1)" = "success completed"
check "history-retries" test "$(outcomes retry-1)" = "retry retry failed"
check "history-flaky" test "$(outcomes flaky-1)" = "retry completed"
check "malformed-message-logged" grep -q 'malformed message deleted' "$E2E_DIR/l1.log"
check "missing-task-logged" grep -q 'task does not exist' "$E2E_DIR/l1.log"
queue_empty() {
	[ "$($TFCHECK queue-counts "$QUEUE_URL")" = '{"visible": 0, "inflight": 0, "delayed": 0}' ]
}
check "legacy-queue-drained" wait_until 20 queue_empty
check "legacy-consumer-exit-0" stop_consumers
exit $e2e_failed
