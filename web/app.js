// The dashboard: a runs table that updates itself, a run page (loss and accuracy chart, the prompt after each step
// with the changed token marked, a step's candidates with their gradient and re-scored losses, cancel), and a form
// that submits a run of the shipped tiny model. Plain modules over the /api routes; the token stays in this tab.
const $ = (selector) => document.querySelector(selector);
const sections = ["sign-in", "runs", "new", "run"];
let token = sessionStorage.getItem("greater_token") ?? "";
let stopPage = () => {};

function show(name) {
  for (const id of sections) $(`#${id}`).hidden = id !== name;
  $("#sign-out").hidden = name === "sign-in";
}

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...(options.headers ?? {}), Authorization: `Bearer ${token}`, ...(options.body ? { "Content-Type": "application/json" } : {}) } });
  if (response.status === 401) throw new Unauthorized();
  const body = await response.json();
  if (!response.ok) throw Object.assign(new Error(body.error ?? response.statusText), { field: body.field });
  return body;
}

function signIn(message = "") {
  stopPage();
  show("sign-in");
  $("#sign-in-error").textContent = message;
}

function remember(value) {
  token = value;
  sessionStorage.setItem("greater_token", value);
  // Bull Board (/queues) is a page of its own: it reads the token from this cookie.
  document.cookie = `greater_token=${encodeURIComponent(value)}; path=/; SameSite=Strict`;
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  remember($("#token").value.trim());
  try {
    await api("/api/health");
    $("#token").value = "";
    route();
  } catch (error) {
    signIn(error instanceof Unauthorized ? "That token is not valid here." : error.message);
  }
});

$("#sign-out").addEventListener("click", () => {
  remember("");
  sessionStorage.removeItem("greater_token");
  signIn();
});

const pct = (v) => (typeof v === "number" ? `${(v * 100).toFixed(1)}%` : "–");
const age = (iso) => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 90 ? `${s}s` : s < 5400 ? `${Math.round(s / 60)}m` : s < 129600 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`;
};
const cell = (text, className) => {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
};

// The runs table: polled every two seconds while shown.
async function runsPage() {
  show("runs");
  let timer;
  let stopped = false;
  const refresh = async () => {
    try {
      const status = $("#status-filter").value;
      const [{ jobs }, health] = await Promise.all([api(`/api/jobs?limit=100${status ? `&status=${status}` : ""}`), api("/api/health").catch((e) => ({ redis: e.message, workers: [] }))]);
      if (stopped) return;
      $("#health").textContent = `Redis ${health.redis}; ${health.workers.length} worker(s)${health.workers.length ? `: ${health.workers.map((w) => w.device).join(", ")}` : ""}`;
      const body = $("#runs-table tbody");
      body.replaceChildren(
        ...jobs.map((job) => {
          const tr = document.createElement("tr");
          tr.className = "clickable";
          tr.dataset.id = job.id;
          tr.dataset.status = job.status;
          tr.addEventListener("click", () => (location.hash = `#/jobs/${job.id}`));
          const p = job.progress;
          const r = job.result;
          const split = r?.accuracy ? (r.accuracy.best?.test !== undefined ? "test" : Object.keys(r.accuracy.best ?? r.accuracy)[0]) : null;
          const accuracy = r?.kind === "optimize" && split ? `${pct(r.accuracy.initial[split])} → ${pct(r.accuracy.best[split])}` : r?.kind === "evaluate" ? pct(Object.values(r.accuracy)[0]) : "–";
          const status = cell(job.status);
          status.innerHTML = `<span class="status ${job.status}">${job.status}</span>`;
          tr.append(status, cell(job.label), cell(job.spec.model.split("/").filter(Boolean).pop() ?? "", "wide"), cell(p ? `${p.step}/${p.steps}` : "–"),
            cell(p?.bestLoss != null ? p.bestLoss.toFixed(3) : r?.trainLoss != null ? r.trainLoss.toFixed(3) : "–"), cell(accuracy), cell(age(job.createdAt), "wide"));
          return tr;
        }),
      );
      $("#runs-empty").hidden = jobs.length > 0;
    } catch (error) {
      if (error instanceof Unauthorized) return signIn("Your token was not accepted; sign in again.");
      $("#health").textContent = error.message;
    }
    if (!stopped) timer = setTimeout(refresh, 2000);
  };
  $("#status-filter").onchange = () => {
    clearTimeout(timer);
    refresh();
  };
  await refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// The form: the tiny model's task, as the server offers it, with the reader's changes.
