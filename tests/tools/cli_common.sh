# cli_common.sh - the set-up the CLI test scripts share (sourced, not run):
# tests/scripts/cli.sh and cli_http.sh. Set CLI_PREFIX (the table and queue
# name prefix) before sourcing.
#
# Defines ROOT, BUILD_DIR, TF (the taskfleet binary: $TF_BUILD, else $BUILD,
# else build), PY, SUFFIX and NAME (a unique table and queue name, exported
# as TASKFLEET_TABLE and TASKFLEET_QUEUE), TMP (removed at exit), and:
#   pass NAME / fail NAME WHY   print PASS/FAIL lines; fail sets $failed
#   ok=1; ...; cond || miss WHY; ...; verdict NAME
#                               one check over several conditions: one
#                               PASS NAME, or one FAIL NAME with every reason
#                               (as in tests/tools/expect.sh)
#   h ...                       tests/tools/clitest.py: h sqs OP JSON,
#                               h ddb OP JSON (call the stand-in, print the
#                               reply), h json EXPR < lines
#   tf ARGS...                  runs the CLI: stdout in $TMP/out, stderr in
#                               $TMP/err, status in $rc
#   check EXPR                  EXPR over the JSON lines of the last stdout
#   queue_url NAME              a queue's URL
# Exits 1 (with a FAIL line) when the binary or the stand-ins are missing.

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
ROOT=$PWD
BUILD_DIR=${TF_BUILD:-$ROOT/${BUILD:-build}}
TF=$BUILD_DIR/bin/taskfleet
PY=${PYTHON:-python3}
export AWS_EC2_METADATA_DISABLED=true

failed=0
pass() { echo "PASS $1"; }
fail() {
	echo "FAIL $1: $2"
	failed=1
}
. "$(dirname "${BASH_SOURCE[0]}")/verdict.sh"

if [ ! -x "$TF" ]; then
	fail setup "$TF is missing (run make)"
	exit 1
fi
if [ -z "${AWS_ENDPOINT_URL_SQS:-}" ] || [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
	fail setup "AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_DYNAMODB must point at the stand-ins (run through tests/run)"
	exit 1
fi

SUFFIX=$$-$(date +%s%N | cut -c1-13)
NAME=tf-$CLI_PREFIX-$SUFFIX
export TASKFLEET_TABLE=$NAME TASKFLEET_QUEUE=$NAME
unset TASKFLEET_QUEUE_URL TASKFLEET_LOG
TMP=$(mktemp -d "/tmp/taskfleet-$CLI_PREFIX.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

h() { "$PY" "$ROOT/tests/tools/clitest.py" "$@"; }

rc=0
tf() {
	"$TF" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	rc=$?
}
check() { h json "$1" <"$TMP/out" >/dev/null 2>&1; }
queue_url() { h sqs GetQueueUrl "{\"QueueName\":\"$1\"}" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["QueueUrl"])'; }
