// The moderator console (/moderate/{session}, or /moderate for event-wide
// moderators and the organizer). Phone first: one tab at a time.
import { getProgram, tokenFromFragment } from "./api.js";
import { applyDocument, dir, lang, pickText, t } from "./i18n.js";
import {
  QuestionStore, deleteChat, joinSession, leaveSession, listOnline, listSanctions,
  moderateQuestion, sanction, subscribe, updateSession,
} from "./interaction.js";
import { errorText, h, timeOf, tr } from "./interaction-ui.js";
import { connect } from "./realtime.js";
import { mountPollAdmin } from "./poll-admin-view.js";

const $ = (id) => document.getElementById(id);
const fromPath = decodeURIComponent(location.pathname.split("/")[2] ?? "");
let socket = null;
let session = null;
let store = new QuestionStore();
let offs = [];

function status(reply) {
  $("status").textContent = reply?.ok === false ? errorText(reply) : "";
  return reply;
}

function scope() {
  return $("event-wide").checked ? null : session;
}

function showTab(name) {
  for (const b of document.querySelectorAll("[data-tab]")) {
    b.setAttribute("aria-selected", String(b.dataset.tab === name));
    $(`tab-${b.dataset.tab}`).hidden = b.dataset.tab !== name;
  }
  if (name === "people") refreshPeople();
}

function drawQuestions() {
  const pending = store.list({ sort: "time", statuses: ["pending"] }).reverse();
  $("pending-count").textContent = pending.length ? String(pending.length) : "";
  const item = (q, actions) => h("li", {
    class: `question status-${q.status}${q.highlighted ? " highlighted" : ""}`, dataset: { id: q.id },
  },
  h("p", { class: "question-text", text: q.text, dir: "auto" }),
  h("p", { class: "question-meta" },
    h("span", { class: "question-author", text: q.anonymous ? tr("anonymous_author") : q.author }),
    " · ", h("span", { text: tr("votes", { n: q.votes }) }),
    q.status === "answered" ? h("span", { class: "badge answered", text: tr("answered") }) : null),
  h("p", { class: "question-actions" }, actions.map(([label, fn]) =>
    h("button", { type: "button", text: tr(label), dataset: { action: label },
      onclick: async () => status(await fn()) }))));
  const act = (q, action) => () => moderateQuestion(socket, q.id, action);
  const mute = (q) => () => sanction(socket, scope(), "mute", { question: q.id });
  $("tab-pending").firstElementChild.replaceChildren(...pending.map((q) =>
    item(q, [["approve", act(q, "approve")], ["reject", act(q, "reject")], ["mute", mute(q)]])));
  $("tab-questions").firstElementChild.replaceChildren(...store.list({ sort: "votes", statuses: ["approved", "answered"] })
    .map((q) => item(q, [
      [q.highlighted ? "unhighlight" : "highlight", act(q, q.highlighted ? "unhighlight" : "highlight")],
      ["answer", act(q, "answer")], ["reject", act(q, "reject")], ["mute", mute(q)]])));
}

function chatItem(m) {
  const target = { message: m.id };
  return h("li", { class: `chat-message role-${m.role}`, dataset: { id: m.id } },
    h("span", { class: "chat-author", text: m.author, dir: "auto" }),
    h("time", { class: "chat-time", text: timeOf(m.at) }),
    h("span", { class: "chat-text", text: m.text, dir: "auto" }),
    h("span", { class: "mod-actions" },
      h("button", { type: "button", text: tr("delete"), dataset: { action: "delete" },
        onclick: async () => status(await deleteChat(socket, m.id)) }),
      // Only participants can be muted or banned (the server refuses staff).
      m.role === "participant" && [
        h("button", { type: "button", text: tr("mute"), dataset: { action: "mute" },
          onclick: async () => status(await sanction(socket, scope(), "mute", target)) }),
        h("button", { type: "button", text: tr("ban"), dataset: { action: "ban" },
          onclick: async () => status(await sanction(socket, scope(), "ban", target)) })]));
}

