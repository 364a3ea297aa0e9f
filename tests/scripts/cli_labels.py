#!/usr/bin/env python3
"""cli_labels.py - a task's optional name and description (GitHub issue 19,
item 6) end to end, through the real binaries on the stand-ins tests/run
starts, with a table and queue of its own (`taskfleet init` first):

  - `taskfleet submit` and `taskfleet http` with --name and --description:
    `get` shows them (text and --json), `list` shows a NAME column (and the
    fields with --json), and a list of tasks without names keeps its columns;
  - bad ones are refused with exit 2 and nothing written: a name over 200
    bytes, a description over 2000, a control character in a name, bytes
    that are not UTF-8;
  - `taskfleet edit` changes and removes them (gen + 1), refuses bad ones
    (exit 2, the task unchanged), a missing task (exit 3) and a COMPLETED
    one (exit 1);
  - the REST API (`taskfleet serve --no-auth` on 127.0.0.1): POST /v1/tasks
    and a batch set them, GET shows them, PATCH changes one (the other kept)
    and clears them with null and "", and the 400s (too long, control
    character, not a string) name the field and change nothing: a refused
    POST or batch writes no task, a refused PATCH leaves the task as it was;
  - the OpenAPI document describes both fields on the task, the new task
    and the PATCH body.

Talks only to 127.0.0.1. Prints "PASS name" or "FAIL name: why"; exits 1 on
any failure.
"""
import http.client
import json
import os
import secrets
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
TF = os.path.join(BUILD, "bin", "taskfleet")
OUT = os.path.join(os.environ.get("TF_TEST_OUT") or os.path.join(ROOT, "tests", "out"),
                   "cli_labels")

sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tftest  # noqa: E402  (found through the path above)

REPORT = tftest.Report("cli_labels")
check = REPORT.check
procs = []


def tf(env, *args):
    """Runs the CLI (arguments may be bytes); returns (exit code, stdout,
    stderr) as text."""
    r = subprocess.run([TF] + list(args), env=env, capture_output=True)
    return (r.returncode, r.stdout.decode(errors="replace"),
            r.stderr.decode(errors="replace"))


def get_json(env, tid):
    """The task as `taskfleet get --json` prints it, or None."""
    code, out, _ = tf(env, "get", "--json", tid)
    return json.loads(out) if code == 0 else None


def serve(env):
    """Starts `taskfleet serve --no-auth` on a free loopback port; returns
    the port or None."""
    return tftest.start_serve(TF, env, os.path.join(OUT, "serve.log"), procs)


