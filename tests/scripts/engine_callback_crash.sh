#!/usr/bin/env bash
# engine_callback_crash.sh - a completion callback survives its consumer's
# crash (docs/design.md section 13, "Callbacks that survive a crash"). The
# callback receiver (tests/tools/webhook_receiver.py, /sleep/MS) answers
# after 3 s, so consumer c1 is killed with SIGKILL after the outcome write
# and while its callback is in flight. Consumer c2 then takes the callback
# on once it is older than a lease (3 s) and than c1's attempts could have
# lasted (4 of at most 4 s, with 100, 200 and 400 ms between: 16.7 s), plus
# the lease grace, and delivers it, with the same Taskfleet-Callback-Id and
# body, and clears it from the item; a callback delivered before any crash
# is sent exactly once and cleared at once, and c2's own slow delivery is
# never taken on a second time.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
E2E_VISIBILITY=3
e2e_init cbcrash

start_receiver 127.0.0.1
A=http://127.0.0.1:$PORT_1
touch "$E2E_DIR/requests-1.jsonl"
export TASKFLEET_HTTP_ALLOW=127.0.0.1 TASKFLEET_CALLBACK_BACKOFF_MS=100 \
    TASKFLEET_CALLBACK_TIMEOUT_MS=4000
export TASKFLEET_LEASE_GRACE=500ms TASKFLEET_SWEEP_INTERVAL=500ms TASKFLEET_SWEEP_LEASE=2s
item() { $TFCHECK item "$E2E_NAME" "$1"; }
# count PATH-PREFIX: the requests the receiver saw whose path starts so.
count() { grep -c "\"path\": \"$1" "$E2E_DIR/requests-1.jsonl"; }
# jitem ID PYTHON-EXPR: the expression over it (the item) is true.
jitem() { item "$1" | $PY -c "import json,sys; it=json.load(sys.stdin); sys.exit(0 if ($2) else 1)"; }

start_consumer c1 --visibility-timeout 3
c1=${consumer_pids[0]}
tf_cli submit --type noop --id quick --callback "$A/quick" >/dev/null
quick_done() { [ "$(count /quick)" -ge 1 ] && jitem quick '"callback_pending" not in it'; }
check "cbcrash-normal-callback-cleared-once-sent" wait_until 30 quick_done

tf_cli submit --type noop --id slow --callback "$A/sleep/3000" >/dev/null
in_flight() { [ "$(count /sleep/)" -ge 1 ]; }
check "cbcrash-callback-in-flight" wait_until 30 in_flight
check "cbcrash-outcome-written-callback-pending" jitem slow \
    'it["status"] == "COMPLETED" and it["callback_pending"]["id"] == "slow/0/completed" and "due_at" in it'
kill -KILL "$c1"
wait "$c1" 2>/dev/null
consumer_pids=()
killed_ms=$($PY -c 'import time; print(int(time.time() * 1000))')

start_consumer c2 --visibility-timeout 3
delivered() { [ "$(count /sleep/)" -ge 2 ] && jitem slow '"callback_pending" not in it'; }
check "cbcrash-callback-delivered-after-the-crash" wait_until 60 delivered
# Nothing more once it is cleared (c2's own delivery took 3 s: not taken on
# again meanwhile).
check "cbcrash-no-third-delivery" test "$(count /sleep/)" -eq 2
check "cbcrash-normal-callback-sent-once" test "$(count /quick)" -eq 1
check "cbcrash-cleared-and-out-of-the-due-index" jitem slow \
    'it["status"] == "COMPLETED" and "callback_pending" not in it and "due_at" not in it and "due_shard" not in it'
if "$PY" - "$E2E_DIR/requests-1.jsonl" "$killed_ms" <<'EOF'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if '"/sleep/' in l]
h = lambda r: dict((k.lower(), v) for k, v in r["headers"]).get("taskfleet-callback-id")
ok = (len(reqs) == 2 and h(reqs[0]) == h(reqs[1]) == "slow/0/completed"
      and reqs[0]["body"] == reqs[1]["body"]
      and json.loads(reqs[1]["body"])["event"] == "completed"
      and reqs[1]["t_ms"] - reqs[0]["t_ms"] >= 16700
      and reqs[1]["t_ms"] >= int(sys.argv[2]))
if not ok:
    print([(r["t_ms"], h(r), r.get("body")) for r in reqs], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
then pass "cbcrash-same-id-and-body-a-lease-later"
else fail "cbcrash-same-id-and-body-a-lease-later" "see stderr"; fi
check "cbcrash-taken-on-logged" grep -q 'callback left pending by a consumer' "$E2E_DIR/c2.log"
check "cbcrash-consumer-exits-0" stop_consumers
exit $e2e_failed
