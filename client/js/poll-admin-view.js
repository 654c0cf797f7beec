// Running a session's polls (moderator console and speaker studio): prepare,
// open, reveal, close, delete; live results. The server checks the role.
import { onJoined, subscribe } from "./interaction.js";
import { errorText, h, tr } from "./interaction-ui.js";
import { PollStore, createPoll, listPolls, pollAction } from "./poll.js";
import { announcement, ensurePollStyles, resultsList } from "./poll-view.js";

const MAX_OPTIONS = 6;

export function mountPollAdmin(element, socket, sessionId) {
  ensurePollStyles();
  const store = new PollStore();
  const said = h("p", { class: "visually-hidden", "aria-live": "polite" });
  const error = h("p", { class: "form-error", role: "alert" });
  const question = h("input", { type: "text", maxlength: 300, dir: "auto", "data-testid": "poll-question" });
  const options = Array.from({ length: MAX_OPTIONS }, (_, i) => h("input", {
    type: "text", maxlength: 100, dir: "auto", "data-testid": "poll-option", dataset: { i } }));
  const multiple = h("input", { type: "checkbox", "data-testid": "poll-multiple" });
  const anonymous = h("input", { type: "checkbox", "data-testid": "poll-anonymous" });
  const labels = {};
  const label = (key, ...children) => {
    const span = h("span", { text: tr(key) });
    (labels[key] ??= []).push(span);
    return h("label", { class: "poll-field" }, span, ...children);
  };
  const create = h("button", { type: "submit", class: "primary", text: tr("poll.create"), "data-testid": "poll-create" });
  const form = h("form", { class: "poll-create" },
    label("poll.question", question),
    options.map((o, i) => h("label", { class: "poll-field" },
      h("span", { text: `${i + 1}.` }), o)),
    h("p", { class: "control-row" }, label("poll.multiple", multiple), label("poll.anonymous", anonymous)),
    create);
  const list = h("ol", { class: "poll-admin-list", "data-testid": "poll-admin-list" });
  element.append(said, list, form, error);

  const offs = [
    onJoined(socket, sessionId, async (snap) => {
      if (!snap?.ok) return;
      const reply = await listPolls(socket, sessionId);
      if (reply?.ok) { store.load(reply); draw(); }
    }),
    subscribe(socket, "poll:update", sessionId, (p) => { said.textContent = announcement(store.apply(p)) ?? said.textContent; draw(); }),
    subscribe(socket, "poll:results", sessionId, (r) => { if (store.results(r)) draw(); }),
  ];
  const onLang = () => {
    for (const [key, spans] of Object.entries(labels)) for (const s of spans) s.textContent = tr(key);
    create.textContent = tr("poll.create");
    draw();
  };
  document.addEventListener("halqa:lang", onLang);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const texts = options.map((o) => o.value.trim()).filter(Boolean);
    const reply = await createPoll(socket, sessionId, question.value, texts,
      { multiple: multiple.checked, anonymous: anonymous.checked });
    if (reply?.ok) {
      error.textContent = "";
      question.value = "";
      for (const o of options) o.value = "";
      store.apply(reply.poll);
      draw();
    } else {
      error.textContent = errorText(reply);
    }
  });

  const act = (p, action) => h("button", { type: "button", text: tr(`poll.${action}_action`),
    dataset: { action, testid: `poll-${action}` },
    onclick: async () => {
      const reply = await pollAction(socket, p.id, action);
      error.textContent = reply?.ok ? "" : errorText(reply);
    } });

  function draw() {
    const polls = store.list();
    if (!polls.length) {
      list.replaceChildren(h("li", { class: "muted", text: tr("poll.none") }));
      return;
    }
    list.replaceChildren(...polls.map((p) => {
      const actions = [];
      if (p.state === "draft") actions.push(act(p, "open"), act(p, "delete"));
      if (p.state === "open") actions.push(act(p, "close"));
      if (p.state !== "draft" && !p.revealed) actions.push(act(p, "reveal"));
      return h("li", { class: `poll-admin state-${p.state}`, dataset: { id: p.id } },
        h("p", { class: "poll-question", text: p.question, dir: "auto" }),
        h("p", { class: "poll-meta muted", text: [tr(`poll.state_${p.state}`),
          p.revealed ? tr("poll.revealed") : null, p.multiple ? tr("poll.multiple") : null,
          p.anonymous ? tr("poll.anonymous") : null].filter(Boolean).join(" · ") }),
        resultsList(p),
        h("p", { class: "question-actions" }, actions));
    }));
  }
  draw();
  return () => {
    for (const off of offs) off();
    document.removeEventListener("halqa:lang", onLang);
    element.replaceChildren();
  };
}
