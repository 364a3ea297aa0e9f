#!/usr/bin/env node
// infra/local/sqs-server.js - runs the (patched) local-aws-sqs stand-in for SQS.
//
//   node sqs-server.js [--port N] [--host ADDR] [--port-file F] [--pid-file F]
//                      [--queues-file F]
//
// --port 0 (the default) picks a free port. Once the server answers, the
// actual port is written to --port-file (atomically), so a caller can wait for
// that file. --queues-file: the queue definitions (names, attributes, tags;
// not messages) are written there on SIGTERM/SIGINT and re-created from it at
// start, so `infra/local/restart sqs` keeps the queues (messages are lost).
//
// local-aws-sqs has no CLI, and its request handler dies on some bad requests
// (a JSON-protocol request without X-Amz-Target throws outside its try block,
// which kills node). This launcher reads each request body itself, answers
// malformed JSON-protocol requests with a 400 JSON error as SQS does, passes
// the rest to the package's handler, and turns anything the handler throws
// into a 500 JSON error: no request can stop the server.
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");
const { PassThrough } = require("stream");
const { createRequestHandler } = require("local-aws-sqs");

const JSON_CT = "application/x-amz-json-1.0";
const MAX_BODY = 4 * 1024 * 1024; // SQS's largest request (a 1 MiB batch) JSON-escaped, with room
// Attributes that CreateQueue accepts, i.e. the ones a restart must keep.
const SETTABLE = [
  "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
  "VisibilityTimeout", "RedrivePolicy", "RedriveAllowPolicy", "FifoQueue", "ContentBasedDeduplication",
  "DeduplicationScope", "FifoThroughputLimit", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
  "SqsManagedSseEnabled",
];

function parseArgs(argv) {
  const opts = { port: 0, host: "127.0.0.1" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unexpected argument ${a}`);
    const val = m[2] !== undefined ? m[2] : argv[++i];
    if (val === undefined) throw new Error(`${a} needs a value`);
    switch (m[1]) {
      case "port": opts.port = Number(val); break;
      case "host": opts.host = val; break;
      case "port-file": opts.portFile = path.resolve(val); break;
      case "pid-file": opts.pidFile = path.resolve(val); break;
      case "queues-file": opts.queuesFile = path.resolve(val); break;
      default: throw new Error(`unknown option --${m[1]}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
    throw new Error(`bad --port ${opts.port}`);
  return opts;
}

function log(...args) {
  console.error(new Date().toISOString(), "sqs-server:", ...args);
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function sendJsonError(res, status, type, code, message) {
  if (res.headersSent || res.writableEnded) {
    if (!res.writableEnded) res.end();
    return;
  }
  const body = JSON.stringify({ __type: type, message });
  res.statusCode = status;
  res.setHeader("Content-Type", JSON_CT);
  res.setHeader("x-amzn-query-error", `${code};Sender`);
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(body);
}

// Hands one buffered request to the package's handler through a stand-in
// request stream that replays the body.
function dispatch(handler, req, res, body) {
  const headers = Object.assign({}, req.headers);
  const mediaType = (headers["content-type"] || "").split(";")[0].trim().toLowerCase();
  const isJson = mediaType === JSON_CT;
  if (isJson) {
    // The package compares the whole header with the bare media type.
    headers["content-type"] = JSON_CT;
    const target = headers["x-amz-target"];
    if (typeof target !== "string" || !/^AmazonSQS\.[A-Za-z]+$/.test(target.trim())) {
      return sendJsonError(res, 400, "com.amazonaws.sqs#InvalidAction", "InvalidAction",
        target ? `The action ${target} is not valid for this endpoint.`
          : "Missing X-Amz-Target header: the JSON protocol needs X-Amz-Target: AmazonSQS.<Action>.");
    }
    headers["x-amz-target"] = target.trim();
    if (body.length) {
      let parsed;
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch (e) {
        return sendJsonError(res, 400, "com.amazon.coral.service#SerializationException", "MalformedInput",
          `The request body is not valid JSON: ${e.message}`);
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        return sendJsonError(res, 400, "com.amazon.coral.service#SerializationException", "MalformedInput",
          "The request body must be a JSON object.");
      }
    }
  }
  const fake = new PassThrough();
  fake.headers = headers;
  fake.rawHeaders = req.rawHeaders;
  fake.method = req.method;
  fake.url = req.url;
  fake.httpVersion = req.httpVersion;
  fake.socket = req.socket;
  const fail = (err) => {
    log("request handler failed:", err && err.stack ? err.stack : err);
    sendJsonError(res, 500, "com.amazonaws.sqs#InternalError", "InternalError",
      `The stand-in failed on this request: ${err && err.message ? err.message : err}`);
  };
  try {
    Promise.resolve(handler(fake, res)).catch(fail);
  } catch (err) {
    fail(err);
  }
  fake.end(body);
}

function makeServer(handler) {
  return http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on("error", (err) => log("request stream error:", err.message));
    res.on("error", (err) => log("response stream error:", err.message));
    req.on("data", (c) => {
      if (tooLarge) return;
      size += c.length;
      if (size > MAX_BODY) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (tooLarge) {
        res.setHeader("Connection", "close");
        return sendJsonError(res, 413, "com.amazonaws.sqs#RequestTooLarge", "RequestTooLarge",
          `The request body is larger than ${MAX_BODY} bytes.`);
      }
      dispatch(handler, req, res, Buffer.concat(chunks));
    });
  });
}

