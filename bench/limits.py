"""bench/limits.py - issue 23's workload: what limits per key cost in AWS
requests per run (docs/design.md section 14), taskfleet's fleet alone (the
Node worker has no limits).

bench/run imports this module and calls run_workloads() with itself (its
stand-ins, Fleet, submit and figures), as it does bench/latency.py. The same
noop tasks are run three times in the same run, each time by a fresh fleet
(BENCH_CONSUMERS x BENCH_CONCURRENCY) on a fresh table and queue:

  limits  BENCH_SCALE x 2,000 noop tasks due now in namespace `default`:
          with no limit; under `ns:default` at 500 runs/s, burst 50
          (BENCH_LIMIT_RATE, BENCH_LIMIT_BURST: above what the fleet runs
          on the stand-ins of a 2-core machine, so every run passes the
          limiter without waiting long); at 50 runs/s, burst 10
          (BENCH_LIMIT_SLOW_RATE: a limit that holds a backlog back); and
          at 8 in flight (BENCH_LIMIT_IN_FLIGHT)

Figures per case: the fleet's AWS requests per run, by operation (the
consumers' own counters, logged at SIGTERM, every request counted: the
limiter's, the heartbeat's extensions of runs waiting for their key and the
config item's reads too), the extra over the unlimited case, the requests
the limiter itself counted (its `limits: N runs passed ...` line), and
whether a rate limit held: the most run starts in any 1 s window, from the
runs' `run finished` lines, against rate x 1.05 + burst (a reserved slot may
be used up to 50 ms late) (a noop run takes no time, so those lines cannot
show runs at once: tests/scripts/engine_limits.sh checks the in-flight cap
with runs that take 300 ms). Request counts are stable on a loaded machine; times are not, so runs/s is shown but
judges nothing.
"""
import os
import re

NEW_WORKLOADS = ("limits",)
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
RATE = float(os.environ.get("BENCH_LIMIT_RATE", "500"))
BURST = int(os.environ.get("BENCH_LIMIT_BURST", "50"))
SLOW_RATE = float(os.environ.get("BENCH_LIMIT_SLOW_RATE", "50"))
SLOW_BURST = 10
IN_FLIGHT = int(os.environ.get("BENCH_LIMIT_IN_FLIGHT", "8"))
KEY = "ns:default"      # bench/node/submit.js writes every task in `default`
# The limiter's count, logged when a consumer stops (consumer/limiter.c).
PASSED = re.compile(r"limits: (\d+) runs passed their keys' limits with (\d+) requests")


def limiter_counts(logs):
    """(runs that passed a limit, requests the limiter made), summed over
    the fleet's logs."""
    runs = reqs = 0
    for log in logs:
        for line in open(log, errors="replace"):
            m = PASSED.search(line)
            if m:
                runs += int(m.group(1))
                reqs += int(m.group(2))
    return runs, reqs


def most_starts_per_second(runs):
    """The most run starts in any window of 1,000 ms."""
    starts = sorted(r["start"] for r in runs)
    most, lo = 0, 0
    for hi, t in enumerate(starts):
        while starts[lo] <= t - 1000:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def one_case(R, label, tasks, limit_args):
    """tasks noop tasks run by a fresh fleet, under `taskfleet limit set KEY
    limit_args` when given; returns bench/run's figures and this module's."""
    table, url = R.fresh_queue(f"lim-{label}")
    if limit_args:
        R.run([R.TASKFLEET, "--table", table, "--queue", table, "limit", "set", KEY] + limit_args)
    R.submit(table, url, "noop", tasks, "{}")
    fl = R.Fleet("taskfleet", table, url, R.logdir)
    ok = fl.wait_completed(tasks, 120)
    fl.stop()
    runs = R.read_runs(fl.logs)
    f = R.figures(fl, runs)
    f["complete"] = ok
    f["limit"] = " ".join(limit_args) if limit_args else "none"
    f["limiter_runs"], f["limiter_requests"] = limiter_counts(fl.logs)
    if runs:
        f["most_starts_1s"] = most_starts_per_second(runs)
    R.note(f"  {label}: {f['iterations']} runs, {f.get('req_total_per_iter', 0):.3f} req/run, "
           f"limiter {f['limiter_requests']} requests for {f['limiter_runs']} runs"
           f"{'' if ok else ' (INCOMPLETE)'}")
    return f


