#!/usr/bin/env bash
# run_local.sh - the README's run command, scripts/run-local, the way a new
# user runs it, on stand-ins of its own (free ports, its own state folder):
# every sample task ends as the demo says it does, the web console and the
# REST API answer while it runs, and Ctrl-C's path (the EXIT trap) leaves no
# process behind. TF_DEMO_EXIT_WHEN_DONE=1 makes it return when the tasks
# have finished.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
DIR=$TF_TEST_OUT/run_local
rm -rf "$DIR"
mkdir -p "$DIR/state"

(cd "$TF_ROOT" && TASKFLEET_LOCAL_DIR=$DIR/state TASKFLEET_LOCAL_SQS_PORT=0 \
    TASKFLEET_LOCAL_DDB_PORT=0 TF_CONSOLE_PORT=0 TF_DEMO_EXIT_WHEN_DONE=1 \
    TASKFLEET_TABLE=tf-run-local-$$ TASKFLEET_QUEUE=tf-run-local-$$ \
    timeout 180 scripts/run-local >"$DIR/out.log" 2>&1) &
demo=$!

# While it runs: the console's page and the API's list of the demo's tasks.
console_url() { sed -n 's/^web console: \(http:[^ ]*\)\/ (REST.*/\1/p' "$DIR/out.log" | head -1; }
have_console() { [ -n "$(console_url)" ]; }
if wait_until 120 have_console; then
	url=$(console_url)
	check run-local-console-page sh -c "curl -sf '$url/' | grep -q '<title>taskfleet console</title>'"
	# The console starts before the sample tasks are submitted: wait for them.
	check run-local-api-lists-the-demo wait_until 60 sh -c "curl -sf '$url/v1/tasks?ns=demo&limit=50' | grep -q '\"id\":\"webhook-post\"'"
else
	fail run-local-console-started "no 'web console:' line: $(tail -5 "$DIR/out.log")"
fi
wait "$demo"
status=$?
check run-local-exit-0 test "$status" -eq 0
check run-local-all-finished grep -q '^all sample tasks have finished' "$DIR/out.log"

# The last list it printed: each sample task in the state the demo promises.
last_list() { awk '/^taskfleet list --ns demo/ { n = NR } { line[NR] = $0 } END { for (i = n; i <= NR; i++) print line[i] }' "$DIR/out.log"; }
last_list >"$DIR/last-list.txt"
expect() {  # expect ID STATUS
	check "run-local-$1-$2" grep -Eq "^$1 .*$2" "$DIR/last-list.txt"
}
expect countdown-5x2s COMPLETED
expect countdown-10x1s COMPLETED
expect noop-in-8s COMPLETED
expect flaky-webhook COMPLETED
expect always-failing FAILED
expect bad-request FAILED
expect webhook-post COMPLETED
expect webhook-every-3s COMPLETED
expect webhook-flaky COMPLETED
expect webhook-refused FAILED
# Nothing left running: the server, the stand-ins and the consumers of this
# run are gone.
sleep 1
if [ -n "${url:-}" ]; then
	check run-local-server-stopped sh -c "! curl -s -m 2 -o /dev/null '$url/'"
fi
sqs=$(sed -n 's/^ *export AWS_ENDPOINT_URL_SQS=//p' "$DIR/out.log" | tr -d "'\"" | head -1)
check run-local-standins-stopped sh -c "[ -n '$sqs' ] && ! curl -s -m 2 -o /dev/null '$sqs'"
check run-local-consumers-stopped sh -c "! pgrep -f '[t]askfleet-consumer --id demo-consumer-' >/dev/null"
exit $e2e_failed
