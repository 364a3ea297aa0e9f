// app.js - the taskfleet web console: a task list, a task page, a form
// for new tasks (webhooks and AWS targets), an operations page (stats and
// their history, the namespaces, the due tasks, clearing a namespace), the
// limits per key (with the hosts held after a Retry-After) and the
// dead-letter queue's page (listing, redriving), over this server's /v1
// API. Plain JavaScript, no build
// step, no framework, nothing loaded from elsewhere (the server's
// Content-Security-Policy allows only its own files). The page is built
// with DOM calls, never innerHTML, so task data is only ever text.

const KEY_STORE = "taskfleet.key";
const REFRESH_MS = 5000;
const STATUSES = ["PENDING", "PROCESSING", "COMPLETED", "FAILED", "SUSPENDED"];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

const main = document.getElementById("main");
let timer = null;          // the live refresh of the page shown
let generation = 0;        // bumps at each navigation: late replies are dropped

// --- DOM helpers ------------------------------------------------------------

// h("a", {href: "#/"}, "text", child...): an element; attributes starting
// with "on" are listeners; false/null attributes and children are skipped.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function toast(text, bad) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.className = bad ? "toast bad" : "toast";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

// --- times ------------------------------------------------------------------

function isoOf(ms) {
  return ms ? new Date(ms).toISOString() : "";
}

function relative(ms) {
  const d = ms - Date.now();
  const a = Math.abs(d);
  const units = [[86400000, "d"], [3600000, "h"], [60000, "min"], [1000, "s"]];
  for (const [n, u] of units) {
    if (a >= n) {
      const v = Math.round(a / n);
      return d >= 0 ? `in ${v} ${u}` : `${v} ${u} ago`;
    }
  }
  return "now";
}

// A time for people: local time, with the UTC ISO time as a tooltip.
function timeEl(ms) {
  if (!ms) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: isoOf(ms), title: isoOf(ms) },
    new Date(ms).toLocaleString(), h("span", { class: "rel" }, ` (${relative(ms)})`));
}

// The value of a datetime-local input as an ISO time (it is local time).
function isoFromLocal(v) {
  if (!v) return null;
  const d = new Date(v);
  return isNaN(d.getTime()) ? null : d.toISOString();
}

// True for calendar steps ("1mo", "3mo", "1y", "1y6mo"): they take a time
// zone, as cron does; fixed intervals ("30m") do not.
function isCalendar(every) {
  return /^(\d+y)?(\d+mo)?$/.test(every) && /\d/.test(every);
}

function describeSchedule(s) {
  if (!s) return "once";
  let text = s.every ? `every ${s.every}${s.tz ? " " + s.tz : ""}` : `cron ${s.cron} ${s.tz || "UTC"}`;
  if (s.max_runs) text += `, max ${s.max_runs} runs`;
  if (s.until) text += `, until ${isoOf(s.until)}`;
  return text;
}

function statusBadge(st, extra) {
  return h("span", { class: `badge st-${String(st).toLowerCase()}` }, st, extra || "");
}

// --- the API key and calls -----------------------------------------------------

function storedKey() {
  return sessionStorage.getItem(KEY_STORE);
}

// Asks for the key in a modal dialog; resolves with it (maybe "": a server
// running --no-auth needs none).
function askKey(why) {
  const dlg = document.getElementById("keydialog");
  const input = document.getElementById("keyinput");
  const err = document.getElementById("keyerror");
  err.hidden = !why;
  err.textContent = why || "";
  input.value = "";
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      const k = input.value.trim();
      sessionStorage.setItem(KEY_STORE, k);
      document.getElementById("signout").hidden = false;
      resolve(k);
    }, { once: true });
    if (!dlg.open) dlg.showModal();
    input.focus();
  });
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Calls the API: resolves with the parsed reply, rejects with an ApiError.
// A 401 asks for the key (once per tab: it is kept in sessionStorage) and
// retries once.
async function api(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    // No key yet: try without one (a --no-auth server needs none); a 401
    // asks for it.
    const key = storedKey() || "";
    const headers = { Accept: "application/json" };
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let r;
    try {
      r = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store", credentials: "omit",
      });
    } catch (e) {
      throw new ApiError(0, "network", `the server did not answer (${e.message})`);
    }
    let doc = null;
    try {
      doc = await r.json();
    } catch (e) {
      doc = null;
    }
    if (r.status === 401 && attempt === 0) {
      sessionStorage.removeItem(KEY_STORE);
      await askKey(key ? "That key was not accepted." : "This server needs an API key.");
      continue;
    }
    if (!r.ok) {
      const e = (doc && doc.error) || {};
      throw new ApiError(r.status, e.code || "http", e.message || `HTTP ${r.status}`);
    }
    return doc;
  }
}

// Asks a yes/no question in a modal dialog; resolves true for OK.
function confirmDialog(title, text, okLabel, danger) {
  const dlg = document.getElementById("confirmdialog");
  document.getElementById("confirmtitle").textContent = title;
  document.getElementById("confirmtext").textContent = text;
  const ok = document.getElementById("confirmok");
  ok.textContent = okLabel;
  ok.className = danger ? "danger" : "primary";
  dlg.returnValue = "";
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
    dlg.showModal();
    document.getElementById("confirmcancel").focus();
  });
}

// --- routing ----------------------------------------------------------------

function stopRefresh() {
  if (timer) clearInterval(timer);
  timer = null;
}

// Runs fn every REFRESH_MS while the page is shown, visible and no dialog
// is open.
function every(fn) {
  stopRefresh();
  timer = setInterval(() => {
    if (document.hidden || document.querySelector("dialog[open]")) return;
    fn();
  }, REFRESH_MS);
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/tasks";
  const [path, qs] = raw.split("?");
  return { path, query: new URLSearchParams(qs || "") };
}

function route() {
  generation++;
  stopRefresh();
  const { path, query } = parseHash();
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", path.startsWith(`/${a.dataset.nav}`));
  }
  main.replaceChildren();
  if (path.startsWith("/task/")) taskPage(decodeURIComponent(path.slice(6)));
  else if (path === "/new") newTaskPage();
  else if (path === "/ops") opsPage(query);
  else if (path === "/limits") limitsPage();
  else if (path === "/dlq") dlqPage();
  else listPage(query);
}

// --- the task list -------------------------------------------------------------

