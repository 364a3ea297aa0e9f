#!/usr/bin/env bash
# engine_http_targets.sh - TASKFLEET_HTTP_TARGETS end to end: tasks made with
# `taskfleet http`, run by consumers with the http runner, against two local
# receivers on 127.0.0.1 (A and B, two ports). With loopback opened by
# TASKFLEET_HTTP_ALLOW and only 127.0.0.1:A listed, a task to B, a redirect
# from A to B and a name on B's port are refused for good with an error
# naming the host and the setting, and B receives nothing; A is reached by
# address and by a name resolving to it (address entries match the address
# connected to). Then: the allow-list still applies to a listed target, a
# name that passes the check before resolving is refused at the connection,
# a malformed list stops the consumer at start, and --help names the
# setting.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init http-targets
RECEIVER=$TF_ROOT/tests/tools/webhook_receiver.py

receiver_pids=()
# listen NAME: a receiver on 127.0.0.1, logging to $E2E_DIR/NAME.jsonl, its
# port in $E2E_DIR/NAME.port.
listen() {
	"$PY" "$RECEIVER" --bind 127.0.0.1 --port-file "$E2E_DIR/$1.port" \
	    --log "$E2E_DIR/$1.jsonl" 2>>"$E2E_DIR/receiver.log" &
	receiver_pids+=($!)
	wait_until 10 test -s "$E2E_DIR/$1.port" || {
		fail targets-receiver "receiver $1 wrote no port"; exit 1; }
}
trap 'kill_consumers; kill "${receiver_pids[@]}" 2>/dev/null' EXIT
listen a
listen b
PA=$(cat "$E2E_DIR/a.port")
PB=$(cat "$E2E_DIR/b.port")

