#!/usr/bin/env bash
# console_limits_browser.sh - the console's limits page in a real browser
# (GitHub issue 23): Debian's Chromium, headless, driven by playwright-core
# (tests/browser/console_limits.mjs) against `taskfleet serve` on 127.0.0.1.
# No consumer runs. Three limits are set with `taskfleet limit`, and two
# holds are written on the config item as a consumer writes a host's
# Retry-After (hold:host:H, epoch ms): one for an hour, one already over.
# The browser checks the limits and the hold in force are shown as GET
# /v1/limits gives them, sets a limit, is told why a bad one is refused,
# replaces and removes limits only after a question; this script then
# checks `taskfleet limit` lists what the browser left. Screenshots go to
# $TF_TEST_OUT/console_limits/shots/ (docs/console-limits.png is one of
# them).
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init console_limits
browser_ready console-limits || exit 1

serve_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

tf_cli limit set ns:alpha --rate 20 --burst 5 >>"$E2E_DIR/limit.log" 2>&1
tf_cli limit set flow:five --in-flight 5 >>"$E2E_DIR/limit.log" 2>&1
tf_cli limit set flow:ordered --in-flight 1 --ordered >>"$E2E_DIR/limit.log" 2>&1
NOW=$($PY -c 'import time; print(int(time.time() * 1000))')
HOLD_UNTIL=$((NOW + 3600000))
$TFCHECK set "$E2E_NAME" "taskfleet config" \
    "{\"hold:host:127.0.0.1\": $HOLD_UNTIL, \"hold:host:127.0.0.2\": $((NOW - 1000))}"

KEY=console-limits-$RANDOM$RANDOM$RANDOM
start_serve console-limits "$KEY" || exit 1

CONSOLE_URL=$URL API_KEY=$KEY HOLD_KEY=host:127.0.0.1 HOLD_UNTIL=$HOLD_UNTIL \
    SHOT_DIR=$E2E_DIR/shots CHROMIUM=$CHROMIUM \
    "$TF_ROOT/infra/local/node" "$BROWSER_DIR/console_limits.mjs" | tee "$E2E_DIR/browser.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || e2e_failed=1

# The table, through the CLI: the browser set type:browser, made flow:five
# 7 in flight and removed ns:alpha; the refused flow:bad is not there.
ok=1
out=$("$TASKFLEET" limit 2>&1)
want="flow:five in_flight=7
flow:ordered in_flight=1 ordered
type:browser rate=2.5 burst=3 in_flight=4
host:127.0.0.1 held until $($PY -c "import datetime; print(datetime.datetime.fromtimestamp($HOLD_UNTIL / 1000, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % ($HOLD_UNTIL % 1000))")"
[ "$out" = "$want" ] || miss "taskfleet limit lists '$(printf %s "$out" | paste -sd'|')', want '$(printf %s "$want" | paste -sd'|')'"
verdict console-limits-store-after-changes
exit $e2e_failed
