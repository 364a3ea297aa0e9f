"""bench/latency.py - issue 21's workloads: taskfleet's consumer behind
bench/proxy, a loopback proxy that adds a fixed delay to every SQS and
DynamoDB request (real AWS answers in 10-20 ms; the stand-ins in under 1).

bench/run imports this module and calls run_workloads() with itself (its
stand-ins, Fleet, submit and figures), so both share one set of stand-ins,
one logs directory and one results file. Each workload starts its own proxy
(counters from zero) and fleet on a fresh table and queue; every figure is a
ratio or a count measured in the same run.

  latency    one consumer, --concurrency 256, noop tasks: runs/s with +20 ms
             as a fraction of the same consumer's runs/s through the proxy
             with +0 ms (the same path without the delay)
  sweep      one consumer, +10 ms, --concurrency 16/64/256/1024: runs/s
  footprint  threads, RSS and virtual size per consumer while busy, at
             --concurrency 16 and 1024 (sampled during the sweep's runs;
             run on its own, it runs the sweep at those two levels)
  burst      20,000 noop tasks due within one minute, 2 consumers, +10 ms:
             lateness p50/p99/max (run start - due time, the consumer's
             late_ms) and the fleet's DynamoDB Query calls (the sweeper)
  chain      one countdown task, every_ms 0, +10 ms: iterations/s
  idle-fleet 2 and 6 idle consumers at once (each fleet behind its own
             proxy, +10 ms): the fleet's requests per minute
  proxy      the proxy's own ceiling: `proxy load` against `proxy echo`,
             directly and through the proxy, and the proxy's CPU per request
Every workload also reports, from the proxy, the new TCP connections to each
endpoint and the requests per operation (connections per 10,000 requests).

Environment (BENCH_SCALE shrinks the task counts and the windows):
BENCH_SWEEP_LEVELS (16,64,256,1024), BENCH_BURST_CONCURRENCY (16, the
consumer's default), BENCH_LATENCY_MS (20), BENCH_DELAY_MS (10).
"""
import json
import os
import signal
import subprocess
import threading
import time

NEW_WORKLOADS = ("latency", "sweep", "footprint", "burst", "chain", "idle-fleet", "proxy")
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
LEVELS = [int(x) for x in os.environ.get("BENCH_SWEEP_LEVELS", "16,64,256,1024").split(",")]
BURST_CONCURRENCY = int(os.environ.get("BENCH_BURST_CONCURRENCY", "16"))
LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "20"))
DELAY_MS = float(os.environ.get("BENCH_DELAY_MS", "10"))
STANDINS = None     # bench/run's StandinSampler, set by run_workloads


def port_of(url):
    return int(url.rstrip("/").rsplit(":", 1)[1])


def ready_ports(p, what):
    """Reads the "NAME PORT" lines that a server of bench/ (proxy,
    webhook-server.js) prints on its stdout pipe before "ready"; returns
    {NAME: port}. what names the server in the error when it ends first."""
    ports = {}
    while True:
        line = p.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"{what} did not start")
        if line.strip() == "ready":
            return ports
        name, port = line.split()
        ports[name] = int(port)


class Proxy:
    """One bench/proxy process in front of both stand-ins."""

    def __init__(self, R, delay_ms, label, upstream=None):
        """upstream: the (sqs, ddb) ports to forward to; the stand-ins'
        unless given."""
        self.R, self.delay_ms = R, delay_ms
        binary = os.path.join(R.BUILD, "bench", "proxy")
        if upstream is None:
            upstream = (port_of(R.env["AWS_ENDPOINT_URL_SQS"]),
                        port_of(R.env["AWS_ENDPOINT_URL_DYNAMODB"]))
        cmd = [binary, "serve", "--delay-ms", str(delay_ms), f"sqs={upstream[0]}",
               f"ddb={upstream[1]}"]
        self.p = R.start(cmd, os.path.join(R.logdir, f"proxy-{label}.log"),
                         stdout=subprocess.PIPE)
        ports = ready_ports(self.p, f"bench/proxy (see proxy-{label}.log)")
        self.env = {"AWS_ENDPOINT_URL_SQS": f"http://127.0.0.1:{ports['sqs']}",
                    "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{ports['ddb']}"}
        self.ticks0 = R.cpu_ticks(self.p.pid) or 0

    def stats(self):
        """The proxy's counters so far, and its own CPU seconds."""
        self.p.send_signal(signal.SIGUSR1)
        d = json.loads(self.p.stdout.readline())
        d["cpu_s"] = ((self.R.cpu_ticks(self.p.pid) or 0) - self.ticks0) / self.R.TICK
        return d

    def stop(self):
        d = self.stats()
        self.p.send_signal(signal.SIGTERM)
        self.R.reap(self.p, 5)
        return d


