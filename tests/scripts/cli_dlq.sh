#!/usr/bin/env bash
# tests/scripts/cli_dlq.sh - the dead-letter queue from the CLI end to end:
# `taskfleet dlq list` and `taskfleet dlq redrive` against messages put
# straight into the DLQ, the maxReceiveCount `init` sets, and one poison
# message through the real consumer (it ends in the DLQ after
# maxReceiveCount receives, the consumer keeps running, and after a redrive
# a correctly configured consumer completes the task).
#
# Queues and items are put and checked with botocore (tests/tools/tfcheck.py)
# and plain JSON POSTs (tests/tools/clitest.py), never with taskfleet's code.
#
# Needs what tests/run exports (the stand-ins' endpoints and keys). Prints
# "PASS name" or "FAIL name: why"; exits 1 on any failure.
set -u
source "$(dirname "$0")/../tools/e2e.sh"

if [ ! -x "$TASKFLEET" ] || [ ! -x "$CONSUMER" ]; then
	fail setup "$TASKFLEET or $CONSUMER is missing (run make)"
	exit 1
fi
if [ -z "${AWS_ENDPOINT_URL_SQS:-}" ] || [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
	fail setup "AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_DYNAMODB must point at the stand-ins (run through tests/run)"
	exit 1
fi
unset TASKFLEET_QUEUE_URL TASKFLEET_LOG TASKFLEET_HORIZON TASKFLEET_SWEEP_GRACE
e2e_init cli_dlq
TABLE=$E2E_NAME
T=$E2E_DIR
DLQ_URL=$($TFCHECK queue-url "$E2E_NAME-dlq")
CLITEST="$PY $TF_ROOT/tests/tools/clitest.py"
# tf, expect, one_line, miss, verdict, fail_why.
source "$TF_ROOT/tests/tools/expect.sh"
# js EXPR < lines: EXPR over JSON lines (docs: all, d: the first) holds.
js() { $CLITEST json "($1
)" >/dev/null 2>&1; }
out_ok() { js "$1" <"$T/out"; }
counts() { $TFCHECK queue-counts "$1"; }
# counts_are URL VISIBLE INFLIGHT: the queue holds exactly that (delayed 0).
counts_are() {
	counts "$1" | js 'd == {"visible": '"$2"', "inflight": '"$3"', "delayed": 0}'
}
now_ms() { "$PY" -c 'import time; print(int(time.time() * 1000))'; }
# bodies_equal FILE_A FILE_B: the same bodies (as a multiset), order aside.
bodies_equal() {
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
a = sorted(json.loads(l) for l in open(sys.argv[1]) if l.strip())
b = sorted(json.loads(l) for l in open(sys.argv[2]) if l.strip())
sys.exit(0 if a == b else 1)
EOF
}
# drain_bodies URL: every visible message's body as a JSON string per line
# (receives and deletes them).
drain_bodies() { $TFCHECK drain "$1" | "$PY" -c '
import json, sys
for l in sys.stdin:
    print(json.dumps(json.loads(l)["body"]))'; }

# ---- init: the redrive policy and --max-receive-count
# policy_is URL COUNT DLQ_NAME: the queue's redrive policy sends to DLQ_NAME
# after COUNT receives.
policy_is() {
	$TFCHECK queue-attrs "$1" | "$PY" -c '
import json, sys
d = json.load(sys.stdin); p = json.loads(d.get("RedrivePolicy", "{}"))
sys.exit(0 if str(p.get("maxReceiveCount")) == sys.argv[1] and
    str(p.get("deadLetterTargetArn", "")).endswith(":" + sys.argv[2]) else 1)' "$2" "$3"
}
if policy_is "$QUEUE_URL" 5 "$E2E_NAME-dlq"; then
	pass "init: redrive policy to NAME-dlq with maxReceiveCount 5 by default"
else
	fail "init default maxReceiveCount" "$($TFCHECK queue-attrs "$QUEUE_URL")"
fi
P=$E2E_NAME-p
TASKFLEET_QUEUE=$P tf init --max-receive-count 2 --visibility-timeout 5
P_URL=$($TFCHECK queue-url "$P" 2>/dev/null)
P_DLQ=$($TFCHECK queue-url "$P-dlq" 2>/dev/null)
if expect "init --max-receive-count" 0 && policy_is "$P_URL" 2 "$P-dlq"; then
	pass "init --max-receive-count 2 sets the redrive policy"
else
	fail "init --max-receive-count" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi
ok=1
for v in 0 1001 x; do
	TASKFLEET_QUEUE=$E2E_NAME-never tf init --max-receive-count "$v"
	expect "init --max-receive-count $v" 2 "max-receive-count" && one_line || miss
done
$TFCHECK queue-url "$E2E_NAME-never" >/dev/null 2>&1 && miss "a queue was created"
verdict "init --max-receive-count out of range: exit 2, nothing created"

# ---- help and usage
ok=1
tf --help
grep -Eq "^  dlq " "$T/out" || miss "usage lists no dlq: $(cat "$T/out")"
tf dlq --help
{ [ "$rc" -eq 0 ] && grep -q "^usage: taskfleet dlq list" "$T/out" &&
    grep -q "taskfleet dlq redrive" "$T/out"; } || miss "dlq --help: $(cat "$T/out")"
for sub in list redrive; do
	tf dlq "$sub" --help
	{ [ "$rc" -eq 0 ] && grep -q "^usage: taskfleet dlq $sub" "$T/out"; } ||
	    miss "dlq $sub --help: exit $rc: $(head -c 200 "$T/out")"
done
verdict "help: the command list names dlq; dlq, list and redrive --help"

# Bad usage never reaches AWS: a message in the DLQ is not even received
# (its receive count moves by exactly the one listing made to check it).
$TFCHECK send "$DLQ_URL" '{"taskId":"usage-probe","gen":1}'
tf --json dlq list
before=$($CLITEST json 'd["receive_count"]' <"$T/out")
ok=1
while IFS='|' read -r pat args; do
	# shellcheck disable=SC2086
	eval "tf $args"
	if [ "$rc" -ne 2 ] || ! grep -Eq -- "$pat" "$T/err" || ! one_line || [ -s "$T/out" ]; then
		miss "taskfleet $args: exit $rc, stdout $(head -c 100 "$T/out"), stderr: $(head -c 300 "$T/err")"
	fi
done <<'EOF'
subcommand is missing|dlq
unknown subcommand "frob"|dlq frob
--limit: expected a number|dlq list --limit 0
--limit: expected a number|dlq list --limit x
--limit: expected a number|dlq list --limit 10001
unknown option --bogus|dlq list --bogus
unexpected argument "extra"|dlq list extra
--limit: expected a number|dlq redrive --limit -1
option --limit needs a value|dlq redrive --limit
--task: must be|dlq redrive --task 'a b'
--task: must be|dlq redrive --task "$(printf 'x%.0s' $(seq 200))"
--include-malformed: cannot go with --task|dlq redrive --task x --include-malformed
unknown option --force|dlq redrive --force
EOF
tf --json dlq list
after=$($CLITEST json 'd["receive_count"]' <"$T/out")
[[ $before =~ ^[0-9]+$ && $after == $((before + 1)) ]] ||
    miss "usage touched the DLQ: receive count $before -> $after"
verdict "bad flags and subcommands: one line naming the field, exit 2, no AWS call"
drain_bodies "$DLQ_URL" >/dev/null

# ---- an empty DLQ
tf dlq list
if expect "list empty" 0 "is empty" && [ ! -s "$T/out" ]; then
	pass "list of an empty DLQ: nothing on stdout, says so, exit 0"
else
	fail "list empty" "${why:+$why; }$(cat "$T/out")"
fi
tf --json dlq list
expect "list empty json" 0 && [ ! -s "$T/out" ] && pass "list --json of an empty DLQ: no lines" ||
    fail_why "list --json of an empty DLQ: no lines"
tf --json dlq redrive
if expect "redrive empty" 0 && out_ok 'd["moved"] == 0 and d["skipped"] == 0 and
    d["messages"] == [] and d["dlq_url"] == "'"$DLQ_URL"'" and d["queue_url"] == "'"$QUEUE_URL"'"'; then
	pass "redrive of an empty DLQ: moved 0, exit 0"
else
	fail "redrive empty" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi

# ---- messages put straight into the DLQ
tf submit --type noop --at +1h
LIVE=$(cat "$T/out")
[ "$rc" -eq 0 ] && [ -n "$LIVE" ] || fail "submit" "exit $rc: $(cat "$T/err")"
$TFCHECK put "$TABLE" '{"id":"stale-1","ns":"default","type":"noop","params":{},
  "status":"PENDING","completed":false,"next_run":1,"gen":5,"iteration":0,
  "attempts":0,"max_attempts":3}'
$TFCHECK put "$TABLE" '{"id":"done-1","ns":"default","type":"noop","params":{},
  "status":"COMPLETED","completed":true,"next_run":1,"gen":4,"iteration":1}'
