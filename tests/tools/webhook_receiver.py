#!/usr/bin/env python3
"""webhook_receiver.py - a recording HTTP server for the http runner's tests.

    webhook_receiver.py --bind 127.0.0.1 --port-file F --log L.jsonl
                        [--tls-cert CERT.pem --tls-key KEY.pem]

Listens on a free port of --bind (loopback only: the tests never reach
anything else), writes the port to --port-file once it listens, and appends
one JSON line per request to --log:

    {"seq": 1, "t_ms": ..., "conn": "127.0.0.1:40112", "method": "POST",
     "path": "/ok?x=1", "headers": [["Host", "..."], ...],
     "body_b64": "...", "body": "..." (when it is UTF-8),
     "tls_resumed": true (HTTPS: whether the connection resumed a session)}

What it answers depends on the path (HTTP/1.1, keep-alive):

    /status/CODE                    CODE, body "status CODE"
    /retry-after/CODE/VALUE         CODE with Retry-After: VALUE ("date:N" sends
                                    an HTTP date N seconds ahead)
    /flaky/KEY/N[?retry_after=S][&code=C]
                                    503 (or C, with Retry-After: S) for the
                                    first N requests with KEY, then 200
    /sleep/MS                       200 after MS milliseconds
    /redirect/CODE?to=URL           CODE with Location: URL
    /big/BYTES                      200 with BYTES bytes of "x"
    /binary                         200 with bytes that are not UTF-8
    /headers                        200 with several response headers
    /drop                           closes the connection without answering
    anything else                   200, {"ok": true}
"""
import argparse
import base64
import email.utils
import json
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"seq": 0, "flaky": {}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    log_file = None

    def log_message(self, fmt, *args):
        pass

    def record(self, body):
        with LOCK:
            STATE["seq"] += 1
            entry = {
                "seq": STATE["seq"],
                "t_ms": int(time.time() * 1000),
                "conn": "%s:%d" % self.client_address[:2],
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_b64": base64.b64encode(body).decode(),
            }
            if isinstance(self.connection, ssl.SSLSocket):
                entry["tls_resumed"] = self.connection.session_reused
            try:
                entry["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                pass
            with open(self.log_file, "a") as f:
                f.write(json.dumps(entry) + "\n")
            return STATE["seq"]

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seq = self.record(body)
        url = urllib.parse.urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        head = parts[0] if parts else ""
        if head == "status":
            code = int(parts[1])
            if code in (204, 304):  # no body, by definition
                self.reply(code)
            else:
                self.reply(code, b"status %d" % code, [("Content-Type", "text/plain")])
        elif head == "retry-after":
            code, value = int(parts[1]), urllib.parse.unquote(parts[2])
            if value.startswith("date:"):
                value = email.utils.formatdate(time.time() + int(value[5:]), usegmt=True)
            self.reply(code, b"later", [("Retry-After", value)])
        elif head == "flaky":
            key, n = parts[1], int(parts[2])
            with LOCK:
                seen = STATE["flaky"].get(key, 0)
                STATE["flaky"][key] = seen + 1
            if seen < n:
                q = urllib.parse.parse_qs(url.query)
                ra = q.get("retry_after")
                self.reply(int(q.get("code", ["503"])[0]), b"not yet",
                           [("Retry-After", ra[0])] if ra else [])
            else:
                self.reply(200, b"finally")
        elif head == "sleep":
            time.sleep(int(parts[1]) / 1000.0)
            self.reply(200, b"slept")
        elif head == "redirect":
            to = urllib.parse.parse_qs(url.query)["to"][0]
            self.reply(int(parts[1]), b"", [("Location", to)])
        elif head == "big":
            self.reply(200, b"x" * int(parts[1]), [("Content-Type", "text/plain")])
        elif head == "binary":
            self.reply(200, b"ab\x00c\xff\xfe\xc3\x28d\xe2\x82\xac", [("Content-Type", "application/octet-stream")])
        elif head == "headers":
            self.reply(200, b"{}", [
                ("Content-Type", "application/json"), ("X-Request-Id", "req-%d" % seq),
                ("ETag", '"v1"'), ("Set-Cookie", "session=secret"), ("X-Other", "no"),
            ])
        elif head == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.reply(200, b'{"ok":true}', [("Content-Type", "application/json"),
                                            ("X-Request-Id", "req-%d" % seq)])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many webhooks connect at once

    def handle_error(self, request, client_address):
        pass  # a client that hangs up is part of the tests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="and this key (PEM)")
    args = ap.parse_args()
    if not re.match(r"^127\.\d+\.\d+\.\d+$", args.bind):
        raise SystemExit("webhook_receiver: --bind must be a 127.0.0.0/8 address")
    Handler.log_file = args.log
    open(args.log, "a").close()
    server = Server((args.bind, args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
