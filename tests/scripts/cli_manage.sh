#!/usr/bin/env bash
# tests/scripts/cli_manage.sh - managing tasks from the CLI end to end:
# suspend, resume, run-now, clear, due, stats, and submit's scheduling options
# (--every, --cron, --tz, --max-runs, --until), against the local stand-ins.
#
# Runs $TF_BUILD/bin/taskfleet with its own table and queue (e2e_init). No
# consumer runs: a PROCESSING task is faked with `tfcheck put`. Items and
# messages are checked with botocore (tests/tools/tfcheck.py and a small
# helper on top of it), never with taskfleet's own code.
#
# Needs what tests/run exports (the stand-ins' endpoints and keys). Prints
# "PASS name" or "FAIL name: why"; exits 1 on any failure.
set -u
source "$(dirname "$0")/../tools/e2e.sh"

if [ ! -x "$TASKFLEET" ]; then
	fail setup "$TASKFLEET is missing (run make)"
	exit 1
fi
if [ -z "${AWS_ENDPOINT_URL_SQS:-}" ] || [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
	fail setup "AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_DYNAMODB must point at the stand-ins (run through tests/run)"
	exit 1
fi
unset TASKFLEET_QUEUE_URL TASKFLEET_LOG TASKFLEET_HORIZON TASKFLEET_SWEEP_GRACE
e2e_init cli_manage
TABLE=$E2E_NAME
T=$E2E_DIR

# The helper, on top of tfcheck's botocore clients:
#   h.py item ID                 the item as plain JSON ({} when absent)
#   h.py drain                   receives (and deletes) every visible message
#                                of the queue; prints their bodies, one a line
#   h.py json EXPR < lines       EXPR over the JSON lines on stdin (docs: all,
#                                d: the first); prints it; exit 1 when falsy
#   h.py cron_first EXPR_HOUR ZONE NOW_MS   the first HH:00 in ZONE at or
#                                after NOW_MS, in epoch ms (zoneinfo)
#   h.py newyear NOW_MS          the next 1 January 00:00Z after NOW_MS
cat >"$T/h.py" <<'EOF'
import datetime, json, os, sys, time
sys.path.insert(0, os.path.join(os.environ["TF_ROOT"], "tests", "tools"))
import tfcheck

cmd = sys.argv[1]
if cmd == "item":
    r = tfcheck.client("dynamodb").get_item(TableName=os.environ["TASKFLEET_TABLE"],
        Key={"id": {"S": sys.argv[2]}}, ConsistentRead=True)
    print(json.dumps({k: tfcheck.unmarshal(v) for k, v in r.get("Item", {}).items()},
        sort_keys=True))
elif cmd == "drain":
    sqs = tfcheck.client("sqs")
    url = os.environ["QUEUE_URL"]
    while True:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
            WaitTimeSeconds=1)
        msgs = r.get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            print(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
elif cmd == "json":
    docs = [json.loads(l) for l in sys.stdin if l.strip()]
    d = docs[0] if docs else None
    r = eval("(" + sys.argv[2] + "\n)")
    print(r)
    sys.exit(0 if r else 1)
elif cmd == "cron_first":
    from zoneinfo import ZoneInfo
    hour, zone, now = int(sys.argv[2]), ZoneInfo(sys.argv[3]), int(sys.argv[4])
    t = datetime.datetime.fromtimestamp(now / 1000, zone)
    c = t.replace(hour=hour, minute=0, second=0, microsecond=0)
    if c < t:
        c = (t + datetime.timedelta(days=1)).replace(hour=hour, minute=0,
            second=0, microsecond=0)
    # Re-attach the zone for the (possibly different) offset of that day.
    c = datetime.datetime(c.year, c.month, c.day, hour, 0, tzinfo=zone)
    print(int(c.timestamp() * 1000))
elif cmd == "newyear":
    t = datetime.datetime.fromtimestamp(int(sys.argv[2]) / 1000, datetime.timezone.utc)
    print(int(datetime.datetime(t.year + 1, 1, 1, tzinfo=datetime.timezone.utc).timestamp() * 1000))
EOF
export QUEUE_URL
h() { "$PY" "$T/h.py" "$@"; }

# tf, expect, one_line, miss, verdict, fail_why.
source "$TF_ROOT/tests/tools/expect.sh"
now_ms() { "$PY" -c 'import time; print(int(time.time() * 1000))'; }
# item_ok ID EXPR: EXPR over the item (d) holds (else the item is in $why).
item_ok() {
	local it
	it=$(h item "$1")
	h json "$2" <<<"$it" >/dev/null 2>&1 && return 0
	why="item $1: $it"
	return 1
}
# out_ok EXPR: EXPR over the JSON lines of the last stdout holds.
out_ok() { h json "$1" <"$T/out" >/dev/null 2>&1; }
counts() { $TFCHECK queue-counts "$QUEUE_URL"; }
# submit ARGS...: submits a noop task; its id in $ID.
submit() {
	tf submit --type noop "$@"
	ID=$(cat "$T/out")
	[ "$rc" -eq 0 ] && [ -n "$ID" ]
}
h drain >/dev/null

# ---- help and usage
ok=1
for cmd in suspend resume run-now clear due stats submit; do
	tf "$cmd" --help
	if [ "$rc" -ne 0 ] || ! grep -q "^usage: taskfleet $cmd" "$T/out"; then
		miss "help $cmd: exit $rc: $(head -c 200 "$T/out")"
	fi
done
tf --help
for cmd in init submit get list suspend resume run-now delete clear due stats; do
	grep -Eq "^  $cmd " "$T/out" || miss "usage does not list $cmd: $(cat "$T/out")"
done
for cmd in suspend resume run-now; do
	tf "$cmd"
	expect "$cmd without an id" 2 "ID is missing" || miss
	tf "$cmd" a b
	expect "$cmd with two ids" 2 || miss
	tf "$cmd" "$(printf 'x%.0s' $(seq 200))"
	expect "$cmd with a long id" 2 "too long" || miss
	tf "$cmd" --bogus x
	expect "$cmd with a bad option" 2 "unknown option --bogus" || miss
done
verdict "help, usage and bad arguments (exit 2)"

# ---- suspend a PENDING task
submit --at +1h
A=$ID
tf suspend "$A"
if expect "suspend pending" 0 && grep -q "^suspended $A" "$T/out" &&
    item_ok "$A" 'd["status"] == "SUSPENDED" and d["gen"] == 2 and
      not any(k in d for k in ("due_shard", "due_at", "enqueued_for"))'; then
	pass "suspend PENDING: SUSPENDED, gen + 1, out of the due index"
else
	fail "suspend pending" "${why:+$why; }$(cat "$T/out") $(h item "$A")"
fi
tf suspend "$A"
if expect "suspend again" 0 && grep -q "already SUSPENDED" "$T/out" &&
    item_ok "$A" 'd["gen"] == 2'; then
	pass "suspend SUSPENDED: says so, exit 0, nothing written"
else
	fail "suspend again" "${why:+$why; }$(cat "$T/out")"
fi

# A task with its message out: the message stays behind, stale by its gen.
submit
B=$ID
tf --json suspend "$B"
if expect "suspend with a message out" 0 &&
    out_ok 'd["result"] == "changed" and d["status"] == "SUSPENDED" and d["gen"] == 2' &&
    h drain | h json 'len(docs) == 1 and d["taskId"] == "'"$B"'" and d["gen"] == 1' >/dev/null; then
	pass "suspend PENDING with a message out: the old message has the old gen"
else
	fail "suspend with a message out" "${why:+$why; }$(cat "$T/out")"
fi

# ---- resume
# Overdue while suspended: runs now, with a message for the new gen.
submit --at -1h
C=$ID
h drain >/dev/null
tf suspend "$C"
before=$(now_ms)
tf --json resume "$C"
after=$(now_ms)
if expect "resume overdue" 0 &&
    item_ok "$C" 'd["status"] == "PENDING" and d["gen"] == 3 and
      '"$before"' <= d["next_run"] <= '"$after"' and d["due_at"] == (d["enqueued_for"] + 960000 if "enqueued_for" in d else d["next_run"]) and
      d["enqueued_for"] == d["next_run"] and "due_shard" in d' &&
    out_ok 'd["result"] == "changed" and d["enqueued"] and d["delay_seconds"] == 0' &&
    h drain | h json 'len(docs) == 1 and d["taskId"] == "'"$C"'" and d["gen"] == 3 and
      d["targetTimestamp"] == '"$(h item "$C" | h json 'd["next_run"]')" >/dev/null; then
	pass "resume overdue: PENDING, next_run = now, gen + 1, message for the new gen"
else
	fail "resume overdue" "${why:+$why; }$(cat "$T/out" "$T/err") $(h item "$C")"
fi

# Due beyond the horizon: keeps its time, no message (the sweeper's job).
tf resume "$A"
if expect "resume later" 0 &&
    item_ok "$A" 'd["status"] == "PENDING" and d["gen"] == 3 and
      d["due_at"] == (d["enqueued_for"] + 960000 if "enqueued_for" in d else d["next_run"]) and "due_shard" in d and "enqueued_for" not in d' &&
    [ "$(h drain | wc -l)" -eq 0 ] && grep -q "sweeper" "$T/out"; then
	pass "resume a task due in an hour: its time kept, no message"
else
	fail "resume later" "${why:+$why; }$(cat "$T/out") $(h item "$A")"
fi

# Due within the horizon: a delayed message.
submit --at +5m
D=$ID
d0=$(counts | h json 'd["delayed"]')
tf suspend "$D"
tf --json resume "$D"
if expect "resume soon" 0 &&
    item_ok "$D" 'd["gen"] == 3 and d["enqueued_for"] == d["next_run"]' &&
    out_ok 'd["enqueued"] and 280 <= d["delay_seconds"] <= 300' &&
    [ "$(counts | h json 'd["delayed"]')" -eq $((d0 + 1)) ]; then
	pass "resume a task due in 5 minutes: a delayed message for the new gen"
else
	fail "resume soon" "${why:+$why; }$(cat "$T/out") $(counts)"
fi

# TASKFLEET_HORIZON decides: with 1m, a task due in 5 minutes waits.
submit --at +5m
E=$ID
tf suspend "$E"
TASKFLEET_HORIZON=1m tf --json resume "$E"
if expect "resume with a short horizon" 0 && out_ok 'not d["enqueued"]' &&
    item_ok "$E" '"enqueued_for" not in d'; then
	pass "resume honours TASKFLEET_HORIZON"
else
	fail "resume with a short horizon" "${why:+$why; }$(cat "$T/out")"
fi

tf resume "$A"
expect "resume pending" 1 "task $A is PENDING, not suspended" && one_line &&
    item_ok "$A" 'd["gen"] == 3' && pass "resume PENDING: refused, exit 1" ||
    fail_why "resume PENDING: refused, exit 1"

# ---- run-now
submit --at +2h
R=$ID
before=$(now_ms)
tf --json run-now "$R"
after=$(now_ms)
if expect "run-now" 0 &&
    item_ok "$R" 'd["status"] == "PENDING" and d["gen"] == 2 and
      '"$before"' <= d["next_run"] <= '"$after"' and d["due_at"] == (d["enqueued_for"] + 960000 if "enqueued_for" in d else d["next_run"]) and
      d["enqueued_for"] == d["next_run"]' &&
    out_ok 'd["result"] == "changed" and d["enqueued"] and d["gen"] == 2' &&
    h drain | h json 'len(docs) == 1 and d["taskId"] == "'"$R"'" and d["gen"] == 2' >/dev/null; then
	pass "run-now PENDING: due now, gen + 1, a message for the new gen"
else
	fail "run-now" "${why:+$why; }$(cat "$T/out" "$T/err") $(h item "$R")"
fi
tf run-now "$A"
tf suspend "$A"
tf run-now "$A"
expect "run-now suspended" 1 "SUSPENDED; resume it" && one_line &&
    item_ok "$A" 'd["status"] == "SUSPENDED" and d["gen"] == 5' &&
    pass "run-now SUSPENDED: refused with a pointer to resume" ||
    fail_why "run-now SUSPENDED: refused with a pointer to resume"

# ---- PROCESSING: suspend sets the flag, gen and lease untouched
now=$(now_ms)
$TFCHECK put "$TABLE" "{\"id\":\"proc-1\",\"ns\":\"default\",\"type\":\"noop\",\"params\":{},
  \"status\":\"PROCESSING\",\"completed\":false,\"next_run\":$now,\"iteration\":2,
  \"attempts\":0,\"max_attempts\":3,\"gen\":7,\"lease_owner\":\"consumer-a\",
  \"lease_until\":$((now + 60000)),\"due_shard\":\"4\",\"due_at\":$((now + 60000))}"
tf suspend proc-1
if expect "suspend processing" 0 && grep -q "when this run ends" "$T/out" &&
    item_ok proc-1 'd["status"] == "PROCESSING" and d["gen"] == 7 and
      d["suspend_requested"] is True and d["lease_owner"] == "consumer-a" and
      d["lease_until"] == '"$((now + 60000))"' and d["due_at"] == '"$((now + 60000))"; then
	pass "suspend PROCESSING: suspend_requested set, gen and lease untouched"
else
	fail "suspend processing" "${why:+$why; }$(cat "$T/out" "$T/err") $(h item proc-1)"
fi
tf suspend proc-1
expect "suspend processing again" 0 && grep -q "requested already" "$T/out" &&
    item_ok proc-1 'd["gen"] == 7' && pass "suspend PROCESSING again: exit 0, nothing written" ||
    fail_why "suspend PROCESSING again: exit 0, nothing written"
tf get proc-1
ok=0
grep -q "^suspend     requested" "$T/out" && ok=1
tf --json get proc-1
[ $ok -eq 1 ] && out_ok 'd["suspend_requested"] is True' &&
    pass "get shows suspend_requested" || fail "get suspend_requested" "$(cat "$T/out")"
tf run-now proc-1
expect "run-now processing" 1 "running now" && one_line &&
    item_ok proc-1 'd["gen"] == 7' && pass "run-now PROCESSING: refused (running now)" ||
    fail_why "run-now PROCESSING: refused (running now)"
tf resume proc-1
if expect "resume processing" 0 && grep -q "withdrawn" "$T/out" &&
    item_ok proc-1 'd["status"] == "PROCESSING" and d["gen"] == 7 and
      "suspend_requested" not in d and d["lease_owner"] == "consumer-a"'; then
	pass "resume PROCESSING with a suspend requested: the request withdrawn"
else
	fail "resume processing" "${why:+$why; }$(cat "$T/out" "$T/err") $(h item proc-1)"
fi
tf resume proc-1
expect "resume processing without request" 1 "no suspend was requested" &&
    pass "resume PROCESSING without a request: refused" ||
    fail_why "resume PROCESSING without a request: refused"

# ---- finished and missing tasks
$TFCHECK put "$TABLE" '{"id":"done-1","ns":"default","type":"noop","params":{},
  "status":"COMPLETED","completed":true,"next_run":1,"gen":4,"iteration":1}'
