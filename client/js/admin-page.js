// The organizer dashboard: live figures, broadcast, invites, registrations, the report.
import { drawAudience } from "./audience-view.js";
import {
  ApiError, createInvite, downloadCsv, getCluster, getLive, getProgram, getReport, listInvites, revokeInvite,
} from "./api.js";
import { mountBroadcast } from "./broadcast-view.js";
import { h as el } from "./dom.js";
import { barChart } from "./chart.js";
import {
  applyDocument, countryName, formatNumber, lang, mountLanguageSwitcher, pickText, t,
} from "./i18n.js";
import { connect, request } from "./realtime.js";
import { putOnAir } from "./stage.js";

// The organizer credential is kept for this tab only, apart from any
// participant token the same browser holds.
const KEY = "halqa.organizer";
let token = null;
let program = null;
let socket = null;
let broadcast = null;
const stages = new Map();

function titleOf(id) {
  const s = program?.sessions.find((x) => x.id === id);
  return s ? pickText(s.title) : id;
}

function minutes(seconds) {
  return formatNumber(Math.round(seconds / 60));
}

async function refreshLive() {
  const live = await getLive(token);
  program = await getProgram();
  const rows = document.getElementById("live-rows");
  rows.replaceChildren();
  for (const s of live.sessions) {
    const info = program.sessions.find((x) => x.id === s.session);
    const status = info?.live ? t("program.live") : t(`state.${info?.state ?? "scheduled"}`);
    const onAir = el("td");
    const stage = stages.get(s.session);
    if (stage?.publishers?.length) {
      for (const p of stage.publishers) {
        const b = el("button", { type: "button", "aria-pressed": String(stage.program === p.id) }, p.name);
        b.addEventListener("click", () => chooseOnAir(s.session, p.id));
        onAir.append(b, " ");
      }
    } else {
      onAir.append("—");
    }
    rows.append(el("tr", {},
      el("th", { scope: "row" }, el("a", { href: `/session/${encodeURIComponent(s.session)}` }, titleOf(s.session))),
      el("td", {}, status),
      el("td", { class: "num" }, formatNumber(s.count)),
      el("td", { class: "num" }, formatNumber(s.peak)),
      onAir));
    if (info?.live && !stages.has(s.session)) watchStage(s.session);
  }
}

// One row per halqa process: the stages whose speakers it holds, the viewers
// it serves itself, the pulls it makes (edge) and serves (holder), its load.
async function refreshNodes() {
  const view = await getCluster(token);
  const rows = document.getElementById("node-rows");
  rows.replaceChildren();
  for (const n of view.nodes) {
    const name = n.id === view.node ? `${n.id} (${t("admin.this_node")})` : n.id;
    const state = n.draining ? ` — ${t("admin.draining")}` : "";
    rows.append(el("tr", {},
      el("th", { scope: "row", dir: "ltr" }, name + state),
      el("td", {}, n.held.length ? n.held.map(titleOf).join(", ") : "—"),
      el("td", { class: "num" }, `${formatNumber(n.viewers)} / ${formatNumber(n.capacity)}`),
      el("td", { class: "num" }, `${formatNumber(n.pulls)} / ${formatNumber(n.served_pulls)}`),
      el("td", { class: "num" }, `${formatNumber(Math.round(n.load * 100))} %`)));
  }
}

async function watchStage(sessionId) {
  const reply = await request(socket, "stage:state", { session: sessionId });
  if (reply?.ok) stages.set(sessionId, reply.stage);
}

async function chooseOnAir(sessionId, publisher) {
  const reply = await putOnAir(socket, sessionId, publisher);
  if (reply?.ok) {
    stages.set(sessionId, reply.stage);
    await refreshLive();
  }
}

async function refreshInvites() {
  const { invites } = await listInvites(token);
  const rows = document.getElementById("invite-rows");
  rows.replaceChildren();
  for (const inv of invites.filter((i) => !i.revoked_at)) {
    const revoke = el("button", { type: "button" }, t("admin.revoke"));
    revoke.addEventListener("click", async () => {
      await revokeInvite(token, inv.id);
      await refreshInvites();
    });
    rows.append(el("tr", {},
      el("td", {}, inv.language ? `${t(`role.${inv.role}`)} (${t(`interp.lang.${inv.language}`)})` : t(`role.${inv.role}`)),
      el("td", {}, inv.session ? titleOf(inv.session) : t("admin.whole_event")),
      el("td", {}, inv.label),
      el("td", {}, new Date(inv.created_at).toLocaleString(lang())),
      el("td", {}, revoke)));
  }
}

