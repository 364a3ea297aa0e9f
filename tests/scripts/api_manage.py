#!/usr/bin/env python3
"""api_manage.py - the operator's actions of the REST API beyond one task
(GitHub issue 25, item 2), end to end against the local stand-ins:

  - GET /v1/due, the due tasks' dry run: the tasks due now with their
    message state, the most overdue first, not the task due later nor the
    suspended one; ns filters; limit and "more"; the same ids in the same
    order as `taskfleet due --json` (they share its code) and the same
    fields; nothing changed by it; 400 for a bad limit, ns or parameter; a
    key limited to some namespaces must give ns (403 without, 403 for
    another); read scope is enough;
  - DELETE /v1/namespaces/{ns}?confirm={ns}: without confirm or with
    another name a 400 that deletes nothing; a read key or a key of other
    namespaces 403; then 200 {"ns", "deleted"} with the count, the
    namespace empty and the others untouched; a bad or too long name 400;
    other methods 405 with Allow: DELETE;
  - GET /v1/namespaces: every namespace by name with its tasks and whether
    it is paused (a paused one with no task too), the items without one; a key limited to some namespaces sees those only; 400 for
    a query, 405 for other methods; empty once every namespace is cleared;
  - POST /v1/namespaces/{ns}/pause and /resume: {"ns", "paused"} (resume:
    also "resumed", "failed"), the same paused set `taskfleet pause` lists;
    a read key or a key of other namespaces 403; a bad name 400; other
    methods 405 with Allow: POST (the consumers' side of a pause is
    engine_ns_pause.sh's);
  - the routes in producer/openapi.json with these methods.

Talks only to 127.0.0.1. Prints "PASS api_manage/name" or "FAIL
api_manage/name: why"; exits 1 on any failure.
"""
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the tree
import tftest  # noqa: E402
import api as api_test  # noqa: E402
from api import Api, start, procs, code_of, TF, BUILD  # noqa: E402

OUT = os.path.join(os.path.dirname(api_test.OUT), "api_manage")
api_test.OUT = OUT  # start() writes serve's log there
REPORT = tftest.Report("api_manage")
check = REPORT.check


def cli_due(env, *args):
    """`taskfleet due --json` lines as dicts, or None."""
    r = subprocess.run([TF, "due", "--json"] + list(args), env=env, capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]


def wait_for(pred, seconds=20):
    """Polls pred() until it is true or seconds pass; returns its last value."""
    deadline = time.time() + seconds
    v = pred()
    while not v and time.time() < deadline:
        time.sleep(0.2)
        v = pred()
    return v