def run_workloads(R, selected, standins):
    """Runs the limits workload when selected, with bench/run's module R (its
    stand-ins must be up); returns its results by name."""
    if "limits" not in selected:
        return {}
    n = max(200, int(2000 * SCALE))
    R.note(f"bench: limits (issue 23), {n} noop tasks per case")
    res = {"tasks": n, "key": KEY, "rate": RATE, "burst": BURST, "slow_rate": SLOW_RATE,
           "slow_burst": SLOW_BURST, "in_flight": IN_FLIGHT}
    res["cases"] = {
        "none": one_case(R, "none", n, []),
        "rate": one_case(R, "rate", n, ["--rate", f"{RATE:g}", "--burst", str(BURST)]),
        "slow_rate": one_case(R, "slowrate", n, ["--rate", f"{SLOW_RATE:g}", "--burst", str(SLOW_BURST)]),
        "in_flight": one_case(R, "inflight", n, ["--in-flight", str(IN_FLIGHT)]),
    }
    return {"limits": res}


def report(R, res):
    """Markdown for the limits workload in res; returns (lines, goals), goals
    as (name, passed, value)."""
    out, goals = [], []
    if "limits" not in res:
        return out, goals
    r = res["limits"]
    c = r["cases"]
    w = out.append
    fmt = R.fmt
    cases = [("none", "no limit"), ("rate", f"{fmt(r['rate'], 0)}/s, burst {r['burst']}"),
             ("slow_rate", f"{fmt(r['slow_rate'], 0)}/s, burst {r['slow_burst']}"),
             ("in_flight", f"{r['in_flight']} in flight")]
    base = c["none"]
    w(f"## Issue 23: what limits cost, {r['tasks']} noop tasks under `{r['key']}`")
    w("")
    w("The same tasks three times, each by a fresh fleet on its own table and queue; "
      "requests are the consumers' own counters (every request), per run.")
    w("")
    w("| figure | " + " | ".join(c[1] for c in cases) + " |")
    w("| --- | " + " | ".join("---" for _ in cases) + " |")

    def row(label, fn, digits=3):
        w(f"| {label} | " + " | ".join(fmt(fn(c[k]), digits) for k, _ in cases) + " |")
    row("runs", lambda f: f["iterations"])
    row("AWS requests per run", lambda f: f.get("req_total_per_iter"))
    row("&nbsp;&nbsp;extra over no limit", lambda f: None if f is base else
        (f.get("req_total_per_iter") or 0) - (base.get("req_total_per_iter") or 0))
    ops = sorted({op for k, _ in cases for op in c[k].get("req_per_iter", {})})
    for op in ops:
        row(f"&nbsp;&nbsp;{op}", lambda f, op=op: f.get("req_per_iter", {}).get(op, 0.0))
    row("limiter's own requests per run", lambda f: f["limiter_requests"] / f["iterations"]
        if f["iterations"] else None)
    row("most run starts in 1 s", lambda f: f.get("most_starts_1s"), 0)
    row("runs/s (loaded machine: not judged)", lambda f: f.get("throughput"), 0)
    w("")
    for k, label in cases[1:]:
        f = c[k]
        extra = (f.get("req_total_per_iter") or 0) - (base.get("req_total_per_iter") or 0)
        ok = f["complete"] and extra <= 0.2
        goals.append((f"limits: extra requests per run under {label} <= 0.2", ok,
                      f"{fmt(extra, 3)} ({fmt(f.get('req_total_per_iter'), 3)} vs "
                      f"{fmt(base.get('req_total_per_iter'), 3)})"))
    # A reserved start slot may be used up to 50 ms late (consumer/limiter.c
    # STALE_SLOT_US): the starts of 1 s then span 1.05 s of slots.
    for k, rate, burst in (("rate", r["rate"], r["burst"]), ("slow_rate", r["slow_rate"], r["slow_burst"])):
        top = rate * 1.05 + burst
        starts = c[k].get("most_starts_1s")
        goals.append((f"limits: no 1 s window over {fmt(top, 0)} starts under {fmt(rate, 0)}/s", starts is not None
                      and starts <= top, str(starts)))
    return out, goals

