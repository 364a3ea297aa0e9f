#!/usr/bin/env bash
# engine_adopt.sh - moving over from the original serverless scheduler: its
# table (only the key, no index, as its Terraform makes it) holds items in its
# format whose messages are lost. A consumer on that table reports not ready
# and logs the failing sweeper query once; `taskfleet init` adds the indexes
# (the consumer is ready again); `taskfleet adopt` brings the items into them,
# so list shows them, stats --ns counts them and the sweeper sends the lost
# messages: the tasks run. A second adopt changes nothing.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
E2E_NAME="tf-adopt-$$-$RANDOM"
export TASKFLEET_TABLE=$E2E_NAME TASKFLEET_QUEUE=$E2E_NAME
export TASKFLEET_RUNNERS=$TF_BUILD/runners
E2E_DIR=$TF_TEST_OUT/adopt
rm -rf "$E2E_DIR"
mkdir -p "$E2E_DIR"

# The original deployment: a table with only the key, a queue, and items in
# the original format; their messages are gone (lost).
$TFCHECK create-legacy-table "$E2E_NAME"
QUEUE_URL=$($TFCHECK create-queue "$E2E_NAME" '{"VisibilityTimeout": "10"}')
for i in 1 2 3; do
	$TFCHECK put-legacy "$E2E_NAME" "old-$i" countdown '{"n": 1, "every_ms": 0}'
done
$TFCHECK put "$E2E_NAME" '{"id": "old-done", "completed": true, "type": "countdown", "params": {"n": 0}}'

# http_get PORT PATH: the body, then the status on a line of its own.
http_get() { curl -s --max-time 5 -w '\n%{http_code}\n' "http://127.0.0.1:$1$2"; }
# answers PORT PATH STATUS REGEX
answers() {
	local out
	out=$(http_get "$1" "$2" 2>/dev/null)
	[ "$(echo "$out" | tail -1)" = "$3" ] && echo "$out" | sed '$d' | grep -Eq "$4"
}
port_of() {
	grep -o '"metrics":"[^"]*"' "$E2E_DIR/$1.log" 2>/dev/null | head -1 |
	    sed 's/.*:\([0-9]*\)"$/\1/'
}
has_port() { [ -n "$(port_of "$1")" ]; }
sweeps() { http_get "$1" /metrics | sed -n 's/^taskfleet_sweeps_total \([0-9]*\).*/\1/p'; }
swept() { [ "$(sweeps "$1")" -ge "$2" ] 2>/dev/null; }

# ---- a consumer on the table without indexes: not ready, one error line
TASKFLEET_SWEEP_INTERVAL=200ms start_consumer a1 --visibility-timeout 10 \
    --metrics-listen 127.0.0.1:0
check "adopt-consumer-metrics-up" wait_until 20 has_port a1
P=$(port_of a1)
check "adopt-readyz-503-without-index" wait_until 20 answers "$P" /readyz 503 'sweeper: querying the index by_due .*fails'
check "adopt-twenty-failed-sweeps" wait_until 30 swept "$P" 20
check "adopt-one-sweeper-error-line" test "$(grep -c 'sweeper: querying' "$E2E_DIR/a1.log")" -eq 1
check "adopt-error-line-says-init" grep -q 'fixed by `taskfleet init`' "$E2E_DIR/a1.log"
"$TASKFLEET" list >"$E2E_DIR/list0.out" 2>&1
check "adopt-list-fails-without-index" test $? -eq 1

# ---- init adds the indexes; the consumer is ready again
"$TASKFLEET" init --visibility-timeout 10 >"$E2E_DIR/init.out" 2>"$E2E_DIR/init.err"
check "adopt-init-exit-0" test $? -eq 0
check "adopt-init-added-indexes" test "$(grep -c 'index by_.* added' "$E2E_DIR/init.out")" -eq 2
check "adopt-readyz-200-after-init" wait_until 20 answers "$P" /readyz 200 '^ok$'
check "adopt-sweeper-says-works-again" wait_until 10 grep -q 'by_due of table .* works again' "$E2E_DIR/a1.log"

# ---- before adopt: the items are in no index
tf_cli --json list >"$E2E_DIR/list1.out"
check "adopt-list-empty-before" test ! -s "$E2E_DIR/list1.out"
tf_cli adopt --dry-run >"$E2E_DIR/dry.out" 2>"$E2E_DIR/dry.err"
check "adopt-dry-run-counts" grep -q '^would adopt 4 item(s) of the original scheduler: 3 pending (due now), 1 completed' "$E2E_DIR/dry.out"
tf_cli --json list >"$E2E_DIR/list2.out"
check "adopt-dry-run-writes-nothing" test ! -s "$E2E_DIR/list2.out"

# ---- adopt
"$TASKFLEET" adopt >"$E2E_DIR/adopt.out" 2>"$E2E_DIR/adopt.err"
check "adopt-exit-0" test $? -eq 0
check "adopt-says-what" grep -q '^adopted 4 item(s) of the original scheduler: 3 pending (due now), 1 completed; 0 changed' "$E2E_DIR/adopt.out"
check "adopt-progress-on-stderr" grep -q 'item(s) without a status read, 4 adopted so far' "$E2E_DIR/adopt.err"
ids() { "$TASKFLEET" --json list | $PY -c 'import json,sys; print(" ".join(sorted(json.loads(l)["id"] for l in sys.stdin)))'; }
check "adopt-list-shows-them" test "$(ids)" = "old-1 old-2 old-3 old-done"
tf_cli stats --ns default --json >"$E2E_DIR/stats.json"
check "adopt-stats-counts-them" $PY -c '
import json, sys
o = json.load(open(sys.argv[1]))
t = o["tasks"]
sys.exit(0 if t["total"] == 4 and t["COMPLETED"] >= 1 and o["legacy"] == 0 else 1)' "$E2E_DIR/stats.json"

# ---- the lost messages: the sweeper sends them, the tasks run
field() { $TFCHECK item "$E2E_NAME" "$1" | $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"; }
all_ran() {
	local i
	for i in 1 2 3; do
		[ "$(field "old-$i" status) $(field "old-$i" iteration)" = "COMPLETED 1" ] || return 1
	done
}
check "adopt-lost-messages-recovered-tasks-ran" wait_until 30 all_ran
enqueued() { http_get "$P" /metrics | grep -Eq '^taskfleet_sweeper_enqueued_total ([3-9]|[1-9][0-9])'; }
check "adopt-sweeper-sent-them" enqueued
check "adopt-completed-one-untouched" test "$(field old-done status) $(field old-done iteration)" = "COMPLETED 0"

# ---- adopt again: nothing left to do
tf_cli adopt --json >"$E2E_DIR/again.json" 2>/dev/null
check "adopt-again-changes-nothing" $PY -c '
import json, sys
o = json.load(open(sys.argv[1]))
sys.exit(0 if o["pending"] == 0 and o["completed"] == 0 and o["scanned"] == 0 else 1)' "$E2E_DIR/again.json"
check "adopt-consumer-exit-0" stop_consumers
exit $e2e_failed
