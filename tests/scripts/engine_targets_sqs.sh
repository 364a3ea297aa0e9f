#!/usr/bin/env bash
# engine_targets_sqs.sh - the sqs runner end to end on the SQS stand-in:
# tasks made with `taskfleet sqs`, run by a consumer, deliver messages to a
# second queue (by name and by URL) and to a FIFO queue. Checks the body
# with its placeholders filled (JSON-escaped), the message attributes, one
# message per iteration of a recurring task even when the task's own
# message is duplicated, the FIFO group and deduplication ids, the result
# recorded, and a permanent failure for a queue that does not exist.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init targets_sqs
OUT=$E2E_NAME-out
OUT_URL=$($TFCHECK create-queue "$OUT")
FIFO_URL=$($TFCHECK create-queue "$E2E_NAME-out.fifo" '{"FifoQueue": "true"}')

export TASKFLEET_RETRY_BASE=200ms TASKFLEET_RETRY_CAP=1s
start_consumer s1 --concurrency 4
start_consumer s2 --concurrency 4

# Placeholders go inside JSON strings: this body is not JSON, so it is
# refused and nothing is written.
"$TASKFLEET" sqs --id 'one"q' --queue "$OUT" \
    --json-body '{"task": "<taskfleet.task-id>", "n": <taskfleet.iteration>}' \
    >/dev/null 2>&1
status=$?
check "sqs-bad-json-refused" test "$status" -eq 2
tf_cli sqs --id 'one"q' --queue "$OUT" \
    --json-body '{"task": "<taskfleet.task-id>", "n": "<taskfleet.iteration>"}' \
    --attribute kind=report --attribute 'who=<taskfleet.task-id>' \
    >>"$E2E_DIR/submit.log" 2>&1
tf_cli sqs --id every --queue "$OUT_URL" --body 'tick <taskfleet.iteration>' \
    --every 1s --max-runs 3 >>"$E2E_DIR/submit.log" 2>&1
# A duplicate of the recurring task's first message, as SQS may deliver.
$TFCHECK send "$QUEUE_URL" '{"taskId": "every", "targetTimestamp": null, "gen": 1}'
tf_cli sqs --id fifo --queue "$FIFO_URL" --body 'in order' >>"$E2E_DIR/submit.log" 2>&1
tf_cli sqs --id fifo-ids --queue "$FIFO_URL" --body 'mine' --group-id g-7 \
    --dedup-id 'd-<taskfleet.task-id>' >>"$E2E_DIR/submit.log" 2>&1
tf_cli sqs --id missing --queue "$E2E_NAME-nope" --body x --max-attempts 3 \
    >>"$E2E_DIR/submit.log" 2>&1

settled() {
	[ "$($TFCHECK summary "$E2E_NAME")" = '{"COMPLETED": 4, "FAILED": 1}' ]
}
if wait_until 60 settled; then
	pass "sqs-all-settled"
else
	fail "sqs-all-settled" "summary: $($TFCHECK summary "$E2E_NAME")"
fi
check "sqs-consumers-exit-0" stop_consumers

# The messages of a queue, with attributes and FIFO ids, as JSON lines.
receive() {
	"$PY" - "$1" <<'PYEOF'
import json, os, sys
sys.path.insert(0, os.path.join(os.environ["TF_ROOT"], "tests", "tools"))
import tfcheck
sqs = tfcheck.client("sqs")
empty = 0
while empty < 3:  # three empty polls in a row: the queue is drained
    r = sqs.receive_message(QueueUrl=sys.argv[1], MaxNumberOfMessages=10, WaitTimeSeconds=1,
                            MessageAttributeNames=["All"], AttributeNames=["All"])
    msgs = r.get("Messages", [])
    empty = 0 if msgs else empty + 1
    for m in msgs:
        print(json.dumps({"body": m["Body"], "attrs": {k: [v["DataType"], v.get("StringValue")]
                          for k, v in m.get("MessageAttributes", {}).items()},
                          "group": m.get("Attributes", {}).get("MessageGroupId"),
                          "dedup": m.get("Attributes", {}).get("MessageDeduplicationId")}))
        sqs.delete_message(QueueUrl=sys.argv[1], ReceiptHandle=m["ReceiptHandle"])
PYEOF
}
receive "$OUT_URL" >"$E2E_DIR/out.jsonl"
receive "$FIFO_URL" >"$E2E_DIR/fifo.jsonl"

# jq-like checks in Python: EXPR over msgs (the queue's messages).
mcheck() {
	local name=$1 file=$2 expr=$3 why
	if why=$("$PY" - "$file" "$expr" <<'PYEOF'
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = eval(sys.argv[2])
if not ok:
    print(json.dumps(msgs)[:600])
sys.exit(0 if ok else 1)
PYEOF
	); then pass "$name"; else fail "$name" "$why"; fi
}
mcheck "sqs-json-body-templated-and-escaped" "$E2E_DIR/out.jsonl" \
    '[json.loads(m["body"]) for m in msgs if m["body"].startswith("{")] == [{"task": "one\"q", "n": "0"}]'
mcheck "sqs-attributes-passed" "$E2E_DIR/out.jsonl" \
    '[m["attrs"] for m in msgs if m["body"].startswith("{")] == [{"kind": ["String", "report"], "who": ["String", "one\"q"]}]'
mcheck "sqs-one-message-per-iteration" "$E2E_DIR/out.jsonl" \
    'sorted(m["body"] for m in msgs if m["body"].startswith("tick")) == ["tick 0", "tick 1", "tick 2"]'
mcheck "sqs-fifo-default-ids" "$E2E_DIR/fifo.jsonl" \
    '[(m["group"], m["dedup"]) for m in msgs if m["body"] == "in order"] == [("fifo", "fifo-0")]'
mcheck "sqs-fifo-given-ids" "$E2E_DIR/fifo.jsonl" \
    '[(m["group"], m["dedup"]) for m in msgs if m["body"] == "mine"] == [("g-7", "d-fifo-ids")]'

item() { $TFCHECK item "$E2E_NAME" "$1"; }
icheck() {
	local name=$1 id=$2 expr=$3
	if "$PY" - "$(item "$id")" "$expr" <<'PYEOF'
import json, sys
it = json.loads(sys.argv[1]) if sys.argv[1] else {}
sys.exit(0 if eval(sys.argv[2]) else 1)
PYEOF
	then pass "$name"; else fail "$name" "item: $(item "$id" | head -c 600)"; fi
}
icheck "sqs-result-message-id" 'one"q' \
    'len(it["result"]["message_id"]) > 0 and it["result"]["queue_url"].endswith("'"$OUT"'")'
icheck "sqs-fifo-result-dedup-id" fifo 'it["result"]["deduplication_id"] == "fifo-0"'
icheck "sqs-missing-queue-fails-for-good" missing \
    'it["status"] == "FAILED" and "GetQueueUrl" in it.get("lastError", it.get("last_error", "")) and it.get("attempts", 1) == 1'
exit $e2e_failed
