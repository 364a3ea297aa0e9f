#!/usr/bin/env python3
"""serve_ops.py - `taskfleet serve` in production (GitHub issue 25, item 1):
its probes, its metrics and its API keys from AWS.

Starts `taskfleet serve` against the stand-ins tests/run starts, with its own
table and queue (`taskfleet init`), and checks:

  - /healthz and /readyz on the API port: 200 "ok" without a key and past
    the rate limit (a key rate of 2/min does not touch them), 405 for POST;
    /metrics is not on the API port (404);
  - readiness against the stand-ins: the server reaches them through a
    loopback relay that the test stops and restarts; /readyz goes 503
    naming the table while it is stopped (polled, as the answer is cached
    for a couple of seconds), /healthz stays 200, and /readyz is 200 again
    once the relay is back; 20 probes in a row make at most 3 GetItem calls
    (the answer is cached);
  - --metrics-listen: /metrics passes `promtool check metrics`, with the
    exposition's content type; its counters match the requests this test
    made: requests by route template, method and status, the latency
    histogram's count, 401s by reason (no key, unknown key), 429s by limit
    (the key's rate), requests in flight (one request whose body is still
    coming), the keys loaded; /healthz and /readyz there too; bad
    --metrics-listen is exit 2;
  - TASKFLEET_API_DRAIN: after SIGTERM /readyz and /healthz answer 503
    "stopping" while the API still answers a request, then exit 0; a drain
    over 5m is exit 2;
  - API keys from AWS: TASKFLEET_API_KEYS_SECRET (Secrets Manager) and
    TASKFLEET_API_KEYS_PARAMETER (SSM) against a loopback fake
    (tests/tools/secrets_fake.py) that checks every request's SigV4
    signature with botocore: the key in the secret works, a new text in the
    secret replaces the keys after TASKFLEET_API_KEYS_REFRESH (polled), a
    failing source keeps the keys before and is counted as a failed load;
    a missing secret at start is exit 1 naming it; two sources are exit 2.

Talks only to 127.0.0.1. Prints "PASS name" or "FAIL name: why".
"""
import hashlib
import http.client
import os
import re
import secrets
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
TF = os.path.join(BUILD, "bin", "taskfleet")
OUT = os.path.join(os.environ.get("TF_TEST_OUT") or os.path.join(ROOT, "tests", "out"), "serve_ops")
REGION = "us-east-1"
AKID, SECRET = "AKIDSERVEOPSTEST", "serve-ops-secret-key"

sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tftest  # noqa: E402

REPORT = tftest.Report("serve_ops")


def check(name, ok, why=""):
    """REPORT.check() that returns ok, to go on only when it passed."""
    REPORT.check(name, ok, why)
    return ok

procs = []


def sha(k):
    return hashlib.sha256(k.encode()).hexdigest()


class Relay:
    """A TCP relay on 127.0.0.1 to one stand-in, that can be stopped (its
    port refuses connections and the open ones are cut) and started again
    on the same port."""

    def __init__(self, target):
        self.target = target
        self.port = 0
        self.lsock = None
        self.conns = []
        self.lock = threading.Lock()
        self.getitems = 0   # DynamoDB GetItem requests relayed
        self.start()

    def start(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.port = s.getsockname()[1]
        self.lsock = s
        threading.Thread(target=self.accept, args=(s,), daemon=True).start()

    def accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=10)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            threading.Thread(target=self.pipe, args=(c, u), daemon=True).start()

    def pipe(self, a, b):
        try:
            while True:
                r, _, _ = select.select([a, b], [], [], 60)
                if not r:
                    break
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        raise OSError
                    if s is a:
                        with self.lock:
                            self.getitems += data.count(b"DynamoDB_20120810.GetItem")
                    (b if s is a else a).sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass

    def stop(self):
        # shutdown() first: close() alone leaves a socket that a thread is
        # blocked accepting on listening.
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


def request(port, method, path, key=None, headers=None, body=None):
    """(status, headers (lower-case), body text); status 0 on a transport error."""
    h = dict(headers or {})
    if key is not None:
        h["Authorization"] = "Bearer " + key
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, {n.lower(): v for n, v in r.getheaders()}, r.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return 0, {}, str(e)
    finally:
        c.close()


def poll(fn, seconds=30, every=0.2):
    """Calls fn until it returns something true or seconds pass; returns its
    last value."""
    deadline = time.time() + seconds
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(every)