function listPage(query) {
  const gen = generation;
  const ns = query.get("ns") || "default";
  const status = query.get("status") || "";
  const from = query.get("from") || "";
  const to = query.get("to") || "";
  const limit = query.get("limit") || "25";
  const tokens = [null];    // the token of each page seen; the last is shown
  const live = h("input", { type: "checkbox", id: "live", checked: true });
  const body = h("tbody");
  const info = h("p", { class: "muted", id: "listinfo" });
  const prev = h("button", { type: "button", disabled: true }, "← Previous");
  const next = h("button", { type: "button", disabled: true }, "Next →");

  const filters = h("form", { class: "filters", id: "filters" },
    h("label", {}, "Namespace", h("input", { name: "ns", value: ns, required: true, pattern: "[A-Za-z0-9_.\\-]{1,64}" })),
    h("label", {}, "Status", h("select", { name: "status" },
      h("option", { value: "" }, "any"),
      STATUSES.map((s) => h("option", { value: s, selected: s === status }, s)))),
    h("label", {}, "Next run from", h("input", { name: "from", type: "datetime-local", value: from })),
    h("label", {}, "to", h("input", { name: "to", type: "datetime-local", value: to })),
    h("label", {}, "Per page", h("select", { name: "limit" },
      ["10", "25", "50", "100"].map((n) => h("option", { value: n, selected: n === limit }, n)))),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Apply")));
  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (v) q.set(k, v);
    location.hash = `#/tasks?${q}`;
  });

  main.append(
    h("div", { class: "heading" }, h("h1", {}, "Tasks"),
      h("label", { class: "live" }, live, " Live refresh")),
    filters,
    h("table", { class: "tasks", id: "tasklist" },
      h("thead", {}, h("tr", {}, ["ID", "Name", "Type", "Status", "Next run", "Schedule", "Iteration", "Attempts", "Updated"]
        .map((c) => h("th", { scope: "col" }, c)))),
      body),
    info,
    h("div", { class: "pager" }, prev, next));

  async function load() {
    const q = new URLSearchParams({ ns, limit });
    if (status) q.set("status", status);
    if (from && isoFromLocal(from)) q.set("from", isoFromLocal(from));
    if (to && isoFromLocal(to)) q.set("to", isoFromLocal(to));
    const token = tokens[tokens.length - 1];
    if (token) q.set("next", token);
    let d;
    try {
      d = await api("GET", `/v1/tasks?${q}`);
    } catch (e) {
      if (gen !== generation) return;
      info.textContent = `Could not list the tasks: ${e.message}`;
      info.className = "error";
      return;
    }
    if (gen !== generation) return;
    body.replaceChildren(...d.tasks.map((t) => h("tr", {},
      h("td", { "data-label": "ID", class: "id" }, h("a", { href: `#/task/${encodeURIComponent(t.id)}` }, t.id)),
      h("td", { "data-label": "Name", class: "name" }, t.name ? t.name : h("span", { class: "muted" }, "—")),
      h("td", { "data-label": "Type" }, t.type),
      h("td", { "data-label": "Status" }, statusBadge(t.status, t.suspend_requested ? " (suspend requested)" : "")),
      h("td", { "data-label": "Next run" }, t.status === "COMPLETED" || t.status === "FAILED" ? h("span", { class: "muted" }, "—") : timeEl(t.next_run)),
      h("td", { "data-label": "Schedule" }, describeSchedule(t.schedule)),
      h("td", { "data-label": "Iteration" }, String(t.iteration)),
      h("td", { "data-label": "Attempts" }, `${t.attempts}/${t.max_attempts}`),
      h("td", { "data-label": "Updated" }, timeEl(t.updated_at)))));
    info.className = "muted";
    info.textContent = d.tasks.length ? `Page ${tokens.length}, ${d.tasks.length} tasks; updated ${new Date().toLocaleTimeString()}`
      : `No tasks in namespace "${ns}" with these filters.`;
    prev.disabled = tokens.length < 2;
    next.disabled = !d.next;
    next.dataset.token = d.next || "";
  }
  prev.addEventListener("click", () => { tokens.pop(); load(); });
  next.addEventListener("click", () => { if (next.dataset.token) { tokens.push(next.dataset.token); load(); } });
  live.addEventListener("change", () => (live.checked ? every(load) : stopRefresh()));
  load();
  every(load);
}

// --- the schedule preview (the new-task form and the task page's edit form) --

// Keeps list `ol` and note `p` showing the next five runs of the schedule
// fields() returns ({} with nothing to show: `empty` says why), asking the
// server (GET /v1/schedule/preview). Returns a function that asks again after
// a short pause (call it on input).
function previewer(ol, note, fields, empty) {
  const gen = generation;
  let pending = null;
  async function update() {
    const f = fields();
    if (!f) {
      ol.replaceChildren();
      note.className = "muted";
      note.textContent = empty();
      return;
    }
    if (!Object.keys(f).length) {
      ol.replaceChildren(h("li", {}, "now"));
      note.textContent = "";
      return;
    }
    const q = new URLSearchParams({ count: "5" });
    for (const [k, v] of Object.entries(f)) q.set(k, String(v));
    try {
      const d = await api("GET", `/v1/schedule/preview?${q}`);
      if (gen !== generation) return;
      // A schedule that does not parse is answered 200 with the reason.
      if (d.error) throw new ApiError(200, d.error.code, d.error.message);
      ol.replaceChildren(...d.runs.map((ms) => h("li", {}, timeEl(ms))));
      note.className = "muted";
      note.textContent = d.runs.length ? (f.tz ? `Cron times in ${f.tz}; shown in your local time.` : "Shown in your local time.")
        : "The schedule has no run left.";
    } catch (e) {
      if (gen !== generation) return;
      ol.replaceChildren();
      note.className = "error";
      note.textContent = e.message;
    }
  }
  update();
  return () => {
    clearTimeout(pending);
    pending = setTimeout(update, 350);
  };
}

// --- one task ---------------------------------------------------------------------

