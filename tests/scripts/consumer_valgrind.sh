#!/usr/bin/env bash
# consumer_valgrind.sh - the consumer under valgrind: it runs a few tasks
# (success, retry, failure, a countdown chain waiting on its timer,
# webhooks to a local receiver through the http runner, noop in an
# isolated worker process; the countdown and the webhooks to 127.0.0.1
# under limits per key, so their runs wait through the limiter), shuts
# down cleanly on SIGTERM, exits 0, and valgrind finds no leak and no
# memory error.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
if ! command -v valgrind >/dev/null 2>&1; then
	fail "valgrind-installed" "valgrind is missing (scripts/setup installs it)"
	exit 1
fi
e2e_init valgrind
"$PY" "$TF_ROOT/tests/tools/webhook_receiver.py" --port-file "$E2E_DIR/port" \
    --log "$E2E_DIR/requests.jsonl" &
receiver_pid=$!
trap 'kill_consumers; kill $receiver_pid 2>/dev/null' EXIT
wait_until 10 test -s "$E2E_DIR/port"
PORT=$(cat "$E2E_DIR/port")
export TASKFLEET_HTTP_ALLOW=127.0.0.1 TASKFLEET_HTTP_SIGNING_KEYS=valgrind-key-0123456789

# A limited run's wait is allocated for it (limiter.h): freed when the run
# ends, and before each chained countdown iteration passes its limits anew.
tf_cli limit set type:countdown --in-flight 1 >/dev/null
tf_cli limit set host:127.0.0.1 --rate 100 --burst 10 >/dev/null

valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
    --log-file="$E2E_DIR/valgrind.txt" \
    "$CONSUMER" --id vg --wait-time 1 --concurrency 4 --isolate noop \
    --metrics-listen 127.0.0.1:0 \
    >"$E2E_DIR/vg.log" 2>&1 &
vg_pid=$!
sleep 3
tf_cli submit --type countdown --id vg-1 --params '{"n": 3, "every_ms": 100}' >/dev/null
# Its next iteration due 1.2 s later: a chained iteration waiting on its
# timer (process.c's struct chain_wait), made a run again when due.
tf_cli submit --type countdown --id vg-7 --params '{"n": 3, "every_ms": 1200}' >/dev/null
tf_cli submit --type fail --id vg-2 --max-attempts 1 --params '{"mode": "retry"}' >/dev/null
tf_cli submit --type noop --id vg-3 >/dev/null
tf_cli http --id vg-4 --url "http://127.0.0.1:$PORT/ok" --method POST \
    --json-body '{"a": 1}' >/dev/null
tf_cli http --id vg-5 --url "http://127.0.0.2:$PORT/ok" >/dev/null
tf_cli http --id vg-6 --url "http://127.0.0.1:$PORT/redirect/302?to=/status/201" \
    --follow-redirects >/dev/null
$TFCHECK send "$QUEUE_URL" 'not json'

settled() {
	[ "$($TFCHECK summary "$E2E_NAME")" = '{"COMPLETED": 5, "FAILED": 2}' ]
}
check "valgrind-tasks-finished" wait_until 60 settled
# The metrics server's three paths, under valgrind too.
metrics_at=$(sed -n 's/.*"metrics":"\([0-9.:]*\)".*/\1/p' "$E2E_DIR/vg.log" | head -1)
fetch() { $PY -c "import sys,urllib.request; r=urllib.request.urlopen('http://$metrics_at' + sys.argv[1], timeout=10); sys.stdout.write(r.read().decode())" "$1"; }
check "valgrind-metrics-served" grep -q '^taskfleet_runs_total' <(fetch /metrics)
check "valgrind-healthz-ok" test "$(fetch /healthz 2>/dev/null)" = ok
check "valgrind-readyz-ok" test "$(fetch /readyz 2>/dev/null)" = ok
kill -TERM "$vg_pid"
wait "$vg_pid"
status=$?
check "valgrind-clean-exit-0 (status $status)" test "$status" -eq 0
check "valgrind-chain-waited-on-its-timer" test "$(grep '"task":"vg-7"' \
    "$E2E_DIR/vg.log" | grep -c '"chained":"true"')" -eq 2
check "valgrind-limited-runs" grep -q 'limits: [1-9][0-9]* runs passed' "$E2E_DIR/vg.log"
check "valgrind-no-leaks" grep -q "All heap blocks were freed\|definitely lost: 0 bytes" "$E2E_DIR/valgrind.txt"
check "valgrind-no-errors" grep -q "ERROR SUMMARY: 0 errors" "$E2E_DIR/valgrind.txt"
check "valgrind-webhooks-delivered" test "$(grep -c '"method"' "$E2E_DIR/requests.jsonl")" -eq 3
exit $e2e_failed
