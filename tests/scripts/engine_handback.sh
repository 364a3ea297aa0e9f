#!/usr/bin/env bash
# engine_handback.sh - the shutdown hand-back of a held message: a consumer
# stopped (SIGTERM) while it holds a message that came early for its due time
# returns the message to the queue at once (visibility 0) without claiming
# the task, so another consumer runs it at once instead of after the
# visibility timeout (30 s here). Should the stopping consumer's last long
# poll (still open: a stop lets it return) receive the message again, the
# receiver hands it back too.
#
# The message is sent straight to the queue, 1.4 s before its target time
# (the consumer holds messages up to 1.5 s early), and the consumer is
# stopped as soon as its debug log says it holds it. Should the hold be over
# before the stop arrives (a loaded machine), the task has run: the scenario
# is tried again with a new task, at most three times.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init handback

item_field() { $TFCHECK item "$E2E_NAME" "$1" | $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"; }

# hold_and_stop N: a task held-N (PENDING, outside the due index so that no
# sweeper sends it a message), its message 1.4 s early, a consumer stopped
# while it holds the message. Sets stop_status; true when the consumer held
# the message and did not run the task before it stopped.
hold_and_stop() {
	local id=held-$1 log=$E2E_DIR/h$1.log pid i
	TASKFLEET_LOG=debug "$CONSUMER" --id "h$1" --wait-time 1 >"$log" 2>&1 &
	pid=$!
	consumer_pids+=("$pid")
	wait_until 20 grep -q '"msg":"consumer h'"$1"' started' "$log" || return 1
	$PY - "$E2E_NAME" "$QUEUE_URL" "$id" <<'EOF' || return 1
import json, os, sys, time
sys.path.insert(0, os.path.join(os.environ["TF_ROOT"], "tests", "tools"))
import tfcheck
table, url, tid = sys.argv[1:4]
now = int(time.time() * 1000)
item = {"id": tid, "ns": "default", "type": "noop", "params": {},
        "status": "PENDING", "completed": False, "gen": 1, "iteration": 0,
        "attempts": 0, "max_attempts": 3, "next_run": now}
tfcheck.client("dynamodb").put_item(
    TableName=table, Item={k: tfcheck.marshal(v) for k, v in item.items()})
sqs = tfcheck.client("sqs")        # made before the clock is read: it is slow
body = {"taskId": tid, "targetTimestamp": int(time.time() * 1000) + 1400, "gen": 1}
sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
EOF
	for i in $(seq 100); do
		grep -q '"msg":"message [0-9]* ms early: held until its time","task":"'"$id"'"' "$log" && break
		sleep 0.05
	done
	kill -TERM "$pid"
	wait "$pid"
	stop_status=$?
	consumer_pids=()
	grep -q '"msg":"message [0-9]* ms early: held until its time","task":"'"$id"'"' "$log" &&
	    ! grep -q '"task":"'"$id"'".*"outcome"' "$log"
}

stop_status=0
held=
for n in 1 2 3; do
	if hold_and_stop "$n"; then
		held=$n
		break
	fi
done
check "handback-consumer-stopped-while-holding (attempt ${held:-none of 3})" test -n "$held"
check "handback-exit-0 (status $stop_status)" test "$stop_status" -eq 0
counts() { [ "$($TFCHECK queue-counts "$QUEUE_URL")" = '{"visible": 1, "inflight": 0, "delayed": 0}' ]; }
check "handback-held-message-returned-to-the-queue" wait_until 5 counts
check "handback-held-task-not-claimed" test "$(item_field "held-${held:-1}" status) $(item_field "held-${held:-1}" gen)" = "PENDING 1"
# Another consumer gets the message at once, not after the 30 s visibility.
start_consumer next
done_() { [ "$(item_field "held-${held:-1}" status)" = COMPLETED ]; }
check "handback-returned-message-runs-at-once" wait_until 15 done_
check "handback-consumers-exit-0" stop_consumers
exit $e2e_failed
