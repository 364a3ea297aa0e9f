#!/usr/bin/env node
// infra/local/test/check-patched.mjs - API checks of a running stand-in stack,
// called by tests/scripts/standins.sh. Raw HTTP in the AWS JSON protocol (no
// SDK), the way the C clients talk to the stand-ins.
//
//   node check-patched.mjs all          SQS_PORT DDB_PORT   (expects LOCAL_SQS_INFLIGHT_LIMIT=50 on the server)
//   node check-patched.mjs ddb-seed     DDB_PORT TABLE
//   node check-patched.mjs ddb-verify   DDB_PORT TABLE
//   node check-patched.mjs sqs-seed     SQS_PORT QUEUE
//   node check-patched.mjs sqs-verify   SQS_PORT QUEUE
//
// Prints one line per check, "PASS name" or "FAIL name: why"; exits 1 if any failed.
import http from "node:http";

let failures = 0;
const pass = (name) => console.log(`PASS ${name}`);
const fail = (name, why) => {
  failures++;
  console.log(`FAIL ${name}: ${String(why).replace(/\s+/g, " ").slice(0, 400)}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uniq = (p) => `${p}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

function amzDate() {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
}

// One request; resolves {status, headers, text, json}. json is {} for an empty body.
function raw(port, { target, body, headers = {}, service = "sqs", timeoutMs = 30000 }) {
  return new Promise((resolve, reject) => {
    const date = amzDate();
    const h = {
      "Content-Type": "application/x-amz-json-1.0",
      "X-Amz-Date": date,
      Authorization: `AWS4-HMAC-SHA256 Credential=local/${date.slice(0, 8)}/us-east-1/${service}/aws4_request, ` +
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000",
      ...headers,
    };
    if (target) h["X-Amz-Target"] = target;
    const data = typeof body === "string" ? body : JSON.stringify(body ?? {});
    h["Content-Length"] = Buffer.byteLength(data);
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/", headers: h, agent: false, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        let json;
        try {
          json = text ? JSON.parse(text) : {};
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(data);
  });
}

function makeSqs(port) {
  const call = async (op, body, opts = {}) => {
    const r = await raw(port, { target: `AmazonSQS.${op}`, body, ...opts });
    if (opts.allowError) return r; // the whole response, whatever its status
    if (r.status !== 200) throw new Error(`${op}: HTTP ${r.status} ${r.text}`);
    return r.json;
  };
  const sqs = {
    call,
    async createQueue(name, Attributes) {
      return (await call("CreateQueue", { QueueName: name, ...(Attributes ? { Attributes } : {}) })).QueueUrl;
    },
    send: (QueueUrl, MessageBody, extra = {}) => call("SendMessage", { QueueUrl, MessageBody, ...extra }),
    receive: async (QueueUrl, extra = {}) =>
      (await call("ReceiveMessage", { QueueUrl, ...extra }, { timeoutMs: 40000 })).Messages || [],
    cmv: (QueueUrl, ReceiptHandle, VisibilityTimeout) =>
      call("ChangeMessageVisibility", { QueueUrl, ReceiptHandle, VisibilityTimeout }),
    del: (QueueUrl, ReceiptHandle) => call("DeleteMessage", { QueueUrl, ReceiptHandle }),
    async attrs(QueueUrl) {
      return (await call("GetQueueAttributes", { QueueUrl, AttributeNames: ["All"] })).Attributes;
    },
  };
  return sqs;
}

function makeDdb(port) {
  return async (op, body, opts = {}) => {
    const r = await raw(port, { target: `DynamoDB_20120810.${op}`, body, service: "dynamodb" });
    if (opts.allowError) return r;
    if (r.status !== 200) throw new Error(`${op}: HTTP ${r.status} ${r.text}`);
    return r.json;
  };
}

async function check(name, fn) {
  try {
    const why = await fn();
    if (why) fail(name, why);
    else pass(name);
  } catch (err) {
    fail(name, err && err.message ? err.message : err);
  }
}

// ---------------------------------------------------------------- SQS checks

// (1) A long poll for up to 10 messages returns as soon as one is available.
async function checkLongPollDelayed(sqs) {
  const q = await sqs.createQueue(uniq("tf-lp-delay"));
  const t0 = Date.now();
  const recv = sqs.receive(q, { WaitTimeSeconds: 10, MaxNumberOfMessages: 10 });
  await sleep(100);
  const sent = Date.now();
  await sqs.send(q, "delayed", { DelaySeconds: 2 });
  const msgs = await recv;
  const took = (Date.now() - sent) / 1000;
  if (msgs.length !== 1 || msgs[0].Body !== "delayed") return `got ${JSON.stringify(msgs)} after ${(Date.now() - t0) / 1000}s`;
  if (took < 1.8) return `the message delayed 2 s arrived after ${took}s (too early)`;
  if (took >= 5) return `the message delayed 2 s arrived after ${took}s (long poll returned late)`;
}

async function checkLongPollPrompt(sqs) {
  const q = await sqs.createQueue(uniq("tf-lp-prompt"));
  const recv = sqs.receive(q, { WaitTimeSeconds: 10, MaxNumberOfMessages: 10 });
  await sleep(500);
  const sent = Date.now();
  await sqs.send(q, "now");
  const msgs = await recv;
  const took = (Date.now() - sent) / 1000;
  if (msgs.length !== 1) return `got ${msgs.length} messages`;
  if (took >= 1.5) return `returned ${took}s after the send`;
}

// Visibility timeout expiry returns a message.
async function checkVisibilityExpiry(sqs) {
  const q = await sqs.createQueue(uniq("tf-vis"));
  await sqs.send(q, "v");
  const [m] = await sqs.receive(q, { VisibilityTimeout: 1 });
  if (!m) return "first receive got nothing";
  const again = await sqs.receive(q, { WaitTimeSeconds: 0 });
  if (again.length) return "the message was visible while in flight";
  const t0 = Date.now();
  const back = await sqs.receive(q, { WaitTimeSeconds: 5 });
  const took = (Date.now() - t0) / 1000;
  if (back.length !== 1 || back[0].MessageId !== m.MessageId) return `not returned after expiry (${took}s)`;
  if (took > 2.5) return `returned ${took}s after a 1 s visibility timeout`;
}

// (2) Visibility changes are not receives.
async function checkReceiveCount(sqs) {
  const q = await sqs.createQueue(uniq("tf-rc"));
  await sqs.send(q, "rc");
  const [m] = await sqs.receive(q, { VisibilityTimeout: 5, AttributeNames: ["All"] });
  if (!m) return "first receive got nothing";
  if (m.Attributes?.ApproximateReceiveCount !== "1")
    return `first receive: ApproximateReceiveCount ${m.Attributes?.ApproximateReceiveCount}`;
  for (let i = 0; i < 3; i++) {
    await sqs.cmv(q, m.ReceiptHandle, 5);
    await sleep(50);
  }
  await sqs.call("ChangeMessageVisibilityBatch", {
    QueueUrl: q, Entries: [{ Id: "a", ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 5 }],
  });
  await sqs.cmv(q, m.ReceiptHandle, 0);
  const [m2] = await sqs.receive(q, { WaitTimeSeconds: 3, AttributeNames: ["All"] });
  if (!m2) return "the message did not come back after visibility 0";
  if (m2.Attributes?.ApproximateReceiveCount !== "2")
    return `ApproximateReceiveCount is ${m2.Attributes?.ApproximateReceiveCount} after 2 receives and 5 visibility changes`;
}

// (5) MessageSystemAttributeNames, the current name of AttributeNames.
async function checkSystemAttributeNames(sqs) {
  const q = await sqs.createQueue(uniq("tf-msan"));
  await sqs.send(q, "a");
  const [m] = await sqs.receive(q, { MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"] });
  if (!m) return "receive got nothing";
  if (m.Attributes?.ApproximateReceiveCount !== "1" || !m.Attributes?.SentTimestamp)
    return `Attributes ${JSON.stringify(m.Attributes)}`;
}

// (2) Heartbeats do not move a message to the DLQ; a real redrive does.
async function checkDlq(sqs) {
  const dlq = await sqs.createQueue(uniq("tf-dlq"));
  const dlqArn = (await sqs.attrs(dlq)).QueueArn;
  const q = await sqs.createQueue(uniq("tf-src"), {
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }),
  });
  await sqs.send(q, "dlq");
  const [m] = await sqs.receive(q, { VisibilityTimeout: 1 });
  if (!m) return "first receive got nothing";
  for (let i = 0; i < 4; i++) {
    await sqs.cmv(q, m.ReceiptHandle, 1); // heartbeat
    await sleep(100);
  }
  await sqs.cmv(q, m.ReceiptHandle, 0);
  const [m2] = await sqs.receive(q, { WaitTimeSeconds: 3, VisibilityTimeout: 1, AttributeNames: ["All"] });
  if (!m2) {
    const inDlq = (await sqs.attrs(dlq)).ApproximateNumberOfMessages;
    return `after 1 receive and 4 heartbeats the message left the queue (DLQ holds ${inDlq})`;
  }
  if (m2.Attributes?.ApproximateReceiveCount !== "2") return `second receive count ${m2.Attributes?.ApproximateReceiveCount}`;
  // The second receive reached maxReceiveCount: once visible again it goes to the DLQ.
  await sqs.cmv(q, m2.ReceiptHandle, 0);
  const [d] = await sqs.receive(dlq, { WaitTimeSeconds: 3 });
  if (!d || d.Body !== "dlq") return "the message did not reach the DLQ after maxReceiveCount receives";
  const left = await sqs.receive(q, { WaitTimeSeconds: 0 });
  if (left.length) return "the message is in both the queue and the DLQ";
}

// (3) The in-flight limit counts in-flight messages only (server runs with
// LOCAL_SQS_INFLIGHT_LIMIT=50).
async function checkInflightLimit(sqs) {
  const q = await sqs.createQueue(uniq("tf-limit"));
  for (let b = 0; b < 20; b++) {
    const Entries = Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: `b${b}-${i}` }));
    const r = await sqs.call("SendMessageBatch", { QueueUrl: q, Entries });
    if ((r.Successful || []).length !== 10) return `SendMessageBatch: ${JSON.stringify(r)}`;
  }
  let held = [];
  for (let i = 0; i < 5; i++) {
    const msgs = await sqs.receive(q, { MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
    if (msgs.length !== 10) return `receive ${i + 1} with a backlog of ${200 - held.length} got ${msgs.length} messages`;
    held = held.concat(msgs);
  }
  const r = await sqs.call("ReceiveMessage", { QueueUrl: q, MaxNumberOfMessages: 10 }, { allowError: true });
  if (r.status === 200) return `a receive with 50 messages in flight (limit 50) succeeded (${(r.json?.Messages || []).length} messages)`;
  if (r.status !== 400 || !r.json || !/OverLimit/.test(r.json.__type || ""))
    return `expected a 400 OverLimit, got ${r.status} ${r.text}`;
  await sqs.del(q, held[0].ReceiptHandle);
  const after = await sqs.receive(q, { MaxNumberOfMessages: 10 });
  if (after.length < 1) return "after a delete, the receive still failed";
  const a = await sqs.attrs(q);
  if (a.ApproximateNumberOfMessagesNotVisible !== String(49 + after.length))
    return `NotVisible ${a.ApproximateNumberOfMessagesNotVisible}, expected ${49 + after.length}`;
}

// (4) Queue depth counts.
async function checkCounts(sqs) {
  const q = await sqs.createQueue(uniq("tf-counts"));
  for (let i = 0; i < 3; i++) await sqs.send(q, `v${i}`);
  for (let i = 0; i < 2; i++) await sqs.send(q, `d${i}`, { DelaySeconds: 60 });
  await sleep(50);
  const got = await sqs.receive(q, { MaxNumberOfMessages: 1, VisibilityTimeout: 60 });
  if (got.length !== 1) return `receive got ${got.length}`;
  const a = await sqs.attrs(q);
  const seen = `visible ${a.ApproximateNumberOfMessages}, in flight ${a.ApproximateNumberOfMessagesNotVisible}, delayed ${a.ApproximateNumberOfMessagesDelayed}`;
  if (a.ApproximateNumberOfMessages !== "2" || a.ApproximateNumberOfMessagesNotVisible !== "1" ||
      a.ApproximateNumberOfMessagesDelayed !== "2")
    return `${seen}; expected 2, 1, 2`;
}

// The launcher answers bad requests instead of dying.
async function checkBadRequests(port, sqs) {
  const r1 = await raw(port, { body: { QueueNamePrefix: "" } }); // no X-Amz-Target
  if (r1.status < 400 || r1.status >= 500 || !r1.json || !r1.json.__type)
    return `no X-Amz-Target: got ${r1.status} ${r1.text}`;
  const r2 = await raw(port, { target: "AmazonSQS.ListQueues", body: "{not json" });
  if (r2.status !== 400 || !r2.json || !/Serialization/.test(r2.json.__type || ""))
    return `malformed JSON: got ${r2.status} ${r2.text}`;
  const r3 = await raw(port, { target: "AmazonSQS.ListQueues", body: "{}" });
  if (r3.status !== 200) return `the server does not answer after bad requests: ${r3.status} ${r3.text}`;
  await sqs.call("ListQueues", {});
}

async function checkErrorShape(sqs) {
  const r = await sqs.call("GetQueueUrl", { QueueName: uniq("tf-missing") }, { allowError: true });
  if (r.status !== 400 || r.json?.__type !== "com.amazonaws.sqs#QueueDoesNotExist")
    return `GetQueueUrl of a missing queue: ${r.status} ${r.text}`;
}

// ---------------------------------------------------------------- DynamoDB

async function checkTableActive(ddb) {
  const TableName = uniq("tf-table");
  const r = await ddb("CreateTable", {
    TableName,
    AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
    BillingMode: "PAY_PER_REQUEST",
  });
  if (r.TableDescription?.TableStatus !== "ACTIVE") {
    const d = await ddb("DescribeTable", { TableName });
    if (d.Table?.TableStatus !== "ACTIVE") return `TableStatus ${r.TableDescription?.TableStatus} then ${d.Table?.TableStatus}`;
  }
  await ddb("PutItem", { TableName, Item: { id: { S: "x" }, n: { N: "1" } } });
  const g = await ddb("GetItem", { TableName, Key: { id: { S: "x" } }, ConsistentRead: true });
  if (g.Item?.n?.N !== "1") return `GetItem: ${JSON.stringify(g)}`;
  await ddb("DeleteTable", { TableName });
}

// dynalite 4.0.0 accepted UpdateTable's GlobalSecondaryIndexUpdates Create and
// changed nothing (its issues 26 and 138); the patch adds the index, indexes
// the items already there, and refuses a second Create in one request.
async function checkGsiCreate(ddb) {
  const TableName = uniq("tf-gsi");
  await ddb("CreateTable", {
    TableName,
    AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
    BillingMode: "PAY_PER_REQUEST",
  });
  await ddb("PutItem", { TableName, Item: { id: { S: "old" }, g: { S: "a" }, r: { N: "1" } } });
  const create = (name) => ({
    Create: {
      IndexName: name,
      KeySchema: [{ AttributeName: "g", KeyType: "HASH" }, { AttributeName: "r", KeyType: "RANGE" }],
      Projection: { ProjectionType: "ALL" },
    },
  });
  const defs = [{ AttributeName: "g", AttributeType: "S" }, { AttributeName: "r", AttributeType: "N" }];
  const two = await ddb("UpdateTable", { TableName, AttributeDefinitions: defs,
    GlobalSecondaryIndexUpdates: [create("i1"), create("i2")] }, { allowError: true });
  if (two.status !== 400 || !/LimitExceeded/.test(two.text)) return `two Creates: HTTP ${two.status} ${two.text}`;
  await ddb("UpdateTable", { TableName, AttributeDefinitions: defs, GlobalSecondaryIndexUpdates: [create("i1")] });
  let status;
  for (let i = 0; i < 50 && status !== "ACTIVE"; i++) {
    const d = await ddb("DescribeTable", { TableName });
    status = d.Table?.GlobalSecondaryIndexes?.find((g) => g.IndexName === "i1")?.IndexStatus;
    if (status !== "ACTIVE") await sleep(100);
  }
  if (status !== "ACTIVE") return `index i1 is ${status}`;
  await ddb("PutItem", { TableName, Item: { id: { S: "new" }, g: { S: "a" }, r: { N: "2" } } });
  const q = await ddb("Query", { TableName, IndexName: "i1", KeyConditionExpression: "g = :g",
    ExpressionAttributeValues: { ":g": { S: "a" } } });
  const ids = (q.Items || []).map((it) => it.id.S).join(",");
  if (ids !== "old,new") return `Query i1: ${ids}`;
  await ddb("DeleteTable", { TableName });
}

// UpdateTimeToLive is not in dynalite 4.0.0; the patch records it for
// DescribeTimeToLive and refuses enabling it twice, as DynamoDB does.
async function checkTtl(ddb) {
  const TableName = uniq("tf-ttl");
  await ddb("CreateTable", {
    TableName,
    AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
    BillingMode: "PAY_PER_REQUEST",
  });
  const spec = { TableName, TimeToLiveSpecification: { AttributeName: "ttl", Enabled: true } };
  await ddb("UpdateTimeToLive", spec);
  const d = await ddb("DescribeTimeToLive", { TableName });
  if (d.TimeToLiveDescription?.TimeToLiveStatus !== "ENABLED" || d.TimeToLiveDescription?.AttributeName !== "ttl")
    return `DescribeTimeToLive: ${JSON.stringify(d)}`;
  const again = await ddb("UpdateTimeToLive", spec, { allowError: true });
  if (again.status !== 400 || !/ValidationException/.test(again.text)) return `enabled twice: HTTP ${again.status}`;
  await ddb("DeleteTable", { TableName });
}

async function ddbSeed(ddb, TableName) {
  await ddb("CreateTable", {
    TableName,
    AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
    BillingMode: "PAY_PER_REQUEST",
  });
  await ddb("PutItem", { TableName, Item: { id: { S: "survivor" }, v: { S: "kept" } } });
}

async function ddbVerify(ddb, TableName) {
  const g = await ddb("GetItem", { TableName, Key: { id: { S: "survivor" } }, ConsistentRead: true }, { allowError: true });
  if (g.status !== 200) return `GetItem after the restart: ${g.status} ${g.text}`;
  if (g.json.Item?.v?.S !== "kept") return `the item is gone after the restart: ${g.text}`;
}

async function sqsSeed(sqs, name) {
  const dlq = await sqs.createQueue(`${name}-dlq`);
  const arn = (await sqs.attrs(dlq)).QueueArn;
  await sqs.createQueue(name, {
    VisibilityTimeout: "45",
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: 3 }),
  });
}

