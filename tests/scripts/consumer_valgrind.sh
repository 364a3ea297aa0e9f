#!/usr/bin/env bash
# consumer_valgrind.sh - the consumer under valgrind: it runs a few tasks
# (success, retry, failure), shuts down cleanly on SIGTERM, exits 0, and
# valgrind finds no leak and no memory error.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
if ! command -v valgrind >/dev/null 2>&1; then
	fail "valgrind-installed" "valgrind is missing (scripts/setup installs it)"
	exit 1
fi
e2e_init valgrind

valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
    --log-file="$E2E_DIR/valgrind.txt" \
    "$CONSUMER" --id vg --wait-time 1 --concurrency 4 >"$E2E_DIR/vg.log" 2>&1 &
vg_pid=$!
sleep 3
"$TASKFLEET" submit --type countdown --id vg-1 --params '{"n": 3, "every_ms": 100}' >/dev/null
"$TASKFLEET" submit --type fail --id vg-2 --max-attempts 1 --params '{"mode": "retry"}' >/dev/null
"$TASKFLEET" submit --type noop --id vg-3 >/dev/null
$TFCHECK send "$QUEUE_URL" 'not json'

settled() {
	[ "$($TFCHECK summary "$E2E_NAME")" = '{"COMPLETED": 2, "FAILED": 1}' ]
}
check "valgrind-tasks-finished" wait_until 60 settled
kill -TERM "$vg_pid"
wait "$vg_pid"
status=$?
check "valgrind-clean-exit-0 (status $status)" test "$status" -eq 0
check "valgrind-no-leaks" grep -q "All heap blocks were freed\|definitely lost: 0 bytes" "$E2E_DIR/valgrind.txt"
check "valgrind-no-errors" grep -q "ERROR SUMMARY: 0 errors" "$E2E_DIR/valgrind.txt"
exit $e2e_failed
