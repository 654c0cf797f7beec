// The stage as viewers see it: one tile per live speaker, screen shares large.
// Draws only; the protocol is in stage.js. User text goes in via textContent.
import { watchStage } from "./stage.js";
import { ensureStylesheet, h } from "./dom.js";
import { t } from "./i18n.js";
import { createMix } from "./interpretation-mix.js";
import { mountLanguagePicker } from "./interpretation-view.js";

// `languages: false`: no picker (the interpreter's console hears the floor only).
export async function mountWatch(root, socket, sessionId, token, { languages = true } = {}) {
  ensureStylesheet("/css/stage.css");
  root.classList.add("halqa-stage");
  root.replaceChildren();
  const status = h("p", { class: "stage-status" });
  status.setAttribute("role", "status");
  const unmute = h("button", { class: "stage-unmute" }, t("stage.unmute"));
  unmute.type = "button";
  const grid = h("div", { class: "stage-grid layout-empty" });
  const waiting = h("p", { class: "stage-waiting" }, t("stage.waiting"));
  // Every sound goes through Web Audio (floor and interpretation gains).
  const mix = createMix();
  const picker = h("div", { class: "stage-languages" });
  const languagePicker = languages ? mountLanguagePicker(picker, socket, sessionId, mix) : null;
  const interpretationAudio = h("audio", { class: "stage-interpretation" });
  interpretationAudio.muted = true; // Chromium feeds Web Audio only from attached tracks
  root.append(status, unmute, picker, grid, waiting, interpretationAudio);

  // One tile per position: camera video carries the audio too; screen apart.
  const tiles = new Map();
  let muted = true;
  function tile(position) {
    if (tiles.has(position)) return tiles.get(position);
    const box = h("figure", { class: "stage-tile" });
    box.dataset.position = String(position);
    const cam = h("video", { class: "stage-camera" });
    const screen = h("video", { class: "stage-screen" });
    for (const v of [cam, screen]) {
      v.autoplay = true;
      v.playsInline = true;
      v.muted = true; // browsers only autoplay muted media; unmute is one click
    }
    const name = h("figcaption", { class: "stage-name" });
    box.append(cam, name);
    const entry = { box, cam, screen, name, camStream: new MediaStream(), screenStream: new MediaStream() };
    cam.srcObject = entry.camStream;
    screen.srcObject = entry.screenStream;
    tiles.set(position, entry);
    return entry;
  }

  function play(v) { v.play().catch(() => {}); }

  unmute.addEventListener("click", () => {
    muted = !muted;
    mix.setMuted(muted); // the videos stay muted: their audio plays through the mix
    for (const e of tiles.values()) play(e.cam);
    unmute.textContent = muted ? t("stage.unmute") : t("stage.mute");
    unmute.classList.toggle("on", !muted);
  });

  function onSlots(slots) {
    for (const { position, label, track } of slots) {
      if (label === "interpretation") {
        mix.setInterpretation(track);
        interpretationAudio.srcObject = new MediaStream([track]);
        play(interpretationAudio);
        continue;
      }
      if (label === "audio") mix.addFloor(track);
      const e = tile(position);
      const stream = label === "screen" ? e.screenStream : e.camStream;
      for (const old of stream.getTracks()) if (old.kind === track.kind) stream.removeTrack(old);
      stream.addTrack(track);
    }
  }

  function onStage(snap) {
    const live = snap.publishers ?? [];
    const sharing = live.filter((p) => p.screen);
    grid.className = "stage-grid " + (sharing.length ? "layout-screen" : live.length > 1 ? "layout-grid" : live.length ? "layout-single" : "layout-empty");
    grid.dataset.count = String(live.length);
    waiting.hidden = live.length > 0;
    const wanted = [];
    for (const p of live) {
      const e = tile(p.position);
      e.name.textContent = p.name;
      if (p.screen) {
        e.screen.classList.add("shared");
        wanted.push(e.screen);
      }
      wanted.push(e.box);
    }
    // Screens first (large), then the speakers.
    grid.replaceChildren(...wanted);
    for (const v of grid.querySelectorAll("video")) play(v);
    root.dataset.viewers = String(snap.viewers ?? 0);
    // A speaker whose packets stopped (network drop) is still on the stage
    // until they come back or time out: say so instead of a frozen picture.
    const lost = live.filter((p) => p.stalled);
    for (const p of live) tile(p.position).box.classList.toggle("stalled", !!p.stalled);
    if (lost.length) {
      status.textContent = t("stage.speaker_lost");
      root.dataset.speaker = "reconnecting";
    } else if (root.dataset.speaker === "reconnecting") {
      root.dataset.speaker = "";
      if (root.dataset.state === "connected") status.textContent = "";
    }
  }

  const labels = {
    new: t("stage.connecting"), connecting: t("stage.connecting"),
    connected: "", disconnected: t("stage.reconnecting"),
    reconnecting: t("stage.reconnecting"), failed: t("stage.reconnecting"),
  };
  const controller = await watchStage(socket, sessionId, token, {
    onSlots,
    onStage: (snap) => { onStage(snap); languagePicker?.onStage(snap); },
    onResource: (id) => languagePicker?.attach(id),
    onState: (s) => { status.textContent = labels[s] ?? ""; root.dataset.state = s; },
    onError: (err) => {
      console.warn("stage:", err.code, err.message);
      status.textContent = err.code === "stage_full"
        ? t("stage.full")
        : err.message;
      root.dataset.state = "error";
      root.dataset.error = err.code ?? "error"; // playback.js falls back to HLS on stage_full
    },
  });
  // For the end-to-end tests (the cluster test reads which process serves the
  // page from `resource`; the interpretation test listens through `mix`).
  window.halqaStage = controller;
  window.halqaMix = mix;
  controller.mix = mix;
  controller.languages = languagePicker;
  return controller;
}
