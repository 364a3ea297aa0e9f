#!/usr/bin/env bash
# serve_valgrind.sh - `taskfleet serve` under valgrind: with API keys (one
# rate-limited), CORS and the console, it answers a round of requests
# (console files, 401, 403, list, create, get, patch, suspend, resume, run,
# retry, delete, preview, stats, openapi, 400, 404, 413, 429), stops cleanly on
# SIGTERM with exit 0, and valgrind finds no leak and no memory error.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
if ! command -v valgrind >/dev/null 2>&1; then
	fail "serve-valgrind-installed" "valgrind is missing (scripts/setup installs it)"
	exit 1
fi
e2e_init serve_valgrind
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
export TASKFLEET_API_KEYS="$(sha writer-key-0123456789):write:*,$(sha reader-key-0123456789):read:other,$(sha slow-key-0123456789):read:*:1/min:2"
export TASKFLEET_API_CORS_ORIGINS=https://console.example.com
valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
    --log-file="$E2E_DIR/valgrind.txt" \
    "$TASKFLEET" serve --listen 127.0.0.1:0 2>"$E2E_DIR/serve.log" &
vg_pid=$!
trap 'kill -KILL $vg_pid 2>/dev/null' EXIT
listening() { grep -q 'listening on http://' "$E2E_DIR/serve.log"; }
if ! wait_until 60 listening; then
	fail serve-valgrind-started "$(cat "$E2E_DIR/serve.log")"
	exit 1
fi
URL=$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$E2E_DIR/serve.log" | head -1)

# The round of requests; each line of the output is "NAME STATUS".
"$PY" - "$URL" >"$E2E_DIR/answers.txt" 2>"$E2E_DIR/client.log" <<'PYEOF'
import json, sys, urllib.error, urllib.request
base = sys.argv[1]
def ask(name, method, path, key="writer-key-0123456789", body=None, raw=None, headers=None):
    h = dict(headers or {})
    if key:
        h["Authorization"] = "Bearer " + key
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    print(name, status)
    sys.stdout.flush()
    return json.loads(text) if text[:1] in (b"{", b"[") else None
ask("console", "GET", "/", key=None)
ask("console-js", "GET", "/console/app.js", key=None)
ask("no-key", "GET", "/v1/tasks", key=None)
ask("wrong-ns", "GET", "/v1/tasks?ns=default", key="reader-key-0123456789")
ask("create", "POST", "/v1/tasks", body={"id": "vg-a", "type": "noop", "at": "+1h"})
ask("batch", "POST", "/v1/tasks", body={"tasks": [{"type": "noop", "at": "+2h"}, {"type": "noop", "every": "1h"}]},
    headers={"Idempotency-Key": "vg-batch-1"})
ask("batch-again", "POST", "/v1/tasks", body={"tasks": [{"type": "noop", "at": "+2h"}, {"type": "noop", "every": "1h"}]},
    headers={"Idempotency-Key": "vg-batch-1"})
ask("list", "GET", "/v1/tasks?ns=default&limit=2&status=PENDING")
ask("get", "GET", "/v1/tasks/vg-a")
ask("patch", "PATCH", "/v1/tasks/vg-a", body={"cron": "0 9 * * 1-5", "tz": "Europe/Berlin", "params": {"n": 1}})
ask("suspend", "POST", "/v1/tasks/vg-a/suspend")
ask("resume", "POST", "/v1/tasks/vg-a/resume")
ask("run", "POST", "/v1/tasks/vg-a/run")
ask("retry-pending", "POST", "/v1/tasks/vg-a/retry", body={"at": "+1h"})
ask("retry-bad-at", "POST", "/v1/tasks/vg-a/retry", body={"at": 5})
ask("patch-every-null", "PATCH", "/v1/tasks/vg-a", body={"cron": None})
ask("preview", "GET", "/v1/schedule/preview?cron=0%209%20*%20*%201-5&tz=Europe/Berlin&count=5")
ask("stats", "GET", "/v1/stats")
ask("openapi", "GET", "/v1/openapi.json")
ask("bad-json", "POST", "/v1/tasks", raw=b"{not json")
ask("missing", "GET", "/v1/tasks/no-such-task")
ask("too-large", "POST", "/v1/tasks", raw=b"{" + b" " * (2 * 1024 * 1024) + b"}")
ask("delete", "DELETE", "/v1/tasks/vg-a")
ask("cors-preflight", "OPTIONS", "/v1/tasks", key=None,
    headers={"Origin": "https://console.example.com", "Access-Control-Request-Method": "POST"})
for i in range(3):
    ask("slow-%d" % i, "GET", "/v1/stats", key="slow-key-0123456789")
PYEOF
want="console 200
console-js 200
no-key 401
wrong-ns 403
create 201
batch 201
batch-again 200
list 200
get 200
patch 200
suspend 200
resume 200
run 200
retry-pending 409
retry-bad-at 400
patch-every-null 200
preview 200
stats 200
openapi 200
bad-json 400
missing 404
too-large 413
delete 200
cors-preflight 204
slow-0 200
slow-1 200
slow-2 429"
if [ "$(cat "$E2E_DIR/answers.txt")" = "$want" ]; then
	pass serve-valgrind-answers
else
	fail serve-valgrind-answers "$(diff <(echo "$want") "$E2E_DIR/answers.txt" | tr '\n' ' ') $(tail -3 "$E2E_DIR/client.log")"
fi
kill -TERM "$vg_pid"
wait "$vg_pid"
status=$?
trap - EXIT
check "serve-valgrind-clean-exit-0 (status $status)" test "$status" -eq 0
check "serve-valgrind-no-leaks" grep -q "All heap blocks were freed\|definitely lost: 0 bytes" "$E2E_DIR/valgrind.txt"
check "serve-valgrind-no-errors" grep -q "ERROR SUMMARY: 0 errors" "$E2E_DIR/valgrind.txt"
exit $e2e_failed
