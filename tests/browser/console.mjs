// console.mjs - drives the web console of `taskfleet serve` in Debian's
// Chromium, headless, with playwright-core (no browser download), the way a
// user does: enter the API key, create an HTTP task in the form (after
// previewing a cron schedule in a time zone, and monthly steps in one),
// watch it run to COMPLETED,
// suspend and resume another task, change its schedule, run it now, cancel
// a delete, filter the list, and look at it all on a phone-sized screen.
//
// Run by tests/scripts/console_browser.sh, which starts the stand-ins'
// table and queue, a consumer, a webhook receiver and the server, and checks
// the store afterwards. Environment:
//   CONSOLE_URL  the server, http://127.0.0.1:PORT
//   API_KEY      a write key for it
//   TARGET_URL   the receiver's URL for the new task (loopback)
//   OTHER_ID     a PENDING task (due in an hour) to suspend and resume
//   SHOT_DIR     where the screenshots go
//   CHROMIUM     the browser (default /usr/bin/chromium)
//
// Prints "PASS browser/NAME" or "FAIL browser/NAME: why" lines, and the id of
// the task it created as "CREATED id"; exits 1 on any failure.
import { mkdirSync } from "node:fs";
import { check, launch, runChecks, shooter } from "./harness.mjs";

const base = process.env.CONSOLE_URL;
const key = process.env.API_KEY;
const target = process.env.TARGET_URL;
const otherId = process.env.OTHER_ID;
const failedId = process.env.FAILED_ID;
const shots = process.env.SHOT_DIR;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
for (const [k, v] of Object.entries({ CONSOLE_URL: base, API_KEY: key, TARGET_URL: target, OTHER_ID: otherId, SHOT_DIR: shots })) {
  if (!v) {
    console.log(`FAIL browser/environment: ${k} is not set`);
    process.exit(1);
  }
}
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(base) || !/^http:\/\/127\.0\.0\.1:\d+\//.test(target)) {
  console.log("FAIL browser/environment: CONSOLE_URL and TARGET_URL must be on 127.0.0.1");
  process.exit(1);
}
mkdirSync(shots, { recursive: true });

// Everything the page asks for must be the console's own server; every
// script error is a failure (harness.mjs records both).
const { page, foreign, pageErrors, close } = await launch(base, executablePath);
const shot = shooter(page, shots);

const badge = () => page.locator("dl.details .badge").first();
async function waitStatus(status, seconds) {
  await page.waitForFunction((s) => {
    const b = document.querySelector("dl.details .badge");
    return b && b.textContent.startsWith(s);
  }, status, { timeout: seconds * 1000 });
}
// Clicks an action button on the task page and answers its dialog.
async function act(label, answer) {
  await page.getByRole("button", { name: label, exact: true }).click();
  const dlg = page.locator("#confirmdialog");
  await dlg.waitFor({ state: "visible" });
  await page.locator(answer === "ok" ? "#confirmok" : "#confirmcancel").click();
  await dlg.waitFor({ state: "hidden" });
}

