// Live-stage protocol: WHIP publishing, and watching over Socket.IO.
// No DOM code here: watch-view.js and studio-page.js draw.
//
// Watching: one RTCPeerConnection per viewer with fixed slots, three per stage
// position (audio, camera, screen), negotiated once through WHEP
// (`POST /whep/{session}?layout=stage`); Socket.IO carries `stage:update`. Slot i is position Math.floor(i / 3),
// label LABELS[i % 3]. The server points each slot at whoever holds that
// position, so speakers joining, leaving, sharing or reloading never need a
// renegotiation: the page only redraws from `stage:update`.

import { request } from "./realtime.js";

export const LABELS = ["audio", "camera", "screen"];

// The offer goes out at once, without waiting for ICE gathering: the server
// learns our address from our connectivity checks (peer-reflexive), which is
// what a browser without camera permission (mDNS candidates) needs anyway.
export async function watchStage(socket, sessionId, token, handlers = {}) {
  const emit = (fn, ...args) => { try { handlers[fn]?.(...args); } catch (e) { console.warn(e); } };
  const state = await request(socket, "stage:state", { session: sessionId });
  if (!state?.ok) throw Object.assign(new Error(state?.message ?? "stage unavailable"), { code: state?.error });
  const positions = state.stage.slots.positions;
  let pc = null;
  let resource = null;
  let closed = false;
  let retryTimer = null;
  let retries = 0;
  const slots = [];

  // Media is expected while a speaker is live and not "stalled" (a stalled
  // speaker's own network dropped: our connection is fine, nothing to redo).
  const flowingSpeaker = (snap) => (snap?.publishers ?? []).some((p) => !p.stalled);
  let live = flowingSpeaker(state.stage);
  const onUpdate = (snapshot) => {
    if (snapshot?.session !== sessionId) return;
    live = flowingSpeaker(snapshot);
    emit("onStage", snapshot);
  };
  socket.on("stage:update", onUpdate);

  function scheduleRetry(reason) {
    if (closed || retryTimer) return;
    // Quick first retries (a server restart or a speaker's new connection is
    // back in a second or two), then back off so a long outage stays cheap.
    const delay = retries === 0 ? 200 : Math.min(2000, 500 * 2 ** Math.min(retries - 1, 2));
    retries += 1;
    emit("onState", "reconnecting", reason);
    retryTimer = setTimeout(() => { retryTimer = null; open().catch((e) => scheduleRetry(e.message)); }, delay);
  }

  async function open() {
    teardown();
    const iceServers = state.ice_servers ?? [];
    const mine = new RTCPeerConnection({ iceServers });
    pc = mine;
    slots.length = 0;
    const prefs = codecPrefs();
    for (let p = 0; p < positions; p += 1) {
      for (const label of LABELS) {
        const kind = label === "audio" ? "audio" : "video";
        const t = mine.addTransceiver(kind, { direction: "recvonly" });
        // Only what the server forwards: keeps an 18-section offer small.
        if (prefs[kind].length && t.setCodecPreferences) t.setCodecPreferences(prefs[kind]);
        slots.push({ position: p, label, transceiver: t, track: t.receiver.track });
      }
    }
    // One more audio section: the interpretation slot (interpretation.js).
    const it = mine.addTransceiver("audio", { direction: "recvonly" });
    if (prefs.audio.length && it.setCodecPreferences) it.setCodecPreferences(prefs.audio);
    slots.push({ position: -1, label: "interpretation", transceiver: it, track: it.receiver.track });
    mine.addEventListener("connectionstatechange", () => {
      if (pc !== mine) return;
      const s = mine.connectionState;
      emit("onState", s);
      if (s === "connected") retries = 0;
      // aiortc cannot restart ICE in place, so a network change or a lost
      // server means a fresh connection; the server frees the old one.
      if (s === "failed" || s === "closed") scheduleRetry(s);
      if (s === "disconnected") setTimeout(() => { if (pc === mine && mine.connectionState === "disconnected") scheduleRetry(s); }, 1500);
    });
    const offer = await mine.createOffer();
    await mine.setLocalDescription(offer);
    // An 18-section offer is ~20-30 KB: too big for a Socket.IO message,
    // fine for the WHEP endpoint, which takes `?layout=stage` for these slots.
    let answer;
    try {
      ({ location: resource, answer } = await postOffer(
        `/whep/${encodeURIComponent(sessionId)}?layout=stage`, token, mine.localDescription.sdp));
    } catch (err) {
      if (pc !== mine) return;
      if (err.status === undefined) throw err; // unreachable: the retry loop takes it
      emit("onError", { code: err.code, message: err.message });
      if (err.status === 401 || err.status === 403) { closed = true; return; }
      throw err;
    }
    if (pc !== mine) return;
    await mine.setRemoteDescription({ type: "answer", sdp: answer });
    emit("onSlots", slots.map(({ position, label, track }) => ({ position, label, track })));
    emit("onResource", resource.split("/").pop()); // this viewer's id, for interpretation:listen
    const fresh = await request(socket, "stage:state", { session: sessionId });
    if (fresh?.ok) { live = fresh.stage.publishers?.length > 0; emit("onStage", fresh.stage); }
  }

  function codecPrefs() {
    const pick = (kind, re) => (RTCRtpReceiver.getCapabilities?.(kind)?.codecs ?? []).filter((c) => re.test(c.mimeType)
      && (!/h264/i.test(c.mimeType) || /packetization-mode=1/.test(c.sdpFmtpLine ?? "")));
    return { audio: pick("audio", /opus/i), video: pick("video", /vp8|h264|rtx/i) };
  }

  function teardown() {
    if (pc) {
      const old = pc;
      pc = null;
      old.close();
      if (resource) {
        fetch(resource, { method: "DELETE", headers: { Authorization: `Bearer ${token}` }, keepalive: true })
          .catch(() => {});
      }
      resource = null;
    }
  }

  // A network change (Wi-Fi to cellular) means new addresses: reconnect.
  const onHide = () => teardown();
  window.addEventListener("pagehide", onHide);
  const onOnline = () => { if (!closed) { retries = 0; scheduleRetry("network"); } };
  window.addEventListener("online", onOnline);
  // The socket came back: the server may have restarted (its peer
  // connections are gone even if ours still says "connected" for a few
  // seconds), so reopen unless media is demonstrably still flowing.
  const onReconnect = async () => {
    if (closed) return;
    const fresh = await request(socket, "stage:state", { session: sessionId });
    if (fresh?.ok) { state.ice_servers = fresh.ice_servers; emit("onStage", fresh.stage); }
    if (pc?.connectionState === "connected" && await flowing()) return;
    retries = 0;
    clearTimeout(retryTimer);
    retryTimer = null;
    scheduleRetry("socket");
  };
  socket.on("connect", onReconnect);

  // The process serving our media may die while our peer connection still
  // says "connected" for seconds (and our socket may be on another process,
  // so nothing else tells us). While a speaker is live, media that stopped
  // flowing for STALL_MS means that: open a new connection at once; the WHEP
  // request reaches a live process through the proxy.
  const STALL_MS = 900;
  let seen = { pc: null, bytes: 0, at: 0 };
  const watchdog = setInterval(async () => {
    const mine = pc;
    if (closed || !mine || retryTimer || mine.connectionState !== "connected") return;
    let bytes = 0;
    (await mine.getStats()).forEach((r) => { if (r.type === "inbound-rtp") bytes += r.bytesReceived || 0; });
    const now = performance.now();
    if (seen.pc !== mine || bytes !== seen.bytes) { seen = { pc: mine, bytes, at: now }; return; }
    // Armed only once this connection has received media (a new one waits for a keyframe).
    if (live && bytes > 0 && now - seen.at > STALL_MS && pc === mine) {
      seen = { pc: null, bytes: 0, at: 0 };
      retries = 0;
      emit("onState", "reconnecting", "stalled");
      open().catch((e) => scheduleRetry(e.message));
    }
  }, 300);

  // Bytes received in the last second, on any slot.
  async function flowing() {
    const total = async () => {
      let n = 0;
      if (!pc) return n;
      (await pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp") n += r.bytesReceived || 0; });
      return n;
    };
    const before = await total();
    await new Promise((r) => setTimeout(r, 1000));
    return (await total()) > before;
  }

  await open().catch((e) => scheduleRetry(e.message));
  return {
    get pc() { return pc; },
    // The WHEP resource (its id names the process serving this page's media).
    get resource() { return resource; },
    slots,
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(watchdog);
      socket.off("stage:update", onUpdate);
      socket.off("connect", onReconnect);
      window.removeEventListener("online", onOnline);
      window.removeEventListener("pagehide", onHide);
      teardown();
    },
  };
}

