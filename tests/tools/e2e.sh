# e2e.sh - shared helpers for the end-to-end test scripts (sourced, not run).
#
# Expects tests/run's environment: the stand-ins' AWS_ENDPOINT_URL_* and keys,
# TF_ROOT, TF_BUILD, TF_TEST_OUT. Each script gets its own table and queue.

: "${TF_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${TF_BUILD:=$TF_ROOT/build}"
: "${TF_TEST_OUT:=$TF_ROOT/tests/out}"
export AWS_EC2_METADATA_DISABLED=true
PY=${PYTHON:-/usr/bin/python3}
TASKFLEET=$TF_BUILD/bin/taskfleet
CONSUMER=$TF_BUILD/bin/taskfleet-consumer
TFCHECK="$PY $TF_ROOT/tests/tools/tfcheck.py"
e2e_failed=0
consumer_pids=()
receiver_pids=()

# The script's own output, where its result lines go: the CLI's failures are
# reported there even when the call's stdout goes elsewhere.
exec {E2E_RESULTS}>&1
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; e2e_failed=1; }

# ok=1; ...; cond || miss WHY; ...; verdict NAME: one check over several
# conditions, one PASS NAME or one FAIL NAME with every reason.
. "$TF_ROOT/tests/tools/verdict.sh"

# check NAME COMMAND...: PASS when the command succeeds.
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name" "$*"; fi
}

# tf_cli ARGS...: runs the CLI for a call whose failure the test does not
# check otherwise (a submit that sets the scene): output and status as the
# CLI's; a non-zero status is also a FAIL line on the script's output.
tf_cli() {
	local status
	"$TASKFLEET" "$@"
	status=$?
	[ "$status" -eq 0 ] ||
	    fail "cli-exit-0" "taskfleet $* exited with status $status" >&"$E2E_RESULTS"
	return "$status"
}

# Fresh table and queue names for this script, created with `taskfleet init`.
e2e_init() {
	local prefix=$1
	E2E_NAME="tf-$prefix-$$-$RANDOM"
	export TASKFLEET_TABLE=$E2E_NAME TASKFLEET_QUEUE=$E2E_NAME
	export TASKFLEET_RUNNERS=$TF_BUILD/runners:$TF_BUILD/tests/runners/record.so:$TF_BUILD/tests/runners/sleep.so
	E2E_DIR=$TF_TEST_OUT/$prefix
	rm -rf "$E2E_DIR"
	mkdir -p "$E2E_DIR"
	"$TASKFLEET" init --visibility-timeout "${E2E_VISIBILITY:-30}" \
	    >"$E2E_DIR/init.log" 2>&1 || {
		echo "FAIL $prefix-init: taskfleet init failed"; cat "$E2E_DIR/init.log"
		exit 1
	}
	QUEUE_URL=$($TFCHECK queue-url "$E2E_NAME")
}

# start_consumer NAME [ARGS...]: runs a consumer in the background.
start_consumer() {
	local name=$1; shift
	"$CONSUMER" --id "$name" --wait-time 1 "$@" >>"$E2E_DIR/$name.log" 2>&1 &
	consumer_pids+=($!)
}

# stop_consumers: SIGTERM each and wait; returns non-zero if any exit
# status was not 0, and names each such consumer on stderr. Callers check it:
# check "NAME-exit-0" stop_consumers.
stop_consumers() {
	local pid status=0 rc
	for pid in "${consumer_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${consumer_pids[@]}"; do
		wait "$pid"
		rc=$?
		if [ "$rc" -ne 0 ]; then
			echo "# consumer pid $pid exited with status $rc (logs in $E2E_DIR)" >&2
			status=1
		fi
	done
	consumer_pids=()
	return $status
}

kill_consumers() {
	local pid
	for pid in "${consumer_pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
	for pid in "${consumer_pids[@]}"; do wait "$pid" 2>/dev/null; done
	consumer_pids=()
}

# wait_until SECONDS COMMAND...: polls the command every 0.5 s.
wait_until() {
	local deadline=$((SECONDS + $1)); shift
	while [ $SECONDS -lt $deadline ]; do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}

# tasks_due N AFTER_S STEP_S TASK-JSON: N lines for `submit --file -`, task
# I (0 to N-1) due AFTER_S + I * STEP_S seconds from now: TASK-JSON (an
# object) with "at" set and its "id" formatted with I ("p-%02d").
tasks_due() {
	"$PY" - "$@" <<'EOF'
import datetime, json, sys, time
n, after, step, task = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])
t0 = time.time() + after
for i in range(n):
    at = datetime.datetime.fromtimestamp(t0 + i * step, datetime.timezone.utc)
    print(json.dumps(dict(task, id=task["id"] % i,
                          at=at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")))
EOF
}

# browser_ready PREFIX: sets BROWSER_DIR and CHROMIUM; FAIL PREFIX-browser-
# installed and non-zero when Chromium or tests/browser's npm packages are
# missing (the console's browser tests).
browser_ready() {
	BROWSER_DIR=$TF_ROOT/tests/browser
	CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
	[ -x "$CHROMIUM" ] && [ -d "$BROWSER_DIR/node_modules/playwright-core" ] && return 0
	fail "$1-browser-installed" "needs $CHROMIUM and tests/browser/node_modules (scripts/setup installs both)"
	return 1
}

# start_serve PREFIX KEY: `taskfleet serve` on 127.0.0.1 with the write key
# KEY, in the background (serve_pid); URL is its address. FAIL
# PREFIX-serve-started and non-zero when it does not listen within 10 s.
start_serve() {
	local hash
	hash=$(printf %s "$2" | sha256sum | cut -d' ' -f1)
	TASKFLEET_API_KEYS="$hash:write:*" "$TASKFLEET" serve --listen 127.0.0.1:0 \
	    2>"$E2E_DIR/serve.log" &
	serve_pid=$!
	if ! wait_until 10 grep -q 'listening on http://' "$E2E_DIR/serve.log"; then
		fail "$1-serve-started" "$(cat "$E2E_DIR/serve.log")"
		return 1
	fi
	URL=$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$E2E_DIR/serve.log" | head -1)
}

# start_receiver ADDR: a tests/tools/webhook_receiver.py on ADDR (loopback),
# logging to $E2E_DIR/requests-N.jsonl; sets PORT_N (N: ADDR's last byte).
# Stopped when the script exits.
start_receiver() {
	local addr=$1 n=${1##*.}
	"$PY" "$TF_ROOT/tests/tools/webhook_receiver.py" --bind "$addr" \
	    --port-file "$E2E_DIR/port-$n" --log "$E2E_DIR/requests-$n.jsonl" \
	    2>>"$E2E_DIR/receiver.log" &
	receiver_pids+=($!)
	wait_until 10 test -s "$E2E_DIR/port-$n" ||
	    { fail "${E2E_DIR##*/}-receiver" "no port"; exit 1; }
	eval "PORT_$n=\$(cat \"\$E2E_DIR/port-$n\")"
}

e2e_cleanup() {
	kill_consumers
	[ ${#receiver_pids[@]} -eq 0 ] || kill "${receiver_pids[@]}" 2>/dev/null
}
trap e2e_cleanup EXIT