$TFCHECK put "$TABLE" '{"id":"failed-1","ns":"default","type":"noop","params":{},
  "status":"FAILED","completed":false,"next_run":1,"gen":6,"iteration":0}'
ok=1
for t in done-1:COMPLETED:4 failed-1:FAILED:6; do
	id=${t%%:*}; st=${t#*:}; st=${st%%:*}; gen=${t##*:}
	tf suspend "$id"
	expect "suspend $st" 1 "task $id is $st; only PENDING or PROCESSING tasks can be suspended" && one_line || miss
	tf resume "$id"
	expect "resume $st" 1 "task $id is $st; only SUSPENDED tasks can be resumed" || miss
	tf run-now "$id"
	expect "run-now $st" 1 "task $id is $st; only PENDING tasks can be run now" || miss
	item_ok "$id" 'd["status"] == "'"$st"'" and d["gen"] == '"$gen" || miss
	[ -s "$T/out" ] && miss "$st refusal on stdout: $(cat "$T/out")"
done
verdict "COMPLETED and FAILED: every change refused, exit 1, untouched"
ok=1
for cmd in suspend resume run-now; do
	tf "$cmd" no-such-task
	expect "$cmd missing" 3 "no task \"no-such-task\"" || miss
done
verdict "a missing task: exit 3"

# ---- clear
ok=1
for i in 1 2 3; do submit --ns clr-a --at +1h || ok=0; done
submit --ns clr-a || ok=0
for i in 1 2; do submit --ns clr-b --at +1h || ok=0; done
h drain >/dev/null
tf clear --ns clr-a
if [ $ok -eq 1 ] && expect "clear" 0 && grep -qx "deleted 4 tasks in clr-a" "$T/out" &&
    $TFCHECK scan "$TABLE" | h json 'sum(x.get("ns") == "clr-a" for x in docs) == 0 and
      sum(x.get("ns") == "clr-b" for x in docs) == 2' >/dev/null; then
	pass "clear --ns deletes exactly that namespace and counts it"
else
	fail "clear" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi
tf --json clear --ns clr-a --yes
expect "clear empty" 0 && out_ok 'd == {"ns": "clr-a", "deleted": 0}' &&
    pass "clear of an empty namespace: 0" || fail_why "clear of an empty namespace: 0"
tf clear
expect "clear without ns" 2 "--ns is required" && pass "clear without --ns: exit 2" ||
    fail_why "clear without --ns: exit 2"
tf clear --ns "no spaces"
expect "clear bad ns" 2 "--ns" && pass "clear with a bad namespace: exit 2" ||
    fail_why "clear with a bad namespace: exit 2"

# ---- due
now=$(now_ms)
submit --ns due-x --at -10m && DUE1=$ID
submit --ns due-x --at -1m && DUE2=$ID
submit --ns due-x --at +1h && NOTDUE1=$ID
submit --ns due-x --at -5m && NOTDUE2=$ID
tf suspend "$NOTDUE2"
h drain >/dev/null
# Overdue with a message sent long ago: presumed lost.
$TFCHECK put "$TABLE" "{\"id\":\"due-lost\",\"ns\":\"due-x\",\"type\":\"noop\",\"params\":{},
  \"status\":\"PENDING\",\"completed\":false,\"next_run\":$((now - 7200000)),\"gen\":3,
  \"due_shard\":\"7\",\"due_at\":$((now - 7200000)),\"enqueued_for\":$((now - 7200000))}"
$TFCHECK put "$TABLE" "{\"id\":\"due-proc\",\"ns\":\"due-x\",\"type\":\"noop\",\"params\":{},
  \"status\":\"PROCESSING\",\"completed\":false,\"next_run\":$((now - 600000)),\"gen\":3,
  \"lease_owner\":\"c\",\"lease_until\":$((now - 1000)),\"due_shard\":\"2\",\"due_at\":$((now - 1000))}"
$TFCHECK put "$TABLE" "{\"id\":\"due-done\",\"ns\":\"due-x\",\"type\":\"noop\",\"params\":{},
  \"status\":\"COMPLETED\",\"completed\":true,\"next_run\":$((now - 600000)),\"gen\":3}"
# A message counts as lost once its time is older than the sweeper's grace
# period (as the sweeper sees it); with 1h, only due-lost's is.
TASKFLEET_SWEEP_GRACE=1h tf --json due --ns due-x
if expect "due ns" 0 &&
    out_ok '[x["id"] for x in docs] == ["due-lost", "'"$DUE1"'", "'"$DUE2"'"] and
      [x["message"] for x in docs] == ["lost", "sent", "sent"] and
      all(x["overdue_ms"] >= 0 and x["enqueued_for"] >= x["next_run"] for x in docs)'; then
	pass "due --ns: exactly the due PENDING tasks, most overdue first, message state"
else
	fail "due ns" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi
tf --json due
if expect "due all" 0 &&
    out_ok 'set(["due-lost", "'"$DUE1"'", "'"$DUE2"'"]) <= set(x["id"] for x in docs) and
      not set(["'"$NOTDUE1"'", "'"$NOTDUE2"'", "due-proc", "due-done"]) & set(x["id"] for x in docs)' &&
    $TFCHECK scan "$TABLE" | h json 'set(x["id"] for x in docs if x.get("status") == "PENDING" and
      x["next_run"] <= '"$(now_ms)"') == set('"$(h json '[x["id"] for x in docs]' <"$T/out")"')' >/dev/null; then
	pass "due (all namespaces, the by_due shards): exactly the due PENDING tasks"
