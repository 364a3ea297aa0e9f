#!/usr/bin/env bash
# engine_fleet_defaults.sh - the fleet-wide defaults (issue 19 item 5):
#   - TASKFLEET_DEFAULT_MAX_ATTEMPTS is written into a task created without
#     --max-attempts (submit, `taskfleet http`, POST /v1/tasks), so `get`
#     shows it; without it the built-in 3; a task's own value wins; a bad
#     value is an error before anything is written;
#   - TASKFLEET_HTTP_TIMEOUT is the time limit of a webhook whose params set
#     no timeout_ms (the consumer's http runner, at run time): a delivery to
#     a loopback receiver that answers after 3 s fails with "timeout after
#     400 ms"; a webhook with its own --timeout keeps it and succeeds; a bad
#     value stops the consumer at start-up.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init defaults
RECEIVER=$TF_ROOT/tests/tools/webhook_receiver.py
field() {
	$TFCHECK item "$E2E_NAME" "$1" |
	    $PY -c "import json,sys; print(json.load(sys.stdin).get('$2'))"
}
logged() { grep -q "$2" "$E2E_DIR/$1.log"; }

# Max attempts, through the CLI.
TASKFLEET_DEFAULT_MAX_ATTEMPTS=7 tf_cli submit --type noop --id env7 \
    --at +1h >/dev/null
tf_cli submit --type noop --id builtin --at +1h >/dev/null
TASKFLEET_DEFAULT_MAX_ATTEMPTS=7 tf_cli submit --type noop --id own2 \
    --at +1h --max-attempts 2 >/dev/null
TASKFLEET_DEFAULT_MAX_ATTEMPTS=9 tf_cli http --url http://127.0.0.1:9/x \
    --id http9 --at +1h >/dev/null
check "defaults-max-attempts-from-env" test "$(field env7 max_attempts)" = 7
check "defaults-max-attempts-builtin-3" test "$(field builtin max_attempts)" = 3
check "defaults-max-attempts-own-value-wins" test "$(field own2 max_attempts)" = 2
check "defaults-max-attempts-http-command" test "$(field http9 max_attempts)" = 9
TASKFLEET_DEFAULT_MAX_ATTEMPTS=7 "$TASKFLEET" get env7 >"$E2E_DIR/get.txt" 2>&1
check "defaults-max-attempts-get-shows-it" grep -q '^attempts *0/7$' "$E2E_DIR/get.txt"
for bad in 0 1001 x3; do
	TASKFLEET_DEFAULT_MAX_ATTEMPTS=$bad "$TASKFLEET" submit --type noop \
	    --id "bad-$bad" >"$E2E_DIR/bad-$bad.txt" 2>&1
	status=$?
	ok=1
	[ "$status" -ne 0 ] || miss "exit status 0"
	grep -q "TASKFLEET_DEFAULT_MAX_ATTEMPTS: expected a number from 1 to 1000" \
	    "$E2E_DIR/bad-$bad.txt" || miss "no message naming the variable"
	[ -z "$($TFCHECK item "$E2E_NAME" "bad-$bad")" ] || miss "a task was written"
	verdict "defaults-max-attempts-refuses-$bad"
done

# Max attempts, through the REST API.
TASKFLEET_DEFAULT_MAX_ATTEMPTS=6 "$TASKFLEET" serve --listen 127.0.0.1:0 \
    --no-auth >"$E2E_DIR/serve.log" 2>&1 &
serve_pid=$!
cleanup() { kill_consumers; kill "$serve_pid" "${receiver_pid:-}" 2>/dev/null; }
trap cleanup EXIT
check "defaults-serve-started" wait_until 20 logged serve 'listening on'
api=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$E2E_DIR/serve.log" | head -1)
curl -s -o "$E2E_DIR/post.json" -H 'Content-Type: application/json' \
    -d '{"type": "noop", "id": "api6", "at": "+1h"}' "$api/v1/tasks"
check "defaults-max-attempts-rest-api" test "$(field api6 max_attempts)" = 6
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null

