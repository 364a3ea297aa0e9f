#!/usr/bin/env bash
# engine_hold.sh - messages that come early (DelaySeconds rounds down, so a
# message arrives up to a second before its task is due) wait on a timer of
# the consumer's event loop and take no run's slot (docs/design.md section
# 12.1): a consumer with --concurrency 1 holds all eight tasks due at the
# same second at once, and runs each at its time.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init hold

start_consumer h1 --concurrency 1 --metrics-listen 127.0.0.1:0
port_of() {
	grep -o '"metrics":"[^"]*"' "$E2E_DIR/h1.log" 2>/dev/null | head -1 |
	    sed 's/.*:\([0-9]*\)"$/\1/'
}
has_port() { [ -n "$(port_of)" ]; }
check "hold-consumer-started" wait_until 20 has_port
P=$(port_of)

# Eight tasks due at one whole second, 6-7 s from now.
due=$($PY -c 'import time,datetime; t=int(time.time())+7; print(datetime.datetime.utcfromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ"))')
seq 1 8 | xargs -P 8 -I{} "$TASKFLEET" submit --type noop --id "hold-{}" \
    --at "$due" >"$E2E_DIR/submit.log" 2>&1
check "hold-submitted-8" test "$(grep -c '^hold-' "$E2E_DIR/submit.log")" -eq 8

# The most messages the consumer held at once, sampled until all ran.
most=$($PY - "$P" "$due" <<'PYEOF'
import calendar, sys, time, urllib.request
port, due = sys.argv[1], sys.argv[2]
end = calendar.timegm(time.strptime(due, "%Y-%m-%dT%H:%M:%SZ")) + 3
most = 0
while time.time() < end:
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port,
                                      timeout=2).read().decode()
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.startswith("taskfleet_messages_held "):
            most = max(most, int(float(line.split()[1])))
    time.sleep(0.05)
print(most)
PYEOF
)
check "hold-more-held-than-slots (held $most at once, --concurrency 1)" \
    test "$most" -ge 2
all_done() { [ "$($TFCHECK summary "$E2E_NAME")" = '{"COMPLETED": 8}' ]; }
check "hold-all-completed" wait_until 30 all_done
late=$($PY - "$E2E_DIR/h1.log" <<'PYEOF'
import json, sys
late = []
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if str(d.get("task", "")).startswith("hold-") and d.get("outcome") == "completed":
        late.append(int(d.get("late_ms", 99999)))
print(len(late), max(late) if late else -1, min(late) if late else -1)
PYEOF
)
set -- $late
check "hold-8-runs-logged" test "$1" = 8
# Each ran at its time, not before it, and none waited behind another.
check "hold-none-early (min late_ms $3)" test "$3" -ge 0
check "hold-each-on-time (max late_ms $2)" test "$2" -lt 1000
check "hold-consumer-exit-0" stop_consumers
exit $e2e_failed