def conn_figures(st):
    """Connections and requests per endpoint from a proxy's counters."""
    out = {}
    for name, e in st["endpoints"].items():
        out[name] = {"connections": e["connections"], "requests": e["requests"],
                     "per_10k": e["connections"] / e["requests"] * 10000 if e["requests"] else None,
                     "open_max": e["open_max"], "ops": e["ops"]}
    out["proxy_cpu_s"] = st["cpu_s"]
    return out


def status_kib(pid):
    """Threads, VmRSS and VmSize of pid."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k = line.split(":")[0]
                if k in ("Threads", "VmRSS", "VmSize"):
                    out[k] = int(line.split()[1])
    except OSError:
        pass
    return out


def run_fleet(R, table, url, expect_completed, proxy, consumers, concurrency, limit_s=120):
    """Runs a taskfleet fleet behind proxy until expect_completed tasks
    completed (or no progress for limit_s); returns bench/run's figures plus
    the largest Threads/VmRSS/VmSize of any consumer while it was running
    tasks, and the proxy's counters over the fleet's life."""
    fl = R.Fleet("taskfleet", table, url, R.logdir, consumers, concurrency, proxy.env)
    peak = {"Threads": 0, "VmRSS": 0, "VmSize": 0}
    last_progress, last_runs, ok = time.time(), -1, False
    while True:
        fl.sample()
        if fl.runs > 0 and fl.completed < expect_completed:
            for p in fl.procs:
                for k, v in status_kib(p.pid).items():
                    peak[k] = max(peak[k], v)
        if fl.completed >= expect_completed:
            ok = True
            break
        if fl.runs != last_runs:
            last_runs, last_progress = fl.runs, time.time()
        if time.time() - last_progress > limit_s or not fl.alive():
            break
        time.sleep(0.05 if fl.runs == 0 else 0.25)
    st = proxy.stats()
    fl.stop()
    runs = R.read_runs(fl.logs)
    f = R.figures(fl, runs)
    f["complete"] = ok
    f["threads"] = peak["Threads"]
    f["rss_busy_mib"] = peak["VmRSS"] / 1024
    f["vsz_busy_mib"] = peak["VmSize"] / 1024
    f["conn"] = conn_figures(st)
    if runs and STANDINS is not None:
        # What limits a run without the delay: the stand-ins' CPU.
        f["standins_busy"] = STANDINS.busy(min(r["start"] for r in runs),
                                           max(r["end"] for r in runs))
    recv = fl.requests.get("ReceiveMessage", 0)
    if recv and runs:
        f["msgs_per_receive"] = len(runs) / recv
        f["receive_cycle_ms"] = f["seconds"] * 1000 / recv
    return f


def one_noop(R, label, tasks, delay_ms, consumers, concurrency):
    """tasks noop tasks due now, run by a fleet behind a proxy of delay_ms."""
    proxy = Proxy(R, delay_ms, label)
    try:
        table, url = R.fresh_queue(label)
        R.submit(table, url, "noop", tasks, "{}")
        f = run_fleet(R, table, url, tasks, proxy, consumers, concurrency)
    finally:
        proxy.stop()
    R.note(f"  {label}: +{delay_ms:g} ms, {consumers} x {concurrency}: {f.get('iterations')} runs, "
           f"{f.get('throughput', 0):.0f}/s, {f['threads']} threads, "
           f"{f['rss_busy_mib']:.1f} MiB RSS{'' if f['complete'] else ' (INCOMPLETE)'}")
    return f


def latency_workload(R):
    n = max(1000, int(10000 * SCALE))
    res = {"tasks": n, "delay_ms": LATENCY_MS}
    res["loopback"] = one_noop(R, "lat-0", n, 0, 1, 256)
    res["delayed"] = one_noop(R, f"lat-{LATENCY_MS:g}", n, LATENCY_MS, 1, 256)
    a, b = res["delayed"].get("throughput"), res["loopback"].get("throughput")
    res["fraction"] = a / b if a and b else None
    return res


def sweep_workload(R, levels):
    n = max(1000, int(8000 * SCALE))
    res = {"tasks": n, "delay_ms": DELAY_MS, "levels": {}}
    for c in levels:
        res["levels"][str(c)] = one_noop(R, f"sweep-{c}", n, DELAY_MS, 1, c)
    return res


def burst_workload(R):
    n = max(500, int(20000 * SCALE))
    window_s = max(10, 60 * min(SCALE, 1))
    ahead_min = 5000
    proxy = Proxy(R, DELAY_MS, "burst")
    try:
        table, url = R.fresh_queue("burst")
        fl_args = (table, url, n, proxy, 2, BURST_CONCURRENCY)
        # The fleet first (its start-up is not in the lateness), then the
        # tasks: due 5 s after their item is written, and up to window_s
        # later; the messages go out at once (all within the horizon).
        t0 = time.time()
        holder = {}

        def submit():
            holder["s"] = R.submit(table, url, "noop", n, "{}",
                                   (ahead_min, ahead_min + int(window_s * 1000)))
        th = threading.Thread(target=submit)
        th.start()
        f = run_fleet(R, *fl_args, limit_s=60 + window_s)
        th.join()
    finally:
        st = proxy.stop()
    f["tasks"], f["window_s"], f["ahead_min_s"] = n, window_s, ahead_min / 1000
    f["submit_ms"] = holder.get("s", {}).get("ms")
    f["fleet_s"] = time.time() - t0
    f["queries"] = st["endpoints"]["ddb"]["ops"].get("Query", 0)
    f["consumers"], f["concurrency"], f["delay_ms"] = 2, BURST_CONCURRENCY, DELAY_MS
    R.note(f"  burst: {f.get('iterations')} runs, lateness p50 {f.get('late_p50')} ms, "
           f"p99 {f.get('late_p99')} ms, max {f.get('late_max')} ms, {f['queries']} Query")
    return f


def chain_workload(R):
    n = max(100, int(1000 * SCALE))
    proxy = Proxy(R, DELAY_MS, "chain")
    try:
        table, url = R.fresh_queue("chain")
        R.submit(table, url, "countdown", 1, json.dumps({"n": n, "every_ms": 0}))
        f = run_fleet(R, table, url, 1, proxy, 1, 16)
    finally:
        proxy.stop()
    f["n"], f["delay_ms"] = n, DELAY_MS
    R.note(f"  chain: {f.get('iterations')} iterations, {f.get('throughput', 0):.1f}/s")
    return f


def ops_of(st):
    """Requests by operation, summed over a proxy's endpoints."""
    ops = {}
    for e in st["endpoints"].values():
        for op, v in e["ops"].items():
            ops[op] = ops.get(op, 0) + v
    return ops


