#!/usr/bin/env python3
"""security.py - secrets never leak, and every AWS request is signed.

Runs the CLI and a consumer against the local stand-ins through
tests/tools/sigv4_proxy.py (a recording reverse proxy that re-computes every
request's SigV4 signature with botocore), with distinctive values for
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, TASKFLEET_HTTP_SIGNING_KEYS and
the http runner's own configuration secret (TASKFLEET_RUNNER_CONFIG_HTTP
signing_keys), at TASKFLEET_LOG=debug, through success and error paths:
init, submit, http tasks that succeed, fail with 500 and cannot connect, a
failing task, get --json, list, due, stats, a bad endpoint, a missing table
and queue, bad input; then again with credentials from a shared credentials
file and AWS_PROFILE, and with a malformed credentials file.

Checks:
  - no byte of any output (stdout, stderr, consumer logs, get --json), of
    any request a webhook receiver got, or of any request sent to AWS holds
    a secret, the first 16 bytes of one, the hex of those 16 bytes, or the
    hex of the SigV4 signing keys derived from a secret key (the session
    token is allowed in requests to AWS only, where it belongs);
  - every request to AWS carried a valid SigV4 signature of the expected
    key, none carried credentials in its URL, and each operation the
    programs use was seen at least once;
  - the proxy's check itself: a request with a wrong signature is flagged,
    one signed by botocore passes.

Needs what tests/run exports (the stand-ins' AWS_ENDPOINT_URL_*, TF_BUILD).
Talks only to 127.0.0.0/8. Prints "PASS name" or "FAIL name: why".
"""
import atexit
import base64
import datetime
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
TF = os.path.join(BUILD, "bin", "taskfleet")
CONSUMER = os.path.join(BUILD, "bin", "taskfleet-consumer")
OUT = os.path.join(os.environ.get("TF_TEST_OUT") or os.path.join(ROOT, "tests", "out"),
                   "security")
PROXY = os.path.join(ROOT, "tests", "tools", "sigv4_proxy.py")
RECEIVER = os.path.join(ROOT, "tests", "tools", "webhook_receiver.py")
REGION = "us-east-1"

sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tftest  # noqa: E402  (found through the path above)

REPORT = tftest.Report("security")
check = REPORT.check
setup_fail = REPORT.setup_fail


tftest.require_loopback_standins(REPORT)
for p in (TF, CONSUMER):
    if not os.access(p, os.X_OK):
        setup_fail("%s is missing (run make)" % p)
try:
    import botocore.auth  # noqa: F401 - the proxy needs it
    import botocore.session
except ImportError as e:
    setup_fail("cannot import botocore: %s" % e)

os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.unlink(os.path.join(OUT, f))
TMP = tempfile.mkdtemp(prefix="taskfleet-sec.")
SUFFIX = "%d-%d" % (os.getpid(), int(time.time() * 1000) % 10**9)
NAME = "tf-sec-" + SUFFIX

# The secrets: distinctive, so that a leak cannot be a coincidence.
AKID_E = "AKIATFSECENV" + "7Q2X9Z4W"
SECRET_E = "tfSecEnv/9xQ2+vL7mK3pR8sT1wY6zB4nC0dF5gH2jJ8k"
TOKEN_E = "IQoJtfSecToken" + "Zq8Wm3Xc7Vb2Nl5Kj9Hg4Fd1Sa6Pq0Ow" * 4
AKID_P = "AKIATFSECPROF3M8N1B6"
SECRET_P = "tfSecProf+4bN7cV1xZ9aS3dF6gH0jK2lQ5wE8rT/yU1i"
SECRET_BAD = "tfSecMalformed+Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz2X"
SIGN_1 = "tfSignKeyOne-a8F3kL9qZ2mX7pW4vB6nC1"
SIGN_2 = "tfSignKeyTwo-R5tY8uI2oP4aS6dF9gH3jK"
RCFG_1 = "tfRunnerCfgKey-Z9x8C7v6B5n4M3l2K1j0"

NEVER = {"AWS_SECRET_ACCESS_KEY (env)": SECRET_E, "shared-file secret": SECRET_P,
         "malformed-file secret": SECRET_BAD, "TASKFLEET_HTTP_SIGNING_KEYS[0]": SIGN_1,
         "TASKFLEET_HTTP_SIGNING_KEYS[1]": SIGN_2,
         "TASKFLEET_RUNNER_CONFIG_HTTP signing_keys[0]": RCFG_1}
