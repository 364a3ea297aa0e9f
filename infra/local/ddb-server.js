#!/usr/bin/env node
// infra/local/ddb-server.js - runs the dynalite stand-in for DynamoDB.
//
//   node ddb-server.js [--port N] [--host ADDR] [--path DIR] [--port-file F]
//                      [--pid-file F]
//
// --port 0 (the default) picks a free port; once the server listens, the
// actual port is written to --port-file (atomically). --path keeps the data in
// LevelDB under DIR (it survives a restart); without it the data is in memory.
// Tables are ACTIVE at once (createTableMs, deleteTableMs, updateTableMs 0;
// patches/dynalite+4.0.0.patch makes CreateTable store and reply ACTIVE, and
// DeleteTable delete before replying, instead of flipping on a timer).
// dynalite's cli.js cannot report the port it got for port 0, hence this file.
// An exception thrown while serving a request (dynalite rethrows request
// stream errors, e.g. a client that hangs up mid-body) is logged, not fatal.
"use strict";

const fs = require("fs");
const path = require("path");
const dynalite = require("dynalite");

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
      case "path": opts.path = val ? path.resolve(val) : undefined; break;
      case "port-file": opts.portFile = path.resolve(val); break;
      case "pid-file": opts.pidFile = path.resolve(val); break;
      default: throw new Error(`unknown option --${m[1]}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
    throw new Error(`bad --port ${opts.port}`);
  return opts;
}

function log(...args) {
  console.error(new Date().toISOString(), "ddb-server:", ...args);
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  process.on("uncaughtException", (err) => log("uncaught exception (kept running):", err && err.stack ? err.stack : err));
  process.on("unhandledRejection", (err) => log("unhandled rejection (kept running):", err && err.stack ? err.stack : err));
  if (opts.pidFile) writeAtomic(opts.pidFile, `${process.pid}\n`);
  if (opts.path) {
    fs.mkdirSync(opts.path, { recursive: true });
    // dynalite opens LevelDB lazily and then fails every request; open it once
    // here so that a store in use by another process stops the start at once.
    const { Level } = require(require.resolve("level", { paths: [path.dirname(require.resolve("dynalite"))] }));
    const probe = new Level(opts.path, { valueEncoding: "json" });
    try {
      await probe.open();
    } catch (err) {
      const why = err.cause && err.cause.message ? err.cause.message : err.message;
      throw new Error(`cannot open the LevelDB store in ${opts.path}: ${why} ` +
        "(is another stand-in using the same TASKFLEET_LOCAL_DDB_PATH?)");
    }
    await probe.close();
  }

  const server = dynalite({
    path: opts.path,
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, resolve);
  });
  server.on("error", (err) => log("server error:", err.message));
  const port = server.address().port;

  let stopping = false;
  const stop = (sig) => {
    if (stopping) return process.exit(0);
    stopping = true;
    log(`${sig}: stopping`);
    // Closing the server closes the LevelDB store cleanly; give it 3 s.
    setTimeout(() => process.exit(0), 3000).unref();
    server.close((err) => {
      if (err) log("close:", err.message);
      process.exit(0);
    });
    server.closeAllConnections();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {});

  if (opts.portFile) writeAtomic(opts.portFile, `${port}\n`);
  log(`listening on http://${opts.host}:${port} (pid ${process.pid}, ${opts.path ? `data in ${opts.path}` : "data in memory"})`);
}

main().catch((err) => {
  log("failed to start:", err && err.stack ? err.stack : err);
  if (err && err.code === "EADDRINUSE")
    log("the port is in use: pick another one, or 0 for a free one (TASKFLEET_LOCAL_DDB_PORT=0)");
  process.exit(1);
});