async function refreshReport() {
  const report = await getReport(token);
  const totals = report.totals;
  document.getElementById("registrations-total").textContent =
    t("admin.registered_total", { count: formatNumber(totals.registered) });
  const top = report.countries.slice(0, 15);
  document.getElementById("countries-chart").replaceChildren(
    barChart(t("admin.registrations"), top.map((c) => ({ label: countryName(c.country), value: c.registered }))));
  const dl = document.getElementById("totals");
  dl.replaceChildren();
  for (const key of ["registered", "attended", "speakers", "countries", "sessions", "questions"]) {
    dl.append(el("div", {}, el("dt", {}, t(`totals.${key}`)), el("dd", {}, formatNumber(totals[key]))));
  }
  dl.append(el("div", {}, el("dt", {}, t("admin.watch_time")), el("dd", {},
    t("admin.minutes", { count: minutes(totals.watch_seconds) }))));
  document.getElementById("peak-chart").replaceChildren(
    barChart(t("admin.peak"), report.sessions.map((s) => ({ label: pickText(s.title), value: s.peak_viewers }))));
  const rows = document.getElementById("report-rows");
  rows.replaceChildren();
  for (const s of report.sessions) {
    rows.append(el("tr", {},
      el("th", { scope: "row" }, pickText(s.title)),
      el("td", { class: "num" }, formatNumber(s.peak_viewers)),
      el("td", { class: "num" }, formatNumber(s.total_viewers)),
      el("td", { class: "num" }, t("admin.minutes", { count: minutes(s.watch_seconds) })),
      el("td", { class: "num" }, formatNumber(s.questions))));
  }
  drawAudience(document.getElementById("audience"), report);
}

// A speaker is invited to one session; only a moderator may be event-wide.
function fillSessions() {
  const select = document.getElementById("invite-session");
  const chosen = select.value;
  const sessions = program.sessions.map((s) => new Option(pickText(s.title), s.id));
  const role = document.getElementById("invite-role").value;
  // An interpreter is bound to a session and a language.
  document.getElementById("invite-language-field").hidden = role !== "interpreter";
  const wide = role === "moderator"
    ? [new Option(t("admin.whole_event"), "")] : [];
  select.replaceChildren(...wide, ...sessions);
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

async function onInvite(event) {
  event.preventDefault();
  const role = document.getElementById("invite-role").value;
  const session = document.getElementById("invite-session").value || null;
  const label = document.getElementById("invite-label").value;
  const language = role === "interpreter" ? document.getElementById("invite-language").value : null;
  const error = document.getElementById("invite-error");
  error.textContent = "";
  try {
    const invite = await createInvite(token, { role, session, label, language });
    document.getElementById("invite-result").hidden = false;
    document.getElementById("invite-url").value = invite.url;
    await refreshInvites();
  } catch (err) {
    error.textContent = err instanceof ApiError ? t("admin.invite_failed") : String(err);
  }
}

async function saveCsv(table) {
  const blob = await downloadCsv(token, table, lang());
  const a = el("a", { href: URL.createObjectURL(blob), download: `halqa-${table}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
}

async function start() {
  try {
    program = await getProgram();
    await listInvites(token);
  } catch (err) {
    sessionStorage.removeItem(KEY);
    document.getElementById("login").hidden = false;
    document.getElementById("login-status").textContent =
      err instanceof ApiError && (err.status === 401 || err.status === 403) ? t("admin.bad_token") : String(err);
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("dashboard").hidden = false;
  socket = connect(token);
  socket.on("stage:update", (snap) => { stages.set(snap.session, snap); refreshLive(); });
  fillSessions();
  broadcast = mountBroadcast(document.getElementById("broadcast"), { token, program: () => program });
  await Promise.all([refreshLive(), refreshInvites(), refreshReport()]);
  setInterval(() => refreshLive().catch(() => {}), 5000);
  refreshNodes().catch(() => {});
  setInterval(() => refreshNodes().catch(() => {}), 5000);
  setInterval(() => refreshReport().catch(() => {}), 30000);
}

function main() {
  applyDocument();
  mountLanguageSwitcher(document.getElementById("languages"));
  document.addEventListener("halqa:lang", () => {
    if (!program) return;
    fillSessions();
    broadcast?.relabel();
    refreshLive(); refreshInvites(); refreshReport();
  });
  document.getElementById("invite-form").addEventListener("submit", onInvite);
  document.getElementById("invite-role").addEventListener("change", () => program && fillSessions());
  document.getElementById("csv-sessions").addEventListener("click", () => saveCsv("sessions"));
  document.getElementById("csv-countries").addEventListener("click", () => saveCsv("countries"));
  document.getElementById("login").addEventListener("submit", (e) => {
    e.preventDefault();
    token = document.getElementById("organizer-token").value.trim();
    sessionStorage.setItem(KEY, token);
    start();
  });
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromFragment) {
    sessionStorage.setItem(KEY, fromFragment);
    history.replaceState(null, "", location.pathname + location.search);
  }
  token = sessionStorage.getItem(KEY);
  if (token) start();
  else document.getElementById("login").hidden = false;
}

main();
