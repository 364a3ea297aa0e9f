// console_ops.mjs - the console's operations page (#/ops) in Debian's
// Chromium, headless, as a user works it: the counts by status and the
// queues' depth (the dead-letter queue's among them) as GET /v1/stats says,
// the namespaces with their tasks, the due tasks' dry run (every namespace, then one), and clearing a
// namespace: the button stays off until the name is typed twice, Cancel
// deletes nothing, OK deletes that namespace only; then pausing and
// resuming a namespace from its row.
//
// Run by tests/scripts/console_ops_browser.sh, which makes the tasks (no
// consumer runs, so the due ones stay due) and starts the server.
// Environment:
//   CONSOLE_URL  the server, http://127.0.0.1:PORT
//   API_KEY      a write key for it
//   DUE_A        ids of due tasks in namespace opsA, comma-separated
//   DUE_B        the same in opsB (the namespace cleared; it also holds a
//                suspended task)
//   LATER_ID     a task due in an hour (never listed as due)
//   DLQ_DEPTH    the messages put in the dead-letter queue
//   SHOT_DIR     where the screenshots go
//   CHROMIUM     the browser (default /usr/bin/chromium)
//
// Prints "PASS browser/NAME" or "FAIL browser/NAME: why"; exits 1 on any
// failure.
import { apiClient, check, consoleEnv, launch, runChecks, shooter, tableRows } from "./harness.mjs";

const env = consoleEnv(["CONSOLE_URL", "API_KEY", "DUE_A", "DUE_B", "LATER_ID", "DLQ_DEPTH", "SHOT_DIR"]);
const base = env.CONSOLE_URL;
const shots = env.SHOT_DIR;
const dueA = env.DUE_A.split(","), dueB = env.DUE_B.split(",");

const { page, foreign, pageErrors, close } = await launch(base, env.CHROMIUM || "/usr/bin/chromium");
const shot = shooter(page, shots);
const api = apiClient(base, env.API_KEY);
const rows = (sel) => tableRows(page, sel);
const dueIds = async () => (await rows("#duelist tbody tr")).map((r) => r[0]);