drain_bodies "$QUEUE_URL" >/dev/null
target=$(( $(now_ms) + 3600000 ))
{
	printf '%s\n' "{\"taskId\": \"$LIVE\", \"targetTimestamp\": $target, \"priority\": null, \"gen\": 1}"
	printf '%s\n' '{"taskId": "stale-1", "targetTimestamp": null, "gen": 2}'
	printf '%s\n' '{"taskId": "done-1", "targetTimestamp": 1, "gen": 4}'
	printf '%s\n' '{"taskId": "no-such-task-1", "gen": 3}'
} >"$T/good.txt"
"$PY" - "$T" <<'EOF'
import json, sys
t = sys.argv[1]
good = [l.rstrip("\n") for l in open(t + "/good.txt")]
bad = ["not json {", '{"taskId": 42}',
       'line one\nline two \u00e9\u4e2d "quoted"\ttab',
       "x" * 100000]
with open(t + "/good.json", "w") as f:
    for b in good: f.write(json.dumps(b) + "\n")
with open(t + "/bad.json", "w") as f:
    for b in bad: f.write(json.dumps(b) + "\n")
with open(t + "/all.json", "w") as f:
    for b in good + bad: f.write(json.dumps(b) + "\n")
EOF
"$PY" - "$T/all.json" "$DLQ_URL" <<'EOF'
import json, os, sys
sys.path.insert(0, os.path.join(os.environ["TF_ROOT"], "tests", "tools"))
import tfcheck
sqs = tfcheck.client("sqs")
for l in open(sys.argv[1]):
    sqs.send_message(QueueUrl=sys.argv[2], MessageBody=json.loads(l))
