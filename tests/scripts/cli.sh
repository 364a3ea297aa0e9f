#!/usr/bin/env bash
# tests/scripts/cli.sh - the producer CLI (submit, get, list, delete) end to
# end: the real binary against the local stand-ins.
#
# Runs $TF_BUILD/bin/taskfleet (TF_BUILD, else $BUILD, else build) with its own
# table and queues, named with a unique suffix and created with `taskfleet
# init`. Reads the queue and changes items behind the CLI's back with plain
# JSON POSTs to the stand-ins (python3's urllib; the stand-ins do not check
# signatures), and parses every --json output with python3's json module
# (numbers as Decimal, so exactness is checked, not approximated).
#
# Needs what tests/run exports: AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB
# and AWS keys. Prints "PASS name" or "FAIL name: why"; exits 1 on any failure.
set -u
CLI_PREFIX=cli
# shellcheck source=../tools/cli_common.sh
. "$(dirname "$0")/../tools/cli_common.sh"
now_ms() { "$PY" -c 'import time; print(int(time.time() * 1000))'; }
QURL=""
# queue_attr URL NAME: one attribute of a queue.
queue_attr() {
	h sqs GetQueueAttributes "{\"QueueUrl\":\"$1\",\"AttributeNames\":[\"All\"]}" |
	    "$PY" -c "import json,sys; print(json.load(sys.stdin)['Attributes']['$2'])"
}
# set_status ID STATUS: changes a task's status behind the CLI's back.
set_status() {
	h ddb UpdateItem "{\"TableName\":\"$NAME\",\"Key\":{\"id\":{\"S\":\"$1\"}},\"UpdateExpression\":\"SET #s = :s\",\"ExpressionAttributeNames\":{\"#s\":\"status\"},\"ExpressionAttributeValues\":{\":s\":{\"S\":\"$2\"}}}" >/dev/null
}
# list_ids ARGS...: every page of `list --json ARGS`, following the tokens;
# writes the ids in order to $TMP/ids and the page sizes to $TMP/pages.
list_ids() {
	local token="" n=0
	: >"$TMP/ids"
	: >"$TMP/pages"
	while :; do
		if [ -n "$token" ]; then tf --json list "$@" --next "$token"; else tf --json list "$@"; fi
		[ "$rc" -eq 0 ] || return 1
		grep -v '^{"next"' "$TMP/out" | h json '"\n".join(x["id"] for x in docs) or "-"' |
		    grep -v '^-$' >>"$TMP/ids"
		grep -vc '^{"next"' "$TMP/out" >>"$TMP/pages"
		token=$(sed -n 's/^{"next":"\(.*\)"}$/\1/p' "$TMP/out")
		[ -n "$token" ] || return 0
		n=$((n + 1))
		[ "$n" -lt 50 ] || return 1
	done
}

# ---- set-up
tf init
if [ "$rc" -ne 0 ]; then
	fail init "exit $rc: $(cat "$TMP/err")"
	exit 1
fi
QURL=$(queue_url "$NAME")
pass init

# ---- help and usage
ok=1
for cmd in submit get list delete init; do
	tf "$cmd" --help
	if [ "$rc" -ne 0 ] || ! grep -q "^usage: taskfleet $cmd" "$TMP/out"; then
		miss "help $cmd: exit $rc: $(head -c 300 "$TMP/out")"
	fi
done
tf frobnicate
[ "$rc" -eq 2 ] || miss "unknown command: exit $rc, want 2"
tf
[ "$rc" -eq 2 ] || miss "no command: exit $rc, want 2"
verdict "help and usage"

# ---- submit, then get: PENDING with the params exact
PARAMS='{"big":12345678901234567890,"f":0.1000000000000000055511151231257827,"s":"h\u00e9llo \"q\"","l":[1,{"x":null,"t":true}],"neg":-42}'
tf submit --type noop --params "$PARAMS" --max-attempts 5
ID1=$(cat "$TMP/out")
if [ "$rc" -ne 0 ] || [ -z "$ID1" ]; then
	fail "submit prints the id" "exit $rc: $(cat "$TMP/err")"
	# The checks of that task end too, each with its one line.
	for chk in "get --json: PENDING, params exact" "get: human-readable" \
	    "submit due now: one message with the right body"; do
		fail "$chk" "no task: submit failed"
	done
