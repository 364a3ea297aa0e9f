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
# never taken on a second time. Killed with it: a recurring task's callback
# (every 25 s), which c2 takes on when it claims the next iteration, before
# that run's own callback replaces it; and a callback whose run's result
# makes the body longer than 64 KiB (the conf-echo test runner hands its
# 80 KB configuration back as its result), kept on the item without the
# result ("result_omitted") and so delivered again too.
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
export TASKFLEET_RUNNERS=$TASKFLEET_RUNNERS:$TF_BUILD/tests/runners/conf.so
TASKFLEET_RUNNER_CONFIG_CONF_ECHO="{\"pad\": \"$(head -c 80000 /dev/zero | tr '\0' x)\"}"
export TASKFLEET_RUNNER_CONFIG_CONF_ECHO
item() { $TFCHECK item "$E2E_NAME" "$1"; }
# count PATH-PREFIX: the requests the receiver saw whose path starts so.
count() { grep -c "\"path\": \"$1" "$E2E_DIR/requests-1.jsonl"; }
# sent ID: the requests the receiver saw with Taskfleet-Callback-Id ID.
sent() { grep -ic "\"Taskfleet-Callback-Id\", \"$1\"" "$E2E_DIR/requests-1.jsonl"; }
# jitem ID PYTHON-EXPR: the expression over it (the item) is true.
jitem() { item "$1" | $PY -c "import json,sys; it=json.load(sys.stdin); sys.exit(0 if ($2) else 1)"; }

start_consumer c1 --visibility-timeout 3
c1=${consumer_pids[0]}
tf_cli submit --type noop --id quick --callback "$A/quick" >/dev/null
quick_done() { [ "$(count /quick)" -ge 1 ] && jitem quick '"callback_pending" not in it'; }
check "cbcrash-normal-callback-cleared-once-sent" wait_until 30 quick_done

tf_cli submit --type noop --id slow --callback "$A/sleep/3000" >/dev/null
tf_cli submit --type sleep --params '{"ms": 300}' --id rec --every 25s \
    --max-runs 2 --callback "$A/sleep/3100" >/dev/null
tf_cli submit --type conf-echo --id big --callback "$A/sleep/3200" >/dev/null
in_flight() { [ "$(count /sleep/3000)" -ge 1 ] && [ "$(count /sleep/3100)" -ge 1 ] &&
    [ "$(count /sleep/3200)" -ge 1 ]; }
check "cbcrash-callback-in-flight" wait_until 30 in_flight
# Killed at once, while the receiver holds all three; the items are read
# after (nothing writes them until c2 starts).
kill -KILL "$c1"
wait "$c1" 2>/dev/null
consumer_pids=()
killed_ms=$($PY -c 'import time; print(int(time.time() * 1000))')
check "cbcrash-outcome-written-callback-pending" jitem slow \
    'it["status"] == "COMPLETED" and it["callback_pending"]["id"] == "slow/0/completed" and "due_at" in it'
check "cbcrash-recurring-callback-pending" jitem rec \
    'it["status"] == "PENDING" and it["callback_pending"]["id"] == "rec/0/success"'
check "cbcrash-big-result-callback-pending" jitem big \
    'it["status"] == "COMPLETED" and it["callback_pending"]["id"] == "big/0/completed"'

start_consumer c2 --visibility-timeout 3
delivered() { [ "$(count /sleep/3000)" -ge 2 ] && jitem slow '"callback_pending" not in it'; }
check "cbcrash-callback-delivered-after-the-crash" wait_until 60 delivered
# Nothing more once it is cleared (c2's own delivery took 3 s: not taken on
# again meanwhile).
check "cbcrash-no-third-delivery" test "$(count /sleep/3000)" -eq 2
check "cbcrash-normal-callback-sent-once" test "$(count /quick)" -eq 1
check "cbcrash-cleared-and-out-of-the-due-index" jitem slow \
    'it["status"] == "COMPLETED" and "callback_pending" not in it and "due_at" not in it and "due_shard" not in it'
if "$PY" - "$E2E_DIR/requests-1.jsonl" "$killed_ms" <<'EOF'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if '"/sleep/3000"' in l]
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

# The recurring task: iteration 0's callback once more (c2, on claiming
# iteration 1), then iteration 1's own, and nothing left on the item.
rec_done() { [ "$(sent rec/1/completed)" -ge 1 ] && jitem rec \
    'it["status"] == "COMPLETED" and "callback_pending" not in it'; }
check "cbcrash-recurring-finished-and-cleared" wait_until 60 rec_done
big_done() { [ "$(sent big/0/completed)" -ge 2 ] && jitem big '"callback_pending" not in it'; }
check "cbcrash-big-result-delivered-again-and-cleared" wait_until 60 big_done
# same_twice ID PATH PYTHON-EXPR: ID was sent exactly twice, to PATH, with
# the same body both times, the second after the kill; EXPR holds of the
# body (b).
same_twice() {
	"$PY" - "$E2E_DIR/requests-1.jsonl" "$killed_ms" "$1" "$2" "$3" <<'EOF'
import json, sys
log, killed, cid, path, expr = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
h = lambda r: dict((k.lower(), v) for k, v in r["headers"]).get("taskfleet-callback-id")
reqs = [r for r in map(json.loads, open(log)) if h(r) == cid]
b = json.loads(reqs[0]["body"]) if reqs else {}
ok = (len(reqs) == 2 and all(r["path"] == path for r in reqs)
      and reqs[0]["body"] == reqs[1]["body"] and reqs[1]["t_ms"] >= killed
      and eval(expr))
if not ok:
    print(cid, [(r["t_ms"], r["path"], len(r.get("body", ""))) for r in reqs], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
}
check "cbcrash-recurring-same-id-and-body-again" same_twice rec/0/success /sleep/3100 \
    'b["event"] == "success" and b["iteration"] == 0'
check "cbcrash-recurring-next-run-called-back-once" test "$(sent rec/1/completed)" -eq 1
check "cbcrash-big-result-same-body-without-result" same_twice big/0/completed /sleep/3200 \
    '"result" not in b and b["result_omitted"] is True and len(reqs[0]["body"]) <= 65536'
check "cbcrash-taken-on-logged" grep -q 'callback left pending by a consumer' "$E2E_DIR/c2.log"
check "cbcrash-consumer-exits-0" stop_consumers
exit $e2e_failed