await runChecks({ page, foreign, pageErrors, close }, shots, async () => {
  await page.goto(`${base}/#/ops`);
  await page.locator("#keydialog").waitFor({ state: "visible" });
  await page.locator("#keyinput").fill(env.API_KEY);
  await page.getByRole("button", { name: "Use this key" }).click();

  await check("ops-counts-as-stats", async () => {
    await page.waitForFunction(() => /Updated/.test(document.getElementById("statsinfo").textContent));
    const stats = await api("GET", "/v1/stats");
    const shown = Object.fromEntries((await rows("#counts tbody tr")).map((r) => [r[0], Number(r[1])]));
    const want = { PENDING: stats.tasks.PENDING, SUSPENDED: stats.tasks.SUSPENDED, Total: stats.tasks.total };
    for (const [k, v] of Object.entries(want))
      if (shown[k] !== v) return `shown ${JSON.stringify(shown)}, stats ${JSON.stringify(stats.tasks)}`;
    return stats.tasks.PENDING === dueA.length + dueB.length + 1 || `stats ${JSON.stringify(stats.tasks)}`;
  });
  await check("ops-queue-and-dlq-depth", async () => {
    const q = Object.fromEntries((await rows("#queues tbody tr")).map((r) => [r[0], r.slice(1).map(Number)]));
    const dlq = q["Dead-letter queue"], tq = q["Task queue"];
    return (dlq && dlq[0] === Number(env.DLQ_DEPTH) && tq && tq.length === 3 && tq[0] + tq[2] >= dueA.length + dueB.length)
      || `queues ${JSON.stringify(q)}`;
  });
  await check("ops-namespaces-with-counts", async () => {
    await page.waitForFunction(() => document.querySelectorAll("#namespaces tbody tr").length === 2);
    const shown = JSON.stringify(await rows("#namespaces tbody tr"));
    const want = JSON.stringify([["opsA", String(dueA.length + 1), "running", "Pause"],
      ["opsB", String(dueB.length + 1), "running", "Pause"]]);
    return shown === want || `shown ${shown}, want ${want}`;
  });
  await check("ops-due-every-namespace", async () => {
    await page.waitForFunction(() => /due|No tasks/.test(document.getElementById("dueinfo").textContent));
    const ids = await dueIds();
    const want = [...dueA, ...dueB];
    return (want.every((id) => ids.includes(id)) && !ids.includes(env.LATER_ID) && ids.length === want.length)
      || `listed ${ids}, want ${want} (not ${env.LATER_ID})`;
  });
  await shot("console-ops", true);

  await check("ops-due-one-namespace", async () => {
    await page.locator("#opsfilter input[name=ns]").fill("opsA");
    await page.locator("#opsfilter button").click();
    await page.waitForFunction(() => location.hash === "#/ops?ns=opsA");
    await page.waitForFunction((n) => document.querySelectorAll("#duelist tbody tr").length === n, dueA.length);
    const r = await rows("#duelist tbody tr");
    const api_ = await api("GET", "/v1/due?ns=opsA");
    return (JSON.stringify(r.map((x) => x[0])) === JSON.stringify(api_.tasks.map((t) => t.id))
      && r.every((x) => x[1] === "opsA" && x[4] === "sent")) || `rows ${JSON.stringify(r)}`;
  });

  const form = page.locator("#clearform");
  const button = form.locator("button");
  await check("ops-clear-needs-the-name-twice", async () => {
    await form.locator("input[name=ns]").fill("opsB");
    await form.locator("input[name=confirm]").fill("opsA");
    if (!await button.isDisabled()) return "enabled with two different names";
    await form.locator("input[name=confirm]").fill("opsB");
    return !await button.isDisabled() || "still disabled with the name twice";
  });
  await check("ops-clear-cancel-deletes-nothing", async () => {
    await button.click();
    await page.locator("#confirmdialog").waitFor({ state: "visible" });
    const text = await page.locator("#confirmtext").textContent();
    await page.locator("#confirmcancel").click();
    await page.locator("#confirmdialog").waitFor({ state: "hidden" });
    const left = (await api("GET", "/v1/tasks?ns=opsB")).tasks.length;
    return (text.includes('"opsB"') && left === dueB.length + 1) || `dialog ${text}; ${left} tasks left in opsB`;
  });
  await check("ops-clear-ok-deletes-the-namespace", async () => {
    await button.click();
    await page.locator("#confirmdialog").waitFor({ state: "visible" });
    await page.locator("#confirmok").click();
    await page.locator("#toast").waitFor({ state: "visible" });
    const toast = await page.locator("#toast").textContent();
    const b = (await api("GET", "/v1/tasks?ns=opsB")).tasks.length;
    const a = (await api("GET", "/v1/tasks?ns=opsA")).tasks.length;
    return (toast === `Deleted ${dueB.length + 1} tasks in opsB` && b === 0 && a === dueA.length + 1)
      || `toast ${toast}; opsB ${b}, opsA ${a}`;
  });
  await page.locator("#toast").waitFor({ state: "hidden" });
  await shot("console-ops-cleared", false);

  // Pausing and resuming opsA from its row (POST /v1/namespaces/{ns}/pause
  // and /resume; what the consumers do with it is engine_ns_pause.sh's).
  const pausedOf = async (ns) => ((await api("GET", "/v1/namespaces")).namespaces.find((n) => n.ns === ns) || {}).paused;
  const rowA = page.locator('#namespaces tr[data-ns="opsA"]');
  await check("ops-pause-cancel-pauses-nothing", async () => {
    await rowA.locator("button[data-action=pause]").click();
    await page.locator("#confirmdialog").waitFor({ state: "visible" });
    const text = await page.locator("#confirmtext").textContent();
    await page.locator("#confirmcancel").click();
    await page.locator("#confirmdialog").waitFor({ state: "hidden" });
    const p = await pausedOf("opsA");
    return (text.includes('"opsA"') && p === false) || `dialog ${text}; paused ${p}`;
  });
  await check("ops-pause-namespace", async () => {
    await rowA.locator("button[data-action=pause]").click();
    await page.locator("#confirmok").click();
    await rowA.locator("button[data-action=resume]").waitFor({ state: "visible", timeout: 15000 });
    const cells = (await rows('#namespaces tr[data-ns="opsA"]'))[0];
    const p = await pausedOf("opsA");
    return (p === true && cells[2] === "PAUSED") || `paused ${p}, row ${JSON.stringify(cells)}`;
  });
  await page.locator("#toast").waitFor({ state: "hidden" });
  await shot("console-ops-paused", false);
  await check("ops-resume-namespace", async () => {
    await rowA.locator("button[data-action=resume]").click();
    await page.locator("#confirmok").click();
    await page.locator("#toast").waitFor({ state: "visible", timeout: 15000 });
    const toast = await page.locator("#toast").textContent();
    await rowA.locator("button[data-action=pause]").waitFor({ state: "visible", timeout: 15000 });
    const p = await pausedOf("opsA");
    return (p === false && toast === "Resumed opsA: 0 tasks released") || `paused ${p}, toast ${toast}`;
  });
});
