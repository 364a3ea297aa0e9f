#!/usr/bin/env python3
"""bench/bulk.py - bulk loading (issue 25 item 3): `taskfleet submit --file`
and the REST API's batch, in tasks/s, against the local stand-ins, directly
and through bench/proxy at +0 ms and +10 ms a request (AWS's latency).

    make all build/bench/proxy && bench/bulk.py
    BENCH_BULK_TASKS=5000 bench/bulk.py     # fewer tasks (default 20000)

Starts its own stand-ins (infra/local/up on free ports) and stops them at
the end. Each run gets a fresh table and queue (`taskfleet init`, not
timed) and a file of BENCH_BULK_TASKS noop tasks with ids, all due now (so
every task also gets its message: the worst case). Timed: the whole CLI
process, `taskfleet submit --file FILE` (64 writes in flight); for the API,
`taskfleet serve --no-auth` behind the same proxy and one client posting
batches of 500 one after another on one kept-alive connection. After each
run a Scan counts the table: every task must be there exactly once, or the
run is reported as failed. Each row also gives the CPU time per 1,000
tasks of the taskfleet process (the CLI, or `serve`) and of each stand-in
(from /proc), to show which one a rate is bound by. Prints a markdown table
and writes it to bench/results/<date>-bulk.md.

Goals: the CLI >= 2,000 tasks/s on the stand-ins, >= 1,000/s at +10 ms.
"""
import http.client
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, os.environ.get("BENCH_BUILD", "build"))
TF = os.path.join(BUILD, "bin", "taskfleet")
PROXY = os.path.join(BUILD, "bench", "proxy")
N = int(os.environ.get("BENCH_BULK_TASKS", "20000"))
BATCH = 500
env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
for v in ("TASKFLEET_QUEUE_URL", "TASKFLEET_LOG"):
    env.pop(v, None)
procs = []
serial = 0


def standins_up(state):
    r = subprocess.run([os.path.join(ROOT, "infra/local/up")], capture_output=True, text=True,
                       env=dict(env, TASKFLEET_LOCAL_DIR=state, TASKFLEET_LOCAL_SQS_PORT="0",
                                TASKFLEET_LOCAL_DDB_PORT="0"), check=True)
    for line in r.stdout.splitlines():
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            env[k] = v.strip("'\"")


