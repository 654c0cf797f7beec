// HLS protocol module: the signed URLs, the player beats, hls.js. No DOM code
// here beyond the <video> element it is handed (playback.js draws).
//
// GET /api/sessions/{id}/hls and /replay return a URL that needs no headers;
// hls.js (vendored from npm, /vendor/hls.js/) plays it where Media Source
// Extensions exist, Safari plays it natively.
import { api } from "./api.js";

const path = (id, what) => `/api/sessions/${encodeURIComponent(id)}/${what}`;

export const getLive = (id, token) => api(path(id, "hls"), { token });
export const getReplay = (id, token) => api(path(id, "replay"), { token });
export const setReplayPublished = (id, token, published) =>
  api(path(id, "replay"), { method: "PUT", body: { published }, token });

// One beat says "this participant watched in this mode since the last beat";
// the server does the arithmetic (docs/protocol.md, POST .../watch).
export const BEAT_MS = 30_000;
export function beat(id, token, mode) {
  return api(path(id, "watch"), { method: "POST", body: { mode }, token }).catch(() => null);
}

// Beats every BEAT_MS while `playing()` says so, in the mode `mode()` names.
export function beatWhilePlaying(id, token, mode, playing) {
  let last = null;
  const tick = () => {
    const m = mode();
    if (m && playing()) { beat(id, token, m); last = m; } else { last = null; }
  };
  const first = setTimeout(tick, 2000); // a first beat soon: the viewer is counted at once
  const timer = setInterval(tick, BEAT_MS);
  return { stop() { clearTimeout(first); clearInterval(timer); }, get mode() { return last; } };
}

let hlsModule = null;
async function loadHls() {
  hlsModule ??= import("/vendor/hls.js/hls.light.min.mjs").then((m) => m.default);
  return hlsModule;
}

// Plays `url` in `video`. `lowBandwidth` keeps the player on the lightest
// rendition; otherwise it adapts on its own. Returns { destroy }.
export async function attach(video, url, { lowBandwidth = false, live = true } = {}) {
  const Hls = await loadHls().catch(() => null);
  if (Hls?.isSupported()) {
    const hls = new Hls({
      enableWorker: false, // the page's CSP allows no blob: workers
      // 3 s behind the newest complete segment (about 5 s glass-to-screen with
      // 2 s segments, bench/RESULTS.md); past 7 s it plays slightly faster to
      // catch up rather than stay behind for good.
      liveSyncDuration: 3,
      liveMaxLatencyDuration: 7,
      maxLiveSyncPlaybackRate: 1.15,
      startLevel: lowBandwidth ? 0 : -1,
      capLevelToPlayerSize: !lowBandwidth,
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      if (lowBandwidth) {
        hls.autoLevelCapping = 0;
        hls.currentLevel = 0;
      }
      video.play().catch(() => {});
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) setTimeout(() => hls.startLoad(), 1000);
      else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    return { destroy: () => hls.destroy(), engine: "hls.js", get levels() { return hls.levels; } };
  }
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
    video.play().catch(() => {});
    return { destroy: () => { video.removeAttribute("src"); video.load(); }, engine: "native", levels: [] };
  }
  throw Object.assign(new Error("HLS is not supported by this browser"), { code: "unsupported", live });
}