# The webhook timeout, applied by the consumer's http runner.
"$PY" "$RECEIVER" --bind 127.0.0.1 --port-file "$E2E_DIR/port" \
    --log "$E2E_DIR/requests.jsonl" 2>>"$E2E_DIR/receiver.log" &
receiver_pid=$!
wait_until 10 test -s "$E2E_DIR/port" || { fail defaults-receiver "no port"; exit 1; }
A=http://127.0.0.1:$(cat "$E2E_DIR/port")
tf_cli http --id slow-default --url "$A/sleep/3000" --max-attempts 1 >/dev/null
tf_cli http --id slow-own --url "$A/sleep/1000" --timeout 5s \
    --max-attempts 1 >/dev/null
export TASKFLEET_HTTP_ALLOW=127.0.0.1
TASKFLEET_HTTP_TIMEOUT=400ms start_consumer d1 --concurrency 2
finished() {
	local s
	s=$(field "$1" status)
	[ "$s" = COMPLETED ] || [ "$s" = FAILED ]
}
ok=1
wait_until 30 finished slow-default || miss "not finished after 30 s"
[ "$(field slow-default status)" = FAILED ] || miss "status $(field slow-default status)"
field slow-default last_error | grep -q "timeout after 400 ms" ||
    miss "last_error: $(field slow-default last_error)"
verdict "defaults-http-timeout-from-env"
ok=1
wait_until 30 finished slow-own || miss "not finished after 30 s"
[ "$(field slow-own status)" = COMPLETED ] || miss "status $(field slow-own status): $(field slow-own last_error)"
verdict "defaults-http-own-timeout-kept"
check "defaults-consumer-exit-0" stop_consumers

# A bad TASKFLEET_HTTP_TIMEOUT (or the runner configuration's "timeout") is
# a start-up error.
for bad in 10 0s 16m config; do
	: >"$E2E_DIR/bad-timeout.log"
	if [ "$bad" = config ]; then
		env TASKFLEET_RUNNER_CONFIG_HTTP='{"timeout": 10}' "$CONSUMER" \
		    --id bad-timeout --wait-time 1 >"$E2E_DIR/bad-timeout.log" 2>&1 &
	else
		TASKFLEET_HTTP_TIMEOUT=$bad "$CONSUMER" --id bad-timeout \
		    --wait-time 1 >"$E2E_DIR/bad-timeout.log" 2>&1 &
	fi
	pid=$!
	exited() { ! kill -0 "$pid" 2>/dev/null; }
	ok=1
	if wait_until 20 exited; then
		wait "$pid"
		status=$?
		[ "$status" -ne 0 ] || miss "exit status 0"
	else
		kill -KILL "$pid"
		miss "still running after 20 s"
	fi
	grep -qE "TASKFLEET_HTTP_TIMEOUT|timeout must be a duration" "$E2E_DIR/bad-timeout.log" ||
	    miss "no message naming the variable: $(tail -c 300 "$E2E_DIR/bad-timeout.log")"
	verdict "defaults-http-timeout-refuses-$bad"
done

# --concurrency goes to 65536 (a run is a struct, not a thread); beyond is
# refused. A consumer started with a soft open-files limit of 1024 raises it
# to the hard limit, so a high concurrency can hold a connection per run.
"$CONSUMER" --concurrency 65537 >"$E2E_DIR/conc.log" 2>&1
check "defaults-concurrency-over-65536-refused" test $? -eq 2
hard=$(ulimit -Hn)
(ulimit -Sn 1024; exec "$CONSUMER" --id nofile --concurrency 5000 --wait-time 1) \
    >"$E2E_DIR/nofile.log" 2>&1 &
pid=$!
started() { grep -q '"msg":"consumer nofile started' "$E2E_DIR/nofile.log"; }
wait_until 20 started
soft=$(awk '/Max open files/ {print $4}' /proc/$pid/limits)
kill -TERM "$pid"; wait "$pid"
check "defaults-open-files-raised-to-hard (soft $soft, hard $hard)" test "$soft" = "$hard"
exit $e2e_failed
