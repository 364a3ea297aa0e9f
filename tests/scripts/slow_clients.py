#!/usr/bin/env python3
"""slow_clients.py - slow clients on one address lock nobody out (GitHub
issue 18, item 2).

Starts `taskfleet serve --listen 127.0.0.1:0` (one API key) and a consumer
with --metrics-listen 127.0.0.1:0 against the local stand-ins that tests/run
starts, with their own table and queue (`taskfleet init` first). Then, on
each server at once:

  - a flood: FLOOD connections from 127.0.0.2 (the client socket bound to
    it) that send a request line and then trickle a header byte every
    TRICKLE_S seconds, never finishing the request (each byte resets
    libmicrohttpd's idle timeout);
  - while the flood is held: an authorized API request and a console file
    from 127.0.0.1, and the consumer's /healthz and /readyz, each answer
    within ANSWER_S seconds, a few times over;
  - the per-address limit: of the flood, at most the server's limit is
    held until the request deadline (the rest are closed at once);
  - the request deadline: one more such connection, from 127.0.0.3, is
    closed by the server within its request deadline (15 s for the API,
    5 s for the metrics server) plus slack, although it never goes quiet
    for as long as the idle timeout.

ANSWER_S is a correctness bound for a denial of service, not a speed goal:
without the limits these requests get no answer at all while the flood
lasts. Everything is bounded in time and count and closed at the end. Talks
only to 127.0.0.0/8. Prints "PASS name" or "FAIL name: why".
"""
import hashlib
import http.client
import os
import re
import secrets
import select
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
TF = os.path.join(BUILD, "bin", "taskfleet")
CONSUMER = os.path.join(BUILD, "bin", "taskfleet-consumer")
OUT = os.path.join(os.environ.get("TF_TEST_OUT") or os.path.join(ROOT, "tests", "out"), "slow_clients")

FLOOD = 200            # slow connections from 127.0.0.2, per server
TRICKLE_S = 1.0        # a byte this often on each of them
ANSWER_S = 2.0         # the bound on a well-behaved request's answer
# The servers' limits (producer/api.h, consumer/metrics.c).
API_PER_ADDRESS, API_DEADLINE_S = 32, 15
METRICS_PER_ADDRESS, METRICS_DEADLINE_S = 8, 5
DEADLINE_SLACK_S = 10  # the deadline is checked every 250 ms; a loaded machine

sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tftest  # noqa: E402  (found through the path above)

REPORT = tftest.Report("slow_clients")
check = REPORT.check
procs = []


def start(argv, env, name, pattern):
    """Starts a server; returns its port (from pattern in its output) or
    None."""
    log = open(os.path.join(OUT, name + ".log"), "w+")
    p = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    procs.append(p)
    deadline = time.time() + 30
    while time.time() < deadline and p.poll() is None:
        log.seek(0)
        m = re.search(pattern, log.read())
        if m:
            return int(m.group(1))
        time.sleep(0.1)
    return None


class Flood:
    """Slow connections to port from address: each sends a request line,
    then one header byte every TRICKLE_S seconds until closed. A thread
    keeps them going and notes those the server closes."""

    def __init__(self, port, address, count, target):
        self.socks = []
        self.closed_at = {}
        self.started = time.time()
        self.stop = False
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((address, 0))
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " % target.encode())
                s.setblocking(False)
            except OSError:
                self.closed_at[s] = time.time()
            self.socks.append(s)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def open_count(self):
        return len(self.socks) - len(self.closed_at)

    def run(self):
        while not self.stop:
            for s in self.socks:
                if s in self.closed_at:
                    continue
                try:
                    r, _, _ = select.select([s], [], [], 0)
                    if r and s.recv(4096) == b"":
                        raise ConnectionResetError("closed")
                    s.send(b"a")
                except OSError:
                    self.closed_at[s] = time.time()
            end = time.time() + TRICKLE_S
            while not self.stop and time.time() < end:
                time.sleep(0.05)

    def close(self):
        self.stop = True
        self.thread.join(10)
        for s in self.socks:
            s.close()


def timed_get(port, path, headers=None):
    """GET path from 127.0.0.1 with ANSWER_S as the timeout; returns (status
    or an error text, seconds taken)."""
    t0 = time.time()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_S)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        r.read()
        st = r.status
    except (OSError, http.client.HTTPException) as e:
        st = "%s: %s" % (type(e).__name__, e)
    finally:
        c.close()
    return st, time.time() - t0


def answers(name, port, path, want, headers=None, tries=3):
    """Checks that path answers want within ANSWER_S, tries times over."""
    res = [timed_get(port, path, headers) for _ in range(tries)]
    check(name, all(st == want and dt <= ANSWER_S for st, dt in res),
          "; ".join("%s in %.2f s" % (st, dt) for st, dt in res))


def wait_until(pred, seconds):
    """Polls pred until it holds or seconds pass; returns its last value."""
    deadline = time.time() + seconds
    while True:
        v = pred()
        if v or time.time() >= deadline:
            return v
        time.sleep(0.2)


