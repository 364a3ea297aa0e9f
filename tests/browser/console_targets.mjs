// console_targets.mjs - the console's new-task form with AWS targets
// (docs/targets.md, "The console"), in Debian's Chromium, headless, with
// playwright-core: choosing each target shows only its fields; an SQS task
// made in the form runs to COMPLETED (its message lands in a second queue
// of the SQS stand-in, which the calling script checks); an SNS, a Lambda,
// an EventBridge and a Step Functions task are made for tomorrow, and the
// script compares their params with those `taskfleet sns|lambda|events|sfn`
// writes from the same values; JSON that does not parse is refused in the
// page, and params the runner refuses are refused by the server, its
// message naming the field.
//
// Run by tests/scripts/console_targets_browser.sh. Environment:
//   CONSOLE_URL  the server, http://127.0.0.1:PORT
//   API_KEY      a write key for it
//   OUT_QUEUE    the SQS queue (name) the SQS task sends to
//   CALLBACK_URL a callback URL (loopback) for the SQS task
//   SHOT_DIR     where the screenshots go
//   CHROMIUM     the browser (default /usr/bin/chromium)
//
// Prints "PASS browser/NAME" or "FAIL browser/NAME: why" lines, and "CREATED
// KIND ID" for each task it made; exits 1 on any failure.
import { mkdirSync } from "node:fs";
import { check, launch, runChecks, shooter } from "./harness.mjs";

const base = process.env.CONSOLE_URL;
const key = process.env.API_KEY;
const outQueue = process.env.OUT_QUEUE;
const callback = process.env.CALLBACK_URL;
const shots = process.env.SHOT_DIR;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
for (const [k, v] of Object.entries({ CONSOLE_URL: base, API_KEY: key, OUT_QUEUE: outQueue, CALLBACK_URL: callback, SHOT_DIR: shots })) {
  if (!v) {
    console.log(`FAIL browser/environment: ${k} is not set`);
    process.exit(1);
  }
}
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(base) || !/^http:\/\/127\.0\.0\.1:\d+\//.test(callback)) {
  console.log("FAIL browser/environment: CONSOLE_URL and CALLBACK_URL must be on 127.0.0.1");
  process.exit(1);
}
mkdirSync(shots, { recursive: true });

const { page, foreign, pageErrors, close } = await launch(base, executablePath);
const shot = shooter(page, shots);
const form = "#createform";
const fill = (name, v) => page.locator(`${form} [name="${name}"]`).fill(v);
// The fieldsets shown, by legend.
const shown = () => page.evaluate(() => [...document.querySelectorAll("#createform fieldset")]
  .filter((f) => !f.hidden).map((f) => f.querySelector("legend").textContent));
