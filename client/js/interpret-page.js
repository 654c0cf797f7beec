// The interpreter's console: hear the floor (WebRTC delay), publish the
// microphone as this token's language channel, see when you are on air, hand
// over to the partner, cough, set the floor volume. Protocol in interpretation.js.
import { getSession, tokenFromFragment } from "./api.js";
import { applyDocument, hasKey, mountLanguageSwitcher, pickText, t } from "./i18n.js";
import { boothState, handOver, publishChannel, whoAmI } from "./interpretation.js";
import { connect } from "./realtime.js";
import { mountWatch } from "./watch-view.js";

const $ = (id) => document.getElementById(id);
const sessionId = decodeURIComponent(location.pathname.split("/").pop());
const { token } = tokenFromFragment();
let me = null; // {role, language, session}
let mic = null; // MediaStream
let channel = null; // publishChannel() handle
let socket = null;
let snapshot = null;
let coughing = false;

const fail = (text) => { $("error").textContent = text; };

function drawBooth() {
  const { state, partner } = boothState(snapshot, me?.language, channel?.id);
  const badge = $("on-air");
  badge.dataset.state = state;
  badge.textContent = t(`interp.state.${state}`, { language: t(`interp.lang.${me?.language}`) });
  document.body.dataset.booth = state;
  $("handover").disabled = !(state === "on_air" && partner);
}

async function listMics() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const select = $("mic");
  select.replaceChildren();
  for (const d of devices.filter((x) => x.kind === "audioinput")) {
    const opt = document.createElement("option");
    opt.value = d.deviceId;
    opt.textContent = d.label || "microphone";
    select.append(opt);
  }
}

async function start() {
  fail("");
  $("start").disabled = true;
  try {
    const deviceId = $("mic").value;
    mic = await navigator.mediaDevices.getUserMedia({
      audio: deviceId ? { deviceId: { exact: deviceId } } : true, video: false,
    });
    await listMics();
    channel = await publishChannel(sessionId, token, me.language, mic.getAudioTracks()[0]);
    channel.pc.addEventListener("connectionstatechange", () => {
      $("conn").textContent = t(`studio.conn.${channel?.pc.connectionState ?? "closed"}`);
    });
    $("stop").disabled = false;
    $("cough").disabled = false;
    drawBooth();
  } catch (err) {
    $("start").disabled = false;
    fail(err.code === "audio_only" || err.code === "wrong_language" || err.code === "forbidden"
      ? t("interp.refused") : t("studio.devices_failed", { error: err.message }));
  }
}

async function stop() {
  await channel?.stop();
  channel = null;
  for (const track of mic?.getTracks() ?? []) track.stop();
  mic = null;
  $("start").disabled = false;
  $("stop").disabled = true;
  $("cough").disabled = true;
  $("conn").textContent = "";
  drawBooth();
}

function cough() {
  coughing = !coughing;
  // A disabled track sends silence: the channel stays up, nobody hears the cough.
  for (const track of mic?.getAudioTracks() ?? []) track.enabled = !coughing;
  $("cough").setAttribute("aria-pressed", String(coughing));
  $("cough").textContent = coughing ? t("interp.cough_on") : t("interp.cough");
}

async function main() {
  applyDocument();
  mountLanguageSwitcher($("languages"));
  if (!token) { fail(t("studio.need_token")); return; }
  try {
    const session = await getSession(sessionId);
    $("console-session").textContent = pickText(session.title);
  } catch { /* the title is a nicety */ }
  socket = connect(token);
  const reply = await whoAmI(socket);
  me = reply?.ok ? reply : null;
  if (!me || me.role !== "interpreter" || me.session !== sessionId) {
    fail(reply?.ok || reply?.error === "timeout" ? t("interp.not_interpreter") : t("session.refused"));
    return;
  }
  $("console-title").textContent = t("interp.console_for", { language: t(`interp.lang.${me.language}`) });
  socket.on("stage:update", (snap) => { if (snap?.session === sessionId) { snapshot = snap; drawBooth(); } });
  // Every control is wired before the desk shows: the floor's own connection
  // (mountWatch) may take seconds on a busy server, and a click on "start"
  // meanwhile must not be lost. The interpreter can go on air before hearing it.
  let floor = null;
  const floorVolume = () => floor?.mix.setFloorVolume(Number($("floor-volume").value) / 100);
  $("floor-volume").addEventListener("input", floorVolume);
  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", stop);
  $("cough").addEventListener("click", cough);
  $("handover").addEventListener("click", async () => {
    const done = await handOver(socket, sessionId);
    const key = `interp.error.${done?.error}`;
    if (!done?.ok) fail(hasKey(key) ? t(key) : done?.message);
  });
  document.addEventListener("halqa:lang", drawBooth);
  drawBooth();
  $("desk").hidden = false;
  listMics().catch(() => {});
  floor = await mountWatch($("floor"), socket, sessionId, token, { languages: false });
  floorVolume(); // a volume chosen while the floor was still connecting
}

main();
