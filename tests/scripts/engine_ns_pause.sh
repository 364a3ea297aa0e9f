#!/usr/bin/env bash
# engine_ns_pause.sh - pausing a whole namespace (issue 23 item 6,
# docs/design.md section 14), through the real CLI and three consumers with
# the recording runner: while namespace `held` is paused nothing of it runs
# (tasks due during the pause, one recurring task), another namespace runs
# as usual, the held tasks are suspended with no attempt charged; `resume
# --ns` runs each exactly once, the recurring task's missed occurrences once,
# and leaves a task suspended by hand suspended. A consumer reads the config
# item once for its sweeper's shard count and its runs' paused set.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init nspause
RECORD=$E2E_DIR/record.txt
: >"$RECORD"
export TF_RECORD_FILE=$RECORD
field() {
	$TFCHECK item "$E2E_NAME" "$1" |
	    $PY -c "import json,sys; v=json.load(sys.stdin).get('$2'); print(json.dumps(v) if isinstance(v,(list,dict)) else v)"
}
lines_of() { grep -c "^$1 " "$RECORD"; }

# Bad input first: nothing written.
"$TASKFLEET" pause --ns 'no spaces' >/dev/null 2>"$E2E_DIR/bad.err"
check "nspause-bad-ns-exit-2" test $? -eq 2
"$TASKFLEET" resume --ns >/dev/null 2>&1
check "nspause-resume-ns-without-value-exit-2" test $? -eq 2
out=$("$TASKFLEET" pause 2>&1)
check "nspause-none-paused-listed (got: $out)" test "$out" = "no namespace is paused"

# A task of `held` suspended by hand before the pause: resume --ns leaves it.
tf_cli submit --type record --ns held --id by-hand --at +1h >/dev/null
tf_cli suspend by-hand >/dev/null

start=$(date +%s%3N)
out=$("$TASKFLEET" pause --ns held --json)
status=$?
took=$(( $(date +%s%3N) - start ))
check "nspause-pause-exit-0" test "$status" -eq 0
check "nspause-pause-json (got: $out)" test "$out" = '{"ns":"held","paused":true}'
# It returns once every consumer's copy of the set is fresh (2 s).
check "nspause-pause-waits-for-consumers (${took} ms)" test "$took" -ge 2000
check "nspause-listed" test "$("$TASKFLEET" pause)" = "held"

# One read of the config item serves both of a consumer's uses: the shard
# count its sweeper reads at start, and the paused set of a run just after
# (a copy under 2 s old): one GetItem in all, not one for each.
tf_cli submit --type record --ns free --id first >/dev/null
start_consumer c0
first_ran() { [ "$(lines_of first)" -eq 1 ]; }
check "nspause-first-ran" wait_until 30 first_ran
check "nspause-c0-exit-0" stop_consumers
gets=$(grep '"AWS requests by operation' "$E2E_DIR/c0.log" | tail -1 |
    $PY -c "import json,sys; print(json.loads(sys.stdin.read()).get('GetItem', '0'))")
check "nspause-config-item-read-once (GetItem $gets)" test "$gets" = 1

for i in 1 2 3; do start_consumer "c$i"; done
{
	for i in $(seq 1 20); do
		echo '{"id":"held-'"$i"'","type":"record","ns":"held"}'
	done
	for i in $(seq 1 5); do
		echo '{"id":"free-'"$i"'","type":"record","ns":"free"}'
	done
} | tf_cli submit --file - >"$E2E_DIR/submit.log" 2>&1
tf_cli submit --type record --ns held --id every --every 4s >/dev/null
paused_at=$(date +%s%3N)

free_done() { [ "$(grep -c '^free-' "$RECORD")" -eq 5 ]; }
check "nspause-other-namespace-runs" wait_until 30 free_done
# Held tasks come due, are claimed and suspended: wait for all 21.
suspended() {
	local n
	n=$($PY - "$E2E_NAME" <<'PYEOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["TF_ROOT"], "tests", "tools"))
import tfcheck
ddb = tfcheck.client("dynamodb")
n = 0
for i in list(range(1, 21)) + ["every"]:
    tid = "held-%s" % i if i != "every" else "every"
    it = ddb.get_item(TableName=sys.argv[1], Key={"id": {"S": tid}}, ConsistentRead=True).get("Item", {})
    if it.get("status", {}).get("S") == "SUSPENDED" and it.get("paused_by_ns", {}).get("BOOL"):
        n += 1
print(n)
PYEOF
)
	[ "$n" -eq 21 ]
}
check "nspause-due-tasks-suspended-by-the-pause" wait_until 30 suspended
# Nothing of `held` starts for 10 s of pause.
while [ $(( $(date +%s%3N) - paused_at )) -lt 10000 ]; do sleep 0.5; done
check "nspause-nothing-ran-while-paused ($(grep -c -e '^held-' -e '^every ' "$RECORD") lines)" \
    test "$(grep -c -e '^held-' -e '^every ' "$RECORD")" -eq 0
check "nspause-no-attempt-charged" test "$(field held-1 attempts)" = 0
hist=$(field held-1 history)
check "nspause-history-says-paused ($hist)" $PY -c "import json,sys; h=json.loads(sys.argv[1]); assert h and h[-1]['outcome']=='paused'" "$hist"
check "nspause-metrics-count-paused" grep -q '"outcome":"paused"' "$E2E_DIR/c1.log" "$E2E_DIR/c2.log" "$E2E_DIR/c3.log"

out=$("$TASKFLEET" resume --ns held --json)
status=$?
resumed_at=$(date +%s%3N)
check "nspause-resume-exit-0" test "$status" -eq 0
check "nspause-resume-json (got: $out)" test "$out" = '{"ns":"held","paused":false,"resumed":21,"failed":0}'
check "nspause-not-listed-after-resume" test "$("$TASKFLEET" pause)" = "no namespace is paused"
# The recurring task (every 4 s) missed two or three slots while paused: it
# runs once at the resume, then at its pace: at most 2 runs in the 3 s after.
while [ $(( $(date +%s%3N) - resumed_at )) -lt 3000 ]; do sleep 0.2; done
every_runs=$(lines_of every)
check "nspause-missed-slots-run-once ($every_runs runs in 3 s)" test "$every_runs" -ge 1 -a "$every_runs" -le 2
all_ran() { [ "$(grep -c '^held-' "$RECORD")" -ge 20 ] && [ "$(lines_of every)" -ge 1 ]; }
check "nspause-everything-runs-after-resume" wait_until 30 all_ran
ok=1
for i in $(seq 1 20); do
	[ "$(lines_of "held-$i")" -eq 1 ] || miss "held-$i ran $(lines_of "held-$i") times"
	[ "$(field "held-$i" status)" = COMPLETED ] || miss "held-$i is $(field "held-$i" status)"
done
verdict "nspause-each-held-task-ran-once"
check "nspause-suspended-by-hand-stays" test "$(field by-hand status)" = SUSPENDED
check "nspause-consumers-exit-0" stop_consumers
exit $e2e_failed
