#!/usr/bin/env python3
"""aws_targets.py - the sns, lambda, eventbridge and stepfunctions runners
against loopback fakes of their services (tests/tools/aws_target_fake.py).

Runs each runner's .so through tests/tools/runonce (the consumer's own
loader and the runner's real code) with AWS_ENDPOINT_URL_SNS / _LAMBDA /
_EVENTBRIDGE / _SFN pointing at the fake on 127.0.0.1. The fake verifies
every request's SigV4 signature with botocore's signer; the checks read
what it received: the payload with its placeholders filled and escaped, the
attributes, FIFO ids, the region of the task's ARN, throttling retried
within the call, throttling that outlasts the call's attempts (the run is
retried), permanent errors (the run fails), Lambda's function errors, an
EventBridge entry refused inside a 200 answer, and Step Functions' one
execution per iteration (a retried run finds it by name).

Per-task roles (params.role_arn, external_id) against tests/tools/
sts_fake.py, which checks each AssumeRole's signature with botocore and
issues credentials the service fake then verifies the calls with: the call
is signed with the role's credentials, assumed once per role and kept (the
refresh 5 minutes before expiry is tests/unit/aws/test_creds_sts.c's, with
a moved clock); a refused AssumeRole retries the run without calling the
service; a malformed role ARN or an external id without a role fails the
run.

Prints "PASS name" or "FAIL name: why"; exits 1 on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TF_BUILD") or os.path.join(ROOT, os.environ.get("BUILD", "build"))
RUNONCE = os.path.join(BUILD, "tests", "tools", "runonce")
FAKE = os.path.join(ROOT, "tests", "tools", "aws_target_fake.py")
STS = os.path.join(ROOT, "tests", "tools", "sts_fake.py")
AKID, SECRET = "AKIDTARGETSTEST", "targets-test-secret-0123456789"
ACCT = "123456789012"
# 2026-12-07T09:00:00.000Z, the runs' scheduled time.
DUE_MS = 1796634000000
DUE_ISO = "2026-12-07T09:00:00.000Z"

sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tftest  # noqa: E402  (found through the path above)

REPORT = tftest.Report("aws_targets")
check = REPORT.check


class Fake:
    def __init__(self, tmp, argv=None, name="fake"):
        self.log = os.path.join(tmp, name + ".jsonl")
        port_file = os.path.join(tmp, name + ".port")
        self.proc = subprocess.Popen([sys.executable, argv[0] if argv else FAKE,
                                      "--port-file", port_file, "--log", self.log] +
                                     (argv[1:] if argv else
                                      ["--cred", AKID + ":" + SECRET,
                                       "--cred-file", os.path.join(tmp, "issued")]))
        deadline = time.time() + 20
        while not os.path.exists(port_file) and time.time() < deadline:
            time.sleep(0.05)
        self.url = "http://127.0.0.1:%s" % open(port_file).read().strip()

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


STS_URL = None  # the STS fake's, once main() started it


def run(fake, runner, tasks, secret=SECRET):
    """Runs the tasks (dicts) through runonce with runner; {id: output}."""
    env = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
              "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(k, None)
    env.update({"AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": AKID,
                "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_ENDPOINT_URL_SNS": fake.url, "AWS_ENDPOINT_URL_LAMBDA": fake.url,
                "AWS_ENDPOINT_URL_EVENTBRIDGE": fake.url, "AWS_ENDPOINT_URL_SFN": fake.url,
                "AWS_ENDPOINT_URL_STS": STS_URL or "http://127.0.0.1:9"})
    stdin = "".join(json.dumps(dict({"target_ms": DUE_MS}, **t)) + "\n" for t in tasks)
    p = subprocess.run([RUNONCE, os.path.join(BUILD, "runners", runner + ".so")],
                       input=stdin, capture_output=True, text=True, env=env, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("runonce exit %d: %s" % (p.returncode, p.stderr[-2000:]))
    return {o["id"]: o for o in (json.loads(line) for line in p.stdout.splitlines()
                                 if line.strip())}


def form(req):
    return {k: v[0] for k, v in urllib.parse.parse_qs(req["body"], keep_blank_values=True).items()}


def expect(name, out, outcome, more=True, why=""):
    check(name, out is not None and out["outcome"] == outcome and more,
          "%s; got %s" % (why, json.dumps(out)[:700]))


def sns_checks(fake):
    topic = "arn:aws:sns:us-east-1:%s:" % ACCT
    outs = run(fake, "sns", [
        {"id": 'a"b\\c', "iteration": 4, "params": {
            "topic_arn": topic + "ok", "subject": "s <taskfleet.iteration>",
            "message": {"id": "<taskfleet.task-id>", "at": "<taskfleet.scheduled-time>",
                        "ms": "<taskfleet.scheduled-time-ms>", "try": "<taskfleet.attempt>"},
            "attributes": {"kind": "report", "n": 7}}},
        {"id": "eu", "params": {"topic_arn": "arn:aws:sns:eu-west-1:%s:ok-eu" % ACCT,
                                "message": "hello"}},
        {"id": "t2", "params": {"topic_arn": topic + "throttle-2-sns", "message": "x"}},
        {"id": "tall", "params": {"topic_arn": topic + "throttle-all-sns", "message": "x"}},
        {"id": "bad", "params": {"topic_arn": topic + "bad-sns", "message": "x"}},
        {"id": "t-fifo", "iteration": 2, "params": {"topic_arn": topic + "ok.fifo",
                                                    "message": "in order"}},
        {"id": "noparams", "params": {"message": "x"}},
    ])
    reqs = [r for r in fake.requests() if r["service"] == "sns"]

    def of(key):
        return [r for r in reqs if form(r).get("TopicArn", "").endswith(":" + key)]
    ok = of("ok")
    f = form(ok[0]) if ok else {}
    expect("sns-publish-succeeds", outs.get('a"b\\c'), "success",
           outs.get('a"b\\c', {}).get("completed") and
           len((outs.get('a"b\\c', {}).get("result") or {}).get("message_id", "")) > 0)
    check("sns-message-templated-and-escaped", len(ok) == 1 and json.loads(f.get("Message", "null")) ==
          {"id": 'a"b\\c', "at": DUE_ISO, "ms": str(DUE_MS), "try": "1"}, repr(f)[:500])
    check("sns-subject-and-attributes", f.get("Subject") == "s 4" and
          f.get("MessageAttributes.entry.1.Name") == "kind" and
          f.get("MessageAttributes.entry.1.Value.StringValue") == "report" and
          f.get("MessageAttributes.entry.2.Value.DataType") == "Number" and
          f.get("MessageAttributes.entry.2.Value.StringValue") == "7" and
          f.get("Action") == "Publish" and f.get("Version") == "2010-03-31", repr(f)[:500])
    eu = of("ok-eu")
    check("sns-region-from-the-arn", len(eu) == 1 and eu[0]["region"] == "eu-west-1" and
          eu[0]["ok"] and (outs.get("eu", {}).get("result") or {}).get("region") == "eu-west-1",
          json.dumps(eu)[:300])
    expect("sns-throttling-retried-within-the-call", outs.get("t2"), "success",
           len(of("throttle-2-sns")) == 3, "%d requests" % len(of("throttle-2-sns")))
    expect("sns-throttling-outlasting-the-call-retries-the-run", outs.get("tall"), "retry",
           len(of("throttle-all-sns")) == 3 and "Throttling" in outs["tall"]["error"],
           "%d requests" % len(of("throttle-all-sns")))
    expect("sns-permanent-error-fails", outs.get("bad"), "failed",
           len(of("bad-sns")) == 1 and "InvalidParameter" in outs["bad"]["error"])
    fifo = of("ok.fifo")
    ff = form(fifo[0]) if fifo else {}
    expect("sns-fifo-ids-from-task-and-iteration", outs.get("t-fifo"), "success",
           ff.get("MessageGroupId") == "t-fifo" and ff.get("MessageDeduplicationId") == "t-fifo-2"
           and (outs["t-fifo"].get("result") or {}).get("sequence_number"), repr(ff)[:300])
    expect("sns-bad-params-fail-before-sending", outs.get("noparams"), "failed",
           "topic_arn" in outs.get("noparams", {}).get("error", ""))


def lambda_checks(fake):
    outs = run(fake, "lambda", [
        {"id": "l1", "iteration": 3, "params": {"function": "ok-fn", "qualifier": "live",
                                                "payload": {"order": "<taskfleet.task-id>"}}},
        {"id": "l-arn", "params": {"function": "arn:aws:lambda:eu-west-1:%s:function:ok-arn" % ACCT}},
        {"id": "l-async", "params": {"function": "ok-async", "invocation_type": "Event"}},
        {"id": "l-unhandled", "params": {"function": "unhandled-fn"}},
        {"id": "l-handled", "params": {"function": "handled-fn"}},
        {"id": "l-handled-retry", "params": {"function": "handled-fn2", "handled_error": "retry"}},
        {"id": "l-t2", "params": {"function": "throttle-2-fn"}},
        {"id": "l-bad", "params": {"function": "bad-fn"}},
    ])
    reqs = [r for r in fake.requests() if r["service"] == "lambda"]

    def of(name):
        return [r for r in reqs if "/functions/" + urllib.parse.quote(name, safe="") + "/" in r["path"]]
    one = of("ok-fn")
    r1 = (outs.get("l1") or {}).get("result") or {}
    expect("lambda-invoke-succeeds", outs.get("l1"), "success",
           r1.get("status_code") == 200 and r1.get("payload") == {"echo": {"order": "l1"}} and
           r1.get("executed_version") == "$LATEST")
    check("lambda-request-shape", len(one) == 1 and one[0]["path"].endswith("/invocations?Qualifier=live")
          and one[0]["headers"].get("x-amz-invocation-type") == "RequestResponse" and
          json.loads(one[0]["body"]) == {"order": "l1"}, json.dumps(one)[:500])
    arn = of("arn:aws:lambda:eu-west-1:%s:function:ok-arn" % ACCT)
    check("lambda-arn-path-signed-and-region", len(arn) == 1 and arn[0]["ok"] and
          arn[0]["region"] == "eu-west-1" and "%3A" in arn[0]["path"] and
          outs.get("l-arn", {}).get("outcome") == "success", json.dumps(arn)[:400])
    asy = of("ok-async")
    expect("lambda-event-invocation", outs.get("l-async"), "success",
           (outs["l-async"].get("result") or {}).get("status_code") == 202 and len(asy) == 1 and
           asy[0]["headers"].get("x-amz-invocation-type") == "Event")
    expect("lambda-unhandled-error-retries", outs.get("l-unhandled"), "retry",
           (outs["l-unhandled"].get("result") or {}).get("function_error") == "Unhandled")
    expect("lambda-handled-error-fails", outs.get("l-handled"), "failed",
           "Handled" in outs["l-handled"]["error"])
    expect("lambda-handled-error-retries-when-asked", outs.get("l-handled-retry"), "retry")
    expect("lambda-throttling-retried-within-the-call", outs.get("l-t2"), "success",
           len(of("throttle-2-fn")) == 3, "%d requests" % len(of("throttle-2-fn")))
    expect("lambda-not-found-fails-with-the-header-type", outs.get("l-bad"), "failed",
           "ResourceNotFoundException" in outs["l-bad"]["error"])


def events_checks(fake):
    outs = run(fake, "eventbridge", [
        {"id": "e1", "iteration": 3, "params": {
            "source": "ok.app", "detail_type": "Report due", "event_bus": "b1",
            "detail": {"n": "<taskfleet.iteration>", "ns": "<taskfleet.namespace>"},
            "resources": ["arn:aws:s3:::bucket"]}},
        {"id": "e-t2", "params": {"source": "throttle-2-ev", "detail_type": "x"}},
        {"id": "e-entry-t", "params": {"source": "entry-throttled-ev", "detail_type": "x"}},
        {"id": "e-entry-t", "params": {"source": "entry-throttled-ev", "detail_type": "x"}},
        {"id": "e-entry-bad", "params": {"source": "entry-bad-ev", "detail_type": "x"}},
        {"id": "e-bad", "params": {"source": "bad-ev", "detail_type": "x"}},
    ])
    reqs = [r for r in fake.requests() if r["service"] == "events"]

    def of(src):
        return [r for r in reqs if json.loads(r["body"])["Entries"][0]["Source"] == src]
    one = of("ok.app")
    e = json.loads(one[0]["body"])["Entries"][0] if one else {}
    expect("events-put-succeeds", outs.get("e1"), "success",
           len((outs["e1"].get("result") or {}).get("event_id", "")) > 0)
    check("events-entry-shape", len(one) == 1 and json.loads(e.get("Detail", "null")) ==
          {"n": "3", "ns": "default"} and e.get("DetailType") == "Report due" and
          e.get("EventBusName") == "b1" and e.get("Resources") == ["arn:aws:s3:::bucket"] and
          one[0]["headers"].get("x-amz-target") == "AWSEvents.PutEvents" and
          one[0]["headers"].get("content-type") == "application/x-amz-json-1.1", json.dumps(one)[:500])
    expect("events-throttling-retried-within-the-call", outs.get("e-t2"), "success",
           len(of("throttle-2-ev")) == 3)
    # The second run of e-entry-t overwrote the first's output: the first
    # was refused (retry), the second accepted; two requests in all.
    expect("events-refused-entry-then-accepted", outs.get("e-entry-t"), "success",
           len(of("entry-throttled-ev")) == 2)
    expect("events-failed-entry-code-decides", outs.get("e-entry-bad"), "failed",
           "MalformedDetail" in outs["e-entry-bad"]["error"])
    expect("events-validation-error-fails", outs.get("e-bad"), "failed",
           "ValidationException" in outs["e-bad"]["error"])
    first = run(fake, "eventbridge", [
        {"id": "e-entry-t2", "params": {"source": "entry-throttled-ev2", "detail_type": "x"}}])
    expect("events-throttled-entry-retries-the-run", first.get("e-entry-t2"), "retry",
           "ThrottlingException" in first["e-entry-t2"]["error"])


def sfn_checks(fake):
    sm = "arn:aws:states:us-east-1:%s:stateMachine:" % ACCT
    params = {"state_machine_arn": sm + "ok-sm", "input": {"task": "<taskfleet.task-id>",
                                                          "n": "<taskfleet.iteration>"}}
    outs = run(fake, "stepfunctions", [{"id": "sfn-1", "params": params}])
    again = run(fake, "stepfunctions", [{"id": "sfn-1", "attempt": 2, "params": params}])
    other = run(fake, "stepfunctions", [{"id": "sfn-1", "attempt": 3, "params": dict(
        params, input={"other": True})}])
    nxt = run(fake, "stepfunctions", [
        {"id": "sfn-1", "iteration": 1, "params": params},
        {"id": "sfn-t2", "params": {"state_machine_arn": sm + "throttle-2-sm"}},
        {"id": "sfn-bad", "params": {"state_machine_arn": sm + "bad-sm"}},
        {"id": "sfn-attempt", "params": {"state_machine_arn": sm + "ok-sm",
                                         "input": {"a": "<taskfleet.attempt>"}}},
    ])
    reqs = [r for r in fake.requests() if r["service"] == "states"]
    starts = [json.loads(r["body"]) for r in reqs if r["op"] == "StartExecution" and
              json.loads(r["body"])["stateMachineArn"].endswith(":ok-sm")]
    r1 = (outs.get("sfn-1") or {}).get("result") or {}
    expect("sfn-start-succeeds", outs.get("sfn-1"), "success",
           r1.get("execution_arn", "").endswith(":execution:ok-sm:sfn-1-0") and
           starts and starts[0]["name"] == "sfn-1-0" and
           json.loads(starts[0]["input"]) == {"task": "sfn-1", "n": "0"})
    r2 = (again.get("sfn-1") or {}).get("result") or {}
    expect("sfn-retried-run-finds-its-execution", again.get("sfn-1"), "success",
           r2.get("already_started") is True and
           any(r["op"] == "DescribeExecution" for r in reqs))
    expect("sfn-same-name-other-input-fails", other.get("sfn-1"), "failed",
           "other input" in other["sfn-1"]["error"])
    names = [s["name"] for s in starts]
    expect("sfn-next-iteration-new-name", nxt.get("sfn-1"), "success",
           names[-1] == "sfn-1-1", repr(names))
    expect("sfn-throttling-retried-within-the-call", nxt.get("sfn-t2"), "success",
           len([r for r in reqs if "throttle-2-sm" in r["body"]]) == 3)
    expect("sfn-missing-state-machine-fails", nxt.get("sfn-bad"), "failed",
           "StateMachineDoesNotExist" in nxt["sfn-bad"]["error"])
    expect("sfn-attempt-placeholder-refused", nxt.get("sfn-attempt"), "failed",
           "attempt" in nxt["sfn-attempt"]["error"])


def role_checks(fake, sts):
    topic = "arn:aws:sns:us-east-1:%s:" % ACCT
    role = "arn:aws:iam::210987654321:role/"
    outs = run(fake, "sns", [
        {"id": "ra1", "params": {"topic_arn": topic + "role-a1", "message": "x",
                                 "role_arn": role + "cross-a", "external_id": "ext-42"}},
        {"id": "ra2", "params": {"topic_arn": topic + "role-a2", "message": "x",
                                 "role_arn": role + "cross-a", "external_id": "ext-42"}},
        {"id": "rb", "params": {"topic_arn": topic + "role-b", "message": "x",
                                "role_arn": role + "cross-b"}},
        {"id": "own", "params": {"topic_arn": topic + "role-none", "message": "x"}},
        {"id": "refused", "params": {"topic_arn": topic + "role-refused", "message": "x",
                                     "role_arn": role + "team/nested"}},
        {"id": "badarn", "params": {"topic_arn": topic + "role-bad", "message": "x",
                                    "role_arn": "arn:aws:s3:::bucket"}},
        {"id": "extonly", "params": {"topic_arn": topic + "role-ext", "message": "x",
                                     "external_id": "ext-42"}},
    ])
    reqs = [r for r in fake.requests() if r["service"] == "sns"]
    assumed = [r for r in sts.requests() if r["action"] == "AssumeRole"]

    def akid(key):
        got = [r["akid"] for r in reqs if form(r).get("TopicArn", "").endswith(":" + key)
               and r["ok"]]
        return got[0] if len(got) == 1 else None

    def assumes(name):
        return [r for r in assumed if r["params"].get("RoleArn") == role + name]
    a = assumes("cross-a")
    expect("role-call-signed-with-the-assumed-role", outs.get("ra1"), "success",
           (akid("role-a1") or "").startswith("ASIACROSSA") and
           outs["ra1"].get("result", {}).get("role_arn") == role + "cross-a",
           "akid %s" % akid("role-a1"))
    check("role-assumed-with-external-id-signed-by-the-consumer",
          len(a) >= 1 and a[0]["ok"] and a[0]["signed_by"] == AKID and
          a[0]["params"].get("ExternalId") == "ext-42", json.dumps(a)[:500])
    check("role-credentials-kept-per-role", len(a) == 1 and akid("role-a2") == akid("role-a1")
          and outs.get("ra2", {}).get("outcome") == "success" and len(assumes("cross-b")) == 1
          and (akid("role-b") or "").startswith("ASIACROSSB")
          and "ExternalId" not in assumes("cross-b")[0]["params"],
          "%d AssumeRole of cross-a, %d of cross-b; keys %s %s %s" % (
              len(a), len(assumes("cross-b")), akid("role-a1"), akid("role-a2"),
              akid("role-b")))
    expect("role-none-uses-the-consumers-credentials", outs.get("own"), "success",
           akid("role-none") == AKID)
    expect("role-refused-by-sts-retries-without-calling", outs.get("refused"), "retry",
           not [r for r in reqs if "role-refused" in r["body"]] and
           [r for r in assumed if not r["ok"] and "nested" in r["params"].get("RoleArn", "")])
    expect("role-bad-arn-fails", outs.get("badarn"), "failed",
           "params.role_arn" in outs.get("badarn", {}).get("error", ""))
    expect("role-external-id-needs-a-role", outs.get("extonly"), "failed",
           "params.external_id needs params.role_arn" in outs.get("extonly", {}).get("error", ""))


def main():
    global STS_URL
    for runner in ("sns", "lambda", "eventbridge", "stepfunctions"):
        if not os.path.exists(os.path.join(BUILD, "runners", runner + ".so")):
            REPORT.setup_fail("%s.so is not built (make check-tests)" % runner)
    tmp = tempfile.mkdtemp(prefix="aws_targets-", dir=os.environ.get("TF_TEST_OUT"))
    # STS first: the service fake reads the credentials it issues.
    sts = Fake(tmp, [STS, "--issued", os.path.join(tmp, "issued"), "--cred",
                     AKID + ":" + SECRET], "sts")
    STS_URL = sts.url
    fake = Fake(tmp)
    try:
        sns_checks(fake)
        lambda_checks(fake)
        events_checks(fake)
        sfn_checks(fake)
        role_checks(fake, sts)
        bad = run(fake, "sns", [{"id": "badsig", "params": {
            "topic_arn": "arn:aws:sns:us-east-1:%s:ok-sig" % ACCT, "message": "x"}}],
            secret="not-the-secret")
        expect("a-bad-signature-is-refused-by-the-fake", bad.get("badsig"), "failed",
               "InvalidSignatureException" in bad["badsig"]["error"])
        reqs = fake.requests()
        unsigned = [r for r in reqs if not r["ok"] and "ok-sig" not in r["body"]]
        check("every-request-verified-by-botocore", len(reqs) > 30 and not unsigned,
              "%d requests, %d not verified: %s" % (len(reqs), len(unsigned),
                                                    json.dumps(unsigned[:2])[:600]))
    finally:
        fake.stop()
        sts.stop()
    sys.exit(1 if REPORT.failed else 0)


if __name__ == "__main__":
    main()
