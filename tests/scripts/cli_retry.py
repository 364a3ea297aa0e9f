#!/usr/bin/env python3
"""cli_retry.py - retrying a FAILED task and turning a recurring task into a
one-shot (and back), end to end (GitHub issue 19, items 3 and 4).

Runs `taskfleet init`, one consumer and `taskfleet serve --no-auth` on
127.0.0.1 against the local stand-ins that tests/run starts, with a table and
queue of its own; then:

  - `taskfleet retry`: a task of the `fail` runner that failed for good is
    retried at a later time (--at): PENDING, attempts 0, next run as asked,
    its errors, last error and history kept, the history noting the retry,
    no ttl or finished_at; retried now, the consumer runs it again (a second
    error and a second "failed" run in its history) well before the
    sweeper's grace period, so the retry's own message ran it; PENDING,
    COMPLETED and missing tasks and a bad --at are refused (exit 1, 1, 3, 2);
  - POST /v1/tasks/{id}/retry: with {"at"}, and without a body (the
    consumer runs it again); 409 for a PENDING task, 400 for a bad body;
  - PATCH every: null on a recurring task: its next run is its last
    (COMPLETED after one more run); cron: null likewise drops a cron
    schedule; every on a one-shot makes it recurring (it runs max_runs
    times), cron on a one-shot due later starts at its first slot at or
    after the task's time; tz without every or cron, and every with cron, are 400;
  - `taskfleet edit --once` and `--every` do the same from the CLI, and
    refuse bad combinations with exit 2, writing nothing.

Items are read with botocore (tests/tools/tfcheck.py), not with taskfleet's
own code. Talks only to 127.0.0.1. Prints "PASS name" or "FAIL name: why";
exits 1 on any failure.
"""
import http.client
import json
import os
import secrets
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
TF = os.path.join(BUILD, "bin", "taskfleet")
CONSUMER = os.path.join(BUILD, "bin", "taskfleet-consumer")
OUT = os.path.join(os.environ.get("TF_TEST_OUT") or os.path.join(ROOT, "tests", "out"), "cli_retry")
# Well above the time a run takes here: a retried task that runs within it
# was run by the retry's own message, not by the sweeper.
GRACE_S = 120

sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tfcheck  # noqa: E402
import tftest  # noqa: E402

REPORT = tftest.Report("cli_retry")
check = REPORT.check
procs = []
ENV = {}


def now_ms():
    return int(time.time() * 1000)


def tf(*args):
    """Runs the CLI; returns (exit status, stdout, stderr)."""
    r = subprocess.run([TF] + list(args), env=ENV, capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=60)
    return r.returncode, r.stdout, r.stderr


def item(tid):
    """The task's item as plain JSON ({} when there is none)."""
    r = tfcheck.client("dynamodb").get_item(TableName=ENV["TASKFLEET_TABLE"],
                                            Key={"id": {"S": tid}}, ConsistentRead=True)
    return {k: tfcheck.unmarshal(v) for k, v in r.get("Item", {}).items()}


def wait_item(tid, cond, seconds):
    """Polls the item until cond(item) holds; returns (held, last item)."""
    deadline = time.time() + seconds
    while True:
        it = item(tid)
        if cond(it):
            return True, it
        if time.time() > deadline:
            return False, it
        time.sleep(0.3)


def outcomes(it):
    return [h.get("outcome") for h in it.get("history", [])]


def submit(*args):
    st, out, err = tf("submit", *args)
    if st != 0:
        check("setup-submit", False, "submit %s: exit %d: %s" % (args, st, err.strip()))
        return None
    return out.strip()


def submit_failing(name):
    """A task of the fail runner that fails for good at once; waits until it
    is FAILED. Returns its id, or None."""
    tid = submit("--type", "fail", "--id", "%s-%d" % (name, secrets.randbelow(10 ** 9)),
                 "--params", '{"mode": "permanent", "message": "boom"}',
                 "--max-attempts", "1")
    if tid is None:
        return None
    ok, it = wait_item(tid, lambda d: d.get("status") == "FAILED", 30)
    check("%s-fails" % name, ok, "not FAILED: %s" % it)
    return tid if ok else None