function field(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

function jsonBlock(v) {
  return h("pre", { class: "json" }, JSON.stringify(v, null, 2));
}

function taskPage(id) {
  const gen = generation;
  const title = h("h1", { class: "id" }, id);
  const actions = h("div", { class: "actions" });
  const content = h("div", {});
  let current = null;       // the task as last read
  const editError = h("p", { class: "error", hidden: true });
  const editPreview = h("ol", { class: "preview", id: "editpreview" });
  const editPreviewNote = h("p", { class: "muted" });
  const edit = h("form", { class: "edit", id: "editform", novalidate: true },
    h("label", {}, "Next run (your local time; empty: unchanged)", h("input", { name: "next_run", type: "datetime-local" })),
    h("label", {}, "Max attempts", h("input", { name: "max_attempts", type: "number", min: 1, max: 1000 })),
    h("label", {}, "Name (empty: none)", h("input", { name: "name", maxlength: 200 })),
    h("label", {}, "Description (empty: none)", h("textarea", { name: "description", rows: 3, maxlength: 2000 })),
    h("label", {}, "Params (a JSON object)", h("textarea", { name: "params", rows: 6, spellcheck: "false" })),
    h("fieldset", {}, h("legend", {}, "Schedule"),
      h("label", {}, "Schedule", h("select", { name: "sched" },
        h("option", { value: "keep" }, "unchanged"),
        h("option", { value: "every" }, "every interval"),
        h("option", { value: "cron" }, "cron schedule"),
        h("option", { value: "none" }, "none: the next run is the last"))),
      h("label", { "data-sched": "every" }, "Interval (90s, 30m, 1h30m, 1d; months and years: 1mo, 3mo, 1y)", h("input", { name: "every", placeholder: "30m" })),
      h("label", { "data-sched": "cron" }, "Cron expression (minute hour day month weekday)", h("input", { name: "cron", placeholder: "0 9 * * 1-5" })),
      h("label", { "data-sched": "every cron" }, "Time zone (cron, 1mo, 1y)", h("input", { name: "tz", list: "editzones" })),
      h("datalist", { id: "editzones" }, zones().map((z) => h("option", { value: z }))),
      h("label", { "data-sched": "every cron" }, "Max runs (optional)", h("input", { name: "max_runs", type: "number", min: 1 })),
      h("label", { "data-sched": "every cron" }, "Until (optional)", h("input", { name: "until", type: "datetime-local" })),
      h("div", { class: "previewbox", "data-sched": "every cron" }, h("h3", {}, "Next runs"), editPreview, editPreviewNote)),
    editError,
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Save changes")));
  const editBox = h("details", { class: "editbox", hidden: true },
    h("summary", {}, "Change the schedule, next run, max attempts, name, description or params"), edit);
  main.append(h("p", {}, h("a", { href: "#/tasks" }, "← Tasks")),
    h("div", { class: "heading" }, title, actions), editBox, content);

  const ev = (n) => edit.elements[n].value.trim();
  // The schedule fields of the PATCH body; null when it is kept or
  // incomplete (no interval, no expression).
  function editSchedule() {
    const kind = ev("sched");
    // No schedule any more: a one-shot task (PATCH every null).
    if (kind === "none") return { every: null };
    if (kind === "keep" || !ev(kind)) return null;
    const f = { [kind]: ev(kind) };
    if ((kind === "cron" || isCalendar(f.every)) && ev("tz")) f.tz = ev("tz");
    if (ev("max_runs")) f.max_runs = Number(ev("max_runs"));
    const until = isoFromLocal(ev("until"));
    if (until) f.until = until;
    return f;
  }
  function showSched() {
    for (const el of edit.querySelectorAll("[data-sched]")) {
      el.hidden = !el.dataset.sched.split(" ").includes(ev("sched"));
    }
  }
  const editPreviewAgain = previewer(editPreview, editPreviewNote, () => {
    // The schedule starts at the new next run, or else the task's own.
    const f = ev("sched") === "none" ? null : editSchedule();
    const at = isoFromLocal(ev("next_run")) || (current && current.next_run ? isoOf(current.next_run) : null);
    return f && at ? Object.assign({ at }, f) : f;
  }, () => (ev("sched") === "cron" ? "Give a cron expression." : "Give an interval."));
  edit.addEventListener("input", editPreviewAgain);
  edit.addEventListener("change", () => { showSched(); editPreviewAgain(); });

  // The form shows the task as read when it is opened; a refresh does not
  // touch it while it is open.
  function fillEdit(t) {
    const sc = t.schedule || {};
    edit.elements.next_run.value = "";
    edit.elements.max_attempts.value = String(t.max_attempts);
    edit.elements.name.value = t.name || "";
    edit.elements.description.value = t.description || "";
    edit.elements.params.value = JSON.stringify(t.params, null, 2);
    edit.elements.sched.value = "keep";
    edit.elements.every.value = sc.every || "";
    edit.elements.cron.value = sc.cron || "";
    edit.elements.tz.value = sc.tz || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    edit.elements.max_runs.value = sc.max_runs ? String(sc.max_runs) : "";
    edit.elements.until.value = "";
    editError.hidden = true;
    showSched();
  }
  // Filled as the box opens (on the click, before the toggle event, which
  // comes later and would undo what was typed meanwhile).
  editBox.querySelector("summary").addEventListener("click", () => {
    if (!editBox.open && current) fillEdit(current);
  });
  edit.addEventListener("submit", async (ev0) => {
    ev0.preventDefault();
    const t = current;
    const body = {};
    editError.hidden = true;
    if (ev("sched") !== "keep") {
      const f = editSchedule();
      if (!f) {
        editError.textContent = ev("sched") === "cron" ? "cron: give an expression" : "every: give an interval";
        editError.hidden = false;
        return;
      }
      Object.assign(body, f);
    }
    try {
      const next = isoFromLocal(edit.elements.next_run.value);
      if (next) body.next_run = next;
      const ma = Number(edit.elements.max_attempts.value);
      if (edit.elements.max_attempts.value && ma !== t.max_attempts) body.max_attempts = ma;
      // Emptied: null removes it.
      for (const k of ["name", "description"]) {
        const v = edit.elements[k].value;
        if (v !== (t[k] || "")) body[k] = v || null;
      }
      const params = JSON.parse(edit.elements.params.value || "{}");
      if (JSON.stringify(params) !== JSON.stringify(t.params)) body.params = params;
    } catch (e) {
      editError.textContent = `params: ${e.message}`;
      editError.hidden = false;
      return;
    }
    if (!Object.keys(body).length) {
      editError.textContent = "Nothing changed.";
      editError.hidden = false;
      return;
    }
    try {
      const nt = await api("PATCH", `/v1/tasks/${encodeURIComponent(id)}`, body);
      toast(`Saved: ${Object.keys(body).join(", ")}`);
      editBox.open = false;
      if (gen === generation) render(nt);
    } catch (e) {
      editError.textContent = e.message;
      editError.hidden = false;
    }
  });

  async function act(name, label, question, danger) {
    if (!(await confirmDialog(`${label}?`, question, label, danger))) return;
    try {
      if (name === "delete") {
        await api("DELETE", `/v1/tasks/${encodeURIComponent(id)}`);
        toast(`Deleted ${id}`);
        location.hash = "#/tasks";
        return;
      }
      const r = await api("POST", `/v1/tasks/${encodeURIComponent(id)}/${name}`);
      toast(r.result === "already" ? `Nothing to do: ${id} is ${r.status}` : `${label}: ${id} is ${r.status}` +
        (r.result === "requested" ? " (suspends when its run ends)" : ""));
    } catch (e) {
      toast(`${label} failed: ${e.message}`, true);
    }
    load();
  }

  function render(t) {
    const running = t.status === "PROCESSING";
    current = t;
    editBox.hidden = !(t.status === "PENDING" || t.status === "SUSPENDED");
    actions.replaceChildren(...[
      (t.status === "PENDING" || (running && !t.suspend_requested)) &&
        h("button", { type: "button", onclick: () => act("suspend", "Suspend", `Suspend task ${id}? It will not run until it is resumed.`) }, "Suspend"),
      (t.status === "SUSPENDED" || (running && t.suspend_requested)) &&
        h("button", { type: "button", onclick: () => act("resume", "Resume", `Resume task ${id}? If its time has passed it runs at once.`) }, "Resume"),
      t.status === "PENDING" &&
        h("button", { type: "button", onclick: () => act("run", "Run now", `Run task ${id} now?`) }, "Run now"),
      t.status === "FAILED" &&
        h("button", { type: "button", onclick: () => act("retry", "Retry", `Retry task ${id}? It runs again now with fresh attempts; its errors and history are kept.`) }, "Retry"),
      h("button", { type: "button", class: "danger", onclick: () => act("delete", "Delete", `Delete task ${id}? This cannot be undone.`, true) }, "Delete"),
    ].filter(Boolean));
    const errors = Array.isArray(t.errors) ? t.errors.slice().reverse() : [];
    const history = Array.isArray(t.history) ? t.history.slice().reverse() : [];
    content.replaceChildren(
      h("dl", { class: "details" },
        t.name ? field("Name", t.name) : [],
        t.description ? field("Description", h("span", { class: "description" }, t.description)) : [],
        field("Status", statusBadge(t.status, t.suspend_requested ? " (suspend requested)" : "")),
        field("Namespace", t.ns),
        field("Type", t.type),
        field("Priority", t.priority || "normal"),
        field("Schedule", describeSchedule(t.schedule)),
        field("Next run", t.status === "COMPLETED" || t.status === "FAILED" ? h("span", { class: "muted" }, "—") : timeEl(t.next_run)),
        field("Iteration", String(t.iteration)),
        field("Attempts", `${t.attempts} of ${t.max_attempts}`),
        field("Generation", String(t.gen)),
        field("Created", timeEl(t.created_at)),
        field("Updated", timeEl(t.updated_at)),
        t.finished_at ? field("Finished", timeEl(t.finished_at)) : [],
        t.ttl ? field("Deleted after", timeEl(t.ttl * 1000)) : [],
        t.lease_owner ? field("Running on", [t.lease_owner, " until ", timeEl(t.lease_until)]) : [],
        t.last_error ? field("Last error", h("span", { class: "error" }, t.last_error)) : []),
      h("h2", {}, "Params"), jsonBlock(t.params),
      h("h2", {}, "Last result"), t.result ? jsonBlock(t.result) : h("p", { class: "muted" }, "No result yet."),
      h("h2", {}, "Recent runs"),
      history.length ? h("table", { class: "history", id: "history" },
        h("thead", {}, h("tr", {}, ["Finished", "Iteration", "Attempt", "Outcome", "Took", "Late"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, history.map((r) => h("tr", {},
          h("td", { "data-label": "Finished" }, timeEl(r.at)),
          h("td", { "data-label": "Iteration" }, String(r.iteration)),
          h("td", { "data-label": "Attempt" }, String(r.attempt)),
          h("td", { "data-label": "Outcome" }, h("span", { class: `badge out-${r.outcome}` }, r.outcome)),
          h("td", { "data-label": "Took" }, r.ms === undefined ? "—" : `${r.ms} ms`),
          h("td", { "data-label": "Late" }, r.late_ms ? `${r.late_ms} ms` : "—")))))
        : h("p", { class: "muted" }, t.iteration ? `${t.iteration} iterations run; no history kept.` : "No runs yet."),
      h("h2", {}, "Errors"),
      errors.length ? h("table", { class: "errors" },
        h("thead", {}, h("tr", {}, ["Time", "Iteration", "Attempt", "Error"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, errors.map((e) => h("tr", {},
          h("td", { "data-label": "Time" }, timeEl(e.at)),
          h("td", { "data-label": "Iteration" }, e.iteration === undefined ? "" : String(e.iteration)),
          h("td", { "data-label": "Attempt" }, e.attempt === undefined ? "" : String(e.attempt)),
          h("td", { "data-label": "Error", class: "error" }, e.error || JSON.stringify(e))))))
        : h("p", { class: "muted" }, "No errors."));
  }

  async function load() {
    try {
      const t = await api("GET", `/v1/tasks/${encodeURIComponent(id)}`);
      if (gen === generation) render(t);
    } catch (e) {
      if (gen !== generation) return;
      actions.replaceChildren();
      editBox.hidden = true;
      content.replaceChildren(h("p", { class: "error" }, e.status === 404 ? `There is no task "${id}".` : `Could not read the task: ${e.message}`));
    }
  }
  load();
  every(load);
}

// --- the new-task form's AWS targets (docs/targets.md) -----------------------------

// The form's targets: the runner each one makes (`type`) and its label. The
// params they build are what `taskfleet sqs|sns|lambda|events|sfn` builds
// from the same values; the server checks them (the runner's validate()) and
// its refusal names the field.
const TARGETS = [
  { kind: "http", type: "http", label: "HTTP webhook" },
  { kind: "sqs", type: "sqs", label: "SQS message" },
  { kind: "sns", type: "sns", label: "SNS notification" },
  { kind: "lambda", type: "lambda", label: "Lambda invocation" },
  { kind: "events", type: "eventbridge", label: "EventBridge event" },
  { kind: "sfn", type: "stepfunctions", label: "Step Functions execution" },
];

// The "Target" fieldset: what the task does when it is due.
function targetChooser() {
  return h("fieldset", {}, h("legend", {}, "Target"),
    h("label", {}, "The task's job", h("select", { name: "target" },
      TARGETS.map((t) => h("option", { value: t.kind }, t.label)))));
}

// One fieldset per AWS target; each field named KIND_PARAM. Shown only
// while its target is chosen (showTarget()).
function targetFieldsets() {
  const text = (name, label, attrs) => h("label", {}, label, h("input", Object.assign({ name, spellcheck: "false", autocomplete: "off" }, attrs || {})));
  const area = (name, label, rows, placeholder) => h("label", {}, label, h("textarea", { name, rows, placeholder: placeholder || "", spellcheck: "false" }));
  const check = (name, label) => h("label", { class: "inline" }, h("input", { type: "checkbox", name }), ` ${label}`);
  const select = (name, label, options) => h("label", {}, label, h("select", { name }, options.map(([v, l]) => h("option", { value: v }, l))));
  // Every target's: the region, and a role to assume for the call.
  const region = (k) => h("div", {},
    text(`${k}_region`, "Region (optional; default the ARN's, else the consumer's)", { placeholder: "eu-west-1" }),
    text(`${k}_role_arn`, "Role to assume (optional; an IAM role ARN, e.g. in the target's account)", { placeholder: "arn:aws:iam::210987654321:role/publisher" }),
    text(`${k}_external_id`, "External ID (optional; with a role)"));
  const set = (kind, legend, ...fields) => h("fieldset", { "data-target": kind, hidden: true }, h("legend", {}, legend), ...fields);
  return [
    set("sqs", "SQS message",
      text("sqs_queue", "Queue (URL, or a name in the consumer's account)", { placeholder: "https://sqs.eu-west-1.amazonaws.com/123456789012/reports" }),
      area("sqs_body", "Message body (placeholders such as <taskfleet.task-id> are filled in)", 4),
      check("sqs_body_json", "The body is JSON (sent as compact JSON)"),
      text("sqs_delay", "Delay in seconds (optional; 0 to 900, not FIFO)", { type: "number", min: 0, max: 900 }),
      area("sqs_attributes", "Message attributes (optional; one \"Name=value\" a line, at most 10)", 2, "kind=report"),
      text("sqs_group", "FIFO message group ID (optional; default the task ID)"),
      text("sqs_dedup", "FIFO deduplication ID (optional; default TASKID-ITERATION)"),
      region("sqs")),
    set("sns", "SNS notification",
      text("sns_topic_arn", "Topic ARN", { placeholder: "arn:aws:sns:eu-west-1:123456789012:alerts" }),
      area("sns_message", "Message", 4),
      check("sns_message_json", "The message is JSON (sent as compact JSON)"),
      text("sns_subject", "Subject (optional; e-mail subscriptions)"),
      area("sns_attributes", "Message attributes (optional; one \"Name=value\" a line)", 2),
      text("sns_group", "FIFO message group ID (optional)"),
      text("sns_dedup", "FIFO deduplication ID (optional)"),
      region("sns")),
    set("lambda", "Lambda invocation",
      text("lambda_function", "Function (name, NAME:ALIAS or ARN)", { placeholder: "nightly-report" }),
      text("lambda_qualifier", "Version or alias (optional)"),
      area("lambda_payload", "Payload (JSON; optional, default {})", 4, "{\"at\": \"<taskfleet.scheduled-time>\"}"),
      select("lambda_invocation_type", "Invocation type", [["RequestResponse", "RequestResponse (wait for the answer)"], ["Event", "Event (asynchronous)"]]),
      select("lambda_handled_error", "When the function returns an error", [["fail", "the run fails"], ["retry", "the run is retried"]]),
      region("lambda")),
    set("events", "EventBridge event",
      text("events_bus", "Event bus (name or ARN; optional, default the default bus)"),
      text("events_source", "Source (not aws.*)", { placeholder: "com.example.reports" }),
      text("events_detail_type", "Detail type", { placeholder: "ReportDue" }),
      area("events_detail", "Detail (a JSON object; optional, default {})", 4),
      area("events_resources", "Resources (optional; one ARN a line)", 2),
      region("events")),
    set("sfn", "Step Functions execution",
      text("sfn_state_machine_arn", "State machine ARN", { placeholder: "arn:aws:states:eu-west-1:123456789012:stateMachine:etl" }),
      area("sfn_input", "Input (JSON; optional, default {})", 4),
      region("sfn")),
  ];
}

// Shows the fieldsets of the chosen target (the HTTP request's too).
function showTarget(form) {
  const kind = form.elements.target.value;
  for (const el of form.querySelectorAll("fieldset[data-target]")) el.hidden = el.dataset.target !== kind;
}

// The chosen AWS target's { type, params } from the form, as the CLI
// shorthand builds them: empty optional fields are left out. Throws an Error
// naming the field for JSON that does not parse or a malformed line.
function targetTask(form) {
  const kind = form.elements.target.value;
  const t = TARGETS.find((x) => x.kind === kind);
  const raw = (n) => form.elements[`${kind}_${n}`].value;
  const val = (n) => raw(n).trim();
  const params = {};
  const put = (param, v) => { if (v !== "" && v !== undefined) params[param] = v; };
  const json = (n, param) => {
    if (!val(n)) return;
    try {
      params[param] = JSON.parse(raw(n));
    } catch (e) {
      throw new Error(`${param}: not JSON (${e.message})`);
    }
  };
  // "Name=value" lines, values kept as text (as --attribute NAME=VALUE).
  const attributes = (n) => {
    const out = {};
    for (const [i, line] of raw(n).split("\n").entries()) {
      if (!line.trim()) continue;
      const eq = line.indexOf("=");
      if (eq < 1) throw new Error(`attributes, line ${i + 1}: expected "Name=value"`);
      out[line.slice(0, eq).trim()] = line.slice(eq + 1);
    }
    if (Object.keys(out).length) params.attributes = out;
  };
  const body = (n, param) => {
    if (form.elements[`${kind}_${n}_json`].checked) json(n, param);
    else put(param, raw(n));
  };
  if (kind === "sqs") {
    put("queue", val("queue"));
    body("body", "body");
    if (val("delay")) params.delay_seconds = Number(val("delay"));
    attributes("attributes");
    put("message_group_id", val("group"));
    put("message_deduplication_id", val("dedup"));
  } else if (kind === "sns") {
    put("topic_arn", val("topic_arn"));
    body("message", "message");
    put("subject", val("subject"));
    attributes("attributes");
    put("message_group_id", val("group"));
    put("message_deduplication_id", val("dedup"));
  } else if (kind === "lambda") {
    put("function", val("function"));
    put("qualifier", val("qualifier"));
    json("payload", "payload");
    // The defaults are left out, as the CLI leaves them.
    if (val("invocation_type") !== "RequestResponse") params.invocation_type = val("invocation_type");
    if (val("handled_error") !== "fail") params.handled_error = val("handled_error");
  } else if (kind === "events") {
    put("event_bus", val("bus"));
    put("source", val("source"));
    put("detail_type", val("detail_type"));
    json("detail", "detail");
    const resources = raw("resources").split("\n").map((l) => l.trim()).filter((l) => l);
    if (resources.length) params.resources = resources;
  } else if (kind === "sfn") {
    put("state_machine_arn", val("state_machine_arn"));
    json("input", "input");
  }
  put("region", val("region"));
  put("role_arn", val("role_arn"));
  put("external_id", val("external_id"));
  return { type: t.type, params };
}

// --- the form for a new task ---------------------------------------------------------

// "Name: value" lines as an object; throws on a line without a colon.
function parseHeaders(text) {
  const out = {};
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    const c = line.indexOf(":");
    if (c < 1) throw new Error(`headers, line ${i + 1}: expected "Name: value"`);
    out[line.slice(0, c).trim()] = line.slice(c + 1).trim();
  }
  return out;
}

function zones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch (e) {
    return ["UTC"];
  }
}

function newTaskPage() {
  const localZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const preview = h("ol", { class: "preview", id: "preview" });
  const previewNote = h("p", { class: "muted", id: "previewnote" });
  const formError = h("p", { class: "error", id: "formerror", hidden: true });
  const radio = (value, label, checked) => h("label", { class: "inline" },
    h("input", { type: "radio", name: "when", value, checked }), ` ${label}`);
  const form = h("form", { class: "create", id: "createform", novalidate: true },
    targetChooser(),
    h("fieldset", { "data-target": "http" }, h("legend", {}, "Request"),
      h("label", {}, "URL", h("input", { name: "url", type: "url", required: true, placeholder: "https://example.com/hook" })),
      h("label", {}, "Method", h("select", { name: "method" }, METHODS.map((m) => h("option", { value: m, selected: m === "POST" }, m)))),
      h("label", {}, "Headers (one \"Name: value\" a line)", h("textarea", { name: "headers", rows: 3, placeholder: "Content-Type: application/json" })),
      h("label", {}, "Body", h("textarea", { name: "body", rows: 4 })),
      h("label", {}, "Timeout in seconds (optional; default 10)", h("input", { name: "timeout", type: "number", min: 0.001, max: 900, step: "any" }))),
    ...targetFieldsets(),
    h("fieldset", {}, h("legend", {}, "When"),
      h("div", { class: "choices" }, radio("once", "Once", true), radio("every", "Every interval"), radio("cron", "Cron schedule")),
      h("label", { "data-when": "once every cron" }, "First run (empty: now; your local time)", h("input", { name: "at", type: "datetime-local" })),
      h("label", { "data-when": "every" }, "Interval (90s, 30m, 1h30m, 1d; months and years: 1mo, 3mo, 1y)", h("input", { name: "every", placeholder: "30m" })),
      h("label", { "data-when": "cron" }, "Cron expression (minute hour day month weekday)", h("input", { name: "cron", placeholder: "0 9 * * 1-5" })),
      h("label", { "data-when": "every cron" }, "Time zone (cron, 1mo, 1y)", h("input", { name: "tz", value: localZone, list: "zones" })),
      h("datalist", { id: "zones" }, zones().map((z) => h("option", { value: z }))),
      h("label", { "data-when": "every cron" }, "Max runs (optional)", h("input", { name: "max_runs", type: "number", min: 1 })),
      h("label", { "data-when": "every cron" }, "Until (optional)", h("input", { name: "until", type: "datetime-local" })),
      h("div", { class: "previewbox" }, h("h3", {}, "Next runs"), preview, previewNote)),
    h("fieldset", {}, h("legend", {}, "Task"),
      h("label", {}, "ID (optional; a new UUID when empty; an existing ID is refused)", h("input", { name: "id", spellcheck: "false", autocomplete: "off" })),
      h("label", {}, "Namespace", h("input", { name: "ns", value: "default" })),
      h("label", {}, "Max attempts (optional)", h("input", { name: "max_attempts", type: "number", min: 1, max: 1000 })),
      h("label", {}, "Priority (under a backlog, higher ones start first)",
        h("select", { name: "priority" }, ["normal", "high", "low"].map((p) => h("option", { value: p }, p)))),
      h("label", {}, "Name (optional)", h("input", { name: "name", maxlength: 200 })),
      h("label", {}, "Description (optional)", h("textarea", { name: "description", rows: 3, maxlength: 2000 })),
      h("label", {}, "Callback URL (optional; POSTed the outcome after each run that succeeds)", h("input", { name: "callback", type: "url", maxlength: 2048 })),
      h("label", {}, "Failure callback URL (optional; POSTed when the task fails for good)", h("input", { name: "failure_callback", type: "url", maxlength: 2048 }))),
    formError,
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Create task")));
  main.append(h("h1", {}, "New task"), form);

  const val = (n) => form.elements[n].value.trim();
  const when = () => form.elements.when.value;

  function showWhen() {
    for (const el of form.querySelectorAll("[data-when]")) {
      el.hidden = !el.dataset.when.split(" ").includes(when());
    }
  }

  // The schedule fields of the body (and of the preview's query).
  function scheduleFields() {
    const f = {};
    const at = isoFromLocal(val("at"));
    if (at) f.at = at;
    if (when() === "every") {
      f.every = val("every");
      // A calendar step keeps its day and time in this zone.
      if (isCalendar(f.every) && val("tz")) f.tz = val("tz");
    }
    if (when() === "cron") {
      f.cron = val("cron");
      if (val("tz")) f.tz = val("tz");
    }
    if (when() !== "once") {
      if (val("max_runs")) f.max_runs = Number(val("max_runs"));
      const until = isoFromLocal(val("until"));
      if (until) f.until = until;
    }
    return f;
  }

  // Nothing to show without an interval or expression; {} for "now".
  const previewFields = () => {
    const f = scheduleFields();
    if ((when() === "every" && !f.every) || (when() === "cron" && !f.cron)) return null;
    return f;
  };
  const schedulePreview = previewer(preview, previewNote, previewFields,
    () => (when() === "every" ? "Give an interval." : "Give a cron expression."));
  form.addEventListener("input", schedulePreview);
  form.addEventListener("change", () => { showWhen(); showTarget(form); schedulePreview(); });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    formError.hidden = true;
    let job = { type: "http", params: { url: val("url"), method: val("method") } };
    const params = job.params;
    try {
      if (val("target") !== "http") {
        job = targetTask(form);
      } else {
        if (!params.url) throw new Error("url: required");
        const headers = parseHeaders(form.elements.headers.value);
        if (Object.keys(headers).length) params.headers = headers;
      }
    } catch (e) {
      formError.textContent = e.message;
      formError.hidden = false;
      return;
    }
    if (job.type === "http" && form.elements.body.value) params.body = form.elements.body.value;
    if (job.type === "http" && val("timeout")) params.timeout_ms = Math.round(Number(val("timeout")) * 1000);
    const task = Object.assign({ type: job.type, ns: val("ns") || "default", params: job.params }, scheduleFields());
    if (val("id")) task.id = val("id");
    if (val("max_attempts")) task.max_attempts = Number(val("max_attempts"));
    if (val("priority") !== "normal") task.priority = val("priority");
    if (val("name")) task.name = val("name");
    if (form.elements.description.value.trim()) task.description = form.elements.description.value;
    if (val("callback")) task.callback = val("callback");
    if (val("failure_callback")) task.failure_callback = val("failure_callback");
    try {
      const r = await api("POST", "/v1/tasks", task);
      toast(`Created ${r.id}`);
      location.hash = `#/task/${encodeURIComponent(r.id)}`;
    } catch (e) {
      formError.textContent = e.message;
      formError.hidden = false;
    }
  });
  showWhen();
  showTarget(form);
}

// --- operations: stats, the due tasks, clearing a namespace -----------------------

function opsPage(query) {
  const gen = generation;
  const ns = query.get("ns") || "";
  const live = h("input", { type: "checkbox", id: "live", checked: true });
  const filter = h("form", { class: "filters", id: "opsfilter" },
    h("label", {}, "Namespace ", h("input", { name: "ns", value: ns, placeholder: "all", size: 16, pattern: "[A-Za-z0-9_.\\-]{1,64}" })),
    h("button", { type: "submit" }, "Show"));
  filter.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = filter.elements.ns.value.trim();
    location.hash = v ? `#/ops?${new URLSearchParams({ ns: v })}` : "#/ops";
  });
  const counts = h("tbody");
  const queues = h("tbody");
  const statsInfo = h("p", { class: "muted", id: "statsinfo" });
  const spaces = h("tbody");
  const due = h("tbody");
  const dueInfo = h("p", { class: "muted", id: "dueinfo" });
  const history = historyBox(ns, gen);

  // Clearing: the namespace typed twice, then a question (as `taskfleet
  // clear` asks); the API checks the name again (confirm).
  const clear = h("form", { class: "filters", id: "clearform" },
    h("label", {}, "Namespace ", h("input", { name: "ns", required: true, size: 16, autocomplete: "off" })),
    h("label", {}, "Type it again ", h("input", { name: "confirm", required: true, size: 16, autocomplete: "off" })),
    h("button", { type: "submit", class: "danger", disabled: true }, "Delete every task"));
  const clearInfo = h("p", { class: "error", id: "clearerror", hidden: true });
  const clearButton = clear.querySelector("button");
  clear.addEventListener("input", () => {
    const a = clear.elements.ns.value.trim();
    clearButton.disabled = !a || a !== clear.elements.confirm.value.trim();
  });
  clear.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = clear.elements.ns.value.trim();
    const again = clear.elements.confirm.value.trim();
    clearInfo.hidden = true;
    if (!await confirmDialog("Clear a namespace", `Delete every task in namespace "${name}", whatever its state? This cannot be undone.`, "Delete every task", true)) return;
    try {
      const r = await api("DELETE", `/v1/namespaces/${encodeURIComponent(name)}?${new URLSearchParams({ confirm: again })}`);
      toast(`Deleted ${r.deleted} task${r.deleted === 1 ? "" : "s"} in ${r.ns}`);
      clear.reset();
      clearButton.disabled = true;
      load();
    } catch (e) {
      clearInfo.textContent = e.message;
      clearInfo.hidden = false;
    }
  });

  main.append(
    h("div", { class: "heading" }, h("h1", {}, "Operations"),
      h("label", { class: "live" }, live, " Live refresh")),
    filter,
    h("h2", {}, ns ? `Tasks in ${ns}` : "Tasks in every namespace"),
    h("table", { class: "stats", id: "counts" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Tasks"))), counts),
    history.el,
    h("h2", {}, "Queues"),
    h("table", { class: "stats", id: "queues" },
      h("thead", {}, h("tr", {}, ["Queue", "Visible", "In flight", "Delayed"].map((c) => h("th", { scope: "col" }, c)))), queues),
    statsInfo,
    h("h2", {}, "Namespaces"),
    h("table", { class: "stats", id: "namespaces" },
      h("thead", {}, h("tr", {}, ["Namespace", "Tasks", "State", ""].map((c) => h("th", { scope: "col" }, c)))), spaces),
    h("h2", {}, "Due now (dry run)"),
    h("p", { class: "muted" }, "PENDING tasks whose next run has come, the most overdue first; nothing is changed. ",
      "Message: sent (the queue has it), none (the sweeper sends one), lost (sent too long ago: the sweeper sends it again)."),
    h("table", { class: "tasks", id: "duelist" },
      h("thead", {}, h("tr", {}, ["ID", "Namespace", "Next run", "Overdue", "Message"].map((c) => h("th", { scope: "col" }, c)))), due),
    dueInfo,
    h("h2", {}, "Clear a namespace"),
    clear, clearInfo);

  async function loadStats() {
    let d;
    try {
      d = await api("GET", ns ? `/v1/stats?${new URLSearchParams({ ns })}` : "/v1/stats");
    } catch (e) {
      if (gen !== generation) return;
      statsInfo.textContent = `Could not read the stats: ${e.message}`;
      statsInfo.className = "error";
      return;
    }
    if (gen !== generation) return;
    counts.replaceChildren(...Object.entries(d.tasks).map(([st, n]) => h("tr", { "data-status": st },
      h("th", { scope: "row" }, st === "total" ? "Total" : st === "other" ? "Other" : statusBadge(st)),
      h("td", { class: "num", "data-label": "Tasks" }, String(n)))));
    const row = (name, q) => h("tr", { "data-queue": name }, h("th", { scope: "row" }, name),
      ...(q ? [["Visible", q.visible], ["In flight", q.in_flight], ["Delayed", q.delayed]]
        .map(([l, n]) => h("td", { class: "num", "data-label": l }, String(n)))
        : [h("td", { colspan: 3, class: "muted" }, "unknown")]));
    queues.replaceChildren(row("Task queue", d.queue), row("Dead-letter queue", d.dlq));
    statsInfo.className = d.warning ? "error" : "muted";
    statsInfo.textContent = d.warning || `Updated ${new Date().toLocaleTimeString()}`;
  }

  async function loadDue() {
    let d;
    try {
      d = await api("GET", ns ? `/v1/due?${new URLSearchParams({ ns })}` : "/v1/due");
    } catch (e) {
      if (gen !== generation) return;
      dueInfo.textContent = `Could not read the due tasks: ${e.message}`;
      dueInfo.className = "error";
      return;
    }
    if (gen !== generation) return;
    due.replaceChildren(...d.tasks.map((t) => h("tr", {},
      h("td", { "data-label": "ID", class: "id" }, h("a", { href: `#/task/${encodeURIComponent(t.id)}` }, t.id)),
      h("td", { "data-label": "Namespace" }, t.ns || h("span", { class: "muted" }, "—")),
      h("td", { "data-label": "Next run" }, timeEl(t.next_run)),
      h("td", { "data-label": "Overdue" }, `${Math.round(t.overdue_ms / 1000)} s`),
      h("td", { "data-label": "Message", class: `msg-${t.message}` }, t.message))));
    dueInfo.className = "muted";
    dueInfo.textContent = d.tasks.length ? `${d.tasks.length} due${d.more ? " (more are due than shown)" : ""}`
      : "No tasks are due.";
  }

  async function loadNamespaces() {
    let d;
    try {
      d = await api("GET", "/v1/namespaces");
    } catch (e) {
      return;    // the stats line says what is wrong with the server
    }
    if (gen !== generation) return;
    spaces.replaceChildren(...d.namespaces.map((n) => h("tr", { "data-ns": n.ns },
      h("th", { scope: "row" }, h("a", { href: `#/tasks?${new URLSearchParams({ ns: n.ns })}` }, n.ns)),
      h("td", { class: "num", "data-label": "Tasks" }, String(n.tasks)),
      h("td", { "data-label": "State" }, n.paused ? statusBadge("PAUSED") : h("span", { class: "muted" }, "running")),
      h("td", {}, pauseButton(n)))));
  }

  // Pausing a namespace (POST /v1/namespaces/{ns}/pause, as `taskfleet
  // pause --ns`): nothing of it starts until it is resumed; resuming runs
  // each task the pause held, a recurring one its missed occurrence once.
  // The server answers once every consumer follows (about 2 s).
  function pauseButton(n) {
    const verb = n.paused ? "resume" : "pause";
    const b = h("button", { type: "button", class: n.paused ? "" : "danger", "data-action": verb },
      n.paused ? "Resume" : "Pause");
    b.addEventListener("click", async () => {
      const question = n.paused
        ? `Resume namespace "${n.ns}"? Every task the pause held runs once now, then on its schedule.`
        : `Pause namespace "${n.ns}"? None of its tasks starts until it is resumed; runs in progress finish.`;
      if (!await confirmDialog(n.paused ? "Resume a namespace" : "Pause a namespace", question,
        n.paused ? "Resume" : "Pause", !n.paused)) return;
      b.disabled = true;
      try {
        const r = await api("POST", `/v1/namespaces/${encodeURIComponent(n.ns)}/${verb}`, {});
        toast(r.paused ? `Paused ${r.ns}` : `Resumed ${r.ns}: ${r.resumed} task${r.resumed === 1 ? "" : "s"} released`);
      } catch (e) {
        toast(e.message, true);
      }
      loadNamespaces();
    });
    return b;
  }

  function load() {
    loadStats();
    history.load();
    loadNamespaces();
    loadDue();
  }
  live.addEventListener("change", () => (live.checked ? every(load) : stopRefresh()));
  load();
  every(load);
}

// --- operations: the stats over time ------------------------------------------------

const SVG_NS = "http://www.w3.org/2000/svg";
// The series drawn: a label, how to read it from a sample, a class for its
// colour (style.css).
const HISTORY_SERIES = [
  ["Pending", (s) => s.tasks.PENDING, "ln-pending"],
  ["Processing", (s) => s.tasks.PROCESSING, "ln-processing"],
  ["Failed", (s) => s.tasks.FAILED, "ln-failed"],
  ["Queue (visible)", (s) => (s.queue ? s.queue.visible : null), "ln-queue"],
  // Visible and in flight: a listing holds its messages in flight.
  ["Dead-letter queue", (s) => (s.dlq ? s.dlq.visible + s.dlq.in_flight : null), "ln-dlq"],
];

// svg("line", {x1: 0, ...}): an SVG element (attributes only: the
// Content-Security-Policy allows no inline style).
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// The chart of samples ({t, tasks, queue, dlq}, oldest first) as an inline
// SVG: one line per series on a shared count axis, time across.
function historyChart(samples) {
  const W = 640, H = 200, L = 44, R = 8, T = 10, B = 24;
  const t0 = samples[0].t, t1 = Math.max(samples[samples.length - 1].t, t0 + 1);
  let max = 1;
  for (const s of samples)
    for (const [, get] of HISTORY_SERIES) max = Math.max(max, get(s) || 0);
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", id: "historychart", role: "img",
    "aria-label": `Tasks and queue depth over the last ${Math.round((t1 - t0) / 60000)} minutes` });
  chart.append(svg("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), class: "axis" }),
    svg("line", { x1: L, y1: T, x2: L, y2: y(0), class: "axis" }),
    svg("text", { x: L - 4, y: T + 4, "text-anchor": "end", class: "tick" }, max),
    svg("text", { x: L - 4, y: y(0), "text-anchor": "end", class: "tick" }, 0),
    svg("text", { x: L, y: H - 6, class: "tick" }, new Date(t0).toLocaleTimeString()),
    svg("text", { x: W - R, y: H - 6, "text-anchor": "end", class: "tick" }, new Date(t1).toLocaleTimeString()));
  for (const [label, get, cls] of HISTORY_SERIES) {
    const pts = samples.filter((s) => get(s) !== null && get(s) !== undefined)
      .map((s) => `${x(s.t).toFixed(1)},${y(get(s)).toFixed(1)}`);
    if (pts.length) chart.append(svg("polyline", { points: pts.join(" "), class: `ln ${cls}`, "data-series": label }));
  }
  return chart;
}

