#!/usr/bin/env bash
# engine_metrics.sh - --metrics-listen against running consumers:
#   - /metrics is accepted by Prometheus's own parser and linter
#     (`promtool check metrics`), and its values match what the consumer did:
#     runs by runner and outcome (as its log lines tell them), claims won and
#     lost, malformed messages, histogram counts equal to the runs, AWS
#     requests by service and operation (with the error of failed calls),
#     sweeps, the gauges;
#   - /healthz: 200 while the consumer works; 503 once SIGTERM begins and
#     while the receive loop is stalled (TASKFLEET_TEST_STALL_RECEIVER=1);
#   - /readyz: 200 when the table and queue answer (one AWS check per few
#     seconds, whatever the probes); 503 naming the table when it is missing;
#   - 404 for other paths, 405 for other methods; port 0 picks a free port
#     (the "started" line names it); TASKFLEET_METRICS_LISTEN; IPv6;
#   - a bad address exits 2 with one line, a port in use exits 1;
#   - every JSON log line carries the consumer id, and run lines the task,
#     namespace, runner, iteration and attempt.
set -u
. "$(dirname "$0")/../tools/e2e.sh"
e2e_init metrics
export TASKFLEET_RETRY_BASE=200ms TASKFLEET_SWEEP_INTERVAL=1s

if ! command -v promtool >/dev/null 2>&1; then
	fail "metrics-promtool-installed" "promtool is missing (Debian package prometheus; scripts/setup installs it)"
	exit 1
fi

# get PORT PATH [METHOD] [HOST]: prints the status code, then the body.
get() {
	$PY - "$@" <<'EOF'
import sys, urllib.request, urllib.error
port, path = sys.argv[1], sys.argv[2]
method = sys.argv[3] if len(sys.argv) > 3 else "GET"
host = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
req = urllib.request.Request("http://%s:%s%s" % (host, port, path), method=method,
                             data=b"x" if method in ("POST", "PUT") else None)
try:
    r = urllib.request.urlopen(req, timeout=15)
    code, body, allow = r.status, r.read(), r.headers.get("Allow", "")
except urllib.error.HTTPError as e:
    code, body, allow = e.code, e.read(), e.headers.get("Allow", "")
except Exception as e:
    code, body, allow = 0, str(e).encode(), ""
print(code)
sys.stdout.write(body.decode("utf-8", "replace"))
if allow:
    sys.stdout.write("\nAllow: %s\n" % allow)
EOF
}
# code_is CODE PORT PATH [METHOD]: the answer has that status.
code_is() { [ "$(get "$2" "$3" "${4:-GET}" 2>/dev/null | head -1)" = "$1" ]; }
# answer_has CODE TEXT PORT PATH: that status, and TEXT in the body.
answer_has() {
	local out
	out=$(get "$3" "$4" 2>/dev/null)
	[ "$(echo "$out" | head -1)" = "$1" ] && echo "$out" | tail -n +2 | grep -Eq "$2"
}
# port_of NAME: the metrics port from the consumer's "started" line.
port_of() {
	grep -o '"metrics":"[^"]*"' "$E2E_DIR/$1.log" 2>/dev/null | head -1 |
	    sed 's/.*:\([0-9]*\)"$/\1/'
}
has_port() { [ -n "$(port_of "$1")" ]; }
# scrape PORT FILE: saves /metrics.
scrape() { get "$1" /metrics | tail -n +2 >"$2"; }