else
	fail "due all" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi
tf due --ns due-x --limit 1
if expect "due limit" 0 "more tasks are due" && [ "$(grep -c . "$T/out")" -eq 2 ] &&
    grep -q "^due-lost .* lost" "$T/out"; then
	pass "due --limit: a header, one task, and a note that there are more"
else
	fail "due limit" "${why:+$why; }$(cat "$T/out" "$T/err")"
fi
tf due --limit 0
expect "due bad limit" 2 "--limit" && pass "due --limit 0: exit 2" ||
    fail_why "due --limit 0: exit 2"

# ---- stats
$TFCHECK put-legacy "$TABLE" legacy-1 noop '{}'
tf --json stats
summary=$($TFCHECK summary "$TABLE")
qc=$(counts)
if expect "stats" 0 &&
    out_ok '(lambda s, t: all(t[k] == s.get(k, 0) + (s.get("LEGACY", 0) if k == "PENDING" else 0)
          for k in ("PENDING", "PROCESSING", "COMPLETED", "FAILED", "SUSPENDED")) and
      t["total"] == sum(s.values()))('"$summary"', d["tasks"]) and
      d["legacy"] == 1 and d["table"] == "'"$TABLE"'"' &&
    out_ok '(lambda q: d["queue"]["visible"] == q["visible"] and
      d["queue"]["in_flight"] == q["inflight"] and d["queue"]["delayed"] == q["delayed"])('"$qc"') and
      d["queue"]["url"] == "'"$QUEUE_URL"'" and d["dlq"]["url"].endswith("-dlq") and
      d["dlq"]["visible"] == 0'; then
	pass "stats: counts by status and the queue's depth match botocore's"