else
	pass "submit prints the id"
	tf get "$ID1" --json
	if [ "$rc" -eq 0 ] && check "d['id'] == '$ID1' and d['status'] == 'PENDING' and d['type'] == 'noop' and d['ns'] == 'default' and d['gen'] == 1 and d['iteration'] == 0 and d['attempts'] == 0 and d['max_attempts'] == 5 and d['params']['big'] == 12345678901234567890 and d['params']['f'] == D('0.1000000000000000055511151231257827') and d['params']['s'] == 'h\u00e9llo \"q\"' and d['params']['l'] == [1, {'x': None, 't': True}] and d['params']['neg'] == -42" &&
	    grep -qF '"big":12345678901234567890' "$TMP/out" &&
	    grep -qF '"f":0.1000000000000000055511151231257827' "$TMP/out"; then
		pass "get --json: PENDING, params exact"
	else
		fail "get --json: PENDING, params exact" "exit $rc: $(cat "$TMP/out" "$TMP/err")"
	fi
	NEXT1=$(h json 'd["next_run"]' <"$TMP/out")
	tf get "$ID1"
	if [ "$rc" -eq 0 ] && grep -q '^status  *PENDING$' "$TMP/out" &&
	    grep -q '^attempts  *0/5$' "$TMP/out" &&
	    grep -q '^next run  *20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]*Z' "$TMP/out" &&
	    grep -qF '12345678901234567890' "$TMP/out" &&
	    grep -qF '0.1000000000000000055511151231257827' "$TMP/out"; then
		pass "get: human-readable"
	else
		fail "get: human-readable" "exit $rc: $(cat "$TMP/out" "$TMP/err")"
	fi

	# ---- the message a task due now gets: exactly one, the right body
	h sqs ReceiveMessage "{\"QueueUrl\":\"$QURL\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":1,\"VisibilityTimeout\":60}" >"$TMP/recv"
	if h json "len(d.get('Messages', [])) == 1" <"$TMP/recv" >/dev/null &&
	    h json "json.loads(d['Messages'][0]['Body']) == {'taskId': '$ID1', 'targetTimestamp': ${NEXT1:-0}, 'priority': None, 'gen': 1}" <"$TMP/recv" >/dev/null; then
		pass "submit due now: one message with the right body"
	else
		fail "submit due now: one message with the right body" "$(cat "$TMP/recv")"
	fi
	RH=$(h json 'd["Messages"][0]["ReceiptHandle"]' <"$TMP/recv" 2>/dev/null)
	[ -n "$RH" ] && h sqs DeleteMessage "{\"QueueUrl\":\"$QURL\",\"ReceiptHandle\":\"$RH\"}" >/dev/null
fi

# ---- --at +1h: no message; --at +5m: a message delayed about 300 s
t0=$(now_ms)
tf --json submit --type noop --at +1h
if [ "$rc" -eq 0 ] && check "d['created'] is True and d['enqueued'] is False and abs(d['next_run'] - ($t0 + 3600000)) < 10000" &&
    [ "$(queue_attr "$QURL" ApproximateNumberOfMessages)" = 0 ] &&
    [ "$(queue_attr "$QURL" ApproximateNumberOfMessagesDelayed)" = 0 ] &&
    [ "$(queue_attr "$QURL" ApproximateNumberOfMessagesNotVisible)" = 0 ]; then
	pass "submit --at +1h: no message"
else
	fail "submit --at +1h: no message" "exit $rc: $(cat "$TMP/out" "$TMP/err"); queue: $(queue_attr "$QURL" ApproximateNumberOfMessages)/$(queue_attr "$QURL" ApproximateNumberOfMessagesDelayed)"
