#!/usr/bin/env python3
"""api.py - the REST API of `taskfleet serve` end to end (GitHub issue 9).

Starts `taskfleet serve --listen 127.0.0.1:0` (it prints its address on
stderr) against the local stand-ins that tests/run starts, with its own table
and queue (`taskfleet init` first), four API keys (write on all namespaces,
read on all, write on namespace "teamA", and an entry whose hash is another
key's in its first half only) and one allowed CORS origin; then:

  - every endpoint: POST /v1/tasks (one task, a batch, Idempotency-Key),
    GET /v1/tasks (filters, paging with the token `taskfleet list` prints),
    GET and DELETE /v1/tasks/{id}, POST .../suspend|resume|run, GET /v1/stats,
    GET /v1/openapi.json;
  - every error path: 400 invalid_json and invalid_field (the messages are
    those of `taskfleet submit`, named by field), 401 without and with a
    wrong key, 403 by scope and by namespace, 404 not_found and no_route,
    405 with Allow, 409 for a refused state change, 413, 415;
  - CORS on (preflight and replies for the allowed origin only) and off (a
    second server without TASKFLEET_API_CORS_ORIGINS);
  - --no-auth: refused off loopback (exit 2), served on loopback; no keys and
    no --no-auth: exit 2;
  - the OpenAPI document: the file in the tree, every path and method in it
    is served, every other method on its paths is 405, and every route the
    server implements (listed here) is in it;
  - params the runner refuses (the http runner's validate()): 400 from
    POST, a batch (nothing written) and PATCH;
  - calendar steps ("every": "1mo" with tz): POST echoes the schedule with
    its anchor (the first run), PATCH anchors at the task's next_run, the
    preview keeps Jan 31's day after February, "1mo2d" is a 400;
  - PATCH /v1/tasks/{id}: each field (params, every, cron + tz, max_runs,
    next_run, max_attempts), what a PENDING and a SUSPENDED task become, the
    400s (named by field, as submit names them), 404, 403 by scope and by
    namespace, 409 for a task that is PROCESSING or COMPLETED (set behind
    the API's back in the stand-in);
  - GET /v1/schedule/preview: cron in a zone, intervals, max_runs, a
    one-shot time, an invalid schedule answered with its reason, the 400s,
    read scope;
  - the web console's static files: served without a key with the right
    content type and a strict Content-Security-Policy, the same bytes as in
    producer/console/, index.html referencing only local files, and the
    JavaScript files parsing (`node --check`);
  - a NUL in the URL (%00 or a raw byte, in the id, after it, in an action
    or a query parameter's name or value) is 400 invalid_field on every
    route and touches nothing: the task the cut URL would name is
    unchanged (GitHub issue 18);
  - rate limits, on servers of their own: a key's own rate (burst then 429
    rate_limited with Retry-After and RateLimit-* headers) leaving other
    keys alone, TASKFLEET_API_RATE for keys without one, "off", a key
    working again after its Retry-After; unknown keys per client address
    (TASKFLEET_API_AUTH_RATE: 401s, then 429 for every request from it);
    --no-auth per client address; console files and preflights never
    limited; bad rates exit 2 naming the variable or the entry. The rates
    are slow (per minute) so that no token comes back during a burst, however
    slow the machine.

Talks only to 127.0.0.1. Prints "PASS name" or "FAIL name: why"; exits 1 on
any failure.
"""
import hashlib
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
TF = os.path.join(BUILD, "bin", "taskfleet")
OUT = os.path.join(os.environ.get("TF_TEST_OUT") or os.path.join(ROOT, "tests", "out"), "api")
ORIGIN = "https://console.example.com"

# The routes the server implements (producer/api.c): each must be in the
# OpenAPI document, with exactly these methods.
ROUTES = {
    "/v1/tasks": {"get", "post"},
    "/v1/tasks/{id}": {"get", "patch", "delete"},
    "/v1/tasks/{id}/suspend": {"post"},
    "/v1/tasks/{id}/resume": {"post"},
    "/v1/tasks/{id}/run": {"post"},
    "/v1/tasks/{id}/retry": {"post"},
    "/v1/stats": {"get"},
    "/v1/schedule/preview": {"get"},
    "/v1/due": {"get"},
    "/v1/namespaces": {"get"},
    "/v1/namespaces/{ns}": {"delete"},
    "/v1/namespaces/{ns}/pause": {"post"},
    "/v1/namespaces/{ns}/resume": {"post"},
    "/v1/dlq": {"get"},
    "/v1/dlq/redrive": {"post"},
    "/v1/limits": {"get"},
    "/v1/limits/{key}": {"put", "delete"},
    "/v1/openapi.json": {"get"},
    "/healthz": {"get"},
    "/readyz": {"get"},
}
CONSOLE = os.path.join(ROOT, "producer", "console")
CONSOLE_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}

procs = []


sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tftest  # noqa: E402  (found through the path above)

REPORT = tftest.Report("api")
check = REPORT.check


