// Poll protocol: list, create, open/reveal/close/delete, vote; and the polls of
// one session as pure data. No DOM code here (poll-view.js and
// poll-admin-view.js draw).
import { request } from "./realtime.js";

export const listPolls = (socket, session) => request(socket, "poll:list", { session });
export const createPoll = (socket, session, question, options, { multiple = false, anonymous = false } = {}) =>
  request(socket, "poll:create", { session, question, options, multiple, anonymous });
// action: "open" | "reveal" | "close" | "delete"
export const pollAction = (socket, poll, action) => request(socket, `poll:${action}`, { poll });
export const votePoll = (socket, poll, choices) => request(socket, "poll:vote", { poll, choices });

// Every change carries the poll's version: whatever order frames arrive in,
// the store keeps the newest poll and the newest results.
export class PollStore {
  constructor() {
    this.byId = new Map();
    this.mine = new Map(); // poll id → [option, ...]
    this.runs = false;
  }

  load(reply) {
    this.byId = new Map((reply.polls ?? []).map((p) => [p.id, p]));
    this.mine = new Map(Object.entries(reply.mine ?? {}).map(([k, v]) => [Number(k), v]));
    this.runs = Boolean(reply.runs);
  }

  // Returns what changed: null, or {poll, before} for announcements.
  apply(p) {
    const before = this.byId.get(p.id);
    if (p.state === "deleted") {
      this.byId.delete(p.id);
      return { poll: p, before };
    }
    if (before && before.version > p.version) return null;
    // A public view without results must not erase results we were given.
    this.byId.set(p.id, { ...(before ?? {}), ...p });
    return { poll: this.byId.get(p.id), before };
  }

  results(r) {
    const p = this.byId.get(r.poll);
    if (!p || (p.results && p.version > r.version)) return false;
    p.results = { voters: r.voters, counts: r.counts };
    p.version = Math.max(p.version, r.version);
    return true;
  }

  setMine(poll, choices) { this.mine.set(poll, choices); }

  list() { return [...this.byId.values()].sort((a, b) => b.id - a.id); }

  // What participants see: the open poll, else the latest revealed one.
  current() {
    const polls = this.list();
    return polls.find((p) => p.state === "open") ?? polls.find((p) => p.state === "closed" && p.revealed) ?? null;
  }
}
