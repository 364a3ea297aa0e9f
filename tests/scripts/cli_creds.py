#!/usr/bin/env python3
"""cli_creds.py - every AWS credential source, end to end through the CLI.

Runs `taskfleet stats` against the local stand-ins through
tests/tools/sigv4_proxy.py (which recomputes every request's SigV4
signature with botocore and records the key that signed it), with
credentials from each source of the chain, served by
tests/tools/sts_fake.py (STS, whose AssumeRole signatures are checked with
botocore too, the IAM Identity Center portal and a container endpoint):

  - web identity from AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN /
    AWS_ROLE_SESSION_NAME, and from a profile's web_identity_token_file;
  - a role chain: top -> source_profile mid -> source_profile base (static
    keys, beside a credential_process that fails), with external_id,
    role_session_name and duration_seconds;
  - role_arn with credential_source = EcsContainer;
  - credential_process (quoted arguments, no shell);
  - IAM Identity Center, sso_session and legacy sso_* profiles, from the
    token cache of `aws sso login`;
  - the chain's order: environment keys win over the profile; a profile's
    role_arn wins over its static keys;
  - refusals with clear messages: mfa_serial, a source_profile loop, an
    expired SSO token, a failing credential_process;
  - refresh: a consumer whose web identity credentials live 303 s (the
    refresh starts 300 s ahead) signs with a new key after each refresh.

For each success the requests the CLI sent must all verify and be signed by
the key the fake issued (or the process printed) for that source. Talks
only to 127.0.0.0/8; HOME and the shared files point at a temp directory;
AWS_EC2_METADATA_DISABLED=true. Prints "PASS name" or "FAIL name: why".
"""
import atexit
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
TF = os.path.join(BUILD, "bin", "taskfleet")
CONSUMER = os.path.join(BUILD, "bin", "taskfleet-consumer")
OUT = os.path.join(os.environ.get("TF_TEST_OUT") or os.path.join(ROOT, "tests", "out"),
                   "cli_creds")
PROXY = os.path.join(ROOT, "tests", "tools", "sigv4_proxy.py")
STS = os.path.join(ROOT, "tests", "tools", "sts_fake.py")
REGION = "us-east-1"

sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tftest  # noqa: E402

REPORT = tftest.Report("cli_creds")
check = REPORT.check
setup_fail = REPORT.setup_fail

tftest.require_loopback_standins(REPORT)
for p in (TF, CONSUMER):
    if not os.access(p, os.X_OK):
        setup_fail("%s is missing (run make)" % p)

os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.unlink(os.path.join(OUT, f))
TMP = tempfile.mkdtemp(prefix="taskfleet-creds.")
HOME = os.path.join(TMP, "home")
os.makedirs(os.path.join(HOME, ".aws", "sso", "cache"))
NAME = "tf-creds-%d-%d" % (os.getpid(), int(time.time() * 1000) % 10**9)

AKID_ENV, SECRET_ENV = "AKIATFCREDSENV000001", "tfCredsEnvSecret/aaaaaaaaaaaaaaaaaaaaaaa"
AKID_BASE, SECRET_BASE = "AKIATFCREDSBASE00001", "tfCredsBaseSecret+bbbbbbbbbbbbbbbbbbbbbb"
AKID_STATIC, SECRET_STATIC = "AKIATFCREDSSTATIC001", "tfCredsStaticSecret/cccccccccccccccccccc"
AKID_PROC, SECRET_PROC = "ASIATFCREDSPROC00001", "tfCredsProcSecret+dddddddddddddddddddddd"
TOKEN_PROC = "tfCredsProcToken" + "e" * 40
WEB_TOKEN = "eyJhbGciOiJSUzI1NiJ9.tf-creds-web-identity.c2ln"
SSO_TOKEN = "tf-creds-sso-access-token-" + "f" * 20

procs = []


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    subprocess.run(["rm", "-rf", TMP])


atexit.register(cleanup)


wait_for = tftest.wait_for


def start(args, name):
    p = subprocess.Popen([sys.executable] + args,
                         stderr=open(os.path.join(OUT, name + ".stderr"), "wb"))
    procs.append(p)
    return p


