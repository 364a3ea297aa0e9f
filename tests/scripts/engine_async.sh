#!/usr/bin/env bash
# engine_async.sh - runners in the asynchronous style (runner ABI 1.2,
# start()) on the consumer's event loop, end to end:
#   - runners/example/hello_later.c, built as an author would: 40 runs that
#     each wait 3 s on a host timer all wait at once with one runner thread,
#     and the consumer's threads stay few meanwhile;
#   - a run past its time limit is cancelled by the host at its deadline
#     (its timer called back at once, not after its delay) and retried;
#   - isolated (--isolate), the same runner runs in the blocking style;
#   - the http runner on the loop: 60 webhooks to a local receiver that
#     answers after 1 s are all in flight at once with one runner thread,
#     over at most --http-max-host-connections connections (the receiver's
#     distinct client ports); a redirect to a refused address is still
#     refused; a webhook past its run time limit is cancelled and retried.
#   - without --http-max-host-connections the limit is the concurrency: 200
#     slow webhooks with a timeout are each sent once, none waits for a
#     connection.
# Every target is on 127.0.0.0/8.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init async

mkdir -p "$E2E_DIR/src"
cp "$TF_ROOT/runners/example/hello_later.c" "$E2E_DIR/src/"
(cd "$E2E_DIR/src" && cc -shared -fPIC -fvisibility=hidden -I"$TF_ROOT/include" \
    -o hello_later.so hello_later.c) >"$E2E_DIR/cc.log" 2>&1
check "async-example-builds-out-of-tree" test -f "$E2E_DIR/src/hello_later.so"
export TASKFLEET_RUNNERS=$TASKFLEET_RUNNERS:$E2E_DIR/src/hello_later.so
export TASKFLEET_RETRY_BASE=200ms TASKFLEET_RETRY_CAP=1s


# count STATUS PREFIX: how many tasks whose id starts with PREFIX are STATUS.
count() {
	$TFCHECK scan "$E2E_NAME" | "$PY" -c '
import json, sys
print(sum(1 for l in sys.stdin if json.loads(l)["id"].startswith(sys.argv[2])
          and json.loads(l)["status"] == sys.argv[1]))' "$1" "$2"
}
# all_are N STATUS PREFIX: true once N tasks of PREFIX are STATUS.
all_are() { [ "$(count "$2" "$3")" -eq "$1" ]; }
# most_threads PID SECONDS: the most threads PID had, sampled every 0.2 s
# while tasks run (for SECONDS at most, until the run ends).
most_threads() {
	local pid=$1 until=$((SECONDS + $2)) most=0 n
	while [ $SECONDS -lt $until ] && [ -r "/proc/$pid/status" ]; do
		n=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
		[ -n "$n" ] && [ "$n" -gt "$most" ] && most=$n
		[ -f "$E2E_DIR/stop-sampling" ] && break
		sleep 0.2
	done
	echo "$most"
}
# sample_threads NAME SECONDS: samples the newest consumer's threads in the
# background (most_threads) into $E2E_DIR/threads-NAME until end_sampling.
sample_threads() {
	rm -f "$E2E_DIR/stop-sampling"
	most_threads "${consumer_pids[-1]}" "$2" >"$E2E_DIR/threads-$1" &
	sampler=$!
}
end_sampling() {
	touch "$E2E_DIR/stop-sampling"
	wait "$sampler"
}

# --- hello-later: 40 runs waiting 3 s each, one runner thread ---
for i in $(seq 1 40); do
	tf_cli submit --type hello-later --id "later-$i" --params '{"delay_ms": 3000}' >/dev/null
done
start_consumer a1 --concurrency 64 --runner-threads 1
sample_threads a1 30
ok=1
wait_until 30 all_are 40 COMPLETED later- || miss "completed: $(count COMPLETED later-) of 40"
end_sampling
verdict "async-example-40-runs-complete"
# Forty 3 s waits on one runner thread would take two minutes: they waited
# at once, so the greetings came within a few seconds of each other.
spread=$($TFCHECK scan "$E2E_NAME" | "$PY" -c '
import json, sys
at = [json.loads(l)["result"]["at"] for l in sys.stdin if json.loads(l)["id"].startswith("later-")]
print(max(at) - min(at) if len(at) == 40 else 10**9)')
ok=1
[ "$spread" -lt 2500 ] || miss "the greetings spread over $spread ms"
verdict "async-example-runs-wait-at-once"
threads=$(cat "$E2E_DIR/threads-a1")
ok=1
[ "$threads" -gt 0 ] && [ "$threads" -le 16 ] || miss "$threads threads"
verdict "async-example-threads-at-most-16"
check "async-example-logged" grep -q '"msg":"hello later, task later-1"' "$E2E_DIR/a1.log"
check "async-example-consumer-exit-0" stop_consumers

# --- a run past its time limit: the host cancels its timer at the deadline ---
tf_cli submit --type hello-later --id "limit-1" --params '{"delay_ms": 20000}' \
    --max-attempts 2 >/dev/null
start_consumer a2 --concurrency 4 --run-timeout hello-later=500ms
t0=$SECONDS
ok=1
wait_until 30 all_are 1 FAILED limit- || miss "status: $($TFCHECK item "$E2E_NAME" limit-1)"
took=$((SECONDS - t0))
item=$($TFCHECK item "$E2E_NAME" limit-1)
case $item in
*"run exceeded its time limit of 500 ms"*) ;;
*) miss "last error: $item" ;;
esac
# Two attempts of 0.5 s and a backoff: far below one 20 s delay.
[ "$took" -lt 15 ] || miss "took $took s"
verdict "async-time-limit-cancels-and-retries"
check "async-time-limit-consumer-exit-0" stop_consumers