def req(port, method, path, body=None):
    """Returns (status, parsed JSON or None)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, body=None if body is None else json.dumps(body).encode(),
                  headers={"Content-Type": "application/json"} if body is not None else {})
        r = c.getresponse()
        text = r.read()
        return r.status, json.loads(text) if text else None
    finally:
        c.close()


def msg(d):
    return ((d or {}).get("error") or {}).get("message", "")


def cli_checks(env):
    desc = "Sends the nightly report.\nSecond line:\tdetails"
    code, out, err = tf(env, "submit", "--type", "noop", "--at", "+2h", "--id", "named-1",
                        "--name", "Nightly report \u00e9", "--description", desc)
    check("submit-named", code == 0, "exit %d: %s" % (code, err))
    t = get_json(env, "named-1") or {}
    check("get-json-name", t.get("name") == "Nightly report \u00e9", t)
    check("get-json-description", t.get("description") == desc, t)
    code, out, err = tf(env, "get", "named-1")
    check("get-text", code == 0 and "name        Nightly report \u00e9\n" in out and
          "description Sends the nightly report.\n            Second line:\tdetails\n" in out,
          out + err)

    code, out, err = tf(env, "http", "--url", "http://127.0.0.1:9/x", "--at", "+3h",
                        "--id", "named-2", "--name", "Webhook ping",
                        "--description", "pings")
    t = get_json(env, "named-2") or {}
    check("http-named", code == 0 and t.get("name") == "Webhook ping" and
          t.get("description") == "pings", "exit %d: %s %s" % (code, err, t))

    code, out, err = tf(env, "submit", "--type", "noop", "--at", "+4h", "--id", "plain-1")
    t = get_json(env, "plain-1") or {}
    check("submit-unnamed", code == 0 and "name" not in t and "description" not in t,
          "exit %d: %s %s" % (code, err, t))

    code, out, err = tf(env, "list", "--ns", "default")
    lines = out.splitlines()
    head = lines[0] if lines else ""
    row = [ln for ln in lines if ln.startswith("named-1 ")]
    plain = [ln for ln in lines if ln.startswith("plain-1 ")]
    check("list-name-column", code == 0 and head.split()[-1:] == ["NAME"] and
          row and row[0].endswith("  Nightly report \u00e9") and plain and
          plain[0].endswith("  -"), out + err)
    code, out, err = tf(env, "list", "--json")
    names = {}
    for ln in out.splitlines():
        d = json.loads(ln)
        if "id" in d:
            names[d["id"]] = (d.get("name"), d.get("description"))
    check("list-json", names.get("named-1") == ("Nightly report \u00e9", desc) and
          names.get("plain-1") == (None, None), names)
    tf(env, "submit", "--type", "noop", "--ns", "nonames", "--at", "+1h")
    code, out, err = tf(env, "list", "--ns", "nonames")
    check("list-without-names-keeps-columns", code == 0 and
          out.splitlines()[0].split() == ["ID", "STATUS", "TYPE", "NEXT", "RUN", "ITERATION"],
          out + err)

    bad = [("name-too-long", ["--name", "n" * 201], "--name: too long (201 bytes; at most 200)"),
           ("description-too-long", ["--description", "d" * 2001],
            "--description: too long (2001 bytes; at most 2000)"),
           ("name-control", ["--name", "a\tb"], "--name: holds a control character"),
           ("name-not-utf8", [b"--name", b"caf\xe9"], "--name: not valid UTF-8"),
           ("description-control", ["--description", "bell\x07"],
            "--description: holds a control character")]
    for name, args, want in bad:
        tid = "bad-" + name
        code, out, err = tf(env, "submit", "--type", "noop", "--id", tid, *args)
        check("submit-refuses-" + name, code == 2 and want in err, "exit %d: %s" % (code, err))
        code, out, err = tf(env, "get", tid)
        check("submit-refused-writes-nothing-" + name, code == 3, "get: exit %d: %s" %
              (code, out + err))
    # 200 bytes of a name and 2000 of a description are fine.
    code, out, err = tf(env, "submit", "--type", "noop", "--at", "+1h", "--id", "at-limit",
                        "--name", "\u00e9" * 100, "--description", "d" * 2000)
    t = get_json(env, "at-limit") or {}
    check("submit-at-the-limits", code == 0 and t.get("name") == "\u00e9" * 100 and
          len(t.get("description", "")) == 2000, "exit %d: %s" % (code, err))


def edit_checks(env, table):
    """`taskfleet edit`: the CLI's PATCH of the labels."""
    before = get_json(env, "named-1") or {}
    code, out, err = tf(env, "edit", "--name", "Renamed on the CLI", "named-1")
    t = get_json(env, "named-1") or {}
    check("edit-name", code == 0 and t.get("name") == "Renamed on the CLI" and
          t.get("description") == before.get("description") and
          t.get("gen") == before.get("gen", 0) + 1, "exit %d: %s %s" % (code, err, t))
    code, out, err = tf(env, "edit", "--json", "--description", "", "named-1")
    t = get_json(env, "named-1") or {}
    try:
        printed = json.loads(out)
    except ValueError:
        printed = None
    check("edit-clears-description", code == 0 and "description" not in t and
          t.get("name") == "Renamed on the CLI" and printed == t, "exit %d: %s %s" % (code, err, out))
    before = get_json(env, "named-1")
    for name, args, want, wcode in [
            ("control", ["--name", "bad\x1bname"], "--name: holds a control character", 2),
            ("too-long", ["--description", "d" * 2001], "--description: too long", 2),
            ("nothing", [], "nothing to change", 2)]:
        code, out, err = tf(env, "edit", *args, "named-1")
        check("edit-refuses-" + name, code == wcode and want in err, "exit %d: %s" % (code, err))
    check("edit-refused-changes-nothing", get_json(env, "named-1") == before,
          get_json(env, "named-1"))
    code, out, err = tf(env, "edit", "--name", "x", "no-such-task")
    check("edit-missing-task", code == 3 and "no task" in err, "exit %d: %s" % (code, err))
    ok = tftest.set_status(env, table, "plain-1", "COMPLETED")
    code, out, err = tf(env, "edit", "--name", "x", "plain-1")
    t = get_json(env, "plain-1") or {}
    check("edit-refuses-completed", ok and code == 1 and "is COMPLETED" in err and
          "name" not in t, "exit %d: %s %s" % (code, err, t))


