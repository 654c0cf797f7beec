// Interpretation protocol: language channels on the stage. No DOM code here:
// interpretation-view.js (watch page picker) and interpret-page.js (console) draw.
//
// Listening: the watch page's peer connection has one more audio section than
// the stage slots (stage.js), the interpretation slot; `interpretation:listen`
// points it at a language and the server rewires it (no renegotiation).
// Interpreting: WHIP with one audio section; `interpretation:handover` passes
// the channel to the partner waiting in the queue.
import { request } from "./realtime.js";
import { postOffer, releaseOnLeave } from "./stage.js";

export const FLOOR = "floor";
const STORE = "halqa.listen";

export const whoAmI = (socket) => request(socket, "interpretation:me", {});

export const listen = (socket, session, viewer, language) =>
  request(socket, "interpretation:listen", { session, viewer, language: language === FLOOR ? null : language });

export const handOver = (socket, session) => request(socket, "interpretation:handover", { session });

// Languages whose channel has an interpreter on air, from a `stage:update`.
export const liveLanguages = (snapshot) => snapshot?.interpretation?.live ?? [];

// Where this interpreter stands in their booth: "on_air", "queued" or "off".
export function boothState(snapshot, language, publisherId) {
  const booth = snapshot?.interpretation?.booths?.[language];
  if (!booth || !publisherId) return { state: "off", partner: false };
  if (booth.on_air === publisherId) return { state: "on_air", partner: booth.queue.length > 0 };
  if (booth.queue.includes(publisherId)) return { state: "queued", partner: true };
  return { state: "off", partner: false };
}

// The viewer's wish: what they chose last time, else their registered language.
export function preferred(registered) {
  try {
    const saved = localStorage.getItem(STORE);
    if (saved) return saved;
  } catch { /* storage disabled */ }
  return registered || FLOOR;
}

export function remember(choice) {
  try { localStorage.setItem(STORE, choice); } catch { /* storage disabled */ }
}

// What to hear now: the wish when its channel is live, else the floor.
export const effective = (wish, live) => (wish !== FLOOR && live.includes(wish) ? wish : FLOOR);

// Publish the microphone as this token's language channel (WHIP, audio only).
export async function publishChannel(sessionId, token, language, track, iceServers = []) {
  const pc = new RTCPeerConnection({ iceServers });
  const transceiver = pc.addTransceiver(track, { direction: "sendonly" });
  await pc.setLocalDescription(await pc.createOffer());
  let location, answer;
  try {
    ({ location, answer } = await postOffer(
      `/whip/${encodeURIComponent(sessionId)}?language=${encodeURIComponent(language)}`, token, pc.localDescription.sdp));
  } catch (err) {
    pc.close();
    throw err;
  }
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  return {
    pc,
    id: location.split("/").pop(),
    replaceTrack: (t) => transceiver.sender.replaceTrack(t),
    stop: releaseOnLeave(pc, location, token),
  };
}
