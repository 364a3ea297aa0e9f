// console_limits.mjs - the console's limits page (#/limits) in Debian's
// Chromium, headless, as an operator works it: the limits and the holds in
// force as GET /v1/limits gives them; setting a limit; a limit the server
// refuses, with its reason shown and nothing stored; replacing a limit
// (Edit, then a question: Cancel keeps the old one) and removing one
// (Cancel removes nothing, OK removes that key only).
//
// Run by tests/scripts/console_limits_browser.sh, which sets the limits,
// writes the holds and starts the server.
// Environment:
//   CONSOLE_URL  the server, http://127.0.0.1:PORT
//   API_KEY      a write key for it
//   HOLD_KEY     the key held (host:H) and
//   HOLD_UNTIL   until when, epoch ms (another hold, already over, is not
//                to be shown)
//   SHOT_DIR     where the screenshots go
//   CHROMIUM     the browser (default /usr/bin/chromium)
//
// Prints "PASS browser/NAME" or "FAIL browser/NAME: why"; exits 1 on any
// failure.
import { apiClient, check, consoleEnv, launch, runChecks, shooter, tableRows } from "./harness.mjs";

const env = consoleEnv(["CONSOLE_URL", "API_KEY", "HOLD_KEY", "HOLD_UNTIL", "SHOT_DIR"]);
const base = env.CONSOLE_URL;
const shots = env.SHOT_DIR;

const { page, foreign, pageErrors, close } = await launch(base, env.CHROMIUM || "/usr/bin/chromium");
const shot = shooter(page, shots);
const api = apiClient(base, env.API_KEY);
const rows = (sel) => tableRows(page, sel);
const limitOf = async (key) => (await api("GET", "/v1/limits")).limits.find((l) => l.key === key);
// A limit as its row shows it: key, runs/s, burst, in flight, ordered.
const asRow = (l) => [l.key, l.rate !== undefined ? String(l.rate) : "—", l.rate !== undefined ? String(l.burst) : "—",
  l.in_flight !== undefined ? String(l.in_flight) : "—", l.ordered ? "yes" : ""];
const shownRows = async () => (await rows("#limits tbody tr")).map((r) => r.slice(0, 5));
const form = page.locator("#limitform");
const fill = async (v) => {
  for (const k of ["key", "rate", "burst", "in_flight"]) await form.locator(`input[name=${k}]`).fill(v[k] === undefined ? "" : String(v[k]));
  await form.locator("input[name=ordered]").setChecked(!!v.ordered);
};
// Clicks the form's button and answers the question, if one is asked.
const answer = async (ok) => {
  await page.locator("#confirmdialog").waitFor({ state: "visible" });
  const text = await page.locator("#confirmtext").textContent();
  await page.locator(ok ? "#confirmok" : "#confirmcancel").click();
  await page.locator("#confirmdialog").waitFor({ state: "hidden" });
  return text;
};

await runChecks({ page, foreign, pageErrors, close }, shots, async () => {
  await page.goto(`${base}/#/limits`);
  await page.locator("#keydialog").waitFor({ state: "visible" });
  await page.locator("#keyinput").fill(env.API_KEY);
  await page.getByRole("button", { name: "Use this key" }).click();

  await check("limits-listed-as-the-api-says", async () => {
    await page.waitForFunction(() => /limits;/.test(document.getElementById("limitsinfo").textContent));
    const d = await api("GET", "/v1/limits");
    const shown = JSON.stringify(await shownRows()), want = JSON.stringify(d.limits.map(asRow));
    return (shown === want && d.limits.length === 3) || `shown ${shown}, API ${want}`;
  });
  await check("limits-hold-in-force-shown", async () => {
    const r = await rows("#holds tbody tr");
    const when = await page.locator("#holds tbody tr time").getAttribute("datetime");
    const want = new Date(Number(env.HOLD_UNTIL)).toISOString();
    return (r.length === 1 && r[0][0] === env.HOLD_KEY && when === want && /in 1 h|in 60 min/.test(r[0][1]))
      || `rows ${JSON.stringify(r)}, time ${when}, want ${env.HOLD_KEY} until ${want}`;
  });
  await shot("console-limits", true);

  await check("limits-set-a-new-limit", async () => {
    await fill({ key: "type:browser", rate: 2.5, burst: 3, in_flight: 4 });
    await form.locator("button").click();
    await page.locator('#limits tr[data-key="type:browser"]').waitFor();
    const l = await limitOf("type:browser");
    const toast = await page.locator("#toast").textContent();
    return (JSON.stringify(l) === '{"key":"type:browser","rate":2.5,"burst":3,"in_flight":4}'
      && toast === "Set the limit on type:browser: 2.5 runs/s, burst 3, 4 in flight") || `stored ${JSON.stringify(l)}, toast ${toast}`;
  });
  await check("limits-refused-limit-says-why", async () => {
    await fill({ key: "flow:bad", in_flight: 2, ordered: true });
    await form.locator("button").click();
    await page.locator("#limiterror").waitFor({ state: "visible" });
    const why = await page.locator("#limiterror").textContent();
    const l = await limitOf("flow:bad");
    return (/ordered/.test(why) && /in_flight/.test(why) && l === undefined) || `error ${why}, stored ${JSON.stringify(l)}`;
  });
  await check("limits-replace-cancel-keeps-the-old", async () => {
    await page.locator('#limits tr[data-key="flow:five"] button[data-action=edit]').click();
    const filled = await form.locator("input[name=in_flight]").inputValue();
    await form.locator("input[name=in_flight]").fill("7");
    await form.locator("button").click();
    const text = await answer(false);
    const l = await limitOf("flow:five");
    return (filled === "5" && text.includes("flow:five (5 in flight)") && text.includes("7 in flight") && l.in_flight === 5)
      || `form had ${filled}; dialog ${text}; stored ${JSON.stringify(l)}`;
  });
  await check("limits-replace-ok-replaces", async () => {
    await form.locator("button").click();
    await answer(true);
    await page.waitForFunction(() => {
      const c = document.querySelector('#limits tr[data-key="flow:five"] td[data-label="In flight"]');
      return c && c.textContent === "7";
    });
    const l = await limitOf("flow:five");
    return l.in_flight === 7 || `stored ${JSON.stringify(l)}`;
  });
  const removeAlpha = page.locator('#limits tr[data-key="ns:alpha"] button[data-action=remove]');
  await check("limits-remove-cancel-removes-nothing", async () => {
    await removeAlpha.click();
    const text = await answer(false);
    const l = await limitOf("ns:alpha");
    return (text.includes("ns:alpha (20 runs/s, burst 5)") && l !== undefined) || `dialog ${text}; stored ${JSON.stringify(l)}`;
  });
  await check("limits-remove-ok-removes-that-key", async () => {
    await removeAlpha.click();
    await answer(true);
    await page.locator('#limits tr[data-key="ns:alpha"]').waitFor({ state: "detached" });
    const d = await api("GET", "/v1/limits");
    const keys = d.limits.map((l) => l.key).join(",");
    const toast = await page.locator("#toast").textContent();
    return (keys === "flow:five,flow:ordered,type:browser" && toast === "Removed the limit on ns:alpha") || `left ${keys}, toast ${toast}`;
  });
  await page.locator("#toast").waitFor({ state: "hidden" });
  await shot("console-limits-changed", false);
  // The server's refusal of flow:bad is a 400 the browser logs; nothing else.
}, /status of 400 .*\/v1\/limits\/flow%3Abad\)$/);