fi
t0=$(now_ms)
tf submit --type noop --at +5m --json
if [ "$rc" -eq 0 ] && check "d['enqueued'] is True and 295 <= d['delay_seconds'] <= 300 and abs(d['next_run'] - ($t0 + 300000)) < 10000" &&
    [ "$(queue_attr "$QURL" ApproximateNumberOfMessagesDelayed)" = 1 ] &&
    [ "$(queue_attr "$QURL" ApproximateNumberOfMessages)" = 0 ]; then
	pass "submit --at +5m: one message delayed ~300 s"
else
	fail "submit --at +5m: one message delayed ~300 s" "exit $rc: $(cat "$TMP/out" "$TMP/err"); delayed: $(queue_attr "$QURL" ApproximateNumberOfMessagesDelayed)"
fi

# ---- idempotent --id: one task, one message (on a queue of its own)
Q2=$NAME-idem
tf --queue "$Q2" init
Q2URL=$(queue_url "$Q2")
IDEM=idem-$SUFFIX
tf --queue "$Q2" submit --type noop --ns "idem-$SUFFIX" --id "$IDEM" --params '{"n":1}'
r1=$rc
o1=$(cat "$TMP/out")
tf --queue "$Q2" --json submit --type noop --ns "idem-$SUFFIX" --id "$IDEM" --params '{"n":2}'
r2=$rc
if [ "$r1" -eq 0 ] && [ "$o1" = "$IDEM" ] && [ "$r2" -eq 0 ] &&
    check "d['id'] == '$IDEM' and d['created'] is False" &&
    grep -q "exists already" "$TMP/err" &&
    tf get "$IDEM" --json && check "d['params'] == {'n': 1}" &&
    list_ids --ns "idem-$SUFFIX" && [ "$(wc -l <"$TMP/ids")" -eq 1 ] &&
    [ "$(queue_attr "$Q2URL" ApproximateNumberOfMessages)" = 1 ]; then
	pass "submit --id twice: one task, one message, created false"
else
	fail "submit --id twice: one task, one message, created false" "exit $r1/$r2: $(cat "$TMP/out" "$TMP/err")"
fi

# ---- bad input: exit 2, one line naming the field, nothing written
BADNS=bad-$SUFFIX
printf '{"a": [1, 2' >"$TMP/broken.json"
mkdir "$TMP/dir"
"$PY" -c 'import json; print(json.dumps({"blob": "x" * 500000}))' >"$TMP/huge.json"
LONGID=$(printf 'i%.0s' $(seq 1 129))
i=0
# bad FIELD ARGS...: submit ARGS must fail with exit 2 and a one-line message
# that names FIELD; the id it would have had must not exist afterwards.
bad() {
	local field=$1
	shift
	i=$((i + 1))
	tf submit --ns "$BADNS" --id "bad-$SUFFIX-$i" "$@"
	if [ "$rc" -ne 2 ]; then
		fail "bad input $field: $*" "exit $rc, want 2: $(cat "$TMP/out" "$TMP/err")"
		return
	fi
	if [ "$(wc -l <"$TMP/err")" -ne 1 ] || ! grep -qF -- "$field" "$TMP/err"; then
		fail "bad input $field: $*" "want one line naming $field, got: $(cat "$TMP/err")"
		return
	fi
	if [ -s "$TMP/out" ]; then
		fail "bad input $field: $*" "printed on stdout: $(cat "$TMP/out")"
		return
	fi
	cp "$TMP/err" "$TMP/bad-err"
	tf get "bad-$SUFFIX-$i"
	if [ "$rc" -ne 3 ]; then
		fail "bad input $field: $*" "the task was written (get: exit $rc)"
		return
	fi
	pass "bad input $field: $*"
}
bad --frob --type noop --frob 1
bad --every --type noop --every 5x
bad --cron --type noop --cron '0 9 * *'
bad --type --params '{}'
bad --type --type 'Not A Runner'
bad --type --type "$(printf 'r%.0s' $(seq 1 65))"
bad --params --type noop --params '{"a":'
bad --params --type noop --params '{"a":1} x'
bad --params --type noop --params '[1,2]'
bad --params --type noop --params '"text"'
bad --params --type noop --params '{"":1}'
bad --params --type noop --params '{"n":1e999}'
bad --params --type noop --params "@$TMP/broken.json"
bad --params --type noop --params "@$TMP/no-such-file.json"
bad --params --type noop --params "@$TMP/dir"
bad --params --type noop --params '@'
bad params --type noop --params "@$TMP/huge.json"
bad --at --type noop --at tomorrow
bad --at --type noop --at 2026-02-30
bad --at --type noop --at 2026-11-23T25:00:00Z
bad --at --type noop --at +1.5h
bad --at --type noop --at '+'
bad --at --type noop --at 1969-12-31
bad --max-attempts --type noop --max-attempts 0
bad --max-attempts --type noop --max-attempts 1001
bad --max-attempts --type noop --max-attempts three
bad --ns --type noop --ns 'has space'
bad argument --type noop extra-argument
bad --type --type no-such-runner
if grep -q 'no runner "no-such-runner" is installed (known: .*noop' "$TMP/bad-err"; then
	pass "unknown --type lists the known runners"