else
	fail "stats" "${why:+$why; }$(cat "$T/out" "$T/err") summary $summary queue $qc"
fi
tf --json stats --ns due-x
expect "stats ns" 0 && out_ok 'd["ns"] == "due-x" and d["tasks"]["PENDING"] == 4 and
    d["tasks"]["SUSPENDED"] == 1 and d["tasks"]["PROCESSING"] == 1 and
    d["tasks"]["COMPLETED"] == 1 and d["tasks"]["total"] == 7' &&
    pass "stats --ns: one namespace's counts" || fail "stats ns" "${why:+$why; }$(cat "$T/out")"
tf stats
expect "stats text" 0 && grep -q "^  PENDING" "$T/out" && grep -q "^queue $QUEUE_URL" "$T/out" &&
    pass "stats for people" || fail "stats text" "${why:+$why; }$(cat "$T/out")"

# ---- submit: scheduling
h drain >/dev/null
before=$(now_ms)
tf --json submit --type noop --every 30m
after=$(now_ms)
ID=$(h json 'd["id"]' <"$T/out" 2>/dev/null)
if expect "every" 0 &&
    item_ok "$ID" 'd["schedule"] == {"every": "30m"} and
      '"$before"' <= d["next_run"] <= '"$after"' and d["enqueued_for"] == d["next_run"] and d["gen"] == 1' &&
    h drain | h json 'len(docs) == 1 and d["taskId"] == "'"$ID"'" and d["gen"] == 1' >/dev/null; then
	pass "submit --every: the schedule, first run now, its message"
