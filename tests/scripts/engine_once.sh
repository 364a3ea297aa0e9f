#!/usr/bin/env bash
# engine_once.sh - exactly once per iteration: every message the consumers
# send goes out twice (a test switch), and the test injects a copy of every
# first message too. A recording runner appends "task iteration" per run; each
# pair must appear exactly once.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init once
TASKS=60
RECORD=$E2E_DIR/record.txt
: >"$RECORD"

# Debug logs record each stale message dropped.
export TASKFLEET_TEST_DUPLICATE_SENDS=1 TASKFLEET_LOG=debug
start_consumer o1 --concurrency 8
start_consumer o2 --concurrency 8
unset TASKFLEET_TEST_DUPLICATE_SENDS TASKFLEET_LOG

for i in $(seq 1 $TASKS); do
	tf_cli submit --type record --id "once-$i" \
	    --params "{\"n\": 3, \"file\": \"$RECORD\"}" >/dev/null 2>>"$E2E_DIR/submit.log"
	# A duplicate of the task's first message, as SQS may deliver.
	$TFCHECK send "$QUEUE_URL" "{\"taskId\": \"once-$i\", \"targetTimestamp\": null, \"gen\": 1}"
done

all_done() {
	[ "$($TFCHECK summary "$E2E_NAME")" = "{\"COMPLETED\": $TASKS}" ]
}
if wait_until 120 all_done; then
	pass "once-all-completed"
else
	fail "once-all-completed" "summary: $($TFCHECK summary "$E2E_NAME")"
fi
queue_empty() {
	[ "$($TFCHECK queue-counts "$QUEUE_URL")" = '{"visible": 0, "inflight": 0, "delayed": 0}' ]
}
check "once-duplicates-drained" wait_until 30 queue_empty
check "once-consumers-exit-0" stop_consumers

lines=$(wc -l <"$RECORD")
unique=$(sort -u "$RECORD" | wc -l)
check "once-each-iteration-ran-once ($lines runs, $unique distinct)" \
    test "$lines" -eq $((TASKS * 3)) -a "$unique" -eq $((TASKS * 3))
expected=$(for i in $(seq 1 $TASKS); do for k in 0 1 2; do echo "once-$i $k"; done; done | sort)
check "once-every-task-every-iteration" test "$(sort "$RECORD")" = "$expected"
check "once-stale-duplicates-were-dropped" grep -q '"outcome":"stale"' \
    "$E2E_DIR/o1.log" "$E2E_DIR/o2.log"
exit $e2e_failed
