"""The SharedState interface: short-lived state shared by every process."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Counts:
    """Distinct identities present in a session now, and the most ever seen at once."""

    count: int
    peak: int


@dataclass(frozen=True, slots=True)
class Member:
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Presence:
    """One connection (`conn`, a Socket.IO sid) of one identity (`key`) in a session."""

    session: str
    key: str
    conn: str
    name: str


class SharedState(Protocol):
    async def hit(self, key: str, limit: int, window: float) -> bool:
        """Count one event for `key` in a fixed window of `window` seconds.

        Returns False once more than `limit` events fell in the current window.
        """

    # Presence. An identity is present while at least one of its connections
    # was joined or refreshed less than `ttl` seconds ago; several tabs count
    # once. Nobody has to remove a crashed process's entries: they expire.

    async def presence_join(self, p: Presence, ttl: float) -> Counts:
        """Add or refresh one connection; raises the peak if the count rose."""

    async def presence_leave(self, session: str, key: str, conn: str) -> Counts:
        """Drop one connection; the identity leaves with its last connection."""

    async def presence_refresh(self, entries: Sequence[Presence], ttl: float) -> None:
        """Extend the life of many connections at once (one heartbeat per process)."""

    async def presence_counts(self, sessions: Sequence[str]) -> dict[str, Counts]:
        """Current and peak counts, expired entries removed first."""

    async def presence_online(self, session: str) -> list[Member]:
        """Who is present now, sorted by key."""

    async def presence_conns(self, session: str, key: str) -> list[str]:
        """The live connections of one identity in a session (to remove them)."""

    async def stages_set(self, node: str, sessions: Collection[str], ttl: float) -> None:
        """Say which sessions' stages this node hosts live now (replaces its last word).

        Entries expire after `ttl` seconds unless said again, so a crashed
        node's stages stop showing as live by themselves.
        """

    async def stages_live(self) -> set[str]:
        """Sessions live on any node."""

    async def generation(self) -> str:
        """Changes when the store lost its contents (Redis restarted): every
        process then writes its presence back at once."""
    # Unique visitors (server/visitors.py): one salt per day, shared by every
    # process and forgotten when its `ttl` ends; the day's keyed hashes in a set.

    async def visitor_salt(self, day: str, ttl: float) -> str:
        """The day's salt: created by the first caller, the same for all after."""

    async def visitor_add(self, day: str, digest: str, ttl: float) -> None:
        """Remember one visitor's hash for the day (the set expires after `ttl`)."""

    async def visitor_count(self, day: str) -> int:
        """Distinct hashes remembered for the day (0 once forgotten)."""

    async def ping(self) -> None:
        """Raise if the backing store is unreachable (for /readyz)."""

    async def close(self) -> None: ...
