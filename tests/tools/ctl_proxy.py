#!/usr/bin/env python3
"""ctl_proxy.py - an HTTP/1.1 reverse proxy on loopback whose behaviour a test
switches while it runs, by writing one word into a control file:

  pass       forward every request to the target (the default)
  hold       accept requests and never answer them (an unreachable service:
             the client's own timeout must fire)
  throttle   answer every request with AWS's 400 ThrottlingException
  fail       answer every request with a 500
  refuse OP TYPE
             answer requests for operation OP (X-Amz-Target "....OP") with
             AWS's 400 error TYPE (e.g. ValidationException); pass the rest

Usage: ctl_proxy.py TARGET_PORT CONTROL_FILE PORT_FILE
It listens on a free port of 127.0.0.1, writes that port into PORT_FILE, and
counts the requests it answered in each mode into CONTROL_FILE.counts (one
"mode count" line per mode, rewritten after each request).
"""
import asyncio
import os
import sys

TARGET = ("127.0.0.1", int(sys.argv[1]))
CONTROL = sys.argv[2]
PORT_FILE = sys.argv[3]
counts = {}

THROTTLE = (b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException",'
            b'"message":"Rate of requests exceeds the allowed throughput."}')
FAIL = b'{"__type":"InternalServerError","message":"injected"}'


def mode():
    try:
        with open(CONTROL) as f:
            return f.read().strip() or "pass"
    except OSError:
        return "pass"


def count(m):
    counts[m] = counts.get(m, 0) + 1
    tmp = CONTROL + ".counts.tmp"
    with open(tmp, "w") as f:
        for k, v in sorted(counts.items()):
            f.write(f"{k} {v}\n")
    os.replace(tmp, CONTROL + ".counts")


async def read_message(reader):
    """One HTTP message (request or response) with a Content-Length body, or
    None at EOF."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head + body


def target_of(request):
    """The operation a request names in X-Amz-Target ("DynamoDB_20120810.Op"
    gives "Op"); "" when there is none."""
    for line in request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-amz-target":
            return value.strip().decode("latin-1").rsplit(".", 1)[-1]
    return ""


def reply(status, reason, body, error_type=None):
    extra = f"x-amzn-ErrorType: {error_type}\r\n" if error_type else ""
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.0\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n").encode() + body


async def serve(client_r, client_w):
    upstream = None
    try:
        while True:
            try:
                request = await read_message(client_r)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            m = mode()
            words = m.split()
            if len(words) == 3 and words[0] == "refuse" and target_of(request) == words[1]:
                count("refuse")
                body = ('{"__type":"com.amazonaws.dynamodb.v20120810#%s",'
                        '"message":"injected by ctl_proxy"}' % words[2]).encode()
                client_w.write(reply(400, "Bad Request", body, words[2]))
                await client_w.drain()
                continue
            if m == "hold":
                count(m)
                await asyncio.sleep(3600)
                return
            if m == "throttle":
                count(m)
                client_w.write(reply(400, "Bad Request", THROTTLE, "ThrottlingException"))
                await client_w.drain()
                continue
            if m == "fail":
                count(m)
                client_w.write(reply(500, "Internal Server Error", FAIL, "InternalServerError"))
                await client_w.drain()
                continue
            if upstream is None:
                upstream = await asyncio.open_connection(*TARGET)
            upstream[1].write(request)
            await upstream[1].drain()
            response = await read_message(upstream[0])
            count("pass")
            client_w.write(response)
            await client_w.drain()
    finally:
        if upstream is not None:
            upstream[1].close()
        client_w.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(PORT_FILE + ".tmp", PORT_FILE)
    async with server:
        await server.serve_forever()


asyncio.run(main())