let createdId = null;
await runChecks({ page, foreign, pageErrors, close }, shots, async () => {
  // 1. The key: the first API call gets 401 and the console asks for it.
  await page.goto(`${base}/`);
  await check("asks-for-the-key", async () => {
    await page.locator("#keydialog").waitFor({ state: "visible" });
    return (await page.locator("#keyerror").textContent()).includes("needs an API key");
  });
  await page.locator("#keyinput").fill(key);
  await page.getByRole("button", { name: "Use this key" }).click();
  await check("list-loads-with-the-key", async () => {
    await page.waitForFunction(() => /Page 1|No tasks/.test(document.getElementById("listinfo").textContent));
    return (await page.locator("#tasklist tbody tr").count()) >= 1;
  });

  // 2. The form: a cron schedule in a time zone previews five runs.
  await page.getByRole("link", { name: "New task" }).click();
  await page.locator("#createform").waitFor();
  await page.locator('input[name="when"][value="cron"]').check();
  await page.locator('input[name="cron"]').fill("0 9 * * 1-5");
  await page.locator('input[name="tz"]').fill("Europe/Berlin");
  await check("cron-preview-shows-five-weekday-runs", async () => {
    await page.waitForFunction(() => document.querySelectorAll("#preview li time").length === 5);
    const times = await page.locator("#preview li time").evaluateAll((els) => els.map((e) => e.getAttribute("datetime")));
    // 09:00 in Berlin is 07:00 or 08:00 UTC, Monday to Friday.
    return times.every((t) => {
      const d = new Date(t);
      return [7, 8].includes(d.getUTCHours()) && d.getUTCMinutes() === 0 && d.getUTCDay() >= 1 && d.getUTCDay() <= 5;
    }) || `times: ${times.join(", ")}`;
  });
  await page.locator('input[name="cron"]').fill("61 9 * * *");
  await check("bad-cron-is-explained", async () => {
    await page.waitForFunction(() => document.getElementById("previewnote").className === "error");
    return /cron/.test(await page.locator("#previewnote").textContent());
  });
  // Calendar steps take the zone too: monthly from Jan 31 keeps the 31st
  // (or the month's last day) and the wall-clock time in Berlin.
  await page.locator('input[name="when"][value="every"]').check();
  await page.locator('input[name="every"]').fill("1mo");
  await page.locator('input[name="at"]').fill("2030-01-31T10:00");
  await check("calendar-preview-keeps-the-day-in-its-zone", async () => {
    await page.waitForFunction(() => {
      const t = [...document.querySelectorAll("#preview li time")].map((e) => Date.parse(e.getAttribute("datetime")));
      return t.length === 5 && t[0] > Date.parse("2030-01-29") && t[0] < Date.parse("2030-02-02");
    });
    const times = await page.locator("#preview li time").evaluateAll((els) => els.map((e) => e.getAttribute("datetime")));
    const fmt = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Berlin", year: "numeric", month: "numeric",
      day: "numeric", hour: "numeric", minute: "numeric", hourCycle: "h23" });
    const parts = (t) => Object.fromEntries(fmt.formatToParts(new Date(t)).map((p) => [p.type, Number(p.value)]));
    const a = parts(times[0]);
    return times.every((t, i) => {
      const p = parts(t);
      const m = a.month - 1 + i;
      const y = a.year + Math.floor(m / 12);
      const last = new Date(Date.UTC(y, (m % 12) + 1, 0)).getUTCDate();
      return p.year === y && p.month === (m % 12) + 1 && p.day === Math.min(a.day, last) &&
        p.hour === a.hour && p.minute === a.minute;
    }) || `times: ${times.join(", ")}`;
  });
  await page.locator('input[name="at"]').fill("");
  await page.locator('input[name="when"][value="cron"]').check();
  await page.locator('input[name="cron"]').fill("0 9 * * 1-5");
  await page.locator('input[name="url"]').fill(`${target}ok`);
  await page.locator('select[name="method"]').selectOption("POST");
  await page.locator('textarea[name="headers"]').fill("Content-Type: application/json\nX-From: console");
  await page.locator('textarea[name="body"]').fill('{"hello":"from the console"}');
  await page.locator('input[name="timeout"]').fill("5");
  await page.locator('input[name="id"]').fill("console-webhook-1");
  await page.locator('#createform input[name="name"]').fill("Console webhook");
  await page.locator('#createform textarea[name="description"]').fill("Made in the console.\nSecond line.");
  await page.locator('#createform input[name="callback"]').fill(`${target}callback`);
  await page.locator('#createform select[name="priority"]').selectOption("high");
  await page.waitForFunction(() => document.querySelectorAll("#preview li time").length === 5);
  await shot("new-task-form", true);

  // Created to run once, now.
  await page.locator('input[name="when"][value="once"]').check();
  await page.getByRole("button", { name: "Create task" }).click();
  await check("create-opens-the-task-page", async () => {
    await page.waitForURL(/#\/task\//);
    createdId = decodeURIComponent(page.url().split("#/task/")[1]);
    console.log(`CREATED ${createdId}`);
    return createdId === "console-webhook-1" || `id ${createdId}`;
  });

  await check("task-page-shows-priority", async () => {
    await page.waitForFunction(() => /Priority\s*high/.test(document.querySelector("dl.details")?.textContent || ""));
    return true;
  });
  await check("task-page-shows-name-and-description", async () => {
    await page.waitForFunction(() => /Console webhook/.test(document.querySelector("dl.details")?.textContent || ""));
    const d = await page.locator("dl.details .description").innerText();
    return d === "Made in the console.\nSecond line." || `description ${JSON.stringify(d)}`;
  });

  // 3. The live refresh shows it run to COMPLETED, with its result and
  // history.
  await check("task-runs-to-completed", async () => {
    await waitStatus("COMPLETED", 60);
  });
  await check("task-page-shows-result-and-history", async () => {
    await page.waitForFunction(() => document.querySelectorAll("#history tbody tr").length === 1);
    const result = await page.locator("pre.json").nth(1).textContent();
    const outcome = await page.locator("#history tbody .badge").first().textContent();
    return (JSON.parse(result).status === 200 && outcome === "completed") || `result ${result}, outcome ${outcome}`;
  });
  await check("completed-task-shows-its-expiry", async () => {
    // The consumer keeps finished tasks 30 days (TASKFLEET_RETENTION).
    const text = await page.locator("dl.details").textContent();
    return /Deleted after.*\(in (29|30) d\)/.test(text) || text;
  });
  await check("completed-task-offers-only-delete", async () => {
    const buttons = await page.locator(".actions button").allTextContents();
    return JSON.stringify(buttons) === '["Delete"]' || `buttons: ${buttons}`;
  });
  await shot("task-completed", true);

  // 4. The other task: suspend, then resume, each confirmed.
  await page.goto(`${base}/#/task/${encodeURIComponent(otherId)}`);
  await waitStatus("PENDING", 15);
  await check("cancel-leaves-the-task-alone", async () => {
    await act("Suspend", "cancel");
    await page.waitForTimeout(500);
    return (await badge().textContent()).startsWith("PENDING");
  });
  await check("suspend-confirmed", async () => {
    await act("Suspend", "ok");
    await waitStatus("SUSPENDED", 15);
  });
  await shot("task-suspended", true);
  await check("resume-confirmed", async () => {
    await act("Resume", "ok");
    await waitStatus("PENDING", 15);
  });
  await check("delete-cancelled-keeps-the-task", async () => {
    await act("Delete", "cancel");
    await page.waitForTimeout(500);
    return page.url().includes("#/task/") && (await badge().textContent()).startsWith("PENDING");
  });

  // 5. Its schedule, changed from the task page, with a preview.
  await check("schedule-edited-with-preview", async () => {
    await page.locator("details.editbox summary").click();
    await page.locator('#editform select[name="sched"]').selectOption("every");
    await page.locator('#editform input[name="every"]').fill("45m");
    await page.waitForFunction(() => document.querySelectorAll("#editpreview li time").length === 5)
      .catch(async () => { throw new Error(`preview: ${await page.locator("#editpreview").locator("xpath=..").textContent()}`); });
    const times = await page.locator("#editpreview li time").evaluateAll((els) => els.map((e) => Date.parse(e.getAttribute("datetime"))));
    const steps = times.slice(1).map((t, i) => t - times[i]);
    if (!steps.every((s) => s === 45 * 60000)) return `steps: ${steps}`;
    // From the task's next run (in an hour), not from now.
    if (times[0] < Date.now() + 55 * 60000) return `first run ${new Date(times[0]).toISOString()}`;
    await shot("task-edit-schedule", true);
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.waitForFunction(() => /every 45m/.test(document.querySelector("dl.details").textContent))
      .catch(async () => { throw new Error(`after save: ${await page.locator("#editform").textContent()}`); });
  });

  // Its name, given in the edit form (it had none).
  await check("name-edited", async () => {
    await page.locator("#toast").waitFor({ state: "hidden" });
    await page.locator("details.editbox summary").click();
    await page.locator('#editform input[name="name"]').fill("Renamed in the console");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.waitForFunction(() => /Renamed in the console/.test(document.querySelector("dl.details").textContent))
      .catch(async () => { throw new Error(`after save: ${await page.locator("#editform").textContent()}`); });
  });

  // 6. Run now: the consumer runs it at once; the schedule goes on.
  await check("run-now-runs-it-and-the-schedule-goes-on", async () => {
    await page.locator("#toast").waitFor({ state: "hidden" });
    await act("Run now", "ok");
    await page.waitForFunction(() => document.querySelectorAll("#history tbody tr").length === 1, null, { timeout: 60000 });
    await waitStatus("PENDING", 15);
    const outcome = await page.locator("#history tbody .badge").first().textContent();
    const details = await page.locator("dl.details").textContent();
    return (outcome === "success" && /every 45m/.test(details) && /Next run.*\(in \d+ (min|h)\)/.test(details)) ||
      `outcome ${outcome}; ${details}`;
  });

  // 6b. Its schedule removed: a one-shot, whose next run is its last.
  await check("schedule-removed-one-shot", async () => {
    await page.locator("#toast").waitFor({ state: "hidden" });
    await page.locator("details.editbox summary").click();
    await page.locator('#editform select[name="sched"]').selectOption("none");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.waitForFunction(() => !/every 45m/.test(document.querySelector("dl.details").textContent))
      .catch(async () => { throw new Error(`after save: ${await page.locator("#editform").textContent()}`); });
  });

  // 6c. A task that failed for good: Retry runs it again (it fails again
  // here), its history keeping the first run and noting the retry.
  await page.goto(`${base}/#/task/${encodeURIComponent(failedId)}`);
  await check("failed-task-retried-runs-again", async () => {
    await waitStatus("FAILED", 30);
    const buttons = await page.locator(".actions button").allTextContents();
    if (JSON.stringify(buttons) !== '["Retry","Delete"]') return `buttons: ${buttons}`;
    await act("Retry", "ok");
    await page.waitForFunction(() => document.querySelectorAll("#history tbody tr").length === 3, null, { timeout: 60000 });
    await waitStatus("FAILED", 15);
    const outcomes = await page.locator("#history tbody .badge").allTextContents();
    return JSON.stringify(outcomes) === '["failed","retried","failed"]' || `history (latest first): ${outcomes}`;
  });
  await shot("task-retried", true);

  // 7. The list with a status filter, on a laptop and on a phone.
  await page.goto(`${base}/#/tasks?ns=default&status=COMPLETED`);
  await check("status-filter", async () => {
    await page.waitForFunction(() => /Page 1/.test(document.getElementById("listinfo").textContent))
      .catch(async () => { throw new Error(`list: ${await page.locator("#listinfo").textContent()}`); });
    const statuses = await page.locator("#tasklist tbody .badge").allTextContents();
    const ids = await page.locator("#tasklist tbody td.id").allTextContents();
    return (statuses.length >= 1 && statuses.every((s) => s === "COMPLETED") && ids.includes(createdId)) ||
      `statuses ${statuses}`;
  });
  await page.goto(`${base}/#/tasks`);
  await page.waitForFunction(() => /Page 1/.test(document.getElementById("listinfo").textContent));
  await check("list-live-refresh-shows-a-task-made-elsewhere", async () => {
    // Created through the API behind the page's back: the list shows it
    // within a refresh or two, without a reload.
    const r = await fetch(`${base}/v1/tasks`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      body: JSON.stringify({ id: "console-made-elsewhere", type: "http", at: "+2h", params: { url: `${target}elsewhere` } }),
    });
    if (r.status !== 201) return `POST: ${r.status} ${await r.text()}`;
    await page.waitForFunction(() => [...document.querySelectorAll("#tasklist td.id")]
      .some((td) => td.textContent === "console-made-elsewhere"), null, { timeout: 15000 });
  });
  await check("list-shows-names", async () => {
    const cells = await page.locator("#tasklist tbody tr").evaluateAll((rows) => rows.map((r) =>
      [r.querySelector("td.id").textContent, r.querySelector("td.name").textContent]));
    const names = Object.fromEntries(cells);
    return (names[createdId] === "Console webhook" && names[otherId] === "Renamed in the console" &&
      names["console-made-elsewhere"] === "—") || `names ${JSON.stringify(names)}`;
  });
  await page.locator("#toast").waitFor({ state: "hidden" });
  await shot("console", false);
  await page.setViewportSize({ width: 390, height: 844 });
  await check("phone-layout-has-no-sideways-scroll", async () => {
    await page.waitForTimeout(300);
    const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    return scroll <= inner || `scrollWidth ${scroll} > ${inner}`;
  });
  await shot("console-phone", true);
});