def start(env, *args, metrics=False):
    """Starts serve; returns (proc, api port, metrics port or None, log path)."""
    log_path = os.path.join(OUT, "serve-%d.log" % len(procs))
    log = open(log_path, "w+")
    p = subprocess.Popen([TF, "serve"] + list(args), env=env, stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    procs.append(p)
    deadline = time.time() + 30
    while time.time() < deadline:
        log.seek(0)
        text = log.read()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", text)
        mm = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", text)
        if m and (mm or not metrics):
            return p, int(m.group(1)), int(mm.group(1)) if mm else None, log_path
        if p.poll() is not None:
            break
        time.sleep(0.1)
    return p, None, None, log_path


def run_exit(env, *args):
    """Runs serve expecting it to exit; (code, output) (code None: still up)."""
    p = subprocess.Popen([TF, "serve"] + list(args), env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    try:
        out, _ = p.communicate(timeout=30)
        return p.returncode, out
    except subprocess.TimeoutExpired:
        p.kill()
        return None, p.communicate()[0]


# --- the exposition ---------------------------------------------------------

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value}"""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if m:
            labels = frozenset(LABEL_RE.findall(m.group(2) or ""))
            out[m.group(1), labels] = float(m.group(3))
    return out


def v(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(mport):
    st, hdrs, text = request(mport, "GET", "/metrics")
    return st, hdrs, text, parse(text) if st == 200 else {}


def promtool(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()


# --- the checks ---------------------------------------------------------------

def probes_and_metrics(env, name):
    ddb = urllib.parse.urlsplit(env["AWS_ENDPOINT_URL_DYNAMODB"])
    sqs = urllib.parse.urlsplit(env["AWS_ENDPOINT_URL_SQS"])
    relays = [Relay((ddb.hostname, ddb.port)), Relay((sqs.hostname, sqs.port))]
    kw, slow = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    senv = dict(env)
    senv.update(AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:%d" % relays[0].port,
                AWS_ENDPOINT_URL_SQS="http://127.0.0.1:%d" % relays[1].port,
                TASKFLEET_API_KEYS="%s:write:*,%s:read:*:2/min:2" % (sha(kw), sha(slow)),
                TASKFLEET_API_RATE="off")
    p, port, mport, log = start(senv, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                                metrics=True)
    if not check("starts-with-metrics-listen", port is not None and mport is not None,
                 "no listening/metrics lines (log %s)" % log):
        return

    # The probes on the API port: no key, no rate limit.
    st, hdrs, body = request(port, "GET", "/healthz")
    check("healthz-200-without-key", st == 200 and body == "ok\n", "%s %r" % (st, body))
    st, hdrs, body = request(port, "GET", "/readyz")
    check("readyz-200-when-table-and-queue-answer", st == 200 and body == "ok\n"
          and hdrs.get("content-type", "").startswith("text/plain"), "%s %r %s" % (st, body, hdrs))
    st, hdrs, body = request(port, "HEAD", "/readyz")
    check("readyz-head", st == 200, st)
    st, hdrs, _ = request(port, "POST", "/healthz")
    check("healthz-post-405", st == 405 and "GET" in hdrs.get("allow", ""), "%s %s" % (st, hdrs))
    st, _, _ = request(port, "GET", "/metrics")
    check("metrics-not-on-api-port", st == 404, st)

    # The slow key: 2 requests, then 429; probes go on answering 200.
    got = [request(port, "GET", "/v1/tasks?ns=a", key=slow)[0] for _ in range(3)]
    probes = [request(port, "GET", "/healthz", key=slow)[0] for _ in range(3)]
    check("probes-not-rate-limited", got == [200, 200, 429] and probes == [200] * 3,
          "key requests %s, probes %s" % (got, probes))

    # Requests the counters must show.
    n_ok = 5
    for _ in range(n_ok):
        request(port, "GET", "/v1/tasks?ns=a", key=kw)
    request(port, "GET", "/v1/tasks/t1", key=kw)           # 404 not_found
    request(port, "GET", "/v1/tasks?ns=a")                 # 401 missing
    request(port, "GET", "/v1/tasks?ns=a", key="nope1")    # 401 unknown
    request(port, "GET", "/v1/tasks?ns=a", key="nope2")    # 401 unknown
    request(port, "GET", "/nowhere", key=kw)               # 404 no_route (with
    #                                                        /metrics above)

    st, hdrs, text, m = scrape(mport)
    check("metrics-200", st == 200, "%s %s" % (st, text[:200]))
    check("metrics-content-type", hdrs.get("content-type") == "text/plain; version=0.0.4; charset=utf-8",
          hdrs.get("content-type"))
    rc, out = promtool(text)
    check("metrics-promtool-accepts", rc == 0 and not out, "promtool %s: %s" % (rc, out[:300]))
    with open(os.path.join(OUT, "metrics.txt"), "w") as f:
        f.write(text)
    r = "/v1/tasks"
    want = {("GET", "200"): n_ok + 2, ("GET", "429"): 1, ("GET", "401"): 3}
    gotc = {k: v(m, "taskfleet_api_requests_total", route=r, method=k[0], status=k[1]) for k in want}
    check("metrics-requests-by-route-method-status", gotc == {k: float(x) for k, x in want.items()},
          "got %s, want %s" % (gotc, want))
    check("metrics-requests-route-template",
          v(m, "taskfleet_api_requests_total", route="/v1/tasks/{id}", method="GET", status="404") == 1
          and v(m, "taskfleet_api_requests_total", route="(none)", method="GET", status="404") == 2
          and v(m, "taskfleet_api_requests_total", route="/healthz", method="GET", status="200") == 4
          and not any(n == "taskfleet_api_requests_total" and ("route", "/v1/tasks/t1") in lb for n, lb in m),
          "by template: {id} %s, none %s, healthz %s" % (
              v(m, "taskfleet_api_requests_total", route="/v1/tasks/{id}", method="GET", status="404"),
              v(m, "taskfleet_api_requests_total", route="(none)", method="GET", status="404"),
              v(m, "taskfleet_api_requests_total", route="/healthz", method="GET", status="200")))
    total = sum(x for (n, lb), x in m.items() if n == "taskfleet_api_requests_total" and ("route", r) in lb)
    hc = v(m, "taskfleet_api_request_duration_seconds_count", route=r)
    inf = v(m, "taskfleet_api_request_duration_seconds_bucket", route=r, le="+Inf")
    check("metrics-latency-histogram-counts-requests", hc == total == inf and total > 0,
          "histogram count %s, +Inf %s, requests %s" % (hc, inf, total))
    check("metrics-auth-failures-by-reason",
          v(m, "taskfleet_api_auth_failures_total", reason="missing") == 1
          and v(m, "taskfleet_api_auth_failures_total", reason="unknown") == 2,
          "missing %s unknown %s" % (v(m, "taskfleet_api_auth_failures_total", reason="missing"),
                                     v(m, "taskfleet_api_auth_failures_total", reason="unknown")))
    check("metrics-rate-limited", v(m, "taskfleet_api_rate_limited_total", limit="key") == 1
          and v(m, "taskfleet_api_rate_limited_total", limit="unknown_keys") == 0,
          "key %s" % v(m, "taskfleet_api_rate_limited_total", limit="key"))
    check("metrics-keys-loaded", v(m, "taskfleet_api_keys") == 2
          and v(m, "taskfleet_api_key_loads_total", result="loaded") == 1,
          "keys %s loads %s" % (v(m, "taskfleet_api_keys"), v(m, "taskfleet_api_key_loads_total", result="loaded")))
    check("metrics-process", v(m, "process_resident_memory_bytes") > 0 and v(m, "process_open_fds") > 0,
          "rss %s fds %s" % (v(m, "process_resident_memory_bytes"), v(m, "process_open_fds")))
    check("metrics-in-flight-idle", v(m, "taskfleet_api_requests_in_flight") == 0,
          v(m, "taskfleet_api_requests_in_flight"))

    # One request whose body is still coming is in flight.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{" % kw).encode())
    inflight = poll(lambda: v(scrape(mport)[3], "taskfleet_api_requests_in_flight") == 1, 15)
    s.close()
    after = poll(lambda: v(scrape(mport)[3], "taskfleet_api_requests_in_flight") == 0, 30)
    check("metrics-in-flight", inflight and after, "in flight while sending %s, after %s" % (inflight, after))

    st, _, body = request(mport, "GET", "/readyz")
    st2, _, _ = request(mport, "GET", "/healthz")
    check("metrics-port-probes", st == 200 and body == "ok\n" and st2 == 200, "%s %r %s" % (st, body, st2))

    # Probes cost little: 20 in a row share the cached answer (one GetItem
    # per 2 s; 3 allows for the burst straddling two expiries on a slow
    # machine), where each would make its own without the cache.
    before = relays[0].getitems
    sts = [request(port, "GET", "/readyz")[0] for _ in range(20)]
    calls = relays[0].getitems - before
    check("readyz-cached", sts == [200] * 20 and calls <= 3 and before >= 1,
          "statuses %s, %d GetItem calls for 20 probes (%d before)" % (sorted(set(sts)), calls, before))

    # Readiness follows the stand-ins.
    for rl in relays:
        rl.stop()
    down = poll(lambda: (lambda r: r if r[0] == 503 else None)(request(port, "GET", "/readyz")), 30)
    check("readyz-503-when-standin-stopped", down is not None and ("table %s" % name) in down[2],
          "answer %s" % (down,))
    st, _, _ = request(port, "GET", "/healthz")
    check("healthz-200-while-standin-stopped", st == 200, st)
    for rl in relays:
        rl.start()
    up = poll(lambda: request(port, "GET", "/readyz")[0] == 200, 30)
    check("readyz-200-when-standin-back", up, "still not ready 30 s after the relay came back")
    for rl in relays:
        rl.stop()


def drain(env):
    """TASKFLEET_API_DRAIN: after SIGTERM the probes answer 503 stopping
    while the API still serves, then serve exits 0."""
    k = secrets.token_urlsafe(24)
    denv = dict(env, TASKFLEET_API_KEYS="%s:read:*" % sha(k), TASKFLEET_API_DRAIN="4s")
    p, port, _, log = start(denv, "--listen", "127.0.0.1:0")
    if not check("drain-serve-starts", port is not None, "no listening line (log %s)" % log):
        return
    p.send_signal(signal.SIGTERM)
    # Polled: the signal takes effect when serve gets to it.
    down = poll(lambda: (lambda r: r if r[0] == 503 else None)(request(port, "GET", "/readyz")), 10, 0.05)
    st, _, _ = request(port, "GET", "/v1/openapi.json", key=k)
    hz, _, hbody = request(port, "GET", "/healthz")
    check("drain-probes-503-while-api-serves", down is not None and down[2] == "stopping\n" and st == 200
          and hz == 503 and hbody == "stopping\n",
          "readyz %s, then API %s, healthz %s %r (log %s)" % (down, st, hz, hbody, log))
    try:
        code = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        code = None
    check("drain-then-exit-0", code == 0, "exit %s 30 s after SIGTERM" % code)
    code, out = run_exit(dict(denv, TASKFLEET_API_DRAIN="10m"), "--listen", "127.0.0.1:0")
    check("drain-too-long-exit-2", code == 2 and "TASKFLEET_API_DRAIN" in out, "exit %s: %s" % (code, out.strip()[-300:]))


def keys_from_aws(env):
    ka, kb = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    fake = secretsfake.SecretsFake(REGION, {AKID: (SECRET, None)})
    fenv = dict(env)
    for var in ("TASKFLEET_API_KEYS", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        fenv.pop(var, None)
    fenv.update(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION=REGION,
                AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:%d" % fake.port,
                AWS_ENDPOINT_URL_SSM="http://127.0.0.1:%d/" % fake.port,
                TASKFLEET_API_KEYS_REFRESH="1s", TASKFLEET_API_RATE="off")
    # Secrets Manager: one key a line.
    fake.values["secretsmanager", "tf/api-keys"] = "%s:write:*\n" % sha(ka)
    senv = dict(fenv, TASKFLEET_API_KEYS_SECRET="tf/api-keys")
    p, port, mport, log = start(senv, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                                metrics=True)
    if check("secret-serve-starts", port is not None, "log %s" % log):
        st = request(port, "GET", "/v1/tasks?ns=a", key=ka)[0]
        st_b = request(port, "GET", "/v1/tasks?ns=a", key=kb)[0]
        check("secret-key-works", st == 200 and st_b == 401, "key in the secret %s, other %s" % (st, st_b))
        fake.values["secretsmanager", "tf/api-keys"] = "%s:write:*,\n%s:read:*\n" % (sha(kb), sha(kb + "x"))
        swapped = poll(lambda: request(port, "GET", "/v1/tasks?ns=a", key=kb)[0] == 200
                       and request(port, "GET", "/v1/tasks?ns=a", key=ka)[0] == 401, 30)
        check("secret-reloaded", swapped, "the new key is not in use 30 s after the secret changed")
        loads = v(scrape(mport)[3], "taskfleet_api_key_loads_total", result="failed")
        fake.fail = ("secretsmanager", 500)
        failed = poll(lambda: v(scrape(mport)[3], "taskfleet_api_key_loads_total", result="failed") > loads, 30)
        st = request(port, "GET", "/v1/tasks?ns=a", key=kb)[0]
        check("secret-failure-keeps-keys", failed and st == 200,
              "failed load counted %s, key before %s" % (failed, st))
        fake.fail = None
        fake.values["secretsmanager", "tf/api-keys"] = "not a key"
        bad = poll(lambda: v(scrape(mport)[3], "taskfleet_api_key_loads_total", result="failed") > loads + 1, 30)
        st = request(port, "GET", "/v1/tasks?ns=a", key=kb)[0]
        check("secret-bad-text-keeps-keys", bad and st == 200, "failed load counted %s, key before %s" % (bad, st))
        p.terminate()
        p.wait(timeout=10)
    check("secret-requests-signed", fake.count("secretsmanager") >= 3 and fake.count("secretsmanager", False) == 0,
          "%d requests, %d with a bad signature: %s" % (fake.count("secretsmanager"), fake.count("secretsmanager", False),
                                                        [r for r in fake.requests if not r[2]][:2]))

    # SSM Parameter Store.
    fake.values["ssm", "/tf/api-keys"] = "%s:write:*" % sha(ka)
    penv = dict(fenv, TASKFLEET_API_KEYS_PARAMETER="/tf/api-keys")
    p, port, _, log = start(penv, "--listen", "127.0.0.1:0")
    if check("parameter-serve-starts", port is not None, "log %s" % log):
        st = request(port, "GET", "/v1/tasks?ns=a", key=ka)[0]
        check("parameter-key-works", st == 200, st)
        fake.values["ssm", "/tf/api-keys"] = "%s:write:*" % sha(kb)
        swapped = poll(lambda: request(port, "GET", "/v1/tasks?ns=a", key=kb)[0] == 200
                       and request(port, "GET", "/v1/tasks?ns=a", key=ka)[0] == 401, 30)
        check("parameter-reloaded", swapped, "the new key is not in use 30 s after the parameter changed")
        p.terminate()
        p.wait(timeout=10)
    check("parameter-requests-signed", fake.count("ssm") >= 2 and fake.count("ssm", False) == 0,
          "%d requests, %d bad" % (fake.count("ssm"), fake.count("ssm", False)))

    code, out = run_exit(dict(fenv, TASKFLEET_API_KEYS_SECRET="tf/missing"), "--listen", "127.0.0.1:0")
    check("secret-missing-exit-1", code == 1 and "tf/missing" in out, "exit %s: %s" % (code, out.strip()[-300:]))
    code, out = run_exit(dict(fenv, TASKFLEET_API_KEYS_SECRET="tf/api-keys", TASKFLEET_API_KEYS_PARAMETER="/tf/api-keys"),
                         "--listen", "127.0.0.1:0")
    check("two-key-sources-exit-2", code == 2 and "one source" in out, "exit %s: %s" % (code, out.strip()[-300:]))
    code, out = run_exit(dict(fenv, TASKFLEET_API_KEYS_SECRET="tf/api-keys", TASKFLEET_API_KEYS_REFRESH="10ms"),
                         "--listen", "127.0.0.1:0")
    check("refresh-too-short-exit-2", code == 2 and "TASKFLEET_API_KEYS_REFRESH" in out, "exit %s: %s" % (code, out.strip()[-300:]))
    fake.stop()


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.access(TF, os.X_OK):
        REPORT.setup_fail("%s is missing (run make)" % TF)
    tftest.require_loopback_standins(REPORT)
    name = "tf-serveops-%d-%d" % (os.getpid(), secrets.randbelow(100000))
    env = dict(os.environ)
    for var in ("TASKFLEET_QUEUE_URL", "TASKFLEET_LOG", "TASKFLEET_API_KEYS", "TASKFLEET_API_KEYS_SECRET",
                "TASKFLEET_API_KEYS_PARAMETER", "TASKFLEET_API_METRICS_LISTEN", "TASKFLEET_API_RATE",
                "TASKFLEET_API_AUTH_RATE", "TASKFLEET_API_DRAIN", "AWS_ENDPOINT_URL"):
        env.pop(var, None)
    env.update(TASKFLEET_TABLE=name, TASKFLEET_QUEUE=name, TASKFLEET_RUNNERS=os.path.join(BUILD, "runners"),
               AWS_EC2_METADATA_DISABLED="true")
    r = subprocess.run([TF, "init"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        REPORT.setup_fail("taskfleet init: " + r.stderr.strip())
    code, out = run_exit(dict(env, TASKFLEET_API_KEYS="%s:read:*" % sha("k")), "--listen", "127.0.0.1:0",
                         "--metrics-listen", "127.0.0.1:99999")
    check("metrics-listen-bad-exit-2", code == 2 and "--metrics-listen" in out, "exit %s: %s" % (code, out.strip()[-200:]))
    try:
        probes_and_metrics(env, name)
        drain(env)
        keys_from_aws(env)
    finally:
        tftest.stop_all(procs)


import secrets_fake as secretsfake  # noqa: E402  (tests/tools, on the path above)

if __name__ == "__main__":
    main()
    sys.exit(1 if REPORT.failed else 0)
