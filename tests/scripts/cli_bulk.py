#!/usr/bin/env python3
"""cli_bulk.py - bulk loading end to end: `taskfleet submit --file` and the
REST API's batch (POST /v1/tasks with {"tasks": [...]}), the real binary
against the local stand-ins (docs/design.md section 11).

Checks, each against a table of its own (`taskfleet init`), read back whole
with a Scan:
  - a file of N tasks: every one created exactly once (the ids in the
    table are exactly the file's), the summary says so, exit 0; the tasks
    due now have exactly one message each, sent in batches (the SQS
    requests, counted by tests/fault/faultproxy.py with no faults, are at
    most N/10 plus the lookups);
  - the same file again: nothing created, all "already there", exit 0;
  - bad lines (not JSON, an unknown runner, a bad field) are reported with
    their line numbers and skipped, the rest created, exit 1; blank lines
    are skipped; --json prints the summary;
  - standard input (--file -); a terminal gets a progress line, a pipe
    does not;
  - DynamoDB throttling and 5xx (and replies lost after the write,
    faultproxy's reset_after) and SQS throttling: every task created once,
    reported created, with its message, exit 0;
  - the API's batch of 500 created at once, each exactly once; the same
    batch again creates nothing;
  - a write applied whose answer is lost on a kept-alive connection
    (faultproxy's --lose-reply: the connection is closed, libcurl sends the
    request again by itself and that send fails its condition): reported
    created, with its message on its priority's queue, through the file,
    `submit --id`, and the API's single create and batch;
  - usage: --file with task options, an unreadable file, --in-flight out of
    range: exit 2.

Needs what tests/run exports (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB,
AWS keys). Prints "PASS cli_bulk/name" or "FAIL cli_bulk/name: why".
"""
import json
import os
import pty
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import tftest  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
TF = os.path.join(BUILD, "bin", "taskfleet")
CLITEST = os.path.join(ROOT, "tests", "tools", "clitest.py")
FAULTPROXY = os.path.join(ROOT, "tests", "fault", "faultproxy.py")
N = int(os.environ.get("TF_BULK_TASKS", "1000"))

r = tftest.Report("cli_bulk")
tftest.require_loopback_standins(r)
if not os.access(TF, os.X_OK):
    r.setup_fail("%s is missing (run make)" % TF)
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for v in ("TASKFLEET_QUEUE_URL", "TASKFLEET_LOG"):
    os.environ.pop(v, None)
TMP = tempfile.mkdtemp(prefix="taskfleet-cli-bulk.")
SUFFIX = "%d-%d" % (os.getpid(), int(time.time() * 1000))
procs = []


def env_for(name, **extra):
    e = dict(os.environ, TASKFLEET_TABLE=name, TASKFLEET_QUEUE=name)
    e.update(extra)
    return e


