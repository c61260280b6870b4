// The gristops status page: log in as an admin, then draw /status/data every 15 s.
// Only textContent and SVG elements are created from data, never HTML strings.
"use strict";

const TOKEN_KEY = "gristops.status.token";
const REFRESH_MS = 15000;
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let timer = null;

function el(tag, attrs, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function when(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  return new Date(seconds * 1000).toLocaleString();
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  const s = Date.now() / 1000 - seconds;
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h ago`;
  return `${(s / 86400).toFixed(1)} d ago`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  return seconds < 120 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
}

function showLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(timer);
  $("status").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

async function login(event) {
  event.preventDefault();
  const form = event.target;
  const response = await fetch("/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: form.email.value, password: form.password.value }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    $("login-error").textContent = body.error || `login failed (${response.status})`;
    return;
  }
  form.password.value = "";
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  refresh();
}

async function refresh() {
  clearTimeout(timer);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return showLogin();
  let response;
  try {
    response = await fetch("/status/data", { headers: { Authorization: `Bearer ${token}` } });
  } catch (error) {
    $("updated").textContent = `gateway unreachable: ${error}`;
    timer = setTimeout(refresh, REFRESH_MS);
    return;
  }
  if (response.status === 401) return showLogin("Your session ended; log in again.");
  if (response.status === 403) return showLogin("This page is for admins.");
  const data = await response.json();
  $("login").hidden = true;
  $("status").hidden = false;
  $("logout").hidden = false;
  render(data);
  timer = setTimeout(refresh, REFRESH_MS);
}

function render(data) {
  $("updated").textContent = `version ${data.version}, updated ${new Date(data.generated_at * 1000).toLocaleTimeString()}`;
  const cards = $("components");
  cards.replaceChildren(...data.components.map((c) => {
    const card = el("div", { class: `card ${c.status.replace(" ", "-")}`, "data-component": c.name });
    card.append(el("b", {}, c.name), el("span", { class: "state" }, c.status), el("div", {}, c.detail));
    return card;
  }));
  drawBars($("chart-requests"), data.requests);
  drawLines($("chart-latency"), data.requests);
  renderOps(data.ops);
  table($("access"), ["role", "table", "actions", "rows", "hidden", "read-only", "filled on create", "always"],
    data.access.map((r) => [r.role, r.table, r.actions, r.rows, r.hidden, r.readonly, r.fill, r.notes]), "no roles");
  table($("errors"), ["time", "level", "service", "event", "request id", "error"],
    data.errors.map((e) => [e.time ? new Date(e.time).toLocaleString() : "-", [e.level, e.level === "warning" ? "warning" : "failed"],
      e.service, e.event, e.request_id || "", e.error || ""]), "no warnings or errors in the last 24 hours");
}

function renderOps(ops) {
  const rows = [];
  const last = ops.backup.last;
  if (last) rows.push(["last backup", [last.ok ? "ok" : "failed", last.ok ? "ok" : "failed"], ago(last.finished_at), last.target || "", last.detail || ""]);
  if (ops.backup.last_success_at) rows.push(["last successful backup", ["ok", "ok"], ago(ops.backup.last_success_at), "", ""]);
  const drill = ops.backup.drill;
  if (drill) rows.push(["last restore drill", [drill.ok ? "passed" : "failed", drill.ok ? "ok" : "failed"], ago(drill.finished_at), drill.target || "", `RTO ${duration(drill.rto_seconds)}`]);
  table($("backup"), ["what", "outcome", "when", "target", "detail"], rows, "no backup or drill recorded yet");

  const certs = ops.certificates.map((c) => ["certificate", c.name, [`${c.days_left} days left`, c.days_left <= 0 ? "failed" : c.days_left < (c.lifetime_days || 90) / 3 ? "warning" : "ok"]]);
  const lags = ops.replication.map((r) => ["replication", Object.values(r.labels).join(", "), `lag ${duration(r.lag_seconds)}`]);
  table($("certificates"), ["what", "name", "state"], [...certs, ...lags], "no certificate or replica reported yet");

  table($("deploys"), ["started", "kind", "version", "slot", "by", "outcome", "reason"],
    ops.deploys.map((d) => [when(d.started_at), d.kind, d.version, d.slot, d.actor,
      [d.outcome || "in progress", d.outcome === "success" ? "ok" : d.outcome === "rolled_back" ? "warning" : d.outcome ? "failed" : ""], d.reason || ""]),
    "no deploy recorded yet");

  table($("jobs"), ["job", "command", "last run", "took", "outcome", "last success"],
    ops.jobs.map((j) => [j.job, j.command, ago(j.finished_at), duration(j.finished_at - j.started_at),
      [j.outcome, j.outcome === "success" ? "ok" : "failed"], ago(j.last_success)]),
    "the agent has not run a job yet");
}

function table(node, headers, rows, empty) {
  const head = el("tr");
  headers.forEach((h) => head.append(el("th", {}, h)));
  const body = rows.length ? rows.map((cells) => {
    const tr = el("tr");
    cells.forEach((cell) => {
      const [text, cls] = Array.isArray(cell) ? cell : [cell, ""];
      tr.append(el("td", cls ? { class: cls } : {}, text));
    });
    return tr;
  }) : [(() => { const tr = el("tr"); tr.append(el("td", { class: "empty", colspan: headers.length }, empty)); return tr; })()];
  node.replaceChildren(head, ...body);
}

const W = 600, H = 180, LEFT = 40, BOTTOM = 20, TOP = 8;

function frame(svg, points, max, unit) {
  svg.replaceChildren();
  const plotH = H - BOTTOM - TOP;
  for (const f of [0, 0.5, 1]) {
    const y = TOP + plotH * (1 - f);
    svg.append(el("svg:line", { class: "axis", x1: LEFT, x2: W, y1: y, y2: y }));
    svg.append(el("svg:text", { x: LEFT - 4, y: y + 3, "text-anchor": "end" }, formatNumber(max * f) + unit));
  }
  const labels = [0, Math.floor(points.length / 2), points.length - 1];
  for (const i of labels) {
    if (!points[i]) continue;
    const x = LEFT + (i + 0.5) * ((W - LEFT) / points.length);
    const anchor = i === 0 ? "start" : i === points.length - 1 ? "end" : "middle";
    svg.append(el("svg:text", { x, y: H - 4, "text-anchor": anchor }, new Date(points[i].t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
  }
  return { x: (i) => LEFT + (i + 0.5) * ((W - LEFT) / points.length), y: (v) => TOP + plotH * (1 - v / max), plotH };
}

function formatNumber(v) {
  return v >= 100 ? Math.round(v).toString() : v >= 10 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, "");
}

function drawBars(svg, points) {
  const max = Math.max(1, ...points.map((p) => p.requests));
  const axis = frame(svg, points, max, "");
  const width = Math.max(1, (W - LEFT) / points.length - 1);
  points.forEach((p, i) => {
    if (!p.requests) return;
    const h = axis.plotH * (p.requests / max);
    svg.append(el("svg:rect", { class: "bar", "data-requests": p.requests, x: axis.x(i) - width / 2, width, y: axis.y(p.requests), height: h }));
    if (p.errors) {
      const eh = axis.plotH * (p.errors / max);
      svg.append(el("svg:rect", { class: "bar bad", x: axis.x(i) - width / 2, width, y: axis.y(p.errors), height: eh }));
    }
  });
}

function drawLines(svg, points) {
  const max = Math.max(1, ...points.map((p) => p.p95_ms || 0), ...points.map((p) => p.mean_ms || 0));
  const axis = frame(svg, points, max, "");
  for (const key of ["p95_ms", "mean_ms"]) {
    let d = "";
    points.forEach((p, i) => {
      if (p[key] === null || p[key] === undefined) return;
      d += `${d ? "L" : "M"}${axis.x(i).toFixed(1)},${axis.y(p[key]).toFixed(1)}`;
    });
    if (d) svg.append(el("svg:path", { class: key === "p95_ms" ? "p95" : "mean", d }));
    points.forEach((p, i) => {
      if (p[key] === null || p[key] === undefined) return;
      svg.append(el("svg:circle", { class: key === "p95_ms" ? "p95" : "mean", cx: axis.x(i), cy: axis.y(p[key]), r: 1.5 }));
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", login);
  $("logout").addEventListener("click", () => showLogin("Logged out."));
  refresh();
});
