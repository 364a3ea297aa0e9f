#!/usr/bin/env bash
# engine_http.sh - webhooks end to end, the way a user runs them: tasks made
# with `taskfleet http`, run by a consumer with the http runner, delivered to
# local receivers (tests/tools/webhook_receiver.py on 127.0.0.1 and
# 127.0.0.2). Checks the stored result, retry then success through the
# consumer, Retry-After as the earliest next attempt, a permanent failure, a
# recurring webhook, a signature verified with openssl, and a refused target
# that the allow-list does not open (nothing reaches it).
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init http
KEY=e2e-signing-key-0123456789abcdef

start_receiver 127.0.0.1
start_receiver 127.0.0.2
A=http://127.0.0.1:$PORT_1
B=http://127.0.0.2:$PORT_2

export TASKFLEET_HTTP_ALLOW=127.0.0.1 TASKFLEET_HTTP_SIGNING_KEYS=$KEY
export TASKFLEET_RETRY_BASE=200ms TASKFLEET_RETRY_CAP=1s
start_consumer h1 --concurrency 4
start_consumer h2 --concurrency 4
unset TASKFLEET_HTTP_ALLOW TASKFLEET_HTTP_SIGNING_KEYS

submit() {
	"$TASKFLEET" http "$@" >>"$E2E_DIR/submit.log" 2>&1 || fail "http-submit" "taskfleet http $*"
}
submit --id post --url "$A/ok" --method POST --header 'X-Order: 17' \
    --json-body '{"order": 17, "note": "café"}'
submit --id flaky --url "$A/flaky/e2e/2" --max-attempts 5
submit --id later --url "$A/flaky/ra/1?retry_after=3" --max-attempts 3
submit --id gone --url "$A/status/404" --max-attempts 5
submit --id refused --url "$B/ok" --max-attempts 5
submit --id every --url "$A/ok" --method PUT --body tick --every 1s --max-runs 3
submit --id redirect-refused --url "$A/redirect/302?to=$B/ok" --follow-redirects

# requests ID [N]: the requests the receiver on 127.0.0.N saw for task ID, as
# JSON lines (N defaults to 1).
requests() {
	"$PY" - "$E2E_DIR/requests-${2:-1}.jsonl" "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if dict((k.lower(), v) for k, v in r["headers"]).get("taskfleet-task-id") == sys.argv[2]:
        print(line.strip())
EOF
}
item() { $TFCHECK item "$E2E_NAME" "$1"; }  # item ID: the stored item as JSON
settled() {
	[ "$($TFCHECK summary "$E2E_NAME")" = '{"COMPLETED": 4, "FAILED": 3}' ]
}
if wait_until 60 settled; then
	pass "http-all-settled"
else
	fail "http-all-settled" "summary: $($TFCHECK summary "$E2E_NAME")"
fi
stop_consumers || fail "http-consumers-exit-0" "a consumer did not exit 0"