async function sqsVerify(sqs, name) {
  const r = await sqs.call("GetQueueUrl", { QueueName: name }, { allowError: true });
  if (r.status !== 200) return `the queue is gone after the restart: ${r.status} ${r.text}`;
  const url = r.json.QueueUrl;
  const a = await sqs.attrs(url);
  if (a.VisibilityTimeout !== "45" || !/maxReceiveCount"?:\s*"?3/.test(a.RedrivePolicy || ""))
    return `attributes not kept: ${JSON.stringify(a)}`;
  await sqs.send(url, "after-restart");
  const got = await sqs.receive(url, { WaitTimeSeconds: 2 });
  if (got.length !== 1) return "send/receive after the restart failed";
}

// ---------------------------------------------------------------- main

const [mode, ...args] = process.argv.slice(2);
const ports = args.map(Number);
switch (mode) {
  case "all": {
    const [sqsPort, ddbPort] = ports;
    const sqs = makeSqs(sqsPort);
    const ddb = makeDdb(ddbPort);
    // The checks use their own queues, so they run at once to save time.
    await Promise.all([
      check("sqs long poll (Max=10) returns a DelaySeconds=2 message ~2 s after the send", () => checkLongPollDelayed(sqs)),
      check("sqs long poll (Max=10) returns a message sent meanwhile within 1.5 s", () => checkLongPollPrompt(sqs)),
      check("sqs visibility timeout expiry returns the message", () => checkVisibilityExpiry(sqs)),
      check("sqs ChangeMessageVisibility(Batch) does not count as a receive", () => checkReceiveCount(sqs)),
      check("sqs ReceiveMessage honours MessageSystemAttributeNames", () => checkSystemAttributeNames(sqs)),
      check("sqs heartbeats do not redrive to the DLQ; maxReceiveCount receives do", () => checkDlq(sqs)),
      check("sqs in-flight limit counts in-flight messages only (limit 50, backlog 200)", () => checkInflightLimit(sqs)),
      check("sqs ApproximateNumberOfMessages/NotVisible/Delayed count visible/in flight/delayed", () => checkCounts(sqs)),
      check("sqs launcher answers a request without X-Amz-Target or with bad JSON with a 4xx and lives on", () => checkBadRequests(sqsPort, sqs)),
      check("sqs errors are JSON with __type", () => checkErrorShape(sqs)),
      check("ddb CreateTable is ACTIVE at once; put and get work", () => checkTableActive(ddb)),
      check("ddb UpdateTable creates a global index on a table that has items (one per request)", () => checkGsiCreate(ddb)),
      check("ddb UpdateTimeToLive is recorded for DescribeTimeToLive; enabling twice is refused", () => checkTtl(ddb)),
    ]);
    break;
  }
  case "ddb-seed":
    await check("ddb seed table before restart", () => ddbSeed(makeDdb(ports[0]), args[1]));
    break;
  case "ddb-verify":
    await check("ddb item survives infra/local/restart ddb (TASKFLEET_LOCAL_DDB_PATH)", () => ddbVerify(makeDdb(ports[0]), args[1]));
    break;
  case "sqs-seed":
    await check("sqs seed queues before restart", () => sqsSeed(makeSqs(ports[0]), args[1]));
    break;
  case "sqs-verify":
    await check("sqs queues and their attributes survive infra/local/restart sqs", () => sqsVerify(makeSqs(ports[0]), args[1]));
    break;
  default:
    console.error("usage: check-patched.mjs all SQS_PORT DDB_PORT | ddb-seed|ddb-verify DDB_PORT TABLE | sqs-seed|sqs-verify SQS_PORT QUEUE");
    process.exit(2);
}
process.exit(failures ? 1 : 0);
