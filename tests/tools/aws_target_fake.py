#!/usr/bin/env python3
"""aws_target_fake.py - loopback fakes of SNS, Lambda, EventBridge and Step
Functions for the AWS target runners' tests (tests/scripts/aws_targets.py).

    aws_target_fake.py --port-file F --log L.jsonl --cred AKID:SECRET
                       [--cred-file F]

Listens on 127.0.0.1 (a free port, written to --port-file once it listens)
and answers the four services on one port, told apart by the request: SNS
by its form body (Action=Publish), Lambda by its path
(/2015-03-31/functions/NAME/invocations), EventBridge and Step Functions by
X-Amz-Target. Every request's SigV4 signature is verified with botocore's
signer (tests/tools/sigv4_proxy.py's verify(), in the service and region of
its credential scope); a request that does not verify is answered 403
InvalidSignatureException. --cred-file names a file of AKID:SECRET[:TOKEN]
lines read again before each request (the credentials tests/tools/
sts_fake.py issues for an assumed role, its --issued file). One JSON line
per request goes to --log ("akid": the key that signed it):

    {"service": "sns", "op": "Publish", "ok": true, "why": "", "region":
     "us-east-1", "path": "/", "headers": {...lower-case...}, "body": "...",
     "status": 200, "akid": "AKID..."}

What it answers depends on a key in the request: the SNS topic's name, the
Lambda function's name, the EventBridge source, the state machine's name:

    throttle-N...     throttled for the first N requests with that key, then
                      as "ok" (SNS 400 Throttling, Lambda 429
                      TooManyRequestsException in X-Amzn-ErrorType,
                      EventBridge and Step Functions 400 ThrottlingException)
    throttle-all...   always throttled
    bad...            a permanent error (SNS InvalidParameter, Lambda 404
                      ResourceNotFoundException, EventBridge
                      ValidationException, Step Functions
                      StateMachineDoesNotExist)
    unhandled...      Lambda: 200 with X-Amz-Function-Error: Unhandled
    handled...        Lambda: 200 with X-Amz-Function-Error: Handled
    entry-throttled...  EventBridge: 200 with the entry refused as
                      ThrottlingException the first time, then accepted
    entry-bad...      EventBridge: 200 with the entry refused as
                      MalformedDetail
    anything else     accepted: SNS a MessageId (and a SequenceNumber for a
                      .fifo topic), Lambda 200 echoing the payload (202 for
                      an Event invocation), EventBridge an EventId, Step
                      Functions an executionArn; a second StartExecution of
                      a name answers ExecutionAlreadyExists, and
                      DescribeExecution returns the first one's input
"""
import argparse
import http.server
import json
import os
import re
import sys
import threading
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sigv4_proxy import Server, load_cred_file, serve, verify  # noqa: E402  (botocore's signer)

lock = threading.Lock()
seen = {}          # key -> requests so far
executions = {}    # execution ARN -> input


def count(key):
    with lock:
        seen[key] = seen.get(key, 0) + 1
        return seen[key]


def throttled(key):
    """True when this request with key is to be throttled."""
    n = count(key)
    m = re.match(r"throttle-(\d+|all)", key)
    if not m:
        return False
    return m.group(1) == "all" or n <= int(m.group(1))


def scope_of(headers):
    auth = headers.get("authorization", "")
    m = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request", auth)
    return (m.group(1), m.group(2)) if m else ("?", "?")


def sns(form):
    topic = form.get("TopicArn", [""])[0]
    key = topic.rsplit(":", 1)[-1]
    if throttled(key):
        return 400, {"Content-Type": "text/xml"}, (
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            "<Message>Rate exceeded</Message></Error><RequestId>r</RequestId>"
            "</ErrorResponse>")
    if key.startswith("bad"):
        return 400, {"Content-Type": "text/xml"}, (
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter"
            "</Code><Message>Invalid parameter: TopicArn</Message></Error>"
            "</ErrorResponse>")
    seq = "<SequenceNumber>10000000000000003000</SequenceNumber>" \
        if topic.endswith(".fifo") else ""
    return 200, {"Content-Type": "text/xml"}, (
        "<PublishResponse><PublishResult><MessageId>%s</MessageId>%s"
        "</PublishResult><ResponseMetadata><RequestId>r</RequestId>"
        "</ResponseMetadata></PublishResponse>" % (uuid.uuid4(), seq))