else
	fail "every" "${why:+$why; }$(cat "$T/out" "$T/err") $(h item "$ID")"
fi

before=$(now_ms)
tf --json submit --type noop --cron "0 9 * * *" --tz Europe/Berlin --max-runs 10 --until 2099-01-01T00:00:00Z
after=$(now_ms)
ID=$(h json 'd["id"]' <"$T/out" 2>/dev/null)
e1=$(h cron_first 9 Europe/Berlin "$before")
e2=$(h cron_first 9 Europe/Berlin "$after")
if expect "cron" 0 &&
    item_ok "$ID" 'd["schedule"] == {"cron": "0 9 * * *", "tz": "Europe/Berlin",
      "max_runs": 10, "until": 4070908800000} and d["next_run"] in ('"$e1, $e2"') and
      d["next_run"] % 86400000 in (7 * 3600000, 8 * 3600000) and d["due_at"] == (d["enqueued_for"] + 960000 if "enqueued_for" in d else d["next_run"])'; then
	pass "submit --cron --tz --max-runs --until: the schedule, first run at 09:00 Berlin ($(h item "$ID" | h json 'd["next_run"] % 86400000 // 3600000'):00Z)"
else
	fail "cron" "${why:+$why; }$(cat "$T/out" "$T/err") $(h item "$ID") expected $e1 or $e2"