def api_checks(port):
    st, d = req(port, "POST", "/v1/tasks", {"type": "noop", "id": "api-1", "at": "+2h",
                                            "name": "From the API", "description": "one"})
    check("post-named", st == 201, "%s %s" % (st, d))
    st, d = req(port, "GET", "/v1/tasks/api-1")
    check("get-named", st == 200 and d.get("name") == "From the API" and
          d.get("description") == "one", "%s %s" % (st, d))
    st, d = req(port, "POST", "/v1/tasks", {"tasks": [
        {"type": "noop", "id": "api-b1", "at": "+2h", "name": "first"},
        {"type": "noop", "id": "api-b2", "at": "+2h", "description": "second only",
         "name": None}]})
    _, b1 = req(port, "GET", "/v1/tasks/api-b1")
    _, b2 = req(port, "GET", "/v1/tasks/api-b2")
    check("batch-named", st in (200, 201) and (b1 or {}).get("name") == "first" and
          "description" not in (b1 or {}) and (b2 or {}).get("description") == "second only" and
          "name" not in (b2 or {}), "%s %s / %s / %s" % (st, d, b1, b2))

    st, d = req(port, "POST", "/v1/tasks", {"type": "noop", "id": "api-bad", "name": "x" * 201})
    check("post-refuses-long-name", st == 400 and d["error"]["code"] == "invalid_field" and
          msg(d).startswith("name: too long"), "%s %s" % (st, d))
    st, d = req(port, "POST", "/v1/tasks", {"tasks": [
        {"type": "noop", "id": "api-bad-b1"},
        {"type": "noop", "id": "api-bad-b2", "description": "bell\u0007"}]})
    check("batch-refuses-control", st == 400 and "description: holds a control character"
          in msg(d), "%s %s" % (st, d))
    st, d = req(port, "POST", "/v1/tasks", {"type": "noop", "id": "api-bad3", "name": 5})
    check("post-refuses-non-string", st == 400 and msg(d).startswith("name:"), "%s %s" % (st, d))
    gone = [req(port, "GET", "/v1/tasks/" + i)[0] for i in ("api-bad", "api-bad-b1",
                                                             "api-bad-b2", "api-bad3")]
    check("refused-posts-write-nothing", gone == [404] * 4, gone)

    st, d = req(port, "PATCH", "/v1/tasks/api-1", {"name": "Renamed"})
    check("patch-name", st == 200 and d.get("name") == "Renamed" and
          d.get("description") == "one", "%s %s" % (st, d))
    st, d = req(port, "PATCH", "/v1/tasks/api-1", {"description": "two\nlines"})
    check("patch-description", st == 200 and d.get("name") == "Renamed" and
          d.get("description") == "two\nlines", "%s %s" % (st, d))
    _, before = req(port, "GET", "/v1/tasks/api-1")
    for name, body, want in [
            ("long-name", {"name": "x" * 201}, "name: too long (201 bytes; at most 200)"),
            ("long-description", {"description": "y" * 2001},
             "description: too long (2001 bytes; at most 2000)"),
            ("control", {"name": "a\nb"}, "name: holds a control character"),
            ("non-string", {"description": ["x"]}, "description: expected a string or null")]:
        st, d = req(port, "PATCH", "/v1/tasks/api-1", body)
        check("patch-refuses-" + name, st == 400 and d["error"]["code"] == "invalid_field" and
              msg(d).startswith(want), "%s %s" % (st, d))
    _, after = req(port, "GET", "/v1/tasks/api-1")
    check("refused-patches-change-nothing", after == before, "%s / %s" % (before, after))
    st, d = req(port, "PATCH", "/v1/tasks/api-1", {"name": None, "description": ""})
    check("patch-clears", st == 200 and "name" not in d and "description" not in d,
          "%s %s" % (st, d))
    # A SUSPENDED task can be renamed, and stays suspended.
    req(port, "POST", "/v1/tasks/api-b1/suspend")
    st, d = req(port, "PATCH", "/v1/tasks/api-b1", {"name": "paused one"})
    check("patch-suspended", st == 200 and d.get("name") == "paused one" and
          d.get("status") == "SUSPENDED", "%s %s" % (st, d))

    with open(os.path.join(ROOT, "producer", "openapi.json")) as f:
        doc = json.load(f)
    schemas = doc.get("components", {}).get("schemas", {})
    where = {n: sorted(k for k in ("name", "description") if k in s.get("properties", {}))
             for n, s in schemas.items()}
    want = ["description", "name"]
    check("openapi-fields", [n for n in ("Task", "TaskInput", "TaskPatch")
                             if where.get(n) != want] == [], where)


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.access(TF, os.X_OK):
        REPORT.setup_fail("%s is missing (run make)" % TF)
    tftest.require_loopback_standins(REPORT)
    name = "tf-labels-%d-%d" % (os.getpid(), secrets.randbelow(100000))
    env = dict(os.environ)
    for v in ("TASKFLEET_QUEUE_URL", "TASKFLEET_LOG", "TASKFLEET_API_KEYS",
              "TASKFLEET_API_RATE", "TASKFLEET_API_AUTH_RATE"):
        env.pop(v, None)
    env.update(TASKFLEET_TABLE=name, TASKFLEET_QUEUE=name, TASKFLEET_API_RATE="off",
               TASKFLEET_RUNNERS=os.path.join(BUILD, "runners"))
    r = subprocess.run([TF, "init"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        REPORT.setup_fail("init: " + r.stderr.strip())
    try:
        cli_checks(env)
        edit_checks(env, name)
        port = serve(env)
        check("serve-starts", port is not None, "no \"listening on\" line (log in %s)" % OUT)
        if port is not None:
            api_checks(port)
    finally:
        tftest.stop_all(procs)
    sys.exit(1 if REPORT.failed else 0)


if __name__ == "__main__":
    main()
