"""In-memory SharedState for the single-process embedded default."""

from __future__ import annotations

import secrets
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from server.shared.base import Counts, Member, Presence


@dataclass
class _Room:
    # key → conn → expiry (monotonic seconds); key → display name
    conns: dict[str, dict[str, float]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    peak: int = 0

    def purge(self, now: float) -> None:
        for key in list(self.conns):
            live = {c: t for c, t in self.conns[key].items() if t > now}
            if live:
                self.conns[key] = live
            else:
                del self.conns[key]
                self.names.pop(key, None)

    def counts(self) -> Counts:
        # Refreshes can re-add entries, so any read may find a new peak.
        self.peak = max(self.peak, len(self.conns))
        return Counts(len(self.conns), self.peak)


class MemorySharedState:
    def __init__(self) -> None:
        self._stages: dict[tuple[str, str], float] = {}
        self._windows: dict[str, tuple[float, int]] = {}
        self._rooms: dict[str, _Room] = {}
        # day → (salt, expiry); day → (hashes, expiry)
        self._salts: dict[str, tuple[str, float]] = {}
        self._visitors: dict[str, tuple[set[str], float]] = {}

    async def hit(self, key: str, limit: int, window: float) -> bool:
        now = time.monotonic()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > 100_000:
            self._sweep(now, window)
        return count <= limit

    def _sweep(self, now: float, window: float) -> None:
        # Bounded memory under a flood of distinct keys.
        self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window}

    def _room(self, session: str) -> _Room:
        room = self._rooms.get(session)
        if room is None:
            room = self._rooms[session] = _Room()
        return room

    def _add(self, p: Presence, expiry: float) -> _Room:
        room = self._room(p.session)
        room.conns.setdefault(p.key, {})[p.conn] = expiry
        room.names[p.key] = p.name
        return room

    async def presence_join(self, p: Presence, ttl: float) -> Counts:
        now = time.monotonic()
        room = self._add(p, now + ttl)
        room.purge(now)
        return room.counts()

    async def presence_leave(self, session: str, key: str, conn: str) -> Counts:
        room = self._room(session)
        tabs = room.conns.get(key)
        if tabs is not None:
            tabs.pop(conn, None)
        room.purge(time.monotonic())
        return room.counts()

    async def presence_refresh(self, entries: Sequence[Presence], ttl: float) -> None:
        expiry = time.monotonic() + ttl
        for p in entries:
            self._add(p, expiry)

    async def presence_counts(self, sessions: Sequence[str]) -> dict[str, Counts]:
        now = time.monotonic()
        out: dict[str, Counts] = {}
        for s in sessions:
            room = self._room(s)
            room.purge(now)
            out[s] = room.counts()
        return out

    async def presence_online(self, session: str) -> list[Member]:
        room = self._room(session)
        room.purge(time.monotonic())
        return [Member(k, room.names.get(k, "")) for k in sorted(room.conns)]

    async def presence_conns(self, session: str, key: str) -> list[str]:
        now = time.monotonic()
        return sorted(c for c, t in self._room(session).conns.get(key, {}).items() if t > now)

    async def stages_set(self, node: str, sessions: Collection[str], ttl: float) -> None:
        until = time.monotonic() + ttl
        self._stages = {k: v for k, v in self._stages.items() if k[0] != node}
        self._stages.update({(node, session): until for session in sessions})

    async def stages_live(self) -> set[str]:
        now = time.monotonic()
        return {session for (_, session), until in self._stages.items() if until > now}

    async def generation(self) -> str:
        return "memory"
    async def visitor_salt(self, day: str, ttl: float) -> str:
        now = time.monotonic()
        self._salts = {d: v for d, v in self._salts.items() if v[1] > now}
        if day not in self._salts:
            self._salts[day] = (secrets.token_hex(16), now + ttl)
        return self._salts[day][0]

    async def visitor_add(self, day: str, digest: str, ttl: float) -> None:
        now = time.monotonic()
        self._visitors = {d: v for d, v in self._visitors.items() if v[1] > now}
        hashes = self._visitors.setdefault(day, (set(), now + ttl))[0]
        hashes.add(digest)

    async def visitor_count(self, day: str) -> int:
        entry = self._visitors.get(day)
        return len(entry[0]) if entry and entry[1] > time.monotonic() else 0

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