fi
tf get "$ID"
grep -q "^schedule    cron 0 9 \* \* \* Europe/Berlin, max 10 runs, until 2099-01-01T00:00:00.000Z$" "$T/out" &&
    pass "get shows the schedule readably" || fail "get schedule" "$(grep schedule "$T/out")"

before=$(now_ms)
tf --json submit --type noop --cron "0 0 1 1 *"
ID=$(h json 'd["id"]' <"$T/out" 2>/dev/null)
ny=$(h newyear "$before")
expect "cron utc" 0 && item_ok "$ID" 'd["schedule"] == {"cron": "0 0 1 1 *"} and
    d["next_run"] == '"$ny"' and "enqueued_for" not in d' &&
    pass "submit --cron without --tz: UTC, the next slot, no message yet" ||
    fail "cron utc" "${why:+$why; }$(h item "$ID") want $ny"

before=$(now_ms)
tf --json submit --type noop --every 1h --until +2h --at +10m
after=$(now_ms)
ID=$(h json 'd["id"]' <"$T/out" 2>/dev/null)
expect "every until at" 0 && item_ok "$ID" '
    '"$((before + 7200000))"' <= d["schedule"]["until"] <= '"$((after + 7200000))"' and
    '"$((before + 600000))"' <= d["next_run"] <= '"$((after + 600000))"' and
    d["schedule"]["every"] == "1h" and "max_runs" not in d["schedule"]' &&
    pass "submit --every --until +DUR --at: until in epoch ms, first run at --at" ||
    fail "every until at" "${why:+$why; }$(h item "$ID")"

