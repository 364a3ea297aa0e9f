#!/usr/bin/env bash
# engine_once_flag.sh - `taskfleet-consumer --once` (issue 19 item 7): run
# what is due, then exit. (engine_once.sh is about exactly-once runs.)
#   - an empty queue: exits 0 within a few seconds, summary all zero;
#   - due tasks of every outcome, a 1 h task (no message yet), two +2m tasks
#     (messages delayed), and one due a few seconds after the start: --once
#     runs exactly the due ones, once each, and exits 0 with the summary's
#     counts right; the countdown's next iteration (due at once), the retry
#     and the task that came due during the drain are handed back, visible,
#     not run; nothing stays in flight; the delayed and 1 h tasks are
#     untouched;
#   - the next --once runs what the first one left;
#   - a run whose outcome write is refused (tests/tools/ctl_proxy.py in front
#     of DynamoDB): exit 1, errors=1, the task left PROCESSING to its lease;
#     the --once after the lease ended recovers it in its sweep and runs it.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init onceflag
RECORD=$E2E_DIR/record.txt
: >"$RECORD"
export TASKFLEET_RETRY_BASE=500ms
field() {
	$TFCHECK item "$E2E_NAME" "$1" |
	    $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"
}
queue() {  # queue visible|inflight|delayed
	$TFCHECK queue-counts "$QUEUE_URL" |
	    $PY -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
summary() { grep '^taskfleet-consumer --once:' "$E2E_DIR/$1.out"; }
# once NAME [ARGS...]: runs --once in the foreground; its status in $status.
once() {
	local name=$1; shift
	"$CONSUMER" --once --id "$name" "$@" >"$E2E_DIR/$name.out" \
	    2>"$E2E_DIR/$name.log"
	status=$?
}

# An empty queue.
started=$SECONDS
once empty
ok=1
[ "$status" -eq 0 ] || miss "exit status $status"
[ $((SECONDS - started)) -le 10 ] || miss "took $((SECONDS - started)) s"
summary empty | grep -q ' runs=0 completed=0 succeeded=0 retried=0 failed=0 errors=0 left=0$' ||
    miss "summary: $(cat "$E2E_DIR/empty.out")"
verdict "once-empty-queue-exits-0-quickly"

# Due tasks of every outcome, and tasks not due.
for i in 1 2 3 4; do
	tf_cli submit --type record --id "due-$i" --params "{\"file\": \"$RECORD\"}" >/dev/null
done
tf_cli submit --type fail --id perm --params '{"mode": "permanent"}' >/dev/null
tf_cli submit --type fail --id retry --max-attempts 3 >/dev/null
tf_cli submit --type countdown --id countdown --params '{"n": 3}' >/dev/null
tf_cli submit --type sleep --id sleeper --params '{"ms": 12000}' >/dev/null
tf_cli submit --type record --id hour --at +1h --params "{\"file\": \"$RECORD\"}" >/dev/null
tf_cli submit --type record --id later-a --at +2m --params "{\"file\": \"$RECORD\"}" >/dev/null
tf_cli submit --type record --id later-b --at +2m --params "{\"file\": \"$RECORD\"}" >/dev/null
tf_cli submit --type record --id soon --at +8s --params "{\"file\": \"$RECORD\"}" >/dev/null
once first --concurrency 8
check "once-due-exits-0 (status $status)" test "$status" -eq 0
check "once-due-summary ($(summary first))" grep -q \
    ' runs=8 completed=5 succeeded=1 retried=1 failed=1 errors=0 left=3$' "$E2E_DIR/first.out"
ok=1
for i in 1 2 3 4; do
	n=$(grep -c "^due-$i " "$RECORD")
	[ "$n" -eq 1 ] || miss "due-$i ran $n times"
	[ "$(field "due-$i" status)" = COMPLETED ] || miss "due-$i $(field "due-$i" status)"
done
[ "$(field perm status)" = FAILED ] || miss "perm $(field perm status)"
[ "$(field sleeper status)" = COMPLETED ] || miss "sleeper $(field sleeper status)"
verdict "once-ran-each-due-task-once"
ok=1
[ "$(field countdown iteration)" = 1 ] || miss "countdown at iteration $(field countdown iteration)"
[ "$(field retry attempts)" = 1 ] || miss "retry has $(field retry attempts) attempts"
[ "$(field soon attempts)" = 0 ] && [ "$(field soon status)" = PENDING ] ||
    miss "soon: $(field soon status), $(field soon attempts) attempts"
verdict "once-later-work-not-run (next iteration, retry, came due)"
ok=1
for id in hour later-a later-b; do
	[ "$(field "$id" status)" = PENDING ] && [ "$(field "$id" attempts)" = 0 ] &&
	    [ "$(field "$id" iteration)" = 0 ] ||
	    miss "$id: $(field "$id" status), attempts $(field "$id" attempts)"
done
grep -qE '^(hour|later-a|later-b|soon) ' "$RECORD" && miss "a task not due ran"
verdict "once-not-due-untouched"
ok=1
[ "$(queue inflight)" = 0 ] || miss "$(queue inflight) message(s) in flight"
[ "$(queue visible)" = 3 ] || miss "$(queue visible) visible, not the 3 handed back"
[ "$(queue delayed)" = 2 ] || miss "$(queue delayed) delayed, not the 2 of +2m"
verdict "once-nothing-in-flight-held-handed-back"

# The next --once runs what the first one left (the retry may have come
# back by its end, or not: left is not checked).
once second
ok=1
[ "$status" -eq 0 ] || miss "exit status $status"
summary second | grep -q ' runs=3 completed=1 succeeded=1 retried=1 failed=0 errors=0 ' ||
    miss "summary: $(cat "$E2E_DIR/second.out")"
[ "$(grep -c '^soon ' "$RECORD")" -eq 1 ] || miss "soon ran $(grep -c '^soon ' "$RECORD") times"
[ "$(field countdown iteration)" = 2 ] || miss "countdown at iteration $(field countdown iteration)"
[ "$(queue inflight)" = 0 ] || miss "$(queue inflight) message(s) in flight"
verdict "once-next-invocation-runs-what-was-left"

# A write that fails: exit 1, and the task is not lost. A table and queue
# of its own, so that only w1 is due.
e2e_init onceflag-write
PROXY_CTL=$E2E_DIR/proxy.mode
echo pass >"$PROXY_CTL"
$PY "$TF_ROOT/tests/tools/ctl_proxy.py" "$TASKFLEET_LOCAL_DDB_PORT" "$PROXY_CTL" \
    "$E2E_DIR/proxy.port" 2>"$E2E_DIR/proxy.log" &
proxy_pid=$!
cleanup() { kill_consumers; kill "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null; }
trap cleanup EXIT
wait_until 10 test -s "$E2E_DIR/proxy.port" || { fail once-proxy "did not start"; exit 1; }
tf_cli submit --type sleep --id w1 --params '{"ms": 3000}' >/dev/null
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(cat "$E2E_DIR/proxy.port") \
    "$CONSUMER" --once --id refused --visibility-timeout 6 \
    >"$E2E_DIR/refused.out" 2>"$E2E_DIR/refused.log" &
refused_pid=$!
processing() { [ "$(field w1 status)" = PROCESSING ]; }
check "once-write-run-started" wait_until 20 processing
echo "refuse UpdateItem AccessDeniedException" >"$PROXY_CTL"
wait "$refused_pid"
status=$?
echo pass >"$PROXY_CTL"
ok=1
[ "$status" -eq 1 ] || miss "exit status $status"
summary refused | grep -q ' runs=1 .* errors=1 ' || miss "summary: $(cat "$E2E_DIR/refused.out")"
[ "$(field w1 status)" = PROCESSING ] || miss "w1 $(field w1 status)"
verdict "once-write-failed-exits-1"
lease_over() { [ "$(field w1 lease_until)" -lt "$(date +%s%3N)" ]; }
wait_until 30 lease_over
TASKFLEET_LEASE_GRACE=0s once recovered
ok=1
[ "$status" -eq 0 ] || miss "exit status $status"
[ "$(field w1 status)" = COMPLETED ] || miss "w1 $(field w1 status)"
summary recovered | grep -q ' runs=1 completed=1 ' || miss "summary: $(cat "$E2E_DIR/recovered.out")"
verdict "once-write-failed-task-recovered-by-next-once"
exit $e2e_failed
