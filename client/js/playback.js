// What the viewer watches: the real-time stage (WebRTC, watch-view.js), the
// live HLS stream when WebRTC cannot be had, or the replay after the session.
// Draws and decides; the protocols are in stage.js and hls-client.js.
//
// Falls back to HLS, in the same page, when the stage answers 503 stage_full,
// when the connection fails, or when it is not connected within
// CONNECT_TIMEOUT_MS; the viewer can go back to real time with one click, or
// choose the lighter HLS stream themselves. Chat and Q&A are other panels on
// the same socket: they carry on whatever plays here.
import { mountWatch } from "./watch-view.js";
import * as hls from "./hls-client.js";
import { ensureStylesheet, h } from "./dom.js";
import { t } from "./i18n.js";

const CONNECT_TIMEOUT_MS = 6000;

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

export async function mountPlayback(stageRoot, socket, session, token, me = {}) {
  ensureStylesheet("/css/hls.css");
  const sessionId = session.id;
  const video = h("video", { class: "hls-video", controls: true, playsinline: true, "aria-label": t("hls.video") });
  video.muted = true; // autoplay needs it; the controls unmute
  const note = h("p", { class: "hls-note", role: "status" });
  const retry = h("button", { type: "button", class: "hls-retry" }, t("hls.retry"));
  const lighter = h("button", { type: "button", class: "hls-lighter" }, t("hls.low_bandwidth"));
  const extra = h("div", { class: "hls-extra" });
  const box = h("section", { class: "hls-view", hidden: true }, note, video, retry, extra);
  stageRoot.after(box, lighter);

  let mode = null; // "webrtc" | "hls" | "replay"
  const history = []; // every mode taken, in order (tests and debugging)
  const enter = (m) => { mode = m; history.push(m); };
  let controller = null; // the WebRTC watch (watch-view.js)
  let player = null; // the HLS player (hls-client.js)
  let timer = null;
  let observer = null;
  let generation = 0; // a newer choice cancels what an older one scheduled

  function stopWebrtc() {
    clearTimeout(timer);
    observer?.disconnect();
    observer = null;
    controller?.close();
    controller = null;
  }

  function stopHls() {
    player?.destroy();
    player = null;
  }

  async function startWebrtc() {
    const mine = ++generation;
    stopHls();
    enter("webrtc");
    box.hidden = true;
    stageRoot.hidden = false;
    lighter.hidden = false;
    delete stageRoot.dataset.error;
    // The stage's own page draws errors and states on its root; watch them.
    observer = new MutationObserver(() => {
      if (mine !== generation) return;
      if (stageRoot.dataset.error === "stage_full") fallBack("full");
      else if (stageRoot.dataset.state === "failed") fallBack("failed");
      else if (stageRoot.dataset.state === "connected") clearTimeout(timer);
    });
    observer.observe(stageRoot, { attributes: true, attributeFilter: ["data-state", "data-error"] });
    // Not connected in time: HLS, if it is there (else keep waiting for WebRTC).
    const slow = async () => {
      if (mine !== generation || stageRoot.dataset.state === "connected") return;
      // Nobody on stage yet: there is no HLS either; keep waiting for WebRTC.
      const onStage = Number(stageRoot.querySelector(".stage-grid")?.dataset.count ?? 0);
      if (!onStage && !session.live) { timer = setTimeout(slow, CONNECT_TIMEOUT_MS); return; }
      const live = await hls.getLive(sessionId, token).catch(() => null);
      if (mine !== generation || stageRoot.dataset.state === "connected") return;
      if (live) fallBack("slow", { live });
      else timer = setTimeout(slow, CONNECT_TIMEOUT_MS);
    };
    timer = setTimeout(slow, CONNECT_TIMEOUT_MS);
    try {
      const c = await mountWatch(stageRoot, socket, sessionId, token);
      if (mine !== generation) { c?.close(); return; }
      controller = c;
    } catch (err) {
      console.warn("stage unavailable", err);
      if (mine === generation) fallBack("failed");
    }
  }

  function fallBack(reason, { lowBandwidth = false, live = null } = {}) {
    if (mode === "hls" && !lowBandwidth) return;
    stopWebrtc();
    stopHls();
    const mine = ++generation;
    enter("hls");
    stageRoot.hidden = true;
    lighter.hidden = true;
    box.hidden = false;
    retry.hidden = false;
    box.dataset.reason = reason;
    extra.replaceChildren(h("p", { class: "hls-reason" }, t(`hls.reason.${reason}`)));
    playLive(mine, lowBandwidth, live);
  }

  async function playLive(mine, lowBandwidth, known = null) {
    let live = known;
    try {
      live ??= await hls.getLive(sessionId, token);
    } catch (err) {
      if (mine !== generation) return;
      const starting = err.code === "hls_starting";
      note.textContent = t(starting ? "hls.starting" : "hls.not_live");
      setTimeout(() => { if (mine === generation) playLive(mine, lowBandwidth); }, starting ? 2000 : 5000);
      return;
    }
    if (mine !== generation) return;
    try {
      player = await hls.attach(video, live.url, { lowBandwidth });
      note.textContent = t("hls.behind");
    } catch {
      note.textContent = t("hls.unsupported");
    }
  }

  function showReplay(replay) {
    ++generation;
    enter("replay");
    stageRoot.hidden = true;
    lighter.hidden = true;
    retry.hidden = true;
    box.hidden = false;
    box.classList.add("replay");
    video.setAttribute("aria-label", t("replay.video"));
    note.textContent = t("replay.title");
    const items = replay.questions.map((q) => {
      const when = q.offset_s ?? null;
      const jump = when === null ? null : h("button", {
        type: "button", class: "replay-jump", "aria-label": t("replay.jump", { time: clock(when) }),
        onclick: () => { video.currentTime = when; video.play().catch(() => {}); },
      }, clock(when));
      return h("li", { class: "replay-question" }, jump, h("span", { class: "replay-text" }, q.text),
        q.author ? h("span", { class: "replay-author" }, ` — ${q.author}`) : null);
    });
    const parts = [h("h2", {}, t("replay.answered")),
      items.length ? h("ol", { class: "replay-questions" }, items) : h("p", {}, t("replay.none"))];
    if (me.role === "organizer") parts.unshift(publishToggle(replay.published));
    else if (replay.published === false) parts.unshift(h("p", { class: "replay-hidden" }, t("replay.hidden")));
    extra.replaceChildren(...parts);
    hls.attach(video, replay.url, { live: false }).then((p) => { player = p; })
      .catch(() => { note.textContent = t("hls.unsupported"); });
  }

  function publishToggle(published) {
    const label = () => t(published ? "replay.hide" : "replay.publish");
    const state = h("p", { class: "replay-hidden", hidden: published }, t("replay.hidden"));
    const button = h("button", { type: "button", class: "replay-publish" }, label());
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        published = (await hls.setReplayPublished(sessionId, token, !published)).published;
        button.textContent = label();
        state.hidden = published;
      } finally {
        button.disabled = false;
      }
    });
    return h("div", { class: "replay-admin" }, state, button);
  }

  retry.addEventListener("click", () => startWebrtc());
  lighter.addEventListener("click", () => fallBack("chosen", { lowBandwidth: true }));

  // Count watch time in the mode that really plays (the report's figures).
  let lastTime = -1;
  const beats = hls.beatWhilePlaying(sessionId, token, () => mode, () => {
    if (mode === "webrtc") {
      const grid = stageRoot.querySelector(".stage-grid");
      return stageRoot.dataset.state === "connected" && Number(grid?.dataset.count ?? 0) > 0;
    }
    const advancing = !video.paused && video.currentTime !== lastTime;
    lastTime = video.currentTime;
    return advancing;
  });

  const api = {
    get mode() { return mode; },
    history,
    get player() { return player; },
    get controller() { return controller; },
    video,
    fallBack,
    startWebrtc,
    close() { ++generation; beats.stop(); stopWebrtc(); stopHls(); },
  };
  // For the end-to-end tests and for debugging from the console.
  window.halqaPlayback = api;

  // After the session: its replay, when there is one; otherwise the stage.
  let replay = null;
  if (!session.live && session.replay) {
    try { replay = await hls.getReplay(sessionId, token); } catch { replay = null; }
  }
  if (replay) showReplay(replay);
  else await startWebrtc();
  return api;
}