def due_checks(api, kr, ka, env, ids):
    """GET /v1/due against what was submitted: ids by namespace."""
    a_ids, b_ids = ids["teamA"], ids["teamB"]
    ok = lambda: api.req("GET", "/v1/due?ns=teamA", key=kr)  # noqa: E731
    # The tasks were due when submitted; the by_ns index may lag (polled).
    st, _, d = wait_for(lambda: (lambda r: r if r[0] == 200 and
                                 {t["id"] for t in r[2]["tasks"]} >= set(a_ids) else None)(ok())) or ok()
    got = [t["id"] for t in (d or {}).get("tasks", [])]
    check("due-lists-due-tasks", st == 200 and set(got) == set(a_ids), "%s %s, want %s" % (st, d, a_ids))
    t0 = (d or {}).get("tasks", [{}])[0] if got else {}
    check("due-fields", st == 200 and d.get("more") is False and isinstance(d.get("now"), int)
          and set(t0) == {"id", "ns", "next_run", "overdue_ms", "gen", "enqueued_for", "message"}
          and t0.get("ns") == "teamA" and t0.get("message") == "sent" and t0.get("overdue_ms", -1) >= 0
          and t0.get("enqueued_for", 0) > 0 and t0.get("overdue_ms") == d["now"] - t0.get("next_run", 0),
          "%s" % d)
    runs = [t["next_run"] for t in d.get("tasks", [])] if st == 200 else []
    check("due-most-overdue-first", runs == sorted(runs), runs)
    # The same tasks, in the same order, as the CLI's dry run.
    lines = cli_due(env, "--ns", "teamA")
    check("due-same-as-cli", lines is not None and [x["id"] for x in lines] == got
          and all(set(x) == set(t) for x, t in zip(lines, d["tasks"])),
          "cli %s, api %s" % (lines and [x["id"] for x in lines], got))
    st, _, d = api.req("GET", "/v1/due", key=kr)
    allg = [t["id"] for t in (d or {}).get("tasks", [])]
    check("due-all-namespaces", st == 200 and set(a_ids + b_ids) <= set(allg)
          and ids["later"] not in allg and ids["suspended"] not in allg,
          "%s %s (want %s and %s; not %s, %s)" % (st, allg, a_ids, b_ids, ids["later"], ids["suspended"]))
    st, _, d = api.req("GET", "/v1/due?ns=teamA&limit=1", key=kr)
    check("due-limit-and-more", st == 200 and len(d["tasks"]) == 1 and d["more"] is True
          and d["tasks"][0]["id"] == got[0], "%s %s" % (st, d))
    bad = []
    for q in ("limit=0", "limit=1000", "limit=x", "ns=bad%20ns", "status=PENDING", "ns=teamA&ns=teamA"):
        st, _, d = api.req("GET", "/v1/due?" + q, key=kr)
        if st != 400 or code_of(d) != "invalid_field":
            bad.append("%s: %s %s" % (q, st, code_of(d)))
    check("due-bad-query-400", not bad, "; ".join(bad))
    st1, _, d1 = api.req("GET", "/v1/due", key=ka)
    st2, _, d2 = api.req("GET", "/v1/due?ns=teamB", key=ka)
    st3, _, d3 = api.req("GET", "/v1/due?ns=teamA", key=ka)
    check("due-namespaced-key", st1 == 403 and code_of(d1) == "forbidden" and st2 == 403
          and st3 == 200 and {t["id"] for t in d3["tasks"]} == set(a_ids),
          "no ns %s, other ns %s, own ns %s %s" % (st1, st2, st3, d3))
    st, _, d = api.req("GET", "/v1/tasks/%s" % a_ids[0], key=kr)
    check("due-changes-nothing", st == 200 and d.get("status") == "PENDING" and d.get("gen") == t0.get("gen"),
          "%s %s" % (st, d))


def namespaces_checks(api, kr, ka, ids):
    """GET /v1/namespaces, before anything is cleared."""
    want = [{"ns": "teamA", "tasks": len(ids["teamA"]) + 1, "paused": False},
            {"ns": "teamB", "tasks": len(ids["teamB"]), "paused": False}]
    st, _, d = api.req("GET", "/v1/namespaces", key=kr)
    check("namespaces-listed-with-counts", st == 200 and d == {"namespaces": want, "without_ns": 0},
          "%s %s, want %s" % (st, d, want))
    st, _, d = api.req("GET", "/v1/namespaces", key=ka)
    check("namespaces-limited-key-sees-its-own", st == 200 and d == {"namespaces": want[:1], "without_ns": None},
          "%s %s" % (st, d))
    st1, _, d1 = api.req("GET", "/v1/namespaces?ns=teamA", key=kr)
    st2, hd, _ = api.req("POST", "/v1/namespaces", body={}, key=kr)
    check("namespaces-bad-requests", st1 == 400 and code_of(d1) == "invalid_field" and st2 == 405
          and hd.get("allow") == "GET", "query %s %s, POST %s allow %s" % (st1, code_of(d1), st2, hd.get("allow")))