// The "Over time" section of the operations page: GET /v1/stats?history=1
// drawn as a chart, with a legend of each series' latest value. Only for
// every namespace (the samples are of the whole table). -> {el, load()}.
function historyBox(ns, gen) {
  const body = h("div", { id: "history" });
  const info = h("p", { class: "muted", id: "historyinfo" });
  const el = h("section", {}, h("h2", {}, "Over time"), body, info);
  async function load() {
    if (ns) {
      info.textContent = "The history is kept for every namespace together: clear the namespace to see it.";
      return;
    }
    let d;
    try {
      d = await api("GET", "/v1/stats?history=1");
    } catch (e) {
      if (gen !== generation) return;
      info.textContent = `Could not read the history: ${e.message}`;
      return;
    }
    if (gen !== generation) return;
    const hist = d.history;
    if (!hist) {
      body.replaceChildren();
      info.textContent = "This server does not sample the stats (TASKFLEET_API_STATS_EVERY=off).";
      return;
    }
    const samples = hist.samples;
    if (samples.length < 2) {
      info.textContent = `Sampled every ${Math.round(hist.every_ms / 1000)} s: the chart appears after two samples.`;
      return;
    }
    const last = samples[samples.length - 1];
    body.replaceChildren(historyChart(samples),
      h("ul", { class: "legend", id: "historylegend" }, HISTORY_SERIES.map(([label, get, cls]) =>
        h("li", { "data-series": label }, h("span", { class: `swatch ${cls}` }), `${label}: `,
          h("strong", {}, get(last) === null ? "unknown" : String(get(last)))))));
    info.textContent = `${samples.length} samples, every ${Math.round(hist.every_ms / 1000)} s, kept in the server's memory`;
  }
  return { el, load };
}

