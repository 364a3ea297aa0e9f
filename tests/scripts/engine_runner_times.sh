#!/usr/bin/env bash
# engine_runner_times.sh - times a runner hands back are range-checked
# (issue 18 item 8): a new_target_timestamp or retry_after_ms outside
# 2000-01-01 .. 9999-12-31 (INT64_MAX, the year 292 million; -5 or 1, 1970)
# is refused as runner output, like params too large to store: the task ends
# FAILED at its first attempt with "runner output refused: <field> <value>
# ...", and is not parked far in the future or in the past. The last time
# allowed (9999-12-31T23:59:59.999Z) is stored as the next run. The test
# runner is tests/runners/misbehave.c.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init times
export TASKFLEET_RUNNERS=$TASKFLEET_RUNNERS:$TF_BUILD/tests/runners/misbehave.so

start_consumer t1 --concurrency 4
submit_mode() {
	tf_cli submit --type misbehave --id "times-$1" --max-attempts 3 \
	    --params "{\"mode\": \"$1\"}" >/dev/null
}
for m in target_max target_negative target_one retry_max target_last; do
	check "times-submit-$m" submit_mode "$m"
done

item() { $TFCHECK item "$E2E_NAME" "$1"; }
# field ID EXPR: a Python expression on the item t, printed.
field() { item "$1" | $PY -c "import json,sys; t=json.load(sys.stdin); print($2)"; }
settled() {
	local m
	for m in target_max target_negative target_one retry_max; do
		[ "$(field "times-$m" 't.get("status")')" = FAILED ] || return 1
	done
	[ "$(field times-target_last 't.get("iteration")')" = 1 ]
}
check "times-settled" wait_until 60 settled

for pair in "target_max|new_target_timestamp 9223372036854775807" \
    "target_negative|new_target_timestamp -5" \
    "target_one|new_target_timestamp 1" \
    "retry_max|retry_after_ms 9223372036854775807"; do
	m=${pair%%|*}
	want="runner output refused: ${pair#*|} is not a time from 2000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z"
	got=$(field "times-$m" 't.get("status"), t.get("attempts"), t.get("last_error")')
	case "$got" in
	"FAILED 1 $want"*) pass "times-$m-refused-at-first-attempt" ;;
	*) fail "times-$m-refused-at-first-attempt" "$got (want FAILED 1 \"$want\")" ;;
	esac
done
check "times-last-allowed-stored" test \
    "$(field times-target_last 't.get("status"), t.get("next_run")')" = "PENDING 253402300799999"
check "times-consumer-exit-0" stop_consumers
exit $e2e_failed
