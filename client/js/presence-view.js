// The live viewer count of a session ("N watching · peak M").
import { onJoined, subscribe } from "./interaction.js";
import { ensureStyles, h, tr } from "./interaction-ui.js";
import { formatNumber } from "./i18n.js";

export function mountViewerCount(element, socket, sessionId) {
  ensureStyles();
  const now = h("span", { class: "viewer-count", "data-testid": "viewer-count" });
  const peak = h("span", { class: "viewer-peak muted" });
  element.append(now, " · ", peak);
  let last = null;
  const show = (d) => {
    if (typeof d?.count !== "number") return;
    last = d;
    now.textContent = tr("watching", { n: formatNumber(d.count) });
    now.dataset.count = String(d.count);
    peak.textContent = tr("peak", { n: formatNumber(d.peak) });
  };
  onJoined(socket, sessionId, show);
  document.addEventListener("halqa:lang", () => show(last));
  subscribe(socket, "presence:count", sessionId, show);
  return { element };
}
