"""Short-lived shared state: presence, viewer counts, rate-limit counters, live stages.

One interface, two implementations chosen once at start-up: Redis (several
processes or machines) and in-memory (the embedded single-process default).
Both pass the same contract tests (tests/unit/test_shared_state_contract.py).
"""

from __future__ import annotations

from server.shared.base import Counts, Member, Presence, SharedState
from server.shared.memory import MemorySharedState


async def open_shared_state(redis_url: str | None) -> SharedState:
    if not redis_url:
        return MemorySharedState()
    from server.shared.redis import RedisSharedState

    state = RedisSharedState(redis_url)
    await state.ping()
    return state


__all__ = ["Counts", "Member", "MemorySharedState", "Presence", "SharedState", "open_shared_state"]
