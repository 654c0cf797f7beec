"""Short-lived shared state: presence, viewer counts, rate-limit counters.

One interface, two implementations chosen once at start-up: Redis (several
processes or machines) and in-memory (the embedded single-process default).
Both pass the same contract tests (tests/unit/test_live_contract.py).
"""

from __future__ import annotations

from server.live.base import Counts, LiveState, Member, Presence
from server.live.memory import MemoryLiveState


async def open_live_state(redis_url: str | None) -> LiveState:
    if not redis_url:
        return MemoryLiveState()
    from server.live.redis import RedisLiveState

    state = RedisLiveState(redis_url)
    await state.ping()
    return state


__all__ = ["Counts", "LiveState", "Member", "MemoryLiveState", "Presence", "open_live_state"]
