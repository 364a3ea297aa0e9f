#!/usr/bin/env node
// bench/node/worker.js - the Node worker a user would write instead of
// taskfleet: sqs-consumer with the AWS SDK v3 clients, doing docs/design.md section 5 on
// the same items and messages (lib/task/task.c's expressions):
//
//   1. receive (sqs-consumer long-polls; handleMessageBatch, so the batch's
//      messages are deleted with one DeleteMessageBatch);
//   2. parse; hold a message that is less than 1.5 s early until its time;
//      claim with a conditional UpdateItem (PENDING, due, same gen) returning
//      the new item; when the condition fails, read the item and drop a stale
//      message, drop one for a finished task, re-send an early live one;
//   3. run the runner (noop, countdown, http) in JS;
//   4. write the outcome with one UpdateItem conditional on gen, lease owner
//      and PROCESSING;
//   5. send the next iteration's message with DelaySeconds;
//   6. return the message so sqs-consumer deletes it.
//
// Concurrency: sqs-consumer processes one received batch at a time and
// receives at most 10 messages (batchSize), so CONCURRENCY (default 16)
// messages at once take ceil(CONCURRENCY / 10) consumers on the same queue,
// each with batchSize CONCURRENCY / consumers, running its batch's messages
// concurrently. Connections are kept alive (an http.Agent with keepAlive, as
// the SDK's guide on reusing connections says).
//
// Environment: AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION and
// keys; TASKFLEET_TABLE; TASKFLEET_QUEUE_URL; CONCURRENCY; WAIT_TIME (s, 20).
// Logs JSON lines on stderr: one per finished run with late_ms (start minus
// due time), and on SIGTERM one with the AWS requests by operation (HTTP
// requests, retries included, counted by a middleware in the deserialize
// step, which runs once per attempt).
'use strict';

const http = require('node:http');
const os = require('node:os');
const crypto = require('node:crypto');
const { Consumer } = require('sqs-consumer');
const { SQSClient, SendMessageCommand, ChangeMessageVisibilityCommand } = require('@aws-sdk/client-sqs');
const { DynamoDBClient, UpdateItemCommand, GetItemCommand } = require('@aws-sdk/client-dynamodb');
const { NodeHttpHandler } = require('@smithy/node-http-handler');

const TABLE = process.env.TASKFLEET_TABLE;
const QUEUE_URL = process.env.TASKFLEET_QUEUE_URL;
const CONCURRENCY = Number(process.env.CONCURRENCY || 16);
const WAIT_TIME = Number(process.env.WAIT_TIME || 20);
const VISIBILITY_MS = 60000;         // the lease, as the consumer's default
const SKEW_MS = 250;
const HOLD_MAX_MS = 1500;
const HORIZON_MS = 15 * 60 * 1000;
const OWNER = `${os.hostname()}-${process.pid}`;

const counts = {};
function countRequests(client) {
	client.middlewareStack.add((next, context) => async (args) => {
		counts[context.commandName] = (counts[context.commandName] || 0) + 1;
		return next(args);
	}, { step: 'deserialize', name: 'benchCountRequests' });
	return client;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const requestHandler = new NodeHttpHandler({ httpAgent: agent });
const sqs = countRequests(new SQSClient({ endpoint: process.env.AWS_ENDPOINT_URL_SQS, requestHandler }));
const ddb = countRequests(new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB, requestHandler }));