async function refreshPeople() {
  if (!session) return;
  const online = await listOnline(socket, session);
  $("online").replaceChildren(...(online.online ?? []).map((p) => h("li", {},
    h("span", { text: p.name, dir: "auto" }), " ",
    h("button", { type: "button", text: tr("mute"),
      onclick: async () => status(await sanction(socket, scope(), "mute", { user: p.user })) }),
    h("button", { type: "button", text: tr("ban"),
      onclick: async () => { status(await sanction(socket, scope(), "ban", { user: p.user })); refreshPeople(); } }))));
  const list = await listSanctions(socket, session);
  $("sanctions").replaceChildren(...(list.sanctions ?? []).map((s) => h("li", {},
    h("span", { text: `${s.anonymous ? t("ix.anonymous_author") : s.name || s.user} · ${tr(s.kind)}${s.session ? "" : " · *"}`, dir: "auto" }), " ",
    h("button", { type: "button", text: tr(s.kind === "ban" ? "unban" : "unmute"),
      onclick: async () => {
        status(await sanction(socket, s.session, s.kind === "ban" ? "unban" : "unmute", { sanction: s.id }));
        refreshPeople();
      } }))));
}

function drawSettings(s) {
  for (const b of document.querySelectorAll("[data-state]")) b.setAttribute("aria-pressed", String(b.dataset.state === s.state));
  for (const b of document.querySelectorAll("[data-qa]")) b.setAttribute("aria-pressed", String(b.dataset.qa === s.qa_mode));
  $("slow-mode").value = String(s.slow_mode);
}

async function open(sessionId) {
  if (session) await leaveSession(socket, session);
  for (const off of offs) off();
  session = sessionId;
  store = new QuestionStore();
  const chatList = $("tab-chat").firstElementChild;
  const snap = status(await joinSession(socket, sessionId));
  if (!snap?.ok) return;
  if (!snap.moderator) {
    $("gate-text").textContent = errorText({ error: "forbidden" });
    $("gate").hidden = false;
    return;
  }
  store.load(snap);
  drawQuestions();
  drawSettings(snap);
  $("viewers").textContent = `${tr("watching", { n: snap.count })} · ${tr("peak", { n: snap.peak })}`;
  chatList.replaceChildren(...snap.chat.map(chatItem));
  offs = [
    subscribe(socket, "question:update", sessionId, (q) => { store.apply(q); drawQuestions(); }),
    subscribe(socket, "chat:message", sessionId, (m) => chatList.append(chatItem(m))),
    subscribe(socket, "chat:batch", sessionId, (b) => chatList.append(...b.messages.map(chatItem))),
    mountPollAdmin($("tab-polls"), socket, sessionId),
    subscribe(socket, "chat:delete", sessionId, (d) => chatList.querySelector(`[data-id="${d.id}"]`)?.remove()),
    subscribe(socket, "session:settings", sessionId, drawSettings),
    subscribe(socket, "presence:count", sessionId, (d) => {
      $("viewers").textContent = `${tr("watching", { n: d.count })} · ${tr("peak", { n: d.peak })}`;
    }),
  ];
}

function translate() {
  applyDocument();
  document.documentElement.lang = lang();
  document.documentElement.dir = dir();
  for (const el of document.querySelectorAll("[data-tr]")) el.textContent = tr(el.dataset.tr);
}

async function main() {
  translate();
  const { token } = tokenFromFragment();
  if (!token) {
    $("gate-text").textContent = tr("console.need_token");
    $("gate").hidden = false;
    return;
  }
  const program = await getProgram();
  const select = $("session-select");
  for (const s of program.sessions) select.append(h("option", { value: s.id, text: pickText(s.title) }));
  select.value = fromPath || program.sessions[0]?.id;
  select.disabled = Boolean(fromPath);
  $("scope-row").hidden = Boolean(fromPath);
  socket = connect(token);
  socket.on("connect", () => {
    $("connection").textContent = "●";
    $("controls").hidden = false;
    $("tabs").hidden = false;
    session = null;
    open(select.value).then(() => showTab(document.querySelector('[aria-selected="true"]')?.dataset.tab ?? "pending"));
  });
  socket.on("disconnect", () => { $("connection").textContent = "○"; });
  socket.on("connect_error", (err) => { $("connection").textContent = `○ ${err?.message ?? ""}`; });
  select.addEventListener("change", () => open(select.value));
  for (const b of document.querySelectorAll("[data-tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));
  for (const b of document.querySelectorAll("[data-state]"))
    b.addEventListener("click", async () => status(await updateSession(socket, session, { state: b.dataset.state })));
  for (const b of document.querySelectorAll("[data-qa]"))
    b.addEventListener("click", async () => status(await updateSession(socket, session, { qa_mode: b.dataset.qa })));
  $("slow-mode").addEventListener("change", async (ev) =>
    status(await updateSession(socket, session, { slow_mode: Number(ev.target.value) })));
}

main();
