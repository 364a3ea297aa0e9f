#!/usr/bin/env node
// bench/node/submit.js - writes a benchmark workload fast: the same task items
// and queue messages as `taskfleet submit` (docs/design.md sections 2 and 3; lib/task/task.c
// tf_task_create and the producer's send), but 25 items a BatchWriteItem and 10
// messages a SendMessageBatch, several calls in flight. Not part of any figure.
//
//   node submit.js --table T --queue-url URL --type noop|countdown|record
//        --count N [--params JSON] [--ahead-min MS --ahead-max MS]
//
// Each task is due now, or at a random time between --ahead-min and
// --ahead-max milliseconds from its submission. Prints one JSON line with the
// count and the time taken.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { DynamoDBClient, BatchWriteItemCommand } = require('@aws-sdk/client-dynamodb');
const { SQSClient, SendMessageBatchCommand } = require('@aws-sdk/client-sqs');
const { NodeHttpHandler } = require('@smithy/node-http-handler');

const HORIZON_MS = 15 * 60 * 1000;   // TF_ENQUEUE_HORIZON_MS
const GRACE_MS = 60 * 1000;            // TASKFLEET_SWEEP_GRACE's default
const INFLIGHT = 8;

function args() {
	const a = { params: '{}', aheadMin: 0, aheadMax: 0 };
	const v = process.argv.slice(2);
	for (let i = 0; i < v.length; i += 2) {
		const k = v[i], x = v[i + 1];
		if (k === '--table') a.table = x;
		else if (k === '--queue-url') a.queueUrl = x;
		else if (k === '--type') a.type = x;
		else if (k === '--count') a.count = Number(x);
		else if (k === '--params') a.params = x;
		else if (k === '--ahead-min') a.aheadMin = Number(x);
		else if (k === '--ahead-max') a.aheadMax = Number(x);
		else throw new Error(`unknown option ${k}`);
	}
	if (!a.table || !a.queueUrl || !a.type || !(a.count >= 0))
		throw new Error('need --table, --queue-url, --type and --count');
	return a;
}

// JSON value -> DynamoDB attribute value (what tf_marshal_value makes).
function av(v) {
	if (v === null) return { NULL: true };
	if (typeof v === 'boolean') return { BOOL: v };
	if (typeof v === 'number') return { N: String(v) };
	if (typeof v === 'string') return { S: v };
	if (Array.isArray(v)) return { L: v.map(av) };
	const m = {};
	for (const [k, x] of Object.entries(v)) m[k] = av(x);
	return { M: m };
}

// tf_task_shard: FNV-1a of the id, modulo 16.
function shard(id) {
	let h = 2166136261;
	for (const c of Buffer.from(id)) h = Math.imul(h ^ c, 16777619) >>> 0;
	return String(h % 16);
}

// The item tf_task_create writes (no schedule, default namespace).
function item(id, type, params, nextRun, now) {
	const it = {
		params: av(params),
		id: { S: id },
		ns: { S: 'default' },
		type: { S: type },
		status: { S: 'PENDING' },
		completed: { BOOL: false },
		next_run: { N: String(nextRun) },
		iteration: { N: '0' },
		attempts: { N: '0' },
		max_attempts: { N: '3' },
		gen: { N: '1' },
		created_at: { N: String(now) },
		updated_at: { N: String(now) },
		due_shard: { S: shard(id) },
		due_at: { N: String(nextRun) },
	};
	if (nextRun <= now + HORIZON_MS) {
		// A message goes out: the sweeper looks only once it may be lost,
		// the default grace (60 s) after it becomes visible (task/due.h).
		const visible = nextRun > now ? nextRun : now;
		it.enqueued_for = { N: String(visible) };
		it.due_at = { N: String(visible + GRACE_MS + HORIZON_MS) };
	}
	return it;
}

// tf_task_delay_s: whole seconds, rounded down, at most 900.
function delayS(due, now) {
	const d = due - now;
	return d <= 0 ? 0 : Math.min(900, Math.floor(d / 1000));
}

async function pool(jobs, n) {
	let next = 0;
	async function one() {
		while (next < jobs.length) {
			const j = jobs[next++];
			await j();
		}
	}
	await Promise.all(Array.from({ length: n }, one));
}

async function main() {
	const a = args();
	const params = JSON.parse(a.params);
	const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
	const requestHandler = new NodeHttpHandler({ httpAgent: agent });
	const ddb = new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB, requestHandler });
	const sqs = new SQSClient({ endpoint: process.env.AWS_ENDPOINT_URL_SQS, requestHandler });
	const t0 = Date.now();
	const tasks = [];
	for (let i = 0; i < a.count; i++) {
		const ahead = a.aheadMax > 0 ? a.aheadMin + Math.floor(Math.random() * (a.aheadMax - a.aheadMin)) : 0;
		tasks.push({ id: crypto.randomUUID(), ahead });
	}
	// Items first, then their messages, as the producer does (a message never
	// comes before its item).
	const writes = [];
	for (let i = 0; i < tasks.length; i += 25) {
		const chunk = tasks.slice(i, i + 25);
		writes.push(async () => {
			const now = Date.now();
			for (const t of chunk) t.due = now + t.ahead;
			let req = { [a.table]: chunk.map((t) => ({ PutRequest: { Item: item(t.id, a.type, params, t.due, now) } })) };
			for (let tries = 0; req && Object.keys(req).length; tries++) {
				const out = await ddb.send(new BatchWriteItemCommand({ RequestItems: req }));
				req = out.UnprocessedItems;
				if (tries > 20) throw new Error('BatchWriteItem keeps leaving items unprocessed');
			}
		});
	}
	await pool(writes, INFLIGHT);
	const sends = [];
	for (let i = 0; i < tasks.length; i += 10) {
		const chunk = tasks.slice(i, i + 10);
		sends.push(async () => {
			let entries = chunk.map((t, k) => ({
				Id: String(k),
				MessageBody: JSON.stringify({ taskId: t.id, targetTimestamp: t.due, priority: null, gen: 1 }),
				DelaySeconds: delayS(t.due, Date.now()),
			}));
			for (let tries = 0; entries.length; tries++) {
				const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: a.queueUrl, Entries: entries }));
				const failed = new Set((out.Failed || []).map((f) => f.Id));
				entries = entries.filter((e) => failed.has(e.Id));
				if (tries > 20) throw new Error('SendMessageBatch keeps failing');
			}
		});
	}
	await pool(sends, INFLIGHT);
	const first = Math.min(...tasks.map((t) => t.due));
	process.stdout.write(JSON.stringify({ count: tasks.length, ms: Date.now() - t0, first_due: first }) + '\n');
	agent.destroy();
}

main().catch((e) => {
	process.stderr.write(`submit.js: ${e.stack || e}\n`);
	process.exit(1);
});