def idle_workload(R):
    """Fleets of 2 and 6 idle consumers at once. Their first `settle` seconds
    (start-up: GetQueueUrl, every consumer racing to create the sweep lease
    items, the first sweep) are counted apart from the steady state after
    them, which is what an idle fleet costs by the hour."""
    secs = max(30, int(60 * min(SCALE, 1)))
    settle = 15
    fleets = {}
    try:
        for k in (2, 6):
            proxy = Proxy(R, DELAY_MS, f"idle-{k}")
            table, url = R.fresh_queue(f"idle{k}")
            fleets[k] = (proxy, R.Fleet("taskfleet", table, url, R.logdir, k, 16, proxy.env))
        R.note(f"  fleets of 2 and 6 idle consumers: {settle} s of start-up, then {secs} s")
        time.sleep(settle)
        t0 = time.time()
        start = {k: ops_of(proxy.stats()) for k, (proxy, fl) in fleets.items()}
        time.sleep(secs)
        res = {"seconds": secs, "settle_s": settle, "delay_ms": DELAY_MS}
        # Both fleets' counters over the same window, before either stops.
        minutes = (time.time() - t0) / 60
        stats = {k: proxy.stats() for k, (proxy, fl) in fleets.items()}
        for k, (proxy, fl) in fleets.items():
            st = stats[k]
            fl.stop()
            c = conn_figures(st)
            end = ops_of(st)
            ops = {op: v - start[k].get(op, 0) for op, v in end.items()}
            total = sum(ops.values())
            polls = ops.get("ReceiveMessage", 0)
            res[str(k)] = {"consumers": k, "req_per_min": total / minutes, "ops": ops,
                           "startup_ops": start[k], "startup_requests": sum(start[k].values()),
                           "shared_per_min": (total - polls) / minutes,
                           "polls_per_consumer_per_min": polls / minutes / k,
                           "conn": c, "per_consumer_per_min": total / minutes / k}
            R.note(f"  {k} idle consumers: {total / minutes:.1f} requests/min {ops} "
                   f"(start-up {start[k]})")
    finally:
        for proxy, _ in fleets.values():
            proxy.stop()
    a, b = res["6"]["req_per_min"], res["2"]["req_per_min"]
    res["ratio_6_2"] = a / b if b else None
    a, b = res["6"]["shared_per_min"], res["2"]["shared_per_min"]
    res["shared_ratio_6_2"] = a / b if b else None
    return res


