"""In-memory LiveState for the single-process embedded default."""

from __future__ import annotations

import time


class MemoryLiveState:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

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

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
