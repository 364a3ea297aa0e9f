// console_dlq.mjs - the console's dead-letter queue page (#/dlq) and the
// operations page's stats over time (#/ops) in Debian's Chromium, headless,
// as a user works them: the messages listed as GET /v1/dlq lists them (task,
// namespace, reason, receives), a dry run of one message that moves nothing,
// a redrive of one that asks first (Cancel moves nothing), a dry run of all
// that leaves the malformed body, a redrive of all with it; then the chart
// of the stats sampled every second, its legend as GET /v1/stats says.
//
// Run by tests/scripts/console_dlq_browser.sh, which fills the dead-letter
// queue and starts the server (TASKFLEET_API_STATS_EVERY=1s).
// Environment:
//   CONSOLE_URL  the server, http://127.0.0.1:PORT
//   API_KEY      a write key for it
//   LIVE_A       tasks of namespace dlqA with a live message, comma-separated
//   LIVE_B       the same in dlqB
//   GONE_ID      a task id with a message but no task
//   SHOT_DIR     where the screenshots go
//   CHROMIUM     the browser (default /usr/bin/chromium)
//
// Prints "PASS browser/NAME" or "FAIL browser/NAME: why"; exits 1 on any
// failure.
import { apiClient, check, consoleEnv, launch, runChecks, shooter, tableRows } from "./harness.mjs";

const env = consoleEnv(["CONSOLE_URL", "API_KEY", "LIVE_A", "LIVE_B", "GONE_ID", "SHOT_DIR"]);
const base = env.CONSOLE_URL;
const shots = env.SHOT_DIR;
const liveA = env.LIVE_A.split(","), liveB = env.LIVE_B.split(",");

const { page, foreign, pageErrors, close } = await launch(base, env.CHROMIUM || "/usr/bin/chromium");
const shot = shooter(page, shots);
// The API from here, not the page. Not /v1/dlq while the page lists: a
// listing hides the messages it holds from another.
const api = apiClient(base, env.API_KEY);
const rows = (sel) => tableRows(page, sel);
// The dead-letter queue's visible messages once the count is want (polled:
// a listing's messages come back when it ends); the last count seen.
async function dlqVisible(want) {
  const deadline = Date.now() + 20000;
  let n = -1;
  while (Date.now() < deadline) {
    const s = await api("GET", "/v1/stats");
    n = s.dlq ? s.dlq.visible + s.dlq.in_flight : -1;
    if (n === want) return n;
    await new Promise((r) => setTimeout(r, 200));
  }
  return n;
}
const listed = () => page.waitForFunction(() => /message|empty/.test(document.getElementById("dlqinfo").textContent));
const rowOf = (task) => page.locator(`#dlqlist tbody tr`, { has: page.locator(`a:text-is("${task}")`) });

