// The speaker studio: pick devices, preview, go live over WHIP, share a screen.
import { getSession, tokenFromFragment } from "./api.js";
import { applyDocument, formatNumber, mountLanguageSwitcher, pickText, t } from "./i18n.js";
import { joinSession } from "./interaction.js";
import { connect, request } from "./realtime.js";
import { mountPollAdmin } from "./poll-admin-view.js";
import { mountSpeakerQuestions } from "./questions-view.js";
import { mountReactionOverlay } from "./reaction-view.js";
import { publish } from "./stage.js";

const $ = (id) => document.getElementById(id);
const sessionId = decodeURIComponent(location.pathname.split("/").pop());
const { token } = tokenFromFragment();
let media = null; // camera + microphone stream
let live = null; // the publish() handle
let screenTrack = null;

function say(id, text) { $(id).textContent = text ?? ""; }

function showWatchers(n) {
  $("watchers").dataset.count = String(n);
  say("watchers", t("program.watching", { count: formatNumber(n) }));
}

const CONNECTION = ["new", "connecting", "connected", "disconnected", "failed", "closed", "reconnecting"];
function showConnection(state) {
  say("conn", CONNECTION.includes(state) ? t(`studio.conn.${state}`) : "");
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [id, kind] of [["camera", "videoinput"], ["mic", "audioinput"]]) {
    const select = $(id);
    const current = select.value;
    select.replaceChildren();
    for (const d of devices.filter((x) => x.kind === kind)) {
      const opt = document.createElement("option");
      opt.value = d.deviceId;
      opt.textContent = d.label || kind; // device labels are user-ish text
      select.append(opt);
    }
    if (current) select.value = current;
  }
}

async function openDevices() {
  const cam = $("camera").value;
  const mic = $("mic").value;
  const next = await navigator.mediaDevices.getUserMedia({
    video: { deviceId: cam ? { exact: cam } : undefined, width: 640, height: 360, frameRate: 30 },
    audio: mic ? { deviceId: { exact: mic } } : true,
  });
  const old = media;
  media = next;
  $("preview").srcObject = media;
  if (live) {
    await live.replaceCamera(media.getVideoTracks()[0]);
    await live.replaceAudio(media.getAudioTracks()[0]);
  }
  for (const tr of old?.getTracks() ?? []) tr.stop();
}

function setLive(on) {
  $("live-badge").hidden = !on;
  $("golive").disabled = on;
  for (const id of ["stop", "mute", "camoff", "share"]) $(id).disabled = !on;
}

// Self-healing: once the speaker pressed "go live", the studio keeps them on
// air until they press "stop". A lost connection (network change, the server
// restarting) is re-published on a new WHIP resource; the server gives a
// speaker's new connection their old position, so viewers resume by
// themselves. No reload needed.
let wantLive = false;
let retryTimer = null;
let attempts = 0;
let liveSince = 0;

function setState(s) {
  showConnection(s);
  document.body.dataset.state = s ?? "";
}

async function goLive() {
  say("error", "");
  wantLive = true;
  $("golive").disabled = true;
  await connectMedia();
}

async function connectMedia() {
  if (!wantLive) return;
  clearTimeout(retryTimer);
  retryTimer = null;
  const old = live;
  live = null;
  old?.stop().catch(() => {}); // frees the old resource if the server still holds it
  try {
    const handle = await publish(sessionId, token, {
      audio: media.getAudioTracks()[0], video: media.getVideoTracks()[0],
    });
    if (!wantLive) { await handle.stop(); return; }
    live = handle;
    liveSince = Date.now();
    if (screenTrack) await handle.shareScreen(screenTrack);
    handle.pc.addEventListener("connectionstatechange", () => onMediaState(handle));
    setLive(true);
    setState(handle.pc.connectionState);
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      // Refused for good (revoked, not this session's speaker): stop trying.
      wantLive = false;
      say("error", err.message);
      setLive(false);
      setState("closed");
      return;
    }
    reconnectLater(err.message);
  }
}

function onMediaState(handle) {
  if (handle !== live) return;
  const s = handle.pc.connectionState;
  setState(s);
  if (s === "connected") { attempts = 0; say("error", ""); }
  if (s === "failed" || s === "closed") reconnectLater(t("studio.lost"));
  if (s === "disconnected") {
    setTimeout(() => {
      if (live === handle && handle.pc.connectionState === "disconnected") reconnectLater(t("studio.lost"));
    }, 1500);
  }
}