else
	fail "unknown --type lists the known runners" "$(cat "$TMP/bad-err")"
fi
# Runners that cannot be loaded: the type cannot be checked, nothing is written.
mkdir "$TMP/no-runners"
TASKFLEET_RUNNERS=$TMP/no-runners tf submit --ns "$BADNS" --type noop --id "norunners-$SUFFIX"
r1=$rc
cp "$TMP/err" "$TMP/submit-err"
tf get "norunners-$SUFFIX"
if [ "$r1" -eq 1 ] && [ "$rc" -eq 3 ] && grep -q "TASKFLEET_RUNNERS" "$TMP/submit-err"; then
	pass "submit without loadable runners: exit 1, nothing written"
else
	fail "submit without loadable runners: exit 1, nothing written" "submit $r1, get $rc: $(cat "$TMP/submit-err")"
fi
# These two cannot carry their own id; the namespace count below covers them.
tf submit --ns "$BADNS" --type noop --id "$LONGID"
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q -- "--id: too long" "$TMP/err"; then
	pass "bad input --id: 129 bytes"
else
	fail "bad input --id: 129 bytes" "exit $rc: $(cat "$TMP/err")"
fi
tf submit --ns "$BADNS" --type noop --id 'has space'
if [ "$rc" -eq 2 ] && grep -q -- "--id" "$TMP/err"; then
	pass "bad input --id: a space"
else
	fail "bad input --id: a space" "exit $rc: $(cat "$TMP/err")"
fi
if list_ids --ns "$BADNS" && [ ! -s "$TMP/ids" ]; then
	pass "bad input wrote nothing"
else
	fail "bad input wrote nothing" "the namespace holds: $(cat "$TMP/ids")"
fi

# ---- params from a file and from standard input
printf '{"from": "file", "n": 12345678901234567890}' >"$TMP/p.json"
tf submit --type noop --params "@$TMP/p.json"
FID=$(cat "$TMP/out")
"$TF" submit --type noop --params @- <"$TMP/p.json" >"$TMP/out2" 2>"$TMP/err"
SID=$(cat "$TMP/out2")
if tf get "$FID" --json && check "d['params'] == {'from': 'file', 'n': 12345678901234567890}" &&
    tf get "$SID" --json && check "d['params'] == {'from': 'file', 'n': 12345678901234567890}"; then
	pass "submit --params @FILE and @-"
else
	fail "submit --params @FILE and @-" "$(cat "$TMP/out" "$TMP/err")"
fi

# ---- not found, delete
tf get "no-such-$SUFFIX"
r1=$rc
tf delete "no-such-$SUFFIX"
r2=$rc
tf get "$LONGID"
r3=$rc
if [ "$r1" -eq 3 ] && [ "$r2" -eq 3 ] && [ "$r3" -eq 2 ]; then
	pass "get/delete of a missing task exit 3, a bad id 2"
