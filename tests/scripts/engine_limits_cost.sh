#!/usr/bin/env bash
# engine_limits_cost.sh - what a rate limit that holds runs back costs in
# requests (issue 23, docs/design.md section 14): one consumer, ns:paced
# limited to 10 runs/s (burst 1), 60 tasks coming due 50 ms apart (twice
# the rate, so a backlog builds). A run that finds no reserved start slot
# waits for a reservation; one is put off while this consumer's last
# reserved slot is more than 250 ms ahead, so the runs that come meanwhile
# share one request. Checked through the real binaries and the recording
# runner: all 60 ran, at most 11 started in any 1 s window, and the limiter
# (its count in the consumer's log at stop) made at most 0.5 requests a run
# (each arrival reserving for itself makes about one).
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init limits_cost
RECORD=$E2E_DIR/record.txt
: >"$RECORD"
tf_cli limit set ns:paced --rate 10 --burst 1 >/dev/null
start_consumer c1
# Due 50 ms apart from 2 s on, all written before the first is due.
tasks_due 60 2 0.05 '{"id": "p-%02d", "type": "record", "ns": "paced",
    "params": {"stamp": true, "file": "'"$RECORD"'"}}' |
    tf_cli submit --file - >"$E2E_DIR/submit.log" 2>&1
all_ran() { [ "$(grep -c '^p-' "$RECORD")" -ge 60 ]; }
check "limits-cost-all-60-ran" wait_until 60 all_ran
most=$($PY - "$RECORD" <<'PYEOF'
import sys
starts = sorted(int(l.split()[2]) for l in open(sys.argv[1]) if l.startswith("p-"))
lo = most = 0
for hi, t in enumerate(starts):
    while starts[lo] <= t - 1000:
        lo += 1
    most = max(most, hi - lo + 1)
print(most)
PYEOF
)
check "limits-cost-rate-held (most starts in 1 s: $most)" test "$most" -le 11
check "limits-cost-consumer-exit-0" stop_consumers
set -- $(sed -n "s/.*limits: \([0-9]*\) runs passed their keys' limits with \([0-9]*\) requests.*/\1 \2/p" "$E2E_DIR/c1.log")
check "limits-cost-at-most-0.5-requests-a-run (${2:-?} requests for ${1:-?} runs)" \
    test "${1:-0}" -ge 60 -a "$((${2:-999} * 2))" -le "${1:-0}"
exit $e2e_failed