// --- the dead-letter queue -----------------------------------------------------------

// What a message's verdict means, for people (as `taskfleet dlq list`).
const DLQ_VERDICTS = {
  live: "its task waits for it: redrive it",
  stale: "the task moved on: the consumer would drop it",
  finished: "the task is finished: redriven, it is dropped",
  suspended: "the task is suspended: redriven, it is dropped",
  missing: "no such task",
  not_a_task: "the item is not a task",
  malformed: "malformed body",
  unknown: "the table could not be read",
};

function dlqPage() {
  const gen = generation;
  const list = h("tbody");
  const info = h("p", { class: "muted", id: "dlqinfo" });
  const result = h("div", { id: "redriveresult", hidden: true });
  const malformed = h("input", { type: "checkbox", id: "includemalformed" });

  // Redrives what params choose (all, one message, one task); a dry run
  // shows what would move, a real one asks first.
  async function redrive(params, dryRun, what) {
    if (!dryRun && !await confirmDialog("Redrive", `Move ${what} back to the task queue? The consumer runs a live message's task and drops a stale one.`, "Redrive", false)) return;
    const q = new URLSearchParams(params);
    if (dryRun) q.set("dry_run", "true");
    if (malformed.checked && !params.task) q.set("include_malformed", "true");
    let r;
    try {
      r = await api("POST", `/v1/dlq/redrive?${q}`);
    } catch (e) {
      toast(`Redrive failed: ${e.message}`, true);
      return;
    }
    if (gen !== generation) return;
    const n = dryRun ? r.would_move : r.moved;
    result.replaceChildren(
      h("h2", {}, dryRun ? "Dry run: nothing was moved" : "Redriven"),
      h("p", { id: "redrivesummary" }, `${dryRun ? "Would move" : "Moved"} ${n} message${n === 1 ? "" : "s"}`,
        r.skipped ? `; ${r.skipped} malformed left` : "", r.failed ? `; ${r.failed} failed` : "",
        r.limit_reached ? "; stopped at the limit: run it again" : ""),
      h("ul", { id: "redrivelist" }, r.messages.map((m) => h("li", { "data-action": m.action },
        `${m.action.replace("_", " ")}: `, h("code", {}, m.message_id), m.task_id ? ` task ${m.task_id}` : "",
        m.error ? ` (${m.error})` : ""))));
    result.hidden = false;
    if (!dryRun) {
      toast(`Moved ${n} message${n === 1 ? "" : "s"} to the task queue`);
      load();
    }
  }

  main.append(
    h("div", { class: "heading" }, h("h1", {}, "Dead-letter queue"),
      h("button", { type: "button", id: "dlqreload", onclick: () => load() }, "Reload")),
    h("p", { class: "muted" }, "Messages that failed to be processed too often. Listing holds each one hidden for a moment and makes it visible again; ",
      "each listing counts as one more receive. Redriving sends a message back to the task queue unchanged; the consumer then decides from the task's item."),
    h("div", { class: "filters", id: "dlqactions" },
      h("button", { type: "button", id: "dryrunall", onclick: () => redrive({}, true, "every message") }, "Dry run: redrive all"),
      h("button", { type: "button", id: "redriveall", class: "primary", onclick: () => redrive({}, false, "every message") }, "Redrive all"),
      h("label", { class: "check" }, malformed, " Malformed bodies too")),
    h("table", { class: "tasks", id: "dlqlist" },
      h("thead", {}, h("tr", {}, ["Message", "Task", "Namespace", "Reason", "Receives", "Sent", ""].map((c) => h("th", { scope: "col" }, c)))),
      list),
    info, result);

  async function load() {
    let d;
    info.className = "muted";
    info.textContent = "Reading the dead-letter queue…";
    try {
      d = await api("GET", "/v1/dlq?limit=100");
    } catch (e) {
      if (gen !== generation) return;
      info.textContent = `Could not read the dead-letter queue: ${e.message}`;
      info.className = "error";
      return;
    }
    if (gen !== generation) return;
    list.replaceChildren(...d.messages.map((m) => h("tr", { "data-message": m.message_id },
      h("td", { "data-label": "Message", class: "id" }, h("code", {}, m.message_id)),
      h("td", { "data-label": "Task", class: "id" }, m.task_id
        ? h("a", { href: `#/task/${encodeURIComponent(m.task_id)}` }, m.task_id) : h("span", { class: "muted" }, "—")),
      h("td", { "data-label": "Namespace" }, m.ns || h("span", { class: "muted" }, "—")),
      h("td", { "data-label": "Reason", class: `verdict-${m.verdict}` },
        m.status ? `${m.status} gen ${m.task_gen}: ` : "", DLQ_VERDICTS[m.verdict] || m.verdict,
        m.malformed ? h("div", { class: "muted" }, `${m.error}: ${m.excerpt}`) : ""),
      h("td", { class: "num", "data-label": "Receives" }, m.receive_count === null ? "?" : String(m.receive_count)),
      h("td", { "data-label": "Sent" }, m.sent ? timeEl(m.sent) : "?"),
      h("td", { "data-label": "" },
        h("button", { type: "button", class: "link", "data-do": "dryrun", onclick: () => redrive({ message_id: m.message_id }, true, "this message") }, "Dry run"),
        " ",
        h("button", { type: "button", "data-do": "redrive", onclick: () => redrive({ message_id: m.message_id }, false, "this message") }, "Redrive")))));
    info.textContent = d.messages.length
      ? `${d.messages.length} message${d.messages.length === 1 ? "" : "s"}${d.limit_reached ? " (the first 100)" : ""}${d.depth !== null ? `; the queue reported ${d.depth}` : ""}`
      : "The dead-letter queue is empty.";
    if (d.warning) {
      info.className = "error";
      info.textContent += ` (${d.warning})`;
    }
  }
  load();
}

