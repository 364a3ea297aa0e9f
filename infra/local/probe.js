#!/usr/bin/env node
// infra/local/probe.js - checks that a stand-in answers a real API call.
//
//   node probe.js sqs|ddb PORT [TIMEOUT_SECONDS]
//
// Sends SQS ListQueues or DynamoDB ListTables (AWS JSON protocol, a dummy
// SigV4 Authorization header) to 127.0.0.1:PORT until it gets a 200 with a
// JSON answer, retrying for TIMEOUT_SECONDS (default 0: one try). Exit status
// 0 when it answered; 1 otherwise, with the last error on stderr.
"use strict";

const http = require("http");

const [kind, portArg, timeoutArg] = process.argv.slice(2);
const port = Number(portArg);
const timeoutMs = Number(timeoutArg || 0) * 1000;
if (!["sqs", "ddb"].includes(kind) || !Number.isInteger(port) || port <= 0 || !(timeoutMs >= 0)) {
  console.error("usage: probe.js sqs|ddb PORT [TIMEOUT_SECONDS]");
  process.exit(2);
}

function amzDate() {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
}

function once() {
  return new Promise((resolve) => {
    const service = kind === "sqs" ? "sqs" : "dynamodb";
    const target = kind === "sqs" ? "AmazonSQS.ListQueues" : "DynamoDB_20120810.ListTables";
    const date = amzDate();
    const body = "{}";
    const req = http.request({
      host: "127.0.0.1", port, method: "POST", path: "/", timeout: 2000,
      headers: {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": target,
        "X-Amz-Date": date,
        "Authorization": `AWS4-HMAC-SHA256 Credential=local/${date.slice(0, 8)}/us-east-1/${service}/aws4_request, ` +
          "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000",
        "Content-Length": Buffer.byteLength(body),
      },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        if (res.statusCode !== 200) return resolve(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
        try {
          const j = text ? JSON.parse(text) : {};
          if (kind === "ddb" && !Array.isArray(j.TableNames)) return resolve(`unexpected answer: ${text.slice(0, 300)}`);
          return resolve(null);
        } catch {
          return resolve(`not JSON: ${text.slice(0, 300)}`);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (err) => resolve(err.message));
    req.end(body);
  });
}

(async () => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const err = await once();
    if (!err) process.exit(0);
    if (Date.now() >= deadline) {
      console.error(`${kind} on 127.0.0.1:${port} does not answer: ${err}`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
})();