def read_jsonl(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except OSError:
        return []


# The STS / portal / container fake, and the proxy in front of the stand-ins.
STS_PORT_FILE, STS_LOG = os.path.join(TMP, "sts.port"), os.path.join(OUT, "sts.jsonl")
ISSUED = os.path.join(TMP, "issued")
start([STS, "--port-file", STS_PORT_FILE, "--log", STS_LOG, "--issued", ISSUED,
       "--cred", "%s:%s" % (AKID_BASE, SECRET_BASE), "--region", REGION,
       "--web-token", WEB_TOKEN, "--sso-token", SSO_TOKEN,
       "--expires-in-role", "short-pod=303"], "sts")
PROXY_PORTS, PROXY_LOG = os.path.join(TMP, "proxy.ports"), os.path.join(OUT, "proxy.jsonl")
start([PROXY, "--upstream", "sqs=" + os.environ["AWS_ENDPOINT_URL_SQS"],
       "--upstream", "dynamodb=" + os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
       "--cred", "%s:%s" % (AKID_ENV, SECRET_ENV),
       "--cred", "%s:%s" % (AKID_STATIC, SECRET_STATIC),
       "--cred", "%s:%s:%s" % (AKID_PROC, SECRET_PROC, TOKEN_PROC),
       "--cred-file", ISSUED, "--region", REGION, "--port-file", PROXY_PORTS,
       "--log", PROXY_LOG], "proxy")
if not wait_for(lambda: os.path.exists(STS_PORT_FILE) and os.path.exists(PROXY_PORTS), 15):
    setup_fail("sts_fake.py or sigv4_proxy.py did not start (see %s)" % OUT)
STS_URL = "http://127.0.0.1:%s" % open(STS_PORT_FILE).read().strip()
PORTS = dict(l.split("=") for l in open(PROXY_PORTS).read().split())

# Every taskfleet process: nothing inherited that could change where
# credentials come from.
BASE = {k: v for k, v in os.environ.items()
        if not k.startswith("AWS_") and not k.startswith("TASKFLEET_")}
CONFIG = os.path.join(TMP, "config")
CREDENTIALS = os.path.join(TMP, "credentials")
BASE.update({
    "HOME": HOME, "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": REGION,
    "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:%s" % PORTS["sqs"],
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:%s" % PORTS["dynamodb"],
    "AWS_ENDPOINT_URL_STS": STS_URL, "AWS_ENDPOINT_URL_SSO": STS_URL,
    "AWS_CONFIG_FILE": CONFIG, "AWS_SHARED_CREDENTIALS_FILE": CREDENTIALS,
    "TASKFLEET_TABLE": NAME, "TASKFLEET_QUEUE": NAME, "TASKFLEET_LOG": "debug",
    "TASKFLEET_RUNNERS": os.path.join(BUILD, "runners"),
})

TOKEN_FILE = os.path.join(TMP, "web-identity-token")
with open(TOKEN_FILE, "w") as f:
    f.write(WEB_TOKEN + "\n")
PROC = os.path.join(TMP, "cred proc.py")
with open(PROC, "w") as f:
    f.write("import json, sys\n"
            "if sys.argv[1:] != ['--role', 'it is quoted']:\n"
            "    sys.exit('unexpected arguments %%r' %% sys.argv[1:])\n"
            "print(json.dumps({'Version': 1, 'AccessKeyId': %r, 'SecretAccessKey': %r,\n"
            "                  'SessionToken': %r, 'Expiration': '2099-01-01T00:00:00Z'}))\n"
            % (AKID_PROC, SECRET_PROC, TOKEN_PROC))
with open(CREDENTIALS, "w") as f:
    f.write("[static]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
            % (AKID_STATIC, SECRET_STATIC))
# base's keys are in the config file, next to a credential_process that
# fails: as a source_profile, a profile's keys win over everything else it
# has (as a profile of its own, its credential_process would come first).
with open(CONFIG, "w") as f:
    f.write("""[profile base]
aws_access_key_id = %s
aws_secret_access_key = %s
credential_process = /bin/false

[profile mid]
role_arn = arn:aws:iam::111122223333:role/mid
source_profile = base

[profile top]
role_arn = arn:aws:iam::444455556666:role/top
source_profile = mid
external_id = tf-ext-42
role_session_name = tf-e2e-top
duration_seconds = 900

[profile container-role]
role_arn = arn:aws:iam::111122223333:role/from-container
credential_source = EcsContainer

[profile wi]
web_identity_token_file = %s
role_arn = arn:aws:iam::111122223333:role/profile-pod

[profile proc]
credential_process = %s "%s" --role 'it is quoted'

[profile proc-fails]
credential_process = %s -c "import sys; sys.stderr.write('token expired, log in'); sys.exit(3)"

[profile role-wins]
role_arn = arn:aws:iam::111122223333:role/over-static
source_profile = base
aws_access_key_id = %s
aws_secret_access_key = %s

[profile mfa]
role_arn = arn:aws:iam::111122223333:role/mfa
source_profile = base
mfa_serial = arn:aws:iam::111122223333:mfa/op

[profile loop-a]
role_arn = arn:aws:iam::111122223333:role/a
source_profile = loop-b

[profile loop-b]
role_arn = arn:aws:iam::111122223333:role/b
source_profile = loop-a

[profile sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Deployer

[sso-session corp]
sso_start_url = https://corp.awsapps.example/start
sso_region = us-east-1

[profile sso-legacy]
sso_start_url = https://legacy.awsapps.example/start
sso_region = us-east-1
sso_account_id = 111122223333
sso_role_name = Legacy

[profile sso-expired]
sso_start_url = https://expired.awsapps.example/start
sso_region = us-east-1
sso_account_id = 111122223333
sso_role_name = Expired
""" % (AKID_BASE, SECRET_BASE, TOKEN_FILE, sys.executable, PROC, sys.executable,
       AKID_STATIC, SECRET_STATIC))


def sso_cache(key, token, expires):
    name = hashlib.sha1(key.encode()).hexdigest() + ".json"
    with open(os.path.join(HOME, ".aws", "sso", "cache", name), "w") as f:
        json.dump({"startUrl": key, "region": REGION, "accessToken": token,
                   "expiresAt": expires}, f)


sso_cache("corp", SSO_TOKEN, "2099-01-01T00:00:00Z")
sso_cache("https://legacy.awsapps.example/start", SSO_TOKEN, "2099-01-01T00:00:00Z")
sso_cache("https://expired.awsapps.example/start", SSO_TOKEN, "2020-01-01T00:00:00Z")

n_run = 0


def tf(args, env):
    """Runs the CLI; returns (status, stderr, the proxy records it caused)."""
    global n_run
    n_run += 1
    before = len(read_jsonl(PROXY_LOG))
    p = subprocess.run([TF] + args, env=env, capture_output=True, timeout=120)
    err = p.stderr.decode("utf-8", "replace")
    with open(os.path.join(OUT, "cli-%03d.log" % n_run), "w") as f:
        f.write("argv: %s\nenv: %s\nstatus: %d\n%s%s" % (
            args, {k: v for k, v in env.items() if k.startswith("AWS_")}, p.returncode,
            p.stdout.decode("utf-8", "replace"), err))
    return p.returncode, err, read_jsonl(PROXY_LOG)[before:]


def sts_records():
    return read_jsonl(STS_LOG)


def signed_by(name, recs, akid_prefix):
    """PASS when the run sent requests, all verified, all signed by a key
    starting with akid_prefix; returns that key."""
    keys = sorted({r["akid"] for r in recs})
    bad = [r["why"] for r in recs if not r["ok"]]
    check(name + "/signed with the source's key",
          recs and not bad and len(keys) == 1 and keys[0] and keys[0].startswith(akid_prefix),
          "records %d, keys %s, refused %s" % (len(recs), keys, bad[:2]))
    return keys[0] if len(keys) == 1 else None


def run_ok(name, env, akid_prefix):
    rc, err, recs = tf(["stats"], env)
    check(name + "/stats exits 0", rc == 0, "exit %d: %s" % (rc, err[-400:]))
    return signed_by(name, recs, akid_prefix)


# The table and queue, with environment keys.
ENV_KEYS = dict(BASE, AWS_ACCESS_KEY_ID=AKID_ENV, AWS_SECRET_ACCESS_KEY=SECRET_ENV)
rc, err, _ = tf(["init"], ENV_KEYS)
if rc != 0:
    setup_fail("taskfleet init failed: %s" % err[-400:])

# Web identity from the environment (EKS): no profile at all.
n0 = len(sts_records())
key = run_ok("web-identity-env", dict(BASE, AWS_WEB_IDENTITY_TOKEN_FILE=TOKEN_FILE,
                                      AWS_ROLE_ARN="arn:aws:iam::111122223333:role/eks-pod",
                                      AWS_ROLE_SESSION_NAME="pod-7f3a"), "ASIAEKSPOD")
new = sts_records()[n0:]
check("web-identity-env/one unsigned AssumeRoleWithWebIdentity with the token file's token",
      len(new) == 1 and new[0]["ok"] and new[0]["action"] == "AssumeRoleWithWebIdentity" and
      new[0]["web_token"] == WEB_TOKEN and new[0]["params"]["RoleSessionName"] == "pod-7f3a" and
      new[0]["issued"] == key, new)

# Web identity from a profile.
n0 = len(sts_records())
key = run_ok("web-identity-profile", dict(BASE, AWS_PROFILE="wi"), "ASIAPROFILEPOD")
new = sts_records()[n0:]
check("web-identity-profile/the profile's role",
      len(new) == 1 and new[0]["ok"] and
      new[0]["params"]["RoleArn"] == "arn:aws:iam::111122223333:role/profile-pod", new)

# A role chain: base's static keys assume mid, mid's credentials assume top.
n0 = len(sts_records())
key = run_ok("assume-role-chain", dict(BASE, AWS_PROFILE="top"), "ASIATOP")
new = sts_records()[n0:]
ok = len(new) == 2 and all(r["ok"] and r["action"] == "AssumeRole" for r in new)
check("assume-role-chain/mid signed by base's key, top by mid's role credentials",
      ok and new[0]["signed_by"] == AKID_BASE and
      new[0]["params"]["RoleArn"].endswith("role/mid") and
      new[1]["signed_by"] == new[0]["issued"] and new[1]["issued"] == key, new)
check("assume-role-chain/external_id, role_session_name and duration_seconds sent",
      ok and new[1]["params"].get("ExternalId") == "tf-ext-42" and
      new[1]["params"].get("RoleSessionName") == "tf-e2e-top" and
      new[1]["params"].get("DurationSeconds") == "900" and
      "ExternalId" not in new[0]["params"], new[1:] if ok else new)

# credential_source = EcsContainer.
n0 = len(sts_records())
key = run_ok("credential-source-container",
             dict(BASE, AWS_PROFILE="container-role",
                  AWS_CONTAINER_CREDENTIALS_FULL_URI=STS_URL + "/container"),
             "ASIAFROMCONTAINE")
new = sts_records()[n0:]
check("credential-source-container/the container's key signed AssumeRole",
      len(new) == 2 and new[0]["action"] == "container" and
      new[1]["signed_by"] == new[0]["issued"], new)

# credential_process, with a quoted path holding a space and quoted arguments.
run_ok("credential-process", dict(BASE, AWS_PROFILE="proc"), AKID_PROC)
rc, err, recs = tf(["stats"], dict(BASE, AWS_PROFILE="proc-fails"))
check("credential-process-fails/exit 1 with the command's status and stderr",
      rc == 1 and "exited with status 3" in err and "token expired, log in" in err and
      not recs, "exit %d, %d requests: %s" % (rc, len(recs), err[-400:]))

# IAM Identity Center.
n0 = len(sts_records())
key = run_ok("sso-session", dict(BASE, AWS_PROFILE="sso"), "ASIASSODEPLOYER")
new = sts_records()[n0:]
check("sso-session/GetRoleCredentials with the cached token",
      len(new) == 1 and new[0]["ok"] and new[0]["params"] ==
      {"account_id": "111122223333", "role_name": "Deployer"}, new)
run_ok("sso-legacy", dict(BASE, AWS_PROFILE="sso-legacy"), "ASIASSOLEGACY")
rc, err, recs = tf(["stats"], dict(BASE, AWS_PROFILE="sso-expired"))
check("sso-expired/exit 1 asking for aws sso login",
      rc == 1 and "expired" in err and "aws sso login --profile sso-expired" in err and
      not recs, "exit %d: %s" % (rc, err[-400:]))

# The order: environment keys before any profile; role_arn before static keys.
run_ok("order-env-first", dict(ENV_KEYS, AWS_PROFILE="top"), AKID_ENV)
run_ok("order-static-profile", dict(BASE, AWS_PROFILE="static"), AKID_STATIC)
run_ok("order-role-before-static-keys", dict(BASE, AWS_PROFILE="role-wins"), "ASIAOVERSTATIC")

# Refusals.
n0 = len(sts_records())
rc, err, recs = tf(["stats"], dict(BASE, AWS_PROFILE="mfa"))
check("mfa-refused/exit 1 naming mfa_serial, nothing sent",
      rc == 1 and "mfa_serial" in err and "MFA code" in err and not recs and
      len(sts_records()) == n0, "exit %d: %s" % (rc, err[-400:]))
rc, err, recs = tf(["stats"], dict(BASE, AWS_PROFILE="loop-a"))
check("source-profile-loop/exit 1 naming the loop",
      rc == 1 and "loop" in err and not recs and len(sts_records()) == n0,
      "exit %d: %s" % (rc, err[-400:]))

# Refresh before expiry: the consumer's web identity credentials live 303 s
# and are due for a refresh 3 s later (300 s ahead); refreshes are at most
# TF_CREDS_RETRY_MS (30 s) apart, so the second key signs from ~30 s on.
log = os.path.join(OUT, "consumer.log")
n0 = len(sts_records())
p0 = len(read_jsonl(PROXY_LOG))
consumer = subprocess.Popen(
    [CONSUMER, "--id", "creds-refresh", "--wait-time", "1", "--visibility-timeout", "5",
     "--shutdown-timeout", "5"],
    env=dict(BASE, AWS_WEB_IDENTITY_TOKEN_FILE=TOKEN_FILE, AWS_ROLE_SESSION_NAME="short",
             AWS_ROLE_ARN="arn:aws:iam::111122223333:role/short-pod"),
    stdout=open(log, "wb"), stderr=subprocess.STDOUT)
procs.append(consumer)


def refreshed_keys():
    keys = []
    for r in read_jsonl(PROXY_LOG)[p0:]:
        if r["ok"] and r["akid"] and r["akid"].startswith("ASIASHORTPOD") and \
                r["akid"] not in keys:
            keys.append(r["akid"])
    return keys if len(keys) >= 2 else None


keys = wait_for(refreshed_keys, 90, 0.3)
consumer.send_signal(signal.SIGTERM)
try:
    consumer.wait(20)
except subprocess.TimeoutExpired:
    consumer.kill()
    consumer.wait()
new = [r for r in sts_records()[n0:] if r["action"] == "AssumeRoleWithWebIdentity"]
check("refresh/the consumer signed with a second role key before the first expired",
      keys is not None, "keys seen: %s" % sorted({r["akid"] for r in read_jsonl(PROXY_LOG)[p0:]}))
check("refresh/each key came from its own AssumeRoleWithWebIdentity",
      keys is not None and all(r["ok"] for r in new) and
      [r["issued"] for r in new][:len(keys)] == keys, [r.get("issued") for r in new][:6])
refused = [r["why"] for r in read_jsonl(PROXY_LOG)[p0:] if not r["ok"]]
check("refresh/no request signed with a key the fake does not know", not refused, refused[:3])

sys.exit(1 if REPORT.failed else 0)
