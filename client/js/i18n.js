// Language, direction and formatting. Every visible string comes from the
// catalogs in /i18n/; dates and numbers use Intl in the chosen language.
import fr from "/i18n/fr.js";
import ar from "/i18n/ar.js";
import en from "/i18n/en.js";

const CATALOGS = { fr, ar, en };
export const LANGUAGES = ["fr", "ar", "en"];
const KEY = "halqa.lang";

function pick() {
  const fromUrl = new URLSearchParams(location.search).get("lang");
  if (LANGUAGES.includes(fromUrl)) {
    localStorage.setItem(KEY, fromUrl);
    return fromUrl;
  }
  const saved = localStorage.getItem(KEY);
  if (LANGUAGES.includes(saved)) return saved;
  const nav = (navigator.language || "fr").slice(0, 2);
  return LANGUAGES.includes(nav) ? nav : "fr";
}

let current = pick();

export const lang = () => current;
export const dir = () => (current === "ar" ? "rtl" : "ltr");

export const hasKey = (key) => key in CATALOGS.en;

export function t(key, vars = {}) {
  const text = CATALOGS[current][key] ?? CATALOGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

// A text in the current language from a {fr, ar, en} object, with fallbacks.
export function pickText(texts) {
  if (!texts) return "";
  return texts[current] ?? texts.fr ?? texts.en ?? Object.values(texts)[0] ?? "";
}

export function applyDocument(root = document) {
  document.documentElement.lang = current;
  document.documentElement.dir = dir();
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]"))
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]"))
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
}

export function setLang(code) {
  if (!LANGUAGES.includes(code)) return;
  current = code;
  localStorage.setItem(KEY, code);
  const url = new URL(location.href);
  url.searchParams.set("lang", code);
  history.replaceState(null, "", url);
  applyDocument();
  document.dispatchEvent(new CustomEvent("halqa:lang", { detail: code }));
}

export function mountLanguageSwitcher(el) {
  el.replaceChildren();
  const names = { fr: "Français", ar: "العربية", en: "English" };
  for (const code of LANGUAGES) {
    const b = document.createElement("button");
    b.type = "button";
    b.lang = code;
    b.textContent = names[code];
    b.setAttribute("aria-pressed", String(code === current));
    b.addEventListener("click", () => {
      setLang(code);
      for (const x of el.children) x.setAttribute("aria-pressed", String(x.lang === current));
    });
    el.append(b);
  }
}

// ar-MA writes Western Arabic digits, as Moroccan print does.
export const locale = () => ({ fr: "fr-FR", ar: "ar-MA", en: "en-GB" })[current];

// The event's wall-clock time, read from the ISO string's own fields. The
// server computed it with the event's time-zone rules; browsers' zone data can
// disagree (Chromium puts Africa/Casablanca at UTC+0 in Dec 2026, tzdata at +01).
export function formatEventTime(iso) {
  const [, y, mo, d, h, mi] = iso.match(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/);
  const wall = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi));
  return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", timeZone: "UTC" })
    .format(wall);
}

// The same instant in another zone (the viewer's own, by default).
export function formatTime(iso, timeZone) {
  return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", timeZone })
    .format(new Date(iso));
}

// A calendar day (YYYY-MM-DD, already in the event's zone).
export function formatDay(isoDate) {
  return new Intl.DateTimeFormat(locale(), {
    weekday: "long", day: "numeric", month: "long", timeZone: "UTC",
  }).format(new Date(`${isoDate}T12:00:00Z`));
}

export function formatNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

export function countryName(code) {
  try {
    return new Intl.DisplayNames([locale()], { type: "region" }).of(code) ?? code;
  } catch {
    return code;
  }
}
