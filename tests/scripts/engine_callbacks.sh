#!/usr/bin/env bash
# engine_callbacks.sh - completion callbacks end to end (docs/webhooks.md,
# "Completion callbacks"): tasks made with --callback / --failure-callback
# (and in `submit --file` JSON), run by two consumers, their callbacks
# received by tests/tools/webhook_receiver.py on 127.0.0.1. Checks exactly
# one signed callback per run that succeeded and one per task that failed
# for good (none for attempts that are retried), a recurring task's one per
# iteration even with its message duplicated, a callback retried on its own
# without re-running the task, and the SSRF guard (127.0.0.2 is not on the
# allow-list: nothing reaches it, the task still completes). A run's
# callback replaces on the item an earlier one still being sent (the
# receiver takes 6 s, the next run comes 3 s later): the earlier one is
# sent once, by its consumer, and its end does not clear the later one.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init callbacks
KEY=e2e-callback-key-0123456789abcdef

start_receiver 127.0.0.1
start_receiver 127.0.0.2
A=http://127.0.0.1:$PORT_1
B=http://127.0.0.2:$PORT_2
touch "$E2E_DIR/requests-1.jsonl" "$E2E_DIR/requests-2.jsonl"

export TASKFLEET_HTTP_ALLOW=127.0.0.1 TASKFLEET_HTTP_SIGNING_KEYS=$KEY
export TASKFLEET_RETRY_BASE=200ms TASKFLEET_RETRY_CAP=1s TASKFLEET_CALLBACK_BACKOFF_MS=100
start_consumer c1 --concurrency 4
start_consumer c2 --concurrency 4
unset TASKFLEET_HTTP_ALLOW TASKFLEET_HTTP_SIGNING_KEYS

tf_cli submit --type noop --id once --callback "$A/cb/once" \
    --failure-callback "$A/fcb/once" >/dev/null
tf_cli submit --type fail --id fails --params '{"mode": "retry"}' --max-attempts 3 \
    --callback "$A/cb/fails" --failure-callback "$A/fcb/fails" >/dev/null
tf_cli submit --type noop --id every --every 1s --max-runs 3 --callback "$A/cb/every" >/dev/null
# A duplicate of the recurring task's first message, as SQS may deliver.
$TFCHECK send "$QUEUE_URL" '{"taskId": "every", "targetTimestamp": null, "gen": 1}'
# 503 twice, then 200: the callback's own retries.
tf_cli submit --type noop --id flaky --callback "$A/flaky/cbk/2" >/dev/null
tf_cli submit --type noop --id refused --callback "$B/cb/refused" >/dev/null
echo '{"type": "noop", "id": "json", "callback": "'"$A"'/cb/json"}' |
    tf_cli submit --file - >/dev/null

# A URL that is not http(s) is refused at submit, nothing written.
"$TASKFLEET" submit --type noop --id bad-url --callback "ftp://127.0.0.1/x" \
    >"$E2E_DIR/bad.out" 2>&1
rc=$?
check "cb-bad-url-refused-at-submit" test "$rc" -eq 2 -a -z "$($TFCHECK item "$E2E_NAME" bad-url)"
check "cb-bad-url-message-names-the-flag" grep -q -- '--callback: must be an http' "$E2E_DIR/bad.out"

# requests PATH-PREFIX [N]: the requests the receiver on 127.0.0.N saw
# whose path starts with PATH-PREFIX, as JSON lines.
requests() {
	"$PY" - "$E2E_DIR/requests-${2:-1}.jsonl" "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"].startswith(sys.argv[2]):
        print(line.strip())
EOF
}
count() { requests "$@" | wc -l; }
settled() {
	[ "$($TFCHECK summary "$E2E_NAME")" = '{"COMPLETED": 6, "FAILED": 1}' ] &&
	    [ "$(count /cb/once)" -ge 1 ] && [ "$(count /fcb/fails)" -ge 1 ] &&
	    [ "$(count /cb/every)" -ge 3 ] && [ "$(count /flaky/cbk)" -ge 3 ] &&
	    [ "$(count /cb/json)" -ge 1 ] && [ "$(count /sleep/6000)" -ge 2 ]
}
# Iteration 0's callback is answered 6 s after it arrived; iteration 1's,
# 3 s later, replaced it on the item meanwhile and is still held there once
# iteration 0's is over (until it is over itself, 3 s later).
tf_cli submit --type noop --id replaced --every 3s --max-runs 2 \
    --callback "$A/sleep/6000" >/dev/null
first_over_later_held() {
	grep -h 'callback delivered' "$E2E_DIR"/c[12].log | grep -q 'replaced/0/success' &&
	    $TFCHECK item "$E2E_NAME" replaced | grep -q '"replaced/1/completed"'
}
check "cb-later-run-replaces-a-pending-callback" wait_until 60 first_over_later_held
if wait_until 90 settled; then
	pass "cb-all-settled-and-called-back"
else
	fail "cb-all-settled-and-called-back" "summary: $($TFCHECK summary "$E2E_NAME"), requests: $(cat "$E2E_DIR/requests-1.jsonl" | wc -l)"
