#!/usr/bin/env bash
# bench/lateness.sh - how late tasks start, on an idle fleet of two consumers.
#
# Submits TASKS record tasks due at random times 5 to 60 s ahead (so they go
# through SQS delays and, beyond the 15 s horizon used here, the sweeper),
# then reads each run's start time and due time from the recording runner and
# prints lateness (start - due) at p50, p99 and max. Goal: p99 <= 100 ms.
# Runs on its own stand-ins on free loopback ports; takes about 90 s.
#
#   bench/lateness.sh [TASKS]     (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${1:-200}
export AWS_EC2_METADATA_DISABLED=true
make -s -j"$(nproc)" >/dev/null
make -s check-tests >/dev/null
state=$(mktemp -d)
out=$(mktemp -d)
cleanup() {
	[ -n "${pids:-}" ] && kill -TERM $pids 2>/dev/null && wait $pids 2>/dev/null
	TASKFLEET_LOCAL_DIR=$state infra/local/down >/dev/null 2>&1 || true
	rm -rf "$state"
}
trap cleanup EXIT
eval "$(TASKFLEET_LOCAL_DIR=$state TASKFLEET_LOCAL_SQS_PORT=0 TASKFLEET_LOCAL_DDB_PORT=0 infra/local/up)"
export TASKFLEET_TABLE=bench-late TASKFLEET_QUEUE=bench-late
export TASKFLEET_RUNNERS=build/runners:build/tests/runners/record.so
export TASKFLEET_HORIZON=15s TASKFLEET_SWEEP_INTERVAL=2s
build/bin/taskfleet init >/dev/null
pids=""
for n in 1 2; do
	build/bin/taskfleet-consumer --id "late-$n" --wait-time 20 2>"$out/c$n.log" &
	pids="$pids $!"
done
record=$out/record.txt
: >"$record"
start=$(date +%s%3N)
for i in $(seq 1 "$TASKS"); do
	echo "+$((5000 + (RANDOM * 32768 + RANDOM) % 55000))ms"
done | xargs -P 8 -I{} build/bin/taskfleet submit --type record --at {} \
    --params "{\"file\": \"$record\", \"stamp\": true}" >/dev/null
deadline=$(( $(date +%s) + 120 ))
while [ "$(wc -l <"$record")" -lt "$TASKS" ] && [ "$(date +%s)" -lt "$deadline" ]; do
	sleep 1
done
awk '{ print $3 - $4 }' "$record" | sort -n >"$out/late.txt"
m=$(wc -l <"$out/late.txt")
if [ "$m" -eq 0 ]; then
	echo "no run recorded"
	exit 1
fi
pick() { sed -n "$(( ($1 * m + 99) / 100 ))p" "$out/late.txt"; }
echo "lateness of $m tasks due 5-60 s ahead, two idle consumers ($(date -u +%FT%TZ), $(uname -n), $(nproc) cores)"
echo "  p50 $(pick 50) ms   p99 $(pick 99) ms   max $(tail -n 1 "$out/late.txt") ms   min $(head -n 1 "$out/late.txt") ms   (goal: p99 <= 100 ms)"
[ "$m" -ge "$TASKS" ] || echo "  only $m of $TASKS tasks ran within the time limit"
