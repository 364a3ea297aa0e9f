#!/usr/bin/env bash
# console_ops_browser.sh - the console's operations page in a real browser
# (GitHub issue 25): Debian's Chromium, headless, driven by playwright-core
# (tests/browser/console_ops.mjs) against `taskfleet serve` on 127.0.0.1.
# No consumer runs, so the tasks made here stay due: three in namespace
# opsA (and one due in an hour), two in opsB, one suspended in opsB, and two
# messages in the dead-letter queue. The browser checks the counts and
# depths, the due tasks, and clears opsB; this script then checks the store
# holds opsA's tasks and none of opsB's. Screenshots go to
# $TF_TEST_OUT/console_ops/shots/ (docs/console-ops.png is one of them).
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init console_ops
browser_ready console-ops || exit 1

serve_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

DUE_A= DUE_B=
for i in 1 2 3; do
	tf_cli submit --ns opsA --id "ops-a$i" --type noop >>"$E2E_DIR/submit.log" 2>&1
	DUE_A=$DUE_A${DUE_A:+,}ops-a$i
done
for i in 1 2; do
	tf_cli submit --ns opsB --id "ops-b$i" --type noop >>"$E2E_DIR/submit.log" 2>&1
	DUE_B=$DUE_B${DUE_B:+,}ops-b$i
done
tf_cli submit --ns opsA --id ops-later --type noop --at +1h >>"$E2E_DIR/submit.log" 2>&1
tf_cli submit --ns opsB --id ops-held --type noop --at +1h >>"$E2E_DIR/submit.log" 2>&1
tf_cli suspend ops-held >>"$E2E_DIR/submit.log" 2>&1
DLQ_URL=$($TFCHECK queue-url "$E2E_NAME-dlq")
for i in 1 2; do $TFCHECK send "$DLQ_URL" "{\"id\": \"gone-$i\", \"gen\": 1}"; done

KEY=console-ops-$RANDOM$RANDOM$RANDOM
start_serve console-ops "$KEY" || exit 1

CONSOLE_URL=$URL API_KEY=$KEY DUE_A=$DUE_A DUE_B=$DUE_B LATER_ID=ops-later DLQ_DEPTH=2 \
    SHOT_DIR=$E2E_DIR/shots CHROMIUM=$CHROMIUM \
    "$TF_ROOT/infra/local/node" "$BROWSER_DIR/console_ops.mjs" | tee "$E2E_DIR/browser.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || e2e_failed=1

# The store: opsB is gone (the suspended task too), opsA is whole.
ok=1
for id in ops-b1 ops-b2 ops-held; do
	[ -z "$($TFCHECK item "$E2E_NAME" "$id")" ] || miss "$id is still in the table"
done
for id in ops-a1 ops-a2 ops-a3 ops-later; do
	[ -n "$($TFCHECK item "$E2E_NAME" "$id")" ] || miss "$id was deleted"
done
verdict console-ops-store-after-clear
exit $e2e_failed