# mq FILE LOG EXPR: evaluates the Python expression EXPR over the samples of
# the exposition in FILE (v(name, **labels), total(name, **labels)) and the
# JSON log lines of LOG (logs, runs: the lines of finished runs).
cat >"$E2E_DIR/mq.py" <<'EOF'
import json, re, sys
samples = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$', line)
    name, labels, value = m.groups()
    lab = tuple(sorted(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', labels or "")))
    samples[(name, lab)] = float(value)
def v(name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))
def total(name, **labels):
    return sum(val for (n, lab), val in samples.items() if n == name
               and all((k, w) in lab for k, w in labels.items()))
def series(name):
    return [dict(lab) for (n, lab) in samples if n == name]
logs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
runs = [l for l in logs if "duration_ms" in l and "outcome" in l]
ok = eval(sys.argv[3])
if not ok:
    print("mq: false: %s" % sys.argv[3], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
mq() { $PY "$E2E_DIR/mq.py" "$@" 2>>"$E2E_DIR/mq.err"; }

# --- bad addresses --------------------------------------------------------
for bad in localhost:9100 127.0.0.1 127.0.0.1:65536 '[::1]9100' ':9100' '127.0.0.1:x' '[nope]:1'; do
	"$CONSUMER" --id bad --metrics-listen "$bad" >"$E2E_DIR/bad.out" 2>"$E2E_DIR/bad.err"
	status=$?
	check "metrics-bad-listen-exits-2 ($bad: $status)" test "$status" -eq 2
	check "metrics-bad-listen-one-line ($bad)" test "$(wc -l <"$E2E_DIR/bad.err")" -eq 1
done
check "metrics-bad-listen-says-what" grep -q 'expected ADDR:PORT' "$E2E_DIR/bad.err"
TASKFLEET_METRICS_LISTEN=nonsense "$CONSUMER" --id bad >/dev/null 2>"$E2E_DIR/bad.err"
check "metrics-bad-env-exits-2" test $? -eq 2

# --- a consumer at work -----------------------------------------------------
# m1 lacks the record runner: its task counts under runner="(unknown)".
TASKFLEET_RUNNERS=$TF_BUILD/runners:$TF_BUILD/tests/runners/sleep.so \
    start_consumer m1 --concurrency 4 --metrics-listen 127.0.0.1:0
m1_pid=${consumer_pids[-1]}
check "metrics-port-in-started-line" wait_until 20 has_port m1
P=$(port_of m1)
check "metrics-started-line-says-where" \
    grep -q "\"msg\":\"consumer m1 started: .*metrics on http://127.0.0.1:$P/metrics" "$E2E_DIR/m1.log"
check "metrics-healthz-200" answer_has 200 '^ok$' "$P" /healthz
check "metrics-readyz-200" answer_has 200 '^ok$' "$P" /readyz
check "metrics-404" code_is 404 "$P" /nope
check "metrics-404-subpath" code_is 404 "$P" /metrics/x
check "metrics-405-post" code_is 405 "$P" /metrics POST
check "metrics-405-put-healthz" code_is 405 "$P" /healthz PUT
says_allow() { get "$1" /readyz DELETE 2>/dev/null | grep -q '^Allow: GET, HEAD'; }
check "metrics-405-says-allow" says_allow "$P"
check "metrics-head-200" code_is 200 "$P" /metrics HEAD

tf_cli submit --type noop --id n1 >/dev/null
tf_cli submit --type noop --id n2 --ns team-a >/dev/null
tf_cli submit --type countdown --id c1 --params '{"n": 3, "every_ms": 100}' >/dev/null
tf_cli submit --type fail --id f1 --max-attempts 1 --params '{"mode": "permanent"}' >/dev/null
tf_cli submit --type fail --id f2 --max-attempts 2 --params '{"mode": "retry"}' >/dev/null
tf_cli submit --type record --id u1 --max-attempts 1 >/dev/null
$TFCHECK send "$QUEUE_URL" 'not json'
settled() {
	[ "$($TFCHECK summary "$E2E_NAME")" = '{"COMPLETED": 3, "FAILED": 3}' ]
}
check "metrics-tasks-settled" wait_until 60 settled
# A stale message for a finished task, and one for a task that never was.
$TFCHECK send "$QUEUE_URL" '{"taskId": "n1", "gen": 0}'
$TFCHECK send "$QUEUE_URL" '{"taskId": "ghost-1", "gen": 1}'
dropped() { grep '"task":"ghost-1"' "$E2E_DIR/m1.log" | grep -q 'task does not exist'; }
check "metrics-ghost-dropped" wait_until 20 dropped
sleep 1.5   # the message deletes, and one more sweep

M=$E2E_DIR/metrics.txt
L=$E2E_DIR/m1.log
scrape "$P" "$M"
promtool check metrics <"$M" >"$E2E_DIR/promtool.out" 2>&1
status=$?
check "metrics-promtool-accepts (status $status: $(head -c 300 "$E2E_DIR/promtool.out" | tr '\n' ' '))" \
    test "$status" -eq 0 -a ! -s "$E2E_DIR/promtool.out"
content_type_is() {
	$PY -c "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:$1/metrics', timeout=15); sys.exit(r.headers['Content-Type'] != sys.argv[1])" "$2"
}
check "metrics-content-type" content_type_is "$P" 'text/plain; version=0.0.4; charset=utf-8'

# The runs, against the consumer's own log lines.
check "metrics-runs-noop-completed" mq "$M" "$L" 'v("taskfleet_runs_total", runner="noop", outcome="completed") == 2'
check "metrics-runs-countdown" mq "$M" "$L" 'v("taskfleet_runs_total", runner="countdown", outcome="success") == 2 and v("taskfleet_runs_total", runner="countdown", outcome="completed") == 1'
check "metrics-runs-fail" mq "$M" "$L" 'v("taskfleet_runs_total", runner="fail", outcome="failed") == 2 and v("taskfleet_runs_total", runner="fail", outcome="retry") == 1'
check "metrics-runs-unknown-runner" mq "$M" "$L" 'v("taskfleet_runs_total", runner="(unknown)", outcome="failed") == 1'
check "metrics-runs-match-log-lines" mq "$M" "$L" 'all(v("taskfleet_runs_total", runner=(r["runner"] if r["runner"] in ("noop","countdown","fail","http") else "(unknown)"), outcome=r["outcome"]) == sum(1 for x in runs if x["runner"] == r["runner"] and x["outcome"] == r["outcome"]) for r in runs) and total("taskfleet_runs_total") == len(runs) == 9'
check "metrics-claims-won-and-chained-equal-runs" mq "$M" "$L" 'v("taskfleet_claims_won_total") + v("taskfleet_runs_chained_total") == total("taskfleet_runs_total") and v("taskfleet_runs_chained_total") == 2'
check "metrics-claims-lost-stale" mq "$M" "$L" 'v("taskfleet_claims_lost_total", reason="stale") >= 1'
check "metrics-claims-lost-missing" mq "$M" "$L" 'v("taskfleet_claims_lost_total", reason="missing") == 1'
check "metrics-malformed" mq "$M" "$L" 'v("taskfleet_messages_malformed_total") == 1'
check "metrics-received" mq "$M" "$L" 'v("taskfleet_messages_received_total") >= 10 and v("taskfleet_messages_received_total") >= v("taskfleet_claims_won_total") + total("taskfleet_claims_lost_total") + v("taskfleet_messages_malformed_total")'
# Histograms: one observation per run, cumulative buckets ending at +Inf.
check "metrics-duration-count-equals-runs" mq "$M" "$L" 'all(v("taskfleet_run_duration_seconds_count", runner=r) == total("taskfleet_runs_total", runner=r) for r in ("noop","countdown","fail","http","(unknown)")) and total("taskfleet_run_duration_seconds_count") == 9'
check "metrics-lateness-count-equals-runs" mq "$M" "$L" 'all(v("taskfleet_run_lateness_seconds_count", runner=r) == total("taskfleet_runs_total", runner=r) for r in ("noop","countdown","fail","http","(unknown)"))'
check "metrics-histogram-buckets-cumulative" mq "$M" "$L" 'all(v(h + "_bucket", runner=r, le="+Inf") == v(h + "_count", runner=r) and sorted(b[1] for b in sorted(((float(l["le"]), v(h + "_bucket", **l)) for l in series(h + "_bucket") if l["runner"] == r))) == [b[1] for b in sorted(((float(l["le"]), v(h + "_bucket", **l)) for l in series(h + "_bucket") if l["runner"] == r))] for h in ("taskfleet_run_duration_seconds", "taskfleet_run_lateness_seconds") for r in ("noop", "fail"))'
check "metrics-lateness-sum-plausible" mq "$M" "$L" 'total("taskfleet_run_lateness_seconds_sum") < 60'
# AWS requests by service and operation; the stale claim's failed condition.
check "metrics-aws-requests-by-operation" mq "$M" "$L" 'all(v("taskfleet_aws_requests_total", service=s, operation=o) > 0 for s, o in (("sqs","ReceiveMessage"),("sqs","DeleteMessageBatch"),("sqs","SendMessage"),("sqs","GetQueueUrl"),("sqs","GetQueueAttributes"),("dynamodb","UpdateItem"),("dynamodb","GetItem"),("dynamodb","Query")))'
check "metrics-aws-requests-at-least-calls" mq "$M" "$L" 'all(v("taskfleet_aws_requests_total", **l) >= v("taskfleet_aws_calls_total", **l) > 0 for l in series("taskfleet_aws_calls_total"))'
check "metrics-aws-error-condition" mq "$M" "$L" 'v("taskfleet_aws_errors_total", service="dynamodb", operation="UpdateItem", error="condition") >= 2'
# Every request beyond a call's first is a retry.
check "metrics-aws-retries-and-throttles" mq "$M" "$L" 'v("taskfleet_aws_retries_total") == total("taskfleet_aws_requests_total") - total("taskfleet_aws_calls_total") and v("taskfleet_aws_throttled_calls_total") == 0 and total("taskfleet_aws_throttled_requests_total") == 0'
# Every task was submitted due now (the CLI sent its message) and no message
# was lost: the sweeper sent none.
check "metrics-sweeps" mq "$M" "$L" 'v("taskfleet_sweeps_total") >= 1 and v("taskfleet_sweeper_enqueued_total") == 0 and v("taskfleet_sweeper_recovered_total") == 0'
check "metrics-gauges" mq "$M" "$L" 'v("taskfleet_tasks_in_flight") == 0 and v("taskfleet_receive_limit") == 4 and v("taskfleet_concurrency") == 4'
check "metrics-build-info" mq "$M" "$L" 'len(series("taskfleet_build_info")) == 1 and v("taskfleet_start_time_seconds") > 1.7e9'
# Readiness is checked against AWS once per few seconds, however often asked.
scrape "$P" "$E2E_DIR/before.txt"
for i in 1 2 3 4; do get "$P" /readyz >/dev/null; done
scrape "$P" "$E2E_DIR/after.txt"
# The readiness checks so far (at least the one of metrics-readyz-200) are
# counted; a missing metric prints nothing and fails the check.
gqa() { $PY "$E2E_DIR/mq.py" "$1" "$L" 'print(int(v("taskfleet_aws_calls_total", service="sqs", operation="GetQueueAttributes"))) or True' 2>>"$E2E_DIR/mq.err"; }
before=$(gqa "$E2E_DIR/before.txt")
after=$(gqa "$E2E_DIR/after.txt")
readyz_cached() {
	[[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && [ "$before" -ge 1 ] &&
	    [ $((after - before)) -le 1 ]
}
check "metrics-readyz-cached ($before -> $after after 4 probes)" readyz_cached

# Log lines: every one names the consumer; run lines carry their context.
check "metrics-log-lines-carry-consumer" mq "$M" "$L" 'len(logs) > 10 and all(l.get("consumer") == "m1" for l in logs)'
check "metrics-run-lines-carry-context" mq "$M" "$L" 'all(all(k in r for k in ("time","level","task","ns","runner","iteration","attempt")) for r in runs)'
check "metrics-run-lines-carry-namespace" mq "$M" "$L" 'any(r["task"] == "n2" and r["ns"] == "team-a" for r in runs) and any(r["task"] == "n1" and r["ns"] == "default" for r in runs)'

# --- SIGTERM: a run still going, /healthz and /readyz answer 503 -----------
tf_cli submit --type sleep --id s1 --params '{"ms": 10000}' >/dev/null
running() { $TFCHECK scan "$E2E_NAME" | grep '"id": "s1"' | grep -q PROCESSING; }
check "metrics-sleep-running" wait_until 20 running
kill -TERM "$m1_pid"
check "metrics-healthz-503-when-stopping" wait_until 8 answer_has 503 '^stopping' "$P" /healthz
check "metrics-readyz-503-when-stopping" answer_has 503 '^stopping' "$P" /readyz
wait "$m1_pid"
status=$?
consumer_pids=()
check "metrics-m1-exits-0 (status $status)" test "$status" -eq 0
check "metrics-run-finished-during-shutdown" grep -q '"task":"s1".*"outcome":"completed"' "$L"
check "metrics-server-gone-after-exit" code_is 0 "$P" /healthz

# --- the table is missing: not ready, but alive; the env setting ----------
TASKFLEET_METRICS_LISTEN=127.0.0.1:0 start_consumer m2 --table "$E2E_NAME-missing"
check "metrics-env-setting-listens" wait_until 20 has_port m2
P2=$(port_of m2)
# Whichever finds it first names the missing table: the sweeper's query or
# the readiness probe's GetItem.
check "metrics-readyz-503-table-missing" answer_has 503 "table $E2E_NAME-missing( fails)?: (GetItem )?not found" "$P2" /readyz
check "metrics-healthz-200-table-missing" answer_has 200 '^ok$' "$P2" /healthz
# A port in use: exit 1 with the reason.
"$CONSUMER" --id busy --metrics-listen "127.0.0.1:$P2" >/dev/null 2>"$E2E_DIR/busy.err"
status=$?
check "metrics-port-in-use-exits-1 (status $status)" test "$status" -eq 1
check "metrics-port-in-use-says-why" grep -q "cannot listen: .*in use" "$E2E_DIR/busy.err"
check "metrics-m2-exits-0" stop_consumers

# --- IPv6 -------------------------------------------------------------------
if $PY -c "import socket; s = socket.socket(socket.AF_INET6); s.bind(('::1', 0))" 2>/dev/null; then
	start_consumer m3 --metrics-listen '[::1]:0'
	check "metrics-ipv6-listens" wait_until 20 has_port m3
	P3=$(port_of m3)
	v6_ok() { [ "$(get "$1" /healthz GET '[::1]' 2>/dev/null | head -1)" = 200 ]; }
	check "metrics-ipv6-healthz-200" v6_ok "$P3"
	check "metrics-ipv6-only-that-address" code_is 0 "$P3" /healthz
	check "metrics-m3-exits-0" stop_consumers
fi

# --- the receive loop stalls: /healthz says so -----------------------------
TASKFLEET_TEST_STALL_RECEIVER=1 TASKFLEET_WATCHDOG=3s \
    start_consumer m4 --metrics-listen 127.0.0.1:0 --shutdown-timeout 30
check "metrics-stalled-listens" wait_until 20 has_port m4
P4=$(port_of m4)
stalled() { answer_has 503 'receive loop has made no progress|watchdog found the consumer stuck' "$P4" /healthz; }
check "metrics-healthz-503-when-receive-loop-stalls" wait_until 20 stalled
kill_consumers
exit $e2e_failed