function log(level, msg, fields) {
	process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const N = (v) => ({ N: String(v) });
const S = (v) => ({ S: v });

function shard(id) {
	let h = 2166136261;
	for (const c of Buffer.from(id)) h = Math.imul(h ^ c, 16777619) >>> 0;
	return String(h % 16);
}

function isCondition(err) {
	return err && err.name === 'ConditionalCheckFailedException';
}

// JSON <-> DynamoDB attribute values, for params.
function toAv(v) {
	if (v === null) return { NULL: true };
	if (typeof v === 'boolean') return { BOOL: v };
	if (typeof v === 'number') return { N: String(v) };
	if (typeof v === 'string') return { S: v };
	if (Array.isArray(v)) return { L: v.map(toAv) };
	const m = {};
	for (const [k, x] of Object.entries(v)) m[k] = toAv(x);
	return { M: m };
}
function fromAv(a) {
	if (a.NULL) return null;
	if ('BOOL' in a) return a.BOOL;
	if ('N' in a) return Number(a.N);
	if ('S' in a) return a.S;
	if ('L' in a) return a.L.map(fromAv);
	if ('M' in a) {
		const o = {};
		for (const [k, x] of Object.entries(a.M)) o[k] = fromAv(x);
		return o;
	}
	return undefined;
}

async function sendWakeup(id, due, gen) {
	const d = due - Date.now();
	await sqs.send(new SendMessageCommand({
		QueueUrl: QUEUE_URL,
		MessageBody: JSON.stringify({ taskId: id, targetTimestamp: due, priority: null, gen }),
		DelaySeconds: d <= 0 ? 0 : Math.min(900, Math.floor(d / 1000)),
	}));
}

async function claim(id, gen, now) {
	const out = await ddb.send(new UpdateItemCommand({
		TableName: TABLE,
		Key: { id: S(id) },
		UpdateExpression: 'SET #st = :processing, gen = :ng, lease_owner = :me, ' +
			'lease_until = :lu, lease_token = :tok, due_at = :lu, ' +
			'due_shard = if_not_exists(due_shard, :shard), ' +
			'updated_at = :now, completed = :f, ns = if_not_exists(ns, :dns), ' +
			'iteration = if_not_exists(iteration, :zero), ' +
			'attempts = if_not_exists(attempts, :zero), ' +
			'max_attempts = if_not_exists(max_attempts, :dmax), ' +
			'created_at = if_not_exists(created_at, :now), ' +
			'next_run = if_not_exists(next_run, :now) REMOVE enqueued_for',
		ConditionExpression: '#st = :pending AND next_run <= :due AND gen = :g',
		ExpressionAttributeNames: { '#st': 'status' },
		ExpressionAttributeValues: {
			':processing': S('PROCESSING'), ':pending': S('PENDING'),
			':ng': N(gen + 1), ':g': N(gen), ':me': S(OWNER),
			':lu': N(now + VISIBILITY_MS), ':tok': S(crypto.randomBytes(16).toString('hex')),
			':shard': S(shard(id)), ':now': N(now), ':due': N(now + SKEW_MS),
			':f': { BOOL: false }, ':dns': S('default'), ':zero': N(0), ':dmax': N(3),
		},
		ReturnValues: 'ALL_NEW',
	}));
	return out.Attributes;
}

// The claim's condition failed: docs/design.md section 5, step 3. Returns true when the
// message is to be deleted.
async function unclaimed(message, msg) {
	const out = await ddb.send(new GetItemCommand({ TableName: TABLE, Key: { id: S(msg.taskId) }, ConsistentRead: true }));
	const it = out.Item;
	if (!it) {
		log('warn', 'task does not exist; message deleted', { task: msg.taskId });
		return true;
	}
	const gen = Number(it.gen ? it.gen.N : 0);
	const status = it.status ? it.status.S : 'PENDING';
	if (gen !== msg.gen || status !== 'PENDING')
		return true;                              // stale, or finished
	const next = Number(it.next_run.N), now = Date.now();
	if (next > now + HORIZON_MS) {
		try {
			await ddb.send(new UpdateItemCommand({
				TableName: TABLE, Key: { id: S(msg.taskId) },
				UpdateExpression: 'REMOVE enqueued_for', ConditionExpression: 'gen = :g',
				ExpressionAttributeValues: { ':g': N(gen) },
			}));
		} catch (e) {
			if (!isCondition(e)) throw e;
		}
		return true;
	}
	if (next > now + SKEW_MS) {
		await sendWakeup(msg.taskId, next, gen);  // early: again for its time
		return true;
	}
	await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: QUEUE_URL, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 1 }));
	return false;
}

// The http runner's webhook (runners/http), as a user would write it with
// fetch (undici: connections kept alive per origin, TLS sessions cached):
// params url, method, headers, body, timeout_ms; a 2xx answer completes the
// task, anything else fails it. The response is read in full, as the
// runner reads it. Resolves to a runTask() result.
async function runWebhook(params) {
	const headers = { ...(params.headers || {}) };
	const init = { method: params.method || 'GET', headers,
		signal: AbortSignal.timeout(params.timeout_ms || 10000) };
	if (params.body !== undefined) {
		if (typeof params.body === 'string') {
			init.body = params.body;
		} else {
			init.body = JSON.stringify(params.body);
			headers['Content-Type'] = headers['Content-Type'] || 'application/json';
		}
	}
	try {
		const res = await fetch(params.url, init);
		await res.arrayBuffer();
		return res.status >= 200 && res.status < 300 ? { completed: true } : { failed: `HTTP ${res.status}` };
	} catch (e) {
		return { failed: e.message };
	}
}

// The runners, in JS: what runners/noop, runners/countdown and runners/http
// do. http returns a promise; the others return their result.
function runTask(type, params, now) {
	if (type === 'noop')
		return { completed: true };
	if (type === 'countdown') {
		const n = params.n, every = params.every_ms || 0;
		if (!Number.isInteger(n) || n < 0)
			return { failed: 'params.n must be a count' };
		if (n === 0)
			return { completed: true };
		const p = { ...params, n: n - 1 };
		return n - 1 === 0 ? { completed: true, params: p } : { params: p, next: now + every };
	}
	if (type === 'http')
		return runWebhook(params);
	return { failed: `no runner "${type}"` };
}