// Tomorrow at 09:00, for the datetime-local field: these tasks must not run.
const tomorrow = (() => {
  const d = new Date(Date.now() + 86400000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T09:00`;
})();

async function openForm() {
  await page.getByRole("link", { name: "New task" }).click();
  await page.locator(form).waitFor();
}
// Submits the form; the id of the task page it opens.
async function create() {
  await page.getByRole("button", { name: "Create task" }).click();
  await page.waitForURL(/#\/task\//);
  return decodeURIComponent(page.url().split("#/task/")[1]);
}
// Submits the form and waits for the error it shows; returns its text.
async function refused() {
  await page.getByRole("button", { name: "Create task" }).click();
  await page.locator("#formerror").waitFor({ state: "visible" });
  return page.locator("#formerror").textContent();
}

await runChecks({ page, foreign, pageErrors, close }, shots, async () => {
  await page.goto(`${base}/`);
  await page.locator("#keydialog").waitFor({ state: "visible" });
  await page.locator("#keyinput").fill(key);
  await page.getByRole("button", { name: "Use this key" }).click();
  await page.waitForFunction(() => /Page 1|No tasks/.test(document.getElementById("listinfo").textContent));

  // 1. The target select shows each target's fields and hides the rest.
  await openForm();
  await check("http-is-the-default", async () => {
    const s = await shown();
    return (s.includes("Request") && !s.includes("SQS message")) || s.join(", ");
  });
  const legends = { sqs: "SQS message", sns: "SNS notification", lambda: "Lambda invocation",
    events: "EventBridge event", sfn: "Step Functions execution" };
  await check("each-target-shows-its-fields", async () => {
    for (const [kind, legend] of Object.entries(legends)) {
      await page.locator(`${form} select[name="target"]`).selectOption(kind);
      const s = await shown();
      const others = Object.values(legends).filter((l) => l !== legend && s.includes(l));
      if (!s.includes(legend) || s.includes("Request") || others.length) return `${kind}: ${s.join(", ")}`;
    }
  });

  // 2. An SQS task, run now: its message goes to OUT_QUEUE.
  await page.locator(`${form} select[name="target"]`).selectOption("sqs");
  await fill("sqs_queue", outQueue);
  await fill("sqs_body", '{"task": "<taskfleet.task-id>", "from": "console"}');
  await page.locator(`${form} [name="sqs_body_json"]`).check();
  await fill("sqs_attributes", "kind=report\nwho=<taskfleet.task-id>");
  await fill("id", "console-sqs");
  await fill("name", "Nightly report message");
  await fill("callback", callback);
  await shot("new-task-sqs", true);
  await check("sqs-task-created", async () => {
    const id = await create();
    console.log(`CREATED sqs ${id}`);
    return id === "console-sqs" || `id ${id}`;
  });
  await check("sqs-task-runs-to-completed", async () => {
    await page.waitForFunction(() => (document.querySelector("dl.details .badge")?.textContent || "").startsWith("COMPLETED"),
      null, { timeout: 60000 });
  });

  // 3. The other targets, for tomorrow; the script compares their params
  // with the CLI's.
  const made = {
    sns: { sns_topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts", sns_message: "due <taskfleet.scheduled-time>",
      sns_subject: "Reminder", sns_attributes: "kind=reminder" },
    lambda: { lambda_function: "arn:aws:lambda:eu-west-1:123456789012:function:nightly", lambda_qualifier: "live",
      lambda_payload: '{"at": "<taskfleet.scheduled-time>"}' },
    events: { events_bus: "reports", events_source: "com.example.reports", events_detail_type: "ReportDue",
      events_detail: '{"n": 1}', events_resources: "arn:aws:s3:::bucket-a\narn:aws:s3:::bucket-b" },
    sfn: { sfn_state_machine_arn: "arn:aws:states:eu-west-1:123456789012:stateMachine:etl",
      sfn_input: '{"day": "<taskfleet.scheduled-time>"}', sfn_region: "eu-west-1",
      sfn_role_arn: "arn:aws:iam::210987654321:role/etl-starter", sfn_external_id: "team-7" },
  };
  for (const [kind, fields] of Object.entries(made)) {
    await openForm();
    await page.locator(`${form} select[name="target"]`).selectOption(kind);
    for (const [n, v] of Object.entries(fields)) await fill(n, v);
    if (kind === "lambda") await page.locator(`${form} select[name="lambda_invocation_type"]`).selectOption("Event");
    await fill("at", tomorrow);
    await fill("id", `console-${kind}`);
    await check(`${kind}-task-created`, async () => {
      const id = await create();
      console.log(`CREATED ${kind} ${id}`);
      return id === `console-${kind}` || `id ${id}`;
    });
  }

  // 4. Refusals: JSON that does not parse (in the page), and params the
  // runner refuses (by the server, naming the field). Nothing is made.
  await openForm();
  await page.locator(`${form} select[name="target"]`).selectOption("sfn");
  await fill("sfn_state_machine_arn", "arn:aws:states:eu-west-1:123456789012:stateMachine:etl");
  await fill("sfn_input", "{not json");
  await check("bad-json-refused-in-the-page", async () => {
    const t = await refused();
    return /^input: not JSON/.test(t) || t;
  });
  await page.locator(`${form} select[name="target"]`).selectOption("events");
  await fill("events_source", "aws.ec2");
  await fill("events_detail_type", "Nope");
  await fill("id", "console-refused");
  await check("server-refusal-names-the-field", async () => {
    const t = await refused();
    return (/source/.test(t) && /aws\./.test(t)) || t;
  });
  await shot("new-task-refused", false);
  // The server's refusal above is a 400 the browser logs; nothing else.
}, /status of 400 .*\/v1\/tasks\)$/);
