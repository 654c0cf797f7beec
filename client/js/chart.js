// A small accessible SVG bar chart: horizontal bars, labels on the start side
// (mirrored for right-to-left pages), the figures written out for screen readers.
import { dir, formatNumber } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function barChart(title, rows) {
  const bar = 22, gap = 8, labelW = 230, width = 640, valueW = 60;
  const height = rows.length * (bar + gap) + gap;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rtl = dir() === "rtl";
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart" });
  root.append(svg("title", {}, title));
  root.append(svg("desc", {}, rows.map((r) => `${r.label}: ${formatNumber(r.value)}`).join("; ")));
  rows.forEach((r, i) => {
    const y = gap + i * (bar + gap);
    const w = ((width - labelW - valueW) * r.value) / max;
    const label = svg("text", {
      x: rtl ? width - 4 : 4, y: y + bar * 0.7, "text-anchor": "start", class: "chart-label",
    }, r.label.length > 32 ? `${r.label.slice(0, 31)}…` : r.label);
    if (rtl) label.setAttribute("direction", "rtl");
    const x = rtl ? width - labelW - w : labelW;
    root.append(label, svg("rect", { x, y, width: Math.max(w, 1), height: bar, rx: 3, class: "chart-bar" }));
    root.append(svg("text", {
      x: rtl ? x - 6 : x + w + 6, y: y + bar * 0.7, "text-anchor": rtl ? "end" : "start",
      class: "chart-value",
    }, formatNumber(r.value)));
  });
  return root;
}