# --- isolated: the blocking style, in a worker process ---
tf_cli submit --type hello-later --id "iso-1" --params '{"delay_ms": 200}' >/dev/null
start_consumer a3 --concurrency 2 --isolate hello-later
ok=1
wait_until 30 all_are 1 COMPLETED iso- || miss "status: $($TFCHECK item "$E2E_NAME" iso-1)"
case $($TFCHECK item "$E2E_NAME" iso-1) in
*'"greeting": "hello later"'*) ;;
*) miss "no greeting stored" ;;
esac
verdict "async-isolated-runs-blocking-style"
check "async-isolated-consumer-exit-0" stop_consumers

# --- the http runner on the loop ---
start_receiver 127.0.0.1
start_receiver 127.0.0.2
A=http://127.0.0.1:$PORT_1
B=http://127.0.0.2:$PORT_2
for i in $(seq 1 60); do
	tf_cli http --id "hook-$i" --url "$A/sleep/1000?n=$i" >/dev/null
done
tf_cli http --id "redirect-refused" --url "$A/redirect/302?to=$B/ok" --follow-redirects >/dev/null
tf_cli http --id "slow-limit" --url "$A/sleep/20000?slow" --max-attempts 2 >/dev/null
export TASKFLEET_HTTP_ALLOW=127.0.0.1
start_consumer a4 --concurrency 100 --runner-threads 1 --http-max-host-connections 20 \
    --run-timeout http=8s
unset TASKFLEET_HTTP_ALLOW
sample_threads a4 40
ok=1
wait_until 40 all_are 60 COMPLETED hook- || miss "completed: $(count COMPLETED hook-) of 60"
end_sampling
verdict "async-http-60-slow-webhooks-complete"
# From the receiver's side: requests answered after 1 s each, how many were
# open at once at most, and on how many connections they came.
stats=$("$PY" - "$E2E_DIR/requests-1.jsonl" <<'EOF2'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
hooks = [r for r in reqs if r["path"].startswith("/sleep/1000")]
t = sorted(r["t_ms"] for r in hooks)
most = max(sum(1 for u in t if s <= u < s + 1000) for s in t) if t else 0
print(len(hooks), most, len(set(r["conn"] for r in hooks)))
EOF2
)
read -r n_hooks most_open conns <<<"$stats"
ok=1
[ "$n_hooks" -eq 60 ] || miss "$n_hooks requests for 60 webhooks"
# One runner thread would have sent them one at a time.
[ "$most_open" -ge 15 ] || miss "at most $most_open requests open at once"
verdict "async-http-webhooks-in-flight-at-once"
ok=1
[ "$conns" -ge 1 ] && [ "$conns" -le 20 ] || miss "$conns connections for 60 requests (limit 20)"
verdict "async-http-connections-within-host-limit"
threads=$(cat "$E2E_DIR/threads-a4")
ok=1
[ "$threads" -gt 0 ] && [ "$threads" -le 16 ] || miss "$threads threads"
verdict "async-http-threads-at-most-16"
ok=1
wait_until 20 all_are 1 FAILED redirect- || miss "status: $($TFCHECK item "$E2E_NAME" redirect-refused)"
case $($TFCHECK item "$E2E_NAME" redirect-refused) in
*"refused: 127.0.0.2 is a loopback address"*) ;;
*) miss "last error: $($TFCHECK item "$E2E_NAME" redirect-refused)" ;;
esac
[ ! -s "$E2E_DIR/requests-2.jsonl" ] || miss "127.0.0.2 was reached"
verdict "async-http-redirect-to-refused-address-refused"
ok=1
wait_until 45 all_are 1 FAILED slow- || miss "status: $($TFCHECK item "$E2E_NAME" slow-limit)"
case $($TFCHECK item "$E2E_NAME" slow-limit) in
*"run exceeded its time limit of 8000 ms"*) ;;
*) miss "last error: $($TFCHECK item "$E2E_NAME" slow-limit)" ;;
esac
n_slow=$(grep -c '/sleep/20000?slow' "$E2E_DIR/requests-1.jsonl")
[ "$n_slow" -eq 2 ] || miss "$n_slow requests for 2 attempts"
verdict "async-http-time-limit-cancels-and-retries"
check "async-http-consumer-exit-0" stop_consumers

# --- the default per-host limit is the concurrency: no webhook waits for a
# connection (libcurl would count the wait against its timeout): 200 that
# answer after 2 s with a 5 s timeout are each sent once and complete. With
# a limit of 64 the last ones would wait 6 s and time out. ---
for i in $(seq 1 200); do
	tf_cli http --id "many-$i" --url "$A/sleep/2000?many=$i" --timeout 5s >/dev/null
done
TASKFLEET_HTTP_ALLOW=127.0.0.1 start_consumer a5 --concurrency 200
ok=1
wait_until 60 all_are 200 COMPLETED many- || miss "completed: $(count COMPLETED many-) of 200"
n_many=$(grep -c '/sleep/2000?many=' "$E2E_DIR/requests-1.jsonl")
[ "$n_many" -eq 200 ] || miss "$n_many requests for 200 webhooks"
verdict "async-http-default-host-limit-no-webhook-waits"
check "async-http-default-limit-consumer-exit-0" stop_consumers
exit $e2e_failed
