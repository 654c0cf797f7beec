// Reactions: a bar of buttons (participants) and the overlay where everyone's
// reactions float over the video (watch page and studio). With
// prefers-reduced-motion nothing moves: a quiet tally shows the last counts.
import { ensureStylesheet } from "./dom.js";
import { errorText, h, tr } from "./interaction-ui.js";
import { REACTIONS, onReactions, sendReaction } from "./reaction.js";

const MAX_FLOATING = 12; // per reaction per tick: hundreds of reactors stay readable
const reducedMotion = () => window.matchMedia?.("(prefers-reduced-motion: reduce)").matches ?? false;
const ensureStyles = () => ensureStylesheet("/css/reaction.css");

export function mountReactionBar(element, socket, sessionId) {
  ensureStyles();
  const error = h("p", { class: "form-error", role: "alert" });
  const buttons = Object.entries(REACTIONS).map(([name, emoji]) => h("button", {
    type: "button", class: "reaction-button", "aria-label": tr(`reaction.${name}`),
    title: tr(`reaction.${name}`), dataset: { reaction: name, testid: `react-${name}` },
    text: emoji,
    onclick: async () => {
      const reply = await sendReaction(socket, sessionId, name);
      error.textContent = reply?.ok ? "" : errorText(reply);
    } }));
  const bar = h("div", { class: "reaction-bar", role: "group", "aria-label": tr("reaction.bar") }, buttons);
  document.addEventListener("halqa:lang", () => {
    bar.setAttribute("aria-label", tr("reaction.bar"));
    for (const b of buttons) {
      b.setAttribute("aria-label", tr(`reaction.${b.dataset.reaction}`));
      b.title = tr(`reaction.${b.dataset.reaction}`);
    }
  });
  element.append(bar, error);
  return { element };
}

// `container` is the element the video sits in (it gets position: relative).
export function mountReactionOverlay(container, socket, sessionId) {
  ensureStyles();
  container.classList.add("reaction-host");
  // Decorative: screen readers are not read a stream of emoji.
  const layer = h("div", { class: "reaction-layer", "aria-hidden": "true", "data-testid": "reaction-layer" });
  const tally = h("div", { class: "reaction-tally", "aria-hidden": "true", "data-testid": "reaction-tally" });
  container.append(layer, tally);
  let tallyTimer = null;
  const off = onReactions(socket, sessionId, (counts) => {
    const entries = Object.entries(counts).filter(([name, n]) => REACTIONS[name] && n > 0);
    if (!entries.length) return;
    layer.dataset.total = String(Number(layer.dataset.total ?? 0) + entries.reduce((a, [, n]) => a + n, 0));
    tally.replaceChildren(...entries.map(([name, n]) => h("span", { text: `${REACTIONS[name]} ×${n}` })));
    tally.classList.add("shown");
    clearTimeout(tallyTimer);
    tallyTimer = setTimeout(() => tally.classList.remove("shown"), 2500);
    if (reducedMotion()) return;
    for (const [name, n] of entries) {
      for (let i = 0; i < Math.min(n, MAX_FLOATING); i++) {
        const bubble = h("span", { class: "reaction-float", text: REACTIONS[name] });
        bubble.style.insetInlineStart = `${5 + Math.random() * 85}%`;
        bubble.style.animationDelay = `${Math.random() * 0.4}s`;
        bubble.addEventListener("animationend", () => bubble.remove());
        layer.append(bubble);
      }
    }
  });
  return { off };
}
