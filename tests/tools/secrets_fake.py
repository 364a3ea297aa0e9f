"""secrets_fake.py - a loopback fake of AWS Secrets Manager's GetSecretValue
and SSM Parameter Store's GetParameter (JSON protocol 1.1), for the tests of
`taskfleet serve`'s API keys (tests/scripts/serve_ops.py).

    fake = SecretsFake(region, {akid: (secret, token)})   # listens on 127.0.0.1
    fake.values["secretsmanager", "name"] = "text"         # what it answers
    fake.fail = ("secretsmanager", 500)                    # or an error
    fake.port, fake.requests                               # [(service, op, ok, why)]

Every request's SigV4 signature is checked with botocore (sigv4_proxy.py's
verify()) for the service its X-Amz-Target names; a request that fails the
check is answered 403 InvalidSignatureException and recorded with ok False.
An unknown name is 400 ResourceNotFoundException / ParameterNotFound, as
AWS answers.
"""
import http.server
import json
import os
import socketserver
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sigv4_proxy import verify  # noqa: E402

TARGETS = {"secretsmanager.GetSecretValue": ("secretsmanager", "GetSecretValue"),
           "AmazonSSM.GetParameter": ("ssm", "GetParameter")}


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class SecretsFake:
    def __init__(self, region, creds):
        self.region, self.creds = region, creds
        self.values = {}
        self.fail = None
        self.requests = []
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                svc, op = TARGETS.get(self.headers.get("X-Amz-Target", ""), (None, None))
                if svc is None:
                    return self.answer(400, {"__type": "UnknownOperationException", "message": "no such target"})
                ok, why, _ = verify(svc, fake.region, fake.creds, "POST", self.path,
                                    list(self.headers.items()), body)
                if ok and self.headers.get("Content-Type") != "application/x-amz-json-1.1":
                    ok, why = False, "Content-Type %r" % self.headers.get("Content-Type")
                with fake.lock:
                    fake.requests.append((svc, op, ok, why))
                    fail = fake.fail
                if not ok:
                    return self.answer(403, {"__type": "InvalidSignatureException", "message": why})
                if fail is not None and fail[0] == svc:
                    return self.answer(fail[1], {"__type": "InternalFailure", "message": "the fake fails"})
                req = json.loads(body or b"{}")
                if svc == "secretsmanager":
                    name = req.get("SecretId")
                    if (svc, name) not in fake.values:
                        return self.answer(400, {"__type": "ResourceNotFoundException",
                                                 "message": "Secrets Manager can't find the specified secret."})
                    return self.answer(200, {"ARN": "arn:aws:secretsmanager:%s:123456789012:secret:%s" % (fake.region, name),
                                             "Name": name, "SecretString": fake.values[svc, name],
                                             "VersionId": "v1", "VersionStages": ["AWSCURRENT"]})
                name = req.get("Name")
                if (svc, name) not in fake.values or req.get("WithDecryption") is not True:
                    return self.answer(400, {"__type": "ParameterNotFound", "message": "no such parameter "
                                             "(or WithDecryption is not true)"})
                return self.answer(200, {"Parameter": {"Name": name, "Type": "SecureString",
                                                       "Value": fake.values[svc, name], "Version": 1}})

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, svc, ok=None):
        with self.lock:
            return sum(1 for r in self.requests if r[0] == svc and (ok is None or r[2] == ok))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