def tf(env, *args, stdin=None):
    """Runs the CLI: (exit status, stdout, stderr)."""
    p = subprocess.run([TF] + list(args), env=env, input=stdin, capture_output=True,
                       text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def aws(env, svc, op, body):
    p = subprocess.run([sys.executable, CLITEST, svc, op, json.dumps(body)], env=env,
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s %s: %s" % (svc, op, p.stderr.strip()))
    return json.loads(p.stdout)


def scan_ids(env, table):
    """Every id in table, as a list (duplicates would show)."""
    ids, start = [], None
    while True:
        body = {"TableName": table, "ProjectionExpression": "id"}
        if start:
            body["ExclusiveStartKey"] = start
        d = aws(env, "ddb", "Scan", body)
        ids += [it["id"]["S"] for it in d.get("Items", [])]
        start = d.get("LastEvaluatedKey")
        if not start:
            return ids


def queued(env, table):
    """Messages in the queue named table (a priority's: table-high):
    visible, in flight and delayed."""
    url = aws(env, "sqs", "GetQueueUrl", {"QueueName": table})["QueueUrl"]
    a = aws(env, "sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": [
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed"]})["Attributes"]
    return sum(int(v) for v in a.values())


def new_table(tag):
    name = "tf-bulk-%s-%s" % (tag, SUFFIX)
    env = env_for(name)
    rc, _, err = tf(env, "init")
    if rc != 0:
        r.setup_fail("init %s: exit %d: %s" % (name, rc, err.strip()))
    return name, env


def task_lines(prefix, n, later_every=4):
    """n task lines with ids prefix-0..; every later_every-th one due in an
    hour (no message), the others now. Returns (lines, ids, due now)."""
    lines, ids, now = [], [], 0
    for i in range(n):
        t = {"type": "noop", "id": "%s-%d" % (prefix, i), "params": {"i": i, "big": 12345678901234567890}}
        if i % later_every == 0:
            t["at"] = "+1h"
        else:
            now += 1
        if i % 7 == 0:
            t["name"] = "bulk %d" % i
        lines.append(json.dumps(t))
        ids.append(t["id"])
    return lines, ids, now


def start_proxy(service, upstream, tag, **faults):
    """Starts faultproxy in front of upstream; returns (url, stats path)."""
    port_file = os.path.join(TMP, "%s.port" % tag)
    stats = os.path.join(TMP, "%s.stats" % tag)
    args = [sys.executable, FAULTPROXY, "--upstream", upstream, "--service", service,
            "--port-file", port_file, "--stats-file", stats, "--seed", "7"]
    for k, v in faults.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(TMP, tag + ".log"), "w"))
    procs.append(p)
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(port_file) and open(port_file).read().strip():
            return "http://127.0.0.1:%s" % open(port_file).read().strip(), stats, p
        time.sleep(0.05)
    r.setup_fail("faultproxy %s did not start" % tag)


def lose_reply_proxy(tag, ids):
    """A DynamoDB faultproxy that loses the answer of the first PutItem of
    each of ids (applied; the client's connection closed instead)."""
    pattern = "PutItem[\\s\\S]*\"id\":\\{\"S\":\"(%s)\"" % "|".join(ids)
    return start_proxy("ddb", os.environ["AWS_ENDPOINT_URL_DYNAMODB"], tag,
                       lose_reply=pattern, lose_reply_times=len(ids))


def by_queue(env, table):
    """Messages per priority's queue: (normal, high, low)."""
    return tuple(queued(env, table + sfx) for sfx in ("", "-high", "-low"))


def proxy_stats(p, stats):
    """Stops the proxy and returns its final counts."""
    p.terminate()
    p.wait(timeout=10)
    return json.load(open(stats))


class LostReplyProxy:
    """A DynamoDB proxy on 127.0.0.1 that applies each id's first PutItem
    and resets the connection instead of answering, and answers each id's
    first throttled_reads GetItems with a throttling error."""

    def __init__(self, upstream, throttled_reads):
        import http.server
        import threading
        proxy = self
        self.resets = self.throttled = 0
        self.puts, self.gets = set(), {}
        self.lock = threading.Lock()
        host, port = upstream.split("//", 1)[1].rstrip("/").split(":")

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                import http.client
                import socket
                import struct
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                op = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                doc = json.loads(body or b"{}")
                tid = (doc.get("Item") or doc.get("Key") or {}).get("id", {}).get("S")
                with proxy.lock:
                    reset = op == "PutItem" and tid not in proxy.puts
                    proxy.puts.add(tid) if op == "PutItem" else None
                    n = proxy.gets.get(tid, 0)
                    throttle = op == "GetItem" and n < throttled_reads
                    if op == "GetItem":
                        proxy.gets[tid] = n + 1
                    proxy.resets += reset
                    proxy.throttled += throttle
                if throttle:
                    out = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#"
                                      "ProvisionedThroughputExceededException",
                                      "message": "throttled (injected)"}).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/x-amz-json-1.0")
                    self.send_header("x-amzn-ErrorType", "ProvisionedThroughputExceededException")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                c = http.client.HTTPConnection(host, int(port), timeout=30)
                c.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    c.putheader(k, v)
                c.endheaders(body)
                resp = c.getresponse()
                data = resp.read()
                c.close()
                if reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def summary_of(err):
    for line in err.splitlines():
        if line.startswith("taskfleet submit: ") and " created, " in line and "(" in line:
            return line.split(": ", 1)[1]
    return None


