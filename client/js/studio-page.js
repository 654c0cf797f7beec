// The speaker studio: pick devices, preview, go live over WHIP, share a screen.
import { getSession, tokenFromFragment } from "./api.js";
import { connect, request } from "./live.js";
import { publish } from "./stage.js";

const $ = (id) => document.getElementById(id);
const sessionId = decodeURIComponent(location.pathname.split("/").pop());
const { token } = tokenFromFragment();
let media = null; // camera + microphone stream
let live = null; // the publish() handle
let screenTrack = null;

function say(id, text) { $(id).textContent = text ?? ""; }

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
      say("conn", s);
      document.body.dataset.state = s ?? "";
      if (s === "failed") { say("error", "Connexion perdue ; nouvel essai…"); restart(); }
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
  $("share").textContent = "Arrêter le partage";
}

async function stopShare() {
  if (!screenTrack) return;
  screenTrack.stop();
  screenTrack = null;
  await live?.shareScreen(null);
  $("screen-preview").hidden = true;
  $("share").setAttribute("aria-pressed", "false");
  $("share").textContent = "Partager l'écran";
}

function toggle(id, kind) {
  const track = kind === "audio" ? media.getAudioTracks()[0] : media.getVideoTracks()[0];
  track.enabled = !track.enabled;
  $(id).setAttribute("aria-pressed", String(!track.enabled));
}

async function main() {
  if (!token) { say("error", "Ouvrez votre lien d'invitation (il contient votre jeton)."); return; }
  getSession(sessionId).then((s) => {
    const title = typeof s.title === "string" ? s.title : Object.values(s.title ?? {})[0];
    if (title) say("studio-title", `Studio — ${title}`);
  }).catch(() => {});
  try {
    await openDevices();
    await listDevices();
  } catch (err) {
    say("error", `Caméra/micro indisponibles : ${err.message}`);
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
  socket.on("stage:update", (snap) => { if (snap.session === sessionId) say("watchers", String(snap.viewers)); });
  socket.on("connect", async () => {
    request(socket, "session:join", { session: sessionId });
    const reply = await request(socket, "stage:state", { session: sessionId });
    if (reply?.ok) say("watchers", String(reply.stage.viewers));
  });
  document.body.dataset.ready = "1";
  window.halqaStudio = { get live() { return live; }, goLive, share, stop };
}

main();
