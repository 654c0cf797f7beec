// Reaction protocol: the fixed set, sending one, hearing the per-tick counts.
// No DOM code here (reaction-view.js draws).
import { request } from "./realtime.js";

export const REACTIONS = { clap: "👏", heart: "❤️", laugh: "😂", think: "🤔", thumbsup: "👍", party: "🎉" };

export const sendReaction = (socket, session, reaction) =>
  request(socket, "reaction:send", { session, reaction });

// cb({clap: 3, ...}) once per server tick; returns the unsubscribe function.
export function onReactions(socket, session, cb) {
  const handler = (d) => { if (d?.session === session) cb(d.counts ?? {}); };
  socket.on("reaction:counts", handler);
  return () => socket.off("reaction:counts", handler);
}