NOT_IN_OUTPUT = dict(NEVER, **{"AWS_SESSION_TOKEN": TOKEN_E})


def sigv4_keys(secret, service, days=(-1, 0, 1)):
    """The hex of the derived SigV4 keys (kDate ... kSigning) around today."""
    out = []
    for d in days:
        date = (datetime.datetime.utcnow() + datetime.timedelta(days=d)).strftime("%Y%m%d")
        k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
        out.append(k.hex())
        for part in (REGION, service, "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            out.append(k.hex())
    return out


def needles(table):
    """(what, bytes) pairs to search for."""
    out = []
    for what, s in table.items():
        b = s.encode()
        out.append((what, b))
        out.append((what + " (first 16 bytes)", b[:16]))
        out.append((what + " (hex of its first 16 bytes)", b[:16].hex().encode()))
        out.append((what + " (HEX of its first 16 bytes)", b[:16].hex().upper().encode()))
        out.append((what + " (base64)", base64.b64encode(b)))
    for what, s in (("env secret", SECRET_E), ("profile secret", SECRET_P)):
        for svc in ("sqs", "dynamodb"):
            for h in sigv4_keys(s, svc):
                out.append(("a SigV4 key derived from the %s" % what, h.encode()))
    return out


# ---------------------------------------------------------------- helpers
procs = []


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(cleanup)


def wait_file(path, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return True
        time.sleep(0.05)
    return False


# The proxy, with the env key (and its token) and the profile's key.
ports_file = os.path.join(TMP, "proxy.ports")
PROXY_LOG = os.path.join(OUT, "proxy.jsonl")
proxy = subprocess.Popen([sys.executable, PROXY,
                          "--upstream", "sqs=" + os.environ["AWS_ENDPOINT_URL_SQS"],
                          "--upstream", "dynamodb=" + os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
                          "--cred", "%s:%s:%s" % (AKID_E, SECRET_E, TOKEN_E),
                          "--cred", "%s:%s" % (AKID_P, SECRET_P),
                          "--region", REGION, "--port-file", ports_file, "--log", PROXY_LOG],
                         stderr=open(os.path.join(OUT, "proxy.stderr"), "wb"))
procs.append(proxy)
if not wait_file(ports_file):
    setup_fail("sigv4_proxy.py did not start (see %s/proxy.stderr)" % OUT)
PORTS = dict(l.split("=") for l in open(ports_file).read().split())
EP_SQS = "http://127.0.0.1:%s" % PORTS["sqs"]
EP_DDB = "http://127.0.0.1:%s" % PORTS["dynamodb"]

receiver_port = os.path.join(TMP, "receiver.port")
RECEIVER_LOG = os.path.join(OUT, "receiver.jsonl")
receiver = subprocess.Popen([sys.executable, RECEIVER, "--bind", "127.0.0.1",
                             "--port-file", receiver_port, "--log", RECEIVER_LOG],
                            stderr=open(os.path.join(OUT, "receiver.stderr"), "wb"))
procs.append(receiver)
if not wait_file(receiver_port):
    setup_fail("webhook_receiver.py did not start")
HOOK = "http://127.0.0.1:%s" % open(receiver_port).read().strip()

# The environment of every taskfleet process: nothing inherited that could
# change where credentials come from.
BASE = {k: v for k, v in os.environ.items()
        if not k.startswith("AWS_") and not k.startswith("TASKFLEET_")}
BASE.update({
    "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": REGION,
    "AWS_ENDPOINT_URL_SQS": EP_SQS, "AWS_ENDPOINT_URL_DYNAMODB": EP_DDB,
    "AWS_SHARED_CREDENTIALS_FILE": os.path.join(TMP, "no-credentials"),
    "AWS_CONFIG_FILE": os.path.join(TMP, "no-config"),
    "TASKFLEET_TABLE": NAME, "TASKFLEET_QUEUE": NAME, "TASKFLEET_LOG": "debug",
    "TASKFLEET_RUNNERS": os.path.join(BUILD, "runners"),
    "TASKFLEET_HTTP_SIGNING_KEYS": SIGN_1 + "," + SIGN_2,
    "TASKFLEET_RUNNER_CONFIG_HTTP": json.dumps({"signing_keys": [RCFG_1],
                                                "allow": "127.0.0.1"}),
    "TASKFLEET_HTTP_ALLOW": "127.0.0.1",
    "TASKFLEET_RETRY_BASE": "100ms", "TASKFLEET_RETRY_CAP": "300ms",
})
ENV_CREDS = dict(BASE, AWS_ACCESS_KEY_ID=AKID_E, AWS_SECRET_ACCESS_KEY=SECRET_E,
                 AWS_SESSION_TOKEN=TOKEN_E)
cred_file = os.path.join(TMP, "credentials")
with open(cred_file, "w") as f:
    f.write("[default]\naws_access_key_id = AKIATFSECDEFAULT0000\n"
            "aws_secret_access_key = not-this-one\n\n"
            "[tf-sec]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (AKID_P, SECRET_P))
conf_file = os.path.join(TMP, "config")
with open(conf_file, "w") as f:
    f.write("[profile tf-sec]\nregion = %s\n" % REGION)
PROFILE_CREDS = dict(BASE, AWS_PROFILE="tf-sec", AWS_SHARED_CREDENTIALS_FILE=cred_file,
                     AWS_CONFIG_FILE=conf_file)
bad_cred_file = os.path.join(TMP, "credentials-bad")
with open(bad_cred_file, "w") as f:
    f.write("[tf-sec]\naws_access_key_id = %s\naws_secret_access_key: %s\n"
            "aws_session_token %s\n[broken\n" % (AKID_P, SECRET_BAD, SECRET_BAD))
BAD_PROFILE = dict(PROFILE_CREDS, AWS_SHARED_CREDENTIALS_FILE=bad_cred_file)

outputs = []  # files whose every byte is searched
n_run = 0


def tf(args, env, want=None, name=None):
    """Runs the CLI; keeps its stdout and stderr for the search."""
    global n_run
    n_run += 1
    base = os.path.join(OUT, "cli-%03d" % n_run)
    p = subprocess.run([TF] + args, env=env, capture_output=True, timeout=60)
    for ext, data in (("out", p.stdout), ("err", p.stderr)):
        with open(base + "." + ext, "wb") as f:
            f.write(data)
        outputs.append(base + "." + ext)
    with open(base + ".argv", "w") as f:
        f.write(json.dumps(args) + "\n")
    if want is not None:
        check("run/" + (name or " ".join(args)), p.returncode == want,
              "exit %d, want %d: %s" % (p.returncode, want,
                                         p.stderr.decode("utf-8", "replace")[-300:]))
    return p.returncode, p.stdout.decode("utf-8", "replace")


def start_consumer(name, env, extra=()):
    log = os.path.join(OUT, "consumer-%s.log" % name)
    outputs.append(log)
    p = subprocess.Popen([CONSUMER, "--id", "sec-" + name, "--wait-time", "1",
                          "--visibility-timeout", "4", "--shutdown-timeout", "5"] + list(extra),
                         env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def stop(p, seconds=15):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(seconds)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


def task_status(env, task_id):
    rc, out = tf(["--json", "get", task_id], env)
    try:
        return json.loads(out).get("status") if rc == 0 else None
    except ValueError:
        return None


def wait_for(pred, seconds, step=0.3):
    deadline = time.time() + seconds
    while True:
        v = pred()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


# ---------------------------------------------------------------- the proxy checks itself
def raw_post(port, target, body, auth, amz_date):
    req = urllib.request.Request("http://127.0.0.1:%s/" % port, data=body, headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target,
        "X-Amz-Date": amz_date, "Authorization": auth})
    try:
        urllib.request.urlopen(req, timeout=10).read()
    except Exception:  # noqa: BLE001 - only the proxy's record matters
        pass


def proxy_records():
    with open(PROXY_LOG) as f:
        return [json.loads(l) for l in f if l.strip()]


now = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
raw_post(PORTS["dynamodb"], "DynamoDB_20120810.ListTables", b"{}",
         "AWS4-HMAC-SHA256 Credential=%s/%s/%s/dynamodb/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=%s" % (AKID_P, now[:8], REGION, "0" * 64), now)
bc = botocore.session.get_session().create_client(
    "dynamodb", region_name=REGION, endpoint_url=EP_DDB, aws_access_key_id=AKID_P,
    aws_secret_access_key=SECRET_P)
bc.list_tables()
bc_bad = botocore.session.get_session().create_client(
    "dynamodb", region_name=REGION, endpoint_url=EP_DDB, aws_access_key_id=AKID_P,
    aws_secret_access_key=SECRET_P + "x")
bc_bad.list_tables()
recs = proxy_records()
check("proxy flags a wrong signature, a wrong secret, and passes botocore's own",
      len(recs) == 3 and [r["ok"] for r in recs] == [False, True, False],
      "records: %s" % [(r["ok"], r["why"][:80]) for r in recs])
SELF_TEST = len(recs)

# ---------------------------------------------------------------- env credentials
E = ENV_CREDS
tf(["init", "--visibility-timeout", "4"], E, 0, "init")
rc, noop_id = tf(["submit", "--type", "noop"], E, 0, "submit noop")
noop_id = noop_id.strip()
ids = {"noop": noop_id}
for name, args in (
        ("hook ok", ["http", "--url", HOOK + "/ok", "--method", "POST",
                     "--header", "X-Api-Key: public-value", "--json-body", '{"a": 1}']),
        ("hook slow", ["http", "--url", HOOK + "/sleep/3000", "--timeout", "10s"]),
        ("hook 500", ["http", "--url", HOOK + "/status/500", "--max-attempts", "2"]),
        ("hook refused", ["http", "--url", "http://127.0.0.1:1/x", "--max-attempts", "1"]),
        ("fail permanent", ["submit", "--type", "fail", "--params",
                            '{"mode": "permanent", "message": "no luck"}'])):
    rc, out = tf(args, E, 0, "submit " + name)
    ids[name] = out.strip()
consumer = start_consumer("env", E)
finals = {"noop": "COMPLETED", "hook ok": "COMPLETED", "hook slow": "COMPLETED",
          "hook 500": "FAILED", "hook refused": "FAILED", "fail permanent": "FAILED"}
wait_for(lambda: all(task_status(E, ids[k]) == v for k, v in finals.items()), 30, 0.5)
for k, v in finals.items():
    st = task_status(E, ids[k])
    check("env: %s ends %s" % (k, v), st == v, "status %s" % st)
for k in ids:
    tf(["--json", "get", ids[k]], E, 0, "get --json " + k)
    tf(["get", ids[k]], E, 0, "get " + k)
tf(["--json", "list"], E, 0, "list --json")
tf(["list"], E, 0, "list")
tf(["due"], E, 0, "due")
tf(["stats"], E, 0, "stats")
# A task the consumer is not there for when it stops: its message goes back.
tf(["submit", "--type", "noop", "--at", "+2s"], E, 0, "submit noop in 2 s")
time.sleep(0.5)
check("env: consumer exits 0 on SIGTERM", stop(consumer) == 0, "exit %s" % consumer.returncode)
# Error paths.
tf(["--endpoint-url", "http://127.0.0.1:1", "get", "x"], E, 1, "bad endpoint")
tf(["--table", "tf-no-such-" + SUFFIX, "get", "x"], E, 1, "missing table")
tf(["--queue", "tf-no-such-" + SUFFIX, "submit", "--type", "noop"], E, 1, "missing queue")
tf(["get", "no-such-" + SUFFIX], E, 3, "get missing task")
tf(["submit", "--type", "noop", "--params", "{bad"], E, 2, "bad params")
tf(["http", "--url", HOOK + "/ok", "--header", "Authorization: Bearer " + "x" * 10,
    "--header", "X-A: b\nc"], E, 2, "bad header")
c2 = start_consumer("missing-queue", dict(E, TASKFLEET_QUEUE="tf-no-such-" + SUFFIX))
time.sleep(2)
stop(c2)
c3 = start_consumer("bad-endpoint", dict(E, AWS_ENDPOINT_URL_SQS="http://127.0.0.1:1",
                                         AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:1"))
time.sleep(2)
stop(c3)

# ---------------------------------------------------------------- a shared credentials file
P = PROFILE_CREDS
rc, pid_ = tf(["submit", "--type", "noop"], P, 0, "profile: submit")
pid_ = pid_.strip()
c4 = start_consumer("profile", P)
check("profile: the task completes",
      wait_for(lambda: task_status(P, pid_) == "COMPLETED", 15), "status %s" % task_status(P, pid_))
stop(c4)
tf(["--json", "get", pid_], P, 0, "profile: get --json")
tf(["--json", "list"], P, 0, "profile: list")
tf(["get", "no-such-" + SUFFIX], P, 3, "profile: get missing task")
tf(["--endpoint-url", "http://127.0.0.1:1", "get", "x"], P, 1, "profile: bad endpoint")
tf(["get", "x"], dict(P, AWS_PROFILE="tf-no-such-profile"), None)
tf(["get", "x"], BAD_PROFILE, None)
c5 = start_consumer("bad-profile", BAD_PROFILE)
time.sleep(1.5)
stop(c5)

# ---------------------------------------------------------------- the search
stop(receiver)
time.sleep(0.3)
stop(proxy)
recs = proxy_records()[SELF_TEST:]
wire_aws = b"".join(base64.b64decode(r["request_b64"]) for r in recs)
wire_hooks = open(RECEIVER_LOG, "rb").read() if os.path.exists(RECEIVER_LOG) else b""
check("webhooks were received and signed",
      wire_hooks.count(b"Taskfleet-Signature") >= 3, "receiver log: %d bytes" % len(wire_hooks))


def search(blob, table):
    return sorted({what for what, n in needles(table) if n in blob})


def file_bytes(paths):
    data = b""
    for p in paths:
        with open(p, "rb") as f:
            data += f.read()
    return data


planted = b"x" + SECRET_E[:16].encode().hex().encode() + b"y"
check("the search finds a planted secret (the hex of its first 16 bytes)",
      search(planted, NOT_IN_OUTPUT) != [], "not found")
check("the requests to AWS were captured (the session token is in them)",
      TOKEN_E.encode() in wire_aws, "%d bytes captured" % len(wire_aws))
out_blob = file_bytes(outputs)
check("outputs were collected", len(outputs) > 40 and b"COMPLETED" in out_blob
      and b'"level":"debug"' in out_blob,
      "%d files, %d bytes" % (len(outputs), len(out_blob)))
for path in outputs:
    hits = search(file_bytes([path]), NOT_IN_OUTPUT)
    if hits:
        check("no secret in %s" % os.path.basename(path), False, "holds: %s" % ", ".join(hits))
check("no secret in any output (%d files, stdout, stderr, logs, get --json)" % len(outputs),
      not search(out_blob, NOT_IN_OUTPUT), ", ".join(search(out_blob, NOT_IN_OUTPUT)))
check("no secret in what the webhooks received",
      not search(wire_hooks, NOT_IN_OUTPUT), ", ".join(search(wire_hooks, NOT_IN_OUTPUT)))
check("no secret key or signing key in what was sent to AWS",
      not search(wire_aws, NEVER), ", ".join(search(wire_aws, NEVER)))

# ---------------------------------------------------------------- every request signed
bad = [r for r in recs if not r["ok"]]
check("every AWS request carried a valid SigV4 signature (%d requests)" % len(recs),
      recs and not bad, "%d of %d failed: %s" % (len(bad), len(recs),
                                                  [(r["op"], r["why"][:200]) for r in bad[:5]]))
check("no AWS request carried credentials in its URL",
      not any(r["url_credentials"] for r in recs),
      [r["op"] for r in recs if r["url_credentials"]][:5])
ops = {}
for r in recs:
    ops[r["op"]] = ops.get(r["op"], 0) + 1
print("# operations seen: %s" % json.dumps(ops, sort_keys=True))
for op in ("DynamoDB_20120810.CreateTable", "DynamoDB_20120810.DescribeTable",
           "DynamoDB_20120810.PutItem", "DynamoDB_20120810.GetItem",
           "DynamoDB_20120810.UpdateItem", "DynamoDB_20120810.Query",
           "AmazonSQS.CreateQueue", "AmazonSQS.GetQueueUrl", "AmazonSQS.GetQueueAttributes",
           "AmazonSQS.SendMessage", "AmazonSQS.ReceiveMessage", "AmazonSQS.DeleteMessageBatch"):
    check("signed requests seen for %s" % op, ops.get(op, 0) > 0, "none")
vis = sum(v for k, v in ops.items() if k.startswith("AmazonSQS.ChangeMessageVisibility"))
check("signed requests seen for ChangeMessageVisibility(Batch)", vis > 0, "none")
profile_recs = [r for r in recs if r["akid"] == AKID_P]
check("the profile's key signed requests too", len(profile_recs) > 0, "none")

subprocess.run(["rm", "-rf", TMP])
sys.exit(1 if REPORT.failed else 0)
