#!/usr/bin/env bash
# engine_shutdown.sh - a graceful stop strands no message (issue 18 item 5).
# SQS still hands messages to a receive whose client has gone, and they stay
# invisible for their visibility timeout (60 s here). So a stopping consumer
# lets its open long poll return and hands back what it brought:
#   - a consumer with --wait-time 20 gets SIGTERM while its receive is open,
#     a task is submitted at once: the open receive brings it, the consumer
#     hands it back (visibility 0) and exits 0, and the next consumer runs
#     the task within 2 s of its submission;
#   - with --shutdown-timeout 2 the long poll is no longer than 2 s, so an
#     idle consumer with --wait-time 20 still stops within a few seconds.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init shutdown
RECORD=$E2E_DIR/record.txt
: >"$RECORD"
field() {
	$TFCHECK item "$E2E_NAME" "$1" |
	    $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"
}
logged() { grep -q "$2" "$E2E_DIR/$1.log"; }

start_consumer s1 --wait-time 20
s1=${consumer_pids[0]}
consumer_pids=()
check "shutdown-consumer-started" wait_until 20 logged s1 '"consumer s1 started'
# A message s1 drops proves its receive loop runs; the receive after it
# stays open for 20 s (the long poll).
$TFCHECK send "$QUEUE_URL" 'not a task'
check "shutdown-receiving" wait_until 20 logged s1 'malformed message deleted'
sleep 1

kill -TERM "$s1"
submitted=$(date +%s%3N)
tf_cli submit --type record --id after-stop \
    --params "{\"file\": \"$RECORD\"}" >/dev/null
start_consumer s2
completed() { [ "$(field after-stop status)" = COMPLETED ]; }
if wait_until 30 completed; then
	took=$(( $(field after-stop finished_at) - submitted ))
	check "shutdown-next-consumer-runs-it-within-2s (took $took ms)" \
	    test "$took" -lt 2000
else
	fail "shutdown-next-consumer-runs-it-within-2s" \
	    "not COMPLETED 30 s after a graceful stop: $(field after-stop status)"
fi
wait "$s1"
status=$?
check "shutdown-stopped-consumer-exits-0 (status $status)" test "$status" -eq 0
check "shutdown-open-receive-handed-back" \
    logged s1 'handed back 1 message(s) received during the stop'
check "shutdown-ran-once-on-next-consumer" test \
    "$(grep -c '^after-stop ' "$RECORD")" -eq 1
check "shutdown-next-consumer-ran-it" \
    logged s2 '"msg":"run finished","task":"after-stop"'
stop_consumers

# The long poll is bounded by the shutdown timeout.
start_consumer s3 --wait-time 20 --shutdown-timeout 2
s3=${consumer_pids[0]}
consumer_pids=()
check "shutdown-bounded-started" wait_until 20 logged s3 '"consumer s3 started'
sleep 1
stop_at=$SECONDS
kill -TERM "$s3"
wait "$s3"
status=$?
check "shutdown-bounded-by-shutdown-timeout (took $((SECONDS - stop_at)) s, status $status)" \
    test $((SECONDS - stop_at)) -le 8 -a "$status" -eq 0
exit $e2e_failed
