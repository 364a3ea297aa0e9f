#!/usr/bin/env python3
"""http_runner.py - the http runner (webhooks) against local receivers.

Runs build/runners/http.so through tests/tools/runonce (the consumer's own
loader and the runner's real code, without AWS) against
tests/tools/webhook_receiver.py on 127.0.0.1 and 127.0.0.2, and checks what
the receivers saw and what the runner reported: every method with and
without a body, statuses and their outcomes, Retry-After, timeouts,
connection errors, header injection, redirects, size caps, signatures
(verified with `openssl dgst`, an implementation independent of ours),
connection reuse, cancellation, and refusals of loopback targets with and
without an allow-list. Every target is on 127.0.0.0/8.

Prints "PASS name" or "FAIL name: why"; exits 1 on any failure.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
RUNONCE = os.path.join(BUILD, "tests", "tools", "runonce")
RUNNER = os.path.join(BUILD, "runners", "http.so")
RECEIVER = os.path.join(ROOT, "tests", "tools", "webhook_receiver.py")
KEY1 = "test-signing-key-one-0123456789"
KEY2 = "test-signing-key-two-9876543210"


sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tftest  # noqa: E402  (found through the path above)

REPORT = tftest.Report("http_runner")
check = REPORT.check


class Receiver:
    def __init__(self, tmp, bind, tls=None):
        name = bind + ("-tls" if tls else "")
        self.log = os.path.join(tmp, "log-%s" % name)
        port_file = os.path.join(tmp, "port-%s" % name)
        argv = [sys.executable, RECEIVER, "--bind", bind, "--port-file", port_file,
                "--log", self.log]
        if tls:
            argv += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.proc = subprocess.Popen(argv)
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        self.port = int(open(port_file).read())
        self.base = "%s://%s:%d" % ("https" if tls else "http", bind, self.port)

    def requests(self):
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def find(self, task_id):
        """The requests that carried Taskfleet-Task-Id: task_id."""
        return [r for r in self.requests()
                if header(r, "Taskfleet-Task-Id") == task_id]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def header(req, name):
    for k, v in req["headers"]:
        if k.lower() == name.lower():
            return v
    return None


def body_bytes(req):
    return base64.b64decode(req["body_b64"])


def run(tasks, env_extra=None, expect_exit=0):
    """Runs the tasks (dicts) through runonce; returns {id: output}."""
    env = dict(os.environ)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    for k in ("TASKFLEET_HTTP_ALLOW", "TASKFLEET_HTTP_SIGNING_KEYS",
              "TASKFLEET_HTTP_CA_BUNDLE", "TASKFLEET_RUNNER_CONFIG_HTTP"):
        env.pop(k, None)
    env.update(env_extra or {})
    def line(t):
        # raw_params: the params text exactly, for numbers JSON in Python would round.
        if "raw_params" in t:
            rest = dict(t)
            raw = rest.pop("raw_params")
            return json.dumps(rest)[:-1] + ', "params": ' + raw + "}"
        return json.dumps(t)
    stdin = "".join(line(t) + "\n" for t in tasks)
    p = subprocess.run([RUNONCE, RUNNER], input=stdin, capture_output=True,
                       text=True, env=env, timeout=120)
    if p.returncode != expect_exit:
        raise RuntimeError("runonce exit %d: %s" % (p.returncode, p.stderr[-2000:]))
    outs = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return {o["id"]: o for o in outs}, p.stderr


ALLOW = {"TASKFLEET_HTTP_ALLOW": "127.0.0.1"}


def openssl_hmac(key, message):
    p = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", key, "-hex"],
                       input=message, capture_output=True, check=True)
    return p.stdout.decode().strip().split("= ")[-1]


def main():
    for path in (RUNONCE, RUNNER):
        if not os.path.exists(path):
            check("setup", False, "%s is missing (run make check-tests)" % path)
            return 1
    tmp = tempfile.mkdtemp(prefix="taskfleet-http.")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    a = Receiver(tmp, "127.0.0.1")
    b = Receiver(tmp, "127.0.0.2")
    s = Receiver(tmp, "127.0.0.1", tls=(cert, key))
    try:
        tests(a, b)
        tls_tests(s, cert)
    finally:
        a.stop()
        b.stop()
        s.stop()
    return 1 if REPORT.failed else 0


def tests(a, b):
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]

    # -- every method, without and with a body -------------------------
    tasks = []
    for m in methods:
        tasks.append({"id": "nobody-" + m, "params": {"url": a.base + "/ok", "method": m}})
        if m != "HEAD":
            tasks.append({"id": "text-" + m, "params": {"url": a.base + "/ok", "method": m.lower(),
                                                        "body": "hello %s \u00e9" % m}})
            tasks.append({"id": "json-" + m, "params": {"url": a.base + "/ok", "method": m,
                                                        "body": {"m": m, "n": [1, 2.5, None]}}})
    tasks.append({"id": "exact-numbers", "raw_params": '{"url": "%s/ok", "method": "POST", '
                  '"body": {"amount": 12345678901234567890, "rate": 0.1000000000000000055511}}' % a.base})
    tasks.append({"id": "text-HEAD", "params": {"url": a.base + "/ok", "method": "HEAD", "body": "x"}})
    tasks.append({"id": "ctype", "params": {"url": a.base + "/ok", "method": "POST", "body": "<a/>",
                                            "headers": {"Content-Type": "application/xml",
                                                        "X-Custom": "v1 v2"}}})
    out, _ = run(tasks, ALLOW)
    for m in methods:
        o, reqs = out["nobody-" + m], a.find("nobody-" + m)
        ok = (o["outcome"] == "success" and o["completed"] and o["result"]["status"] == 200
              and len(reqs) == 1 and reqs[0]["method"] == m and body_bytes(reqs[0]) == b""
              and header(reqs[0], "Content-Type") is None)
        if m in ("POST", "PUT", "PATCH"):
            ok = ok and header(reqs[0], "Content-Length") == "0"
        check("method %s without body" % m, ok, "%s %s" % (o, reqs))
        if m == "HEAD":
            continue
        o, reqs = out["text-" + m], a.find("text-" + m)
        want = ("hello %s \u00e9" % m).encode()
        check("method %s with a text body" % m,
              o["outcome"] == "success" and len(reqs) == 1 and reqs[0]["method"] == m
              and body_bytes(reqs[0]) == want
              and header(reqs[0], "Content-Type") == "text/plain; charset=utf-8",
              "%s %s" % (o, reqs))
        o, reqs = out["json-" + m], a.find("json-" + m)
        check("method %s with a JSON body" % m,
              o["outcome"] == "success" and len(reqs) == 1 and reqs[0]["method"] == m
              and json.loads(body_bytes(reqs[0])) == {"m": m, "n": [1, 2.5, None]}
              and header(reqs[0], "Content-Type") == "application/json",
              "%s %s" % (o, reqs))
    reqs = a.find("exact-numbers")
    check("a JSON body keeps its numbers exactly", len(reqs) == 1 and body_bytes(reqs[0]) ==
          b'{"amount":12345678901234567890,"rate":0.1000000000000000055511}', reqs)
    o = out["text-HEAD"]
    check("HEAD with a body is refused", o["outcome"] == "failed"
          and "HEAD request has no body" in o["error"] and a.find("text-HEAD") == [], o)
    reqs = a.find("ctype")
    check("the task's Content-Type and headers are sent",
          len(reqs) == 1 and header(reqs[0], "Content-Type") == "application/xml"
          and header(reqs[0], "X-Custom") == "v1 v2" and body_bytes(reqs[0]) == b"<a/>", reqs)

    # -- connection reuse: everything above went over few connections ----
    conns = {r["conn"] for r in a.requests()}
    check("connections are reused across tasks", len(a.requests()) >= 17 and len(conns) <= 2,
          "%d requests over %d connections" % (len(a.requests()), len(conns)))

    # -- statuses, Retry-After, retry then success -------------------------
    tasks = [
        {"id": "s200", "params": {"url": a.base + "/status/200"}},
        {"id": "s204", "params": {"url": a.base + "/status/204"}},
        {"id": "s404", "params": {"url": a.base + "/status/404"}},
        {"id": "s400", "params": {"url": a.base + "/status/400"}},
        {"id": "s429", "params": {"url": a.base + "/status/429"}},
        {"id": "s500", "params": {"url": a.base + "/status/500"}},
        {"id": "s503", "params": {"url": a.base + "/status/503"}},
        {"id": "s404ok", "params": {"url": a.base + "/status/404", "success": ["2xx", 404]}},
        {"id": "s201no", "params": {"url": a.base + "/status/201", "success": [200]}},
        {"id": "s302", "params": {"url": a.base + "/redirect/302?to=/ok"}},
        {"id": "ra-secs", "params": {"url": a.base + "/retry-after/503/7"}},
        {"id": "ra-date", "params": {"url": a.base + "/retry-after/429/date:20"}},
        {"id": "ra-bad404", "params": {"url": a.base + "/retry-after/404/9"}},
    ]
    for attempt in (1, 2, 3):
        tasks.append({"id": "flaky-%d" % attempt, "attempt": attempt,
                      "params": {"url": a.base + "/flaky/k1/2"}})
    out, _ = run(tasks, ALLOW)
    for tid, outcome, err in [("s200", "success", ""), ("s204", "success", ""),
                              ("s404", "failed", "HTTP 404"), ("s400", "failed", "HTTP 400"),
                              ("s429", "retry", "HTTP 429"), ("s500", "retry", "HTTP 500"),
                              ("s503", "retry", "HTTP 503"), ("s404ok", "success", ""),
                              ("s201no", "failed", "HTTP 201"),
                              ("s302", "failed", "HTTP 302 (a redirect; set follow_redirects")]:
        o = out[tid]
        check("status %s is %s" % (tid, outcome), o["outcome"] == outcome
              and o["error"].startswith(err) and o["result"]["status"] == int(tid[1:4])
              and (outcome != "retry" or o["retry_after_ms"] == 0), o)
    o = out["ra-secs"]
    check("Retry-After in seconds is the earliest next attempt",
          o["outcome"] == "retry" and 6000 <= o["retry_after_in_ms"] <= 7000
          and o["error"] == "HTTP 503 (Retry-After 7 s)" and o["result"]["retry_after_s"] == 7, o)
    o = out["ra-date"]
    check("Retry-After as an HTTP date", o["outcome"] == "retry"
          and 17000 <= o["retry_after_in_ms"] <= 20000, o)
    check("Retry-After does not make a 404 retryable", out["ra-bad404"]["outcome"] == "failed",
          out["ra-bad404"])
    f1, f2, f3 = out["flaky-1"], out["flaky-2"], out["flaky-3"]
    check("retry then success", f1["outcome"] == "retry" and f2["outcome"] == "retry"
          and f3["outcome"] == "success" and f3["result"]["body"] == "finally"
          and [header(r, "Taskfleet-Attempt") for r in a.find("flaky-3")] == ["3"],
          [f1, f2, f3])

    # -- timeouts, connection errors, cancellation, deadline ------------
    now = int(time.time() * 1000)
    tasks = [
        {"id": "timeout", "params": {"url": a.base + "/sleep/3000", "timeout_ms": 300}},
        {"id": "refused-port", "params": {"url": "http://127.0.0.1:9/"}},
        {"id": "drop", "params": {"url": a.base + "/drop"}},
        {"id": "cancel", "cancel_after_ms": 200, "params": {"url": a.base + "/sleep/3000"}},
        {"id": "cancelled-before", "cancel_after_ms": -1, "params": {"url": a.base + "/ok"}},
        {"id": "deadline", "deadline_ms": now + 400, "params": {"url": a.base + "/sleep/3000"}},
    ]
    out, _ = run(tasks, ALLOW)
    o = out["timeout"]
    check("timeout", o["outcome"] == "retry" and o["error"] == "timeout after 300 ms"
          and o["elapsed_ms"] < 2000, o)
    o = out["refused-port"]
    check("connection refused", o["outcome"] == "retry"
          and o["error"].startswith("connection refused"), o)
    o = out["drop"]
    check("a dropped connection is retryable", o["outcome"] == "retry"
          and "without a response" in o["error"], o)
    o = out["cancel"]
    check("cancellation stops the request", o["outcome"] == "retry"
          and o["error"].startswith("cancelled") and o["elapsed_ms"] < 1500, o)
    o = out["cancelled-before"]
    check("a run cancelled before sending sends nothing", o["outcome"] == "retry"
          and o["error"].startswith("cancelled") and a.find("cancelled-before") == [], o)
    o = out["deadline"]
    check("the run's deadline bounds the timeout", o["outcome"] == "retry"
          and o["error"].startswith("timeout after") and o["elapsed_ms"] < 1500, o)

    # -- header injection and bad params: refused, nothing sent ----------
    bad = {
        "inj-value": {"url": a.base + "/ok", "headers": {"X-A": "b\r\nX-Injected: 1"}},
        "inj-lf": {"url": a.base + "/ok", "headers": {"X-A": "b\nc"}},
        "inj-name": {"url": a.base + "/ok", "headers": {"X-A\r\nX-B": "c"}},
        "inj-space": {"url": a.base + "/ok", "headers": {"X A": "c"}},
        "host-hdr": {"url": a.base + "/ok", "headers": {"Host": "evil"}},
        "sig-hdr": {"url": a.base + "/ok", "headers": {"Taskfleet-Signature": "v1=00"}},
        "no-url": {"method": "GET"},
        "ftp": {"url": "ftp://127.0.0.1/x"},
        "userinfo": {"url": "http://user:secret@127.0.0.1:%d/" % a.port},
        "space-url": {"url": a.base + "/a b"},
        "method": {"url": a.base + "/ok", "method": "FETCH"},
        "typo": {"url": a.base + "/ok", "mehtod": "GET"},
        "timeout0": {"url": a.base + "/ok", "timeout_ms": 0},
        "success700": {"url": a.base + "/ok", "success": [700]},
        "big-body": {"url": a.base + "/ok", "method": "POST", "body": "x" * (256 * 1024 + 1)},
    }
    out, _ = run([{"id": k, "params": v} for k, v in bad.items()], ALLOW)
    for k in bad:
        o = out[k]
        check("bad params %s fail permanently" % k, o["outcome"] == "failed"
              and o["error"].startswith("params") and a.find(k) == [], o)
    check("a URL's password is not repeated in the error",
          "secret" not in out["userinfo"]["error"], out["userinfo"])
    check("header injection names the header",
          "header injection" in out["inj-value"]["error"], out["inj-value"])

    # -- signatures, verified by openssl ----------------------------------
    body = '{"amount": 42, "note": "caf\u00e9"}'
    tasks = [{"id": "signed-post", "iteration": 4, "attempt": 2,
              "params": {"url": a.base + "/ok", "method": "POST", "body": body,
                         "headers": {"Content-Type": "application/json"}}},
             {"id": "signed-get", "params": {"url": a.base + "/ok"}}]
    run(tasks, dict(ALLOW, TASKFLEET_HTTP_SIGNING_KEYS=KEY1 + "," + KEY2))
    r = a.find("signed-post")[0]
    ts = header(r, "Taskfleet-Timestamp")
    sigs = (header(r, "Taskfleet-Signature") or "").split(",")
    message = ts.encode() + b"." + body_bytes(r)
    check("signature: both keys sign, openssl agrees",
          sigs == ["v1=" + openssl_hmac(KEY1, message), "v1=" + openssl_hmac(KEY2, message)]
          and abs(int(ts) - time.time()) < 30, (ts, sigs))
    check("task id, iteration and attempt headers",
          header(r, "Taskfleet-Task-Id") == "signed-post" and header(r, "Taskfleet-Iteration") == "4"
          and header(r, "Taskfleet-Attempt") == "2", r["headers"])
    r = a.find("signed-get")[0]
    ts = header(r, "Taskfleet-Timestamp")
    check("signature of a request without a body",
          header(r, "Taskfleet-Signature") == "v1=%s,v1=%s" % (
              openssl_hmac(KEY1, ts.encode() + b"."), openssl_hmac(KEY2, ts.encode() + b".")),
          r["headers"])
    tampered = ts.encode() + b"." + b'{"amount": 43}'
    check("a changed body does not verify",
          "v1=" + openssl_hmac(KEY1, tampered) not in header(r, "Taskfleet-Signature"), "")
    _, err = run([], {"TASKFLEET_HTTP_SIGNING_KEYS": "short-key"}, expect_exit=1)
    check("a short signing key stops the runner without printing it",
          "shorter than 16 bytes" in err and "short-key" not in err, err)
    run([{"id": "unsigned", "params": {"url": a.base + "/ok"}}], ALLOW)
    r = a.find("unsigned")[0]
    check("no key, no signature", header(r, "Taskfleet-Signature") is None
          and header(r, "Taskfleet-Task-Id") == "unsigned", r["headers"])

    # -- results: headers, excerpts, caps ----------------------------------
    tasks = [{"id": "hdrs", "params": {"url": a.base + "/headers"}},
             {"id": "hdrs-pick", "params": {"url": a.base + "/headers",
                                            "result_headers": ["X-Other", "Set-Cookie"]}},
             {"id": "binary", "params": {"url": a.base + "/binary"}},
             {"id": "big", "params": {"url": a.base + "/big/3000000"}}]
    out, _ = run(tasks, ALLOW)
    res = out["hdrs"]["result"]
    check("selected response headers in the result",
          res["headers"].get("content-type") == "application/json"
          and res["headers"].get("etag") == '"v1"' and res["headers"].get("x-request-id", "").startswith("req-")
          and "set-cookie" not in res["headers"] and "x-other" not in res["headers"]
          and res["duration_ms"] >= 0 and res["url"] == a.base + "/headers", res)
    res = out["hdrs-pick"]["result"]
    check("result_headers picks the headers", set(res["headers"]) == {"x-other", "set-cookie"}, res)
    res = out["binary"]["result"]
    check("a binary body becomes valid UTF-8", res["body"] == "ab\ufffdc\ufffd\ufffd\ufffd(d\u20ac"
          and res["body_bytes"] == 12, res)
    o = out["big"]
    res = o["result"]
    check("a large response is capped and the excerpt kept", o["outcome"] == "success"
          and res["body"] == "x" * 1024 and res["body_truncated"]
          and 1024 * 1024 <= res["body_bytes"] < 3000000, {k: v for k, v in res.items() if k != "body"})

    # -- redirects -----------------------------------------------------------
    loop = a.base + "/redirect/302?to=" + "/redirect/302%3Fto%3D/ok"
    tasks = [
        {"id": "r302", "params": {"url": a.base + "/redirect/302?to=/status/201", "follow_redirects": True}},
        {"id": "r303", "params": {"url": a.base + "/redirect/303?to=/ok", "method": "POST", "body": "b",
                                  "follow_redirects": True}},
        {"id": "r307", "params": {"url": a.base + "/redirect/307?to=/ok", "method": "POST", "body": "keep",
                                  "follow_redirects": True}},
        {"id": "rmax", "params": {"url": loop, "follow_redirects": True, "max_redirects": 1}},
        {"id": "rcross", "params": {"url": a.base + "/redirect/302?to=http://localhost:%d/ok" % a.port,
                                    "headers": {"Authorization": "Bearer t0ken", "X-Keep": "1"},
                                    "follow_redirects": True}},
        {"id": "rftp", "params": {"url": a.base + "/redirect/302?to=ftp://127.0.0.1/", "follow_redirects": True}},
        # A redirect may not add the credentials the task's URL may not
        # hold (libcurl would send them as Authorization: Basic).
        {"id": "ruserpw", "params": {"url": a.base + "/redirect/302?to=" + urllib.parse.quote(
            "http://u:pw@127.0.0.1:%d/ok" % a.port, safe=""), "follow_redirects": True}},
        {"id": "ruser", "params": {"url": a.base + "/redirect/307?to=" + urllib.parse.quote(
            "http://u@127.0.0.1:%d/ok" % a.port, safe=""), "follow_redirects": True}},
        {"id": "ruserrel", "params": {"url": a.base + "/redirect/301?to=" + urllib.parse.quote(
            "//u:pw@127.0.0.1:%d/ok" % a.port, safe=""), "follow_redirects": True}},
    ]
    out, _ = run(tasks, {"TASKFLEET_HTTP_ALLOW": "127.0.0.1,localhost"})
    o, reqs = out["r302"], a.find("r302")
    check("a redirect is followed when enabled", o["outcome"] == "success"
          and o["result"]["status"] == 201 and o["result"]["redirects"] == 1
          and [r["path"] for r in reqs] == ["/redirect/302?to=/status/201", "/status/201"], (o, reqs))
    reqs = a.find("r303")
    check("303 continues with a GET without the body",
          [(r["method"], body_bytes(r)) for r in reqs] == [("POST", b"b"), ("GET", b"")], reqs)
    reqs = a.find("r307")
    check("307 repeats the POST with its body",
          [(r["method"], body_bytes(r)) for r in reqs] == [("POST", b"keep"), ("POST", b"keep")], reqs)
    o = out["rmax"]
    check("too many redirects", o["outcome"] == "failed" and "too many redirects" in o["error"]
          and len(a.find("rmax")) == 2, o)
    reqs = a.find("rcross")
    check("credentials are not sent to another origin",
          len(reqs) == 2 and header(reqs[0], "Authorization") == "Bearer t0ken"
          and header(reqs[1], "Authorization") is None and header(reqs[1], "X-Keep") == "1"
          and header(reqs[1], "Host") == "localhost:%d" % a.port, reqs)
    o = out["rftp"]
    check("a redirect to another scheme is refused", o["outcome"] == "failed"
          and "not http or https" in o["error"], o)
    for k in ("ruserpw", "ruser", "ruserrel"):
        o, reqs = out[k], a.find(k)
        check("a redirect to a URL with credentials is refused, not followed: %s" % k,
              o["outcome"] == "failed" and "redirects to a URL with a user name or password" in o["error"]
              and "pw" not in o["error"] and len(reqs) == 1 and header(reqs[0], "Authorization") is None,
              (o, reqs))

    # -- refusals: loopback targets, nothing reaches them -------------------
    before_a, before_b = len(a.requests()), len(b.requests())
    tasks = [{"id": "no-allow", "params": {"url": a.base + "/ok"}},
             {"id": "no-allow-v6", "params": {"url": "http://[::1]:%d/ok" % a.port}},
             {"id": "no-allow-name", "params": {"url": "http://localhost:%d/ok" % a.port}}]
    out, _ = run(tasks)
    for k in ("no-allow", "no-allow-v6", "no-allow-name"):
        o = out[k]
        check("refused without an allow-list: %s" % k, o["outcome"] == "failed"
              and o["error"].startswith("refused: ") and "loopback" in o["error"], o)
    check("nothing reached the refused target", len(a.requests()) == before_a, a.requests()[before_a:])
    tasks = [{"id": "name-to-loopback", "params": {"url": "http://localhost:%d/ok" % a.port}}]
    out, _ = run(tasks, {"TASKFLEET_HTTP_ALLOW": "127.0.0.2"})
    o = out["name-to-loopback"]
    check("a host name that resolves to loopback is refused", o["outcome"] == "failed"
          and "refused" in o["error"] and len(a.requests()) == before_a, o)
    # A host longer than any DNS name (319 bytes) is refused whole, never
    # checked cut short; the target list keeps even a runner that did from
    # resolving it.
    long_host = ".".join(["a" * 63] * 5)
    tasks = [{"id": "long-host", "params": {"url": "http://%s/ok" % long_host}}]
    out, _ = run(tasks, {"TASKFLEET_HTTP_TARGETS": "hooks.invalid"})
    o = out["long-host"]
    check("a URL whose host is longer than a DNS name does not parse",
          o["outcome"] == "failed" and o["error"] == "the URL does not parse", o)
    tasks = [{"id": "redirect-to-refused",
              "params": {"url": a.base + "/redirect/302?to=" + b.base + "/ok", "follow_redirects": True}}]
    out, _ = run(tasks, ALLOW)
    o = out["redirect-to-refused"]
    check("a redirect from an allowed server to a refused loopback address",
          o["outcome"] == "failed" and "refused: 127.0.0.2 is a loopback address" in o["error"]
          and len(a.find("redirect-to-refused")) == 1 and len(b.requests()) == before_b, o)
    tasks = [{"id": "allowed-b", "params": {"url": b.base + "/ok"}}]
    out, _ = run(tasks, {"TASKFLEET_HTTP_ALLOW": "127.0.0.0/30"})
    check("a CIDR range in the allow-list opens the second receiver",
          out["allowed-b"]["outcome"] == "success" and len(b.find("allowed-b")) == 1, out["allowed-b"])
    _, err = run([], {"TASKFLEET_HTTP_ALLOW": "10.0.0.1/8"}, expect_exit=1)
    check("a bad allow-list stops the runner with a message", "TASKFLEET_HTTP_ALLOW" in err
          and "host bits" in err, err)
    # -- the target list, from the configuration key and the variable --------
    before_b = len(b.requests())
    tasks = [{"id": "cfg-target-a", "params": {"url": a.base + "/ok"}},
             {"id": "cfg-target-b", "params": {"url": b.base + "/ok"}}]
    key_a = json.dumps({"targets": "127.0.0.1:%d" % a.port})
    out, _ = run(tasks, {"TASKFLEET_HTTP_ALLOW": "127.0.0.0/30",
                         "TASKFLEET_RUNNER_CONFIG_HTTP": key_a})
    check("targets key: a listed target is reached", out["cfg-target-a"]["outcome"] == "success"
          and len(a.find("cfg-target-a")) == 1, out["cfg-target-a"])
    o = out["cfg-target-b"]
    check("targets key: an unlisted target is refused for good, nothing sent",
          o["outcome"] == "failed" and o["error"] == 'refused: host "127.0.0.2" port %d is not on '
          'TASKFLEET_HTTP_TARGETS' % b.port and len(b.requests()) == before_b, o)
    # Each hop is checked by its own host: listed by name (localhost, from
    # /etc/hosts), a redirect to the same port by address is not listed.
    key_name = json.dumps({"targets": "localhost:%d" % a.port})
    hop = "http://127.0.0.1:%d/ok" % a.port
    out, _ = run([{"id": "cfg-target-hop", "params": {
        "url": "http://localhost:%d/redirect/302?to=%s" % (a.port, urllib.parse.quote(hop, safe="")),
        "follow_redirects": True}}],
        {"TASKFLEET_HTTP_ALLOW": "127.0.0.0/30", "TASKFLEET_RUNNER_CONFIG_HTTP": key_name})
    o = out["cfg-target-hop"]
    check("targets key: a redirect to a target not on the list is refused by its own host",
          o["outcome"] == "failed" and o["error"] == 'refused: host "127.0.0.1" port %d is not '
          'on TASKFLEET_HTTP_TARGETS' % a.port and len(a.find("cfg-target-hop")) == 1, o)
    out, _ = run([{"id": "env-target-b", "params": {"url": b.base + "/ok"}}],
                 {"TASKFLEET_HTTP_ALLOW": "127.0.0.0/30", "TASKFLEET_RUNNER_CONFIG_HTTP": key_a,
                  "TASKFLEET_HTTP_TARGETS": "127.0.0.2:%d" % b.port})
    check("TASKFLEET_HTTP_TARGETS takes precedence over the targets key",
          out["env-target-b"]["outcome"] == "success" and len(b.find("env-target-b")) == 1,
          out["env-target-b"])
    _, err = run([], {"TASKFLEET_RUNNER_CONFIG_HTTP": '{"targets": ["a.example"]}'}, expect_exit=1)
    check("a targets key that is not a string stops the runner", "targets must be a string" in err, err)
    _, err = run([], {"TASKFLEET_RUNNER_CONFIG_HTTP": '{"alow": "x"}'}, expect_exit=1)
    check("an unknown configuration key stops the runner", 'unknown configuration key "alow"' in err, err)


def tls_tests(s, cert):
    tasks = [{"id": "tls-unknown-ca", "params": {"url": s.base + "/ok"}}]
    out, _ = run(tasks, ALLOW)
    o = out["tls-unknown-ca"]
    check("TLS: a certificate that does not verify fails permanently",
          o["outcome"] == "failed" and o["error"].startswith("TLS: ") and s.requests() == [], o)
    tasks = [{"id": "tls-ok", "params": {"url": s.base + "/ok", "method": "POST", "body": {"x": 1}}}]
    out, _ = run(tasks, dict(ALLOW, TASKFLEET_HTTP_CA_BUNDLE=cert))
    o = out["tls-ok"]
    check("TLS: verified with TASKFLEET_HTTP_CA_BUNDLE", o["outcome"] == "success"
          and o["result"]["status"] == 200 and len(s.find("tls-ok")) == 1, o)
    _, err = run([], {"TASKFLEET_HTTP_CA_BUNDLE": "/nonexistent/ca.pem"}, expect_exit=1)
    check("TLS: a missing CA bundle stops the runner", "cannot be read" in err, err)


if __name__ == "__main__":
    sys.exit(main())