submit() {
	tf_cli http "$@" >>"$E2E_DIR/submit.log" 2>&1
}
# task ID: sets status, attempts and error to the stored task's status,
# attempts and last_error ("" when it has none).
task() {
	IFS=$'\t' read -r status attempts error < <($TFCHECK item "$E2E_NAME" "$1" |
	    "$PY" -c 'import json, sys; t = json.load(sys.stdin)
print("\t".join(str(t.get(k, "")) for k in ("status", "attempts", "last_error")))')
}
# hits NAME ID: how many requests receiver NAME logged for task ID.
hits() {
	cat "$E2E_DIR/$1.jsonl" 2>/dev/null | grep -c "\"Taskfleet-Task-Id\", \"$2\""
}
# settled JSON: the table's summary by status is JSON.
settled() {
	[ "$($TFCHECK summary "$E2E_NAME")" = "$1" ]
}
# refused ID ERROR: task ID failed for good with exactly ERROR, after one
# attempt.
refused() {
	task "$1"
	[ "$status" = FAILED ] || miss "$1 is $status, not FAILED"
	[ "$error" = "$2" ] || miss "$1's error is '$error', not '$2'"
	[ "$attempts" = 1 ] || miss "$1 had $attempts attempts, not 1"
}

check targets-help-names-the-setting \
    sh -c "'$CONSUMER' --help | grep -q 'TASKFLEET_HTTP_TARGETS=host\[:port\]'"

# A malformed list: the consumer stops at start, naming the setting and
# the entry.
TASKFLEET_HTTP_TARGETS="127.0.0.1:$PA, example.com:0" timeout 60 "$CONSUMER" \
    --id bad --wait-time 1 >"$E2E_DIR/bad.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || miss "the consumer exited with $rc"
grep -q 'TASKFLEET_HTTP_TARGETS: entry 2 \\"example.com:0\\": port must be 1 to 65535' \
    "$E2E_DIR/bad.log" || miss "no message naming the entry: $(tail -3 "$E2E_DIR/bad.log")"
verdict targets-malformed-list-stops-the-consumer

# Loopback opened, only A listed.
TASKFLEET_HTTP_ALLOW=127.0.0.1 TASKFLEET_HTTP_TARGETS="127.0.0.1:$PA" \
    start_consumer t1 --concurrency 4
submit --id to-b --url "http://127.0.0.1:$PB/ok" --max-attempts 3
submit --id redirect-to-b --follow-redirects --max-attempts 3 \
    --url "http://127.0.0.1:$PA/redirect/302?to=http://127.0.0.1:$PB/ok"
submit --id name-on-b --url "http://localhost:$PB/ok" --max-attempts 3
submit --id to-a --url "http://127.0.0.1:$PA/ok"
submit --id name-on-a --url "http://localhost:$PA/ok"
if wait_until 60 settled '{"COMPLETED": 2, "FAILED": 3}'; then
	pass targets-phase-1-settled
else
	fail targets-phase-1-settled "summary: $($TFCHECK summary "$E2E_NAME")"
fi
check targets-consumer-t1-exit-0 stop_consumers

refused to-b "refused: host \"127.0.0.1\" port $PB is not on TASKFLEET_HTTP_TARGETS"
verdict targets-unlisted-port-refused
refused redirect-to-b "refused: host \"127.0.0.1\" port $PB is not on TASKFLEET_HTTP_TARGETS"
[ "$(hits a redirect-to-b)" = 1 ] || miss "A saw $(hits a redirect-to-b) requests, not 1"
verdict targets-redirect-hop-refused
refused name-on-b "refused: host \"localhost\" port $PB is not on TASKFLEET_HTTP_TARGETS"
verdict targets-name-on-unlisted-port-refused
check targets-b-received-nothing test ! -s "$E2E_DIR/b.jsonl"
task to-a
[ "$status" = COMPLETED ] || miss "to-a is $status"
[ "$(hits a to-a)" = 1 ] || miss "A saw $(hits a to-a) requests for to-a"
verdict targets-listed-target-reached
# localhost resolves to 127.0.0.1 (listed) and perhaps ::1 (not listed,
# so not connected to): an address entry matches the address connected to.
task name-on-a
[ "$status" = COMPLETED ] || miss "name-on-a is $status"
[ "$(hits a name-on-a)" = 1 ] || miss "A saw $(hits a name-on-a) requests for name-on-a"
verdict targets-name-resolving-to-listed-address-reached

# The allow-list still applies to a listed target: 127.0.0.1 is listed but
# not opened. A name that passes the check before resolving (127.0.0.2:B is
# listed) but resolves to addresses not listed is refused at the
# connection.
TASKFLEET_HTTP_ALLOW=127.0.0.2 TASKFLEET_HTTP_TARGETS="127.0.0.1:$PA,127.0.0.2:$PB" \
    start_consumer t2 --concurrency 2
submit --id listed-not-allowed --url "http://127.0.0.1:$PA/ok" --max-attempts 3
submit --id name-to-unlisted --url "http://localhost:$PB/ok" --max-attempts 3
if wait_until 60 settled '{"COMPLETED": 2, "FAILED": 5}'; then
	pass targets-phase-2-settled
else
	fail targets-phase-2-settled "summary: $($TFCHECK summary "$E2E_NAME")"
fi
check targets-consumer-t2-exit-0 stop_consumers
refused listed-not-allowed "refused: 127.0.0.1 is a loopback address (host \"127.0.0.1\"); allow it with TASKFLEET_HTTP_ALLOW"
[ "$(hits a listed-not-allowed)" = 0 ] || miss "A saw listed-not-allowed"
verdict targets-allow-list-still-applies
task name-to-unlisted
case $error in
"refused: host \"localhost\" port $PB (address 127.0.0.1) is not on TASKFLEET_HTTP_TARGETS" | \
"refused: host \"localhost\" port $PB (address ::1) is not on TASKFLEET_HTTP_TARGETS") ;;
*) miss "name-to-unlisted's error is '$error'" ;;
esac
[ "$status" = FAILED ] || miss "name-to-unlisted is $status"
verdict targets-name-refused-at-the-connection
check targets-b-still-received-nothing test ! -s "$E2E_DIR/b.jsonl"
exit $e2e_failed
