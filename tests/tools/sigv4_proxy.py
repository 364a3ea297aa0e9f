#!/usr/bin/env python3
"""sigv4_proxy.py - a recording reverse proxy that checks every AWS request's
SigV4 signature with botocore, between taskfleet and the local stand-ins.

    sigv4_proxy.py --upstream sqs=http://127.0.0.1:9324 \\
                   --upstream dynamodb=http://127.0.0.1:8000 \\
                   --cred AKID:SECRET[:TOKEN] ... [--cred-file FILE] \\
                   --region us-east-1 --port-file FILE --log FILE.jsonl

Listens on one free port of 127.0.0.1 per upstream and writes
"service=port" lines to --port-file once all listen. Every request is
forwarded unchanged (method, path, headers, body) to its upstream, and the
answer relayed back. For each request it appends one JSON line to --log:

    {"service": "sqs", "op": "AmazonSQS.ReceiveMessage", "ok": true,
     "why": "", "akid": "...", "url_credentials": false, "status": 200,
     "request_b64": "..."}

"ok" means: an Authorization header of the AWS4-HMAC-SHA256 scheme whose
Credential names a key given with --cred, the date of X-Amz-Date, --region
and this upstream's service; SignedHeaders that include host and
x-amz-date (and x-amz-security-token whenever the key has a token, with the
token's value); an X-Amz-Date within 5 minutes of now; an
X-Amz-Content-SHA256, when present, equal to the body's hash; and a
Signature equal to the one botocore's SigV4Auth computes over the same
signed headers, path, query and body with that key's secret.
"url_credentials" is true when the URL carries X-Amz-* query parameters
(a presigned URL) or any --cred secret or key id. request_b64 is the raw
request (request line, headers, body) for callers that search it.

--cred-file names a file of AKID:SECRET[:TOKEN] lines that is read again
before each request (credentials issued while the proxy runs, by
tests/tools/sts_fake.py).

Only loopback upstreams are accepted. Stops on SIGTERM.
"""
import argparse
import base64
import datetime
import hashlib
import http.client
import http.server
import json
import os
import re
import signal
import socketserver
import sys
import threading
import urllib.parse

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
       "trailer", "upgrade"}
AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),"
                     r"\s*Signature=([0-9a-f]{64})$")


class Recorder:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1)

    def write(self, rec):
        with self.lock:
            self.f.write(json.dumps(rec, sort_keys=True) + "\n")


def verify(service, region, creds, method, raw_path, headers, body):
    """Returns (ok, why, akid) for one request. headers: list of (name, value)."""
    hmap = {}
    for name, value in headers:
        hmap.setdefault(name.lower(), []).append(value)

    def one(name):
        v = hmap.get(name)
        return v[0] if v else None

    auth = one("authorization")
    if auth is None:
        return False, "no Authorization header", None
    if len(hmap["authorization"]) != 1:
        return False, "more than one Authorization header", None
    m = AUTH_RE.match(auth.strip())
    if not m:
        return False, "Authorization is not AWS4-HMAC-SHA256 Credential=..., " \
            "SignedHeaders=..., Signature=<64 hex>", None
    credential, signed, sig = m.groups()
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return False, "malformed Credential %r" % credential, None
    akid, date, c_region, c_service = parts[:4]
    if akid not in creds:
        return False, "unknown key id %r" % akid, akid
    secret, token = creds[akid]
    amz_date = one("x-amz-date")
    if amz_date is None:
        return False, "no X-Amz-Date", akid
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False, "malformed X-Amz-Date %r" % amz_date, akid
    skew = abs((datetime.datetime.utcnow() - when).total_seconds())
    if skew > 300:
        return False, "X-Amz-Date %s is %d s off" % (amz_date, skew), akid
    if date != amz_date[:8]:
        return False, "scope date %s is not X-Amz-Date's" % date, akid
    if c_region != region or c_service != service:
        return False, "scope %s/%s, want %s/%s" % (c_region, c_service, region, service), akid
    names = signed.split(";")
    if names != sorted(names) or len(set(names)) != len(names):
        return False, "SignedHeaders not sorted and unique: %s" % signed, akid
    for need in ("host", "x-amz-date"):
        if need not in names:
            return False, "%s is not signed" % need, akid
    for n in names:
        if n not in hmap:
            return False, "signed header %s is not in the request" % n, akid
    if token is not None:
        if "x-amz-security-token" not in names:
            return False, "the session token is not signed", akid
        if one("x-amz-security-token") != token:
            return False, "X-Amz-Security-Token is not the key's token", akid
    elif "x-amz-security-token" in hmap:
        return False, "a session token for a key that has none", akid
    sha = one("x-amz-content-sha256")
    if sha is not None and sha != hashlib.sha256(body).hexdigest():
        return False, "X-Amz-Content-SHA256 is not the body's hash", akid

    # botocore signs what is on the request: exactly the signed headers.
    url = "http://" + one("host") + raw_path
    req = AWSRequest(method=method, url=url, data=body)
    for n in names:
        # Several values of one name are joined with commas (SigV4).
        req.headers[n] = ",".join(hmap[n])
    req.context["timestamp"] = amz_date
    signer = botocore.auth.SigV4Auth(Credentials(akid, secret, token), service, region)
    botocore_signed = signer.signed_headers(signer.headers_to_sign(req))
    if botocore_signed != signed:
        return False, "botocore would sign %s, the request signed %s" % (
            botocore_signed, signed), akid
    creq = signer.canonical_request(req)
    want = signer.signature(signer.string_to_sign(req, creq), req)
    if want != sig:
        return False, "signature differs from botocore's (canonical request: %r)" % creq, akid
    return True, "", akid