def lam(name, headers, body):
    key = name.rsplit(":", 1)[-1] if name.startswith("arn:") else name
    if throttled(key):
        return 429, {"X-Amzn-ErrorType": "TooManyRequestsException:http://internal/",
                     "Content-Type": "application/json"}, \
            json.dumps({"Type": "User", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                        "Message": "Rate Exceeded."})
    if key.startswith("bad"):
        return 404, {"X-Amzn-ErrorType": "ResourceNotFoundException",
                     "Content-Type": "application/json"}, \
            json.dumps({"Type": "User", "Message": "Function not found: " + name})
    if headers.get("x-amz-invocation-type") == "Event":
        return 202, {}, ""
    h = {"X-Amz-Executed-Version": "$LATEST", "Content-Type": "application/json"}
    if key.startswith("unhandled"):
        h["X-Amz-Function-Error"] = "Unhandled"
        return 200, h, json.dumps({"errorMessage": "Task timed out", "errorType": "Runtime.Timeout"})
    if key.startswith("handled"):
        h["X-Amz-Function-Error"] = "Handled"
        return 200, h, json.dumps({"errorMessage": "no such order", "errorType": "OrderError"})
    return 200, h, json.dumps({"echo": json.loads(body or "null")})


def json_error(kind, msg):
    return 400, {"Content-Type": "application/x-amz-json-1.1"}, \
        json.dumps({"__type": kind, "message": msg})


def events(req):
    entry = (req.get("Entries") or [{}])[0]
    key = entry.get("Source", "")
    if throttled(key):
        return json_error("ThrottlingException", "Rate exceeded")
    if key.startswith("bad"):
        return json_error("ValidationException", "bad source")
    n = seen[key]
    if key.startswith("entry-throttled") and n == 1:
        return 200, {}, json.dumps({"FailedEntryCount": 1, "Entries": [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]})
    if key.startswith("entry-bad"):
        return 200, {}, json.dumps({"FailedEntryCount": 1, "Entries": [
            {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}]})
    return 200, {}, json.dumps({"FailedEntryCount": 0, "Entries": [{"EventId": str(uuid.uuid4())}]})


def sfn(op, req):
    if op == "DescribeExecution":
        arn = req.get("executionArn", "")
        if arn not in executions:
            return json_error("ExecutionDoesNotExist", arn)
        return 200, {}, json.dumps({"executionArn": arn, "status": "SUCCEEDED",
                                    "input": executions[arn]})
    sm = req.get("stateMachineArn", "")
    key = sm.rsplit(":", 1)[-1]
    if throttled(key):
        return json_error("ThrottlingException", "Rate exceeded")
    if key.startswith("bad"):
        return json_error("StateMachineDoesNotExist", "State Machine Does Not Exist: " + sm)
    arn = sm.replace(":stateMachine:", ":execution:") + ":" + req.get("name", "")
    with lock:
        if arn in executions:
            return json_error("ExecutionAlreadyExists", "Execution Already Exists: '%s'" % arn)
        executions[arn] = req.get("input", "{}")
    return 200, {}, json.dumps({"executionArn": arn, "startDate": 1.7e9})


def make_handler(creds, log, cred_file=None):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            region, service = scope_of(headers)
            if cred_file is not None:
                with lock:
                    load_cred_file(cred_file, creds)
            try:
                ok, why, akid = verify(service, region, creds, self.command, self.path,
                                       list(self.headers.items()), body)
            except Exception as e:  # noqa: BLE001 - a verifier bug is a failure
                ok, why, akid = False, "verifier error: %r" % e, None
            text = body.decode("utf-8", "replace")
            target = headers.get("x-amz-target", "")
            path = urllib.parse.urlsplit(self.path).path
            op, svc = "?", "?"
            if not ok:
                status, h, out = 403, {}, json.dumps({"__type": "InvalidSignatureException",
                                                      "message": why})
            elif path.startswith("/2015-03-31/functions/"):
                svc, op = "lambda", "Invoke"
                name = urllib.parse.unquote(path.split("/")[3])
                status, h, out = lam(name, headers, text)
            elif target.startswith("AWSEvents."):
                svc, op = "events", target.split(".", 1)[1]
                status, h, out = events(json.loads(text))
            elif target.startswith("AWSStepFunctions."):
                svc, op = "states", target.split(".", 1)[1]
                status, h, out = sfn(op, json.loads(text))
            else:
                form = urllib.parse.parse_qs(text, keep_blank_values=True)
                svc, op = "sns", form.get("Action", ["?"])[0]
                status, h, out = sns(form)
            rec = {"service": svc, "op": op, "ok": ok, "why": why, "region": region,
                   "scope_service": service, "path": self.path, "headers": headers,
                   "body": text, "status": status, "akid": akid}
            with lock:
                log.write(json.dumps(rec) + "\n")
                log.flush()
            data = out.encode()
            self.send_response(status)
            for k, v in h.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cred", action="append", required=True, help="AKID:SECRET[:TOKEN]")
    ap.add_argument("--cred-file", help="more AKID:SECRET[:TOKEN] lines, reread as needed")
    a = ap.parse_args()
    creds = {}
    for c in a.cred:
        parts = c.split(":")
        creds[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else None)
    log = open(a.log, "a")
    srv = Server(("127.0.0.1", 0), make_handler(creds, log, a.cred_file))
    serve([srv], a.port_file, str(srv.server_address[1]))


if __name__ == "__main__":
    main()
