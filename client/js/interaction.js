// Live interaction protocol: chat, questions, presence, moderation over the
// shared Socket.IO connection. No DOM code here (views draw; this talks).
import { request } from "./realtime.js";

// One join per connection and session, however many panels ask for it; a new
// connection (socket.id changes on reconnect) joins again and gets fresh history.
const joins = new Map();

export function joinSession(socket, session) {
  const key = `${socket.id}|${session}`;
  if (!joins.has(key)) {
    const p = request(socket, "session:join", { session });
    joins.set(key, p);
    p.then((reply) => { if (!reply?.ok) joins.delete(key); });
  }
  return joins.get(key);
}

export function leaveSession(socket, session) {
  joins.delete(`${socket.id}|${session}`);
  return request(socket, "session:leave", { session });
}

// Calls cb(snapshot) after every successful (re)join of this socket to the session.
export function onJoined(socket, session, cb) {
  const run = async () => {
    const reply = await joinSession(socket, session);
    cb(reply);
  };
  socket.on("connect", run);
  if (socket.connected) run();
  return () => socket.off("connect", run);
}

export const sendChat = (socket, session, text) =>
  request(socket, "chat:send", { session, text });
export const deleteChat = (socket, message) => request(socket, "chat:delete", { message });
export const askQuestion = (socket, session, text, anonymous = false) =>
  request(socket, "question:ask", { session, text, anonymous });
export const voteQuestion = (socket, question, up = true) =>
  request(socket, "question:vote", { question, up });
export const moderateQuestion = (socket, question, action) =>
  request(socket, "question:moderate", { question, action });
// target: {message} | {question} | {user}; session null = the whole event.
export const sanction = (socket, session, action, target) =>
  request(socket, "moderation:sanction", { session, action, ...target });
export const updateSession = (socket, session, changes) =>
  request(socket, "session:update", { session, ...changes });
export const listOnline = (socket, session) => request(socket, "moderation:online", { session });
export const listSanctions = (socket, session) =>
  request(socket, "moderation:sanctions", { session });

// Server → client events of one session; returns the unsubscribe function.
// Events without a session field (question:voted, moderation:sanction) pass.
export function subscribe(socket, event, session, cb) {
  const handler = (data) => {
    if (data && data.session !== undefined && data.session !== null && data.session !== session) return;
    cb(data);
  };
  socket.on(event, handler);
  return () => socket.off(event, handler);
}

// The questions of one session as the caller may see them; pure data.
export class QuestionStore {
  constructor() {
    this.byId = new Map();
    this.mine = new Set();
    this.voted = new Set();
  }

  load(snapshot) {
    this.byId = new Map((snapshot.questions ?? []).map((q) => [q.id, q]));
    this.mine = new Set(snapshot.mine ?? []);
    this.voted = new Set(snapshot.voted ?? []);
  }

  apply(q) {
    this.byId.set(q.id, { ...(this.byId.get(q.id) ?? {}), ...q });
  }

  setVoted(id, up) {
    if (up) this.voted.add(id); else this.voted.delete(id);
  }

  // sort: "votes" (then oldest first) or "time" (newest first).
  list({ sort = "votes", statuses = ["approved", "answered", "pending"] } = {}) {
    const rows = [...this.byId.values()].filter((q) => statuses.includes(q.status));
    if (sort === "time") return rows.sort((a, b) => b.id - a.id);
    return rows.sort((a, b) => b.votes - a.votes || a.id - b.id);
  }

  highlighted() {
    return [...this.byId.values()].find((q) => q.highlighted && q.status !== "rejected") ?? null;
  }
}