def clear_checks(api, kr, ka, ids):
    """DELETE /v1/namespaces/{ns} on teamB."""
    b_ids = ids["teamB"]
    count = lambda ns: len(api.req("GET", "/v1/tasks?ns=%s" % ns)[2].get("tasks", []))  # noqa: E731
    before = count("teamB")
    res = [api.req("DELETE", "/v1/namespaces/teamB"),
           api.req("DELETE", "/v1/namespaces/teamB?confirm=teamA"),
           api.req("DELETE", "/v1/namespaces/teamB?confirm=teamB&confirm=teamB"),
           api.req("DELETE", "/v1/namespaces/teamB?confirm=teamB&yes=1")]
    check("clear-needs-confirm", all(st == 400 and code_of(d) == "invalid_field" for st, _, d in res)
          and "confirm" in res[0][2]["error"]["message"] and count("teamB") == before == len(b_ids),
          "%s; tasks %s then %s" % ([(st, code_of(d)) for st, _, d in res], before, count("teamB")))
    st1, _, d1 = api.req("DELETE", "/v1/namespaces/teamB?confirm=teamB", key=kr)
    st2, _, d2 = api.req("DELETE", "/v1/namespaces/teamB?confirm=teamB", key=ka)
    st3, _, _ = api.req("DELETE", "/v1/namespaces/teamB?confirm=teamB", key=None)
    check("clear-scope-and-namespace", st1 == 403 and st2 == 403 and code_of(d2) == "forbidden" and st3 == 401
          and count("teamB") == len(b_ids), "read key %s, teamA key %s, no key %s" % (st1, st2, st3))
    bad = []
    for path in ("/v1/namespaces/bad%20ns?confirm=bad%20ns", "/v1/namespaces/" + "n" * 65 + "?confirm=x"):
        st, _, d = api.req("DELETE", path)
        if st != 400 or code_of(d) != "invalid_field":
            bad.append("%s: %s %s" % (path[:40], st, code_of(d)))
    st, hd, _ = api.req("GET", "/v1/namespaces/teamB")
    if st != 405 or hd.get("allow") != "DELETE":
        bad.append("GET: %s allow %s" % (st, hd.get("allow")))
    st, _, d = api.req("DELETE", "/v1/namespaces/teamB/x?confirm=teamB")
    if st != 404 or code_of(d) != "no_route":
        bad.append("deeper path: %s %s" % (st, code_of(d)))
    check("clear-bad-requests", not bad, "; ".join(bad))
    a_before = count("teamA")
    st, _, d = api.req("DELETE", "/v1/namespaces/teamB?confirm=teamB")
    check("clear-deletes-namespace", st == 200 and d == {"ns": "teamB", "deleted": len(b_ids)}
          and count("teamB") == 0 and all(api.req("GET", "/v1/tasks/%s" % t)[0] == 404 for t in b_ids),
          "%s %s; left %s" % (st, d, count("teamB")))
    check("clear-leaves-other-namespaces", count("teamA") == a_before == len(ids["teamA"]) + 1,
          "teamA had %s, now %s" % (a_before, count("teamA")))
    st, _, d = api.req("DELETE", "/v1/namespaces/teamA?confirm=teamA", key=ka)
    check("clear-namespaced-write-key", st == 200 and d == {"ns": "teamA", "deleted": a_before}, "%s %s" % (st, d))


