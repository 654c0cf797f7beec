// The participant's poll panel: the open poll (vote, change the vote while it
// is open), its results once revealed. Screen readers hear each change
// through one polite live region.
import { onJoined, subscribe } from "./interaction.js";
import { errorText, h, tr } from "./interaction-ui.js";
import { ensureStylesheet } from "./dom.js";
import { PollStore, listPolls, votePoll } from "./poll.js";

export const ensurePollStyles = () => ensureStylesheet("/css/poll.css");

// Bars with counts and shares; one list item per option.
export function resultsList(p) {
  const voters = p.results?.voters ?? 0;
  return h("ol", { class: "poll-results", "data-testid": "poll-results" },
    p.options.map((text, i) => {
      const n = p.results?.counts?.[i] ?? 0;
      const pct = voters ? Math.round((n * 100) / voters) : 0;
      return h("li", { dataset: { count: n } },
        h("span", { class: "poll-option", text, dir: "auto" }),
        h("meter", { min: 0, max: Math.max(voters, 1), value: n, "aria-hidden": "true" }),
        h("span", { class: "poll-count", text: tr("poll.count", { n, pct }) }));
    }),
    h("li", { class: "muted", text: tr("poll.voters", { n: voters }) }));
}

// What a change means for people, in one sentence (or null: say nothing).
export function announcement(change) {
  const { poll: p, before } = change ?? {};
  if (!p) return null;
  if (p.state === "deleted") return null;
  if (p.state === "open" && before?.state !== "open") return tr("poll.said_open", { q: p.question });
  if (p.state === "closed" && before?.state === "open") return tr("poll.said_closed", { q: p.question });
  if (p.revealed && !before?.revealed) return tr("poll.said_revealed", { q: p.question });
  return null;
}

export function mountPoll(element, socket, sessionId) {
  ensurePollStyles();
  const store = new PollStore();
  const said = h("p", { class: "visually-hidden", "aria-live": "polite", "data-testid": "poll-said" });
  const body = h("div", { class: "poll-body" });
  const error = h("p", { class: "form-error", role: "alert" });
  element.append(said, body, error);
  const say = (text) => { if (text) said.textContent = text; };

  onJoined(socket, sessionId, async (snap) => {
    if (!snap?.ok) return;
    const reply = await listPolls(socket, sessionId);
    if (reply?.ok) { store.load(reply); draw(); }
  });
  subscribe(socket, "poll:update", sessionId, (p) => { say(announcement(store.apply(p))); draw(); });
  subscribe(socket, "poll:results", sessionId, (r) => { if (store.results(r)) draw(); });
  subscribe(socket, "poll:voted", sessionId, (d) => { store.setMine(d.poll, d.choices); draw(); });
  document.addEventListener("halqa:lang", () => draw());

  function draw() {
    const p = store.current();
    element.hidden = !p;
    if (!p) { body.replaceChildren(); return; }
    const mine = store.mine.get(p.id) ?? [];
    const parts = [h("p", { class: "poll-question", text: p.question, dir: "auto", id: `poll-q-${p.id}` }),
      h("p", { class: "poll-meta muted", text: [
        tr(p.state === "open" ? "poll.open" : "poll.closed"),
        p.multiple ? tr("poll.multiple") : tr("poll.single"),
        p.anonymous ? tr("poll.anonymous") : null].filter(Boolean).join(" · ") })];
    if (p.state === "open") parts.push(voteForm(p, mine));
    else if (mine.length) parts.push(h("p", { text: tr("poll.your_vote", { v: mine.map((i) => p.options[i]).join(", ") }) }));
    if (p.results) parts.push(resultsList(p));
    body.replaceChildren(...parts);
  }

  function voteForm(p, mine) {
    const type = p.multiple ? "checkbox" : "radio";
    const inputs = p.options.map((text, i) => h("input", { type, name: `poll-${p.id}`, value: i,
      checked: mine.includes(i), "data-testid": "poll-choice" }));
    const form = h("form", { class: "poll-form" },
      h("fieldset", {},
        h("legend", { class: "visually-hidden", text: p.question }),
        inputs.map((input, i) => h("label", { class: "check" }, input, " ",
          h("span", { text: p.options[i], dir: "auto" })))),
      h("button", { type: "submit", class: "primary", "data-testid": "poll-vote",
        text: tr(mine.length ? "poll.change" : "poll.vote") }),
      mine.length ? h("span", { class: "muted", text: tr("poll.voted") }) : null);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const choices = inputs.filter((x) => x.checked).map((x) => Number(x.value));
      if (!choices.length) { error.textContent = tr("poll.pick"); return; }
      const reply = await votePoll(socket, p.id, choices);
      if (reply?.ok) {
        error.textContent = "";
        store.setMine(p.id, reply.choices);
        say(tr("poll.thanks"));
        draw();
      } else {
        error.textContent = errorText(reply);
      }
    });
    return form;
  }
  draw();
  return { element, store };
}
