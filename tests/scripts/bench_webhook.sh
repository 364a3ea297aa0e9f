#!/usr/bin/env bash
# bench_webhook.sh - a self-check of the issue 22 webhook benchmarks on
# loopback only: bench/node/webhook-server.js (the webhook receiver, with
# --delay-ms 300 and a certificate for 127.0.0.1 made here) and the goals
# bench/webhook.py judges.
#   delay              a request is answered no sooner than the set delay,
#                      and ?delay_ms=N overrides it
#   keepalive          two requests on one kept-alive connection count as one
#                      connection and two requests
#   in-flight          three requests held at once count as three in flight
#   tls-handshakes     over HTTPS a first handshake counts as full and a
#                      second one with the saved session as resumed, each on
#                      its own connection
#   goals-met          figures at the issue's goals pass every goal
#   goals-missed       figures of the threaded runner miss in-flight,
#                      threads, connections, handshakes, CPU and runs/s
# No timing upper bounds: the machine is shared.
set -u
ROOT=${TF_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$ROOT/tests/tools/bench_script.sh" bench-webhook

if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$W/key.pem" -out "$W/cert.pem" -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >"$W/openssl.log" 2>&1; then
	fail bench-webhook-setup "openssl could not make a certificate: $(tail -n 2 "$W/openssl.log")"
	exit 1
fi
serve server bench-webhook-setup "$ROOT/infra/local/node" "$ROOT/bench/node/webhook-server.js" \
    --delay-ms 300 --cert "$W/cert.pem" --key "$W/key.pem"
server=$served
hp=$(awk '$1 == "http" { print $2 }' "$W/server.out")
sp=$(awk '$1 == "https" { print $2 }' "$W/server.out")

# Two requests on one connection (curl reuses it for the same host), the
# second with its own delay.
curl -s -m 20 -d '{"event":"x"}' -w '\n%{time_total}\n' "http://127.0.0.1:$hp/hook" \
    "http://127.0.0.1:$hp/hook?delay_ms=800" >"$W/keep.out" 2>"$W/keep.err"
# Three at once, each held 3 s.
for i in 1 2 3; do
	curl -s -m 20 "http://127.0.0.1:$hp/hook?delay_ms=3000" >"$W/par$i.out" 2>&1 &
	pids="$pids $!"
done
wait_for "$W/par1.out" ok
wait_for "$W/par2.out" ok
wait_for "$W/par3.out" ok
# A full handshake that saves its session, then one that resumes it.
req='GET /hook?delay_ms=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
printf "$req" | openssl s_client -connect "127.0.0.1:$sp" -CAfile "$W/cert.pem" \
    -sess_out "$W/sess.pem" -ign_eof >"$W/tls1.out" 2>&1
printf "$req" | openssl s_client -connect "127.0.0.1:$sp" -CAfile "$W/cert.pem" \
    -sess_in "$W/sess.pem" -ign_eof >"$W/tls2.out" 2>&1

kill -USR1 "$server"
if ! wait_for "$W/server.out" '^{'; then
	fail bench-webhook-keepalive "no counters line after SIGUSR1"
	exit 1
fi
python3 - "$W" "$ROOT" <<'EOF' || failed=1
import importlib.machinery, json, sys
w, root = sys.argv[1], sys.argv[2]
bad = 0
def check(name, ok, why):
    global bad
    print("PASS " + name if ok else "FAIL %s: %s" % (name, why))
    bad |= not ok
lines = open(w + "/keep.out").read().split("\n")
answers = [l for l in lines if l.startswith("{")]
times = [float(l) for l in lines if l and not l.startswith("{")]
ok = answers == ['{"ok":true}'] * 2 and len(times) == 2 and times[0] >= 0.3 and times[1] >= 0.8
check("bench-webhook-delay", ok, "answers %r in %r s: not at least 0.3 s, then 0.8 s" % (answers, times))
st = json.loads([l for l in open(w + "/server.out") if l.startswith("{")][0])
h, s = st["http"], st["https"]
# 1 connection for the kept-alive pair, then 1 each for the three at once.
ok = (h["connections"], h["requests"]) == (4, 5)
check("bench-webhook-keepalive", ok, "%r: not 4 connections for 5 requests" % h)
check("bench-webhook-in-flight", h["in_flight_max"] == 3 and h["open_max"] == 3,
      "%r: not 3 in flight and 3 open at once" % h)
reused = [l for l in open(w + "/tls2.out") if l.startswith(("New,", "Reused,"))]
ok = (s["connections"], s["requests"], s["full_handshakes"], s["resumed"]) == (2, 2, 1, 1)
check("bench-webhook-tls-handshakes", ok, "%r (openssl: %r)" % (s, reused))

# The goals bench/webhook.py judges, on made-up figures.
sys.path.insert(0, root + "/bench")
R = importlib.machinery.SourceFileLoader("bench_run", root + "/bench/run").load_module()
import webhook

def fleet(inflight, conns, full, resumed, threads, rss, cpu, tput, limit):
    srv = {"connections": conns, "open_max": conns, "requests": 5000,
           "in_flight_max": inflight, "full_handshakes": full, "resumed": resumed}
    return {"iterations": 5000, "tasks": 5000, "failed": 0, "complete": True,
            "throughput": tput, "threads": threads, "rss_mib": rss, "cpu_per_1000": cpu,
            "startup_cpu_s": 0.01, "tasks_failed": 0, "leases_recovered": 0, "server": {"http": srv, "https": srv, "cpu_s": 1.0},
            "host_limit": limit, "args": ""}

def results(c, n, fast_c, fast_n):
    res = {}
    for name, scheme in (("webhook-slow", "http"), ("webhook-tls", "https")):
        res[name] = {"tasks": 5000, "delay_ms": 10000, "scheme": scheme, "consumers": 1,
                     "concurrency": 5000, "limit_s": 180, "taskfleet": c, "node": n}
    res["webhook-fast"] = {"tasks": 10000, "delay_ms": 0, "scheme": "http", "consumers": 2,
                           "concurrency": 16, "limit_s": 180, "taskfleet": fast_c, "node": fast_n}
    return res

node = fleet(5000, 5000, 5000, 0, 11, 300, 10.0, 400, None)
_, goals = webhook.report(R, results(fleet(4600, 512, 100, 412, 6, 60, 1.4, 400, 512), node,
                                     fleet(16, 40, 0, 0, 6, 12, 0.3, 700, 16), node))
missed = [g[0] for g in goals if not g[1]]
check("bench-webhook-goals-met", len(goals) == 12 and not missed,
      "%d goals, missed: %r" % (len(goals), missed))
_, goals = webhook.report(R, results(fleet(16, 6000, 6000, 100, 21, 120, 1.6, 1.6, 5000), node,
                                     fleet(16, 40, 0, 0, 21, 12, 0.3, 500, 16), node))
passed = sorted(g[0] for g in goals if g[1])
check("bench-webhook-goals-missed", passed == [],
      "these passed on the threaded runner's figures: %r" % passed)
sys.exit(bad)
EOF
exit $failed