// Calls our own server (the restore of the queues goes through the API).
function selfCall(port, host, op, payload) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(payload);
    const r = http.request({
      host, port, method: "POST", path: "/",
      headers: {
        "Content-Type": JSON_CT, "X-Amz-Target": `AmazonSQS.${op}`,
        "Content-Length": Buffer.byteLength(body),
      },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, text }));
    });
    r.on("error", reject);
    r.end(body);
  });
}

function saveQueues(service, file) {
  const defs = [];
  for (const q of service.Queues) {
    try {
      const all = q.getAttributes(["All"]) || {};
      const attrs = {};
      for (const k of SETTABLE) if (all[k] !== undefined) attrs[k] = String(all[k]);
      const def = { QueueName: q.QueueName, Attributes: attrs };
      if (q.Tags && Object.keys(q.Tags).length) def.tags = q.Tags;
      defs.push(def);
    } catch (err) {
      log(`could not save queue ${q.QueueName}:`, err.message);
    }
  }
  writeAtomic(file, JSON.stringify(defs, null, 1) + "\n");
  log(`saved ${defs.length} queue definition(s) to ${file}`);
}

async function restoreQueues(port, host, file) {
  let defs;
  try {
    defs = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    if (err.code !== "ENOENT") log(`ignoring unreadable ${file}:`, err.message);
    return;
  }
  if (!Array.isArray(defs)) return;
  // Dead-letter queues first: a redrive policy must name an existing queue.
  let pending = defs.filter((d) => d && typeof d.QueueName === "string");
  const created = new Set();
  while (pending.length) {
    const ready = pending.filter((d) => {
      const rp = d.Attributes && d.Attributes.RedrivePolicy;
      if (!rp) return true;
      try {
        const dlq = String(JSON.parse(rp).deadLetterTargetArn).split(":").pop();
        return created.has(dlq) || !pending.some((o) => o.QueueName === dlq);
      } catch {
        return true;
      }
    });
    const batch = ready.length ? ready : pending; // a cycle: create them anyway
    for (const d of batch) {
      const r = await selfCall(port, host, "CreateQueue", d);
      if (r.status !== 200) log(`could not re-create queue ${d.QueueName}: ${r.status} ${r.text}`);
      created.add(d.QueueName);
    }
    pending = pending.filter((d) => !batch.includes(d));
  }
  log(`re-created ${created.size} queue(s) from ${file}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  process.on("uncaughtException", (err) => log("uncaught exception (kept running):", err && err.stack ? err.stack : err));
  process.on("unhandledRejection", (err) => log("unhandled rejection (kept running):", err && err.stack ? err.stack : err));
  if (opts.pidFile) writeAtomic(opts.pidFile, `${process.pid}\n`);

  const { service, requestHandler } = createRequestHandler({
    port: opts.port,
    hostname: opts.host,
    region: process.env.AWS_REGION || "us-east-1",
  });
  const server = makeServer(requestHandler);
  server.keepAliveTimeout = 65000; // longer than any long poll plus the client's reuse window
  server.headersTimeout = 66000;
  server.requestTimeout = 0;

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, resolve);
  });
  server.on("error", (err) => log("server error:", err.message));
  const port = server.address().port;
  service.PORT = port; // the queue URLs carry the actual port

  let stopping = false;
  const stop = (sig) => {
    if (stopping) return process.exit(0);
    stopping = true;
    log(`${sig}: stopping`);
    try {
      if (opts.queuesFile) saveQueues(service, opts.queuesFile);
    } catch (err) {
      log("could not save queues:", err.message);
    }
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {}); // a closed terminal does not stop a stand-in

  if (opts.queuesFile) await restoreQueues(port, opts.host, opts.queuesFile);
  if (opts.portFile) writeAtomic(opts.portFile, `${port}\n`);
  log(`listening on http://${opts.host}:${port} (pid ${process.pid})`);
}

main().catch((err) => {
  log("failed to start:", err && err.message ? err.message : err);
  if (err && err.code === "EADDRINUSE")
    log("the port is in use: pick another one, or 0 for a free one (TASKFLEET_LOCAL_SQS_PORT=0)");
  process.exit(1);
});
