#!/usr/bin/env bash
# console_targets_browser.sh - the console's new-task form offers the AWS
# targets (docs/targets.md, "The console"): tests/browser/console_targets.mjs
# drives Debian's Chromium, headless, against `taskfleet serve` with a
# consumer, the SQS stand-in and a callback receiver, all on 127.0.0.1.
# Then this script checks the store: the SQS task made in the form sent its
# message (body with placeholders filled, attributes) to a second queue and
# called its callback once; the params of the SQS, SNS, Lambda, EventBridge
# and Step Functions tasks made in the form are exactly those the CLI
# shorthands write from the same values; a refused form wrote nothing.
# Screenshots go to $TF_TEST_OUT/console_targets/shots/.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init console_targets
browser_ready console_targets || exit 1
OUT=$E2E_NAME-out
OUT_URL=$($TFCHECK create-queue "$OUT")

serve_pid=
cleanup() {
	e2e_cleanup
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

start_receiver 127.0.0.1
touch "$E2E_DIR/requests-1.jsonl"
TASKFLEET_HTTP_ALLOW=127.0.0.1 start_consumer t1 --concurrency 4

KEY=console-targets-$RANDOM$RANDOM$RANDOM
start_serve console_targets "$KEY" || exit 1

CONSOLE_URL=$URL API_KEY=$KEY OUT_QUEUE=$OUT CALLBACK_URL=http://127.0.0.1:$PORT_1/callback \
    SHOT_DIR=$E2E_DIR/shots CHROMIUM=$CHROMIUM \
    "$TF_ROOT/infra/local/node" "$BROWSER_DIR/console_targets.mjs" | tee "$E2E_DIR/browser.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || e2e_failed=1

# The same tasks from the CLI shorthands, for tomorrow.
tf_cli sqs --id cli-sqs --queue "$OUT" --at +1h \
    --json-body '{"task": "<taskfleet.task-id>", "from": "console"}' \
    --attribute kind=report --attribute 'who=<taskfleet.task-id>' >/dev/null
tf_cli sns --id cli-sns --topic-arn arn:aws:sns:eu-west-1:123456789012:alerts --at +1h \
    --message 'due <taskfleet.scheduled-time>' --subject Reminder \
    --attribute kind=reminder >/dev/null
tf_cli lambda --id cli-lambda --function arn:aws:lambda:eu-west-1:123456789012:function:nightly \
    --qualifier live --payload '{"at": "<taskfleet.scheduled-time>"}' --async --at +1h >/dev/null
tf_cli events --id cli-events --bus reports --source com.example.reports \
    --detail-type ReportDue --detail '{"n": 1}' --resource arn:aws:s3:::bucket-a \
    --resource arn:aws:s3:::bucket-b --at +1h >/dev/null
tf_cli sfn --id cli-sfn --state-machine-arn arn:aws:states:eu-west-1:123456789012:stateMachine:etl \
    --input '{"day": "<taskfleet.scheduled-time>"}' --region eu-west-1 --at +1h \
    --role-arn arn:aws:iam::210987654321:role/etl-starter --external-id team-7 >/dev/null

item() { $TFCHECK item "$E2E_NAME" "$1"; }
for kind in sqs sns lambda events sfn; do
	if "$PY" - "$(item "console-$kind")" "$(item "cli-$kind")" <<'EOF'
import json, sys
a = json.loads(sys.argv[1]) if sys.argv[1] else {}
b = json.loads(sys.argv[2]) if sys.argv[2] else {}
ok = a and b and a["type"] == b["type"] and a["params"] == b["params"]
if not ok:
    print("console:", a.get("type"), json.dumps(a.get("params")), file=sys.stderr)
    print("cli:    ", b.get("type"), json.dumps(b.get("params")), file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
	then pass "console-targets-$kind-params-as-the-cli-writes"
	else fail "console-targets-$kind-params-as-the-cli-writes" "see stderr"; fi
done
check "console-targets-refused-form-wrote-nothing" test -z "$(item console-refused)"

# The SQS task's message, in the second queue.
"$PY" - "$OUT_URL" >"$E2E_DIR/out.jsonl" <<'EOF'
import json, os, sys
sys.path.insert(0, os.path.join(os.environ["TF_ROOT"], "tests", "tools"))
import tfcheck
sqs = tfcheck.client("sqs")
r = sqs.receive_message(QueueUrl=sys.argv[1], MaxNumberOfMessages=10, WaitTimeSeconds=2,
                        MessageAttributeNames=["All"])
for m in r.get("Messages", []):
    print(json.dumps({"body": m["Body"], "attrs": {k: v.get("StringValue")
                      for k, v in m.get("MessageAttributes", {}).items()}}))
EOF
if "$PY" - "$E2E_DIR/out.jsonl" <<'EOF'
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = (len(msgs) == 1 and json.loads(msgs[0]["body"]) == {"task": "console-sqs", "from": "console"}
      and msgs[0]["attrs"] == {"kind": "report", "who": "console-sqs"})
if not ok:
    print(msgs, file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
then pass "console-targets-sqs-message-delivered"
else fail "console-targets-sqs-message-delivered" "see stderr"; fi
called_back() { [ "$(grep -c '"path": "/callback"' "$E2E_DIR/requests-1.jsonl")" -ge 1 ]; }
wait_until 20 called_back
check "console-targets-sqs-callback-once" test "$(grep -c '"path": "/callback"' "$E2E_DIR/requests-1.jsonl")" -eq 1
check "console-targets-consumer-exit-0" stop_consumers
exit $e2e_failed
