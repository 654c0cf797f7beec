// The watch page's language picker: the floor or any language on air, the
// choice remembered, "keep the floor faintly under". Draws only; the protocol
// is in interpretation.js, the audio in interpretation-mix.js.
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { FLOOR, effective, listen, liveLanguages, preferred, remember, whoAmI } from "./interpretation.js";

const FAINT_KEY = "halqa.listen.faint";

export function mountLanguagePicker(root, socket, sessionId, mix) {
  const select = h("select", { id: "listen-language" });
  const faint = h("input", { type: "checkbox", id: "listen-faint" });
  try { faint.checked = localStorage.getItem(FAINT_KEY) === "1"; } catch { /* storage disabled */ }
  const note = h("p", { class: "listen-note", role: "status", "aria-live": "polite" });
  root.append(
    h("label", { for: "listen-language" }, t("interp.listen")), select,
    h("span", { class: "listen-faint" }, faint, h("label", { for: "listen-faint" }, t("interp.faint"))),
    note,
  );
  let wish = null; // what the viewer wants; null until we know their registered language
  let live = [];
  let viewer = null;
  let told = null; // "viewer|wish" last acknowledged by the server

  const name = (code) => (code === FLOOR ? t("interp.floor") : t(`interp.lang.${code}`));

  function draw() {
    const now = effective(wish ?? FLOOR, live);
    const options = [FLOOR, ...live];
    if (select.options.length !== options.length || [...select.options].some((o, i) => o.value !== options[i])) {
      select.replaceChildren(...options.map((code) => h("option", { value: code }, name(code))));
    }
    select.value = now;
    mix.setListening(now !== FLOOR, faint.checked);
    root.dataset.hearing = now;
    note.textContent = wish && wish !== FLOOR && now === FLOOR ? t("interp.not_live", { language: name(wish) }) : "";
  }

  async function tell() {
    const key = `${viewer}|${wish}`;
    if (!viewer || wish === null || told === key) return;
    told = key;
    const reply = await listen(socket, sessionId, viewer, wish);
    if (!reply?.ok) { told = null; console.warn("interpretation:listen", reply); }
  }

  function update() { draw(); tell(); }

  select.addEventListener("change", () => { wish = select.value; remember(wish); update(); });
  faint.addEventListener("change", () => {
    try { localStorage.setItem(FAINT_KEY, faint.checked ? "1" : "0"); } catch { /* storage disabled */ }
    draw();
  });
  whoAmI(socket).then((me) => {
    if (wish === null) { wish = preferred(me?.ok ? me.language : null); update(); }
  });
  draw();

  return {
    attach(viewerId) { viewer = viewerId; told = null; update(); },
    onStage(snapshot) { live = liveLanguages(snapshot); draw(); },
    get hearing() { return effective(wish ?? FLOOR, live); },
  };
}
