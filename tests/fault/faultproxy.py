#!/usr/bin/env python3
"""faultproxy - an HTTP/1.1 reverse proxy on 127.0.0.1 that injects faults.

Sits between the consumers and one stand-in (SQS or DynamoDB). Each request
on a client connection (kept alive: the C client reuses its connections) is
forwarded over that connection's own upstream connection, unless a fault is
drawn for it. Faults, each drawn with its own rate per request:

  throttle      400 with the service's throttling error in the AWS JSON shape
                (DynamoDB: ThrottlingException / ProvisionedThroughputExceeded
                with x-amzn-ErrorType; SQS: RequestThrottled with
                x-amzn-query-error), not forwarded
  error5xx      500 InternalServerError / 503 ServiceUnavailable, not forwarded
  latency       sleeps a random time in [--latency-min-ms, --latency-max-ms],
                then forwards
  reset_before  the connection is reset (RST) before forwarding
  reset_after   the request is forwarded and takes effect, the answer is
                read, and then the client's connection is reset instead of
                answering: the nastiest, as the client cannot know

Chosen requests can lose their answer instead of a drawn fault:
--lose-reply REGEX forwards the first request whose head and body (as
Latin-1 text) match REGEX, reads its answer and closes the client's
connection without it (a FIN: on a kept-alive connection the client cannot
tell this from a server that closed an idle connection, and libcurl sends
the request again by itself); --lose-reply-times N does this to the first N
matching requests whose matched text (REGEX's first group, when it has one)
differs, so a request sent again is answered. Counted as lose_reply.
--late-reply REGEX forwards the first request that matches REGEX at once
(it takes effect) and holds its answer --late-reply-ms before sending it: a
slow or partitioned service whose client hears late. Counted as late_reply.

Usage:
  faultproxy.py --upstream http://127.0.0.1:PORT --service sqs|ddb
                --port-file FILE --stats-file FILE [--seed N]
                [--throttle R] [--error5xx R] [--latency R] [--reset-before R]
                [--reset-after R] [--latency-min-ms MS] [--latency-max-ms MS]
                [--lose-reply REGEX [--lose-reply-times N]]
                [--late-reply REGEX [--late-reply-ms MS]]

--control-file FILE (polled every 100 ms) holds {"faults": true|false,
"outage": null|"hang"|"reset"}: "hang" holds every request until the outage
ends (a partition: the client sees nothing, then late answers or its own
timeout), "reset" resets every connection at once (the service is down).
Requests held or reset by an outage are counted as outage_hang / outage_reset.

SIGUSR1 turns every fault off (the driver does that before it drains the
queue); SIGUSR2 turns them back on. The stats file holds {"requests": N,
"throttle": N, ...} and is rewritten every half second and at exit (SIGTERM).
"""
import argparse
import json
import os
import random
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