EOF
N=8

tf dlq list
if expect "list" 0 && [ "$(wc -l <"$T/out")" -eq $((N + 1)) ] &&
    grep -Eq '^MESSAGE ID +TASK +GEN +TARGET +RECEIVES +SENT +TASK STATUS$' "$T/out" &&
    grep -Eq "  $LIVE  1 .*  PENDING gen 1, live$" "$T/out" &&
    grep -Eq "  stale-1 .*  2 .* now .*  PENDING gen 5, stale$" "$T/out" &&
    grep -Eq "  done-1 .*  COMPLETED gen 4$" "$T/out" &&
    grep -Eq "  no-such-task-1 .*  no such task$" "$T/out" &&
    grep -Fq 'malformed body: not json {' "$T/out" &&
    grep -Fq 'malformed body: {"taskId": 42}' "$T/out" &&
    grep -Fq 'malformed body: line one?line two ????? "quoted"?tab' "$T/out" &&
    grep -Eq 'malformed body: x{60}\.\.\.$' "$T/out" &&
    [ "$(grep -c 'malformed body' "$T/out")" -eq 4 ] &&
    counts_are "$DLQ_URL" $N 0; then
	pass "list: a table, one line per message (live, stale, finished, missing, 4 malformed); all visible again at once"
else
	fail "list" "${why:+$why; }$(cat "$T/out" "$T/err"; counts "$DLQ_URL")"
fi

before=$(now_ms)
tf --json dlq list
if expect "list json" 0 && out_ok 'len(docs) == '"$N"' and
    len(set(x["message_id"] for x in docs)) == '"$N"' and
    {x["task_id"]: x["verdict"] for x in docs if not x["malformed"]} ==
      {"'"$LIVE"'": "live", "stale-1": "stale", "done-1": "finished", "no-such-task-1": "missing"} and
    [x for x in docs if x["task_id"] == "'"$LIVE"'"][0]["target"] == '"$target"' and
    [x for x in docs if x["task_id"] == "'"$LIVE"'"][0]["gen"] == 1 and
    [x for x in docs if x["task_id"] == "'"$LIVE"'"][0]["status"] == "PENDING" and
    [x for x in docs if x["task_id"] == "stale-1"][0]["task_gen"] == 5 and
    [x for x in docs if x["task_id"] == "stale-1"][0]["target"] is None and
    [x for x in docs if x["task_id"] == "done-1"][0]["status"] == "COMPLETED" and
    [x for x in docs if x["task_id"] == "no-such-task-1"][0]["status"] is None and
    sorted(x["excerpt"] for x in docs if x["malformed"]) == sorted(["not json {",
      "{\"taskId\": 42}", "line one?line two ????? \"quoted\"?tab", "x" * 60 + "..."]) and
    all(x["verdict"] == "malformed" and x["task_id"] is None and x["error"] for x in docs if x["malformed"]) and
    all(x["receive_count"] == 1 and 0 < x["sent"] <= '"$before"' and x["first_receive"] > 0 for x in docs)' &&
    counts_are "$DLQ_URL" $N 0; then
	pass "list --json: one object per message with task, gen, target, receives, sent, status, verdict"
