// What the interaction views share: an element builder that only ever sets
// text (never HTML), their strings in three languages, and their stylesheet.
import { hasKey, locale, t } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function ensureStyles() {
  if (document.querySelector('link[href="/css/interaction.css"]')) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/css/interaction.css" }));
}

// The interaction views' strings live in the catalogs under "ix.".
export function tr(key, vars = {}) {
  return t(`ix.${key}`, vars);
}

export function errorText(reply) {
  const code = reply?.error ?? "timeout";
  const key = `error.${code}`;
  return hasKey(`ix.${key}`) ? tr(key, reply) : tr("error.other", { code });
}

export function timeOf(iso) {
  try {
    return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
  } catch {
    return "";
  }
}
