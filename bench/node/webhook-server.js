#!/usr/bin/env node
// bench/node/webhook-server.js - the loopback webhook receiver of the
// webhook workloads (bench/webhook.py): answers every request after a set
// delay, over HTTP and over HTTPS, and counts what it saw.
//
//   node webhook-server.js --delay-ms MS [--cert PEM --key PEM]
//
// Listens on free ports of 127.0.0.1 and prints "http PORT", then (with
// --cert and --key) "https PORT", then "ready" on stdout. Every request is
// read in full and answered `200 {"ok":true}` DELAY ms after it arrived
// (a request's own `?delay_ms=N` wins); connections are kept alive for 120 s
// between requests, so a client that reuses them is never cut off by the
// server between two webhooks. SIGUSR1 prints the counters as one JSON line
// on stdout:
//
//   {"http": {...}, "https": {...}}, each with
//   connections       TCP connections accepted
//   open_max          most connections open at once
//   requests          requests answered or in progress
//   in_flight_max     most requests in progress at once (arrived, not yet
//                     answered)
//   full_handshakes   (https) TLS handshakes that made a new session
//   resumed           (https) TLS handshakes that resumed one (a session
//                     ticket or id the client kept from an earlier
//                     connection)
//
// Node's own modules only, so it runs without bench/node's npm packages.
// One process on one event loop: a held request is a timer, so thousands
// in flight cost it little; the workloads print its CPU beside the figures.
'use strict';

const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');

function args() {
	const a = { delayMs: 0 };
	const v = process.argv.slice(2);
	for (let i = 0; i < v.length; i += 2) {
		const k = v[i], x = v[i + 1];
		if (k === '--delay-ms') a.delayMs = Number(x);
		else if (k === '--cert') a.cert = x;
		else if (k === '--key') a.key = x;
		else throw new Error(`unknown option ${k}`);
	}
	if (!(a.delayMs >= 0) || !!a.cert !== !!a.key)
		throw new Error('need --delay-ms MS (>= 0), and --cert with --key');
	return a;
}

function counters() {
	return { connections: 0, open: 0, open_max: 0, requests: 0, in_flight: 0, in_flight_max: 0 };
}

const BODY = Buffer.from('{"ok":true}');

// Counts connections and requests of server into c; answers after delayMs.
function serve(server, c, delayMs) {
	server.keepAliveTimeout = 120000;
	server.headersTimeout = 130000;
	server.requestTimeout = 0;
	server.maxRequestsPerSocket = 0;
	server.on('connection', (sock) => {
		c.connections++;
		c.open++;
		if (c.open > c.open_max) c.open_max = c.open;
		sock.on('close', () => { c.open--; });
	});
	server.on('request', (req, res) => {
		c.requests++;
		c.in_flight++;
		if (c.in_flight > c.in_flight_max) c.in_flight_max = c.in_flight;
		let delay = delayMs;
		const q = req.url.indexOf('?');
		if (q >= 0) {
			const d = new URLSearchParams(req.url.slice(q + 1)).get('delay_ms');
			if (d !== null && Number(d) >= 0) delay = Number(d);
		}
		let answered = false;
		const answer = () => {
			if (answered) return;
			answered = true;
			c.in_flight--;
			if (!res.destroyed)
				res.writeHead(200, { 'Content-Type': 'application/json',
					'Content-Length': BODY.length }).end(BODY);
		};
		// A client that gives up leaves the count at once.
		res.on('close', answer);
		req.resume();
		req.on('end', () => setTimeout(answer, delay));
	});
}

function listen(server) {
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen({ host: '127.0.0.1', port: 0, backlog: 8192 }, () =>
			resolve(server.address().port));
	});
}

async function main() {
	const a = args();
	const stats = { http: counters() };
	const plain = http.createServer();
	serve(plain, stats.http, a.delayMs);
	process.stdout.write(`http ${await listen(plain)}\n`);
	if (a.cert) {
		const c = stats.https = { ...counters(), full_handshakes: 0, resumed: 0 };
		const tls = https.createServer({ cert: fs.readFileSync(a.cert), key: fs.readFileSync(a.key) });
		serve(tls, c, a.delayMs);
		// 'connection' above is the TCP accept; this is the handshake's end.
		tls.on('secureConnection', (sock) => {
			if (sock.isSessionReused()) c.resumed++;
			else c.full_handshakes++;
		});
		process.stdout.write(`https ${await listen(tls)}\n`);
	}
	process.on('SIGUSR1', () => {
		const out = {};
		for (const [k, c] of Object.entries(stats)) {
			const { open, in_flight, ...rest } = c;
			out[k] = rest;
		}
		process.stdout.write(JSON.stringify(out) + '\n');
	});
	process.on('SIGTERM', () => process.exit(0));
	process.stdout.write('ready\n');
}

main().catch((e) => {
	process.stderr.write(`webhook-server: ${e.message}\n`);
	process.exit(2);
});