else
	fail "list json" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi

# The tasks cannot be read (no such table): the messages are still listed,
# with an unknown status, and the listing fails (exit 1).
tf --table "$E2E_NAME-nosuchtable" dlq list
if expect "list without table" 1 "reading the tasks from $E2E_NAME-nosuchtable: .*no such table" &&
    one_line && [ "$(grep -c '  unknown: ' "$T/out")" -eq 4 ] &&
    [ "$(grep -c 'malformed body' "$T/out")" -eq 4 ] && counts_are "$DLQ_URL" $N 0; then
	pass "list when the table cannot be read: rows with an unknown status, one line why, exit 1"
else
	fail "list without table" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi

tf dlq list --limit 3
if expect "list limit" 0 "listed the first 3 messages \(--limit\); the dead-letter queue reports $N " &&
    [ "$(wc -l <"$T/out")" -eq 4 ] && counts_are "$DLQ_URL" $N 0; then
	pass "list --limit: stops there and says how many the queue reports"
else
	fail "list limit" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi
tf --json dlq list --limit 10
expect "list limit above" 0 && out_ok 'len(docs) == '"$N" && ! grep -q "limit" "$T/err" &&
    pass "list --limit above the count: all of them, no note" ||
    fail "list limit above" "${why:+$why; }$(cat "$T/err")"

# ---- redrive --dry-run writes nothing
tf dlq redrive --dry-run
if expect "dry run" 0 && [ "$(grep -c '^would move ' "$T/out")" -eq 4 ] &&
    [ "$(grep -c '^skipped ' "$T/out")" -eq 4 ] &&
    grep -q "^dry run: would move 4 messages .*skipped 4 .*nothing was changed$" "$T/out" &&
    counts_are "$DLQ_URL" $N 0 && counts_are "$QUEUE_URL" 0 0; then
	pass "redrive --dry-run: shows 4 to move and 4 malformed skipped; both queues unchanged"
else
	fail "dry run" "${why:+$why; }$(cat "$T/out" "$T/err"; counts "$DLQ_URL"; counts "$QUEUE_URL")"
fi
tf --json dlq redrive --dry-run --limit 2
if expect "dry run json" 0 && out_ok 'd["dry_run"] and d["would_move"] == 2 and
    d["moved"] == 0 and d["limit_reached"] and
    sum(m["action"] == "would_move" for m in d["messages"]) == 2' &&
    counts_are "$DLQ_URL" $N 0 && counts_are "$QUEUE_URL" 0 0; then
	pass "redrive --dry-run --limit --json: would move 2, nothing written"
else
	fail "dry run json" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi

# ---- redrive --task: only that task's messages
tf dlq redrive --task no-such-task-1
drain_bodies "$QUEUE_URL" >"$T/moved1.json"
if expect "redrive task" 0 && grep -q "^moved 1 message from .*; left 7 of other tasks$" "$T/out" &&
    grep -Eq '^moved +[^ ]+  task no-such-task-1 gen 3$' "$T/out" &&
    [ "$(cat "$T/moved1.json")" = "$(sed -n 4p "$T/good.json")" ] &&
    counts_are "$DLQ_URL" 7 0; then
	pass "redrive --task: moves exactly that task's message, body unchanged; the rest stay"
else
	fail "redrive task" "${why:+$why; }$(cat "$T/out" "$T/err" "$T/moved1.json")"
fi
tf dlq redrive --task no-such-task-1
expect "redrive task none" 0 && grep -q "^moved 0 messages" "$T/out" && counts_are "$DLQ_URL" 7 0 &&
    pass "redrive --task with no message left: moved 0, exit 0" ||
    fail "redrive task none" "${why:+$why; }$(cat "$T/out")"

