#!/usr/bin/env python3
"""api_ops.py - the operator's actions of the REST API that issue 25 item 2
adds beyond api_manage.py's, end to end against the local stand-ins:

  - GET /v1/dlq: the dead-letter queue's messages with their task ids, the
    verdict (the reason: live, missing, malformed with its parse error),
    the task's namespace and receive counts, the same messages as
    `taskfleet dlq list --json` (they share lib/task/dlq.c); the depth;
    limit and limit_reached; every message visible again afterwards; a key
    limited to some namespaces sees only its own (no malformed body, no
    missing task, no depth); 400 for a bad query, 405 for other methods;
  - POST /v1/dlq/redrive: the dry run moves nothing; a read key 403; a
    limited key moves (and sees) only its namespace's messages; one message
    by message_id, one task's by task; all of them (include_malformed);
    the queue then holds the bodies and the dead-letter queue is empty; 400
    for bad parameters, 405 for GET;
  - GET /v1/tasks?ns=*: every namespace's tasks, paginated (each task once
    over the pages), with the status filter; 403 for a key limited to some
    namespaces, 200 for a read key of all; a token of ns=* is refused by a
    one-namespace listing;
  - GET /v1/stats?history=1: with TASKFLEET_API_STATS_EVERY=1s the samples
    grow, their counts follow the tasks and the depths the queues; 400 with
    ns or a bad value; 403 for a limited key; null when sampling is off;
  - the routes in producer/openapi.json with these methods.

Talks only to 127.0.0.1. Prints "PASS api_ops/name" or "FAIL
api_ops/name: why"; exits 1 on any failure.
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
import tfcheck  # noqa: E402
import api as api_test  # noqa: E402
from api import Api, start, procs, code_of, TF  # noqa: E402

OUT = os.path.join(os.path.dirname(api_test.OUT), "api_ops")
api_test.OUT = OUT  # start() writes serve's log there
REPORT = tftest.Report("api_ops")
check = REPORT.check
wait_for = tftest.wait_for


def dlq_depth(sqs, url):
    """Visible messages of the queue at url (botocore)."""
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(a["Attributes"]["ApproximateNumberOfMessages"])


def cli_dlq_list(env):
    r = subprocess.run([TF, "--json", "dlq", "list"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]


def dlq_checks(api, keys, env, sqs, dlq_url, ids):
    """GET /v1/dlq and POST /v1/dlq/redrive. ids: task ids by namespace."""
    kw, kr, ka = keys["write"], keys["read"], keys["teamA"]
    st, _, d = api.req("GET", "/v1/dlq", key=kr)
    msgs = (d or {}).get("messages", [])
    by_task = {m.get("task_id"): m for m in msgs}
    want = set(ids["teamA"] + ids["teamB"] + ["gone-1", None])
    check("dlq-list-all", st == 200 and len(msgs) == 5 and set(by_task) == want and d.get("depth") == 5
          and d.get("limit_reached") is False, "%s %s" % (st, d))
    a0 = by_task.get(ids["teamA"][0], {})
    bad = by_task.get(None, {})
    check("dlq-list-fields", a0.get("ns") == "teamA" and a0.get("verdict") == "live"
          and a0.get("status") == "PENDING" and isinstance(a0.get("receive_count"), int)
          and by_task.get("gone-1", {}).get("verdict") == "missing" and by_task.get("gone-1", {}).get("ns") is None
          and bad.get("malformed") is True and bad.get("verdict") == "malformed" and "error" in bad
          and bad.get("excerpt", "").startswith("not json"), msgs)
    lines = cli_dlq_list(env)
    strip = lambda m: {k: v for k, v in m.items() if k not in ("receive_count", "first_receive")}  # noqa: E731
    check("dlq-list-same-as-cli", lines is not None and
          sorted(json.dumps(strip(m), sort_keys=True) for m in lines) ==
          sorted(json.dumps(strip(m), sort_keys=True) for m in msgs),
          "cli %s\napi %s" % (lines, msgs))
    st2, _, d2 = api.req("GET", "/v1/dlq", key=kr)
    rc2 = {m["message_id"]: m["receive_count"] for m in (d2 or {}).get("messages", [])}
    check("dlq-list-receive-counts-grow", st2 == 200 and all(
        rc2.get(m["message_id"], -1) > m["receive_count"] for m in msgs) and len(rc2) == 5,
        "before %s after %s" % ({m["message_id"]: m["receive_count"] for m in msgs}, rc2))
    check("dlq-list-leaves-messages-visible", wait_for(lambda: dlq_depth(sqs, dlq_url) == 5, 20),
          "depth %s" % dlq_depth(sqs, dlq_url))
    st, _, d = api.req("GET", "/v1/dlq?limit=2", key=kr)
    check("dlq-list-limit", st == 200 and len(d.get("messages", [])) == 2 and d.get("limit_reached") is True,
          "%s %s" % (st, d))
    wait_for(lambda: dlq_depth(sqs, dlq_url) == 5, 20)
    st, _, d = api.req("GET", "/v1/dlq", key=ka)
    got = sorted((str(m.get("task_id")) for m in (d or {}).get("messages", [])))
    check("dlq-list-limited-key-sees-its-own", st == 200 and got == sorted(ids["teamA"])
          and d.get("depth") is None and all(m.get("ns") == "teamA" for m in d["messages"]),
          "%s %s" % (st, d))
    wait_for(lambda: dlq_depth(sqs, dlq_url) == 5, 20)
    bad = []
    for q in ("limit=0", "limit=1001", "limit=x", "ns=teamA", "limit=1&limit=2"):
        st, _, d = api.req("GET", "/v1/dlq?" + q, key=kr)
        if st != 400 or code_of(d) != "invalid_field":
            bad.append("%s: %s %s" % (q, st, code_of(d)))
    st, hd, _ = api.req("DELETE", "/v1/dlq", key=kw)
    if st != 405 or hd.get("allow") != "GET":
        bad.append("DELETE: %s allow %s" % (st, hd.get("allow")))
    st, hd, _ = api.req("GET", "/v1/dlq/redrive", key=kw)
    if st != 405 or hd.get("allow") != "POST":
        bad.append("GET redrive: %s allow %s" % (st, hd.get("allow")))
    for q in ("dry_run=maybe", "limit=0", "limit=10001", "task=a%20b", "task=x&include_malformed=true",
              "message_id=", "what=1"):
        st, _, d = api.req("POST", "/v1/dlq/redrive?" + q, key=kw)
        if st != 400 or code_of(d) != "invalid_field":
            bad.append("redrive %s: %s %s" % (q, st, code_of(d)))
    check("dlq-bad-requests", not bad, "; ".join(bad))

    # Redrive: the dry run, scopes, one, a task's, all.
    wait_for(lambda: dlq_depth(sqs, dlq_url) == 5, 20)
    st, _, d = api.req("POST", "/v1/dlq/redrive?dry_run=true", key=kw)
    check("redrive-dry-run", st == 200 and d.get("dry_run") is True and d.get("would_move") == 4
          and d.get("moved") == 0 and d.get("skipped") == 1
          and wait_for(lambda: dlq_depth(sqs, dlq_url) == 5, 20), "%s %s" % (st, d))
    st1, _, d1 = api.req("POST", "/v1/dlq/redrive?dry_run=true", key=kr)
    st2, _, _ = api.req("POST", "/v1/dlq/redrive", key=None)
    check("redrive-read-key-403", st1 == 403 and code_of(d1) == "forbidden" and st2 == 401,
          "read key %s, no key %s" % (st1, st2))
    wait_for(lambda: dlq_depth(sqs, dlq_url) == 5, 20)
    st, _, d = api.req("POST", "/v1/dlq/redrive?dry_run=true", key=ka)
    seen = sorted(str(m.get("task_id")) for m in (d or {}).get("messages", []))
    check("redrive-limited-key-dry-run", st == 200 and d.get("would_move") == 2 and seen == sorted(ids["teamA"])
          and d.get("skipped") == 0 and d.get("other_task") == 0, "%s %s" % (st, d))
    wait_for(lambda: dlq_depth(sqs, dlq_url) == 5, 20)
    b_msg = next(m["message_id"] for m in msgs if m.get("task_id") == ids["teamB"][0])
    st, _, d = api.req("POST", "/v1/dlq/redrive?message_id=%s" % b_msg, key=ka)
    check("redrive-limited-key-other-namespace", st == 200 and d.get("moved") == 0 and d.get("messages") == []
          and wait_for(lambda: dlq_depth(sqs, dlq_url) == 5, 20), "%s %s" % (st, d))
    a_msg = next(m["message_id"] for m in msgs if m.get("task_id") == ids["teamA"][0])
    st, _, d = api.req("POST", "/v1/dlq/redrive?message_id=%s" % a_msg, key=kw)
    check("redrive-one-message", st == 200 and d.get("moved") == 1
          and [m.get("message_id") for m in d.get("messages", [])] == [a_msg]
          and d["messages"][0].get("action") == "moved"
          and wait_for(lambda: dlq_depth(sqs, dlq_url) == 4, 20), "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/dlq/redrive", key=ka)
    check("redrive-limited-key-moves-its-own", st == 200 and d.get("moved") == 1
          and [m.get("task_id") for m in d.get("messages", [])] == [ids["teamA"][1]]
          and wait_for(lambda: dlq_depth(sqs, dlq_url) == 3, 20), "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/dlq/redrive?task=%s" % ids["teamB"][0], key=kw)
    check("redrive-one-task", st == 200 and d.get("moved") == 1 and d.get("other_task") == 2
          and wait_for(lambda: dlq_depth(sqs, dlq_url) == 2, 20), "%s %s" % (st, d))
    st, _, d = api.req("POST", "/v1/dlq/redrive?include_malformed=true", key=kw)
    check("redrive-all", st == 200 and d.get("moved") == 2 and d.get("limit_reached") is False
          and wait_for(lambda: dlq_depth(sqs, dlq_url) == 0, 20), "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/dlq", key=kr)
    check("dlq-empty-after-redrive", st == 200 and d.get("messages") == [], "%s %s" % (st, d))


def list_all_checks(api, keys, ids):
    """GET /v1/tasks?ns=*."""
    kr, ka = keys["read"], keys["teamA"]
    every = set(ids["teamA"] + ids["teamB"] + ids["other"])
    got, pages, token, dup = [], 0, None, False
    while pages < 20:
        st, _, d = api.req("GET", "/v1/tasks?ns=*&limit=2" + ("&next=" + token if token else ""), key=kr)
        if st != 200:
            break
        pages += 1
        for t in d.get("tasks", []):
            dup = dup or t["id"] in got
            got.append(t["id"])
        token = d.get("next")
        if not token:
            break
    check("list-all-namespaces-paginated", st == 200 and set(got) == every and not dup and pages >= 3
          and all(len(x) > 0 for x in [got]), "%s: %d pages, %s (want %s)" % (st, pages, got, sorted(every)))
    st, _, d = api.req("GET", "/v1/tasks?ns=*&status=SUSPENDED", key=kr)
    check("list-all-namespaces-status-filter", st == 200 and [t["id"] for t in d.get("tasks", [])] == ["held"],
          "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks?ns=*", key=ka)
    check("list-all-namespaces-limited-key-403", st == 403 and code_of(d) == "forbidden"
          and "ns=*" in d["error"]["message"], "%s %s" % (st, d))
    st, _, d = api.req("GET", "/v1/tasks?ns=*&limit=1", key=kr)
    tok = (d or {}).get("next")
    st2, _, d2 = api.req("GET", "/v1/tasks?ns=nomatch&next=%s" % tok, key=kr)
    check("list-all-token-not-for-one-namespace", st == 200 and tok and st2 == 400
          and code_of(d2) == "invalid_field", "%s %s; %s %s" % (st, tok, st2, d2))


def history_checks(api, keys, port_off, env, sqs, queue_url):
    """GET /v1/stats?history=1 with TASKFLEET_API_STATS_EVERY=1s."""
    kr, ka = keys["read"], keys["teamA"]

    def samples():
        st, _, d = api.req("GET", "/v1/stats?history=1", key=kr)
        return d.get("history", {}).get("samples", []) if st == 200 and d.get("history") else []
    s = wait_for(lambda: (lambda v: v if len(v) >= 2 else None)(samples()), 20) or samples()
    last = s[-1] if s else {}
    st, _, now = api.req("GET", "/v1/stats", key=kr)
    check("history-samples-every-interval", len(s) >= 2 and all(b["t"] > a["t"] for a, b in zip(s, s[1:]))
          and set(last) == {"t", "tasks", "total", "queue", "dlq"} and last.get("dlq") is not None
          and last["tasks"].get("PENDING") == now["tasks"]["PENDING"] and last["total"] == now["tasks"]["total"],
          "%s; now %s" % (s[-3:], now))
    before = last.get("total", 0)
    for i in range(3):
        api.req("POST", "/v1/tasks", {"type": "noop", "ns": "teamC", "id": "hist-%d" % i})
    s = wait_for(lambda: (lambda v: v if v and v[-1]["total"] == before + 3 else None)(samples()), 20) or samples()
    check("history-follows-the-tasks", s and s[-1]["total"] == before + 3
          and s[-1]["queue"]["visible"] + s[-1]["queue"]["delayed"] >= 3,
          "before %s, then %s" % (before, s[-2:]))
    st1, _, d1 = api.req("GET", "/v1/stats?history=1&ns=teamA", key=kr)
    st2, _, d2 = api.req("GET", "/v1/stats?history=maybe", key=kr)
    st3, _, d3 = api.req("GET", "/v1/stats?history=1", key=ka)
    st4, _, d4 = api.req("GET", "/v1/stats", key=kr)
    check("history-bad-requests", st1 == 400 and st2 == 400 and code_of(d2) == "invalid_field"
          and st3 == 403 and st4 == 200 and "history" not in d4,
          "%s %s %s %s" % (st1, st2, st3, d4 and list(d4)))
    st, _, d = Api(port_off).req("GET", "/v1/stats?history=1", key=None)
    check("history-off", st == 200 and d.get("history") is None and "history" in d, "%s %s" % (st, d))


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.access(TF, os.X_OK):
        REPORT.setup_fail("%s is missing (run make)" % TF)
    tftest.require_loopback_standins(REPORT)
    name = "tf-apio-%d-%d" % (os.getpid(), secrets.randbelow(100000))
    env = dict(os.environ)
    for v in ("TASKFLEET_QUEUE_URL", "TASKFLEET_LOG", "TASKFLEET_API_KEYS", "TASKFLEET_API_RATE",
              "TASKFLEET_API_STATS_EVERY"):
        env.pop(v, None)
    env.update(TASKFLEET_TABLE=name, TASKFLEET_QUEUE=name, TASKFLEET_RUNNERS=os.path.join(api_test.BUILD, "runners"))
    r = subprocess.run([TF, "init"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        REPORT.setup_fail("init: " + r.stderr.strip())
    keys = {k: secrets.token_urlsafe(24) for k in ("write", "read", "teamA")}
    h = lambda k: hashlib.sha256(k.encode()).hexdigest()  # noqa: E731
    senv = dict(env, TASKFLEET_API_RATE="off", TASKFLEET_API_STATS_EVERY="1s",
                TASKFLEET_API_KEYS="%s:write:*,%s:read:*,%s:write:teamA" % (
                    h(keys["write"]), h(keys["read"]), h(keys["teamA"])))
    _, port = start(senv, "--listen", "127.0.0.1:0")
    _, port_off = start(dict(env, TASKFLEET_API_STATS_EVERY="off"), "--listen", "127.0.0.1:0", "--no-auth")
    if port is None or port_off is None:
        REPORT.setup_fail("serve did not start (log in %s)" % OUT)
    api = Api(port, keys["write"])

    with open(os.path.join(ROOT, "producer", "openapi.json")) as f:
        doc = json.load(f)
    paths = doc["paths"]
    want = {"/v1/dlq": {"get"}, "/v1/dlq/redrive": {"post"}}
    params = {p["name"] for p in paths.get("/v1/stats", {}).get("get", {}).get("parameters", [])}
    ns_doc = json.dumps(paths.get("/v1/tasks", {}).get("get", {}))
    check("openapi-documents-routes", all(set(paths.get(p, {})) & {"get", "post", "delete", "patch"} == m
                                          for p, m in want.items()) and "history" in params and "*" in ns_doc,
          {p: list(paths.get(p, {})) for p in want})

    ids = {"teamA": [], "teamB": [], "other": []}
    for ns, n in (("teamA", 2), ("teamB", 1), ("default", 2)):
        for i in range(n):
            st, _, d = api.req("POST", "/v1/tasks", {"type": "noop", "ns": ns, "id": "%s-t%d" % (ns, i)})
            ids["other" if ns == "default" else ns].append((d or {}).get("id"))
    st1, _, _ = api.req("POST", "/v1/tasks", {"type": "noop", "ns": "teamB", "id": "held", "at": "+1h"})
    st2, _, _ = api.req("POST", "/v1/tasks/held/suspend")
    ids["teamB"].append("held")
    if not all(ids["teamA"] + ids["teamB"] + ids["other"]) or (st1, st2) != (201, 200):
        REPORT.setup_fail("submitting: %s %s %s" % (ids, st1, st2))

    # The dead-letter queue: a live message of each task of teamA and the
    # first of teamB (gen 1, as created), one of a task that does not exist
    # and a malformed body.
    sqs = tfcheck.client("sqs")
    dlq_url = sqs.get_queue_url(QueueName=name + "-dlq")["QueueUrl"]
    queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    for tid in ids["teamA"] + ids["teamB"][:1] + ["gone-1"]:
        sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"taskId": tid, "targetTimestamp": None,
                                                                   "gen": 1}))
    sqs.send_message(QueueUrl=dlq_url, MessageBody="not json {")
    if not wait_for(lambda: dlq_depth(sqs, dlq_url) == 5, 20):
        REPORT.setup_fail("the dead-letter queue holds %d messages, not 5" % dlq_depth(sqs, dlq_url))
    dlq_checks(api, keys, env, sqs, dlq_url, {"teamA": ids["teamA"], "teamB": ids["teamB"][:1]})
    list_all_checks(api, keys, ids)
    history_checks(api, keys, port_off, env, sqs, queue_url)


try:
    main()
finally:
    tftest.stop_all(procs)
sys.exit(1 if REPORT.failed else 0)
