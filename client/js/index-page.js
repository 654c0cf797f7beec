// The landing page: the event, its program, and the registration form.
import { ApiError, defaultSession, getProgram, register, saveToken } from "./api.js";
import { applyDocument, countryName, hasKey, lang, mountLanguageSwitcher, pickText, t } from "./i18n.js";
import { renderProgram } from "./program-view.js";
import { COUNTRIES } from "./countries.js";

let program = null;

function drawEvent() {
  if (!program?.event) return;
  const name = pickText(program.event.name);
  document.title = name;
  document.getElementById("event-name").textContent = name;
  document.getElementById("event-title").textContent = name;
  document.getElementById("event-description").textContent = pickText(program.event.description);
  document.getElementById("event-zone").textContent = t("time.event_zone", { zone: program.event.timezone });
  renderProgram(document.getElementById("program"), program);
}

function fillCountries() {
  const select = document.getElementById("country");
  const chosen = select.value;
  const options = COUNTRIES.map((c) => [c, countryName(c)])
    .sort((a, b) => a[1].localeCompare(b[1], lang()));
  const first = new Option(t("register.country_choose"), "");
  select.replaceChildren(first, ...options.map(([c, n]) => new Option(n, c)));
  select.value = chosen;
}

function showErrors(fields) {
  for (const p of document.querySelectorAll("#register-form .error")) p.textContent = "";
  for (const input of document.querySelectorAll("#register-form [aria-invalid]"))
    input.removeAttribute("aria-invalid");
  for (const [name, message] of Object.entries(fields)) {
    const p = document.getElementById(`${name}-error`);
    const input = document.getElementById(name);
    // The server names the field; the words come from the catalogs.
    const key = `register.error.${name}`;
    if (p) p.textContent = hasKey(key) ? t(key) : message;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", `${name}-error`);
    }
  }
}

async function onSubmit(event) {
  event.preventDefault();
  const form = event.target;
  const status = document.getElementById("register-status");
  const button = document.getElementById("register-submit");
  const data = {
    name: form.name.value, email: form.email.value, country: form.country.value,
    organisation: form.organisation.value, language: form.language.value,
    consent: form.consent.checked,
  };
  if (form.session.value) data.session = form.session.value;
  button.disabled = true;
  status.textContent = t("register.sending");
  try {
    const result = await register(data);
    saveToken(result.token);
    showErrors({});
    status.textContent = "";
    form.hidden = true;
    const done = document.getElementById("registered");
    done.hidden = false;
    document.getElementById("access-url").value = result.access_url;
    const target = data.session ?? defaultSession(program)?.id;
    document.getElementById("go-session").href = `/session/${encodeURIComponent(target)}`;
    document.getElementById("go-session").focus();
  } catch (err) {
    if (err instanceof ApiError && err.code === "invalid") {
      showErrors(err.fields);
      status.textContent = t("register.invalid");
    } else if (err instanceof ApiError && err.code === "already_registered") {
      status.textContent = t("register.already");
    } else if (err instanceof ApiError && err.code === "rate_limited") {
      status.textContent = t("register.rate_limited");
    } else {
      status.textContent = t("register.failed");
    }
  } finally {
    button.disabled = false;
  }
}

async function main() {
  applyDocument();
  mountLanguageSwitcher(document.getElementById("languages"));
  document.getElementById("language").value = lang();
  const wanted = new URLSearchParams(location.search).get("session");
  if (wanted) document.getElementById("session").value = wanted;
  fillCountries();
  document.getElementById("register-form").addEventListener("submit", onSubmit);
  document.getElementById("copy-link").addEventListener("click", async (e) => {
    await navigator.clipboard?.writeText(document.getElementById("access-url").value);
    e.target.textContent = t("register.copied");
  });
  document.addEventListener("halqa:lang", () => { drawEvent(); fillCountries(); });
  const status = document.getElementById("program-status");
  try {
    program = await getProgram();
    status.textContent = "";
    status.hidden = true;
    drawEvent();
  } catch {
    status.textContent = t("program.error");
  }
}

main();
