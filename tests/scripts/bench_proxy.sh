#!/usr/bin/env bash
# bench_proxy.sh - a self-check of bench/proxy, the latency proxy of the
# issue 21 benchmarks, on loopback only: a small recording upstream (Python)
# behind the proxy with --delay-ms 300, then
#   forwards            the upstream gets the path, Host header and body
#                       unchanged and its answer comes back (three requests
#                       on one kept-alive client connection)
#   delay               every request takes at least the set delay
#   delay-before        an upstream that waits 200 ms before answering makes
#                       the request take at least delay + 200 ms (the delay
#                       is added before forwarding, not hidden by the wait)
#   connections         the proxy counts one connection per client
#                       connection, per endpoint
#   upstream-keepalive  the upstream sees one connection per client
#                       connection, not one per request
#   operations          requests per endpoint and per X-Amz-Target operation
# No timing upper bounds: the machine is shared.
set -u
ROOT=${TF_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${TF_BUILD:-$ROOT/build}
. "$ROOT/tests/tools/bench_script.sh" bench-proxy

if ! make -s -C "$ROOT" BUILD="$BUILD" "$BUILD/bench/proxy" >"$W/make.log" 2>&1; then
	fail bench-proxy-build "make $BUILD/bench/proxy failed: $(tail -n 3 "$W/make.log")"
	exit 1
fi

# The upstream: answers every POST with what it received (path, Host,
# X-Amz-Target, body) as JSON, after ?wait=MS if the path asks; keeps
# connections alive and counts them in $W/upstream.conns.
cat >"$W/upstream.py" <<'EOF'
import http.server, json, sys, time, urllib.parse
conns = 0
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        global conns
        conns += 1
        with open(sys.argv[1] + ".conns", "w") as f:
            f.write(str(conns))
        super().setup()
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if "wait" in q:
            time.sleep(int(q["wait"][0]) / 1000)
        out = json.dumps({"path": self.path, "host": self.headers.get("Host"),
                          "target": self.headers.get("X-Amz-Target"), "body": body}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1] + ".port", "w") as f:
    f.write(str(s.server_address[1]))
s.serve_forever()
EOF
python3 "$W/upstream.py" "$W/upstream" &
pids="$pids $!"

if ! wait_for "$W/upstream.port" '[0-9]'; then
	fail bench-proxy-setup "the upstream did not start"
	exit 1
fi
up=$(cat "$W/upstream.port")
serve proxy bench-proxy-setup "$BUILD/bench/proxy" serve --delay-ms 300 "sqs=$up" "ddb=$up"
proxy=$served
sqs=$(awk '$1 == "sqs" { print $2 }' "$W/proxy.out")
ddb=$(awk '$1 == "ddb" { print $2 }' "$W/proxy.out")

# Three requests on one connection (curl reuses it for the same host).
u="http://127.0.0.1:$sqs/queue/path?Action=x"
curl -s -m 20 -H 'Host: sqs.us-east-1.amazonaws.com' \
    -H 'X-Amz-Target: AmazonSQS.ReceiveMessage' -H 'Content-Type: application/x-amz-json-1.0' \
    -d '{"QueueUrl":"q"}' -w '\n%{time_total}\n' "$u" "$u" "$u" >"$W/sqs.out" 2>"$W/sqs.err"
curl -s -m 20 -H 'X-Amz-Target: DynamoDB_20120810.Query' -d '{"TableName":"t"}' \
    -w '\n%{time_total}\n' "http://127.0.0.1:$ddb/?wait=200" >"$W/ddb.out" 2>"$W/ddb.err"

# The counters: SIGUSR1 prints them as one JSON line after "ready".
kill -USR1 "$proxy"
if ! wait_for "$W/proxy.out" '^{'; then
	fail bench-proxy-connections "no counters line after SIGUSR1"
	exit 1
fi
python3 - "$W" <<'EOF' || failed=1
import json, sys
w = sys.argv[1]
bad = 0
def check(name, ok, why):
    global bad
    print("PASS " + name if ok else "FAIL %s: %s" % (name, why))
    bad |= not ok
lines = open(w + "/sqs.out").read().split("\n")
answers = [json.loads(l) for l in lines if l.startswith("{")]
times = [float(l) for l in lines if l and not l.startswith("{")]
ok = len(answers) == 3 and all(a == {"path": "/queue/path?Action=x",
    "host": "sqs.us-east-1.amazonaws.com", "target": "AmazonSQS.ReceiveMessage",
    "body": '{"QueueUrl":"q"}'} for a in answers)
check("bench-proxy-forwards", ok, "the upstream's answers were %r" % answers)
ok = len(times) == 3 and min(times) >= 0.3
check("bench-proxy-delay", ok, "times %r, not all at least the 0.3 s delay" % times)
d = open(w + "/ddb.out").read().split("\n")
t = [float(l) for l in d if l and not l.startswith("{")]
ok = len(t) == 1 and t[0] >= 0.5 and any(l.startswith("{") for l in d)
check("bench-proxy-delay-before", ok, "%r, not at least 0.3 s delay + 0.2 s upstream wait" % d)
st = json.loads([l for l in open(w + "/proxy.out") if l.startswith("{")][0])
e = st["endpoints"]
ok = (e["sqs"]["connections"], e["ddb"]["connections"],
      e["sqs"]["upstream_connections"], e["ddb"]["upstream_connections"]) == (1, 1, 1, 1)
check("bench-proxy-connections", ok, "%r" % st)
up = int(open(w + "/upstream.conns").read())
check("bench-proxy-upstream-keepalive", up == 2,
      "the upstream saw %d connections, not 2" % up)
ok = (e["sqs"]["requests"], e["sqs"]["ops"], e["ddb"]["requests"], e["ddb"]["ops"]) == \
    (3, {"ReceiveMessage": 3}, 1, {"Query": 1})
check("bench-proxy-operations", ok, "%r" % st)
sys.exit(bad)
EOF
exit $failed