try:
    # ---- a file of N tasks, every one created once; messages batched
    table, env = new_table("file")
    lines, ids, due_now = task_lines("f-" + SUFFIX, N)
    path = os.path.join(TMP, "tasks.jsonl")
    open(path, "w").write("\n".join(lines) + "\n")
    sqs_url, sqs_stats, sqs_proxy = start_proxy("sqs", os.environ["AWS_ENDPOINT_URL_SQS"], "count")
    penv = dict(env, AWS_ENDPOINT_URL_SQS=sqs_url)
    t0 = time.time()
    rc, out, err = tf(penv, "submit", "--file", path)
    secs = time.time() - t0
    got = scan_ids(env, table)
    r.check("file-created-once", rc == 0 and sorted(got) == sorted(ids) and
            summary_of(err) == "%d created, 0 already there, 0 failed (%d lines)" % (N, N),
            "exit %d, %d items (%d distinct, want %d), summary %r: %s" % (
                rc, len(got), len(set(got)), N, summary_of(err), err[-400:]))
    st = proxy_stats(sqs_proxy, sqs_stats)
    n_msgs = queued(env, table)
    r.check("file-messages-batched", n_msgs == due_now and st["requests"] <= due_now // 10 + 12,
            "%d messages (want %d), %d SQS requests (want <= %d)" % (
                n_msgs, due_now, st["requests"], due_now // 10 + 12))
    print("# %d tasks in %.2f s (%.0f/s)" % (N, secs, N / secs))

    # ---- the same file again: nothing created twice
    rc, out, err = tf(env, "submit", "--file", path, "--json")
    got = scan_ids(env, table)
    try:
        js = json.loads(out)
    except ValueError:
        js = None
    r.check("file-again-idempotent", rc == 0 and len(got) == N and queued(env, table) == due_now and
            summary_of(err) == "0 created, %d already there, 0 failed (%d lines)" % (N, N) and
            js == {"lines": N, "created": 0, "existing": N, "failed": 0, "not_enqueued": 0},
            "exit %d, %d items, summary %r, json %r" % (rc, len(got), summary_of(err), out))

    # ---- bad lines: reported by number, skipped; the rest created
    table, env = new_table("bad")
    good = ['{"type": "noop", "id": "b-%s-%d"}' % (SUFFIX, i) for i in range(7)]
    text = "\n".join([good[0], good[1], '{"type": "noop", ', good[2], '{"type": "no-such-runner"}',
                      "", '{"type": "noop", "every": "soon"}', good[3], '["noop"]', good[4],
                      '{"type": "noop", "id": "b-%s-5", "colour": "red"}' % SUFFIX, good[5], good[6]]) + "\n"
    open(os.path.join(TMP, "bad.jsonl"), "w").write(text)
    rc, out, err = tf(env, "submit", "--file", os.path.join(TMP, "bad.jsonl"))
    got = scan_ids(env, table)
    errs = [l for l in err.splitlines() if l.startswith("taskfleet submit: line ")]
    want_lines = ["3", "5", "7", "9", "11"]
    r.check("bad-lines-reported", rc == 1 and [l.split()[3].rstrip(":") for l in errs] == want_lines and
            "no-such-runner" in errs[1] and "every" in errs[2] and "colour" in errs[4],
            "exit %d, errors %r" % (rc, errs))
    r.check("bad-lines-rest-created", sorted(got) == sorted("b-%s-%d" % (SUFFIX, i) for i in range(7)) and
            summary_of(err) == "7 created, 0 already there, 5 failed (13 lines)",
            "%r, summary %r" % (sorted(got), summary_of(err)))

    # ---- standard input, and no progress line when stderr is not a terminal
    table, env = new_table("stdin")
    lines, ids, _ = task_lines("s-" + SUFFIX, 300)
    rc, out, err = tf(env, "submit", "--file", "-", stdin="\n".join(lines) + "\n")
    got = scan_ids(env, table)
    r.check("stdin", rc == 0 and sorted(got) == sorted(ids) and "\r" not in err and
            summary_of(err) == "300 created, 0 already there, 0 failed (300 lines)",
            "exit %d, %d items, %r" % (rc, len(got), err[-300:]))

    # ---- a terminal on stderr gets the progress line
    lines2, ids2, _ = task_lines("p-" + SUFFIX, 200)
    ppath = os.path.join(TMP, "progress.jsonl")
    open(ppath, "w").write("\n".join(lines2) + "\n")
    master, slave = pty.openpty()
    p = subprocess.Popen([TF, "submit", "--file", ppath], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        tty += chunk
    p.wait(timeout=120)
    os.close(master)
    tty = tty.decode(errors="replace")
    r.check("progress-on-terminal", p.returncode == 0 and "\r" in tty and "tasks/s" in tty and
            "200 created, 0 already there, 0 failed" in tty, "exit %s: %r" % (p.returncode, tty[-300:]))

    # ---- throttling, 5xx and lost replies lose nothing
    table, env = new_table("fault")
    nf = max(N // 2, 200)
    lines, ids, due_now = task_lines("t-" + SUFFIX, nf)
    fpath = os.path.join(TMP, "fault.jsonl")
    open(fpath, "w").write("\n".join(lines) + "\n")
    ddb_url, ddb_stats, ddb_proxy = start_proxy("ddb", os.environ["AWS_ENDPOINT_URL_DYNAMODB"], "ddbfault",
                                                throttle=0.3, error5xx=0.05, reset_after=0.03)
    sqs_url, sqs_stats, sqs_proxy = start_proxy("sqs", os.environ["AWS_ENDPOINT_URL_SQS"], "sqsfault",
                                                throttle=0.3)
    fenv = dict(env, AWS_ENDPOINT_URL_DYNAMODB=ddb_url, AWS_ENDPOINT_URL_SQS=sqs_url)
    rc, out, err = tf(fenv, "submit", "--file", fpath)
    dst, sst = proxy_stats(ddb_proxy, ddb_stats), proxy_stats(sqs_proxy, sqs_stats)
    got = scan_ids(env, table)
    n_msgs = queued(env, table)
    r.check("throttled-loses-nothing", rc == 0 and sorted(got) == sorted(ids) and n_msgs == due_now and
            summary_of(err) == "%d created, 0 already there, 0 failed (%d lines)" % (nf, nf) and
            dst["throttle"] > 0 and dst["reset_after"] > 0 and sst["throttle"] > 0,
            "exit %d, %d items (%d distinct, want %d), %d messages (want %d), summary %r, "
            "ddb %r, sqs %r: %s" % (rc, len(got), len(set(got)), nf, n_msgs, due_now, summary_of(err),
                                    dst, sst, err[-600:]))

    # ---- a lost reply, then a throttled read back: every first PutItem of
    # a task is applied but its answer lost (the retry fails its condition),
    # and the read back is throttled more times than the AWS layer retries
    # alone: the task is still reported created, exactly once
    table, env = new_table("lost")
    lines, ids, _ = task_lines("l-" + SUFFIX, 20)
    lpath = os.path.join(TMP, "lost.jsonl")
    open(lpath, "w").write("\n".join(lines) + "\n")
    lost = LostReplyProxy(os.environ["AWS_ENDPOINT_URL_DYNAMODB"], throttled_reads=6)
    rc, out, err = tf(dict(env, AWS_ENDPOINT_URL_DYNAMODB=lost.url), "submit", "--file", lpath)
    lost.stop()
    got = scan_ids(env, table)
    r.check("lost-reply-read-back-throttled", rc == 0 and sorted(got) == sorted(ids) and
            summary_of(err) == "20 created, 0 already there, 0 failed (20 lines)" and
            lost.resets == 20 and lost.throttled >= 20 * 6,
            "exit %d, %d items, summary %r, %d resets, %d reads throttled: %s" % (
                rc, len(got), summary_of(err), lost.resets, lost.throttled, err[-400:]))

    # ---- an answer lost on a kept-alive connection: libcurl sends the
    # write again by itself (the AWS layer saw one attempt before it counted
    # libcurl's sends), that send fails its condition, and the task must
    # still be reported created and get its message on its own queue. Late
    # lines, so that their connections are reused ones.
    table, env = new_table("resend")
    lines, ids, want = [], [], [0, 0, 0]
    for i in range(200):
        t = {"type": "noop", "id": "r-%s-%d" % (SUFFIX, i), "priority": ("normal", "high", "low")[i % 3]}
        want[i % 3] += 1
        lines.append(json.dumps(t))
        ids.append(t["id"])
    rpath = os.path.join(TMP, "resend.jsonl")
    open(rpath, "w").write("\n".join(lines) + "\n")
    ddb_url, ddb_stats, ddb_proxy = lose_reply_proxy("resend", [ids[150], ids[151], ids[152]])
    rc, out, err = tf(dict(env, AWS_ENDPOINT_URL_DYNAMODB=ddb_url), "submit", "--file", rpath)
    dst = proxy_stats(ddb_proxy, ddb_stats)
    got = scan_ids(env, table)
    msgs = by_queue(env, table)
    r.check("lost-reply-resent-file", rc == 0 and sorted(got) == sorted(ids) and msgs == tuple(want) and
            summary_of(err) == "200 created, 0 already there, 0 failed (200 lines)" and
            dst["lose_reply"] == 3,
            "exit %d, %d items, messages (normal, high, low) %r (want %r), summary %r, ddb %r: %s" % (
                rc, len(got), msgs, tuple(want), summary_of(err), dst, err[-400:]))

    # ---- the same through `submit --id` (one task, one process)
    one = "one-" + SUFFIX
    ddb_url, ddb_stats, ddb_proxy = lose_reply_proxy("resend1", [one])
    rc, out, err = tf(dict(env, AWS_ENDPOINT_URL_DYNAMODB=ddb_url), "submit", "--type", "noop", "--id", one,
                      "--priority", "high")
    dst = proxy_stats(ddb_proxy, ddb_stats)
    got = scan_ids(env, table)
    msgs = by_queue(env, table)
    r.check("lost-reply-resent-submit", rc == 0 and out.strip() == one and "exists" not in err and
            one in got and msgs == (want[0], want[1] + 1, want[2]) and dst["lose_reply"] == 1,
            "exit %d, out %r, in table %s, messages %r (want %r), ddb %r: %s" % (
                rc, out.strip(), one in got, msgs, (want[0], want[1] + 1, want[2]), dst, err.strip()[-300:]))

    # ---- usage
    rc1, _, e1 = tf(env, "submit", "--file", path, "--type", "noop")
    rc2, _, e2 = tf(env, "submit", "--file", os.path.join(TMP, "missing.jsonl"))
    rc3, _, e3 = tf(env, "submit", "--file", path, "--in-flight", "0")
    r.check("usage", rc1 == 2 and rc2 == 2 and "missing.jsonl" in e2 and rc3 == 2 and "--in-flight" in e3,
            "exits %d %d %d: %s %s %s" % (rc1, rc2, rc3, e1.strip(), e2.strip(), e3.strip()))

    # ---- the API's batch: 500 at once, each exactly once, and again
    table, env = new_table("api")
    port = tftest.start_serve(TF, env, os.path.join(TMP, "serve.log"), procs)
    if port is None:
        r.check("api-batch-500", False, "serve did not start: %s" % open(os.path.join(TMP, "serve.log")).read()[-400:])
    else:
        import http.client
        lines, ids, due_now = task_lines("a-" + SUFFIX, 500)
        body = json.dumps({"tasks": [json.loads(l) for l in lines]})

        def post():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request("POST", "/v1/tasks", body=body, headers={"Content-Type": "application/json"})
            resp = c.getresponse()
            d = json.loads(resp.read())
            c.close()
            return resp.status, d
        st1, d1 = post()
        got = scan_ids(env, table)
        ok = (st1 == 201 and [t["id"] for t in d1.get("tasks", [])] == ids and
              all(t["created"] for t in d1["tasks"]) and sorted(got) == sorted(ids) and
              sum(t["enqueued"] for t in d1["tasks"]) == due_now and queued(env, table) == due_now)
        r.check("api-batch-500", ok, "status %d, %d items, %s" % (st1, len(got), json.dumps(d1)[:300]))
        st2, d2 = post()
        got = scan_ids(env, table)
        r.check("api-batch-again", st2 == 200 and len(got) == 500 and len(d2.get("tasks", [])) == 500 and
                not any(t["created"] for t in d2["tasks"]) and d2["tasks"][1]["status"] == "PENDING",
                "status %d, %d items, %s" % (st2, len(got), json.dumps(d2)[:300]))

    # ---- the API with an answer lost on a kept-alive connection: a single
    # create (after a first one, so its connection is a reused one) and a
    # batch
    table, env = new_table("apiresend")
    ids = ["ar-%s-%d" % (SUFFIX, i) for i in range(100)]
    ddb_url, ddb_stats, ddb_proxy = lose_reply_proxy("apiresend", [ids[1], ids[80], ids[81]])
    port = tftest.start_serve(TF, dict(env, AWS_ENDPOINT_URL_DYNAMODB=ddb_url),
                              os.path.join(TMP, "serve-resend.log"), procs)
    if port is None:
        r.check("api-lost-reply-resent", False, "serve did not start: %s" %
                open(os.path.join(TMP, "serve-resend.log")).read()[-400:])
    else:
        import http.client

        def post_json(doc):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request("POST", "/v1/tasks", body=json.dumps(doc), headers={"Content-Type": "application/json"})
            resp = c.getresponse()
            d = json.loads(resp.read())
            c.close()
            return resp.status, d
        singles = [post_json({"type": "noop", "id": ids[i], "priority": "high"}) for i in (0, 1)]
        stb, db = post_json({"tasks": [{"type": "noop", "id": ids[i], "priority": ("normal", "low")[i % 2]}
                                       for i in range(2, 100)]})
        dst = proxy_stats(ddb_proxy, ddb_stats)
        got = scan_ids(env, table)
        msgs = by_queue(env, table)
        ok = (all(st == 201 and d.get("created") and d.get("enqueued") for st, d in singles) and
              stb == 201 and len(db.get("tasks", [])) == 98 and
              all(t["created"] and t["enqueued"] for t in db["tasks"]) and
              sorted(got) == sorted(ids) and msgs == (49, 2, 49) and dst["lose_reply"] == 3)
        r.check("api-lost-reply-resent", ok, "singles %r, batch %d %s, %d items, messages %r (want (49, 2, 49)), "
                "ddb %r" % ([(st, d.get("created"), d.get("enqueued")) for st, d in singles], stb,
                            json.dumps([t for t in db.get("tasks", []) if not (t.get("created") and t.get("enqueued"))])[:300],
                            len(got), msgs, dst))
finally:
    tftest.stop_all(procs)
    subprocess.run(["rm", "-rf", TMP])
sys.exit(1 if r.failed else 0)
