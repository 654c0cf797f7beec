// The watch page: the stage, chat, questions and viewer count of one session.
// Each panel is its own module; this page only wires them to one socket.
import { ApiError, getSession, tokenFromFragment } from "./api.js";
import { applyDocument, countryName, formatDay, formatEventTime, mountLanguageSwitcher, pickText, t } from "./i18n.js";
import { onJoined } from "./interaction.js";
import { connect } from "./realtime.js";

const sessionId = decodeURIComponent(location.pathname.split("/").pop());
let session = null;

function drawTitle() {
  if (!session) return;
  document.title = pickText(session.title);
  document.getElementById("session-name").textContent = pickText(session.title);
  document.getElementById("session-kind").textContent = t(`kind.${session.kind}`);
  document.getElementById("session-when").textContent =
    `${formatDay(session.day)} · ${formatEventTime(session.starts_at)}–${formatEventTime(session.ends_at)}`;
  document.getElementById("session-speakers").textContent = session.speakers
    .map((s) => (s.country ? `${s.name} (${countryName(s.country)})` : s.name)).join(" · ");
}

function setConnection(key) {
  document.getElementById("connection").textContent = t(key);
  document.getElementById("connection").dataset.state = key;
}

// Panels load lazily: a failure in one never blanks the others.
async function mount(module, fn, ...args) {
  try {
    const mod = await import(module);
    if (typeof mod[fn] === "function") return await mod[fn](...args);
  } catch (err) {
    console.warn(`panel ${module} unavailable`, err);
  }
  return null;
}

async function main() {
  applyDocument();
  mountLanguageSwitcher(document.getElementById("languages"));
  document.addEventListener("halqa:lang", drawTitle);
  try {
    session = await getSession(sessionId);
  } catch (err) {
    document.getElementById("session-name").textContent =
      err instanceof ApiError && err.status === 404 ? t("session.not_found") : String(err.message);
    return;
  }
  drawTitle();
  const { token } = tokenFromFragment();
  if (!token) {
    document.getElementById("gate-register").href = `/?session=${encodeURIComponent(sessionId)}#register`;
    document.getElementById("gate").hidden = false;
    return;
  }
  document.getElementById("room").hidden = false;
  setConnection("session.connecting");
  const socket = connect(token);
  const me = { token, session: sessionId, role: null, name: null };
  // The server refuses with {data: {code}}: "unauthorized" (revoked or
  // unknown link) and "banned" are final; anything else (the server is
  // restarting, the network is down) is retried by socket.io on its own.
  socket.on("connect_error", (err) => {
    const code = err?.data?.code;
    if (code === "unauthorized" || code === "banned") {
      setConnection(code === "banned" ? "session.banned" : "session.refused");
      socket.disconnect();
    } else {
      setConnection("session.disconnected");
    }
  });
  socket.on("disconnect", () => setConnection("session.disconnected"));
  socket.on("connect", () => setConnection("session.connected"));
  // One join per connection, shared with the panels (interaction.js).
  onJoined(socket, sessionId, (reply) => {
    if (reply?.ok) {
      me.role = reply.role ?? me.role;
      me.name = reply.name ?? me.name;
    } else if (reply?.error === "banned") {
      setConnection("session.refused");
    }
  });
  await Promise.all([
    // The stage, or live HLS when WebRTC can't be had, or the replay (playback.js).
    mount("./playback.js", "mountPlayback", document.getElementById("stage"), socket, session, token, me),
    mount("./presence-view.js", "mountViewerCount", document.getElementById("viewers"), socket, sessionId),
    mount("./questions-view.js", "mountQuestions", document.getElementById("questions"), socket, sessionId, me),
    mount("./chat-view.js", "mountChat", document.getElementById("chat"), socket, sessionId, me),
    mount("./poll-view.js", "mountPoll", document.getElementById("poll"), socket, sessionId),
    mount("./reaction-view.js", "mountReactionBar", document.getElementById("reactions"), socket, sessionId),
    mount("./reaction-view.js", "mountReactionOverlay", document.getElementById("stage-frame"), socket, sessionId),
  ]);
}

main();