let template;
async function newPage() {
  show("new");
  try {
    template ??= await api("/api/templates/tiny");
    if (!$("#new-prompt").value) $("#new-prompt").value = template.optimizer.initialPrompt;
  } catch (error) {
    if (error instanceof Unauthorized) return signIn();
    $("#new-error").textContent = error.message;
  }
  return () => {};
}

$("#new-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#new-error").textContent = "";
  const spec = structuredClone(template);
  spec.name = $("#new-name").value.trim() || template.name;
  spec.optimizer.initialPrompt = $("#new-prompt").value;
  spec.optimizer.steps = Number($("#new-steps").value);
  spec.optimizer.seed = Number($("#new-seed").value);
  spec.sizes = { ...(spec.sizes ?? {}), train: Number($("#new-train").value) };
  try {
    const { id } = await api("/api/jobs", { method: "POST", body: JSON.stringify(spec) });
    location.hash = `#/jobs/${id}`;
  } catch (error) {
    if (error instanceof Unauthorized) return signIn();
    $("#new-error").textContent = error.message;
  }
});

// Server-Sent Events read with fetch (EventSource cannot send the bearer token).
async function followEvents(id, onEvent, signal) {
  const response = await fetch(`/api/jobs/${id}/events`, { headers: { Authorization: `Bearer ${token}` }, signal });
  if (response.status === 401) throw new Unauthorized();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) onEvent(JSON.parse(data));
    }
  }
}

function markedPrompt(step) {
  const li = document.createElement("li");
  li.value = step.step + 1;
  li.dataset.step = String(step.step);
  const tokens = step.promptTokens;
  if (Array.isArray(tokens) && tokens.length === step.prompt.ids.length) {
    tokens.forEach((text, i) => {
      if (i === step.position) {
        const mark = document.createElement("mark");
        mark.textContent = text;
        li.append(mark);
      } else li.append(document.createTextNode(text));
    });
  } else {
    li.append(document.createTextNode(`${step.prompt.text}  `));
    const mark = document.createElement("mark");
    mark.textContent = step.chosen.text;
    li.append(mark);
  }
  return li;
}

function showCandidates(step) {
  const rescored = new Map((step.rescored ?? []).map((c) => [c.token, c]));
  // Lowest gradient first: the order in which GReaTer ranks candidates for re-scoring.
  const rows = [...step.candidates].sort((a, b) => (a.gradient ?? Infinity) - (b.gradient ?? Infinity));
  $("#candidates tbody").replaceChildren(
    ...rows.map((c) => {
      const r = rescored.get(c.token);
      const tr = document.createElement("tr");
      if (c.token === step.chosen.token) tr.style.fontWeight = "700";
      tr.append(cell(JSON.stringify(c.text)), cell(c.gradient == null ? "–" : c.gradient.toFixed(4)), cell(r ? pct(r.mistakeRate) : ""), cell(r ? r.promptNll.toFixed(3) : ""), cell(r ? r.score.toFixed(4) : ""));
      return tr;
    }),
  );
}

