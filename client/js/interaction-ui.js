// What the interaction views share: the element builder, their strings (in
// the catalogs under "ix."), and their stylesheet.
import { ensureStylesheet, h } from "./dom.js";
import { hasKey, locale, t } from "./i18n.js";

export { h };

export const ensureStyles = () => ensureStylesheet("/css/interaction.css");

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