// WHIP (RFC 9725) publishing, as any third-party encoder would do it.
// Transceivers: audio, camera, and a screen slot that stays empty until
// shareScreen() — replaceTrack needs no renegotiation (WHIP has none).
export async function publish(sessionId, token, { audio, video, iceServers = [] }) {
  const pc = new RTCPeerConnection({ iceServers });
  pc.addTransceiver(audio ?? "audio", { direction: "sendonly" });
  pc.addTransceiver(video ?? "video", { direction: "sendonly" });
  const screen = pc.addTransceiver("video", { direction: "sendonly" });
  await pc.setLocalDescription(await pc.createOffer());
  let location, answer;
  try {
    ({ location, answer } = await postOffer(`/whip/${encodeURIComponent(sessionId)}`, token, pc.localDescription.sdp));
  } catch (err) {
    pc.close(); // refused or unreachable: the caller retries with a new one
    throw err;
  }
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  const release = releaseOnLeave(pc, location, token);
  return {
    pc,
    location,
    shareScreen: (track) => screen.sender.replaceTrack(track ?? null),
    replaceCamera: (track) => pc.getSenders()[1].replaceTrack(track),
    replaceAudio: (track) => pc.getSenders()[0].replaceTrack(track),
    stop: release,
  };
}

// POST an SDP offer to a WHIP or WHEP endpoint (RFC 9725). Resolves to the
// answer and the resource URL; a refusal rejects with the server's `code` and
// the HTTP `status` (a network failure rejects without a status).
export async function postOffer(url, token, sdp) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${token}` },
    body: sdp,
  });
  if (res.status !== 201) {
    let err = { code: `http_${res.status}`, message: res.statusText };
    try { err = (await res.json()).error ?? err; } catch { /* not JSON */ }
    throw Object.assign(new Error(err.message), { code: err.code, status: res.status });
  }
  return { location: res.headers.get("Location"), answer: await res.text() };
}

// A published resource is DELETEd when the page goes (reload, close), which
// frees its stage position at once; the returned function stops it by hand.
export function releaseOnLeave(pc, location, token) {
  const auth = { Authorization: `Bearer ${token}` };
  const onHide = () => { fetch(location, { method: "DELETE", headers: auth, keepalive: true }).catch(() => {}); };
  window.addEventListener("pagehide", onHide);
  return async () => {
    window.removeEventListener("pagehide", onHide);
    pc.close();
    await fetch(location, { method: "DELETE", headers: auth }).catch(() => {});
  };
}

// Moderators choose who is on air (what WHEP players get). The wire event keeps
// its first name, stage:program.
export function putOnAir(socket, sessionId, publisherId) {
  return request(socket, "stage:program", { session: sessionId, publisher: publisherId });
}