def proxy_workload(R):
    """The proxy's own ceiling: requests/s of `proxy load` against `proxy
    echo` directly and through the proxy, and the proxy's CPU per request."""
    binary = os.path.join(R.BUILD, "bench", "proxy")
    secs = max(2, 5 * min(SCALE, 1))
    echo = R.start([binary, "echo"], os.path.join(R.logdir, "echo.log"), stdout=subprocess.PIPE)
    res = {"seconds": secs, "runs": []}
    try:
        echo_port = int(echo.stdout.readline().split()[1])
        for label, delay, conns in (("direct", None, 256), ("proxy", 0, 256),
                                    ("proxy", DELAY_MS, 256), ("proxy", DELAY_MS, 1024),
                                    ("proxy", LATENCY_MS, 1024)):
            proxy = None
            port = echo_port
            if delay is not None:
                proxy = Proxy(R, delay, f"ceiling-{delay:g}-{conns}", (echo_port, echo_port))
                port = port_of(proxy.env["AWS_ENDPOINT_URL_SQS"])
            r = R.run([binary, "load", str(port), str(conns), str(secs)])
            d = json.loads(r.stdout.strip().splitlines()[-1])
            d["path"], d["delay_ms"] = label, delay
            if proxy:
                st = proxy.stop()
                d["proxy_cpu_s"] = st["cpu_s"]
                d["proxy_us_per_request"] = st["cpu_s"] / max(d["requests"], 1) * 1e6
                d["bound"] = conns / (delay / 1000) if delay else None
            res["runs"].append(d)
            R.note(f"  {label} +{delay} ms, {conns} connections: {d['per_second']:.0f} requests/s, "
                   f"mean {d['mean_ms']:.2f} ms"
                   + (f", proxy {d['proxy_us_per_request']:.1f} us CPU per request" if proxy else ""))
    finally:
        echo.send_signal(signal.SIGTERM)
        R.reap(echo, 5)
    return res


def run_workloads(R, selected, standins):
    """Runs the selected issue 21 workloads with bench/run's module R (its
    stand-ins must be up; standins samples their CPU); returns their results
    by name."""
    global STANDINS
    STANDINS = standins
    res = {}
    for name in NEW_WORKLOADS:
        if name not in selected:
            continue
        R.note(f"bench: {name} (issue 21)")
        if name == "latency":
            res[name] = latency_workload(R)
        elif name == "sweep":
            res[name] = sweep_workload(R, LEVELS)
        elif name == "footprint" and "sweep" not in selected:
            res["sweep"] = sweep_workload(R, [16, 1024])
        elif name == "burst":
            res[name] = burst_workload(R)
        elif name == "chain":
            res[name] = chain_workload(R)
        elif name == "idle-fleet":
            res["idle-fleet"] = idle_workload(R)
        elif name == "proxy":
            res[name] = proxy_workload(R)
    return res