// --- limits per key -------------------------------------------------------------------

// The limits per key (GET /v1/limits, as `taskfleet limit`): each key's runs
// started per second with their burst, runs in flight and ordering; the form
// sets one (PUT /v1/limits/{key}: the server checks it and says what is
// wrong), replacing a key's limit or removing it only after a question
// (DELETE). Below, the keys held for the whole fleet after a webhook host
// answered 429 or 5xx with Retry-After, and until when.
function limitsPage() {
  const gen = generation;
  const list = h("tbody");
  const held = h("tbody");
  const info = h("p", { class: "muted", id: "limitsinfo" });
  const holdInfo = h("p", { class: "muted", id: "holdsinfo" });
  const formError = h("p", { class: "error", id: "limiterror", hidden: true });
  const num = (name, label, attrs) => h("label", {}, `${label} `,
    h("input", { name, type: "number", size: 6, ...attrs }));
  const form = h("form", { class: "filters", id: "limitform" },
    h("label", {}, "Key ", h("input", { name: "key", required: true, size: 22, autocomplete: "off", spellcheck: "false",
      placeholder: "ns:NAME, type:, host:, flow:" })),
    num("rate", "Runs/s", { min: "0", step: "any" }),
    num("burst", "Burst", { min: "1", step: "1" }),
    num("in_flight", "In flight", { min: "1", step: "1" }),
    h("label", { class: "check" }, h("input", { name: "ordered", type: "checkbox" }), " Ordered"),
    h("button", { type: "submit", class: "primary" }, "Set limit"));
  let shown = [];    // the limits last listed

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const key = f.key.value.trim();
    const body = {};
    for (const k of ["rate", "burst", "in_flight"]) if (f[k].value !== "") body[k] = Number(f[k].value);
    if (f.ordered.checked) body.ordered = true;
    formError.hidden = true;
    const old = shown.find((l) => l.key === key);
    if (old && !await confirmDialog("Replace a limit", `Replace the limit on ${key} (${describeLimit(old)}) with ${describeLimit(body)}?`, "Replace", false)) return;
    try {
      const l = await api("PUT", `/v1/limits/${encodeURIComponent(key)}`, body);
      toast(`Set the limit on ${l.key}: ${describeLimit(l)}`);
      form.reset();
      load();
    } catch (e) {
      formError.textContent = e.message;
      formError.hidden = false;
    }
  });

  main.append(
    h("div", { class: "heading" }, h("h1", {}, "Limits"),
      h("button", { type: "button", id: "limitsreload", onclick: () => load() }, "Reload")),
    h("p", { class: "muted" }, "Every consumer of the table enforces these, fleet-wide, within 2 s of a change. ",
      "A key is a namespace (ns:NAME), a runner type (type:NAME), a webhook host (host:NAME) or a flow key (flow:NAME; flow:* limits each on its own). ",
      "A run over its limit waits, with no attempt charged."),
    h("table", { class: "stats", id: "limits" },
      h("thead", {}, h("tr", {}, ["Key", "Runs/s", "Burst", "In flight", "Ordered", ""].map((c) => h("th", { scope: "col" }, c)))), list),
    info,
    h("h2", {}, "Set a limit"),
    form, formError,
    h("h2", {}, "Held after a Retry-After"),
    h("p", { class: "muted" }, "A webhook host that answered 429 or 5xx with Retry-After gets nothing from any consumer until then."),
    h("table", { class: "stats", id: "holds" },
      h("thead", {}, h("tr", {}, ["Key", "Held until"].map((c) => h("th", { scope: "col" }, c)))), held),
    holdInfo);

  // Removing a limit, after a question.
  async function remove(l) {
    if (!await confirmDialog("Remove a limit", `Remove the limit on ${l.key} (${describeLimit(l)})? Its runs are then limited only by the other keys' limits.`, "Remove", true)) return;
    try {
      await api("DELETE", `/v1/limits/${encodeURIComponent(l.key)}`);
      toast(`Removed the limit on ${l.key}`);
    } catch (e) {
      toast(e.message, true);
    }
    load();
  }

  // Puts limit l in the form, to change it.
  function edit(l) {
    const f = form.elements;
    f.key.value = l.key;
    f.rate.value = l.rate !== undefined ? l.rate : "";
    f.burst.value = l.rate !== undefined ? l.burst : "";
    f.in_flight.value = l.in_flight !== undefined ? l.in_flight : "";
    f.ordered.checked = !!l.ordered;
    f.rate.focus();
  }

  async function load() {
    let d;
    try {
      d = await api("GET", "/v1/limits");
    } catch (e) {
      if (gen !== generation) return;
      info.textContent = `Could not read the limits: ${e.message}`;
      info.className = "error";
      return;
    }
    if (gen !== generation) return;
    shown = d.limits;
    const cell = (label, v) => h("td", { class: "num", "data-label": label }, v === undefined ? h("span", { class: "muted" }, "—") : String(v));
    list.replaceChildren(...d.limits.map((l) => h("tr", { "data-key": l.key },
      h("th", { scope: "row" }, h("code", {}, l.key)),
      cell("Runs/s", l.rate), cell("Burst", l.rate !== undefined ? l.burst : undefined), cell("In flight", l.in_flight),
      h("td", { "data-label": "Ordered" }, l.ordered ? "yes" : ""),
      h("td", {},
        h("button", { type: "button", class: "link", "data-action": "edit", onclick: () => edit(l) }, "Edit"), " ",
        h("button", { type: "button", class: "danger", "data-action": "remove", onclick: () => remove(l) }, "Remove")))));
    info.className = "muted";
    info.textContent = d.limits.length ? `${d.limits.length} limit${d.limits.length === 1 ? "" : "s"}; updated ${new Date().toLocaleTimeString()}`
      : "No limit is set.";
    held.replaceChildren(...d.holds.map((x) => h("tr", { "data-key": x.key },
      h("th", { scope: "row" }, h("code", {}, x.key)),
      h("td", { "data-label": "Held until" }, timeEl(x.until)))));
    holdInfo.textContent = d.holds.length ? "" : "No key is held.";
  }
  load();
  every(load);
}

// A limit in words: "20 runs/s, burst 5, 4 in flight, ordered".
function describeLimit(l) {
  const parts = [];
  if (l.rate !== undefined) parts.push(`${l.rate} runs/s, burst ${l.burst !== undefined ? l.burst : 1}`);
  if (l.in_flight !== undefined) parts.push(`${l.in_flight} in flight`);
  if (l.ordered) parts.push("ordered");
  return parts.join(", ") || "nothing";
}

// --- start ------------------------------------------------------------------------

document.getElementById("signout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORE);
  document.getElementById("signout").hidden = true;
  route();
});
document.getElementById("signout").hidden = storedKey() === null;
window.addEventListener("hashchange", route);
route();
