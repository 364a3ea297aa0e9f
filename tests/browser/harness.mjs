// harness.mjs - what the console's browser tests share (console*.mjs):
// PASS/FAIL lines, screenshots checked as PNGs that show something, Debian's
// Chromium launched headless on a fresh profile with every request that
// leaves the console's server and every script error recorded, the checks
// and the ending every test has, and the environment, API calls and table
// rows of the operations tests.
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";

let failedAny = false;

// consoleEnv(names) -> process.env, once each of names (CONSOLE_URL and
// SHOT_DIR among them) is set and CONSOLE_URL is on 127.0.0.1; SHOT_DIR is
// made. Prints FAIL browser/environment and exits 1 otherwise.
export function consoleEnv(names) {
  const env = process.env;
  for (const k of names) {
    if (!env[k]) {
      console.log(`FAIL browser/environment: ${k} is not set`);
      process.exit(1);
    }
  }
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(env.CONSOLE_URL)) {
    console.log("FAIL browser/environment: CONSOLE_URL must be on 127.0.0.1");
    process.exit(1);
  }
  mkdirSync(env.SHOT_DIR, { recursive: true });
  return env;
}

// apiClient(base, key) -> api(method, path): the API called by the test
// itself (not the page), resolving with the reply's JSON, to compare with
// what the page shows.
export function apiClient(base, key) {
  return async (method, path) =>
    (await fetch(`${base}${path}`, { method, headers: { Authorization: `Bearer ${key}` } })).json();
}

// tableRows(page, sel) -> the text of each cell of each row sel matches.
export function tableRows(page, sel) {
  return page.$$eval(sel, (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent.trim())));
}

// True once any check failed.
export function failed() {
  return failedAny;
}

export function pass(name) {
  console.log(`PASS browser/${name}`);
}
export function fail(name, why) {
  failedAny = true;
  console.log(`FAIL browser/${name}: ${String(why).split("\n")[0]}`);
}
// check(name, fn): PASS when fn resolves to true or to nothing (a check
// that only waits); FAIL with the reason when it throws or resolves to
// anything else: false, or a string saying what was seen instead.
export async function check(name, fn) {
  try {
    const r = await fn();
    if (r === true || r === undefined) pass(name);
    else fail(name, r === false ? "condition false" : r);
  } catch (e) {
    fail(name, e.message);
  }
}

// The pixels of an 8-bit RGB or RGBA PNG (what Chromium writes) as
// { width, height, channels, rows: [Buffer...] }; throws for anything else
// (not a PNG, a truncated one, another colour type or depth, interlacing).
export function decodePng(buf) {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (buf.length < 33 || !buf.subarray(0, 8).equals(sig)) throw new Error("not a PNG");
  let width = 0, height = 0, channels = 0, ended = false;
  const idat = [];
  for (let off = 8; off + 12 <= buf.length;) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString("latin1", off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (data.length !== len) throw new Error(`truncated ${type} chunk`);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = data.subarray(8, 13);
      channels = { 2: 3, 6: 4 }[colour] || 0;
      if (depth !== 8 || !channels || interlace) throw new Error(`depth ${depth}, colour type ${colour}, interlace ${interlace}`);
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") { ended = true; break; }
    off += 12 + len;
  }
  if (!width || !height || !ended) throw new Error("no IHDR or IEND");
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error(`${raw.length} bytes of pixels for ${width}x${height}`);
  // Undo each row's filter (PNG spec, section 9).
  const rows = [];
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const row = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
      let p;
      if (f === 0) p = 0;
      else if (f === 1) p = a;
      else if (f === 2) p = b;
      else if (f === 3) p = (a + b) >> 1;
      else if (f === 4) {
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new Error(`row ${y}: filter ${f}`);
      row[i] = (row[i] + p) & 0xff;
    }
    rows.push(row);
    prev = row;
  }
  return { width, height, channels, rows };
}

// shooter(page, shots) -> shot(name, fullPage): saves a screenshot to SHOT_DIR/NAME.png and checks
// it is what was asked for: a PNG as wide as the viewport, as high as it (or
// higher, for a full page), showing something: at least 2% of its pixels
// differ from the most common colour (an empty or unstyled-blank page does
// not get there; a page of text does).
export function shooter(page, shots) {
  return async function shot(name, fullPage) {
    await check(`screenshot-${name}`, async () => {
      const png = decodePng(await page.screenshot({ path: join(shots, `${name}.png`), fullPage }));
      const vp = page.viewportSize();
      if (png.width !== vp.width || (fullPage ? png.height < vp.height : png.height !== vp.height))
        return `${png.width}x${png.height}, viewport ${vp.width}x${vp.height}`;
      const counts = new Map();
      for (const row of png.rows)
        for (let i = 0; i < row.length; i += png.channels) {
          const px = row.readUIntBE(i, 3);
          counts.set(px, (counts.get(px) || 0) + 1);
        }
      const common = Math.max(...counts.values());
      const other = 1 - common / (png.width * png.height);
      return other >= 0.02 || `blank: ${(other * 100).toFixed(2)}% of pixels differ from the background`;
    });
  };
}

// launch(base, executablePath) -> { context, page, profile, foreign,
// pageErrors, close() }: a fresh, empty profile (user-data directory) for
// every run; the flags keep Chromium from contacting anything but the
// console. foreign: requests that went anywhere but base; pageErrors: script
// errors (a 401 before the key is entered is expected). Prints FAIL
// browser/launch and exits 1 when Chromium does not start.
export async function launch(base, executablePath) {
  const profile = mkdtempSync(join(tmpdir(), "taskfleet-chromium-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 860 },
      timezoneId: "Europe/Berlin",
      locale: "en-GB",
    });
  } catch (e) {
    console.log(`FAIL browser/launch: ${e.message.split("\n")[0]}`);
    rmSync(profile, { recursive: true, force: true });
    process.exit(1);
  }
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  const foreign = [];
  const pageErrors = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(`${base}/`) && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 401/.test(m.text())) pageErrors.push(`${m.text()} (${m.location().url})`);
  });
  return {
    context, page, foreign, pageErrors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// runChecks(browser, shots, body, allowedError): runs a test's checks (body,
// an async function), then the two every console test ends with: no request
// left the console's server, and no script error but those allowedError (a
// RegExp, optional) matches, such as a refusal the test provokes. A throw is
// FAIL browser/run, the page as it was saved to SHOT_DIR/failure.png. Then
// closes Chromium (browser: launch()'s result) and exits the process: 1 when
// any check failed, else 0.
export async function runChecks(browser, shots, body, allowedError) {
  const { page, foreign, pageErrors, close } = browser;
  try {
    await body();
    await check("no-request-left-the-server", async () => foreign.length === 0 || foreign.join(" "));
    const errors = allowedError ? pageErrors.filter((e) => !allowedError.test(e)) : pageErrors;
    await check("no-script-errors", async () => errors.length === 0 || errors.join(" | "));
  } catch (e) {
    fail("run", e.stack || e.message);
    await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
  } finally {
    await close();
  }
  process.exit(failed() ? 1 : 0);
}