def retried_state_ok(it, before, at_from, at_to):
    """What a retry to a time in [at_from, at_to] leaves; a reason or ""."""
    if it.get("status") != "PENDING" or it.get("attempts") != 0:
        return "status %s, attempts %s" % (it.get("status"), it.get("attempts"))
    if not at_from <= it.get("next_run", 0) <= at_to:
        return "next_run %s not in [%d, %d]" % (it.get("next_run"), at_from, at_to)
    if it.get("errors") != before.get("errors") or it.get("last_error") != "boom":
        return "errors not kept: %s" % it.get("errors")
    if outcomes(it) != outcomes(before) + ["retried"]:
        return "history %s, want %s + retried" % (outcomes(it), outcomes(before))
    if "ttl" in it or "finished_at" in it or it.get("gen", 0) <= before.get("gen", 0):
        return "ttl/finished_at left or gen not raised: %s" % it
    # In the due index, surfacing when its message may be lost (a grace and
    # the 15-minute horizon after it becomes visible), or a horizon before it
    # is due when it has none yet.
    due = (it["enqueued_for"] + GRACE_S * 1000 + 900000 if "enqueued_for" in it
           else it.get("next_run"))
    if it.get("due_at") != due:
        return "not in the due index: %s" % it
    return ""


def ran_again(tid):
    """Waits until the consumer has run a retried task again (FAILED with a
    second error and run). Returns a reason or ""."""
    ok, it = wait_item(tid, lambda d: d.get("status") == "FAILED" and
                       len(d.get("errors", [])) == 2, GRACE_S // 2)
    if not ok:
        return "not run again within %ds: %s" % (GRACE_S // 2, it)
    if outcomes(it)[-2:] != ["retried", "failed"]:
        return "history %s" % outcomes(it)
    return ""


class Api:
    def __init__(self, port):
        self.port = port

    def req(self, method, path, body=None, raw=None):
        h = {}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            h["Content-Type"] = "application/json"
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            text = r.read()
            status = r.status
        finally:
            c.close()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, {"unparsed": text[:200]}


def cli_checks():
    # A later time: nothing runs it meanwhile, so its state can be read.
    tid = submit_failing("cli")
    if tid is None:
        return
    before = item(tid)
    t0 = now_ms()
    st, out, err = tf("--json", "retry", "--at", "+1h", tid)
    t1 = now_ms()
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    it = item(tid)
    why = retried_state_ok(it, before, t0 + 3600000, t1 + 3600000)
    check("cli-retry-at", st == 0 and not why and doc.get("action") == "retry" and
          doc.get("status") == "PENDING" and doc.get("result") == "changed" and
          doc.get("enqueued") is False,
          "exit %d (%s), %s; output %s" % (st, err.strip(), why, out.strip()))

    # PENDING now: refused, unchanged.
    st, _, err = tf("retry", tid)
    check("cli-retry-pending-refused", st == 1 and "only FAILED tasks can be retried" in err and
          item(tid) == it, "exit %d: %s" % (st, err.strip()))

    # Now: the retry's message runs it, long before the sweeper would.
    tid2 = submit_failing("cli-now")
    if tid2 is not None:
        st, out, err = tf("retry", tid2)
        why = ran_again(tid2) if st == 0 else ""
        check("cli-retry-runs-again", st == 0 and "message sent" in out and not why,
              "exit %d (%s %s), %s" % (st, out.strip(), err.strip(), why))

    # A task that never failed: COMPLETED is refused too.
    done = submit("--type", "noop")
    ok, it = wait_item(done, lambda d: d.get("status") == "COMPLETED", 30) if done else (False, {})
    st, _, err = tf("retry", done or "x")
    check("cli-retry-completed-refused", ok and st == 1 and
          "COMPLETED; only FAILED tasks can be retried" in err and item(done) == it,
          "completed %s, exit %d: %s" % (ok, st, err.strip()))

    st1, _, err1 = tf("retry", "no-such-task-%d" % secrets.randbelow(10 ** 9))
    st2, _, err2 = tf("retry", "--at", "tomorrowish", tid)
    st3, out3, _ = tf("retry", "--help")
    check("cli-retry-usage", st1 == 3 and st2 == 2 and "--at:" in err2 and st3 == 0 and
          out3.startswith("usage: taskfleet retry"),
          "missing: %d %s; bad --at: %d %s; help: %d" % (st1, err1.strip(), st2,
                                                         err2.strip(), st3))


def api_checks(api):
    tid = submit_failing("api")
    if tid is None:
        return
    before = item(tid)
    t0 = now_ms()
    st, doc = api.req("POST", "/v1/tasks/%s/retry" % tid, {"at": "+2h"})
    t1 = now_ms()
    it = item(tid)
    why = retried_state_ok(it, before, t0 + 7200000, t1 + 7200000)
    check("api-retry-at", st == 200 and not why and doc.get("action") == "retry" and
          doc.get("status") == "PENDING" and doc.get("next_run") == it.get("next_run"),
          "%s %s; %s" % (st, doc, why))

    st, doc = api.req("POST", "/v1/tasks/%s/retry" % tid)
    check("api-retry-pending-409", st == 409 and doc["error"]["code"] == "conflict" and
          "only FAILED tasks can be retried" in doc["error"]["message"] and item(tid) == it,
          "%s %s" % (st, doc))

    bad = [api.req("POST", "/v1/tasks/%s/retry" % tid, {"at": 5}),
           api.req("POST", "/v1/tasks/%s/retry" % tid, {"when": "+1h"}),
           api.req("POST", "/v1/tasks/%s/retry" % tid, {"at": "soonish"}),
           api.req("POST", "/v1/tasks/%s/retry" % tid, raw=b"[1")]
    check("api-retry-bad-body-400", [s for s, _ in bad] == [400] * 4 and
          [d["error"]["code"] for _, d in bad] == ["invalid_field"] * 3 + ["invalid_json"] and
          item(tid) == it, "%s" % bad)

    tid2 = submit_failing("api-now")
    if tid2 is not None:
        st, doc = api.req("POST", "/v1/tasks/%s/retry" % tid2)
        why = ran_again(tid2) if st == 200 else ""
        check("api-retry-runs-again", st == 200 and doc.get("enqueued") is True and not why,
              "%s %s; %s" % (st, doc, why))


def patch_checks(api):
    # A recurring task, run once, waiting an hour for its next run.
    tid = submit("--type", "noop", "--every", "1h")
    if tid is None:
        return
    ok, it = wait_item(tid, lambda d: d.get("status") == "PENDING" and
                       d.get("iteration") == 1, 30)
    st, doc = api.req("PATCH", "/v1/tasks/" + tid, {"every": None, "next_run": "+1s"})
    patched = item(tid)
    done, last = wait_item(tid, lambda d: d.get("status") == "COMPLETED", 30)
    check("api-patch-every-null-one-shot", ok and st == 200 and "schedule" not in doc and
          "schedule" not in patched and "slot" not in patched and done and
          last.get("iteration") == 2,
          "ran once: %s; PATCH %s %s; afterwards %s" % (ok, st, doc, last))

    # A suspended cron task: cron null drops its schedule.
    tid = submit("--type", "noop", "--cron", "0 9 * * *", "--tz", "Europe/Berlin")
    st1 = tf("suspend", tid)[0] if tid else 1
    st, doc = api.req("PATCH", "/v1/tasks/%s" % tid, {"cron": None})
    it = item(tid) if tid else {}
    check("api-patch-cron-null", st1 == 0 and st == 200 and "schedule" not in it and
          it.get("status") == "SUSPENDED", "suspend %d; PATCH %s %s; %s" % (st1, st, doc, it))

    # A one-shot due in a second becomes recurring from that time.
    tid = submit("--type", "noop", "--at", "+3s")
    st, doc = api.req("PATCH", "/v1/tasks/%s" % tid, {"every": "1s", "max_runs": 3})
    done, last = wait_item(tid, lambda d: d.get("status") == "COMPLETED", 40) if tid else (False, {})
    check("api-patch-every-on-one-shot", st == 200 and doc.get("schedule", {}).get("every") == "1s" and
          done and last.get("iteration") == 3, "PATCH %s %s; afterwards %s" % (st, doc, last))

    # cron on a one-shot due in three days: its first slot at or after that
    # time (09:00 UTC on that day or the next), not tomorrow's.
    tid = submit("--type", "noop", "--at", "+3d")
    target = item(tid).get("next_run", 0) if tid else 0
    st, doc = api.req("PATCH", "/v1/tasks/%s" % tid, {"cron": "0 9 * * *"})
    day = 86400000
    want = target - target % day + 9 * 3600000
    if want < target:
        want += day
    it = item(tid) if tid else {}
    check("api-patch-cron-on-one-shot-from-its-time", st == 200 and
          it.get("next_run") == want and it.get("schedule", {}).get("cron") == "0 9 * * *",
          "target %d, want %d; PATCH %s %s; %s" % (target, want, st, doc, it))

    tid = submit("--type", "noop", "--at", "+1h", "--every", "1h")
    before = item(tid) if tid else {}
    bad = [api.req("PATCH", "/v1/tasks/%s" % tid, {"every": None, "tz": "UTC"}),
           api.req("PATCH", "/v1/tasks/%s" % tid, {"every": "1m", "cron": "* * * * *"}),
           api.req("PATCH", "/v1/tasks/%s" % tid, {"every": 5})]
    check("api-patch-schedule-400", [s for s, _ in bad] == [400] * 3 and
          "every or cron null" in bad[0][1]["error"]["message"] and item(tid) == before,
          "%s" % bad)


def edit_checks():
    # `taskfleet edit --once`: a recurring task's next run is its last.
    tid = submit("--type", "noop", "--every", "1h")
    if tid is None:
        return
    ok, it = wait_item(tid, lambda d: d.get("status") == "PENDING" and
                       d.get("iteration") == 1, 30)
    st, out, err = tf("edit", "--once", "--at", "+1s", tid)
    patched = item(tid)
    done, last = wait_item(tid, lambda d: d.get("status") == "COMPLETED", 30)
    check("cli-edit-once", ok and st == 0 and "schedule" not in patched and done and
          last.get("iteration") == 2, "ran once: %s; edit exit %d (%s %s); afterwards %s" %
          (ok, st, out.strip(), err.strip(), last))

    # `taskfleet edit --every` on a one-shot: recurring from its next run.
    tid = submit("--type", "noop", "--at", "+3s")
    st, out, err = tf("--json", "edit", "--every", "1s", "--max-runs", "2", tid)
    done, last = wait_item(tid, lambda d: d.get("status") == "COMPLETED", 40) if tid else (False, {})
    check("cli-edit-every-on-one-shot", st == 0 and '"every":"1s"' in out.replace(" ", "") and
          done and last.get("iteration") == 2,
          "edit exit %d (%s %s); afterwards %s" % (st, out.strip(), err.strip(), last))

    tid = submit("--type", "noop", "--at", "+1h", "--every", "1h")
    before = item(tid) if tid else {}
    bad = [tf("edit", "--once", "--every", "1m", tid), tf("edit", "--tz", "UTC", tid),
           tf("edit", "--every", "1m", "--cron", "* * * * *", tid),
           tf("edit", "--every", "soon", tid)]
    check("cli-edit-schedule-usage", [b[0] for b in bad] == [2] * 4 and
          "--once leaves no schedule" in bad[0][2] and "--tz" in bad[1][2] and
          "--every" in bad[3][2] and item(tid) == before,
          "%s" % [(b[0], b[2].strip()) for b in bad])


def main():
    os.makedirs(OUT, exist_ok=True)
    tftest.require_loopback_standins(REPORT)
    if not os.access(TF, os.X_OK) or not os.access(CONSUMER, os.X_OK):
        REPORT.setup_fail("%s or %s is missing (run make)" % (TF, CONSUMER))
    name = "tf-retry-%d-%d" % (os.getpid(), secrets.randbelow(100000))
    ENV.update(os.environ)
    for v in ("TASKFLEET_QUEUE_URL", "TASKFLEET_LOG", "TASKFLEET_API_KEYS",
              "TASKFLEET_HORIZON", "TASKFLEET_HISTORY"):
        ENV.pop(v, None)
    ENV.update(TASKFLEET_TABLE=name, TASKFLEET_QUEUE=name, AWS_EC2_METADATA_DISABLED="true",
               TASKFLEET_RUNNERS=os.path.join(BUILD, "runners"),
               TASKFLEET_SWEEP_GRACE="%ds" % GRACE_S, TASKFLEET_API_RATE="off")
    st, _, err = tf("init")
    if st != 0:
        REPORT.setup_fail("taskfleet init: " + err.strip())
    log = open(os.path.join(OUT, "consumer.log"), "w")
    procs.append(subprocess.Popen([CONSUMER, "--id", "retry-c1", "--wait-time", "1"],
                                  env=ENV, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL))
    port = tftest.start_serve(TF, ENV, os.path.join(OUT, "serve.log"), procs)
    if port is None:
        REPORT.setup_fail("taskfleet serve did not start (log in %s)" % OUT)
    api = Api(port)
    try:
        cli_checks()
        api_checks(api)
        patch_checks(api)
        edit_checks()
    finally:
        tftest.stop_all(procs)
    for what, p in zip(("consumer", "serve"), procs):
        check("%s-exit-0" % what, p.returncode == 0,
              "exit status %s (logs in %s)" % (p.returncode, OUT))


if __name__ == "__main__":
    main()
    sys.exit(1 if REPORT.failed else 0)
