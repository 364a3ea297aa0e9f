#!/usr/bin/env bash
# engine_sweep_share.sh - a fleet sweeps each due shard once (sweep leases,
# consumer/sweep_lease.h), and the number of shards is the table's:
#   - three consumers share the four sweep leases, each sweeping its part,
#     and together they query about as often as one consumer would;
#   - a consumer killed with SIGKILL loses its leases to the others within
#     about 1.5 lease times, and lost messages in every shard are sent again;
#   - the lease items are the table's own: no listing, count or get shows them;
#   - `taskfleet init --shards 32` raises the count (writers and sweepers
#     use all 32), and refuses to lower it.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
export TASKFLEET_HORIZON=10s TASKFLEET_SWEEP_INTERVAL=500ms \
    TASKFLEET_SWEEP_GRACE=2s TASKFLEET_SWEEP_LEASE=2s
e2e_init sweepshare
item() { $TFCHECK item "$E2E_NAME" "$1"; }
field() { item "$1" | $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"; }
done_() { [ "$(field "$1" status)" = COMPLETED ]; }
# leases: "OWNER LIVE" per lease item (LIVE 1 when its lease has not ended).
leases() {
	$TFCHECK internal "$E2E_NAME" | $PY -c '
import json, sys, time
now = time.time() * 1000
for line in sys.stdin:
    t = json.loads(line)
    if t["id"].startswith("taskfleet sweep "):
        print(t.get("lease_owner", "-"), int(t.get("lease_until", 0) > now))'
}
# sweeper_pages NAME: the query pages its sweeper logged at exit, and sweeps.
sweeper_numbers() { grep -o 'sweeper: [0-9]* sweep(s), [0-9]* query page(s)' "$E2E_DIR/$1.log" | tail -1 | tr -dc '0-9 ' | tr -s ' ' | sed 's/^ //'; }

# ---- Three consumers share the leases.
for c in c1 c2 c3; do start_consumer "$c" --concurrency 2; done
shared() {
	local l
	l=$(leases)
	[ "$(echo "$l" | grep -c ' 1$')" -eq 4 ] &&
	    [ "$(echo "$l" | awk '{print $1}' | sort -u | grep -c '^c[123]$')" -eq 3 ]
}
check "share-three-consumers-each-hold-a-lease" wait_until 30 shared
sleep 10  # sweeps with the leases shared
check "share-exit-0" stop_consumers
ok=1
pages_all=0; sweeps_all=0
for c in c1 c2 c3; do
	read -r sweeps pages <<<"$(sweeper_numbers "$c")"
	grep -q 'took the sweep lease' "$E2E_DIR/$c.log" || miss "$c took no lease"
	[ "${pages:-0}" -gt 0 ] || miss "$c swept nothing"
	pages_all=$((pages_all + ${pages:-0}))
	sweeps_all=$((sweeps_all + ${sweeps:-0}))
done
# A consumer's sweep reads the shards of the groups it holds: 4 or 8 of the
# 16 once the leases are shared (16 at most at the start, before it handed
# one over), so each shard once per sweep of the fleet. Every consumer
# sweeping every shard would read 16 per sweep.
[ "$sweeps_all" -gt 0 ] && [ $((pages_all * 10 / sweeps_all)) -le 110 ] ||
    miss "$pages_all query pages in $sweeps_all sweeps"
verdict "share-each-shard-swept-once ($pages_all query pages in $sweeps_all sweeps)"
# A clean stop hands the leases back: none is live now.
check "share-stop-releases-leases" test "$(leases | grep -c ' 1$')" -eq 0

# ---- Not tasks: no count, listing or get shows the lease items.
ok=1
"$TASKFLEET" --json stats >"$E2E_DIR/stats.json" 2>&1 || miss "stats failed"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["tasks"]["total"] != 0)' "$E2E_DIR/stats.json" ||
    miss "stats counts them: $(cat "$E2E_DIR/stats.json")"
[ -z "$("$TASKFLEET" list 2>/dev/null)" ] || miss "list shows them"
"$TASKFLEET" get "taskfleet sweep 0" >/dev/null 2>&1 && miss "get shows one"
[ "$($TFCHECK scan "$E2E_NAME" | wc -l)" -eq 0 ] || miss "scan of tasks not empty"
[ "$($TFCHECK internal "$E2E_NAME" | wc -l)" -eq 4 ] || miss "not 4 lease items"
verdict "share-lease-items-are-no-tasks"