# ---- redrive --limit
tf --json dlq redrive --limit 1
drain_bodies "$QUEUE_URL" >"$T/moved2.json"
if expect "redrive limit" 0 && out_ok 'd["moved"] == 1 and d["limit_reached"] and not d["dry_run"] and
    [m["action"] for m in d["messages"] if m["action"] != "skipped"] == ["moved"]' &&
    [ "$(wc -l <"$T/moved2.json")" -eq 1 ] && counts_are "$DLQ_URL" 6 0; then
	pass "redrive --limit 1: one moved, the rest visible in the DLQ again"
else
	fail "redrive limit" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi

# ---- redrive the rest: the malformed stay
tf dlq redrive
drain_bodies "$QUEUE_URL" >"$T/moved3.json"
cat "$T/moved1.json" "$T/moved2.json" "$T/moved3.json" >"$T/moved.json"
if expect "redrive" 0 && grep -q "^moved 2 messages from $DLQ_URL to $QUEUE_URL; skipped 4 with a malformed body" "$T/out" &&
    bodies_equal "$T/moved.json" "$T/good.json" && counts_are "$DLQ_URL" 4 0 &&
    counts_are "$QUEUE_URL" 0 0; then
	pass "redrive: every well-formed message moved once, bodies unchanged; malformed ones stay (skipped)"
else
	fail "redrive" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi

tf --json dlq redrive --include-malformed
drain_bodies "$QUEUE_URL" >"$T/moved4.json"
if expect "redrive malformed" 0 && out_ok 'd["moved"] == 4 and d["skipped"] == 0 and
    all(m["task_id"] is None and m["action"] == "moved" for m in d["messages"])' &&
    bodies_equal "$T/moved4.json" "$T/bad.json" && counts_are "$DLQ_URL" 0 0; then
	pass "redrive --include-malformed: the malformed bodies move too, byte for byte"
else
	fail "redrive malformed" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi

# ---- no dead-letter queue: exit 3; a missing queue: exit 1
$TFCHECK create-queue "$E2E_NAME-nodlq" >/dev/null
ok=1
for sub in list redrive; do
	tf --queue "$E2E_NAME-nodlq" dlq "$sub"
	expect "no dlq $sub" 3 "has no dead-letter queue" && one_line || miss
done
verdict "a queue without a dead-letter queue: list and redrive exit 3"
tf --queue "$E2E_NAME-nosuchqueue" dlq list
expect "missing queue" 1 "finding the queue" && one_line &&
    pass "a queue that does not exist: exit 1, one line" ||
    fail_why "a queue that does not exist: exit 1, one line"

# A dead-letter queue found through the redrive policy, whatever its name.
cdead=$($TFCHECK create-queue "$E2E_NAME-cdead")
carn=$($TFCHECK queue-attrs "$cdead" | $CLITEST json 'd["QueueArn"]')
$TFCHECK create-queue "$E2E_NAME-c" "$("$PY" -c 'import json, sys
print(json.dumps({"RedrivePolicy": json.dumps({"deadLetterTargetArn": sys.argv[1],
    "maxReceiveCount": "3"})}))' "$carn")" >/dev/null
$TFCHECK send "$cdead" '{"taskId":"via-policy","gen":1}'
tf --queue "$E2E_NAME-c" --json dlq list
expect "dlq by policy" 0 && out_ok 'len(docs) == 1 and d["task_id"] == "via-policy"' &&
    pass "the DLQ named by the redrive policy is found (not only NAME-dlq)" ||
    fail "dlq by policy" "${why:+$why; }$(cat "$T/out" "$T/err")"

# ---- SIGINT: the messages held are made visible again before exiting
for i in $(seq 1 25); do echo "{\"taskId\":\"int-$i\",\"gen\":1}"; done | "$PY" -c '
import os, sys
sys.path.insert(0, os.path.join(os.environ["TF_ROOT"], "tests", "tools"))
import tfcheck
sqs = tfcheck.client("sqs")
for l in sys.stdin:
    sqs.send_message(QueueUrl=sys.argv[1], MessageBody=l.strip())' "$DLQ_URL"