def deadline_check(name, flood, deadline_s):
    """The single trickling connection of flood is closed by the server
    within deadline_s plus slack (the idle timeout alone never closes it)."""
    closed = wait_until(lambda: flood.open_count() == 0, deadline_s + DEADLINE_SLACK_S)
    took = (min(flood.closed_at.values()) - flood.started) if flood.closed_at else None
    check(name, closed and took is not None and took >= deadline_s - 1,
          "still open after %d s" % (deadline_s + DEADLINE_SLACK_S) if not closed
          else "closed after %.1f s, before its %d s deadline" % (took, deadline_s))


def per_address_check(name, flood, deadline_s, limit):
    """Of flood's connections, some but at most limit were held until the
    deadline (or are still open): the server took no more from one
    address."""
    wait_until(lambda: flood.open_count() == 0, deadline_s + DEADLINE_SLACK_S)
    held = sum(1 for s in flood.socks
               if s not in flood.closed_at or flood.closed_at[s] - flood.started >= deadline_s - 1)
    check(name, 0 < held <= limit, "%d of %d slow connections from one address held (limit %d)"
          % (held, len(flood.socks), limit))


def main():
    os.makedirs(OUT, exist_ok=True)
    tftest.require_loopback_standins(REPORT)
    for p in (TF, CONSUMER):
        if not os.access(p, os.X_OK):
            REPORT.setup_fail("%s is missing (run make)" % p)
    name = "tf-slow-%d-%d" % (os.getpid(), secrets.randbelow(100000))
    env = dict(os.environ)
    for v in ("TASKFLEET_QUEUE_URL", "TASKFLEET_LOG", "TASKFLEET_API_KEYS", "TASKFLEET_METRICS_LISTEN",
              "TASKFLEET_API_RATE", "TASKFLEET_API_AUTH_RATE", "TASKFLEET_API_CORS_ORIGINS"):
        env.pop(v, None)
    env.update(TASKFLEET_TABLE=name, TASKFLEET_QUEUE=name, TASKFLEET_RUNNERS=os.path.join(BUILD, "runners"))
    r = subprocess.run([TF, "init"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        REPORT.setup_fail("taskfleet init: " + r.stderr.strip())
    key = secrets.token_urlsafe(24)
    senv = dict(env, TASKFLEET_API_KEYS="%s:read:*" % hashlib.sha256(key.encode()).hexdigest(),
                TASKFLEET_API_RATE="off")
    api = start([TF, "serve", "--listen", "127.0.0.1:0"], senv, "serve",
                r"listening on http://127\.0\.0\.1:(\d+)")
    metrics = start([CONSUMER, "--id", "slow", "--wait-time", "1", "--metrics-listen", "127.0.0.1:0"], env,
                    "consumer", r"metrics on http://127\.0\.0\.1:(\d+)")
    if api is None or metrics is None:
        REPORT.setup_fail("serve port %s, metrics port %s (logs in %s)" % (api, metrics, OUT))
    auth = {"Authorization": "Bearer " + key}

    # Before: everything answers.
    answers("api-answers-before", api, "/v1/openapi.json", 200, auth, 1)
    answers("metrics-healthz-before", metrics, "/healthz", 200, None, 1)
    check("metrics-readyz-before", wait_until(lambda: timed_get(metrics, "/readyz")[0] == 200, 30),
          "not ready within 30 s")

    floods = []
    try:
        # The deadline probes first, so that they do not wait behind the
        # floods' connections being opened.
        api_slow = Flood(api, "127.0.0.3", 1, "/v1/openapi.json")
        metrics_slow = Flood(metrics, "127.0.0.3", 1, "/healthz")
        floods += [api_slow, metrics_slow]
        api_flood = Flood(api, "127.0.0.2", FLOOD, "/v1/openapi.json")
        floods.append(api_flood)
        metrics_flood = Flood(metrics, "127.0.0.2", FLOOD, "/healthz")
        floods.append(metrics_flood)

        # While the floods are held.
        answers("api-answers-during-flood", api, "/v1/openapi.json", 200, auth)
        answers("api-console-during-flood", api, "/console/", 200)
        answers("metrics-healthz-during-flood", metrics, "/healthz", 200)
        answers("metrics-readyz-during-flood", metrics, "/readyz", 200)

        deadline_check("metrics-request-deadline", metrics_slow, METRICS_DEADLINE_S)
        deadline_check("api-request-deadline", api_slow, API_DEADLINE_S)
        # By now every flood connection the servers took has met its
        # deadline: those held until then were the ones taken, the others
        # were closed at once.
        per_address_check("api-per-address-limit", api_flood, API_DEADLINE_S, API_PER_ADDRESS)
        per_address_check("metrics-per-address-limit", metrics_flood, METRICS_DEADLINE_S,
                          METRICS_PER_ADDRESS)
    finally:
        for f in floods:
            f.close()

    # Afterwards: the limits were the flood's, not the servers' for good.
    answers("api-answers-after", api, "/v1/openapi.json", 200, auth, 1)
    answers("metrics-healthz-after", metrics, "/healthz", 200, None, 1)
    with open(os.path.join(OUT, "serve.log")) as f:
        lines = [ln for ln in f if "connection limit" in ln]
    check("limit-log-throttled", 0 < len(lines) <= 3, "%d \"connection limit\" lines" % len(lines))


try:
    main()
finally:
    for pr in procs:
        if pr.poll() is None:
            pr.terminate()
            try:
                pr.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pr.kill()
sys.exit(1 if REPORT.failed else 0)
