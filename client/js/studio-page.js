// The speaker studio: pick devices, preview, go live over WHIP, share a screen.
import { getSession, tokenFromFragment } from "./api.js";
import { applyDocument, formatNumber, mountLanguageSwitcher, pickText, t } from "./i18n.js";
import { joinSession } from "./interaction.js";
import { connect, request } from "./live.js";
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

const CONNECTION = ["new", "connecting", "connected", "disconnected", "failed", "closed"];
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

async function goLive() {
  say("error", "");
  $("golive").disabled = true;
  try {
    live = await publish(sessionId, token, {
      audio: media.getAudioTracks()[0], video: media.getVideoTracks()[0],
    });
    live.pc.addEventListener("connectionstatechange", () => {
      const s = live?.pc.connectionState;
      showConnection(s);
      document.body.dataset.state = s ?? "";
      if (s === "failed") { say("error", t("studio.lost")); restart(); }
    });
    setLive(true);
  } catch (err) {
    say("error", err.message);
    $("golive").disabled = false;
  }
}

async function restart() {
  const old = live;
  live = null;
  await old?.stop();
  setLive(false);
  setTimeout(goLive, 1000);
}

async function stop() {
  await stopShare();
  await live?.stop();
  live = null;
  setLive(false);
  say("conn", "");
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
    if (reply?.ok) showWatchers(reply.stage.viewers);
  });
  // The approved questions, and the one being answered now, large.
  mountSpeakerQuestions($("questions"), socket, sessionId);
  mountPollAdmin($("polls"), socket, sessionId);
  mountReactionOverlay($("previews"), socket, sessionId);
  document.body.dataset.ready = "1";
  window.halqaStudio = { get live() { return live; }, goLive, share, stop };
}

main();