def pause_checks(api, kr, ka, env):
    """POST /v1/namespaces/{ns}/pause and /resume (no consumer runs here)."""
    def listed():
        r = subprocess.run([TF, "pause", "--json"], env=env, capture_output=True, text=True)
        return json.loads(r.stdout).get("paused") if r.returncode == 0 else r.stderr
    st, _, d = api.req("POST", "/v1/namespaces/teamA/pause", body={})
    check("pause-namespace", st == 200 and d == {"ns": "teamA", "paused": True} and listed() == ["teamA"],
          "%s %s; listed %s" % (st, d, listed()))
    st1, _, _ = api.req("POST", "/v1/namespaces/teamB/pause", body={}, key=kr)
    st2, _, d2 = api.req("POST", "/v1/namespaces/teamB/pause", body={}, key=ka)
    st3, _, d3 = api.req("POST", "/v1/namespaces/bad%20ns/pause", body={})
    st4, hd, _ = api.req("GET", "/v1/namespaces/teamA/pause")
    check("pause-scope-and-bad-requests", st1 == 403 and st2 == 403 and code_of(d2) == "forbidden"
          and st3 == 400 and code_of(d3) == "invalid_field" and st4 == 405 and hd.get("allow") == "POST"
          and listed() == ["teamA"],
          "%s %s %s %s %s; listed %s" % (st1, st2, st3, st4, hd.get("allow"), listed()))
    # The listing says which namespaces are paused, an empty one too.
    st1, _, _ = api.req("POST", "/v1/namespaces/spare/pause", body={})
    st2, _, d2 = api.req("GET", "/v1/namespaces", key=kr)
    st3, _, d3 = api.req("GET", "/v1/namespaces", key=ka)
    st4, _, _ = api.req("POST", "/v1/namespaces/spare/resume", body={})
    flags = {n["ns"]: (n["tasks"], n["paused"]) for n in (d2 or {}).get("namespaces", [])}
    check("namespaces-list-paused", st1 == st2 == st3 == st4 == 200 and flags.get("spare") == (0, True)
          and flags.get("teamA", (0, None))[1] is True
          and [n["ns"] for n in d3["namespaces"]] == ["teamA"],
          "%s %s %s %s; listed %s; teamA key sees %s" % (st1, st2, st3, st4, flags, d3))
    st, _, d = api.req("POST", "/v1/namespaces/teamA/resume", body={}, key=ka)
    check("resume-namespace", st == 200 and d == {"ns": "teamA", "paused": False, "resumed": 0, "failed": 0}
          and listed() == [], "%s %s; listed %s" % (st, d, listed()))


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.access(TF, os.X_OK):
        REPORT.setup_fail("%s is missing (run make)" % TF)
    tftest.require_loopback_standins(REPORT)
    name = "tf-apim-%d-%d" % (os.getpid(), secrets.randbelow(100000))
    env = dict(os.environ)
    for v in ("TASKFLEET_QUEUE_URL", "TASKFLEET_LOG", "TASKFLEET_API_KEYS", "TASKFLEET_API_RATE"):
        env.pop(v, None)
    env.update(TASKFLEET_TABLE=name, TASKFLEET_QUEUE=name, TASKFLEET_RUNNERS=os.path.join(BUILD, "runners"))
    r = subprocess.run([TF, "init"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        REPORT.setup_fail("init: " + r.stderr.strip())
    kw, kr, ka = (secrets.token_urlsafe(24) for _ in range(3))
    h = lambda k: hashlib.sha256(k.encode()).hexdigest()  # noqa: E731
    senv = dict(env, TASKFLEET_API_RATE="off",
                TASKFLEET_API_KEYS="%s:write:*,%s:read:*,%s:write:teamA" % (h(kw), h(kr), h(ka)))
    _, port = start(senv, "--listen", "127.0.0.1:0")
    if port is None:
        REPORT.setup_fail("serve did not start (log in %s)" % OUT)
    api = Api(port, kw)

    with open(os.path.join(ROOT, "producer", "openapi.json")) as f:
        paths = json.load(f)["paths"]
    want = {"/v1/due": {"get"}, "/v1/namespaces": {"get"}, "/v1/namespaces/{ns}": {"delete"},
            "/v1/namespaces/{ns}/pause": {"post"}, "/v1/namespaces/{ns}/resume": {"post"}}
    check("openapi-documents-routes", all(set(paths.get(p, {})) & {"get", "post", "delete", "patch"} == m
                                          for p, m in want.items()),
          {p: list(paths.get(p, {})) for p in want})

    ids = {"teamA": [], "teamB": []}
    for ns, n in (("teamA", 3), ("teamB", 2)):
        for i in range(n):
            st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "ns": ns, "id": "%s-due-%d" % (ns, i)})
            ids[ns].append((d or {}).get("id"))
            time.sleep(0.01)  # distinct next_run, so the order is defined
    st1, _, d1 = api.req("POST", "/v1/tasks", {"type": "noop", "ns": "teamA", "id": "later", "at": "+1h"})
    st2, _, d2 = api.req("POST", "/v1/tasks", {"type": "noop", "ns": "teamB", "id": "held"})
    st3, _, _ = api.req("POST", "/v1/tasks/held/suspend")
    ids["later"], ids["suspended"] = "later", "held"
    ids["teamB"].append("held")  # in teamB (cleared with it), never due
    if not all(ids["teamA"] + ids["teamB"]) or (st1, st2, st3) != (201, 201, 200):
        REPORT.setup_fail("submitting: %s %s %s %s" % (ids, st1, st2, st3))
    due_checks(api, kr, ka, env, {"teamA": ids["teamA"], "teamB": ids["teamB"][:-1],
                                  "later": "later", "suspended": "held"})
    namespaces_checks(api, kr, ka, ids)
    pause_checks(api, kr, ka, env)
    clear_checks(api, kr, ka, ids)
    st, _, d = api.req("GET", "/v1/namespaces", key=kr)
    check("namespaces-empty-after-clear", st == 200 and d == {"namespaces": [], "without_ns": 0}, "%s %s" % (st, d))


try:
    main()
finally:
    tftest.stop_all(procs)
sys.exit(1 if REPORT.failed else 0)
