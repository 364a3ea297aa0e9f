#!/usr/bin/env bash
# cli_init.sh - `taskfleet init` on what already exists: a table made without
# the indexes (as the original scheduler's Terraform makes it) gets them and
# TTL, and init says so; a second init changes nothing; a refused TTL and TTL
# on another attribute are errors, never success; a queue deleted less than
# 60 s ago is explained, not reported as "not found".
set -u
. "$(dirname "$0")/../tools/e2e.sh"
N="tf-init-$$-$RANDOM"
D=$TF_TEST_OUT/cli_init
rm -rf "$D"
mkdir -p "$D"
proxy_pid=
cleanup() { [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null; }
trap cleanup EXIT
# init NAME [ENV...]: runs init for table and queue NAME; $D/NAME.out, .err, .rc
init() {
	local name=$1; shift
	env "$@" "$TASKFLEET" --table "$name" --queue "$name" init \
	    >"$D/$name.out" 2>"$D/$name.err"
	echo $? >"$D/$name.rc"
}
rc_is() { [ "$(cat "$D/$1.rc")" = "$2" ]; }

# ---- a table with only the key gets both indexes and TTL
T=$N-legacy
$TFCHECK create-legacy-table "$T"
init "$T"
check "init-legacy-table-exit-0" rc_is "$T" 0
check "init-says-by_due-added" grep -qx "table $T: index by_due added" "$D/$T.out"
check "init-says-by_ns-added" grep -qx "table $T: index by_ns added" "$D/$T.out"
check "init-says-ttl-enabled" grep -qx "table $T: TTL on the attribute ttl enabled" "$D/$T.out"
check "init-indexes-active" test "$($TFCHECK indexes "$T" | sort | tr '\n' ' ')" = "by_due ACTIVE by_ns ACTIVE "
check "init-says-it-waits" grep -q "adding the index by_due; waiting" "$D/$T.err"
"$TASKFLEET" --table "$T" --queue "$T" --json init >"$D/again.json" 2>"$D/again.err"
check "init-again-changes-nothing" $PY -c '
import json, sys
o = json.load(open(sys.argv[1]))
sys.exit(0 if o["indexes_added"] == [] and not o["ttl_enabled"] and not o["table_created"] else 1)' "$D/again.json"
check "init-list-works-after" "$TASKFLEET" --table "$T" --queue "$T" list

# ---- TTL already on another attribute: DynamoDB allows one, so init fails
T2=$N-ttl
$TFCHECK create-legacy-table "$T2"
$TFCHECK enable-ttl "$T2" expires_at
init "$T2"
check "init-ttl-other-attribute-exit-1" rc_is "$T2" 1
check "init-ttl-other-attribute-says-why" grep -q 'TTL of the table .* is on the attribute "expires_at", not "ttl"' "$D/$T2.err"

# ---- UpdateTimeToLive refused (a ValidationException, as a DynamoDB that
# lacks the operation answers): reported, exit 1
CTL=$D/proxy.mode
echo "refuse UpdateTimeToLive ValidationException" >"$CTL"
$PY "$TF_ROOT/tests/tools/ctl_proxy.py" "$TASKFLEET_LOCAL_DDB_PORT" "$CTL" \
    "$D/proxy.port" 2>"$D/proxy.log" &
proxy_pid=$!
proxy_up() { [ -s "$D/proxy.port" ]; }
wait_until 10 proxy_up || { echo "FAIL init-proxy: did not start"; exit 1; }
T3=$N-refused
init "$T3" AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$(cat "$D/proxy.port")"
check "init-ttl-refused-exit-1" rc_is "$T3" 1
check "init-ttl-refused-says-what" grep -q "enabling TTL on the attribute ttl of the table $T3: .*ValidationException: injected" "$D/$T3.err"
check "init-ttl-refused-was-asked" grep -q "^refuse 1$" "$CTL.counts"

# ---- a queue deleted a moment ago: SQS refuses the name for 60 s
Q=$N-q
init "$Q"
$TFCHECK delete-queue "$($TFCHECK queue-url "$Q")"
init "$Q"
check "init-deleted-queue-exit-1" rc_is "$Q" 1
check "init-deleted-queue-says-60s" grep -q "SQS refuses to create a queue for 60 s after a queue of the same name was deleted (QueueDeletedRecently); run taskfleet init again after that" "$D/$Q.err"
check "init-deleted-queue-not-not-found" sh -c "! grep -qi 'not found' '$D/$Q.err'"
exit $e2e_failed