async function writeOutcome(it, r, now) {
	const gen = Number(it.gen.N);
	const state = r.failed ? 'FAILED' : r.completed ? 'COMPLETED' : 'PENDING';
	const names = { '#st': 'status' };
	const values = {
		':g': N(gen), ':me': S(OWNER), ':processing': S('PROCESSING'),
		':ng': N(gen + 1), ':now': N(now), ':state': S(state), ':done': { BOOL: state === 'COMPLETED' },
	};
	let cond = 'gen = :g AND lease_owner = :me AND #st = :processing';
	let set = 'SET #st = :state, completed = :done, gen = :ng, updated_at = :now';
	let remove = ' REMOVE lease_owner, lease_until, lease_token, suspend_requested';
	let enqueueAt = 0;
	if (!r.failed) {
		values[':one'] = N(1);
		values[':zero'] = N(0);
		set += ', iteration = iteration + :one, attempts = :zero';
		if (r.params) {
			values[':params'] = toAv(r.params);
			set += ', params = :params';
		}
	} else {
		values[':att'] = N(Number(it.attempts.N) + 1);
		values[':err'] = S(r.failed);
		set += ', attempts = :att, last_error = :err';
	}
	if (state === 'PENDING') {
		const next = r.next > 0 ? r.next : now;
		cond += ' AND attribute_not_exists(suspend_requested)';
		values[':next'] = N(next);
		values[':enq'] = N(next > now ? next : now);
		set += ', next_run = :next, due_at = :next, enqueued_for = :enq';
		enqueueAt = next;
	} else {
		set += ', finished_at = :now';
		remove += ', due_shard, due_at, enqueued_for';
	}
	await ddb.send(new UpdateItemCommand({
		TableName: TABLE, Key: { id: it.id },
		UpdateExpression: set + remove, ConditionExpression: cond,
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}));
	return { state, enqueueAt, gen: gen + 1 };
}

// One message; true when it is to be deleted.
async function processMessage(message) {
	let msg;
	try {
		msg = JSON.parse(message.Body);
		if (typeof msg.taskId !== 'string') throw new Error('no taskId');
		msg.gen = Number.isInteger(msg.gen) ? msg.gen : 0;
	} catch (e) {
		log('error', `malformed message deleted: ${e.message}`, {});
		return true;
	}
	const early = (msg.targetTimestamp || 0) - Date.now();
	if (early > 0 && early <= HOLD_MAX_MS)
		await sleep(early);
	let it;
	try {
		it = await claim(msg.taskId, msg.gen, Date.now());
	} catch (e) {
		if (!isCondition(e)) throw e;
		return unclaimed(message, msg);
	}
	const started = Date.now();
	const late = started - Number(it.next_run.N);
	let r = runTask(it.type.S, fromAv(it.params || { M: {} }), started);
	if (r instanceof Promise)
		r = await r;            // only http: the others stay synchronous
	const duration = Date.now() - started;
	let o;
	try {
		o = await writeOutcome(it, r, Date.now());
	} catch (e) {
		if (!isCondition(e)) throw e;
		log('warn', 'the task changed during the run; result discarded', { task: msg.taskId });
		return true;
	}
	if (o.enqueueAt > 0)
		await sendWakeup(msg.taskId, o.enqueueAt, o.gen);
	log('info', 'run finished', {
		task: msg.taskId, runner: it.type.S, iteration: it.iteration.N,
		outcome: o.state === 'COMPLETED' ? 'completed' : o.state === 'FAILED' ? 'failed' : 'success',
		duration_ms: String(duration), late_ms: String(late),
	});
	return true;
}

const consumers = [];
const nConsumers = Math.ceil(CONCURRENCY / 10);
for (let i = 0; i < nConsumers; i++) {
	const batchSize = Math.floor(CONCURRENCY / nConsumers) + (i < CONCURRENCY % nConsumers ? 1 : 0);
	const c = Consumer.create({
		queueUrl: QUEUE_URL,
		sqs,
		batchSize,
		waitTimeSeconds: WAIT_TIME,
		pollingCompleteWaitTimeMs: 25000,
		// The batch's messages run concurrently; the ones that succeeded are
		// returned and deleted together.
		handleMessageBatch: async (messages) => {
			const done = await Promise.allSettled(messages.map(processMessage));
			const acked = [];
			done.forEach((d, k) => {
				if (d.status === 'fulfilled' && d.value) acked.push(messages[k]);
				else if (d.status === 'rejected') log('warn', `processing failed: ${d.reason && d.reason.message}`, {});
			});
			return acked;
		},
	});
	c.on('error', (err) => log('error', err.message, {}));
	c.on('processing_error', (err) => log('error', err.message, {}));
	consumers.push(c);
}

let stopping = false;
function shutdown() {
	if (stopping) process.exit(1);
	stopping = true;
	const total = Object.values(counts).reduce((a, b) => a + b, 0);
	const fields = {};
	for (const [k, v] of Object.entries(counts)) fields[k] = String(v);
	log('info', `AWS requests by operation: ${total} in all`, fields);
	let left = consumers.length;
	for (const c of consumers) {
		c.once('stopped', () => {
			if (--left === 0) {
				log('info', 'worker stopped', {});
				process.exit(0);
			}
		});
		c.stop();
	}
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

for (const c of consumers) c.start();
log('info', `worker ${OWNER} started: queue ${QUEUE_URL}, table ${TABLE}, ${CONCURRENCY} at once in ${nConsumers} consumers`, {});