await runChecks({ page, foreign, pageErrors, close }, shots, async () => {
  await page.goto(`${base}/#/dlq`);
  await page.locator("#keydialog").waitFor({ state: "visible" });
  await page.locator("#keyinput").fill(env.API_KEY);
  await page.getByRole("button", { name: "Use this key" }).click();

  await check("dlq-list-as-the-api", async () => {
    await listed();
    await page.waitForFunction(() => document.querySelectorAll("#dlqlist tbody tr").length === 5);
    const r = await rows("#dlqlist tbody tr");
    const byTask = Object.fromEntries(r.map((x) => [x[1], x]));
    const bad = [];
    for (const id of liveA) if (!byTask[id] || byTask[id][2] !== "dlqA" || !/waits for it/.test(byTask[id][3])) bad.push(id);
    for (const id of liveB) if (!byTask[id] || byTask[id][2] !== "dlqB") bad.push(id);
    if (!byTask[env.GONE_ID] || !/no such task/.test(byTask[env.GONE_ID][3])) bad.push(env.GONE_ID);
    const mal = r.find((x) => x[1] === "—");
    if (!mal || !/malformed body/.test(mal[3]) || !/hello, not a task/.test(mal[3])) bad.push("malformed");
    if (!r.every((x) => /^\d+$/.test(x[4]))) bad.push("receive counts");
    return bad.length === 0 || `wrong rows for ${bad}: ${JSON.stringify(r)}`;
  });
  await shot("console-dlq", true);

  const one = liveA[0];
  await check("dlq-dry-run-one-moves-nothing", async () => {
    await rowOf(one).locator("[data-do=dryrun]").click();
    await page.waitForFunction(() => /Would move/.test((document.getElementById("redrivesummary") || {}).textContent || ""));
    const sum = await page.locator("#redrivesummary").textContent();
    const items = await page.locator("#redrivelist li").allTextContents();
    const n = await dlqVisible(5);
    return (sum.startsWith("Would move 1 message") && items.length === 1 && items[0].includes(one) && n === 5)
      || `summary ${sum}; ${JSON.stringify(items)}; ${n} in the DLQ`;
  });
  await check("dlq-redrive-one-cancel-moves-nothing", async () => {
    await rowOf(one).locator("[data-do=redrive]").click();
    await page.locator("#confirmdialog").waitFor({ state: "visible" });
    await page.locator("#confirmcancel").click();
    await page.locator("#confirmdialog").waitFor({ state: "hidden" });
    const n = await dlqVisible(5);
    return n === 5 || `${n} in the DLQ`;
  });
  await check("dlq-redrive-one", async () => {
    await rowOf(one).locator("[data-do=redrive]").click();
    await page.locator("#confirmdialog").waitFor({ state: "visible" });
    await page.locator("#confirmok").click();
    await page.locator("#toast").waitFor({ state: "visible" });
    const toast = await page.locator("#toast").textContent();
    await page.waitForFunction(() => document.querySelectorAll("#dlqlist tbody tr").length === 4);
    const tasks = (await rows("#dlqlist tbody tr")).map((x) => x[1]);
    const n = await dlqVisible(4);
    return (toast === "Moved 1 message to the task queue" && !tasks.includes(one) && n === 4)
      || `toast ${toast}; listed ${tasks}; ${n} in the DLQ`;
  });
  await check("dlq-dry-run-all-leaves-malformed", async () => {
    await page.locator("#dryrunall").click();
    await page.waitForFunction(() => /Would move 3/.test((document.getElementById("redrivesummary") || {}).textContent || ""));
    const sum = await page.locator("#redrivesummary").textContent();
    const n = await dlqVisible(4);
    return (/1 malformed left/.test(sum) && n === 4) || `summary ${sum}; ${n} in the DLQ`;
  });
  await check("dlq-redrive-all", async () => {
    await page.locator("#includemalformed").check();
    await page.locator("#redriveall").click();
    await page.locator("#confirmdialog").waitFor({ state: "visible" });
    await page.locator("#confirmok").click();
    await page.waitForFunction(() => /empty/.test(document.getElementById("dlqinfo").textContent));
    const sum = await page.locator("#redrivesummary").textContent();
    const n = await dlqVisible(0);
    return (sum.startsWith("Moved 4 messages") && n === 0) || `summary ${sum}; ${n} in the DLQ`;
  });
  await page.locator("#toast").waitFor({ state: "hidden" });

  await check("history-chart-drawn", async () => {
    await page.goto(`${base}/#/ops`);
    // A sample a second: wait for a chart of at least three.
    await page.waitForFunction(() => /^([3-9]|\d\d+) samples/.test(document.getElementById("historyinfo").textContent),
      null, { timeout: 20000 });
    const lines = await page.$$eval("#historychart polyline", (ps) => ps.map((p) => [p.dataset.series, p.getAttribute("points").split(" ").length]));
    const series = lines.map((l) => l[0]);
    return (["Pending", "Processing", "Failed", "Queue (visible)", "Dead-letter queue"].every((s) => series.includes(s))
      && lines.every((l) => l[1] >= 3)) || `lines ${JSON.stringify(lines)}`;
  });
  await check("history-legend-as-stats", async () => {
    const stats = await api("GET", "/v1/stats");
    const legend = Object.fromEntries((await page.$$eval("#historylegend li", (ls) => ls.map((l) => [l.dataset.series, l.querySelector("strong").textContent]))));
    return (legend.Pending === String(stats.tasks.PENDING) && legend["Dead-letter queue"] === "0")
      || `legend ${JSON.stringify(legend)}, stats ${JSON.stringify(stats.tasks)}`;
  });
  await page.locator("#history").scrollIntoViewIfNeeded();
  await shot("console-history", false);
  await check("history-not-for-one-namespace", async () => {
    await page.goto(`${base}/#/ops?ns=dlqA`);
    await page.waitForFunction(() => /every namespace together/.test(document.getElementById("historyinfo").textContent));
    return (await page.locator("#historychart").count()) === 0 || "a chart for one namespace";
  });
});
