"""The LiveState interface."""

from __future__ import annotations

from typing import Protocol


class LiveState(Protocol):
    async def hit(self, key: str, limit: int, window: float) -> bool:
        """Count one event for `key` in a fixed window of `window` seconds.

        Returns False once more than `limit` events fell in the current window.
        """

    async def ping(self) -> None:
        """Raise if the backing store is unreachable (for /readyz)."""

    async def close(self) -> None: ...
