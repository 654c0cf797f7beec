// Q&A panels: the participants' (ask, vote, sort), and the speaker's (read-only:
// the highlighted question and the approved ones by votes).
import {
  QuestionStore, askQuestion, moderateQuestion, onJoined, subscribe, voteQuestion,
} from "./interaction.js";
import { ensureStyles, errorText, h, tr } from "./interaction-ui.js";

export { mountViewerCount } from "./presence-view.js";

function connectStore(socket, sessionId, redraw, onSnapshot = () => {}) {
  const store = new QuestionStore();
  onJoined(socket, sessionId, (snap) => {
    if (!snap?.ok) return;
    store.load(snap);
    onSnapshot(snap);
    redraw();
  });
  subscribe(socket, "question:update", sessionId, (q) => { store.apply(q); redraw(); });
  subscribe(socket, "question:voted", sessionId, (d) => { store.setVoted(d.question, d.up); redraw(); });
  return store;
}

function questionItem(q, store, extra = []) {
  const author = q.anonymous ? tr("anonymous_author") : q.author;
  const badges = [];
  if (q.status === "pending") badges.push(h("span", { class: "badge pending", text: tr("pending") }));
  if (q.status === "answered") badges.push(h("span", { class: "badge answered", text: tr("answered") }));
  return h("li", { class: `question status-${q.status}${q.highlighted ? " highlighted" : ""}`,
    dataset: { id: q.id, testid: "question" } },
  h("p", { class: "question-text", text: q.text, dir: "auto" }),
  h("p", { class: "question-meta" },
    h("span", { class: "question-author", text: author, dir: "auto" }), " ",
    h("span", { class: "question-votes", text: tr("votes", { n: q.votes }),
      dataset: { votes: q.votes } }), " ", badges),
  extra.length ? h("p", { class: "question-actions" }, extra) : null);
}

function nowCard(q) {
  if (!q) return null;
  return h("div", { class: "question-now", role: "status", "data-testid": "question-now" },
    h("p", { class: "now-label", text: tr("now") }),
    h("p", { class: "question-text", text: q.text, dir: "auto" }),
    h("p", { class: "question-author", text: q.anonymous ? tr("anonymous_author") : q.author }));
}

export function mountQuestions(element, socket, sessionId, me = {}) {
  ensureStyles();
  let sort = "votes";
  let moderator = false;
  const now = h("div", { class: "question-now-slot", "aria-live": "polite" });
  const list = h("ol", { class: "question-list", "data-testid": "question-list" });
  const sortButtons = ["votes", "time"].map((s) => h("button", {
    type: "button", text: tr(s === "votes" ? "by_votes" : "by_time"), "aria-pressed": String(s === sort),
    dataset: { sort: s },
    onclick: () => { sort = s; redraw(); },
  }));
  const text = h("textarea", { rows: 2, maxlength: 300, "aria-label": tr("your_question"),
    placeholder: tr("your_question"), dir: "auto", "data-testid": "question-input" });
  const anon = h("input", { type: "checkbox", "data-testid": "question-anonymous" });
  const error = h("p", { class: "form-error", role: "alert" });
  const anonLabel = h("span", { text: tr("anonymous") });
  const askButton = h("button", { type: "submit", class: "primary", text: tr("ask") });
  const form = h("form", { class: "question-form" }, text,
    h("label", { class: "check" }, anon, " ", anonLabel), askButton);
  document.addEventListener("halqa:lang", () => {
    text.placeholder = tr("your_question");
    text.setAttribute("aria-label", tr("your_question"));
    anonLabel.textContent = tr("anonymous");
    askButton.textContent = tr("ask");
    for (const b of sortButtons) b.textContent = tr(b.dataset.sort === "votes" ? "by_votes" : "by_time");
    redraw();
  });
  element.append(now, h("div", { class: "sort", role: "group" }, sortButtons), list, form, error);

  const store = connectStore(socket, sessionId, () => redraw(), (snap) => {
    moderator = Boolean(snap.moderator);
  });
  function redraw() {
    for (const b of sortButtons) b.setAttribute("aria-pressed", String(b.dataset.sort === sort));
    now.replaceChildren(...[nowCard(store.highlighted())].filter(Boolean));
    const rows = store.list({ sort }).filter((q) => q.status !== "pending" || moderator || store.mine.has(q.id));
    if (!rows.length) {
      list.replaceChildren(h("li", { class: "muted", text: tr("no_questions") }));
      return;
    }
    list.replaceChildren(...rows.map((q) => {
      const voted = store.voted.has(q.id);
      const actions = [];
      if (q.status !== "pending") {
        actions.push(h("button", { type: "button", class: "vote", "aria-pressed": String(voted),
          text: `▲ ${tr("vote")}`, "data-testid": "vote",
          onclick: async () => {
            const reply = await voteQuestion(socket, q.id, !voted);
            if (reply?.ok) { store.setVoted(q.id, reply.voted); store.apply(reply.question); redraw(); }
            else error.textContent = errorText(reply);
          } }));
      }
      if (moderator) {
        for (const action of q.status === "pending" ? ["approve", "reject"] : ["highlight", "answer"]) {
          actions.push(h("button", { type: "button", text: tr(action),
            onclick: () => moderateQuestion(socket, q.id, action) }));
        }
      }
      return questionItem(q, store, actions);
    }));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const value = text.value.trim();
    if (!value) return;
    const reply = await askQuestion(socket, sessionId, value, anon.checked);
    if (reply?.ok) {
      text.value = "";
      error.textContent = "";
      store.mine.add(reply.question.id);
      store.apply(reply.question);
      redraw();
    } else {
      error.textContent = errorText(reply);
    }
  });
  redraw();
  return { element, me };
}

// For the speaker studio: the question being answered now, large, and the
// approved questions by votes. Read-only.
export function mountSpeakerQuestions(element, socket, sessionId) {
  ensureStyles();
  const now = h("div", { class: "question-now-slot speaker", "aria-live": "polite" });
  const list = h("ol", { class: "question-list speaker", "data-testid": "speaker-questions" });
  element.append(now, list);
  const store = connectStore(socket, sessionId, () => redraw());
  document.addEventListener("halqa:lang", () => redraw());
  function redraw() {
    now.replaceChildren(...[nowCard(store.highlighted())].filter(Boolean));
    const rows = store.list({ sort: "votes", statuses: ["approved"] });
    list.replaceChildren(...(rows.length ? rows.map((q) => questionItem(q, store))
      : [h("li", { class: "muted", text: tr("no_questions") })]));
  }
  redraw();
  return { element };
}
