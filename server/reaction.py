"""Reactions: a fixed set of quick reactions, counted, never stored one by one.

A participant's reaction is checked (the set, joined, not muted or banned,
`reaction_rate` per identity) and added to this process's counter; every
`reaction_tick` the counter's totals per session are handed on (one bus
message per process per tick, whatever the number of reactors) and added to
the session's totals in the database, the only thing kept (for the report).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import InteractionSettings
from server.db import Database
from server.errors import Invalid, RateLimited
from server.models_poll import ReactionTotal
from server.moderation import check_can_write
from server.roles import Principal
from server.shared import SharedState

# name → what the client shows (docs/protocol.md); names are the wire format.
REACTIONS: dict[str, str] = {
    "clap": "👏", "heart": "❤️", "laugh": "😂", "think": "🤔", "thumbsup": "👍", "party": "🎉",
}
Counts = dict[str, dict[str, int]]  # session → reaction → count


async def check(db: Database, shared: SharedState, cfg: InteractionSettings, principal: Principal,
                session_id: str, reaction: str) -> None:
    if reaction not in REACTIONS:
        raise Invalid("unknown_reaction", allowed=list(REACTIONS))
    if not await shared.hit(f"reaction:{principal.key}", cfg.reaction_rate,
                          cfg.reaction_rate_window):
        raise RateLimited("rate_limited")
    async with db.session() as s:
        await check_can_write(s, principal, session_id)


class ReactionCounter:
    """This process's reactions per session since the last `take()`."""

    def __init__(self) -> None:
        self._pending: dict[str, Counter[str]] = {}

    def add(self, session_id: str, reaction: str) -> None:
        self._pending.setdefault(session_id, Counter())[reaction] += 1

    def take(self) -> Counts:
        pending, self._pending = self._pending, {}
        return {s: dict(c) for s, c in pending.items() if c}


def merge(parts: list[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for part in parts:
        total.update({k: int(v) for k, v in part.items() if k in REACTIONS})
    return dict(total)


async def add_totals(db: Database, counts: Counts) -> None:
    """Add one tick's counts to the per-session totals (upsert, both dialects)."""
    rows = [{"session_id": s, "reaction": r, "count": n}
            for s, by in counts.items() for r, n in by.items() if n > 0]
    if not rows:
        return
    async with db.transaction() as s:
        ins = _insert(s)(ReactionTotal).values(rows)
        await s.execute(ins.on_conflict_do_update(
            index_elements=["session_id", "reaction"],
            set_={"count": ReactionTotal.count + ins.excluded["count"]}))


def _insert(s: AsyncSession) -> Any:
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


async def totals(s: AsyncSession) -> Counts:
    out: Counts = {}
    for session_id, name, count in (await s.execute(
            select(ReactionTotal.session_id, ReactionTotal.reaction, ReactionTotal.count))).all():
        out.setdefault(session_id, {})[name] = count
    return out
