#!/usr/bin/env bash
# engine_countdown.sh - 1,000 countdown tasks with n = 3 through two consumers,
# with the real binaries: every task ends COMPLETED, iteration 3, n 0, and the
# queue is left empty.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init countdown
TASKS=${TF_COUNTDOWN_TASKS:-1000}

start_consumer c1 --concurrency 16
start_consumer c2 --concurrency 16

seq 1 "$TASKS" | xargs -P 8 -I{} "$TASKFLEET" submit --type countdown \
    --params '{"n": 3, "every_ms": 0}' --id "cd-{}" >"$E2E_DIR/submit.log" 2>&1
check "countdown-submitted-$TASKS" test "$(grep -c '^cd-' "$E2E_DIR/submit.log")" -eq "$TASKS"

all_done() {
	[ "$($TFCHECK summary "$E2E_NAME")" = "{\"COMPLETED\": $TASKS}" ]
}
if wait_until 240 all_done; then
	pass "countdown-all-completed"
else
	fail "countdown-all-completed" "summary: $($TFCHECK summary "$E2E_NAME")"
fi

$TFCHECK scan "$E2E_NAME" >"$E2E_DIR/items.jsonl"
bad=$($PY - "$E2E_DIR/items.jsonl" <<'PYEOF'
import json, sys
bad = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    if (t["status"] != "COMPLETED" or t["iteration"] != 3 or t["params"]["n"] != 0
            or t["completed"] is not True or "lease_owner" in t or "due_at" in t):
        bad += 1
print(bad)
PYEOF
)
check "countdown-every-item-iteration-3-n-0" test "$bad" = 0

# Both consumers did work, and the queue holds nothing once deletes land.
check "countdown-both-consumers-ran-tasks" test \
    "$(grep -c '"outcome":"completed"' "$E2E_DIR/c1.log")" -gt 0 -a \
    "$(grep -c '"outcome":"completed"' "$E2E_DIR/c2.log")" -gt 0
# One malloc arena (consumer/main.c): glibc's heap of a second arena is a
# 64 MiB reservation at a 64 MiB boundary (its used part, then the rest with
# no access), which the loop thread would have made on its first malloc.
arena_heaps() {
	$PY - "$1" <<'PYEOF'
import sys
maps = []
for line in open("/proc/%s/maps" % sys.argv[1]):
    f = line.split()
    lo, hi = (int(x, 16) for x in f[0].split("-"))
    maps.append((lo, hi, len(f) > 5))
heaps, size = 0, 64 << 20
for i, (lo, hi, named) in enumerate(maps):
    if named or lo % size:
        continue
    end = hi
    for lo2, hi2, named2 in maps[i + 1:]:
        if named2 or lo2 != end or end - lo >= size:
            break
        end = hi2
    heaps += end - lo == size
print(heaps)
PYEOF
}
check "countdown-one-malloc-arena" test "$(arena_heaps "${consumer_pids[0]}")" = 0

queue_empty() {
	[ "$($TFCHECK queue-counts "$QUEUE_URL")" = '{"visible": 0, "inflight": 0, "delayed": 0}' ]
}
check "countdown-queue-empty" wait_until 30 queue_empty
check "countdown-consumers-exit-0-on-sigterm" stop_consumers
exit $e2e_failed
