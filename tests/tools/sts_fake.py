#!/usr/bin/env python3
"""sts_fake.py - a loopback stand-in for AWS STS and the IAM Identity Center
portal, for the credential chain's tests.

    sts_fake.py --port-file FILE --log FILE.jsonl --issued FILE \\
                [--cred AKID:SECRET[:TOKEN] ...] [--region us-east-1] \\
                [--expires-in 3600] [--web-token TOKEN] [--sso-token TOKEN]

Listens on one free port of 127.0.0.1 and writes it to --port-file.

STS (POST /, the query protocol, Version 2011-06-15):
  - AssumeRole must be signed: the signature is recomputed with botocore
    (tests/tools/sigv4_proxy.py's verify(), service "sts") with a key given
    by --cred or one this fake issued earlier (so role chains work).
  - AssumeRoleWithWebIdentity must not be signed and must carry
    WebIdentityToken (equal to --web-token when given).
  - RoleArn must look like arn:aws:iam::<12 digits>:role/<name>,
    RoleSessionName like [\\w+=,.@-]{2,64}, DurationSeconds 900-43200.
Each success issues fresh credentials, ASIA<ROLE NAME><n>, that expire
--expires-in seconds later, appended as AKID:SECRET:TOKEN to --issued (for
sigv4_proxy.py --cred-file). Refusals answer STS's XML error document.

The portal (GET /federation/credentials?account_id=&role_name=) needs the
header x-amz-sso_bearer_token equal to --sso-token, and issues credentials
the same way (ASIASSO<ROLE NAME><n>).

GET /container answers as the ECS container credentials endpoint would,
with fresh credentials ASIACONTAINER<n>.

--expires-in-role ROLE=SECONDS gives that role's credentials (and the
portal's, for an SSO role name) another lifetime, for refresh tests.

Every request appends one JSON line to --log: {"action", "ok", "why",
"signed_by", "params", "issued"}. Stops on SIGTERM.
"""
import argparse
import datetime
import http.server
import json
import os
import re
import secrets
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4_proxy  # noqa: E402

ARN_RE = re.compile(r"^arn:aws:iam::\d{12}:role/([\w+=,.@-]{1,64})$")
SESSION_RE = re.compile(r"^[\w+=,.@-]{2,64}$")


class State:
    def __init__(self, a):
        self.lock = threading.Lock()
        self.a = a
        self.creds = {}
        for c in a.cred or []:
            akid, secret, token = (c.split(":", 2) + [None])[:3]
            self.creds[akid] = (secret, token or None)
        self.n = 0
        self.log = open(a.log, "a", buffering=1)
        self.issued = open(a.issued, "a", buffering=1)

    def issue(self, tag, role=None):
        life = self.a.expires_in
        for spec in self.a.expires_in_role or []:
            name, _, secs = spec.partition("=")
            if name == role:
                life = int(secs)
        with self.lock:
            self.n += 1
            akid = "ASIA%s%04d" % (re.sub(r"[^A-Z0-9]", "", tag.upper())[:12], self.n)
            secret = secrets.token_hex(20)
            token = "FQoG" + secrets.token_hex(40)
            self.creds[akid] = (secret, token)
            self.issued.write("%s:%s:%s\n" % (akid, secret, token))
        exp = datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(seconds=life)
        return akid, secret, token, exp

    def record(self, rec):
        with self.lock:
            self.log.write(json.dumps(rec, sort_keys=True) + "\n")


def xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def make_handler(st):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
            pass

        def reply(self, status, ctype, body):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def sts_error(self, status, code, message):
            self.reply(status, "text/xml", (
                '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                "<Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>"
                "<RequestId>fake</RequestId></ErrorResponse>") % (code, xml_escape(message)))

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n > 0 else b""
            params = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                                 keep_blank_values=True))
            action = params.get("Action", "")
            rec = {"action": action, "ok": False, "why": "", "signed_by": None,
                   "params": {k: v for k, v in params.items() if k != "WebIdentityToken"},
                   "issued": None, "web_token": params.get("WebIdentityToken")}
            why = self.check(action, params, body, rec)
            if why:
                rec["why"] = why
                st.record(rec)
                code = "SignatureDoesNotMatch" if why.startswith("signature") else \
                    "InvalidIdentityToken" if why.startswith("token") else "ValidationError"
                self.sts_error(403 if code != "ValidationError" else 400, code, why)
                return
            role = ARN_RE.match(params["RoleArn"]).group(1)
            akid, secret, token, exp = st.issue(role, role)
            rec.update(ok=True, issued=akid)
            st.record(rec)
            result = action + "Result"
            self.reply(200, "text/xml", (
                '<%sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%s>'
                "<AssumedRoleUser><Arn>%s</Arn><AssumedRoleId>AROA:%s</AssumedRoleId>"
                "</AssumedRoleUser><Credentials><AccessKeyId>%s</AccessKeyId>"
                "<SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken>"
                "<Expiration>%s</Expiration></Credentials></%s>"
                "<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>"
                "</%sResponse>") % (action, result, xml_escape(params["RoleArn"]),
                                    xml_escape(params["RoleSessionName"]), akid, secret,
                                    token, exp.strftime("%Y-%m-%dT%H:%M:%SZ"), result,
                                    action))

        def check(self, action, params, body, rec):
            """Returns why the request is refused, or ""."""
            headers = list(self.headers.items())
            if params.get("Version") != "2011-06-15":
                return "Version is %r" % params.get("Version")
            if action == "AssumeRole":
                ok, why, akid = sigv4_proxy.verify("sts", st.a.region, st.creds, "POST",
                                                   self.path, headers, body)
                rec["signed_by"] = akid
                if not ok:
                    return "signature: " + why
                if "WebIdentityToken" in params:
                    return "AssumeRole with a WebIdentityToken"
            elif action == "AssumeRoleWithWebIdentity":
                if self.headers.get("Authorization") is not None:
                    return "AssumeRoleWithWebIdentity is signed"
                tok = params.get("WebIdentityToken", "")
                if not tok:
                    return "token: no WebIdentityToken"
                if st.a.web_token is not None and tok != st.a.web_token:
                    return "token: WebIdentityToken is not the expected one"
                if "ExternalId" in params:
                    return "ExternalId with web identity"
            else:
                return "unknown Action %r" % action
            if not ARN_RE.match(params.get("RoleArn", "")):
                return "RoleArn %r is not a role ARN" % params.get("RoleArn")
            if not SESSION_RE.match(params.get("RoleSessionName", "")):
                return "RoleSessionName %r is invalid" % params.get("RoleSessionName")
            if "DurationSeconds" in params:
                d = params["DurationSeconds"]
                if not d.isdigit() or not 900 <= int(d) <= 43200:
                    return "DurationSeconds %r out of range" % d
            if "ExternalId" in params and not re.match(r"^[\w+=,.@:/-]{2,1224}$",
                                                       params["ExternalId"]):
                return "ExternalId %r is invalid" % params["ExternalId"]
            return ""

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            rec = {"action": "GetRoleCredentials", "ok": False, "why": "",
                   "signed_by": None, "params": q, "issued": None}
            tok = self.headers.get("x-amz-sso_bearer_token")
            if u.path == "/container":
                akid, secret, token, exp = st.issue("CONTAINER")
                rec.update(action="container", ok=True, issued=akid)
                st.record(rec)
                self.reply(200, "application/json", json.dumps({
                    "AccessKeyId": akid, "SecretAccessKey": secret, "Token": token,
                    "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}))
                return
            if u.path != "/federation/credentials":
                rec["why"] = "unknown path " + u.path
            elif not q.get("account_id", "").isdigit() or not q.get("role_name"):
                rec["why"] = "account_id or role_name missing"
            elif st.a.sso_token is None or tok != st.a.sso_token:
                rec["why"] = "bearer token %r refused" % tok
                st.record(rec)
                self.reply(401, "application/json",
                           '{"message":"Session token not found or invalid"}')
                return
            if rec["why"]:
                st.record(rec)
                self.reply(400, "application/json", json.dumps({"message": rec["why"]}))
                return
            akid, secret, token, exp = st.issue("SSO" + q["role_name"], q["role_name"])
            rec.update(ok=True, issued=akid)
            st.record(rec)
            self.reply(200, "application/json", json.dumps({"roleCredentials": {
                "accessKeyId": akid, "secretAccessKey": secret, "sessionToken": token,
                "expiration": int(exp.timestamp() * 1000)}}))

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--issued", required=True)
    ap.add_argument("--cred", action="append", help="AKID:SECRET[:TOKEN]")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--expires-in", type=int, default=3600)
    ap.add_argument("--expires-in-role", action="append", help="ROLE=SECONDS")
    ap.add_argument("--web-token")
    ap.add_argument("--sso-token")
    a = ap.parse_args()
    st = State(a)
    srv = sigv4_proxy.Server(("127.0.0.1", 0), make_handler(st))
    sigv4_proxy.serve([srv], a.port_file, "%d\n" % srv.server_address[1])


if __name__ == "__main__":
    main()