def start(env, *args):
    """Starts a server; returns (proc, port) or (proc, None) with its output."""
    log = open(os.path.join(OUT, "serve-%d.log" % len(procs)), "w+")
    p = subprocess.Popen([TF, "serve"] + list(args), env=env, stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    procs.append(p)
    deadline = time.time() + 15
    while time.time() < deadline:
        log.seek(0)
        text = log.read()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", text)
        if m:
            return p, int(m.group(1))
        if p.poll() is not None:
            return p, None
        time.sleep(0.1)
    return p, None


class Api:
    def __init__(self, port, key=None):
        self.port = port
        self.key = key

    def req(self, method, path, body=None, key="default", headers=None, raw=None):
        """Returns (status, headers dict (lower-case names), parsed JSON or
        None)."""
        h = dict(headers or {})
        k = self.key if key == "default" else key
        if k is not None:
            h["Authorization"] = "Bearer " + k
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read()
            hdrs = {n.lower(): v for n, v in r.getheaders()}
            status = r.status
        except (ConnectionError, http.client.HTTPException) as e:
            return 0, {}, {"exception": str(e)}
        finally:
            c.close()
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = {"unparsed": text[:200].decode(errors="replace")}
        return status, hdrs, doc


def raw_exchange(port, data):
    """Sends data (one whole request, bytes as they are) over a plain socket
    and reads the reply, even when the server answers (and closes) before
    all is sent. Returns (status, parsed JSON or None)."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(data)
    except OSError:
        pass
    reply = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            reply += b
            if b"\r\n\r\n" in reply:
                hdr, _, rest = reply.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length: *(\d+)", hdr)
                if m and len(rest) >= int(m.group(1)):
                    break
    except OSError:
        pass
    s.close()
    m = re.match(rb"HTTP/1\.[01] (\d+)", reply)
    if not m:
        return 0, {"reply": reply[:200]}
    _, _, rest = reply.partition(b"\r\n\r\n")
    try:
        return int(m.group(1)), json.loads(rest)
    except ValueError:
        return int(m.group(1)), {"unparsed": rest[:200]}


def raw_post(port, key, body, chunked):
    """POSTs body to /v1/tasks (raw_exchange()), chunked or with a
    Content-Length."""
    head = "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n" \
           "Content-Type: application/json\r\n" % key
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else "Content-Length: %d\r\n\r\n" % len(body)
    data = head.encode()
    if chunked:
        for i in range(0, len(body), 65536):
            part = body[i:i + 65536]
            data += b"%x\r\n" % len(part) + part + b"\r\n"
        data += b"0\r\n\r\n"
    else:
        data += body
    return raw_exchange(port, data)


def raw_request(port, key, method, target, body=b""):
    """Sends one request (raw_exchange()) whose target is bytes as they are,
    a raw NUL included."""
    head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n" \
        % (method.encode(), target, key.encode())
    if body:
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return raw_exchange(port, head + b"\r\n" + body)


def nul_in_url(api, port, key):
    """A NUL in the URL (issue 18), as %00 and as a raw byte, each with a
    victim task of its own: each request below, cut at its NUL, would act
    on the victim (or on its namespace); each must be 400 invalid_field,
    and the victim stays as it was."""
    patch = json.dumps({"params": {"changed": 1}}).encode()
    for how, nul in (("pct", b"%00"), ("raw", b"\0")):
        victim = "victim-%s-%s" % (how, secrets.token_hex(4))
        ns = "nulns" + secrets.token_hex(3)
        st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "id": victim, "ns": ns, "at": "+2h"})
        check("nul-%s-setup" % how, st == 201, "%s %s" % (st, d))
        st, _, before = api.req("GET", "/v1/tasks/%s" % victim)
        v, n = victim.encode(), ns.encode()
        for cname, method, target, body in [
                ("get", "GET", b"/v1/tasks/" + v + nul + b"zzz", b""),
                ("patch", "PATCH", b"/v1/tasks/" + v + nul + b"x", patch),
                ("delete", "DELETE", b"/v1/tasks/" + v + nul + b"zzz", b""),
                ("delete-trailing", "DELETE", b"/v1/tasks/" + v + nul, b""),
                ("suspend", "POST", b"/v1/tasks/" + v + nul + b"x/suspend", b""),
                ("suspend-after", "POST", b"/v1/tasks/" + v + b"/suspend" + nul + b"x", b""),
                ("run-after", "POST", b"/v1/tasks/" + v + b"/run" + nul, b""),
                ("resume", "POST", b"/v1/tasks/" + v + nul + b"/resume", b""),
                ("delete-query", "DELETE", b"/v1/tasks/" + v + b"?x=" + nul, b""),
                ("list-ns", "GET", b"/v1/tasks?ns=" + n + nul + b"other", b""),
                ("list-name", "GET", b"/v1/tasks?ns" + nul + b"x=" + n, b""),
                ("preview", "GET", b"/v1/schedule/preview?every=1h" + nul + b"x", b""),
                ("stats", "GET", b"/v1/stats?ns=" + n + nul, b"")]:
            st, d = raw_request(port, key, method, target, body)
            check("nul-400-%s-%s" % (how, cname), st == 400 and code_of(d) == "invalid_field"
                  and "NUL" in msg_of(d), "%s %s %r: %s %s" % (method, target, body, st, d))
        st, _, after = api.req("GET", "/v1/tasks/%s" % victim)
        check("nul-%s-victim-untouched" % how, st == 200 and after == before,
              "%s %s / before %s" % (st, after, before))
        # The same request without the NUL does act: the cut ones were aimed.
        st, d = raw_request(port, key, "DELETE", b"/v1/tasks/" + v)
        check("nul-%s-victim-deletable" % how, st == 200 and (d or {}).get("deleted") is True,
              "%s %s" % (st, d))


# Changes a task's status behind the API's back (in the stand-in).
set_status = tftest.set_status


def get_raw(port, path):
    """GET path without a key; returns (status, headers dict, bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, {n.lower(): v for n, v in r.getheaders()}, r.read()
    except (ConnectionError, http.client.HTTPException) as e:
        return 0, {}, str(e).encode()
    finally:
        c.close()


def code_of(doc):
    return (doc or {}).get("error", {}).get("code")


def msg_of(doc):
    return (doc or {}).get("error", {}).get("message", "")


def retry_after(hd):
    """The Retry-After header as an int, or None."""
    v = hd.get("retry-after", "")
    return int(v) if v.isdigit() else None


def rate_limits(env, h):
    """The rate limits, each on a server of its own (their buckets are the
    server's)."""
    kl, ko, kf, kx, kg = (secrets.token_urlsafe(24) for _ in range(5))
    # kl: its own 1/min:5; ko: TASKFLEET_API_RATE's 1/min:2; kf: 60/min:1
    # (a token a second); kx: off.
    renv = dict(env, TASKFLEET_API_RATE="1/min:2", TASKFLEET_API_KEYS="%s:read:*:1/min:5, %s:read:*, "
                "%s:read:*:60/min:1,%s:write:*:off" % (h(kl), h(ko), h(kf), h(kx)))
    _, rport = start(renv, "--listen", "127.0.0.1:0")
    check("rate-serve-starts", rport is not None, "did not start (log in %s)" % OUT)
    if rport is not None:
        api = Api(rport)
        res = [api.req("GET", "/v1/openapi.json", key=kl) for _ in range(10)]
        sts = [r[0] for r in res]
        check("rate-key-burst-then-429", sts == [200] * 5 + [429] * 5, sts)
        check("rate-key-headers", [r[1].get("ratelimit-remaining") for r in res[:6]] == ["4", "3", "2", "1", "0", "0"]
              and all(r[1].get("ratelimit-limit") == "5" for r in res), [(r[0], r[1]) for r in res[:6]])
        st, hd, d = res[5]
        ra = retry_after(hd)
        check("rate-key-429-rate-limited", st == 429 and code_of(d) == "rate_limited" and ra is not None
              and 1 <= ra <= 60 and "over its rate" in msg_of(d), "%s %s %s" % (st, hd, d))
        # Another key has its own bucket; TASKFLEET_API_RATE for one without a rate.
        sts = [api.req("GET", "/v1/openapi.json", key=ko)[0] for _ in range(4)]
        check("rate-other-key-unaffected-env-rate", sts == [200, 200, 429, 429], sts)
        st, _, d = api.req("GET", "/v1/openapi.json", key=kl)
        check("rate-key-still-limited", st == 429 and code_of(d) == "rate_limited", "%s %s" % (st, d))
        res = [api.req("GET", "/v1/openapi.json", key=kx) for _ in range(10)]
        check("rate-key-off", all(r[0] == 200 and "ratelimit-limit" not in r[1] for r in res),
              [(r[0], r[1].get("ratelimit-limit")) for r in res])
        # A token a second: refused soon, and served again once it is back.
        sts = []
        for _ in range(10):
            st, hd, d = api.req("GET", "/v1/openapi.json", key=kf)
            sts.append(st)
            if st == 429:
                break
        check("rate-refill-refused", sts[-1] == 429 and retry_after(hd) == 1 and code_of(d) == "rate_limited",
              "%s %s %s" % (sts, hd, d))
        time.sleep(1.5)
        st, _, d = api.req("GET", "/v1/openapi.json", key=kf)
        check("rate-refill-works-again", st == 200, "%s %s" % (st, d))
        # Unauthenticated requests are not charged to any key; preflights and
        # console files are not limited.
        st, _, d = api.req("GET", "/v1/openapi.json", key=None)
        check("rate-401-before-rate", st == 401 and code_of(d) == "unauthorized", "%s %s" % (st, d))
        sts = [get_raw(rport, "/console/")[0] for _ in range(5)]
        sts += [api.req("OPTIONS", "/v1/tasks", key=None, headers={"Origin": ORIGIN})[0] for _ in range(5)]
        check("rate-console-preflight-unlimited", sts == [200] * 5 + [403] * 5, sts)

    # Unknown keys per client address: 1/min:3 here.
    fenv = dict(env, TASKFLEET_API_AUTH_RATE="1/min:3", TASKFLEET_API_KEYS="%s:read:*" % h(kg))
    _, fport = start(fenv, "--listen", "127.0.0.1:0")
    check("rate-auth-serve-starts", fport is not None, "did not start (log in %s)" % OUT)
    if fport is not None:
        api = Api(fport)
        # The default rate (50/s, burst 100) for a key without its own.
        st, hd, _ = api.req("GET", "/v1/openapi.json", key=kg)
        check("rate-default", st == 200 and hd.get("ratelimit-limit") == "100"
              and hd.get("ratelimit-remaining") == "99", "%s %s" % (st, hd))
        # Requests without a key guess nothing: not counted.
        sts = [api.req("GET", "/v1/openapi.json", key=None)[0] for _ in range(5)]
        sts += [api.req("GET", "/v1/openapi.json", key=kg)[0]]   # a good key: not counted
        sts += [api.req("GET", "/v1/openapi.json", key="wrong-%d" % i)[0] for i in range(3)]
        check("rate-auth-401s", sts == [401] * 5 + [200] + [401] * 3, sts)
        st, hd, d = api.req("GET", "/v1/openapi.json", key="wrong-again")
        ra = retry_after(hd)
        check("rate-auth-429", st == 429 and code_of(d) == "rate_limited" and ra is not None and 1 <= ra <= 60
              and "unknown API keys" in msg_of(d) and "ratelimit-limit" not in hd, "%s %s %s" % (st, hd, d))
        # While the address is over, its good keys wait too (guessing cannot
        # go on by mixing them in); the console still loads.
        st, _, d = api.req("GET", "/v1/openapi.json", key=kg)
        st2, _, d2 = api.req("GET", "/v1/openapi.json", key=None)
        st3 = get_raw(fport, "/console/")[0]
        check("rate-auth-address-refused", st == 429 and code_of(d) == "rate_limited" and st2 == 429
              and st3 == 200, "%s %s / %s %s / %s" % (st, d, st2, d2, st3))
        with open(os.path.join(OUT, "serve-%d.log" % (len(procs) - 1))) as f:
            log = f.read()
        check("rate-auth-logged", "too many unknown API keys from 127.0.0.1" in log, log[-500:])

    # --no-auth: per client address, TASKFLEET_API_RATE.
    _, nport = start(dict(env, TASKFLEET_API_RATE="1/min:2"), "--listen", "127.0.0.1:0", "--no-auth")
    if nport is None:
        check("rate-no-auth", False, "did not start")
    else:
        res = [Api(nport).req("GET", "/v1/openapi.json", key=None) for _ in range(3)]
        check("rate-no-auth", [r[0] for r in res] == [200, 200, 429] and code_of(res[2][2]) == "rate_limited"
              and "this client" in msg_of(res[2][2]) and retry_after(res[2][1]) is not None,
              [(r[0], r[2]) for r in res])

    # Bad rates: exit 2, naming the variable (or the entry) and the text.
    good_keys = "%s:read:*" % h(kg)
    for cname, var, val, want in [
            ("word", "TASKFLEET_API_RATE", "fast", "TASKFLEET_API_RATE: \"fast\" is not a rate"),
            ("zero-count", "TASKFLEET_API_RATE", "0/s", "TASKFLEET_API_RATE: \"0/s\": the count must be"),
            ("zero-burst", "TASKFLEET_API_RATE", "5/s:0", "the burst must be"),
            ("unit", "TASKFLEET_API_RATE", "5/sec", "N/s, N/min or N/h"),
            ("auth-unit", "TASKFLEET_API_AUTH_RATE", "10/day", "TASKFLEET_API_AUTH_RATE: \"10/day\" is not a rate"),
            ("key-unit", "TASKFLEET_API_KEYS", good_keys + "," + good_keys + ":5/sec",
             "TASKFLEET_API_KEYS: entry 2: the rate: \"5/sec\" is not a rate"),
            ("key-empty", "TASKFLEET_API_KEYS", good_keys + ":", "TASKFLEET_API_KEYS: entry 1: the rate")]:
        benv = dict(env, TASKFLEET_API_KEYS=good_keys)
        benv[var] = val
        r = subprocess.run([TF, "serve", "--listen", "127.0.0.1:0"], env=benv, capture_output=True, text=True,
                           timeout=20)
        check("rate-bad-%s" % cname,
              r.returncode == 2 and want in r.stderr, "exit %s: %s" % (r.returncode, r.stderr.strip()))


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.access(TF, os.X_OK):
        check("setup", False, "%s is missing (run make)" % TF)
        return
    if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or not os.environ.get("AWS_ENDPOINT_URL_SQS"):
        check("setup", False, "run through tests/run (the stand-ins' endpoints are not set)")
        return
    name = "tf-api-%d-%d" % (os.getpid(), secrets.randbelow(100000))
    env = dict(os.environ)
    for v in ("TASKFLEET_QUEUE_URL", "TASKFLEET_LOG", "TASKFLEET_API_KEYS",
              "TASKFLEET_API_CORS_ORIGINS", "TASKFLEET_API_RATE", "TASKFLEET_API_AUTH_RATE"):
        env.pop(v, None)
    env.update(TASKFLEET_TABLE=name, TASKFLEET_QUEUE=name,
               TASKFLEET_RUNNERS=os.path.join(BUILD, "runners"))
    r = subprocess.run([TF, "init"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        check("setup-init", False, r.stderr.strip())
        return

    kw, kr, ka, kh = (secrets.token_urlsafe(24) for _ in range(4))
    h = lambda k: hashlib.sha256(k.encode()).hexdigest()
    # An entry whose hash is kh's in its first half only: kh must not match it.
    half = h(kh)[:32] + ("0" * 32 if h(kh)[32:] != "0" * 32 else "1" * 32)
    senv = dict(env)
    senv["TASKFLEET_API_KEYS"] = "%s:write:*, %s:read:*,%s:write:teamA|teamB,%s:write:*" % (
        h(kw), h(kr), h(ka), half)
    senv["TASKFLEET_API_CORS_ORIGINS"] = ORIGIN
    # The checks below send requests as fast as the machine answers them,
    # which can be more than the default rate (50/s): no limit on this
    # server; rate_limits() tests them on servers of their own.
    senv["TASKFLEET_API_RATE"] = "off"
    p, port = start(senv, "--listen", "127.0.0.1:0")
    check("serve-starts", port is not None, "no \"listening on\" line (log in %s)" % OUT)
    if port is None:
        return
    api = Api(port, kw)

    # --- the OpenAPI document -------------------------------------------
    st, _, doc = api.req("GET", "/v1/openapi.json")
    with open(os.path.join(ROOT, "producer", "openapi.json")) as f:
        filedoc = json.load(f)
    check("openapi-served", st == 200 and doc == filedoc,
          "status %s, or not the document in producer/openapi.json" % st)
    check("openapi-3", str(filedoc.get("openapi", "")).startswith("3.0"), filedoc.get("openapi"))
    paths = filedoc.get("paths", {})
    methods = {"get", "post", "put", "patch", "delete"}
    bad = []
    for path, item in paths.items():
        concrete = path.replace("{id}", "openapi-probe-%s" % name)
        for m in sorted(methods):
            # An empty JSON body for writes: the route must answer with
            # something other than "no route" or "method not allowed".
            st, hdrs, d = api.req(m.upper(), concrete, body={} if m in ("post", "patch", "put") else None)
            if m in item and (st == 405 or code_of(d) == "no_route" or st == 0):
                bad.append("%s %s in the document answers %s %s" % (m.upper(), path, st, code_of(d)))
            allow = [a.strip().lower() for a in hdrs.get("allow", "").split(",")]
            if m not in item and (st != 405 or m in allow):
                bad.append("%s %s is not in the document but answers %s" % (m.upper(), path, st))
    check("openapi-paths-served", not bad, "; ".join(bad))
    missing = []
    for path, ms in ROUTES.items():
        doc_ms = set(k for k in paths.get(path, {}) if k in methods)
        if doc_ms != ms:
            missing.append("%s: server %s, document %s" % (path, sorted(ms), sorted(doc_ms)))
    extra = set(paths) - set(ROUTES)
    check("openapi-routes-documented", not missing and not extra,
          "; ".join(missing) + (" undocumented-in-test: %s" % sorted(extra) if extra else ""))
    codes = set(filedoc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])

    # --- POST /v1/tasks --------------------------------------------------
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "params": {"n": 1}})
    tid = (d or {}).get("id")
    check("post-one-201", st == 201 and d.get("created") is True and d.get("status") == "PENDING"
          and d.get("ns") == "default" and d.get("enqueued") is True, "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks/%s" % tid)
    check("get-task", st == 200 and d.get("id") == tid and d.get("type") == "noop"
          and d.get("params") == {"n": 1}, "%s %s" % (st, d))

    ikey = "order-" + secrets.token_hex(4)
    st1, _, d1 = api.req("POST", "/v1/tasks", {"type": "noop", "at": "+2h"}, headers={"Idempotency-Key": ikey})
    st2, _, d2 = api.req("POST", "/v1/tasks", {"type": "noop", "at": "+2h"}, headers={"Idempotency-Key": ikey})
    check("idempotency-key-repeat-200", st1 == 201 and st2 == 200 and d1.get("id") == d2.get("id")
          and d2.get("created") is False and d1.get("id", "").startswith("idem-"),
          "%s %s / %s %s" % (st1, d1, st2, d2))
    st3, _, d3 = api.req("POST", "/v1/tasks", {"type": "noop", "ns": "other", "at": "+2h"}, headers={"Idempotency-Key": ikey})
    check("idempotency-key-per-namespace", st3 == 201 and d3.get("id") != d1.get("id"), "%s %s" % (st3, d3))
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "id": "x"}, headers={"Idempotency-Key": ikey})
    check("idempotency-key-and-id-400", st == 400 and code_of(d) == "invalid_field", "%s %s" % (st, d))

    st, _, d = api.req("POST", "/v1/tasks", {"tasks": [
        {"type": "noop", "ns": "batch", "at": "+1h"},
        {"type": "noop", "ns": "batch", "every": "30m", "max_runs": 3},
        {"type": "noop", "ns": "batch", "cron": "0 9 * * 1-5", "tz": "Europe/Berlin"}]})
    ok = st == 201 and len(d.get("tasks", [])) == 3 and all(t.get("created") for t in d["tasks"]) \
        and d["tasks"][2].get("schedule", {}).get("tz") == "Europe/Berlin"
    check("post-batch-201", ok, "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks", {"tasks": [{"type": "noop"}] * 501})
    check("post-batch-over-500-400", st == 400 and code_of(d) == "invalid_field", "%s %s" % (st, d))
    # A bad task anywhere in a batch writes nothing.
    st, _, d = api.req("POST", "/v1/tasks", {"tasks": [{"type": "noop", "ns": "batchbad"},
                                                        {"type": "noop", "ns": "batchbad", "every": "soon"}]})
    st2, _, d2 = api.req("GET", "/v1/tasks?ns=batchbad")
    check("post-batch-bad-writes-nothing", st == 400 and msg_of(d).startswith("tasks[1]: every:")
          and st2 == 200 and d2.get("tasks") == [], "%s %s / %s" % (st, d, d2))

    # --- validation: the same code and messages as `taskfleet submit` ------
    cases = [
        ("cron", {"type": "noop", "cron": "61 * * * *"}, ["--cron", "61 * * * *"]),
        ("every", {"type": "noop", "every": "often"}, ["--every", "often"]),
        ("at", {"type": "noop", "at": "tomorrow"}, ["--at", "tomorrow"]),
        ("tz", {"type": "noop", "cron": "0 9 * * *", "tz": "Mars/Olympus"}, ["--cron", "0 9 * * *", "--tz", "Mars/Olympus"]),
        ("until-past", {"type": "noop", "every": "1h", "until": "2001-01-01"}, ["--every", "1h", "--until", "2001-01-01"]),
        ("max-runs", {"type": "noop", "every": "1h", "max_runs": 0}, ["--every", "1h", "--max-runs", "0"]),
        ("max-attempts", {"type": "noop", "max_attempts": 1001}, ["--max-attempts", "1001"]),
        ("type-unknown", {"type": "nosuchrunner"}, []),
        ("type-syntax", {"type": "No Such"}, []),
        ("ns", {"type": "noop", "ns": "bad ns"}, ["--ns", "bad ns"]),
        ("id", {"type": "noop", "id": "x" * 129}, ["--id", "x" * 129]),
        ("every-and-cron", {"type": "noop", "every": "1h", "cron": "@daily"}, ["--every", "1h", "--cron", "@daily"]),
    ]
    for cname, body, flags in cases:
        st, _, d = api.req("POST", "/v1/tasks", body)
        cli = subprocess.run([TF, "submit", "--type", body["type"]] + flags, env=env,
                             capture_output=True, text=True)
        climsg = cli.stderr.strip().replace("taskfleet submit: ", "", 1)
        # The CLI names flags (--max-runs), the API fields (max_runs).
        norm = re.sub(r"--([a-z]+)-([a-z]+)", r"\1_\2", climsg).replace("--", "")
        check("validate-%s" % cname, st == 400 and code_of(d) == "invalid_field" and cli.returncode == 2
              and msg_of(d) == norm, "API %s %s; CLI exit %s %r" % (st, d, cli.returncode, climsg))
    # Upper case is a runner name (the original scheduler's "exampleTask"):
    # refused here only because no such runner is installed for this server.
    st, _, d = api.req("POST", "/v1/tasks", {"type": "exampleTask"})
    check("type-upper-case-is-a-name", st == 400 and msg_of(d).startswith('type: no runner "exampleTask" is installed'),
          "%s %s" % (st, d))
    for cname, raw, want in [("bad-json", b"{\"type\": ", "invalid_json"),
                             ("not-object", b"[1,2]", "invalid_json"),
                             ("empty-body", b"", "invalid_json"),
                             ("unknown-field", b"{\"type\":\"noop\",\"colour\":\"red\"}", "invalid_field"),
                             ("wrong-type", b"{\"type\":\"noop\",\"every\":30}", "invalid_field"),
                             ("params-not-object", b"{\"type\":\"noop\",\"params\":[1]}", "invalid_field"),
                             ("no-type", b"{\"params\":{}}", "invalid_field")]:
        st, _, d = api.req("POST", "/v1/tasks", raw=raw, headers={"Content-Type": "application/json"})
        check("400-%s" % cname, st == 400 and code_of(d) == want, "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks", raw=b"type=noop", headers={"Content-Type": "text/plain"})
    check("415-not-json", st == 415 and code_of(d) == "unsupported_media_type", "%s %s" % (st, d))
    big = b"{\"type\":\"noop\",\"params\":{\"x\":\"" + b"a" * (1024 * 1024) + b"\"}}"
    for how in ("content-length", "chunked"):
        st, d = raw_post(port, kw, big, chunked=how == "chunked")
        check("413-body-too-large-%s" % how, st == 413 and code_of(d) == "payload_too_large", "%s %s" % (st, d))

    # --- auth -------------------------------------------------------------
    st, hd, d = api.req("GET", "/v1/tasks", key=None)
    check("401-no-key", st == 401 and code_of(d) == "unauthorized"
          and hd.get("www-authenticate", "").startswith("Bearer"), "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks", key="wrong-" + kw)
    check("401-wrong-key", st == 401 and code_of(d) == "unauthorized", "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks", key=kh)
    check("401-key-whose-hash-differs-in-its-second-half", st == 401 and code_of(d) == "unauthorized",
          "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/openapi.json", key=None)
    check("401-openapi-needs-key", st == 401, "%s" % st)
    st, _, d = api.req("GET", "/v1/tasks/%s" % tid, key=kr)
    check("read-key-reads", st == 200, "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop"}, key=kr)
    check("403-read-key-writes", st == 403 and code_of(d) == "forbidden", "%s %s" % (st, d))
    st, _, d = api.req("DELETE", "/v1/tasks/%s" % tid, key=kr)
    check("403-read-key-deletes", st == 403 and code_of(d) == "forbidden", "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks?ns=default", key=ka)
    check("403-namespace-list", st == 403 and code_of(d) == "forbidden", "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "ns": "default"}, key=ka)
    check("403-namespace-post", st == 403 and code_of(d) == "forbidden", "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "ns": "teamA2", "at": "+1h"}, key=ka)
    check("403-namespace-that-starts-with-the-keys", st == 403 and code_of(d) == "forbidden", "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "ns": "teamB", "at": "+1h"}, key=ka)
    tb = (d or {}).get("id")
    check("namespace-key-writes-its-own", st == 201, "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks/%s" % tid, key=ka)
    check("404-other-namespace-hidden", st == 404 and code_of(d) == "not_found", "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/stats", key=ka)
    check("403-namespace-key-stats-all", st == 403 and code_of(d) == "forbidden", "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/stats?ns=teamB", key=ka)
    check("stats-namespace", st == 200 and d.get("tasks", {}).get("total") == 1
          and d.get("ns") == "teamB", "%s %s" % (st, d))
    # An explicit id taken in another namespace is not revealed.
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "ns": "teamA", "id": tid}, key=ka)
    check("409-id-taken-elsewhere", st == 409 and code_of(d) == "conflict" and "noop" not in msg_of(d),
          "%s %s" % (st, d))

    # --- 404, 405 ----------------------------------------------------------
    st, _, d = api.req("GET", "/v1/tasks/no-such-task-%s" % name)
    check("404-no-task", st == 404 and code_of(d) == "not_found", "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/nothing")
    check("404-no-route", st == 404 and code_of(d) == "no_route", "%s %s" % (st, d))
    st, hd, d = api.req("PUT", "/v1/tasks")
    check("405-with-allow", st == 405 and code_of(d) == "method_not_allowed"
          and hd.get("allow") == "GET, POST", "%s %s %s" % (st, hd.get("allow"), d))
    st, _, d = api.req("GET", "/v1/tasks/" + "y" * 129)
    check("400-id-too-long", st == 400 and code_of(d) == "invalid_field", "%s %s" % (st, d))

    # --- suspend, resume, run; 409 ------------------------------------------
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "at": "+3h"})
    sid = d.get("id")
    st, _, d = api.req("POST", "/v1/tasks/%s/suspend" % sid)
    check("suspend", st == 200 and d.get("result") == "changed" and d.get("status") == "SUSPENDED", "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks/%s/suspend" % sid)
    check("suspend-again-already", st == 200 and d.get("result") == "already", "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks/%s/run" % sid)
    check("409-run-suspended", st == 409 and code_of(d) == "conflict" and "SUSPENDED" in msg_of(d), "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks/%s/resume" % sid)
    check("resume", st == 200 and d.get("status") == "PENDING", "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks/%s/run" % sid)
    check("run", st == 200 and d.get("result") == "changed" and d.get("enqueued") is True, "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks/no-such-%s/suspend" % name)
    check("404-suspend-missing", st == 404 and code_of(d) == "not_found", "%s %s" % (st, d))

    # --- PATCH ------------------------------------------------------------------
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "at": "+3h", "params": {"a": 1}})
    pid = d.get("id")
    st, _, d0 = api.req("GET", "/v1/tasks/%s" % pid)
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"params": {"b": [1, "x"], "n": 12345678901234567}})
    check("patch-params", st == 200 and d.get("params") == {"b": [1, "x"], "n": 12345678901234567}
          and d.get("gen") == d0.get("gen", 0) + 1 and d.get("next_run") == d0.get("next_run")
          and "enqueued_for" not in d and d.get("status") == "PENDING", "%s %s" % (st, d))
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"max_attempts": 9})
    check("patch-max-attempts", st == 200 and d.get("max_attempts") == 9, "%s %s" % (st, d))
    before = int(time.time() * 1000)
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"next_run": "+30s"})
    nr = (d or {}).get("next_run", 0)
    check("patch-next-run-enqueued", st == 200 and before + 29000 <= nr <= int(time.time() * 1000) + 31000
          and d.get("enqueued_for") == nr, "%s %s" % (st, d))
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"next_run": "2030-01-01T00:00:00Z"})
    check("patch-next-run-iso", st == 200 and d.get("next_run") == 1893456000000
          and "enqueued_for" not in d, "%s %s" % (st, d))
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"every": "15m", "max_runs": 4})
    check("patch-every-keeps-next-run", st == 200 and d.get("schedule") == {"every": "15m", "max_runs": 4}
          and d.get("next_run") == 1893456000000, "%s %s" % (st, d))
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin"})
    stp, _, dp = api.req("GET", "/v1/schedule/preview?cron=0+9+*+*+1-5&tz=Europe/Berlin&count=1")
    check("patch-cron-first-slot", st == 200 and d.get("schedule") == {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin"}
          and stp == 200 and d.get("next_run") == (dp.get("runs") or [None])[0], "%s %s / %s" % (st, d, dp))
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"cron": "0 9 * * *", "next_run": "2031-01-01T12:00:00Z",
                                                       "until": "2032-01-01T00:00:00Z"})
    check("patch-cron-with-next-run-and-until", st == 200 and d.get("next_run") == 1925035200000
          and d.get("schedule", {}).get("until") == 1956528000000 and "tz" not in d.get("schedule", {}),
          "%s %s" % (st, d))
    patch_cases = [
        ("empty", {}, "nothing to change"),
        ("unknown", {"colour": "red"}, "unknown field \"colour\""),
        ("params-not-object", {"params": [1]}, "params: must be a JSON object"),
        ("every", {"every": "soon"}, "every:"),
        ("cron", {"cron": "61 * * * *"}, "cron:"),
        ("tz", {"cron": "0 9 * * *", "tz": "Mars/Olympus"}, "tz:"),
        ("tz-alone", {"tz": "UTC"}, "tz:"),
        ("max-runs-alone", {"max_runs": 3}, "max_runs:"),
        ("max-runs-zero", {"every": "1h", "max_runs": 0}, "max_runs:"),
        ("until-past", {"every": "1h", "until": "2001-01-01"}, "until:"),
        ("every-and-cron", {"every": "1h", "cron": "@daily"}, "every and cron"),
        ("next-run", {"next_run": "tomorrow"}, "next_run:"),
        ("next-run-type", {"next_run": 5}, "next_run: expected a string"),
        ("max-attempts", {"max_attempts": 1001}, "max_attempts:"),
    ]
    st, _, dref = api.req("GET", "/v1/tasks/%s" % pid)
    for cname, body, want in patch_cases:
        st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, body)
        check("patch-400-%s" % cname, st == 400 and code_of(d) == "invalid_field" and msg_of(d).startswith(want),
              "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks/%s" % pid)
    check("patch-400s-write-nothing", st == 200 and d.get("gen") == dref.get("gen"), "%s / %s" % (d, dref))
    # The same message as submit's for the same input.
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"cron": "61 * * * *"})
    st2, _, d2 = api.req("POST", "/v1/tasks", {"type": "noop", "cron": "61 * * * *"})
    check("patch-messages-as-submit", msg_of(d) == msg_of(d2) and msg_of(d), "%r / %r" % (msg_of(d), msg_of(d2)))
    for cname, raw, ctype, want_st, want in [("bad-json", b"{\"params\": ", "application/json", 400, "invalid_json"),
                                             ("not-object", b"[1]", "application/json", 400, "invalid_json"),
                                             ("empty-body", b"", "application/json", 400, "invalid_json"),
                                             ("not-json", b"params=1", "text/plain", 415, "unsupported_media_type")]:
        st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, raw=raw, headers={"Content-Type": ctype})
        check("patch-%d-%s" % (want_st, cname), st == want_st and code_of(d) == want, "%s %s" % (st, d))
    st, _, d = api.req("PATCH", "/v1/tasks/no-such-%s" % name, {"max_attempts": 2})
    check("patch-404", st == 404 and code_of(d) == "not_found", "%s %s" % (st, d))
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"max_attempts": 2}, key=kr)
    check("patch-403-read-key", st == 403 and code_of(d) == "forbidden", "%s %s" % (st, d))
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"max_attempts": 2}, key=ka)
    check("patch-404-other-namespace", st == 404 and code_of(d) == "not_found", "%s %s" % (st, d))
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % tb, {"params": {"team": "B"}}, key=ka)
    check("patch-namespace-key-its-own", st == 200 and d.get("params") == {"team": "B"}, "%s %s" % (st, d))
    # SUSPENDED: changed, and stays suspended and out of the due index.
    api.req("POST", "/v1/tasks/%s/suspend" % pid)
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"next_run": "+10s", "params": {"s": 1}})
    check("patch-suspended", st == 200 and d.get("status") == "SUSPENDED" and d.get("params") == {"s": 1}
          and "enqueued_for" not in d, "%s %s" % (st, d))
    for state, want in [("PROCESSING", "running now"), ("COMPLETED", "is COMPLETED; only PENDING or SUSPENDED")]:
        ok = set_status(env, name, pid, state)
        st, _, d = api.req("PATCH", "/v1/tasks/%s" % pid, {"max_attempts": 2})
        check("patch-409-%s" % state.lower(), ok and st == 409 and code_of(d) == "conflict" and want in msg_of(d),
              "%s %s" % (st, d))
    api.req("DELETE", "/v1/tasks/%s" % pid)

    # --- params checked by the runner's own validate() (http) --------------------
    # POST, a batch and PATCH refuse what the http runner would fail on at
    # run time: 400 invalid_field with its message, nothing written.
    hook = "http://127.0.0.1:9/"
    bad_params = [
        ("file-url", {"url": "file:///etc/passwd"}, 'params.url: scheme "file" is not http or https'),
        ("header-crlf", {"url": hook, "headers": {"X-A": "a\r\nInjected: 1"}},
         "params.headers.X-A: the value holds a CR or LF"),
        ("method-crlf", {"url": hook, "method": "GET\r\nX: y"}, 'params.method: "GET??X: y" is not one of'),
        ("no-url", {"method": "POST"}, "params.url: required"),
        ("unknown-field", {"url": hook, "mehtod": "POST"}, "params.mehtod: unknown field"),
    ]
    refused = 'params: refused by runner "http": '
    for cname, params, want in bad_params:
        vid = "val-%s-%s" % (cname, name)
        st, _, d = api.req("POST", "/v1/tasks", {"type": "http", "id": vid, "params": params})
        st2, _, _ = api.req("GET", "/v1/tasks/%s" % vid)
        check("validate-http-post-%s" % cname, st == 400 and code_of(d) == "invalid_field"
              and msg_of(d).startswith(refused + want) and st2 == 404, "%s %s / GET %s" % (st, d, st2))
    st, _, d = api.req("POST", "/v1/tasks", {"tasks": [
        {"type": "http", "id": "val-batch-ok-%s" % name, "params": {"url": hook}},
        {"type": "http", "id": "val-batch-bad-%s" % name, "params": {"url": "file:///etc/passwd"}}]})
    st2, _, _ = api.req("GET", "/v1/tasks/val-batch-ok-%s" % name)
    check("validate-http-batch-writes-nothing", st == 400 and code_of(d) == "invalid_field"
          and msg_of(d).startswith("tasks[1]: " + refused + "params.url:") and st2 == 404,
          "%s %s / GET %s" % (st, d, st2))
    st, _, d = api.req("POST", "/v1/tasks", {"type": "http", "at": "+3h", "params": {"url": hook}})
    hid = (d or {}).get("id")
    check("validate-http-post-accepted", st == 201, "%s %s" % (st, d))
    st, _, dref = api.req("GET", "/v1/tasks/%s" % hid)
    for cname, params, want in bad_params:
        st, _, d = api.req("PATCH", "/v1/tasks/%s" % hid, {"params": params})
        check("validate-http-patch-%s" % cname, st == 400 and code_of(d) == "invalid_field"
              and msg_of(d).startswith(refused + want), "%s %s" % (st, d))
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % hid, {"every": "1h", "params": {"url": "ftp://x/"}})
    check("validate-http-patch-with-schedule", st == 400 and msg_of(d).startswith(refused + "params.url:"),
          "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks/%s" % hid)
    check("validate-http-patch-writes-nothing", st == 200 and d.get("gen") == dref.get("gen")
          and d.get("params") == {"url": hook}, "%s / %s" % (d, dref))
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % hid, {"params": {"url": hook, "method": "POST"}})
    st2, _, d2 = api.req("PATCH", "/v1/tasks/%s" % hid, {"every": "1h"})
    check("validate-http-patch-accepted", st == 200 and d.get("params") == {"url": hook, "method": "POST"}
          and st2 == 200 and d2.get("schedule") == {"every": "1h"}, "%s %s / %s %s" % (st, d, st2, d2))
    api.req("DELETE", "/v1/tasks/%s" % hid)

    # --- GET /v1/schedule/preview ----------------------------------------------
    st, _, d = api.req("GET", "/v1/schedule/preview?cron=0+9+*+*+1-5&tz=Europe/Berlin", key=kr)
    ok = st == 200 and len(d.get("runs", [])) == 5 and len(d.get("times", [])) == 5
    if ok:
        from zoneinfo import ZoneInfo
        import datetime
        for ms in d["runs"]:
            t = datetime.datetime.fromtimestamp(ms / 1000, ZoneInfo("Europe/Berlin"))
            ok = ok and t.hour == 9 and t.minute == 0 and t.weekday() < 5 and ms > time.time() * 1000
        ok = ok and d["runs"] == sorted(d["runs"]) and d.get("schedule") == {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin"}
    check("preview-cron-tz", ok, "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/schedule/preview?every=90m&at=2030-01-01T00:00:00Z&count=3")
    check("preview-every-at", st == 200 and d.get("runs") == [1893456000000, 1893461400000, 1893466800000]
          and d.get("times", [None])[1] == "2030-01-01T01:30:00.000Z", "%s %s" % (st, d))
    # Calendar steps: Jan 31 10:00 Berlin monthly keeps the 31st after a
    # short month; the first run is the schedule's anchor.
    st, _, d = api.req("GET", "/v1/schedule/preview?every=1mo&tz=Europe/Berlin&at=2030-01-31T09:00:00Z&count=4")
    check("preview-every-1mo-clamped", st == 200 and d.get("times") == [
        "2030-01-31T09:00:00.000Z", "2030-02-28T09:00:00.000Z", "2030-03-31T08:00:00.000Z",
        "2030-04-30T08:00:00.000Z"], "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "every": "1mo", "tz": "Europe/Berlin",
                                             "at": "2030-01-31T09:00:00Z", "max_runs": 12})
    cid = (d or {}).get("id", "")
    st2, _, d2 = api.req("GET", "/v1/tasks/%s" % cid)
    want = {"every": "1mo", "tz": "Europe/Berlin", "max_runs": 12, "anchor": 1896080400000}
    check("post-every-1mo-echoed", st == 201 and d.get("schedule") == want and st2 == 200
          and d2.get("schedule") == want and d2.get("next_run") == 1896080400000, "%s %s / %s %s" % (st, d, st2, d2))
    # A PATCH to calendar steps keeps the task's time, and anchors there.
    st, _, d = api.req("PATCH", "/v1/tasks/%s" % cid, {"every": "1y"})
    check("patch-every-1y-anchors-at-next-run", st == 200 and d.get("next_run") == 1896080400000
          and d.get("schedule") == {"every": "1y", "anchor": 1896080400000}, "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "every": "1mo2d"})
    check("post-every-mixed-units-400", st == 400 and code_of(d) == "invalid_field"
          and "do not mix" in msg_of(d), "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "every": "30m", "tz": "Europe/Berlin"})
    check("post-every-fixed-with-tz-400", st == 400 and code_of(d) == "invalid_field", "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/schedule/preview?every=1h&max_runs=2")
    check("preview-max-runs", st == 200 and len(d.get("runs", [])) == 2, "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/schedule/preview?at=2030-01-01T00:00:00Z")
    check("preview-one-shot", st == 200 and d.get("runs") == [1893456000000] and "schedule" not in d,
          "%s %s" % (st, d))
    # A schedule that does not parse is the preview's answer (200, no runs,
    # the reason submit gives); a malformed query is a 400.
    st, _, d = api.req("GET", "/v1/schedule/preview?cron=61+*+*+*+*")
    st2, _, d2 = api.req("POST", "/v1/tasks", {"type": "noop", "cron": "61 * * * *"})
    check("preview-invalid-cron-as-submit", st == 200 and d.get("runs") == [] and code_of(d) == "invalid_field"
          and st2 == 400 and msg_of(d) == msg_of(d2), "%s %s / %s" % (st, d, d2))
    for cname, q in [("every", "every=soon"), ("tz", "cron=0+9+*+*+*&tz=Mars/Olympus"),
                     ("at", "at=tomorrow"), ("max-runs", "every=1h&max_runs=0")]:
        st, _, d = api.req("GET", "/v1/schedule/preview?" + q)
        check("preview-invalid-%s" % cname, st == 200 and d.get("runs") == [] and d.get("times") == []
              and code_of(d) == "invalid_field" and msg_of(d), "%s %s" % (st, d))
    for cname, q in [("tz-alone", "tz=UTC"), ("nothing", ""), ("count-0", "every=1h&count=0"),
                     ("count-51", "every=1h&count=51"), ("unknown", "every=1h&colour=red"),
                     ("both", "every=1h&cron=@daily")]:
        st, _, d = api.req("GET", "/v1/schedule/preview?" + q)
        check("preview-400-%s" % cname, st == 400 and code_of(d) == "invalid_field", "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/schedule/preview?every=1h", key=None)
    check("preview-401-no-key", st == 401, "%s %s" % (st, d))

    # --- the web console -------------------------------------------------------
    files = sorted(f for f in os.listdir(CONSOLE) if os.path.splitext(f)[1] in CONSOLE_TYPES)
    check("console-files", {"index.html", "app.js", "style.css"} <= set(files), files)
    for url, fname in [("/", "index.html"), ("/console/", "index.html")] + \
            [("/console/" + f, f) for f in files]:
        st, hd, body = get_raw(port, url)
        with open(os.path.join(CONSOLE, fname), "rb") as f:
            want = f.read()
        ctype = hd.get("content-type", "")
        csp = hd.get("content-security-policy", "")
        check("console-serves-%s" % url, st == 200 and body == want
              and ctype.startswith(CONSOLE_TYPES[os.path.splitext(fname)[1]]) and "charset=utf-8" in ctype
              and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
              and hd.get("x-content-type-options") == "nosniff" and hd.get("x-frame-options") == "DENY",
              "%s %s %s" % (st, ctype, csp))
    st, _, body = get_raw(port, "/console/nothing.js")
    check("console-404", st == 404, "%s" % st)
    st, hd, d = api.req("POST", "/console/app.js", body={}, key=None)
    check("console-405", st == 405 and hd.get("allow") == "GET, HEAD", "%s %s" % (st, hd))
    with open(os.path.join(CONSOLE, "index.html")) as f:
        index = f.read()
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", index)
    # "data:," is the empty icon (no request at all, not even /favicon.ico).
    bad = [r for r in refs if not (r.startswith("#") or r == "data:," or (r.startswith("/") and not r.startswith("//")))]
    served = all(get_raw(port, r)[0] == 200 for r in refs if r.startswith("/console/"))
    check("console-index-local-only", refs and not bad and served and "://" not in index
          and "<script>" not in index and " style=" not in index, "refs %s, bad %s" % (refs, bad))
    with open(os.path.join(CONSOLE, "style.css")) as f:
        css = f.read()
    check("console-css-local-only", "://" not in css and "@import" not in css, "an external reference in style.css")
    ext = []
    for f in files:
        if f.endswith(".js"):
            with open(os.path.join(CONSOLE, f)) as fh:
                for i, line in enumerate(fh, 1):
                    # Only a placeholder of the form may show a URL; the
                    # SVG namespace's name is a name, never loaded.
                    line = line.replace('"http://www.w3.org/2000/svg"', "")
                    if "://" in line and "placeholder" not in line:
                        ext.append("%s:%d" % (f, i))
    check("console-js-local-only", not ext, ext)
    node = os.path.join(ROOT, "infra", "local", "node")  # the pinned node
    for f in files:
        if f.endswith(".js"):
            r = subprocess.run([node, "--check", os.path.join(CONSOLE, f)], capture_output=True, text=True)
            check("console-js-parses-%s" % f, r.returncode == 0, r.stderr.strip())

    # --- delete ---------------------------------------------------------------
    st, _, d = api.req("DELETE", "/v1/tasks/%s" % sid)
    st2, _, _ = api.req("GET", "/v1/tasks/%s" % sid)
    st3, _, d3 = api.req("DELETE", "/v1/tasks/%s" % sid)
    check("delete", st == 200 and d.get("deleted") is True and st2 == 404 and st3 == 404
          and code_of(d3) == "not_found", "%s %s / %s / %s" % (st, d, st2, st3))

    # --- list and paging ------------------------------------------------------
    want = set()
    for i in range(5):
        st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "ns": "page", "at": "+%dh" % (i + 1)})
        want.add(d.get("id"))
    seen, token, pages = [], None, 0
    while pages < 10:
        q = "/v1/tasks?ns=page&limit=2" + ("&next=" + urllib.parse.quote(token) if token else "")
        st, _, d = api.req("GET", q)
        if st != 200:
            break
        seen += [t["id"] for t in d["tasks"]]
        pages += 1
        token = d.get("next")
        if not token:
            break
    check("list-paging", set(seen) == want and len(seen) == 5 and pages >= 3,
          "pages %d, seen %s, want %s" % (pages, seen, want))
    runs = [t for t in seen]
    cli = subprocess.run([TF, "--json", "list", "--ns", "page", "--limit", "2"], env=env,
                         capture_output=True, text=True)
    lines = [json.loads(l) for l in cli.stdout.splitlines() if l.strip()]
    ctoken = lines[-1].get("next") if lines else None
    st, _, d = api.req("GET", "/v1/tasks?ns=page&limit=2&next=" + urllib.parse.quote(ctoken or ""))
    check("list-token-same-as-cli", ctoken and st == 200 and [t["id"] for t in d["tasks"]] == runs[2:4],
          "cli token %r, %s %s" % (ctoken, st, d))
    st, _, d = api.req("GET", "/v1/tasks?ns=batch&status=pending")
    check("list-status-filter", st == 200 and len(d["tasks"]) == 3, "%s %s" % (st, d))
    # Any order of parameters (the console sends ns, limit, then status).
    st, _, d = api.req("GET", "/v1/tasks?ns=batch&limit=25&status=PENDING")
    check("list-parameters-in-any-order", st == 200 and len(d["tasks"]) == 3, "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks?limit=5&status=PENDING&limit=6&ns=batch")
    check("list-400-repeated-parameter", st == 400 and "limit: given twice" in json.dumps(d), "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks?ns=page&from=%2B150m&to=%2B270m")
    check("list-time-range", st == 200 and len(d["tasks"]) == 2, "%s %s" % (st, d))
    for cname, q in [("status", "status=DONE"), ("limit", "limit=0"), ("from", "from=yesterday"),
                     ("from-after-to", "from=%2B2h&to=%2B1h"), ("unknown", "colour=red"),
                     ("next", "next=garbage"), ("ns", "ns=a%20b"), ("twice", "ns=a&ns=b")]:
        st, _, d = api.req("GET", "/v1/tasks?" + q)
        check("list-400-%s" % cname, st == 400 and code_of(d) == "invalid_field", "%s %s" % (st, d))

    # --- stats ---------------------------------------------------------------
    # A task due in 5 minutes has its message on the queue, delayed (no
    # consumer runs here): the queue's depths count it.
    st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "at": "+5m"})
    check("stats-delayed-task", st == 201, "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/stats")
    check("stats", st == 200 and d.get("tasks", {}).get("total", 0) >= 10
          and isinstance(d.get("queue"), dict) and "visible" in d["queue"], "%s %s" % (st, d))
    check("stats-queue-delayed", st == 200 and d.get("queue", {}).get("delayed", 0) >= 1
          and "in_flight" in d.get("queue", {}), "%s %s" % (st, d))

    # --- CORS ----------------------------------------------------------------
    pre = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization, content-type"}
    st, hd, _ = api.req("OPTIONS", "/v1/tasks", key=None, headers=pre)
    check("cors-preflight-allowed", st == 204 and hd.get("access-control-allow-origin") == ORIGIN
          and "POST" in hd.get("access-control-allow-methods", "")
          and "authorization" in hd.get("access-control-allow-headers", "").lower(), "%s %s" % (st, hd))
    st, hd, d = api.req("OPTIONS", "/v1/tasks", key=None, headers=dict(pre, Origin="https://evil.example"))
    check("cors-preflight-other-origin-403", st == 403 and "access-control-allow-origin" not in hd,
          "%s %s" % (st, hd))
    st, hd, _ = api.req("GET", "/v1/tasks/%s" % tid, headers={"Origin": ORIGIN})
    check("cors-reply-allowed", st == 200 and hd.get("access-control-allow-origin") == ORIGIN, "%s %s" % (st, hd))
    st, hd, _ = api.req("GET", "/v1/tasks/%s" % tid, headers={"Origin": "https://evil.example"})
    check("cors-reply-other-origin", st == 200 and "access-control-allow-origin" not in hd, "%s %s" % (st, hd))
    codes_seen_ok = {"invalid_json", "invalid_field", "unauthorized", "forbidden", "not_found", "no_route",
                     "method_not_allowed", "conflict", "payload_too_large", "unsupported_media_type",
                     "rate_limited", "throttled"} <= codes
    check("openapi-error-codes", codes_seen_ok, sorted(codes))
    r429 = filedoc["components"]["responses"].get("TooManyRequests", {})
    # The probes (security: [], no key) are never rate limited.
    no429 = [("%s %s" % (m, path)) for path, item in paths.items() for m, op in item.items()
             if m in methods and op.get("security") != [] and op.get("responses", {}).get("429", {}).get("$ref")
             != "#/components/responses/TooManyRequests"]
    check("openapi-429-rate-limited", not no429 and "rate_limited" in r429.get("description", "")
          and "Retry-After" in r429.get("headers", {}), "without it: %s; %s" % (no429, r429))

    # --- a server without CORS origins; --no-auth --------------------------------
    nenv = dict(senv)
    nenv.pop("TASKFLEET_API_CORS_ORIGINS")
    p2, port2 = start(nenv, "--listen", "127.0.0.1:0")
    if port2 is None:
        check("cors-off-serve", False, "did not start")
    else:
        st, hd, _ = Api(port2).req("OPTIONS", "/v1/tasks", key=None, headers=pre)
        st2, hd2, _ = Api(port2, kw).req("GET", "/v1/tasks/%s" % tid, headers={"Origin": ORIGIN})
        check("cors-off-by-default", st == 403 and "access-control-allow-origin" not in hd
              and st2 == 200 and "access-control-allow-origin" not in hd2, "%s %s / %s %s" % (st, hd, st2, hd2))
    aenv = dict(env)
    for listen in ("0.0.0.0:0", "192.0.2.1:0", "[::]:0"):
        r = subprocess.run([TF, "serve", "--listen", listen, "--no-auth"], env=aenv,
                           capture_output=True, text=True, timeout=20)
        check("no-auth-refused-%s" % listen, r.returncode == 2 and "loopback" in r.stderr,
              "exit %s: %s" % (r.returncode, r.stderr.strip()))
    r = subprocess.run([TF, "serve", "--listen", "127.0.0.1:0"], env=aenv,
                       capture_output=True, text=True, timeout=20)
    check("no-keys-refused", r.returncode == 2 and "TASKFLEET_API_KEYS" in r.stderr,
          "exit %s: %s" % (r.returncode, r.stderr.strip()))
    r = subprocess.run([TF, "serve", "--listen", "127.0.0.1:0"],
                       env=dict(aenv, TASKFLEET_API_KEYS="abc:write:*"), capture_output=True, text=True, timeout=20)
    check("bad-keys-refused", r.returncode == 2 and "entry 1" in r.stderr,
          "exit %s: %s" % (r.returncode, r.stderr.strip()))
    p3, port3 = start(aenv, "--listen", "127.0.0.1:0", "--no-auth")
    if port3 is None:
        check("no-auth-loopback", False, "did not start")
    else:
        st, _, d = Api(port3).req("GET", "/v1/tasks/%s" % tid, key=None)
        check("no-auth-loopback", st == 200 and d.get("id") == tid, "%s %s" % (st, d))

    nul_in_url(api, port, kw)
    rate_limits(env, h)

    # SIGTERM stops a server with exit 0.
    p.terminate()
    try:
        rc = p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        rc = None
    check("sigterm-exits-0", rc == 0, "exit %s" % rc)


if __name__ == "__main__":  # api_manage.py imports Api and start()
    try:
        main()
    finally:
        tftest.stop_all(procs)
    sys.exit(1 if REPORT.failed else 0)