# jcheck NAME PYTHON-EXPR: the expression over it (item), reqs (requests of
# the task), reqs_b (requests on 127.0.0.2) must be true.
jcheck() {
	local name=$1 id=$2 expr=$3
	if "$PY" - "$(item "$id")" "$(requests "$id")" "$(requests "$id" 2)" "$expr" <<'EOF'
import json, sys
it = json.loads(sys.argv[1]) if sys.argv[1] else {}
reqs = [json.loads(l) for l in sys.argv[2].splitlines() if l]
reqs_b = [json.loads(l) for l in sys.argv[3].splitlines() if l]
h = lambda r, n: dict((k.lower(), v) for k, v in r["headers"]).get(n.lower())
ok = eval("(" + sys.argv[4] + ")")
if not ok:
    print("item:", json.dumps(it)[:1500], file=sys.stderr)
    print("requests:", [(r["method"], r["path"], h(r, "taskfleet-attempt")) for r in reqs], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
	then pass "$name"; else fail "$name" "$expr"; fi
}

jcheck http-post-delivered post '
it["status"] == "COMPLETED" and len(reqs) == 1 and reqs[0]["method"] == "POST"
and json.loads(reqs[0]["body"]) == {"order": 17, "note": "café"}
and h(reqs[0], "content-type") == "application/json" and h(reqs[0], "x-order") == "17"
and h(reqs[0], "taskfleet-attempt") == "1" and h(reqs[0], "taskfleet-iteration") == "0"'
jcheck http-post-result-stored post '
it["result"]["status"] == 200 and it["result"]["body"] == "{\"ok\":true}"
and it["result"]["headers"]["content-type"] == "application/json"
and it["result"]["duration_ms"] >= 0 and it["result"]["url"].endswith("/ok")'
jcheck http-retry-then-success flaky '
it["status"] == "COMPLETED" and [h(r, "taskfleet-attempt") for r in reqs] == ["1", "2", "3"]
and it["result"]["status"] == 200 and it["result"]["body"] == "finally"'
jcheck http-retry-after-honoured later '
it["status"] == "COMPLETED" and len(reqs) == 2 and reqs[1]["t_ms"] - reqs[0]["t_ms"] >= 2900'
jcheck http-404-fails-permanently gone '
it["status"] == "FAILED" and len(reqs) == 1 and "HTTP 404" in it.get("last_error", "")
and it["result"]["status"] == 404'
jcheck http-refused-target refused '
it["status"] == "FAILED" and "refused: 127.0.0.2 is a loopback address" in it.get("last_error", "")
and reqs_b == []'
jcheck http-redirect-to-refused-target redirect-refused '
it["status"] == "FAILED" and "refused: 127.0.0.2 is a loopback address" in it.get("last_error", "")
and len(reqs) == 1 and reqs[0]["path"].startswith("/redirect/302")'
check "http-refused-nothing-reached-127.0.0.2" test ! -s "$E2E_DIR/requests-2.jsonl"
jcheck http-recurring-webhook every '
it["status"] == "COMPLETED" and [h(r, "taskfleet-iteration") for r in reqs] == ["0", "1", "2"]
and all(r["method"] == "PUT" and r["body"] == "tick" for r in reqs)
and all(0 <= r["t_ms"] - (it["created_at"] + 1000 * k) < 5000 for k, r in enumerate(reqs))'

check "http-run-log-line-carries-the-error" grep -q '"msg":"run finished: HTTP 404"' \
    "$E2E_DIR/h1.log" "$E2E_DIR/h2.log"
check "http-get-shows-the-result" sh -c "'$TASKFLEET' get post | grep -q '^result  *{.*\"status\":200'"
check "http-get-json-has-the-result" sh -c "'$TASKFLEET' get --json post | grep -q '\"result\":{.*\"status\":200'"

# A host name that resolves to loopback, with an allow-list that opens
# 127.0.0.2 only: refused, and nothing reaches 127.0.0.1; 127.0.0.2 itself
# is reached.
before=$(wc -l <"$E2E_DIR/requests-1.jsonl")
TASKFLEET_HTTP_ALLOW=127.0.0.2 start_consumer h3 --concurrency 2
submit --id by-name --url "http://localhost:$PORT_1/ok" --max-attempts 5
submit --id allowed-b --url "$B/ok"
settled2() {
	[ "$($TFCHECK summary "$E2E_NAME")" = '{"COMPLETED": 5, "FAILED": 4}' ]
}
check "http-allow-list-phase-settled" wait_until 30 settled2
stop_consumers || fail "http-consumer-h3-exit-0" "h3 did not exit 0"
jcheck http-name-resolving-to-loopback-refused by-name '
it["status"] == "FAILED" and it.get("last_error", "").startswith("refused: ")
and "loopback" in it["last_error"]'
check "http-name-refused-nothing-reached-127.0.0.1" \
    test "$(wc -l <"$E2E_DIR/requests-1.jsonl")" -eq "$before"
jcheck http-allow-list-opens-127.0.0.2 allowed-b '
it["status"] == "COMPLETED" and len(reqs_b) == 1 and reqs_b[0]["method"] == "GET"'

# The signature, checked the way the README tells receivers to.
first=$(requests post | head -1)
ts=$("$PY" -c 'import json,sys; r=json.loads(sys.argv[1]); print(dict((k.lower(),v) for k,v in r["headers"])["taskfleet-timestamp"])' "$first")
sig=$("$PY" -c 'import json,sys; r=json.loads(sys.argv[1]); print(dict((k.lower(),v) for k,v in r["headers"])["taskfleet-signature"])' "$first")
body_file=$E2E_DIR/post-body
"$PY" -c 'import base64,json,sys; sys.stdout.buffer.write(base64.b64decode(json.loads(sys.argv[1])["body_b64"]))' "$first" >"$body_file"
expected=$( { printf '%s.' "$ts"; cat "$body_file"; } | openssl dgst -sha256 -hmac "$KEY" | sed 's/^.*= //')
check "http-signature-verifies-with-openssl" test "$sig" = "v1=$expected"
exit $e2e_failed
