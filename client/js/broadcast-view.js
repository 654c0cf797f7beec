// The dashboard's broadcast panel: one session's destinations (state, bitrate,
// uptime, last error), start/stop, automatic and recording switches, and its
// recordings. Talks to the server through api.js only.
import {
  ApiError, addDestination, broadcastAction, broadcastOptions, deleteDestination,
  deleteRecording, downloadRecording, getBroadcast, listDestinations, listRecordings,
} from "./api.js";
import { h as el } from "./dom.js";
import { formatNumber, lang, pickText, t } from "./i18n.js";

function since(iso) {
  if (!iso) return "—";
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return hms.map((n) => String(n).padStart(2, "0")).join(":");
}

function size(bytes) {
  return `${formatNumber(Math.round(bytes / 1e6))} ${t("broadcast.mb")}`;
}

export function mountBroadcast(root, { token, program }) {
  const select = root.querySelector("#broadcast-session");
  const stateEl = root.querySelector("#broadcast-state");
  const error = root.querySelector("#broadcast-error");
  const auto = root.querySelector("#broadcast-automatic");
  const record = root.querySelector("#broadcast-record");
  const destRows = root.querySelector("#destination-rows");
  const recRows = root.querySelector("#recording-rows");
  let current = null;
  let running = false;

  const known = ["invalid", "too_many_destinations", "broadcast_elsewhere", "recording_in_progress"];
  const fail = (err) => {
    if (!(err instanceof ApiError)) error.textContent = String(err);
    else if (known.includes(err.code)) error.textContent = t(`broadcast.error.${err.code}`);
    else error.textContent = t("broadcast.error.other", { message: err.message });
  };

  function fillSessions() {
    const chosen = select.value;
    select.replaceChildren(...program().sessions.map((s) => new Option(pickText(s.title), s.id)));
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
    current = select.value;
  }

  async function refresh() {
    if (!current) return;
    const id = current;
    const [status, dests, recs] = await Promise.all([
      getBroadcast(token, id), listDestinations(token, id), listRecordings(token, id)]);
    if (id !== current) return;
    running = status.state !== "stopped";
    stateEl.textContent = t(`broadcast.state.${status.state}`);
    auto.checked = status.automatic;
    record.checked = status.record;
    const live = new Map(status.destinations.map((d) => [d.id, d]));
    destRows.replaceChildren(...dests.map((d) => {
      const st = live.get(d.id) ?? { state: "stopped" };
      const remove = el("button", { type: "button" }, t("broadcast.delete"));
      remove.addEventListener("click", () =>
        deleteDestination(token, d.session ? id : null, d.id).then(refresh, fail));
      return el("tr", {},
        el("th", { scope: "row" }, d.name, d.session ? "" : el("span", { class: "muted" }, ` (${t("admin.whole_event")})`)),
        el("td", { dir: "ltr" }, `${d.url} · ${d.key}`),
        el("td", {}, t(`broadcast.out.${st.state}`), st.error ? el("div", { class: "error" }, st.error) : "",
          el("div", { class: "muted" }, t(`broadcast.audio.${d.audio ?? "floor"}`),
            st.audio_note ? ` — ${t("broadcast.audio.fallback")}` : "")),
        el("td", { class: "num" }, st.state === "live" ? `${formatNumber(Math.round(st.bitrate_kbps))} kbit/s` : "—"),
        el("td", { class: "num" }, since(st.since)),
        el("td", {}, remove));
    }));
    const rec = status.recording;
    recRows.replaceChildren(...recs.map((r) => {
      const get = el("button", { type: "button" }, t("broadcast.download"));
      get.addEventListener("click", async () => {
        try {
          const blob = await downloadRecording(token, r.url);
          const a = el("a", { href: URL.createObjectURL(blob), download: `halqa-${id}-${r.id}.ts` });
          document.body.append(a); a.click(); a.remove();
        } catch (err) { fail(err); }
      });
      const remove = el("button", { type: "button", disabled: r.state === "recording" }, t("broadcast.delete"));
      remove.addEventListener("click", () => deleteRecording(token, r.url).then(refresh, fail));
      return el("tr", {},
        el("td", {}, new Date(r.started_at).toLocaleString(lang())),
        el("td", { class: "num" }, since(new Date(Date.now() - r.duration_s * 1000).toISOString())),
        el("td", { class: "num" }, size(r.bytes)),
        el("td", {}, t(`broadcast.rec.${r.state}`), rec && rec.id === r.id && rec.error ? el("div", { class: "error" }, rec.error) : ""),
        el("td", {}, get, " ", remove));
    }));
  }

  const act = (fn) => async (event) => {
    event?.preventDefault();
    error.textContent = "";
    try { await fn(); await refresh(); } catch (err) { fail(err); }
  };

  select.addEventListener("change", () => { current = select.value; error.textContent = ""; refresh().catch(fail); });
  root.querySelector("#broadcast-start").addEventListener("click", act(() => broadcastAction(token, current, "start")));
  root.querySelector("#broadcast-stop").addEventListener("click", act(() => broadcastAction(token, current, "stop")));
  auto.addEventListener("change", act(() => broadcastOptions(token, current, { automatic: auto.checked })));
  record.addEventListener("change", act(() => broadcastOptions(token, current, { record: record.checked })));
  root.querySelector("#destination-form").addEventListener("submit", act(async () => {
    const form = root.querySelector("#destination-form");
    const body = {
      name: form.querySelector("#destination-name").value,
      url: form.querySelector("#destination-url").value,
      key: form.querySelector("#destination-key").value,
      audio: form.querySelector("#destination-audio").value,
    };
    const wide = form.querySelector("#destination-scope").value === "event";
    await addDestination(token, wide ? null : current, body);
    form.reset();
  }));

  // Every 2 s while something runs (states and bitrates move), every 15 s
  // otherwise; never two refreshes at once on a slow connection.
  const poll = async () => {
    try { await refresh(); } catch { /* the next poll tries again */ }
    setTimeout(poll, running ? 2000 : 15000);
  };
  fillSessions();
  refresh().catch(fail).finally(() => setTimeout(poll, running ? 2000 : 15000));
  return { relabel: () => { fillSessions(); refresh().catch(() => {}); } };
}