else
	fail "get/delete of a missing task exit 3, a bad id 2" "get $r1, delete $r2, long id $r3"
fi
tf submit --type noop --at +2h
DID=$(cat "$TMP/out")
tf delete "$DID"
out=$(cat "$TMP/out")
r1=$rc
tf get "$DID"
r2=$rc
tf --json delete "$DID"
r3=$rc
if [ "$r1" -eq 0 ] && [ "$out" = "deleted $DID" ] && [ "$r2" -eq 3 ] && [ "$r3" -eq 3 ]; then
	pass "delete: deleted ID, then gone"
else
	fail "delete: deleted ID, then gone" "delete $r1 ($out), get $r2, again $r3"
fi

# ---- list: pages of 2 over 5 tasks, newest schedule first
PG=pg-$SUFFIX
for d in 3 1 5 2 4; do
	tf submit --type noop --ns "$PG" --id "$PG-$d" --at "2031-01-0${d}T10:00:00Z"
done
if list_ids --ns "$PG" --limit 2 &&
    [ "$(tr '\n' ' ' <"$TMP/ids")" = "$PG-5 $PG-4 $PG-3 $PG-2 $PG-1 " ] &&
    [ "$(tr '\n' ' ' <"$TMP/pages")" = "2 2 1 " ]; then
	pass "list --limit 2 --next: 5 tasks in 3 pages, newest first, no gaps"
else
	fail "list --limit 2 --next: 5 tasks in 3 pages, newest first, no gaps" "ids: $(tr '\n' ' ' <"$TMP/ids"); pages: $(tr '\n' ' ' <"$TMP/pages")"
fi
# The human output pages the same way.
tf list --ns "$PG" --limit 2
tok=$(sed -n 's/^next: //p' "$TMP/out")
first=$(awk 'NR > 1 && $1 !~ /^next:/ { print $1 }' "$TMP/out" | tr '\n' ' ')
tf list --ns "$PG" --limit 2 --next "$tok"
second=$(awk 'NR > 1 && $1 !~ /^next:/ { print $1 }' "$TMP/out" | tr '\n' ' ')
if [ "$first" = "$PG-5 $PG-4 " ] && [ "$second" = "$PG-3 $PG-2 " ] &&
    head -n 1 "$TMP/out" | grep -q '^ID  *STATUS  *TYPE  *NEXT RUN  *ITERATION$' &&
    grep -q "^$PG-3  *PENDING  *noop  *2031-01-03T10:00:00.000Z  *0$" "$TMP/out"; then
	pass "list: human output and next token"
else
	fail "list: human output and next token" "first: $first; second: $second; $(cat "$TMP/out")"
fi

# ---- list: time window (both ends included) and status filter
if list_ids --ns "$PG" --from 2031-01-02T10:00:00Z --to 2031-01-04T10:00:00Z &&
    [ "$(tr '\n' ' ' <"$TMP/ids")" = "$PG-4 $PG-3 $PG-2 " ] &&
    list_ids --ns "$PG" --from 2031-01-04T00:00:00+01:00 &&
    [ "$(tr '\n' ' ' <"$TMP/ids")" = "$PG-5 $PG-4 " ] &&
    list_ids --ns "$PG" --to 2031-01-01T10:00:00Z &&
    [ "$(tr '\n' ' ' <"$TMP/ids")" = "$PG-1 " ]; then
	pass "list --from/--to"
else
	fail "list --from/--to" "got: $(tr '\n' ' ' <"$TMP/ids")"