why=
# A list that read all 25 before the signal came has ended normally (exit 0,
# and it made them visible again itself): then the signal missed its window,
# and the scenario is tried again, at most four times.
for try in 1 2 3 4; do
	"$TASKFLEET" dlq list --limit 1000 >"$T/out" 2>"$T/err" </dev/null &
	lpid=$!
	# Interrupt once it holds messages (then it has its handler).
	seen=0
	for i in $(seq 1 100); do
		if $CLITEST sqs GetQueueAttributes "{\"QueueUrl\":\"$DLQ_URL\",\"AttributeNames\":[\"ApproximateNumberOfMessagesNotVisible\"]}" |
		    js 'int(d["Attributes"]["ApproximateNumberOfMessagesNotVisible"]) > 0'; then
			seen=1; break
		fi
		sleep 0.05
	done
	kill -INT $lpid 2>/dev/null
	wait $lpid
	rc=$?
	[ "$rc" -eq 0 ] && [ "$try" -lt 4 ] && wait_until 10 counts_are "$DLQ_URL" 25 0 || break
done
if [ $seen -eq 1 ] && expect "sigint" 1 "interrupted" && counts_are "$DLQ_URL" 25 0; then
	pass "list interrupted by SIGINT: exit 1, every message held visible again at once"
else
	fail "sigint" "${why:+$why; }seen $seen: $(cat "$T/err"; counts "$DLQ_URL")"
fi
drain_bodies "$DLQ_URL" >/dev/null

# ---- a poison message through the real consumer
# A consumer on a table that does not exist: its claim fails on every
# receive and it hands the message back, until SQS moves it to the DLQ.
tf --queue "$P" submit --type noop
POISON=$(cat "$T/out")
export TASKFLEET_SWEEP_GRACE=10m   # keep the sweeper out of it: only the message runs the task
TASKFLEET_QUEUE=$P start_consumer poison --table "$E2E_NAME-missing" --concurrency 2
poison_pid=${consumer_pids[-1]}
if [ -n "$POISON" ] && wait_until 90 counts_are "$P_DLQ" 1 0 && counts_are "$P_URL" 0 0 &&
    kill -0 "$poison_pid" 2>/dev/null &&
    grep "claim failed" "$E2E_DIR/poison.log" | grep -q "\"task\":\"$POISON\""; then
	pass "poison: a message whose claim always fails ends in the DLQ after maxReceiveCount; the consumer keeps running and logs the task id"
else
	fail "poison" "task $POISON; dlq $(counts "$P_DLQ"); queue $(counts "$P_URL"); $(tail -5 "$E2E_DIR/poison.log")"
fi
sleep 2
kill -0 "$poison_pid" 2>/dev/null && counts_are "$P_DLQ" 1 0 &&
    pass "poison: the consumer keeps running and the DLQ holds it" ||
    fail "poison consumer" "the consumer stopped or the DLQ changed"
stop_consumers || fail "poison consumer stop" "exit status not 0"

TASKFLEET_QUEUE=$P tf --json dlq list
if expect "poison list" 0 && out_ok 'len(docs) == 1 and d["task_id"] == "'"$POISON"'" and
    d["verdict"] == "live" and d["status"] == "PENDING" and d["gen"] == 1'; then
	pass "poison: dlq list shows it live (PENDING at its gen)"
else
	fail "poison list" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi
TASKFLEET_QUEUE=$P tf dlq redrive
expect "poison redrive" 0 && grep -q "^moved 1 message " "$T/out" &&
    pass "poison: dlq redrive moves it back" || fail_why "poison: dlq redrive moves it back"
TASKFLEET_QUEUE=$P start_consumer healthy
item_done() {
	$TFCHECK scan "$TABLE" | js 'any(x["id"] == "'"$POISON"'" and x["status"] == "COMPLETED" for x in docs)'
}
if wait_until 60 item_done &&
    $TFCHECK scan "$TABLE" | js '[x for x in docs if x["id"] == "'"$POISON"'"][0]["gen"] == 3 and
      [x for x in docs if x["id"] == "'"$POISON"'"][0]["iteration"] == 1' &&
    counts_are "$P_DLQ" 0 0; then
	pass "poison: after dlq redrive a correctly configured consumer runs it to COMPLETED (from the redriven message)"
else
	fail "poison completed" "$($TFCHECK scan "$TABLE" | grep "$POISON"); $(tail -5 "$E2E_DIR/healthy.log")"
fi
stop_consumers || fail "healthy consumer stop" "exit status not 0"
unset TASKFLEET_SWEEP_GRACE

exit $e2e_failed
