#!/usr/bin/env python3
"""bad_input.py - the bad-input table (docs/design.md section 11): the CLI, message bodies
and items, each bad in its own way.

One table, three parts:

  cli      `taskfleet ARGS` must exit with the code docs/design.md section 11 names (2
           usage or bad input, 3 not found, 1 the operation failed), print
           exactly one line on stderr that matches the row's pattern (which
           names the field) and nothing on stdout, and write nothing: the
           table's item count and the queues' message counts, read with
           botocore, are the same afterwards. A few positive rows (marked
           "+") must write, so the "nothing written" check is shown to see a
           write.
  message  a body sent straight to the queue (botocore) for a running
           consumer: one warn/error log line naming the task id (when the
           body has a valid one) and the reason; the message deleted (not
           retried, not in the dead-letter queue); the consumer still up.
  item     an item put straight into the table (botocore) and its message:
           nothing stops the consumer; a task that cannot run ends FAILED
           with the reason in last_error, or its message is dropped with a
           log line; an unknown runner type is retried with backoff as a
           retryable error until max_attempts, then FAILED; nothing is
           retried forever (no message left in the queue or the DLQ).

After both consumer parts a good task submitted with the CLI must still
complete. Needs what tests/run exports (the stand-ins' AWS_ENDPOINT_URL_*,
TF_BUILD); talks only to 127.0.0.0/8. Prints "PASS name" or "FAIL name:
why"; exits 1 on any failure.
"""
import atexit
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
TF = os.path.join(BUILD, "bin", "taskfleet")
CONSUMER = os.path.join(BUILD, "bin", "taskfleet-consumer")
OUT = os.environ.get("TF_TEST_OUT") or os.path.join(ROOT, "tests", "out")

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for k in ("TASKFLEET_QUEUE_URL", "TASKFLEET_LOG", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(k, None)

sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tftest  # noqa: E402  (found through the path above)

REPORT = tftest.Report("bad_input")
check = REPORT.check
setup_fail = REPORT.setup_fail


try:
    import botocore.exceptions
    import botocore.session
    from botocore.config import Config
except ImportError as e:  # pragma: no cover
    setup_fail("cannot import botocore (apt-get install python3-botocore): %s" % e)

tftest.require_loopback_standins(REPORT, allow_localhost=True)
if not os.access(TF, os.X_OK) or not os.access(CONSUMER, os.X_OK):
    setup_fail("%s or %s is missing (run make)" % (TF, CONSUMER))

SUFFIX = "%d-%d" % (os.getpid(), int(time.time() * 1000) % 10**9)
NAME = "tf-bad-" + SUFFIX
os.environ["TASKFLEET_TABLE"] = NAME
os.environ["TASKFLEET_QUEUE"] = NAME
os.environ["TASKFLEET_RUNNERS"] = os.path.join(BUILD, "runners")
LOGDIR = os.path.join(OUT, "bad_input")
os.makedirs(LOGDIR, exist_ok=True)
TMP = tempfile.mkdtemp(prefix="taskfleet-bad.")


def client(service):
    env = "AWS_ENDPOINT_URL_DYNAMODB" if service == "dynamodb" else "AWS_ENDPOINT_URL_SQS"
    return botocore.session.get_session().create_client(
        service, region_name=os.environ.get("AWS_REGION", "us-east-1"),
        endpoint_url=os.environ[env],
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        config=Config(retries={"max_attempts": 2}))


DDB = client("dynamodb")
SQS = client("sqs")


def tf(args, stdin=None, env=None, timeout=60):
    """Runs the CLI; returns (exit code, stdout, stderr) as text."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([TF] + args, input=stdin if stdin is not None else b"",
                       capture_output=True, env=e, timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def item_count():
    n, kw = 0, {"TableName": NAME, "Select": "COUNT", "ConsistentRead": True}
    while True:
        page = DDB.scan(**kw)
        n += page["Count"]
        if "LastEvaluatedKey" not in page:
            return n
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def queue_counts(url):
    a = SQS.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (int(a["ApproximateNumberOfMessages"]),
            int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]))


def state():
    """What a write would change: items, and messages in the queue and DLQ."""
    return {"items": item_count(), "queue": sum(queue_counts(QURL)),
            "dlq": sum(queue_counts(DLQURL))}


def get_item(task_id):
    r = DDB.get_item(TableName=NAME, Key={"id": {"S": task_id}}, ConsistentRead=True)
    return r.get("Item")


def wait_for(pred, seconds, step=0.2):
    deadline = time.time() + seconds
    while True:
        v = pred()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


# ---------------------------------------------------------------- set-up
T0 = time.time()
rc, out, err = tf(["--json", "init", "--visibility-timeout", "10", "--max-receive-count", "3"])
if rc != 0:
    setup_fail("taskfleet init: exit %d: %s" % (rc, err.strip()))
info = json.loads(out)
QURL, DLQURL = info["queue_url"], info["dlq_url"]

# ---------------------------------------------------------------- part 1: the CLI
#
# A row: (name, argv, exit code, pattern for the one stderr line, options).
# Options: "stdin" (bytes), "env" (dict), "writes" (dict of the expected
# changes: a positive row), "stdout" (a pattern stdout must match instead of
# being empty), "any_lines" (more than one stderr line is fine).
LONG_ID = "i" * 129
MAX_ID = "m" * 128
U = "https://hooks.example.com/in"

# Params files: just over and just under DynamoDB's 400 KB item limit
# (409600 bytes). {"b": "x"*n} is n + 5 bytes as a map; the rest of the item
# (id, ns, type, status, numbers, the index keys) adds about 200 bytes, so
# "over" is over by about 100 bytes although its params alone are not.
ITEM_MAX = 409600
over_json = os.path.join(TMP, "over.json")
under_json = os.path.join(TMP, "under.json")
with open(over_json, "w") as f:
    json.dump({"b": "x" * (ITEM_MAX - 100 - 5)}, f)
with open(under_json, "w") as f:
    json.dump({"b": "x" * (ITEM_MAX - 1000 - 5)}, f)
file_max_json = os.path.join(TMP, "file-max.json")
with open(file_max_json, "w") as f:
    json.dump({"b": "x" * (1024 * 1024)}, f)
nul_json = os.path.join(TMP, "nul.json")
with open(nul_json, "wb") as f:
    f.write(b'{"a": "x\x00y"}')
bom_json = os.path.join(TMP, "bom.json")
with open(bom_json, "wb") as f:
    f.write(b'\xef\xbb\xbf{"a": 1}')
empty_file = os.path.join(TMP, "empty.json")
open(empty_file, "w").close()
no_runners = os.path.join(TMP, "no-runners")
os.mkdir(no_runners)
deep = "[" * 40 + "]" * 40
many_headers = []
for i in range(65):
    many_headers += ["--header", "X-H%d: v" % i]

S = ["submit", "--type", "noop"]
H = ["http", "--url", U]
CLI = [
    # -- global options and commands
    ("global unknown option", ["--frob", "list"], 2, r"--frob"),
    ("global option missing its value", ["--table"], 2, r"--table"),
    ("global --region missing its value", ["list", "--region"], 2, r"--region"),
    ("unknown command", ["frobnicate"], 2, r"frobnicate"),
    # With no command at all, the usage is the answer (several lines).
    ("no command", [], 2, r"^usage: taskfleet", {"any_lines": True}),
    ("global --endpoint-url not a URL", ["--endpoint-url", "not a url", "list"], 2,
     r"endpoint"),
    ("global --endpoint-url ftp", ["--endpoint-url", "ftp://127.0.0.1/", "list"], 2,
     r"endpoint"),
    ("global --region with spaces", ["--region", "us east 1", "list"], 2, r"region"),
    ("global --table empty", ["--table", "", "list"], 2, r"table"),
    ("global --table bad characters", ["--table", "bad table!", "get", "x"], 2,
     r"table"),
    ("global --queue bad characters", ["--queue", "bad queue!"] + S, 2, r"queue"),
    ("init unknown option", ["init", "--frob"], 2, r"--frob"),
    ("init --visibility-timeout not a number", ["init", "--visibility-timeout", "abc"],
     2, r"--visibility-timeout"),
    ("init --max-receive-count 0", ["init", "--max-receive-count", "0"], 2,
     r"--max-receive-count"),
    # -- submit: options
    ("submit unknown option", S + ["--frob", "1"], 2, r"--frob"),
    ("submit flag given a value", S + ["--json=1"], 2, r"--json"),
    ("submit option missing its value", S + ["--params"], 2, r"--params"),
    ("submit --type missing", ["submit"], 2, r"--type"),
    ("submit stray argument", S + ["extra"], 2, r"extra"),
    # -- submit: --type
    ("submit --type empty", ["submit", "--type", ""], 2, r"--type"),
    ("submit --type upper case", ["submit", "--type", "NOOP"], 2, r"--type.*no runner \"NOOP\""),
    ("submit --type with a slash", ["submit", "--type", "../noop"], 2, r"--type"),
    ("submit --type unknown runner", ["submit", "--type", "no-such-runner"], 2,
     r"--type.*no-such-runner.*(known|installed).*noop"),
    ("submit --type unknown, 64 chars", ["submit", "--type", "r" * 64], 2, r"--type"),
    ("submit --type no runners to check against", S, 1, r"--type.*TASKFLEET_RUNNERS",
     {"env": {"TASKFLEET_RUNNERS": no_runners}}),
    # -- submit: --params
    ("params not JSON", S + ["--params", "{a: 1}"], 2, r"--params"),
    ("params empty", S + ["--params", ""], 2, r"--params"),
    ("params null", S + ["--params", "null"], 2, r"--params.*object"),
    ("params a number", S + ["--params", "42"], 2, r"--params.*object"),
    ("params an array of objects", S + ["--params", '[{"a":1}]'], 2, r"--params.*object"),
    ("params NaN", S + ["--params", '{"a": NaN}'], 2, r"--params"),
    ("params duplicate key", S + ["--params", '{"a":1,"a":2}'], 2, r"--params.*a.*duplicate"),
    ("params invalid UTF-8", S + ["--params", b'{"a":"\xff"}'], 2, r"--params.*UTF-8"),
    ("params lone surrogate", S + ["--params", '{"a":"\\ud800"}'], 2, r"--params.*surrogate"),
    ("params nested 40 deep", S + ["--params", '{"a":' + deep + '}'], 2,
     r"--params.*(deep|nest)"),
    ("params empty key inside", S + ["--params", '{"a":{"":1}}'], 2, r"--params.*key"),
    ("params number out of DynamoDB's range", S + ["--params", '{"a":1e400}'], 2,
     r"--params.*range"),
    ("params 39 significant digits", S + ["--params", '{"a":1234567890123456789012345678901234567890}'],
     2, r"--params"),
    ("params file with a NUL byte", S + ["--params", "@" + nul_json], 2, r"--params"),
    ("params file with a BOM", S + ["--params", "@" + bom_json], 2, r"--params"),
    ("params empty file", S + ["--params", "@" + empty_file], 2, r"--params"),
    ("params @- empty stdin", S + ["--params", "@-"], 2, r"--params", {"stdin": b""}),
    ("params @- not JSON", S + ["--params", "@-"], 2, r"--params", {"stdin": b"{oops"}),
    ("params file over 1 MiB", S + ["--params", "@" + file_max_json], 2,
     r"--params.*larger"),
    ("params just over the 400 KB item limit", S + ["--params", "@" + over_json], 2,
     r"params.*400 ?KB"),
    ("params just under the 400 KB item limit (+)", S + ["--at", "+1h", "--params",
     "@" + under_json], 0, None, {"writes": {"items": 1}, "stdout": r"^[0-9a-f-]{36}\n$"}),
    ("params over the limit via --id", S + ["--id", "big-" + SUFFIX, "--params", "@" + over_json],
     2, r"params.*400 ?KB"),
    # -- submit: ids and namespaces
    ("--id empty", S + ["--id", ""], 2, r"--id"),
    ("--id 129 bytes", S + ["--id", LONG_ID], 2, r"--id.*too long"),
    ("--id a space", S + ["--id", "a b"], 2, r"--id"),
    ("--id a newline", S + ["--id", "a\nb"], 2, r"--id"),
    ("--id a tab", S + ["--id", "a\tb"], 2, r"--id"),
    ("--id DEL", S + ["--id", "a\x7f"], 2, r"--id"),
    ("--id non-ASCII", S + ["--id", "t\u00e2che"], 2, r"--id"),
    ("--id 128 bytes (+)", S + ["--id", MAX_ID, "--at", "+1h"], 0, None,
     {"writes": {"items": 1}, "stdout": r"^m{128}\n$"}),
    ("--ns empty", S + ["--ns", ""], 2, r"--ns"),
    ("--ns 65 chars", S + ["--ns", "n" * 65], 2, r"--ns"),
    ("--ns a slash", S + ["--ns", "a/b"], 2, r"--ns"),
    # -- submit: times
    ("--at malformed", S + ["--at", "next tuesday"], 2, r"--at"),
    ("--at month 13", S + ["--at", "2026-13-01"], 2, r"--at.*month"),
    ("--at Feb 29 of a common year", S + ["--at", "2027-02-29"], 2, r"--at.*day"),
    ("--at hour 24", S + ["--at", "2027-01-01T24:00:00Z"], 2, r"--at"),
    ("--at leap second", S + ["--at", "2027-01-01T00:00:60Z"], 2, r"--at"),
    ("--at trailing space", S + ["--at", "2027-01-01T00:00:00Z "], 2, r"--at"),
    ("--at bad zone offset", S + ["--at", "2027-01-01T00:00:00+25:00"], 2, r"--at"),
    ("--at five-digit year", S + ["--at", "10000-01-01"], 2, r"--at"),
    ("--at epoch seconds", S + ["--at", "1767225600"], 2, r"--at"),
    ("--at the epoch itself", S + ["--at", "1970-01-01"], 2, r"--at"),
    ("--at before 1970", S + ["--at", "1969-12-31T23:59:59Z"], 2, r"--at"),
    ("--at fractional duration", S + ["--at", "+1.5h"], 2, r"--at"),
    ("--at duration overflow", S + ["--at", "+99999999999999d"], 2, r"--at"),
    ("--at past ISO runs now (+)", S + ["--at", "2001-01-01T00:00:00Z", "--json"], 0, None,
     {"writes": {"items": 1, "queue": 1},
      "stdout": r'"next_run":978307200000.*"enqueued":true,"delay_seconds":0'}),
    ("--at -1h runs now (+)", S + ["--at", "-1h", "--json"], 0, None,
     {"writes": {"items": 1, "queue": 1}, "stdout": r'"enqueued":true,"delay_seconds":0'}),
    # -- submit: recurrence
    ("--every malformed", S + ["--every", "5x"], 2, r"--every"),
    ("--every empty", S + ["--every", ""], 2, r"--every"),
    ("--every 0s", S + ["--every", "0s"], 2, r"--every"),
    ("--every below 1s", S + ["--every", "500ms"], 2, r"--every.*1s"),
    ("--every negative", S + ["--every", "-5m"], 2, r"--every"),
    ("--every units out of order", S + ["--every", "30m1h"], 2, r"--every"),
    ("--every overflow", S + ["--every", "99999999999999w"], 2, r"--every"),
    ("--cron Feb 31 never fires", S + ["--cron", "0 0 31 2 *"], 2, r"--cron.*never"),
    ("--cron Feb 30 never fires", S + ["--cron", "0 0 30 2 *"], 2, r"--cron.*never"),
    ("--cron the 31st of 30-day months", S + ["--cron", "0 0 31 4,6,9,11 *"], 2,
     r"--cron.*never"),
    ("--cron Feb 29 before --until", S + ["--cron", "0 0 29 2 *", "--until", "+1d"], 2,
     r"--until"),
    ("--cron four fields", S + ["--cron", "0 9 * *"], 2, r"--cron.*5 fields"),
    ("--cron six fields", S + ["--cron", "0 0 9 * * *"], 2, r"--cron.*5 fields"),
    ("--cron minute 60", S + ["--cron", "60 * * * *"], 2, r"--cron.*minute"),
    ("--cron day-of-week 8", S + ["--cron", "0 0 * * 8"], 2, r"--cron"),
    ("--cron reversed range", S + ["--cron", "0 0 * * 5-1"], 2, r"--cron"),
    ("--cron step 0", S + ["--cron", "*/0 * * * *"], 2, r"--cron"),
    ("--cron unknown name", S + ["--cron", "0 0 * JANUARY *"], 2, r"--cron"),
    ("--cron unknown shorthand", S + ["--cron", "@never"], 2, r"--cron"),
    ("--cron empty", S + ["--cron", ""], 2, r"--cron"),
    ("--every with --cron", S + ["--every", "1h", "--cron", "@daily"], 2, r"--every.*--cron"),
    ("--tz unknown zone", S + ["--cron", "0 9 * * *", "--tz", "Mars/Olympus"], 2, r"--tz"),
    ("--tz path traversal", S + ["--cron", "0 9 * * *", "--tz", "../../etc/passwd"], 2, r"--tz"),
    ("--tz empty", S + ["--cron", "0 9 * * *", "--tz", ""], 2, r"--tz"),
    ("--tz without --cron", S + ["--tz", "UTC"], 2, r"--tz"),
    ("--max-runs 0", S + ["--every", "1h", "--max-runs", "0"], 2, r"--max-runs"),
    ("--max-runs negative", S + ["--every", "1h", "--max-runs", "-1"], 2, r"--max-runs"),
    ("--max-runs fraction", S + ["--every", "1h", "--max-runs", "1.5"], 2, r"--max-runs"),
    ("--max-runs over 2^53", S + ["--every", "1h", "--max-runs", "9007199254740993"], 2,
     r"--max-runs"),
    ("--max-runs without a schedule", S + ["--max-runs", "3"], 2, r"--max-runs"),
    ("--until without a schedule", S + ["--until", "+1d"], 2, r"--until"),
    ("--until malformed", S + ["--every", "1h", "--until", "soon"], 2, r"--until"),
    ("--until in the past", S + ["--every", "1h", "--until", "-1h"], 2, r"--until.*past"),
    ("--until before --at", S + ["--every", "1h", "--at", "+2h", "--until", "+1h"], 2,
     r"--at.*--until|--until.*--at"),
    # -- submit: attempts
    ("--max-attempts 0", S + ["--max-attempts", "0"], 2, r"--max-attempts"),
    ("--max-attempts negative", S + ["--max-attempts", "-3"], 2, r"--max-attempts"),
    ("--max-attempts 1001", S + ["--max-attempts", "1001"], 2, r"--max-attempts"),
    ("--max-attempts with a sign", S + ["--max-attempts", "+3"], 2, r"--max-attempts"),
    ("--max-attempts with a space", S + ["--max-attempts", " 3"], 2, r"--max-attempts"),
    ("--max-attempts hex", S + ["--max-attempts", "0x3"], 2, r"--max-attempts"),
    # -- http
    ("http --url missing", ["http"], 2, r"--url"),
    ("http --url missing its value", ["http", "--url"], 2, r"--url"),
    ("http --url empty", ["http", "--url", ""], 2, r"--url"),
    ("http --url with CR LF", ["http", "--url", "https://a.example.com/x\r\nX-A: y"], 2,
     r"--url"),
    ("http --url no host", ["http", "--url", "http://"], 2, r"--url"),
    ("http --url javascript:", ["http", "--url", "javascript:alert(1)"], 2, r"--url"),
    ("http --url file:", ["http", "--url", "file:///etc/passwd"], 2, r"--url"),
    ("http --url too long", ["http", "--url", "https://a.example.com/" + "a" * 8200], 2,
     r"--url.*too long"),
    ("http flag given a value", H + ["--follow-redirects=yes"], 2, r"--follow-redirects"),
    ("http --method empty", H + ["--method", ""], 2, r"--method"),
    ("http --method CONNECT", H + ["--method", "CONNECT"], 2, r"--method"),
    ("http --header empty name", H + ["--header", ": v"], 2, r"--header"),
    ("http --header LF in the value", H + ["--header", "X-A: b\nc"], 2, r"--header"),
    ("http --header value over 8 KiB", H + ["--header", "X-Big: " + "v" * 9000], 2,
     r"--header"),
    ("http 65 headers", H + many_headers, 2, r"--header.*65"),
    ("http --timeout over 15m", H + ["--timeout", "15m1s"], 2, r"--timeout"),
    ("http --max-redirects negative", H + ["--max-redirects", "-1"], 2, r"--max-redirects"),
    ("http --success empty", H + ["--success", ""], 2, r"--success"),
    ("http --success 99", H + ["--success", "99"], 2, r"--success"),
    ("http --success reversed range", H + ["--success", "300-200"], 2, r"--success"),
    ("http --success 6xx", H + ["--success", "6xx"], 2, r"--success"),
    ("http --body a directory", H + ["--body", "@" + TMP], 2, r"--body"),
    ("http --body over the request cap", H + ["--body", "@" + over_json], 2, r"--body"),
    ("http --json-body NaN", H + ["--json-body", "NaN"], 2, r"--json-body"),
    ("http --json-body duplicate key", H + ["--json-body", '{"a":1,"a":2}'], 2,
     r"--json-body.*duplicate"),
    ("http --result-header empty", H + ["--result-header", ""], 2, r"--result-header"),
    ("http --cron never fires", H + ["--cron", "0 0 31 2 *"], 2, r"--cron.*never"),
    ("http --at malformed", H + ["--at", "2027-02-29"], 2, r"--at"),
    ("http --id too long", H + ["--id", LONG_ID], 2, r"--id.*too long"),
    ("http --max-runs 0", H + ["--every", "1m", "--max-runs", "0"], 2, r"--max-runs"),
    # -- commands on one task
    ("get no id", ["get"], 2, r"ID"),
    ("get two ids", ["get", "a", "b"], 2, r"ID"),
    ("get empty id", ["get", ""], 2, r"ID"),
    ("get id with a space", ["get", "a b"], 2, r"ID"),
    ("get id too long", ["get", LONG_ID], 2, r"ID.*too long"),
    ("get unknown option", ["get", "--frob", "x"], 2, r"--frob"),
    ("get missing task", ["get", "no-such-" + SUFFIX], 3, r"no task"),
    ("delete missing task", ["delete", "no-such-" + SUFFIX], 3, r"no task"),
    ("suspend missing task", ["suspend", "no-such-" + SUFFIX], 3, r"no task"),
    ("resume missing task", ["resume", "no-such-" + SUFFIX], 3, r"no task"),
    ("run-now missing task", ["run-now", "no-such-" + SUFFIX], 3, r"no task"),
    ("suspend id too long", ["suspend", LONG_ID], 2, r"ID.*too long"),
    ("resume empty id", ["resume", ""], 2, r"ID"),
    ("run-now id with a newline", ["run-now", "a\nb"], 2, r"ID"),
    ("delete two ids", ["delete", "a", "b"], 2, r"ID"),
    ("get from a missing table", ["--table", "tf-no-such-" + SUFFIX, "get", "x"], 1,
     r"init"),
    # -- list, due, clear, stats
    ("list --limit 0", ["list", "--limit", "0"], 2, r"--limit"),
    ("list --limit huge", ["list", "--limit", "99999999999999999999"], 2, r"--limit"),
    ("list --status unknown", ["list", "--status", "DONE"], 2, r"--status"),
    ("list --status empty", ["list", "--status", ""], 2, r"--status"),
    ("list --from malformed", ["list", "--from", "yesterday"], 2, r"--from"),
    ("list --to Feb 30", ["list", "--to", "2027-02-30"], 2, r"--to"),
    ("list --from after --to", ["list", "--from", "+1d", "--to", "-1d"], 2, r"--from.*--to"),
    ("list --next garbage", ["list", "--next", "garbage!"], 2, r"--next"),
    ("list --next empty", ["list", "--next", ""], 2, r"--next"),
    ("list --ns bad", ["list", "--ns", "a b"], 2, r"--ns"),
    ("list stray argument", ["list", "extra"], 2, r"extra"),
    ("due --limit 0", ["due", "--limit", "0"], 2, r"--limit"),
    ("due --ns empty", ["due", "--ns", ""], 2, r"--ns"),
    ("clear without --ns", ["clear"], 2, r"--ns"),
    ("clear --ns bad", ["clear", "--ns", "bad/ns"], 2, r"--ns"),
    ("stats stray argument", ["stats", "extra"], 2, r"extra"),
    # -- the operation fails (exit 1), nothing written
    ("submit with a missing queue", ["--queue", "tf-no-such-" + SUFFIX] + S, 1,
     r"queue.*nothing was written"),
    ("submit with the endpoint refusing", ["--endpoint-url", "http://127.0.0.1:1"] + S, 1,
     r"(connect|refused)"),
]


def run_cli_row(row):
    name, argv, want_rc, pattern = row[:4]
    opts = row[4] if len(row) > 4 else {}
    argv = [a if isinstance(a, bytes) else a.encode() for a in argv]
    before = state()
    e = dict(os.environ)
    e.update(opts.get("env", {}))
    p = subprocess.run([TF.encode()] + argv, input=opts.get("stdin", b""),
                       capture_output=True, env=e, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    after = state()
    lines = err.splitlines()
    why = []
    if p.returncode != want_rc:
        why.append("exit %d, want %d" % (p.returncode, want_rc))
    if pattern is not None:
        if len(lines) != 1 and not (opts.get("any_lines") and lines):
            why.append("want one stderr line, got %d" % len(lines))
        elif not re.search(pattern, lines[0]):
            why.append("stderr does not match /%s/" % pattern)
    if "stdout" in opts:
        if not re.search(opts["stdout"], out):
            why.append("stdout does not match /%s/" % opts["stdout"])
    elif out:
        why.append("printed on stdout")
    want = dict(before)
    for k, v in opts.get("writes", {}).items():
        want[k] += v
    if after != want:
        why.append("state %s -> %s, want %s" % (before, after, want))
    if why:
        shown = err if len(err) < 400 else err[:400] + "..."
        check("cli/" + name, False, "; ".join(why) + "; stderr: %r; stdout: %r"
              % (shown, out[:200]))
    else:
        check("cli/" + name, True)


for row in CLI:
    run_cli_row(row)

# The documented behaviour of a past --at is "run now": consistent between
# ISO and relative forms, the time kept as given (not moved), and the task
# due at once. Checked on the two positive rows above through list.
rc, out, err = tf(["--json", "list", "--to", "2001-01-01T00:00:00Z"])
docs = [json.loads(l) for l in out.splitlines() if l.strip() and not l.startswith('{"next"')]
check("cli/past --at keeps its time and is PENDING",
      rc == 0 and len(docs) == 1 and docs[0]["next_run"] == 978307200000
      and docs[0]["status"] == "PENDING", "exit %d: %s %s" % (rc, out[:300], err[:300]))

print("# the CLI part took %.1f s" % (time.time() - T0))

# ---------------------------------------------------------------- parts 2 and 3: the consumer
LOG = os.path.join(LOGDIR, "consumer.log")
log_f = open(LOG, "wb")
cenv = dict(os.environ)
cenv.update({"TASKFLEET_RETRY_BASE": "100ms", "TASKFLEET_RETRY_CAP": "400ms",
             "TASKFLEET_LOG": "debug"})
consumer = subprocess.Popen([CONSUMER, "--id", "bad-input", "--wait-time", "1",
                             "--visibility-timeout", "10", "--shutdown-timeout", "5"],
                            stdout=log_f, stderr=subprocess.STDOUT, env=cenv)


def stop_consumer():
    """SIGTERM, then SIGKILL if it does not exit."""
    if consumer.poll() is None:
        consumer.send_signal(signal.SIGTERM)
        try:
            consumer.wait(15)
        except subprocess.TimeoutExpired:
            consumer.kill()
            consumer.wait()


atexit.register(lambda: consumer.poll() is None and consumer.kill())


def log_lines():
    with open(LOG, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    out = []
    for line in data.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"level": "?", "msg": line})
    return out


def consumer_alive():
    return consumer.poll() is None


# Drain the messages the positive CLI rows left (tasks due now) before the
# message cases, so that each case below starts from an empty queue.
check("consumer/starts and drains the queue",
      wait_for(lambda: consumer_alive() and sum(queue_counts(QURL)) == 0, 30),
      "consumer %s; queue %s" % ("running" if consumer_alive() else
                                  "exited %s" % consumer.returncode, queue_counts(QURL)))


def warn_lines(since, pred):
    return [l for l in log_lines()[since:]
            if l.get("level") in ("warn", "error") and pred(l)]


def send(body):
    SQS.send_message(QueueUrl=QURL, MessageBody=body)


# A message row: (name, body, task id the line must name or None, reason pattern).
HUGE_ID = "huge-" + SUFFIX
MESSAGES = [
    ("not JSON", "hello, consumer", None, r"not a JSON object"),
    ("truncated JSON", '{"taskId": "m-trunc-%s"' % SUFFIX, None, r"not a JSON object"),
    ("JSON array", json.dumps([{"taskId": "m-arr-" + SUFFIX}]), None, r"not a JSON object"),
    ("JSON string", json.dumps("m-str-" + SUFFIX), None, r"not a JSON object"),
    ("JSON null", "null", None, r"not a JSON object"),
    ("empty object", "{}", None, r"taskId"),
    ("missing taskId", json.dumps({"targetTimestamp": None, "gen": 1}), None, r"taskId"),
    ("taskId a number", json.dumps({"taskId": 42, "gen": 1}), None, r"taskId"),
    ("taskId null", json.dumps({"taskId": None}), None, r"taskId"),
    ("taskId an object", json.dumps({"taskId": {"S": "x"}}), None, r"taskId"),
    ("taskId empty", json.dumps({"taskId": ""}), None, r"taskId"),
    ("taskId with a space", json.dumps({"taskId": "a b"}), None, r"taskId"),
    ("taskId with a newline", json.dumps({"taskId": "a\nb"}), None, r"taskId"),
    ("taskId non-ASCII", json.dumps({"taskId": "t\u00e2che"}), None, r"taskId"),
    ("taskId 129 bytes", json.dumps({"taskId": LONG_ID}), None, r"taskId"),
    ("taskId path-like, no such item", json.dumps({"taskId": "../../etc/passwd-" + SUFFIX,
     "gen": 1}), "../../etc/passwd-" + SUFFIX, r"does not exist"),
    ("targetTimestamp a string", json.dumps({"taskId": "m-ts-" + SUFFIX,
     "targetTimestamp": "2027-01-01", "gen": 1}), "m-ts-" + SUFFIX, r"targetTimestamp"),
    ("targetTimestamp negative", json.dumps({"taskId": "m-tsn-" + SUFFIX,
     "targetTimestamp": -5, "gen": 1}), "m-tsn-" + SUFFIX, r"targetTimestamp"),
    ("targetTimestamp 1e300", '{"taskId": "m-tsh-%s", "targetTimestamp": 1e300}' % SUFFIX,
     "m-tsh-" + SUFFIX, r"targetTimestamp"),
    ("gen negative", json.dumps({"taskId": "m-gn-" + SUFFIX, "gen": -1}), "m-gn-" + SUFFIX,
     r"gen"),
    ("gen not an integer", json.dumps({"taskId": "m-gf-" + SUFFIX, "gen": 1.5}),
     "m-gf-" + SUFFIX, r"gen"),
    ("gen a string", json.dumps({"taskId": "m-gs-" + SUFFIX, "gen": "1"}), "m-gs-" + SUFFIX,
     r"gen"),
    ("huge body (250 KB)", json.dumps({"taskId": HUGE_ID, "gen": 1, "pad": "p" * 250000}),
     HUGE_ID, r"does not exist"),
    ("taskId of a missing item", json.dumps({"taskId": "m-gone-" + SUFFIX,
     "targetTimestamp": None, "priority": None, "gen": 3}), "m-gone-" + SUFFIX,
     r"does not exist"),
    ("legacy message of a missing item", json.dumps({"taskId": "m-gone0-" + SUFFIX}),
     "m-gone0-" + SUFFIX, r"does not exist"),
]

msg_first_line = {}
for name, body, task_id, reason in MESSAGES:
    since = len(log_lines())
    send(body)

    def matches(l, task_id=task_id, reason=reason):
        if task_id is not None and l.get("task") != task_id:
            return False
        return re.search(reason, l.get("msg", "")) is not None

    got = wait_for(lambda: warn_lines(since, matches), 10)
    drained = wait_for(lambda: sum(queue_counts(QURL)) == 0, 10)
    why = []
    if not got:
        why.append("no warn/error line matching /%s/%s" % (
            reason, "" if task_id is None else " naming task %r" % task_id))
    elif len(got) != 1:
        why.append("%d lines, want one" % len(got))
    if not drained:
        why.append("the message was not deleted (queue %s)" % (queue_counts(QURL),))
    if not consumer_alive():
        why.append("the consumer exited (%s)" % consumer.returncode)
    msg_first_line[name] = since
    check("message/" + name, not why, "; ".join(why) + "; log: %s" % [
        l.get("msg") for l in log_lines()[since:]][-5:])

# A message without gen (the original scheduler's format) for an item that
# does not exist must not create one (the claim is an UpdateItem, which
# creates a missing item unless its condition requires the item).
check("message/no item created for a message of a missing task",
      get_item("m-gone0-" + SUFFIX) is None and get_item("m-gone-" + SUFFIX) is None,
      "the consumer created %r" % (get_item("m-gone0-" + SUFFIX) or
                                   get_item("m-gone-" + SUFFIX)))

# Item rows: put the item (raw AttributeValues, as a buggy or foreign writer
# would), then its message. now, now_ms: the time the rows are written.
now_ms = int(time.time() * 1000)


def base_item(task_id, type_="noop", gen=1):
    return {"id": {"S": task_id}, "ns": {"S": "bad-" + SUFFIX}, "type": {"S": type_},
            "params": {"M": {}}, "status": {"S": "PENDING"}, "completed": {"BOOL": False},
            "next_run": {"N": str(now_ms)}, "iteration": {"N": "0"},
            "attempts": {"N": "0"}, "max_attempts": {"N": "3"}, "gen": {"N": str(gen)},
            "created_at": {"N": str(now_ms)}, "updated_at": {"N": str(now_ms)},
            "due_shard": {"S": "0"}, "due_at": {"N": str(now_ms)},
            "enqueued_for": {"N": str(now_ms)}}


def with_(task_id, **changes):
    it = base_item(task_id)
    for k, v in changes.items():
        if v is None:
            it.pop(k, None)
        else:
            it[k] = v
    return it


def message(task_id, gen=1):
    return json.dumps({"taskId": task_id, "targetTimestamp": now_ms, "priority": None,
                       "gen": gen})


def S_(item, k):
    v = (item or {}).get(k, {})
    return v.get("S")


def N_(item, k):
    v = (item or {}).get(k, {})
    return int(v["N"]) if "N" in v else None


def failed_with(pattern):
    """An item check: FAILED, with last_error matching pattern."""
    def f(item, lines):
        if S_(item, "status") != "FAILED":
            return "status %s, want FAILED" % S_(item, "status")
        if not re.search(pattern, S_(item, "last_error") or ""):
            return "last_error %r does not match /%s/" % (S_(item, "last_error"), pattern)
        return None
    return f


def dropped_unchanged(field, status):
    """An item check: the message dropped with a warn/error line naming the
    field; the item left as it was (the consumer does not own what it cannot
    read)."""
    def f(item, lines):
        if S_(item, "status") != status or S_(item, "lease_owner") is not None:
            return "the item was changed: status %s, lease %s" % (
                S_(item, "status"), S_(item, "lease_owner"))
        if not any(re.search(field, l.get("msg", "")) for l in lines):
            return "no warn/error line naming %s" % field
        return None
    return f


def unknown_runner(item, lines):
    if S_(item, "status") != "FAILED":
        return "status %s, want FAILED after max_attempts retries" % S_(item, "status")
    errs = item.get("errors", {}).get("L", [])
    le = S_(item, "last_error") or ""
    if not re.search(r"no runner.*loaded", le):
        return "last_error %r, want a retryable \"no runner ... loaded\"" % le
    if len(errs) != 3 or N_(item, "attempts") not in (2, 3):
        return "%d errors recorded, attempts %s: want 3 attempts (max_attempts 3)" % (
            len(errs), N_(item, "attempts"))
    return None


def one_attempt_failed(item, lines):
    if S_(item, "status") != "FAILED":
        return "status %s, want FAILED" % S_(item, "status")
    errs = item.get("errors", {}).get("L", [])
    if len(errs) != 1:
        return "%d attempts recorded, want 1 (max_attempts 0 allows no retry)" % len(errs)
    return None


def completed_quietly(item, lines):
    if S_(item, "status") != "COMPLETED":
        return "status %s, want COMPLETED" % S_(item, "status")
    if lines:
        return "warn/error lines: %s" % [l.get("msg") for l in lines]
    return None


def pid(tag):
    return "it-%s-%s" % (tag, SUFFIX)


# (name, task id, item, message gen, check(item, warn/error lines naming it))
ITEMS = [
    ("params a number", pid("pnum"), with_(pid("pnum"), params={"N": "5"}), 1,
     failed_with(r"params")),
    ("params a list", pid("plist"), with_(pid("plist"), params={"L": [{"S": "a"}]}), 1,
     failed_with(r"params")),
    ("params a string that is not JSON", pid("pstr"), with_(pid("pstr"),
     params={"S": "{not json"}), 1, failed_with(r"params")),
    # Binary and set values are tolerated (lib/aws/marshal.h: B becomes its
    # base64 text, sets arrays): the task runs.
    ("params a map holding a binary and a set (tolerated)", pid("pbin"), with_(pid("pbin"),
     params={"M": {"a": {"B": "AAEC"}, "s": {"SS": ["x", "y"]}}}), 1, completed_quietly),
    ("type missing", pid("notype"), with_(pid("notype"), type=None), 1,
     failed_with(r"type")),
    ("type a number", pid("ntype"), with_(pid("ntype"), type={"N": "7"}), 1,
     failed_with(r"type")),
    ("type of a runner not loaded", pid("ghost"), with_(pid("ghost"),
     type={"S": "ghost-runner"}), 1, unknown_runner),
    ("status unknown", pid("status"), with_(pid("status"), status={"S": "WAITING"}), 1,
     dropped_unchanged(r"status", "WAITING")),
    ("gen a string", pid("gens"), with_(pid("gens"), gen={"S": "1"}), 1,
     dropped_unchanged(r"gen", "PENDING")),
    ("gen a string, message without gen", pid("gens0"), with_(pid("gens0"),
     gen={"S": "0"}), None, dropped_unchanged(r"gen", "PENDING")),
    ("next_run missing", pid("nrm"), with_(pid("nrm"), next_run=None), 1,
     dropped_unchanged(r"next_run", "PENDING")),
    ("max_attempts 0", pid("max0"), with_(pid("max0"), type={"S": "fail"},
     params={"M": {"mode": {"S": "retry"}}}, max_attempts={"N": "0"}), 1,
     one_attempt_failed),
]

# The table itself refuses a next_run or due_at of the wrong type (they
# are index keys: by_ns, by_due), as DynamoDB does: no item can carry one.
for attr in ("next_run", "due_at"):
    try:
        DDB.put_item(TableName=NAME, Item=with_(pid("nrs"), **{attr: {"S": "1"}}))
        refused = ""
    except botocore.exceptions.ClientError as e:
        refused = str(e)
    check("item/%s a string is refused by the table's index" % attr,
          "ValidationException" in refused, "the put succeeded" if not refused else refused)

item_since = len(log_lines())
for name, task_id, item, gen, _ in ITEMS:
    try:
        DDB.put_item(TableName=NAME, Item=item)
    except botocore.exceptions.ClientError as e:
        check("item/" + name, False, "cannot put the item: %s" % e)
        continue
    if gen is None:
        send(json.dumps({"taskId": task_id, "targetTimestamp": now_ms}))
    else:
        send(message(task_id, gen))


def item_settled(task_id, chk):
    lines = warn_lines(item_since, lambda l, t=task_id: l.get("task") == t)
    return chk(get_item(task_id), lines) is None


wait_for(lambda: all(item_settled(t, c) for _, t, _, _, c in ITEMS), 25, step=0.5)
for name, task_id, _, _, chk in ITEMS:
    item = get_item(task_id)
    lines = warn_lines(item_since, lambda l, t=task_id: l.get("task") == t)
    why = chk(item, lines)
    if why is None and not lines and chk is not completed_quietly:
        why = "no warn/error log line names the task"
    check("item/" + name, why is None, "%s; log: %s" % (why, [l.get("msg") for l in lines][-3:]))

# A good task after all of that: the consumer is alive and still works.
rc, out, err = tf(["submit", "--type", "noop", "--id", "good-" + SUFFIX])
done = rc == 0 and wait_for(lambda: S_(get_item("good-" + SUFFIX), "status") == "COMPLETED", 15)
check("consumer/still running and processing a good task afterwards",
      done and consumer_alive(), "submit exit %d %s; status %s; consumer %s" % (
          rc, err.strip(), S_(get_item("good-" + SUFFIX), "status"),
          "running" if consumer_alive() else "exited %s" % consumer.returncode))


# Nothing is retried forever: no message left in the queue (visible, in
# flight or delayed) or in the DLQ. A message cycling with visibility
# changes reaches the DLQ after 3 receives (init --max-receive-count 3).
def peek(url):
    """The task ids of the visible messages of a queue (without consuming
    them for long)."""
    ids = []
    r = SQS.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                            WaitTimeSeconds=0)
    for m in r.get("Messages", []):
        try:
            ids.append(json.loads(m["Body"]).get("taskId"))
        except (ValueError, AttributeError):
            ids.append(m["Body"][:40])
    return ids


quiet = wait_for(lambda: sum(queue_counts(QURL)) == 0 and sum(queue_counts(DLQURL)) == 0, 15)
check("consumer/nothing left in the queue or the DLQ", quiet,
      "queue %s, DLQ %s holding %s" % (queue_counts(QURL), queue_counts(DLQURL), peek(DLQURL)))

stop_consumer()
check("consumer/exits 0 on SIGTERM after all of it", consumer.returncode == 0,
      "exit %s (log: %s)" % (consumer.returncode, LOG))
log_f.close()

# Clean up what this script created.
try:
    DDB.delete_table(TableName=NAME)
    SQS.delete_queue(QueueUrl=QURL)
    SQS.delete_queue(QueueUrl=DLQURL)
except Exception:  # noqa: BLE001 - clean-up is best effort
    pass
subprocess.run(["rm", "-rf", TMP])
sys.exit(1 if REPORT.failed else 0)
