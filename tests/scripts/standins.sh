#!/usr/bin/env bash
# tests/scripts/standins.sh - checks infra/local: up/down/restart and the
# patched behaviour of the SQS and DynamoDB stand-ins.
#
# Starts its own two stacks on free ports in a temporary TASKFLEET_LOCAL_DIR
# (never the suite's stack) and stops them at the end. Prints one line per
# check, "PASS name" or "FAIL name: why"; exits 1 if any failed. About 15 s.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
L=$ROOT/infra/local
export AWS_EC2_METADATA_DISABLED=true
# The suite's stack must not leak into these checks.
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_DYNAMODB TASKFLEET_LOCAL_DDB_PATH
export TASKFLEET_LOCAL_SQS_PORT=0 TASKFLEET_LOCAL_DDB_PORT=0

failed=0
pass() { echo "PASS $1"; }
fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}

T=$(mktemp -d /tmp/taskfleet-standins.XXXXXX)
A=$T/stack-a
B=$T/stack-b
cleanup() {
	TASKFLEET_LOCAL_DIR=$A "$L/down" >/dev/null 2>&1
	TASKFLEET_LOCAL_DIR=$B "$L/down" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT

# alive PID NAME: PID is a running stand-in launcher for NAME
alive() {
	[ -r "/proc/$1/cmdline" ] && tr '\0' '\n' <"/proc/$1/cmdline" | grep -qx "$L/$2-server.js"
}
answers() { "$L/node" "$L/probe.js" "$1" "$2" "${3:-5}" 2>/dev/null; }
# listen_addrs PORT: the local addresses (hex, as in /proc/net/tcp*) listening on PORT
listen_addrs() {
	local hex
	hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$hex" '$4 == "0A" { split($2, a, ":"); if (a[2] == p) print a[1] }'
}

# ---- stack A: in-flight limit 50 (check 3), DynamoDB on disk (restart check)
if ! TASKFLEET_LOCAL_DIR=$A TASKFLEET_LOCAL_DDB_PATH=$T/ddb-data LOCAL_SQS_INFLIGHT_LIMIT=50 \
	"$L/up" >"$T/a.out" 2>"$T/a.err"; then
	fail "up starts a stack" "exit $?: $(tail -n 5 "$T/a.err" | tr '\n' ' ')"
	echo "$failed failed checks"
	exit 1
fi
pass "up starts a stack (installing the npm packages if needed)"

if grep -q 'taskfleet-patch v1' "$L/node_modules/local-aws-sqs/dist/index.js"; then
	pass "the local-aws-sqs patch is applied"
else
	fail "the local-aws-sqs patch is applied" "no marker in node_modules/local-aws-sqs/dist/index.js"
fi

bad=$(grep -v "^export [A-Z_][A-Z0-9_]*='[^']*'\$" "$T/a.out" || true)
missing=""
for v in AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_DYNAMODB AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
	AWS_EC2_METADATA_DISABLED TASKFLEET_LOCAL_SQS_PORT TASKFLEET_LOCAL_DDB_PORT TASKFLEET_LOCAL_DIR; do
	grep -q "^export $v=" "$T/a.out" || missing="$missing $v"
done
if [ -z "$bad" ] && [ -z "$missing" ]; then
	pass "up prints only quoted export lines, all nine variables"
else
	fail "up prints only quoted export lines, all nine variables" "unexpected: ${bad:0:200}; missing:$missing"
fi

# Reads the exports of a stack into A_SQS, A_DDB... without touching our env.
read_exports() { # FILE PREFIX
	local sqs ddb dir url_sqs url_ddb
	read -r sqs ddb dir url_sqs url_ddb < <(
		# shellcheck disable=SC1090
		. "$1" && echo "$TASKFLEET_LOCAL_SQS_PORT $TASKFLEET_LOCAL_DDB_PORT $TASKFLEET_LOCAL_DIR $AWS_ENDPOINT_URL_SQS $AWS_ENDPOINT_URL_DYNAMODB"
	)
	printf -v "${2}_SQS" %s "$sqs"
	printf -v "${2}_DDB" %s "$ddb"
	printf -v "${2}_DIR" %s "$dir"
	printf -v "${2}_URL_SQS" %s "$url_sqs"
	printf -v "${2}_URL_DDB" %s "$url_ddb"
}
read_exports "$T/a.out" A

if [ "$A_SQS" -gt 0 ] 2>/dev/null && [ "$A_DDB" -gt 0 ] 2>/dev/null && [ "$A_SQS" != "$A_DDB" ] &&
	[ "$A_URL_SQS" = "http://127.0.0.1:$A_SQS" ] && [ "$A_URL_DDB" = "http://127.0.0.1:$A_DDB" ] &&
	[ "$A_DIR" = "$(cd "$A" && pwd -P)" ]; then
	pass "port 0 gives two distinct free ports, and the URLs and dir match"
else
	fail "port 0 gives two distinct free ports, and the URLs and dir match" "sqs=$A_SQS ddb=$A_DDB $A_URL_SQS $A_URL_DDB $A_DIR"
fi
if answers sqs "$A_SQS" && answers ddb "$A_DDB"; then
	pass "both stand-ins answer ListQueues and ListTables"
else
	fail "both stand-ins answer ListQueues and ListTables" "no answer on $A_SQS/$A_DDB"
fi
addrs=$( (listen_addrs "$A_SQS"; listen_addrs "$A_DDB") | sort -u | tr '\n' ' ')
if [ "$addrs" = "0100007F " ]; then
	pass "the stand-ins listen on 127.0.0.1 only"
else
	fail "the stand-ins listen on 127.0.0.1 only" "listening addresses (hex): $addrs"
fi

A_SQS_PID=$(cat "$A/sqs.pid")
A_DDB_PID=$(cat "$A/ddb.pid")
if TASKFLEET_LOCAL_DIR=$A "$L/up" >"$T/a2.out" 2>/dev/null && cmp -s "$T/a.out" "$T/a2.out" &&
	[ "$(cat "$A/sqs.pid")" = "$A_SQS_PID" ] && [ "$(cat "$A/ddb.pid")" = "$A_DDB_PID" ]; then
	pass "up is idempotent: same exports, same processes"
else
	fail "up is idempotent: same exports, same processes" "$(diff "$T/a.out" "$T/a2.out" | head -n 4 | tr '\n' ' ')"
fi

# ---- stack B side by side
if TASKFLEET_LOCAL_DIR=$B "$L/up" >"$T/b.out" 2>"$T/b.err"; then
	read_exports "$T/b.out" B
	ports=$(printf '%s\n' "$A_SQS" "$A_DDB" "$B_SQS" "$B_DDB" | sort -u | wc -l)
	if [ "$ports" -eq 4 ] && answers sqs "$B_SQS" && answers ddb "$B_DDB" && answers sqs "$A_SQS"; then
		pass "a second stack runs side by side on other ports"
	else
		fail "a second stack runs side by side on other ports" "ports $A_SQS $A_DDB $B_SQS $B_DDB"
	fi
	B_SQS_PID=$(cat "$B/sqs.pid")
	B_DDB_PID=$(cat "$B/ddb.pid")
	TASKFLEET_LOCAL_DIR=$B "$L/down" 2>/dev/null
	if ! alive "$B_SQS_PID" sqs && ! alive "$B_DDB_PID" ddb && [ ! -e "$B/sqs.pid" ] && [ ! -e "$B/ddb.pid" ] &&
		alive "$A_SQS_PID" sqs && alive "$A_DDB_PID" ddb && answers sqs "$A_SQS" && answers ddb "$A_DDB"; then
		pass "down stops exactly its stack's processes and leaves the other stack running"
	else
		fail "down stops exactly its stack's processes and leaves the other stack running" \
			"B pids $B_SQS_PID $B_DDB_PID, A pids $A_SQS_PID $A_DDB_PID"
	fi
	if TASKFLEET_LOCAL_DIR=$B "$L/down" 2>/dev/null; then
		pass "down is idempotent"
	else
		fail "down is idempotent" "second down exited $?"
	fi
else
	fail "a second stack runs side by side on other ports" "up failed: $(tail -n 3 "$T/b.err" | tr '\n' ' ')"
fi

# ---- the API checks (patched SQS behaviour, launcher robustness, dynalite)
"$L/node" "$L/test/check-patched.mjs" all "$A_SQS" "$A_DDB" >"$T/api.out" 2>&1
grep -E '^(PASS|FAIL) ' "$T/api.out"
failed=$((failed + $(grep -c '^FAIL ' "$T/api.out")))
if [ "$(grep -cE '^(PASS|FAIL) ' "$T/api.out")" -lt 11 ]; then
	fail "the API checks ran" "$(grep -vE '^(PASS|FAIL) ' "$T/api.out" | tail -n 5 | tr '\n' ' ')"
fi

# ---- restarts on the same port
run_api() { # prints the check's lines and counts its failures
	local out
	out=$("$L/node" "$L/test/check-patched.mjs" "$@" 2>&1)
	echo "$out" | grep -E '^(PASS|FAIL) '
	echo "$out" | grep -qE '^PASS ' || fail "check-patched.mjs $1" "$(echo "$out" | tail -n 3 | tr '\n' ' ')"
	failed=$((failed + $(echo "$out" | grep -c '^FAIL ')))
}
run_api ddb-seed "$A_DDB" tf-restart-table
if TASKFLEET_LOCAL_DIR=$A "$L/restart" ddb 2>"$T/r.err" && [ "$(cat "$A/ddb.port")" = "$A_DDB" ] &&
	! alive "$A_DDB_PID" ddb && answers ddb "$A_DDB"; then
	pass "restart ddb comes back on the same port with a new process"
else
	fail "restart ddb comes back on the same port with a new process" "$(tail -n 3 "$T/r.err" | tr '\n' ' ')"
fi
run_api ddb-verify "$A_DDB" tf-restart-table

run_api sqs-seed "$A_SQS" tf-restart-queue
if TASKFLEET_LOCAL_DIR=$A "$L/restart" sqs 2>"$T/r.err" && [ "$(cat "$A/sqs.port")" = "$A_SQS" ] &&
	! alive "$A_SQS_PID" sqs && answers sqs "$A_SQS"; then
	pass "restart sqs comes back on the same port with a new process"
else
	fail "restart sqs comes back on the same port with a new process" "$(tail -n 3 "$T/r.err" | tr '\n' ' ')"
fi
run_api sqs-verify "$A_SQS" tf-restart-queue

# ---- down
A_SQS_PID=$(cat "$A/sqs.pid")
A_DDB_PID=$(cat "$A/ddb.pid")
TASKFLEET_LOCAL_DIR=$A "$L/down" 2>/dev/null
if ! alive "$A_SQS_PID" sqs && ! alive "$A_DDB_PID" ddb && ! answers sqs "$A_SQS" 0 && [ ! -e "$A/sqs.pid" ]; then
	pass "down stops the stack"
else
	fail "down stops the stack" "pids $A_SQS_PID $A_DDB_PID still there"
fi

[ "$failed" -eq 0 ]