# The horizon: TASKFLEET_HORIZON=1m makes a task due in 5 minutes wait. No
# message is sent: the queue holds as many messages as before (all of them:
# an earlier message whose delay ends meanwhile moves from delayed to visible).
all_messages() { counts | h json 'd["visible"] + d["inflight"] + d["delayed"]'; }
d0=$(all_messages)
TASKFLEET_HORIZON=1m tf --json submit --type noop --at +5m --every 1h
ID=$(h json 'd["id"]' <"$T/out" 2>/dev/null)
expect "horizon" 0 && out_ok 'not d["enqueued"]' && item_ok "$ID" '"enqueued_for" not in d' &&
    [ "$(all_messages)" -eq "$d0" ] &&
    pass "submit honours TASKFLEET_HORIZON" || fail "horizon" "${why:+$why; }$(cat "$T/out") $(h item "$ID")"

# Bad scheduling input: exit 2, one line, nothing written, nothing sent.
items0=$($TFCHECK scan "$TABLE" | wc -l)
q0=$(counts)
ok=1
while IFS='|' read -r name pat args; do
	[ -n "$name" ] || continue
	eval "tf submit --type noop $args"
	expect "bad: $name" 2 "$pat" && one_line || miss
done <<'EOF'
every and cron|exclude each other|--every 30m --cron '0 9 * * *'
tz without cron|--tz|--tz Europe/Berlin
tz with every|--tz|--every 1h --tz Europe/Berlin
max-runs alone|--max-runs|--max-runs 3
until alone|--until|--until +1d
every garbage|--every|--every soon
every without unit|--every|--every 30
every below a second|--every|--every 500ms
every zero|--every|--every 0s
cron four fields|--cron|--cron '0 9 * *'
cron bad minute|--cron|--cron '61 9 * * *'
cron garbage|--cron|--cron 'every day'
unknown zone|--tz|--cron '0 9 * * *' --tz Mars/Olympus
max-runs zero|--max-runs|--every 1h --max-runs 0
max-runs negative|--max-runs|--every 1h --max-runs -2
max-runs text|--max-runs|--every 1h --max-runs many
until past|--until|--every 1h --until -1h
until garbage|--until|--every 1h --until tomorrow
at after until|--at|--every 1h --at +2d --until +1d
no slot before until|--until|--cron '0 0 29 2 *' --until +1d
EOF
[ "$($TFCHECK scan "$TABLE" | wc -l)" -eq "$items0" ] || miss "bad input wrote: items $items0 -> $($TFCHECK scan "$TABLE" | wc -l)"
[ "$(counts)" = "$q0" ] || miss "bad input sent: $q0 -> $(counts)"
verdict "bad scheduling input: exit 2, one line, nothing written or sent"

[ $e2e_failed -eq 0 ] || exit 1