function reconnectLater(reason) {
  if (!wantLive || retryTimer) return;
  setState("reconnecting");
  if (reason) console.info("studio: reconnecting:", reason);
  // The first retry at once, then a short backoff: a restarted server is
  // back within seconds, and a long outage must stay cheap.
  const delay = attempts === 0 ? 200 : Math.min(2000, 500 * 2 ** Math.min(attempts - 1, 2));
  attempts += 1;
  retryTimer = setTimeout(() => { retryTimer = null; connectMedia(); }, delay);
}

// After the socket reconnects: is our publisher still on the stage? A server
// that restarted has forgotten it while our peer connection may still say
// "connected" for a few seconds.
async function checkStillLive(stage) {
  if (!wantLive || !live || retryTimer || Date.now() - liveSince < 3000) return;
  const id = live.location?.split("/").pop();
  if (!(stage?.publishers ?? []).some((p) => p.id === id)) {
    attempts = 0;
    reconnectLater("not on the stage any more");
  }
}

async function stop() {
  wantLive = false;
  clearTimeout(retryTimer);
  retryTimer = null;
  await stopShare();
  await live?.stop();
  live = null;
  setLive(false);
  say("conn", "");
  document.body.dataset.state = "";
}

async function share() {
  if (screenTrack) return stopShare();
  // The test hook lets e2e tests share a synthetic "screen".
  const stream = window.halqaScreenSource ? window.halqaScreenSource() : await navigator.mediaDevices.getDisplayMedia({ video: true });
  screenTrack = stream.getVideoTracks()[0];
  screenTrack.addEventListener("ended", stopShare);
  $("screen-preview").srcObject = new MediaStream([screenTrack]);
  $("screen-preview").hidden = false;
  await live.shareScreen(screenTrack);
  $("share").setAttribute("aria-pressed", "true");
  $("share").textContent = t("studio.stop_share");
}

async function stopShare() {
  if (!screenTrack) return;
  screenTrack.stop();
  screenTrack = null;
  await live?.shareScreen(null);
  $("screen-preview").hidden = true;
  $("share").setAttribute("aria-pressed", "false");
  $("share").textContent = t("studio.share");
}

function toggle(id, kind) {
  const track = kind === "audio" ? media.getAudioTracks()[0] : media.getVideoTracks()[0];
  track.enabled = !track.enabled;
  $(id).setAttribute("aria-pressed", String(!track.enabled));
  $(id).textContent = t(`studio.${id}${track.enabled ? "" : "_on"}`);
}

async function main() {
  applyDocument();
  mountLanguageSwitcher($("languages"));
  showWatchers(0);
  if (!token) { say("error", t("studio.need_token")); return; }
  let session = null;
  const drawTitle = () => {
    if (session) say("studio-title", `${t("studio.title")} — ${pickText(session.title)}`);
  };
  document.addEventListener("halqa:lang", () => {
    drawTitle();
    showWatchers(Number($("watchers").dataset.count));
  });
  getSession(sessionId).then((s) => { session = s; drawTitle(); }).catch(() => {});
  try {
    await openDevices();
    await listDevices();
  } catch (err) {
    say("error", t("studio.devices_failed", { error: err.message }));
    return;
  }
  $("camera").addEventListener("change", openDevices);
  $("mic").addEventListener("change", openDevices);
  $("golive").addEventListener("click", goLive);
  $("stop").addEventListener("click", stop);
  $("share").addEventListener("click", () => share().catch((e) => say("error", e.message)));
  $("mute").addEventListener("click", () => toggle("mute", "audio"));
  $("camoff").addEventListener("click", () => toggle("camoff", "video"));
  // Watcher count: the stage's own updates (Socket.IO).
  const socket = connect(token);
  socket.on("stage:update", (snap) => { if (snap.session === sessionId) showWatchers(snap.viewers); });
  socket.on("connect", async () => {
    joinSession(socket, sessionId);
    const reply = await request(socket, "stage:state", { session: sessionId });
    if (reply?.ok) {
      showWatchers(reply.stage.viewers);
      await checkStillLive(reply.stage);
    }
  });
  socket.on("disconnect", () => { if (wantLive) say("conn", t("studio.conn.reconnecting")); });
  // The approved questions, and the one being answered now, large.
  mountSpeakerQuestions($("questions"), socket, sessionId);
  mountPollAdmin($("polls"), socket, sessionId);
  mountReactionOverlay($("previews"), socket, sessionId);
  document.body.dataset.ready = "1";
  window.halqaStudio = { get live() { return live; }, goLive, share, stop };
}

main();