def proxy(delay_ms):
    """A bench/proxy at delay_ms; returns (process, env overrides)."""
    ports = [env[k].rstrip("/").rsplit(":", 1)[1] for k in
             ("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB")]
    p = subprocess.Popen([PROXY, "serve", "--delay-ms", str(delay_ms), "sqs=" + ports[0],
                          "ddb=" + ports[1]], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs.append(p)
    got = {}
    while True:
        line = p.stdout.readline().decode()
        if not line:
            raise RuntimeError("bench/proxy did not start")
        if line.strip() == "ready":
            break
        name, port = line.split()
        got[name] = port
    return p, {"AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:" + got["sqs"],
               "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:" + got["ddb"]}


def standin_cpu():
    """CPU seconds used so far by the stand-ins: {"sqs": s, "ddb": s}."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name in ("sqs", "ddb"):
        pid = open(os.path.join(TMPDIR, name + ".pid")).read().strip()
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        out[name] = (int(f[11]) + int(f[12])) / tick
    return out


def cpu_since(before, tf_secs):
    """CPU ms per 1,000 tasks: taskfleet, and each stand-in since before."""
    now = standin_cpu()
    per = 1000.0 * 1000.0 / N
    return "%.0f / %.0f / %.0f" % (tf_secs * per, (now["ddb"] - before["ddb"]) * per,
                                   (now["sqs"] - before["sqs"]) * per)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fresh_table(tag):
    global serial
    serial += 1
    name = "bench-bulk-%s-%d-%d" % (tag, os.getpid(), serial)
    subprocess.run([TF, "--table", name, "--queue", name, "init"], env=env, check=True,
                   capture_output=True)
    return name


def count(table):
    """Items in table (a paged Scan, COUNT)."""
    total, start = 0, None
    while True:
        body = {"TableName": table, "Select": "COUNT"}
        if start:
            body["ExclusiveStartKey"] = start
        req = urllib.request.Request(env["AWS_ENDPOINT_URL_DYNAMODB"], json.dumps(body).encode(), {
            "X-Amz-Target": "DynamoDB_20120810.Scan", "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Date": "20260101T000000Z", "Authorization": "AWS4-HMAC-SHA256 Credential=local/"
            "20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0"})
        d = json.loads(urllib.request.urlopen(req, timeout=60).read())
        total += d["Count"]
        start = d.get("LastEvaluatedKey")
        if not start:
            return total


def tasks(tag):
    return [{"type": "noop", "id": "%s-%d" % (tag, i), "params": {"i": i}} for i in range(N)]


def cli_run(delay_ms):
    """tasks/s of one `submit --file` (delay_ms None: no proxy)."""
    table = fresh_table("cli")
    path = os.path.join(TMPDIR, table + ".jsonl")
    with open(path, "w") as f:
        for t in tasks(table):
            f.write(json.dumps(t) + "\n")
    e = dict(env, TASKFLEET_TABLE=table, TASKFLEET_QUEUE=table)
    p = None
    if delay_ms is not None:
        p, over = proxy(delay_ms)
        e.update(over)
    cpu0, sc0 = children_cpu(), standin_cpu()
    t0 = time.monotonic()
    r = subprocess.run([TF, "submit", "--file", path], env=e, capture_output=True, text=True)
    secs = time.monotonic() - t0
    cpu = cpu_since(sc0, children_cpu() - cpu0)
    if p is not None:
        p.send_signal(signal.SIGTERM)
        p.wait()
    n = count(table)
    ok = r.returncode == 0 and n == N
    return {"secs": secs, "rate": N / secs, "ok": ok, "items": n, "cpu": cpu,
            "why": "" if ok else "exit %d, %d items: %s" % (r.returncode, n, r.stderr[-300:])}


def serve_cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def api_run(delay_ms):
    """tasks/s of one client posting batches of BATCH to `serve`."""
    table = fresh_table("api")
    e = dict(env, TASKFLEET_TABLE=table, TASKFLEET_QUEUE=table)
    p, over = proxy(delay_ms)
    e.update(over)
    log = open(os.path.join(TMPDIR, table + ".serve.log"), "w+")
    s = subprocess.Popen([TF, "serve", "--listen", "127.0.0.1:0", "--no-auth"], env=e,
                         stdout=log, stderr=subprocess.STDOUT)
    procs.append(s)
    port = None
    for _ in range(300):
        log.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.1)
    if port is None:
        raise RuntimeError("serve did not start")
    all_tasks = tasks(table)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    bad = []
    tf0 = serve_cpu(s.pid)
    sc0 = standin_cpu()
    t0 = time.monotonic()
    for i in range(0, N, BATCH):
        c.request("POST", "/v1/tasks", body=json.dumps({"tasks": all_tasks[i:i + BATCH]}),
                  headers={"Content-Type": "application/json"})
        resp = c.getresponse()
        body = resp.read()
        if resp.status != 201:
            bad.append("%d %s" % (resp.status, body[:200]))
    secs = time.monotonic() - t0
    cpu = cpu_since(sc0, serve_cpu(s.pid) - tf0)
    s.terminate()
    s.wait()
    p.send_signal(signal.SIGTERM)
    p.wait()
    n = count(table)
    ok = not bad and n == N
    return {"secs": secs, "rate": N / secs, "ok": ok, "items": n, "cpu": cpu,
            "why": "" if ok else "%d items, %s" % (n, bad[:2])}


def main():
    global TMPDIR
    for b in (TF, PROXY):
        if not os.access(b, os.X_OK):
            sys.exit("bench/bulk.py: %s is missing (make all %s)" % (b, os.path.relpath(PROXY, ROOT)))
    TMPDIR = tempfile.mkdtemp(prefix="taskfleet-bench-bulk.")
    standins_up(TMPDIR)
    rows = []
    try:
        for label, fn, arg, goal in (
                ("CLI `submit --file`, stand-ins directly", cli_run, None, 2000),
                ("CLI `submit --file`, proxy +0 ms", cli_run, 0, 2000),
                ("CLI `submit --file`, proxy +10 ms", cli_run, 10, 1000),
                ("API batches of 500, one client, proxy +0 ms", api_run, 0, None),
                ("API batches of 500, one client, proxy +10 ms", api_run, 10, 1000)):
            r = fn(arg)
            verdict = ("pass" if r["rate"] >= goal else "**miss**") if goal else ""
            if not r["ok"]:
                verdict = "**failed**: " + r["why"]
            rows.append("| %s | %d | %.1f s | %.0f | %s | %s | %s |" % (
                label, N, r["secs"], r["rate"], ">= %d" % goal if goal else "-", verdict, r["cpu"]))
            print(rows[-1], flush=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        subprocess.run([os.path.join(ROOT, "infra/local/down")], env=dict(env, TASKFLEET_LOCAL_DIR=TMPDIR),
                       capture_output=True)
        subprocess.run(["rm", "-rf", TMPDIR])
    load = os.getloadavg()
    out = ["# bulk loading, %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "",
           "%d tasks a run (all due now: each gets its message); %d cores, load average %.1f at the end." % (
               N, os.cpu_count(), load[0]), "",
           "| run | tasks | time | tasks/s | goal | verdict | CPU ms / 1,000 tasks: taskfleet / ddb / sqs |",
           "| --- | --- | --- | --- | --- | --- | --- |"] + rows
    path = os.path.join(ROOT, "bench", "results", time.strftime("%Y-%m-%d-%H%M", time.gmtime()) + "-bulk.md")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))
    print("written to %s" % os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
