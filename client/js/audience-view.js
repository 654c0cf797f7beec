// The report's audience figures: live viewers on WebRTC and on HLS, replay
// viewers and watch time per session, and unique visitors of the site per day
// (counted without cookies). Draws only; admin-page.js fetches the report.
import { h } from "./dom.js";
import { formatNumber, lang, pickText, t } from "./i18n.js";

const MODES = ["webrtc", "hls", "replay"];
const minutes = (s) => formatNumber(Math.round((s ?? 0) / 60));

export function drawAudience(root, report) {
  const head = h("tr", {}, h("th", { scope: "col" }, t("admin.session")),
    ...MODES.flatMap((m) => [h("th", { scope: "col" }, t(`audience.${m}`)),
      h("th", { scope: "col" }, t("audience.minutes"))]));
  const rows = report.sessions.map((s) => h("tr", {}, h("th", { scope: "row" }, pickText(s.title)),
    ...MODES.flatMap((m) => [h("td", { class: "num" }, formatNumber(s[`${m}_viewers`] ?? 0)),
      h("td", { class: "num" }, minutes(s[`${m}_watch_seconds`]))])));
  const days = (report.visitors ?? []).map((d) => h("li", {},
    h("span", {}, new Date(`${d.day}T12:00:00Z`).toLocaleDateString(lang(), { dateStyle: "full" })),
    " — ", h("strong", {}, formatNumber(d.visitors))));
  root.replaceChildren(
    h("h3", {}, t("audience.title")),
    h("table", { class: "data" }, h("thead", {}, head), h("tbody", {}, rows)),
    h("h3", {}, t("audience.visitors")),
    h("p", { class: "muted" }, t("audience.visitors_note")),
    days.length ? h("ul", { class: "visitors" }, days) : h("p", {}, t("audience.no_visitors")));
}