fi
# Each delivered (or refused) callback is cleared from its item, and the
# finished task has left the due index (docs/design.md section 7.1).
all_cleared() {
	local id
	for id in once fails every flaky json refused replaced; do
		$TFCHECK item "$E2E_NAME" "$id" | "$PY" -c '
import json, sys
it = json.load(sys.stdin)
sys.exit(0 if "callback_pending" not in it and "due_at" not in it else 1)' || return 1
	done
}
check "cb-callbacks-cleared-from-items" wait_until 20 all_cleared
stop_consumers || fail "cb-consumers-exit-0" "a consumer did not exit 0"

# jcheck NAME ID PATH-PREFIX PYTHON-EXPR: the expression over it (the
# task's item), reqs (the callbacks whose path starts with the prefix) and
# bodies (their JSON bodies) must be true.
jcheck() {
	local name=$1 id=$2 prefix=$3 expr=$4
	if "$PY" - "$($TFCHECK item "$E2E_NAME" "$id")" "$(requests "$prefix")" "$expr" <<'EOF'
import json, sys
it = json.loads(sys.argv[1]) if sys.argv[1] else {}
reqs = [json.loads(l) for l in sys.argv[2].splitlines() if l]
bodies = [json.loads(r["body"]) for r in reqs]
h = lambda r, n: dict((k.lower(), v) for k, v in r["headers"]).get(n.lower())
ok = eval("(" + sys.argv[3] + ")")
if not ok:
    print("item:", json.dumps(it)[:1500], file=sys.stderr)
    print("requests:", [(r["path"], h(r, "taskfleet-callback-id"), r.get("body")) for r in reqs], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
	then pass "$name"; else fail "$name" "$expr"; fi
}

jcheck cb-one-callback-for-a-completed-run once /cb/once '
it["status"] == "COMPLETED" and it["callback"].endswith("/cb/once") and len(reqs) == 1
and reqs[0]["method"] == "POST" and h(reqs[0], "content-type") == "application/json"
and bodies[0]["task_id"] == "once" and bodies[0]["event"] == "completed"
and bodies[0]["iteration"] == 0 and bodies[0]["attempt"] == 1 and bodies[0]["type"] == "noop"
and h(reqs[0], "taskfleet-callback-id") == "once/0/completed"'
check "cb-no-failure-callback-for-a-success" test "$(count /fcb/once)" -eq 0
jcheck cb-one-failure-callback-when-failed-for-good fails /fcb/fails '
it["status"] == "FAILED" and it["attempts"] >= 3 and len(reqs) == 1
and bodies[0]["event"] == "failed" and bodies[0]["attempt"] == 3
and "requested failure" in bodies[0]["error"]
and h(reqs[0], "taskfleet-callback-id") == "fails/0/failed"'
check "cb-no-callback-for-retried-or-failed-runs" test "$(count /cb/fails)" -eq 0
jcheck cb-one-callback-per-iteration every /cb/every '
it["status"] == "COMPLETED" and it["iteration"] == 3 and len(reqs) == 3
and [b["iteration"] for b in bodies] == [0, 1, 2]
and [b["event"] for b in bodies] == ["success", "success", "completed"]
and len({h(r, "taskfleet-callback-id") for r in reqs}) == 3'
jcheck cb-replaced-callback-sent-once-by-its-consumer replaced /sleep/6000 '
it["status"] == "COMPLETED" and len(reqs) == 2
and [h(r, "taskfleet-callback-id") for r in reqs] == ["replaced/0/success", "replaced/1/completed"]'
jcheck cb-retried-on-its-own-task-ran-once flaky /flaky/cbk '
it["status"] == "COMPLETED" and it["iteration"] == 1 and it["attempts"] == 0 and len(reqs) == 3
and len({h(r, "taskfleet-callback-id") for r in reqs}) == 1
and h(reqs[0], "taskfleet-callback-id") == "flaky/0/completed"
and all(reqs[i + 1]["t_ms"] - reqs[i]["t_ms"] >= 90 for i in range(2))'
jcheck cb-from-submit-file-json json /cb/json '
it["status"] == "COMPLETED" and it["callback"].endswith("/cb/json") and len(reqs) == 1
and bodies[0]["task_id"] == "json"'
jcheck cb-refused-target-task-still-completes refused /none '
it["status"] == "COMPLETED"'
check "cb-refused-nothing-reached-127.0.0.2" test ! -s "$E2E_DIR/requests-2.jsonl"
check "cb-refusal-logged" grep -q 'callback failed after 1 attempt: refused: 127.0.0.2 is a loopback' \
    "$E2E_DIR/c1.log" "$E2E_DIR/c2.log"

# Every callback is signed: HMAC-SHA256(key, "TIMESTAMP." + body), the way
# docs/webhooks.md tells receivers to check it.
if "$PY" - "$E2E_DIR/requests-1.jsonl" "$KEY" <<'EOF'
import base64, hashlib, hmac, json, sys
n = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    h = dict((k.lower(), v) for k, v in r["headers"])
    n += 1
    body = base64.b64decode(r["body_b64"])
    want = hmac.new(sys.argv[2].encode(), h.get("taskfleet-timestamp", "").encode() + b"." + body, hashlib.sha256).hexdigest()
    if h.get("taskfleet-signature") != "v1=" + want:
        bad += 1
sys.exit(0 if n >= 9 and bad == 0 else 1)
EOF
then pass "cb-every-callback-signed"; else fail "cb-every-callback-signed" "a callback without a valid signature"; fi
exit $e2e_failed