fi
set_status "$PG-4" COMPLETED
set_status "$PG-2" COMPLETED
set_status "$PG-1" FAILED
if list_ids --ns "$PG" --status COMPLETED --limit 1 &&
    [ "$(tr '\n' ' ' <"$TMP/ids")" = "$PG-4 $PG-2 " ] &&
    list_ids --ns "$PG" --status pending --limit 2 &&
    [ "$(tr '\n' ' ' <"$TMP/ids")" = "$PG-5 $PG-3 " ] &&
    [ "$(head -n 1 "$TMP/pages")" = 2 ] &&
    list_ids --ns "$PG" --status FAILED --from 2031-01-01 --to 2031-01-02 &&
    [ "$(tr '\n' ' ' <"$TMP/ids")" = "$PG-1 " ] &&
    list_ids --ns "$PG" --status SUSPENDED && [ ! -s "$TMP/ids" ]; then
	pass "list --status: filters, and fills pages across query pages"
else
	fail "list --status: filters, and fills pages across query pages" "got: $(tr '\n' ' ' <"$TMP/ids"); pages: $(tr '\n' ' ' <"$TMP/pages")"
fi
tf --json list --ns "$PG" --status COMPLETED
if [ "$rc" -eq 0 ] && check "all(x['status'] == 'COMPLETED' and x['ns'] == '$PG' for x in docs) and len(docs) == 2"; then
	pass "list --json: one object per line"
else
	fail "list --json: one object per line" "$(cat "$TMP/out" "$TMP/err")"
fi

# ---- list: bad input
ok=1
tf list --ns "$PG" --limit 2
tok=$(sed -n 's/^next: //p' "$TMP/out")
for args in "--next garbage!" "--next eyJmb28iOjF9" "--next $tok --ns other-ns" \
    "--limit 0" "--limit 1001" "--limit x" "--status DONE" "--from yesterday" \
    "--from 2031-01-05 --to 2031-01-01" "--ns bad/ns" "extra"; do
	# shellcheck disable=SC2086
	tf list $args
	if [ "$rc" -ne 2 ] || [ "$(wc -l <"$TMP/err")" -ne 1 ]; then
		miss "list $args: exit $rc: $(cat "$TMP/err")"
	fi
done
verdict "list: bad token, limit, status, times exit 2"

# ---- the queue: missing before the write, failing after it
tf --queue "tf-no-such-queue-$SUFFIX" submit --type noop --id "qm-$SUFFIX"
r1=$rc
tf get "qm-$SUFFIX"
if [ "$r1" -eq 1 ] && [ "$rc" -eq 3 ]; then
	pass "submit with a missing queue: exit 1, nothing written"
else
	fail "submit with a missing queue: exit 1, nothing written" "submit $r1, get $rc"
fi
tf --queue "tf-no-such-queue-$SUFFIX" submit --type noop --id "qlater-$SUFFIX" --at +1h
if [ "$rc" -eq 0 ]; then
	pass "submit beyond the horizon needs no queue"
else
	fail "submit beyond the horizon needs no queue" "exit $rc: $(cat "$TMP/err")"
fi
GONE_URL="${QURL%/*}/tf-no-such-queue-$SUFFIX"
tf --queue "$GONE_URL" submit --type noop --id "qsend-$SUFFIX"
r1=$rc
grep -q "sweeper" "$TMP/err"
r2=$?
out=$(cat "$TMP/out")
tf get "qsend-$SUFFIX" --json
if [ "$r1" -eq 1 ] && [ "$r2" -eq 0 ] && [ "$out" = "qsend-$SUFFIX" ] && [ "$rc" -eq 0 ] &&
    check "d['status'] == 'PENDING' and 'enqueued_for' in d"; then
	pass "submit whose message fails after the write: exit 1, says the sweeper will"
else
	fail "submit whose message fails after the write: exit 1, says the sweeper will" "submit $r1 ($out), get $rc: $(cat "$TMP/err")"
fi

# ---- clean up what this test created
h ddb DeleteTable "{\"TableName\":\"$NAME\"}" >/dev/null 2>&1
for q in "$NAME" "$NAME-dlq" "$Q2" "$Q2-dlq"; do
	u=$(queue_url "$q" 2>/dev/null) && h sqs DeleteQueue "{\"QueueUrl\":\"$u\"}" >/dev/null 2>&1
done

exit "$failed"
