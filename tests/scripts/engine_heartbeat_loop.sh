#!/usr/bin/env bash
# engine_heartbeat_loop.sh - the heartbeat on the event loop: many slow runs
# in flight (claimed, waiting for the one runner thread or running) cost no
# thread each: the consumer keeps the same four threads (main, loop, runner
# thread, watchdog; the sweeper runs on the loop) whether one run or thirty
# are in flight; every lease and message is kept past its 4 s visibility while the runs wait, so
# each task runs once; and the visibility extensions go out in batches
# (ChangeMessageVisibilityBatch, never one ChangeMessageVisibility per
# message), counted from the consumer's exit log. A run whose lease is
# taken over while it waits for a runner thread is never started. Runners
# that return at once leave the consumer 3 threads (main, loop, watchdog):
# no runner thread, and no libuv pool even when no call at start is
# synchronous (a queue URL given).
set -u
. "$(dirname "$0")/../tools/e2e.sh"
E2E_VISIBILITY=4
e2e_init heartbeat-loop

RUNS=30
for i in $(seq 1 $RUNS); do
	tf_cli submit --type sleep --id "slow-$i" --params '{"ms": 400}' >/dev/null
done
# One runner thread: the runs wait for it in turn, 12 s in all, three
# times the visibility.
start_consumer l1 --concurrency $RUNS --runner-threads 1 --visibility-timeout 4
pid=${consumer_pids[0]}

threads() { ls "/proc/$pid/task" 2>/dev/null | wc -l; }
processing() {
	$TFCHECK scan "$E2E_NAME" | grep -c '"status": "PROCESSING"'
}
many_in_flight() { [ "$(processing)" -ge 20 ]; }
check "heartbeat-loop-many-runs-in-flight" wait_until 20 many_in_flight
# Sampled while they are in flight: the same threads as with one run.
samples=""
for _ in 1 2 3 4 5; do
	samples="$samples $(threads)"
	sleep 0.5
done
ok=1
for n in $samples; do [ "$n" -eq 4 ] || ok=0; done
check "heartbeat-loop-threads-stay-4 (saw:$samples)" test $ok -eq 1

completed() {
	[ "$($TFCHECK scan "$E2E_NAME" | grep -c '"status": "COMPLETED"')" -eq $RUNS ]
}
check "heartbeat-loop-all-completed" wait_until 60 completed
check "heartbeat-loop-each-ran-once" test "$(grep -c '"msg":"run finished"' \
    "$E2E_DIR/l1.log")" -eq $RUNS
check "heartbeat-loop-no-lease-lapsed" test "$(grep -c -e 'lease lost' \
    -e 'could not be extended' "$E2E_DIR/l1.log")" -eq 0

# A run whose lease is taken over while it waits for the runner thread is
# not started when the thread frees up (its result would be discarded, but
# the runner's side effect would happen twice).
RECORD=$E2E_DIR/record.txt
tf_cli submit --type sleep --id hold-1 --params '{"ms": 12000}' >/dev/null
status_of() { $TFCHECK item "$E2E_NAME" "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin).get("status"))'; }
is_processing() { [ "$(status_of "$1")" = PROCESSING ]; }
check "heartbeat-loop-hold-running" wait_until 20 is_processing hold-1
tf_cli submit --type record --id waiting-1 --params "{\"file\": \"$RECORD\"}" >/dev/null
check "heartbeat-loop-waiting-claimed" wait_until 20 is_processing waiting-1
$TFCHECK put "$E2E_NAME" "$($TFCHECK item "$E2E_NAME" waiting-1 | $PY -c '
import json, sys, time
t = json.load(sys.stdin)
t["lease_owner"] = "intruder"
t["lease_until"] = int(time.time() * 1000) + 600000
print(json.dumps(t))')"
discarded() {
	grep '"task":"waiting-1"' "$E2E_DIR/l1.log" |
	    grep -q '"msg":"lease lost during the run; result discarded"'
}
check "heartbeat-loop-waiting-lost-discarded" wait_until 30 discarded
check "heartbeat-loop-waiting-never-started" test ! -s "$RECORD"
check "heartbeat-loop-consumer-exits-0" stop_consumers

# The exit log: requests by operation, and what the heartbeat sent.
requests=$(grep '"msg":"AWS requests by operation' "$E2E_DIR/l1.log")
summary=$(grep -o '"msg":"heartbeat: [^"]*"' "$E2E_DIR/l1.log")
read -r leases calls messages < <(echo "$summary" |
    sed -E 's/.*heartbeat: ([0-9]+) lease extension\(s\), ([0-9]+) visibility call\(s\) for ([0-9]+) message.*/\1 \2 \3/')
echo "# $summary"
echo "# $requests"
check "heartbeat-loop-no-single-visibility-calls" \
    test -z "$(echo "$requests" | grep -o '"ChangeMessageVisibility":"[0-9]*"')"
# Each run waited up to 12 s with a 4 s visibility: extended, many of them
# several times, each extension a lease write and a message in a batch.
ok=1
[[ ${leases:-} =~ ^[0-9]+$ && ${calls:-} =~ ^[0-9]+$ && ${messages:-} =~ ^[0-9]+$ ]] || ok=0
[ $ok -eq 1 ] && [ "$leases" -ge $RUNS ] && [ "$messages" -eq "$leases" ] || ok=0
check "heartbeat-loop-extensions-counted ($leases leases, $messages messages)" test $ok -eq 1
# Runs received together come due together: at least 4 messages a call.
batched() {
	local sent
	sent=$(echo "$requests" | grep -o '"ChangeMessageVisibilityBatch":"[0-9]*"' | grep -o '[0-9]*')
	# The exit log counts retries too: at least the heartbeat's calls.
	[ $ok -eq 1 ] && [ "$calls" -gt 0 ] && [ $((calls * 4)) -le "$messages" ] &&
	    [ "${sent:-0}" -ge "$calls" ]
}
check "heartbeat-loop-visibility-batched ($calls calls)" batched

# Given the queue's URL, the consumer makes no synchronous call at start;
# its clients' credentials are still fetched then, so its first calls on
# the loop start no libuv pool.
start_consumer l2 --queue "$QUEUE_URL" --concurrency 4
pid=${consumer_pids[0]}
for i in 1 2 3; do tf_cli submit --type noop --id "quick-$i" >/dev/null; done
quick_done() {
	[ "$($TFCHECK scan "$E2E_NAME" | grep '"id": "quick-' | grep -c COMPLETED)" -eq 3 ]
}
check "heartbeat-loop-quick-runs-completed" wait_until 30 quick_done
n=$(threads)
check "heartbeat-loop-threads-3-without-blocking-runners (saw $n)" test "$n" -eq 3
check "heartbeat-loop-l2-exits-0" stop_consumers
exit $e2e_failed