def url_credentials(raw_path, creds):
    q = urllib.parse.urlsplit(raw_path).query
    keys = [k.lower() for k, _ in urllib.parse.parse_qsl(q, keep_blank_values=True)]
    if any(k.startswith("x-amz-") for k in keys):
        return True
    text = urllib.parse.unquote(raw_path)
    for akid, (secret, token) in creds.items():
        for s in (akid, secret, token):
            if s and s in text:
                return True
    return False


def load_cred_file(path, creds):
    """Adds the AKID:SECRET[:TOKEN] lines of path to creds."""
    try:
        with open(path) as f:
            for line in f:
                akid, secret, token = (line.strip().split(":", 2) + [None, None])[:3]
                if akid and secret:
                    creds[akid] = (secret, token or None)
    except OSError:
        pass


def make_handler(service, upstream, region, creds, rec, cred_file=None):
    up = urllib.parse.urlsplit(upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
            pass

        def _relay(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n > 0 else b""
            headers = list(self.headers.items())
            if cred_file is not None:
                load_cred_file(cred_file, creds)
            try:
                ok, why, akid = verify(service, region, creds, self.command, self.path,
                                       headers, body)
            except Exception as e:  # noqa: BLE001 - a verifier bug is a failure
                ok, why, akid = False, "verifier error: %r" % e, None
            raw = ("%s %s %s\r\n" % (self.command, self.path, self.request_version)).encode()
            raw += b"".join(("%s: %s\r\n" % (k, v)).encode("latin-1", "replace")
                            for k, v in headers) + b"\r\n" + body
            record = {"service": service, "op": self.headers.get("X-Amz-Target", ""),
                      "method": self.command, "ok": ok, "why": why, "akid": akid,
                      "url_credentials": url_credentials(self.path, creds),
                      "request_b64": base64.b64encode(raw).decode()}
            fwd = {k: v for k, v in headers if k.lower() not in HOP}
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=fwd)
                resp = conn.getresponse()
                data = resp.read()
                status, reason, rh = resp.status, resp.reason, resp.getheaders()
            except (OSError, http.client.HTTPException) as e:
                data = ("proxy: upstream failed: %s" % e).encode()
                status, reason, rh = 502, "Bad Gateway", [("Content-Type", "text/plain")]
            finally:
                conn.close()
            record["status"] = status
            rec.write(record)
            self.send_response(status, reason)
            for k, v in rh:
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = _relay

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up (a cancelled long poll) are normal


def serve(servers, port_file, text):
    """Serves servers (a Server each) until SIGTERM or SIGINT, once text (their
    ports) is in port_file, written whole through a rename so that a test
    polling for the file never reads half of it. Also the fakes' (sts_fake.py,
    aws_target_fake.py)."""
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    with open(port_file + ".tmp", "w") as f:
        f.write(text)
    os.replace(port_file + ".tmp", port_file)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    for srv in servers:
        srv.shutdown()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", action="append", required=True,
                    help="SERVICE=URL (service as in the signing scope: sqs, dynamodb)")
    ap.add_argument("--cred", action="append", default=[], help="AKID:SECRET[:TOKEN]")
    ap.add_argument("--cred-file", help="more AKID:SECRET[:TOKEN] lines, reread as needed")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()

    creds = {}
    for c in a.cred:
        akid, secret, token = (c.split(":", 2) + [None])[:3]
        creds[akid] = (secret, token or None)
    rec = Recorder(a.log)
    servers, lines = [], []
    for u in a.upstream:
        service, _, url = u.partition("=")
        host = urllib.parse.urlsplit(url).hostname or ""
        if not (host.startswith("127.") or host == "localhost"):
            sys.exit("sigv4_proxy: refusing a non-loopback upstream " + url)
        srv = Server(("127.0.0.1", 0),
                     make_handler(service, url, a.region, creds, rec, a.cred_file))
        servers.append(srv)
        lines.append("%s=%d" % (service, srv.server_address[1]))
    serve(servers, a.port_file, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
