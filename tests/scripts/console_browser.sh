#!/usr/bin/env bash
# console_browser.sh - the web console in a real browser (GitHub issue 9):
# Debian's Chromium, headless, driven by playwright-core
# (tests/browser/console.mjs) against `taskfleet serve` with an API key, a
# consumer running the http runner, and a webhook receiver, all on
# 127.0.0.1. The browser creates an HTTP task in the form and watches it run
# to COMPLETED, suspends and resumes another task, changes its schedule and
# runs it now, removes its schedule (a one-shot), and retries a FAILED task;
# then this script checks the store and the receiver saw exactly that.
# Screenshots go to $TF_TEST_OUT/console/shots/ (console.mjs checks each is
# a PNG of the viewport's size that is not blank).
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init console
browser_ready console || exit 1

receiver_pid= serve_pid=
cleanup() {
	kill_consumers
	[ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

"$PY" "$TF_ROOT/tests/tools/webhook_receiver.py" --bind 127.0.0.1 \
    --port-file "$E2E_DIR/receiver-port" --log "$E2E_DIR/requests.jsonl" \
    2>>"$E2E_DIR/receiver.log" &
receiver_pid=$!
wait_until 10 test -s "$E2E_DIR/receiver-port" || { fail console-receiver "no port"; exit 1; }
TARGET=http://127.0.0.1:$(cat "$E2E_DIR/receiver-port")/

TASKFLEET_HTTP_ALLOW=127.0.0.1 TASKFLEET_RETENTION=30d start_consumer web1 --concurrency 4

# The task to suspend and resume: due in an hour, so it stays PENDING.
"$TASKFLEET" http --id console-other --url "${TARGET}later" --at +1h \
    >>"$E2E_DIR/submit.log" 2>&1 || fail console-submit-other "taskfleet http failed"
"$TASKFLEET" submit --id console-failed --type fail --max-attempts 1 \
    --params '{"mode": "permanent", "message": "boom"}' \
    >>"$E2E_DIR/submit.log" 2>&1 || fail console-submit-failed "taskfleet submit failed"

KEY=console-test-$RANDOM$RANDOM$RANDOM
start_serve console "$KEY" || exit 1

CONSOLE_URL=$URL API_KEY=$KEY TARGET_URL=$TARGET OTHER_ID=console-other FAILED_ID=console-failed \
    SHOT_DIR=$E2E_DIR/shots CHROMIUM=$CHROMIUM \
    "$TF_ROOT/infra/local/node" "$BROWSER_DIR/console.mjs" | tee "$E2E_DIR/browser.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || e2e_failed=1
CREATED=$(sed -n 's/^CREATED //p' "$E2E_DIR/browser.log")

item() { $TFCHECK item "$E2E_NAME" "$1"; }  # item ID: the stored item as JSON
# jcheck NAME ID PYTHON-EXPR over it (the item) and reqs (the receiver's
# requests for the task).
jcheck() {
	local name=$1 id=$2 expr=$3
	if "$PY" - "$(item "$id")" "$E2E_DIR/requests.jsonl" "$id" "$expr" <<'EOF'
import json, os, sys
it = json.loads(sys.argv[1]) if sys.argv[1] else {}
reqs = []
if os.path.exists(sys.argv[2]):
    for line in open(sys.argv[2]):
        r = json.loads(line)
        if dict((k.lower(), v) for k, v in r["headers"]).get("taskfleet-task-id") == sys.argv[3]:
            reqs.append(r)
h = lambda r, n: dict((k.lower(), v) for k, v in r["headers"]).get(n.lower())
ok = eval("(" + sys.argv[4] + ")")
if not ok:
    print("item:", json.dumps(it)[:1500], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
	then pass "$name"; else fail "$name" "$expr"; fi
}
if [ -n "$CREATED" ]; then
	jcheck console-created-task-ran-once "$CREATED" '
it["status"] == "COMPLETED" and it["type"] == "http" and len(reqs) == 1
and reqs[0]["method"] == "POST" and json.loads(reqs[0]["body"]) == {"hello": "from the console"}
and h(reqs[0], "x-from") == "console" and it["result"]["status"] == 200
and it["params"]["timeout_ms"] == 5000
and len(it["history"]) == 1 and it["history"][0]["outcome"] == "completed"'
else
	fail console-created-task-ran-once "the browser created no task"
fi
# The form's callback URL: stored, and called once with the run's outcome
# (sent after the outcome write, so it may come a little after COMPLETED).
called_back() {
	"$PY" - "$(item "$CREATED")" "$E2E_DIR/requests.jsonl" "$CREATED" <<'EOF'
import json, sys
it = json.loads(sys.argv[1]) if sys.argv[1] else {}
cbs = [r for r in map(json.loads, open(sys.argv[2])) if r["path"] == "/callback"]
ids = [dict((k.lower(), v) for k, v in r["headers"]).get("taskfleet-callback-id") for r in cbs]
sys.exit(0 if it.get("callback", "").endswith("/callback") and ids == [sys.argv[3] + "/0/completed"]
         and json.loads(cbs[0]["body"])["event"] == "completed" else 1)
EOF
}
if [ -n "$CREATED" ] && wait_until 20 called_back; then pass console-created-task-called-back; else fail console-created-task-called-back "no single callback for $CREATED"; fi
jcheck console-other-resumed-rescheduled-run-now console-other '
it["status"] == "PENDING" and "schedule" not in it and len(reqs) == 1
and reqs[0]["path"] == "/later" and it["iteration"] == 1
and [h["outcome"] for h in it["history"]] == ["success"]
and "suspend_requested" not in it'
jcheck console-failed-retried console-failed '
it["status"] == "FAILED" and len(it["errors"]) == 2 and it["attempts"] == 1
and [h["outcome"] for h in it["history"]] == ["failed", "retried", "failed"]'
if [ -n "$CREATED" ]; then
	jcheck console-created-task-has-name-and-description "$CREATED" '
it.get("name") == "Console webhook"
and it.get("description") == "Made in the console.\nSecond line."'
fi
jcheck console-other-renamed console-other 'it.get("name") == "Renamed in the console"'
stop_consumers || fail console-consumer-exit-0 "the consumer did not exit 0"
exit $e2e_failed