KINDS = ("throttle", "error5xx", "latency", "reset_before", "reset_after", "lose_reply",
         "late_reply")


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.counts = {k: 0 for k in KINDS}
        self.counts["requests"] = 0
        self.counts["upstream_errors"] = 0
        self.enabled = True
        self.outage = None
        self.outage_over = threading.Condition(self.lock)
        self.rng = random.Random(args.seed)
        self.lose = re.compile(args.lose_reply) if args.lose_reply else None
        self.lose_left = args.lose_reply_times
        self.lost = set()
        self.late = re.compile(args.late_reply) if args.late_reply else None
        host, port = args.upstream.split("//", 1)[1].rstrip("/").split(":")
        self.upstream = (host, int(port))

    def draw(self, raw):
        """The fault for one request (raw: its bytes), or None; counts it."""
        a = self.args
        with self.lock:
            self.counts["requests"] += 1
            m = self.lose.search(raw.decode("latin-1")) \
                if self.lose is not None and self.lose_left > 0 else None
            key = m and (m.group(1) if m.re.groups else m.group(0))
            if m and key not in self.lost:
                self.lost.add(key)
                self.lose_left -= 1
                self.counts["lose_reply"] += 1
                return ("lose_reply", 0), 0
            if self.late is not None and self.late.search(raw.decode("latin-1")):
                self.late = None
                self.counts["late_reply"] += 1
                return ("late_reply", 0), a.late_reply_ms / 1000.0
            if self.outage == "reset":
                self.counts["outage_reset"] = self.counts.get("outage_reset", 0) + 1
                return ("reset_before", 0), 0
            if self.outage == "hang":
                self.counts["outage_hang"] = self.counts.get("outage_hang", 0) + 1
                while self.outage == "hang":
                    self.outage_over.wait()
            if not self.enabled:
                return None, 0
            x = self.rng.random()
            for kind, rate in (("throttle", a.throttle), ("error5xx", a.error5xx),
                               ("latency", a.latency), ("reset_before", a.reset_before),
                               ("reset_after", a.reset_after)):
                if x < rate:
                    self.counts[kind] += 1
                    delay = 0
                    if kind == "latency":
                        delay = self.rng.uniform(a.latency_min_ms, a.latency_max_ms) / 1000.0
                    variant = self.rng.random()
                    return (kind, variant), delay
                x -= rate
            return None, 0

    def set_control(self, faults, outage):
        with self.lock:
            self.enabled = faults
            self.outage = outage
            self.outage_over.notify_all()

    def bump(self, key):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def write_stats(self):
        with self.lock:
            text = json.dumps(self.counts, sort_keys=True)
        tmp = self.args.stats_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, self.args.stats_file)


class Closed(Exception):
    pass


def read_until(sock, buf, marker):
    """Reads from sock until buf holds marker; returns (head, rest)."""
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed()
        buf += chunk
    i = buf.index(marker) + len(marker)
    return buf[:i], buf[i:]


def read_exact(sock, buf, n):
    while len(buf) < n:
        chunk = sock.recv(max(65536, n - len(buf)))
        if not chunk:
            raise Closed()
        buf += chunk
    return buf[:n], buf[n:]


def parse_headers(head):
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers


def read_message(sock, buf, is_response, request_method="POST"):
    """One HTTP/1.1 message (head and body) as raw bytes; returns
    (raw, start_line, headers, rest_of_buffer)."""
    head, buf = read_until(sock, buf, b"\r\n\r\n")
    start, headers = parse_headers(head)
    raw = head
    status = 0
    if is_response:
        status = int(start.split(" ", 2)[1])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            line, buf = read_until(sock, buf, b"\r\n")
            raw += line
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:
                    line, buf = read_until(sock, buf, b"\r\n")
                    raw += line
                    if line == b"\r\n":
                        break
                break
            data, buf = read_exact(sock, buf, size + 2)
            raw += data
    elif "content-length" in headers:
        data, buf = read_exact(sock, buf, int(headers["content-length"]))
        raw += data
    elif is_response and not (status in (204, 304) or 100 <= status < 200 or
                              request_method == "HEAD"):
        # Until the upstream closes.
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        raw += buf
        buf = b""
        headers["connection"] = "close"
    return raw, start, headers, buf


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def error_response(service, kind, variant):
    if kind == "throttle":
        status, reason = 400, "Bad Request"
        if service == "ddb":
            etype = "ThrottlingException" if variant < 0.5 else \
                "ProvisionedThroughputExceededException"
            body = {"__type": "com.amazonaws.dynamodb.v20120810#" + etype,
                    "message": "Rate of requests exceeds the allowed throughput (injected)"}
            extra = [("x-amzn-ErrorType", etype)]
        else:
            etype = "RequestThrottled" if variant < 0.5 else "ThrottlingException"
            body = {"__type": "com.amazonaws.sqs#" + etype,
                    "message": "Rate exceeded (injected)"}
            extra = [("x-amzn-query-error", "AWS.SimpleQueueService.%s;Sender" % etype)]
    else:
        if variant < 0.7:
            status, reason, etype = 500, "Internal Server Error", "InternalServerError" \
                if service == "ddb" else "InternalError"
        else:
            status, reason, etype = 503, "Service Unavailable", "ServiceUnavailable"
        prefix = "com.amazonaws.dynamodb.v20120810#" if service == "ddb" else "com.amazonaws.sqs#"
        body = {"__type": prefix + etype, "message": "injected server error"}
        extra = [("x-amzn-ErrorType", etype)] if service == "ddb" else \
            [("x-amzn-query-error", "%s;Receiver" % etype)]
    data = json.dumps(body).encode()
    ctype = "application/x-amz-json-1.0"
    head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" \
           "x-amzn-RequestId: injected-%d\r\n" % (status, reason, ctype, len(data),
                                                  random.randrange(1 << 30))
    for k, v in extra:
        head += "%s: %s\r\n" % (k, v)
    head += "\r\n"
    return head.encode() + data


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        st = self.server.state
        client = self.request
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up = None
        cbuf = b""
        ubuf = b""
        try:
            while True:
                try:
                    raw, start, headers, cbuf = read_message(client, cbuf, False)
                except (Closed, OSError, ValueError):
                    return
                method = start.split(" ", 1)[0]
                fault, delay = st.draw(raw)
                kind = fault[0] if fault else None
                if kind == "reset_before":
                    reset(client)
                    client = None
                    return
                if kind in ("throttle", "error5xx"):
                    client.sendall(error_response(st.args.service, kind, fault[1]))
                    if headers.get("connection", "").lower() == "close":
                        return
                    continue
                if kind == "latency":
                    time.sleep(delay)
                # Forward over this connection's upstream connection.
                resp = None
                for attempt in (1, 2):
                    try:
                        if up is None:
                            up = socket.create_connection(st.upstream, timeout=60)
                            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                            ubuf = b""
                        up.sendall(raw)
                        resp, rstart, rheaders, ubuf = read_message(up, ubuf, True, method)
                        break
                    except (Closed, OSError, ValueError):
                        if up is not None:
                            try:
                                up.close()
                            except OSError:
                                pass
                        up = None
                        # A kept-alive upstream connection may have been closed
                        # by the server while idle: try once more on a fresh one
                        # (only when nothing was read: the request did not run).
                        if attempt == 2:
                            break
                if resp is None:
                    st.bump("upstream_errors")
                    reset(client)
                    client = None
                    return
                if rheaders.get("connection", "").lower() == "close":
                    up.close()
                    up = None
                if kind == "reset_after":
                    reset(client)
                    client = None
                    return
                if kind == "lose_reply":
                    return  # the finally block closes it: a FIN
                if kind == "late_reply":
                    time.sleep(delay)
                client.sendall(resp)
                if headers.get("connection", "").lower() == "close":
                    return
        finally:
            if up is not None:
                try:
                    up.close()
                except OSError:
                    pass
            if client is not None:
                try:
                    client.close()
                except OSError:
                    pass


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--service", choices=("sqs", "ddb"), required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--stats-file", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--control-file")
    for k in ("throttle", "error5xx", "latency", "reset-before", "reset-after"):
        p.add_argument("--" + k, type=float, default=0.0)
    p.add_argument("--lose-reply")
    p.add_argument("--lose-reply-times", type=int, default=1)
    p.add_argument("--late-reply")
    p.add_argument("--late-reply-ms", type=float, default=10000)
    p.add_argument("--latency-min-ms", type=float, default=50)
    p.add_argument("--latency-max-ms", type=float, default=800)
    args = p.parse_args()
    host = args.upstream.split("//", 1)[1].split(":", 1)[0]
    if not host.startswith("127.") and host != "localhost":
        sys.exit("faultproxy: the upstream must be on loopback")
    st = State(args)
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = st

    def on_term(signum, frame):
        st.write_stats()
        os._exit(0)

    def on_usr1(signum, frame):
        st.enabled = False

    def on_usr2(signum, frame):
        st.enabled = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)

    def stats_loop():
        while True:
            st.write_stats()
            time.sleep(0.5)

    threading.Thread(target=stats_loop, daemon=True).start()

    def control_loop():
        last = None
        while True:
            try:
                with open(args.control_file) as f:
                    text = f.read()
                if text != last:
                    last = text
                    c = json.loads(text)
                    st.set_control(bool(c.get("faults", True)), c.get("outage"))
            except (OSError, ValueError):
                pass
            time.sleep(0.1)

    if args.control_file:
        threading.Thread(target=control_loop, daemon=True).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