# ---- A killed consumer's leases pass to the others.
for c in k1 k2 k3; do start_consumer "$c" --concurrency 2; done
three() { [ "$(leases | grep ' 1$' | awk '{print $1}' | sort -u | grep -c '^k[123]$')" -eq 3 ]; }
check "kill-three-share" wait_until 30 three
victim=$(leases | grep ' 1$' | awk '{print $1}' | sort | uniq -c | sort -rn | awk 'NR==1 {print $2}')
case $victim in k1) vi=0 ;; k2) vi=1 ;; *) vi=2 ;; esac
killed_at=$SECONDS
kill -KILL "${consumer_pids[$vi]}"
wait "${consumer_pids[$vi]}" 2>/dev/null
unset 'consumer_pids[vi]'
consumer_pids=("${consumer_pids[@]}")
taken() { l=$(leases); [ "$(echo "$l" | grep -c ' 1$')" -eq 4 ] && ! echo "$l" | grep -q "^$victim "; }
check "kill-leases-taken-over" wait_until 30 taken
check "kill-taken-over-within-seconds ($((SECONDS - killed_at)) s)" test $((SECONDS - killed_at)) -le 15
# A lost message in every shard: all sent again by the two left.
now=$(date +%s%3N)
for s in $(seq 0 15); do
	$TFCHECK put "$E2E_NAME" "{\"id\": \"lost-$s\", \"ns\": \"default\", \"type\": \"noop\", \"params\": {}, \"status\": \"PENDING\", \"completed\": false, \"gen\": 1, \"iteration\": 0, \"attempts\": 0, \"max_attempts\": 3, \"next_run\": $now, \"due_shard\": \"$s\", \"due_at\": $((now + 2000 + 10000)), \"enqueued_for\": $now}"
done
all_lost_done() { for s in $(seq 0 15); do done_ "lost-$s" || return 1; done; }
check "kill-lost-messages-in-every-shard-sent-again" wait_until 40 all_lost_done
check "kill-exit-0" stop_consumers

# ---- The shard count is the table's.
"$TASKFLEET" init >"$E2E_DIR/init-again.out" 2>&1
check "shards-default-16" grep -q ": 16 due shards" "$E2E_DIR/init-again.out"
check "shards-no-config-item-by-default" test -z "$(item 'taskfleet config')"
"$TASKFLEET" --json init --shards 32 >"$E2E_DIR/init32.json" 2>"$E2E_DIR/init32.err"
check "shards-init-32" $PY -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["shards"] != 32)' "$E2E_DIR/init32.json"
check "shards-config-item" test "$(field 'taskfleet config' shards)" = 32
"$TASKFLEET" init --shards 8 >/dev/null 2>"$E2E_DIR/init8.err"
rc=$?
check "shards-never-lowered (exit $rc)" sh -c "[ $rc -eq 1 ] && grep -q 'can only be raised' '$E2E_DIR/init8.err' && [ \"\$($TFCHECK item '$E2E_NAME' 'taskfleet config' | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"shards\"])')\" = 32 ]"
# Writers spread over all 32.
for i in $(seq 1 40); do echo "$i"; done |
    xargs -P 4 -I{} "$TASKFLEET" submit --type noop --id s32-{} --at +1h >/dev/null
high=$($TFCHECK scan "$E2E_NAME" | $PY -c '
import json, sys
s = [int(json.loads(l)["due_shard"]) for l in sys.stdin if "s32-" in l]
print(sum(x >= 16 for x in s) if s and max(s) < 32 else -1)')
check "shards-writers-use-32 ($high of 40 above 15)" test "$high" -ge 5
# A consumer sweeps all 32: a lost message in shard 31 is sent again.
now=$(date +%s%3N)
$TFCHECK put "$E2E_NAME" "{\"id\": \"lost-31\", \"ns\": \"default\", \"type\": \"noop\", \"params\": {}, \"status\": \"PENDING\", \"completed\": false, \"gen\": 1, \"iteration\": 0, \"attempts\": 0, \"max_attempts\": 3, \"next_run\": $now, \"due_shard\": \"31\", \"due_at\": $((now + 2000 + 10000)), \"enqueued_for\": $now}"
start_consumer s1 --concurrency 2
check "shards-consumer-sweeps-32" wait_until 30 done_ lost-31
check "shards-exit-0" stop_consumers
exit $e2e_failed
