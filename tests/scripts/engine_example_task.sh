#!/usr/bin/env bash
# engine_example_task.sh - the original serverless scheduler's own example
# runs (issue 18 item 9): its task type is "exampleTask", with an upper-case
# letter. A runner named exampleTask (tests/runners/exampleTask.c, built as
# exampleTask.so) loads, `submit --type exampleTask` is accepted, and an
# item and message in the original format (as engine_legacy_retries.sh
# builds them: id, completed, type, params; taskId, targetTimestamp,
# priority, no gen) run to COMPLETED with the type reaching the runner as
# written. Names are case-sensitive: "exampletask" names no runner.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init example
export TASKFLEET_RUNNERS=$TASKFLEET_RUNNERS:$TF_BUILD/tests/runners/exampleTask.so

start_consumer x1 --concurrency 2
$TFCHECK put-legacy "$E2E_NAME" legacy-example exampleTask '{"message": "hello from the original"}'
$TFCHECK send "$QUEUE_URL" "{\"taskId\": \"legacy-example\", \"targetTimestamp\": $(($(date +%s) * 1000)), \"priority\": null}"
submit_example() {
	"$TASKFLEET" submit --type exampleTask --id submitted-example \
	    --params '{"message": "hi"}' >/dev/null
}
check "example-submit-accepted" submit_example
"$TASKFLEET" submit --type exampletask --id lower-example >/dev/null 2>"$E2E_DIR/lower.err"
check "example-lower-case-is-another-name" test "$?" -eq 2
check "example-lower-case-message" grep -q 'no runner "exampletask" is installed' "$E2E_DIR/lower.err"

field() { $TFCHECK item "$E2E_NAME" "$1" | $PY -c "import json,sys; t=json.load(sys.stdin); print($2)"; }
done_() {
	[ "$(field legacy-example 't.get("status")')" = COMPLETED ] &&
	[ "$(field submitted-example 't.get("status")')" = COMPLETED ]
}
check "example-both-completed" wait_until 30 done_
for id in legacy-example submitted-example; do
	check "example-$id-ran-as-exampleTask" test \
	    "$(field "$id" 't.get("type"), t.get("result")')" = "exampleTask {'type': 'exampleTask'}"
done
check "example-lower-case-not-written" test -z "$($TFCHECK item "$E2E_NAME" lower-example)"
check "example-consumer-exit-0" stop_consumers
exit $e2e_failed