async function runPage(id) {
  show("run");
  const controller = new AbortController();
  const steps = new Map();
  const evals = [];
  let chartTimer;
  let info;
  $("#prompts").replaceChildren();
  $("#candidates tbody").replaceChildren();
  $("#candidate-step").replaceChildren();
  $("#accuracy tbody").replaceChildren();
  $("#chart").replaceChildren();
  $("#run-error").textContent = "";
  window.greaterChart = null;

  const drawChart = async () => {
    const width = Math.max(160, Math.min(640, $("#chart").clientWidth - 120));
    const { spec } = await api(`/api/jobs/${id}/plot?width=${width}`);
    if (!spec || controller.signal.aborted) return;
    const result = await window.vegaEmbed("#chart", spec, { renderer: "svg", actions: false });
    window.greaterChart = result.view;
    $("#chart").dataset.steps = String(steps.size);
  };
  const redrawSoon = () => {
    clearTimeout(chartTimer);
    chartTimer = setTimeout(() => drawChart().catch((e) => ($("#run-error").textContent = e.message)), 150);
  };
  const showInfo = (job) => {
    info = job;
    $("#run-label").textContent = job.label;
    const status = $("#run-status");
    status.textContent = job.status;
    status.className = `status ${job.status}`;
    $("#run").dataset.status = job.status;
    const p = job.progress;
    $("#run-meta").textContent = `${job.spec.kind} · ${job.spec.model} · ${p ? `step ${p.step}/${p.steps}, ${p.phase}` : "not started"} · attempts ${job.attempts}/${job.maxAttempts}`;
    $("#cancel").hidden = !["waiting", "delayed", "active"].includes(job.status);
    if (job.error) $("#run-error").textContent = job.error;
  };
  const showAccuracy = () => {
    const bySplit = new Map();
    for (const e of evals) {
      const row = bySplit.get(e.split) ?? {};
      row[e.which] = e.accuracy;
      bySplit.set(e.split, row);
    }
    $("#accuracy tbody").replaceChildren(...[...bySplit.entries()].map(([split, row]) => {
      const tr = document.createElement("tr");
      tr.append(cell(split), cell(pct(row.initial)), cell(pct(row.best)));
      return tr;
    }));
  };

  $("#cancel").onclick = async () => {
    $("#cancel").disabled = true;
    try {
      const { status } = await api(`/api/jobs/${id}`, { method: "DELETE" });
      $("#run-meta").textContent += ` · cancel requested (${status})`;
    } catch (error) {
      $("#run-error").textContent = error.message;
    } finally {
      $("#cancel").disabled = false;
    }
  };
  $("#candidate-step").onchange = () => showCandidates(steps.get(Number($("#candidate-step").value)));

  try {
    showInfo(await api(`/api/jobs/${id}`));
  } catch (error) {
    if (error instanceof Unauthorized) return signIn();
    $("#run-error").textContent = error.message;
    return () => {};
  }
  followEvents(id, (event) => {
    if (event.type === "step") {
      const first = !steps.has(event.step);
      steps.set(event.step, event);
      const li = markedPrompt(event);
      const old = $(`#prompts li[data-step="${event.step}"]`);
      if (old) old.replaceWith(li);
      else $("#prompts").append(li);
      if (first) {
        const option = document.createElement("option");
        option.value = String(event.step);
        option.textContent = String(event.step + 1);
        $("#candidate-step").append(option);
      }
      $("#candidate-step").value = String(event.step);
      showCandidates(event);
      redrawSoon();
    } else if (event.type === "eval") {
      evals.push(event);
      showAccuracy();
      redrawSoon();
    } else if (event.type === "end" || event.type === "cancelled") {
      api(`/api/jobs/${id}`).then(showInfo).catch(() => {});
    }
    if (event.type !== "end") api(`/api/jobs/${id}`).then(showInfo).catch(() => {});
  }, controller.signal).catch((error) => {
    if (error instanceof Unauthorized) signIn();
    else if (!controller.signal.aborted) $("#run-error").textContent = error.message;
  });
  return () => {
    controller.abort();
    clearTimeout(chartTimer);
  };
}

async function route() {
  stopPage();
  stopPage = () => {};
  if (!token) return signIn();
  const hash = location.hash || "#/";
  const job = /^#\/jobs\/([\w-]+)$/.exec(hash);
  const stop = job ? await runPage(job[1]) : hash === "#/new" ? await newPage() : await runsPage();
  stopPage = stop ?? (() => {});
}

window.addEventListener("hashchange", route);
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", route);
else route();