def report(R, res):
    """Markdown for the issue 21 workloads in res (bench/run's results);
    appends (name, passed, value) to the goals it judges. Returns (lines,
    goals)."""
    out, goals = [], []
    w = out.append
    fmt = R.fmt

    def busy(f):
        b = f.get("standins_busy")
        return f"{b[0] * 100:.0f}% / {b[1] * 100:.0f}%" if b and len(b) == 2 else "–"
    if not any(k in res for k in ("latency", "sweep", "burst", "chain", "idle-fleet", "proxy")):
        return out, goals
    w("## Issue 21: the consumer at AWS latency (bench/proxy adds a delay to every request)")
    w("")
    w("Each row is one fleet of taskfleet consumers behind bench/proxy on its own table and "
      "queue; ratios are against a baseline measured in this run. 'Before' is the issue's "
      "table (the previous session, full scale).")
    w("")
    if "latency" in res:
        r = res["latency"]
        lo, de = r["loopback"], r["delayed"]
        g = r["fraction"] is not None and r["fraction"] >= 0.9
        goals.append((f"latency: +{r['delay_ms']:g} ms runs/s >= 90% of loopback", g,
                      f"{fmt((r['fraction'] or 0) * 100)}%"))
        w(f"### latency: one consumer, --concurrency 256, {r['tasks']} noop tasks")
        w("")
        w("| figure | +0 ms | "
          f"+{r['delay_ms']:g} ms | ratio | goal | | before |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        w(f"| runs/s | {fmt(lo.get('throughput'))} | {fmt(de.get('throughput'))} | "
          f"{fmt(r['fraction'], 3)} | >= 0.90 | {'pass' if g else 'MISS'} | 628 / 403 (0.64) |")
        w(f"| messages per ReceiveMessage | {fmt(lo.get('msgs_per_receive'))} | "
          f"{fmt(de.get('msgs_per_receive'))} | | | | 10 |")
        w(f"| ms per receive cycle (run time / ReceiveMessage) | {fmt(lo.get('receive_cycle_ms'))} | "
          f"{fmt(de.get('receive_cycle_ms'))} | | | | 24.8 at +20 ms |")
        w(f"| receive bound: 10 messages per receive cycle, runs/s | "
          f"{fmt(10000 / lo['receive_cycle_ms'] if lo.get('receive_cycle_ms') else None)} | "
          f"{fmt(10000 / de['receive_cycle_ms'] if de.get('receive_cycle_ms') else None)} | | | | 403 |")
        w(f"| stand-ins' CPU, SQS / DynamoDB, % of a core | {busy(lo)} | {busy(de)} | | | | |")
        w(f"| threads, RSS MiB (busy) | {lo['threads']}, {fmt(lo['rss_busy_mib'], 1)} | "
          f"{de['threads']}, {fmt(de['rss_busy_mib'], 1)} | | | | |")
        w("")
    if "sweep" in res:
        r = res["sweep"]
        before = {"16": 222, "64": 434, "256": 623, "1024": 552}
        w(f"### concurrency sweep: one consumer, +{r['delay_ms']:g} ms, {r['tasks']} noop tasks "
          "per level (footprint sampled while it runs tasks)")
        w("")
        w("| --concurrency | runs/s | before | threads | RSS MiB | virtual MiB | "
          "new connections SQS / DynamoDB | requests SQS / DynamoDB | DynamoDB connections per 10,000 requests "
          "| messages per receive | stand-ins' CPU SQS / DynamoDB |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for c, f in r["levels"].items():
            cf = f["conn"]
            w(f"| {c} | {fmt(f.get('throughput'))}{'' if f['complete'] else ' (incomplete)'} | "
              f"{before.get(c, '–')} | {f['threads']} | {fmt(f['rss_busy_mib'], 1)} | "
              f"{fmt(f['vsz_busy_mib'], 0)} | {cf['sqs']['connections']} / {cf['ddb']['connections']} | "
              f"{cf['sqs']['requests']} / {cf['ddb']['requests']} | {fmt(cf['ddb']['per_10k'], 0)} | "
              f"{fmt(f.get('msgs_per_receive'))} | {busy(f)} |")
        lv = r["levels"]
        if "16" in lv and "1024" in lv:
            a, b = lv["16"], lv["1024"]
            g1 = b["threads"] <= a["threads"]
            g2 = a["rss_busy_mib"] > 0 and b["rss_busy_mib"] <= 2 * a["rss_busy_mib"]
            goals.append(("footprint: threads at --concurrency 1024 <= at 16", g1,
                          f"{a['threads']} -> {b['threads']}"))
            goals.append(("footprint: RSS at --concurrency 1024 <= 2x RSS at 16", g2,
                          f"{fmt(a['rss_busy_mib'], 1)} -> {fmt(b['rss_busy_mib'], 1)} MiB "
                          f"({fmt(b['rss_busy_mib'] / max(a['rss_busy_mib'], 0.001))}x)"))
            w("")
            w(f"Footprint goals: threads per consumer do not grow with --concurrency "
              f"({a['threads']} at 16, {b['threads']} at 1024: {'pass' if g1 else 'MISS'}); "
              f"RSS at 1024 <= 2x RSS at 16 ({'pass' if g2 else 'MISS'}). Before: 1,030 threads, "
              "95 MiB RSS, 9 GiB virtual at 1024.")
        w("")
    if "burst" in res:
        f = res["burst"]
        g = f.get("late_p99") is not None and f["late_p99"] <= 1000
        goals.append(("burst: lateness p99 <= 1 s", g, f"{fmt(f.get('late_p99'))} ms"))
        w(f"### burst: {f['tasks']} noop tasks due {fmt(f['ahead_min_s'], 0)} to "
          f"{fmt(f['ahead_min_s'] + f['window_s'], 0)} s after their item is written, "
          f"{f['consumers']} consumers x --concurrency {f['concurrency']}, +{f['delay_ms']:g} ms")
        w("")
        w("| figure | now | goal | | before (20,000 tasks in 60 s) |")
        w("| --- | --- | --- | --- | --- |")
        w(f"| lateness p50, ms | {fmt(f.get('late_p50'))} | | | 35,000 |")
        w(f"| lateness p99, ms | {fmt(f.get('late_p99'))} | <= 1,000 | {'pass' if g else 'MISS'} | 88,000 |")
        w(f"| lateness max, ms | {fmt(f.get('late_max'))} | | | 95,000 |")
        w(f"| sweeper Query calls (fleet's whole life) | {f['queries']} | | | 6,638 |")
        w(f"| runs | {f.get('iterations')}{'' if f['complete'] else ' (incomplete)'} | | | |")
        w(f"| new connections SQS / DynamoDB | {f['conn']['sqs']['connections']} / "
          f"{f['conn']['ddb']['connections']} | | | |")
        w("")
        w(f"Submitting took {fmt((f.get('submit_ms') or 0) / 1000, 1)} s (items first, then "
          "messages, straight to the stand-ins: not counted).")
        w("")
    if "chain" in res:
        f = res["chain"]
        g = f.get("throughput") is not None and f["throughput"] >= 70
        goals.append((f"chain: >= 70 iterations/s at +{f['delay_ms']:g} ms", g,
                      f"{fmt(f.get('throughput'))}/s"))
        w(f"### chain: one countdown task, n = {f['n']}, every_ms 0, one consumer, "
          f"+{f['delay_ms']:g} ms")
        w("")
        w("| figure | now | goal | | before |")
        w("| --- | --- | --- | --- | --- |")
        w(f"| iterations/s | {fmt(f.get('throughput'))} | >= 70 | {'pass' if g else 'MISS'} | 23.6 |")
        rq = f.get("req_per_iter", {})
        w(f"| AWS requests per iteration | {fmt(f.get('req_total_per_iter'))} "
          f"({', '.join(f'{k} {fmt(v)}' for k, v in sorted(rq.items()) if v >= 0.05)}) | | | |")
        w("")
    if "idle-fleet" in res:
        r = res["idle-fleet"]
        g = r.get("shared_ratio_6_2") is not None and r["shared_ratio_6_2"] <= 1.1
        goals.append(("idle: the fleet's requests/min besides each consumer's own long "
                      "poll, 6 idle consumers <= 1.1x of 2", g, f"{fmt(r.get('shared_ratio_6_2'))}x"))
        w(f"### idle: fleets of 2 and 6 idle consumers, at once, {r['seconds']} s after "
          f"{r.get('settle_s', 0)} s of start-up, +{r['delay_ms']:g} ms")
        w("")
        w("| figure | 2 consumers | 6 consumers | 6 / 2 | goal | |")
        w("| --- | --- | --- | --- | --- | --- |")
        a, b = r["2"], r["6"]
        w(f"| requests per minute, steady state | {fmt(a['req_per_min'])} | "
          f"{fmt(b['req_per_min'])} | {fmt(r['ratio_6_2'])} | | |")
        w(f"| &nbsp;&nbsp;besides each consumer's long poll (the sweep, its leases) | "
          f"{fmt(a.get('shared_per_min'))} | {fmt(b.get('shared_per_min'))} | "
          f"{fmt(r.get('shared_ratio_6_2'))} | <= 1.1 (does not grow) | {'pass' if g else 'MISS'} |")
        w(f"| &nbsp;&nbsp;long polls per consumer per minute | "
          f"{fmt(a.get('polls_per_consumer_per_min'))} | {fmt(b.get('polls_per_consumer_per_min'))} | | | |")
        for op in sorted(set(a["ops"]) | set(b["ops"])):
            x, y = a["ops"].get(op, 0), b["ops"].get(op, 0)
            w(f"| &nbsp;&nbsp;{op} (count) | {x} | {y} | {fmt(y / x if x else None)} | | |")
        w(f"| start-up requests (first {r.get('settle_s', 0)} s, once per consumer) | "
          f"{a.get('startup_requests')} | {b.get('startup_requests')} | | | |")
        w(f"| new connections SQS / DynamoDB | {a['conn']['sqs']['connections']} / "
          f"{a['conn']['ddb']['connections']} | {b['conn']['sqs']['connections']} / "
          f"{b['conn']['ddb']['connections']} | | | |")
        w("")
        w("Each idle consumer keeps one long poll open (SQS answers an empty one after "
          "20 s: 3 a minute): that is what lets any consumer take a new message within "
          "milliseconds, and it is the only per-consumer cost left; fewer polls would "
          "trade that latency away (the stall users of SQS workers complain of).")
        w("")
        w("Before: 2 idle consumers made ~96 Query in their first minute.")
        w("")
    if "proxy" in res:
        r = res["proxy"]
        w(f"### bench/proxy's own ceiling: `proxy load` against `proxy echo`, {fmt(r['seconds'], 0)} s each")
        w("")
        w("| path | connections | requests/s | mean round trip, ms | bound (connections / delay) | "
          "proxy CPU per request, µs |")
        w("| --- | --- | --- | --- | --- | --- |")
        for d in r["runs"]:
            path = "direct" if d["delay_ms"] is None else f"proxy +{d['delay_ms']:g} ms"
            w(f"| {path} | {d['connections']} | {fmt(d['per_second'])} | {fmt(d['mean_ms'])} | "
              f"{fmt(d.get('bound'))} | {fmt(d.get('proxy_us_per_request'), 1)} |")
        w("")
    # Connections of every workload, from the proxies.
    rows = []
    if "latency" in res:
        for k in ("loopback", "delayed"):
            rows.append((f"latency {k}", res["latency"][k]))
    if "sweep" in res:
        for c, f in res["sweep"]["levels"].items():
            rows.append((f"sweep --concurrency {c}", f))
    for k in ("burst", "chain"):
        if k in res:
            rows.append((k, res[k]))
    if rows:
        w("### connections: new TCP connections to each endpoint per workload (from the proxy)")
        w("")
        w("| workload | SQS connections | SQS requests | DynamoDB connections | DynamoDB requests | "
          "DynamoDB connections per 10,000 requests | proxy CPU s |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        for name, f in rows:
            c = f["conn"]
            w(f"| {name} | {c['sqs']['connections']} | {c['sqs']['requests']} | "
              f"{c['ddb']['connections']} | {c['ddb']['requests']} | {fmt(c['ddb']['per_10k'], 0)} | "
              f"{fmt(c['proxy_cpu_s'])} |")
        w("")
        w("Goal: new connections to each endpoint <= the pool size per run (before: 1,280 new "
          "DynamoDB connections per 10,000 requests at --concurrency 1024).")
        w("")
    return out, goals
