#!/usr/bin/env bash
# engine_due_index.sh - the sweeper reads only the tasks that need it
# (task/due.h): due_at says when a task's message may be lost or its lease
# may have ended, so
#   - a burst of tasks whose messages are out costs the sweeper no reads of
#     them (one query page per shard and sweep, none of its items due for a
#     look), and each runs once, from its own message;
#   - a message that is lost is still sent again once the grace has passed,
#     and not before;
#   - a lease that ends (its consumer gone) is still taken back.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
export TASKFLEET_HORIZON=60s TASKFLEET_SWEEP_INTERVAL=500ms \
    TASKFLEET_SWEEP_GRACE=4s TASKFLEET_LEASE_GRACE=1s
e2e_init dueindex
item() { $TFCHECK scan "$E2E_NAME" | grep "\"id\": \"$1\""; }
field() { item "$1" | $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"; }
done_() { [ "$(field "$1" status)" = COMPLETED ]; }
# The sweeper's line at exit: "N sweep(s), Q query page(s) read R item(s)
# of the due index, W of them due for a look".
sweeper_line() { grep -o 'sweeper: [0-9]* sweep(s), [0-9]* query page(s) read [0-9]* item(s) of the due index, [0-9]* of them' "$E2E_DIR/$1.log" | tail -1; }

# ---- A burst: 120 tasks due 12 s from now, their messages sent at submit.
N=120
for i in $(seq 1 $N); do echo "$i"; done |
    xargs -P 4 -I{} "$TASKFLEET" submit --type noop --id burst-{} --at +12s >/dev/null
start_consumer b1 --concurrency 8
all_burst_done() {
	[ "$($TFCHECK summary "$E2E_NAME" | $PY -c 'import json,sys; print(json.load(sys.stdin).get("COMPLETED", 0))')" -ge $N ]
}
check "due-burst-all-ran" wait_until 60 all_burst_done
check "due-burst-exit-0" stop_consumers
line=$(sweeper_line b1)
read -r sweeps pages read_ look <<<"$(echo "$line" | tr -dc '0-9 ' | tr -s ' ' | sed 's/^ //')"
ok=1
[ -n "$line" ] || miss "no sweeper line in b1.log"
[ "${sweeps:-0}" -ge 10 ] || miss "only ${sweeps:-?} sweeps"
# Every shard one page per sweep: no paging through the live messages.
[ "${pages:-99999}" -le $((16 * ${sweeps:-0})) ] || miss "$pages pages for $sweeps sweeps"
# Tasks with a live message are never due for a look: at most a few that
# ran late enough for their grace to pass.
[ "${look:-99999}" -le 10 ] || miss "$look items due for a look"
verdict "due-burst-no-rereads ($line)"
# The old meaning (due_at = next_run) would have had each of the 120 due for
# a look in every sweep from 60 s before its time.
runs=$($TFCHECK scan "$E2E_NAME" | $PY -c '
import json, sys
print(sum(json.loads(l).get("iteration", 0) for l in sys.stdin if "burst-" in l))')
check "due-burst-each-ran-once ($runs runs)" test "$runs" -eq $N

# ---- A lost message: the item says one is out (enqueued_for now), due_at as
# this version writes it (enqueued_for + grace + horizon), but SQS has none.
now=$(date +%s%3N)
$TFCHECK put "$E2E_NAME" "{\"id\": \"lost-1\", \"ns\": \"default\", \"type\": \"noop\", \"params\": {}, \"status\": \"PENDING\", \"completed\": false, \"gen\": 1, \"iteration\": 0, \"attempts\": 0, \"max_attempts\": 3, \"next_run\": $now, \"due_shard\": \"5\", \"due_at\": $((now + 4000 + 60000)), \"enqueued_for\": $now}"
# ---- A dead consumer's run: PROCESSING, its lease ending in 2 s.
$TFCHECK put "$E2E_NAME" "{\"id\": \"dead-1\", \"ns\": \"default\", \"type\": \"noop\", \"params\": {}, \"status\": \"PROCESSING\", \"completed\": false, \"gen\": 2, \"iteration\": 0, \"attempts\": 0, \"max_attempts\": 3, \"next_run\": $now, \"lease_owner\": \"gone\", \"lease_until\": $((now + 2000)), \"lease_token\": \"x\", \"due_shard\": \"7\", \"due_at\": $((now + 2000 + 60000))}"
start_consumer r1 --concurrency 4
check "due-lost-message-recovered" wait_until 30 done_ lost-1
ran_at=$(field lost-1 updated_at)
check "due-lost-message-not-before-the-grace ($((ran_at - now)) ms)" test "$((ran_at - now))" -ge 4000
check "due-lost-message-logged" grep -q 'was lost; sent again' "$E2E_DIR/r1.log"
check "due-expired-lease-recovered" wait_until 30 done_ dead-1
check "due-expired-lease-logged" grep -q 'recovered a run whose lease expired' "$E2E_DIR/r1.log"
check "due-r1-exit-0" stop_consumers
exit $e2e_failed
