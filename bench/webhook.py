"""bench/webhook.py - issue 22's workloads: webhooks (the http runner)
against a loopback webhook server, taskfleet's consumer and the Node worker
(bench/node/worker.js, the same tasks with fetch) in the same run.

bench/run imports this module and calls run_workloads() with itself (its
stand-ins, Fleet, submit and figures), as it does bench/latency.py. For each
workload and each system a fresh webhook server (bench/node/webhook-server.js,
counters from zero) and a fresh table and queue; the tasks are `http` tasks
POSTing a small JSON body to the server, due now.

  webhook-slow  BENCH_SCALE x 5,000 webhooks that answer after 10 s
                (BENCH_WEBHOOK_DELAY_MS), one process of each system with
                --concurrency (Node: CONCURRENCY) equal to the task count
  webhook-tls   the same over HTTPS, with a certificate made for 127.0.0.1
                at bench time (TASKFLEET_HTTP_CA_BUNDLE for the consumer,
                NODE_EXTRA_CA_CERTS for Node)
  webhook-fast  BENCH_SCALE x 10,000 webhooks that answer at once, the
                fleets of the Node comparison (BENCH_CONSUMERS x
                BENCH_CONCURRENCY)

Figures per system: runs/s, the most requests in progress at the server at
once ("in flight"), TCP connections the server accepted and (HTTPS) its full
and resumed TLS handshakes, the most threads of a process (sampled from
/proc every 250 ms), peak RSS (VmHWM), CPU per run (bench/run's figures()).

Each fleet stops when every task is over (completed or failed), or after
BENCH_WEBHOOK_LIMIT_S (180) seconds: a consumer that runs 16 webhooks of 10 s at a time (the
threaded http runner) needs 10 minutes for 1,000 of them, so its figures
then cover the runs it made in that time.

The per-host connection limit is passed as --http-max-host-connections
(BENCH_WEBHOOK_HOST_CONNECTIONS, default: the fleet's concurrency) when
`taskfleet-consumer --help` lists that flag; BENCH_WEBHOOK_RUNNER_THREADS,
when set, is passed as --runner-threads (the threaded runner's runs in
flight).
"""
import json
import os
import signal
import subprocess
import time

import latency  # bench/latency.py: ready_ports

NEW_WORKLOADS = ("webhook-slow", "webhook-tls", "webhook-fast")
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
DELAY_MS = int(os.environ.get("BENCH_WEBHOOK_DELAY_MS", "10000"))
LIMIT_S = float(os.environ.get("BENCH_WEBHOOK_LIMIT_S", "180"))
HOST_CONNECTIONS = os.environ.get("BENCH_WEBHOOK_HOST_CONNECTIONS", "")
RUNNER_THREADS = os.environ.get("BENCH_WEBHOOK_RUNNER_THREADS", "")
HOST_FLAG = "--http-max-host-connections"
STANDINS = None     # bench/run's StandinSampler, set by run_workloads


def make_certificate(R):
    """A self-signed certificate for 127.0.0.1 in the logs directory;
    returns (cert, key) paths."""
    cert, key = os.path.join(R.logdir, "webhook-cert.pem"), os.path.join(R.logdir, "webhook-key.pem")
    R.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
           "-addext", "subjectAltName=IP:127.0.0.1"])
    return cert, key


class Server:
    """One bench/node/webhook-server.js process, HTTP and HTTPS."""

    def __init__(self, R, delay_ms, cert, label):
        self.R = R
        cmd = [R.NODE, "--no-warnings", os.path.join(R.NODE_DIR, "webhook-server.js"),
               "--delay-ms", str(delay_ms), "--cert", cert[0], "--key", cert[1]]
        self.p = R.start(cmd, os.path.join(R.logdir, f"webhook-server-{label}.log"),
                         stdout=subprocess.PIPE)
        self.ports = latency.ready_ports(self.p, f"the webhook server (see webhook-server-{label}.log)")
        self.ticks0 = R.cpu_ticks(self.p.pid) or 0

    def url(self, scheme):
        return f"{scheme}://127.0.0.1:{self.ports[scheme]}/hook"

    def stop(self):
        """The server's counters and its own CPU seconds; stops it."""
        self.p.send_signal(signal.SIGUSR1)
        d = json.loads(self.p.stdout.readline())
        d["cpu_s"] = ((self.R.cpu_ticks(self.p.pid) or 0) - self.ticks0) / self.R.TICK
        self.p.send_signal(signal.SIGTERM)
        self.R.reap(self.p, 5)
        return d


