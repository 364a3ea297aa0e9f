#!/usr/bin/env bash
# console_dlq_browser.sh - the console's dead-letter queue page and the
# operations page's stats over time in a real browser (GitHub issue 25 item
# 2): Debian's Chromium, headless, driven by playwright-core
# (tests/browser/console_dlq.mjs) against `taskfleet serve` on 127.0.0.1,
# sampling the stats every second (TASKFLEET_API_STATS_EVERY=1s). No
# consumer runs: the dead-letter queue gets a live message of two tasks in
# namespace dlqA and one in dlqB, one of a task that does not exist and a
# malformed body. The browser lists them, dry-runs and redrives one, then
# all; this script then checks the dead-letter queue is empty and the task
# queue got the bodies. Screenshots go to $TF_TEST_OUT/console_dlq/shots/
# (docs/console-dlq.png and docs/console-history.png are two of them).
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init console_dlq
browser_ready console-dlq || exit 1

serve_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

for id in dlq-a1 dlq-a2; do
	tf_cli submit --ns dlqA --id "$id" --type noop >>"$E2E_DIR/submit.log" 2>&1
done
tf_cli submit --ns dlqB --id dlq-b1 --type noop >>"$E2E_DIR/submit.log" 2>&1
DLQ_URL=$($TFCHECK queue-url "$E2E_NAME-dlq")
QUEUE_URL=$($TFCHECK queue-url "$E2E_NAME")
for id in dlq-a1 dlq-a2 dlq-b1 dlq-gone; do
	$TFCHECK send "$DLQ_URL" "{\"taskId\": \"$id\", \"targetTimestamp\": null, \"gen\": 1}"
done
$TFCHECK send "$DLQ_URL" "hello, not a task"
# The task queue's own messages (one per task) are not this test's.
$TFCHECK drain "$QUEUE_URL" >/dev/null

KEY=console-dlq-$RANDOM$RANDOM$RANDOM
TASKFLEET_API_STATS_EVERY=1s start_serve console-dlq "$KEY" || exit 1

CONSOLE_URL=$URL API_KEY=$KEY LIVE_A=dlq-a1,dlq-a2 LIVE_B=dlq-b1 GONE_ID=dlq-gone \
    SHOT_DIR=$E2E_DIR/shots CHROMIUM=$CHROMIUM \
    "$TF_ROOT/infra/local/node" "$BROWSER_DIR/console_dlq.mjs" | tee "$E2E_DIR/browser.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || e2e_failed=1

# The queues: the dead-letter queue is empty, the task queue has the five
# bodies the browser moved.
ok=1
wait_until 20 sh -c "$TFCHECK queue-counts '$DLQ_URL' | grep -q '\"visible\": 0, \"inflight\": 0'" ||
    miss "the dead-letter queue still holds: $($TFCHECK queue-counts "$DLQ_URL")"
bodies=$($TFCHECK drain "$QUEUE_URL")
for id in dlq-a1 dlq-a2 dlq-b1 dlq-gone; do
	printf '%s\n' "$bodies" | grep -q "$id" || miss "$id's message is not in the task queue"
done
printf '%s\n' "$bodies" | grep -q 'hello, not a task' || miss "the malformed body is not in the task queue"
verdict console-dlq-queues-after-redrive
exit $e2e_failed
