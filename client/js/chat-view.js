// The chat panel of a session: history on join, live messages, sending.
// All user text goes through textContent (interaction-ui.js `h`).
import { deleteChat, onJoined, sanction, sendChat, subscribe } from "./interaction.js";
import { ensureStyles, errorText, h, timeOf, tr } from "./interaction-ui.js";

const MAX_SHOWN = 200;

export function mountChat(element, socket, sessionId, me = {}) {
  ensureStyles();
  let moderator = false;
  const list = h("ol", { class: "chat-list", "aria-live": "polite", "data-testid": "chat-list" });
  const notice = h("p", { class: "chat-notice", role: "status" });
  const input = h("input", {
    type: "text", maxlength: 500, "aria-label": tr("say"), placeholder: tr("say"),
    autocomplete: "off", dir: "auto", "data-testid": "chat-input",
  });
  const error = h("p", { class: "form-error", role: "alert" });
  const sendButton = h("button", { type: "submit", class: "primary", text: tr("send") });
  const form = h("form", { class: "chat-form" }, input, sendButton);
  document.addEventListener("halqa:lang", () => {
    input.placeholder = tr("say");
    input.setAttribute("aria-label", tr("say"));
    sendButton.textContent = tr("send");
  });
  element.append(list, notice, form, error);

  const render = (m) => {
    const li = h("li", { class: `chat-message role-${m.role}`, dataset: { id: m.id } },
      h("span", { class: "chat-author", text: m.author, dir: "auto" }),
      h("time", { class: "chat-time", datetime: m.at, text: timeOf(m.at) }),
      h("span", { class: "chat-text", text: m.text, dir: "auto" }));
    if (moderator) {
      li.append(h("span", { class: "mod-actions" },
        h("button", { type: "button", text: tr("delete"), onclick: () => deleteChat(socket, m.id) }),
        m.role === "participant" && h("button", { type: "button", text: tr("mute"),
          onclick: () => sanction(socket, sessionId, "mute", { message: m.id }) })));
    }
    return li;
  };
  const add = (m) => {
    if (list.querySelector(`[data-id="${m.id}"]`)) return;
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    list.append(render(m));
    while (list.children.length > MAX_SHOWN) list.firstElementChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  };
  const showSettings = (s) => {
    const lines = [];
    if (s.state === "closed") lines.push(tr("closed"));
    if (s.slow_mode) lines.push(tr("slow", { n: s.slow_mode }));
    notice.textContent = lines.join(" ");
    input.disabled = s.state === "closed" && !moderator;
  };

  // Live messages can arrive before the join's history (the server puts us in
  // the room first): keep the newest ones to re-add after the history.
  let recent = [];
  const live = (m) => {
    recent.push(m);
    if (recent.length > MAX_SHOWN) recent = recent.slice(-MAX_SHOWN);
    add(m);
  };
  onJoined(socket, sessionId, (snap) => {
    if (!snap?.ok) {
      error.textContent = errorText(snap);
      return;
    }
    moderator = Boolean(snap.moderator);
    list.replaceChildren();
    for (const m of snap.chat) add(m);
    const last = snap.chat.length ? snap.chat[snap.chat.length - 1].id : 0;
    for (const m of recent) if (m.id > last) add(m);
    showSettings(snap);
  });
  subscribe(socket, "chat:message", sessionId, live);
  subscribe(socket, "chat:batch", sessionId, (b) => { for (const m of b.messages) live(m); });
  subscribe(socket, "chat:delete", sessionId, (d) => list.querySelector(`[data-id="${d.id}"]`)?.remove());
  subscribe(socket, "session:settings", sessionId, showSettings);
  subscribe(socket, "moderation:sanction", sessionId, (d) => {
    if (d.active) error.textContent = errorText({ error: d.kind === "ban" ? "banned" : "muted" });
    else error.textContent = "";
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const reply = await sendChat(socket, sessionId, text);
    if (reply?.ok) {
      input.value = "";
      error.textContent = "";
      add(reply.message);
    } else {
      error.textContent = errorText(reply);
    }
  });
  return { element, me };
}