_help = None


def consumer_knows(R, flag):
    """Whether taskfleet-consumer --help lists flag."""
    global _help
    if _help is None:
        r = R.run([R.CONSUMER, "--help"], check=False)
        _help = r.stdout + r.stderr
    return flag in _help


def threads_of(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def log_counts(logs):
    """(runs whose outcome was not completed, leases the sweeper recovered)
    in a fleet's logs. The consumer logs such a run as "run finished: WHY"
    (which bench/run's read_runs() does not count), the Node worker as "run
    finished" with another outcome."""
    runs = leases = 0
    for log in logs:
        with open(log, errors="replace") as f:
            for line in f:
                if '"msg":"run finished' in line and '"outcome":"completed"' not in line:
                    runs += 1
                elif "recovered a run whose lease expired" in line:
                    leases += 1
    return runs, leases


def one_fleet(R, system, label, tasks, delay_ms, scheme, consumers, concurrency, cert):
    """tasks webhooks to a fresh server, run by one fleet of system until
    all completed or LIMIT_S; returns its figures."""
    server = Server(R, delay_ms, cert, f"{label}-{system}")
    fl = None
    try:
        table, url = R.fresh_queue(f"{label}-{system[0]}")
        params = {"url": server.url(scheme), "method": "POST", "body": {"event": "bench"},
                  "timeout_ms": delay_ms + 30000}
        R.submit(table, url, "http", tasks, json.dumps(params))
        limit = int(HOST_CONNECTIONS) if HOST_CONNECTIONS else concurrency
        args, extra = [], {}
        if system == "taskfleet":
            extra = {"TASKFLEET_HTTP_ALLOW": "127.0.0.1", "TASKFLEET_HTTP_CA_BUNDLE": cert[0]}
            if consumer_knows(R, HOST_FLAG):
                args += [HOST_FLAG, str(limit)]
            else:
                limit = None
            if RUNNER_THREADS:
                args += ["--runner-threads", RUNNER_THREADS]
        else:
            extra = {"NODE_EXTRA_CA_CERTS": cert[0]}
            limit = None
        fl = R.Fleet(system, table, url, R.logdir, consumers, concurrency, extra, args)
        threads, t0, ok = 0, time.time(), False
        while True:
            fl.sample()
            for p in fl.procs:
                threads = max(threads, threads_of(p.pid))
            if fl.completed >= tasks:
                ok = True
                break
            if fl.completed + fl.failed >= tasks:
                break           # every task over, some of them failed
            if time.time() - t0 > LIMIT_S or not fl.alive():
                break
            time.sleep(0.05 if fl.runs == 0 else 0.25)
        exited = not fl.alive()
        st = server.stop()
        server = None
        fl.stop()
    finally:
        if server is not None:
            server.stop()
    runs = R.read_runs(fl.logs)
    f = R.figures(fl, runs)
    f["complete"], f["tasks"], f["threads"] = ok, tasks, threads
    f["failed"], f["leases_recovered"] = log_counts(fl.logs)
    f["tasks_failed"] = fl.failed
    f["server"], f["scheme"], f["host_limit"] = st, scheme, limit
    f["args"] = " ".join(args)
    if exited:
        # e.g. a --concurrency beyond what the consumer accepts: its last words.
        with open(fl.logs[0], errors="replace") as fh:
            f["exited"] = (fh.read().strip().splitlines() or ["no output"])[-1][:300]
    if runs and STANDINS is not None:
        f["standins_busy"] = STANDINS.busy(min(r["start"] for r in runs),
                                           max(r["end"] for r in runs))
    s = st[scheme]
    R.note(f"  {system}: {f['iterations']} runs of {tasks}, {f.get('throughput', 0):.1f}/s, "
           f"{s['in_flight_max']} in flight, {s['connections']} connections, {threads} threads, "
           f"{f.get('rss_mib', 0):.1f} MiB, {f.get('cpu_per_1000', 0):.2f} CPU s/1000"
           f"{'' if ok else ' (INCOMPLETE)'}")
    return f


def workload(R, name, cert):
    if name == "webhook-fast":
        n, delay, scheme = max(100, int(10000 * SCALE)), 0, "http"
        consumers, concurrency = R.CONSUMERS, R.CONCURRENCY
    else:
        n, delay = max(100, int(5000 * SCALE)), DELAY_MS
        scheme = "https" if name == "webhook-tls" else "http"
        consumers, concurrency = 1, n
    R.note(f"  {n} webhooks over {scheme}, answered after {delay} ms, "
           f"{consumers} x {concurrency} per system")
    res = {"tasks": n, "delay_ms": delay, "scheme": scheme, "consumers": consumers,
           "concurrency": concurrency, "limit_s": LIMIT_S}
    for system in ("taskfleet", "node"):
        res[system] = one_fleet(R, system, name, n, delay, scheme, consumers, concurrency, cert)
    return res


def run_workloads(R, selected, standins):
    """Runs the selected issue 22 workloads with bench/run's module R (its
    stand-ins must be up); returns their results by name."""
    global STANDINS
    STANDINS = standins
    res = {}
    cert = None
    for name in NEW_WORKLOADS:
        if name not in selected:
            continue
        R.note(f"bench: {name} (issue 22)")
        if cert is None:
            cert = make_certificate(R)
        res[name] = workload(R, name, cert)
    return res


def report(R, res):
    """Markdown for the issue 22 workloads in res; returns (lines, goals),
    goals as (name, passed, value)."""
    out, goals = [], []
    w = out.append
    fmt, ratio = R.fmt, R.ratio
    names = [k for k in NEW_WORKLOADS if k in res]
    if not names:
        return out, goals
    w("## Issue 22: webhooks (the http runner) against the Node worker with fetch")
    w("")
    w("Each column is one fleet on its own table, queue and webhook server "
      "(bench/node/webhook-server.js on 127.0.0.1); the server counts connections, "
      "TLS handshakes and requests in progress.")
    w("")
    for name in names:
        r = res[name]
        c, n = r["taskfleet"], r["node"]
        sc, sn = c["server"][r["scheme"]], n["server"][r["scheme"]]
        w(f"### {name}: {r['tasks']} webhooks over {r['scheme'].upper()}, answered after "
          f"{r['delay_ms']} ms, {r['consumers']} x --concurrency {r['concurrency']}")
        w("")
        w("| figure | taskfleet (C) | Node (fetch) | C/Node | goal | |")
        w("| --- | --- | --- | --- | --- | --- |")

        def row(label, a, b, goal="", ok=None, digits=2, gname=None, gval=None):
            if ok is not None:
                goals.append((f"{name}: {gname or label} {goal}", ok, gval or fmt(a, digits)))
            w(f"| {label} | {fmt(a, digits)} | {fmt(b, digits)} | {fmt(ratio(a, b), 3)} | {goal} | "
              f"{'' if ok is None else 'pass' if ok else 'MISS'} |")

        def done(f):
            s = f"{f['iterations']} of {f['tasks']}"
            if f["failed"]:
                s += (f"; {f['tasks_failed']} tasks failed, {f['failed']} runs not completed "
                      f"({f['leases_recovered']} leases recovered by the sweeper)")
            if not f["complete"] and f["iterations"] + f["tasks_failed"] < f["tasks"]:
                s += f" (stopped after {fmt(r['limit_s'], 0)} s)"
            return s
        w(f"| runs | {done(c)} | {done(n)} | | | |")
        tc, tn = c.get("throughput"), n.get("throughput")
        if name == "webhook-fast":
            rr = ratio(tc, tn)
            ok = rr is not None and rr >= 1.5
            goals.append((f"{name}: runs/s >= 1.5x Node's", ok, f"C/Node {fmt(rr)}"))
            w(f"| runs/s | {fmt(tc)} | {fmt(tn)} | {fmt(rr, 3)} | C/Node >= 1.5 | "
              f"{'pass' if ok else 'MISS'} |")
        else:
            row("runs/s", tc, tn)
        slow = name != "webhook-fast"
        want = int(r["tasks"] * 0.9)
        row("most webhooks in flight (at the server)", sc["in_flight_max"], sn["in_flight_max"],
            f">= {want}" if slow else "", (sc["in_flight_max"] >= want) if slow else None,
            gname="webhooks in flight")
        lim = c.get("host_limit")
        lim_ok = lim is not None and sc["connections"] <= lim
        row("connections opened to the webhook server", sc["connections"], sn["connections"],
            f"<= the per-host limit ({lim if lim is not None else 'not a consumer flag yet'})"
            if slow else "", lim_ok if slow else None, gname="connections")
        row("&nbsp;&nbsp;most open at once", sc["open_max"], sn["open_max"])
        if r["scheme"] == "https":
            hc = sc["full_handshakes"] + sc["resumed"]
            hn = sn["full_handshakes"] + sn["resumed"]
            row("TLS handshakes (full + resumed)", hc, hn, "<= connections",
                hc <= sc["connections"], gname="TLS handshakes", gval=f"{hc} for {sc['connections']} connections")
            row("&nbsp;&nbsp;full", sc["full_handshakes"], sn["full_handshakes"])
            row("&nbsp;&nbsp;resumed (session reused)", sc["resumed"], sn["resumed"])
        row("requests the server received", sc["requests"], sn["requests"])
        row("threads (most, per process)", c["threads"], n["threads"], "<= 16" if slow else "",
            (c["threads"] <= 16) if slow else None, gname="threads")
        row("peak RSS per process, MiB", c.get("rss_mib"), n.get("rss_mib"),
            "<= 100" if slow else "", (c.get("rss_mib", 1e9) <= 100) if slow else None, 1,
            gname="peak RSS, MiB")
        cr = ratio(c.get("cpu_per_1000"), n.get("cpu_per_1000"))
        if slow:
            ok = cr is not None and cr <= 0.15
            goals.append((f"{name}: CPU per run <= 0.15 of Node's", ok, f"C/Node {fmt(cr, 3)}"))
        w(f"| CPU s per 1,000 runs | {fmt(c.get('cpu_per_1000'), 3)} | {fmt(n.get('cpu_per_1000'), 3)} | "
          f"{fmt(cr, 3)} | {'C/Node <= 0.15' if slow else ''} | "
          f"{('pass' if ok else 'MISS') if slow else ''} |")
        row("process start-up CPU s (not counted above)", c.get("startup_cpu_s"), n.get("startup_cpu_s"),
            digits=3)
        row("webhook server's CPU s", c["server"]["cpu_s"], n["server"]["cpu_s"])

        def busy(f):
            b = f.get("standins_busy")
            return f"{b[0] * 100:.0f}% / {b[1] * 100:.0f}%" if b and len(b) == 2 else "–"
        w(f"| stand-ins' CPU while running, SQS / DynamoDB, % of a core | {busy(c)} | {busy(n)} | | | |")
        w("")
        w(f"Consumer flags beyond --concurrency: `{c['args'] or 'none'}`."
          + "".join(f" The {s} fleet exited before its tasks were done: `{f['exited']}`."
                    for s, f in (("taskfleet", c), ("Node", n)) if f.get("exited")))
        w("")
    return out, goals
