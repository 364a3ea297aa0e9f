"""tftest.py - what the Python test scripts share (tests/scripts/*.py):
PASS/FAIL lines under a prefix, the set-up failure, and the check that the
stand-ins they are given are on loopback.
"""
import os
import sys


class Report:
    """Prints "PASS prefix/name" or "FAIL prefix/name: why"; remembers any
    failure in .failed."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.failed = False

    def check(self, name, ok, why=""):
        if ok:
            print("PASS %s/%s" % (self.prefix, name))
        else:
            self.failed = True
            print("FAIL %s/%s: %s" % (self.prefix, name, why))
        sys.stdout.flush()

    def setup_fail(self, why):
        """A test that cannot start: one FAIL line, exit 1."""
        print("FAIL %s/setup: %s" % (self.prefix, why))
        sys.exit(1)


def require_loopback_standins(report, allow_localhost=False):
    """Stops the test (report.setup_fail) unless AWS_ENDPOINT_URL_SQS and
    AWS_ENDPOINT_URL_DYNAMODB point at 127.0.0.0/8 (or localhost), so no
    test ever talks to a real AWS endpoint."""
    for var in ("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB"):
        url = os.environ.get(var, "")
        host = url.split("//", 1)[-1].split(":", 1)[0].split("/", 1)[0]
        if not (host.startswith("127.") or (allow_localhost and host == "localhost")):
            report.setup_fail("%s must point at a loopback stand-in (run through "
                              "tests/run), got %r" % (var, url))


def set_status(env, table, tid, status):
    """Changes a task's status behind the producer's back, in the stand-in
    (tests/tools/clitest.py ddb UpdateItem). True when it was written."""
    import json
    import subprocess
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    body = json.dumps({"TableName": table, "Key": {"id": {"S": tid}},
                       "UpdateExpression": "SET #s = :s", "ExpressionAttributeNames": {"#s": "status"},
                       "ExpressionAttributeValues": {":s": {"S": status}}})
    r = subprocess.run([sys.executable, os.path.join(root, "tests", "tools", "clitest.py"), "ddb",
                        "UpdateItem", body], env=env, capture_output=True, text=True)
    return r.returncode == 0


def stop_all(procs, seconds=10):
    """Stops the processes (subprocess.Popen) still running: SIGTERM, then
    SIGKILL after seconds."""
    import subprocess
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                p.kill()


def start_serve(tf, env, log_path, procs, args=("--no-auth",), seconds=30):
    """Starts `tf serve --listen 127.0.0.1:0` with args, its output in
    log_path, and appends it to procs. Returns the port it prints, or None
    when it does not say one within seconds (or exits)."""
    import re
    import subprocess
    import time
    log = open(log_path, "w+")
    p = subprocess.Popen([tf, "serve", "--listen", "127.0.0.1:0"] + list(args), env=env,
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    procs.append(p)
    deadline = time.time() + seconds
    while time.time() < deadline:
        log.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            return int(m.group(1))
        if p.poll() is not None:
            return None
        time.sleep(0.1)
    return None


def wait_for(pred, seconds, step=0.1):
    """Calls pred until it returns something true or seconds pass; returns
    its last value (true, or the false one seen at the deadline)."""
    import time
    deadline = time.time() + seconds
    while True:
        v = pred()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)
